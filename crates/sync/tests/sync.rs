//! Device ↔ server sync against a real server on 127.0.0.1:0.

mod common;

use common::*;
use gridpatrol_device::local;
use gridpatrol_docs::{ReportEdit, Review, Verdict};
use gridpatrol_store::SyncState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_and_the_leader_edit_offline_and_all_edits_survive() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let mut a = device(&url, "I0001");
    let mut b = device(&url, "I0001"); // the same inspector's second phone
    let mut lead = device(&url, "I0003");

    local::create_case(
        &mut a.store,
        "case-1",
        &report("I0001", G1, "上水井盖破损"),
        1,
    )
    .unwrap();
    assert_eq!(
        a.store.get_document("case-1").unwrap().unwrap().sync_state,
        SyncState::LocalOnly
    );
    let r = a.engine.sync(&mut a.store).await.unwrap();
    assert_eq!(
        (r.synced, r.refused.len(), r.failed.len()),
        (1, 0, 0),
        "{r:?}"
    );
    assert_eq!(
        a.store.get_document("case-1").unwrap().unwrap().sync_state,
        SyncState::Synced
    );
    assert!(a.store.outbox_pending(10).unwrap().is_empty());

    // The second phone and the leader fetch the case.
    for d in [&mut b, &mut lead] {
        let r = d.engine.sync(&mut d.store).await.unwrap();
        assert_eq!(r.pulled, 1, "{r:?}");
        assert!(local::load_case(&mut d.store, "case-1").unwrap().is_some());
    }

    // All three edit offline at the same time.
    local::edit_case(&mut a.store, "case-1", 2, |c| {
        c.edit_report(&ReportEdit {
            description: Some("东侧上水井盖破损".into()),
            ..Default::default()
        })
    })
    .unwrap();
    local::edit_case(&mut b.store, "case-1", 2, |c| {
        c.edit_report(&ReportEdit {
            description: Some("上水井盖破损，有行人绊倒".into()),
            ..Default::default()
        })
    })
    .unwrap();
    local::edit_case(&mut lead.store, "case-1", 2, |c| {
        c.set_review(&Review {
            reviewer: "I0003".into(),
            verdict: Verdict::NeedsFix,
            note: "补拍照片".into(),
            at_ms: 1_700_000_000_003,
            reason: None,
            duplicate_of: None,
        })
    })
    .unwrap();

    // Everyone syncs twice (the first pass of the early ones cannot yet see
    // the later ones' edits).
    for _ in 0..2 {
        for d in [&mut a, &mut b, &mut lead] {
            let r = d.engine.sync(&mut d.store).await.unwrap();
            assert!(r.refused.is_empty() && r.failed.is_empty(), "{r:?}");
        }
    }
    let docs: Vec<_> = [&mut a, &mut b, &mut lead]
        .into_iter()
        .map(|d| local::load_case(&mut d.store, "case-1").unwrap().unwrap())
        .collect();
    let heads: Vec<_> = docs.iter().map(|c| c.doc().get_heads()).collect();
    assert_eq!(heads[0], heads[1]);
    assert_eq!(heads[1], heads[2]);
    let c = docs[0].read().unwrap();
    assert_eq!(c.report.description, "东侧上水井盖破损，有行人绊倒");
    let review = c.review.unwrap();
    assert_eq!(review.verdict, Verdict::NeedsFix);
    assert_eq!(review.note, "补拍照片");
    for d in [&a, &b, &lead] {
        assert_eq!(
            d.store.get_document("case-1").unwrap().unwrap().sync_state,
            SyncState::Synced
        );
        assert!(d.store.outbox_pending(10).unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_shows_refused_with_the_servers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let mut owner = device(&url, "I0001");
    let mut other = device(&url, "I0002"); // same grid: sees the case, doesn't own it
    local::create_case(
        &mut owner.store,
        "case-r",
        &report("I0001", G1, "暴露垃圾"),
        1,
    )
    .unwrap();
    owner.engine.sync(&mut owner.store).await.unwrap();
    let r = other.engine.sync(&mut other.store).await.unwrap();
    assert_eq!(r.pulled, 1);

    local::edit_case(&mut other.store, "case-r", 2, |c| {
        c.edit_report(&ReportEdit {
            description: Some("误报".into()),
            ..Default::default()
        })
    })
    .unwrap();
    let r = other.engine.sync(&mut other.store).await.unwrap();
    assert_eq!(r.refused.len(), 1, "{r:?}");
    match other
        .store
        .get_document("case-r")
        .unwrap()
        .unwrap()
        .sync_state
    {
        SyncState::Refused { reason } => assert!(reason.contains("report"), "{reason}"),
        s => panic!("expected refused, got {s:?}"),
    }
    // Refused changes are not resent, and the server copy is untouched.
    assert!(other.store.outbox_pending(10).unwrap().is_empty());
    owner.engine.sync(&mut owner.store).await.unwrap();
    let c = local::load_case(&mut owner.store, "case-r")
        .unwrap()
        .unwrap();
    assert_eq!(c.read().unwrap().report.description, "暴露垃圾");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_nothing_new_reconnects_in_one_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let mut a = device(&srv.url(), "I0001");
    for i in 0..20 {
        local::create_case(&mut a.store, &format!("c{i}"), &report("I0001", G1, "x"), 1).unwrap();
    }
    let r = a.engine.sync(&mut a.store).await.unwrap();
    assert_eq!(r.synced, 20);
    // The manifest now lists the device's own uploads; they need nothing.
    a.engine.sync(&mut a.store).await.unwrap();
    let before = a.engine.traffic();
    let r = a.engine.sync(&mut a.store).await.unwrap();
    let after = a.engine.traffic();
    assert_eq!(r.docs, 0, "{r:?}");
    assert_eq!(after.round_trips - before.round_trips, 1);
    assert!(after.bytes_up - before.bytes_up + after.bytes_down - before.bytes_down < 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_changes_takes_one_round_and_later_changes_still_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let mut a = device(&url, "I0001");
    let mut b = device(&url, "I0002"); // same grid: pulls every case of it
    for i in 0..5 {
        local::create_case(&mut a.store, &format!("p{i}"), &report("I0001", G1, "x"), 1).unwrap();
    }
    a.engine.sync(&mut a.store).await.unwrap();
    // Once the server's answer leaves both copies with the same heads,
    // nothing more is said about them in this session.
    let r = b.engine.sync(&mut b.store).await.unwrap();
    assert_eq!((r.pulled, r.synced, r.rounds), (5, 5, 1), "{r:?}");
    for i in 0..5 {
        let d = b.store.get_document(&format!("p{i}")).unwrap().unwrap();
        assert_eq!(d.sync_state, SyncState::Synced);
    }
    // The server never heard b confirm: each later change still reaches b,
    // and b's copy ends identical to a's.
    for round in 0..3 {
        let text = format!("第{round}次补充");
        local::edit_case(&mut a.store, "p2", 2 + round, |c| {
            c.edit_report(&ReportEdit {
                description: Some(text.clone()),
                ..Default::default()
            })
        })
        .unwrap();
        a.engine.sync(&mut a.store).await.unwrap();
        let r = b.engine.sync(&mut b.store).await.unwrap();
        assert_eq!((r.pulled, r.synced, r.rounds), (1, 1, 1), "{r:?}");
        let theirs = local::load_case(&mut a.store, "p2").unwrap().unwrap();
        let mine = local::load_case(&mut b.store, "p2").unwrap().unwrap();
        assert_eq!(mine.doc().get_heads(), theirs.doc().get_heads());
        assert_eq!(mine.read().unwrap().report.description, text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_fails_at_once_without_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let mut cfg = gridpatrol_sync::SyncConfig::new(&srv.url(), "I0001", "wrong");
    cfg.retry.base_delay = std::time::Duration::from_secs(30);
    let mut e = gridpatrol_sync::SyncEngine::new(cfg).unwrap();
    let mut store = gridpatrol_store::Store::open_in_memory().unwrap();
    let err = e.sync(&mut store).await.unwrap_err();
    assert!(err.to_string().contains("bad_credentials"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centre_task_and_inspector_result_round_trip_and_a_leader_cannot_write_the_lifecycle() {
    use gridpatrol_docs::{Outcome, Task, TaskKind, VerificationDoc, VerificationResult};
    use gridpatrol_domain::lifecycle::{Action, CaseState};

    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let mut insp = device(&url, "I0001");
    let mut centre = device(&url, "C0001");
    let mut lead = device(&url, "I0003");
    local::create_case(
        &mut insp.store,
        "case-v",
        &report("I0001", G1, "路灯不亮"),
        1,
    )
    .unwrap();
    insp.engine.sync(&mut insp.store).await.unwrap();
    centre.engine.sync(&mut centre.store).await.unwrap();
    lead.engine.sync(&mut lead.store).await.unwrap();

    // The centre files the case and sends the inspector to check it.
    local::edit_case(&mut centre.store, "case-v", 2, |c| {
        c.append_step(Action::File, "C0001", 1_700_000_000_002, "立案")
            .map(|_| ())
    })
    .unwrap();
    let actor = local::device_actor(&mut centre.store).unwrap();
    let task = Task {
        assignee: "I0001".into(),
        kind: TaskKind::HandlingCheck,
        due_at_ms: 1_700_000_000_010,
        created_by: "C0001".into(),
    };
    let v = VerificationDoc::create(actor, "ver-v", "case-v", &task).unwrap();
    local::save_verification(&mut centre.store, &v, 2).unwrap();
    let r = centre.engine.sync(&mut centre.store).await.unwrap();
    assert!(r.refused.is_empty() && r.failed.is_empty(), "{r:?}");

    // The inspector receives both, and writes the result.
    let r = insp.engine.sync(&mut insp.store).await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(
        local::load_case(&mut insp.store, "case-v")
            .unwrap()
            .unwrap()
            .read()
            .unwrap()
            .state,
        CaseState::Filed
    );
    local::edit_verification(&mut insp.store, "ver-v", 3, |v| {
        v.set_result(&VerificationResult {
            outcome: Outcome::Pass,
            note: "已修复".into(),
            photos: vec![],
            lon: 116.44,
            lat: 39.92,
            at_ms: 1_700_000_000_003,
        })
    })
    .unwrap();
    let r = insp.engine.sync(&mut insp.store).await.unwrap();
    assert!(r.refused.is_empty(), "{r:?}");
    centre.engine.sync(&mut centre.store).await.unwrap();
    let back = local::load_verification(&mut centre.store, "ver-v")
        .unwrap()
        .unwrap();
    assert_eq!(back.read().unwrap().result.unwrap().outcome, Outcome::Pass);

    // The leader may review but not move the lifecycle.
    lead.engine.sync(&mut lead.store).await.unwrap();
    local::edit_case(&mut lead.store, "case-v", 4, |c| {
        c.append_step(Action::Dispatch, "I0003", 1_700_000_000_004, "")
            .map(|_| ())
    })
    .unwrap();
    let r = lead.engine.sync(&mut lead.store).await.unwrap();
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert!(matches!(
        lead.store
            .get_document("case-v")
            .unwrap()
            .unwrap()
            .sync_state,
        SyncState::Refused { .. }
    ));
}

/// `https://` really is TLS: the first bytes the engine sends to an https
/// server are a TLS handshake record, never the login with the password.
#[tokio::test]
async fn https_server_urls_are_spoken_to_in_tls() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut first = [0u8; 3];
        s.read_exact(&mut first).unwrap();
        first
    });
    let mut cfg = gridpatrol_sync::SyncConfig::new(
        &format!("https://127.0.0.1:{port}"),
        "I0001",
        "patrol-I0001",
    );
    cfg.retry.max_attempts = 1;
    let mut engine = gridpatrol_sync::SyncEngine::new(cfg).unwrap();
    let client = tokio::spawn(async move {
        let mut store = gridpatrol_store::Store::open_in_memory().unwrap();
        engine.sync(&mut store).await
    });
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio::task::spawn_blocking(move || peer.join().unwrap()),
    )
    .await
    .expect("the engine never connected to the https server")
    .unwrap();
    assert_eq!(first[0], 0x16, "TLS handshake record, got {first:?}");
    assert_eq!(first[1], 0x03, "TLS version major, got {first:?}");
    // The peer hung up mid-handshake: a network failure, nothing stored.
    let err = client.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("network"), "{err}");
}

/// A malformed case planted straight into server storage (as a server from
/// before the schema check, or a restored backup, could hold) must not stop
/// anyone's sync: it is quarantined with its reason and everything else
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_document_on_the_server_is_quarantined_and_the_rest_syncs() {
    use automerge::transaction::Transactable;
    use gridpatrol_server_storage::{DocIndex, DocWrite};

    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let mut a = device(&url, "I0001");
    for id in ["case-1", "case-2"] {
        local::create_case(&mut a.store, id, &report("I0001", G1, "井盖破损"), 1).unwrap();
    }
    a.engine.sync(&mut a.store).await.unwrap();

    // A case whose `lon` is a string: the device reader refuses it.
    let good = local::load_case(&mut a.store, "case-1").unwrap().unwrap();
    let mut bad = gridpatrol_docs::CaseDoc::create(
        automerge::ActorId::from([5u8; 16]),
        "case-bad",
        &report("I0002", G1, "坏数据"),
    )
    .unwrap()
    .into_doc();
    let r = automerge::ReadDoc::get(&bad, automerge::ROOT, "report")
        .unwrap()
        .unwrap()
        .1;
    let mut tx = bad.transaction();
    tx.put(&r, "lon", "116.4").unwrap();
    tx.commit();
    let mut heads: Vec<String> = bad.get_heads().iter().map(|h| h.to_string()).collect();
    heads.sort();
    srv.state
        .store
        .commit_sync(
            "planted",
            &[DocWrite {
                id: "case-bad".into(),
                kind: gridpatrol_protocol::DocKind::Case,
                bytes: bad.save(),
                heads,
                expected_seq: None,
                index: DocIndex {
                    supervision_grid: Some(G1.into()),
                    reporter: Some("I0002".into()),
                    assignee: None,
                    photos: vec![],
                    ..Default::default()
                },
            }],
            &[],
        )
        .unwrap();
    assert!(good.read().is_ok());

    // The other inspector of the grid and the squad leader sync normally.
    for user in ["I0002", "I0003"] {
        let mut d = device(&url, user);
        let r = d.engine.sync(&mut d.store).await.unwrap();
        assert_eq!(r.pulled, 2, "{user}: {r:?}");
        assert_eq!(r.quarantined.len(), 1, "{user}: {r:?}");
        assert_eq!(r.quarantined[0].0, "case-bad");
        assert!(r.quarantined[0].1.contains("lon"), "{:?}", r.quarantined);
        assert!(r.failed.is_empty(), "{r:?}");
        for id in ["case-1", "case-2"] {
            assert!(local::load_case(&mut d.store, id).unwrap().is_some());
        }
        assert!(d.store.get_document("case-bad").unwrap().is_none());
        let q = d.store.quarantined().unwrap();
        assert_eq!(q.len(), 1);
        assert!(automerge::Automerge::load(&q[0].bytes).is_ok());
        // The next session is clean too: nothing new, nothing failing.
        let again = d.engine.sync(&mut d.store).await.unwrap();
        assert!(again.failed.is_empty(), "{again:?}");
    }
    // The reporter's own later edit still goes through.
    local::edit_case(&mut a.store, "case-2", 5, |c| {
        c.edit_report(&ReportEdit {
            description: Some("井盖破损，已围挡".into()),
            ..Default::default()
        })
    })
    .unwrap();
    let r = a.engine.sync(&mut a.store).await.unwrap();
    assert_eq!(r.synced, 1, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_arrive_within_each_sessions_download_budget() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let url = srv.url();
    let meta = gridpatrol_store::PhotoMeta {
        mime: "image/jpeg".into(),
        taken_at_ms: 1,
        lon: None,
        lat: None,
    };
    // The reporter's case has three photos of 10,000 bytes each.
    let rdir = tempfile::tempdir().unwrap();
    let mut a = device_on_disk(&url, "I0001", rdir.path(), 0);
    let photos: Vec<(String, Vec<u8>)> = (0..3u8)
        .map(|n| {
            let bytes = vec![n + 1; 10_000];
            (a.store.put_photo(&bytes, &meta).unwrap(), bytes)
        })
        .collect();
    let mut r = report("I0001", G1, "三张照片");
    r.photos = photos.iter().map(|(sha, _)| sha.clone()).collect();
    local::create_case(&mut a.store, "case-p", &r, 1).unwrap();
    let rep = a.engine.sync(&mut a.store).await.unwrap();
    assert_eq!(rep.photos_uploaded, 3, "{rep:?}");
    assert!(rep.photos_downloaded.is_empty(), "it has them all");

    let has = |d: &Device| {
        photos
            .iter()
            .filter(|(sha, _)| d.store.has_photo(sha).unwrap())
            .count()
    };
    // A budget below one photo: one photo per session (the first always fits).
    let ldir = tempfile::tempdir().unwrap();
    let mut lead = device_on_disk(&url, "I0003", ldir.path(), 1);
    for n in 1..=3 {
        let rep = lead.engine.sync(&mut lead.store).await.unwrap();
        assert_eq!(rep.photos_downloaded.len(), 1, "session {n}: {rep:?}");
        assert_eq!(has(&lead), n);
    }
    let rep = lead.engine.sync(&mut lead.store).await.unwrap();
    assert!(rep.photos_downloaded.is_empty(), "{rep:?}");
    for (sha, bytes) in &photos {
        let path = lead.store.photo_path(sha).unwrap().unwrap();
        assert_eq!(&std::fs::read(path).unwrap(), bytes);
    }
    assert_eq!(gridpatrol_sync::pending_photos(&lead.store).unwrap(), 0);

    // A budget of 25,000 bytes: two photos, then the third would pass it.
    let l2dir = tempfile::tempdir().unwrap();
    let mut lead2 = device_on_disk(&url, "I0003", l2dir.path(), 25_000);
    let rep = lead2.engine.sync(&mut lead2.store).await.unwrap();
    assert_eq!(rep.photos_downloaded.len(), 2, "{rep:?}");
    assert_eq!(rep.photos_not_downloaded.len(), 1, "{rep:?}");
    assert!(rep.photos_not_downloaded[0].1.contains("budget"), "{rep:?}");
    let rep = lead2.engine.sync(&mut lead2.store).await.unwrap();
    assert_eq!(rep.photos_downloaded.len(), 1, "{rep:?}");
    assert_eq!(has(&lead2), 3);
    srv.shutdown().await.unwrap();
}
