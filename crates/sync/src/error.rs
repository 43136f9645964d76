//! Errors of the sync engine, split into transient (retry later) and final.

use gridpatrol_docs::DocError;
use gridpatrol_store::StoreError;
use thiserror::Error;

/// Why a sync (or a local edit) failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The connection failed or was cut (no answer, or half an answer).
    #[error("network: {0}")]
    Network(String),
    /// The server answered with an error status.
    #[error("server answered {status} {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Stable error code from the body (or `http_<status>` if none).
        code: String,
        /// Human text from the body.
        message: String,
    },
    /// The server's answer could not be understood.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The device store failed; nothing half-written was kept.
    #[error("device store: {0}")]
    Store(#[from] StoreError),
    /// A document could not be built, read or merged.
    #[error("document {id}: {source}")]
    Doc {
        /// Document id.
        id: String,
        /// What went wrong (boxed: Automerge errors are large).
        source: Box<DocError>,
    },
    /// Automerge refused a sync message or saved bytes.
    #[error("document {id}: {message}")]
    Automerge {
        /// Document id.
        id: String,
        /// Automerge's explanation.
        message: String,
    },
    /// The request cannot be made as configured (bad server URL, no such case…).
    #[error("{0}")]
    Invalid(String),
    /// Every retry failed; the last error says why.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<SyncError>,
    },
    /// The server no longer accepts this device's token and the engine
    /// holds no password to get another: the user must sign in again.
    #[error("the session has ended; sign in again")]
    SessionEnded,
}

impl SyncError {
    /// True for failures worth retrying after a pause: network trouble, a
    /// server error (5xx), rate limiting, or an expired session.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Network(_) => true,
            SyncError::Server { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    // A session that ran out is renewed by logging in again;
                    // a wrong password stays wrong.
                    || (*status == 401 && code != gridpatrol_protocol::codes::BAD_CREDENTIALS)
            }
            _ => false,
        }
    }
}
