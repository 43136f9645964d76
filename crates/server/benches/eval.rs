//! The month's evaluation over a month of district days: `CASES` cases
//! (default 750,000 = 30 × 25,000) with their lifecycle steps (filed,
//! dispatched, handled, verified, closed; some reworked, some late) and one
//! re-verification each, 1 % public complaints, written straight into the
//! server's centre index (the documents' bytes are a placeholder: the
//! evaluation reads only the index), then `quality::evaluation` timed — the
//! same call `gridpatrol eval --data DIR` makes. Baseline in the same run: a
//! plain SQLite scan of the same event rows. Prints one JSON line, with the
//! SHA-256 of the evaluation's JSON (`evaluation_sha256`): two builds that
//! agree on it gave bit-for-bit the same figures.
//!
//! `cargo bench -p gridpatrol-server --bench eval` (env `CASES`).

use std::time::Instant;

use geo::InteriorPoint;
use gridpatrol_domain::lifecycle::Action;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_protocol::DocKind;
use gridpatrol_quality::Month;
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::config::QualitySection;
use gridpatrol_server_storage::{
    CaseEvent, CaseSummary, DocIndex, DocWrite, ServerStore, VerificationSummary,
};
use gridpatrol_server_storage_sqlite::SqliteStore;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};

fn main() {
    let n: usize = std::env::var("CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(750_000);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let demo = gridpatrol_district::DemoDistrict::get();
    accounts::load_district(
        &store,
        &demo.district,
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        2,
    )
    .unwrap();
    let inspectors: Vec<_> = demo
        .district
        .inspectors
        .iter()
        .filter(|i| i.role == gridpatrol_domain::roles::Role::Inspector)
        .collect();
    let point_of: std::collections::HashMap<&str, (f64, f64)> = demo
        .district
        .technical_grids
        .iter()
        .map(|g| {
            let p = demo
                .grid_geometry(&g.code)
                .unwrap()
                .interior_point()
                .unwrap();
            (g.supervision_grid.as_str(), (p.x(), p.y()))
        })
        .collect();
    let fine: Vec<_> = Taxonomy::builtin().fine_classes().take(300).collect();
    let month = Month::parse("2026-11").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let h = 3_600_000i64;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(4000);
    for i in 0..n {
        let who = inspectors[i % inspectors.len()];
        let class = fine[rng.random_range(0..fine.len())];
        let unit = class.fine.as_ref().unwrap().department.clone();
        let at = month.start_ms()
            + (i as i64 * (month.end_ms() - month.start_ms() - 2 * 86_400_000)) / n as i64;
        let complaint = i % 100 == 99;
        let (lon, lat) = point_of[who.supervision_grid.as_str()];
        let ev = |a: Action, t: i64| CaseEvent {
            action: a.as_str().to_string(),
            state: String::new(),
            by: "C0001".into(),
            at_ms: t,
            unit: None,
            due_at_ms: None,
        };
        let sent = |t: i64| CaseEvent {
            unit: Some(unit.clone()),
            due_at_ms: Some(t + 24 * h),
            ..ev(Action::Dispatch, t)
        };
        let late = rng.random_bool(0.1);
        let fail = rng.random_bool(0.05);
        let handled = at + if late { 30 * h } else { 5 * h };
        let mut events = vec![
            ev(Action::File, at + h),
            sent(at + h),
            ev(Action::ReportHandled, handled),
        ];
        events.push(ev(Action::RequestVerification, handled + h));
        if fail {
            events.push(ev(Action::VerifyFail, handled + 2 * h));
            events.push(sent(handled + 2 * h));
            events.push(ev(Action::ReportHandled, handled + 6 * h));
            events.push(ev(Action::RequestVerification, handled + 7 * h));
        }
        events.push(ev(Action::VerifyPass, handled + 9 * h));
        let id = format!("bench-{i:07}");
        let index = DocIndex {
            supervision_grid: Some(who.supervision_grid.clone()),
            reporter: Some(if complaint {
                "C0001".into()
            } else {
                who.id.clone()
            }),
            case: Some(CaseSummary {
                state: "closed".into(),
                category: class.code.clone(),
                street: who.supervision_grid[..9].to_string(),
                technical_grid: format!("{}001", who.supervision_grid),
                source: if complaint { "hotline" } else { "patrol" }.into(),
                reported_at_ms: at,
                lon: lon + rng.random_range(-0.002..0.002),
                lat: lat + rng.random_range(-0.002..0.002),
                review: Some("approved".into()),
                resubmitted: false,
                unit: Some(unit.clone()),
                due_at_ms: Some(at + 25 * h),
                events,
            }),
            ..Default::default()
        };
        batch.push(DocWrite {
            id: id.clone(),
            kind: DocKind::Case,
            bytes: b"bench placeholder".to_vec(),
            heads: vec![],
            expected_seq: None,
            index,
        });
        batch.push(DocWrite {
            id: format!("{id}-v1"),
            kind: DocKind::Verification,
            bytes: b"bench placeholder".to_vec(),
            heads: vec![],
            expected_seq: None,
            index: DocIndex {
                assignee: Some(who.id.clone()),
                verification: Some(VerificationSummary {
                    case_id: id,
                    kind: "handling_check".into(),
                    due_at_ms: handled + 25 * h,
                    outcome: Some("pass".into()),
                    done_at_ms: Some(handled + if rng.random_bool(0.9) { 9 * h } else { 30 * h }),
                }),
                ..Default::default()
            },
        });
        if batch.len() >= 4000 {
            store.commit_sync("bench", &batch, &[]).unwrap();
            batch.clear();
        }
    }
    store.commit_sync("bench", &batch, &[]).unwrap();
    let load_s = started.elapsed().as_secs_f64();

    let settings = QualitySection::default();
    let mut runs = Vec::new();
    let mut units = 0;
    let mut squads = 0;
    let mut digest = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let e = gridpatrol_server::quality::evaluation(&store, month, &settings).unwrap();
        runs.push(t.elapsed().as_secs_f64());
        units = e.units.len();
        squads = e.squads.len();
        digest = hex::encode(Sha256::digest(serde_json::to_vec(&e).unwrap()));
    }
    runs.sort_by(f64::total_cmp);
    // Baseline: read the same event rows with no work on them.
    let conn =
        rusqlite::Connection::open(dir.path().join(gridpatrol_server_storage_sqlite::DB_FILE))
            .unwrap();
    let t = Instant::now();
    let (rows, sum): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), SUM(at_ms % 1000) FROM case_events e JOIN case_index c ON c.id = e.case_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let scan_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "cases": n,
            "event_rows": rows,
            "checksum": sum,
            "load_seconds": load_s,
            "eval_seconds_median": runs[1],
            "eval_seconds_max": runs[2],
            "baseline_scan_seconds": scan_s,
            "ratio_eval_to_scan": runs[1] / scan_s,
            "units": units,
            "squads": squads,
            "evaluation_sha256": digest,
        })
    );
}
