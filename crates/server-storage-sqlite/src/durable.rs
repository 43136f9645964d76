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
    db: PathBuf,
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
            db: db.to_path_buf(),
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
                // That flush began after our commit: it covers `changes`.
                r.flushed_changes = r.flushed_changes.max(changes);
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
            let result = sync_data(&self.wal, &self.db);
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

/// Flushes the WAL; with no WAL file (SQLite removes it only after
/// copying every frame into the database, which it flushes), the database.
fn sync_data(wal: &Path, db: &Path) -> Result<(), String> {
    let flush = |p: &Path| {
        File::open(p)
            .and_then(|f| f.sync_data())
            .map_err(|e| (e.kind(), format!("{}: {e}", p.display())))
    };
    match flush(wal) {
        Err((std::io::ErrorKind::NotFound, _)) => flush(db).map_err(|(_, e)| e),
        r => r.map_err(|(_, e)| e),
    }
}

/// `fsync`s a directory, making the entries created or renamed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Backend(format!("flushing directory {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_the_wal_or_else_the_database_and_stops_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.sqlite3");
        let f = Flusher::new(&db);
        // Nothing written since the start: nothing to flush, even with no files.
        f.flush(0).unwrap();
        // No WAL (fully checkpointed): the database file is flushed.
        std::fs::write(&db, b"db").unwrap();
        f.flush(1).unwrap();
        std::fs::write(dir.path().join("server.sqlite3-wal"), b"wal").unwrap();
        f.flush(2).unwrap();
        // Covered already: no new flush needed.
        f.flush(2).unwrap();
        // A failed flush (here: nothing to flush into) refuses every later one.
        std::fs::remove_file(&db).unwrap();
        std::fs::remove_file(dir.path().join("server.sqlite3-wal")).unwrap();
        assert!(f.flush(3).is_err());
        std::fs::write(&db, b"db").unwrap();
        let e = f.flush(4).unwrap_err().to_string();
        assert!(e.contains("restart the server"), "{e}");
    }

    #[test]
    fn concurrent_callers_all_return_after_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.sqlite3");
        std::fs::write(&db, b"db").unwrap();
        std::fs::write(dir.path().join("server.sqlite3-wal"), b"wal").unwrap();
        let f = std::sync::Arc::new(Flusher::new(&db));
        let threads: Vec<_> = (1..=16u64)
            .map(|n| {
                let f = f.clone();
                std::thread::spawn(move || f.flush(n))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let r = f.lock();
        assert!(!r.running && r.finished == r.started && r.started >= 1);
        assert!(r.started <= 16, "at most one flush per caller");
        assert_eq!(r.flushed_changes, 16);
    }
}
