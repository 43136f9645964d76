//! The device side of GridPatrol sync. Inspectors work for hours without
//! signal, so every edit is first one local store transaction (document bytes,
//! case-list projection, outbox entry — see [`persist`]); when a link appears the
//! [`SyncEngine`] logs in, asks the server's manifest what changed within the
//! account's scope since its cursor, exchanges Automerge sync messages for many
//! documents per request until neither side has anything left to send, uploads
//! the photos those documents refer to (resumable, never twice), and only then
//! acknowledges the outbox and saves the cursor; last it downloads the photos
//! that stored documents refer to and the device lacks, within a byte budget
//! per session, storing only bytes that hash to the photo's name. Failed sessions are retried
//! with exponential backoff and jitter; an interrupted session resumes cleanly
//! because nothing is acknowledged before the server has confirmed it. Each
//! document's sync state (local only / syncing / synced / refused with the
//! server's reason) is kept in the store.
#![forbid(unsafe_code)]

mod api;
mod engine;
mod error;
pub mod persist;

pub use api::Traffic;
pub use engine::{
    pending_photos, photo_uploaded, server_epoch, upload_photo, Progress, ProgressFn, RetryPolicy,
    SyncConfig, SyncEngine, SyncReport, IDLE_CONNECTION,
};
pub use error::SyncError;
