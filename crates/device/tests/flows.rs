//! The app's flows through the `Device` facade against a real server on
//! loopback: an inspector reports offline and syncs, the squad leader
//! returns the report, the inspector corrects it, the leader approves, the
//! centre sends the inspector to re-verify, the inspector passes it on site.

use std::path::Path;
use std::sync::Arc;

use geo::Centroid;
use gridpatrol_device::view::*;
use gridpatrol_device::{Device, DeviceConfig, DeviceError, FilePosition, SystemClock};
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::district::District;
use gridpatrol_domain::roles::Role as DRole;
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::{spawn_test_server, RunningServer};

/// The demo district cut to its first squad (cheap to load).
fn first_squad() -> (District, String, String) {
    let d = &DemoDistrict::get().district;
    let squad = d.squads[0].clone();
    let inspectors: Vec<_> = d
        .inspectors
        .iter()
        .filter(|i| i.squad == squad.id)
        .cloned()
        .collect();
    let inspector = inspectors
        .iter()
        .find(|i| i.role == DRole::Inspector)
        .expect("the squad has inspectors")
        .id
        .clone();
    let cut = District {
        streets: d.streets.clone(),
        supervision_grids: d.supervision_grids.clone(),
        technical_grids: d.technical_grids.clone(),
        squads: vec![squad.clone()],
        inspectors,
    };
    (cut, inspector, squad.leader)
}

async fn server(dir: &Path, district: &District) -> RunningServer {
    let s = spawn_test_server(dir).await.unwrap();
    accounts::load_district(
        s.state.store.as_ref(),
        district,
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        1,
    )
    .unwrap();
    s
}

/// A point well inside the first technical grid of `user`'s grid.
fn inside_grid_of(user: &str) -> (f64, f64) {
    let dd = DemoDistrict::get();
    let d = &dd.district;
    let grid = &d
        .inspectors
        .iter()
        .find(|i| i.id == user)
        .unwrap()
        .supervision_grid;
    let (k, _) = d
        .technical_grids
        .iter()
        .enumerate()
        .find(|(_, t)| &t.supervision_grid == grid)
        .unwrap();
    let c = dd.geometry[k].centroid().unwrap();
    (c.x(), c.y())
}

struct App {
    device: Arc<Device>,
    position_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        App::open_in(tempfile::tempdir().unwrap())
    }

    fn open_in(dir: tempfile::TempDir) -> App {
        let position_file = dir.path().join("fix.json");
        let device = Device::open(DeviceConfig {
            data_dir: dir.path().join("data"),
            clock: Arc::new(SystemClock),
            position: Arc::new(FilePosition(position_file.clone())),
            allow_plain_http: false,
        })
        .unwrap();
        App {
            device: Arc::new(device),
            position_file,
            _dir: dir,
        }
    }

    /// The app closed and started again on the same data.
    fn reopen(self) -> App {
        drop(self.device);
        App::open_in(self._dir)
    }

    fn move_to(&self, lon: f64, lat: f64, accuracy_m: f64) {
        std::fs::write(
            &self.position_file,
            format!(r#"{{"lon":{lon},"lat":{lat},"accuracy_m":{accuracy_m}}}"#),
        )
        .unwrap();
    }

    async fn sign_in(&self, url: &str, user: &str) -> Me {
        self.device
            .sign_in(SignIn {
                server: url.into(),
                user_id: user.into(),
                password: accounts::demo_password(user),
            })
            .await
            .unwrap()
    }
}

fn photo_jpeg() -> Vec<u8> {
    let rgb = gridpatrol_media::synth::street_scene(1600, 1200, 7);
    gridpatrol_media::synth::jpeg(&rgb, 1600, 1200, 85, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_review_resubmit_verify_round_trip() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();

    // The inspector signs in and sees their grid.
    let insp = App::new();
    let me = insp.sign_in(&url, &inspector).await;
    assert_eq!(me.role, Role::Inspector);
    let map = insp.device.map_view().unwrap();
    assert!(map.grids.iter().any(|g| g.mine) && map.grids.iter().any(|g| !g.mine));
    let (lon, lat) = inside_grid_of(&inspector);
    insp.move_to(lon, lat, 8.0);
    let here = insp.device.locate().unwrap();
    assert!(here.inside_mine, "{here:?}");
    assert!(here.warnings.is_empty(), "{here:?}");
    insp.move_to(lon, lat, 45.0);
    assert_eq!(insp.device.locate().unwrap().warnings, vec!["low_accuracy"]);
    insp.move_to(lon, lat, 8.0);

    // Patrol: the first track point marks my cell visited.
    let p = insp.device.start_patrol().unwrap();
    assert!(p.open_since_ms.is_some());
    assert_eq!(p.visited, 1, "{p:?}");
    assert!(p.total > 1);

    // Category by pinyin initials, photo, save: queued locally at once.
    let hits = insp.device.search_categories("jgps", 10).unwrap();
    let cat = hits
        .iter()
        .find(|c| c.level == "fine")
        .expect("a fine class")
        .clone();
    let photo = insp.device.add_photo(&photo_jpeg()).unwrap();
    assert_ne!(photo.sha256, photo.thumb_sha256);
    let saved = insp
        .device
        .save_case(CaseDraft {
            category: cat.code.clone(),
            position: here.position.clone().unwrap(),
            address: "朝外大街12号".into(),
            description: "井盖破损".into(),
            photos: vec![photo.sha256.clone()],
        })
        .unwrap();
    assert_eq!(saved.sync.state, "local_only");
    assert_eq!(insp.device.sync_status().pending_docs, 1);
    assert_eq!(insp.device.sync_status().pending_photos, 1);
    // The duplicate hint finds it for the same category right there.
    let dups = insp.device.duplicates(&cat.code, lon, lat).unwrap();
    assert_eq!(dups.len(), 1);
    assert!(insp
        .device
        .duplicates(&cat.code, lon + 0.01, lat)
        .unwrap()
        .is_empty());
    // Recents lead the checklist.
    assert_eq!(insp.device.checklist().unwrap()[0].code, cat.code);

    // Sync: the server has the case and the photo.
    let st = insp.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    assert_eq!((st.pending_docs, st.pending_photos), (0, 0), "{st:?}");
    assert!(st.photo_bytes_sent >= photo.bytes, "{st:?}");
    let page = insp
        .device
        .list_cases(CaseFilter {
            mine: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.items[0].sync.state, "synced");

    // The leader returns it: wrong category.
    let lead = App::new();
    let lme = lead.sign_in(&url, &leader).await;
    assert_eq!(lme.role, Role::SquadLeader);
    assert!(lead
        .device
        .team()
        .unwrap()
        .iter()
        .any(|m| m.id == inspector));
    lead.device.sync_now().await;
    let queue = lead
        .device
        .list_cases(CaseFilter {
            review: Some("unreviewed".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queue.total, 1);
    let d = lead.device.case_detail(&saved.id).unwrap();
    assert!(d.can_review && !d.can_resubmit);
    let err = lead
        .device
        .review_case(
            &saved.id,
            ReviewInput {
                approve: false,
                reason: None,
                duplicate_of: None,
                comment: String::new(),
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    lead.device
        .review_case(
            &saved.id,
            ReviewInput {
                approve: false,
                reason: Some("wrong_category".into()),
                duplicate_of: None,
                comment: "应为井盖缺失".into(),
            },
        )
        .unwrap();
    assert_eq!(lead.device.sync_now().await.pending_docs, 0);

    // The inspector sees the reason, corrects and resubmits.
    insp.device.sync_now().await;
    let d = insp.device.case_detail(&saved.id).unwrap();
    let rv = d.review.clone().unwrap();
    assert_eq!(rv.reason.as_deref(), Some("wrong_category"));
    assert_eq!(rv.note, "应为井盖缺失");
    assert!(d.can_resubmit);
    let d = insp
        .device
        .resubmit_case(
            &saved.id,
            CaseEdit {
                description: Some("井盖缺失，已设警示".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!d.can_resubmit && d.summary.resubmitted);
    insp.device.sync_now().await;

    // The leader finds it back in the queue and approves it.
    lead.device.sync_now().await;
    let queue = lead
        .device
        .list_cases(CaseFilter {
            review: Some("unreviewed".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queue.items.len(), 1);
    assert!(queue.items[0].resubmitted);
    let d = lead
        .device
        .review_case(
            &saved.id,
            ReviewInput {
                approve: true,
                reason: None,
                duplicate_of: None,
                comment: String::new(),
            },
        )
        .unwrap();
    assert_eq!(d.review.unwrap().verdict, "approved");
    lead.device.sync_now().await;

    // The centre files it and sends the inspector to re-verify.
    {
        use gridpatrol_docs::{Task, TaskKind, VerificationDoc};
        use gridpatrol_domain::lifecycle::Action;
        use gridpatrol_sync::{local, SyncConfig, SyncEngine};
        let mut cfg = SyncConfig::new(&url, "C0001", &accounts::demo_password("C0001"));
        cfg.allow_plain_http = true;
        let mut centre = SyncEngine::new(cfg).unwrap();
        let mut store = gridpatrol_store::Store::open_in_memory().unwrap();
        centre.sync(&mut store).await.unwrap();
        let now = gridpatrol_server::now_ms();
        local::edit_case(&mut store, &saved.id, now, |c| {
            c.append_step(Action::File, "C0001", now, "立案")
                .map(|_| ())
        })
        .unwrap();
        let actor = local::device_actor(&mut store).unwrap();
        let task = Task {
            assignee: inspector.clone(),
            kind: TaskKind::HandlingCheck,
            due_at_ms: now + 86_400_000,
            created_by: "C0001".into(),
        };
        let v = VerificationDoc::create(actor, "ver-1", &saved.id, &task).unwrap();
        local::save_verification(&mut store, &v, now).unwrap();
        let r = centre.sync(&mut store).await.unwrap();
        assert!(r.refused.is_empty() && r.failed.is_empty(), "{r:?}");
    }

    // The inspector gets the task; a pass 200 m away needs confirmation.
    insp.device.sync_now().await;
    let tasks = insp.device.list_tasks().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].case_id, saved.id);
    let detail = insp.device.task_detail("ver-1").unwrap();
    assert_eq!(detail.case.photos, vec![photo.sha256.clone()]);
    assert!(detail
        .case
        .timeline
        .iter()
        .any(|s| s.action == "file" && s.stage == 2));
    let far = gridpatrol_device::view::Position {
        lon: lon + 0.0025,
        lat,
        accuracy_m: 5.0,
        mock: false,
        manual: false,
        at_ms: 0,
    };
    let input = |position: Position, confirm_far: bool| VerificationInput {
        pass: true,
        note: "已修复".into(),
        photos: vec![],
        position,
        confirm_far,
    };
    let err = insp
        .device
        .submit_verification("ver-1", input(far.clone(), false))
        .unwrap_err();
    assert!(
        matches!(err, DeviceError::FarFromPoint { distance_m } if distance_m > 150.0),
        "{err}"
    );
    let after = insp.device.add_photo(&photo_jpeg()).unwrap();
    let t = insp
        .device
        .submit_verification(
            "ver-1",
            VerificationInput {
                photos: vec![after.sha256],
                ..input(here.position.clone().unwrap(), false)
            },
        )
        .unwrap();
    assert_eq!(t.outcome.as_deref(), Some("pass"));
    assert!(!t.far);
    let st = insp.device.sync_now().await;
    assert_eq!((st.pending_docs, st.pending_photos), (0, 0), "{st:?}");

    // Signing out with nothing pending revokes the token; the data stays.
    let out = insp.device.sign_out(false).await.unwrap();
    assert!(out.signed_out && out.revoked_on_server, "{out:?}");
    assert!(insp.device.me().is_none());
    let insp = insp.reopen();
    assert!(insp.device.me().is_none());
    insp.sign_in(&url, &inspector).await;
    let mine = insp
        .device
        .list_cases(CaseFilter {
            mine: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(mine.total, 1);
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_work_is_kept_and_sign_out_warns() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, _) = first_squad();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();
    let app = App::new();
    app.sign_in(&url, &inspector).await;
    // The server goes away: everything still works on the device.
    srv.shutdown().await.unwrap();
    let app = app.reopen();
    assert_eq!(
        app.device.me().unwrap().id,
        inspector,
        "stays signed in offline"
    );
    let (lon, lat) = inside_grid_of(&inspector);
    app.move_to(lon, lat, 5.0);
    let pos = app.device.locate().unwrap().position.unwrap();
    let cat = app.device.browse_categories(None).unwrap();
    assert_eq!(cat.len(), 11);
    let saved = app
        .device
        .save_case(CaseDraft {
            category: "02010101".into(),
            position: pos,
            address: String::new(),
            description: "离线上报".into(),
            photos: vec![],
        })
        .unwrap();
    assert_eq!(saved.sync.state, "local_only");
    let st = app.device.sync_now().await;
    assert_eq!(st.phase, "offline", "{st:?}");
    assert_eq!(st.last_error.as_ref().unwrap().code, "offline");
    assert_eq!(st.pending_docs, 1);
    let page = app
        .device
        .list_cases(CaseFilter {
            mine: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        page.items[0].sync.state, "local_only",
        "not stuck on syncing"
    );

    // Sign-out warns and keeps the work; forced, it still keeps it.
    let out = app.device.sign_out(false).await.unwrap();
    assert!(!out.signed_out && out.unsynced_docs == 1, "{out:?}");
    assert!(app.device.me().is_some());
    let out = app.device.sign_out(true).await.unwrap();
    assert!(out.signed_out && !out.revoked_on_server, "{out:?}");

    // Wrong input is refused with a code, and nothing is stored.
    let err = app
        .device
        .sign_in(SignIn {
            server: url.clone(),
            user_id: "../etc".into(),
            password: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let err = app
        .device
        .sign_in(SignIn {
            server: url.clone(),
            user_id: inspector.clone(),
            password: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "offline");
}

#[test]
fn sign_in_debug_never_shows_the_password() {
    let s = SignIn {
        server: "http://127.0.0.1:1".into(),
        user_id: "I0001".into(),
        password: "patrol-I0001".into(),
    };
    let text = format!("{s:?}");
    assert!(
        !text.contains("patrol-I0001") && text.contains("redacted"),
        "{text}"
    );
}

/// One centre action on the server's HTTP API (what `gridpatrol case …` sends).
async fn centre_act(url: &str, token: &str, id: &str, body: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/centre/cases/{id}/actions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(
        status.is_success(),
        "{body}: {status} {}",
        r.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centre_loop_shows_on_the_timeline_with_the_close_as_step_six() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();
    let insp = App::new();
    insp.sign_in(&url, &inspector).await;
    let (lon, lat) = inside_grid_of(&inspector);
    insp.move_to(lon, lat, 5.0);
    let here = insp.device.locate().unwrap().position.unwrap();
    let saved = insp
        .device
        .save_case(CaseDraft {
            category: "02010101".into(),
            position: here.clone(),
            address: String::new(),
            description: "井盖破损".into(),
            photos: vec![],
        })
        .unwrap();
    assert_eq!(insp.device.sync_now().await.phase, "idle");
    let lead = App::new();
    lead.sign_in(&url, &leader).await;
    lead.device.sync_now().await;
    assert!(lead.device.case_detail(&saved.id).unwrap().can_review);

    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/login"))
        .json(
            &serde_json::json!({"user_id": "C0001", "password": accounts::demo_password("C0001")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let id = saved.id.as_str();
    let act = |body: serde_json::Value| centre_act(&url, &token, id, body);
    act(serde_json::json!({"action": "file"})).await;
    act(serde_json::json!({"action": "dispatch"})).await;
    act(serde_json::json!({"action": "handled"})).await;
    act(serde_json::json!({"action": "assign_verification", "assignee": inspector})).await;

    // The first check fails on site (with an after-photo); the server sends
    // the case back by itself.
    insp.device.sync_now().await;
    let after = insp.device.add_photo(&photo_jpeg()).unwrap();
    insp.device
        .submit_verification(
            &format!("{id}-v1"),
            VerificationInput {
                pass: false,
                note: "未修复".into(),
                photos: vec![after.sha256.clone()],
                position: here.clone(),
                confirm_far: false,
            },
        )
        .unwrap();
    let done = insp.device.task_detail(&format!("{id}-v1")).unwrap();
    assert_eq!(done.after_photos, vec![after.sha256.clone()]);
    assert_eq!(done.after_photo_available, vec![true]);
    assert_eq!(done.note, "未修复");
    insp.device.sync_now().await;
    act(serde_json::json!({"action": "handled"})).await;
    act(serde_json::json!({"action": "assign_verification", "assignee": inspector})).await;
    insp.device.sync_now().await;
    let tasks = insp.device.list_tasks().unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    insp.device
        .submit_verification(
            &format!("{id}-v2"),
            VerificationInput {
                pass: true,
                note: "已修复".into(),
                photos: vec![],
                position: here.clone(),
                confirm_far: false,
            },
        )
        .unwrap();
    insp.device.sync_now().await;
    act(serde_json::json!({"action": "close"})).await;
    insp.device.sync_now().await;

    let d = insp.device.case_detail(id).unwrap();
    let steps: Vec<(u8, &str, &str)> = d
        .timeline
        .iter()
        .map(|s| (s.stage, s.action.as_str(), s.state.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (1, "report", "reported"),
            (2, "file", "filed"),
            (3, "dispatch", "dispatched"),
            (4, "report_handled", "handled"),
            (5, "request_verification", "verifying"),
            (5, "verify_fail", "reopened"),
            (3, "dispatch", "dispatched"),
            (4, "report_handled", "handled"),
            (5, "request_verification", "verifying"),
            (6, "verify_pass", "closed"),
        ]
    );
    // Both dispatches carry the unit and the deadline; nothing else does.
    for s in &d.timeline {
        let dispatch = s.action == "dispatch";
        assert_eq!(s.unit.is_some(), dispatch, "{s:?}");
        assert_eq!(s.due_at_ms.is_some_and(|t| t > s.at_ms), dispatch, "{s:?}");
    }
    // The leader's phone shows the same steps, and no review of a closed case.
    lead.device.sync_now().await;
    let ld = lead.device.case_detail(id).unwrap();
    assert_eq!(ld.timeline, d.timeline);
    assert!(!ld.can_review, "a closed case is not reviewed");
    srv.shutdown().await.unwrap();
}
