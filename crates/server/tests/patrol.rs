//! Patrol days over HTTP: an inspector records the technical grids their
//! patrol visited, only their own, only of their grid, bounded; a repeated
//! upload changes nothing; the leader's KPI answer counts the days as
//! patrol coverage.

mod common;

use common::*;
use gridpatrol_protocol::paths;
use gridpatrol_quality::Month;
use gridpatrol_server::patrol::{beijing_day, grid_cells};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `n` technical grids of `grid`, sorted.
fn cells(grid: &str, n: usize) -> Vec<String> {
    let mut all: Vec<String> = grid_cells()
        .of(grid)
        .expect("a demo supervision grid")
        .iter()
        .cloned()
        .collect();
    all.sort();
    all.truncate(n);
    all
}

async fn put(f: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    f.post_json(Some(token), paths::PATROL_DAYS, &body).await
}

/// The KPI line of `id` in this month's answer seen by S01's leader.
async fn kpi_of(f: &Fixture, id: &str) -> Value {
    let leader = f.login("I0003").await;
    let month = Month::of_ms(gridpatrol_server::now_ms());
    let (status, v) = f
        .get_json(&leader, &format!("{}?month={month}", paths::QUALITY_KPI))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["inspectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} in {v}"))
}

#[tokio::test]
async fn only_the_inspector_records_their_own_grids_and_the_kpi_counts_them() {
    let f = start().await;
    let i1 = f.login("I0001").await;
    let i2 = f.login("I0002").await;
    let today = beijing_day(gridpatrol_server::now_ms());
    let day = today.to_string();
    let total = grid_cells().of(G1).unwrap().len();
    let mine = cells(G1, 3);
    let body = |who: &str, codes: &[String]| json!({"inspector": who, "day": day, "technical_grids": codes});

    // Nothing recorded yet: coverage 0, not absent.
    let before = kpi_of(&f, "I0001").await;
    assert_eq!(before["coverage"], json!(0.0), "{before}");

    // Another account writing for I0001: refused.
    let (s, v) = put(&f, &i2, body("I0001", &mine)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{v}"
    );
    // A leader holds no grid: refused.
    let leader = f.login("I0003").await;
    let (s, _) = put(&f, &leader, body("I0003", &mine)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Not a technical grid of the district at all.
    let (s, v) = put(
        &f,
        &i1,
        body("I0001", &[mine[0].clone(), "110105001001999".into()]),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_request")),
        "{v}"
    );
    // A technical grid of G2, not of I0001's grid G1: refused with the code named.
    let theirs = cells(G2, 1);
    let (s, v) = put(
        &f,
        &i1,
        body("I0001", &[mine[0].clone(), theirs[0].clone()]),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("outside_scope")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&theirs[0]),
        "{v}"
    );
    // Too many codes, none, a day not yet come, a day that is no date.
    let many: Vec<String> = (0..65).map(|_| mine[0].clone()).collect();
    assert_eq!(
        put(&f, &i1, body("I0001", &many)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put(&f, &i1, body("I0001", &[])).await.0,
        StatusCode::BAD_REQUEST
    );
    let tomorrow = today.succ_opt().unwrap().succ_opt().unwrap().to_string();
    let (s, _) = put(
        &f,
        &i1,
        json!({"inspector": "I0001", "day": tomorrow, "technical_grids": mine}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = put(
        &f,
        &i1,
        json!({"inspector": "I0001", "day": "2026-2-3", "technical_grids": mine}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Every refusal stored nothing.
    let k = kpi_of(&f, "I0001").await;
    assert_eq!(
        (k["coverage"].clone(), k["patrol_days"].clone()),
        (json!(0.0), json!(0)),
        "{k}"
    );
    let k2 = kpi_of(&f, "I0002").await;
    assert_eq!(k2["coverage"], json!(0.0), "{k2}");

    // The inspector's own: recorded; again, and a part of it again, change nothing.
    assert_eq!(
        put(&f, &i1, body("I0001", &mine[..2])).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&f, &i1, body("I0001", &mine)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&f, &i1, body("I0001", &mine)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(&f, &i1, body("I0001", &mine[..1])).await.0,
        StatusCode::NO_CONTENT
    );
    let k = kpi_of(&f, "I0001").await;
    let working = f64::from(chrono::Datelike::day(&today));
    let want = 3.0 / total as f64 / working;
    let got = k["coverage"].as_f64().unwrap();
    assert!(
        (got - want).abs() < 1e-9,
        "coverage {got}, want {want}: {k}"
    );
    assert_eq!(k["patrol_days"], json!(1));
    // The squad's figure is the mean of I0001 and I0002 (the leader holds no grid).
    let month = Month::of_ms(gridpatrol_server::now_ms());
    let (_, v) = f
        .get_json(&leader, &format!("{}?month={month}", paths::QUALITY_KPI))
        .await;
    let s01 = v["squads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["squad"] == "S01")
        .unwrap();
    assert!(
        (s01["coverage"].as_f64().unwrap() - want / 2.0).abs() < 1e-9,
        "{s01}"
    );
}

/// A day before the latest rotation counts against the grid held then.
#[tokio::test]
async fn a_day_before_a_rotation_is_checked_against_the_grid_held_that_day() {
    use gridpatrol_rotation::{Duty, Period, Plan, Posting};
    let f = start().await;
    let now = gridpatrol_server::now_ms();
    // The period in force now and the one before it.
    let mut before = Period::new(2026, 1).unwrap();
    while before.next().next().start_ms() <= now {
        before = before.next();
    }
    let current = before.next();
    let plan = |period: Period, i1: &str, i2: &str| Plan {
        period,
        starts_at_ms: period.start_ms(),
        yearly: false,
        rule: gridpatrol_rotation::RULE.into(),
        seed: 7,
        postings: [
            ("I0001", "S01", Duty::Grid, Some(i1)),
            ("I0002", "S01", Duty::Grid, Some(i2)),
            ("I0003", "S01", Duty::Leader, None),
            ("I0004", "S02", Duty::Grid, Some(G3)),
            ("I0005", "S02", Duty::Leader, None),
        ]
        .into_iter()
        .map(|(person, squad, duty, grid)| Posting {
            person: person.into(),
            squad: squad.into(),
            duty,
            grid: grid.map(str::to_string),
        })
        .collect(),
    };
    let dir = f.dir.path().join(gridpatrol_server::rotation::HISTORY_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    for p in [plan(before, G1, G2), plan(current, G2, G1)] {
        std::fs::write(
            dir.join(format!("{}.json", p.period)),
            serde_json::to_string(&p).unwrap(),
        )
        .unwrap();
    }
    let history = gridpatrol_server::rotation::load_history(f.dir.path()).unwrap();
    let store = f.server.state.store.clone();
    gridpatrol_server::rotation::apply(store.as_ref(), &history, now).unwrap();

    // I0001 holds G2 now; the last day before the rotation they held G1.
    let i1 = f.login("I0001").await;
    let last_day = beijing_day(current.start_ms() - 1).to_string();
    let today = beijing_day(now).to_string();
    let body = |day: &str, codes: Vec<String>| json!({"inspector": "I0001", "day": day, "technical_grids": codes});
    for (day, grid, want) in [
        (&last_day, G2, StatusCode::UNPROCESSABLE_ENTITY),
        (&last_day, G1, StatusCode::NO_CONTENT),
        (&today, G1, StatusCode::UNPROCESSABLE_ENTITY),
        (&today, G2, StatusCode::NO_CONTENT),
    ] {
        let (status, v) = put(&f, &i1, body(day, cells(grid, 2))).await;
        assert_eq!(status, want, "{day} {grid}: {v}");
    }

    // That month's coverage counts the day against G1.
    let month = Month::of_ms(current.start_ms() - 1);
    let k = gridpatrol_server::quality::kpi_report_at(
        store.as_ref(),
        month,
        Some("S01"),
        &Default::default(),
        now,
    )
    .unwrap();
    let i1k = k.inspectors.iter().find(|k| k.id == "I0001").unwrap();
    let days = ((month.end_ms() - month.start_ms()) / 86_400_000) as f64;
    let want = 2.0 / grid_cells().of(G1).unwrap().len() as f64 / days;
    assert!((i1k.coverage.unwrap() - want).abs() < 1e-12, "{i1k:?}");
    assert_eq!(i1k.patrol_days, 1);
}
