//! The app's flows through the `Device` facade against a real server on
//! loopback: an inspector reports offline and syncs, the squad leader
//! returns the report, the inspector corrects it, the leader approves, the
//! centre sends the inspector to re-verify, the inspector passes it on site.

use std::path::Path;
use std::sync::Arc;

mod common;

use common::{camera_jpeg, first_squad, inside_grid_of, server};
use gridpatrol_device::view::*;
use gridpatrol_device::{Device, DeviceConfig, DeviceError, FilePosition, SystemClock};
use gridpatrol_domain::district::District;
use gridpatrol_domain::roles::Role as DRole;
use gridpatrol_server::accounts;

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

/// Another inspector of `user`'s squad patrolling the same supervision grid.
fn grid_peer(district: &District, user: &str) -> String {
    let me = district.inspectors.iter().find(|i| i.id == user).unwrap();
    district
        .inspectors
        .iter()
        .find(|i| {
            i.id != user
                && i.role == DRole::Inspector
                && i.squad == me.squad
                && i.supervision_grid == me.supervision_grid
        })
        .expect("a second inspector on the grid")
        .id
        .clone()
}

/// The centre's engine, synced into a store in memory.
async fn centre_synced(url: &str) -> (gridpatrol_sync::SyncEngine, gridpatrol_store::Store) {
    let mut cfg = gridpatrol_sync::SyncConfig::new(url, "C0001", &accounts::demo_password("C0001"));
    cfg.allow_plain_http = true;
    let mut centre = gridpatrol_sync::SyncEngine::new(cfg).unwrap();
    let mut store = gridpatrol_store::Store::open_in_memory().unwrap();
    centre.sync(&mut store).await.unwrap();
    (centre, store)
}

/// The leader's queue: reports not reviewed since they last changed.
fn unreviewed(lead: &App) -> CasePage {
    lead.device
        .list_cases(CaseFilter {
            review: Some("unreviewed".into()),
            ..Default::default()
        })
        .unwrap()
}

/// Asserts the device holds the photo `sha`: its bytes hash to the name,
/// the case screen says so, and it has a thumbnail for lists.
fn assert_has_photo(app: &App, sha: &str) {
    use sha2::Digest;
    let bytes = app.device.photo_bytes(sha).unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha);
    let thumb = app.device.thumb_of(sha).unwrap().expect("a thumbnail");
    assert!(!app.device.photo_bytes(&thumb).unwrap().is_empty());
}

fn photo_jpeg() -> Vec<u8> {
    photo_jpeg_of(7)
}

/// A 1600×1200 camera photo drawn from `seed`.
fn photo_jpeg_of(seed: u64) -> Vec<u8> {
    camera_jpeg(1600, 1200, seed)
}

/// The file called `name` anywhere under `dir`.
fn find_file(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if e.file_name() == name {
            return Some(p);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_review_resubmit_verify_round_trip() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let peer = grid_peer(&district, &inspector);
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
    let st = lead.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    // The case's photo came with it, verified, with a thumbnail for lists.
    assert_eq!((st.photos_received, st.photos_to_receive), (1, 1), "{st:?}");
    assert_eq!(st.photo_bytes_received, photo.bytes, "{st:?}");
    assert_eq!(st.pending_photos, 0, "received photos are not sent back");
    let queue = unreviewed(&lead);
    assert_eq!(queue.total, 1);
    let d = lead.device.case_detail(&saved.id).unwrap();
    assert!(d.can_review && !d.can_resubmit);
    assert_eq!(d.photo_available, vec![true]);
    assert_has_photo(&lead, &photo.sha256);
    // Nothing left to fetch: the next session receives nothing.
    let st = lead.device.sync_now().await;
    assert_eq!((st.photos_received, st.photos_to_receive), (0, 0), "{st:?}");
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
    // The inspector's phone names the leader (a member of the squad).
    let leader_name = district
        .inspectors
        .iter()
        .find(|i| i.id == leader)
        .map(|i| i.name.clone());
    assert!(leader_name.is_some());
    assert_eq!(rv.reviewer_name, leader_name);
    let step = d.timeline.iter().find(|s| s.action == "review").unwrap();
    assert_eq!(
        (&step.by_name, step.by_role),
        (&leader_name, Some(Role::SquadLeader))
    );
    // The leader's team filter lists the squad, not the centre.
    let team = lead.device.team().unwrap();
    assert!(team.iter().any(|m| m.id == inspector), "{team:?}");
    assert!(team.iter().all(|m| !m.id.starts_with('C')), "{team:?}");
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
    let queue = unreviewed(&lead);
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
        use gridpatrol_device::local;
        use gridpatrol_docs::{Task, TaskKind, VerificationDoc};
        use gridpatrol_domain::lifecycle::Action;
        let (mut centre, mut store) = centre_synced(&url).await;
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
        let v = VerificationDoc::create(actor.clone(), "ver-1", &saved.id, &task).unwrap();
        local::save_verification(&mut store, &v, now).unwrap();
        // A second inspector of the grid re-verifies too, on their own phone.
        let task = Task {
            assignee: peer.clone(),
            ..task
        };
        let v = VerificationDoc::create(actor, "ver-2", &saved.id, &task).unwrap();
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
    let after = insp.device.add_photo(&photo_jpeg_of(8)).unwrap();
    let t_after = after.sha256.clone();
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

    // The other verifier's phone, never used before, gets the task with the
    // case's photo.
    let verifier = App::new();
    verifier.sign_in(&url, &peer).await;
    let st = verifier.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    let detail = verifier.device.task_detail("ver-2").unwrap();
    assert_eq!(detail.case.photo_available, vec![true]);
    assert_has_photo(&verifier, &photo.sha256);
    // The leader's phone receives the after photo of the pass.
    let st = lead.device.sync_now().await;
    assert_eq!(st.photos_received, 1, "{st:?}");
    assert_has_photo(&lead, &t_after);

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

/// A loopback server for the first squad, with the inspector signed in on
/// their phone.
struct Field {
    sdir: tempfile::TempDir,
    srv: gridpatrol_server::RunningServer,
    url: String,
    inspector: String,
    leader: String,
    insp: App,
}

async fn field() -> Field {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();
    let insp = App::new();
    insp.sign_in(&url, &inspector).await;
    Field {
        sdir,
        srv,
        url,
        inspector,
        leader,
        insp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_work_is_kept_and_sign_out_warns() {
    let Field {
        srv,
        url,
        inspector,
        insp: app,
        ..
    } = field().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_bytes_do_not_match_its_name_is_refused_and_the_others_still_arrive() {
    let f = field().await;
    let (lon, lat) = inside_grid_of(&f.inspector);
    f.insp.move_to(lon, lat, 5.0);
    let pos = f.insp.device.locate().unwrap().position.unwrap();
    let bad = f.insp.device.add_photo(&photo_jpeg_of(21)).unwrap().sha256;
    let good = f.insp.device.add_photo(&photo_jpeg_of(22)).unwrap().sha256;
    let saved = f
        .insp
        .device
        .save_case(CaseDraft {
            category: "02010101".into(),
            position: pos,
            address: String::new(),
            description: "两张照片".into(),
            photos: vec![bad.clone(), good.clone()],
        })
        .unwrap();
    let st = f.insp.device.sync_now().await;
    assert_eq!((st.pending_docs, st.pending_photos), (0, 0), "{st:?}");

    // The server's copy of the first photo is swapped for other bytes.
    let on_server = find_file(f.sdir.path(), &bad).expect("the server keeps the photo as a file");
    std::fs::write(&on_server, photo_jpeg_of(23)).unwrap();

    let lead = App::new();
    lead.sign_in(&f.url, &f.leader).await;
    let st = lead.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    assert_eq!((st.photos_received, st.photos_to_receive), (1, 2), "{st:?}");
    let d = lead.device.case_detail(&saved.id).unwrap();
    assert_eq!(d.photo_available, vec![false, true]);
    assert_has_photo(&lead, &good);
    assert_eq!(
        lead.device.photo_bytes(&bad).unwrap_err().code(),
        "not_found"
    );
    assert!(lead.device.thumb_of(&bad).unwrap().is_none());
    let data = lead.device.data_dir().to_path_buf();
    assert!(find_file(&data, &bad).is_none(), "nothing of it is stored");

    // Tried again next time, refused again; the good one is not fetched twice.
    let st = lead.device.sync_now().await;
    assert_eq!((st.photos_received, st.photos_to_receive), (0, 1), "{st:?}");
    assert!(find_file(&data, &bad).is_none());
    // The server's right bytes come back: the photo arrives.
    std::fs::write(&on_server, f.insp.device.photo_bytes(&bad).unwrap()).unwrap();
    let st = lead.device.sync_now().await;
    assert_eq!((st.photos_received, st.photos_to_receive), (1, 1), "{st:?}");
    assert_has_photo(&lead, &bad);
    f.srv.shutdown().await.unwrap();
}

/// The leader returns a report a second time while the inspector, not
/// having synced that, corrects it; on a second report the correction
/// comes first. The phones sync in the order given, then once more each.
/// On the server and both phones the return and the correction are both
/// there, and a report counts as resubmitted only if its correction came
/// after the latest review.
async fn return_and_correction_apart(leader_syncs_first: bool) {
    let f = field().await;
    let (lon, lat) = inside_grid_of(&f.inspector);
    f.insp.move_to(lon, lat, 5.0);
    let pos = f.insp.device.locate().unwrap().position.unwrap();
    let lead = App::new();
    lead.sign_in(&f.url, &f.leader).await;
    let ret = |reason: &str, comment: &str| ReviewInput {
        approve: false,
        reason: Some(reason.into()),
        duplicate_of: None,
        comment: comment.into(),
    };
    let fix = |description: &str| CaseEdit {
        description: Some(description.into()),
        ..Default::default()
    };
    let pause = || std::thread::sleep(std::time::Duration::from_millis(10));

    // Two reports, each returned once; both phones know that.
    let ids: Vec<String> = (0..2)
        .map(|n| {
            let draft = CaseDraft {
                category: "02010101".into(),
                position: pos.clone(),
                address: String::new(),
                description: format!("报告{n}"),
                photos: vec![],
            };
            f.insp.device.save_case(draft).unwrap().id
        })
        .collect();
    f.insp.device.sync_now().await;
    lead.device.sync_now().await;
    for id in &ids {
        lead.device
            .review_case(id, ret("wrong_category", "类别不对"))
            .unwrap();
    }
    lead.device.sync_now().await;
    f.insp.device.sync_now().await;
    for id in &ids {
        assert!(f.insp.device.case_detail(id).unwrap().can_resubmit);
    }

    // Apart, with no sync in between.
    let (late_fix, early_fix) = (&ids[0], &ids[1]);
    lead.device
        .review_case(late_fix, ret("photo_unclear", "照片看不清"))
        .unwrap();
    pause();
    f.insp
        .device
        .resubmit_case(late_fix, fix("井盖破损，已重拍"))
        .unwrap();
    pause();
    f.insp
        .device
        .resubmit_case(early_fix, fix("位置在路口东侧"))
        .unwrap();
    pause();
    lead.device
        .review_case(early_fix, ret("photo_unclear", "再拍一张"))
        .unwrap();

    let (first, second) = if leader_syncs_first {
        (&lead, &f.insp)
    } else {
        (&f.insp, &lead)
    };
    for app in [first, second, first] {
        let st = app.device.sync_now().await;
        assert_eq!(st.phase, "idle", "{st:?}");
    }
    for app in [&lead, &f.insp] {
        assert_eq!(app.device.sync_status().pending_docs, 0);
    }

    // What each copy says: (description, return reason, comment, resubmitted).
    let expect = [
        (late_fix, "井盖破损，已重拍", "照片看不清", true),
        (early_fix, "位置在路口东侧", "再拍一张", false),
    ];
    let centre = {
        use gridpatrol_device::local;
        let (_, mut store) = centre_synced(&f.url).await;
        ids.iter()
            .map(|id| {
                local::load_case(&mut store, id)
                    .unwrap()
                    .unwrap()
                    .read()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    for (k, (id, description, note, resubmitted)) in expect.iter().enumerate() {
        let on_server = &centre[k];
        assert_eq!(on_server.report.description, *description, "server {id}");
        let review = on_server.review.as_ref().unwrap();
        assert_eq!(review.reason.map(|r| r.as_str()), Some("photo_unclear"));
        assert_eq!(review.note, *note, "server {id}");
        assert_eq!(on_server.resubmitted(), *resubmitted, "server {id}");
        for app in [&lead, &f.insp] {
            let d = app.device.case_detail(id).unwrap();
            assert_eq!(d.description, *description);
            let r = d.review.unwrap();
            assert_eq!(r.reason.as_deref(), Some("photo_unclear"));
            assert_eq!(r.note, *note);
            assert_eq!(d.summary.resubmitted, *resubmitted);
            assert_eq!(d.summary.review.as_deref(), Some("needs_fix"));
        }
        // Resubmitted: back in the leader's queue, nothing for the
        // inspector to do; returned: the other way round.
        let queue = unreviewed(&lead);
        assert_eq!(queue.items.iter().any(|c| &c.id == *id), *resubmitted);
        let d = f.insp.device.case_detail(id).unwrap();
        assert_eq!(d.can_resubmit, !*resubmitted);
    }
    f.srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_and_a_correction_made_apart_merge_when_the_leader_syncs_first() {
    return_and_correction_apart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_and_a_correction_made_apart_merge_when_the_inspector_syncs_first() {
    return_and_correction_apart(false).await;
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
    // The second feedback comes with the unit's photo, uploaded by the centre.
    let unit_photo = photo_jpeg_of(11);
    let unit_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&unit_photo))
    };
    let sent = gridpatrol_sync::upload_photo(
        reqwest::Client::new(),
        &url,
        true,
        &token,
        &unit_sha,
        &unit_photo,
        64 * 1024,
    )
    .await
    .unwrap();
    assert!(sent, "the server did not hold it before");
    act(serde_json::json!({"action": "handled", "photos": [unit_sha]})).await;
    act(serde_json::json!({"action": "assign_verification", "assignee": inspector})).await;
    insp.device.sync_now().await;
    // It came down with the case, so the timeline shows it offline.
    let d = insp.device.case_detail(id).unwrap();
    let handled: Vec<&TimelineStep> = d
        .timeline
        .iter()
        .filter(|s| s.action == "report_handled")
        .collect();
    assert_eq!(handled.len(), 2);
    assert!(handled[0].photos.is_empty());
    assert_eq!(handled[1].photos, vec![unit_sha.clone()]);
    assert_eq!(handled[1].photo_available, vec![true]);
    assert_has_photo(&insp, &unit_sha);
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
    // People are named, not numbered: the inspector by name and the
    // centre's operator as the centre (both from the district package).
    let name = |who: &str| {
        district
            .inspectors
            .iter()
            .find(|i| i.id == who)
            .map(|i| i.name.clone())
    };
    assert!(name(&inspector).is_some());
    assert_eq!(d.reporter_name, name(&inspector));
    for s in &d.timeline {
        if s.by == inspector {
            assert_eq!(s.by_name, name(&inspector), "{s:?}");
            assert_eq!(s.by_role, Some(Role::Inspector), "{s:?}");
        } else {
            assert_eq!(s.by, "C0001", "{s:?}");
            assert!(s.by_name.is_some(), "{s:?}");
            assert_eq!(s.by_role, Some(Role::CentreOperator), "{s:?}");
        }
    }
    // The leader's phone shows the same steps and names, and no review of
    // a closed case.
    lead.device.sync_now().await;
    let ld = lead.device.case_detail(id).unwrap();
    assert_eq!(ld.reporter_name, name(&inspector));
    assert_eq!(ld.timeline, d.timeline);
    assert_has_photo(&lead, &unit_sha);
    assert!(!ld.can_review, "a closed case is not reviewed");
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_moves_the_inspector_to_the_new_grid_at_the_next_sync() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, _) = first_squad();
    let me = district
        .inspectors
        .iter()
        .find(|i| i.id == inspector)
        .unwrap();
    // An inspector of the same squad in another grid: the grid we move to.
    let other = district
        .inspectors
        .iter()
        .find(|i| {
            i.role == DRole::Inspector
                && i.squad == me.squad
                && i.supervision_grid != me.supervision_grid
        })
        .expect("the squad patrols more than one grid")
        .clone();
    let srv = server(sdir.path(), &district).await;
    let url = srv.url();

    // The other inspector reports in their grid before the move.
    let there = App::new();
    there.sign_in(&url, &other.id).await;
    let (lon, lat) = inside_grid_of(&other.id);
    there.move_to(lon, lat, 6.0);
    let pos = there.device.locate().unwrap().position.unwrap();
    let cat = there.device.search_categories("jgps", 5).unwrap()[0]
        .code
        .clone();
    let theirs = there
        .device
        .save_case(CaseDraft {
            category: cat,
            position: pos,
            address: "新网格1号".into(),
            description: "轮岗前的问题".into(),
            photos: vec![],
        })
        .unwrap();
    assert_eq!(there.device.sync_now().await.pending_docs, 0);

    let app = App::new();
    app.sign_in(&url, &inspector).await;
    app.device.sync_now().await;
    let before = app.device.list_cases(CaseFilter::default()).unwrap();
    assert!(
        before.items.iter().all(|r| r.id != theirs.id),
        "not my grid yet"
    );
    app.move_to(lon, lat, 6.0);
    assert!(!app.device.locate().unwrap().inside_mine);

    // The rotation plan starts: the server moves the inspector.
    srv.state
        .store
        .apply_postings(
            &[(
                inspector.clone(),
                Some(me.squad.clone()),
                Some(other.supervision_grid.clone()),
            )],
            &[],
        )
        .unwrap();

    // No new sign-in: the next sync finds the move, refetches the district
    // package and pulls the new grid's earlier cases.
    let st = app.device.sync_now().await;
    assert_eq!(st.phase, "idle", "{st:?}");
    let now = app.device.me().unwrap();
    assert_eq!(
        now.supervision_grid.as_deref(),
        Some(other.supervision_grid.as_str())
    );
    assert!(
        app.device.locate().unwrap().inside_mine,
        "the new grid is mine"
    );
    let after = app.device.list_cases(CaseFilter::default()).unwrap();
    assert!(
        after.items.iter().any(|r| r.id == theirs.id),
        "the new grid's case came down"
    );
    // And it stays so after the app restarts offline.
    drop(srv);
    let app = app.reopen();
    let now = app.device.me().unwrap();
    assert_eq!(
        now.supervision_grid.as_deref(),
        Some(other.supervision_grid.as_str())
    );
}
