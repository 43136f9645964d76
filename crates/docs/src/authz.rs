//! The write rule: who may create a document and change which part of it.

use std::collections::BTreeSet;

use automerge::Automerge;
use gridpatrol_domain::roles::Role;

use crate::read::{header_of, maps, Fields};
use crate::{DocError, DocKind, Part};

/// What the write rule needs to know about a document, read from its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFacts {
    /// Case or verification.
    pub kind: DocKind,
    /// Document id.
    pub id: String,
    /// A case's `report.reporter`.
    pub reporter: Option<String>,
    /// A case's `report.supervision_grid`.
    pub supervision_grid: Option<String>,
    /// A case's `report.category` (a fine-class code when valid).
    pub category: Option<String>,
    /// A case's `report.source` (`patrol`, `hotline`, `camera`).
    pub source: Option<String>,
    /// A verification's `task.assignee`.
    pub assignee: Option<String>,
    /// A verification's `case_id`.
    pub case_id: Option<String>,
}

/// Reads the facts of a schema-1 document; fails on a document without a
/// valid header (schema, kind, id).
pub fn facts(doc: &Automerge) -> Result<DocFacts, DocError> {
    let root = Fields::root(doc);
    let (kind, id) = header_of(&root)?;
    let mut f = DocFacts {
        kind,
        id,
        reporter: None,
        supervision_grid: None,
        category: None,
        source: None,
        assignee: None,
        case_id: None,
    };
    match kind {
        DocKind::Case => {
            if let Some(r) = root.map("report") {
                f.reporter = r.str_opt("reporter");
                f.supervision_grid = r.str_opt("supervision_grid");
                f.category = r.str_opt("category");
                f.source = r.str_opt("source");
            }
        }
        DocKind::Verification => {
            f.case_id = root.str_opt("case_id");
            if let Some(t) = root.map("task") {
                f.assignee = t.str_opt("assignee");
            }
        }
    }
    Ok(f)
}

/// The photo hashes a document refers to (a case's `report.photos` and the
/// photos of its lifecycle steps, a verification's `result.photos`), read
/// without decoding the rest; empty for anything else. Cheap enough to call
/// for every synced document.
pub fn photo_refs(doc: &Automerge) -> Vec<String> {
    let root = Fields::root(doc);
    let part = match root.str_opt("kind").as_deref() {
        Some("case") => "report",
        Some("verification") => "result",
        _ => return Vec::new(),
    };
    let mut out = match root.map(part) {
        Some(m) => m.str_list("photos"),
        None => Vec::new(),
    };
    let steps = root.map("lifecycle").and_then(|l| l.list("steps"));
    if let (Some(steps), "report") = (steps, part) {
        for s in maps(doc, &steps).into_iter().flatten() {
            out.extend(s.str_list("photos"));
        }
    }
    out
}

/// The authenticated person a change comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id, e.g. `I0001` or `C0001`.
    pub user_id: String,
    /// Their role.
    pub role: Role,
    /// Their squad (inspectors and leaders).
    pub squad: Option<String>,
    /// Their supervision grid (inspectors and leaders).
    pub supervision_grid: Option<String>,
}

/// Why a change was refused: a stable code and a human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable snake_case code: `not_owner`, `immutable_field`,
    /// `unexpected_document`, `not_reporter`, `outside_scope`.
    pub code: &'static str,
    /// Human-readable explanation for the device's screen and logs.
    pub reason: String,
}

fn refuse(code: &'static str, reason: String) -> Result<(), Refusal> {
    Err(Refusal { code, reason })
}

/// The squads a write rule compares with a squad leader's own, looked up by
/// the server in its district records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Squads<'a> {
    /// The squad of the case's reporter (whose leader reviews it).
    pub reporter: Option<&'a str>,
    /// The squad that patrols the case's supervision grid.
    pub grid: Option<&'a str>,
}

/// Decides whether `p` may make a change that alters `parts` of a document,
/// given the stored document's facts (`existing`, `None` for a document the
/// server has never seen) and the facts after the change (`incoming`).
/// `squads` are the reporter's and the grid's squads.
///
/// Rules: a new case only from an inspector or leader reporting as themselves
/// (an inspector in their own supervision grid, a leader in a grid of their
/// own squad) or a public complaint (source hotline) entered by the
/// centre operator as themselves, touching only the header and the report; a new verification only from the centre, touching only the
/// header and the task. Afterwards `report` → its reporter, `review` → the
/// leader of the reporter's squad, `lifecycle` and `task` → the centre,
/// `result` → the task's assignee; the header (and a case's reporter,
/// supervision grid and source) never change. An empty `parts` is always allowed.
pub fn authorize(
    p: &Principal,
    existing: Option<&DocFacts>,
    incoming: &DocFacts,
    parts: &BTreeSet<Part>,
    squads: &Squads<'_>,
) -> Result<(), Refusal> {
    let reporter_squad = squads.reporter;
    if parts.is_empty() {
        return Ok(());
    }
    let who = format!("{} ({})", p.user_id, p.role.as_str());
    let Some(ex) = existing else {
        return authorize_create(p, incoming, parts, squads.grid, &who);
    };
    if ex.kind != incoming.kind
        || ex.id != incoming.id
        || ex.case_id != incoming.case_id
        || ex.reporter != incoming.reporter
        || ex.supervision_grid != incoming.supervision_grid
        || ex.source != incoming.source
    {
        return refuse(
            "immutable_field",
            format!(
                "{} {}: kind, id, case id, reporter, supervision grid and source never change",
                ex.kind.as_str(),
                ex.id
            ),
        );
    }
    if parts.contains(&Part::Meta) {
        return refuse(
            "immutable_field",
            format!(
                "{} {}: the document header and unknown fields never change",
                ex.kind.as_str(),
                ex.id
            ),
        );
    }
    for part in parts {
        let allowed = match part {
            Part::Meta => false,
            Part::Report => ex.reporter.as_deref() == Some(p.user_id.as_str()),
            Part::Review => {
                p.role == Role::SquadLeader
                    && p.squad.is_some()
                    && reporter_squad == p.squad.as_deref()
            }
            Part::Lifecycle | Part::Task => p.role == Role::CentreOperator,
            Part::Result => ex.assignee.as_deref() == Some(p.user_id.as_str()),
        };
        if !allowed {
            let owner = match part {
                Part::Report => format!("its reporter {}", ex.reporter.as_deref().unwrap_or("?")),
                Part::Review => format!(
                    "the leader of squad {}",
                    reporter_squad.unwrap_or("(unknown)")
                ),
                Part::Lifecycle | Part::Task => "the supervision centre".to_string(),
                Part::Result => format!("its assignee {}", ex.assignee.as_deref().unwrap_or("?")),
                Part::Meta => "nobody".to_string(),
            };
            return refuse(
                "not_owner",
                format!(
                    "{who} may not change the {} of {} {}: it belongs to {owner}",
                    part.as_str(),
                    ex.kind.as_str(),
                    ex.id
                ),
            );
        }
    }
    Ok(())
}

fn authorize_create(
    p: &Principal,
    incoming: &DocFacts,
    parts: &BTreeSet<Part>,
    grid_squad: Option<&str>,
    who: &str,
) -> Result<(), Refusal> {
    let (may_touch, kind_s): (&[Part], _) = match incoming.kind {
        DocKind::Case => {
            let complaint = incoming.source.as_deref() == Some(crate::Source::Hotline.as_str());
            match (p.role, complaint) {
                (Role::Inspector | Role::SquadLeader, false) | (Role::CentreOperator, true) => {}
                (Role::CentreOperator, false) => {
                    return refuse(
                        "unexpected_document",
                        format!(
                            "{who} may not create case {}: the centre enters only public complaints (source hotline)",
                            incoming.id
                        ),
                    )
                }
                (Role::Inspector | Role::SquadLeader, true) => {
                    return refuse(
                        "unexpected_document",
                        format!(
                            "{who} may not create case {}: only the centre enters public complaints",
                            incoming.id
                        ),
                    )
                }
                _ => {
                    return refuse(
                        "unexpected_document",
                        format!(
                            "{who} may not create case {}: only inspectors report cases",
                            incoming.id
                        ),
                    )
                }
            }
            if incoming.reporter.as_deref() != Some(p.user_id.as_str()) {
                return refuse(
                    "not_reporter",
                    format!(
                        "{who} may not create case {} reported by {}",
                        incoming.id,
                        incoming.reporter.as_deref().unwrap_or("nobody")
                    ),
                );
            }
            let in_scope = match p.role {
                Role::Inspector => {
                    incoming.supervision_grid.is_some()
                        && incoming.supervision_grid == p.supervision_grid
                }
                // The centre takes complaints from anywhere in the district.
                Role::CentreOperator => true,
                // A leader reports only in the grids their squad patrols.
                _ => p.squad.is_some() && grid_squad == p.squad.as_deref(),
            };
            if !in_scope {
                return refuse(
                    "outside_scope",
                    format!(
                        "{who} may not report case {} in supervision grid {}",
                        incoming.id,
                        incoming.supervision_grid.as_deref().unwrap_or("(none)")
                    ),
                );
            }
            (&[Part::Meta, Part::Report], "case")
        }
        DocKind::Verification => {
            if p.role != Role::CentreOperator {
                return refuse(
                    "unexpected_document",
                    format!(
                        "unknown verification {}: only the centre creates verification tasks",
                        incoming.id
                    ),
                );
            }
            (&[Part::Meta, Part::Task], "verification")
        }
    };
    if let Some(bad) = parts.iter().find(|part| !may_touch.contains(part)) {
        return refuse(
            "not_owner",
            format!(
                "{who} may not write the {} of new {kind_s} {}",
                bad.as_str(),
                incoming.id
            ),
        );
    }
    Ok(())
}
