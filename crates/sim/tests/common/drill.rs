//! The server side of a restore drill, in process: a test server on a
//! temporary data directory, backed up and restored with the real
//! `gridpatrol_server_storage_sqlite::backup` (shared by the drill test and
//! the district-scale bench).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::RunningServer;
use gridpatrol_server_storage_sqlite::backup;
use gridpatrol_sim::{DrillFuture, RestoreDrill};

/// Backs up and restores the in-process server's data directory.
pub struct ServerDrill {
    live: PathBuf,
    restored: PathBuf,
    file: PathBuf,
    server: tokio::sync::Mutex<Option<RunningServer>>,
    /// Backup and restore figures by name.
    pub figures: Mutex<serde_json::Map<String, serde_json::Value>>,
}

impl ServerDrill {
    /// A server with the demo district's accounts (cheap hashes) in
    /// `root/live`; returns the drill and the server's URL.
    pub async fn start(root: &Path) -> (Arc<ServerDrill>, String) {
        let live = root.join("live");
        let server = gridpatrol_server::spawn_test_server(&live).await.unwrap();
        let district = &gridpatrol_district::DemoDistrict::get().district;
        accounts::load_district(
            server.state.store.as_ref(),
            district,
            &["C0001"],
            HashCost { m_kib: 64, t: 1 },
            2,
        )
        .unwrap();
        let url = server.url();
        let drill = Arc::new(ServerDrill {
            live,
            restored: root.join("restored"),
            file: root.join("backup.tar"),
            server: tokio::sync::Mutex::new(Some(server)),
            figures: Mutex::new(serde_json::Map::new()),
        });
        (drill, url)
    }

    /// A recorded figure.
    pub fn figure(&self, k: &str) -> serde_json::Value {
        self.figures
            .lock()
            .unwrap()
            .get(k)
            .cloned()
            .unwrap_or_default()
    }

    fn note(&self, k: &str, v: serde_json::Value) {
        self.figures.lock().unwrap().insert(k.into(), v);
    }

    /// Stops whichever server runs.
    pub async fn stop(&self) {
        if let Some(s) = self.server.lock().await.take() {
            s.shutdown().await.unwrap();
        }
    }
}

impl RestoreDrill for ServerDrill {
    fn backup(&self) -> DrillFuture<'_, ()> {
        Box::pin(async move {
            let (live, file) = (self.live.clone(), self.file.clone());
            let t = Instant::now();
            let m = tokio::task::spawn_blocking(move || backup::backup(&live, &file, &mut |_| {}))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            self.note("backup_seconds", t.elapsed().as_secs_f64().into());
            self.note("backup_cases", m.counts.cases.into());
            self.note("backup_photos", m.photos.len().into());
            let bytes = std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
            self.note("backup_mib", (bytes / 1_048_576).into());
            Ok(())
        })
    }

    fn restore(&self) -> DrillFuture<'_, SocketAddr> {
        Box::pin(async move {
            if let Some(s) = self.server.lock().await.take() {
                s.shutdown().await.map_err(|e| e.to_string())?;
            }
            let (file, restored) = (self.file.clone(), self.restored.clone());
            let t = Instant::now();
            tokio::task::spawn_blocking(move || {
                backup::restore(&file, &restored, false, &mut |_| {})
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            self.note("restore_seconds", t.elapsed().as_secs_f64().into());
            let s = gridpatrol_server::spawn_test_server(&self.restored)
                .await
                .map_err(|e| e.to_string())?;
            let held = s.state.store.doc_count().map_err(|e| e.to_string())?;
            self.note("restored_server_docs", held.into());
            let addr = s.addr;
            *self.server.lock().await = Some(s);
            Ok(addr)
        })
    }
}
