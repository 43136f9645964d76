//! The supervision centre's loop over HTTP on 127.0.0.1:0: file, dispatch
//! with the checklist's deadline, handled, re-verification (a fail reopens
//! and re-dispatches by itself), close; refusals in plain words.

mod common;

use common::*;
use gridpatrol_docs::{CaseDoc, Outcome};
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_protocol::{codes, paths, DocKind};
use gridpatrol_server::centre::CaseDetail;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A case by I0001 in G1 at a real technical grid of the demo district
/// (the deadline depends on its area class).
async fn upload(f: &Fixture, token: &str, id: &str, at_ms: i64) {
    f.upload_at(token, id, "I0001", G1, at_ms).await
}

async fn get(f: &Fixture, token: &str, path: &str) -> (StatusCode, Value) {
    f.get_json(token, path).await
}

fn detail(v: Value) -> CaseDetail {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn the_centre_runs_a_case_round_the_loop_and_a_failed_check_sends_it_back() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    upload(&f, &insp, "case-c1", gridpatrol_server::now_ms()).await;

    // Only the centre.
    let (s, v) = get(&f, &insp, paths::CENTRE_CASES).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], codes::FORBIDDEN);
    let (s, _) = act(&f, &insp, "case-c1", json!({"action": "file"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, v) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "file", "note": "立案"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(detail(v).case.state.as_str(), "filed");
    // Filing twice makes no sense: refused, and said why.
    let (s, v) = act(&f, &centre, "case-c1", json!({"action": "file"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], codes::ACTION_REFUSED);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("已立案"),
        "{v}"
    );

    let before = gridpatrol_server::now_ms();
    let (s, v) = act(&f, &centre, "case-c1", json!({"action": "dispatch"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = detail(v);
    let step = d.case.steps.last().unwrap();
    let fine = Taxonomy::builtin()
        .get("02010101")
        .unwrap()
        .fine
        .clone()
        .unwrap();
    assert_eq!(step.detail.unit.as_deref(), Some(fine.department.as_str()));
    let class = gridpatrol_district::DemoDistrict::get()
        .district
        .technical_grid(&d.case.report.technical_grid)
        .expect("the fixture's technical grid is in the demo district")
        .area_class;
    let due = step.detail.due_at_ms.unwrap();
    let hours = i64::from(fine.limits.hours(class));
    assert!(
        (before + hours * 3_600_000..=gridpatrol_server::now_ms() + hours * 3_600_000)
            .contains(&due),
        "deadline {due} is {hours} h after the dispatch"
    );

    // Nothing to close on yet; no one else patrols G1 to re-verify.
    let (s, _) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "handled", "note": "已更换"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = act(&f, &centre, "case-c1", json!({"action": "close"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "assign_verification"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], codes::NO_ASSIGNEE);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("I0001"),
        "{v}"
    );

    let (s, v) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "assign_verification", "assignee": "I0003", "due_hours": 4}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = detail(v);
    assert_eq!(d.case.state.as_str(), "verifying");
    assert_eq!(d.verifications.len(), 1);
    assert_eq!(d.verifications[0].id, "case-c1-v1");
    assert_eq!(d.verifications[0].task.assignee, "I0003");

    // The check fails on site: the case goes back to the same unit by itself.
    verify(&f, "case-c1-v1", Outcome::Fail).await;
    let (_, v) = get(&f, &centre, &format!("{}/case-c1", paths::CENTRE_CASES)).await;
    let d = detail(v);
    assert_eq!(d.case.state.as_str(), "dispatched", "{:?}", d.case.steps);
    assert_eq!(d.rework, 1);
    let actions: Vec<&str> = d.case.steps.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(
        actions,
        [
            "filed",
            "dispatched",
            "handled",
            "verifying",
            "reopened",
            "dispatched"
        ]
    );
    assert_eq!(
        d.case.steps[4].by, "I0003",
        "the fail is the inspector's finding"
    );
    assert_eq!(
        d.case.steps[5].detail.unit.as_deref(),
        Some(fine.department.as_str())
    );

    // Second round passes and the case closes.
    act(&f, &centre, "case-c1", json!({"action": "handled"})).await;
    let (s, v) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "assign_verification", "assignee": "I0003"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = act(&f, &centre, "case-c1", json!({"action": "close"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "no result yet: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("I0003"));
    verify(&f, "case-c1-v2", Outcome::Pass).await;
    let (s, v) = act(
        &f,
        &centre,
        "case-c1",
        json!({"action": "close", "note": "结案"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = detail(v);
    assert_eq!(d.case.state.as_str(), "closed");
    assert_eq!(
        d.case.steps.last().unwrap().detail.verification.as_deref(),
        Some("case-c1-v2")
    );

    // The reporter's device sees the whole timeline through ordinary sync.
    let (doc, _, _) = f.fetch(&insp, "dev-i1b", "case-c1", DocKind::Case).await;
    let c = CaseDoc::from_doc(doc).unwrap().read().unwrap();
    assert_eq!(c.steps.len(), d.case.steps.len());
    assert_eq!(c.state.as_str(), "closed");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_case_list_filters_and_pages_newest_first() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    let t0 = gridpatrol_server::now_ms() - 10_000;
    for (i, id) in ["case-l1", "case-l2", "case-l3"].iter().enumerate() {
        upload(&f, &insp, id, t0 + i as i64).await;
    }
    act(
        &f,
        &centre,
        "case-l2",
        json!({"action": "reject", "reason": "不属于监督范围"}),
    )
    .await;
    let (s, v) = act(
        &f,
        &centre,
        "case-l3",
        json!({"action": "reject", "reason": " "}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a rejection needs a reason: {v}"
    );

    let (s, v) = get(&f, &centre, &format!("{}?limit=2", paths::CENTRE_CASES)).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["case-l3", "case-l2"]);
    assert_eq!(
        v["items"][0]["category_name"],
        Taxonomy::builtin().get("02010101").unwrap().name
    );
    let next = v["next"].as_str().unwrap().to_string();
    let (_, v) = get(
        &f,
        &centre,
        &format!("{}?limit=2&after={next}", paths::CENTRE_CASES),
    )
    .await;
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["case-l1"]);
    assert!(v["next"].is_null());

    let (_, v) = get(
        &f,
        &centre,
        &format!("{}?state=not_filed", paths::CENTRE_CASES),
    )
    .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["id"], "case-l2");
    let (_, v) = get(
        &f,
        &centre,
        &format!("{}?category=0201&grid={G1}", paths::CENTRE_CASES),
    )
    .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let (_, v) = get(&f, &centre, &format!("{}?category=03", paths::CENTRE_CASES)).await;
    assert!(v["items"].as_array().unwrap().is_empty());
    let (_, v) = get(
        &f,
        &centre,
        &format!("{}?from_ms={}", paths::CENTRE_CASES, t0 + 1),
    )
    .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let (s, v) = get(&f, &centre, &format!("{}?state=bogus", paths::CENTRE_CASES)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = get(&f, &centre, &format!("{}/nope", paths::CENTRE_CASES)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_public_complaint_is_checked_on_site_handled_and_closed_when_the_complainant_is_satisfied(
) {
    use geo::InteriorPoint;
    let f = start().await;
    let centre = f.login("C0001").await;
    let demo = gridpatrol_district::DemoDistrict::get();
    let tg = &demo.district.technical_grids[0];
    let at = demo
        .grid_geometry(&tg.code)
        .unwrap()
        .interior_point()
        .unwrap();
    let (s, v) = f
        .post_json(
            Some(&centre),
            paths::CENTRE_COMPLAINTS,
            &json!({"category": "02010101", "lon": at.x(), "lat": at.y(),
                    "address": "市民来电：小区门口", "description": "井盖坏了"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = detail(v);
    let id = d.case.id.clone();
    assert_eq!(d.case.state.as_str(), "accepted");
    assert_eq!(d.case.report.source.as_str(), "hotline");
    assert_eq!(
        d.case.report.technical_grid, tg.code,
        "placed by its position"
    );
    assert_eq!(d.case.report.reporter, "C0001");
    // Outside the district, or not a fine class: refused with the reason.
    let (s, v) = f
        .post_json(
            Some(&centre),
            paths::CENTRE_COMPLAINTS,
            &json!({"category": "02010101", "lon": 0.0, "lat": 0.0}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("district"));
    let (s, _) = f
        .post_json(
            Some(&centre),
            paths::CENTRE_COMPLAINTS,
            &json!({"category": "02", "lon": at.x(), "lat": at.y()}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let insp = f.login("I0001").await;
    let (s, _) = f
        .post_json(
            Some(&insp),
            paths::CENTRE_COMPLAINTS,
            &json!({"category": "02010101", "lon": at.x(), "lat": at.y()}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The on-site check confirms it: it goes to the unit by itself.
    let (s, v) = act(
        &f,
        &centre,
        &id,
        json!({"action": "assign_verification", "assignee": "I0003"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        detail(v).verifications[0].task.kind.as_str(),
        "complaint_check"
    );
    verify(&f, &format!("{id}-v1"), Outcome::Pass).await;
    let (_, v) = get(&f, &centre, &format!("{}/{id}", paths::CENTRE_CASES)).await;
    let d = detail(v);
    assert_eq!(d.case.state.as_str(), "dispatched");
    assert!(d.case.steps.last().unwrap().detail.due_at_ms.is_some());

    // Not satisfied twice: second handling, then an investigation.
    let mut states = Vec::new();
    for (i, outcome) in ["not_satisfied", "not_satisfied", "satisfied"]
        .iter()
        .enumerate()
    {
        act(&f, &centre, &id, json!({"action": "handled"})).await;
        let (s, v) = act(
            &f,
            &centre,
            &id,
            json!({"action": "reply", "note": format!("已处理 {i}")}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = act(
            &f,
            &centre,
            &id,
            json!({"action": outcome, "note": "仍有异味"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        states.push(detail(v).case.state.as_str().to_string());
    }
    assert_eq!(states, ["second_handling", "investigating", "closed"]);
    let (s, _) = act(&f, &centre, &id, json!({"action": "reply", "note": " "})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a reply says something");
    f.server.shutdown().await.unwrap();
}

/// The batched endpoint as the centre (or anyone) behind `token`.
async fn batch(f: &Fixture, token: &str, items: Value) -> (StatusCode, Value) {
    f.post_json(
        Some(token),
        paths::CENTRE_ACTIONS,
        &json!({ "items": items }),
    )
    .await
}

async fn state_of(f: &Fixture, centre: &str, id: &str) -> String {
    let (s, v) = get(f, centre, &format!("{}/{id}", paths::CENTRE_CASES)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    detail(v).case.state.as_str().to_string()
}

#[tokio::test]
async fn a_batch_records_each_item_as_the_single_endpoint_would_and_goes_on_past_refusals() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    let now = gridpatrol_server::now_ms();
    upload(&f, &insp, "case-b1", now).await;
    upload(&f, &insp, "case-b2", now + 1).await;

    let (s, v) = batch(
        &f,
        &centre,
        json!([
            {"case_id": "case-b1", "action": "file", "note": "立案"},
            // An item may act on what an earlier one of the batch did.
            {"case_id": "case-b1", "action": "dispatch"},
            // Refused by the lifecycle: already dispatched.
            {"case_id": "case-b1", "action": "file"},
            // Refused before anything: a rejection needs a reason.
            {"case_id": "case-b2", "action": "reject", "reason": " "},
            {"case_id": "no-such-case", "action": "file"},
            // Nothing to close on.
            {"case_id": "case-b2", "action": "close"},
            {"case_id": "case-b2", "action": "file"},
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    let got: Vec<(&str, u64, &str)> = results
        .iter()
        .map(|r| {
            (
                r["case_id"].as_str().unwrap(),
                r["status"].as_u64().unwrap(),
                r["error"]["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("case-b1", 200, ""),
            ("case-b1", 200, ""),
            ("case-b1", 409, codes::ACTION_REFUSED),
            ("case-b2", 400, codes::MALFORMED_REQUEST),
            ("no-such-case", 404, codes::NOT_FOUND),
            ("case-b2", 409, codes::ACTION_REFUSED),
            ("case-b2", 200, ""),
        ],
        "{v}"
    );
    assert!(results[0].get("error").is_none(), "{v}");
    assert!(
        results[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("已派遣"),
        "the refusal says why: {v}"
    );
    assert_eq!(state_of(&f, &centre, "case-b1").await, "dispatched");
    assert_eq!(state_of(&f, &centre, "case-b2").await, "filed");

    // The single endpoint answers the refused item the same way.
    let (s1, v1) = act(&f, &centre, "case-b1", json!({"action": "file"})).await;
    assert_eq!(s1.as_u16(), 409);
    assert_eq!(v1["error"], results[2]["error"]);

    // The dispatch carries the checklist's unit and deadline, as a single one does.
    let (_, v) = get(&f, &centre, &format!("{}/case-b1", paths::CENTRE_CASES)).await;
    let step = detail(v).case.steps.last().unwrap().clone();
    assert!(step.detail.unit.is_some() && step.detail.due_at_ms.is_some());

    // A batch of one default assignment meets the same "no one on duty"
    // rule with the same code.
    act(&f, &centre, "case-b1", json!({"action": "handled"})).await;
    let (_, v) = batch(
        &f,
        &centre,
        json!([{"case_id": "case-b1", "action": "assign_verification"}]),
    )
    .await;
    assert_eq!(v["results"][0]["error"]["code"], codes::NO_ASSIGNEE, "{v}");
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_batch_is_for_the_centre_only_and_bounded() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let leader = f.login("I0003").await;
    let centre = f.login("C0001").await;
    upload(&f, &insp, "case-b3", gridpatrol_server::now_ms()).await;
    let one = json!([{"case_id": "case-b3", "action": "file"}]);
    for token in [&insp, &leader] {
        let (s, v) = batch(&f, token, one.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error"]["code"], codes::FORBIDDEN);
    }
    let (s, _) = f
        .post_json(None, paths::CENTRE_ACTIONS, &json!({ "items": one }))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // One item over the bound: refused whole, with the bound in the message.
    let max = gridpatrol_protocol::limits::MAX_CENTRE_BATCH;
    let items: Vec<Value> = (0..=max)
        .map(|_| json!({"case_id": "case-b3", "action": "file"}))
        .collect();
    let (s, v) = batch(&f, &centre, Value::Array(items)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], codes::TOO_MANY_ITEMS);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&max.to_string()),
        "{v}"
    );
    assert_eq!(state_of(&f, &centre, "case-b3").await, "reported");

    // A body over the size bound: 413, nothing recorded.
    let note = "x".repeat(gridpatrol_protocol::limits::MAX_CENTRE_BATCH_BODY);
    let (s, v) = batch(
        &f,
        &centre,
        json!([{"case_id": "case-b3", "action": "file", "note": note}]),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], codes::PAYLOAD_TOO_LARGE);
    // Not the shape of a batch: 400.
    let (s, v) = f
        .post_json(
            Some(&centre),
            paths::CENTRE_ACTIONS,
            &json!({"items": [{"case_id": "case-b3", "action": "fly"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(state_of(&f, &centre, "case-b3").await, "reported");

    // The full bound is accepted.
    let items: Vec<Value> = (0..max)
        .map(|_| json!({"case_id": "case-b3", "action": "file"}))
        .collect();
    let (s, v) = batch(&f, &centre, Value::Array(items)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), max);
    assert_eq!(results.iter().filter(|r| r["status"] == 200).count(), 1);
    assert_eq!(state_of(&f, &centre, "case-b3").await, "filed");
    f.server.shutdown().await.unwrap();
}

/// The account behind `token` uploads `bytes` as a photo in one `PUT`;
/// its SHA-256 hex.
async fn put_photo(f: &Fixture, token: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let r = f
        .http
        .put(f.url(&paths::photo(&sha)))
        .bearer_auth(token)
        .header(gridpatrol_protocol::headers::UPLOAD_OFFSET, "0")
        .header(
            gridpatrol_protocol::headers::UPLOAD_LENGTH,
            bytes.len().to_string(),
        )
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    sha
}

/// A case by I0001, filed and dispatched by the centre.
async fn dispatched(f: &Fixture, insp: &str, centre: &str, id: &str) {
    upload(f, insp, id, gridpatrol_server::now_ms()).await;
    for a in ["file", "dispatch"] {
        let (s, v) = act(f, centre, id, json!({ "action": a })).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn the_units_feedback_comes_with_photos_the_server_holds_and_the_reporter_may_see() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    dispatched(&f, &insp, &centre, "case-p1").await;
    let a = put_photo(&f, &centre, b"after photo one").await;
    let b = put_photo(&f, &centre, b"after photo two, a little longer").await;
    let (s, v) = act(
        &f,
        &centre,
        "case-p1",
        json!({"action": "handled", "note": "已更换", "photos": [a, b]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = detail(v);
    assert_eq!(d.case.state.as_str(), "handled");
    let step = d.case.steps.last().unwrap();
    assert_eq!(step.detail.photos, vec![a.clone(), b.clone()]);
    assert_eq!(d.step_photo_bytes.get(&a), Some(&15));
    assert_eq!(d.step_photo_bytes.get(&b), Some(&32));

    // The reporter's device gets the step through sync, and may fetch its
    // photos (the case is in the reporter's scope).
    let (doc, _, _) = f.fetch(&insp, "dev-i1p", "case-p1", DocKind::Case).await;
    let c = CaseDoc::from_doc(doc).unwrap().read().unwrap();
    assert_eq!(c.steps.last().unwrap().detail.photos, vec![a.clone(), b]);
    let r = f
        .http
        .get(f.url(&paths::photo(&a)))
        .bearer_auth(&insp)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..], b"after photo one");
    // Someone outside the case's scope still may not.
    let other = f.login("I0004").await;
    let r = f
        .http
        .get(f.url(&paths::photo(&a)))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The batch items carry photos the same way.
    dispatched(&f, &insp, &centre, "case-p2").await;
    let (s, v) = batch(
        &f,
        &centre,
        json!([{"case_id": "case-p2", "action": "handled", "photos": [a]}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["status"], 200, "{v}");
    let (_, v) = get(&f, &centre, &format!("{}/case-p2", paths::CENTRE_CASES)).await;
    assert_eq!(detail(v).case.steps.last().unwrap().detail.photos, vec![a]);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn handled_is_refused_while_a_photo_is_not_on_the_server() {
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    dispatched(&f, &insp, &centre, "case-p3").await;
    let held = put_photo(&f, &centre, b"uploaded").await;
    let missing = "5".repeat(64);
    // Half an upload is not a photo on the server either.
    let partial = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"only half of this arrives"))
    };
    let r = f
        .http
        .put(f.url(&paths::photo(&partial)))
        .bearer_auth(&centre)
        .header(gridpatrol_protocol::headers::UPLOAD_OFFSET, "0")
        .header(gridpatrol_protocol::headers::UPLOAD_LENGTH, "25")
        .body(b"only half".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for sha in [&missing, &partial] {
        let (s, v) = act(
            &f,
            &centre,
            "case-p3",
            json!({"action": "handled", "photos": [held, sha]}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["code"], codes::PHOTO_NOT_UPLOADED, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(sha.as_str()),
            "{v}"
        );
        assert_eq!(state_of(&f, &centre, "case-p3").await, "dispatched");
    }
    // Malformed lists are refused before anything is looked up.
    for photos in [
        json!(["not-a-hash"]),
        json!([held, held]),
        json!(vec![held.clone(); gridpatrol_docs::limits::MAX_PHOTOS + 1]),
    ] {
        let (s, v) = act(
            &f,
            &centre,
            "case-p3",
            json!({"action": "handled", "photos": photos}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    // In a batch the item is refused with the same code; the next goes on.
    let (s, v) = batch(
        &f,
        &centre,
        json!([
            {"case_id": "case-p3", "action": "handled", "photos": [missing]},
            {"case_id": "case-p3", "action": "handled", "photos": [held]},
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["error"]["code"], codes::PHOTO_NOT_UPLOADED);
    assert_eq!(v["results"][1]["status"], 200, "{v}");
    assert_eq!(state_of(&f, &centre, "case-p3").await, "handled");
    f.server.shutdown().await.unwrap();
}

/// `who` fetches case `id`, appends `action` with `photos` to their own copy
/// by hand and syncs it: the server's answer.
async fn hand_made_step(
    f: &Fixture,
    who: &str,
    id: &str,
    action: gridpatrol_domain::lifecycle::Action,
    photos: Vec<String>,
) -> gridpatrol_protocol::SyncDocResult {
    let token = f.login(who).await;
    let device = format!("dev-{who}-hand");
    let (doc, mut st, r) = f.fetch(&token, &device, id, DocKind::Case).await;
    assert_eq!(r.status, gridpatrol_protocol::SyncStatus::Ok, "{r:?}");
    let mut c = CaseDoc::from_doc(doc.with_actor(automerge::ActorId::random())).unwrap();
    let d = gridpatrol_docs::StepDetail {
        photos,
        ..Default::default()
    };
    c.append_step_with(action, who, gridpatrol_server::now_ms(), "", &d)
        .unwrap();
    let mut doc = c.into_doc();
    f.sync_doc(&token, &device, id, DocKind::Case, &mut doc, &mut st)
        .await
}

#[tokio::test]
async fn only_the_centre_writes_a_handled_step_with_photos_and_only_on_that_step() {
    use gridpatrol_domain::lifecycle::Action;
    use gridpatrol_protocol::SyncStatus;
    let f = start().await;
    let insp = f.login("I0001").await;
    let centre = f.login("C0001").await;
    dispatched(&f, &insp, &centre, "case-p4").await;
    // The reporter uploads a photo of their own (so it is on the server)
    // and writes the unit's feedback with it into their copy: refused.
    let own = put_photo(&f, &insp, b"the reporter's own photo").await;
    let r = hand_made_step(
        &f,
        "I0001",
        "case-p4",
        Action::ReportHandled,
        vec![own.clone()],
    )
    .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(r.code.as_deref(), Some(codes::NOT_OWNER), "{r:?}");
    // So is their squad leader.
    let r = hand_made_step(
        &f,
        "I0003",
        "case-p4",
        Action::ReportHandled,
        vec![own.clone()],
    )
    .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(state_of(&f, &centre, "case-p4").await, "dispatched");
    // The same change from the centre's account through sync is taken: the
    // write rule, not the endpoint, decides.
    let r = hand_made_step(
        &f,
        "C0001",
        "case-p4",
        Action::ReportHandled,
        vec![own.clone()],
    )
    .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    assert_eq!(state_of(&f, &centre, "case-p4").await, "handled");
    // And through sync too, a photo not on the server is refused.
    dispatched(&f, &insp, &centre, "case-p5").await;
    let r = hand_made_step(
        &f,
        "C0001",
        "case-p5",
        Action::ReportHandled,
        vec!["6".repeat(64)],
    )
    .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(r.code.as_deref(), Some(codes::PHOTO_NOT_UPLOADED), "{r:?}");

    // Photos on any other step are refused by the shared check, even from
    // the centre: written raw, since the typed writer will not make one.
    let token = f.login("C0001").await;
    let (doc, mut st, _) = f.fetch(&token, "dev-c-raw", "case-p5", DocKind::Case).await;
    let mut doc = doc.with_actor(automerge::ActorId::random());
    {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ReadDoc, ROOT};
        let lc = doc.get(ROOT, "lifecycle").unwrap().unwrap().1;
        let steps = doc.get(&lc, "steps").unwrap().unwrap().1;
        let dispatch = doc.get(&steps, 1).unwrap().unwrap().1;
        let mut tx = doc.transaction();
        let l = tx.put_object(&dispatch, "photos", ObjType::List).unwrap();
        tx.insert(&l, 0, own.as_str()).unwrap();
        tx.commit();
    }
    let r = f
        .sync_doc(
            &token,
            "dev-c-raw",
            "case-p5",
            DocKind::Case,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Refused, "{r:?}");
    assert_eq!(r.code.as_deref(), Some(codes::INVALID_DOCUMENT), "{r:?}");
    assert!(
        r.reason.as_deref().unwrap().contains("report_handled"),
        "{r:?}"
    );
    f.server.shutdown().await.unwrap();
}
