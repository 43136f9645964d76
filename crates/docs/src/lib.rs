//! GridPatrol's two replicated documents — the **Case** and the
//! **Verification** — as Automerge documents: their layout, typed builders
//! and readers, which *part* of a document a change alters, and the rule
//! saying who may alter which part. Devices edit these documents offline; the
//! server merges them and, before storing anything, asks [`parts_changed`] and
//! [`authorize`] whether the sender was allowed to make the change.
//!
//! # Layout (`schema` = 1)
//!
//! Every document's root map holds `schema` (uint, [`SCHEMA`]), `kind`
//! (`"case"` | `"verification"`) and `id` (string). These never change after
//! creation. Times are `*_ms` fields (Unix milliseconds, int), never taken from
//! change metadata. Coordinates are WGS-84 degrees (f64). Photos are SHA-256 hex
//! strings; the bytes never enter a document.
//!
//! **Case** (`kind = "case"`):
//! - `report` (map, owner: the reporter): `category` (fine-class code),
//!   `lon`, `lat`, `accuracy_m` (WGS-84), `technical_grid`, `supervision_grid`,
//!   `street` (grid codes), `address` (text), `description` (text),
//!   `photos` (list of sha256 hex), `reporter` (user id), `source`
//!   (`patrol`|`hotline`|`camera`; `hotline` cases follow the complaint flow,
//!   the others the supervision flow), `created_at_ms`.
//! - `review` (map, owner: the leader of the reporter's squad; empty until
//!   reviewed): `reviewer`, `verdict` (`approved`|`rejected`|`needs_fix`),
//!   `note` (text), `at_ms`.
//! - `lifecycle` (map, owner: the centre): `state` (a
//!   [`CaseState`](gridpatrol_domain::lifecycle::CaseState) id; absent means the
//!   flow's first state, `reported` or `accepted`) and `steps` (list of maps
//!   `{step, state, by, at_ms, note}`: `step` is an
//!   [`Action`](gridpatrol_domain::lifecycle::Action) id in snake_case, `state`
//!   the state it led to). Step 1 (the report itself) is recorded by the report's
//!   `reporter` and `created_at_ms`, not as a list entry.
//!
//! **Verification** (`kind = "verification"`, plus root `case_id`, which never
//! changes):
//! - `task` (map, owner: the centre): `assignee`, `kind`
//!   (`handling_check`|`complaint_check`), `due_at_ms`, `created_by`.
//! - `result` (map, owner: the task's assignee; empty until done): `outcome`
//!   (`pass`|`fail`), `note` (text), `photos` (list of sha256 hex), `lon`, `lat`
//!   (WGS-84), `at_ms`.
//!
//! The part containers (`review`, `lifecycle` + `steps`, `result`) are created
//! empty together with the document, so later concurrent writers never race to
//! create them. Creating an empty container while a document is being created
//! counts as [`Part::Meta`]; anything written into it counts as its part.
//! Any other root key is [`Part::Meta`].
#![forbid(unsafe_code)]

mod authz;
mod case;
mod classify;
pub mod guard;
pub mod limits;
mod read;
mod validate;
mod verification;

pub use authz::{authorize, facts, photo_refs, DocFacts, Principal, Refusal, Squads};
pub use case::{
    Case, CaseDoc, LifecycleStep, PositionFlag, Report, ReportEdit, ReturnReason, Review, Source,
    StepDetail, Verdict,
};
pub use classify::parts_changed;
pub use validate::{check_size, validate, Bounds, Valid};
pub use verification::{
    Outcome, Task, TaskKind, Verification, VerificationDoc, VerificationResult,
};

use thiserror::Error;

/// The layout version written into every document's `schema` field.
pub const SCHEMA: u64 = 1;

/// The two document kinds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A reported problem: report, review, lifecycle.
    Case,
    /// An on-site check of a case: task and result.
    Verification,
}

impl DocKind {
    /// Value of the document's `kind` field (also used on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Case => "case",
            DocKind::Verification => "verification",
        }
    }

    /// Parses [`DocKind::as_str`] output.
    pub fn parse(s: &str) -> Option<DocKind> {
        match s {
            "case" => Some(DocKind::Case),
            "verification" => Some(DocKind::Verification),
            _ => None,
        }
    }
}

/// A part of a document with its own owner; see the crate docs for the layout.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `schema`, `kind`, `id`, `case_id`, the empty part containers made at
    /// creation, and any unknown root key. Fixed after creation.
    Meta,
    /// A case's `report`, owned by its reporter.
    Report,
    /// A case's `review`, owned by the leader of the reporter's squad.
    Review,
    /// A case's `lifecycle`, owned by the centre.
    Lifecycle,
    /// A verification's `task`, owned by the centre.
    Task,
    /// A verification's `result`, owned by the task's assignee.
    Result,
}

impl Part {
    /// Stable snake_case id, used in refusal reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Meta => "meta",
            Part::Report => "report",
            Part::Review => "review",
            Part::Lifecycle => "lifecycle",
            Part::Task => "task",
            Part::Result => "result",
        }
    }

    /// The part a root key of a document of `kind` belongs to.
    pub fn of_root_key(kind: Option<DocKind>, key: &str) -> Part {
        match (kind, key) {
            (Some(DocKind::Case), "report") => Part::Report,
            (Some(DocKind::Case), "review") => Part::Review,
            (Some(DocKind::Case), "lifecycle") => Part::Lifecycle,
            (Some(DocKind::Verification), "task") => Part::Task,
            (Some(DocKind::Verification), "result") => Part::Result,
            _ => Part::Meta,
        }
    }
}

/// Why a document could not be built, read or classified.
#[derive(Debug, Error)]
pub enum DocError {
    /// Automerge refused the bytes or the operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A required field is missing or has the wrong type.
    #[error("field `{0}` is missing or has the wrong type")]
    Field(String),
    /// The document is of a different kind than expected, or of none.
    #[error("expected a {expected} document, found `{found}`")]
    WrongKind {
        /// The kind the caller asked for.
        expected: &'static str,
        /// What the document's `kind` field holds.
        found: String,
    },
    /// The document was written with a layout this code does not know.
    #[error("unsupported schema {0} (this build reads schema {SCHEMA})")]
    Schema(u64),
    /// A value is outside what the layout allows.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A report names a category that is not a fine class of the checklist.
    #[error("category `{0}` is not a fine class of the checklist")]
    UnknownCategory(String),
    /// The document is over one of the [`limits`].
    #[error("too large: {0}")]
    TooLarge(String),
    /// `after` does not contain every change of `before`.
    #[error("the new document does not descend from the stored one")]
    NotDescendant,
    /// A lifecycle step not allowed from the case's current state.
    #[error("lifecycle: {0}")]
    Transition(#[from] gridpatrol_domain::lifecycle::TransitionError),
}

#[cfg(test)]
mod tests;
