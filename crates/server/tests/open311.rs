//! Open311 GeoReport v2 over HTTP on 127.0.0.1:0: services are the fine
//! classes grouped by module; a case synced by a device appears as a
//! public service request (rounded coordinates, no account ids, no photos)
//! that turns closed when the centre closes it; the spec's filters, limits
//! and error bodies; switched off in the config it is not there at all.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use gridpatrol_docs::{Outcome, Report};
use gridpatrol_domain::taxonomy::{Level, Taxonomy};
use gridpatrol_server::config::{Open311Section, Settings};
use gridpatrol_server::open311;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A photo the report refers to: it must never be published.
const PHOTO: &str = "5f0b6a3c9e1d2f4a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a";
/// What the reporter wrote: public only when the operator says so.
const WRITTEN: &str = "东侧人行道一块缺角，已放置警示锥";

/// I0001's report in G1 at `at_ms`, of `category`, at a point with more
/// decimals than the public may see.
fn report_at(category: &str, at_ms: i64) -> Report {
    let mut r = report("I0001", G1);
    r.category = category.into();
    r.created_at_ms = at_ms;
    r.lon = 116.484_56;
    r.lat = 39.951_23;
    r.description = WRITTEN.into();
    r.photos = vec![PHOTO.into()];
    r
}

async fn upload(f: &Fixture, token: &str, id: &str, r: &Report) {
    upload_report(f, token, "dev-i1", id, r).await;
}

/// An anonymous GET: status, Content-Type and the raw body.
async fn get_raw(f: &Fixture, path: &str) -> (StatusCode, String, String) {
    let r = f.http.get(f.url(path)).send().await.unwrap();
    let s = r.status();
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (s, ct, r.text().await.unwrap())
}

async fn get(f: &Fixture, path: &str) -> (StatusCode, Value) {
    let (s, _, body) = get_raw(f, path).await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The ids of a requests.json answer, in order.
async fn ids(f: &Fixture, query: &str) -> Vec<String> {
    let (s, v) = get(f, &format!("{}?{query}", open311::REQUESTS)).await;
    assert_eq!(s, StatusCode::OK, "{query}: {v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_string())
        .collect()
}

/// A spec error body: `[{"code": status, "description": "…"}]`.
fn assert_spec_error(s: StatusCode, v: &Value, want: StatusCode) {
    assert_eq!(s, want, "{v}");
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["code"], want.as_u16(), "{v}");
    assert!(!items[0]["description"].as_str().unwrap().is_empty(), "{v}");
}

/// Unix ms of an ISO 8601 time the server wrote; it must carry +08:00.
fn ms_of(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(s.ends_with("+08:00"), "{s}");
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn services_are_the_fine_classes_grouped_by_module() {
    let f = start().await;
    let (s, ct, body) = get_raw(&f, open311::SERVICES).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json; charset=utf-8");
    let services: Vec<open311::Service> = serde_json::from_str(&body).unwrap();
    let t = Taxonomy::builtin();
    assert_eq!(services.len(), t.stats().fine_classes);
    assert_eq!(services.len(), 3537);

    // Each module's fine classes, and only those, carry its name as group.
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for n in t.fine_classes() {
        *want
            .entry(t.get(&n.code[..2]).unwrap().name.clone())
            .or_default() += 1;
    }
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for sv in &services {
        *got.entry(sv.group.clone()).or_default() += 1;
        assert!(!sv.metadata, "{sv:?}");
        assert_eq!(sv.kind, "realtime");
        let node = t.get(&sv.service_code).unwrap();
        assert_eq!(node.level, Level::Fine);
        assert_eq!(sv.service_name, node.name);
        assert_eq!(sv.group, t.get(&sv.service_code[..2]).unwrap().name);
    }
    assert_eq!(got, want);
    assert_eq!(got.len(), 11);
    let s = services
        .iter()
        .find(|s| s.service_code == "02010101")
        .unwrap();
    assert_eq!(s.group, "城市管理");
    let fine = t.get("02010101").unwrap().fine.clone().unwrap();
    assert_eq!(s.description, fine.filing_condition);
    assert!(s.keywords.contains("部件"), "{s:?}");
    assert!(
        s.keywords.contains(t.get("020101").unwrap().name.as_str()),
        "{s:?}"
    );
    // The field names of the spec, and nothing else.
    let raw: Value = serde_json::from_str(&body).unwrap();
    let keys: BTreeSet<&str> = raw[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group"
        ])
    );
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_case_is_public_without_people_or_photos_and_closes_with_the_centre() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    let at = gridpatrol_server::now_ms() - 3_600_000;
    upload(&f, &insp, "case-p1", &report_at("02010101", at)).await;

    let one = "/open311/v2/requests/case-p1.json";
    let (s, ct, body) = get_raw(&f, one).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(ct, "application/json; charset=utf-8");
    for secret in [
        "I0001", "I0003", "C0001", PHOTO, WRITTEN, "photo", "reporter",
    ] {
        assert!(!body.contains(secret), "{secret} published: {body}");
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let r = &v[0];
    assert_eq!(r["service_request_id"], "case-p1");
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], "已上报");
    assert_eq!(r["service_code"], "02010101");
    let t = Taxonomy::builtin();
    let node = t.get("02010101").unwrap();
    assert_eq!(r["service_name"], node.name.as_str());
    assert_eq!(r["description"], node.name.as_str(), "not what was written");
    assert_eq!(r["lat"], json!(39.951));
    assert_eq!(r["long"], json!(116.485));
    assert_eq!(r["address_id"], format!("{G1}001"));
    // Most specific first, as the spec asks: the address, street, district, city.
    let street = gridpatrol_district::DemoDistrict::get()
        .district
        .street(&G1[..9])
        .expect("the fixture's street is in the demo district")
        .name
        .clone();
    assert_eq!(r["address"], format!("朝阳路1号, {street}, 朝阳区, 北京市"));
    assert_eq!(ms_of(&r["requested_datetime"]), at / 1000 * 1000);
    assert_eq!(ms_of(&r["updated_datetime"]), at / 1000 * 1000);
    assert!(r.get("agency_responsible").is_none(), "{r}");
    assert!(r.get("expected_datetime").is_none(), "{r}");
    assert!(r.get("media_url").is_none(), "{r}");
    assert_eq!(
        r["service_notice"],
        node.fine.as_ref().unwrap().closing_condition.as_str()
    );
    assert_eq!(ids(&f, "status=open").await, ["case-p1"]);
    assert!(ids(&f, "status=closed").await.is_empty());

    // Round the loop: filed, dispatched, handled, re-verified, closed.
    for body in [
        json!({"action": "file"}),
        json!({"action": "dispatch"}),
        json!({"action": "handled"}),
        json!({"action": "assign_verification", "assignee": "I0003"}),
    ] {
        let (s, v) = act(&f, &centre, "case-p1", body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, v) = get(&f, one).await;
    let r = &v[0];
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], "核查中");
    let fine = node.fine.as_ref().unwrap();
    assert_eq!(r["agency_responsible"], fine.department.as_str());
    let due = ms_of(&r["expected_datetime"]);
    assert!(due > gridpatrol_server::now_ms(), "{r}");
    verify(&f, "case-p1-v1", Outcome::Pass).await;
    let (s, v) = act(
        &f,
        &centre,
        "case-p1",
        json!({"action": "close", "note": "结案"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (_, _, body) = get_raw(&f, one).await;
    for secret in ["I0001", "I0003", "C0001", PHOTO, WRITTEN] {
        assert!(!body.contains(secret), "{secret} published: {body}");
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let r = &v[0];
    assert_eq!(r["status"], "closed");
    assert_eq!(r["status_notes"], "已结案");
    assert_eq!(r["agency_responsible"], fine.department.as_str());
    assert_eq!(ms_of(&r["expected_datetime"]), due);
    let closed_at = ms_of(&r["updated_datetime"]);
    assert!(closed_at > at && closed_at <= gridpatrol_server::now_ms());
    assert_eq!(ids(&f, "status=closed").await, ["case-p1"]);
    assert!(ids(&f, "status=open").await.is_empty());
    assert_eq!(ids(&f, "status=open,closed").await, ["case-p1"]);

    // A refused report is closed too, and says so.
    upload(&f, &insp, "case-p2", &report_at("02010101", at + 1)).await;
    let (s, v) = act(
        &f,
        &centre,
        "case-p2",
        json!({"action": "reject", "reason": "重复上报 I0001"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = get(&f, "/open311/v2/requests/case-p2.json").await;
    assert_eq!(v[0]["status"], "closed");
    assert_eq!(v[0]["status_notes"], "不予立案", "the note stays private");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_operator_may_publish_what_was_written_and_coarsen_positions() {
    let f = start_with(Settings {
        open311: Open311Section {
            public_descriptions: true,
            coordinate_decimals: 2,
            ..Open311Section::default()
        },
        ..Settings::default()
    })
    .await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    upload(
        &f,
        &insp,
        "case-w1",
        &report_at("02010101", gridpatrol_server::now_ms() - 1000),
    )
    .await;
    let (s, v) = act(
        &f,
        &centre,
        "case-w1",
        json!({"action": "reject", "reason": "不属于监督范围"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, ct, body) = get_raw(&f, "/open311/v2/requests/case-w1.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json; charset=utf-8");
    assert!(!body.contains(PHOTO) && !body.contains("I0001"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["description"], WRITTEN);
    assert_eq!(v[0]["status_notes"], "不予立案：不属于监督范围");
    assert_eq!(v[0]["lat"], json!(39.95));
    assert_eq!(v[0]["long"], json!(116.48));
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_filter_as_the_spec_says() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let day = 86_400_000;
    let now = gridpatrol_server::now_ms();
    upload(&f, &insp, "case-a", &report_at("02010101", now - day)).await;
    upload(&f, &insp, "case-b", &report_at("02020502", now - 10 * day)).await;
    upload(&f, &insp, "case-c", &report_at("02010101", now - 100 * day)).await;

    // By default the last 90 days, newest first.
    assert_eq!(ids(&f, "").await, ["case-a", "case-b"]);
    assert_eq!(ids(&f, "service_code=02010101").await, ["case-a"]);
    assert_eq!(ids(&f, "service_code=02020502").await, ["case-b"]);
    assert_eq!(
        ids(&f, "service_code=02020502,02010101").await,
        ["case-a", "case-b"]
    );
    assert_eq!(
        ids(&f, "status=open&service_code=02020502").await,
        ["case-b"]
    );

    // A window of dates (requested_datetime within it).
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let q = format!(
        "start_date={}&end_date={}",
        iso(now - 120 * day),
        iso(now - 50 * day)
    );
    assert_eq!(ids(&f, &q).await, ["case-c"]);
    let q = format!("start_date={}", iso(now - 12 * day));
    assert_eq!(ids(&f, &q).await, ["case-a", "case-b"]);
    let q = format!("start_date={}", iso(now - 101 * day));
    assert_eq!(ids(&f, &q).await, ["case-c"], "90 days from a lone start");
    let q = format!("end_date={}", iso(now - 5 * day));
    assert_eq!(ids(&f, &q).await, ["case-b"]);
    // A bare date is Beijing's whole day; +08:00 is `%2B08:00` in a query string.
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let b_day = chrono::DateTime::from_timestamp_millis(now - 10 * day)
        .unwrap()
        .with_timezone(&beijing);
    let q = format!(
        "start_date={}&end_date={}",
        b_day.format("%Y-%m-%d"),
        b_day.format("%Y-%m-%d")
    );
    assert_eq!(ids(&f, &q).await, ["case-b"]);
    let b_time = b_day.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let q = format!("start_date={}", b_time.replace('+', "%2B"));
    assert_eq!(ids(&f, &q).await, ["case-a", "case-b"]);
    // Sent unencoded, `+` arrives as a space, which no date has: taken as `+`.
    let q = format!("end_date={b_time}");
    assert_eq!(ids(&f, &q).await, ["case-b"]);

    // A list of ids overrides every other filter; unknown ids are left out.
    assert_eq!(
        ids(
            &f,
            "service_request_id=case-c,nope,case-a&service_code=02020502"
        )
        .await,
        ["case-c", "case-a"]
    );
    // Repeats count once.
    assert_eq!(
        ids(&f, "service_request_id=case-b,case-b").await,
        ["case-b"]
    );
    assert_eq!(ids(&f, "service_code=02020502,02020502").await, ["case-b"]);

    // The spec's error body, 400, for what cannot be answered.
    let many = (0..=open311::MAX_IDS)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let long_window = format!("start_date={}&end_date={}", iso(now - 100 * day), iso(now));
    for q in [
        "start_date=yesterday".to_string(),
        "end_date=2026-13-01".to_string(),
        "start_date=2026-12-01T08:00:00".to_string(),
        long_window,
        format!("start_date={}&end_date={}", iso(now), iso(now - day)),
        "status=pending".to_string(),
        "service_code=02".to_string(),
        "service_code=99999999".to_string(),
        format!("service_request_id={many}"),
        format!("service_code={}", "x".repeat(5000)),
        "jurisdiction_id=".to_string() + &"j".repeat(100),
    ] {
        let (s, v) = get(&f, &format!("{}?{q}", open311::REQUESTS)).await;
        assert_spec_error(s, &v, StatusCode::BAD_REQUEST);
    }

    // One jurisdiction: its id is accepted, any other is not found.
    assert_eq!(
        ids(&f, "jurisdiction_id=110105").await,
        ["case-a", "case-b"]
    );
    for path in [
        format!("{}?jurisdiction_id=chicago", open311::REQUESTS),
        format!("{}?jurisdiction_id=chicago", open311::SERVICES),
        "/open311/v2/requests/case-a.json?jurisdiction_id=chicago".to_string(),
    ] {
        let (s, v) = get(&f, &path).await;
        assert_spec_error(s, &v, StatusCode::NOT_FOUND);
    }
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_ids_other_formats_and_writes_answer_in_the_spec_format() {
    let f = start().await;
    let insp = f.login("I0001").await;
    upload(
        &f,
        &insp,
        "case-u1",
        &report_at("02010101", gridpatrol_server::now_ms()),
    )
    .await;
    for path in [
        "/open311/v2/requests/nope.json",
        "/open311/v2/requests/case-u1-v1.json",
        "/open311/v2/requests/case-u1",
        "/open311/v2/services/02010101.json",
        "/open311/v2/tokens/abc.json",
        "/open311/v2/discovery.json",
    ] {
        let (s, v) = get(&f, path).await;
        assert_spec_error(s, &v, StatusCode::NOT_FOUND);
    }
    for path in [
        "/open311/v2/services.xml",
        "/open311/v2/requests.xml",
        "/open311/v2/requests/case-u1.xml",
    ] {
        let (s, v) = get(&f, path).await;
        assert_spec_error(s, &v, StatusCode::BAD_REQUEST);
    }
    let r = f
        .http
        .post(f.url(open311::REQUESTS))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("service_code=02010101&lat=39.9&long=116.4")
        .send()
        .await
        .unwrap();
    let s = r.status();
    let v: Value = r.json().await.unwrap();
    assert_spec_error(s, &v, StatusCode::METHOD_NOT_ALLOWED);
    // Nothing was created by it.
    assert_eq!(ids(&f, "").await, ["case-u1"]);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn switched_off_it_is_not_there() {
    let f = start_with(Settings {
        open311: Open311Section {
            enabled: false,
            ..Open311Section::default()
        },
        ..Settings::default()
    })
    .await;
    let insp = f.login("I0001").await;
    upload(
        &f,
        &insp,
        "case-d1",
        &report_at("02010101", gridpatrol_server::now_ms()),
    )
    .await;
    let (s, unknown) = get(&f, "/no/such/path").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for path in [
        open311::SERVICES.to_string(),
        open311::REQUESTS.to_string(),
        "/open311/v2/requests/case-d1.json".to_string(),
        "/open311/v2/requests.xml".to_string(),
    ] {
        let (s, v) = get(&f, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(v, unknown, "{path} answers like an unknown path");
    }
    let r = f.http.post(f.url(open311::REQUESTS)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    f.server.shutdown().await.unwrap();
}

#[test]
// figment::Error is large, and Jail's closure must return it.
#[allow(clippy::result_large_err)]
fn the_default_config_serves_open311_at_100_m() {
    let s = Settings::default();
    assert!(s.open311.enabled);
    assert_eq!(s.open311.coordinate_decimals, 3);
    assert!(!s.open311.public_descriptions);
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "gridpatrol.toml",
            "[open311]\ncoordinate_decimals = 2\npublic_descriptions = true\n",
        )?;
        jail.set_env("GRIDPATROL__OPEN311__ENABLED", "false");
        let s = Settings::load(jail.directory(), None).unwrap();
        assert!(!s.open311.enabled);
        assert_eq!(s.open311.coordinate_decimals, 2);
        assert!(s.open311.public_descriptions);
        assert_eq!(s.open311.jurisdiction_id, "110105");
        Ok(())
    });
}

#[tokio::test]
async fn an_answer_holds_the_newest_thousand_requests() {
    use automerge::sync::{Message, State as SyncState, SyncDoc};
    use gridpatrol_protocol::{DocKind, SyncDocRequest, SyncStatus};

    let f = start().await;
    let insp = f.login("I0001").await;
    let n = open311::MAX_REQUESTS + 5;
    let t0 = gridpatrol_server::now_ms() - 86_400_000;
    // Two categories, so the answer merges two index queries.
    let mut docs: Vec<(String, automerge::Automerge, SyncState)> = (0..n)
        .map(|i| {
            let id = format!("case-m{i:04}");
            let code = if i % 2 == 0 { "02010101" } else { "02020502" };
            let r = report_at(code, t0 + i as i64 * 1000);
            let doc = gridpatrol_docs::CaseDoc::create(automerge::ActorId::random(), &id, &r)
                .unwrap()
                .into_doc();
            (id, doc, SyncState::new())
        })
        .collect();
    // Batched sync rounds until no document has anything more to send.
    for _ in 0..10 {
        let mut pending = Vec::new();
        for (i, (id, doc, st)) in docs.iter_mut().enumerate() {
            if let Some(m) = doc.generate_sync_message(st) {
                pending.push((
                    i,
                    SyncDocRequest {
                        id: id.clone(),
                        kind: DocKind::Case,
                        msg: m.encode(),
                    },
                ));
            }
        }
        if pending.is_empty() {
            break;
        }
        for chunk in pending.chunks(200) {
            let (idx, reqs): (Vec<usize>, Vec<SyncDocRequest>) = chunk.iter().cloned().unzip();
            let res = f.sync_batch(&insp, "dev-i1", reqs).await;
            for (i, r) in idx.into_iter().zip(res) {
                assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
                if let Some(m) = &r.msg {
                    let (_, doc, st) = &mut docs[i];
                    doc.receive_sync_message(st, Message::decode(m).unwrap())
                        .unwrap();
                    gridpatrol_docs::guard::speak_v1(st);
                }
            }
        }
    }
    assert_eq!(f.server.state.store.doc_count().unwrap(), n as u64);

    let got = ids(&f, "").await;
    let want: Vec<String> = (n - open311::MAX_REQUESTS..n)
        .rev()
        .map(|i| format!("case-m{i:04}"))
        .collect();
    assert_eq!(got, want, "the newest 1,000, newest first");
    let got = ids(&f, "service_code=02010101,02020502&status=open").await;
    assert_eq!(got, want);
    let got = ids(&f, "service_code=02020502").await;
    assert_eq!(got.len(), n / 2);
    assert!(got.iter().all(|id| {
        let i: usize = id["case-m".len()..].parse().unwrap();
        i % 2 == 1
    }));
    f.server.shutdown().await.unwrap();
}
