//! The real `gridpatrol serve` process killed with SIGKILL while a device is
//! in the middle of syncing, then started again on the same data directory:
//! the device's session resumes and every case reaches the server exactly
//! once, identical to the device's copy.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::{demo_report, init_demo, serve};
use gridpatrol_device::local;
use gridpatrol_sim::FaultProxy;
use gridpatrol_store::Store;
use gridpatrol_sync::{RetryPolicy, SyncConfig, SyncEngine};

const CASES: usize = 400;

/// `gridpatrol serve` whose log is drained so it never blocks on the pipe.
fn start(dir: &Path) -> (Child, SocketAddr) {
    let (child, addr, mut log) = serve(dir);
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    (child, addr.parse().unwrap())
}

fn engine(url: &str, user: &str) -> SyncEngine {
    let mut cfg = SyncConfig::new(url, user, &format!("patrol-{user}"));
    // Small batches: many requests, so the kill lands between and inside them.
    cfg.batch_docs = 5;
    cfg.retry = RetryPolicy {
        max_attempts: 60,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    SyncEngine::new(cfg).unwrap()
}

/// `CASES` offline reports by demo inspector I0001 inside their own grid.
fn offline_device() -> (Store, Vec<String>) {
    let mut store = Store::open_in_memory().unwrap();
    let mut ids = Vec::new();
    for i in 0..CASES {
        let id = format!("kill-{i:04}");
        let report = demo_report("02080101", i, 1_790_000_000_000 + i as i64);
        local::create_case(&mut store, &id, &report, 1_790_000_000_000).unwrap();
        ids.push(id);
    }
    (store, ids)
}

/// Counter `name` from the server's `/metrics`, 0 when unreachable.
async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let Ok(r) = reqwest::get(format!("http://{addr}/metrics")).await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_sync_and_restarted_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    init_demo(dir.path());
    let (mut first, addr) = start(dir.path());
    let proxy = FaultProxy::start(addr, 0.0, 1).await.unwrap();
    let (store, ids) = offline_device();

    let url = proxy.url();
    let device = tokio::spawn(async move {
        let mut store = store;
        let mut dev = engine(&url, "I0001");
        let r = dev.sync(&mut store).await;
        (store, dev, r)
    });
    // Kill once some, but not all, cases are stored: mid-session.
    let mut stored = 0;
    for _ in 0..2_000 {
        stored = metric(addr, "gridpatrol_docs_stored_total").await;
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().unwrap(); // SIGKILL: no graceful shutdown, no flush
    first.wait().unwrap();
    assert!(
        stored > 0 && (stored as usize) < CASES,
        "kill must land mid-sync; {stored} of {CASES} stored"
    );

    // The device keeps retrying into a dead port; then the server is back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut second, addr2) = start(dir.path());
    proxy.set_upstream(addr2);
    let (mut store, mut dev, r) = device.await.unwrap();
    let r = r.expect("the session resumes after the restart");
    if !r.failed.is_empty() {
        dev.sync(&mut store).await.unwrap();
    }

    // Every case once on the server, each identical to the device's copy.
    let mut centre_store = Store::open_in_memory().unwrap();
    let mut centre = engine(&format!("http://{addr2}"), "C0001");
    let r = centre.sync(&mut centre_store).await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(centre_store.case_count().unwrap(), CASES as u64);
    for id in &ids {
        let mine = local::load_case(&mut store, id).unwrap().unwrap();
        let theirs = local::load_case(&mut centre_store, id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} lost"));
        assert_eq!(mine.doc().get_heads(), theirs.doc().get_heads(), "{id}");
        assert_eq!(mine.read().unwrap(), theirs.read().unwrap(), "{id}");
    }
    // And the device agrees nothing is left to send.
    let again = dev.sync(&mut store).await.unwrap();
    assert!(again.failed.is_empty(), "{again:?}");
    // Cases stored before the kill are not stored again (more may have been
    // committed between our last look and the kill, hence at most).
    let after = metric(addr2, "gridpatrol_docs_stored_total").await;
    assert!(
        after > 0 && after <= CASES as u64 - stored,
        "stored after restart: {after}, before the kill at least {stored}"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}
