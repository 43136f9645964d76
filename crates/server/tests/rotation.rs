//! A rotation plan in the data directory takes effect at its start: the
//! accounts' grids and squads, their scope, the write rules and the
//! district package all follow it.

mod common;

use automerge::sync::State as SyncState;
use automerge::ActorId;
use common::*;
use gridpatrol_docs::CaseDoc;
use gridpatrol_protocol::{paths, DocKind, SyncStatus};
use gridpatrol_rotation::{Duty, Period, Plan, Posting};

fn post(person: &str, squad: &str, duty: Duty, grid: Option<&str>) -> Posting {
    Posting {
        person: person.into(),
        squad: squad.into(),
        duty,
        grid: grid.map(str::to_string),
    }
}

/// The tiny district with I0001 and I0002 swapping grids from `period`.
fn swap(period: Period) -> Plan {
    Plan {
        period,
        starts_at_ms: period.start_ms(),
        yearly: false,
        rule: gridpatrol_rotation::RULE.into(),
        seed: 7,
        postings: vec![
            post("I0001", "S01", Duty::Grid, Some(G2)),
            post("I0002", "S01", Duty::Grid, Some(G1)),
            post("I0003", "S01", Duty::Leader, None),
            post("I0004", "S02", Duty::Grid, Some(G3)),
            post("I0005", "S02", Duty::Leader, None),
        ],
    }
}

fn write_plan(f: &Fixture, plan: &Plan) {
    let dir = f.dir.path().join(gridpatrol_server::rotation::HISTORY_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{}.json", plan.period)),
        serde_json::to_string(plan).unwrap(),
    )
    .unwrap();
}

async fn create(f: &Fixture, token: &str, id: &str, reporter: &str, grid: &str) -> SyncStatus {
    let mut r = report(reporter, grid);
    r.created_at_ms = gridpatrol_server::now_ms();
    let mut doc = CaseDoc::create(ActorId::random(), id, &r)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    f.sync_doc(token, "dev-rot", id, DocKind::Case, &mut doc, &mut st)
        .await
        .status
}

#[tokio::test]
async fn from_a_plans_start_scope_rules_and_package_follow_it() {
    let f = start().await;
    let store = f.server.state.store.clone();
    let now = gridpatrol_server::now_ms();
    let started: Period = "2026-11".parse().unwrap();
    let future: Period = "2099-01".parse().unwrap();

    // A plan that starts later changes nothing yet.
    write_plan(&f, &swap(future));
    let history = gridpatrol_server::rotation::load_history(f.dir.path()).unwrap();
    assert_eq!(
        gridpatrol_server::rotation::apply(store.as_ref(), &history, now).unwrap(),
        0
    );
    let t = f.login("I0001").await;
    assert_eq!(create(&f, &t, "rot-0", "I0001", G1).await, SyncStatus::Ok);

    write_plan(&f, &swap(started));
    let history = gridpatrol_server::rotation::load_history(f.dir.path()).unwrap();
    assert_eq!(history.len(), 2);
    let changed = gridpatrol_server::rotation::apply(store.as_ref(), &history, now).unwrap();
    assert!(changed >= 2, "{changed}");
    assert_eq!(
        gridpatrol_server::rotation::apply(store.as_ref(), &history, now).unwrap(),
        0,
        "idempotent"
    );

    // I0001 now patrols G2: reports there, not in G1 any more.
    let (_, v) = f
        .post_json(
            None,
            paths::LOGIN,
            &serde_json::json!({"user_id": "I0001", "password": "patrol-I0001"}),
        )
        .await;
    assert_eq!(v["user"]["supervision_grid"], G2);
    let t = v["token"].as_str().unwrap().to_string();
    assert_eq!(create(&f, &t, "rot-1", "I0001", G2).await, SyncStatus::Ok);
    assert_eq!(
        create(&f, &t, "rot-2", "I0001", G1).await,
        SyncStatus::Refused
    );
    let (_, pkg) = f.get_json(&t, paths::DISTRICT).await;
    assert_eq!(pkg["supervision_grids"], serde_json::json!([G2]));
    // Their old grid's case is out of their scope now; I0002 has it.
    let t2 = f.login("I0002").await;
    let (_, _, r) = f.fetch(&t2, "dev-rot2", "rot-0", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::Ok);

    // A damaged plan file is named, and nothing is applied from it.
    let dir = f.dir.path().join(gridpatrol_server::rotation::HISTORY_DIR);
    std::fs::write(dir.join("2027-01.json"), "{not json").unwrap();
    let err = gridpatrol_server::rotation::load_history(f.dir.path()).unwrap_err();
    assert!(err.to_string().contains("2027-01.json"), "{err}");
    f.server.shutdown().await.unwrap();
}
