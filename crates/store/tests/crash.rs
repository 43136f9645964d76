//! Crash safety: a writer process is SIGKILLed at a random moment, 100 times
//! over the same database. After every kill the store must reopen, pass
//! SQLite's integrity check, and hold every write the writer acknowledged.
//!
//! The writer is this test binary re-executed with [`CHILD_ENV`] set and the
//! filter `crash_child`; it prints `ACK <kind> <key> .` after each commit.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gridpatrol_store::{CaseWrite, PhotoMeta, Store};
use sha2::{Digest, Sha256};

const CHILD_ENV: &str = "GRIDPATROL_STORE_CRASH_CHILD";
const ROUNDS: u32 = 100;
/// The writer stops by itself after this many writes (bounds a round in
/// case the kill comes late).
const WRITES_PER_CHILD: u32 = 3000;

fn case(id: &str) -> CaseWrite {
    CaseWrite {
        id: id.to_owned(),
        category_code: "0201".to_owned(),
        status: "reported".to_owned(),
        title: format!("机动车乱停放 {id}"),
        summary: "占用消防通道".to_owned(),
        technical_grid: "110105002003004".to_owned(),
        supervision_grid: "SG-017".to_owned(),
        lon: 116.45,
        lat: 39.93,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_000 + id.len() as i64,
        doc_bytes: doc_bytes(id),
        doc_heads: vec![Sha256::digest(id.as_bytes()).into()],
        reporter: "I0001".to_owned(),
        review: None,
        resubmitted: false,
        photo_count: 0,
    }
}

/// About 1 KB of document bytes that identify their case.
fn doc_bytes(id: &str) -> Vec<u8> {
    format!("{id};").repeat(1024 / (id.len() + 1)).into_bytes()
}

fn photo_bytes(key: &str) -> Vec<u8> {
    format!("photo {key} ").repeat(400).into_bytes()
}

/// The writer. A no-op unless started by the parent test.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (round, path) = spec.split_once('|').expect("round|path");
    let mut store = Store::open(Path::new(path)).expect("child open");
    let meta = PhotoMeta {
        mime: "image/jpeg".to_owned(),
        taken_at_ms: 0,
        lon: None,
        lat: None,
    };
    let mut out = std::io::stdout().lock();
    for n in 0..WRITES_PER_CHILD {
        let key = format!("r{round}-{n}");
        // One whole line per write call, sent only after the commit returned.
        let line = if n % 5 == 4 {
            let sha = store.put_photo(&photo_bytes(&key), &meta).unwrap();
            format!("ACK photo {sha} .\n")
        } else {
            store.save_case(&case(&key)).unwrap();
            format!("ACK case {key} .\n")
        };
        out.write_all(line.as_bytes()).unwrap();
        out.flush().unwrap();
    }
}

/// Tiny xorshift; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Parses the complete ACK lines of a killed child (a torn last line has no
/// trailing " ." and is ignored: it was never fully acknowledged).
fn acks(lines: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut cases, mut photos) = (Vec::new(), Vec::new());
    for line in lines {
        let Some(start) = line.find("ACK ") else {
            continue;
        };
        let parts: Vec<&str> = line[start..].split(' ').collect();
        match parts.as_slice() {
            ["ACK", "case", key, "."] => cases.push((*key).to_owned()),
            ["ACK", "photo", sha, "."] => photos.push((*sha).to_owned()),
            _ => {}
        }
    }
    (cases, photos)
}

#[test]
fn killed_writer_loses_no_acknowledged_write() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let (mut acked_cases, mut acked_photos) = (Vec::<String>::new(), Vec::<String>::new());
    let mut killed_mid_loop = 0;

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{round}|{}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        // 0..80 ms: sometimes during start-up or the first migration,
        // mostly in the middle of the write loop.
        std::thread::sleep(Duration::from_micros(rng.next() % 80_000));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            killed_mid_loop += 1;
        }
        let (cases, photos) = acks(&reader.join().unwrap());
        acked_cases.extend(cases.iter().cloned());
        acked_photos.extend(photos.iter().cloned());

        let store = Store::open(&path)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): reopen failed: {e}"));
        store
            .integrity_check()
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        // Every write acknowledged in any round so far must be present;
        // this round's are also read back in full through the API.
        let stored = stored_keys(&path);
        for id in &acked_cases {
            assert!(
                stored.contains(id),
                "round {round} (seed {seed}): lost case {id}"
            );
        }
        for id in &cases {
            let doc = store.get_document(id).unwrap().expect("document");
            assert_eq!(doc.bytes, doc_bytes(id), "round {round}: document {id}");
            assert!(store.get_case(id).unwrap().is_some());
        }
        for sha in &acked_photos {
            let p = store.photo_path(sha).unwrap();
            let p = p.unwrap_or_else(|| panic!("round {round} (seed {seed}): lost photo {sha}"));
            if photos.contains(sha) {
                let bytes = std::fs::read(&p).unwrap();
                assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha);
            }
        }
        check_nothing_half_written(&path, round);
    }
    eprintln!(
        "{} cases and {} photos acknowledged; {killed_mid_loop}/{ROUNDS} writers killed",
        acked_cases.len(),
        acked_photos.len()
    );
    // The test must have exercised something: most rounds end in a kill and
    // a good number of writes were acknowledged and checked.
    assert!(killed_mid_loop >= ROUNDS / 2, "{killed_mid_loop} kills");
    assert!(acked_cases.len() >= 200, "{} acked", acked_cases.len());
    assert_eq!(
        acked_cases.iter().collect::<HashSet<_>>().len(),
        acked_cases.len()
    );
}

/// Ids of the cases whose document is stored too.
fn stored_keys(path: &Path) -> HashSet<String> {
    let raw = rusqlite::Connection::open(path).unwrap();
    let mut stmt = raw
        .prepare("SELECT c.id FROM cases c JOIN documents d ON d.id = c.id")
        .unwrap();
    let keys = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    keys
}

/// Every case row has its document and an outbox entry; every photo row has
/// its file. (The write in flight at the kill must be all there or absent.)
fn check_nothing_half_written(path: &Path, round: u32) {
    let raw = rusqlite::Connection::open(path).unwrap();
    let count = |sql: &str| -> i64 { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT count(*) FROM cases c
             WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = c.id)
                OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.doc_id = c.id)"
        ),
        0,
        "round {round}: case without document or outbox entry"
    );
    assert_eq!(
        count("SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = d.case_id)"),
        0
    );
    let photo_dir = path.with_file_name("crash.db.photos");
    let shas: Vec<String> = raw
        .prepare("SELECT sha256 FROM photos")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for sha in shas {
        assert!(
            photo_dir.join(&sha).is_file(),
            "round {round}: photo row {sha} without file"
        );
    }
}
