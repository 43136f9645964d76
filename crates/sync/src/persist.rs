//! How documents are kept on the device: each write is one store
//! transaction holding the document bytes, the case-list projection and an
//! outbox entry, so it needs no network and survives the app being killed
//! at any moment. The engine stores what it merges from the server through
//! it; the device's local edits (`gridpatrol_device::local`) through it too.

use automerge::{ActorId, Automerge, ChangeHash};
use gridpatrol_docs::{CaseDoc, DocKind, VerificationDoc};
use gridpatrol_store::{CaseWrite, Store, VerificationWrite};

use crate::SyncError;

/// This device's Automerge actor (one random id per install, kept in the store).
pub fn device_actor(store: &mut Store) -> Result<ActorId, SyncError> {
    // A read first: creating the id takes a write transaction, needed once.
    let hex_id = match store.get_meta(gridpatrol_store::META_DEVICE_ACTOR_ID)? {
        Some(id) => id,
        None => store.device_actor_id()?,
    };
    let bytes = hex::decode(&hex_id)
        .map_err(|e| SyncError::Invalid(format!("stored actor id {hex_id:?}: {e}")))?;
    Ok(ActorId::from(bytes))
}

pub(crate) fn heads_bytes(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

fn doc_err(id: &str) -> impl FnOnce(gridpatrol_docs::DocError) -> SyncError + '_ {
    move |source| SyncError::Doc {
        id: id.to_string(),
        source: Box::new(source),
    }
}

/// Saves a case document with its list projection and an outbox entry, in
/// one store transaction. A document over the size limits the server
/// enforces is refused here, before anything is written.
pub fn save_case(store: &mut Store, case: &CaseDoc, now_ms: i64) -> Result<(), SyncError> {
    let id = case.id().map_err(doc_err("?"))?;
    let c = case.read().map_err(doc_err(&id))?;
    let doc_bytes = case.save();
    gridpatrol_docs::check_size(case.doc(), doc_bytes.len()).map_err(doc_err(&id))?;
    let first_line = c.report.description.lines().next().unwrap_or("").trim();
    let title: String = if first_line.is_empty() {
        c.report.category.clone()
    } else {
        first_line.chars().take(40).collect()
    };
    store.save_case(&CaseWrite {
        id: id.clone(),
        category_code: c.report.category.clone(),
        status: c.state.as_str().to_string(),
        title,
        summary: c.report.address.clone(),
        technical_grid: c.report.technical_grid.clone(),
        supervision_grid: c.report.supervision_grid.clone(),
        lon: c.report.lon,
        lat: c.report.lat,
        created_at_ms: c.report.created_at_ms,
        updated_at_ms: now_ms,
        doc_bytes,
        doc_heads: heads_bytes(&case.doc().get_heads()),
        reporter: c.report.reporter.clone(),
        review: c.review.as_ref().map(|r| r.verdict.as_str().to_string()),
        resubmitted: c.resubmitted(),
        photo_count: u32::try_from(c.report.photos.len()).unwrap_or(u32::MAX),
    })?;
    Ok(())
}

/// Saves a verification document with an outbox entry, in one store
/// transaction. Its case must be stored on the device.
pub fn save_verification(
    store: &mut Store,
    v: &VerificationDoc,
    now_ms: i64,
) -> Result<(), SyncError> {
    let r = v.read().map_err(doc_err("?"))?;
    let doc_bytes = v.save();
    gridpatrol_docs::check_size(v.doc(), doc_bytes.len()).map_err(doc_err(&r.id))?;
    store.save_verification(&VerificationWrite {
        id: r.id.clone(),
        case_id: r.case_id,
        doc_bytes,
        doc_heads: heads_bytes(&v.doc().get_heads()),
        updated_at_ms: now_ms,
        assignee: r.task.assignee.clone(),
        task_kind: r.task.kind.as_str().to_string(),
        due_at_ms: r.task.due_at_ms,
        outcome: r.result.as_ref().map(|x| x.outcome.as_str().to_string()),
    })?;
    Ok(())
}

/// Stores a document of either kind (after a merge from the server).
pub(crate) fn save_any(
    store: &mut Store,
    id: &str,
    kind: DocKind,
    doc: &Automerge,
    now_ms: i64,
) -> Result<(), SyncError> {
    match kind {
        DocKind::Case => save_case(
            store,
            &CaseDoc::from_doc(doc.clone()).map_err(doc_err(id))?,
            now_ms,
        ),
        DocKind::Verification => save_verification(
            store,
            &VerificationDoc::from_doc(doc.clone()).map_err(doc_err(id))?,
            now_ms,
        ),
    }
}
