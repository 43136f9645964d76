//! Batched Automerge sync with the write rule.
//!
//! For each document in a request the server loads the stored version (or an
//! empty document for an id it has never seen, if the caller's role may create
//! that kind), applies the device's sync message to a copy, and — if the heads
//! moved — asks `gridpatrol_docs::parts_changed` what the change alters and
//! `gridpatrol_docs::authorize` whether the caller owns all of it. Allowed
//! versions of the whole batch are committed in one storage transaction that
//! checks no document changed meanwhile (optimistic concurrency: on conflict
//! the batch is recomputed from the fresh versions). A refused change is not
//! stored and the sync state is left as it was, so it is refused again if
//! re-sent.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::Automerge;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{
    codes, limits, DocKind, SyncDocRequest, SyncDocResult, SyncRequest, SyncResponse, SyncStatus,
};
use gridpatrol_server_storage::{DocIndex, DocWrite, Scope, StoreError, StoredDoc};

use crate::auth::Caller;
use crate::error::{body_rejection, parse_json, ApiError};
use crate::metrics::Metrics;
use crate::AppState;

/// Devices per account whose sync states the server keeps (phones, a
/// reinstall or two); an older device's states go and cost it one extra
/// round trip when it comes back.
const MAX_DEVICES_PER_ACCOUNT: usize = 8;

/// How often a batch is recomputed after concurrent writes before giving up.
const MAX_ATTEMPTS: usize = 8;

pub(crate) async fn sync(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SyncResponse>, ApiError> {
    caller.require_case_role()?;
    let body = body.map_err(body_rejection)?;
    Metrics::add(&state.metrics.sync_bytes_in, body.len() as u64);
    let req: SyncRequest = parse_json(&body)?;
    validate(&req)?;
    // One worker per account at most: its further requests queue here,
    // without a worker, while honest devices get the others.
    let account = state.lock_account(&caller.user.id).await;
    let permit = state.sync_worker().await?;
    let st = state.clone();
    // The lock and the permit move into the blocking task: a client that
    // hangs up does not free them while its batch still runs.
    let resp = tokio::task::spawn_blocking(move || {
        let _held = (account, permit);
        process(&st, &caller, req)
    })
    .await??;
    for d in &resp.docs {
        state.metrics.sync_doc(match d.status {
            SyncStatus::Ok => "ok",
            SyncStatus::Refused => "refused",
            SyncStatus::NotFound => "not_found",
            SyncStatus::Error => "error",
        });
    }
    let out_len: usize = resp
        .docs
        .iter()
        .map(|d| d.msg.as_ref().map_or(0, Vec::len))
        .sum();
    Metrics::add(&state.metrics.sync_bytes_out, out_len as u64);
    Ok(Json(resp))
}

fn validate(req: &SyncRequest) -> Result<(), ApiError> {
    if req.device.is_empty() || req.device.len() > limits::MAX_ID_LEN {
        return Err(ApiError::malformed(format!(
            "device id must be 1..={} bytes",
            limits::MAX_ID_LEN
        )));
    }
    if req.docs.len() > limits::MAX_SYNC_DOCS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::TOO_MANY_DOCS,
            format!(
                "{} documents in one request; at most {}",
                req.docs.len(),
                limits::MAX_SYNC_DOCS
            ),
        ));
    }
    let mut seen = HashSet::new();
    for d in &req.docs {
        if d.id.is_empty() || d.id.len() > limits::MAX_ID_LEN {
            return Err(ApiError::malformed(format!(
                "document id must be 1..={} bytes",
                limits::MAX_ID_LEN
            )));
        }
        if !seen.insert(d.id.as_str()) {
            return Err(ApiError::malformed(format!(
                "document {} appears twice in one request",
                d.id
            )));
        }
    }
    Ok(())
}

fn to_docs_kind(k: DocKind) -> gridpatrol_docs::DocKind {
    match k {
        DocKind::Case => gridpatrol_docs::DocKind::Case,
        DocKind::Verification => gridpatrol_docs::DocKind::Verification,
    }
}

fn may_create(role: Role, kind: DocKind) -> bool {
    match kind {
        DocKind::Case => matches!(role, Role::Inspector | Role::SquadLeader),
        DocKind::Verification => role == Role::CentreOperator,
    }
}

fn result(id: &str, status: SyncStatus, code: &str, reason: impl Into<String>) -> SyncDocResult {
    SyncDocResult {
        id: id.to_string(),
        status,
        code: Some(code.to_string()),
        reason: Some(reason.into()),
        msg: None,
    }
}

pub(crate) fn doc_index(
    doc: &Automerge,
    facts: &gridpatrol_docs::DocFacts,
    valid: &gridpatrol_docs::Valid,
) -> DocIndex {
    // Every photo the document refers to (the report's, the result's, the
    // lifecycle steps'), so whoever sees the document may fetch them.
    let mut photos: Vec<String> = gridpatrol_docs::photo_refs(doc)
        .into_iter()
        .filter(|p| gridpatrol_protocol::is_sha256_hex(p))
        .collect();
    photos.sort();
    photos.dedup();
    let (case, verification) = match valid {
        gridpatrol_docs::Valid::Case(c) => (Some(crate::centre::case_summary(c)), None),
        gridpatrol_docs::Valid::Verification(v) => {
            (None, Some(crate::centre::verification_summary(v)))
        }
    };
    DocIndex {
        supervision_grid: facts.supervision_grid.clone(),
        reporter: facts.reporter.clone(),
        assignee: facts.assignee.clone(),
        photos,
        case,
        verification,
    }
}

/// The outcome of one document before commit.
struct Outcome {
    result: SyncDocResult,
    write: Option<DocWrite>,
    /// New sync state to keep (None: keep the old one).
    state: Option<SyncState>,
}

fn process(state: &AppState, caller: &Caller, req: SyncRequest) -> Result<SyncResponse, ApiError> {
    let ids: Vec<String> = req.docs.iter().map(|d| d.id.clone()).collect();
    let scope = caller.scope();
    let principal = caller.principal();
    // Sync states belong to an account's device: another account naming the
    // same device id gets states of its own.
    let device = format!("{}/{}", caller.user.id, req.device);
    let bounds = bounds(state);
    let checked = check_messages(state, &req.docs);
    for _ in 0..MAX_ATTEMPTS {
        let stored = state.store.load_docs(&ids)?;
        let states = sync_states(state, &device, &ids)?;
        let mut outcomes = Vec::with_capacity(ids.len());
        let mut loaded = 0usize;
        for (((d, msg), existing), sync_state) in
            req.docs.iter().zip(&checked).zip(stored).zip(states)
        {
            // What the stored documents cost to load is bounded per request too.
            loaded += existing.as_ref().map_or(0, |e| e.bytes.len());
            if loaded > gridpatrol_docs::limits::MAX_REQUEST_STORED_BYTES {
                outcomes.push(Outcome {
                    result: result(
                        &d.id,
                        SyncStatus::Error,
                        codes::REQUEST_BUDGET,
                        format!(
                            "this request's documents are over {} bytes; send document {} again in another request",
                            gridpatrol_docs::limits::MAX_REQUEST_STORED_BYTES,
                            d.id
                        ),
                    ),
                    write: None,
                    state: None,
                });
                continue;
            }
            let ctx = Ctx {
                state,
                caller,
                principal: &principal,
                scope: &scope,
                bounds: &bounds,
            };
            // A panic inside Automerge (a bug the guard did not foresee)
            // refuses this document instead of failing the whole request.
            let outcome = match contained(|| process_one(&ctx, d, msg, existing, sync_state)) {
                Ok(o) => o?,
                Err(panic) => Outcome {
                    result: result(
                        &d.id,
                        SyncStatus::Error,
                        codes::BAD_SYNC_MESSAGE,
                        format!("cannot process document {}: {panic}", d.id),
                    ),
                    write: None,
                    state: None,
                },
            };
            outcomes.push(outcome);
        }
        let writes: Vec<DocWrite> = outcomes.iter().filter_map(|o| o.write.clone()).collect();
        let encoded: Vec<(String, Vec<u8>)> = outcomes
            .iter()
            .filter_map(|o| o.state.as_ref().map(|s| (o.result.id.clone(), s.encode())))
            .collect();
        if !encoded.is_empty() {
            // Device ids are the client's to choose: keep states for a few
            // devices per account, not for every id it ever named.
            state.store.prune_sync_devices(
                &format!("{}/", caller.user.id),
                &device,
                MAX_DEVICES_PER_ACCOUNT,
            )?;
        }
        match state.store.commit_sync(&device, &writes, &encoded) {
            Ok(()) => {
                Metrics::add(&state.metrics.docs_stored, writes.len() as u64);
                crate::centre::after_sync(state, &writes);
                let mut cache = state.sync_states.lock().unwrap_or_else(|p| p.into_inner());
                let (map, bytes) = &mut *cache;
                for s in outcomes.iter_mut().filter_map(|o| o.state.as_mut()) {
                    // What the peer said last is replaced by its next
                    // message before it is read: don't keep it.
                    s.their_have = None;
                    s.their_need = None;
                    s.their_heads = None;
                }
                let adding: usize = outcomes
                    .iter()
                    .filter_map(|o| o.state.as_ref().map(state_bytes))
                    .sum();
                if map.len() + outcomes.len() > state.settings.server.sync_state_cache
                    || *bytes + adding > SYNC_STATE_CACHE_BYTES
                {
                    // Bounded memory: start over; states reload from storage.
                    map.clear();
                    *bytes = 0;
                }
                let mut results = Vec::with_capacity(outcomes.len());
                for o in outcomes {
                    if let Some(s) = o.state {
                        *bytes += state_bytes(&s);
                        if let Some(old) = map.insert((device.clone(), o.result.id.clone()), s) {
                            *bytes = bytes.saturating_sub(state_bytes(&old));
                        }
                    }
                    results.push(o.result);
                }
                return Ok(SyncResponse { docs: results });
            }
            Err(StoreError::Conflict(_)) => {
                Metrics::add(&state.metrics.sync_conflicts, 1);
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::INTERNAL,
        "documents kept changing concurrently; retry",
    ))
}

/// Where and when stored values may lie, as of now.
pub(crate) fn bounds(state: &AppState) -> gridpatrol_docs::Bounds {
    gridpatrol_docs::Bounds::for_district(state.district_bbox, BBOX_PAD_DEG, crate::now_ms())
}

/// A message refused before any work: the code and the reason.
type Unchecked = (&'static str, String);

/// Every message of a request through the guard, and the request's
/// operation budget: messages past it wait for a later request.
fn check_messages(state: &AppState, docs: &[SyncDocRequest]) -> Vec<Result<Message, Unchecked>> {
    let mut ops: u64 = 0;
    docs.iter()
        .map(|d| {
            let c = gridpatrol_docs::guard::check_sync_message(&d.msg).map_err(|e| {
                Metrics::add(&state.metrics.sync_messages_refused, 1);
                (codes::BAD_SYNC_MESSAGE, e.0)
            })?;
            ops = ops.saturating_add(c.ops);
            if ops > gridpatrol_docs::limits::MAX_REQUEST_OPS {
                return Err((
                    codes::REQUEST_BUDGET,
                    format!(
                        "this request carries more than {} operations; send document {} again in another request",
                        gridpatrol_docs::limits::MAX_REQUEST_OPS,
                        d.id
                    ),
                ));
            }
            Ok(c.message)
        })
        .collect()
}

/// Memory the in-memory sync states may take in all.
const SYNC_STATE_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Roughly what one cached sync state takes (its hashes dominate; what the
/// peer said last is dropped before caching).
fn state_bytes(s: &SyncState) -> usize {
    256 + (s.shared_heads.len() + s.last_sent_heads.len() + s.sent_hashes.len()) * 48
}

/// Current sync states for (device, id): memory first, then storage, else fresh.
fn sync_states(state: &AppState, device: &str, ids: &[String]) -> Result<Vec<SyncState>, ApiError> {
    let mut out: Vec<Option<SyncState>> = {
        let cache = state.sync_states.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter()
            .map(|id| cache.0.get(&(device.to_string(), id.clone())).cloned())
            .collect()
    };
    let missing: Vec<String> = ids
        .iter()
        .zip(&out)
        .filter(|(_, s)| s.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    if !missing.is_empty() {
        let mut loaded = state.store.load_sync_states(device, &missing)?.into_iter();
        for slot in out.iter_mut().filter(|s| s.is_none()) {
            let bytes = loaded.next().flatten();
            // An unreadable persisted state only costs an extra round trip.
            *slot = Some(
                bytes
                    .and_then(|b| SyncState::decode(&b).ok())
                    .unwrap_or_default(),
            );
        }
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// What every document of one request is checked against.
struct Ctx<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    principal: &'a gridpatrol_docs::Principal,
    scope: &'a Scope,
    bounds: &'a gridpatrol_docs::Bounds,
}

/// GPS error allowed around the district's bounding box (~1 km).
const BBOX_PAD_DEG: f64 = 0.01;

/// Runs `f`, turning a panic into its message.
fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "internal error".into())
    })
}

fn process_one(
    ctx: &Ctx<'_>,
    d: &SyncDocRequest,
    msg: &Result<Message, Unchecked>,
    existing: Option<StoredDoc>,
    mut sync_state: SyncState,
) -> Result<Outcome, ApiError> {
    let Ctx {
        state,
        caller,
        principal,
        scope,
        bounds,
    } = *ctx;
    let refused = |status, code: &str, reason: String| Outcome {
        result: result(&d.id, status, code, reason),
        write: None,
        state: None,
    };
    match &existing {
        Some(ex) if !state.store.doc_visible(&ex.id, scope)? => {
            return Ok(refused(
                SyncStatus::NotFound,
                codes::NOT_FOUND,
                format!("no document {} in your scope", d.id),
            ))
        }
        Some(ex) if ex.kind != d.kind => {
            return Ok(refused(
                SyncStatus::Refused,
                codes::KIND_MISMATCH,
                format!(
                    "document {} is a {}, not a {}",
                    d.id,
                    ex.kind.as_str(),
                    d.kind.as_str()
                ),
            ))
        }
        None if !may_create(caller.user.role, d.kind) => {
            return Ok(refused(
                SyncStatus::NotFound,
                codes::NOT_FOUND,
                format!(
                    "no {} {}; a {} cannot create one",
                    d.kind.as_str(),
                    d.id,
                    caller.user.role.as_str()
                ),
            ))
        }
        _ => {}
    }
    // Bounded before Automerge touches it (see gridpatrol_docs::guard).
    let msg = match msg {
        Ok(m) => m.clone(),
        Err((code, reason)) => return Ok(refused(SyncStatus::Error, code, reason.clone())),
    };
    let before = match &existing {
        Some(ex) => Automerge::load(&ex.bytes).map_err(ApiError::internal)?,
        None => Automerge::new(),
    };
    let mut after = before.clone();
    if let Err(e) = after.receive_sync_message(&mut sync_state, msg) {
        return Ok(refused(
            SyncStatus::Error,
            codes::BAD_SYNC_MESSAGE,
            format!("cannot apply sync message: {e}"),
        ));
    }
    let write = match check_write(
        state,
        principal,
        &d.id,
        d.kind,
        existing.as_ref(),
        &before,
        &after,
        bounds,
    )? {
        WriteCheck::Unchanged => None,
        WriteCheck::Write(w) => Some(*w),
        WriteCheck::Refused {
            status,
            code,
            reason,
        } => return Ok(refused(status, &code, reason)),
    };
    let reply = after
        .generate_sync_message(&mut sync_state)
        .map(Message::encode);
    // A sync state is kept only for a document that exists: ids the caller
    // merely named add nothing to storage.
    let keep_state = existing.is_some() || write.is_some();
    Ok(Outcome {
        result: SyncDocResult {
            id: d.id.clone(),
            status: SyncStatus::Ok,
            code: None,
            reason: None,
            msg: reply,
        },
        write,
        state: keep_state.then_some(sync_state),
    })
}

/// What the write rules say of a document going from `before` to `after`.
pub(crate) enum WriteCheck {
    /// Nothing changed.
    Unchanged,
    /// Allowed: the version to store.
    Write(Box<DocWrite>),
    /// Refused, with the status, code and reason for the caller.
    Refused {
        status: SyncStatus,
        code: String,
        reason: String,
    },
}

/// The one gate every stored version passes, whether it came from a
/// device's sync message or from a centre action on the server: the
/// change is classified, authorized for `principal` and the result
/// validated and size-checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_write(
    state: &AppState,
    principal: &gridpatrol_docs::Principal,
    id: &str,
    kind: DocKind,
    existing: Option<&StoredDoc>,
    before: &Automerge,
    after: &Automerge,
    bounds: &gridpatrol_docs::Bounds,
) -> Result<WriteCheck, ApiError> {
    let heads_before = before.get_heads();
    let heads_after = after.get_heads();
    if heads_after == heads_before {
        return Ok(WriteCheck::Unchanged);
    }
    let refused = |status, code: &str, reason: String| {
        Ok(WriteCheck::Refused {
            status,
            code: code.to_string(),
            reason,
        })
    };
    let invalid = |reason: String| refused(SyncStatus::Refused, codes::INVALID_DOCUMENT, reason);
    let parts: BTreeSet<gridpatrol_docs::Part> = match gridpatrol_docs::parts_changed(before, after)
    {
        Ok(p) => p,
        Err(e) => return invalid(format!("cannot classify the change to {id}: {e}")),
    };
    let incoming = match gridpatrol_docs::facts(after) {
        Ok(f) => f,
        Err(e) => return invalid(format!("document {id} would not be valid: {e}")),
    };
    if incoming.id != id || incoming.kind != to_docs_kind(kind) {
        return invalid(format!(
            "document sent as {} {} says it is {} {}",
            kind.as_str(),
            id,
            incoming.kind.as_str(),
            incoming.id
        ));
    }
    let prior = match existing {
        Some(_) => Some(gridpatrol_docs::facts(before).map_err(ApiError::internal)?),
        None => None,
    };
    let reporter = prior
        .as_ref()
        .and_then(|f| f.reporter.clone())
        .or_else(|| incoming.reporter.clone());
    let reporter_squad = match reporter {
        Some(r) => state.store.squad_of(&r)?,
        None => None,
    };
    let grid_squad = match &incoming.supervision_grid {
        Some(g) => state.store.squad_of_grid(g)?,
        None => None,
    };
    let squads = gridpatrol_docs::Squads {
        reporter: reporter_squad.as_deref(),
        grid: grid_squad.as_deref(),
    };
    if let Err(refusal) =
        gridpatrol_docs::authorize(principal, prior.as_ref(), &incoming, &parts, &squads)
    {
        return refused(SyncStatus::Refused, refusal.code, refusal.reason);
    }
    // What is stored must be what every device can read. (A report
    // against anything but a fine class could never be dispatched: its
    // reporter hears so while still around to fix it.)
    let valid = match gridpatrol_docs::validate(after, bounds) {
        Ok(v) => v,
        Err(e) => {
            let code = match e {
                gridpatrol_docs::DocError::TooLarge(_) => codes::DOCUMENT_TOO_LARGE,
                gridpatrol_docs::DocError::UnknownCategory(_) => codes::UNKNOWN_CATEGORY,
                _ => codes::INVALID_DOCUMENT,
            };
            return refused(
                SyncStatus::Refused,
                code,
                format!("document {id} would not be valid: {e}"),
            );
        }
    };
    // A lifecycle step's photos are the centre's own evidence: each must be
    // on the server before the step is (devices upload report and result
    // photos after their documents, so those are not checked here).
    if let gridpatrol_docs::Valid::Case(c) = &valid {
        // Only read the stored photo list when a step has photos (few do).
        let mut step_photos = c.steps.iter().flat_map(|s| &s.detail.photos).peekable();
        let known: HashSet<String> = match step_photos.peek() {
            Some(_) => gridpatrol_docs::photo_refs(before).into_iter().collect(),
            None => HashSet::new(),
        };
        for sha in step_photos {
            if known.contains(sha) {
                continue;
            }
            if !matches!(
                state.store.photo_status(sha)?,
                gridpatrol_server_storage::PhotoStatus::Complete { .. }
            ) {
                return refused(
                    SyncStatus::Refused,
                    codes::PHOTO_NOT_UPLOADED,
                    format!(
                        "document {id}: photo {sha} of a lifecycle step is not on the server; upload it first (PUT {})",
                        gridpatrol_protocol::paths::photo(sha)
                    ),
                );
            }
        }
    }
    let bytes = after.save();
    if let Err(e) = gridpatrol_docs::check_size(after, bytes.len()) {
        return refused(
            SyncStatus::Refused,
            codes::DOCUMENT_TOO_LARGE,
            format!("document {id}: {e}"),
        );
    }
    let mut heads: Vec<String> = heads_after.iter().map(|h| h.to_string()).collect();
    heads.sort();
    Ok(WriteCheck::Write(Box::new(DocWrite {
        id: id.to_string(),
        kind,
        bytes,
        heads,
        expected_seq: existing.map(|e| e.seq),
        index: doc_index(after, &incoming, &valid),
    })))
}
