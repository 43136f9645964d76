//! A valid account attacking the sync endpoint: crafted summaries, chunks,
//! operation bombs, malformed documents, squads, and sync state rows. Every
//! attack is answered per document with a stable code (never a 500), and
//! refused changes leave storage untouched.

mod common;

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ReadDoc, ROOT};
use common::*;
use gridpatrol_docs::CaseDoc;
use gridpatrol_protocol::{codes, DocKind, SyncDocRequest, SyncStatus};

fn req(id: &str, msg: Vec<u8>) -> SyncDocRequest {
    SyncDocRequest {
        id: id.into(),
        kind: DocKind::Case,
        msg,
    }
}

/// A V1 sync message with one `have` whose Bloom filter bytes are `bloom`.
fn with_bloom(bloom: &[u8]) -> Vec<u8> {
    let mut m = vec![0x42, 0, 0, 1, 0, bloom.len() as u8];
    m.extend(bloom);
    m.push(0); // no changes
    m
}

/// Uploads a case; returns the device copy and its sync state.
async fn own_case(f: &Fixture, token: &str, id: &str) -> (Automerge, SyncState) {
    let mut doc = CaseDoc::create(ActorId::random(), id, &report("I0001", G1))
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let r = f
        .sync_doc(token, "dev-1", id, DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    (doc, st)
}

#[tokio::test]
async fn crafted_summaries_are_refused_without_a_500() {
    let f = start().await;
    let t = f.login("I0001").await;
    own_case(&f, &t, "case-1").await;
    // Zero bits per entry (Automerge divides by zero), 2^28 probes (it
    // allocates one u32 per probe), zero probes, an oversized entry count.
    let blooms: [&[u8]; 4] = [
        &[1, 0, 7],
        &[1, 10, 0x80, 0x80, 0x80, 0x80, 0x01, 0xff, 0xff],
        &[1, 10, 0, 0xff, 0xff],
        &[0xff, 0xff, 0x03, 1, 1, 0xff],
    ];
    for (i, b) in blooms.iter().enumerate() {
        for id in ["case-1", "case-new"] {
            let res = f
                .sync_batch(&t, "dev-1", vec![req(id, with_bloom(b))])
                .await;
            assert_eq!(
                res[0].status,
                SyncStatus::Error,
                "bloom {i} on {id}: {res:?}"
            );
            assert_eq!(res[0].code.as_deref(), Some(codes::BAD_SYNC_MESSAGE));
        }
    }
    // The server still answers honest work.
    own_case(&f, &t, "case-2").await;
}

#[tokio::test]
async fn an_operation_bomb_on_ones_own_case_is_refused_and_not_stored() {
    let f = start().await;
    let t = f.login("I0001").await;
    let (mut doc, mut st) = own_case(&f, &t, "case-1").await;
    let before = f.stored_bytes("case-1").unwrap();
    // 30,000 list inserts in one change: a few hundred bytes on the wire.
    let r = doc.get(ROOT, "report").unwrap().unwrap().1;
    let l = doc.get(&r, "photos").unwrap().unwrap().1;
    let mut tx = doc.transaction();
    tx.splice(&l, 0, 0, (0..30_000).map(|_| automerge::ScalarValue::Null))
        .unwrap();
    tx.commit();
    let msg = doc.generate_sync_message(&mut st).unwrap().encode();
    assert!(msg.len() < 4096, "{} bytes", msg.len());
    let res = f.sync_batch(&t, "dev-1", vec![req("case-1", msg)]).await;
    assert_eq!(res[0].status, SyncStatus::Error, "{res:?}");
    assert_eq!(res[0].code.as_deref(), Some(codes::BAD_SYNC_MESSAGE));
    assert_eq!(f.stored_bytes("case-1").unwrap(), before);
}

#[tokio::test]
async fn a_whole_document_chunk_is_refused() {
    let f = start().await;
    let t = f.login("I0001").await;
    let doc = CaseDoc::create(ActorId::random(), "case-1", &report("I0001", G1))
        .unwrap()
        .into_doc();
    // A V2 message carrying the saved document (deflated columns).
    let mut m = vec![0x43, 0, 0, 0, 1];
    let saved = doc.save();
    let mut len = Vec::new();
    let mut n = saved.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            len.push(b);
            break;
        }
        len.push(b | 0x80);
    }
    m.extend(len);
    m.extend(saved);
    let res = f.sync_batch(&t, "dev-1", vec![req("case-1", m)]).await;
    assert_eq!(
        res[0].code.as_deref(),
        Some(codes::BAD_SYNC_MESSAGE),
        "{res:?}"
    );
    assert!(f.stored_bytes("case-1").is_none());
}

/// Malformed cases that the device reader refuses: each is refused at
/// creation and as a later edit, and nothing is stored.
#[tokio::test]
async fn documents_devices_cannot_read_are_never_stored() {
    let f = start().await;
    let t = f.login("I0001").await;
    type Tamper = fn(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId);
    let tampers: Vec<(&str, Tamper)> = vec![
        ("lon as a string", |tx, r| {
            tx.put(r, "lon", "116.4").unwrap();
        }),
        ("bogus source", |tx, r| {
            tx.put(r, "source", "satellite").unwrap();
        }),
        ("no created_at_ms", |tx, r| {
            tx.delete(r, "created_at_ms").unwrap();
        }),
        ("lon = 1e308", |tx, r| {
            tx.put(r, "lon", 1e308).unwrap();
        }),
        ("negative accuracy", |tx, r| {
            tx.put(r, "accuracy_m", -3.0).unwrap();
        }),
        ("far-future time", |tx, r| {
            tx.put(r, "created_at_ms", i64::MAX).unwrap();
        }),
        ("huge description", |tx, r| {
            tx.put(r, "description", "x".repeat(5000)).unwrap();
        }),
    ];
    for (i, (what, tamper)) in tampers.iter().enumerate() {
        // At creation.
        let id = format!("case-new-{i}");
        let mut doc = CaseDoc::create(ActorId::random(), &id, &report("I0001", G1))
            .unwrap()
            .into_doc();
        let r = doc.get(ROOT, "report").unwrap().unwrap().1;
        let mut tx = doc.transaction();
        tamper(&mut tx, &r);
        tx.commit();
        let mut st = SyncState::new();
        let res = f
            .sync_doc(&t, "dev-1", &id, DocKind::Case, &mut doc, &mut st)
            .await;
        assert_eq!(res.status, SyncStatus::Refused, "{what}: {res:?}");
        assert_eq!(res.code.as_deref(), Some(codes::INVALID_DOCUMENT), "{what}");
        assert!(f.stored_bytes(&id).is_none(), "{what}");
        // As an edit of a stored case.
        let id = format!("case-old-{i}");
        let (mut doc, mut st) = own_case(&f, &t, &id).await;
        let stored = f.stored_bytes(&id).unwrap();
        let r = doc.get(ROOT, "report").unwrap().unwrap().1;
        let mut tx = doc.transaction();
        tamper(&mut tx, &r);
        tx.commit();
        let res = f
            .sync_doc(&t, "dev-1", &id, DocKind::Case, &mut doc, &mut st)
            .await;
        assert_eq!(res.status, SyncStatus::Refused, "{what}: {res:?}");
        assert_eq!(f.stored_bytes(&id).unwrap(), stored, "{what}");
    }
}

#[tokio::test]
async fn a_leader_cannot_report_in_another_squads_grid() {
    let f = start().await;
    let t = f.login("I0003").await; // leads S01; G3 belongs to S02
    let mut doc = CaseDoc::create(ActorId::random(), "case-x", &report("I0003", G3))
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let res = f
        .sync_doc(&t, "dev-l", "case-x", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.code.as_deref(), Some(codes::OUTSIDE_SCOPE), "{res:?}");
    assert!(f.stored_bytes("case-x").is_none());
    // In a grid of their own squad it works.
    let mut doc = CaseDoc::create(ActorId::random(), "case-y", &report("I0003", G2))
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let res = f
        .sync_doc(&t, "dev-l", "case-y", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.status, SyncStatus::Ok, "{res:?}");
}

#[tokio::test]
async fn sync_states_exist_only_for_real_documents_and_per_account() {
    let f = start().await;
    let t1 = f.login("I0001").await;
    let t2 = f.login("I0003").await; // the leader sees the squad's cases
                                     // Naming a thousand unknown ids with an empty message stores nothing.
    let empty = Automerge::new()
        .generate_sync_message(&mut SyncState::new())
        .unwrap()
        .encode();
    let ids: Vec<String> = (0..500).map(|i| format!("ghost-{i}")).collect();
    for chunk in ids.chunks(250) {
        let res = f
            .sync_batch(
                &t1,
                "dev-shared",
                chunk.iter().map(|id| req(id, empty.clone())).collect(),
            )
            .await;
        assert_eq!(res.len(), chunk.len());
    }
    let store = &f.server.state.store;
    for key in ["dev-shared", "I0001/dev-shared"] {
        let got = store.load_sync_states(key, &ids).unwrap();
        assert!(got.iter().all(Option::is_none), "{key}");
    }
    assert_eq!(store.doc_count().unwrap(), 0);

    // Two accounts using the same device id keep separate states.
    own_case(&f, &t1, "case-1").await;
    let (_, _, r) = f.fetch(&t2, "dev-1", "case-1", DocKind::Case).await;
    assert_eq!(r.status, SyncStatus::Ok);
    let one = store
        .load_sync_states("I0001/dev-1", &["case-1".into()])
        .unwrap();
    let two = store
        .load_sync_states("I0003/dev-1", &["case-1".into()])
        .unwrap();
    assert!(one[0].is_some() && two[0].is_some());
    // Nothing is kept under the bare device id another account could name.
    let bare = store.load_sync_states("dev-1", &["case-1".into()]).unwrap();
    assert!(bare[0].is_none());
    let msg = Message::decode(&empty).unwrap();
    assert!(msg.changes.is_empty());
}

#[tokio::test]
async fn a_document_over_a_list_limit_is_refused_with_its_own_code() {
    let f = start().await;
    let t = f.login("I0001").await;
    let (doc, mut st) = own_case(&f, &t, "case-1").await;
    let stored = f.stored_bytes("case-1").unwrap();
    let mut cd = CaseDoc::from_doc(doc).unwrap();
    cd.edit_report(&gridpatrol_docs::ReportEdit {
        add_photos: (0..21).map(|i| format!("{i:064x}")).collect(),
        ..Default::default()
    })
    .unwrap();
    let mut doc = cd.into_doc();
    let res = f
        .sync_doc(&t, "dev-1", "case-1", DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.status, SyncStatus::Refused, "{res:?}");
    assert_eq!(res.code.as_deref(), Some(codes::DOCUMENT_TOO_LARGE));
    assert_eq!(f.stored_bytes("case-1").unwrap(), stored);
}

#[tokio::test]
async fn one_request_applies_a_bounded_number_of_operations() {
    let f = start().await;
    let t = f.login("I0001").await;
    // Eleven documents, each with a 10,000-operation change: the eleventh
    // is over the request's budget and is not even looked at.
    let docs: Vec<SyncDocRequest> = (0..11)
        .map(|i| {
            let id = format!("case-{i}");
            let mut doc = CaseDoc::create(ActorId::random(), &id, &report("I0001", G1))
                .unwrap()
                .into_doc();
            let r = doc.get(ROOT, "report").unwrap().unwrap().1;
            let l = doc.get(&r, "photos").unwrap().unwrap().1;
            let mut tx = doc.transaction();
            tx.splice(&l, 0, 0, (0..9_900).map(|_| automerge::ScalarValue::Null))
                .unwrap();
            tx.commit();
            let mut st = SyncState::new();
            let m = doc.generate_sync_message(&mut st).unwrap();
            let mut theirs = SyncState::new();
            let mut peer = Automerge::new();
            peer.receive_sync_message(&mut theirs, m).unwrap();
            let ask = peer.generate_sync_message(&mut theirs).unwrap();
            doc.receive_sync_message(&mut st, ask).unwrap();
            gridpatrol_docs::guard::speak_v1(&mut st);
            req(&id, doc.generate_sync_message(&mut st).unwrap().encode())
        })
        .collect();
    let res = f.sync_batch(&t, "dev-1", docs).await;
    assert_eq!(res.len(), 11);
    for r in &res[..10] {
        assert_ne!(r.code.as_deref(), Some(codes::REQUEST_BUDGET), "{r:?}");
    }
    assert_eq!(res[10].status, SyncStatus::Error, "{:?}", res[10]);
    assert_eq!(res[10].code.as_deref(), Some(codes::REQUEST_BUDGET));
}

#[tokio::test]
async fn an_account_keeps_sync_states_for_a_few_devices_only() {
    let f = start().await;
    let t = f.login("I0001").await;
    own_case(&f, &t, "case-1").await;
    // The same case fetched under twenty invented device ids.
    for i in 0..20 {
        let (_, _, r) = f
            .fetch(&t, &format!("dev-{i:02}"), "case-1", DocKind::Case)
            .await;
        assert_eq!(r.status, SyncStatus::Ok);
    }
    let store = &f.server.state.store;
    let kept = (0..20)
        .filter(|i| {
            store
                .load_sync_states(&format!("I0001/dev-{i:02}"), &["case-1".into()])
                .unwrap()[0]
                .is_some()
        })
        .count()
        + usize::from(
            store
                .load_sync_states("I0001/dev-1", &["case-1".into()])
                .unwrap()[0]
                .is_some(),
        );
    assert_eq!(kept, 8);
    // The latest device is among them.
    assert!(store
        .load_sync_states("I0001/dev-19", &["case-1".into()])
        .unwrap()[0]
        .is_some());
}
