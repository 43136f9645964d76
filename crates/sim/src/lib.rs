//! The headless field simulator behind `gridpatrol sim`, running the app's
//! own code: each simulated inspector is a `gridpatrol_device::Device` (the
//! facade the Tauri shell forwards to — sign-in, district package, photo
//! pipeline, local saves, background sync session, its own HTTP client).
//! The phones create cases offline in their own supervision grids, sync them
//! through a loopback [`FaultProxy`] that cuts connections mid-request, and
//! the server's copies (fetched as the centre) are checked against every
//! phone's copy. The proxy is also what the interruption tests use.
#![forbid(unsafe_code)]

mod proxy;
mod sim;

pub use proxy::FaultProxy;
pub use sim::{run, Drill, DrillFuture, DrillResult, RestoreDrill, SimConfig, SimError, SimResult};
