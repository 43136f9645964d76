//! What a device holds of one document, for checking it against the server
//! (the simulator's convergence check and the tests): the same question a
//! support engineer asks of a phone — is this case here, identical to the
//! server's, and are its photos up?

use gridpatrol_store::SyncState;

use crate::{Device, DeviceError, Result};

/// A stored document as a convergence check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocCheck {
    /// Automerge heads of the stored copy, hex, sorted (equal heads on two
    /// copies mean equal documents).
    pub heads: Vec<String>,
    /// The store says the server has this copy (sync state "synced").
    pub synced: bool,
    /// Photos the document refers to that this device has not uploaded.
    pub photos_not_uploaded: usize,
}

impl Device {
    /// What this device holds of document `id`; `None` if it has no copy.
    pub fn check_document(&self, id: &str) -> Result<Option<DocCheck>> {
        self.with_account(|a| {
            let Some(doc) = a.store.get_document(id)? else {
                return Ok(None);
            };
            let mut heads: Vec<String> = doc.heads.iter().map(hex::encode).collect();
            heads.sort();
            let loaded = automerge::Automerge::load(&doc.bytes)
                .map_err(|e| DeviceError::Internal(format!("stored document {id}: {e}")))?;
            let mut photos_not_uploaded = 0;
            for sha in gridpatrol_docs::photo_refs(&loaded) {
                if !gridpatrol_sync::photo_uploaded(&a.store, &sha)? {
                    photos_not_uploaded += 1;
                }
            }
            Ok(Some(DocCheck {
                heads,
                synced: doc.sync_state == SyncState::Synced,
                photos_not_uploaded,
            }))
        })
    }
}
