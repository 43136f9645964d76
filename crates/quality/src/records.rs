//! What the quality figures are computed from: plain records of what was
//! recorded, loaded by the caller.

use gridpatrol_domain::lifecycle::Action;
use gridpatrol_domain::roles::Role;
use serde::{Deserialize, Serialize};

/// One recorded lifecycle step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What was done.
    pub action: Action,
    /// Who recorded it (for a verification's outcome: the inspector).
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The unit a dispatch sent the case to.
    pub unit: Option<String>,
    /// The deadline the dispatch set, Unix ms.
    pub due_at_ms: Option<i64>,
}

/// One case with its report facts, latest review and steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Case id.
    pub id: String,
    /// `patrol`, `hotline` or `camera`.
    pub source: String,
    /// Fine-class code.
    pub category: String,
    /// Supervision grid code.
    pub supervision_grid: String,
    /// Who reported it (a centre account for a complaint).
    pub reporter: String,
    /// When reported, Unix ms.
    pub reported_at_ms: i64,
    /// WGS-84 longitude.
    pub lon: f64,
    /// WGS-84 latitude.
    pub lat: f64,
    /// The leader's latest verdict (`approved`, `needs_fix`, `rejected`).
    pub review: Option<String>,
    /// The reporter corrected it after a return (so it was returned once).
    pub resubmitted: bool,
    /// Lifecycle steps in order.
    pub events: Vec<Event>,
}

impl CaseRecord {
    /// A public complaint (hotline).
    pub fn is_complaint(&self) -> bool {
        self.source == "hotline"
    }
}

/// One verification task and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    /// Verification id.
    pub id: String,
    /// The case checked.
    pub case_id: String,
    /// Who was sent.
    pub assignee: String,
    /// Deadline, Unix ms.
    pub due_at_ms: i64,
    /// `pass` / `fail` once done.
    pub outcome: Option<String>,
    /// When the result was recorded, Unix ms.
    pub done_at_ms: Option<i64>,
}

/// A squad leader's mark on one sampled report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The sampled case.
    pub case_id: String,
    /// Its reporter.
    pub inspector: String,
    /// `Some(true)` for a wrong report (错报), `Some(false)` for a correct
    /// one, `None` while not yet marked.
    pub wrong: Option<bool>,
}

/// A person in the district: their squad and grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Account id.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// Their squad.
    pub squad: Option<String>,
    /// Their supervision grid.
    pub supervision_grid: Option<String>,
}
