//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the device store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file was written by a newer app; opening it could damage it.
    #[error(
        "the database has schema version {found} but this app only knows up to {supported}; \
         update the app (the database was left untouched)"
    )]
    TooNew {
        /// Version found in the file.
        found: u32,
        /// Newest version this build can handle.
        supported: u32,
    },
    /// A migration that was already applied to this database has different
    /// text in this build: released migrations must never be edited.
    #[error(
        "migration {version} ({name}) differs from the one applied to this database; \
         released migrations must not be edited"
    )]
    MigrationEdited {
        /// Version number of the migration.
        version: u32,
        /// File name stem of the migration.
        name: String,
    },
    /// SQLite refused to switch the file to write-ahead logging.
    #[error("could not enable WAL journal mode (SQLite kept {0:?})")]
    NoWal(String),
    /// `integrity_check` or `foreign_key_check` reported problems.
    #[error("database integrity check failed: {0}")]
    Corrupt(String),
    /// An error from SQLite (constraint violations included); the action's
    /// transaction was rolled back.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing a photo file failed.
    #[error("photo storage {path}: {source}")]
    PhotoIo {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Photos need a directory; an in-memory store has none.
    #[error("this store is in memory and has no photo directory")]
    NoPhotoDir,
    /// A photo key that is not 64 lowercase hex digits.
    #[error("not a SHA-256 digest (64 lowercase hex digits): {0:?}")]
    BadDigest(String),
    /// Photo bytes that do not hash to the digest they were stored under;
    /// nothing was written.
    #[error("photo bytes hash to {actual}, not {expected}")]
    DigestMismatch {
        /// The digest the bytes were meant to have.
        expected: String,
        /// What they hash to.
        actual: String,
    },
    /// Input rejected before touching the database.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A document id is already used by a document of another kind or case.
    #[error("document id {0:?} is already used by a different kind of document or case")]
    IdCollision(String),
    /// No document with that id.
    #[error("no document with id {0:?}")]
    DocumentNotFound(String),
    /// No patrol session with that id.
    #[error("no patrol session with id {0}")]
    PatrolNotFound(i64),
    /// The patrol session has already ended.
    #[error("patrol session {0} has already ended")]
    PatrolAlreadyEnded(i64),
    /// The inspector already has a patrol open.
    #[error("inspector {inspector_id} already has patrol session {open_id} open")]
    PatrolAlreadyOpen {
        /// Inspector whose patrol is open.
        inspector_id: String,
        /// The open session.
        open_id: i64,
    },
    /// A stored value could not be read back (e.g. an unknown role string).
    #[error("unreadable stored value: {0}")]
    BadStoredValue(String),
}
