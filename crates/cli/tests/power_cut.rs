//! What the server acknowledged survives a power cut.
//!
//! A real power cut is impossible here, so the test simulates one honestly:
//! `gridpatrol serve` runs under an LD_PRELOAD shim (`crashsim/crashsim.c`)
//! that logs, before each write under the data directory, the bytes it
//! overwrites, and logs every fsync. Devices sync cases with photos and get
//! their answers; the server is SIGKILLed; the log is replayed backwards to
//! undo every write, file creation and rename that no later fsync (of the
//! file, or of the directory for names) made durable — the disk a power cut
//! leaves when no unflushed page reached it. Then the data directory is
//! opened again and every acknowledged case and photo must be there.
//!
//! The same run with `durable_acks = false` (the setting before durable
//! acknowledgements) must lose acknowledged cases: that proves the
//! simulation can tell the difference.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::{init_demo, serve_with, synced_cases};
use gridpatrol_server_storage::{PhotoStatus, ServerStore};
use gridpatrol_server_storage_sqlite::SqliteStore;

const CASES: usize = 24;
const WITH_PHOTO: usize = 6;

/// Builds the shim with the C compiler Rust links with.
fn build_shim(out: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crashsim/crashsim.c");
    let so = out.join("libcrashsim.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(&so)
        .arg(&src)
        .args(["-ldl", "-lpthread"])
        .status()
        .expect("a C compiler (cc) to build the power-cut shim");
    assert!(status.success(), "building {}", src.display());
    so
}

/// One change the replay may undo.
enum Op {
    Write {
        path: String,
        off: u64,
        size: u64,
        old: Vec<u8>,
    },
    Truncate {
        path: String,
        to: u64,
        size: u64,
        tail: Vec<u8>,
    },
    Create {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
}

fn parent(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(d, _)| d)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn u32(&mut self) -> usize {
        u32::from_le_bytes(self.take(4).try_into().unwrap()) as usize
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u32();
        String::from_utf8(self.take(n).to_vec()).unwrap()
    }
}

/// What the replay undid.
#[derive(Debug, Default)]
struct Undone {
    writes: usize,
    creations: usize,
    renames: usize,
    durable: usize,
}

/// Replays the shim's log: undoes, newest first, what was not made durable.
fn power_cut(log: &Path) -> Undone {
    let bytes = std::fs::read(log).unwrap();
    let mut r = Reader(&bytes);
    let mut ops: Vec<(Op, bool)> = Vec::new();
    let mut pending_data: HashMap<String, Vec<usize>> = HashMap::new();
    let mut pending_names: HashMap<String, Vec<usize>> = HashMap::new();
    while !r.0.is_empty() {
        let kind = r.take(1)[0];
        let path = r.string();
        let second = r.string();
        let (a, b) = (r.u64(), r.u64());
        let n = r.u64() as usize;
        let data = r.take(n).to_vec();
        let i = ops.len();
        let op = match kind {
            b'W' => Op::Write {
                path: path.clone(),
                off: a,
                size: b,
                old: data,
            },
            b'T' => Op::Truncate {
                path: path.clone(),
                to: a,
                size: b,
                tail: data,
            },
            b'C' => Op::Create { path: path.clone() },
            b'R' => Op::Rename {
                from: path.clone(),
                to: second.clone(),
            },
            b'S' => {
                for j in pending_data.remove(&path).unwrap_or_default() {
                    ops[j].1 = true;
                }
                for j in pending_names.remove(&path).unwrap_or_default() {
                    ops[j].1 = true;
                }
                continue;
            }
            other => panic!("unknown record {other}"),
        };
        match &op {
            Op::Write { path, .. } | Op::Truncate { path, .. } => {
                pending_data.entry(path.clone()).or_default().push(i)
            }
            Op::Create { path } => pending_names
                .entry(parent(path).to_string())
                .or_default()
                .push(i),
            Op::Rename { to, .. } => pending_names
                .entry(parent(to).to_string())
                .or_default()
                .push(i),
        }
        ops.push((op, false));
    }
    let mut undone = Undone::default();
    for (op, durable) in ops.iter().rev() {
        if *durable {
            undone.durable += 1;
            continue;
        }
        match op {
            Op::Write {
                path,
                off,
                size,
                old,
            } => {
                if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
                    use std::os::unix::fs::FileExt;
                    f.write_all_at(old, *off).unwrap();
                    if f.metadata().unwrap().len() > *size {
                        f.set_len(*size).unwrap();
                    }
                    undone.writes += 1;
                }
            }
            Op::Truncate {
                path,
                to,
                size,
                tail,
            } => {
                if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
                    use std::os::unix::fs::FileExt;
                    f.set_len(*size).unwrap();
                    f.write_all_at(tail, *to).unwrap();
                    undone.writes += 1;
                }
            }
            Op::Create { path } => {
                if std::fs::remove_file(path).is_ok() {
                    undone.creations += 1;
                }
            }
            Op::Rename { from, to } => {
                if std::fs::rename(to, from).is_ok() {
                    undone.renames += 1;
                }
            }
        }
    }
    undone
}

/// Runs the scenario; returns the acknowledged cases and photos missing
/// after the power cut, and what the replay undid.
async fn cut_power(durable: bool) -> (Vec<String>, Vec<String>, Undone) {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let data = root.join("data");
    init_demo(&data);
    let so = build_shim(&root);
    let log = root.join("crashsim.log");
    let env = [
        ("LD_PRELOAD", so.to_str().unwrap()),
        ("CRASHSIM_DIR", data.to_str().unwrap()),
        ("CRASHSIM_LOG", log.to_str().unwrap()),
        (
            "GRIDPATROL__SERVER__DURABLE_ACKS",
            if durable { "true" } else { "false" },
        ),
    ];
    let (mut server, addr, mut stderr): (Child, String, _) = serve_with(&data, &env);
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (ids, photos) =
        synced_cases(&format!("http://{addr}"), &root, "cut", CASES, WITH_PHOTO).await;
    server.kill().unwrap(); // SIGKILL: the process gets no chance to flush
    server.wait().unwrap();
    let log_text = drain.join().unwrap();
    assert!(!log_text.contains("crashsim:"), "{log_text}");
    let undone = power_cut(&log);
    let _ = std::fs::remove_file(data.join("server.sqlite3-shm"));

    let store = SqliteStore::open(&data).expect("the store opens after the power cut");
    let docs = store.load_docs(&ids).unwrap();
    let lost_cases: Vec<String> = ids
        .iter()
        .zip(&docs)
        .filter(|(_, d)| d.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    let mut lost_photos = Vec::new();
    for (sha, bytes) in &photos {
        let held = matches!(
            store.photo_status(sha).unwrap(),
            PhotoStatus::Complete { .. }
        ) && store.photo_read(sha).unwrap().as_deref() == Some(bytes.as_slice());
        if !held {
            lost_photos.push(sha.clone());
        }
    }
    println!(
        "durable acks {durable}: lost {} of {} cases, {} of {} photos; replay {undone:?}",
        lost_cases.len(),
        ids.len(),
        lost_photos.len(),
        photos.len()
    );
    (lost_cases, lost_photos, undone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_case_and_photo_survives_a_power_cut() {
    let (lost_cases, lost_photos, undone) = cut_power(true).await;
    assert!(undone.durable > 0, "the shim saw the flushes: {undone:?}");
    assert!(
        lost_cases.is_empty(),
        "lost after acknowledging: {lost_cases:?} ({undone:?})"
    );
    assert!(
        lost_photos.is_empty(),
        "photos lost: {lost_photos:?} ({undone:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_durable_acks_a_power_cut_loses_acknowledged_cases() {
    let (lost_cases, _, undone) = cut_power(false).await;
    assert!(
        !lost_cases.is_empty(),
        "the simulated power cut must lose unflushed commits: {undone:?}"
    );
}
