//! The supervision centre's side of the six-step loop: list and show cases,
//! file or reject them, dispatch them to the responsible unit with a
//! deadline, record the unit's feedback, send an inspector to re-verify and
//! close on a pass. Every action is one time-stamped lifecycle step written
//! by the server as the calling centre account, through the same gate a
//! device's sync message passes ([`crate::sync::check_write`]). A failed
//! verification arriving by sync reopens the case and re-dispatches it to
//! the same unit at once ([`after_sync`]).

use std::sync::Arc;

use automerge::{ActorId, Automerge};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use gridpatrol_docs::{Case, CaseDoc, StepDetail, Task, TaskKind, Verification, VerificationDoc};
use gridpatrol_domain::lifecycle::{Action, CaseState, Flow, Lifecycle};
use gridpatrol_domain::roles::Role;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_protocol::{
    codes, limits, CaseListItem, CaseListPage, CaseListParams, CentreAction, CentreBatchRequest,
    CentreBatchResponse, CentreBatchResult, ComplaintRequest, DocKind, ErrorDetail, SyncStatus,
};
use gridpatrol_server_storage::{
    CaseEvent, CaseQuery, CaseSummary, DocWrite, PhotoStatus, StoreError, StoredDoc,
    VerificationSummary,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::{body_rejection, parse_json, ApiError};
use crate::sync::{check_write, WriteCheck};
use crate::AppState;

/// Rows of a case-list page unless asked for fewer.
const DEFAULT_PAGE: u32 = 100;
/// Most rows of a case-list page.
const MAX_PAGE: u32 = 1000;
/// A re-verification is due this many hours after it is assigned by default.
const DEFAULT_VERIFY_HOURS: u32 = 24;
/// Longest re-verification deadline the centre may set, hours.
const MAX_VERIFY_HOURS: u32 = 24 * 30;
/// Attempts at an action while devices keep changing the same document.
const MAX_ATTEMPTS: usize = 8;

/// What the centre list stores of a case (see `migrations/server/0003_centre.sql`).
pub fn case_summary(c: &Case) -> CaseSummary {
    let last_dispatch = c.steps.iter().rev().find(|s| s.detail.unit.is_some());
    CaseSummary {
        state: c.state.as_str().to_string(),
        category: c.report.category.clone(),
        street: c.report.street.clone(),
        technical_grid: c.report.technical_grid.clone(),
        source: c.report.source.as_str().to_string(),
        reported_at_ms: c.report.created_at_ms,
        lon: c.report.lon,
        lat: c.report.lat,
        review: c.review.as_ref().map(|r| r.verdict.as_str().to_string()),
        resubmitted: c.revised_at_ms.is_some(),
        unit: last_dispatch.and_then(|s| s.detail.unit.clone()),
        due_at_ms: last_dispatch.and_then(|s| s.detail.due_at_ms),
        events: c
            .steps
            .iter()
            .map(|s| CaseEvent {
                action: s.step.as_str().to_string(),
                state: s.state.as_str().to_string(),
                by: s.by.clone(),
                at_ms: s.at_ms,
                unit: s.detail.unit.clone(),
                due_at_ms: s.detail.due_at_ms,
            })
            .collect(),
    }
}

/// What the centre index stores of a verification.
pub fn verification_summary(v: &Verification) -> VerificationSummary {
    VerificationSummary {
        case_id: v.case_id.clone(),
        kind: v.task.kind.as_str().to_string(),
        due_at_ms: v.task.due_at_ms,
        outcome: v.result.as_ref().map(|r| r.outcome.as_str().to_string()),
        done_at_ms: v.result.as_ref().map(|r| r.at_ms),
    }
}

/// One case as the centre sees it: the whole timeline and every
/// verification, with what may be done next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    /// The case document read back.
    pub case: Case,
    /// The category's name in the checklist.
    pub category_name: String,
    /// Its verifications, oldest first.
    pub verifications: Vec<Verification>,
    /// Failed verifications so far (each one a round of rework).
    pub rework: u32,
    /// Past the latest dispatch's deadline and still with the unit.
    pub overdue: bool,
    /// Lifecycle actions the centre may record next.
    pub allowed: Vec<Action>,
    /// Size in bytes of each photo the timeline's steps carry, by SHA-256
    /// hex (absent: not on the server).
    #[serde(default)]
    pub step_photo_bytes: std::collections::BTreeMap<String, u64>,
}

fn require_centre(caller: &Caller) -> Result<(), ApiError> {
    if caller.user.role == Role::CentreOperator {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "only the supervision centre may do this",
        ))
    }
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, codes::ACTION_REFUSED, message)
}

fn category_name(code: &str) -> String {
    Taxonomy::builtin()
        .get(code)
        .map(|n| n.name.clone())
        .unwrap_or_default()
}

fn is_with_unit(state: &str) -> bool {
    matches!(state, "dispatched" | "second_handling" | "investigating")
}

/// `GET /v1/centre/cases`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(p): Query<CaseListParams>,
) -> Result<Json<CaseListPage>, ApiError> {
    require_centre(&caller)?;
    let limit = p.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    if let Some(s) = &p.state {
        if CaseState::parse(s).is_none() {
            return Err(ApiError::malformed(format!("unknown case state `{s}`")));
        }
    }
    let after = match &p.after {
        None => None,
        Some(a) => {
            let parsed = a
                .split_once(':')
                .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.to_string())));
            Some(parsed.ok_or_else(|| ApiError::malformed(format!("bad page cursor `{a}`")))?)
        }
    };
    let now = crate::now_ms();
    let q = CaseQuery {
        state: p.state,
        street: p.street,
        supervision_grid: p.grid,
        category: p.category,
        from_ms: p.from_ms,
        to_ms: p.to_ms,
        overdue_at_ms: p.overdue.then_some(now),
        after,
        limit: limit + 1,
    };
    let mut rows = tokio::task::spawn_blocking(move || state.store.list_cases(&q)).await??;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| format!("{}:{}", r.summary.reported_at_ms, r.id))
        })
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| CaseListItem {
            overdue: is_with_unit(&r.summary.state) && r.summary.due_at_ms.is_some_and(|d| d < now),
            category_name: category_name(&r.summary.category),
            id: r.id,
            state: r.summary.state,
            category: r.summary.category,
            street: r.summary.street,
            grid: r.supervision_grid,
            reporter: r.reporter,
            reported_at_ms: r.summary.reported_at_ms,
            unit: r.summary.unit,
            due_at_ms: r.summary.due_at_ms,
        })
        .collect();
    Ok(Json(CaseListPage { items, next }))
}

/// `GET /v1/centre/cases/{id}`.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    require_centre(&caller)?;
    let detail = tokio::task::spawn_blocking(move || detail(&state, &id)).await??;
    Ok(Json(detail))
}

/// `POST /v1/centre/cases/{id}/actions`.
pub(crate) async fn act(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CaseDetail>, ApiError> {
    require_centre(&caller)?;
    let action: CentreAction = parse_json(&body.map_err(body_rejection)?)?;
    let span = tracing::info_span!("centre_action", case = %id, by = %caller.user.id);
    let detail = tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        perform(&state, &caller, &id, &action)?;
        tracing::info!(action = ?action, "recorded");
        detail(&state, &id)
    })
    .await??;
    Ok(Json(detail))
}

/// `POST /v1/centre/actions`: many actions, each through [`perform`] (the
/// single-case path: same write rules, same lifecycle, its own commit), in
/// order; one answer per item with the single endpoint's status and code.
/// The whole batch is acknowledged after one flush (the `durable_acks`
/// layer), so a district's day of actions does not pay one per action.
pub(crate) async fn act_batch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CentreBatchResponse>, ApiError> {
    require_centre(&caller)?;
    let req: CentreBatchRequest = parse_json(&body.map_err(body_rejection)?)?;
    if req.items.len() > limits::MAX_CENTRE_BATCH {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::TOO_MANY_ITEMS,
            format!(
                "{} actions in one batch; at most {} (send the rest in another request)",
                req.items.len(),
                limits::MAX_CENTRE_BATCH
            ),
        ));
    }
    let span = tracing::info_span!("centre_batch", items = req.items.len(), by = %caller.user.id);
    let results = tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        let results: Vec<CentreBatchResult> = req
            .items
            .into_iter()
            .map(|item| {
                let error = perform(&state, &caller, &item.case_id, &item.action).err();
                CentreBatchResult {
                    case_id: item.case_id,
                    status: error.as_ref().map_or(200, |e| e.status.as_u16()),
                    error: error.map(|e| ErrorDetail {
                        code: e.code.to_string(),
                        message: e.message,
                    }),
                }
            })
            .collect();
        let refused = results.iter().filter(|r| !r.is_ok()).count();
        tracing::info!(
            recorded = results.len() - refused,
            refused,
            "batch recorded"
        );
        results
    })
    .await?;
    Ok(Json(CentreBatchResponse { results }))
}

/// `POST /v1/centre/complaints`.
pub(crate) async fn complaint(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CaseDetail>, ApiError> {
    require_centre(&caller)?;
    let req: ComplaintRequest = parse_json(&body.map_err(body_rejection)?)?;
    let detail = tokio::task::spawn_blocking(move || {
        let id = take_complaint(&state, &caller, &req)?;
        tracing::info!(case = %id, by = %caller.user.id, "complaint taken");
        detail(&state, &id)
    })
    .await??;
    Ok(Json(detail))
}

fn grid_index() -> &'static gridpatrol_district::GridIndex {
    static INDEX: std::sync::OnceLock<gridpatrol_district::GridIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        gridpatrol_district::GridIndex::new(gridpatrol_district::DemoDistrict::get())
    })
}

fn take_complaint(
    state: &AppState,
    caller: &Caller,
    req: &ComplaintRequest,
) -> Result<String, ApiError> {
    let fine = Taxonomy::builtin()
        .get(&req.category)
        .filter(|n| n.fine.is_some());
    if fine.is_none() {
        return Err(ApiError::malformed(format!(
            "{} is not a fine class of the checklist",
            req.category
        )));
    }
    let place = grid_index().locate(req.lon, req.lat).ok_or_else(|| {
        ApiError::malformed(format!(
            "({}, {}) is not inside the district (WGS-84 longitude, latitude)",
            req.lon, req.lat
        ))
    })?;
    let now = crate::now_ms();
    let id = format!("hotline-{}", hex::encode(rand::random::<[u8; 8]>()));
    let report = gridpatrol_docs::Report {
        category: req.category.clone(),
        lon: req.lon,
        lat: req.lat,
        accuracy_m: 0.0,
        technical_grid: place.technical_grid,
        supervision_grid: place.supervision_grid,
        street: place.street,
        address: req.address.clone(),
        description: req.description.clone(),
        photos: Vec::new(),
        reporter: caller.user.id.clone(),
        source: gridpatrol_docs::Source::Hotline,
        created_at_ms: now,
    };
    let doc = CaseDoc::create(centre_actor(&caller.user.id), &id, &report)
        .map_err(|e| ApiError::malformed(format!("the complaint is not valid: {e}")))?;
    let w = gate(
        state,
        caller,
        &id,
        DocKind::Case,
        None,
        &Automerge::new(),
        doc.doc(),
    )?;
    state.store.commit_sync("centre", &[w], &[])?;
    Ok(id)
}

fn load_case(state: &AppState, id: &str) -> Result<(StoredDoc, CaseDoc), ApiError> {
    let stored = state
        .store
        .load_docs(&[id.to_string()])?
        .pop()
        .flatten()
        .filter(|d| d.kind == DocKind::Case)
        .ok_or_else(|| ApiError::not_found(format!("no case {id}")))?;
    let doc = CaseDoc::load(&stored.bytes, ActorId::random()).map_err(ApiError::internal)?;
    Ok((stored, doc))
}

fn load_verification(state: &AppState, id: &str) -> Result<Option<Verification>, ApiError> {
    let Some(stored) = state.store.load_docs(&[id.to_string()])?.pop().flatten() else {
        return Ok(None);
    };
    let v = VerificationDoc::load(&stored.bytes, ActorId::random())
        .and_then(|v| v.read())
        .map_err(ApiError::internal)?;
    Ok(Some(v))
}

fn detail(state: &AppState, id: &str) -> Result<CaseDetail, ApiError> {
    let (_, doc) = load_case(state, id)?;
    let case = doc.read().map_err(ApiError::internal)?;
    let mut verifications = Vec::new();
    for row in state.store.case_verifications(id)? {
        if let Some(v) = load_verification(state, &row.id)? {
            verifications.push(v);
        }
    }
    let summary = case_summary(&case);
    let now = crate::now_ms();
    let mut lc = Lifecycle::new(case.flow);
    for s in &case.steps {
        let _ = lc.apply(s.step, s.step.performed_by());
    }
    let allowed = lc
        .allowed_actions()
        .into_iter()
        .filter(|a| a.performed_by() == Role::CentreOperator)
        .collect();
    let mut step_photo_bytes = std::collections::BTreeMap::new();
    for sha in case.steps.iter().flat_map(|s| &s.detail.photos) {
        if let PhotoStatus::Complete { len } = state.store.photo_status(sha)? {
            step_photo_bytes.insert(sha.clone(), len);
        }
    }
    Ok(CaseDetail {
        step_photo_bytes,
        category_name: category_name(&case.report.category),
        rework: case
            .steps
            .iter()
            .filter(|s| s.step == Action::VerifyFail)
            .count() as u32,
        overdue: is_with_unit(&summary.state) && summary.due_at_ms.is_some_and(|d| d < now),
        allowed,
        verifications,
        case,
    })
}

/// The actor id the server writes with for a centre account: stable per
/// account, distinct from every device's (those are random).
fn centre_actor(user_id: &str) -> ActorId {
    let h = Sha256::digest(format!("gridpatrol server centre {user_id}").as_bytes());
    ActorId::from(&h[..16])
}

/// The responsible unit and deadline of a dispatch of `case` at `now`.
fn dispatch_detail(case: &Case, unit: Option<&str>, now: i64) -> Result<StepDetail, ApiError> {
    let fine = Taxonomy::builtin()
        .get(&case.report.category)
        .and_then(|n| n.fine.as_ref())
        .ok_or_else(|| refused(format!("{} is not a fine class", case.report.category)))?;
    let class = gridpatrol_district::DemoDistrict::get()
        .district
        .technical_grid(&case.report.technical_grid)
        .map(|g| g.area_class)
        .ok_or_else(|| {
            refused(format!(
                "technical grid {} is not in the district",
                case.report.technical_grid
            ))
        })?;
    let unit = match unit.map(str::trim) {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => fine.department.clone(),
    };
    if unit.chars().count() > gridpatrol_docs::limits::MAX_UNIT_CHARS {
        return Err(ApiError::malformed(format!(
            "unit name over {} characters",
            gridpatrol_docs::limits::MAX_UNIT_CHARS
        )));
    }
    Ok(StepDetail {
        unit: Some(unit),
        due_at_ms: Some(fine.limits.deadline_ms(class, now)),
        ..StepDetail::default()
    })
}

/// Chooses who re-verifies a case in `grid` reported by `reporter`: an
/// inspector of the grid other than the reporter, signed in on a device,
/// with the fewest open tasks (then the lowest id).
fn pick_assignee(
    state: &AppState,
    grid: &str,
    reporter: &str,
    now: i64,
) -> Result<String, ApiError> {
    let none = |m: String| ApiError::new(StatusCode::CONFLICT, codes::NO_ASSIGNEE, m);
    let candidates: Vec<String> = state
        .store
        .users_of_grid(grid)?
        .into_iter()
        .filter(|u| u.role == Role::Inspector && u.id != reporter)
        .map(|u| u.id)
        .collect();
    if candidates.is_empty() {
        return Err(none(format!(
            "supervision grid {grid} has no inspector besides the reporter {reporter}; name one with --assignee"
        )));
    }
    let mut on_duty = Vec::new();
    for c in &candidates {
        if state.store.has_session(c, now)? {
            on_duty.push(c.clone());
        }
    }
    if on_duty.is_empty() {
        return Err(none(format!(
            "none of the inspectors of grid {grid} other than the reporter ({}) is signed in on a device; name one with --assignee",
            candidates.join(", ")
        )));
    }
    let counts = state.store.open_verification_counts(&on_duty)?;
    let (_, who) = counts
        .into_iter()
        .zip(on_duty)
        .min()
        .expect("on_duty is not empty");
    Ok(who)
}

/// Records `action` on case `id` as `caller`, retrying while devices change
/// the same document concurrently.
fn perform(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &CentreAction,
) -> Result<(), ApiError> {
    let by = caller.user.id.as_str();
    for _ in 0..MAX_ATTEMPTS {
        let (stored, mut doc) = load_case(state, id)?;
        let before = doc.doc().clone();
        doc = CaseDoc::from_doc(before.clone().with_actor(centre_actor(by)))
            .map_err(ApiError::internal)?;
        let case = doc.read().map_err(ApiError::internal)?;
        let now = crate::now_ms();
        let step = |doc: &mut CaseDoc, a: Action, note: &str, d: &StepDetail| {
            doc.append_step_with(a, by, now, note, d)
                .map(|_| ())
                .map_err(|e| refused(format!("case {id} is {}: {e}", case.state.label_zh())))
        };
        let mut extra: Option<(String, Automerge)> = None;
        match action {
            CentreAction::File { note } => {
                step(&mut doc, Action::File, note, &StepDetail::default())?
            }
            CentreAction::Reject { reason } => {
                if reason.trim().is_empty() {
                    return Err(ApiError::malformed("a rejection needs a reason"));
                }
                step(
                    &mut doc,
                    Action::RefuseFiling,
                    reason,
                    &StepDetail::default(),
                )?
            }
            CentreAction::Dispatch { unit, note } => {
                let d = dispatch_detail(&case, unit.as_deref(), now)?;
                step(&mut doc, Action::Dispatch, note, &d)?
            }
            CentreAction::Handled { note, photos } => {
                check_action_photos(photos)?;
                let d = StepDetail {
                    photos: photos.clone(),
                    ..StepDetail::default()
                };
                step(&mut doc, Action::ReportHandled, note, &d)?
            }
            CentreAction::AssignVerification {
                assignee,
                due_hours,
                note,
            } => {
                let hours = due_hours.unwrap_or(DEFAULT_VERIFY_HOURS);
                if hours == 0 || hours > MAX_VERIFY_HOURS {
                    return Err(ApiError::malformed(format!(
                        "a re-verification is due in 1 to {MAX_VERIFY_HOURS} hours"
                    )));
                }
                let who = match assignee {
                    Some(a) => {
                        let u = state
                            .store
                            .user(a)?
                            .filter(|u| matches!(u.role, Role::Inspector | Role::SquadLeader))
                            .ok_or_else(|| refused(format!("{a} is not an inspector")))?;
                        u.id
                    }
                    None => pick_assignee(
                        state,
                        &case.report.supervision_grid,
                        &case.report.reporter,
                        now,
                    )?,
                };
                let n = state.store.case_verifications(id)?.len() + 1;
                let vid = format!("{id}-v{n}");
                let kind = match case.flow {
                    Flow::Supervision => TaskKind::HandlingCheck,
                    Flow::Complaint => TaskKind::ComplaintCheck,
                };
                let d = StepDetail {
                    verification: Some(vid.clone()),
                    ..StepDetail::default()
                };
                step(&mut doc, Action::RequestVerification, note, &d)?;
                let task = Task {
                    assignee: who,
                    kind,
                    due_at_ms: now + i64::from(hours) * 3_600_000,
                    created_by: by.to_string(),
                };
                let v = VerificationDoc::create(centre_actor(by), &vid, id, &task)
                    .map_err(ApiError::internal)?;
                extra = Some((vid, v.into_doc()));
            }
            CentreAction::Reply { note } => {
                if note.trim().is_empty() {
                    return Err(ApiError::malformed(
                        "a reply says what the complainant was told",
                    ));
                }
                step(&mut doc, Action::Reply, note, &StepDetail::default())?
            }
            CentreAction::Satisfied { note } => {
                step(&mut doc, Action::Satisfied, note, &StepDetail::default())?
            }
            CentreAction::NotSatisfied { note } => {
                if note.trim().is_empty() {
                    return Err(ApiError::malformed(
                        "say what the complainant is not satisfied with",
                    ));
                }
                let last_unit = case_summary(&case).unit;
                let d = dispatch_detail(&case, last_unit.as_deref(), now)?;
                step(&mut doc, Action::NotSatisfied, note, &d)?
            }
            CentreAction::Close { note } => {
                let vid = latest_verification(&case).ok_or_else(|| {
                    refused(format!("case {id} has no re-verification to close on"))
                })?;
                let v = load_verification(state, &vid)?.ok_or_else(|| {
                    refused(format!("verification {vid} is not on the server yet"))
                })?;
                match v.result.as_ref().map(|r| r.outcome) {
                    Some(gridpatrol_docs::Outcome::Pass) => {}
                    Some(gridpatrol_docs::Outcome::Fail) => {
                        return Err(refused(format!(
                            "verification {vid} failed; the case went back to the unit"
                        )))
                    }
                    None => {
                        return Err(refused(format!(
                            "verification {vid} has no result yet from {}",
                            v.task.assignee
                        )))
                    }
                }
                let d = StepDetail {
                    verification: Some(vid),
                    ..StepDetail::default()
                };
                step(&mut doc, Action::VerifyPass, note, &d)?
            }
        }
        let mut writes = vec![gate(
            state,
            caller,
            id,
            DocKind::Case,
            Some(&stored),
            &before,
            doc.doc(),
        )?];
        if let Some((vid, vdoc)) = extra {
            writes.push(gate(
                state,
                caller,
                &vid,
                DocKind::Verification,
                None,
                &Automerge::new(),
                &vdoc,
            )?);
        }
        match state.store.commit_sync("centre", &writes, &[]) {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::INTERNAL,
        "the case kept changing concurrently; retry",
    ))
}

/// The photo list of a `handled` action, checked before any work: at most
/// as many as a report may carry, each a SHA-256 hex, none twice. (That
/// each is on the server is the write gate's check,
/// [`crate::sync::check_write`].)
fn check_action_photos(photos: &[String]) -> Result<(), ApiError> {
    let max = gridpatrol_docs::limits::MAX_PHOTOS;
    if photos.len() > max {
        return Err(ApiError::malformed(format!(
            "{} photos on one handled step; at most {max}",
            photos.len()
        )));
    }
    if let Some(p) = photos
        .iter()
        .find(|p| !gridpatrol_protocol::is_sha256_hex(p))
    {
        return Err(ApiError::malformed(format!(
            "photo `{}` is not a SHA-256 (64 lowercase hex digits)",
            p.chars().take(70).collect::<String>()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(p) = photos.iter().find(|p| !seen.insert(p.as_str())) {
        return Err(ApiError::malformed(format!("photo {p} is listed twice")));
    }
    Ok(())
}

/// The verification the case's latest request refers to.
fn latest_verification(case: &Case) -> Option<String> {
    case.steps
        .iter()
        .rev()
        .find(|s| s.step == Action::RequestVerification)
        .and_then(|s| s.detail.verification.clone())
}

/// One version through the write rules, as `caller`.
#[allow(clippy::too_many_arguments)]
fn gate(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: DocKind,
    existing: Option<&StoredDoc>,
    before: &Automerge,
    after: &Automerge,
) -> Result<DocWrite, ApiError> {
    let bounds = crate::sync::bounds(state);
    match check_write(
        state,
        &caller.principal(),
        id,
        kind,
        existing,
        before,
        after,
        &bounds,
    )? {
        WriteCheck::Write(w) => Ok(*w),
        WriteCheck::Unchanged => Err(ApiError::internal(format!("{id}: action changed nothing"))),
        WriteCheck::Refused {
            status,
            code,
            reason,
        } => {
            let st = if status == SyncStatus::Refused {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            tracing::warn!(%id, %code, %reason, "centre action refused by the write rules");
            // A missing photo is the caller's to fix by uploading: say so
            // in the code too; any other refusal is the action's.
            let code = if code == codes::PHOTO_NOT_UPLOADED {
                codes::PHOTO_NOT_UPLOADED
            } else {
                codes::ACTION_REFUSED
            };
            Err(ApiError::new(st, code, reason))
        }
    }
}

/// After devices' writes were stored, a verification result the case is
/// waiting for moves it on at once, recorded in the name of the centre
/// account that asked for the check: a failed re-verification reopens the
/// case and sends it back to the same unit with a new deadline; a
/// complaint confirmed on site goes to the checklist's unit. (A passed
/// re-verification waits for the centre's `close`; a complaint not found
/// on site for its `reply`.) Failures are logged; the device's sync is not
/// affected.
pub(crate) fn after_sync(state: &AppState, writes: &[DocWrite]) {
    for w in writes {
        let Some(v) = &w.index.verification else {
            continue;
        };
        if v.outcome.is_none() {
            continue;
        }
        if let Err(e) = on_result(state, &w.id, &v.case_id) {
            tracing::warn!(verification = %w.id, case = %v.case_id, error = %e.message, "could not move the case on");
        }
    }
}

fn on_result(state: &AppState, vid: &str, case_id: &str) -> Result<(), ApiError> {
    let Some(v) = load_verification(state, vid)? else {
        return Ok(());
    };
    let Some(creator) = state.store.user(&v.task.created_by)? else {
        return Err(ApiError::internal(format!(
            "task creator {} unknown",
            v.task.created_by
        )));
    };
    if creator.role != Role::CentreOperator {
        return Err(ApiError::internal(format!(
            "task creator {} is not the centre",
            creator.id
        )));
    }
    let caller = Caller {
        user: creator,
        token_hash: [0; 32],
    };
    let Some(result) = &v.result else {
        return Ok(());
    };
    for _ in 0..MAX_ATTEMPTS {
        let (stored, doc) = load_case(state, case_id)?;
        let before = doc.doc().clone();
        let mut doc = CaseDoc::from_doc(before.clone().with_actor(centre_actor(&caller.user.id)))
            .map_err(ApiError::internal)?;
        let case = doc.read().map_err(ApiError::internal)?;
        // Only the verification the case is waiting for moves it.
        if latest_verification(&case).as_deref() != Some(vid) {
            return Ok(());
        }
        let now = crate::now_ms();
        let checked = StepDetail {
            verification: Some(vid.to_string()),
            ..StepDetail::default()
        };
        let by = v.task.assignee.as_str();
        let passed = result.outcome == gridpatrol_docs::Outcome::Pass;
        match (case.state, passed) {
            (CaseState::Verifying, false) => {
                doc.append_step_with(Action::VerifyFail, by, now, &result.note, &checked)
                    .map_err(ApiError::internal)?;
                let last_unit = case_summary(&case).unit;
                let d = dispatch_detail(&case, last_unit.as_deref(), now)?;
                let note = "核查未通过，重新派遣";
                doc.append_step_with(Action::Dispatch, &caller.user.id, now, note, &d)
                    .map_err(ApiError::internal)?;
            }
            (CaseState::SiteVerifying, true) => {
                let d = StepDetail {
                    verification: Some(vid.to_string()),
                    ..dispatch_detail(&case, None, now)?
                };
                doc.append_step_with(Action::ConfirmOnSite, by, now, &result.note, &d)
                    .map_err(ApiError::internal)?;
            }
            _ => return Ok(()),
        }
        let w = gate(
            state,
            &caller,
            case_id,
            DocKind::Case,
            Some(&stored),
            &before,
            doc.doc(),
        )?;
        match state.store.commit_sync("centre", &[w], &[]) {
            Ok(()) => {
                tracing::info!(case = %case_id, verification = %vid, "moved on by the check's result");
                return Ok(());
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(format!("case {case_id} kept changing")))
}

/// Builds the centre index of documents stored before it existed (run at
/// start-up; cheap when there are none).
pub fn backfill_index(state: &AppState) -> Result<u64, StoreError> {
    let bounds = gridpatrol_docs::Bounds {
        min_lon: -180.0,
        min_lat: -90.0,
        max_lon: 180.0,
        max_lat: 90.0,
        min_time_ms: i64::MIN,
        max_time_ms: i64::MAX,
        max_due_ms: i64::MAX,
    };
    let mut done = 0u64;
    let mut skipped = std::collections::HashSet::new();
    loop {
        let ids: Vec<String> = state
            .store
            .unindexed_docs(500 + skipped.len() as u32)?
            .into_iter()
            .filter(|id| !skipped.contains(id))
            .collect();
        if ids.is_empty() {
            return Ok(done);
        }
        let mut rows = Vec::new();
        for (id, d) in ids.iter().zip(state.store.load_docs(&ids)?) {
            let Some(d) = d else { continue };
            let ix = Automerge::load(&d.bytes).ok().and_then(|doc| {
                let valid = gridpatrol_docs::validate(&doc, &bounds).ok()?;
                let facts = gridpatrol_docs::facts(&doc).ok()?;
                Some(crate::sync::doc_index(&doc, &facts, &valid))
            });
            match ix {
                Some(ix) => rows.push((id.clone(), ix)),
                None => {
                    tracing::warn!(%id, "stored document cannot be indexed for the centre");
                    skipped.insert(id.clone());
                }
            }
        }
        done += rows.len() as u64;
        state.store.write_index(&rows)?;
    }
}
