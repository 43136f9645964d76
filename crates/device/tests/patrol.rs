//! Patrol coverage end to end through the `Device` facade against a real
//! server on loopback: an inspector patrols with the server gone, the sync
//! after it comes back uploads the day's visited technical grids (only
//! those of the inspector's grid), and the squad leader's KPI screen
//! counts them as patrol coverage; a server restored from a backup taken
//! before gets them again at the next sync.

use std::sync::Arc;

use geo::Centroid;

mod common;

use common::{first_squad, open_device, server, sign_in_demo};
use gridpatrol_device::view::*;
use gridpatrol_device::{Device, FilePosition, SystemClock};
use gridpatrol_district::DemoDistrict;

struct App {
    device: Device,
    position_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl App {
    async fn signed_in(url: &str, user: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let position_file = dir.path().join("fix.json");
        let device = open_device(
            dir.path(),
            Arc::new(SystemClock),
            Arc::new(FilePosition(position_file.clone())),
        );
        sign_in_demo(&device, url, user).await;
        App {
            device,
            position_file,
            _dir: dir,
        }
    }

    /// Stands at the centre of technical grid `k` and records a track point.
    fn walk_to(&self, k: usize) -> PatrolView {
        let c = DemoDistrict::get().geometry[k].centroid().unwrap();
        std::fs::write(
            &self.position_file,
            format!(r#"{{"lon":{},"lat":{},"accuracy_m":5}}"#, c.x(), c.y()),
        )
        .unwrap();
        self.device.track_point().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patrol_recorded_offline_uploads_at_the_next_sync_and_counts_as_coverage() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();
    let insp = App::signed_in(&url, &inspector).await;

    let d = &DemoDistrict::get().district;
    let grid = d.inspector(&inspector).unwrap().supervision_grid.clone();
    let mine: Vec<usize> = (0..d.technical_grids.len())
        .filter(|&k| d.technical_grids[k].supervision_grid == grid)
        .collect();
    // A cell of another grid next door: walking to the grid crosses it.
    let street = &d.technical_grids[mine[0]].street;
    let other = (0..d.technical_grids.len())
        .find(|&k| {
            let t = &d.technical_grids[k];
            &t.street == street && t.supervision_grid != grid
        })
        .expect("the street has another grid");

    // A backup taken before the patrol (restored at the end).
    let backup_file = sdir.path().join("before-patrol.tar");
    let (data, file) = (sdir.path().to_path_buf(), backup_file.clone());
    tokio::task::spawn_blocking(move || {
        gridpatrol_server_storage_sqlite::backup::backup(&data, &file, &mut |_| {})
    })
    .await
    .unwrap()
    .unwrap();

    // The server goes away; the patrol goes on.
    let state = srv.state.clone();
    let addr = url.trim_start_matches("http://").to_string();
    srv.shutdown().await.unwrap();
    insp.device.start_patrol().unwrap();
    insp.walk_to(other);
    insp.walk_to(mine[0]);
    insp.walk_to(mine[1]);
    let view = insp.walk_to(mine[0]);
    assert_eq!(
        (view.visited, view.total as usize),
        (2, mine.len()),
        "{view:?}"
    );
    insp.device.end_patrol().unwrap();
    let st = insp.device.sync_now().await;
    assert_eq!(st.phase, "offline", "{st:?}");

    // Back online: the day's grids go up with the sync.
    let srv = gridpatrol_server::spawn_server(state, &addr).await.unwrap();
    let st = insp.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    // A second session sends nothing new and changes nothing.
    insp.device.sync_now().await;

    let want = 2.0 / mine.len() as f64 / working_days_so_far();
    let coverage_seen = |srv_url: String| {
        let leader = leader.clone();
        let inspector = inspector.clone();
        async move {
            let lead = App::signed_in(&srv_url, &leader).await;
            let month = gridpatrol_quality::Month::of_ms(gridpatrol_server::now_ms());
            let kpi = lead
                .device
                .quality_kpi(Some(month.to_string()))
                .await
                .unwrap();
            let k = kpi
                .inspectors
                .iter()
                .find(|k| k.id == inspector)
                .unwrap()
                .clone();
            (kpi, k)
        }
    };
    let (kpi, k) = coverage_seen(srv.url()).await;
    let got = k.coverage.expect("a grid inspector has a coverage");
    assert!((got - want).abs() < 1e-9, "coverage {got}, want {want}");
    assert_eq!(k.patrol_days, 1);
    // Nobody else of the squad patrolled.
    assert!(kpi
        .inspectors
        .iter()
        .filter(|k| k.id != inspector && k.id != leader)
        .all(|k| k.coverage == Some(0.0) && k.patrol_days == 0));
    let squad = kpi.squad.expect("my squad's line");
    let members = kpi
        .inspectors
        .iter()
        .filter(|k| k.coverage.is_some())
        .count();
    assert!(
        (squad.coverage.unwrap() - want / members as f64).abs() < 1e-9,
        "{squad:?}"
    );

    // The server is restored from the backup taken before the patrol (a new
    // epoch, no patrol day): the inspector's next sync sends the day again.
    srv.shutdown().await.unwrap();
    let restored = sdir.path().join("restored");
    let (file, dir) = (backup_file.clone(), restored.clone());
    let store = tokio::task::spawn_blocking(move || {
        gridpatrol_server_storage_sqlite::backup::restore(&file, &dir, false, &mut |_| {}).unwrap();
        gridpatrol_server_storage_sqlite::SqliteStore::open(&dir).unwrap()
    })
    .await
    .unwrap();
    let state = gridpatrol_server::AppState::in_dir(Arc::new(store), Default::default(), &restored);
    let srv = gridpatrol_server::spawn_server(state, &addr).await.unwrap();
    let (_, k) = coverage_seen(srv.url()).await;
    assert_eq!(k.coverage, Some(0.0), "the restored server lacks the day");
    let st = insp.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    let (_, k) = coverage_seen(srv.url()).await;
    let got = k.coverage.unwrap();
    assert!(
        (got - want).abs() < 1e-9,
        "after the restore: coverage {got}, want {want}"
    );
}

/// The working days of this month so far (Beijing): its day of the month.
fn working_days_so_far() -> f64 {
    let today = gridpatrol_server::patrol::beijing_day(gridpatrol_server::now_ms());
    f64::from(chrono::Datelike::day(&today))
}
