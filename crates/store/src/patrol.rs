//! Patrol sessions: an inspector walking their supervision grid.

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// One patrol, open while `ended_at_ms` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolSession {
    /// Local id.
    pub id: i64,
    /// Inspector on patrol.
    pub inspector_id: String,
    /// Grid being patrolled.
    pub supervision_grid: String,
    /// Start, Unix ms.
    pub started_at_ms: i64,
    /// End, Unix ms; `None` while the patrol is open.
    pub ended_at_ms: Option<i64>,
}

fn patrol_row(r: &Row<'_>) -> rusqlite::Result<PatrolSession> {
    Ok(PatrolSession {
        id: r.get(0)?,
        inspector_id: r.get(1)?,
        supervision_grid: r.get(2)?,
        started_at_ms: r.get(3)?,
        ended_at_ms: r.get(4)?,
    })
}

const PATROL_COLUMNS: &str = "id, inspector_id, supervision_grid, started_at_ms, ended_at_ms";

impl Store {
    /// Starts a patrol. Fails with [`StoreError::PatrolAlreadyOpen`] if the
    /// inspector has one open.
    pub fn start_patrol(
        &mut self,
        inspector_id: &str,
        supervision_grid: &str,
        started_at_ms: i64,
    ) -> Result<PatrolSession, StoreError> {
        let tx = self.write_tx()?;
        let open: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM patrol_sessions WHERE inspector_id = ?1 AND ended_at_ms IS NULL",
            )?
            .query_row([inspector_id], |r| r.get(0))
            .optional()?;
        if let Some(open_id) = open {
            return Err(StoreError::PatrolAlreadyOpen {
                inspector_id: inspector_id.to_owned(),
                open_id,
            });
        }
        tx.prepare_cached(
            "INSERT INTO patrol_sessions (inspector_id, supervision_grid, started_at_ms)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![inspector_id, supervision_grid, started_at_ms])?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(PatrolSession {
            id,
            inspector_id: inspector_id.to_owned(),
            supervision_grid: supervision_grid.to_owned(),
            started_at_ms,
            ended_at_ms: None,
        })
    }

    /// Ends an open patrol. The end may not precede the start.
    pub fn end_patrol(&mut self, id: i64, ended_at_ms: i64) -> Result<PatrolSession, StoreError> {
        let tx = self.write_tx()?;
        let mut s = tx
            .query_row(
                &format!("SELECT {PATROL_COLUMNS} FROM patrol_sessions WHERE id = ?1"),
                [id],
                patrol_row,
            )
            .optional()?
            .ok_or(StoreError::PatrolNotFound(id))?;
        if s.ended_at_ms.is_some() {
            return Err(StoreError::PatrolAlreadyEnded(id));
        }
        if ended_at_ms < s.started_at_ms {
            return Err(StoreError::Invalid(format!(
                "patrol {id} cannot end at {ended_at_ms}, before it started at {}",
                s.started_at_ms
            )));
        }
        tx.prepare_cached("UPDATE patrol_sessions SET ended_at_ms = ?2 WHERE id = ?1")?
            .execute(params![id, ended_at_ms])?;
        tx.commit()?;
        s.ended_at_ms = Some(ended_at_ms);
        Ok(s)
    }

    /// The inspector's open patrol, if any.
    pub fn open_patrol(&self, inspector_id: &str) -> Result<Option<PatrolSession>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {PATROL_COLUMNS} FROM patrol_sessions
                     WHERE inspector_id = ?1 AND ended_at_ms IS NULL"
                ),
                [inspector_id],
                patrol_row,
            )
            .optional()?)
    }

    /// The most recent `limit` patrols, newest start first.
    pub fn list_patrols(&self, limit: u32) -> Result<Vec<PatrolSession>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PATROL_COLUMNS} FROM patrol_sessions
             ORDER BY started_at_ms DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([limit], patrol_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

/// One Beijing day of patrolling one supervision grid: the technical grids
/// of that grid the day's track visited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitedDay {
    /// `YYYY-MM-DD`, Beijing time (UTC+8).
    pub day: String,
    /// The grid patrolled (the patrol session's).
    pub supervision_grid: String,
    /// Technical grid codes visited, sorted, each once; codes outside the
    /// patrolled grid (walking to it) are left out.
    pub technical_grids: Vec<String>,
}

impl Store {
    /// What `inspector_id`'s patrols since `from_ms` visited, by Beijing day
    /// and patrolled grid, oldest first. A technical grid belongs to a
    /// supervision grid when its code starts with the grid's (codes nest).
    pub fn visited_days(
        &self,
        inspector_id: &str,
        from_ms: i64,
    ) -> Result<Vec<VisitedDay>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT date(t.at_ms / 1000 + ?3, 'unixepoch'),
                    s.supervision_grid, t.technical_grid
             FROM track_points t JOIN patrol_sessions s ON s.id = t.patrol_id
             WHERE s.inspector_id = ?1 AND t.at_ms >= ?2 AND t.technical_grid IS NOT NULL
               AND substr(t.technical_grid, 1, length(s.supervision_grid)) = s.supervision_grid
             ORDER BY 1, 2, 3",
        )?;
        let rows = stmt.query_map(
            params![
                inspector_id,
                from_ms,
                gridpatrol_domain::time::BEIJING_OFFSET_SECS
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        let mut out: Vec<VisitedDay> = Vec::new();
        for row in rows {
            let (day, grid, code) = row?;
            match out.last_mut() {
                Some(v) if v.day == day && v.supervision_grid == grid => {
                    v.technical_grids.push(code)
                }
                _ => out.push(VisitedDay {
                    day,
                    supervision_grid: grid,
                    technical_grids: vec![code],
                }),
            }
        }
        Ok(out)
    }
}
