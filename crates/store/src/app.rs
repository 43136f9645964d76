//! What the app's screens keep besides documents: filtered case lists,
//! re-verification tasks, thumbnails, favourite and recent categories,
//! checklist ticks, patrol track points and the cached district package.

use rusqlite::{params, OptionalExtension, ToSql};

use crate::cases::{case_row, CaseCursor, CaseRow, CASE_COLUMNS};
use crate::{Store, StoreError};

/// Which cases a filtered list shows (all conditions must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseQuery {
    /// Only this reporter's cases.
    pub reporter: Option<String>,
    /// Only cases in this lifecycle status.
    pub status: Option<String>,
    /// Review filter: `unreviewed` (none yet, or resubmitted since),
    /// `approved`, `returned` (needs_fix / rejected and not resubmitted).
    pub review: Option<String>,
    /// Only this fine class.
    pub category: Option<String>,
    /// Created at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Created before, Unix ms.
    pub to_ms: Option<i64>,
    /// Only cases in these supervision grids (empty: any).
    pub supervision_grids: Vec<String>,
}

/// One re-verification task row.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// Verification document id.
    pub id: String,
    /// Case id.
    pub case_id: String,
    /// Inspector sent.
    pub assignee: String,
    /// Kind of check.
    pub kind: String,
    /// Deadline, Unix ms.
    pub due_at_ms: i64,
    /// `pass` / `fail` once done.
    pub outcome: Option<String>,
}

/// A stored thumbnail of a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    /// The thumbnail's own photo id.
    pub sha256: String,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
}

/// One recorded track point.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackPoint {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Accuracy, metres.
    pub accuracy_m: f64,
    /// Technical grid it fell in, if known.
    pub technical_grid: Option<String>,
}

/// Largest page of a filtered list.
const MAX_PAGE: u32 = 1000;

impl CaseQuery {
    /// The WHERE clause and its parameters.
    fn sql(&self) -> (String, Vec<Box<dyn ToSql>>) {
        let mut w: Vec<String> = vec!["1 = 1".into()];
        let mut p: Vec<Box<dyn ToSql>> = Vec::new();
        if let Some(r) = &self.reporter {
            p.push(Box::new(r.clone()));
            w.push(format!("reporter = ?{}", p.len()));
        }
        if let Some(s) = &self.status {
            p.push(Box::new(s.clone()));
            w.push(format!("status = ?{}", p.len()));
        }
        match self.review.as_deref() {
            Some("unreviewed") => w.push("(review IS NULL OR resubmitted = 1)".into()),
            Some("approved") => w.push("review = 'approved'".into()),
            Some("returned") => {
                w.push("(review IN ('needs_fix', 'rejected') AND resubmitted = 0)".into())
            }
            _ => {}
        }
        if let Some(c) = &self.category {
            p.push(Box::new(c.clone()));
            w.push(format!("category_code = ?{}", p.len()));
        }
        if let Some(t) = self.from_ms {
            p.push(Box::new(t));
            w.push(format!("created_at_ms >= ?{}", p.len()));
        }
        if let Some(t) = self.to_ms {
            p.push(Box::new(t));
            w.push(format!("created_at_ms < ?{}", p.len()));
        }
        if !self.supervision_grids.is_empty() {
            let mut marks = Vec::new();
            for g in &self.supervision_grids {
                p.push(Box::new(g.clone()));
                marks.push(format!("?{}", p.len()));
            }
            w.push(format!("supervision_grid IN ({})", marks.join(", ")));
        }
        (w.join(" AND "), p)
    }
}

impl Store {
    /// A page of cases matching `q`, newest change first (keyset on
    /// `(updated_at_ms, id)`), and the next page's cursor.
    pub fn query_cases(
        &self,
        q: &CaseQuery,
        after: Option<&CaseCursor>,
        limit: u32,
    ) -> Result<(Vec<CaseRow>, Option<CaseCursor>), StoreError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(StoreError::Invalid(format!(
                "page limit {limit} is outside 1..={MAX_PAGE}"
            )));
        }
        let (mut w, mut p) = q.sql();
        if let Some(c) = after {
            p.push(Box::new(c.updated_at_ms));
            p.push(Box::new(c.id.clone()));
            w.push_str(&format!(
                " AND (updated_at_ms, id) < (?{}, ?{})",
                p.len() - 1,
                p.len()
            ));
        }
        p.push(Box::new(limit));
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE {w}
             ORDER BY updated_at_ms DESC, id DESC LIMIT ?{}",
            p.len()
        );
        let refs: Vec<&dyn ToSql> = p.iter().map(|b| b.as_ref()).collect();
        let rows: Vec<CaseRow> = self
            .conn
            .prepare_cached(&sql)?
            .query_map(refs.as_slice(), case_row)?
            .collect::<Result<_, _>>()?;
        let next = (rows.len() == limit as usize)
            .then(|| rows.last())
            .flatten()
            .map(|r| CaseCursor {
                updated_at_ms: r.updated_at_ms,
                id: r.id.clone(),
            });
        Ok((rows, next))
    }

    /// How many cases match `q`.
    pub fn count_cases(&self, q: &CaseQuery) -> Result<u64, StoreError> {
        let (w, p) = q.sql();
        let refs: Vec<&dyn ToSql> = p.iter().map(|b| b.as_ref()).collect();
        let n: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM cases WHERE {w}"))?
            .query_row(refs.as_slice(), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Cases of `category` not yet closed within the box around a point
    /// (the caller measures the exact distance).
    pub fn open_cases_near(
        &self,
        category: &str,
        bbox: [f64; 4],
        limit: u32,
    ) -> Result<Vec<CaseRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases
                 WHERE category_code = ?1 AND lon BETWEEN ?2 AND ?4 AND lat BETWEEN ?3 AND ?5
                   AND status NOT IN ('closed', 'evaluated', 'not_filed')
                 ORDER BY updated_at_ms DESC LIMIT ?6"
            ))?
            .query_map(
                params![category, bbox[0], bbox[1], bbox[2], bbox[3], limit],
                case_row,
            )?
            .collect::<Result<_, _>>()?)
    }

    /// Open cases in any of these supervision grids (map pins), newest first.
    pub fn open_cases_in(&self, grids: &[String], limit: u32) -> Result<Vec<CaseRow>, StoreError> {
        let q = CaseQuery {
            supervision_grids: grids.to_vec(),
            ..CaseQuery::default()
        };
        let (w, mut p) = q.sql();
        p.push(Box::new(limit));
        let refs: Vec<&dyn ToSql> = p.iter().map(|b| b.as_ref()).collect();
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE {w}
                   AND status NOT IN ('closed', 'evaluated', 'not_filed')
                 ORDER BY updated_at_ms DESC LIMIT ?{}",
                p.len()
            ))?
            .query_map(refs.as_slice(), case_row)?
            .collect::<Result<_, _>>()?)
    }

    /// Tasks assigned to `assignee`, by deadline.
    pub fn tasks_for(&self, assignee: &str) -> Result<Vec<TaskRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, case_id, assignee, kind, due_at_ms, outcome FROM tasks
                 WHERE assignee = ?1 ORDER BY due_at_ms, id LIMIT 1000",
            )?
            .query_map([assignee], |r| {
                Ok(TaskRow {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    assignee: r.get(2)?,
                    kind: r.get(3)?,
                    due_at_ms: r.get(4)?,
                    outcome: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?)
    }

    /// Records the thumbnail of a stored photo (both must be stored).
    pub fn set_thumb(&mut self, photo: &str, thumb: &Thumb) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO photo_thumbs (photo_sha256, thumb_sha256, width, height)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (photo_sha256) DO UPDATE SET thumb_sha256 = excluded.thumb_sha256,
                width = excluded.width, height = excluded.height",
        )?
        .execute(params![photo, thumb.sha256, thumb.width, thumb.height])?;
        tx.commit()?;
        Ok(())
    }

    /// The thumbnail of a photo, if one was stored.
    pub fn thumb(&self, photo: &str) -> Result<Option<Thumb>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT thumb_sha256, width, height FROM photo_thumbs WHERE photo_sha256 = ?1",
            )?
            .query_row([photo], |r| {
                Ok(Thumb {
                    sha256: r.get(0)?,
                    width: r.get(1)?,
                    height: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Stars or unstars a category.
    pub fn set_favourite(&mut self, code: &str, on: bool, now_ms: i64) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        if on {
            tx.prepare_cached(
                "INSERT INTO favourites (code, added_at_ms) VALUES (?1, ?2)
                 ON CONFLICT (code) DO NOTHING",
            )?
            .execute(params![code, now_ms])?;
        } else {
            tx.prepare_cached("DELETE FROM favourites WHERE code = ?1")?
                .execute([code])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starred categories, oldest star first.
    pub fn favourites(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT code FROM favourites ORDER BY added_at_ms, code LIMIT 500")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Notes that a category was just used in a report.
    pub fn touch_recent(&mut self, code: &str, now_ms: i64) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO recents (code, used_at_ms, uses) VALUES (?1, ?2, 1)
             ON CONFLICT (code) DO UPDATE SET used_at_ms = excluded.used_at_ms,
                uses = uses + 1",
        )?
        .execute(params![code, now_ms])?;
        // Keep the most recent 50.
        tx.prepare_cached(
            "DELETE FROM recents WHERE code NOT IN
               (SELECT code FROM recents ORDER BY used_at_ms DESC LIMIT 50)",
        )?
        .execute([])?;
        tx.commit()?;
        Ok(())
    }

    /// Recently used categories, most recent first.
    pub fn recents(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT code FROM recents ORDER BY used_at_ms DESC, code LIMIT ?1")?
            .query_map([limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Ticks a checklist item "checked, no problem" for `day` (YYYY-MM-DD).
    pub fn tick(&mut self, day: &str, code: &str, now_ms: i64) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO checklist_ticks (day, code, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (day, code) DO UPDATE SET at_ms = excluded.at_ms",
        )?
        .execute(params![day, code, now_ms])?;
        tx.commit()?;
        Ok(())
    }

    /// Codes ticked on `day`.
    pub fn ticks(&self, day: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT code FROM checklist_ticks WHERE day = ?1 ORDER BY code")?
            .query_map([day], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Records a track point of an open patrol.
    pub fn add_track_point(&mut self, patrol_id: i64, p: &TrackPoint) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO track_points (patrol_id, at_ms, lon, lat, accuracy_m, technical_grid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            patrol_id,
            p.at_ms,
            p.lon,
            p.lat,
            p.accuracy_m,
            p.technical_grid
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// Track points recorded in `[from_ms, to_ms)`, in time order (at most
    /// 20,000: a day's walk at one point every 5 s).
    pub fn track_points(&self, from_ms: i64, to_ms: i64) -> Result<Vec<TrackPoint>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT at_ms, lon, lat, accuracy_m, technical_grid FROM track_points
                 WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id LIMIT 20000",
            )?
            .query_map(params![from_ms, to_ms], |r| {
                Ok(TrackPoint {
                    at_ms: r.get(0)?,
                    lon: r.get(1)?,
                    lat: r.get(2)?,
                    accuracy_m: r.get(3)?,
                    technical_grid: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?)
    }

    /// Replaces the cached district package.
    pub fn set_district_package(&mut self, json: &str, now_ms: i64) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.prepare_cached(
            "INSERT INTO district_package (id, json, fetched_at_ms) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET json = excluded.json,
                fetched_at_ms = excluded.fetched_at_ms",
        )?
        .execute(params![json, now_ms])?;
        tx.commit()?;
        Ok(())
    }

    /// The cached district package and when it was fetched.
    pub fn district_package(&self) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT json, fetched_at_ms FROM district_package WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// When the cached district package was fetched, if there is one.
    pub fn district_package_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT fetched_at_ms FROM district_package WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    /// Documents changed here and not yet confirmed by the server.
    pub fn pending_docs(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM documents WHERE sync_state IN ('local_only', 'syncing')",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Stored photos (not thumbnails) without a `meta_prefix<sha>` mark.
    pub fn photos_without_mark(&self, meta_prefix: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM photos p
             WHERE NOT EXISTS (SELECT 1 FROM photo_thumbs t WHERE t.thumb_sha256 = p.sha256)
               AND NOT EXISTS (SELECT 1 FROM meta m WHERE m.key = ?1 || p.sha256)",
            )?
            .query_row([meta_prefix], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Up to `limit` stored photos that have no thumbnail and are not one,
    /// skipping those with a `meta_prefix<sha>` mark, by digest.
    pub fn photos_without_thumb(
        &self,
        meta_prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.sha256 FROM photos p
             WHERE NOT EXISTS (SELECT 1 FROM photo_thumbs t WHERE t.thumb_sha256 = p.sha256)
               AND NOT EXISTS (SELECT 1 FROM photo_thumbs t WHERE t.photo_sha256 = p.sha256)
               AND NOT EXISTS (SELECT 1 FROM meta m WHERE m.key = ?1 || p.sha256)
             ORDER BY p.sha256 LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![meta_prefix, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Documents the server refused.
    pub fn refused_docs(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM documents WHERE sync_state = 'refused'")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}
