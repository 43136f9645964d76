//! The restore drill at district scale: the simulator's devices (one per
//! demo inspector) sync half a day of cases into an in-process server, the
//! server is backed up while it runs, the devices sync the other half, the
//! server is stopped and restored from the backup (so it lacks the second
//! half), and the devices — nobody telling them anything — must notice and
//! send it all again. The centre then checks the server against every
//! device. Prints one JSON line: the simulator's result (with
//! `drill.recover_seconds`) plus backup and restore figures.
//!
//! `cargo bench -p gridpatrol-sim --bench restore_drill`
//! (env `CASES`, default 25000; `INSPECTORS`, default 1547; `PHOTOS` per case, default 0).

#[path = "../tests/common/drill.rs"]
mod drill;

use gridpatrol_sim::SimConfig;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cases = env("CASES", 25_000);
    let inspectors = env("INSPECTORS", 1547);
    let photos = env("PHOTOS", 0);
    let root = tempfile::tempdir().unwrap();
    let (drill, url) = drill::ServerDrill::start(root.path()).await;
    let mut cfg = SimConfig::new(&url, inspectors, cases);
    cfg.photos = photos;
    cfg.drill = Some(gridpatrol_sim::Drill(drill.clone()));
    let r = gridpatrol_sim::run(&cfg).await.unwrap();
    let mut out = serde_json::to_value(&r).unwrap();
    for (k, v) in drill.figures.lock().unwrap().iter() {
        out[k] = v.clone();
    }
    println!("{out}");
    drill.stop().await;
    assert!(
        r.converged,
        "the restored server must hold everything again"
    );
}
