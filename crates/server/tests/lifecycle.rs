//! Restart, concurrency and configuration behaviour of the server.

mod common;

use automerge::sync::State as SyncState;
use automerge::ActorId;
use common::*;
use gridpatrol_docs::{CaseDoc, ReportEdit, Review, Verdict};
use gridpatrol_protocol::{paths, DocKind, SyncStatus};
use gridpatrol_server::config::Settings;
use reqwest::StatusCode;
use serde_json::json;

fn new_case(id: &str, reporter: &str, grid: &str) -> CaseDoc {
    CaseDoc::create(ActorId::random(), id, &report(reporter, grid)).unwrap()
}

#[tokio::test]
async fn restart_keeps_tokens_documents_cursor_and_sync_state() {
    let f = start().await;
    let t = f.login("I0001").await;
    let mut doc = new_case("case-r", "I0001", G1).into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(&t, "dev-r", "case-r", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Ok);
    let (_, v) = f
        .post_json(Some(&t), paths::MANIFEST, &json!({"cursor": null}))
        .await;
    let cursor = v["cursor"].as_u64().unwrap();

    // Stop and start a new server process over the same directory.
    let Fixture { dir, server, http } = f;
    server.shutdown().await.unwrap();
    let server = gridpatrol_server::spawn_test_server(dir.path())
        .await
        .unwrap();
    let f = Fixture { dir, server, http };
    let (s, v) = f
        .post_json(Some(&t), paths::MANIFEST, &json!({"cursor": cursor}))
        .await;
    assert_eq!(s, StatusCode::OK, "token survives a restart");
    assert_eq!(v["docs"].as_array().unwrap().len(), 0);
    assert_eq!(v["cursor"].as_u64().unwrap(), cursor);

    // The device reconnects with a fresh sync state; the restarted server
    // (its sync state reloaded from storage) converges with it and stores
    // nothing new.
    let before = f.stored_bytes("case-r").unwrap();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(&t, "dev-r", "case-r", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Ok);
    assert_eq!(f.server.state.store.doc_count().unwrap(), 1);
    assert_eq!(f.stored_bytes("case-r").unwrap(), before);
    f.server.shutdown().await.unwrap();
}

/// The reporter and the leader sync edits to the same case at the same time,
/// many times over; no edit is lost (optimistic commits retry on conflict).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_syncs_of_one_case_lose_nothing() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let leader = f.login("I0003").await;
    let mut doc = new_case("case-c", "I0001", G1).into_doc();
    let mut st = SyncState::new();
    f.sync_doc(&i1, "dev-a", "case-c", DocKind::Case, &mut doc, &mut st)
        .await;
    let (b, mut sb, _) = f.fetch(&leader, "dev-b", "case-c", DocKind::Case).await;
    let mut a = CaseDoc::from_doc(doc).unwrap();
    let mut b = CaseDoc::from_doc(b).unwrap();
    let mut sa = st;
    const ROUNDS: usize = 15;
    for n in 0..ROUNDS {
        a.edit_report(&ReportEdit {
            add_photos: vec![format!("{n:064x}")],
            ..Default::default()
        })
        .unwrap();
        b.set_review(&Review {
            reviewer: "I0003".into(),
            verdict: Verdict::NeedsFix,
            note: format!("round {n}"),
            at_ms: 1_700_000_000_000 + n as i64,
            reason: None,
            duplicate_of: None,
        })
        .unwrap();
        let (mut da, mut db) = (a.clone().into_doc(), b.clone().into_doc());
        let (ra, rb) = tokio::join!(
            f.sync_doc(&i1, "dev-a", "case-c", DocKind::Case, &mut da, &mut sa),
            f.sync_doc(&leader, "dev-b", "case-c", DocKind::Case, &mut db, &mut sb),
        );
        assert_eq!(ra.status, SyncStatus::Ok, "{ra:?}");
        assert_eq!(rb.status, SyncStatus::Ok, "{rb:?}");
        a = CaseDoc::from_doc(da).unwrap();
        b = CaseDoc::from_doc(db).unwrap();
    }
    let server = CaseDoc::load(&f.stored_bytes("case-c").unwrap(), ActorId::random())
        .unwrap()
        .read()
        .unwrap();
    let retries = f
        .server
        .state
        .metrics
        .sync_conflicts
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("conflict retries: {retries}");
    assert_eq!(
        server.report.photos.len(),
        ROUNDS,
        "every reporter edit kept"
    );
    assert_eq!(
        server.review.unwrap().note,
        format!("round {}", ROUNDS - 1),
        "the leader's last edit kept"
    );
    f.server.shutdown().await.unwrap();
}

#[test]
// figment::Error is large, and Jail's closure must return it.
#[allow(clippy::result_large_err)]
fn settings_layer_defaults_file_and_environment() {
    figment::Jail::expect_with(|jail| {
        let dir = jail.directory().to_path_buf();
        let s = Settings::load(&dir, None).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.server.listen, "127.0.0.1:8787");
        jail.create_file(
            "gridpatrol.toml",
            "[server]\nlisten = \"0.0.0.0:9000\"\n[auth]\ntoken_ttl_secs = 60\n",
        )?;
        let s = Settings::load(&dir, None).unwrap();
        assert_eq!(s.server.listen, "0.0.0.0:9000");
        assert_eq!(s.auth.token_ttl_secs, 60);
        jail.set_env("GRIDPATROL__SERVER__LISTEN", "127.0.0.1:9999");
        let s = Settings::load(&dir, None).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:9999", "env beats file");
        assert_eq!(s.auth.token_ttl_secs, 60);
        jail.set_env("GRIDPATROL__AUTH__TOKEN_TTL_SECS", "soon");
        assert!(Settings::load(&dir, None).is_err(), "bad value is an error");
        assert!(Settings::load(&dir, Some(&dir.join("missing.toml"))).is_err());
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn security_settings_load_from_file_and_environment() {
    figment::Jail::expect_with(|jail| {
        let dir = jail.directory().to_path_buf();
        jail.create_file(
            "gridpatrol.toml",
            "[server]\nheader_read_timeout_secs = 3\nmax_connections = 7\ntrusted_proxies = [\"10.0.0.1\"]\n\
             [auth.throttle]\nfree_failures = 2\n[photos]\npartial_ttl_secs = 9\n",
        )?;
        jail.set_env("GRIDPATROL__SERVER__IDLE_TIMEOUT_SECS", "4");
        jail.set_env("GRIDPATROL__AUTH__THROTTLE__ACCOUNT_MAX_LOCKOUT_SECS", "5");
        jail.set_env("GRIDPATROL__PHOTOS__PARTIAL_UPLOADS_PER_ACCOUNT", "6");
        let s = Settings::load(&dir, None).unwrap();
        assert_eq!(s.server.header_read_timeout_secs, 3);
        assert_eq!(s.server.idle_timeout_secs, 4);
        assert_eq!(s.server.max_connections, 7);
        assert_eq!(
            s.server.trusted_proxies,
            vec!["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(s.auth.throttle.free_failures, 2);
        assert_eq!(s.auth.throttle.account_max_lockout_secs, 5);
        assert_eq!(
            s.auth.throttle.max_lockout_secs, 300,
            "unset keys keep defaults"
        );
        assert_eq!(s.photos.partial_ttl_secs, 9);
        assert_eq!(s.photos.partial_uploads_per_account, 6);
        Ok(())
    });
}
