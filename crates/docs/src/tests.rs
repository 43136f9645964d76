//! Unit tests: building, reading, merging, classifying and authorizing.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ReadDoc, ROOT};
use gridpatrol_domain::lifecycle::{Action, CaseState};
use gridpatrol_domain::roles::Role;

use crate::*;

const GRID: &str = "110105001001";
const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

fn report(reporter: &str) -> Report {
    Report {
        category: "02010101".into(),
        lon: 116.4432,
        lat: 39.9219,
        accuracy_m: 8.5,
        technical_grid: format!("{GRID}003"),
        supervision_grid: GRID.into(),
        street: "110105001".into(),
        address: "朝外大街12号".into(),
        description: "上水井盖破损".into(),
        photos: vec![PHOTO.into()],
        reporter: reporter.into(),
        source: Source::Patrol,
        created_at_ms: 1_700_000_000_000,
    }
}

fn new_case() -> CaseDoc {
    CaseDoc::create(actor(1), "case-1", &report("I0002")).unwrap()
}

fn fork_as(doc: &Automerge, n: u8) -> Automerge {
    doc.fork().with_actor(actor(n))
}

fn task() -> Task {
    Task {
        assignee: "I0002".into(),
        kind: TaskKind::HandlingCheck,
        due_at_ms: 1_700_000_500_000,
        created_by: "C0001".into(),
    }
}

fn new_verification() -> VerificationDoc {
    VerificationDoc::create(actor(9), "ver-1", "case-1", &task()).unwrap()
}

fn inspector(id: &str) -> Principal {
    Principal {
        user_id: id.into(),
        role: Role::Inspector,
        squad: Some("S01".into()),
        supervision_grid: Some(GRID.into()),
    }
}

fn leader(squad: &str) -> Principal {
    Principal {
        user_id: "I0001".into(),
        role: Role::SquadLeader,
        squad: Some(squad.into()),
        supervision_grid: Some(GRID.into()),
    }
}

fn centre() -> Principal {
    Principal {
        user_id: "C0001".into(),
        role: Role::CentreOperator,
        squad: None,
        supervision_grid: None,
    }
}

fn admin() -> Principal {
    Principal {
        user_id: "A0001".into(),
        role: Role::Admin,
        squad: None,
        supervision_grid: None,
    }
}

fn set(parts: &[Part]) -> BTreeSet<Part> {
    parts.iter().copied().collect()
}

#[test]
fn case_round_trips_through_bytes() {
    let c = new_case();
    let back = CaseDoc::load(&c.save(), actor(2)).unwrap().read().unwrap();
    assert_eq!(back.id, "case-1");
    assert_eq!(back.report, report("I0002"));
    assert_eq!(back.review, None);
    assert_eq!(back.state, CaseState::Reported);
    assert!(back.steps.is_empty());
}

#[test]
fn edits_review_and_lifecycle_read_back() {
    let mut c = new_case();
    c.edit_report(&ReportEdit {
        description: Some("上水井盖破损，已围挡".into()),
        add_photos: vec![PHOTO.replace('9', "a")],
        location: Some((116.4433, 39.9218, 5.0)),
        ..Default::default()
    })
    .unwrap();
    c.set_review(&Review {
        reviewer: "I0001".into(),
        verdict: Verdict::Approved,
        note: "属实".into(),
        at_ms: 5,
    })
    .unwrap();
    assert_eq!(
        c.append_step(Action::File, "C0001", 6, "立案").unwrap(),
        CaseState::Filed
    );
    assert_eq!(
        c.append_step(Action::Dispatch, "C0001", 7, "").unwrap(),
        CaseState::Dispatched
    );
    let r = c.read().unwrap();
    assert_eq!(r.report.description, "上水井盖破损，已围挡");
    assert_eq!(r.report.photos.len(), 2);
    assert_eq!(r.report.lon, 116.4433);
    assert_eq!(r.review.unwrap().verdict, Verdict::Approved);
    assert_eq!(r.state, CaseState::Dispatched);
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[0].step, Action::File);
    assert_eq!(r.steps[0].note, "立案");
    assert_eq!(r.steps[1].by, "C0001");
}

#[test]
fn lifecycle_refuses_a_step_the_domain_does_not_allow() {
    let mut c = new_case();
    let err = c.append_step(Action::Evaluate, "C0001", 1, "").unwrap_err();
    assert!(matches!(err, DocError::Transition(_)), "{err}");
    assert!(c.read().unwrap().steps.is_empty(), "nothing written");
    // A hotline case follows the complaint flow.
    let mut r = report("I0002");
    r.source = Source::Hotline;
    let mut h = CaseDoc::create(actor(1), "case-h", &r).unwrap();
    assert_eq!(h.read().unwrap().state, CaseState::Accepted);
    assert!(h.append_step(Action::File, "C0001", 1, "").is_err());
    assert_eq!(
        h.append_step(Action::RequestVerification, "C0001", 1, "")
            .unwrap(),
        CaseState::SiteVerifying
    );
}

#[test]
fn invalid_input_is_refused_before_anything_is_written() {
    let mut r = report("I0002");
    r.lat = f64::NAN;
    assert!(matches!(
        CaseDoc::create(actor(1), "x", &r),
        Err(DocError::Invalid(_))
    ));
    let mut r = report("I0002");
    r.photos = vec!["not-a-hash".into()];
    assert!(CaseDoc::create(actor(1), "x", &r).is_err());
    let mut c = new_case();
    let heads = c.doc().get_heads();
    assert!(c
        .edit_report(&ReportEdit {
            location: Some((500.0, 0.0, 1.0)),
            ..Default::default()
        })
        .is_err());
    assert_eq!(c.doc().get_heads(), heads);
}

#[test]
fn wrong_kind_and_schema_are_refused() {
    let v = new_verification();
    assert!(matches!(
        CaseDoc::from_doc(v.doc().clone()),
        Err(DocError::WrongKind { .. })
    ));
    let mut d = new_case().into_doc();
    d.transact::<_, _, AutomergeError>(|tx| {
        tx.put(ROOT, "schema", 2u64)?;
        Ok(())
    })
    .unwrap();
    assert!(matches!(facts(&d), Err(DocError::Schema(2))));
    assert!(Automerge::load(b"garbage").is_err());
}

#[test]
fn verification_round_trips_and_takes_a_result() {
    let mut v = new_verification();
    assert_eq!(v.read().unwrap().result, None);
    let res = VerificationResult {
        outcome: Outcome::Fail,
        note: "井盖仍破损".into(),
        photos: vec![PHOTO.into()],
        lon: 116.44,
        lat: 39.92,
        at_ms: 9,
    };
    v.set_result(&res).unwrap();
    let back = VerificationDoc::load(&v.save(), actor(3))
        .unwrap()
        .read()
        .unwrap();
    assert_eq!(back.case_id, "case-1");
    assert_eq!(back.task, task());
    assert_eq!(back.result, Some(res));
}

#[test]
fn concurrent_report_correction_and_review_both_survive_a_merge() {
    let base = new_case();
    let mut dev = CaseDoc::from_doc(fork_as(base.doc(), 2)).unwrap();
    let mut lead = CaseDoc::from_doc(fork_as(base.doc(), 3)).unwrap();
    dev.edit_report(&ReportEdit {
        description: Some("上水井盖破损，有人跌倒".into()),
        ..Default::default()
    })
    .unwrap();
    lead.set_review(&Review {
        reviewer: "I0001".into(),
        verdict: Verdict::NeedsFix,
        note: "补充照片".into(),
        at_ms: 10,
    })
    .unwrap();
    let mut a = dev.doc().clone();
    let mut b = lead.doc().clone();
    a.merge(&mut lead.doc().clone()).unwrap();
    b.merge(&mut dev.doc().clone()).unwrap();
    assert_eq!(a.get_heads(), b.get_heads());
    let ra = CaseDoc::from_doc(a).unwrap().read().unwrap();
    let rb = CaseDoc::from_doc(b).unwrap().read().unwrap();
    assert_eq!(ra, rb);
    assert_eq!(ra.report.description, "上水井盖破损，有人跌倒");
    assert_eq!(ra.review.unwrap().verdict, Verdict::NeedsFix);
}

#[test]
fn concurrent_text_edits_of_two_devices_merge_characterwise() {
    let base = new_case();
    let mut d1 = CaseDoc::from_doc(fork_as(base.doc(), 2)).unwrap();
    let mut d2 = CaseDoc::from_doc(fork_as(base.doc(), 4)).unwrap();
    d1.edit_report(&ReportEdit {
        description: Some("东侧上水井盖破损".into()),
        ..Default::default()
    })
    .unwrap();
    d2.edit_report(&ReportEdit {
        description: Some("上水井盖破损严重".into()),
        ..Default::default()
    })
    .unwrap();
    let mut m = d1.doc().clone();
    m.merge(&mut d2.doc().clone()).unwrap();
    let r = CaseDoc::from_doc(m).unwrap().read().unwrap();
    assert_eq!(r.report.description, "东侧上水井盖破损严重");
}

fn classify_edit(base: &CaseDoc, n: u8, edit: impl FnOnce(&mut CaseDoc)) -> BTreeSet<Part> {
    let mut d = CaseDoc::from_doc(fork_as(base.doc(), n)).unwrap();
    edit(&mut d);
    parts_changed(base.doc(), d.doc()).unwrap()
}

#[test]
fn each_typed_edit_is_classified_as_its_part() {
    let base = new_case();
    let r = classify_edit(&base, 2, |d| {
        d.edit_report(&ReportEdit {
            address: Some("朝外大街14号".into()),
            ..Default::default()
        })
        .unwrap()
    });
    assert_eq!(r, set(&[Part::Report]));
    let r = classify_edit(&base, 3, |d| {
        d.set_review(&Review {
            reviewer: "I0001".into(),
            verdict: Verdict::Rejected,
            note: String::new(),
            at_ms: 1,
        })
        .unwrap()
    });
    assert_eq!(r, set(&[Part::Review]));
    let r = classify_edit(&base, 4, |d| {
        d.append_step(Action::File, "C0001", 1, "").unwrap();
    });
    assert_eq!(r, set(&[Part::Lifecycle]));
    let r = classify_edit(&base, 4, |_| {});
    assert!(r.is_empty(), "no change, no parts");

    let v = new_verification();
    let mut d = VerificationDoc::from_doc(fork_as(v.doc(), 5)).unwrap();
    d.set_result(&VerificationResult {
        outcome: Outcome::Pass,
        note: String::new(),
        photos: vec![],
        lon: 116.0,
        lat: 39.9,
        at_ms: 3,
    })
    .unwrap();
    assert_eq!(
        parts_changed(v.doc(), d.doc()).unwrap(),
        set(&[Part::Result])
    );
}

#[test]
fn creation_touches_only_header_and_the_creators_part() {
    let c = new_case();
    assert_eq!(
        parts_changed(&Automerge::new(), c.doc()).unwrap(),
        set(&[Part::Meta, Part::Report])
    );
    let v = new_verification();
    assert_eq!(
        parts_changed(&Automerge::new(), v.doc()).unwrap(),
        set(&[Part::Meta, Part::Task])
    );
}

#[test]
fn raw_writes_are_classified_by_their_root_key() {
    let base = new_case();
    let raw = |n: u8, f: &dyn Fn(&mut automerge::transaction::Transaction<'_>)| {
        let mut d = fork_as(base.doc(), n);
        let mut tx = d.transaction();
        f(&mut tx);
        tx.commit();
        parts_changed(base.doc(), &d).unwrap()
    };
    assert_eq!(
        raw(5, &|tx| {
            tx.put(ROOT, "id", "case-2").unwrap();
        }),
        set(&[Part::Meta])
    );
    assert_eq!(
        raw(5, &|tx| {
            tx.put(ROOT, "extra", 1).unwrap();
        }),
        set(&[Part::Meta])
    );
    assert_eq!(
        raw(5, &|tx| {
            tx.delete(ROOT, "review").unwrap();
        }),
        set(&[Part::Review])
    );
    assert_eq!(
        raw(5, &|tx| {
            // A nested write deep inside the lifecycle.
            let l = tx.get(ROOT, "lifecycle").unwrap().unwrap().1;
            let steps = tx.get(&l, "steps").unwrap().unwrap().1;
            let s = tx.insert_object(&steps, 0, ObjType::Map).unwrap();
            tx.put(&s, "step", "file").unwrap();
        }),
        set(&[Part::Lifecycle])
    );
    assert_eq!(
        raw(5, &|tx| {
            // Replacing the whole review container after creation is a review change.
            tx.put_object(ROOT, "review", ObjType::Map).unwrap();
        }),
        set(&[Part::Review])
    );
}

#[test]
fn a_hidden_conflicting_write_is_still_classified() {
    // The forger writes the reporter's description concurrently with the
    // reporter; whichever wins, the forged op is attributed to the report.
    let base = new_case();
    let mut owner = fork_as(base.doc(), 2);
    let mut forger = fork_as(base.doc(), 1); // lower actor: loses the conflict
    for (d, v) in [(&mut owner, "A"), (&mut forger, "B")] {
        let r = d.get(ROOT, "report").unwrap().unwrap().1;
        let mut tx = d.transaction();
        tx.put(&r, "category", v).unwrap();
        tx.commit();
    }
    let mut server = base.doc().clone();
    server.merge(&mut owner.clone()).unwrap();
    let mut after = server.clone();
    after.merge(&mut forger).unwrap();
    assert_eq!(
        parts_changed(&server, &after).unwrap(),
        set(&[Part::Report])
    );
}

#[test]
fn before_must_be_an_ancestor() {
    let a = new_case();
    let b = CaseDoc::create(actor(7), "case-9", &report("I0002")).unwrap();
    assert!(matches!(
        parts_changed(a.doc(), b.doc()),
        Err(DocError::NotDescendant)
    ));
}

#[test]
fn facts_read_the_owner_fields() {
    let f = facts(new_case().doc()).unwrap();
    assert_eq!(f.kind, DocKind::Case);
    assert_eq!(f.reporter.as_deref(), Some("I0002"));
    assert_eq!(f.supervision_grid.as_deref(), Some(GRID));
    assert_eq!(f.assignee, None);
    let f = facts(new_verification().doc()).unwrap();
    assert_eq!(f.kind, DocKind::Verification);
    assert_eq!(f.assignee.as_deref(), Some("I0002"));
    assert_eq!(f.case_id.as_deref(), Some("case-1"));
    assert!(facts(&Automerge::new()).is_err());
}

/// Who may change which part of an existing case/verification:
/// (principal, part, allowed). Reporter I0002 in squad S01, assignee I0002.
#[test]
fn each_role_and_part_is_allowed_or_refused() {
    let case = facts(new_case().doc()).unwrap();
    let ver = facts(new_verification().doc()).unwrap();
    let cases: Vec<(Principal, Part, bool)> = vec![
        (inspector("I0002"), Part::Report, true),
        (inspector("I0003"), Part::Report, false),
        (leader("S01"), Part::Report, false),
        (centre(), Part::Report, false),
        (admin(), Part::Report, false),
        (inspector("I0002"), Part::Review, false),
        (leader("S01"), Part::Review, true),
        (leader("S02"), Part::Review, false),
        (centre(), Part::Review, false),
        (admin(), Part::Review, false),
        (inspector("I0002"), Part::Lifecycle, false),
        (leader("S01"), Part::Lifecycle, false),
        (centre(), Part::Lifecycle, true),
        (admin(), Part::Lifecycle, false),
        (inspector("I0002"), Part::Meta, false),
        (leader("S01"), Part::Meta, false),
        (centre(), Part::Meta, false),
        (admin(), Part::Meta, false),
        (inspector("I0002"), Part::Task, false),
        (leader("S01"), Part::Task, false),
        (centre(), Part::Task, true),
        (admin(), Part::Task, false),
        (inspector("I0002"), Part::Result, true),
        (inspector("I0003"), Part::Result, false),
        (leader("S01"), Part::Result, false),
        (centre(), Part::Result, false),
        (admin(), Part::Result, false),
    ];
    for (p, part, want) in cases {
        let f = if matches!(part, Part::Task | Part::Result) {
            &ver
        } else {
            &case
        };
        let got = authorize(&p, Some(f), f, &set(&[part]), Some("S01"));
        assert_eq!(
            got.is_ok(),
            want,
            "{} {:?} {:?}: {got:?}",
            p.user_id,
            p.role,
            part
        );
        if let Err(r) = got {
            assert!(["not_owner", "immutable_field"].contains(&r.code));
            assert!(
                r.reason.contains(part.as_str()) || part == Part::Meta,
                "{}",
                r.reason
            );
        }
    }
    // Nothing changed: always fine.
    assert!(authorize(&admin(), Some(&case), &case, &BTreeSet::new(), None).is_ok());
}

#[test]
fn forged_change_to_another_inspectors_report_is_refused() {
    let base = new_case(); // reported by I0002
    let mut forged = CaseDoc::from_doc(fork_as(base.doc(), 66)).unwrap();
    forged
        .edit_report(&ReportEdit {
            description: Some("误报".into()),
            ..Default::default()
        })
        .unwrap();
    let parts = parts_changed(base.doc(), forged.doc()).unwrap();
    assert_eq!(parts, set(&[Part::Report]));
    let ex = facts(base.doc()).unwrap();
    let inc = facts(forged.doc()).unwrap();
    let r = authorize(&inspector("I0003"), Some(&ex), &inc, &parts, Some("S01")).unwrap_err();
    assert_eq!(r.code, "not_owner");
    assert!(r.reason.contains("I0002"), "{}", r.reason);
    assert!(authorize(&inspector("I0002"), Some(&ex), &inc, &parts, Some("S01")).is_ok());
}

#[test]
fn reporter_and_grid_cannot_be_rewritten_even_by_the_reporter() {
    let base = new_case();
    let mut d = fork_as(base.doc(), 2);
    let r = d.get(ROOT, "report").unwrap().unwrap().1;
    let mut tx = d.transaction();
    tx.put(&r, "reporter", "I0003").unwrap();
    tx.commit();
    let parts = parts_changed(base.doc(), &d).unwrap();
    let got = authorize(
        &inspector("I0002"),
        Some(&facts(base.doc()).unwrap()),
        &facts(&d).unwrap(),
        &parts,
        Some("S01"),
    );
    assert_eq!(got.unwrap_err().code, "immutable_field");
}

#[test]
fn creation_rules() {
    let c = new_case();
    let parts = parts_changed(&Automerge::new(), c.doc()).unwrap();
    let f = facts(c.doc()).unwrap();
    assert!(authorize(&inspector("I0002"), None, &f, &parts, Some("S01")).is_ok());
    // Someone else cannot create a case in I0002's name.
    assert_eq!(
        authorize(&inspector("I0003"), None, &f, &parts, Some("S01"))
            .unwrap_err()
            .code,
        "not_reporter"
    );
    // An inspector reporting outside their own grid.
    let mut other = inspector("I0002");
    other.supervision_grid = Some("110105002001".into());
    assert_eq!(
        authorize(&other, None, &f, &parts, Some("S01"))
            .unwrap_err()
            .code,
        "outside_scope"
    );
    assert_eq!(
        authorize(&centre(), None, &f, &parts, None)
            .unwrap_err()
            .code,
        "unexpected_document"
    );
    // A new case arriving with a review already written is refused.
    let mut pre = new_case();
    pre.set_review(&Review {
        reviewer: "I0002".into(),
        verdict: Verdict::Approved,
        note: String::new(),
        at_ms: 0,
    })
    .unwrap();
    let parts = parts_changed(&Automerge::new(), pre.doc()).unwrap();
    assert!(parts.contains(&Part::Review));
    assert_eq!(
        authorize(&inspector("I0002"), None, &f, &parts, Some("S01"))
            .unwrap_err()
            .code,
        "not_owner"
    );
    // A leader reporting as themselves in their squad.
    let lc = CaseDoc::create(actor(8), "case-l", &report("I0001")).unwrap();
    let lf = facts(lc.doc()).unwrap();
    let lp = parts_changed(&Automerge::new(), lc.doc()).unwrap();
    assert!(authorize(&leader("S01"), None, &lf, &lp, Some("S01")).is_ok());

    // Verifications: only the centre creates them.
    let v = new_verification();
    let vp = parts_changed(&Automerge::new(), v.doc()).unwrap();
    let vf = facts(v.doc()).unwrap();
    assert!(authorize(&centre(), None, &vf, &vp, None).is_ok());
    for p in [inspector("I0002"), leader("S01"), admin()] {
        assert_eq!(
            authorize(&p, None, &vf, &vp, None).unwrap_err().code,
            "unexpected_document"
        );
    }
}

#[test]
fn photo_refs_reads_report_and_result_photos() {
    assert_eq!(photo_refs(new_case().doc()), vec![PHOTO.to_string()]);
    let mut v = new_verification();
    assert!(photo_refs(v.doc()).is_empty());
    v.set_result(&VerificationResult {
        outcome: Outcome::Pass,
        note: String::new(),
        photos: vec![PHOTO.replace('9', "b")],
        lon: 116.0,
        lat: 39.9,
        at_ms: 1,
    })
    .unwrap();
    assert_eq!(photo_refs(v.doc()), vec![PHOTO.replace('9', "b")]);
    assert!(photo_refs(&Automerge::new()).is_empty());
}
