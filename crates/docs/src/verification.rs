//! The Verification document: the centre's task and the assignee's result.

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT};
use serde::{Deserialize, Serialize};

use crate::case::{check_location, check_photos, put_str_list, str_enum, update_text_at};
use crate::read::{expect_kind, expect_kind_of, req_obj, Fields};
use crate::{DocError, DocKind, SCHEMA};

str_enum! {
    /// Why an inspector is sent to the site.
    TaskKind {
        /// Check that a unit really fixed the problem (step 5).
        HandlingCheck => "handling_check",
        /// Check a public complaint on site.
        ComplaintCheck => "complaint_check",
    }
}

str_enum! {
    /// What the inspector found.
    Outcome {
        /// Fixed / confirmed.
        Pass => "pass",
        /// Not fixed / not confirmed.
        Fail => "fail",
    }
}

/// The centre's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// User id of the inspector sent.
    pub assignee: String,
    /// Kind of check.
    pub kind: TaskKind,
    /// Deadline, Unix ms.
    pub due_at_ms: i64,
    /// User id of the centre operator who created it.
    pub created_by: String,
}

/// The assignee's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationResult {
    /// Pass or fail.
    pub outcome: Outcome,
    /// Free-text note.
    pub note: String,
    /// After-photos, sha256 hex.
    pub photos: Vec<String>,
    /// WGS-84 longitude where checked.
    pub lon: f64,
    /// WGS-84 latitude where checked.
    pub lat: f64,
    /// When checked, Unix ms.
    pub at_ms: i64,
}

/// A whole verification read back into plain values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Document id.
    pub id: String,
    /// Id of the case being checked.
    pub case_id: String,
    /// The task.
    pub task: Task,
    /// The result, once the assignee has written one.
    pub result: Option<VerificationResult>,
}

/// A Verification document with typed edits. Every edit is one change.
#[derive(Debug, Clone)]
pub struct VerificationDoc {
    doc: Automerge,
}

impl VerificationDoc {
    /// Creates a verification task for `case_id` as `actor`, with an empty
    /// result container.
    pub fn create(
        actor: ActorId,
        id: &str,
        case_id: &str,
        task: &Task,
    ) -> Result<VerificationDoc, DocError> {
        if id.is_empty() || case_id.is_empty() || task.assignee.is_empty() {
            return Err(DocError::Invalid(
                "verification id, case id and assignee must not be empty".into(),
            ));
        }
        let mut doc = Automerge::new().with_actor(actor);
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(ROOT, "schema", SCHEMA)?;
            tx.put(ROOT, "kind", DocKind::Verification.as_str())?;
            tx.put(ROOT, "id", id)?;
            tx.put(ROOT, "case_id", case_id)?;
            let t = tx.put_object(ROOT, "task", ObjType::Map)?;
            tx.put(&t, "assignee", task.assignee.as_str())?;
            tx.put(&t, "kind", task.kind.as_str())?;
            tx.put(&t, "due_at_ms", task.due_at_ms)?;
            tx.put(&t, "created_by", task.created_by.as_str())?;
            tx.put_object(ROOT, "result", ObjType::Map)?;
            Ok(())
        })
        .map_err(|f| f.error)?;
        Ok(VerificationDoc { doc })
    }

    /// Wraps an existing document, checking it is a schema-1 verification.
    pub fn from_doc(doc: Automerge) -> Result<VerificationDoc, DocError> {
        expect_kind(&doc, DocKind::Verification)?;
        Ok(VerificationDoc { doc })
    }

    /// Loads saved bytes and makes further edits as `actor`.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<VerificationDoc, DocError> {
        VerificationDoc::from_doc(Automerge::load(bytes)?.with_actor(actor))
    }

    /// The underlying Automerge document.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// Mutable access, for merging and sync.
    pub fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// Gives up the wrapper.
    pub fn into_doc(self) -> Automerge {
        self.doc
    }

    /// The full saved form.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// Writes the assignee's result as one change.
    pub fn set_result(&mut self, result: &VerificationResult) -> Result<(), DocError> {
        check_location(result.lon, result.lat, 0.0)?;
        check_photos(&result.photos)?;
        let r = req_obj(&self.doc, &ROOT, "result", ObjType::Map)?;
        self.doc
            .transact::<_, _, AutomergeError>(|tx| {
                tx.put(&r, "outcome", result.outcome.as_str())?;
                update_text_at(tx, &r, "note", &result.note)?;
                put_str_list(tx, &r, "photos", &result.photos)?;
                tx.put(&r, "lon", result.lon)?;
                tx.put(&r, "lat", result.lat)?;
                tx.put(&r, "at_ms", result.at_ms)?;
                Ok(())
            })
            .map_err(|f| f.error)?;
        Ok(())
    }

    /// Reads the whole verification into plain values.
    pub fn read(&self) -> Result<Verification, DocError> {
        read_verification(&self.doc)
    }
}

/// Reads a verification document into plain values (shared with
/// [`crate::validate`]).
pub(crate) fn read_verification(d: &Automerge) -> Result<Verification, DocError> {
    let root = Fields::root(d);
    let id = expect_kind_of(&root, DocKind::Verification)?;
    let t = root.req_map("task")?;
    let task = Task {
        assignee: t.str_req("assignee")?,
        kind: TaskKind::parse(&t.str_req("kind")?)
            .ok_or_else(|| DocError::Field("task.kind".into()))?,
        due_at_ms: t.i64_req("due_at_ms")?,
        created_by: t.str_req("created_by")?,
    };
    let result = match root.map("result") {
        Some(r) => match r.str_opt("outcome") {
            Some(o) => Some(VerificationResult {
                outcome: Outcome::parse(&o)
                    .ok_or_else(|| DocError::Field("result.outcome".into()))?,
                note: r.str_opt("note").unwrap_or_default(),
                photos: r.str_list("photos"),
                lon: r.f64_opt("lon").unwrap_or_default(),
                lat: r.f64_opt("lat").unwrap_or_default(),
                at_ms: r.i64_opt("at_ms").unwrap_or_default(),
            }),
            None => None,
        },
        None => None,
    };
    Ok(Verification {
        id,
        case_id: root.str_req("case_id")?,
        task,
        result,
    })
}
