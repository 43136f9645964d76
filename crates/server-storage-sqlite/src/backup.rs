//! Online backup and restore of a server data directory.
//!
//! A backup is one tar file: `server.sqlite3` (a consistent copy taken with
//! SQLite's online backup API while the server keeps writing), then
//! `photos/<sha256>` for every complete photo that copy refers to, then
//! `manifest.json` (counts and checksums of everything before it). Photos
//! are never deleted or changed once complete, so the ones the copied
//! database lists are all still on disk after the copy.
//!
//! A restore reads the whole file into a staging directory beside the
//! target, checks every checksum against the manifest, gives the restored
//! store a new epoch (so devices notice and send again what it lacks) and
//! only then moves it into place. It refuses a directory a server holds.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{SqliteStore, DB_FILE, LATEST_SCHEMA_VERSION};
use gridpatrol_server_storage::ServerStore;

/// Version of the backup file layout.
pub const FORMAT: u32 = 1;
/// Name of the lock file a running server holds in its data directory.
pub const LOCK_FILE: &str = "server.lock";
const MANIFEST: &str = "manifest.json";

/// Why a backup or restore failed. Nothing at the target is changed then.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        source: io::Error,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] gridpatrol_server_storage::StoreError),
    /// The data directory is held by a running server.
    #[error("{0} is in use by a running server (it holds {LOCK_FILE}); stop it first")]
    Live(PathBuf),
    /// The target already holds a server's data.
    #[error("{0} already holds server data; pass --replace to move it aside and restore")]
    NotEmpty(PathBuf),
    /// The directory has no server database.
    #[error("no server database in {0}")]
    NoDatabase(PathBuf),
    /// The backup file is damaged or not a backup.
    #[error("the backup is damaged or not a GridPatrol backup: {0}")]
    Damaged(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// When the database copy was taken (ms since epoch, UTC).
    pub created_at_ms: i64,
    /// Epoch of the server the copy was taken from.
    pub epoch: String,
    /// Schema version of the copied database.
    pub schema_version: u32,
    /// Counts of what the copied database holds.
    pub counts: Counts,
    /// SHA-256 (hex) and length of `server.sqlite3` in the file.
    pub database: FileSum,
    /// Every photo in the file: SHA-256 (its name) → length.
    pub photos: BTreeMap<String, u64>,
    /// Photos the database lists but that were missing or damaged on the
    /// server's disk (not in the file); empty on a healthy server.
    pub unreadable_photos: Vec<String>,
}

/// Counts of a store's contents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Accounts.
    pub users: u64,
    /// Case documents.
    pub cases: u64,
    /// Verification documents.
    pub verifications: u64,
    /// Complete photos.
    pub photos: u64,
}

/// Checksum and length of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub bytes: u64,
}

/// How far a backup or restore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Copying the database: bytes done of total.
    Database {
        /// Bytes copied.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Copying photos: bytes done of total.
    Photos {
        /// Bytes copied.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
}

/// What a restore put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The backup's manifest (all of it checked).
    pub manifest: Manifest,
    /// The restored store's new epoch.
    pub epoch: String,
    /// Where the directory's earlier contents were moved (`--replace`).
    pub moved_aside: Option<PathBuf>,
}

/// Holds a data directory for a running server: an exclusive lock on
/// `DIR/server.lock`, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the lock of a running server on `dir`; fails with
/// [`BackupError::Live`] when another process holds it.
pub fn lock_data_dir(dir: &Path) -> Result<DirLock, BackupError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(BackupError::Live(dir.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => Err(io_err(format!("locking {}", path.display()))(e)),
    }
}

/// Reads through `inner`, hashing what passes.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hash.update(&buf[..k]);
        self.bytes += k as u64;
        Ok(k)
    }
}

fn counts(conn: &Connection) -> Result<Counts, BackupError> {
    let one = |sql: &str| -> Result<u64, BackupError> {
        Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
    };
    Ok(Counts {
        users: one("SELECT COUNT(*) FROM users")?,
        cases: one("SELECT COUNT(*) FROM docs WHERE kind = 'case'")?,
        verifications: one("SELECT COUNT(*) FROM docs WHERE kind = 'verification'")?,
        photos: one("SELECT COUNT(*) FROM photos WHERE complete = 1")?,
    })
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    crate::durable::sync_dir(dir).map_err(BackupError::Store)
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A sibling path of `p` with `suffix` appended to its file name.
fn sibling(p: &Path, suffix: &str) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    parent_of(p).join(name)
}

/// Takes a consistent backup of the server data in `data` (running or not)
/// into `out`, written whole and flushed before it takes that name.
pub fn backup(
    data: &Path,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Manifest, BackupError> {
    let db_path = data.join(DB_FILE);
    if !db_path.is_file() {
        return Err(BackupError::NoDatabase(data.to_path_buf()));
    }
    let staging = sibling(out, &format!(".part-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(io_err(format!("creating {}", staging.display())))?;
    let result = backup_via(data, &db_path, &staging, out, progress);
    let _ = fs::remove_dir_all(&staging);
    result
}

fn backup_via(
    data: &Path,
    db_path: &Path,
    staging: &Path,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Manifest, BackupError> {
    // 1. The database: one step copies every page inside one read
    //    transaction, so the server's writes (WAL) never restart it.
    let copy_path = staging.join(DB_FILE);
    {
        let src = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        src.busy_timeout(std::time::Duration::from_secs(30))?;
        let total: i64 = src.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        progress(Progress::Database {
            done: 0,
            total: total.max(0) as u64,
        });
        let mut dst = Connection::open(&copy_path)?;
        {
            let b = Backup::new(&src, &mut dst)?;
            loop {
                match b.step(-1)? {
                    StepResult::Done => break,
                    // Busy/locked: another connection holds a write lock on
                    // a rollback journal; wait and try again.
                    _ => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
        }
        progress(Progress::Database {
            done: total.max(0) as u64,
            total: total.max(0) as u64,
        });
        // A self-contained file: no WAL beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
    }
    let snap = Connection::open(&copy_path)?;
    let schema_version: i64 = snap.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let epoch: String = snap
        .query_row(
            "SELECT value FROM server_meta WHERE key = 'epoch'",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    let counts = counts(&snap)?;
    let listed: Vec<(String, i64)> = snap
        .prepare("SELECT sha256, total FROM photos WHERE complete = 1 ORDER BY sha256")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    drop(snap);
    let created_at_ms = crate::now_ms();
    let db_sha = crate::sha256_file(&copy_path)?;
    let db_bytes = fs::metadata(&copy_path)
        .map_err(io_err("reading the database copy"))?
        .len();

    // 2. The file: database, photos (hashed as they are copied), manifest.
    let tmp_out = sibling(out, ".tmp");
    let file = File::create(&tmp_out).map_err(io_err(format!("creating {}", tmp_out.display())))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    let add = |tar: &mut tar::Builder<BufWriter<File>>,
               name: &str,
               len: u64,
               r: &mut dyn Read|
     -> Result<(), BackupError> {
        let mut h = tar::Header::new_gnu();
        h.set_size(len);
        h.set_mode(0o600);
        h.set_mtime((created_at_ms / 1000).max(0) as u64);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, r)
            .map_err(io_err(format!("writing {name}")))
    };
    let mut db = File::open(&copy_path).map_err(io_err("reading the database copy"))?;
    add(&mut tar, DB_FILE, db_bytes, &mut db)?;
    let photo_dir = data.join("photos");
    let total: u64 = listed.iter().map(|(_, n)| (*n).max(0) as u64).sum();
    let mut done = 0u64;
    let mut photos = BTreeMap::new();
    let mut unreadable = Vec::new();
    progress(Progress::Photos { done, total });
    for (sha, len) in listed {
        let len = len.max(0) as u64;
        done += len;
        let path = photo_dir.join(&sha);
        let on_disk = fs::metadata(&path).map(|m| m.len()).ok();
        if on_disk != Some(len) {
            tracing::warn!(photo = %sha, "photo missing or of the wrong length on disk; not backed up");
            unreadable.push(sha);
            continue;
        }
        let f = File::open(&path).map_err(io_err(format!("reading photo {sha}")))?;
        let mut r = Hashing {
            inner: f.take(len),
            hash: Sha256::new(),
            bytes: 0,
        };
        add(&mut tar, &format!("photos/{sha}"), len, &mut r)?;
        if hex::encode(r.hash.finalize()) != sha {
            // Written already; the manifest leaves it out, so a restore
            // drops it rather than serving damaged evidence.
            tracing::warn!(photo = %sha, "photo on disk does not match its hash; not backed up");
            unreadable.push(sha);
        } else {
            photos.insert(sha, len);
        }
        progress(Progress::Photos { done, total });
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at_ms,
        epoch,
        schema_version: schema_version.max(0) as u32,
        counts,
        database: FileSum {
            sha256: db_sha,
            bytes: db_bytes,
        },
        photos,
        unreadable_photos: unreadable,
    };
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Damaged(e.to_string()))?;
    add(&mut tar, MANIFEST, json.len() as u64, &mut json.as_slice())?;
    let file = tar
        .into_inner()
        .map_err(io_err("finishing the backup file"))?
        .into_inner()
        .map_err(|e| io_err("finishing the backup file")(e.into_error()))?;
    file.sync_all()
        .map_err(io_err("flushing the backup file"))?;
    drop(file);
    fs::rename(&tmp_out, out).map_err(io_err(format!("naming {}", out.display())))?;
    sync_dir(&parent_of(out))?;
    Ok(manifest)
}

/// Whether `dir` holds anything a restore would replace.
fn holds_data(dir: &Path) -> Result<bool, BackupError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(format!("reading {}", dir.display()))(e)),
    }
}

/// Restores the backup `file` into `data`. Refuses a directory held by a
/// running server, and one that holds anything unless `replace` (its
/// contents are then moved aside to `DATA.replaced-<ms>`, not deleted).
pub fn restore(
    file: &Path,
    data: &Path,
    replace: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Restored, BackupError> {
    if data.join(LOCK_FILE).exists() {
        // Held while we look: no server can start on it meanwhile.
        let _held = lock_data_dir(data)?;
    }
    if holds_data(data)? && !replace {
        return Err(BackupError::NotEmpty(data.to_path_buf()));
    }
    let staging = sibling(data, &format!(".restoring-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(staging.join("photos").join("partial"))
        .map_err(io_err(format!("creating {}", staging.display())))?;
    let result = unpack_and_check(file, &staging, progress);
    let (manifest, epoch) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Move into place: the old contents aside first (a server may have
    // started meanwhile: take its lock to be sure it has not).
    let mut moved_aside = None;
    if data.exists() {
        let lock = if data.join(LOCK_FILE).exists() {
            Some(lock_data_dir(data).inspect_err(|_| {
                let _ = fs::remove_dir_all(&staging);
            })?)
        } else {
            None
        };
        if holds_data(data)? {
            let aside = sibling(data, &format!(".replaced-{}", crate::now_ms()));
            fs::rename(data, &aside).map_err(io_err(format!("moving {} aside", data.display())))?;
            moved_aside = Some(aside);
        } else {
            drop(lock);
            fs::remove_dir(data).map_err(io_err(format!("replacing {}", data.display())))?;
        }
    }
    fs::rename(&staging, data)
        .map_err(io_err(format!("moving the restore to {}", data.display())))?;
    sync_dir(&parent_of(data))?;
    Ok(Restored {
        manifest,
        epoch,
        moved_aside,
    })
}

fn unpack_and_check(
    file: &Path,
    staging: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Manifest, String), BackupError> {
    let f = File::open(file).map_err(io_err(format!("opening {}", file.display())))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut archive = tar::Archive::new(f);
    let mut db: Option<FileSum> = None;
    let mut photos: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let mut done = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| BackupError::Damaged(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| BackupError::Damaged(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| BackupError::Damaged(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let len = entry.size();
        // Only the names a backup writes; never a path from the file.
        let target = if name == DB_FILE {
            staging.join(DB_FILE)
        } else if name == MANIFEST {
            if len > 64 << 20 {
                return Err(BackupError::Damaged("manifest too large".into()));
            }
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| BackupError::Damaged(e.to_string()))?;
            manifest = Some(
                serde_json::from_slice(&buf)
                    .map_err(|e| BackupError::Damaged(format!("manifest: {e}")))?,
            );
            continue;
        } else if let Some(sha) = name.strip_prefix("photos/") {
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(BackupError::Damaged(format!("unexpected entry {name:?}")));
            }
            staging.join("photos").join(sha)
        } else {
            return Err(BackupError::Damaged(format!("unexpected entry {name:?}")));
        };
        let out = File::create(&target).map_err(io_err(format!("writing {}", target.display())))?;
        let mut r = Hashing {
            inner: &mut entry,
            hash: Sha256::new(),
            bytes: 0,
        };
        let mut w = BufWriter::new(out);
        io::copy(&mut r, &mut w).map_err(|e| BackupError::Damaged(format!("{name}: {e}")))?;
        let out = w
            .into_inner()
            .map_err(|e| io_err(format!("writing {}", target.display()))(e.into_error()))?;
        out.sync_all()
            .map_err(io_err(format!("flushing {}", target.display())))?;
        let sum = FileSum {
            sha256: hex::encode(r.hash.finalize()),
            bytes: r.bytes,
        };
        done += r.bytes;
        progress(Progress::Photos { done, total: size });
        if name == DB_FILE {
            db = Some(sum);
        } else {
            photos.insert(name["photos/".len()..].to_string(), (sum.sha256, sum.bytes));
        }
    }
    let manifest =
        manifest.ok_or_else(|| BackupError::Damaged("no manifest (file cut short?)".into()))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Damaged(format!(
            "backup format {} (this build reads {FORMAT})",
            manifest.format
        )));
    }
    if manifest.schema_version > LATEST_SCHEMA_VERSION {
        return Err(BackupError::Damaged(format!(
            "database schema {} is newer than this build ({LATEST_SCHEMA_VERSION})",
            manifest.schema_version
        )));
    }
    if db.as_ref() != Some(&manifest.database) {
        return Err(BackupError::Damaged(
            "the database does not match its checksum".into(),
        ));
    }
    for (sha, len) in &manifest.photos {
        match photos.get(sha) {
            Some((actual, n)) if actual == sha && n == len => {}
            Some(_) => {
                return Err(BackupError::Damaged(format!(
                    "photo {sha} does not match its checksum"
                )))
            }
            None => return Err(BackupError::Damaged(format!("photo {sha} is missing"))),
        }
    }
    // Photos in the file but not in the manifest were damaged at backup time.
    for sha in photos.keys().filter(|s| !manifest.photos.contains_key(*s)) {
        let _ = fs::remove_file(staging.join("photos").join(sha));
    }
    let store = SqliteStore::open(staging)?;
    let got = counts(&store.conn())?;
    if got != manifest.counts {
        return Err(BackupError::Damaged(format!(
            "the restored database holds {got:?}, the manifest says {:?}",
            manifest.counts
        )));
    }
    // Damaged photos at backup time are not served as complete.
    for sha in &manifest.unreadable_photos {
        store
            .conn()
            .execute("UPDATE photos SET complete = 0 WHERE sha256 = ?1", [sha])?;
    }
    let epoch = store.renew_epoch()?;
    drop(store);
    for d in [staging.join("photos"), staging.to_path_buf()] {
        sync_dir(&d)?;
    }
    Ok((manifest, epoch))
}
