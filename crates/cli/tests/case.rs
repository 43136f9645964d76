//! `gridpatrol case …` against the real `gridpatrol serve` on loopback: the
//! centre signs in once (token kept, password not), lists, files and
//! dispatches a device's report; a refused action exits 2 with the reason.

mod common;

use std::path::Path;
use std::process::Output;

use common::{demo_report, gridpatrol, init_demo, serve};
use gridpatrol_device::local;
use gridpatrol_store::Store;
use gridpatrol_sync::{SyncConfig, SyncEngine};

fn case(home: &Path, args: &[&str]) -> Output {
    gridpatrol()
        .env("GRIDPATROL_HOME", home)
        .env_remove("GRIDPATROL_PASSWORD")
        .arg("case")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One report by demo inspector I0001 in their grid, synced to `url`.
async fn report_one(url: &str) -> String {
    let mut store = Store::open_in_memory().unwrap();
    let report = demo_report("02010101", 1, gridpatrol_server::now_ms());
    local::create_case(&mut store, "cli-1", &report, report.created_at_ms).unwrap();
    let mut cfg = SyncConfig::new(url, "I0001", "patrol-I0001");
    cfg.allow_plain_http = true;
    let mut e = SyncEngine::new(cfg).unwrap();
    let r = e.sync(&mut store).await.unwrap();
    assert!(r.refused.is_empty() && r.failed.is_empty(), "{r:?}");
    "cli-1".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centre_files_and_dispatches_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    init_demo(data.path());
    let (mut child, addr, mut log) = serve(data.path());
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let url = format!("http://{addr}");
    let id = report_one(&url).await;
    let h = home.path().to_path_buf();
    let dir = data.path().to_path_buf();
    let url2 = url.clone();
    tokio::task::spawn_blocking(move || {
        let home = h.as_path();
        // Not signed in yet: says what to do.
        let o = case(home, &["list"]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("case login"));

        // An inspector account is not a centre account.
        let o = gridpatrol()
            .env("GRIDPATROL_HOME", home)
            .env("GRIDPATROL_PASSWORD", "patrol-I0001")
            .args(["case", "login", "--server", &url2, "--user", "I0001"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let o = gridpatrol()
            .env("GRIDPATROL_HOME", home)
            .env("GRIDPATROL_PASSWORD", "patrol-C0001")
            .args(["case", "login", "--server", &url2, "--user", "C0001"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stdout(&o));
        let kept = std::fs::read_to_string(home.join("centre-session.json")).unwrap();
        assert!(!kept.contains("patrol-C0001"), "the password is never kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.join("centre-session.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only its owner reads the token");
        }

        let o = case(home, &["list", "--state", "reported"]);
        assert!(o.status.success());
        assert!(
            stdout(&o).contains(&id) && stdout(&o).contains("已上报"),
            "{}",
            stdout(&o)
        );

        let o = case(home, &["file", &id, "--note", "立案"]);
        assert!(o.status.success(), "{}", stdout(&o));
        assert!(stdout(&o).contains("已立案"));
        let o = case(home, &["file", &id]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stdout(&o).starts_with("refused (action_refused)"),
            "{}",
            stdout(&o)
        );

        let o = case(home, &["dispatch", &id, "--json"]);
        assert!(o.status.success());
        let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(d["case"]["state"], "dispatched");
        assert!(d["case"]["steps"][1]["due_at_ms"].as_i64().is_some());
        // The unit's photos: a damaged file stops everything (exit 2, the
        // case stays with the unit); real ones go through the pipeline,
        // up to the server, and onto the handled step.
        let photos = tempfile::tempdir().unwrap();
        let damaged = photos.path().join("damaged.jpg");
        let scene = gridpatrol_media::synth::street_scene(640, 480, 7);
        let good = gridpatrol_media::synth::jpeg(&scene, 640, 480, 85, None).unwrap();
        std::fs::write(&damaged, &good[..good.len() / 3]).unwrap();
        let after = photos.path().join("after.jpg");
        std::fs::write(&after, &good).unwrap();
        let text_file = photos.path().join("notes.jpg");
        std::fs::write(&text_file, "not an image at all").unwrap();
        for bad in [&damaged, &text_file] {
            let o = case(
                home,
                &[
                    "handled",
                    &id,
                    "--photo",
                    after.to_str().unwrap(),
                    "--photo",
                    bad.to_str().unwrap(),
                ],
            );
            assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
            assert!(stdout(&o).starts_with("refused:"), "{}", stdout(&o));
            assert!(stdout(&o).contains(bad.to_str().unwrap()), "{}", stdout(&o));
        }
        let o = case(home, &["show", &id, "--json"]);
        let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(d["case"]["state"], "dispatched", "nothing was recorded");
        let o = case(
            home,
            &[
                "handled",
                &id,
                "--note",
                "已更换",
                "--photo",
                after.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stdout(&o));
        let o = case(home, &["show", &id, "--json"]);
        let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let step = &d["case"]["steps"][2];
        assert_eq!(step["step"], "report_handled", "{d}");
        let sha = step["photos"][0].as_str().unwrap().to_string();
        // What was uploaded is the pipeline's JPEG (stamped), not the file.
        let kept = d["step_photo_bytes"][&sha].as_u64().unwrap();
        assert!(kept > 0 && sha.len() == 64, "{d}");
        assert_ne!(kept, good.len() as u64, "the pipeline's JPEG, not the file");
        let o = case(home, &["show", &id]);
        assert!(
            stdout(&o).contains(&format!("photo {sha} ({kept} bytes)")),
            "{}",
            stdout(&o)
        );

        // No other inspector of the grid is signed in: the reason, exit 2.
        let o = case(home, &["assign-verification", &id]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stdout(&o).contains("no_assignee"), "{}", stdout(&o));
        let o = case(home, &["assign-verification", &id, "--assignee", "I0001"]);
        assert!(o.status.success(), "{}", stdout(&o));

        let o = case(home, &["show", &id]);
        let text = stdout(&o);
        for step in [
            "已立案",
            "已派遣",
            "已处置",
            "核查中",
            "verification cli-1-v1 → I0001",
        ] {
            assert!(text.contains(step), "{step} in {text}");
        }
        let o = case(home, &["list", "--overdue", "--json"]);
        assert_eq!(stdout(&o).trim(), "[]");

        // A public complaint at the report's place lands in the same grid.
        let r = demo_report("02010101", 2, 0);
        let (lon, lat) = (r.lon.to_string(), r.lat.to_string());
        let args = [
            "complaint",
            "--category",
            "02010101",
            "--lon",
            &lon,
            "--lat",
            &lat,
        ];
        let o = case(home, &args);
        assert!(o.status.success(), "{}", stdout(&o));
        assert!(stdout(&o).contains("已受理") && stdout(&o).contains(&r.supervision_grid));
        let o = case(
            home,
            &[
                "complaint",
                "--category",
                "02010101",
                "--lon",
                "1",
                "--lat",
                "1",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));

        // The month's figures, read from the running server's directory.
        let month = gridpatrol_quality::Month::of_ms(gridpatrol_server::now_ms()).to_string();
        let figures = |what: &str| {
            let o = gridpatrol()
                .args([what, "--month", &month, "--json", "--data"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
        };
        let k = figures("kpi");
        let me = k["inspectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "I0001")
            .unwrap();
        assert_eq!(
            (me["reports"].as_u64(), me["filed"].as_u64()),
            (Some(1), Some(1)),
            "{me}"
        );
        let e = figures("eval");
        let units = e["units"].as_array().unwrap();
        assert_eq!(units.len(), 1, "{e}");
        assert_eq!(
            (units[0]["rounds"].as_u64(), units[0]["on_time"].as_u64()),
            (Some(1), Some(1))
        );
        let o = gridpatrol()
            .args(["eval", "--month", &month, "--data", "/nonexistent"])
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("not a server data directory"));

        assert!(case(home, &["logout"]).status.success());
        assert!(!home.join("centre-session.json").exists());
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}
