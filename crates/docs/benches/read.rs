//! What the server and every phone pay per case document: loading it from
//! its bytes, reading it into plain values, the write gate's checks
//! (validate, parts changed, facts) and saving it. A case as the centre
//! leaves it: report, review and the nine steps of a closed case with one
//! failed re-verification.
//!
//! `cargo bench -p gridpatrol-docs --bench read`

use automerge::{ActorId, Automerge};
use criterion::{criterion_group, criterion_main, Criterion};
use gridpatrol_docs::{
    facts, parts_changed, validate, Bounds, CaseDoc, Report, Review, Source, StepDetail, Verdict,
};
use gridpatrol_domain::lifecycle::Action;

const T0: i64 = 1_700_000_000_000;

/// The case one step before closing (its saved bytes) and closed.
fn closed_case() -> (Vec<u8>, CaseDoc) {
    let report = Report {
        category: "02010101".into(),
        lon: 116.4432,
        lat: 39.9219,
        accuracy_m: 8.5,
        technical_grid: "110105001001003".into(),
        supervision_grid: "110105001001".into(),
        street: "110105001".into(),
        address: "朝外大街12号".into(),
        description: "上水井盖破损".into(),
        photos: vec!["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()],
        reporter: "I0002".into(),
        source: Source::Patrol,
        created_at_ms: T0,
    };
    let mut c = CaseDoc::create(ActorId::from([1; 16]), "case-1", &report).expect("create");
    c.set_review(&Review {
        reviewer: "I0001".into(),
        verdict: Verdict::Approved,
        note: "属实".into(),
        at_ms: T0 + 1,
        reason: None,
        duplicate_of: None,
    })
    .expect("review");
    let unit = StepDetail {
        unit: Some("朝阳区水务局".into()),
        due_at_ms: Some(T0 + 86_400_000),
        ..StepDetail::default()
    };
    let check = |n: u32| StepDetail {
        verification: Some(format!("case-1-v{n}")),
        ..StepDetail::default()
    };
    let steps = [
        (Action::File, StepDetail::default()),
        (Action::Dispatch, unit.clone()),
        (Action::ReportHandled, StepDetail::default()),
        (Action::RequestVerification, check(1)),
        (Action::VerifyFail, check(1)),
        (Action::Dispatch, unit),
        (Action::ReportHandled, StepDetail::default()),
        (Action::RequestVerification, check(2)),
        (Action::VerifyPass, check(2)),
    ];
    let mut before = Vec::new();
    for (i, (a, d)) in steps.iter().enumerate() {
        if i == steps.len() - 1 {
            before = c.doc().clone().save();
        }
        c.append_step_with(*a, "C0001", T0 + 10 + i as i64, "已处理", d)
            .expect("step");
    }
    (before, c)
}

fn bench(c: &mut Criterion) {
    let (before, case) = closed_case();
    let before = Automerge::load(&before).expect("load");
    let bytes = case.doc().clone().save();
    let bounds = Bounds::for_district([115.4, 39.4, 117.5, 41.1], 0.05, T0 + 3_600_000);
    let mut g = c.benchmark_group("case_doc");
    g.bench_function("load", |b| {
        b.iter(|| Automerge::load(std::hint::black_box(&bytes)).expect("load"))
    });
    g.bench_function("read", |b| b.iter(|| case.read().expect("read")));
    g.bench_function("validate", |b| {
        b.iter(|| validate(case.doc(), &bounds).expect("valid"))
    });
    g.bench_function("facts", |b| b.iter(|| facts(case.doc()).expect("facts")));
    g.bench_function("parts_changed", |b| {
        b.iter(|| parts_changed(&before, case.doc()).expect("parts"))
    });
    g.bench_function("save", |b| b.iter(|| case.doc().clone().save()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
