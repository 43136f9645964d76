//! A server restored from an older backup gets back, from the devices,
//! everything it had acknowledged since — with no one doing anything and
//! nothing duplicated — including a case whose report and review (two
//! accounts) both came after the backup.

mod common;

use std::collections::BTreeMap;

use common::{device, device_on_disk, report, server, Device, G1, G3};
use gridpatrol_device::local;
use gridpatrol_docs::{ReportEdit, Review, Verdict};
use gridpatrol_server::spawn_test_server;
use gridpatrol_server_storage::{PhotoStatus, ServerStore};
use gridpatrol_server_storage_sqlite::backup;

fn heads_of(d: &mut Device, id: &str) -> Vec<String> {
    let doc = local::load_doc(&mut d.store, id)
        .unwrap()
        .unwrap_or_else(|| panic!("{id} missing"));
    let mut h: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    h.sort();
    h
}

/// Every stored document on the server: id → sorted heads.
fn server_docs(store: &dyn ServerStore, ids: &[String]) -> BTreeMap<String, Vec<String>> {
    store
        .load_docs(ids)
        .unwrap()
        .into_iter()
        .zip(ids)
        .filter_map(|(d, id)| {
            d.map(|d| {
                let doc = automerge::Automerge::load(&d.bytes).unwrap();
                let mut h: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
                h.sort();
                (id.clone(), h)
            })
        })
        .collect()
}

async fn sync_ok(d: &mut Device) -> gridpatrol_sync::SyncReport {
    let r = d.engine.sync(&mut d.store).await.unwrap();
    assert!(r.failed.is_empty() && r.refused.is_empty(), "{r:?}");
    r
}

fn review(at_ms: i64) -> Review {
    Review {
        reviewer: "I0003".into(),
        verdict: Verdict::Approved,
        note: "属实".into(),
        at_ms,
        reason: None,
        duplicate_of: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_send_again_what_a_server_restored_from_an_old_backup_lacks() {
    let root = tempfile::tempdir().unwrap();
    let (live, restored, file) = (
        root.path().join("live"),
        root.path().join("restored"),
        root.path().join("backup.tar"),
    );
    let srv = server(&live).await;
    let url = srv.url();
    let adir = tempfile::tempdir().unwrap();
    let mut a = device_on_disk(&url, "I0001", adir.path(), u64::MAX);
    let mut b = device(&url, "I0002");
    let mut c = device(&url, "I0004");
    let mut lead = device(&url, "I0003");
    let meta = gridpatrol_store::PhotoMeta {
        mime: "image/jpeg".into(),
        taken_at_ms: 1,
        lon: None,
        lat: None,
    };
    let photo = |n: u8| -> Vec<u8> { (0..30_000u32).map(|i| (i as u8) ^ n).collect() };
    let mut ids: Vec<String> = Vec::new();
    let mut create = |d: &mut Device, id: &str, grid: &str, who: &str, photo: Option<Vec<u8>>| {
        let mut r = report(who, grid, &format!("问题 {id}"));
        if let Some(bytes) = photo {
            r.photos = vec![d.store.put_photo(&bytes, &meta).unwrap()];
        }
        local::create_case(&mut d.store, id, &r, 1).unwrap();
        ids.push(id.to_string());
    };

    // N cases from three inspectors, synced; the leader reviews one.
    create(&mut a, "a-1", G1, "I0001", Some(photo(1)));
    create(&mut a, "a-2", G1, "I0001", None);
    create(&mut b, "b-1", G1, "I0002", None);
    create(&mut c, "c-1", G3, "I0004", None);
    for d in [&mut a, &mut b, &mut c, &mut lead] {
        sync_ok(d).await;
    }
    local::edit_case(&mut lead.store, "b-1", 2, |k| {
        k.set_review(&review(1_700_000_000_001))
    })
    .unwrap();
    sync_ok(&mut lead).await;
    sync_ok(&mut b).await;

    // The backup, taken while the server runs.
    let m = backup::backup(&live, &file, &mut |_| {}).unwrap();
    assert_eq!((m.counts.cases, m.photos.len()), (4, 1));

    // M more after it: new cases (one with a photo), a correction of a
    // backed-up case, and a case reported and reviewed (two accounts).
    create(&mut a, "a-3", G1, "I0001", Some(photo(2)));
    local::edit_case(&mut a.store, "a-2", 3, |k| {
        k.edit_report(&ReportEdit {
            description: Some("问题 a-2（补充）".into()),
            ..Default::default()
        })
    })
    .unwrap();
    create(&mut b, "b-2", G1, "I0002", None);
    create(&mut c, "c-2", G3, "I0004", None);
    for d in [&mut a, &mut b, &mut c, &mut lead] {
        sync_ok(d).await;
    }
    local::edit_case(&mut lead.store, "b-2", 4, |k| {
        k.set_review(&review(1_700_000_000_002))
    })
    .unwrap();
    sync_ok(&mut lead).await;
    sync_ok(&mut b).await;
    let before = server_docs(srv.state.store.as_ref(), &ids);
    assert_eq!(before.len(), 7);
    srv.shutdown().await.unwrap();

    // The server comes back from the backup: it lacks a-3, b-2, c-2, the
    // correction of a-2, and the photo of a-3.
    let r = backup::restore(&file, &restored, false, &mut |_| {}).unwrap();
    assert_ne!(r.epoch, m.epoch);
    let srv = spawn_test_server(&restored).await.unwrap();
    let store = srv.state.store.clone();
    assert_eq!(server_docs(store.as_ref(), &ids).len(), 4);
    for d in [&mut a, &mut b, &mut c, &mut lead] {
        d.engine = gridpatrol_sync::SyncEngine::new({
            let mut cfg = gridpatrol_sync::SyncConfig::new(
                &srv.url(),
                d.engine.user().map(|u| u.id.clone()).as_deref().unwrap(),
                &gridpatrol_server::accounts::demo_password(d.engine.user().unwrap().id.as_str()),
            );
            cfg.photo_download_budget = u64::MAX;
            cfg
        })
        .unwrap();
    }

    // Everyone syncs as usual. The leader goes first: its review of b-2
    // cannot go before b-2's report, which is I0002's to send.
    let first = lead.engine.sync(&mut lead.store).await.unwrap();
    assert!(first.recovered && first.failed.is_empty(), "{first:?}");
    for d in [&mut b, &mut a, &mut c] {
        let r = sync_ok(d).await;
        assert!(r.recovered, "{r:?}");
    }
    // Once b-2's report is back, the leader's next session sends its review.
    sync_ok(&mut lead).await;
    for d in [&mut a, &mut b, &mut c, &mut lead] {
        let r = sync_ok(d).await;
        assert!(!r.recovered, "recovery happens once: {r:?}");
    }

    // N + M, each identical to what the devices hold and to the server
    // before the restore; the photos are back too.
    let after = server_docs(store.as_ref(), &ids);
    assert_eq!(after, before, "the restored server holds everything again");
    for (d, mine) in [
        (&mut a, &["a-1", "a-2", "a-3"][..]),
        (&mut b, &["b-1", "b-2"][..]),
        (&mut c, &["c-1", "c-2"][..]),
        (&mut lead, &["b-1", "b-2"][..]),
    ] {
        for id in mine {
            assert_eq!(heads_of(d, id), after[*id], "{id} on the device = server");
        }
    }
    for sha in local::load_case(&mut a.store, "a-3")
        .unwrap()
        .unwrap()
        .read()
        .unwrap()
        .report
        .photos
    {
        assert!(
            matches!(
                store.photo_status(&sha).unwrap(),
                PhotoStatus::Complete { .. }
            ),
            "photo of a-3"
        );
    }
    // Nothing duplicated: the server holds exactly these documents.
    assert_eq!(store.doc_count().unwrap(), 7);
    srv.shutdown().await.unwrap();
}
