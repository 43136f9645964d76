//! Local edits: the device creates, loads and edits its documents offline;
//! every edit is one store transaction (document bytes, case-list
//! projection, outbox entry — see `gridpatrol_sync::persist`), so it needs
//! no network and survives the app being killed at any moment. If an edit
//! fails nothing is stored.

use automerge::Automerge;
use gridpatrol_docs::{CaseDoc, VerificationDoc};
use gridpatrol_store::Store;
use gridpatrol_sync::SyncError;

pub use gridpatrol_sync::persist::{device_actor, save_case, save_verification};

fn doc_err(id: &str) -> impl FnOnce(gridpatrol_docs::DocError) -> SyncError + '_ {
    move |source| SyncError::Doc {
        id: id.to_string(),
        source: Box::new(source),
    }
}

/// Loads a stored document, editing as this device's actor.
pub fn load_doc(store: &mut Store, id: &str) -> Result<Option<Automerge>, SyncError> {
    let actor = device_actor(store)?;
    match store.get_document(id)? {
        None => Ok(None),
        Some(d) => Automerge::load(&d.bytes)
            .map(|doc| Some(doc.with_actor(actor)))
            .map_err(|e| SyncError::Automerge {
                id: id.to_string(),
                message: e.to_string(),
            }),
    }
}

/// Loads a stored case document.
pub fn load_case(store: &mut Store, id: &str) -> Result<Option<CaseDoc>, SyncError> {
    load_doc(store, id)?
        .map(|d| CaseDoc::from_doc(d).map_err(doc_err(id)))
        .transpose()
}

/// Loads a stored verification document.
pub fn load_verification(
    store: &mut Store,
    id: &str,
) -> Result<Option<VerificationDoc>, SyncError> {
    load_doc(store, id)?
        .map(|d| VerificationDoc::from_doc(d).map_err(doc_err(id)))
        .transpose()
}

/// Creates a new case offline: builds the document as this device's actor and
/// stores it (document + projection + outbox) in one transaction.
pub fn create_case(
    store: &mut Store,
    id: &str,
    report: &gridpatrol_docs::Report,
    now_ms: i64,
) -> Result<CaseDoc, SyncError> {
    let actor = device_actor(store)?;
    let case = CaseDoc::create(actor, id, report).map_err(doc_err(id))?;
    save_case(store, &case, now_ms)?;
    Ok(case)
}

/// Applies `edit` to a stored case and stores the result in one transaction;
/// if `edit` fails nothing is stored.
pub fn edit_case<F>(store: &mut Store, id: &str, now_ms: i64, edit: F) -> Result<CaseDoc, SyncError>
where
    F: FnOnce(&mut CaseDoc) -> Result<(), gridpatrol_docs::DocError>,
{
    let mut case = load_case(store, id)?
        .ok_or_else(|| SyncError::Invalid(format!("no case {id} on this device")))?;
    edit(&mut case).map_err(doc_err(id))?;
    save_case(store, &case, now_ms)?;
    Ok(case)
}

/// Applies `edit` to a stored verification and stores the result in one
/// transaction; if `edit` fails nothing is stored.
pub fn edit_verification<F>(
    store: &mut Store,
    id: &str,
    now_ms: i64,
    edit: F,
) -> Result<VerificationDoc, SyncError>
where
    F: FnOnce(&mut VerificationDoc) -> Result<(), gridpatrol_docs::DocError>,
{
    let mut v = load_verification(store, id)?
        .ok_or_else(|| SyncError::Invalid(format!("no verification {id} on this device")))?;
    edit(&mut v).map_err(doc_err(id))?;
    save_verification(store, &v, now_ms)?;
    Ok(v)
}
