//! Patrol days: per inspector and Beijing day, the set of technical grids
//! the patrol track visited, which patrol coverage (巡查覆盖率) in the
//! monthly KPIs is computed from.
//!
//! Design: a small bounded endpoint (`POST /v1/patrol/days`) and one table
//! (`migrations/server/0006_patrol_days.sql`), called by the device's sync
//! loop after each session, rather than a new Automerge document kind. A
//! patrol day is a grow-only set of codes written by one person: it needs
//! no merging of concurrent edits, no history and no one else's view, so a
//! set union in SQL (`INSERT OR IGNORE`, one row per code) gives the same
//! offline-first, idempotent behaviour with none of a document kind's
//! weight (manifest scope, sync states, validators on both sides, an index
//! table for the KPI anyway), and the write rules stay in one place here.
//!
//! The rules, all checked before anything is stored:
//! - only an inspector records, and only their own days (403 `forbidden`);
//! - the day is `YYYY-MM-DD`, from 2000 and not after today in Beijing (a
//!   few minutes' grace for a device clock ahead) (400);
//! - one to [`limits::MAX_PATROL_GRIDS`] codes, each a technical grid of the
//!   district (400) in the supervision grid the inspector held that day
//!   (422 `outside_scope`): the account's grid, or for a day before the
//!   latest rotation plan took effect, the grid that plan history gave them.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{codes, limits, PatrolDayUpload};
use gridpatrol_quality::coverage::GridCells;
use gridpatrol_server_storage::{PatrolDayRow, User};

use crate::auth::Caller;
use crate::error::{body_rejection, parse_json, ApiError};
pub use gridpatrol_quality::beijing_day;
use gridpatrol_quality::day_start_ms;

use crate::AppState;

/// How far a device clock may run ahead of the server's and still name
/// "today" (ms).
const CLOCK_GRACE_MS: i64 = 10 * 60_000;

/// The technical grids of every supervision grid of the district.
pub fn grid_cells() -> &'static GridCells {
    static CELLS: OnceLock<GridCells> = OnceLock::new();
    CELLS.get_or_init(|| {
        GridCells::new(
            DemoDistrict::get()
                .district
                .technical_grids
                .iter()
                .map(|t| (t.code.clone(), t.supervision_grid.clone())),
        )
    })
}

/// The supervision grid `user` held on `day`: their account's grid, unless
/// a rotation plan took effect after the day began (then the grid the plan
/// history assigned them that day).
fn grid_held(state: &AppState, user: &User, day: NaiveDate) -> Result<Option<String>, ApiError> {
    let Some(dir) = &state.data_dir else {
        return Ok(user.supervision_grid.clone());
    };
    let history = crate::rotation::load_history(dir).map_err(ApiError::internal)?;
    let start = day_start_ms(day);
    let now = crate::now_ms();
    if !history
        .iter()
        .any(|p| p.starts_at_ms > start && p.starts_at_ms <= now)
    {
        return Ok(user.supervision_grid.clone());
    }
    let a = gridpatrol_rotation::assignment_at(&history, &DemoDistrict::get().district, start);
    Ok(a.postings.get(&user.id).and_then(|p| p.grid.clone()))
}

/// Checks an upload against the rules of the module doc; the row to store.
fn checked(
    state: &AppState,
    caller: &Caller,
    req: PatrolDayUpload,
) -> Result<PatrolDayRow, ApiError> {
    let forbidden = |m: String| ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, m);
    if req.inspector != caller.user.id {
        return Err(forbidden(format!(
            "{} may record only their own patrol, not {}'s",
            caller.user.id, req.inspector
        )));
    }
    if caller.user.role != Role::Inspector {
        return Err(forbidden(
            "only a grid inspector records patrol days".into(),
        ));
    }
    let day = NaiveDate::parse_from_str(&req.day, "%Y-%m-%d")
        .ok()
        .filter(|_| req.day.len() == 10)
        .ok_or_else(|| ApiError::malformed(format!("day {:?} is not YYYY-MM-DD", req.day)))?;
    let today = beijing_day(crate::now_ms() + CLOCK_GRACE_MS);
    let first = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
    if day > today || day < first {
        return Err(ApiError::malformed(format!(
            "day {day} is not between {first} and today ({today}, Beijing)"
        )));
    }
    if req.technical_grids.is_empty() {
        return Err(ApiError::malformed(
            "a patrol day names at least one technical grid",
        ));
    }
    if req.technical_grids.len() > limits::MAX_PATROL_GRIDS {
        return Err(ApiError::malformed(format!(
            "{} technical grids in one patrol day; at most {}",
            req.technical_grids.len(),
            limits::MAX_PATROL_GRIDS
        )));
    }
    let district = DemoDistrict::get();
    let visited: BTreeSet<String> = req.technical_grids.into_iter().collect();
    if let Some(bad) = visited
        .iter()
        .find(|c| district.technical_grid_index(c).is_none())
    {
        let shown: String = bad.chars().take(32).collect();
        return Err(ApiError::malformed(format!(
            "{shown:?} is not a technical grid code of the district"
        )));
    }
    let Some(grid) = grid_held(state, &caller.user, day)? else {
        return Err(forbidden(format!(
            "{} held no supervision grid on {day}",
            caller.user.id
        )));
    };
    let outside: Vec<&str> = visited
        .iter()
        .filter(|c| !grid_cells().contains(&grid, c))
        .map(String::as_str)
        .collect();
    if !outside.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::OUTSIDE_SCOPE,
            format!(
                "not technical grids of {grid}, the supervision grid {} held on {day}: {}",
                caller.user.id,
                outside.join(", ")
            ),
        ));
    }
    Ok(PatrolDayRow {
        day: day.to_string(),
        inspector: caller.user.id.clone(),
        supervision_grid: grid,
        technical_grids: visited.into_iter().collect(),
    })
}

/// `POST /v1/patrol/days`: adds the visited technical grids of one day.
pub(crate) async fn upload(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let req: PatrolDayUpload = parse_json(&body.map_err(body_rejection)?)?;
    tokio::task::spawn_blocking(move || {
        let row = checked(&state, &caller, req)?;
        let added = state.store.record_patrol_day(&row, crate::now_ms())?;
        tracing::info!(
            inspector = %row.inspector,
            day = %row.day,
            grid = %row.supervision_grid,
            codes = row.technical_grids.len(),
            added,
            "patrol day recorded"
        );
        Ok::<_, ApiError>(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}
