//! Running the real `gridpatrol` binary from tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

/// A command for the `gridpatrol` binary under test.
pub fn gridpatrol() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
}

/// `gridpatrol init --demo --data DIR`; panics with its stderr on failure.
pub fn init_demo(dir: &Path) -> serde_json::Value {
    let out = gridpatrol()
        .args(["init", "--demo", "--data"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts `gridpatrol serve` on a free loopback port. Returns the process,
/// its `host:port` (from the first log line) and the rest of its log.
pub fn serve(dir: &Path) -> (Child, String, BufReader<ChildStderr>) {
    serve_with(dir, &[])
}

/// [`serve`] with extra environment variables.
pub fn serve_with(dir: &Path, env: &[(&str, &str)]) -> (Child, String, BufReader<ChildStderr>) {
    let mut cmd = gridpatrol();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .filter(|a| a.parse::<std::net::SocketAddr>().is_ok())
        .unwrap_or_else(|| panic!("no listening address in {line:?}"))
        .to_string();
    (child, addr, err)
}

/// A patrol report of `category` by demo inspector I0001 at a point inside
/// the first technical grid of their own supervision grid.
pub fn demo_report(category: &str, n: usize, created_at_ms: i64) -> gridpatrol_docs::Report {
    use geo::InteriorPoint;
    let demo = gridpatrol_district::DemoDistrict::get();
    let me = demo.district.inspector("I0001").unwrap();
    let tg = demo
        .district
        .technical_grids
        .iter()
        .find(|g| g.supervision_grid == me.supervision_grid)
        .unwrap();
    let at = demo
        .grid_geometry(&tg.code)
        .unwrap()
        .interior_point()
        .unwrap();
    gridpatrol_docs::Report {
        category: category.into(),
        lon: at.x(),
        lat: at.y(),
        accuracy_m: 6.0,
        technical_grid: tg.code.clone(),
        supervision_grid: tg.supervision_grid.clone(),
        street: tg.street.clone(),
        address: format!("测试路{n}号"),
        description: format!("测试问题 {n}"),
        photos: vec![],
        reporter: me.id.clone(),
        source: gridpatrol_docs::Source::Patrol,
        created_at_ms,
    }
}

/// `n` reports by I0001 (ids `<prefix>-NNN`), the first `with_photo` with a
/// 20 kB photo, made on a device stored in `dir` and synced in two sessions
/// until the server confirmed every case and photo. Returns the case ids
/// and the photos (hash, bytes).
pub async fn synced_cases(
    url: &str,
    dir: &Path,
    prefix: &str,
    n: usize,
    with_photo: usize,
) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    use gridpatrol_device::local;
    use gridpatrol_store::Store;
    use gridpatrol_sync::{SyncConfig, SyncEngine};
    let mut store = Store::open(&dir.join(format!("{prefix}-device.db"))).unwrap();
    let mut cfg = SyncConfig::new(url, "I0001", "patrol-I0001");
    cfg.batch_docs = 4;
    let mut engine = SyncEngine::new(cfg).unwrap();
    let meta = gridpatrol_store::PhotoMeta {
        mime: "image/jpeg".into(),
        taken_at_ms: 1,
        lon: None,
        lat: None,
    };
    let (mut ids, mut photos) = (Vec::new(), Vec::new());
    // Two sessions, so acknowledged data is spread over many commits.
    for half in 0..2 {
        for i in (half * n / 2)..((half + 1) * n / 2) {
            let id = format!("{prefix}-{i:03}");
            let mut report = demo_report("02080101", i, 1_790_000_000_000 + i as i64);
            if i < with_photo {
                let bytes: Vec<u8> = (0..20_000u32)
                    .map(|b| (b * 7 + i as u32) as u8 ^ prefix.len() as u8)
                    .collect();
                let sha = store.put_photo(&bytes, &meta).unwrap();
                report.photos = vec![sha.clone()];
                photos.push((sha, bytes));
            }
            local::create_case(&mut store, &id, &report, 1_790_000_000_000).unwrap();
            ids.push(id);
        }
        let r = engine.sync(&mut store).await.unwrap();
        assert!(r.failed.is_empty() && r.refused.is_empty(), "{r:?}");
    }
    assert_eq!(store.pending_docs().unwrap(), 0, "every case acknowledged");
    assert_eq!(
        gridpatrol_sync::pending_photos(&store).unwrap(),
        0,
        "every photo acknowledged"
    );
    (ids, photos)
}
