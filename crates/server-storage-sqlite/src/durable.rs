//! Durable acknowledgements by group commit.
//!
//! Commits run with `synchronous=NORMAL`: in WAL mode they reach the WAL file
//! in the page cache, not the disk. Before the server answers "stored", it
//! calls [`Flusher::flush`], which `fdatasync`s the WAL file (every commit
//! before the call is in it; `fsync` works on the inode, whichever
//! descriptor asks). Callers that arrive while a flush runs wait for the
//! next one and share it, so a burst of answers costs one or two disk
//! flushes instead of one per commit, and the connection lock is never held
//! across a flush.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use gridpatrol_server_storage::StoreError;

/// Shares WAL flushes between concurrent callers.
pub(crate) struct Flusher {
    wal: PathBuf,
    rounds: Mutex<Rounds>,
    finished: Condvar,
}

#[derive(Default)]
struct Rounds {
    /// Number of the last flush that began.
    started: u64,
    /// Number of the last flush that ended.
    finished: u64,
    /// A flush is under way.
    running: bool,
    /// The connection's change count that the last good flush covered.
    flushed_changes: u64,
    /// Set by a failed flush: Linux may have dropped the dirty pages, so a
    /// later "successful" fsync would prove nothing.
    failed: Option<String>,
}

impl Flusher {
    /// A flusher of the WAL file of the database at `db`.
    pub(crate) fn new(db: &Path) -> Flusher {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Flusher {
            wal: PathBuf::from(wal),
            rounds: Mutex::new(Rounds::default()),
            finished: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once a flush that began after this call has ended, or at once
    /// when `changes` (the connection's total change count, read after the
    /// caller's writes) is already covered by an earlier flush.
    pub(crate) fn flush(&self, changes: u64) -> Result<(), StoreError> {
        let mut r = self.lock();
        if let Some(e) = &r.failed {
            return Err(failed(e));
        }
        if changes <= r.flushed_changes {
            return Ok(());
        }
        // A flush under way may have begun before our commit: wait for the next.
        let target = r.started + 1;
        loop {
            if let Some(e) = &r.failed {
                return Err(failed(e));
            }
            if r.finished >= target {
                return Ok(());
            }
            if r.running {
                r = self.finished.wait(r).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            r.started += 1;
            r.running = true;
            let round = r.started;
            drop(r);
            let result = sync_data(&self.wal);
            r = self.lock();
            r.running = false;
            r.finished = round;
            match result {
                Ok(()) => r.flushed_changes = r.flushed_changes.max(changes),
                Err(e) => {
                    tracing::error!(error = %e, "flushing the WAL failed; refusing further acknowledgements");
                    r.failed = Some(e);
                }
            }
            self.finished.notify_all();
        }
    }
}

fn failed(e: &str) -> StoreError {
    StoreError::Backend(format!(
        "an earlier flush to disk failed ({e}); restart the server"
    ))
}

fn sync_data(path: &Path) -> Result<(), String> {
    File::open(path)
        .and_then(|f| f.sync_data())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `fsync`s a directory, making the entries created or renamed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Backend(format!("flushing directory {}: {e}", dir.display())))
}
