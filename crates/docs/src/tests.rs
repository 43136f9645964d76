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
        reason: None,
        duplicate_of: None,
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
        reason: None,
        duplicate_of: None,
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
            reason: None,
            duplicate_of: None,
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
        let got = authorize(&p, Some(f), f, &set(&[part]), &sq("S01"));
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
    assert!(authorize(
        &admin(),
        Some(&case),
        &case,
        &BTreeSet::new(),
        &Squads::default()
    )
    .is_ok());
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
    let r = authorize(&inspector("I0003"), Some(&ex), &inc, &parts, &sq("S01")).unwrap_err();
    assert_eq!(r.code, "not_owner");
    assert!(r.reason.contains("I0002"), "{}", r.reason);
    assert!(authorize(&inspector("I0002"), Some(&ex), &inc, &parts, &sq("S01")).is_ok());
}

/// The reporter I0002 rewrites `report.<key>` of their own case: the code
/// of the refusal, if any.
fn reporter_rewrites(key: &str, value: &str) -> Option<&'static str> {
    let base = new_case();
    let mut d = fork_as(base.doc(), 2);
    let r = d.get(ROOT, "report").unwrap().unwrap().1;
    let mut tx = d.transaction();
    tx.put(&r, key, value).unwrap();
    tx.commit();
    let parts = parts_changed(base.doc(), &d).unwrap();
    authorize(
        &inspector("I0002"),
        Some(&facts(base.doc()).unwrap()),
        &facts(&d).unwrap(),
        &parts,
        &sq("S01"),
    )
    .err()
    .map(|e| e.code)
}

#[test]
fn reporter_and_grid_cannot_be_rewritten_even_by_the_reporter() {
    assert_eq!(
        reporter_rewrites("reporter", "I0003"),
        Some("immutable_field")
    );
}

#[test]
fn creation_rules() {
    let c = new_case();
    let parts = parts_changed(&Automerge::new(), c.doc()).unwrap();
    let f = facts(c.doc()).unwrap();
    assert!(authorize(&inspector("I0002"), None, &f, &parts, &sq("S01")).is_ok());
    // Someone else cannot create a case in I0002's name.
    assert_eq!(
        authorize(&inspector("I0003"), None, &f, &parts, &sq("S01"))
            .unwrap_err()
            .code,
        "not_reporter"
    );
    // An inspector reporting outside their own grid.
    let mut other = inspector("I0002");
    other.supervision_grid = Some("110105002001".into());
    assert_eq!(
        authorize(&other, None, &f, &parts, &sq("S01"))
            .unwrap_err()
            .code,
        "outside_scope"
    );
    assert_eq!(
        authorize(&centre(), None, &f, &parts, &Squads::default())
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
        reason: None,
        duplicate_of: None,
    })
    .unwrap();
    let parts = parts_changed(&Automerge::new(), pre.doc()).unwrap();
    assert!(parts.contains(&Part::Review));
    assert_eq!(
        authorize(&inspector("I0002"), None, &f, &parts, &sq("S01"))
            .unwrap_err()
            .code,
        "not_owner"
    );
    // A leader reporting as themselves in their squad.
    let lc = CaseDoc::create(actor(8), "case-l", &report("I0001")).unwrap();
    let lf = facts(lc.doc()).unwrap();
    let lp = parts_changed(&Automerge::new(), lc.doc()).unwrap();
    assert!(authorize(&leader("S01"), None, &lf, &lp, &sq("S01")).is_ok());

    // Verifications: only the centre creates them.
    let v = new_verification();
    let vp = parts_changed(&Automerge::new(), v.doc()).unwrap();
    let vf = facts(v.doc()).unwrap();
    assert!(authorize(&centre(), None, &vf, &vp, &Squads::default()).is_ok());
    for p in [inspector("I0002"), leader("S01"), admin()] {
        assert_eq!(
            authorize(&p, None, &vf, &vp, &Squads::default())
                .unwrap_err()
                .code,
            "unexpected_document"
        );
    }
}

#[test]
fn the_centre_enters_public_complaints_and_only_those() {
    let mut r = report("C0001");
    r.source = Source::Hotline;
    let c = CaseDoc::create(actor(9), "case-h", &r).unwrap();
    let parts = parts_changed(&Automerge::new(), c.doc()).unwrap();
    let f = facts(c.doc()).unwrap();
    assert!(authorize(&centre(), None, &f, &parts, &Squads::default()).is_ok());
    // Not in another operator's name, and never by an inspector.
    let mut other = centre();
    other.user_id = "C0002".into();
    assert_eq!(
        authorize(&other, None, &f, &parts, &Squads::default())
            .unwrap_err()
            .code,
        "not_reporter"
    );
    let mut r = report("I0002");
    r.source = Source::Hotline;
    let c = CaseDoc::create(actor(9), "case-h2", &r).unwrap();
    let parts = parts_changed(&Automerge::new(), c.doc()).unwrap();
    let f = facts(c.doc()).unwrap();
    let err = authorize(&inspector("I0002"), None, &f, &parts, &sq("S01")).unwrap_err();
    assert_eq!(err.code, "unexpected_document");
    assert!(err.reason.contains("public complaints"), "{}", err.reason);
}

#[test]
fn a_reports_source_never_changes() {
    assert_eq!(
        reporter_rewrites("source", "hotline"),
        Some("immutable_field")
    );
    assert_eq!(reporter_rewrites("address", "改了地址"), None);
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

fn sq(squad: &str) -> Squads<'_> {
    Squads {
        reporter: Some(squad),
        grid: Some(squad),
    }
}

// ---- One schema: what the server stores, every device can read ----

const NOW: i64 = 1_700_000_100_000;

fn bounds() -> Bounds {
    // Chaoyang's bounding box, roughly; the server takes it from the outline.
    Bounds::for_district([116.33, 39.80, 116.65, 40.11], 0.01, NOW)
}

/// `new_case()` with one more change by its reporter, made by `f` on the report map.
fn tampered(
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId),
) -> Automerge {
    let mut d = fork_as(new_case().doc(), 1);
    let r = d.get(ROOT, "report").unwrap().unwrap().1;
    let mut tx = d.transaction();
    f(&mut tx, &r);
    tx.commit();
    d
}

#[test]
fn honest_documents_pass_the_shared_check() {
    assert!(matches!(
        validate(new_case().doc(), &bounds()),
        Ok(Valid::Case(_))
    ));
    let mut v = new_verification();
    assert!(matches!(
        validate(v.doc(), &bounds()),
        Ok(Valid::Verification(_))
    ));
    v.set_result(&VerificationResult {
        outcome: Outcome::Pass,
        note: "已修复".into(),
        photos: vec![PHOTO.into()],
        lon: 116.44,
        lat: 39.92,
        at_ms: NOW,
    })
    .unwrap();
    validate(v.doc(), &bounds()).unwrap();
    let c = new_case();
    check_size(c.doc(), c.save().len()).unwrap();
}

#[test]
fn documents_the_device_reader_refuses_fail_the_shared_check() {
    use automerge::ScalarValue;
    let bad: Vec<(&str, Automerge)> = vec![
        (
            "lon as a string",
            tampered(|tx, r| {
                tx.put(r, "lon", "116.4").unwrap();
            }),
        ),
        (
            "bogus source",
            tampered(|tx, r| {
                tx.put(r, "source", "satellite").unwrap();
            }),
        ),
        (
            "no created_at_ms",
            tampered(|tx, r| {
                tx.delete(r, "created_at_ms").unwrap();
            }),
        ),
        (
            "lon = 1e308",
            tampered(|tx, r| {
                tx.put(r, "lon", 1e308).unwrap();
            }),
        ),
        (
            "lon = NaN",
            tampered(|tx, r| {
                tx.put(r, "lon", f64::NAN).unwrap();
            }),
        ),
        (
            "outside the district",
            tampered(|tx, r| {
                tx.put(r, "lat", 31.2).unwrap();
            }),
        ),
        (
            "negative accuracy",
            tampered(|tx, r| {
                tx.put(r, "accuracy_m", -1.0).unwrap();
            }),
        ),
        (
            "unknown category",
            tampered(|tx, r| {
                tx.put(r, "category", "99999999").unwrap();
            }),
        ),
        (
            "module as category",
            tampered(|tx, r| {
                tx.put(r, "category", "02").unwrap();
            }),
        ),
        (
            "time in 1970",
            tampered(|tx, r| {
                tx.put(r, "created_at_ms", 5).unwrap();
            }),
        ),
        (
            "time next year",
            tampered(|tx, r| {
                tx.put(r, "created_at_ms", NOW + 400 * 86_400_000).unwrap();
            }),
        ),
        (
            "grid not in its street",
            tampered(|tx, r| {
                tx.put(r, "street", "110105002").unwrap();
            }),
        ),
        (
            "short grid code",
            tampered(|tx, r| {
                tx.put(r, "technical_grid", "110105").unwrap();
            }),
        ),
        (
            "unknown report field",
            tampered(|tx, r| {
                tx.put(r, "priority", "urgent").unwrap();
            }),
        ),
        (
            "huge description",
            tampered(|tx, r| {
                tx.put(r, "description", "啊".repeat(2001)).unwrap();
            }),
        ),
        (
            "huge reporter id",
            tampered(|tx, r| {
                tx.put(r, "reporter", "I".repeat(200)).unwrap();
            }),
        ),
        (
            "photo not a hash",
            tampered(|tx, r| {
                let l = tx.put_object(r, "photos", ObjType::List).unwrap();
                tx.insert(&l, 0, "../../etc/passwd").unwrap();
            }),
        ),
        (
            "photo list with a number",
            tampered(|tx, r| {
                let l = tx.put_object(r, "photos", ObjType::List).unwrap();
                tx.insert(&l, 0, PHOTO).unwrap();
                tx.insert(&l, 1, ScalarValue::Int(7)).unwrap();
            }),
        ),
        (
            "21 photos",
            tampered(|tx, r| {
                let l = tx.put_object(r, "photos", ObjType::List).unwrap();
                for i in 0..21 {
                    tx.insert(&l, i, PHOTO).unwrap();
                }
            }),
        ),
    ];
    for (what, d) in bad {
        assert!(validate(&d, &bounds()).is_err(), "{what} passed");
    }
    // Root and other parts.
    let mut d = fork_as(new_case().doc(), 1);
    d.transact::<_, _, AutomergeError>(|tx| {
        tx.put(ROOT, "extra", "x")?;
        Ok(())
    })
    .unwrap();
    assert!(validate(&d, &bounds()).is_err(), "unknown root key");
    let mut d = fork_as(new_case().doc(), 1);
    let rv = d.get(ROOT, "review").unwrap().unwrap().1;
    d.transact::<_, _, AutomergeError>(|tx| {
        tx.put(&rv, "reviewer", "I0001")?;
        tx.put(&rv, "verdict", "maybe")?;
        Ok(())
    })
    .unwrap();
    assert!(validate(&d, &bounds()).is_err(), "unknown verdict");
    let mut d = fork_as(new_case().doc(), 1);
    let lc = d.get(ROOT, "lifecycle").unwrap().unwrap().1;
    d.transact::<_, _, AutomergeError>(|tx| {
        tx.put(&lc, "state", "teleported")?;
        Ok(())
    })
    .unwrap();
    assert!(validate(&d, &bounds()).is_err(), "unknown state");
    let mut v = new_verification();
    v.set_result(&VerificationResult {
        outcome: Outcome::Pass,
        note: String::new(),
        photos: vec![],
        lon: 0.0,
        lat: 0.0,
        at_ms: NOW,
    })
    .unwrap();
    assert!(validate(v.doc(), &bounds()).is_err(), "result at (0, 0)");
}

#[test]
fn a_reporter_writes_only_the_report_at_creation() {
    // Same change that creates the case also sets its lifecycle state, as
    // a scalar or as a text object (which the reader also reads as a string).
    for as_text in [false, true] {
        let c = new_case();
        let mut d = c.doc().clone();
        let lc = d.get(ROOT, "lifecycle").unwrap().unwrap().1;
        d.transact::<_, _, AutomergeError>(|tx| {
            if as_text {
                let t = tx.put_object(&lc, "state", ObjType::Text)?;
                tx.splice_text(&t, 0, 0, "closed")?;
            } else {
                tx.put(&lc, "state", "closed")?;
            }
            Ok(())
        })
        .unwrap();
        let parts = parts_changed(&Automerge::new(), &d).unwrap();
        let f = facts(&d).unwrap();
        let got = authorize(&inspector("I0002"), None, &f, &parts, &sq("S01"));
        assert_eq!(got.unwrap_err().code, "not_owner", "as text: {as_text}");
    }
}

#[test]
fn a_leader_reports_only_in_their_own_squads_grids() {
    let lc = CaseDoc::create(actor(8), "case-l", &report("I0001")).unwrap();
    let lf = facts(lc.doc()).unwrap();
    let lp = parts_changed(&Automerge::new(), lc.doc()).unwrap();
    // The leader's own squad is S01; the grid belongs to S02.
    let other_grid = Squads {
        reporter: Some("S01"),
        grid: Some("S02"),
    };
    let got = authorize(&leader("S01"), None, &lf, &lp, &other_grid);
    assert_eq!(got.unwrap_err().code, "outside_scope");
    let unknown_grid = Squads {
        reporter: Some("S01"),
        grid: None,
    };
    assert!(authorize(&leader("S01"), None, &lf, &lp, &unknown_grid).is_err());
}

// ---- Sync message guard ----

use automerge::sync::{Message, State as SyncState, SyncDoc};

/// A sync state that makes Automerge speak V1 (plain change chunks), as
/// the device engine does.
fn v1(mut s: SyncState) -> SyncState {
    guard::speak_v1(&mut s);
    s
}

fn honest_message() -> Vec<u8> {
    let mut c = new_case();
    let mut s = SyncState::new();
    // First message: heads and a summary; a reply from an empty peer asks for all.
    let first = c.doc().generate_sync_message(&mut s).unwrap();
    let mut peer = Automerge::new();
    let mut ps = SyncState::new();
    peer.receive_sync_message(&mut ps, first).unwrap();
    let reply = peer.generate_sync_message(&mut ps).unwrap();
    c.doc_mut().receive_sync_message(&mut s, reply).unwrap();
    let mut s = v1(s);
    c.doc().generate_sync_message(&mut s).unwrap().encode()
}

/// A V1 message around raw change chunks.
fn message_with(changes: Vec<Vec<u8>>, have_bloom: Option<Vec<u8>>) -> Vec<u8> {
    fn uleb(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    let mut m = vec![0x42, 0, 0];
    match have_bloom {
        Some(b) => {
            m.push(1); // one have
            m.push(0); // no last_sync hashes
            uleb(&mut m, b.len() as u64);
            m.extend(b);
        }
        None => m.push(0),
    }
    uleb(&mut m, changes.len() as u64);
    for c in changes {
        uleb(&mut m, c.len() as u64);
        m.extend(c);
    }
    m
}

#[test]
fn guard_passes_what_automerge_sends() {
    let bytes = honest_message();
    let m = guard::check_sync_message(&bytes).unwrap();
    assert!(!m.message.changes.is_empty());
    assert!(m.ops > 10, "{} ops", m.ops);
    // A message with a real Bloom summary of many changes.
    let mut c = new_case();
    for i in 0..50 {
        c.edit_report(&ReportEdit {
            description: Some(format!("第{i}次修改")),
            ..Default::default()
        })
        .unwrap();
    }
    let mut s = v1(SyncState::new());
    s.shared_heads = new_case().doc().get_heads();
    let m = c.doc().generate_sync_message(&mut s).unwrap();
    guard::check_sync_message(&m.encode()).unwrap();
}

#[test]
fn guard_refuses_crafted_summaries() {
    // entries, bits per entry, probes (+ bits, which Automerge sizes itself).
    for (entries, bits, probes) in [(1u8, 0u8, 7u8), (10, 10, 0), (1, 1, 200), (1, 200, 1)] {
        let mut b = vec![entries, bits, probes];
        b.extend(vec![0u8; (entries as usize * bits as usize).div_ceil(8)]);
        let msg = message_with(vec![], Some(b));
        assert!(
            guard::check_sync_message(&msg).is_err(),
            "{entries}/{bits}/{probes} passed"
        );
    }
    // 2^28 probes in five bytes: Automerge would allocate 1 GiB of probes.
    let msg = message_with(
        vec![],
        Some(vec![1, 10, 0x80, 0x80, 0x80, 0x80, 0x01, 0xff, 0xff]),
    );
    assert!(guard::check_sync_message(&msg).is_err());
}

#[test]
fn guard_refuses_anything_but_plain_changes() {
    let c = new_case();
    // A whole saved document (chunk type 0) and a compressed change (type 2).
    let doc = c.save();
    assert!(guard::check_sync_message(&message_with(vec![doc.clone()], None)).is_err());
    let change = c.doc().get_changes(&[])[0].raw_bytes().to_vec();
    let mut compressed = change.clone();
    compressed[8] = 2;
    assert!(guard::check_sync_message(&message_with(vec![compressed], None)).is_err());
    // The plain change passes, alone or glued to others (as V2 sends them),
    // but not followed by a document.
    guard::check_sync_message(&message_with(vec![change.clone()], None)).unwrap();
    let mut glued = change.clone();
    glued.extend(&change);
    guard::check_sync_message(&message_with(vec![glued.clone()], None)).unwrap();
    glued.extend(&doc);
    assert!(guard::check_sync_message(&message_with(vec![glued], None)).is_err());
    // Garbage and truncation.
    assert!(guard::check_sync_message(&message_with(vec![change[..20].to_vec()], None)).is_err());
    assert!(guard::check_sync_message(&[0x42, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
}

#[test]
fn guard_refuses_run_length_operation_bombs() {
    // One change that declares a billion operations in its action column.
    let mut body = vec![0u8]; // no deps
    body.push(16);
    body.extend([7u8; 16]); // actor
    body.extend([1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
    body.push(1); // one column
    body.push(0x42); // action column, uint RLE
    let mut col = Vec::new();
    let mut v: i64 = 1_000_000_000;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 && b & 0x40 == 0 {
            col.push(b);
            break;
        }
        col.push(b | 0x80);
    }
    col.push(1); // the repeated action
    body.push(col.len() as u8);
    body.extend(col);
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, body.len() as u8];
    chunk.extend(body);
    let err = guard::check_sync_message(&message_with(vec![chunk], None)).unwrap_err();
    assert!(err.0.contains("1000000000"), "{err}");

    // A real change of 30,000 list inserts: a few bytes on the wire.
    let mut d = fork_as(new_case().doc(), 1);
    let r = d.get(ROOT, "report").unwrap().unwrap().1;
    let l = d.get(&r, "photos").unwrap().unwrap().1;
    let mut tx = d.transaction();
    tx.splice(&l, 0, 0, (0..30_000).map(|_| automerge::ScalarValue::Null))
        .unwrap();
    tx.commit();
    let change = d.get_last_local_change().unwrap().raw_bytes().to_vec();
    assert!(change.len() < 1024, "{} bytes", change.len());
    assert!(guard::check_sync_message(&message_with(vec![change], None)).is_err());
}

#[test]
fn documents_over_the_size_limits_are_refused() {
    let mut c = new_case();
    for i in 0..(limits::MAX_DOC_CHANGES + 1) {
        c.edit_report(&ReportEdit {
            address: Some(format!("{i}")),
            ..Default::default()
        })
        .unwrap();
    }
    let err = check_size(c.doc(), c.save().len()).unwrap_err();
    assert!(matches!(err, DocError::TooLarge(_)), "{err}");
    let _ = Message::decode(&honest_message()).unwrap();
}

#[test]
fn every_character_ever_typed_counts_towards_the_operation_limit() {
    let mut c = new_case();
    // Each rewrite replaces the whole description: the deleted characters
    // stay in the history, so a few rewrites are fine and many are not.
    let rewrite = |c: &mut CaseDoc, i: usize| {
        let ch = if i.is_multiple_of(2) { "甲" } else { "乙" };
        c.edit_report(&ReportEdit {
            description: Some(ch.repeat(limits::MAX_TEXT_CHARS)),
            ..Default::default()
        })
        .unwrap();
    };
    rewrite(&mut c, 0);
    check_size(c.doc(), c.save().len()).unwrap();
    for i in 1..(limits::MAX_DOC_OPS / limits::MAX_TEXT_CHARS + 1) {
        rewrite(&mut c, i);
    }
    let err = check_size(c.doc(), c.save().len()).unwrap_err();
    assert!(
        matches!(&err, DocError::TooLarge(m) if m.contains("operations")),
        "{err}"
    );
}

/// A plain change chunk with these (spec, data) op columns.
fn change_chunk(cols: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0u8, 16];
    body.extend([7u8; 16]); // actor
    body.extend([1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
    body.push(cols.len() as u8);
    for (spec, data) in cols {
        body.push(*spec);
        body.push(data.len() as u8);
    }
    for (_, data) in cols {
        body.extend(data);
    }
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, body.len() as u8];
    chunk.extend(body);
    chunk
}

fn leb(mut v: u64, signed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = if signed {
            v == 0 && b & 0x40 == 0
        } else {
            v == 0
        };
        if done {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

#[test]
fn guard_bounds_every_column_not_only_the_action_column() {
    let n = 16_000_000u64;
    // One operation whose pred group declares sixteen million entries.
    let mut pred_group = vec![1];
    pred_group.extend(leb(n, false));
    let mut pred_actor = leb(n, true);
    pred_actor.push(0);
    let mut pred_ctr = leb(n, true);
    pred_ctr.push(1);
    let bomb = change_chunk(&[
        (0x15, vec![1, 1, b'a']),
        (0x34, vec![1]),
        (0x42, vec![1, 1]),
        (0x56, vec![1, 0]),
        (0x70, pred_group),
        (0x71, pred_actor),
        (0x73, pred_ctr.clone()),
    ]);
    let err = guard::check_sync_message(&message_with(vec![bomb], None)).unwrap_err();
    assert!(err.0.contains("column"), "{err}");
    // A long run in a boolean or string column is refused the same way.
    let mut bools = Vec::new();
    bools.extend(leb(0, false));
    bools.extend(leb(n, false));
    for col in [(0x34u8, bools), (0x73, pred_ctr)] {
        let chunk = change_chunk(&[(0x42, vec![1, 1]), col]);
        assert!(guard::check_sync_message(&message_with(vec![chunk], None)).is_err());
    }
    // The same shape with honest lengths passes.
    let ok = change_chunk(&[
        (0x15, vec![1, 1, b'a']),
        (0x34, vec![1]),
        (0x42, vec![1, 1]),
        (0x56, vec![1, 0]),
        (0x70, vec![1, 1]),
        (0x71, vec![1, 0]),
        (0x73, vec![1, 1]),
    ]);
    assert_eq!(
        guard::check_sync_message(&message_with(vec![ok], None))
            .unwrap()
            .ops,
        1
    );
}

const AFTER: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

/// `new_case()` filed and dispatched by the centre at plausible times.
fn dispatched_case() -> CaseDoc {
    let mut c = new_case();
    c.append_step(Action::File, "C0001", NOW, "").unwrap();
    c.append_step(Action::Dispatch, "C0001", NOW, "").unwrap();
    c
}

fn with_photos(photos: &[&str]) -> StepDetail {
    StepDetail {
        photos: photos.iter().map(|p| p.to_string()).collect(),
        ..StepDetail::default()
    }
}

#[test]
fn the_units_feedback_carries_photos_that_read_back_and_validate() {
    let mut c = dispatched_case();
    c.append_step_with(
        Action::ReportHandled,
        "C0001",
        NOW,
        "已修复",
        &with_photos(&[AFTER, PHOTO]),
    )
    .unwrap();
    let r = c.read().unwrap();
    assert_eq!(r.state, CaseState::Handled);
    assert_eq!(r.steps[2].detail.photos, vec![AFTER, PHOTO]);
    assert!(r.steps[1].detail.photos.is_empty());
    validate(c.doc(), &bounds()).unwrap();
    // Every photo the case refers to, the report's first.
    assert_eq!(photo_refs(c.doc()), vec![PHOTO, AFTER, PHOTO]);
    // The JSON form names them only where there are some.
    let json = serde_json::to_value(&r.steps[2]).unwrap();
    assert_eq!(json["photos"][0], AFTER);
    assert!(serde_json::to_value(&r.steps[1])
        .unwrap()
        .get("photos")
        .is_none());
}

#[test]
fn step_photos_are_refused_before_anything_is_written() {
    let mut c = new_case();
    let err = c
        .append_step_with(Action::File, "C0001", NOW, "", &with_photos(&[AFTER]))
        .unwrap_err();
    assert!(err.to_string().contains("report_handled"), "{err}");
    let mut c = dispatched_case();
    let many: Vec<&str> = vec![AFTER; crate::limits::MAX_PHOTOS + 1];
    let err = c
        .append_step_with(Action::ReportHandled, "C0001", NOW, "", &with_photos(&many))
        .unwrap_err();
    assert!(matches!(err, DocError::TooLarge(_)), "{err}");
    let err = c
        .append_step_with(
            Action::ReportHandled,
            "C0001",
            NOW,
            "",
            &with_photos(&["not-a-hash"]),
        )
        .unwrap_err();
    assert!(matches!(err, DocError::Invalid(_)), "{err}");
    assert_eq!(c.read().unwrap().steps.len(), 2, "nothing written");
}

/// `dispatched_case()` plus a handled step, with one more change by the
/// centre made by `f` on the steps list.
fn tampered_steps(
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId),
) -> Automerge {
    let mut c = dispatched_case();
    c.append_step(Action::ReportHandled, "C0001", NOW, "")
        .unwrap();
    let mut d = fork_as(c.doc(), 3);
    let lc = d.get(ROOT, "lifecycle").unwrap().unwrap().1;
    let steps = d.get(&lc, "steps").unwrap().unwrap().1;
    let mut tx = d.transaction();
    f(&mut tx, &steps);
    tx.commit();
    d
}

#[test]
fn step_photos_the_device_reader_refuses_fail_the_shared_check() {
    use automerge::ScalarValue;
    let step = |tx: &automerge::transaction::Transaction<'_>, steps: &automerge::ObjId, i| {
        tx.get(steps, i).unwrap().unwrap().1
    };
    let bad: Vec<(&str, Automerge)> = vec![
        (
            "photos on the dispatch step",
            tampered_steps(|tx, steps| {
                let s = step(tx, steps, 1);
                let l = tx.put_object(&s, "photos", ObjType::List).unwrap();
                tx.insert(&l, 0, AFTER).unwrap();
            }),
        ),
        (
            "handled photo not a hash",
            tampered_steps(|tx, steps| {
                let s = step(tx, steps, 2);
                let l = tx.put_object(&s, "photos", ObjType::List).unwrap();
                tx.insert(&l, 0, "../../etc/passwd").unwrap();
            }),
        ),
        (
            "handled photo list with a number",
            tampered_steps(|tx, steps| {
                let s = step(tx, steps, 2);
                let l = tx.put_object(&s, "photos", ObjType::List).unwrap();
                tx.insert(&l, 0, AFTER).unwrap();
                tx.insert(&l, 1, ScalarValue::Int(7)).unwrap();
            }),
        ),
        (
            "21 handled photos",
            tampered_steps(|tx, steps| {
                let s = step(tx, steps, 2);
                let l = tx.put_object(&s, "photos", ObjType::List).unwrap();
                for i in 0..=crate::limits::MAX_PHOTOS {
                    tx.insert(&l, i, AFTER).unwrap();
                }
            }),
        ),
    ];
    for (what, d) in bad {
        assert!(validate(&d, &bounds()).is_err(), "{what} passed");
    }
    // The same change with a good list passes.
    let ok = tampered_steps(|tx, steps| {
        let s = step(tx, steps, 2);
        let l = tx.put_object(&s, "photos", ObjType::List).unwrap();
        tx.insert(&l, 0, AFTER).unwrap();
    });
    validate(&ok, &bounds()).unwrap();
}
