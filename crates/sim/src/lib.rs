//! The headless field-client simulator behind `gridpatrol sim`, built on the
//! same sync engine and device store as the app: N simulated inspector
//! devices create cases offline in their own supervision grids, sync them
//! through a loopback [`FaultProxy`] that cuts connections mid-request, and
//! the server's copies (fetched as the centre) are checked against every
//! device's copy. The proxy is also what the interruption tests use.
#![forbid(unsafe_code)]

mod proxy;
mod sim;

pub use proxy::FaultProxy;
pub use sim::{run, Drill, DrillFuture, DrillResult, RestoreDrill, SimConfig, SimError, SimResult};
