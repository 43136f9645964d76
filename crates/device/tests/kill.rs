//! Killed mid-save, a hundred times: a child process (this binary again,
//! with `GRIDPATROL_KILL_CHILD` naming the data directory) opens the
//! device and saves reports with a photo in a loop, printing each case id
//! once its save has returned; the parent SIGKILLs it at a random moment,
//! reopens the same data and checks that nothing is lost or torn. The
//! moments come from a seeded RNG: the seed is printed, and
//! `GRIDPATROL_TEST_SEED=<seed>` replays a run.
//!
//! (`harness = false`: the binary is its own child.)

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash};
use gridpatrol_device::view::{CaseDraft, CaseFilter, SignIn};
use gridpatrol_device::{Device, DeviceConfig, SystemClock};
use rand::{RngExt, SeedableRng};
use sha2::Digest;

/// The child's data directory; set only in the child.
const CHILD_ENV: &str = "GRIDPATROL_KILL_CHILD";
/// Where the child reports from (`lon,lat`).
const POINT_ENV: &str = "GRIDPATROL_KILL_POINT";
/// Replays a run.
const SEED_ENV: &str = "GRIDPATROL_TEST_SEED";
const KILLS: usize = 100;

fn open_device(data: &Path, lon: f64, lat: f64) -> Device {
    Device::open(DeviceConfig {
        data_dir: data.to_path_buf(),
        clock: Arc::new(SystemClock),
        position: Arc::new(common::fixed_at(lon, lat, 0)),
        allow_plain_http: false,
    })
    .expect("the device opens")
}

fn parse_point(s: &str) -> (f64, f64) {
    let (lon, lat) = s.split_once(',').expect("lon,lat");
    (lon.parse().unwrap(), lat.parse().unwrap())
}

/// The child: save reports with a photo until killed.
fn child(data: &Path) -> ! {
    let (lon, lat) = parse_point(&std::env::var(POINT_ENV).expect("the point"));
    let device = open_device(data, lon, lat);
    let position = device.locate().unwrap().position.unwrap();
    let mut out = std::io::stdout().lock();
    // Small photos keep each save quick, so kills land in every phase of it.
    let photos: Vec<Vec<u8>> = (0..4).map(|s| common::camera_jpeg(160, 120, s)).collect();
    for n in 0u64.. {
        let photo = device.add_photo(&photos[(n % 4) as usize]).unwrap();
        let saved = device
            .save_case(CaseDraft {
                category: "02010101".into(),
                position: position.clone(),
                address: format!("第{n}号"),
                description: "井盖破损".into(),
                photos: vec![photo.sha256.clone()],
            })
            .unwrap();
        writeln!(out, "saved {} {}", saved.id, photo.sha256).unwrap();
        out.flush().unwrap();
    }
    unreachable!("the loop ends only when the process is killed")
}

/// Runs one child until killed after `after`; returns the saves it reported.
fn run_child(exe: &Path, data: &Path, point: &str, after: Duration) -> Vec<(String, String)> {
    let mut child = Command::new(exe)
        .env(CHILD_ENV, data)
        .env(POINT_ENV, point)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        // Only whole lines: a line cut by the kill was not reported.
        let mut saves = Vec::new();
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8(line).unwrap();
            if let Some(rest) = line.strip_prefix("saved ") {
                let (id, sha) = rest.split_once(' ').unwrap();
                saves.push((id.to_string(), sha.to_string()));
            }
        }
        saves
    });
    std::thread::sleep(after);
    if let Ok(Some(status)) = child.try_wait() {
        panic!("the child ended by itself before the kill: {status}");
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    // A complete last line with no newline yet is dropped: it was not
    // reported as saved. (The reader sees EOF once the child is gone.)
    reader.join().unwrap()
}

/// Everything the parent checks after a kill.
fn check(data: &Path, db: &Path, point: (f64, f64), reported: &BTreeMap<String, String>) {
    let store = gridpatrol_store::Store::open(db).unwrap();
    store.integrity_check().expect("no torn database");
    let device = open_device(data, point.0, point.1);
    assert!(device.me().is_some(), "still signed in");
    // Every case lists, opens and shows its photo.
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = device
            .list_cases(CaseFilter {
                mine: true,
                after: after.clone(),
                limit: 200,
                ..Default::default()
            })
            .unwrap();
        listed.extend(page.items.into_iter().map(|c| c.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(listed.len() as u64, store.case_count().unwrap());
    for id in &listed {
        let d = device.case_detail(id).expect("every case opens");
        assert_eq!(d.photo_available, vec![true], "case {id}");
        let bytes = device.photo_bytes(&d.photos[0]).unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), d.photos[0]);
    }
    // Every save the child reported is there, with its photo.
    for (id, sha) in reported {
        assert!(listed.contains(id), "reported case {id} is missing");
        assert_eq!(&device.case_detail(id).unwrap().photos, &vec![sha.clone()]);
    }
    // Every document loads; the outbox holds exactly one entry per saved
    // case (nothing was synced), and its heads are in the document.
    let ids = store.document_ids().unwrap();
    assert_eq!(ids.len(), listed.len());
    let outbox = store.outbox_pending(u32::MAX).unwrap();
    assert_eq!(outbox.len(), ids.len(), "one outbox entry per save");
    for e in &outbox {
        let d = store
            .get_document(&e.doc_id)
            .unwrap()
            .expect("outbox names a document");
        let doc = Automerge::load(&d.bytes).expect("the document loads");
        for h in &e.heads {
            assert!(doc.get_change_meta_by_hash(&ChangeHash(*h)).is_some());
        }
    }
    assert_eq!(device.sync_status().pending_docs as usize, ids.len());
}

/// Signs an inspector in once (a loopback server, then gone): the children
/// resume that account offline.
fn sign_in_once(data: &Path) -> (String, (f64, f64), PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, _) = common::first_squad();
    let point = common::inside_grid_of(&inspector);
    rt.block_on(async {
        let srv = common::server(sdir.path(), &district).await;
        let device = open_device(data, point.0, point.1);
        device
            .sign_in(SignIn {
                server: srv.url(),
                user_id: inspector.clone(),
                password: gridpatrol_server::accounts::demo_password(&inspector),
            })
            .await
            .unwrap();
        srv.shutdown().await.unwrap();
    });
    let db = data.join("accounts").join(&inspector).join("gridpatrol.db");
    (inspector, point, db)
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let seed: u64 = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("GRIDPATROL_TEST_SEED is a number"),
        Err(_) => rand::random(),
    };
    println!("kill mid-save: seed {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, point, db) = sign_in_once(&data);
    let exe = std::env::current_exe().unwrap();
    let point_arg = format!("{},{}", point.0, point.1);

    // How long a child takes to open the device: kills land from just
    // after that to a few saves later.
    let started = Instant::now();
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    let mut saves_seen = 0;
    for round in 0..KILLS {
        let after = Duration::from_millis(rng.random_range(20..400));
        let saves = run_child(&exe, &data, &point_arg, after);
        saves_seen += saves.len();
        reported.extend(saves);
        check(&data, &db, point, &reported);
        if round % 10 == 9 {
            println!(
                "  {} kills, {} saves reported, {:.1} s",
                round + 1,
                saves_seen,
                started.elapsed().as_secs_f64()
            );
        }
    }
    assert!(
        saves_seen > 0,
        "no child got as far as a save: the test proves nothing"
    );
    println!("kill mid-save: ok ({KILLS} kills, {saves_seen} saves, seed {seed})");
}
