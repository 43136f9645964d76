//! Fixture: a tiny district served on 127.0.0.1:0, and devices with their own stores.
#![allow(dead_code)]

use std::sync::Arc;

use gridpatrol_docs::{Report, Source};
use gridpatrol_domain::district::{District, Inspector, InspectorKind, Squad};
use gridpatrol_domain::roles::Role;
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::{spawn_test_server, RunningServer};
use gridpatrol_server_storage::ServerStore;
use gridpatrol_store::Store;
use gridpatrol_sync::{RetryPolicy, SyncConfig, SyncEngine};

/// Supervision grid shared by I0001 and I0002 (squad S01).
pub const G1: &str = "110105001001";
/// Another grid of squad S02.
pub const G3: &str = "110105002001";

fn person(id: &str, squad: &str, grid: &str, role: Role) -> Inspector {
    Inspector {
        id: id.into(),
        name: format!("name-{id}"),
        squad: squad.into(),
        supervision_grid: grid.into(),
        kind: InspectorKind::Grid,
        role,
    }
}

/// S01: I0001 and I0002 patrol G1, I0003 leads. S02: I0004 in G3, I0005 leads.
pub fn district() -> District {
    District {
        streets: vec![],
        supervision_grids: vec![],
        technical_grids: vec![],
        squads: vec![
            Squad {
                id: "S01".into(),
                name: "第01分队".into(),
                leader: "I0003".into(),
                supervision_grids: vec![G1.into()],
            },
            Squad {
                id: "S02".into(),
                name: "第02分队".into(),
                leader: "I0005".into(),
                supervision_grids: vec![G3.into()],
            },
        ],
        inspectors: vec![
            person("I0001", "S01", G1, Role::Inspector),
            person("I0002", "S01", G1, Role::Inspector),
            person("I0003", "S01", G1, Role::SquadLeader),
            person("I0004", "S02", G3, Role::Inspector),
            person("I0005", "S02", G3, Role::SquadLeader),
        ],
    }
}

/// Starts a server on `dir`, loading the accounts (cheap argon2 cost).
pub async fn server(dir: &std::path::Path) -> RunningServer {
    let server = spawn_test_server(dir).await.unwrap();
    let store: Arc<dyn ServerStore> = server.state.store.clone();
    accounts::load_district(
        store.as_ref(),
        &district(),
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        1,
    )
    .unwrap();
    server
}

/// A device: its own store and an engine logged in as `user`.
pub struct Device {
    pub store: Store,
    pub engine: SyncEngine,
}

/// The engine settings of `user`'s devices: quick retries.
fn config(url: &str, user: &str) -> SyncConfig {
    let mut cfg = SyncConfig::new(url, user, &accounts::demo_password(user));
    cfg.retry = RetryPolicy {
        max_attempts: 6,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
    };
    cfg
}

pub fn device(url: &str, user: &str) -> Device {
    Device {
        store: Store::open_in_memory().unwrap(),
        engine: SyncEngine::new(config(url, user)).unwrap(),
    }
}

/// A device keeping its store (and so its photos) in `dir`, downloading at
/// most `photo_budget` photo bytes per session.
pub fn device_on_disk(url: &str, user: &str, dir: &std::path::Path, photo_budget: u64) -> Device {
    let mut cfg = config(url, user);
    cfg.photo_download_budget = photo_budget;
    Device {
        store: Store::open(&dir.join("gridpatrol.db")).unwrap(),
        engine: SyncEngine::new(cfg).unwrap(),
    }
}

pub fn report(reporter: &str, grid: &str, description: &str) -> Report {
    Report {
        category: "02010101".into(),
        lon: 116.4432,
        lat: 39.9219,
        accuracy_m: 6.0,
        technical_grid: format!("{grid}001"),
        supervision_grid: grid.into(),
        street: grid[..9].into(),
        address: "朝外大街12号".into(),
        description: description.into(),
        photos: vec![],
        reporter: reporter.into(),
        source: Source::Patrol,
        created_at_ms: 1_700_000_000_000,
    }
}
