//! The monthly quality work of the supervision system, computed only from
//! what is recorded: each case's report, review and lifecycle steps, each
//! verification's task and result, and the squad leaders' marks on the
//! monthly sample. No IO here — the server and the CLI load the records
//! (see `gridpatrol-server-storage`) and call these functions, so every
//! figure has one formula, tested on hand-made event logs.
//!
//! - [`sample`]: the reproducible draw of each inspector's reports.
//! - [`kpi`]: per inspector and squad for a month, ranked inside the squad.
//! - [`coverage`]: patrol coverage from the recorded patrol days.
//! - [`eval`]: scores and ranks of responsible units, squads, inspectors.
#![forbid(unsafe_code)]

pub mod coverage;
pub mod eval;
pub mod kpi;
mod month;
pub mod records;
pub mod sample;

pub use month::{beijing_day, day_start_ms, Month, MonthError};
pub use records::{
    CaseRecord, CaseView, Event, Mark, MonthTally, Person, Step, VerificationRecord,
};
