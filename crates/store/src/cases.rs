//! Cases: the list projection, the Automerge documents behind them, their
//! sync state and the outbox of local changes.

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// Length of one Automerge change hash.
const HASH_LEN: usize = 32;

/// A local write of a case: the list projection plus the whole Automerge case
/// document it was derived from. Text fields are stored as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseWrite {
    /// Case id (also the id of its case document).
    pub id: String,
    /// Fine-class code from the taxonomy. Not a foreign key: a case synced
    /// from the server may use a class this device's checklist lacks.
    pub category_code: String,
    /// Lifecycle status id, as the domain's lifecycle names it.
    pub status: String,
    /// One-line title shown in lists.
    pub title: String,
    /// Short description shown under the title.
    pub summary: String,
    /// 15-digit technical grid code of the location.
    pub technical_grid: String,
    /// Supervision grid the location belongs to.
    pub supervision_grid: String,
    /// Longitude, WGS-84 degrees.
    pub lon: f64,
    /// Latitude, WGS-84 degrees.
    pub lat: f64,
    /// When the case was created, Unix ms.
    pub created_at_ms: i64,
    /// When the case last changed, Unix ms; orders the list.
    pub updated_at_ms: i64,
    /// The saved Automerge document.
    pub doc_bytes: Vec<u8>,
    /// The document's heads (change hashes).
    pub doc_heads: Vec<[u8; 32]>,
    /// Reporter's account id.
    pub reporter: String,
    /// The leader's verdict (`approved`, `rejected`, `needs_fix`), if any.
    pub review: Option<String>,
    /// Corrected by the reporter since the leader's review.
    pub resubmitted: bool,
    /// Photos attached to the report.
    pub photo_count: u32,
}

/// A local write of a verification (re-check on site) document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationWrite {
    /// Document id.
    pub id: String,
    /// The case being verified; must already be stored.
    pub case_id: String,
    /// The saved Automerge document.
    pub doc_bytes: Vec<u8>,
    /// The document's heads.
    pub doc_heads: Vec<[u8; 32]>,
    /// Time of this write, Unix ms.
    pub updated_at_ms: i64,
    /// The inspector sent.
    pub assignee: String,
    /// Kind of check (`handling_check`, `complaint_check`).
    pub task_kind: String,
    /// Deadline, Unix ms.
    pub due_at_ms: i64,
    /// `pass` / `fail` once the assignee recorded a result.
    pub outcome: Option<String>,
}

/// One row of the case list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRow {
    /// Case id.
    pub id: String,
    /// Fine-class code.
    pub category_code: String,
    /// Lifecycle status id.
    pub status: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Technical grid code.
    pub technical_grid: String,
    /// Supervision grid code.
    pub supervision_grid: String,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// Latitude, WGS-84.
    pub lat: f64,
    /// Created, Unix ms.
    pub created_at_ms: i64,
    /// Last changed, Unix ms.
    pub updated_at_ms: i64,
    /// Reporter's account id.
    pub reporter: String,
    /// The leader's verdict, if any.
    pub review: Option<String>,
    /// Corrected by the reporter since the leader's review.
    pub resubmitted: bool,
    /// Photos attached to the report.
    pub photo_count: u32,
}

/// Position after the last row of a page; pass it back to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCursor {
    /// `updated_at_ms` of the last row seen.
    pub updated_at_ms: i64,
    /// `id` of the last row seen.
    pub id: String,
}

/// A page request for [`Store::list_cases`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Maximum rows to return (1..=1000).
    pub limit: u32,
    /// Continue after this row; `None` for the first page.
    pub after: Option<CaseCursor>,
}

/// One page of cases, newest change first.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// The rows.
    pub items: Vec<CaseRow>,
    /// Cursor for the next page; `None` when this page is the last.
    pub next: Option<CaseCursor>,
}

/// Which kind of Automerge document a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A case document (id = case id).
    Case,
    /// A verification document attached to a case.
    Verification,
}

impl DocKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DocKind::Case => "case",
            DocKind::Verification => "verification",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<DocKind, StoreError> {
        match s {
            "case" => Ok(DocKind::Case),
            "verification" => Ok(DocKind::Verification),
            other => Err(StoreError::BadStoredValue(format!(
                "document kind {other:?}"
            ))),
        }
    }
}

/// Where a document stands with the server. Every local write resets it to
/// `LocalOnly`; the sync engine moves it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SyncState {
    /// Has changes the server has not seen.
    LocalOnly,
    /// Being sent.
    Syncing,
    /// The server has everything this device has.
    Synced,
    /// The server refused the changes, for the stated reason.
    Refused {
        /// Server's reason, shown to the inspector.
        reason: String,
    },
}

/// A stored Automerge document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Document id.
    pub id: String,
    /// Case or verification.
    pub kind: DocKind,
    /// Case it belongs to (its own id for a case document).
    pub case_id: String,
    /// The saved Automerge bytes.
    pub bytes: Vec<u8>,
    /// Heads at the last write.
    pub heads: Vec<[u8; 32]>,
    /// Time of the last write, Unix ms.
    pub updated_at_ms: i64,
    /// Sync state.
    pub sync_state: SyncState,
}

/// A pending local change for the sync engine.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Queue position; acknowledge with [`Store::outbox_ack`].
    pub seq: i64,
    /// Changed document.
    pub doc_id: String,
    /// Its kind.
    pub kind: DocKind,
    /// Heads the document had right after this change.
    pub heads: Vec<[u8; 32]>,
    /// Time of the change, Unix ms.
    pub created_at_ms: i64,
}

fn heads_to_blob(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.concat()
}

fn heads_from_blob(blob: &[u8]) -> Result<Vec<[u8; 32]>, StoreError> {
    if !blob.len().is_multiple_of(HASH_LEN) {
        return Err(StoreError::BadStoredValue(format!(
            "heads blob of {} bytes",
            blob.len()
        )));
    }
    Ok(blob
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

pub(crate) const CASE_COLUMNS: &str = "id, category_code, status, title, summary, technical_grid, \
     supervision_grid, lon, lat, created_at_ms, updated_at_ms, reporter, review, resubmitted, \
     photo_count";

pub(crate) fn case_row(r: &Row<'_>) -> rusqlite::Result<CaseRow> {
    Ok(CaseRow {
        id: r.get(0)?,
        category_code: r.get(1)?,
        status: r.get(2)?,
        title: r.get(3)?,
        summary: r.get(4)?,
        technical_grid: r.get(5)?,
        supervision_grid: r.get(6)?,
        lon: r.get(7)?,
        lat: r.get(8)?,
        created_at_ms: r.get(9)?,
        updated_at_ms: r.get(10)?,
        reporter: r.get(11)?,
        review: r.get(12)?,
        resubmitted: r.get(13)?,
        photo_count: r.get(14)?,
    })
}

/// Largest page [`Store::list_cases`] serves.
const MAX_PAGE: u32 = 1000;

impl Store {
    /// Saves a local change to a case: upserts the list row and the case
    /// document, marks the document `LocalOnly` and appends an outbox entry,
    /// all in one transaction.
    pub fn save_case(&mut self, case: &CaseWrite) -> Result<(), StoreError> {
        if case.id.is_empty() {
            return Err(StoreError::Invalid("case id is empty".into()));
        }
        let heads = heads_to_blob(&case.doc_heads);
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO cases (id, category_code, status, title, summary, technical_grid,
                                supervision_grid, lon, lat, created_at_ms, updated_at_ms,
                                reporter, review, resubmitted, photo_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (id) DO UPDATE SET
                category_code = excluded.category_code, status = excluded.status,
                title = excluded.title, summary = excluded.summary,
                technical_grid = excluded.technical_grid,
                supervision_grid = excluded.supervision_grid,
                lon = excluded.lon, lat = excluded.lat,
                created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms,
                reporter = excluded.reporter, review = excluded.review,
                resubmitted = excluded.resubmitted, photo_count = excluded.photo_count",
        )?
        .execute(params![
            case.id,
            case.category_code,
            case.status,
            case.title,
            case.summary,
            case.technical_grid,
            case.supervision_grid,
            case.lon,
            case.lat,
            case.created_at_ms,
            case.updated_at_ms,
            case.reporter,
            case.review,
            case.resubmitted,
            case.photo_count,
        ])?;
        upsert_document(
            &tx,
            &case.id,
            DocKind::Case,
            &case.id,
            &case.doc_bytes,
            &heads,
            case.updated_at_ms,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Saves a local change to a verification document of a stored case
    /// (document + outbox entry in one transaction).
    pub fn save_verification(&mut self, v: &VerificationWrite) -> Result<(), StoreError> {
        if v.id.is_empty() {
            return Err(StoreError::Invalid("document id is empty".into()));
        }
        let heads = heads_to_blob(&v.doc_heads);
        let tx = self.write_tx()?;
        upsert_document(
            &tx,
            &v.id,
            DocKind::Verification,
            &v.case_id,
            &v.doc_bytes,
            &heads,
            v.updated_at_ms,
        )?;
        tx.prepare_cached(
            "INSERT INTO tasks (id, case_id, assignee, kind, due_at_ms, outcome, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET
                assignee = excluded.assignee, kind = excluded.kind,
                due_at_ms = excluded.due_at_ms, outcome = excluded.outcome,
                updated_at_ms = excluded.updated_at_ms",
        )?
        .execute(params![
            v.id,
            v.case_id,
            v.assignee,
            v.task_kind,
            v.due_at_ms,
            v.outcome,
            v.updated_at_ms
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// The list row of one case.
    pub fn get_case(&self, id: &str) -> Result<Option<CaseRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"))?
            .query_row([id], case_row)
            .optional()?)
    }

    /// A page of cases ordered by `updated_at_ms` descending, then `id`
    /// descending. Keyset pagination on the `cases_by_updated` index: every
    /// page costs the same however deep, and rows changed meanwhile are
    /// neither skipped nor repeated unless they move across the cursor.
    pub fn list_cases(&self, page: &Page) -> Result<CasePage, StoreError> {
        if page.limit == 0 || page.limit > MAX_PAGE {
            return Err(StoreError::Invalid(format!(
                "page limit {} is outside 1..={MAX_PAGE}",
                page.limit
            )));
        }
        let items: Vec<CaseRow> = match &page.after {
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {CASE_COLUMNS} FROM cases
                     ORDER BY updated_at_ms DESC, id DESC LIMIT ?1"
                ))?
                .query_map([page.limit], case_row)?
                .collect::<Result<_, _>>()?,
            Some(c) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT {CASE_COLUMNS} FROM cases
                     WHERE (updated_at_ms, id) < (?1, ?2)
                     ORDER BY updated_at_ms DESC, id DESC LIMIT ?3"
                ))?
                .query_map(params![c.updated_at_ms, c.id, page.limit], case_row)?
                .collect::<Result<_, _>>()?,
        };
        let next = if items.len() == page.limit as usize {
            items.last().map(|r| CaseCursor {
                updated_at_ms: r.updated_at_ms,
                id: r.id.clone(),
            })
        } else {
            None
        };
        Ok(CasePage { items, next })
    }

    /// Number of cases stored.
    pub fn case_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM cases")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The ids of every stored document, sorted.
    pub fn document_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM documents ORDER BY id")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// A stored document with its heads and sync state.
    pub fn get_document(&self, id: &str) -> Result<Option<Document>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(
                "SELECT id, kind, case_id, bytes, heads, updated_at_ms, sync_state, refusal_reason
                 FROM documents WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .optional()?;
        let Some((id, kind, case_id, bytes, heads, updated_at_ms, state, reason)) = raw else {
            return Ok(None);
        };
        let sync_state = match (state.as_str(), reason) {
            ("local_only", None) => SyncState::LocalOnly,
            ("syncing", None) => SyncState::Syncing,
            ("synced", None) => SyncState::Synced,
            ("refused", Some(reason)) => SyncState::Refused { reason },
            (s, r) => {
                return Err(StoreError::BadStoredValue(format!(
                    "sync state {s:?} with reason {r:?}"
                )))
            }
        };
        Ok(Some(Document {
            id,
            kind: DocKind::parse(&kind)?,
            case_id,
            bytes,
            heads: heads_from_blob(&heads)?,
            updated_at_ms,
            sync_state,
        }))
    }

    /// Sets a document's sync state (used by the sync engine).
    pub fn set_sync_state(&mut self, doc_id: &str, state: &SyncState) -> Result<(), StoreError> {
        let (name, reason) = match state {
            SyncState::LocalOnly => ("local_only", None),
            SyncState::Syncing => ("syncing", None),
            SyncState::Synced => ("synced", None),
            SyncState::Refused { reason } => ("refused", Some(reason.as_str())),
        };
        let tx = self.write_tx()?;
        let n = tx
            .prepare_cached(
                "UPDATE documents SET sync_state = ?2, refusal_reason = ?3 WHERE id = ?1",
            )?
            .execute(params![doc_id, name, reason])?;
        if n == 0 {
            return Err(StoreError::DocumentNotFound(doc_id.to_owned()));
        }
        tx.commit()?;
        Ok(())
    }

    /// The oldest `limit` outbox entries, in the order they were written.
    pub fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.seq, o.doc_id, d.kind, o.heads, o.created_at_ms
             FROM outbox o JOIN documents d ON d.id = o.doc_id
             ORDER BY o.seq LIMIT ?1",
        )?;
        let raw: Vec<(i64, String, String, Vec<u8>, i64)> = stmt
            .query_map([limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        raw.into_iter()
            .map(|(seq, doc_id, kind, heads, created_at_ms)| {
                Ok(OutboxEntry {
                    seq,
                    doc_id,
                    kind: DocKind::parse(&kind)?,
                    heads: heads_from_blob(&heads)?,
                    created_at_ms,
                })
            })
            .collect()
    }

    /// Removes delivered outbox entries; unknown sequence numbers are
    /// ignored (an ack may be repeated). Returns how many were removed.
    pub fn outbox_ack(&mut self, seqs: &[i64]) -> Result<usize, StoreError> {
        let tx = self.write_tx()?;
        let mut removed = 0;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
            for seq in seqs {
                removed += stmt.execute([seq])?;
            }
        }
        tx.commit()?;
        Ok(removed)
    }
}

/// Writes one document version and its outbox entry inside `tx`. The outbox
/// gets a new entry per change rather than updating a pending one: the sync
/// engine may be sending that entry right now, and acking it must not drop
/// the newer change.
fn upsert_document(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    kind: DocKind,
    case_id: &str,
    bytes: &[u8],
    heads: &[u8],
    updated_at_ms: i64,
) -> Result<(), StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT INTO documents (id, kind, case_id, bytes, heads, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET
                bytes = excluded.bytes, heads = excluded.heads,
                updated_at_ms = excluded.updated_at_ms,
                sync_state = 'local_only', refusal_reason = NULL
             WHERE documents.kind = excluded.kind AND documents.case_id = excluded.case_id",
        )?
        .execute(params![
            id,
            kind.as_str(),
            case_id,
            bytes,
            heads,
            updated_at_ms
        ])?;
    if n == 0 {
        return Err(StoreError::IdCollision(id.to_owned()));
    }
    tx.prepare_cached("INSERT INTO outbox (doc_id, heads, created_at_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![id, heads, updated_at_ms])?;
    Ok(())
}
