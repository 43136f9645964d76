//! Patrol coverage's record: after each successful sync session the
//! background loop sends the server, per Beijing day and patrolled grid,
//! the set of technical grids the day's patrol track visited (never the
//! track: the server needs only the codes, and the points stay on the
//! phone). A day patrolled offline goes at the first session online; a day
//! whose set grew since it was accepted goes again (the server keeps the
//! union, so a repeat changes nothing there). See `gridpatrol_server::patrol`
//! for why this is an endpoint and not a document kind.

use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{limits, paths, PatrolDayUpload};
use gridpatrol_store::{Store, VisitedDay};
use gridpatrol_sync::{SyncEngine, SyncError};

/// How far back days are sent: the KPI month and the one before it. The
/// track of an older day stays on the device but no longer counts.
const LOOKBACK_MS: i64 = 62 * 86_400_000;
/// Meta key prefix: how many codes of a day (`<day>.<grid>`) the server
/// accepted, and its epoch then (`<count>@<epoch>`): a server restored from
/// an older backup has a new epoch, so every day goes to it again.
const META_SENT: &str = "patrol.sent.";
/// Meta key prefix: how many codes of a day the server refused (sent again
/// only once the set grows, so a refusal is not repeated every session).
const META_REFUSED: &str = "patrol.refused.";

/// Sends the days whose visited set the server has not accepted yet;
/// returns how many were accepted. Nothing is lost on failure: a network
/// error stops here and the next session starts again.
pub(crate) async fn upload(engine: &mut SyncEngine, store: &mut Store, now_ms: i64) -> u32 {
    let Some(user) = engine.user().cloned() else {
        return 0;
    };
    if user.role != Role::Inspector {
        return 0;
    }
    let days = match store.visited_days(&user.id, now_ms - LOOKBACK_MS) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the patrol days to upload");
            return 0;
        }
    };
    let epoch = gridpatrol_sync::server_epoch(store, &user.id)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut accepted = 0;
    for d in days {
        let key = format!("{}.{}", d.day, d.supervision_grid);
        let count = d.technical_grids.len().to_string();
        let sent = format!("{count}@{epoch}");
        if noted(store, &format!("{META_SENT}{key}"), &sent)
            || noted(store, &format!("{META_REFUSED}{key}"), &count)
        {
            continue;
        }
        match send(engine, &user.id, &d).await {
            Ok(()) => {
                accepted += 1;
                if let Err(e) = store.set_meta(&format!("{META_SENT}{key}"), &sent) {
                    // Sent again next session: the server keeps a set.
                    tracing::warn!(error = %e, day = %d.day, "could not note an uploaded patrol day");
                }
            }
            Err(SyncError::Server {
                status,
                code,
                message,
            }) if (400..500).contains(&status) && status != 401 => {
                tracing::warn!(day = %d.day, grid = %d.supervision_grid, %code, %message, "the server refused a patrol day");
                if let Err(e) = store.set_meta(&format!("{META_REFUSED}{key}"), &count) {
                    tracing::warn!(error = %e, day = %d.day, "could not note a refused patrol day");
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "patrol days not uploaded; the next session retries");
                break;
            }
        }
    }
    accepted
}

/// Whether meta `key` holds `count` (a `&Store` not kept across an await:
/// the store is not `Sync`).
fn noted(store: &Store, key: &str, count: &str) -> bool {
    store
        .get_meta(key)
        .ok()
        .flatten()
        .is_some_and(|n| n == count)
}

/// One day's codes, in requests of at most [`limits::MAX_PATROL_GRIDS`].
async fn send(engine: &mut SyncEngine, inspector: &str, d: &VisitedDay) -> Result<(), SyncError> {
    for chunk in d.technical_grids.chunks(limits::MAX_PATROL_GRIDS) {
        engine
            .post(
                paths::PATROL_DAYS,
                &PatrolDayUpload {
                    inspector: inspector.to_owned(),
                    day: d.day.clone(),
                    technical_grids: chunk.to_vec(),
                },
            )
            .await?;
    }
    Ok(())
}
