//! Photo blobs: bytes as files named by their SHA-256 in a directory beside
//! the database, metadata in SQL.
//!
//! A row never points at a missing file: the bytes go to a temp file in the
//! photo directory, are fsynced, renamed to `<sha256>` (atomic on the same
//! file system), the directory is fsynced so the rename itself survives
//! power loss, and only then is the row inserted. A crash between the rename
//! and the insert leaves a file without a row, which the next `put_photo` of
//! the same bytes simply reuses.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

/// Prefix of in-flight temp files inside the photo directory.
const TMP_PREFIX: &str = ".tmp-";

/// What is known about a photo besides its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeta {
    /// Media type, e.g. `image/jpeg`.
    pub mime: String,
    /// When the photo was taken, Unix ms.
    pub taken_at_ms: i64,
    /// Where it was taken, WGS-84 longitude; set together with `lat`.
    pub lon: Option<f64>,
    /// Where it was taken, WGS-84 latitude; set together with `lon`.
    pub lat: Option<f64>,
}

/// `/a/b/gridpatrol.db` -> `/a/b/gridpatrol.db.photos`.
pub(crate) fn dir_for(db_path: &Path) -> PathBuf {
    let mut name = db_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".photos");
    db_path.with_file_name(name)
}

/// Removes temp files left by a crash mid-write. Only files older than ten
/// minutes go, so a write in flight on another connection is left alone.
pub(crate) fn sweep_temp(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    for e in entries.flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff);
        if stale && e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            // Best effort: a leftover temp file wastes space but is never
            // referenced, so failing to remove it is harmless.
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Checks that `sha` is 64 lowercase hex digits, so it is safe as a file name.
fn check_digest(sha: &str) -> Result<(), StoreError> {
    if sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::BadDigest(sha.to_owned()))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::PhotoIo {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    fn photo_dir(&self) -> Result<&Path, StoreError> {
        self.photo_dir.as_deref().ok_or(StoreError::NoPhotoDir)
    }

    /// Stores a photo and returns its SHA-256 (lowercase hex). Storing the
    /// same bytes again is a no-op that returns the same digest (the first
    /// metadata is kept).
    pub fn put_photo(&mut self, bytes: &[u8], meta: &PhotoMeta) -> Result<String, StoreError> {
        let sha = hex::encode(Sha256::digest(bytes));
        self.write_photo(sha, bytes, meta)
    }

    /// Stores a photo received under the name `expected` (its SHA-256, as
    /// another device or the server claims), refusing with
    /// [`StoreError::DigestMismatch`] bytes that hash to anything else, so
    /// nothing unverified is ever written.
    pub fn put_photo_as(
        &mut self,
        expected: &str,
        bytes: &[u8],
        meta: &PhotoMeta,
    ) -> Result<(), StoreError> {
        check_digest(expected)?;
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != expected {
            return Err(StoreError::DigestMismatch {
                expected: expected.to_string(),
                actual,
            });
        }
        self.write_photo(actual, bytes, meta).map(drop)
    }

    /// Writes the bytes of `sha` (already their digest): file first, then the row.
    fn write_photo(
        &mut self,
        sha: String,
        bytes: &[u8],
        meta: &PhotoMeta,
    ) -> Result<String, StoreError> {
        if bytes.is_empty() {
            return Err(StoreError::Invalid("photo has no bytes".into()));
        }
        if meta.lon.is_some() != meta.lat.is_some() {
            return Err(StoreError::Invalid(
                "photo location needs both lon and lat".into(),
            ));
        }
        let dir = self.photo_dir()?.to_owned();
        if self.has_photo(&sha)? {
            return Ok(sha);
        }
        let final_path = dir.join(&sha);
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&dir)
            .map_err(io_err(&dir))?;
        tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        tmp.persist(&final_path)
            .map_err(|e| io_err(&final_path)(e.error))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))?;

        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO photos (sha256, byte_len, mime, taken_at_ms, lon, lat, stored_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (sha256) DO NOTHING",
        )?
        .execute(params![
            sha,
            bytes.len() as i64,
            meta.mime,
            meta.taken_at_ms,
            meta.lon,
            meta.lat,
            crate::migrate::now_ms(),
        ])?;
        tx.commit()?;
        Ok(sha)
    }

    /// Whether this store can keep photos (an in-memory store cannot).
    pub fn keeps_photos(&self) -> bool {
        self.photo_dir.is_some()
    }

    /// Whether a photo with this digest is stored.
    pub fn has_photo(&self, sha: &str) -> Result<bool, StoreError> {
        check_digest(sha)?;
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)")?
            .query_row([sha], |r| r.get(0))?)
    }

    /// Path of the stored photo file, or `None` if no such photo is stored.
    pub fn photo_path(&self, sha: &str) -> Result<Option<PathBuf>, StoreError> {
        let dir = self.photo_dir()?;
        Ok(self.has_photo(sha)?.then(|| dir.join(sha)))
    }

    /// Metadata and size of a stored photo.
    pub fn photo_meta(&self, sha: &str) -> Result<Option<(PhotoMeta, u64)>, StoreError> {
        check_digest(sha)?;
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT mime, taken_at_ms, lon, lat, byte_len FROM photos WHERE sha256 = ?1",
            )?
            .query_row([sha], |r| {
                Ok((
                    PhotoMeta {
                        mime: r.get(0)?,
                        taken_at_ms: r.get(1)?,
                        lon: r.get(2)?,
                        lat: r.get(3)?,
                    },
                    r.get::<_, i64>(4)? as u64,
                ))
            })
            .optional()?)
    }
}
