//! Behaviour of the SQLite server store: scope, optimistic commits, photos.

use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::DocKind;
use gridpatrol_server_storage::{
    DocIndex, DocWrite, PhotoStatus, Scope, ServerStore, SquadRecord, StoreError, UploadQuota, User,
};
use gridpatrol_server_storage_sqlite::SqliteStore;
use sha2::{Digest, Sha256};

fn user(id: &str, role: Role, squad: Option<&str>, grid: Option<&str>) -> User {
    User {
        id: id.into(),
        name: id.into(),
        role,
        squad: squad.map(Into::into),
        supervision_grid: grid.map(Into::into),
        password_hash: "x".into(),
    }
}

const QUOTA: UploadQuota = UploadQuota {
    max_uploads: 100,
    max_bytes: 1 << 30,
};

/// `photo_append` with a generous quota at time 1000.
fn append(
    s: &SqliteStore,
    sha: &str,
    owner: &str,
    offset: u64,
    total: u64,
    bytes: &[u8],
) -> Result<PhotoStatus, StoreError> {
    s.photo_append(sha, owner, offset, total, bytes, QUOTA, 1000)
}

fn case(id: &str, grid: &str, reporter: &str, expected: Option<u64>) -> DocWrite {
    DocWrite {
        id: id.into(),
        kind: DocKind::Case,
        bytes: vec![1, 2, 3],
        heads: vec!["aa".into()],
        expected_seq: expected,
        index: DocIndex {
            supervision_grid: Some(grid.into()),
            reporter: Some(reporter.into()),
            assignee: None,
            photos: vec![],
            ..Default::default()
        },
    }
}

fn setup() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.upsert_users(&[
        user("I1", Role::Inspector, Some("S1"), Some("G1")),
        user("I2", Role::Inspector, Some("S1"), Some("G2")),
        user("I3", Role::Inspector, Some("S2"), Some("G3")),
        user("L1", Role::SquadLeader, Some("S1"), None),
    ])
    .unwrap();
    s.upsert_squads(&[
        SquadRecord {
            id: "S1".into(),
            name: "one".into(),
            leader: "L1".into(),
            supervision_grids: vec!["G1".into(), "G2".into()],
        },
        SquadRecord {
            id: "S2".into(),
            name: "two".into(),
            leader: "L2".into(),
            supervision_grids: vec!["G3".into()],
        },
    ])
    .unwrap();
    (dir, s)
}

fn ids(s: &SqliteStore, scope: &Scope) -> Vec<String> {
    s.manifest(scope, 0, 100)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn manifest_respects_scope_and_cursor() {
    let (_d, s) = setup();
    s.commit_sync(
        "dev",
        &[
            case("c1", "G1", "I1", None),
            case("c2", "G2", "I2", None),
            case("c3", "G3", "I3", None),
        ],
        &[],
    )
    .unwrap();
    let i1 = Scope::Inspector {
        user_id: "I1".into(),
        supervision_grid: Some("G1".into()),
    };
    assert_eq!(ids(&s, &i1), ["c1"]);
    let l1 = Scope::Squad {
        user_id: "L1".into(),
        squad: "S1".into(),
    };
    assert_eq!(ids(&s, &l1), ["c1", "c2"]);
    assert_eq!(ids(&s, &Scope::All), ["c1", "c2", "c3"]);
    assert!(ids(&s, &Scope::Nothing).is_empty());
    assert!(s.doc_visible("c1", &i1).unwrap());
    assert!(!s.doc_visible("c3", &i1).unwrap());

    // Paging: a full page resumes after its last row; the last page jumps to the top.
    let p = s.manifest(&Scope::All, 0, 2).unwrap();
    assert!(p.more);
    assert_eq!(p.cursor, 2);
    let p = s.manifest(&Scope::All, p.cursor, 2).unwrap();
    assert!(!p.more);
    assert_eq!(p.rows.len(), 1);
    let p = s.manifest(&i1, p.cursor, 2).unwrap();
    assert!(p.rows.is_empty());
    assert_eq!(p.cursor, 3);
}

#[test]
fn stale_commit_is_a_conflict_and_changes_nothing() {
    let (_d, s) = setup();
    s.commit_sync("dev", &[case("c1", "G1", "I1", None)], &[])
        .unwrap();
    let seq = s.load_docs(&["c1".into()]).unwrap()[0]
        .as_ref()
        .unwrap()
        .seq;
    let mut w = case("c1", "G1", "I1", Some(seq));
    w.bytes = vec![9];
    s.commit_sync("a", &[w.clone()], &[("c1".into(), vec![7])])
        .unwrap();
    // The same expected seq again is now stale.
    let err = s
        .commit_sync("b", &[w, case("c2", "G1", "I1", None)], &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref ids) if ids == &["c1".to_string()]));
    assert!(s.load_docs(&["c2".into()]).unwrap()[0].is_none());
    assert_eq!(
        s.load_sync_states("a", &["c1".into()]).unwrap(),
        vec![Some(vec![7])]
    );
}

#[test]
fn photo_resume_verify_and_mismatch() {
    let (_d, s) = setup();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    assert_eq!(s.photo_status(&sha).unwrap(), PhotoStatus::Missing);
    let st = append(&s, &sha, "I1", 0, 10_000, &data[..4000]).unwrap();
    assert_eq!(
        st,
        PhotoStatus::Partial {
            offset: 4000,
            total: 10_000
        }
    );
    assert_eq!(s.photo_upload(&sha, "I1").unwrap(), st);
    assert_eq!(s.photo_status(&sha).unwrap(), PhotoStatus::Missing);
    assert!(matches!(
        append(&s, &sha, "I1", 0, 10_000, &data[..10]),
        Err(StoreError::OffsetMismatch {
            expected: 4000,
            got: 0
        })
    ));
    // A partial upload grants nothing.
    assert!(!s.photo_visible(&sha, "I1", &Scope::Nothing).unwrap());
    let st = append(&s, &sha, "I1", 4000, 10_000, &data[4000..]).unwrap();
    assert_eq!(st, PhotoStatus::Complete { len: 10_000 });
    assert_eq!(s.photo_read(&sha).unwrap().unwrap(), data);
    assert_eq!(s.photo_upload(&sha, "I1").unwrap(), PhotoStatus::Missing);
    assert!(s.photo_visible(&sha, "I1", &Scope::Nothing).unwrap());
    assert!(!s.photo_visible(&sha, "I2", &Scope::Nothing).unwrap());

    let wrong = "0".repeat(64);
    let err = append(&s, &wrong, "I1", 0, 5, b"hello").unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }));
    assert_eq!(s.photo_status(&wrong).unwrap(), PhotoStatus::Missing);
    assert_eq!(s.photo_upload(&wrong, "I1").unwrap(), PhotoStatus::Missing);
    assert!(s.photo_read(&wrong).unwrap().is_none());
}

#[test]
fn unfinished_uploads_are_per_owner_within_quota_and_expire() {
    let (_d, s) = setup();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 13) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    append(&s, &sha, "I1", 0, 3000, &data[..1000]).unwrap();
    // Another account can neither append to nor reset I1's upload; it only
    // ever sees (and writes) its own.
    assert!(matches!(
        append(&s, &sha, "I2", 1000, 3000, &data[1000..]),
        Err(StoreError::OffsetMismatch {
            expected: 0,
            got: 1000
        })
    ));
    assert_eq!(s.photo_upload(&sha, "I2").unwrap(), PhotoStatus::Missing);
    let err = append(&s, &sha, "I2", 0, 3000, &[0u8; 3000]).unwrap_err();
    assert!(matches!(err, StoreError::HashMismatch { .. }));
    append(&s, &sha, "I2", 0, 3000, &data[..10]).unwrap();
    assert_eq!(
        s.photo_upload(&sha, "I1").unwrap(),
        PhotoStatus::Partial {
            offset: 1000,
            total: 3000
        }
    );
    // I1 completes; I2's upload of the same bytes completes too (already
    // stored: its upload is dropped, it becomes an uploader).
    assert_eq!(
        append(&s, &sha, "I1", 1000, 3000, &data[1000..]).unwrap(),
        PhotoStatus::Complete { len: 3000 }
    );
    assert!(!s.photo_visible(&sha, "I2", &Scope::Nothing).unwrap());
    assert_eq!(
        append(&s, &sha, "I2", 10, 3000, &data[10..]).unwrap(),
        PhotoStatus::Complete { len: 3000 }
    );
    assert!(s.photo_visible(&sha, "I2", &Scope::Nothing).unwrap());
    assert_eq!(s.photo_read(&sha).unwrap().unwrap(), data);

    // Quota: count and bytes of one account's unfinished uploads.
    let quota = UploadQuota {
        max_uploads: 2,
        max_bytes: 100,
    };
    let shas: Vec<String> = (0..4).map(|n| format!("{n}").repeat(64)).collect();
    s.photo_append(&shas[0], "I3", 0, 40, b"a", quota, 1000)
        .unwrap();
    s.photo_append(&shas[1], "I3", 0, 40, b"a", quota, 2000)
        .unwrap();
    let err = s
        .photo_append(&shas[2], "I3", 0, 10, b"a", quota, 2000)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::QuotaExceeded {
            uploads: 2,
            bytes: 80
        }
    ));
    s.photo_append(&shas[2], "I4", 0, 100, b"a", quota, 2000)
        .unwrap();
    assert!(matches!(
        s.photo_append(&shas[3], "I5", 0, 101, b"a", quota, 2000),
        Err(StoreError::QuotaExceeded { .. })
    ));
    // Appending to one's own upload needs no new quota.
    s.photo_append(&shas[0], "I3", 1, 40, b"b", quota, 3000)
        .unwrap();
    // Expiry: uploads untouched since before the cut go, files and all.
    assert_eq!(s.purge_stale_uploads(2500).unwrap(), 2);
    assert_eq!(
        s.photo_upload(&shas[1], "I3").unwrap(),
        PhotoStatus::Missing
    );
    assert_eq!(
        s.photo_upload(&shas[2], "I4").unwrap(),
        PhotoStatus::Missing
    );
    assert!(matches!(
        s.photo_upload(&shas[0], "I3").unwrap(),
        PhotoStatus::Partial { offset: 2, .. }
    ));
    s.photo_append(&shas[3], "I3", 0, 10, b"a", quota, 4000)
        .unwrap();
}

#[test]
fn tokens_lookup_revoke_and_purge() {
    let (_d, s) = setup();
    let (a, b) = ([1u8; 32], [2u8; 32]);
    s.insert_token(&a, "I1", 0, 1_000).unwrap();
    s.insert_token(&b, "I1", 0, 5_000).unwrap();
    assert_eq!(s.token(&a).unwrap().unwrap().expires_at_ms, 1_000);
    assert_eq!(s.purge_expired_tokens(2_000).unwrap(), 1);
    assert!(s.token(&a).unwrap().is_none());
    assert!(s.revoke_token(&b).unwrap());
    assert!(!s.revoke_token(&b).unwrap());
    assert!(s.token(&b).unwrap().is_none());
}

#[test]
fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        s.upsert_users(&[user("I1", Role::Inspector, Some("S1"), Some("G1"))])
            .unwrap();
        s.commit_sync("dev", &[case("c1", "G1", "I1", None)], &[])
            .unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.user_count().unwrap(), 1);
    assert_eq!(s.doc_count().unwrap(), 1);
    assert_eq!(s.squad_of("I1").unwrap().as_deref(), Some("S1"));
    // The change sequence continues after a restart.
    s.commit_sync("dev", &[case("c2", "G1", "I1", None)], &[])
        .unwrap();
    let p = s.manifest(&Scope::All, 1, 10).unwrap();
    assert_eq!(p.rows.len(), 1);
    assert_eq!(p.rows[0].seq, 2);
}

#[test]
fn migration_2_drops_ownerless_partials_and_unproven_uploaders() {
    let dir = tempfile::tempdir().unwrap();
    let complete = hex::encode(Sha256::digest(b"kept"));
    let partial = "e".repeat(64);
    {
        // A version-1 store: one complete photo, one ownerless partial, and
        // an "uploader" recorded by an empty PUT.
        let conn = rusqlite::Connection::open(dir.path().join("server.sqlite3")).unwrap();
        conn.execute_batch(include_str!("../../../migrations/server/0001_init.sql"))
            .unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO photos VALUES ('{complete}', 4, 1), ('{partial}', 10, 0);
             INSERT INTO photo_uploaders VALUES ('{complete}', 'I9');
             PRAGMA user_version = 1;"
        ))
        .unwrap();
        std::fs::create_dir_all(dir.path().join("photos/partial")).unwrap();
        std::fs::write(dir.path().join("photos").join(&complete), b"kept").unwrap();
        std::fs::write(dir.path().join("photos/partial").join(&partial), b"12").unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        s.photo_status(&complete).unwrap(),
        PhotoStatus::Complete { len: 4 }
    );
    assert_eq!(s.photo_status(&partial).unwrap(), PhotoStatus::Missing);
    assert!(!dir.path().join("photos/partial").join(&partial).exists());
    assert!(!s.photo_visible(&complete, "I9", &Scope::Nothing).unwrap());
    assert_eq!(s.photo_read(&complete).unwrap().unwrap(), b"kept");
}

#[test]
fn squad_and_centre_reads_one_squad_and_the_operators() {
    let (_dir, s) = setup();
    s.upsert_users(&[
        user("C1", Role::CentreOperator, None, None),
        user("A1", Role::Admin, None, None),
    ])
    .unwrap();
    let ids = |squad: Option<&str>| -> Vec<String> {
        s.squad_and_centre(squad)
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect()
    };
    assert_eq!(ids(Some("S1")), ["C1", "I1", "I2", "L1"]);
    assert_eq!(ids(Some("S2")), ["C1", "I3"]);
    assert_eq!(ids(None), ["C1"]);
    assert_eq!(ids(Some("S9")), ["C1"]);
}
