//! The background sync loop: its own store connection and engine, a
//! trigger, and a status that every change publishes (the shell forwards it
//! to the UI as events). The screens' store connection is never held across
//! a network wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridpatrol_store::Store;
use gridpatrol_sync::{Progress, SyncEngine, SyncError, SyncReport, Traffic};
use tokio::sync::{watch, Notify};

use crate::view::SyncStatus;
use crate::{Account, Clock, DeviceError};

struct Inner {
    /// Engine and its own store connection; `None` while signed out.
    session: tokio::sync::Mutex<Option<(SyncEngine, Store)>>,
    status: watch::Sender<SyncStatus>,
    trigger: Notify,
    clock: Arc<dyn Clock>,
    running: Mutex<bool>,
}

/// Handle of the background sync loop (cheap to clone).
#[derive(Clone)]
pub struct SyncLoop {
    inner: Arc<Inner>,
}

fn idle_status() -> SyncStatus {
    SyncStatus {
        phase: "signed_out".into(),
        docs_done: 0,
        docs_total: 0,
        photo_bytes_sent: 0,
        photo_bytes_total: 0,
        photos_to_receive: 0,
        photos_received: 0,
        photo_bytes_received: 0,
        pending_docs: 0,
        pending_photos: 0,
        refused_docs: 0,
        last_success_ms: None,
        last_error: None,
    }
}

impl SyncLoop {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> SyncLoop {
        let (status, _) = watch::channel(idle_status());
        SyncLoop {
            inner: Arc::new(Inner {
                session: tokio::sync::Mutex::new(None),
                status,
                trigger: Notify::new(),
                clock,
                running: Mutex::new(false),
            }),
        }
    }

    /// The current status.
    pub fn status(&self) -> SyncStatus {
        self.inner.status.borrow().clone()
    }

    /// A stream of statuses: every change is published.
    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.subscribe()
    }

    fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        self.inner.status.send_modify(f);
    }

    pub(crate) fn install(&self, mut engine: SyncEngine, store: Store) {
        let me = self.clone();
        engine.on_progress(Arc::new(move |p: Progress| {
            me.update(|s| {
                s.docs_done = p.docs_done as u32;
                s.docs_total = p.docs_total as u32;
                s.photo_bytes_sent = p.photo_bytes_sent;
                s.photo_bytes_total = p.photo_bytes_total;
                s.photos_to_receive = p.photos_to_receive as u32;
                s.photos_received = p.photos_received as u32;
                s.photo_bytes_received = p.photo_bytes_received;
            })
        }));
        let last = store
            .get_meta("sync.last_success_ms")
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok());
        let pending = crate::session::unsynced(&store).unwrap_or((0, 0));
        let refused = store.refused_docs().unwrap_or(0) as u32;
        // No sync runs while signed out, so the lock is free.
        if let Ok(mut g) = self.inner.session.try_lock() {
            *g = Some((engine, store));
        }
        self.update(|s| {
            *s = SyncStatus {
                phase: "idle".into(),
                last_success_ms: last,
                pending_docs: pending.0,
                pending_photos: pending.1,
                refused_docs: refused,
                ..idle_status()
            }
        });
    }

    pub(crate) async fn clear(&self) {
        *self.inner.session.lock().await = None;
        self.update(|s| *s = idle_status());
    }

    /// Revokes the token on the server; false when it could not be reached.
    pub(crate) async fn logout(&self) -> bool {
        let mut g = self.inner.session.lock().await;
        match g.as_mut() {
            Some((engine, _)) => tokio::time::timeout(Duration::from_secs(5), engine.logout())
                .await
                .is_ok_and(|r| r.is_ok()),
            None => false,
        }
    }

    /// Recounts what waits to be sent (after a local save).
    pub(crate) fn refresh_pending_from(&self, account: &Option<Account>) {
        if let Some(a) = account {
            let pending = crate::session::unsynced(&a.store).unwrap_or((0, 0));
            let refused = a.store.refused_docs().unwrap_or(0) as u32;
            self.update(|s| {
                s.pending_docs = pending.0;
                s.pending_photos = pending.1;
                s.refused_docs = refused;
            });
        }
    }

    /// Asks the background loop to sync soon.
    pub fn trigger(&self) {
        self.inner.trigger.notify_one();
    }

    /// Runs one sync session now (waiting for a running one to finish) and
    /// returns the status after it.
    pub async fn sync_now(&self) -> SyncStatus {
        let _ = self.session().await;
        self.status()
    }

    /// Runs one sync session now (waiting for a running one to finish),
    /// publishing its progress and outcome like [`SyncLoop::sync_now`], and
    /// returns the engine's report: what the simulator and the tests count
    /// (attempts, refusals, failures, recovery).
    pub async fn session(&self) -> Result<SyncReport, DeviceError> {
        let mut g = self.inner.session.lock().await;
        let Some((engine, store)) = g.as_mut() else {
            return Err(DeviceError::NotSignedIn);
        };
        self.update(|s| {
            s.phase = "syncing".into();
            s.docs_done = 0;
            s.docs_total = 0;
            s.photo_bytes_sent = 0;
            s.photo_bytes_total = 0;
            s.photos_received = 0;
            s.photo_bytes_received = 0;
        });
        let result = engine.sync(store).await;
        let now = self.inner.clock.now_ms();
        let pending = crate::session::unsynced(store).unwrap_or((0, 0));
        let refused = store.refused_docs().unwrap_or(0) as u32;
        let out = match result {
            Ok(report) => {
                let _ = store.set_meta("sync.last_success_ms", &now.to_string());
                if let Err(e) = crate::session::adopt_reassignment(engine, store, now).await {
                    // The stored account stays the old one: the next
                    // session compares again and retries.
                    tracing::warn!(error = %e, "could not fetch the new district package");
                }
                // Patrol coverage: the days' visited technical grids.
                let patrol_days = crate::patrol_days::upload(engine, store, now).await;
                tracing::info!(
                    docs = report.docs,
                    synced = report.synced,
                    refused = report.refused.len(),
                    photos_received = report.photos_downloaded.len(),
                    photos_not_received = report.photos_not_downloaded.len(),
                    patrol_days,
                    "sync session done"
                );
                make_missing_thumbs(store).await;
                self.update(|s| {
                    s.phase = "idle".into();
                    s.last_success_ms = Some(now);
                    s.last_error = None;
                });
                Ok(report)
            }
            Err(e) => {
                let offline = matches!(&e, SyncError::Network(_))
                    || matches!(&e, SyncError::GaveUp { last, .. } if matches!(**last, SyncError::Network(_)));
                let err = DeviceError::from(e);
                let view = err.view();
                tracing::warn!(code = %view.code, message = %view.message, "sync session failed");
                self.update(|s| {
                    s.phase = if offline {
                        "offline"
                    } else if view.code == "session_expired" {
                        "signed_out"
                    } else {
                        "error"
                    }
                    .into();
                    s.last_error = Some(view);
                });
                Err(err)
            }
        };
        self.update(|s| {
            s.pending_docs = pending.0;
            s.pending_photos = pending.1;
            s.refused_docs = refused;
        });
        out
    }

    /// HTTP traffic of the background engine since sign-in (requests and
    /// body bytes each way).
    pub async fn traffic(&self) -> Traffic {
        match self.inner.session.lock().await.as_ref() {
            Some((engine, _)) => engine.traffic(),
            None => Traffic::default(),
        }
    }

    /// Starts the background loop on the current tokio runtime: a session
    /// when triggered (after each save) and every `every` otherwise, while
    /// signed in. Calling it again does nothing.
    pub fn start(&self, every: Duration) {
        {
            let mut r = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
            if *r {
                return;
            }
            *r = true;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(every, me.inner.trigger.notified()).await;
                if me.status().phase != "signed_out" {
                    me.sync_now().await;
                }
            }
        });
    }
}

/// Marks a photo whose thumbnail could not be made (not tried again).
const META_NO_THUMB: &str = "thumb.failed.";
/// Thumbnails made after one session at most (the rest after the next).
const THUMBS_PER_SESSION: u32 = 200;

/// Makes the thumbnails that received photos lack: those of this session,
/// and any that a crash or a kill left without one.
async fn make_missing_thumbs(store: &mut Store) {
    let todo = match store.photos_without_thumb(META_NO_THUMB, THUMBS_PER_SESSION) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "could not list photos without thumbnails");
            return;
        }
    };
    for sha in todo {
        if let Err(e) = make_thumb(store, &sha).await {
            tracing::warn!(photo = %sha, error = %e, "no thumbnail for a received photo");
            let _ = store.set_meta(&format!("{META_NO_THUMB}{sha}"), &e.to_string());
        }
    }
}

/// Makes and stores the thumbnail of a received photo (on the sync loop's
/// own store connection; the decoding runs off the async threads).
async fn make_thumb(store: &mut Store, sha: &str) -> Result<(), DeviceError> {
    let path = store
        .photo_path(sha)?
        .ok_or_else(|| DeviceError::NotFound(format!("photo {sha}")))?;
    let thumb = tokio::task::spawn_blocking(move || -> Result<_, DeviceError> {
        let bytes = std::fs::read(&path)
            .map_err(|e| DeviceError::Internal(format!("photo {}: {e}", path.display())))?;
        gridpatrol_media::thumbnail(&bytes, &gridpatrol_media::Options::default())
            .map_err(|e| DeviceError::PhotoRefused(e.to_string()))
    })
    .await
    .map_err(|e| DeviceError::Internal(format!("thumbnail task: {e}")))??;
    let meta = store
        .photo_meta(sha)?
        .map(|(m, _)| m)
        .ok_or_else(|| DeviceError::NotFound(format!("photo {sha}")))?;
    let thumb_sha = store.put_photo(&thumb.bytes, &meta)?;
    store.set_thumb(
        sha,
        &gridpatrol_store::Thumb {
            sha256: thumb_sha,
            width: thumb.width,
            height: thumb.height,
        },
    )?;
    Ok(())
}
