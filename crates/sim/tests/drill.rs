//! The restore drill, small: devices sync half their cases (with photos),
//! the server is backed up, the other half syncs, the server is restored
//! from the backup, and every device notices on its own and sends back
//! what the restored server lacks — nothing lost, nothing duplicated.

mod common;

use common::drill::ServerDrill;
use gridpatrol_sim::{Drill, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_refill_a_server_restored_from_the_midday_backup() {
    let root = tempfile::tempdir().unwrap();
    let (drill, url) = ServerDrill::start(root.path()).await;
    let mut cfg = SimConfig::new(&url, 12, 120);
    cfg.photos = 1;
    cfg.faults = 0.1;
    // Where the proxy cuts is random: print the seed, replay it with
    // GRIDPATROL_TEST_SEED=<seed>.
    cfg.seed = std::env::var("GRIDPATROL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("GRIDPATROL_TEST_SEED={}", cfg.seed);
    cfg.drill = Some(Drill(drill.clone()));
    let r = gridpatrol_sim::run(&cfg).await.unwrap();
    drill.stop().await;
    assert_eq!(
        drill.figure("backup_cases"),
        60,
        "the backup holds the first half"
    );
    assert_eq!(
        drill.figure("restored_server_docs"),
        60,
        "the restore lost the second half"
    );
    let d = r.drill.as_ref().unwrap();
    assert_eq!(d.devices_recovered, 12, "{r:?}");
    assert!(r.converged, "seed {}: {r:?}", cfg.seed);
    assert_eq!((r.lost, r.duplicated, r.photos_missing), (0, 0, 0), "{r:?}");
}
