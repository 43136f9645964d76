//! Applies the rotation plans kept in the data directory
//! (`DIR/rotation/<period>.json`, written by `gridpatrol rotation apply`):
//! from a plan's start, each account's squad and supervision grid and each
//! squad's leader are the plan's, so scopes, write rules and district
//! packages follow it. Before the first plan starts the accounts stay as
//! they were loaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gridpatrol_rotation::{assignment_at, Duty, Plan};
use gridpatrol_server_storage::{ServerStore, StoreError};

use crate::AppState;

/// The folder of applied plans inside a data directory.
pub const HISTORY_DIR: &str = "rotation";

/// Why the plans could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The folder or a file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A file is not a plan, or not the plan its name says.
    #[error("{0}")]
    Invalid(String),
}

/// The applied plans of the data directory `data`, by period (none if the
/// folder does not exist).
pub fn load_history(data: &Path) -> Result<Vec<Plan>, HistoryError> {
    let dir = data.join(HISTORY_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(HistoryError::Io { path: dir, source }),
    };
    let mut files = Vec::new();
    for e in entries {
        let path = e
            .map_err(|source| HistoryError::Io {
                path: dir.clone(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|x| x == "json") {
            files.push(path);
        }
    }
    files.sort();
    let mut plans = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| HistoryError::Io {
            path: path.clone(),
            source,
        })?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            HistoryError::Invalid(format!("{} is not a rotation plan: {e}", path.display()))
        })?;
        let named = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if named != plan.period.to_string() {
            return Err(HistoryError::Invalid(format!(
                "{} holds the plan for {}, not {named}",
                path.display(),
                plan.period
            )));
        }
        plans.push(plan);
    }
    Ok(plans)
}

/// Makes the store say what the plan in force at `now_ms` says; returns
/// how many account or squad rows changed (0 with no plan started).
pub fn apply(store: &dyn ServerStore, history: &[Plan], now_ms: i64) -> Result<u64, StoreError> {
    if !history.iter().any(|p| p.starts_at_ms <= now_ms) {
        return Ok(0);
    }
    let district = &gridpatrol_district::DemoDistrict::get().district;
    let a = assignment_at(history, district, now_ms);
    let postings: Vec<(String, Option<String>, Option<String>)> = a
        .postings
        .values()
        .map(|p| (p.person.clone(), Some(p.squad.clone()), p.grid.clone()))
        .collect();
    let leaders: Vec<(String, String)> = a
        .postings
        .values()
        .filter(|p| p.duty == Duty::Leader)
        .map(|p| (p.squad.clone(), p.person.clone()))
        .collect();
    store.apply_postings(&postings, &leaders)
}

/// Applies the data directory's plans now and then every minute, so a
/// plan takes effect at its start without a restart.
pub(crate) async fn follow_plans(state: Arc<AppState>, data: PathBuf) {
    loop {
        let st = state.clone();
        let dir = data.clone();
        let r = tokio::task::spawn_blocking(move || {
            let history = load_history(&dir).map_err(|e| e.to_string())?;
            apply(st.store.as_ref(), &history, crate::now_ms()).map_err(|e| e.to_string())
        })
        .await;
        match r {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(changed = n, "rotation plan applied to accounts and squads")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not apply the rotation plans"),
            Err(e) => tracing::warn!(error = %e, "rotation task failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
}
