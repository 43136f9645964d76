//! `gridpatrol backup` of a running server while devices keep syncing, and
//! `gridpatrol restore`: what it refuses (a live directory, one holding
//! data, a damaged or cut-short file) and what it restores.

mod common;

use std::io::Read;
use std::path::Path;

use common::{gridpatrol, init_demo, serve, synced_cases};
use gridpatrol_server_storage::{PhotoStatus, ServerStore};
use gridpatrol_server_storage_sqlite::SqliteStore;

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = gridpatrol().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn restore(file: &Path, data: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        os("restore"),
        file.as_os_str(),
        os("--data"),
        data.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| os(a)));
    run(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_running_server_restores_everything_and_damage_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, file) = (tmp.path().join("live"), tmp.path().join("day.tar"));
    init_demo(&live);
    let (mut server, addr, mut log) = serve(&live);
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let url = format!("http://{addr}");
    let (ids, photos) = synced_cases(&url, tmp.path(), "bk", 20, 5).await;

    // A second device keeps syncing while the backup runs.
    let (u2, d2) = (url.clone(), tmp.path().to_path_buf());
    let writer = tokio::spawn(async move { synced_cases(&u2, &d2, "during", 40, 4).await });
    let mid = tmp.path().join("mid.tar");
    let (code, out, err) = run(&[
        os("backup"),
        os("--data"),
        live.as_os_str(),
        os("--out"),
        mid.as_os_str(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("backed up to") && out.contains("accounts"),
        "{out}"
    );
    let (during, _) = writer.await.unwrap();
    // Taken mid-write, it is still consistent: the restore checks the
    // database against the manifest's counts and every checksum.
    let (code, out, err) = restore(&mid, &tmp.path().join("mid"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let args = [
        os("backup"),
        os("--data"),
        live.as_os_str(),
        os("--out"),
        file.as_os_str(),
        os("--json"),
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let manifest: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(manifest["counts"]["cases"], 20 + during.len() as u64);
    assert_eq!(manifest["photos"].as_object().unwrap().len(), 5 + 4);

    // Not over the running server's directory.
    let (code, _, err) = restore(&file, &live, &["--replace"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by a running server"), "{err}");
    server.kill().unwrap();
    server.wait().unwrap();

    // Into a new directory: everything there, checksums good, a new epoch.
    let restored = tmp.path().join("restored");
    let (code, out, err) = restore(&file, &restored, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{} cases", 20 + during.len())),
        "{out}"
    );
    assert!(out.contains("new epoch"), "{out}");
    {
        let store = SqliteStore::open(&restored).unwrap();
        let all: Vec<String> = ids.iter().chain(&during).cloned().collect();
        assert!(store.load_docs(&all).unwrap().iter().all(|d| d.is_some()));
        for (sha, bytes) in &photos {
            assert!(matches!(
                store.photo_status(sha).unwrap(),
                PhotoStatus::Complete { .. }
            ));
            assert_eq!(
                store.photo_read(sha).unwrap().as_deref(),
                Some(bytes.as_slice())
            );
        }
        let old = SqliteStore::open(&live).unwrap().epoch().unwrap();
        assert_ne!(store.epoch().unwrap(), old, "a restore gets a new epoch");
    }

    // Not over data without --replace; with it, the old data is moved aside.
    let (code, _, err) = restore(&file, &restored, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--replace"), "{err}");
    let (code, out, err) = restore(&file, &restored, &["--replace"]);
    assert_eq!(code, 0, "{err}");
    let aside = out
        .lines()
        .find_map(|l| l.strip_prefix("the earlier contents are in "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(Path::new(aside).join("server.sqlite3").is_file());

    // A damaged file (one byte of a photo flipped) and a cut-short one are
    // refused, and nothing is created.
    let mut bytes = Vec::new();
    std::fs::File::open(&file)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let (sha, photo) = &photos[0];
    let at = bytes
        .windows(64)
        .position(|w| w == &photo[..64])
        .unwrap_or_else(|| panic!("photo {sha} not found in the backup"));
    let mut damaged = bytes.clone();
    damaged[at + 100] ^= 0x40;
    let cut = &bytes[..bytes.len() * 2 / 3];
    for (name, content) in [("damaged.tar", &damaged[..]), ("cut.tar", cut)] {
        let f = tmp.path().join(name);
        std::fs::write(&f, content).unwrap();
        let target = tmp.path().join(format!("from-{name}"));
        let (code, _, err) = restore(&f, &target, &[]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("damaged"), "{name}: {err}");
        assert!(!target.exists(), "{name}: nothing restored");
    }
}
