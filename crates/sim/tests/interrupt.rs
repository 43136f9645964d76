//! Interrupted sync resumes with nothing lost or duplicated: connections cut
//! mid-request by the fault proxy, and the server stopped and restarted on
//! the same data directory mid-sync. Plus the simulator end to end.

use std::sync::Arc;
use std::time::Duration;

use gridpatrol_device::local;
use gridpatrol_docs::{Report, Source};
use gridpatrol_domain::district::{District, Inspector, InspectorKind, Squad};
use gridpatrol_domain::roles::Role;
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::{spawn_test_server, RunningServer};
use gridpatrol_server_storage::ServerStore;
use gridpatrol_sim::{FaultProxy, SimConfig};
use gridpatrol_store::{Store, SyncState};
use gridpatrol_sync::{RetryPolicy, SyncConfig, SyncEngine};

const G1: &str = "110105001001";
const CHEAP: HashCost = HashCost { m_kib: 64, t: 1 };

fn tiny() -> District {
    let person = |id: &str, role| Inspector {
        id: id.into(),
        name: format!("name-{id}"),
        squad: "S01".into(),
        supervision_grid: G1.into(),
        kind: InspectorKind::Grid,
        role,
    };
    District {
        streets: vec![],
        supervision_grids: vec![],
        technical_grids: vec![],
        squads: vec![Squad {
            id: "S01".into(),
            name: "第01分队".into(),
            leader: "I0003".into(),
            supervision_grids: vec![G1.into()],
        }],
        inspectors: vec![
            person("I0001", Role::Inspector),
            person("I0003", Role::SquadLeader),
        ],
    }
}

async fn server(dir: &std::path::Path, district: &District) -> RunningServer {
    let srv = spawn_test_server(dir).await.unwrap();
    let store: Arc<dyn ServerStore> = srv.state.store.clone();
    accounts::load_district(store.as_ref(), district, &["C0001"], CHEAP, 2).unwrap();
    srv
}

fn engine(url: &str, user: &str) -> SyncEngine {
    let mut cfg = SyncConfig::new(url, user, &accounts::demo_password(user));
    cfg.retry = RetryPolicy {
        max_attempts: 40,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
    cfg.batch_docs = 7; // several requests per round, so cuts land between them
    SyncEngine::new(cfg).unwrap()
}

fn report(i: usize) -> Report {
    Report {
        category: "02010101".into(),
        lon: 116.44,
        lat: 39.92,
        accuracy_m: 5.0,
        technical_grid: format!("{G1}001"),
        supervision_grid: G1.into(),
        street: G1[..9].into(),
        address: format!("地址{i}"),
        description: format!("问题{i}"),
        photos: vec![],
        reporter: "I0001".into(),
        source: Source::Patrol,
        created_at_ms: 1_700_000_000_000 + i as i64,
    }
}

/// The centre fetches everything directly; every device case must be there
/// with the same heads, and nothing else.
async fn assert_server_matches(url: &str, device: &mut Store, ids: &[String]) {
    let mut centre_store = Store::open_in_memory().unwrap();
    let mut centre = engine(url, "C0001");
    let r = centre.sync(&mut centre_store).await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(
        centre_store.case_count().unwrap(),
        ids.len() as u64,
        "duplicated or lost"
    );
    for id in ids {
        let mine = local::load_case(device, id).unwrap().unwrap();
        let theirs = local::load_case(&mut centre_store, id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} lost"));
        assert_eq!(mine.doc().get_heads(), theirs.doc().get_heads(), "{id}");
        assert_eq!(
            device.get_document(id).unwrap().unwrap().sync_state,
            SyncState::Synced
        );
    }
    assert!(device.outbox_pending(10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_resume_with_nothing_lost_or_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path(), &tiny()).await;
    let proxy = FaultProxy::start(srv.addr, 0.35, 7).await.unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let mut ids = Vec::new();
    for i in 0..40 {
        let id = format!("case-{i}");
        local::create_case(&mut store, &id, &report(i), 1).unwrap();
        ids.push(id);
    }
    let mut dev = engine(&proxy.url(), "I0001");
    let mut reports = Vec::new();
    loop {
        let r = dev.sync(&mut store).await.unwrap();
        let done = r.failed.is_empty();
        reports.push(r);
        if done {
            break;
        }
        assert!(reports.len() < 10, "{reports:?}");
    }
    assert!(
        proxy.cuts() > 0,
        "the proxy must actually have cut something"
    );
    assert!(reports.iter().map(|r| r.attempts).sum::<u32>() > 1);
    assert_server_matches(&srv.url(), &mut store, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restarted_mid_sync_on_the_same_data_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let district = tiny();
    let srv = server(dir.path(), &district).await;
    let proxy = FaultProxy::start(srv.addr, 0.0, 1).await.unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let mut ids = Vec::new();
    for i in 0..60 {
        let id = format!("case-{i}");
        local::create_case(&mut store, &id, &report(i), 1).unwrap();
        ids.push(id);
    }
    let url = proxy.url();
    let task = tokio::spawn(async move {
        let mut dev = engine(&url, "I0001");
        let r = dev.sync(&mut store).await;
        (store, dev, r)
    });
    // Kill the link and the server while the device is in the middle of it.
    tokio::time::sleep(Duration::from_millis(60)).await;
    proxy.set_fault_rate(0.999);
    srv.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let srv = spawn_test_server(dir.path()).await.unwrap();
    proxy.set_upstream(srv.addr);
    proxy.set_fault_rate(0.0);
    let (mut store, mut dev, r) = task.await.unwrap();
    let r = r.unwrap();
    if !r.failed.is_empty() {
        dev.sync(&mut store).await.unwrap();
    }
    assert_server_matches(&srv.url(), &mut store, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_converges_through_faults_with_photos() {
    let dir = tempfile::tempdir().unwrap();
    let demo = &gridpatrol_district::DemoDistrict::get().district;
    let srv = server(dir.path(), demo).await;
    let mut cfg = SimConfig::new(&srv.url(), 4, 12);
    cfg.photos = 1;
    cfg.faults = 0.2;
    cfg.seed = 3;
    let r = gridpatrol_sim::run(&cfg).await.unwrap();
    assert!(r.converged, "{r:?}");
    assert_eq!((r.cases, r.lost, r.duplicated, r.diverged), (12, 0, 0, 0));
    // Every photo reached the server; one whose answer was cut is found
    // complete by the next HEAD and not sent again, so ≤ 12 uploads.
    assert_eq!(r.photos_missing, 0, "{r:?}");
    assert!(r.photos_uploaded <= 12 && r.photos_uploaded > 0, "{r:?}");
    assert!(r.round_trips > 0 && r.bytes_up > 0 && r.bytes_down > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_session_leaves_cases_local_only_and_keeps_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path(), &tiny()).await;
    let proxy = FaultProxy::start(srv.addr, 0.0, 5).await.unwrap();
    let mut store = Store::open_in_memory().unwrap();
    local::create_case(&mut store, "case-x", &report(1), 1).unwrap();
    let mut dev = engine(&proxy.url(), "I0001");
    dev.login().await.unwrap();
    proxy.set_fault_rate(0.999);
    assert!(dev.sync_once(&mut store).await.unwrap_err().is_transient());
    assert_eq!(
        store.get_document("case-x").unwrap().unwrap().sync_state,
        SyncState::LocalOnly
    );
    assert_eq!(store.outbox_pending(10).unwrap().len(), 1);
    proxy.set_fault_rate(0.0);
    dev.sync(&mut store).await.unwrap();
    assert_server_matches(&srv.url(), &mut store, &["case-x".to_string()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_upload_cut_mid_way_resumes_and_the_server_gets_the_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path(), &tiny()).await;
    let proxy = FaultProxy::start(srv.addr, 0.3, 11).await.unwrap();
    let devdir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&devdir.path().join("d.db")).unwrap();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = store
        .put_photo(
            &bytes,
            &gridpatrol_store::PhotoMeta {
                mime: "image/jpeg".into(),
                taken_at_ms: 1,
                lon: None,
                lat: None,
            },
        )
        .unwrap();
    let mut r = report(1);
    r.photos = vec![sha.clone()];
    local::create_case(&mut store, "case-p", &r, 1).unwrap();
    let mut cfg = SyncConfig::new(&proxy.url(), "I0001", "patrol-I0001");
    cfg.photo_chunk = 16 * 1024; // many PUTs, so cuts land inside the upload
    cfg.retry = RetryPolicy {
        max_attempts: 60,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    };
    let mut dev = SyncEngine::new(cfg).unwrap();
    for _ in 0..10 {
        if dev.sync(&mut store).await.unwrap().failed.is_empty()
            && gridpatrol_sync::photo_uploaded(&store, &sha).unwrap()
        {
            break;
        }
    }
    assert!(gridpatrol_sync::photo_uploaded(&store, &sha).unwrap());
    assert!(dev.traffic().photos_uploaded <= 1);
    // Resumed, not restarted: far fewer photo bytes sent than a restart per cut.
    assert!(
        dev.traffic().bytes_up < 3 * bytes.len() as u64,
        "{:?}",
        dev.traffic()
    );
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{}/v1/login", srv.url()))
        .json(&serde_json::json!({"user_id": "I0001", "password": "patrol-I0001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got = http
        .get(format!("{}/v1/photos/{sha}", srv.url()))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
}
