//! Size limits of documents and sync messages, chosen from the real schema
//! with headroom. The server refuses anything over them before (messages)
//! or after (documents) Automerge works on it; devices check the same
//! figures before they save, so an honest device never meets a refusal.

/// Longest identifier (document, user, device ids).
pub const MAX_ID_LEN: usize = 128;
/// Photos on one report or one verification result (the app takes up to 9).
pub const MAX_PHOTOS: usize = 20;
/// Lifecycle steps of one case (a case with rework cycles has ~20).
pub const MAX_STEPS: usize = 200;
/// Characters of a description.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Characters of an address.
pub const MAX_ADDRESS_CHARS: usize = 200;
/// Characters of a review, step or result note.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Characters of a responsible unit's name on a dispatch step.
pub const MAX_UNIT_CHARS: usize = 100;
/// Largest plausible GPS accuracy radius, metres.
pub const MAX_ACCURACY_M: f64 = 10_000.0;

/// Saved size of one document. A fresh case is ~1 KB; one with every text
/// at its limit, 20 photos and 200 steps stays under 64 KB.
pub const MAX_DOC_BYTES: usize = 128 * 1024;
/// Changes in one document's history (each edit, review or step is one).
pub const MAX_DOC_CHANGES: usize = 2_000;
/// Operations in one document's history: every character ever typed into
/// its texts counts (a full 2,000-character description is ~2,000), so this
/// allows several full rewrites while loading the document stays cheap.
pub const MAX_DOC_OPS: usize = 20_000;

/// Hashes in a sync message's `heads`, `need` or one `have.last_sync`.
pub const MAX_MSG_HASHES: usize = 256;
/// `have` summaries in one sync message (Automerge sends one).
pub const MAX_MSG_HAVES: usize = 4;
/// Entries of a `have` Bloom filter (one per change since the last sync).
pub const MAX_BLOOM_ENTRIES: u32 = MAX_DOC_CHANGES as u32;
/// Largest bits-per-entry and probe count of a Bloom filter (Automerge
/// uses 10 and 7).
pub const MAX_BLOOM_PARAM: u32 = 32;
/// Changes in one sync message.
pub const MAX_MSG_CHANGES: usize = MAX_DOC_CHANGES;
/// Operations in one change (a new case with every text full is ~3,500).
pub const MAX_CHANGE_OPS: u64 = 10_000;
/// Operations in all the changes of one sync message.
pub const MAX_MSG_OPS: u64 = MAX_DOC_OPS as u64;
/// Saved bytes of the stored documents one request makes the server load
/// (500 ordinary cases are ~1 MB).
pub const MAX_REQUEST_STORED_BYTES: usize = 4 * 1024 * 1024;
/// Operations in all the sync messages of one request: what one request may
/// make the server apply (a district-day batch of 500 new cases is ~50,000).
/// Devices pack their requests to stay under it.
pub const MAX_REQUEST_OPS: u64 = 100_000;
