//! The monthly quality work over HTTP: last month's sample drawn once and
//! recorded, marked by the reporter's leader only, and the KPIs counting
//! the marks and the centre's decisions.

mod common;

use common::*;
use gridpatrol_protocol::{paths, SamplePage};
use gridpatrol_quality::Month;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn upload(f: &Fixture, token: &str, id: &str, reporter: &str, grid: &str, at_ms: i64) {
    f.upload_at(token, id, reporter, grid, at_ms).await
}

async fn get(f: &Fixture, token: &str, path: &str) -> (StatusCode, Value) {
    f.get_json(token, path).await
}

#[tokio::test]
async fn last_months_sample_is_drawn_once_marked_by_the_leader_and_counted() {
    let mut settings = gridpatrol_server::config::Settings::default();
    settings.quality.auto_draw = false;
    settings.quality.draw_delay_hours = 0;
    let f = start_with(settings).await;
    let last = Month::of_ms(gridpatrol_server::now_ms()).prev();
    let i1 = f.login("I0001").await;
    let i2 = f.login("I0002").await;
    for n in 0..5 {
        upload(
            &f,
            &i1,
            &format!("q1-{n}"),
            "I0001",
            G1,
            last.start_ms() + 3_600_000 * (n + 1),
        )
        .await;
    }
    upload(&f, &i2, "q2-0", "I0002", G2, last.start_ms() + 7_200_000).await;
    // This month's report is not in last month's sample.
    upload(
        &f,
        &i1,
        "q1-now",
        "I0001",
        G1,
        gridpatrol_server::now_ms() - 1_000,
    )
    .await;

    let leader = f.login("I0003").await;
    let (s, v) = get(&f, &leader, paths::QUALITY_SAMPLES).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let page: SamplePage = serde_json::from_value(v).unwrap();
    assert_eq!(page.month, last.to_string());
    assert_eq!((page.percent, page.min), (5, 3));
    let per = |who: &str| page.items.iter().filter(|i| i.inspector == who).count();
    assert_eq!((per("I0001"), per("I0002")), (3, 1));
    assert!(page.items.iter().all(|i| i.case_id != "q1-now"));
    assert!(page
        .items
        .iter()
        .all(|i| i.wrong.is_none() && !i.category_name.is_empty()));
    // Drawn once: asking again gives the same seed and cases.
    let (_, v) = get(&f, &leader, paths::QUALITY_SAMPLES).await;
    let again: SamplePage = serde_json::from_value(v).unwrap();
    assert_eq!(
        (again.seed.clone(), again.items.clone()),
        (page.seed.clone(), page.items.clone())
    );

    // Who may see and mark.
    let (s, _) = get(&f, &i1, paths::QUALITY_SAMPLES).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other_leader = f.login("I0005").await;
    let (_, v) = get(&f, &other_leader, paths::QUALITY_SAMPLES).await;
    assert!(
        v["items"].as_array().unwrap().is_empty(),
        "another squad's sample is not theirs"
    );
    let case = page
        .items
        .iter()
        .find(|i| i.inspector == "I0001")
        .unwrap()
        .case_id
        .clone();
    let mark = |token: String, body: Value| {
        let f = &f;
        let case = case.clone();
        async move {
            f.post_json(
                Some(&token),
                &format!("{}/{last}/{case}", paths::QUALITY_SAMPLES),
                &body,
            )
            .await
            .0
        }
    };
    assert_eq!(
        mark(other_leader.clone(), json!({"wrong": true, "reason": "x"})).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mark(i1.clone(), json!({"wrong": false})).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        mark(leader.clone(), json!({"wrong": true})).await,
        StatusCode::BAD_REQUEST,
        "a wrong report needs a reason"
    );
    assert_eq!(
        mark(
            leader.clone(),
            json!({"wrong": true, "reason": "不属于井盖破损，应为道路破损"})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let (_, v) = get(&f, &leader, paths::QUALITY_SAMPLES).await;
    let marked = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["case_id"] == case.as_str())
        .unwrap()
        .clone();
    assert_eq!(marked["wrong"], true);
    assert_eq!(marked["marked_by"], "I0003");

    // The centre's decisions and the mark show in the month's KPIs.
    let centre = f.login("C0001").await;
    for (id, action) in [
        ("q1-0", json!({"action": "file"})),
        ("q1-1", json!({"action": "file"})),
        ("q1-2", json!({"action": "reject", "reason": "重复"})),
    ] {
        let (s, v) = f
            .post_json(
                Some(&centre),
                &format!("{}/{id}/actions", paths::CENTRE_CASES),
                &action,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = get(&f, &leader, &format!("{}?month={last}", paths::QUALITY_KPI)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let k1 = v["inspectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "I0001")
        .unwrap()
        .clone();
    assert_eq!(
        (
            k1["reports"].as_u64(),
            k1["filed"].as_u64(),
            k1["refused"].as_u64(),
            k1["sampled"].as_u64(),
            k1["wrong"].as_u64()
        ),
        (Some(5), Some(2), Some(1), Some(3), Some(1))
    );
    assert!(
        v["inspectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["squad"] == "S01"),
        "a leader sees their squad"
    );
    let (s, _) = get(
        &f,
        &leader,
        &format!("{}?month={last}&squad=S02", paths::QUALITY_KPI),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The evaluation is the centre's; this month has no sample yet.
    let (s, v) = get(
        &f,
        &centre,
        &format!("{}?month={last}", paths::QUALITY_EVAL),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["month"], last.to_string());
    let (s, _) = get(&f, &leader, paths::QUALITY_EVAL).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let this = last.next();
    let (s, _) = get(
        &f,
        &leader,
        &format!("{}?month={this}", paths::QUALITY_SAMPLES),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = get(
        &f,
        &leader,
        &format!("{}?month=2026-13", paths::QUALITY_SAMPLES),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_case_reported_months_ago_and_dispatched_now_counts_in_this_months_evaluation() {
    let f = start().await;
    let now = gridpatrol_server::now_ms();
    let this = Month::of_ms(now);
    let i1 = f.login("I0001").await;
    upload(
        &f,
        &i1,
        "old-1",
        "I0001",
        G1,
        this.prev().prev().start_ms() + 3_600_000,
    )
    .await;
    upload(&f, &i1, "new-1", "I0001", G1, now - 60_000).await;
    let centre = f.login("C0001").await;
    for id in ["old-1", "new-1"] {
        for action in ["file", "dispatch"] {
            let (s, v) = act(&f, &centre, id, json!({ "action": action })).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    }
    let settings = gridpatrol_server::config::QualitySection::default();
    let store = f.server.state.store.clone();
    let e = gridpatrol_server::quality::evaluation(store.as_ref(), this, &settings).unwrap();
    let rounds: u32 = e.units.iter().map(|u| u.rounds).sum();
    assert_eq!(rounds, 2, "both dispatches of this month: {:?}", e.units);
    let k = gridpatrol_server::quality::kpi_report(store.as_ref(), this, None, &settings).unwrap();
    let me = k.inspectors.iter().find(|k| k.id == "I0001").unwrap();
    assert_eq!(
        (me.reports, me.filed),
        (1, 1),
        "only this month's report is this month's"
    );
    f.server.shutdown().await.unwrap();
}
