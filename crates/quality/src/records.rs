//! What the quality figures are computed from: plain records of what was
//! recorded, loaded by the caller — owned ([`CaseRecord`]) or borrowed one
//! case at a time ([`CaseView`], what the tallies of [`crate::kpi`] and
//! [`crate::eval`] read, so a caller streaming rows need not keep them).

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

/// The source of a public complaint.
const COMPLAINT_SOURCE: &str = "hotline";

impl CaseRecord {
    /// A public complaint (hotline).
    pub fn is_complaint(&self) -> bool {
        self.source == COMPLAINT_SOURCE
    }

    /// Its steps as a [`CaseView`] reads them.
    pub fn steps(&self) -> Vec<Step<'_>> {
        self.events.iter().map(Step::from).collect()
    }

    /// This case seen through `steps` (its own, from [`CaseRecord::steps`]).
    pub fn view<'a>(&'a self, steps: &'a [Step<'a>]) -> CaseView<'a> {
        CaseView {
            id: &self.id,
            source: &self.source,
            category: &self.category,
            supervision_grid: &self.supervision_grid,
            reporter: &self.reporter,
            reported_at_ms: self.reported_at_ms,
            lon: self.lon,
            lat: self.lat,
            review: self.review.as_deref(),
            resubmitted: self.resubmitted,
            steps,
        }
    }
}

/// One lifecycle step, borrowed: an [`Event`] as the tallies read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    /// What was done.
    pub action: Action,
    /// Who recorded it.
    pub by: &'a str,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The unit a dispatch sent the case to.
    pub unit: Option<&'a str>,
    /// The deadline the dispatch set, Unix ms.
    pub due_at_ms: Option<i64>,
}

impl<'a> From<&'a Event> for Step<'a> {
    fn from(e: &'a Event) -> Step<'a> {
        Step {
            action: e.action,
            by: &e.by,
            at_ms: e.at_ms,
            unit: e.unit.as_deref(),
            due_at_ms: e.due_at_ms,
        }
    }
}

/// One case, borrowed: the fields of a [`CaseRecord`] without owning them,
/// so a loader can hand each case over as it reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseView<'a> {
    /// Case id.
    pub id: &'a str,
    /// `patrol`, `hotline` or `camera`.
    pub source: &'a str,
    /// Fine-class code.
    pub category: &'a str,
    /// Supervision grid code.
    pub supervision_grid: &'a str,
    /// Who reported it (a centre account for a complaint).
    pub reporter: &'a str,
    /// When reported, Unix ms.
    pub reported_at_ms: i64,
    /// WGS-84 longitude.
    pub lon: f64,
    /// WGS-84 latitude.
    pub lat: f64,
    /// The leader's latest verdict (`approved`, `needs_fix`, `rejected`).
    pub review: Option<&'a str>,
    /// The reporter corrected it after a return (so it was returned once).
    pub resubmitted: bool,
    /// Lifecycle steps in order.
    pub steps: &'a [Step<'a>],
}

impl CaseView<'_> {
    /// A public complaint (hotline).
    pub fn is_complaint(&self) -> bool {
        self.source == COMPLAINT_SOURCE
    }

    /// Whether one of its steps is `a`.
    pub fn has(&self, a: Action) -> bool {
        self.steps.iter().any(|e| e.action == a)
    }
}

impl From<&CaseView<'_>> for CaseRecord {
    fn from(c: &CaseView<'_>) -> CaseRecord {
        CaseRecord {
            id: c.id.to_owned(),
            source: c.source.to_owned(),
            category: c.category.to_owned(),
            supervision_grid: c.supervision_grid.to_owned(),
            reporter: c.reporter.to_owned(),
            reported_at_ms: c.reported_at_ms,
            lon: c.lon,
            lat: c.lat,
            review: c.review.map(str::to_owned),
            resubmitted: c.resubmitted,
            events: c
                .steps
                .iter()
                .map(|e| Event {
                    action: e.action,
                    by: e.by.to_owned(),
                    at_ms: e.at_ms,
                    unit: e.unit.map(str::to_owned),
                    due_at_ms: e.due_at_ms,
                })
                .collect(),
        }
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

/// What gathers a month's figures one record at a time ([`crate::kpi::KpiTally`],
/// [`crate::eval::Evaluator`]): a loader streaming rows feeds each case,
/// verification and mark as it reads it, in any order, each case once.
pub trait MonthTally {
    /// Counts one case.
    fn add_case(&mut self, c: &CaseView<'_>);

    /// Counts a re-verification assigned to `assignee` if it is due in the
    /// month.
    fn add_verification(&mut self, assignee: &str, due_at_ms: i64, done_at_ms: Option<i64>);

    /// Counts a leader's mark on the month's sample.
    fn add_mark(&mut self, m: &Mark);

    /// Counts loaded records.
    fn add_records(
        &mut self,
        cases: &[CaseRecord],
        verifications: &[VerificationRecord],
        marks: &[Mark],
    ) {
        for c in cases {
            self.add_case(&c.view(&c.steps()));
        }
        for v in verifications {
            self.add_verification(&v.assignee, v.due_at_ms, v.done_at_ms);
        }
        for m in marks {
            self.add_mark(m);
        }
    }
}
