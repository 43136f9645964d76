//! The monthly quality work over HTTP: last month's sample drawn once and
//! recorded, marked by the reporter's leader only, and the KPIs counting
//! the marks and the centre's decisions; the figures streamed from the store
//! equal those computed from the same records loaded whole.

mod common;

use common::*;
use gridpatrol_protocol::{paths, DocKind, SamplePage};
use gridpatrol_quality::eval::evaluate;
use gridpatrol_quality::kpi::{kpis, KpiTally};
use gridpatrol_quality::Month;
use gridpatrol_quality::MonthTally;
use gridpatrol_server::config::QualitySection;
use gridpatrol_server::patrol::grid_cells;
use gridpatrol_server::quality::{evaluation, kpi_report, records, Records};
use gridpatrol_server_storage::{
    CaseEvent, CaseSummary, DocIndex, DocWrite, DrawRecord, PatrolDayRow, SampleRow,
    VerificationSummary,
};
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

const H: i64 = 3_600_000;

fn ev(action: &str, at_ms: i64) -> CaseEvent {
    CaseEvent {
        action: action.into(),
        state: "s".into(),
        by: "C0001".into(),
        at_ms,
        unit: None,
        due_at_ms: None,
    }
}

fn sent(unit: &str, at_ms: i64, due_at_ms: i64) -> CaseEvent {
    CaseEvent {
        unit: Some(unit.into()),
        due_at_ms: Some(due_at_ms),
        ..ev("dispatch", at_ms)
    }
}

/// A case's index write: `(id, reporter, grid, source, at, lon, events)`.
fn case(
    id: &str,
    reporter: &str,
    grid: &str,
    source: &str,
    at: i64,
    lon: f64,
    events: Vec<CaseEvent>,
) -> DocWrite {
    DocWrite {
        id: id.into(),
        kind: DocKind::Case,
        bytes: b"test".to_vec(),
        heads: vec![],
        expected_seq: None,
        index: DocIndex {
            supervision_grid: Some(grid.into()),
            reporter: Some(reporter.into()),
            case: Some(CaseSummary {
                category: "02010101".into(),
                source: source.into(),
                reported_at_ms: at,
                lon,
                lat: 39.92,
                review: Some("approved".into()),
                events,
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn verification(id: &str, assignee: &str, due: i64, done: Option<i64>) -> DocWrite {
    DocWrite {
        id: id.into(),
        kind: DocKind::Verification,
        bytes: b"test".to_vec(),
        heads: vec![],
        expected_seq: None,
        index: DocIndex {
            assignee: Some(assignee.into()),
            verification: Some(VerificationSummary {
                case_id: "a".into(),
                kind: "handling_check".into(),
                due_at_ms: due,
                outcome: done.map(|_| "pass".into()),
                done_at_ms: done,
            }),
            ..Default::default()
        },
    }
}

/// The streamed figures equal those computed from the records loaded
/// whole, on a month with every kind of record: reports in the month
/// and in the window before it, covered and missed complaints, an old
/// case active in the month, rework, late and pending rounds, an
/// unknown action, verifications in and out of the month, marks.
#[tokio::test]
async fn the_streamed_figures_equal_those_of_the_loaded_records() {
    let f = start().await;
    let store = f.server.state.store.clone();
    let store = store.as_ref();
    let month = Month::parse("2026-11").unwrap();
    let t = |day: i64, hour: i64| month.start_ms() + (day - 1) * 24 * H + hour * H;
    let writes = vec![
        case(
            "a",
            "I0001",
            G1,
            "patrol",
            t(2, 8),
            116.45,
            vec![
                ev("file", t(2, 9)),
                sent("water", t(2, 9), t(2, 13)),
                ev("report_handled", t(2, 10)),
                ev("request_verification", t(2, 10)),
                ev("verify_fail", t(2, 11)),
                sent("water", t(2, 11), t(2, 15)),
                ev("report_handled", t(2, 20)),
                ev("verify_pass", t(3, 9)),
            ],
        ),
        // In the window before the month: covers complaint "c".
        case(
            "b",
            "I0002",
            G1,
            "patrol",
            month.start_ms() - 2 * H,
            116.45,
            vec![ev("refuse_filing", month.start_ms() - H)],
        ),
        case("c", "C0001", G1, "hotline", t(1, 2), 116.45, vec![]),
        // 300 m away from every report: missed by I1 and I2.
        case("d", "C0001", G1, "hotline", t(4, 2), 116.4535, vec![]),
        // Reported in September, dispatched in November, never handled.
        case(
            "e",
            "I0004",
            G3,
            "patrol",
            t(1, 0) - 60 * 24 * H,
            116.5,
            vec![
                ev("file", t(1, 0) - 60 * 24 * H),
                ev("frobnicate", t(1, 0) - 50 * 24 * H),
                sent("roads", t(5, 9), t(6, 9)),
            ],
        ),
        case(
            "f",
            "I0001",
            G1,
            "patrol",
            t(30, 8),
            116.6,
            vec![
                ev("file", t(30, 9)),
                sent("roads", t(30, 9), month.end_ms() + H),
            ],
        ),
        verification("v1", "I0002", t(5, 12), Some(t(5, 11))),
        verification("v2", "I0004", t(6, 12), None),
        verification("v3", "I0001", month.end_ms() + H, Some(month.end_ms())),
    ];
    store.commit_sync("test", &writes, &[]).unwrap();
    let draw = DrawRecord {
        month: month.to_string(),
        seed: "00".into(),
        rate: 0.05,
        min_count: 3,
        drawn_at_ms: month.end_ms(),
    };
    let sample = SampleRow {
        month: month.to_string(),
        case_id: "a".into(),
        inspector: "I0001".into(),
        squad: Some("S01".into()),
        wrong: Some(true),
        reason: None,
        marked_by: None,
        marked_at_ms: None,
    };
    assert!(store
        .record_draw(&draw, std::slice::from_ref(&sample))
        .unwrap());
    assert!(store.mark_sample(&sample).unwrap());
    let settings = QualitySection::default();
    // I0001 walked three of G1's technical grids on the 2nd.
    let walked: Vec<String> = {
        let mut c: Vec<String> = grid_cells().of(G1).unwrap().iter().cloned().collect();
        c.sort();
        c.truncate(3);
        c
    };
    let day = gridpatrol_server::patrol::beijing_day(t(2, 9));
    let row = PatrolDayRow {
        day: day.to_string(),
        inspector: "I0001".into(),
        supervision_grid: G1.into(),
        technical_grids: walked,
    };
    assert_eq!(store.record_patrol_day(&row, t(2, 20)).unwrap(), 3);
    let Records {
        people,
        cases,
        verifications,
        marks,
        patrol_days,
    } = records(store, month, &settings).unwrap();
    assert_eq!(patrol_days.len(), 1);
    assert_eq!((cases.len(), verifications.len(), marks.len()), (6, 2, 1));
    let rules = settings.kpi_rules();
    let whole = evaluate(month, &people, &cases, &verifications, &marks, rules);
    let streamed = evaluation(store, month, &settings).unwrap();
    assert_eq!(streamed, whole);
    let roads = streamed.units.iter().find(|u| u.unit == "roads").unwrap();
    assert_eq!((roads.rounds, roads.late, roads.pending), (2, 1, 1));
    let i1 = streamed
        .inspectors
        .iter()
        .find(|k| k.id == "I0001")
        .unwrap();
    assert_eq!((i1.reports, i1.wrong, i1.missed), (2, 1, 1));
    let today = gridpatrol_server::patrol::beijing_day(gridpatrol_server::now_ms());
    let mut whole = KpiTally::new(month, &people, rules).with_coverage(today, grid_cells());
    whole.add_records(&cases, &verifications, &marks);
    for d in &patrol_days {
        whole.add_patrol_day(d);
    }
    let (inspectors, squads) = whole.finish();
    let k = kpi_report(store, month, None, &settings).unwrap();
    assert_eq!((&k.inspectors, &k.squads), (&inspectors, &squads));
    let i1 = k.inspectors.iter().find(|k| k.id == "I0001").unwrap();
    let days = ((month.end_ms() - month.start_ms()) / 86_400_000) as f64;
    let want = 3.0 / grid_cells().of(G1).unwrap().len() as f64 / days;
    assert!((i1.coverage.unwrap() - want).abs() < 1e-12, "{i1:?}");
    // Without the tally's coverage the plain formula has none.
    let (plain, _) = kpis(month, &people, &cases, &verifications, &marks, rules);
    assert!(plain.iter().all(|k| k.coverage.is_none()));
    f.server.shutdown().await.unwrap();
}
