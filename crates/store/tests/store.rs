//! Behaviour of the device store through its public API.

use gridpatrol_domain::roles::Role;
use gridpatrol_store::{
    Assignment, CaseWrite, DocKind, Page, PhotoMeta, Store, StoreError, SyncState,
    VerificationWrite, LATEST_SCHEMA_VERSION,
};
use rusqlite::Connection;

fn case(id: &str, updated_at_ms: i64) -> CaseWrite {
    CaseWrite {
        id: id.to_owned(),
        category_code: "02010101".to_owned(),
        status: "reported".to_owned(),
        title: format!("上水井盖破损 {id}"),
        summary: "井盖破损，存在安全隐患".to_owned(),
        technical_grid: "110105001001001".to_owned(),
        supervision_grid: "SG-001".to_owned(),
        lon: 116.4866,
        lat: 39.9219,
        created_at_ms: updated_at_ms,
        updated_at_ms,
        doc_bytes: format!("automerge-bytes-of-{id}-{updated_at_ms}").into_bytes(),
        doc_heads: vec![[7u8; 32], [9u8; 32]],
        reporter: "I0001".to_owned(),
        review: None,
        resubmitted: false,
        photo_count: 0,
    }
}

fn file_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gridpatrol.db");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

#[test]
fn fresh_file_gets_all_migrations_and_reopen_is_a_noop() {
    let (_dir, path, mut store) = file_store();
    assert_eq!(store.schema_version(), LATEST_SCHEMA_VERSION);
    store.save_case(&case("c1", 1)).unwrap();
    drop(store);

    let raw = Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let applied: i64 = raw
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, LATEST_SCHEMA_VERSION as i64);
    drop(raw);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), LATEST_SCHEMA_VERSION);
    assert_eq!(store.case_count().unwrap(), 1, "reopen kept the data");
    store.integrity_check().unwrap();
    let raw = Connection::open(&path).unwrap();
    let applied: i64 = raw
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, LATEST_SCHEMA_VERSION as i64, "nothing re-applied");
}

#[test]
fn database_from_a_newer_app_is_refused_and_left_untouched() {
    let (_dir, path, store) = file_store();
    drop(store);
    let future = LATEST_SCHEMA_VERSION + 1;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported }
            if found == future && supported == LATEST_SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("update the app"), "{err}");
    let v: u32 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, future);
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "still the newer app's WAL database");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "this is not SQLite, and it has to stay as it is ".repeat(50);
    std::fs::write(&path, &text).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("not a database"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn edited_released_migration_is_detected() {
    let (_dir, path, store) = file_store();
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE schema_migrations SET sha256 = ?1",
            [&"0".repeat(64)],
        )
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::MigrationEdited { version: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn save_case_writes_projection_document_and_outbox() {
    let mut store = Store::open_in_memory().unwrap();
    let c = case("c1", 1_700_000_001_000);
    store.save_case(&c).unwrap();

    let row = store.get_case("c1").unwrap().unwrap();
    assert_eq!(row.title, c.title);
    assert_eq!(row.lon, c.lon);
    let doc = store.get_document("c1").unwrap().unwrap();
    assert_eq!(doc.kind, DocKind::Case);
    assert_eq!(doc.case_id, "c1");
    assert_eq!(doc.bytes, c.doc_bytes);
    assert_eq!(doc.heads, c.doc_heads);
    assert_eq!(doc.sync_state, SyncState::LocalOnly);
    let out = store.outbox_pending(10).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].doc_id, "c1");
    assert_eq!(out[0].heads, c.doc_heads);

    // A second local change updates in place and queues a second entry.
    store.set_sync_state("c1", &SyncState::Synced).unwrap();
    let mut c2 = case("c1", 1_700_000_002_000);
    c2.status = "filed".to_owned();
    c2.doc_heads = vec![[1u8; 32]];
    store.save_case(&c2).unwrap();
    assert_eq!(store.case_count().unwrap(), 1);
    assert_eq!(store.get_case("c1").unwrap().unwrap().status, "filed");
    let doc = store.get_document("c1").unwrap().unwrap();
    assert_eq!(doc.heads, vec![[1u8; 32]]);
    assert_eq!(doc.sync_state, SyncState::LocalOnly, "local edit resets");
    let out = store.outbox_pending(10).unwrap();
    assert_eq!(out.len(), 2);
    assert!(out[0].seq < out[1].seq);

    assert_eq!(store.outbox_ack(&[out[0].seq, 999_999]).unwrap(), 1);
    let left = store.outbox_pending(10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].heads, vec![[1u8; 32]]);
    assert_eq!(store.outbox_ack(&[out[0].seq]).unwrap(), 0, "repeat ack");
}

#[test]
fn sync_state_round_trips_including_refusal_reason() {
    let mut store = Store::open_in_memory().unwrap();
    store.save_case(&case("c1", 5)).unwrap();
    for s in [
        SyncState::Syncing,
        SyncState::Refused {
            reason: "类别已停用".to_owned(),
        },
        SyncState::Synced,
        SyncState::LocalOnly,
    ] {
        store.set_sync_state("c1", &s).unwrap();
        assert_eq!(store.get_document("c1").unwrap().unwrap().sync_state, s);
    }
    let err = store
        .set_sync_state("nope", &SyncState::Synced)
        .unwrap_err();
    assert!(matches!(err, StoreError::DocumentNotFound(_)), "{err:?}");
}

#[test]
fn verification_needs_an_existing_case_foreign_key() {
    let mut store = Store::open_in_memory().unwrap();
    let v = VerificationWrite {
        id: "v1".to_owned(),
        case_id: "missing".to_owned(),
        doc_bytes: b"verification".to_vec(),
        doc_heads: vec![[3u8; 32]],
        updated_at_ms: 10,
        assignee: "I0001".to_owned(),
        task_kind: "handling_check".to_owned(),
        due_at_ms: 100,
        outcome: None,
    };
    let err = store.save_verification(&v).unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    assert!(store.get_document("v1").unwrap().is_none());
    assert!(store.outbox_pending(10).unwrap().is_empty());

    store.save_case(&case("c1", 5)).unwrap();
    let v = VerificationWrite {
        case_id: "c1".to_owned(),
        ..v
    };
    store.save_verification(&v).unwrap();
    let doc = store.get_document("v1").unwrap().unwrap();
    assert_eq!(doc.kind, DocKind::Verification);
    assert_eq!(doc.case_id, "c1");
    let kinds: Vec<DocKind> = store
        .outbox_pending(10)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [DocKind::Case, DocKind::Verification]);
}

#[test]
fn case_id_colliding_with_a_verification_document_writes_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    store.save_case(&case("c1", 5)).unwrap();
    store
        .save_verification(&VerificationWrite {
            id: "v1".to_owned(),
            case_id: "c1".to_owned(),
            doc_bytes: b"v".to_vec(),
            doc_heads: vec![],
            updated_at_ms: 6,
            assignee: "I0001".to_owned(),
            task_kind: "handling_check".to_owned(),
            due_at_ms: 100,
            outcome: None,
        })
        .unwrap();
    // The cases row for "v1" is inserted first, then the document upsert
    // finds a verification document under that id: all must roll back.
    let err = store.save_case(&case("v1", 7)).unwrap_err();
    assert!(matches!(err, StoreError::IdCollision(_)), "{err:?}");
    assert!(store.get_case("v1").unwrap().is_none());
    assert_eq!(
        store.get_document("v1").unwrap().unwrap().kind,
        DocKind::Verification
    );
    assert_eq!(store.outbox_pending(10).unwrap().len(), 2);
}

#[test]
fn failure_mid_write_leaves_nothing_half_written() {
    let (_dir, path, mut store) = file_store();
    store.save_case(&case("old", 1)).unwrap();
    // Make the LAST statement of save_case (the outbox insert) fail, after
    // the projection and document were written inside the transaction.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON outbox
             WHEN NEW.doc_id IN ('new', 'old')
             BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
        )
        .unwrap();

    let err = store.save_case(&case("new", 2)).unwrap_err();
    assert!(err.to_string().contains("forced failure"), "{err}");
    assert!(store.get_case("new").unwrap().is_none(), "projection");
    assert!(store.get_document("new").unwrap().is_none(), "document");
    assert!(store
        .outbox_pending(100)
        .unwrap()
        .iter()
        .all(|e| e.doc_id != "new"));

    // An update that fails keeps the previous version whole.
    let mut upd = case("old", 3);
    upd.title = "changed".to_owned();
    store.save_case(&upd).unwrap_err();
    let row = store.get_case("old").unwrap().unwrap();
    assert_eq!(
        (row.title.as_str(), row.updated_at_ms),
        ("上水井盖破损 old", 1)
    );
    assert_eq!(
        store.get_document("old").unwrap().unwrap().bytes,
        case("old", 1).doc_bytes
    );
    assert_eq!(store.outbox_pending(100).unwrap().len(), 1);
    store.integrity_check().unwrap();
}

#[test]
fn invalid_coordinates_are_rejected_by_the_schema() {
    let mut store = Store::open_in_memory().unwrap();
    let mut c = case("c1", 1);
    c.lat = 91.0;
    assert!(store.save_case(&c).is_err());
    assert_eq!(store.case_count().unwrap(), 0);
    assert!(store.get_document("c1").unwrap().is_none());
}

#[test]
fn list_cases_pages_newest_first_without_gaps_or_repeats() {
    let mut store = Store::open_in_memory().unwrap();
    // 23 cases; several share an updated_at to exercise the id tie-break.
    for i in 0..23 {
        store
            .save_case(&case(&format!("c{i:02}"), 1000 + (i / 3)))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = Page {
        limit: 5,
        after: None,
    };
    loop {
        let p = store.list_cases(&page).unwrap();
        seen.extend(p.items.iter().map(|r| (r.updated_at_ms, r.id.clone())));
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut want: Vec<(i64, String)> = (0..23)
        .map(|i| (1000 + (i / 3), format!("c{i:02}")))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, want);

    let err = store
        .list_cases(&Page {
            limit: 0,
            after: None,
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
}

#[test]
fn list_query_is_served_by_the_index_without_sorting() {
    let (_dir, path, mut store) = file_store();
    store.save_case(&case("c1", 1)).unwrap();
    let raw = Connection::open(&path).unwrap();
    for sql in [
        "EXPLAIN QUERY PLAN SELECT id FROM cases ORDER BY updated_at_ms DESC, id DESC LIMIT 50",
        "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE (updated_at_ms, id) < (5, 'x')
         ORDER BY updated_at_ms DESC, id DESC LIMIT 50",
    ] {
        let plan: Vec<String> = raw
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(plan.contains("cases_by_updated"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

#[test]
fn assignment_is_replaced_and_read_back() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.assignment().unwrap(), None);
    let mut a = Assignment {
        inspector_id: "I-0001".to_owned(),
        name: "张伟".to_owned(),
        role: Role::Inspector,
        squad: Some("SQ-01".to_owned()),
        supervision_grid: Some("SG-001".to_owned()),
    };
    store.set_assignment(&a).unwrap();
    assert_eq!(store.assignment().unwrap().as_ref(), Some(&a));
    // Rotation: new grid, same person.
    a.supervision_grid = Some("SG-002".to_owned());
    a.role = Role::SquadLeader;
    store.set_assignment(&a).unwrap();
    assert_eq!(store.assignment().unwrap(), Some(a));
}

#[test]
fn meta_values_and_device_actor_id_persist() {
    let (_dir, path, mut store) = file_store();
    assert_eq!(store.get_meta("cursor").unwrap(), None);
    store.set_meta("cursor", "42").unwrap();
    store.set_meta("cursor", "43").unwrap();
    assert_eq!(store.get_meta("cursor").unwrap().as_deref(), Some("43"));
    let actor = store.device_actor_id().unwrap();
    assert_eq!(actor.len(), 32);
    assert!(actor.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(store.device_actor_id().unwrap(), actor);
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.device_actor_id().unwrap(), actor);
    assert_eq!(store.get_meta("cursor").unwrap().as_deref(), Some("43"));
    let other = Store::open_in_memory().unwrap().device_actor_id().unwrap();
    assert_ne!(other, actor, "each device gets its own actor");
}

#[test]
fn photos_are_stored_by_digest_idempotently() {
    let (dir, _path, mut store) = file_store();
    let bytes = b"\xff\xd8\xff\xe0 fake jpeg bytes".to_vec();
    let meta = PhotoMeta {
        mime: "image/jpeg".to_owned(),
        taken_at_ms: 1_700_000_000_000,
        lon: Some(116.48),
        lat: Some(39.92),
    };
    let sha = store.put_photo(&bytes, &meta).unwrap();
    use sha2::Digest;
    assert_eq!(sha, hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(sha.len(), 64);
    assert!(store.has_photo(&sha).unwrap());
    let path = store.photo_path(&sha).unwrap().unwrap();
    assert_eq!(path, dir.path().join("gridpatrol.db.photos").join(&sha));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let (m, len) = store.photo_meta(&sha).unwrap().unwrap();
    assert_eq!((m, len), (meta.clone(), bytes.len() as u64));

    assert_eq!(store.put_photo(&bytes, &meta).unwrap(), sha);
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1, "no duplicates, no temp files left");

    let other = "0".repeat(64);
    assert!(!store.has_photo(&other).unwrap());
    assert_eq!(store.photo_path(&other).unwrap(), None);
    for bad in ["../../etc/passwd", "ABC", &"A".repeat(64)] {
        assert!(matches!(
            store.has_photo(bad).unwrap_err(),
            StoreError::BadDigest(_)
        ));
    }
    assert!(matches!(
        store.put_photo(b"", &meta).unwrap_err(),
        StoreError::Invalid(_)
    ));
}

/// A JPEG's metadata with no time or place.
fn plain_meta() -> PhotoMeta {
    PhotoMeta {
        mime: "image/jpeg".to_owned(),
        taken_at_ms: 0,
        lon: None,
        lat: None,
    }
}

#[test]
fn a_photo_received_under_a_name_is_kept_only_if_its_bytes_hash_to_it() {
    let (dir, _path, mut store) = file_store();
    let meta = plain_meta();
    use sha2::Digest;
    let bytes = b"the real photo".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let err = store
        .put_photo_as(&sha, b"something else", &meta)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::DigestMismatch { expected, .. } if *expected == sha),
        "{err}"
    );
    assert!(!store.has_photo(&sha).unwrap());
    let photo_dir = dir.path().join("gridpatrol.db.photos");
    assert_eq!(std::fs::read_dir(&photo_dir).unwrap().count(), 0);
    store.put_photo_as(&sha, &bytes, &meta).unwrap();
    assert_eq!(
        std::fs::read(store.photo_path(&sha).unwrap().unwrap()).unwrap(),
        bytes
    );
    assert!(matches!(
        store.put_photo_as("../x", &bytes, &meta).unwrap_err(),
        StoreError::BadDigest(_)
    ));
}

#[test]
fn photos_without_a_thumbnail_are_listed_but_not_thumbnails_or_marked_ones() {
    let (_dir, _path, mut store) = file_store();
    let meta = plain_meta();
    let [with, thumb, bare, marked] = [b"with".as_slice(), b"thumb", b"bare", b"marked"]
        .map(|b| store.put_photo(b, &meta).unwrap());
    store
        .set_thumb(
            &with,
            &gridpatrol_store::Thumb {
                sha256: thumb.clone(),
                width: 4,
                height: 3,
            },
        )
        .unwrap();
    store.set_meta(&format!("no.{marked}"), "x").unwrap();
    assert_eq!(
        store.photos_without_thumb("no.", 10).unwrap(),
        vec![bare.clone()]
    );
    let mut both = vec![bare, marked];
    both.sort();
    assert_eq!(store.photos_without_thumb("none.", 10).unwrap(), both);
    assert_eq!(store.photos_without_thumb("none.", 1).unwrap().len(), 1);
}

#[test]
fn meta_prefix_listing_and_deletion() {
    let (_dir, _path, mut store) = file_store();
    store.set_meta("want.b", "1").unwrap();
    store.set_meta("want.a", "2").unwrap();
    store.set_meta("wanted", "x").unwrap();
    store.set_meta("other", "3").unwrap();
    assert_eq!(
        store.meta_with_prefix("want.").unwrap(),
        vec![("want.a".into(), "2".into()), ("want.b".into(), "1".into())]
    );
    store.delete_meta("want.a").unwrap();
    store.delete_meta("absent").unwrap();
    assert_eq!(store.meta_with_prefix("want.").unwrap().len(), 1);
    assert_eq!(store.get_meta("other").unwrap().as_deref(), Some("3"));
}

#[test]
fn in_memory_store_refuses_photos_clearly() {
    let mut store = Store::open_in_memory().unwrap();
    let meta = plain_meta();
    assert!(matches!(
        store.put_photo(b"x", &meta).unwrap_err(),
        StoreError::NoPhotoDir
    ));
    assert!(!store.keeps_photos());
    assert!(file_store().2.keeps_photos());
}

#[test]
fn patrol_sessions_open_end_and_list() {
    let mut store = Store::open_in_memory().unwrap();
    let p1 = store.start_patrol("I-1", "SG-001", 1_000).unwrap();
    assert_eq!(store.open_patrol("I-1").unwrap().as_ref(), Some(&p1));
    let err = store.start_patrol("I-1", "SG-001", 2_000).unwrap_err();
    assert!(
        matches!(err, StoreError::PatrolAlreadyOpen { open_id, .. } if open_id == p1.id),
        "{err:?}"
    );
    // Another inspector on the same phone may patrol at the same time.
    store.start_patrol("I-2", "SG-009", 1_500).unwrap();

    assert!(matches!(
        store.end_patrol(p1.id, 999).unwrap_err(),
        StoreError::Invalid(_)
    ));
    let ended = store.end_patrol(p1.id, 5_000).unwrap();
    assert_eq!(ended.ended_at_ms, Some(5_000));
    assert!(matches!(
        store.end_patrol(p1.id, 6_000).unwrap_err(),
        StoreError::PatrolAlreadyEnded(_)
    ));
    assert!(matches!(
        store.end_patrol(4242, 6_000).unwrap_err(),
        StoreError::PatrolNotFound(4242)
    ));
    assert_eq!(store.open_patrol("I-1").unwrap(), None);
    let p3 = store.start_patrol("I-1", "SG-001", 7_000).unwrap();
    let list = store.list_patrols(10).unwrap();
    let ids: Vec<i64> = list.iter().map(|p| p.id).collect();
    assert_eq!(ids, [p3.id, p1.id + 1, p1.id]);
}

#[test]
fn visited_days_are_the_patrolled_grids_cells_by_beijing_day() {
    use gridpatrol_store::{TrackPoint, VisitedDay};
    let mut store = Store::open_in_memory().unwrap();
    // 2026-11-30T16:00Z is 2026-12-01 00:00 in Beijing.
    let dec1 = 1_796_054_400_000;
    let point = |at_ms: i64, code: Option<&str>| TrackPoint {
        at_ms,
        lon: 116.45,
        lat: 39.92,
        accuracy_m: 5.0,
        technical_grid: code.map(Into::into),
    };
    let g = "110105001001";
    let p = store.start_patrol("I-1", g, dec1 - 3_600_000).unwrap();
    // Still 30 November in Beijing.
    store
        .add_track_point(p.id, &point(dec1 - 60_000, Some("110105001001002")))
        .unwrap();
    // 1 December: two cells of the grid (one twice), a cell of another grid
    // on the way, and a fix outside the district.
    for (at, code) in [
        (dec1 + 1_000, Some("110105001001001")),
        (dec1 + 2_000, Some("110105001002007")),
        (dec1 + 3_000, Some("110105001001003")),
        (dec1 + 4_000, Some("110105001001001")),
        (dec1 + 5_000, None),
    ] {
        store.add_track_point(p.id, &point(at, code)).unwrap();
    }
    // Another inspector on the same phone.
    let q = store.start_patrol("I-2", g, dec1).unwrap();
    store
        .add_track_point(q.id, &point(dec1 + 6_000, Some("110105001001009")))
        .unwrap();
    let days = store.visited_days("I-1", 0).unwrap();
    let want = |day: &str, codes: &[&str]| VisitedDay {
        day: day.into(),
        supervision_grid: g.into(),
        technical_grids: codes.iter().map(|c| c.to_string()).collect(),
    };
    assert_eq!(
        days,
        [
            want("2026-11-30", &["110105001001002"]),
            want("2026-12-01", &["110105001001001", "110105001001003"]),
        ]
    );
    // Only what was recorded since `from_ms`.
    assert_eq!(store.visited_days("I-1", dec1).unwrap(), days[1..]);
    assert_eq!(store.visited_days("I-3", 0).unwrap(), []);
}

#[test]
fn taxonomy_import_is_complete_idempotent_and_reads_back() {
    use gridpatrol_domain::taxonomy::Taxonomy;
    let t = Taxonomy::builtin();
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.taxonomy_count().unwrap(), 0);
    let n = store.import_taxonomy(t).unwrap();
    assert_eq!(n, 11 + 121 + 590 + 3537);
    assert_eq!(store.taxonomy_count().unwrap(), n as u64);
    // Same import again: same rows, no duplicates.
    store.import_taxonomy(t).unwrap();
    assert_eq!(store.taxonomy_count().unwrap(), n as u64);

    for node in t.nodes().iter().step_by(97).chain(t.fine_classes().take(3)) {
        assert_eq!(
            store.taxonomy_node(&node.code).unwrap().as_ref(),
            Some(node)
        );
    }
    let modules = store.taxonomy_children(None).unwrap();
    assert_eq!(modules.len(), 11);
    let first = &modules[0];
    let want: Vec<_> = t.children(&first.code).cloned().collect();
    assert_eq!(store.taxonomy_children(Some(&first.code)).unwrap(), want);
    assert_eq!(store.taxonomy_node("99999999").unwrap(), None);
}
