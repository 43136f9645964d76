//! The phone's local database: one SQLite file (WAL, foreign keys on) holding
//! the patrol checklist, the inspector's assignment, the case list projection,
//! the Automerge documents as opaque bytes with their heads and sync state, an
//! outbox of local changes for the sync engine, photo metadata (photo bytes
//! live as files named by SHA-256 next to the database), patrol sessions and a
//! small key/value table. The schema comes from the numbered SQL files in
//! `migrations/device/`, embedded at compile time and applied in order at
//! open; a database written by a newer app is refused. Every public write is
//! one transaction: it happens completely or not at all.
#![forbid(unsafe_code)]

mod app;
mod cases;
mod error;
mod meta;
mod migrate;
mod patrol;
mod photos;
mod quarantine;
mod taxonomy;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use app::{CaseQuery, TaskRow, Thumb, TrackPoint};
pub use cases::{
    CaseCursor, CasePage, CaseRow, CaseWrite, DocKind, Document, OutboxEntry, Page, SyncState,
    VerificationWrite,
};
pub use error::StoreError;
pub use meta::{Assignment, META_DEVICE_ACTOR_ID};
pub use migrate::LATEST_SCHEMA_VERSION;
pub use patrol::{PatrolSession, VisitedDay};
pub use photos::PhotoMeta;
pub use quarantine::Quarantined;

/// How hard each commit is pushed to storage.
///
/// Both keep the database consistent after a crash of the app or of the
/// phone; they differ only in what a sudden power loss can cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode (the default and the usual phone
    /// choice): a commit is appended to the WAL without fsync; the WAL is
    /// fsynced at checkpoints. An app crash or kill loses nothing that was
    /// committed (the OS still has the pages); a power loss or kernel panic
    /// may roll back the last few commits, never corrupt the file.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit fsyncs the WAL, so it survives even
    /// power loss, at the price of one flash flush per user action.
    Full,
}

/// An open device store. Reads take `&self`; writes take `&mut self` and are
/// each one transaction.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// `<db file name>.photos` beside the database; `None` for in-memory stores.
    photo_dir: Option<PathBuf>,
    schema_version: u32,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` with
    /// [`Durability::Normal`], applies pending migrations and creates the
    /// photo directory beside it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, Durability::default())
    }

    /// Like [`Store::open`] with an explicit [`Durability`].
    pub fn open_with(path: &Path, durability: Durability) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Refuse a newer database before changing anything in or next to it.
        migrate::refuse_newer(&conn)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal(mode));
        }
        let photo_dir = photos::dir_for(path);
        if !photo_dir.is_dir() {
            // Create it durably: fsync the parent so the directory entry
            // survives power loss before any photo is renamed into it.
            std::fs::create_dir_all(&photo_dir)
                .and_then(|()| match photo_dir.parent() {
                    Some(p) if !p.as_os_str().is_empty() => std::fs::File::open(p)?.sync_all(),
                    _ => Ok(()),
                })
                .map_err(|source| StoreError::PhotoIo {
                    path: photo_dir.clone(),
                    source,
                })?;
        }
        photos::sweep_temp(&photo_dir);
        Store::init(conn, durability, Some(photo_dir))
    }

    /// Opens a fresh store that lives in memory only (tests, previews). It has
    /// no photo directory: photo writes fail with [`StoreError::NoPhotoDir`].
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?, Durability::Normal, None)
    }

    fn init(
        mut conn: Connection,
        durability: Durability,
        photo_dir: Option<PathBuf>,
    ) -> Result<Store, StoreError> {
        // Another connection (the sync engine's) may hold the write lock
        // briefly; wait rather than fail the user's action.
        conn.busy_timeout(Duration::from_secs(5))?;
        // Every fixed statement is prepared once: the default cache (16) is
        // smaller than the set a sync session cycles through.
        conn.set_prepared_statement_cache_capacity(256);
        conn.pragma_update(None, "foreign_keys", true)?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        let schema_version = migrate::migrate(&mut conn)?;
        Ok(Store {
            conn,
            photo_dir,
            schema_version,
        })
    }

    /// The schema version of the open database (after migrations, so always
    /// [`LATEST_SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// Runs SQLite's `integrity_check` and `foreign_key_check`; any finding
    /// is returned as [`StoreError::Corrupt`].
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let findings: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if findings != ["ok"] {
            return Err(StoreError::Corrupt(findings.join("; ")));
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let dangling: Vec<String> = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} row {} has no parent in {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(-1),
                    r.get::<_, String>(2)?
                ))
            })?
            .collect::<Result<_, _>>()?;
        if !dangling.is_empty() {
            return Err(StoreError::Corrupt(dangling.join("; ")));
        }
        Ok(())
    }

    /// Starts the single write transaction of one user action. IMMEDIATE
    /// takes the write lock up front so a second connection can't make the
    /// action fail half-way with SQLITE_BUSY on lock upgrade.
    fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}
