//! End-to-end behaviour of the sync server over HTTP on 127.0.0.1:0.

mod common;

use automerge::sync::State as SyncState;
use automerge::{ActorId, Automerge};
use common::*;
use gridpatrol_docs::{
    CaseDoc, Outcome, Report, ReportEdit, Review, Task, TaskKind, Verdict, VerificationDoc,
    VerificationResult,
};
use gridpatrol_domain::lifecycle::Action;
use gridpatrol_protocol::{codes, headers, limits, paths, DocKind, SyncDocRequest, SyncStatus};
use gridpatrol_server::config::Settings;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

fn new_case(id: &str, reporter: &str, grid: &str) -> Automerge {
    CaseDoc::create(ActorId::random(), id, &report(reporter, grid))
        .unwrap()
        .into_doc()
}

/// Creates a case on the server as its reporter; returns the server copy bytes.
async fn upload_case(f: &Fixture, token: &str, id: &str, reporter: &str, grid: &str) {
    upload_report(f, token, id, &report(reporter, grid)).await;
}

/// Creates a case with this report on the server as its reporter.
async fn upload_report(f: &Fixture, token: &str, id: &str, report: &Report) {
    let mut doc = CaseDoc::create(ActorId::random(), id, report)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(token, "dev-up", id, DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    assert!(f.stored_bytes(id).is_some(), "case {id} stored");
}

fn err_code(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn login_ok_bad_password_unknown_user() {
    let f = start().await;
    let (s, v) = f
        .post_json(
            None,
            paths::LOGIN,
            &json!({"user_id":"I0001","password":"patrol-I0001"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["user"]["role"], "inspector");
    assert_eq!(v["user"]["supervision_grid"], G1);
    assert_eq!(v["token"].as_str().unwrap().len(), 43);
    let (s, v) = f
        .post_json(
            None,
            paths::LOGIN,
            &json!({"user_id":"C0001","password":"patrol-C0001"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["user"]["role"], "centre_operator");
    assert!(v["user"]["squad"].is_null());

    let (s, v) = f
        .post_json(
            None,
            paths::LOGIN,
            &json!({"user_id":"I0001","password":"patrol-I0002"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(err_code(&v), codes::BAD_CREDENTIALS);
    let (s, v) = f
        .post_json(
            None,
            paths::LOGIN,
            &json!({"user_id":"I9999","password":"patrol-I9999"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(err_code(&v), codes::BAD_CREDENTIALS);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn logout_revokes_the_token_only() {
    let f = start().await;
    let t1 = f.login("I0001").await;
    let t2 = f.login("I0001").await;
    let (s, _) = f
        .post_json(Some(&t1), paths::MANIFEST, &json!({"cursor":null}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = f.post_json(Some(&t1), paths::LOGOUT, &json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = f
        .post_json(Some(&t1), paths::MANIFEST, &json!({"cursor":null}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(err_code(&v), codes::INVALID_TOKEN);
    let (s, _) = f
        .post_json(Some(&t2), paths::MANIFEST, &json!({"cursor":null}))
        .await;
    assert_eq!(s, StatusCode::OK, "another session stays valid");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_token_is_refused_with_token_expired() {
    let mut settings = Settings::default();
    settings.auth.token_ttl_secs = 0;
    let f = start_with(settings).await;
    let t = f.login("I0001").await;
    let (s, v) = f
        .post_json(Some(&t), paths::MANIFEST, &json!({"cursor":null}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(err_code(&v), codes::TOKEN_EXPIRED);
    f.server.shutdown().await.unwrap();
}

/// Every caller × every endpoint: status codes as documented.
#[tokio::test]
async fn authorization_matrix() {
    let mut settings = Settings::default();
    settings.auth.token_ttl_secs = 3600;
    let f = start_with(settings).await;
    // An expired token: a second server over the same store with TTL 0 issues it.
    let expired = {
        let mut s0 = Settings::default();
        s0.auth.token_ttl_secs = 0;
        let srv = gridpatrol_server::spawn_server(
            gridpatrol_server::AppState::new(f.server.state.store.clone(), s0),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let r = f
            .http
            .post(format!("{}{}", srv.url(), paths::LOGIN))
            .json(&json!({"user_id":"I0001","password":"patrol-I0001"}))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        srv.shutdown().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let callers: Vec<(&str, Option<String>)> = vec![
        ("inspector", Some(f.login("I0001").await)),
        ("leader", Some(f.login("I0003").await)),
        ("centre", Some(f.login("C0001").await)),
        ("admin", Some(f.login("A0001").await)),
        ("no token", None),
        ("expired", Some(expired)),
    ];
    let photo = b"matrix photo";
    let sha = hex::encode(Sha256::digest(photo));
    let unknown = "f".repeat(64);
    for (who, token) in &callers {
        let auth = |rb: reqwest::RequestBuilder| match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let denied = match *who {
            "no token" => Some((StatusCode::UNAUTHORIZED, codes::MISSING_TOKEN)),
            "expired" => Some((StatusCode::UNAUTHORIZED, codes::TOKEN_EXPIRED)),
            "admin" => Some((StatusCode::FORBIDDEN, codes::FORBIDDEN)),
            _ => None,
        };
        let check = |name: &str, resp: reqwest::Response, ok: StatusCode| {
            let status = resp.status();
            let expected = denied.map(|d| d.0).unwrap_or(ok);
            assert_eq!(status, expected, "{who} × {name}");
            resp
        };
        let r = auth(
            f.http
                .post(f.url(paths::MANIFEST))
                .json(&json!({"cursor":null})),
        )
        .send()
        .await
        .unwrap();
        let r = check("manifest", r, StatusCode::OK);
        if let Some((_, code)) = denied {
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(err_code(&v), code, "{who} × manifest code");
        }
        let r = auth(
            f.http
                .post(f.url(paths::SYNC))
                .json(&json!({"device":"d","docs":[]})),
        )
        .send()
        .await
        .unwrap();
        check("sync", r, StatusCode::OK);
        let r = auth(
            f.http
                .put(f.url(&paths::photo(&sha)))
                .header(headers::UPLOAD_OFFSET, "0")
                .header(headers::UPLOAD_LENGTH, photo.len().to_string())
                .body(photo.to_vec()),
        )
        .send()
        .await
        .unwrap();
        // First uploader creates (201), later ones are a no-op (200).
        let put_status = r.status();
        if denied.is_none() {
            assert!(
                put_status == StatusCode::CREATED || put_status == StatusCode::OK,
                "{who} × put {put_status}"
            );
        } else {
            check("put photo", r, StatusCode::CREATED);
        }
        let r = auth(f.http.head(f.url(&paths::photo(&sha))))
            .send()
            .await
            .unwrap();
        check("head photo", r, StatusCode::OK);
        let r = auth(f.http.head(f.url(&paths::photo(&unknown))))
            .send()
            .await
            .unwrap();
        check("head unknown photo", r, StatusCode::NOT_FOUND);
        let r = auth(f.http.get(f.url(&paths::photo(&sha))))
            .send()
            .await
            .unwrap();
        check("get photo", r, StatusCode::OK);
        let r = auth(f.http.post(f.url(paths::LOGOUT)))
            .send()
            .await
            .unwrap();
        let expected_logout = match *who {
            "no token" | "expired" => denied.unwrap().0,
            _ => StatusCode::NO_CONTENT,
        };
        assert_eq!(r.status(), expected_logout, "{who} × logout");
        // Open endpoints answer everyone.
        let r = auth(f.http.get(f.url(paths::HEALTHZ)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{who} × healthz");
        let r = auth(f.http.get(f.url(paths::METRICS)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{who} × metrics");
    }
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn photo_upload_resumes_verifies_and_limits() {
    let f = start().await;
    let t = f.login("I0001").await;
    let other = f.login("I0004").await;
    let centre = f.login("C0001").await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    let url = f.url(&paths::photo(&sha));
    let put = |offset: usize, bytes: Vec<u8>, total: usize, token: &str| {
        f.http
            .put(&url)
            .bearer_auth(token)
            .header(headers::UPLOAD_OFFSET, offset.to_string())
            .header(headers::UPLOAD_LENGTH, total.to_string())
            .body(bytes)
    };
    let r = f.http.head(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A partial PUT (what a cut connection leaves behind) …
    let r = put(0, data[..120_000].to_vec(), data.len(), &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // … is reported by HEAD …
    let r = f.http.head(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[headers::UPLOAD_OFFSET], "120000");
    assert_eq!(r.headers()[headers::UPLOAD_COMPLETE], "?0");
    // … a wrong offset gets 409 with the right one …
    let r = put(0, data.clone(), data.len(), &t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers()[headers::UPLOAD_OFFSET], "120000");
    // … and the rest completes it.
    let r = put(120_000, data[120_000..].to_vec(), data.len(), &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = f.http.head(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.headers()[headers::UPLOAD_COMPLETE], "?1");
    assert_eq!(r.headers()[headers::UPLOAD_LENGTH], "300000");
    let r = f.http.get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    // Someone who neither uploaded it nor sees a document with it: 404; centre: ok.
    let r = f.http.get(&url).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = f.http.get(&url).bearer_auth(&centre).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Repeating a complete upload is a no-op.
    let r = put(0, data.clone(), data.len(), &t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Bytes that do not hash to the path: 422, nothing kept.
    let fake = hex::encode(Sha256::digest(b"something else"));
    let furl = f.url(&paths::photo(&fake));
    let r = f
        .http
        .put(&furl)
        .bearer_auth(&t)
        .header(headers::UPLOAD_OFFSET, "0")
        .header(headers::UPLOAD_LENGTH, "5")
        .body(b"hello".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::HASH_MISMATCH);
    let r = f.http.head(&furl).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Declared size over the limit: 413 before any byte is read.
    let big = limits::MAX_PHOTO_BYTES + 1;
    let r = f
        .http
        .put(f.url(&paths::photo(&"a".repeat(64))))
        .bearer_auth(&t)
        .header(headers::UPLOAD_OFFSET, "0")
        .header(headers::UPLOAD_LENGTH, big.to_string())
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // More body than declared: 413.
    let r = f
        .http
        .put(f.url(&paths::photo(&"b".repeat(64))))
        .bearer_auth(&t)
        .header(headers::UPLOAD_OFFSET, "0")
        .header(headers::UPLOAD_LENGTH, "4")
        .body(b"too long".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Not a SHA-256: 400.
    let r = f
        .http
        .head(f.url(&paths::photo("NOT-A-HASH")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_4xx_and_service_continues() {
    let f = start().await;
    let t = f.login("I0001").await;
    let raw = |path: &str, body: Vec<u8>, token: Option<&str>| {
        let mut rb = f
            .http
            .post(f.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb
    };
    let r = raw(paths::LOGIN, b"{".to_vec(), None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::MALFORMED_REQUEST);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));

    let r = raw(
        paths::MANIFEST,
        br#"{"cursor":"yesterday"}"#.to_vec(),
        Some(&t),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = raw(
        paths::SYNC,
        br#"{"device":"d","docs":[{"id":"x","kind":"case","msg":"%%%"}]}"#.to_vec(),
        Some(&t),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("base64"),
        "{v}"
    );
    let r = raw(
        paths::SYNC,
        br#"{"device":"d","docs":[{"id":"x","kind":"memo","msg":""}]}"#.to_vec(),
        Some(&t),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Oversized bodies: 413 with our error body.
    let big = format!(
        r#"{{"user_id":"I0001","password":"{}"}}"#,
        "x".repeat(limits::MAX_SMALL_BODY)
    );
    let r = raw(paths::LOGIN, big.into_bytes(), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::PAYLOAD_TOO_LARGE);
    // Too many documents in one sync request.
    let docs: Vec<SyncDocRequest> = (0..=limits::MAX_SYNC_DOCS)
        .map(|i| SyncDocRequest {
            id: format!("c{i}"),
            kind: DocKind::Case,
            msg: vec![],
        })
        .collect();
    let r = f
        .http
        .post(f.url(paths::SYNC))
        .bearer_auth(&t)
        .json(&gridpatrol_protocol::SyncRequest {
            device: "d".into(),
            docs,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::TOO_MANY_DOCS);
    // A garbage Automerge message: per-document error, nothing stored.
    let res = f
        .sync_batch(
            &t,
            "d",
            vec![SyncDocRequest {
                id: "c1".into(),
                kind: DocKind::Case,
                msg: vec![1, 2, 3],
            }],
        )
        .await;
    assert_eq!(res[0].status, SyncStatus::Error);
    assert_eq!(res[0].code.as_deref(), Some(codes::BAD_SYNC_MESSAGE));
    assert!(f.stored_bytes("c1").is_none());

    // Wrong method and unknown path: JSON errors too.
    let r = f.http.get(f.url(paths::LOGIN)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::METHOD_NOT_ALLOWED);
    let r = f.http.get(f.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::NOT_FOUND);

    // The server still serves.
    let r = f.http.get(f.url(paths::HEALTHZ)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    upload_case(&f, &t, "case-after-garbage", "I0001", G1).await;
    let metrics = f
        .http
        .get(f.url(paths::METRICS))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"gridpatrol_http_requests_total{route="/v1/login",method="POST",status="400"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("gridpatrol_docs_stored_total 1"),
        "{metrics}"
    );
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_document_ids() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    // An inspector cannot conjure a verification: not_found, nothing stored.
    let (_, _, r) = f
        .fetch(&insp, "d1", "ver-nope", DocKind::Verification)
        .await;
    assert_eq!(r.status, SyncStatus::NotFound);
    assert_eq!(r.code.as_deref(), Some(codes::NOT_FOUND));
    // The centre cannot create cases, so an unknown case id is not_found for it.
    let (_, _, r) = f.fetch(&centre, "d2", "case-nope", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::NotFound);
    // An inspector (who may create cases) gets an empty exchange; nothing stored.
    let (doc, _, r) = f.fetch(&insp, "d1", "case-nope", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::Ok);
    assert!(r.msg.is_some());
    assert!(doc.get_heads().is_empty());
    assert!(f.stored_bytes("case-nope").is_none());
    // Another inspector's case outside my scope: not_found (existence not revealed).
    let other = f.login("I0004").await;
    upload_case(&f, &other, "case-g3", "I0004", G3).await;
    let (doc, _, r) = f.fetch(&insp, "d1", "case-g3", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::NotFound);
    assert!(doc.get_heads().is_empty());
    // Wrong kind for a stored id.
    let (_, _, r) = f
        .fetch(&centre, "d2", "case-g3", DocKind::Verification)
        .await;
    assert_eq!(r.status, SyncStatus::Refused);
    assert_eq!(r.code.as_deref(), Some(codes::KIND_MISMATCH));
    f.server.shutdown().await.unwrap();
}

async fn manifest_ids(f: &Fixture, token: &str) -> (Vec<String>, u64) {
    let (s, v) = f
        .post_json(Some(token), paths::MANIFEST, &json!({"cursor":null}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut ids: Vec<String> = v["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    (ids, v["cursor"].as_u64().unwrap())
}

#[tokio::test]
async fn manifest_scope_by_role() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let i2 = f.login("I0002").await;
    let i4 = f.login("I0004").await;
    let leader1 = f.login("I0003").await;
    let leader2 = f.login("I0005").await;
    let centre = f.login("C0001").await;
    upload_case(&f, &i1, "c-g1", "I0001", G1).await;
    upload_case(&f, &i2, "c-g2", "I0002", G2).await;
    upload_case(&f, &i4, "c-g3", "I0004", G3).await;
    assert_eq!(manifest_ids(&f, &i1).await.0, ["c-g1"]);
    assert_eq!(manifest_ids(&f, &i2).await.0, ["c-g2"]);
    assert_eq!(manifest_ids(&f, &i4).await.0, ["c-g3"]);
    assert_eq!(manifest_ids(&f, &leader1).await.0, ["c-g1", "c-g2"]);
    assert_eq!(manifest_ids(&f, &leader2).await.0, ["c-g3"]);
    let (all, cursor) = manifest_ids(&f, &centre).await;
    assert_eq!(all, ["c-g1", "c-g2", "c-g3"]);
    // Nothing changed since the cursor: one small empty answer (the cursor,
    // the server's epoch and high-water mark, and the caller's account, so
    // a restore or a rotation is noticed on any session).
    let r = f
        .http
        .post(f.url(paths::MANIFEST))
        .bearer_auth(&centre)
        .json(&json!({"cursor": cursor}))
        .send()
        .await
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert!(body.len() < 300, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["docs"].as_array().unwrap().len(), 0);
    assert_eq!(v["latest"], v["cursor"]);
    assert_eq!(v["account"]["id"], "C0001");
    assert_eq!(v["epoch"].as_str().unwrap().len(), 32);
    assert_eq!(v["more"], false);
    // Paging with a small limit.
    let (s, v) = f
        .post_json(
            Some(&centre),
            paths::MANIFEST,
            &json!({"cursor":null,"limit":2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["docs"].as_array().unwrap().len(), 2);
    assert_eq!(v["more"], true);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn write_rules_refuse_parts_the_caller_does_not_own() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let i2 = f.login("I0002").await;
    let leader = f.login("I0003").await;
    let centre = f.login("C0001").await;
    upload_case(&f, &i1, "case-1", "I0001", G1).await;
    let stored = f.stored_bytes("case-1").unwrap();

    // A forged client (the leader's device) rewrites the inspector's report.
    let (doc, mut st, r) = f.fetch(&leader, "dev-l", "case-1", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::Ok);
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.edit_report(&ReportEdit {
        description: Some("forged".into()),
        ..Default::default()
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let r = f
        .sync_doc(&leader, "dev-l", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(r.code.as_deref(), Some("not_owner"));
    assert!(r.reason.unwrap().contains("report"));
    assert_eq!(
        f.stored_bytes("case-1").unwrap(),
        stored,
        "refused change not stored"
    );

    // The leader writing the lifecycle: refused.
    let (doc, mut st, _) = f.fetch(&leader, "dev-l2", "case-1", DocKind::Case).await;
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.append_step(Action::File, "I0003", 1_700_000_100_000, "")
        .unwrap();
    let mut doc = cd.into_doc();
    let r = f
        .sync_doc(
            &leader,
            "dev-l2",
            "case-1",
            DocKind::Case,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(r.code.as_deref(), Some("not_owner"));
    assert_eq!(f.stored_bytes("case-1").unwrap(), stored);

    // The inspector writing the review: refused.
    let (doc, mut st, _) = f.fetch(&i1, "dev-i1", "case-1", DocKind::Case).await;
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.set_review(&Review {
        reviewer: "I0001".into(),
        verdict: Verdict::Approved,
        note: "self".into(),
        at_ms: 1_700_000_000_001,
        reason: None,
        duplicate_of: None,
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let r = f
        .sync_doc(&i1, "dev-i1", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(f.stored_bytes("case-1").unwrap(), stored);

    // An inspector creating a case in someone else's name: refused.
    let mut forged = new_case("case-forged", "I0001", G2);
    let mut st = SyncState::new();
    let r = f
        .sync_doc(
            &i2,
            "dev-i2",
            "case-forged",
            DocKind::Case,
            &mut forged,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Refused);
    assert_eq!(r.code.as_deref(), Some("not_reporter"));
    assert!(f.stored_bytes("case-forged").is_none());

    // The owners' writes go through: leader reviews, centre files.
    let (doc, mut st, _) = f.fetch(&leader, "dev-l3", "case-1", DocKind::Case).await;
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.set_review(&Review {
        reviewer: "I0003".into(),
        verdict: Verdict::Approved,
        note: "好".into(),
        at_ms: 1_700_000_000_002,
        reason: None,
        duplicate_of: None,
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let r = f
        .sync_doc(
            &leader,
            "dev-l3",
            "case-1",
            DocKind::Case,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    let (doc, mut st, _) = f.fetch(&centre, "dev-c", "case-1", DocKind::Case).await;
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.append_step(Action::File, "C0001", 1_700_000_000_003, "")
        .unwrap();
    let mut doc = cd.into_doc();
    let r = f
        .sync_doc(&centre, "dev-c", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    let server = CaseDoc::load(&f.stored_bytes("case-1").unwrap(), ActorId::random())
        .unwrap()
        .read()
        .unwrap();
    assert_eq!(server.review.unwrap().reviewer, "I0003");
    assert_eq!(server.steps.len(), 1);
    assert_eq!(server.report.description, "井盖破损");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn verification_task_and_result_ownership() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let i2 = f.login("I0002").await;
    let centre = f.login("C0001").await;
    // Only the centre creates tasks.
    let task = Task {
        assignee: "I0001".into(),
        kind: TaskKind::HandlingCheck,
        due_at_ms: 1_700_000_000_010,
        created_by: "C0001".into(),
    };
    let mut forged = VerificationDoc::create(ActorId::random(), "v-1", "case-x", &task)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(
            &i1,
            "dev-i1",
            "v-1",
            DocKind::Verification,
            &mut forged,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::NotFound);
    assert!(f.stored_bytes("v-1").is_none());
    let mut doc = VerificationDoc::create(ActorId::random(), "v-1", "case-x", &task)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(
            &centre,
            "dev-c",
            "v-1",
            DocKind::Verification,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    // The assignee sees it; another inspector of the squad does not.
    assert_eq!(manifest_ids(&f, &i1).await.0, ["v-1"]);
    assert!(manifest_ids(&f, &i2).await.0.is_empty());
    // The assignee writes the result.
    let (doc, mut st, _) = f.fetch(&i1, "dev-i1b", "v-1", DocKind::Verification).await;
    let mut vd = VerificationDoc::from_doc(doc).unwrap();
    let photo = hex::encode(Sha256::digest(b"after"));
    vd.set_result(&VerificationResult {
        outcome: Outcome::Pass,
        note: "修好了".into(),
        photos: vec![photo.clone()],
        lon: 116.4,
        lat: 39.9,
        at_ms: 1_700_000_000_005,
    })
    .unwrap();
    let mut doc = vd.into_doc();
    let r = f
        .sync_doc(
            &i1,
            "dev-i1b",
            "v-1",
            DocKind::Verification,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    // The centre may not write the result.
    let (doc, mut st, _) = f
        .fetch(&centre, "dev-c2", "v-1", DocKind::Verification)
        .await;
    let mut vd = VerificationDoc::from_doc(doc).unwrap();
    vd.set_result(&VerificationResult {
        outcome: Outcome::Fail,
        note: "no".into(),
        photos: vec![],
        lon: 116.4,
        lat: 39.9,
        at_ms: 1_700_000_000_006,
    })
    .unwrap();
    let mut doc = vd.into_doc();
    let r = f
        .sync_doc(
            &centre,
            "dev-c2",
            "v-1",
            DocKind::Verification,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    // The referenced photo, once uploaded by someone else, is visible to the assignee.
    let r = f
        .http
        .put(f.url(&paths::photo(&photo)))
        .bearer_auth(&centre)
        .header(headers::UPLOAD_OFFSET, "0")
        .header(headers::UPLOAD_LENGTH, "5")
        .body(b"after".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = f
        .http
        .get(f.url(&paths::photo(&photo)))
        .bearer_auth(&i1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = f
        .http
        .get(f.url(&paths::photo(&photo)))
        .bearer_auth(&i2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_offline_edits_by_reporter_and_leader_both_survive() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let leader = f.login("I0003").await;
    upload_case(&f, &i1, "case-m", "I0001", G1).await;
    let (a, mut sa, _) = f.fetch(&i1, "dev-a", "case-m", DocKind::Case).await;
    let (b, mut sb, _) = f.fetch(&leader, "dev-b", "case-m", DocKind::Case).await;
    let mut a = CaseDoc::from_doc(a).unwrap();
    a.edit_report(&ReportEdit {
        description: Some("井盖破损，已设围挡".into()),
        ..Default::default()
    })
    .unwrap();
    let mut b = CaseDoc::from_doc(b).unwrap();
    b.set_review(&Review {
        reviewer: "I0003".into(),
        verdict: Verdict::NeedsFix,
        note: "补照片".into(),
        at_ms: 1_700_000_000_009,
        reason: None,
        duplicate_of: None,
    })
    .unwrap();
    let (mut a, mut b) = (a.into_doc(), b.into_doc());
    assert_eq!(
        f.sync_doc(&i1, "dev-a", "case-m", DocKind::Case, &mut a, &mut sa)
            .await
            .status,
        SyncStatus::Ok
    );
    assert_eq!(
        f.sync_doc(&leader, "dev-b", "case-m", DocKind::Case, &mut b, &mut sb)
            .await
            .status,
        SyncStatus::Ok
    );
    // Device A learns of the leader's edit (the manifest would tell it the
    // server heads moved; a fresh sync state makes it ask).
    let mut sa = SyncState::new();
    assert_eq!(
        f.sync_doc(&i1, "dev-a", "case-m", DocKind::Case, &mut a, &mut sa)
            .await
            .status,
        SyncStatus::Ok
    );
    let mut a_heads = a.get_heads();
    let mut b_heads = b.get_heads();
    a_heads.sort();
    b_heads.sort();
    assert_eq!(a_heads, b_heads);
    let server = CaseDoc::load(&f.stored_bytes("case-m").unwrap(), ActorId::random())
        .unwrap()
        .read()
        .unwrap();
    assert_eq!(server.report.description, "井盖破损，已设围挡");
    assert_eq!(server.review.unwrap().verdict, Verdict::NeedsFix);
    f.server.shutdown().await.unwrap();
}

/// Every caller × every part of a case and a verification, over HTTP.
#[tokio::test]
async fn part_ownership_matrix() {
    use automerge::transaction::Transactable;
    use automerge::{ReadDoc, ROOT};

    #[derive(Clone, Copy, Debug)]
    enum Edit {
        Report,
        Review,
        Lifecycle,
        Task,
        Result,
    }
    fn apply(edit: Edit, doc: Automerge, by: &str) -> Automerge {
        match edit {
            Edit::Report => {
                let mut cd = CaseDoc::from_doc(doc).unwrap();
                cd.edit_report(&ReportEdit {
                    description: Some(format!("edited by {by}")),
                    ..Default::default()
                })
                .unwrap();
                cd.into_doc()
            }
            Edit::Review => {
                let mut cd = CaseDoc::from_doc(doc).unwrap();
                cd.set_review(&Review {
                    reviewer: by.into(),
                    verdict: Verdict::Approved,
                    note: String::new(),
                    at_ms: 1_700_000_000_001,
                    reason: None,
                    duplicate_of: None,
                })
                .unwrap();
                cd.into_doc()
            }
            Edit::Lifecycle => {
                let mut cd = CaseDoc::from_doc(doc).unwrap();
                cd.append_step(Action::File, by, 1_700_000_000_002, "")
                    .unwrap();
                cd.into_doc()
            }
            Edit::Task => {
                let mut doc = doc;
                let (_, task) = doc.get(ROOT, "task").unwrap().unwrap();
                let mut tx = doc.transaction();
                tx.put(&task, "due_at_ms", 1_700_000_000_099_i64).unwrap();
                tx.commit();
                doc
            }
            Edit::Result => {
                let mut vd = VerificationDoc::from_doc(doc).unwrap();
                vd.set_result(&VerificationResult {
                    outcome: Outcome::Pass,
                    note: by.into(),
                    photos: vec![],
                    lon: 116.4,
                    lat: 39.9,
                    at_ms: 1_700_000_000_003,
                })
                .unwrap();
                vd.into_doc()
            }
        }
    }
    let f = start().await;
    let i1 = f.login("I0001").await;
    let centre = f.login("C0001").await;
    upload_case(&f, &i1, "case-x", "I0001", G1).await;
    let task = Task {
        assignee: "I0001".into(),
        kind: TaskKind::HandlingCheck,
        due_at_ms: 1_700_000_000_010,
        created_by: "C0001".into(),
    };
    let mut v = VerificationDoc::create(ActorId::random(), "ver-x", "case-x", &task)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(
            &centre,
            "dev-c",
            "ver-x",
            DocKind::Verification,
            &mut v,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Ok);

    use SyncStatus::{NotFound as NF, Ok as OK, Refused as NO};
    // (user, doc, kind, edit, expected); the centre's lifecycle write comes
    // last so the others' local File step is still a legal transition.
    let cases: &[(&str, &str, DocKind, Edit, SyncStatus)] = &[
        ("I0001", "case-x", DocKind::Case, Edit::Report, OK),
        ("I0001", "case-x", DocKind::Case, Edit::Review, NO),
        ("I0001", "case-x", DocKind::Case, Edit::Lifecycle, NO),
        ("I0002", "case-x", DocKind::Case, Edit::Report, NF),
        ("I0003", "case-x", DocKind::Case, Edit::Report, NO),
        ("I0003", "case-x", DocKind::Case, Edit::Review, OK),
        ("I0003", "case-x", DocKind::Case, Edit::Lifecycle, NO),
        ("I0005", "case-x", DocKind::Case, Edit::Review, NF),
        ("C0001", "case-x", DocKind::Case, Edit::Report, NO),
        ("C0001", "case-x", DocKind::Case, Edit::Review, NO),
        ("C0001", "case-x", DocKind::Case, Edit::Lifecycle, OK),
        ("I0001", "ver-x", DocKind::Verification, Edit::Task, NO),
        ("I0001", "ver-x", DocKind::Verification, Edit::Result, OK),
        ("I0002", "ver-x", DocKind::Verification, Edit::Result, NF),
        ("I0003", "ver-x", DocKind::Verification, Edit::Task, NO),
        ("C0001", "ver-x", DocKind::Verification, Edit::Result, NO),
        ("C0001", "ver-x", DocKind::Verification, Edit::Task, OK),
    ];
    for (n, (user, id, kind, edit, expected)) in cases.iter().enumerate() {
        let token = f.login(user).await;
        let device = format!("dev-{n}");
        let (doc, mut st, r) = f.fetch(&token, &device, id, *kind).await;
        if r.status != SyncStatus::Ok {
            assert_eq!(r.status, *expected, "{user} fetching {id}");
            continue;
        }
        let before = f.stored_bytes(id).unwrap();
        let mut doc = apply(*edit, doc, user);
        let r = f
            .sync_doc(&token, &device, id, *kind, &mut doc, &mut st)
            .await;
        assert_eq!(r.status, *expected, "{user} × {edit:?} of {id}: {r:?}");
        if *expected == NO {
            assert_eq!(
                f.stored_bytes(id).unwrap(),
                before,
                "refused change not stored"
            );
            assert!(r.reason.is_some_and(|s| !s.is_empty()));
        } else {
            assert_ne!(f.stored_bytes(id).unwrap(), before, "allowed change stored");
        }
    }
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reports_must_name_a_fine_class_of_the_checklist() {
    let f = start().await;
    let i1 = f.login("I0001").await;

    // A new case filed against a code the checklist does not have, and one
    // filed against a subclass (not a fine class): neither is stored.
    for (id, category) in [("case-bogus", "99999999"), ("case-sub", "020101")] {
        let mut r = report("I0001", G1);
        r.category = category.into();
        let mut doc = CaseDoc::create(ActorId::random(), id, &r)
            .unwrap()
            .into_doc();
        let mut st = SyncState::new();
        let res = f
            .sync_doc(&i1, "dev-c", id, DocKind::Case, &mut doc, &mut st)
            .await;
        assert_eq!(res.status, SyncStatus::Refused, "{res:?}");
        assert_eq!(res.code.as_deref(), Some(codes::UNKNOWN_CATEGORY));
        assert!(res.reason.unwrap().contains(category));
        assert!(f.stored_bytes(id).is_none(), "{id} must not be stored");
    }

    // Re-categorising an existing report: to another fine class is fine, to
    // a module code is refused and leaves the stored copy as it was.
    upload_case(&f, &i1, "case-1", "I0001", G1).await;
    let (doc, mut st, _) = f.fetch(&i1, "dev-e", "case-1", DocKind::Case).await;
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.edit_report(&ReportEdit {
        category: Some("02010102".into()),
        ..Default::default()
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let res = f
        .sync_doc(&i1, "dev-e", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.status, SyncStatus::Ok, "{res:?}");
    let stored = f.stored_bytes("case-1").unwrap();
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.edit_report(&ReportEdit {
        category: Some("02".into()),
        ..Default::default()
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let res = f
        .sync_doc(&i1, "dev-e", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.status, SyncStatus::Refused, "{res:?}");
    assert_eq!(res.code.as_deref(), Some(codes::UNKNOWN_CATEGORY));
    assert_eq!(f.stored_bytes("case-1").unwrap(), stored);
    let read = CaseDoc::load(&stored, ActorId::random())
        .unwrap()
        .read()
        .unwrap();
    assert_eq!(read.report.category, "02010102");
}

/// A client whose connections come from `ip` (any of 127.0.0.0/8 reaches the
/// server on Linux), to play a second device or a stranger.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn try_login(
    f: &Fixture,
    http: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(f.url(paths::LOGIN))
        .json(&json!({"user_id": user, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_logins_back_off_per_account_and_address_without_locking_out_others() {
    let mut settings = Settings::default();
    settings.auth.throttle.free_failures = 3;
    settings.auth.throttle.address_free_failures = 7;
    let f = start_with(settings).await;
    let stranger = client_from("127.0.0.7");
    // Wrong passwords, and unknown ids (the same class: guesses), are free up
    // to the limit, then the next is refused with a retry-after — without
    // checking the password, even a right one.
    for user in ["I0001", "I9999"] {
        for n in 0..4 {
            let r = try_login(&f, &stranger, user, "guess").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{user} try {n}");
        }
        let r = try_login(&f, &stranger, user, &format!("patrol-{user}")).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{user}");
        let retry: u64 = r.headers()[reqwest::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err_code(&v), codes::TOO_MANY_ATTEMPTS);
    }
    // The stranger's address is over its budget across accounts: another
    // account from it is refused too …
    let r = try_login(&f, &stranger, "I0002", "guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // … but the inspector on their own device is not locked out.
    let own = client_from("127.0.0.8");
    let r = try_login(&f, &own, "I0001", "patrol-I0001").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = try_login(&f, &own, "I0002", "patrol-I0002").await;
    assert_eq!(r.status(), StatusCode::OK);
    // The wait is short: after Retry-After the right password works and a
    // success clears the (account, address) failures.
    let mine = client_from("127.0.0.9");
    for _ in 0..4 {
        try_login(&f, &mine, "I0004", "typo").await;
    }
    let r = try_login(&f, &mine, "I0004", "patrol-I0004").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
    let r = try_login(&f, &mine, "I0004", "patrol-I0004").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = try_login(&f, &mine, "I0004", "typo").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "failures were cleared"
    );
    // Counted in /metrics.
    let m = f.http.get(f.url(paths::METRICS)).send().await.unwrap();
    let text = m.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("gridpatrol_logins_throttled_total "))
        .unwrap();
    assert!(!line.ends_with(" 0"), "{line}");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_id_is_checked_with_the_accounts_hash_parameters() {
    let f = start().await;
    let r = try_login(&f, &f.http, "I9999", "whatever").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let user = f.server.state.store.user("I0001").unwrap().unwrap();
    let dummy = f.server.state.login_dummy_hash().expect("dummy used");
    let params = gridpatrol_server::accounts::hash_params;
    // Same algorithm, version, memory, passes and lanes: the same argon2 work.
    assert_eq!(params(&dummy), params(&user.password_hash));
    assert!(params(&dummy).unwrap().contains("m=64,t=1,p=1"));
    // Accounts re-hashed with another cost: the dummy follows.
    let store = f.server.state.store.clone();
    let mut u = user.clone();
    u.password_hash = gridpatrol_server::accounts::hash_password(
        "patrol-I0001",
        gridpatrol_server::accounts::HashCost { m_kib: 256, t: 2 },
    )
    .unwrap();
    store.upsert_users(&[u.clone()]).unwrap();
    f.login("I0001").await;
    try_login(&f, &f.http, "I9998", "whatever").await;
    let dummy = f.server.state.login_dummy_hash().unwrap();
    assert_eq!(params(&dummy), params(&u.password_hash));
    f.server.shutdown().await.unwrap();
}

/// A GET or HEAD of a photo.
async fn photo_req(
    f: &Fixture,
    method: reqwest::Method,
    token: &str,
    sha: &str,
) -> reqwest::Response {
    f.http
        .request(method, f.url(&paths::photo(sha)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A probe of a photo by id, as the outsider.
type Probe<'a> = Box<dyn Fn(&str) -> reqwest::RequestBuilder + 'a>;

/// A photo PUT with explicit offset and total.
fn put_photo(
    f: &Fixture,
    token: &str,
    sha: &str,
    offset: usize,
    total: usize,
    bytes: &[u8],
) -> reqwest::RequestBuilder {
    f.http
        .put(f.url(&paths::photo(sha)))
        .bearer_auth(token)
        .header(headers::UPLOAD_OFFSET, offset.to_string())
        .header(headers::UPLOAD_LENGTH, total.to_string())
        .body(bytes.to_vec())
}

/// Sends [`put_photo`].
async fn send_put(
    f: &Fixture,
    token: &str,
    sha: &str,
    offset: usize,
    total: usize,
    bytes: &[u8],
) -> reqwest::Response {
    put_photo(f, token, sha, offset, total, bytes)
        .send()
        .await
        .unwrap()
}

/// Status, the upload headers and the body of a response: everything a
/// caller could tell two answers apart by (the date aside).
async fn observable(r: reqwest::Response) -> (StatusCode, Vec<(String, String)>, String) {
    let status = r.status();
    let mut hs: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    hs.sort();
    (status, hs, r.text().await.unwrap())
}

#[tokio::test]
async fn photo_access_needs_a_document_in_scope_not_an_empty_or_partial_put() {
    let f = start().await;
    let reporter = f.login("I0001").await;
    let leader = f.login("I0003").await;
    let outsider = f.login("I0004").await;
    let centre = f.login("C0001").await;
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    let n = data.len();
    let r = send_put(&f, &reporter, &sha, 0, n, &data).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // A photo nobody may see, and one that does not exist, look the same to
    // the outsider, whatever it asks: HEAD, GET, and the PUTs that used to
    // answer "already complete" (an empty one at the end, one from 0, one in
    // the middle).
    let absent = hex::encode(Sha256::digest(b"never uploaded"));
    let probes: Vec<(&str, Probe)> = vec![
        (
            "head",
            Box::new(|s: &str| f.http.head(f.url(&paths::photo(s))).bearer_auth(&outsider)),
        ),
        (
            "get",
            Box::new(|s: &str| f.http.get(f.url(&paths::photo(s))).bearer_auth(&outsider)),
        ),
        (
            "empty put at the end",
            Box::new(|s| put_photo(&f, &outsider, s, n, n, b"")),
        ),
        (
            "put in the middle",
            Box::new(|s| put_photo(&f, &outsider, s, 10, n, b"xy")),
        ),
    ];
    for (what, probe) in &probes {
        let a = observable(probe(&sha).send().await.unwrap()).await;
        let b = observable(probe(&absent).send().await.unwrap()).await;
        assert_eq!(a, b, "{what}: out of scope vs missing");
        assert!(a.0.is_client_error(), "{what}: {a:?}");
    }
    // Neither an empty nor a partial PUT makes the outsider an uploader.
    let r = send_put(&f, &outsider, &sha, 0, n, &data[..1000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for token in [&outsider] {
        let r = photo_req(&f, reqwest::Method::GET, token, &sha).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // HEAD shows the outsider only its own unfinished upload.
        let r = photo_req(&f, reqwest::Method::HEAD, token, &sha).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[headers::UPLOAD_COMPLETE], "?0");
        assert_eq!(r.headers()[headers::UPLOAD_OFFSET], "1000");
    }
    // The leader of the reporter's squad sees it once a case in scope refers to it.
    let r = photo_req(&f, reqwest::Method::GET, &leader, &sha).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "no document refers to it yet"
    );
    upload_report(
        &f,
        &reporter,
        "case-photo",
        &Report {
            photos: vec![sha.clone()],
            ..report("I0001", G1)
        },
    )
    .await;
    for (who, token, expected) in [
        ("leader", &leader, StatusCode::OK),
        ("centre", &centre, StatusCode::OK),
        ("reporter", &reporter, StatusCode::OK),
        ("outsider", &outsider, StatusCode::NOT_FOUND),
    ] {
        let r = photo_req(&f, reqwest::Method::GET, token, &sha).await;
        assert_eq!(r.status(), expected, "{who}");
        let r = photo_req(&f, reqwest::Method::HEAD, token, &sha).await;
        let complete = r
            .headers()
            .get(headers::UPLOAD_COMPLETE)
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            complete.as_deref() == Some("?1"),
            expected == StatusCode::OK,
            "{who} head"
        );
    }
    // Sending every byte (hash verified) proves possession: then it may fetch it.
    let r = send_put(&f, &outsider, &sha, 1000, n, &data[1000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = photo_req(&f, reqwest::Method::GET, &outsider, &sha).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    drop(probes);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unfinished_uploads_belong_to_their_owner_have_a_quota_and_expire() {
    let mut settings = Settings::default();
    settings.photos.partial_uploads_per_account = 2;
    settings.photos.partial_bytes_per_account = 100_000;
    settings.photos.partial_ttl_secs = 2;
    let f = start_with(settings).await;
    let owner = f.login("I0001").await;
    let other = f.login("I0002").await;
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 97) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    let n = data.len();
    let r = send_put(&f, &owner, &sha, 0, n, &data[..10_000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Someone else cannot append to it (they have no upload, so offset 0) …
    let r = send_put(&f, &other, &sha, 10_000, n, &data[10_000..]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.headers()[headers::UPLOAD_OFFSET], "0");
    // … nor reset it, with wrong bytes, a wrong length or a fresh start.
    let r = put_photo(&f, &other, &sha, 0, n, &vec![0u8; n])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send_put(&f, &other, &sha, 0, 5, b"12345").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send_put(&f, &other, &sha, 0, n, &data[..10]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = photo_req(&f, reqwest::Method::HEAD, &owner, &sha).await;
    assert_eq!(
        r.headers()[headers::UPLOAD_OFFSET],
        "10000",
        "owner's upload untouched"
    );
    let r = send_put(&f, &owner, &sha, 10_000, n, &data[10_000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        f.server.state.store.photo_read(&sha).unwrap().unwrap(),
        data
    );
    // Quota: the owner may hold two unfinished uploads, and 100,000 bytes.
    let fake = |c: char| c.to_string().repeat(64);
    for c in ['a', 'b'] {
        let r = send_put(&f, &owner, &fake(c), 0, 1000, b"x").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{c}");
    }
    let r = send_put(&f, &owner, &fake('c'), 0, 1000, b"x").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err_code(&v), codes::UPLOAD_QUOTA_EXCEEDED);
    let r = send_put(&f, &other, &fake('d'), 0, 100_001, b"x").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "bytes quota");
    // Expiry: left untouched past the TTL they are deleted (on a later PUT).
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let r = send_put(&f, &owner, &fake('c'), 0, 1000, b"x").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "quota freed by expiry");
    let r = photo_req(&f, reqwest::Method::HEAD, &owner, &fake('a')).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "expired upload gone");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_throttled_and_spoofing_is_ignored() {
    let mut settings = Settings::default();
    settings.auth.throttle.free_failures = 2;
    settings.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let f = start_with(settings).await;
    let attempt = |http: &reqwest::Client, forwarded: &str, password: &str| {
        http.post(f.url(paths::LOGIN))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"user_id": "I0001", "password": password}))
            .send()
    };
    let proxy = client_from("127.0.0.1");
    for _ in 0..3 {
        attempt(&proxy, "203.0.113.9", "guess").await.unwrap();
    }
    let r = attempt(&proxy, "203.0.113.9", "patrol-I0001")
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the client behind the proxy"
    );
    let r = attempt(&proxy, "198.51.100.1, 203.0.113.7", "patrol-I0001")
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "another client behind the same proxy"
    );
    // A peer that is not a trusted proxy cannot pick its address.
    let direct = client_from("127.0.0.5");
    for _ in 0..3 {
        attempt(&direct, "192.0.2.1", "guess").await.unwrap();
    }
    let r = attempt(&direct, "192.0.2.2", "patrol-I0001").await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "spoofed header ignored"
    );
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_login_storm_reuses_a_bounded_pool_of_hash_memory() {
    let mut settings = Settings::default();
    settings.server.sync_workers = 2;
    let f = start_with(settings).await;
    let ids = [
        "I0001", "I0002", "I0003", "I0004", "I0005", "C0001", "I9999",
    ];
    let storm = (0..70).map(|n| {
        let user = ids[n % ids.len()];
        try_login(&f, &f.http, user, if n % 2 == 0 { "guess" } else { "x" })
    });
    let _ = futures_util::future::join_all(storm).await;
    let (buffers, kib) = f.server.state.passwords.pooled();
    // One buffer per concurrent check (the login permits), each 64 KiB here.
    assert!((1..=2).contains(&buffers), "{buffers} buffers");
    assert_eq!(kib, buffers * 64);
    f.server.shutdown().await.unwrap();
}
