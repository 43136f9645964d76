//! SQLite backend of the GridPatrol sync server: implements
//! [`gridpatrol_server_storage::ServerStore`] with one SQLite database
//! (`DIR/server.sqlite3`, WAL mode) and photos as files (`DIR/photos/<sha256>`,
//! partial uploads in `DIR/photos/partial/`). The schema comes from the
//! numbered files in `migrations/server/`, embedded at compile time and applied
//! in order on open (`PRAGMA user_version` holds the last applied number).
//!
//! One connection behind a mutex: the server calls the store from
//! `spawn_blocking`, and every call is one short transaction.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::DocKind;
use gridpatrol_server_storage::{
    CaseEvent, CaseQuery, CaseRow, DocIndex, DocWrite, DrawRecord, ManifestPage, ManifestRow,
    PatrolDayRow, PhotoStatus, SampleRow, Scope, ServerStore, SquadRecord, StoreError, StoredDoc,
    TokenRecord, UploadQuota, User, VerificationRow, VerificationSummary,
};
use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

pub mod backup;
mod durable;

/// One numbered migration from `migrations/server/`.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// All migrations in order; append only.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../migrations/server/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_photo_uploads",
        sql: include_str!("../../../migrations/server/0002_photo_uploads.sql"),
    },
    Migration {
        version: 3,
        name: "0003_centre",
        sql: include_str!("../../../migrations/server/0003_centre.sql"),
    },
    Migration {
        version: 4,
        name: "0004_quality",
        sql: include_str!("../../../migrations/server/0004_quality.sql"),
    },
    Migration {
        version: 5,
        name: "0005_epoch",
        sql: include_str!("../../../migrations/server/0005_epoch.sql"),
    },
    Migration {
        version: 6,
        name: "0006_patrol_days",
        sql: include_str!("../../../migrations/server/0006_patrol_days.sql"),
    },
];

/// The schema version this build creates and understands.
pub const LATEST_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "server.sqlite3";

/// The SQLite server store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    photo_dir: PathBuf,
    partial_dir: PathBuf,
    flusher: durable::Flusher,
}

/// Replaces the centre's index rows of one document (see
/// `migrations/server/0003_centre.sql`).
fn write_index_tx(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    ix: &DocIndex,
) -> Result<(), StoreError> {
    if let Some(c) = &ix.case {
        tx.prepare_cached(
            "INSERT INTO case_index (id, state, category, street, supervision_grid, technical_grid,
               reporter, source, reported_at_ms, unit, due_at_ms, lon, lat, review, resubmitted,
               last_event_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, category = excluded.category,
               street = excluded.street, technical_grid = excluded.technical_grid,
               unit = excluded.unit, due_at_ms = excluded.due_at_ms, lon = excluded.lon,
               lat = excluded.lat, review = excluded.review, resubmitted = excluded.resubmitted,
               last_event_at_ms = excluded.last_event_at_ms",
        )
        .map_err(be)?
        .execute(params![
            id,
            c.state,
            c.category,
            c.street,
            ix.supervision_grid.as_deref().unwrap_or(""),
            c.technical_grid,
            ix.reporter.as_deref().unwrap_or(""),
            c.source,
            c.reported_at_ms,
            c.unit,
            c.due_at_ms,
            c.lon,
            c.lat,
            c.review,
            c.resubmitted,
            c.events.iter().map(|e| e.at_ms).max()
        ])
        .map_err(be)?;
        tx.prepare_cached("DELETE FROM case_events WHERE case_id = ?1")
            .map_err(be)?
            .execute([id])
            .map_err(be)?;
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO case_events (case_id, n, action, state, by_user, at_ms, unit, due_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(be)?;
        for (n, e) in c.events.iter().enumerate() {
            ins.execute(params![
                id,
                n as i64,
                e.action,
                e.state,
                e.by,
                e.at_ms,
                e.unit,
                e.due_at_ms
            ])
            .map_err(be)?;
        }
    }
    if let Some(v) = &ix.verification {
        tx.prepare_cached(
            "INSERT INTO verification_index (id, case_id, assignee, kind, due_at_ms, outcome, done_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET assignee = excluded.assignee, kind = excluded.kind,
               due_at_ms = excluded.due_at_ms, outcome = excluded.outcome,
               done_at_ms = excluded.done_at_ms",
        )
        .map_err(be)?
        .execute(params![
            id,
            v.case_id,
            ix.assignee.as_deref().unwrap_or(""),
            v.kind,
            v.due_at_ms,
            v.outcome,
            v.done_at_ms
        ])
        .map_err(be)?;
    }
    Ok(())
}

/// The columns [`case_row`] reads, in its order.
const CASE_COLUMNS: &str = "c.id, c.state, c.category, c.street, c.supervision_grid, c.technical_grid,
    c.reporter, c.source, c.reported_at_ms, c.unit, c.due_at_ms, c.lon, c.lat, c.review, c.resubmitted";

/// A `case_index` row selected as [`CASE_COLUMNS`] (without its events).
fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    let mut c = CaseRow::default();
    read_case_row(r, &mut c)?;
    Ok(c)
}

/// Refills `c` (its events cleared) from a `case_index` row selected as
/// [`CASE_COLUMNS`], reusing its strings' buffers.
fn read_case_row(r: &rusqlite::Row<'_>, c: &mut CaseRow) -> rusqlite::Result<()> {
    read_text(r, 0, &mut c.id)?;
    read_text(r, 4, &mut c.supervision_grid)?;
    read_text(r, 6, &mut c.reporter)?;
    let s = &mut c.summary;
    read_text(r, 1, &mut s.state)?;
    read_text(r, 2, &mut s.category)?;
    read_text(r, 3, &mut s.street)?;
    read_text(r, 5, &mut s.technical_grid)?;
    read_text(r, 7, &mut s.source)?;
    s.reported_at_ms = r.get(8)?;
    read_opt_text(r, 9, &mut s.unit)?;
    s.due_at_ms = r.get(10)?;
    s.lon = r.get(11)?;
    s.lat = r.get(12)?;
    read_opt_text(r, 13, &mut s.review)?;
    s.resubmitted = r.get(14)?;
    s.events.clear();
    Ok(())
}

/// The TEXT column `i` of `r`, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    let v = r.get_ref(i)?;
    v.as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e)))
}

/// The TEXT column `i` of `r` into `dst`, reusing its buffer.
fn read_text(r: &rusqlite::Row<'_>, i: usize, dst: &mut String) -> rusqlite::Result<()> {
    let t = text(r, i)?;
    dst.clear();
    dst.push_str(t);
    Ok(())
}

/// The nullable TEXT column `i` of `r` into `dst`, reusing its buffer.
fn read_opt_text(
    r: &rusqlite::Row<'_>,
    i: usize,
    dst: &mut Option<String>,
) -> rusqlite::Result<()> {
    if r.get_ref(i)? == rusqlite::types::ValueRef::Null {
        *dst = None;
        return Ok(());
    }
    read_text(r, i, dst.get_or_insert_with(String::new))
}

/// States in which a case is with the responsible unit (its deadline runs).
const WITH_UNIT: &str = "('dispatched', 'second_handling', 'investigating')";

/// Prepared statements kept per connection: more than the store's distinct
/// fixed statements.
const STATEMENT_CACHE: usize = 256;

impl SqliteStore {
    /// Accounts whose row matches `cond` (with `arg` as `?1` if it uses it), by id.
    fn users_where(&self, cond: &str, arg: &str) -> Result<Vec<User>, StoreError> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut st = conn
                .prepare_cached(&format!("SELECT id FROM users WHERE {cond} ORDER BY id"))
                .map_err(be)?;
            let params: Vec<&dyn rusqlite::ToSql> = if cond.contains("?1") {
                vec![&arg]
            } else {
                vec![]
            };
            let rows = st.query_map(params.as_slice(), |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.user(&id)? {
                out.push(u);
            }
        }
        Ok(out)
    }
}

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn kind_from(s: &str) -> Result<DocKind, StoreError> {
    DocKind::parse(s).ok_or_else(|| StoreError::Backend(format!("bad stored kind {s:?}")))
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the store under `dir` and migrates it.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        let photo_dir = dir.join("photos");
        let partial_dir = photo_dir.join("partial");
        fs::create_dir_all(&partial_dir)
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", partial_dir.display())))?;
        let mut conn = Connection::open(dir.join(DB_FILE)).map_err(be)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(be)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(be)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(be)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(be)?;
        // Every fixed statement is prepared once: the default cache (16)
        // is smaller than the set a sync session cycles through, so it
        // re-parsed most of them on every request.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        remove_ownerless_partials(&partial_dir);
        // The database, its WAL and the photo directories may be new: make
        // their directory entries durable once, so later flushes of their
        // contents are enough.
        for d in [dir, &photo_dir, &partial_dir] {
            durable::sync_dir(d)?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            photo_dir,
            partial_dir,
            flusher: durable::Flusher::new(&dir.join(DB_FILE)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions
        // roll back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn complete_path(&self, sha: &str) -> PathBuf {
        self.photo_dir.join(sha)
    }

    /// `DIR/photos/partial/<sha256>.<first 32 hex of SHA-256(owner)>`: one
    /// file per (photo, account), whatever the account id's length.
    fn partial_path(&self, sha: &str, owner: &str) -> PathBuf {
        let who = hex::encode(&Sha256::digest(owner.as_bytes())[..16]);
        self.partial_dir.join(format!("{sha}.{who}"))
    }
}

/// Removes partial files of schema version 1 (`partial/<sha256>`, no owner);
/// migration 2 dropped their rows.
fn remove_ownerless_partials(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if name.to_str().is_some_and(|n| !n.contains('.')) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(be)?;
    if found > i64::from(LATEST_SCHEMA_VERSION) {
        return Err(StoreError::Backend(format!(
            "database schema {found} is newer than this build ({LATEST_SCHEMA_VERSION})"
        )));
    }
    for m in MIGRATIONS {
        if i64::from(m.version) <= found {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Backend(format!("migration {}: {e}", m.name)))?;
        tx.prepare_cached("INSERT INTO schema_migrations (version, name, sha256, applied_at_ms) VALUES (?1, ?2, ?3, ?4)").map_err(be)?.execute(params![m.version, m.name, hex::encode(Sha256::digest(m.sql.as_bytes())), now_ms()],
        )
        .map_err(be)?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(be)?;
        tx.commit().map_err(be)?;
    }
    Ok(())
}

/// Declared total of `owner`'s unfinished upload of a photo.
fn upload_total(conn: &Connection, sha256: &str, owner: &str) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT total FROM photo_uploads WHERE sha256 = ?1 AND owner = ?2")
        .map_err(be)?
        .query_row(params![sha256, owner], |r| r.get::<_, i64>(0))
        .optional()
        .map(|t| t.map(to_u64))
        .map_err(be)
}

/// SQL condition (on table alias `d`) and parameters selecting `scope`.
fn scope_sql(scope: &Scope) -> (String, Vec<String>) {
    match scope {
        Scope::All => ("1".into(), vec![]),
        Scope::Nothing => ("0".into(), vec![]),
        Scope::Inspector {
            user_id,
            supervision_grid,
        } => (
            "((d.kind = 'case' AND (d.supervision_grid = ?A OR d.reporter = ?B)) \
             OR (d.kind = 'verification' AND d.assignee = ?B))"
                .into(),
            vec![supervision_grid.clone().unwrap_or_default(), user_id.clone()],
        ),
        Scope::Squad { user_id, squad } => (
            "((d.kind = 'case' AND (d.supervision_grid IN (SELECT supervision_grid FROM squad_grids WHERE squad = ?A) \
                OR d.reporter IN (SELECT id FROM users WHERE squad = ?A))) \
             OR (d.kind = 'verification' AND (d.assignee = ?B OR d.assignee IN (SELECT id FROM users WHERE squad = ?A))))"
                .into(),
            vec![squad.clone(), user_id.clone()],
        ),
    }
}

/// Rewrites the `?A`/`?B` placeholders of [`scope_sql`] to numbered ones after `base` others.
fn number_scope(cond: &str, base: usize) -> String {
    cond.replace("?A", &format!("?{}", base + 1))
        .replace("?B", &format!("?{}", base + 2))
}

fn sha256_file(path: &Path) -> Result<String, StoreError> {
    let mut f = File::open(path).map_err(be)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(be)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl ServerStore for SqliteStore {
    fn upsert_users(&self, users: &[User]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(be)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO users (id, name, role, squad, supervision_grid, password_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                       squad = excluded.squad, supervision_grid = excluded.supervision_grid,
                       password_hash = excluded.password_hash",
                )
                .map_err(be)?;
            for u in users {
                st.execute(params![
                    u.id,
                    u.name,
                    u.role.as_str(),
                    u.squad,
                    u.supervision_grid,
                    u.password_hash
                ])
                .map_err(be)?;
            }
        }
        tx.commit().map_err(be)
    }

    fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn();
        let row = conn
            .prepare_cached("SELECT id, name, role, squad, supervision_grid, password_hash FROM users WHERE id = ?1").map_err(be)?.query_row([id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(be)?;
        row.map(|(id, name, role, squad, grid, hash)| {
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Backend(format!("bad stored role {role:?}")))?;
            Ok(User {
                id,
                name,
                role,
                squad,
                supervision_grid: grid,
                password_hash: hash,
            })
        })
        .transpose()
    }

    fn sample_password_hash(&self) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached("SELECT password_hash FROM users ORDER BY rowid DESC LIMIT 1")
            .map_err(be)?
            .query_row([], |r| r.get(0))
            .optional()
            .map_err(be)
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM users")
            .map_err(be)?
            .query_row([], |r| r.get(0))
            .map_err(be)?;
        Ok(to_u64(n))
    }

    fn upsert_squads(&self, squads: &[SquadRecord]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(be)?;
        for s in squads {
            tx.prepare_cached(
                "INSERT INTO squads (id, name, leader) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, leader = excluded.leader",
            )
            .map_err(be)?
            .execute(params![s.id, s.name, s.leader])
            .map_err(be)?;
            tx.prepare_cached("DELETE FROM squad_grids WHERE squad = ?1")
                .map_err(be)?
                .execute([&s.id])
                .map_err(be)?;
            for g in &s.supervision_grids {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO squad_grids (squad, supervision_grid) VALUES (?1, ?2)",
                )
                .map_err(be)?
                .execute(params![s.id, g])
                .map_err(be)?;
            }
        }
        tx.commit().map_err(be)
    }

    fn squad_of(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT squad FROM users WHERE id = ?1")
            .map_err(be)?
            .query_row([user_id], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map_err(be)?
            .flatten())
    }

    fn squad_of_grid(&self, supervision_grid: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT squad FROM squad_grids WHERE supervision_grid = ?1 ORDER BY squad LIMIT 1",
            )
            .map_err(be)?
            .query_row([supervision_grid], |r| r.get::<_, String>(0))
            .optional()
            .map_err(be)
    }

    fn insert_token(
        &self,
        token_sha256: &[u8; 32],
        user_id: &str,
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("INSERT INTO tokens (token_sha256, user_id, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4)").map_err(be)?.execute(params![&token_sha256[..], user_id, created_at_ms, expires_at_ms],
            )
            .map_err(be)?;
        Ok(())
    }

    fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.conn()
            .prepare_cached("SELECT user_id, expires_at_ms FROM tokens WHERE token_sha256 = ?1")
            .map_err(be)?
            .query_row([&token_sha256[..]], |r| {
                Ok(TokenRecord {
                    user_id: r.get(0)?,
                    expires_at_ms: r.get(1)?,
                })
            })
            .optional()
            .map_err(be)
    }

    fn revoke_token(&self, token_sha256: &[u8; 32]) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM tokens WHERE token_sha256 = ?1")
            .map_err(be)?
            .execute([&token_sha256[..]])
            .map_err(be)?;
        Ok(n > 0)
    }

    fn purge_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM tokens WHERE expires_at_ms < ?1")
            .map_err(be)?
            .execute([now_ms])
            .map_err(be)?;
        Ok(n as u64)
    }

    fn load_docs(&self, ids: &[String]) -> Result<Vec<Option<StoredDoc>>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT kind, bytes, seq, supervision_grid, reporter, assignee FROM docs WHERE id = ?1",
            )
            .map_err(be)?;
        let mut ph = conn
            .prepare_cached("SELECT sha256 FROM doc_photos WHERE doc_id = ?1 ORDER BY sha256")
            .map_err(be)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = st
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })
                .optional()
                .map_err(be)?;
            let Some((kind, bytes, seq, grid, reporter, assignee)) = row else {
                out.push(None);
                continue;
            };
            let photos = ph
                .query_map([id], |r| r.get::<_, String>(0))
                .map_err(be)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(be)?;
            out.push(Some(StoredDoc {
                id: id.clone(),
                kind: kind_from(&kind)?,
                bytes,
                seq: to_u64(seq),
                index: DocIndex {
                    supervision_grid: grid,
                    reporter,
                    assignee,
                    photos,
                    // The centre's index is written, not read back here.
                    case: None,
                    verification: None,
                },
            }));
        }
        Ok(out)
    }

    fn doc_visible(&self, id: &str, scope: &Scope) -> Result<bool, StoreError> {
        let (cond, args) = scope_sql(scope);
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM docs d WHERE d.id = ?1 AND {})",
            number_scope(&cond, 1)
        );
        let conn = self.conn();
        let mut st = conn.prepare_cached(&sql).map_err(be)?;
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&id];
        for a in &args {
            all.push(a);
        }
        st.query_row(all.as_slice(), |r| r.get::<_, bool>(0))
            .map_err(be)
    }

    fn load_sync_states(
        &self,
        device: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT state FROM sync_states WHERE device = ?1 AND doc_id = ?2")
            .map_err(be)?;
        ids.iter()
            .map(|id| {
                st.query_row(params![device, id], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
                    .map_err(be)
            })
            .collect()
    }

    fn prune_sync_devices(
        &self,
        account_prefix: &str,
        keep_device: &str,
        max_devices: usize,
    ) -> Result<u64, StoreError> {
        // Keys of one account lie in [prefix, prefix with its last byte + 1).
        let mut end = account_prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last = last.saturating_add(1);
        }
        let end = String::from_utf8_lossy(&end).into_owned();
        let n = self
            .conn()
            .prepare_cached(
                "DELETE FROM sync_states WHERE device IN (
                     SELECT DISTINCT device FROM sync_states
                     WHERE device >= ?1 AND device < ?2 AND device <> ?3
                     ORDER BY device LIMIT -1 OFFSET ?4)",
            )
            .map_err(be)?
            .execute(params![
                account_prefix,
                end,
                keep_device,
                max_devices.saturating_sub(1) as i64
            ])
            .map_err(be)?;
        Ok(n as u64)
    }

    fn commit_sync(
        &self,
        device: &str,
        writes: &[DocWrite],
        states: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        let mut conflicts = Vec::new();
        for w in writes {
            let seq: Option<i64> = tx
                .prepare_cached("SELECT seq FROM docs WHERE id = ?1")
                .map_err(be)?
                .query_row([&w.id], |r| r.get(0))
                .optional()
                .map_err(be)?;
            if seq.map(to_u64) != w.expected_seq {
                conflicts.push(w.id.clone());
            }
        }
        if !conflicts.is_empty() {
            return Err(StoreError::Conflict(conflicts));
        }
        let mut seq: i64 = tx
            .prepare_cached("SELECT seq FROM change_seq WHERE id = 1")
            .map_err(be)?
            .query_row([], |r| r.get(0))
            .map_err(be)?;
        {
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO docs (id, kind, bytes, heads, seq, supervision_grid, reporter, assignee)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET bytes = excluded.bytes, heads = excluded.heads,
                       seq = excluded.seq, supervision_grid = excluded.supervision_grid,
                       reporter = excluded.reporter, assignee = excluded.assignee",
                )
                .map_err(be)?;
            let mut del_ph = tx
                .prepare_cached("DELETE FROM doc_photos WHERE doc_id = ?1")
                .map_err(be)?;
            let mut ins_ph = tx
                .prepare_cached("INSERT OR IGNORE INTO doc_photos (doc_id, sha256) VALUES (?1, ?2)")
                .map_err(be)?;
            for w in writes {
                seq += 1;
                let heads = serde_json::to_string(&w.heads).map_err(be)?;
                up.execute(params![
                    w.id,
                    w.kind.as_str(),
                    w.bytes,
                    heads,
                    seq,
                    w.index.supervision_grid,
                    w.index.reporter,
                    w.index.assignee
                ])
                .map_err(be)?;
                del_ph.execute([&w.id]).map_err(be)?;
                for p in &w.index.photos {
                    ins_ph.execute(params![w.id, p]).map_err(be)?;
                }
                write_index_tx(&tx, &w.id, &w.index)?;
            }
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO sync_states (device, doc_id, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device, doc_id) DO UPDATE SET state = excluded.state",
                )
                .map_err(be)?;
            for (id, state) in states {
                st.execute(params![device, id, state]).map_err(be)?;
            }
        }
        tx.prepare_cached("UPDATE change_seq SET seq = ?1 WHERE id = 1")
            .map_err(be)?
            .execute([seq])
            .map_err(be)?;
        tx.commit().map_err(be)
    }

    fn manifest(&self, scope: &Scope, cursor: u64, limit: u32) -> Result<ManifestPage, StoreError> {
        let (cond, args) = scope_sql(scope);
        let sql = format!(
            "SELECT d.seq, d.id, d.kind, d.heads FROM docs d WHERE d.seq > ?1 AND {} ORDER BY d.seq LIMIT ?2",
            number_scope(&cond, 2)
        );
        let mut conn = self.conn();
        // One read transaction so the page and the high-water mark agree.
        let tx = conn.transaction().map_err(be)?;
        let top: i64 = tx
            .prepare_cached("SELECT seq FROM change_seq WHERE id = 1")
            .map_err(be)?
            .query_row([], |r| r.get(0))
            .map_err(be)?;
        let cursor_i = i64::try_from(cursor).unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        let mut rows = Vec::new();
        {
            let mut st = tx.prepare_cached(&sql).map_err(be)?;
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&cursor_i, &fetch];
            for a in &args {
                all.push(a);
            }
            let mut q = st.query(all.as_slice()).map_err(be)?;
            while let Some(r) = q.next().map_err(be)? {
                let seq: i64 = r.get(0).map_err(be)?;
                let kind: String = r.get(2).map_err(be)?;
                let heads: String = r.get(3).map_err(be)?;
                rows.push(ManifestRow {
                    seq: to_u64(seq),
                    id: r.get(1).map_err(be)?,
                    kind: kind_from(&kind)?,
                    heads: serde_json::from_str(&heads).map_err(be)?,
                });
            }
        }
        let epoch = epoch_of(&tx)?;
        tx.commit().map_err(be)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let cursor = if more {
            rows.last().map(|r| r.seq).unwrap_or(cursor)
        } else {
            to_u64(top).max(cursor)
        };
        Ok(ManifestPage {
            rows,
            cursor,
            more,
            latest: to_u64(top),
            epoch,
        })
    }

    fn doc_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM docs")
            .map_err(be)?
            .query_row([], |r| r.get(0))
            .map_err(be)?;
        Ok(to_u64(n))
    }

    fn list_cases(&self, q: &CaseQuery) -> Result<Vec<CaseRow>, StoreError> {
        let mut cond = vec!["1 = 1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |cond: &mut Vec<String>, sql: &str, v: rusqlite::types::Value| {
            args.push(v);
            cond.push(sql.replace('?', &format!("?{}", args.len())));
        };
        use rusqlite::types::Value as V;
        if let Some(v) = &q.state {
            arg(&mut cond, "state = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.street {
            arg(&mut cond, "street = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.supervision_grid {
            arg(&mut cond, "supervision_grid = ?", V::Text(v.clone()));
        }
        if let Some(v) = &q.category {
            // A prefix of a hierarchical code: the class and everything under it.
            let escaped = v.replace(['%', '_'], "");
            arg(&mut cond, "category LIKE ?", V::Text(format!("{escaped}%")));
        }
        if let Some(v) = q.from_ms {
            arg(&mut cond, "reported_at_ms >= ?", V::Integer(v));
        }
        if let Some(v) = q.to_ms {
            arg(&mut cond, "reported_at_ms < ?", V::Integer(v));
        }
        if let Some(v) = q.overdue_at_ms {
            arg(&mut cond, "due_at_ms < ?", V::Integer(v));
            cond.push(format!("state IN {WITH_UNIT}"));
        }
        if let Some((at, id)) = &q.after {
            args.push(V::Integer(*at));
            args.push(V::Text(id.clone()));
            let (a, b) = (args.len() - 1, args.len());
            cond.push(format!(
                "(reported_at_ms < ?{a} OR (reported_at_ms = ?{a} AND id < ?{b}))"
            ));
        }
        args.push(V::Integer(i64::from(q.limit)));
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM case_index c WHERE {} ORDER BY reported_at_ms DESC, id DESC LIMIT ?{}",
            cond.join(" AND "),
            args.len()
        );
        let conn = self.conn();
        let mut st = conn.prepare(&sql).map_err(be)?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), case_row)
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn case_verifications(&self, case_id: &str) -> Result<Vec<VerificationRow>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT v.id, v.assignee, v.kind, v.due_at_ms, v.outcome, v.done_at_ms
                 FROM verification_index v JOIN docs d ON d.id = v.id
                 WHERE v.case_id = ?1 ORDER BY d.seq",
            )
            .map_err(be)?;
        let rows = st
            .query_map([case_id], |r| {
                Ok(VerificationRow {
                    id: r.get(0)?,
                    assignee: r.get(1)?,
                    summary: VerificationSummary {
                        case_id: case_id.to_string(),
                        kind: r.get(2)?,
                        due_at_ms: r.get(3)?,
                        outcome: r.get(4)?,
                        done_at_ms: r.get(5)?,
                    },
                })
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn open_verification_counts(&self, users: &[String]) -> Result<Vec<u64>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM verification_index WHERE assignee = ?1 AND outcome IS NULL",
            )
            .map_err(be)?;
        users
            .iter()
            .map(|u| {
                st.query_row([u], |r| r.get::<_, i64>(0))
                    .map(to_u64)
                    .map_err(be)
            })
            .collect()
    }

    fn users_of_grid(&self, grid: &str) -> Result<Vec<User>, StoreError> {
        self.users_where("supervision_grid = ?1", grid)
    }

    fn has_session(&self, user_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tokens WHERE user_id = ?1 AND expires_at_ms > ?2)",
            )
            .map_err(be)?
            .query_row(params![user_id, now_ms], |r| r.get(0))
            .map_err(be)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.users_where("1 = 1", "")
    }

    fn squad_and_centre(&self, squad: Option<&str>) -> Result<Vec<User>, StoreError> {
        match squad {
            Some(sq) => self.users_where("squad = ?1 OR role = 'centre_operator'", sq),
            None => self.users_where("role = 'centre_operator'", ""),
        }
    }

    fn each_quality_case(
        &self,
        reported_from_ms: i64,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&CaseRow),
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        // Two ordered passes, each case with its events in consecutive rows:
        // the cases reported in the range, then older ones active in it.
        // (Ordered along the index each part reads, ending in the rowid so
        // the order is total and SQLite sorts nothing, not even each case's
        // events.)
        let parts = [
            (
                "c.reported_at_ms >= ?1 AND c.reported_at_ms < ?3 AND ?2 = ?2",
                "c.reported_at_ms, c.id, c.rowid",
            ),
            (
                "c.last_event_at_ms >= ?2 AND c.reported_at_ms < ?1 AND ?3 = ?3",
                "c.last_event_at_ms, c.rowid",
            ),
        ];
        // One row refilled for every case, its events taken from `spare`:
        // once the buffers have grown nothing is allocated per row. Each
        // part reads the cases and, in step with them, their events in the
        // same order (one joined query would repeat every case's columns
        // on each of its events' rows).
        let mut case = CaseRow::default();
        let mut spare: Vec<CaseEvent> = Vec::new();
        for (cond, order) in parts {
            let mut cases = conn
                .prepare_cached(&format!(
                    "SELECT {CASE_COLUMNS}, c.rowid FROM case_index c WHERE {cond} ORDER BY {order}"
                ))
                .map_err(be)?;
            let mut events = conn
                .prepare_cached(&format!(
                    "SELECT c.rowid, e.action, e.state, e.by_user, e.at_ms, e.unit, e.due_at_ms
                     FROM case_index c JOIN case_events e ON e.case_id = c.id
                     WHERE {cond} ORDER BY {order}, e.n"
                ))
                .map_err(be)?;
            let args = params![reported_from_ms, from_ms, to_ms];
            let mut cq = cases.query(args).map_err(be)?;
            let mut eq = events.query(args).map_err(be)?;
            eq.advance().map_err(be)?;
            while let Some(r) = cq.next().map_err(be)? {
                spare.append(&mut case.summary.events);
                read_case_row(r, &mut case).map_err(be)?;
                let rowid: i64 = r.get(15).map_err(be)?;
                while let Some(e) = eq.get() {
                    if e.get::<_, i64>(0).map_err(be)? != rowid {
                        break;
                    }
                    let mut ev = spare.pop().unwrap_or_default();
                    read_text(e, 1, &mut ev.action).map_err(be)?;
                    read_text(e, 2, &mut ev.state).map_err(be)?;
                    read_text(e, 3, &mut ev.by).map_err(be)?;
                    ev.at_ms = e.get(4).map_err(be)?;
                    read_opt_text(e, 5, &mut ev.unit).map_err(be)?;
                    ev.due_at_ms = e.get(6).map_err(be)?;
                    case.summary.events.push(ev);
                    eq.advance().map_err(be)?;
                }
                f(&case);
            }
        }
        Ok(())
    }

    fn each_verification_due(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&VerificationRow),
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id, assignee, case_id, kind, due_at_ms, outcome, done_at_ms
                 FROM verification_index WHERE due_at_ms >= ?1 AND due_at_ms < ?2",
            )
            .map_err(be)?;
        let mut q = st.query(params![from_ms, to_ms]).map_err(be)?;
        let mut v = VerificationRow::default();
        while let Some(r) = q.next().map_err(be)? {
            read_text(r, 0, &mut v.id).map_err(be)?;
            read_text(r, 1, &mut v.assignee).map_err(be)?;
            let s = &mut v.summary;
            read_text(r, 2, &mut s.case_id).map_err(be)?;
            read_text(r, 3, &mut s.kind).map_err(be)?;
            s.due_at_ms = r.get(4).map_err(be)?;
            read_opt_text(r, 5, &mut s.outcome).map_err(be)?;
            s.done_at_ms = r.get(6).map_err(be)?;
            f(&v);
        }
        Ok(())
    }

    fn patrol_reports(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT reporter, id FROM case_index
                 WHERE source = 'patrol' AND reported_at_ms >= ?1 AND reported_at_ms < ?2
                 ORDER BY reporter, id",
            )
            .map_err(be)?;
        let rows = st
            .query_map(params![from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn sample_draw(&self, month: &str) -> Result<Option<DrawRecord>, StoreError> {
        self.conn()
            .prepare_cached("SELECT month, seed, rate, min_count, drawn_at_ms FROM quality_draws WHERE month = ?1").map_err(be)?.query_row([month],
                |r| {
                    Ok(DrawRecord {
                        month: r.get(0)?,
                        seed: r.get(1)?,
                        rate: r.get(2)?,
                        min_count: r.get(3)?,
                        drawn_at_ms: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(be)
    }

    fn record_draw(&self, draw: &DrawRecord, samples: &[SampleRow]) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        let added = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO quality_draws (month, seed, rate, min_count, drawn_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(be)?
            .execute(params![
                draw.month,
                draw.seed,
                draw.rate,
                draw.min_count,
                draw.drawn_at_ms
            ])
            .map_err(be)?;
        if added == 0 {
            return Ok(false);
        }
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO quality_samples (month, case_id, inspector, squad) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(be)?;
            for s in samples {
                ins.execute(params![draw.month, s.case_id, s.inspector, s.squad])
                    .map_err(be)?;
            }
        }
        tx.commit().map_err(be)?;
        Ok(true)
    }

    fn samples(&self, month: &str, squad: Option<&str>) -> Result<Vec<SampleRow>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT month, case_id, inspector, squad, wrong, reason, marked_by, marked_at_ms
                 FROM quality_samples WHERE month = ?1 AND (?2 IS NULL OR squad = ?2)
                 ORDER BY inspector, case_id",
            )
            .map_err(be)?;
        let rows = st
            .query_map(params![month, squad], |r| {
                Ok(SampleRow {
                    month: r.get(0)?,
                    case_id: r.get(1)?,
                    inspector: r.get(2)?,
                    squad: r.get(3)?,
                    wrong: r.get(4)?,
                    reason: r.get(5)?,
                    marked_by: r.get(6)?,
                    marked_at_ms: r.get(7)?,
                })
            })
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn record_patrol_day(&self, day: &PatrolDayRow, at_ms: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        let mut added = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO patrol_days
                     (day, inspector, supervision_grid, technical_grid, recorded_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(be)?;
            for code in &day.technical_grids {
                added += st
                    .execute(params![
                        day.day,
                        day.inspector,
                        day.supervision_grid,
                        code,
                        at_ms
                    ])
                    .map_err(be)? as u64;
            }
        }
        tx.commit().map_err(be)?;
        Ok(added)
    }

    fn each_patrol_day(
        &self,
        from_day: &str,
        to_day: &str,
        f: &mut dyn FnMut(&PatrolDayRow),
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT day, inspector, supervision_grid, technical_grid FROM patrol_days
                 WHERE day >= ?1 AND day <= ?2
                 ORDER BY day, inspector, supervision_grid, technical_grid",
            )
            .map_err(be)?;
        let mut rows = st.query(params![from_day, to_day]).map_err(be)?;
        let mut cur: Option<PatrolDayRow> = None;
        while let Some(r) = rows.next().map_err(be)? {
            let (day, inspector, grid, code): (String, String, String, String) = (
                r.get(0).map_err(be)?,
                r.get(1).map_err(be)?,
                r.get(2).map_err(be)?,
                r.get(3).map_err(be)?,
            );
            match &mut cur {
                Some(c)
                    if c.day == day && c.inspector == inspector && c.supervision_grid == grid =>
                {
                    c.technical_grids.push(code)
                }
                _ => {
                    if let Some(done) = cur.take() {
                        f(&done);
                    }
                    cur = Some(PatrolDayRow {
                        day,
                        inspector,
                        supervision_grid: grid,
                        technical_grids: vec![code],
                    });
                }
            }
        }
        if let Some(done) = cur {
            f(&done);
        }
        Ok(())
    }

    fn mark_sample(&self, mark: &SampleRow) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .prepare_cached("UPDATE quality_samples SET wrong = ?3, reason = ?4, marked_by = ?5, marked_at_ms = ?6
                 WHERE month = ?1 AND case_id = ?2").map_err(be)?.execute(params![
                    mark.month,
                    mark.case_id,
                    mark.wrong,
                    mark.reason,
                    mark.marked_by,
                    mark.marked_at_ms
                ],
            )
            .map_err(be)?;
        Ok(n > 0)
    }

    fn apply_postings(
        &self,
        postings: &[(String, Option<String>, Option<String>)],
        leaders: &[(String, String)],
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        let mut changed = 0u64;
        {
            let mut up = tx
                .prepare_cached(
                    "UPDATE users SET squad = ?2, supervision_grid = ?3
                     WHERE id = ?1 AND (squad IS NOT ?2 OR supervision_grid IS NOT ?3)",
                )
                .map_err(be)?;
            for (id, squad, grid) in postings {
                changed += up.execute(params![id, squad, grid]).map_err(be)? as u64;
            }
            let mut lead = tx
                .prepare_cached("UPDATE squads SET leader = ?2 WHERE id = ?1 AND leader IS NOT ?2")
                .map_err(be)?;
            for (squad, leader) in leaders {
                changed += lead.execute(params![squad, leader]).map_err(be)? as u64;
            }
        }
        tx.commit().map_err(be)?;
        Ok(changed)
    }

    fn unindexed_docs(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id FROM docs d WHERE
                   (d.kind = 'case' AND NOT EXISTS (SELECT 1 FROM case_index c WHERE c.id = d.id))
                   OR (d.kind = 'verification'
                       AND NOT EXISTS (SELECT 1 FROM verification_index v WHERE v.id = d.id))
                 LIMIT ?1",
            )
            .map_err(be)?;
        let rows = st.query_map([limit], |r| r.get(0)).map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)
    }

    fn write_index(&self, rows: &[(String, DocIndex)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(be)?;
        for (id, ix) in rows {
            write_index_tx(&tx, id, ix)?;
        }
        tx.commit().map_err(be)
    }

    fn photo_status(&self, sha256: &str) -> Result<PhotoStatus, StoreError> {
        let total: Option<i64> = self
            .conn()
            .prepare_cached("SELECT total FROM photos WHERE sha256 = ?1 AND complete = 1")
            .map_err(be)?
            .query_row([sha256], |r| r.get(0))
            .optional()
            .map_err(be)?;
        Ok(match total {
            None => PhotoStatus::Missing,
            Some(t) => PhotoStatus::Complete { len: to_u64(t) },
        })
    }

    fn photo_upload(&self, sha256: &str, owner: &str) -> Result<PhotoStatus, StoreError> {
        let conn = self.conn();
        let total = upload_total(&conn, sha256, owner)?;
        Ok(match total {
            None => PhotoStatus::Missing,
            Some(total) => PhotoStatus::Partial {
                offset: fs::metadata(self.partial_path(sha256, owner))
                    .map(|m| m.len())
                    .unwrap_or(0),
                total,
            },
        })
    }

    fn photo_append(
        &self,
        sha256: &str,
        owner: &str,
        offset: u64,
        total: u64,
        bytes: &[u8],
        quota: UploadQuota,
        now_ms: i64,
    ) -> Result<PhotoStatus, StoreError> {
        // The connection lock also serialises uploads of the same photo.
        let conn = self.conn();
        let partial = self.partial_path(sha256, owner);
        let existing = upload_total(&conn, sha256, owner)?;
        let held = match existing {
            Some(t) => {
                if t != total {
                    return Err(StoreError::LengthMismatch {
                        expected: t,
                        got: total,
                    });
                }
                fs::metadata(&partial).map(|m| m.len()).unwrap_or(0)
            }
            None => 0,
        };
        if offset != held {
            return Err(StoreError::OffsetMismatch {
                expected: held,
                got: offset,
            });
        }
        let end = offset + bytes.len() as u64;
        if end > total {
            return Err(StoreError::PastEnd { total, got: end });
        }
        if existing.is_none() {
            let (uploads, sum): (i64, i64) = conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM photo_uploads WHERE owner = ?1",
                )
                .map_err(be)?
                .query_row([owner], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(be)?;
            let (uploads, sum) = (to_u64(uploads), to_u64(sum));
            if uploads >= quota.max_uploads || sum.saturating_add(total) > quota.max_bytes {
                return Err(StoreError::QuotaExceeded {
                    uploads,
                    bytes: sum,
                });
            }
            conn.prepare_cached(
                "INSERT INTO photo_uploads (sha256, owner, total, started_at_ms, touched_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .map_err(be)?
            .execute(params![sha256, owner, total as i64, now_ms])
            .map_err(be)?;
        } else {
            conn.prepare_cached(
                "UPDATE photo_uploads SET touched_at_ms = ?3 WHERE sha256 = ?1 AND owner = ?2",
            )
            .map_err(be)?
            .execute(params![sha256, owner, now_ms])
            .map_err(be)?;
        }
        {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&partial)
                .map_err(be)?;
            if offset == 0 {
                f.set_len(0).map_err(be)?;
            }
            f.write_all(bytes).map_err(be)?;
            f.sync_data().map_err(be)?;
        }
        if existing.is_none() {
            // A new partial file: its directory entry must survive too, or
            // the offset this answer reports would vanish with it.
            durable::sync_dir(&self.partial_dir)?;
        }
        if end < total {
            return Ok(PhotoStatus::Partial { offset: end, total });
        }
        let forget_upload = |conn: &Connection| {
            let _ = fs::remove_file(&partial);
            conn.prepare_cached("DELETE FROM photo_uploads WHERE sha256 = ?1 AND owner = ?2")
                .map_err(be)?
                .execute(params![sha256, owner])
                .map_err(be)
        };
        let actual = sha256_file(&partial)?;
        if actual != sha256 {
            forget_upload(&conn)?;
            return Err(StoreError::HashMismatch {
                expected: sha256.to_string(),
                actual,
            });
        }
        let stored: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1 AND complete = 1)",
            )
            .map_err(be)?
            .query_row([sha256], |r| r.get(0))
            .map_err(be)?;
        if stored {
            forget_upload(&conn)?;
        } else {
            fs::rename(&partial, self.complete_path(sha256)).map_err(be)?;
            // File data (synced above), then its name, then the row.
            durable::sync_dir(&self.photo_dir)?;
            forget_upload(&conn)?;
            conn.prepare_cached(
                "INSERT INTO photos (sha256, total, complete) VALUES (?1, ?2, 1)
                 ON CONFLICT (sha256) DO UPDATE SET total = excluded.total, complete = 1",
            )
            .map_err(be)?
            .execute(params![sha256, total as i64])
            .map_err(be)?;
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO photo_uploaders (sha256, user_id) VALUES (?1, ?2)",
        )
        .map_err(be)?
        .execute(params![sha256, owner])
        .map_err(be)?;
        Ok(PhotoStatus::Complete { len: total })
    }

    fn purge_stale_uploads(&self, before_ms: i64) -> Result<u64, StoreError> {
        let conn = self.conn();
        let stale: Vec<(String, String)> = conn
            .prepare_cached("SELECT sha256, owner FROM photo_uploads WHERE touched_at_ms < ?1")
            .map_err(be)?
            .query_map([before_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(be)?
            .collect::<Result<_, _>>()
            .map_err(be)?;
        for (sha, owner) in &stale {
            let _ = fs::remove_file(self.partial_path(sha, owner));
        }
        conn.prepare_cached("DELETE FROM photo_uploads WHERE touched_at_ms < ?1")
            .map_err(be)?
            .execute([before_ms])
            .map_err(be)?;
        Ok(stale.len() as u64)
    }

    fn photo_read(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.photo_status(sha256)? {
            PhotoStatus::Complete { .. } => {
                fs::read(self.complete_path(sha256)).map(Some).map_err(be)
            }
            _ => Ok(None),
        }
    }

    fn photo_visible(
        &self,
        sha256: &str,
        user_id: &str,
        scope: &Scope,
    ) -> Result<bool, StoreError> {
        let (cond, args) = scope_sql(scope);
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM photo_uploaders WHERE sha256 = ?1 AND user_id = ?2)
                 OR EXISTS (SELECT 1 FROM doc_photos p JOIN docs d ON d.id = p.doc_id WHERE p.sha256 = ?1 AND {})",
            number_scope(&cond, 2)
        );
        let conn = self.conn();
        let mut st = conn.prepare_cached(&sql).map_err(be)?;
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&sha256, &user_id];
        for a in &args {
            all.push(a);
        }
        st.query_row(all.as_slice(), |r| r.get::<_, bool>(0))
            .map_err(be)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let changes = self.conn().total_changes();
        self.flusher.flush(changes)
    }

    fn epoch(&self) -> Result<String, StoreError> {
        epoch_of(&self.conn())
    }

    fn renew_epoch(&self) -> Result<String, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "UPDATE server_meta SET value = lower(hex(randomblob(16))) WHERE key = 'epoch'",
        )
        .map_err(be)?
        .execute([])
        .map_err(be)?;
        epoch_of(&conn)
    }
}

/// The stored epoch (migration 5 writes the first one).
fn epoch_of(conn: &Connection) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT value FROM server_meta WHERE key = 'epoch'")
        .map_err(be)?
        .query_row([], |r| r.get(0))
        .map_err(be)
}
