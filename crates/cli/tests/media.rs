//! `gridpatrol media process` on damaged and hostile input (issue 7 §6): the
//! exit code, one line saying why, and nothing left behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gridpatrol_media::synth;

/// Runs the binary, killing it after 20 s so a hang fails the test.
fn gridpatrol(args: &[&Path]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .arg("media")
        .arg("process")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gridpatrol");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("gridpatrol media process {args:?} hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn process(input: &Path, out: &Path) -> Output {
    gridpatrol(&[input, Path::new("--out"), out, Path::new("--no-stamp")])
}

/// Exit code `code` and exactly one line on stderr, containing `reason`.
fn assert_fails_once(out: &Output, code: i32, reason: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line, got: {err:?}");
    assert_eq!(err.matches(reason).count(), 1, "{reason:?} once in {err:?}");
    assert!(out.stdout.is_empty());
}

fn photo(dir: &Path) -> std::path::PathBuf {
    let rgb = synth::street_scene(320, 240, 9);
    let path = dir.join("IMG_0001.JPG");
    std::fs::write(&path, synth::jpeg(&rgb, 320, 240, 90, None).unwrap()).unwrap();
    path
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_damaged_jpeg_exits_2_with_one_reason_and_nothing_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(photo(tmp.path())).unwrap();
    for (name, bad) in [
        ("cut-eoi.jpg", {
            let mut b = good[..good.len() * 2 / 3].to_vec();
            b.extend_from_slice(&[0xFF, 0xD9]);
            b
        }),
        ("tall-sof.jpg", {
            let mut b = good.clone();
            let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
            b[sof + 5..sof + 7].copy_from_slice(&480u16.to_be_bytes());
            b
        }),
    ] {
        let input = tmp.path().join(name);
        std::fs::write(&input, bad).unwrap();
        let store = tmp.path().join("store");
        assert_fails_once(&process(&input, &store), 2, "damaged JPEG");
        assert!(!store.exists(), "{name}");
    }
}

#[test]
fn a_fifo_or_device_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("upload.jpg");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let store = tmp.path().join("store");
    assert_fails_once(&process(&fifo, &store), 2, "is a FIFO");
    assert_fails_once(
        &process(Path::new("/dev/zero"), &store),
        2,
        "character device",
    );
    assert!(!store.exists());
}

#[test]
fn out_is_used_as_given_and_a_failed_run_leaves_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = photo(tmp.path());
    let before = entries(tmp.path());

    // `..` out of a folder that does not exist: refused, nothing created.
    let out = tmp.path().join("new").join("..").join("store");
    assert_fails_once(&process(&input, &out), 2, "`..`");
    assert_eq!(entries(tmp.path()), before);

    // A refused photo leaves no folder either, however deep.
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "not a photo, just the notes of a patrol").unwrap();
    let before = entries(tmp.path());
    let out = tmp.path().join("a").join("b").join("c");
    assert_fails_once(&process(&notes, &out), 2, "not an image");
    assert_eq!(entries(tmp.path()), before);

    // Creating the folder fails half-way (a name too long for the file
    // system): exit 1, the OS reason once, and the part made is removed.
    let out = tmp.path().join("fresh").join("x".repeat(300));
    assert_fails_once(&process(&input, &out), 1, "File name too long");
    assert_eq!(entries(tmp.path()), before);

    // `..` through folders that exist is just a path: stored where it
    // points, nothing else created.
    std::fs::create_dir(tmp.path().join("inbox")).unwrap();
    let out = tmp.path().join("inbox").join("..").join("evidence");
    let ok = process(&input, &out);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(entries(&tmp.path().join("evidence")).len(), 2);
    assert!(entries(&tmp.path().join("inbox")).is_empty());
}

#[test]
fn a_missing_input_file_says_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = process(&tmp.path().join("nope.jpg"), &tmp.path().join("store"));
    assert_fails_once(&out, 1, "No such file or directory");
    assert!(!tmp.path().join("store").exists());
}
