//! The Case document: report, review, lifecycle.

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ObjId, ObjType, ReadDoc, ROOT};
use gridpatrol_domain::lifecycle::{Action, CaseState, Flow, Lifecycle};
use serde::{Deserialize, Serialize};

use crate::read::{expect_kind, expect_kind_of, maps, obj, req_obj, str_req, Fields};
use crate::{DocError, DocKind, SCHEMA};

/// Declares a snake_case string enum with `as_str`/`parse`.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Stable snake_case id stored in documents.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// Parses [`Self::as_str`] output.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$v),)+ _ => None } }
        }
    };
}
pub(crate) use str_enum;

str_enum! {
    /// Where a case came from; decides its lifecycle flow.
    Source {
        /// Found by a grid inspector on patrol (supervision flow).
        Patrol => "patrol",
        /// Reported by the public via hotline/SMS/microblog (complaint flow).
        Hotline => "hotline",
        /// Spotted on a camera (supervision flow).
        Camera => "camera",
    }
}

impl Source {
    /// The lifecycle flow a case from this source follows.
    pub fn flow(self) -> Flow {
        match self {
            Source::Hotline => Flow::Complaint,
            Source::Patrol | Source::Camera => Flow::Supervision,
        }
    }
}

str_enum! {
    /// A squad leader's verdict on a report.
    Verdict {
        /// The report is right.
        Approved => "approved",
        /// The report is wrong (错报).
        Rejected => "rejected",
        /// The reporter must correct it.
        NeedsFix => "needs_fix",
    }
}

str_enum! {
    /// Why a squad leader returned a report (the glossary's return reasons).
    ReturnReason {
        /// The fine class is wrong (类别错误).
        WrongCategory => "wrong_category",
        /// Not a problem at all (非问题).
        NotAProblem => "not_a_problem",
        /// The photo does not show it (照片不清).
        PhotoUnclear => "photo_unclear",
        /// The position is wrong (位置错误).
        WrongLocation => "wrong_location",
        /// Already reported (重复上报); `duplicate_of` names the case.
        Duplicate => "duplicate",
    }
}

str_enum! {
    /// Something the reporter's device knew about the position's origin.
    PositionFlag {
        /// Placed by hand on the map: there was no usable fix.
        Manual => "manual",
        /// The platform said the fix came from a mock location provider.
        Mock => "mock",
    }
}

/// A case's report part, as created by the reporter and read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Fine-class code from the taxonomy.
    pub category: String,
    /// WGS-84 longitude, degrees.
    pub lon: f64,
    /// WGS-84 latitude, degrees.
    pub lat: f64,
    /// Horizontal accuracy of the fix, metres.
    pub accuracy_m: f64,
    /// 15-digit technical grid code.
    pub technical_grid: String,
    /// 12-digit supervision grid code.
    pub supervision_grid: String,
    /// 9-digit street code.
    pub street: String,
    /// Free-text address.
    pub address: String,
    /// What the reporter saw.
    pub description: String,
    /// SHA-256 hex of each photo, in order.
    pub photos: Vec<String>,
    /// User id of the reporter.
    pub reporter: String,
    /// Where the case came from.
    pub source: Source,
    /// When it was reported, Unix ms.
    pub created_at_ms: i64,
}

/// A reporter's correction; `None`/empty fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportEdit {
    /// New fine-class code.
    pub category: Option<String>,
    /// New WGS-84 `(lon, lat, accuracy_m)`.
    pub location: Option<(f64, f64, f64)>,
    /// New address (merged character-wise with concurrent edits).
    pub address: Option<String>,
    /// New description (merged character-wise with concurrent edits).
    pub description: Option<String>,
    /// Photos to append (sha256 hex).
    pub add_photos: Vec<String>,
    /// Replaces the position flags (with a new `location`).
    pub position_flags: Option<Vec<PositionFlag>>,
    /// Marks the correction as a resubmission after the leader's return.
    pub revised_at_ms: Option<i64>,
}

/// The squad leader's review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// User id of the reviewing leader.
    pub reviewer: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Comment for the reporter.
    pub note: String,
    /// When reviewed, Unix ms.
    pub at_ms: i64,
    /// Why it was returned (with `needs_fix` / `rejected`).
    pub reason: Option<ReturnReason>,
    /// The case this one duplicates (with [`ReturnReason::Duplicate`]).
    pub duplicate_of: Option<String>,
}

/// One recorded lifecycle step after the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleStep {
    /// What was done.
    pub step: Action,
    /// The state it led to.
    pub state: CaseState,
    /// User id of who recorded it.
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Free-text note.
    pub note: String,
    /// What the step adds beyond the note (unit, deadline, verification).
    #[serde(flatten)]
    pub detail: StepDetail,
}

/// The facts a centre step carries besides its note: where a dispatch sent
/// the case and by when, which verification a step refers to, the photos
/// the unit's feedback came with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDetail {
    /// The responsible unit a dispatch sent the case to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The handling deadline a dispatch set, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at_ms: Option<i64>,
    /// The verification document a verification step refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// Photos of the fixed problem the responsible unit sent with its
    /// feedback: SHA-256 hex, like [`Report::photos`]. Only a
    /// `report_handled` step carries any ([`check_step_photos`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
}

/// A whole case read back into plain values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Document id.
    pub id: String,
    /// The report.
    pub report: Report,
    /// The review, once a leader has written one.
    pub review: Option<Review>,
    /// The flow the case follows (from the report's source).
    pub flow: Flow,
    /// Current lifecycle state.
    pub state: CaseState,
    /// Steps recorded after the report, in list order.
    pub steps: Vec<LifecycleStep>,
    /// Where the report's position came from, when not a plain fix.
    pub position_flags: Vec<PositionFlag>,
    /// When the reporter last resubmitted a correction, Unix ms.
    pub revised_at_ms: Option<i64>,
}

impl Case {
    /// Corrected by the reporter after the leader's latest review, so it
    /// waits for another look.
    pub fn resubmitted(&self) -> bool {
        match (&self.review, self.revised_at_ms) {
            (Some(r), Some(t)) => t > r.at_ms,
            _ => false,
        }
    }
}

/// A Case document with typed edits. Every edit is one Automerge change.
#[derive(Debug, Clone)]
pub struct CaseDoc {
    doc: Automerge,
}

fn valid_sha256(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn check_photos(photos: &[String]) -> Result<(), DocError> {
    match photos.iter().find(|p| !valid_sha256(p)) {
        Some(p) => Err(DocError::Invalid(format!(
            "photo reference `{p}` is not a lowercase sha256 hex"
        ))),
        None => Ok(()),
    }
}

/// Photos on a lifecycle step: only the unit's feedback (`report_handled`)
/// carries them, at most [`limits::MAX_PHOTOS`](crate::limits::MAX_PHOTOS)
/// like a report, each a lowercase SHA-256 hex.
/// `what` names the step in errors.
pub(crate) fn check_step_photos(
    what: &str,
    step: Action,
    photos: &[String],
) -> Result<(), DocError> {
    if photos.is_empty() {
        return Ok(());
    }
    if step != Action::ReportHandled {
        return Err(DocError::Invalid(format!(
            "{what} ({}) carries photos; only the unit's feedback (report_handled) does",
            step.as_str()
        )));
    }
    crate::validate::check_photo_count(what, photos.len())?;
    check_photos(photos)
}

pub(crate) fn check_location(lon: f64, lat: f64, accuracy_m: f64) -> Result<(), DocError> {
    let ok = lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat)
        && accuracy_m.is_finite()
        && accuracy_m >= 0.0;
    if ok {
        Ok(())
    } else {
        Err(DocError::Invalid(format!(
            "location ({lon}, {lat}) ±{accuracy_m} m is not a WGS-84 position"
        )))
    }
}

/// Puts a text object at `key` holding `value`.
pub(crate) fn put_text<T: Transactable>(
    tx: &mut T,
    parent: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    let t = tx.put_object(parent, key, ObjType::Text)?;
    tx.splice_text(&t, 0, 0, value)?;
    Ok(())
}

/// Replaces the content of the text object at `key` with a minimal diff, so
/// concurrent edits of other characters survive; creates it if missing.
pub(crate) fn update_text_at<T: Transactable + ReadDoc>(
    tx: &mut T,
    parent: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    match obj(tx, parent, key, ObjType::Text) {
        Some(t) => tx.update_text(&t, value),
        None => put_text(tx, parent, key, value),
    }
}

pub(crate) fn put_str_list<T: Transactable>(
    tx: &mut T,
    parent: &ObjId,
    key: &str,
    items: &[String],
) -> Result<(), AutomergeError> {
    let l = tx.put_object(parent, key, ObjType::List)?;
    for (i, p) in items.iter().enumerate() {
        tx.insert(&l, i, p.as_str())?;
    }
    Ok(())
}

impl CaseDoc {
    /// Creates a new case as `actor` (the device's actor id) with the report,
    /// plus the empty review and lifecycle containers.
    pub fn create(actor: ActorId, id: &str, report: &Report) -> Result<CaseDoc, DocError> {
        CaseDoc::create_flagged(actor, id, report, &[])
    }

    /// [`CaseDoc::create`] with the position's flags, in the same change.
    pub fn create_flagged(
        actor: ActorId,
        id: &str,
        report: &Report,
        flags: &[PositionFlag],
    ) -> Result<CaseDoc, DocError> {
        check_location(report.lon, report.lat, report.accuracy_m)?;
        check_photos(&report.photos)?;
        if id.is_empty() || report.reporter.is_empty() {
            return Err(DocError::Invalid(
                "case id and reporter must not be empty".into(),
            ));
        }
        let mut doc = Automerge::new().with_actor(actor);
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(ROOT, "schema", SCHEMA)?;
            tx.put(ROOT, "kind", DocKind::Case.as_str())?;
            tx.put(ROOT, "id", id)?;
            let r = tx.put_object(ROOT, "report", ObjType::Map)?;
            tx.put(&r, "category", report.category.as_str())?;
            tx.put(&r, "lon", report.lon)?;
            tx.put(&r, "lat", report.lat)?;
            tx.put(&r, "accuracy_m", report.accuracy_m)?;
            tx.put(&r, "technical_grid", report.technical_grid.as_str())?;
            tx.put(&r, "supervision_grid", report.supervision_grid.as_str())?;
            tx.put(&r, "street", report.street.as_str())?;
            put_text(tx, &r, "address", &report.address)?;
            put_text(tx, &r, "description", &report.description)?;
            put_str_list(tx, &r, "photos", &report.photos)?;
            tx.put(&r, "reporter", report.reporter.as_str())?;
            tx.put(&r, "source", report.source.as_str())?;
            tx.put(&r, "created_at_ms", report.created_at_ms)?;
            if !flags.is_empty() {
                let f: Vec<String> = flags.iter().map(|f| f.as_str().to_string()).collect();
                put_str_list(tx, &r, "position_flags", &f)?;
            }
            tx.put_object(ROOT, "review", ObjType::Map)?;
            let l = tx.put_object(ROOT, "lifecycle", ObjType::Map)?;
            tx.put_object(&l, "steps", ObjType::List)?;
            Ok(())
        })
        .map_err(|f| f.error)?;
        Ok(CaseDoc { doc })
    }

    /// Wraps an existing document, checking it is a schema-1 case.
    pub fn from_doc(doc: Automerge) -> Result<CaseDoc, DocError> {
        expect_kind(&doc, DocKind::Case)?;
        Ok(CaseDoc { doc })
    }

    /// Loads saved bytes and makes further edits as `actor`.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<CaseDoc, DocError> {
        CaseDoc::from_doc(Automerge::load(bytes)?.with_actor(actor))
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

    /// The document id.
    pub fn id(&self) -> Result<String, DocError> {
        str_req(&self.doc, &ROOT, "id")
    }

    /// Applies a reporter's correction as one change.
    pub fn edit_report(&mut self, edit: &ReportEdit) -> Result<(), DocError> {
        if let Some((lon, lat, acc)) = edit.location {
            check_location(lon, lat, acc)?;
        }
        check_photos(&edit.add_photos)?;
        let r = req_obj(&self.doc, &ROOT, "report", ObjType::Map)?;
        self.doc
            .transact::<_, _, AutomergeError>(|tx| {
                if let Some(c) = &edit.category {
                    tx.put(&r, "category", c.as_str())?;
                }
                if let Some((lon, lat, acc)) = edit.location {
                    tx.put(&r, "lon", lon)?;
                    tx.put(&r, "lat", lat)?;
                    tx.put(&r, "accuracy_m", acc)?;
                }
                if let Some(a) = &edit.address {
                    update_text_at(tx, &r, "address", a)?;
                }
                if let Some(d) = &edit.description {
                    update_text_at(tx, &r, "description", d)?;
                }
                if let Some(flags) = &edit.position_flags {
                    let f: Vec<String> = flags.iter().map(|f| f.as_str().to_string()).collect();
                    put_str_list(tx, &r, "position_flags", &f)?;
                }
                if let Some(t) = edit.revised_at_ms {
                    tx.put(&r, "revised_at_ms", t)?;
                }
                if !edit.add_photos.is_empty() {
                    let l = match obj(tx, &r, "photos", ObjType::List) {
                        Some(l) => l,
                        None => tx.put_object(&r, "photos", ObjType::List)?,
                    };
                    for p in &edit.add_photos {
                        let n = tx.length(&l);
                        tx.insert(&l, n, p.as_str())?;
                    }
                }
                Ok(())
            })
            .map_err(|f| f.error)?;
        Ok(())
    }

    /// Writes the squad leader's review as one change.
    pub fn set_review(&mut self, review: &Review) -> Result<(), DocError> {
        let r = req_obj(&self.doc, &ROOT, "review", ObjType::Map)?;
        self.doc
            .transact::<_, _, AutomergeError>(|tx| {
                tx.put(&r, "reviewer", review.reviewer.as_str())?;
                tx.put(&r, "verdict", review.verdict.as_str())?;
                update_text_at(tx, &r, "note", &review.note)?;
                tx.put(&r, "at_ms", review.at_ms)?;
                // Absent, not empty, when there is none: a later verdict
                // clears an earlier reason.
                match review.reason {
                    Some(reason) => tx.put(&r, "reason", reason.as_str())?,
                    None if tx.get(&r, "reason")?.is_some() => tx.delete(&r, "reason")?,
                    None => {}
                }
                match &review.duplicate_of {
                    Some(d) => tx.put(&r, "duplicate_of", d.as_str())?,
                    None if tx.get(&r, "duplicate_of")?.is_some() => {
                        tx.delete(&r, "duplicate_of")?
                    }
                    None => {}
                }
                Ok(())
            })
            .map_err(|f| f.error)?;
        Ok(())
    }

    /// Records a lifecycle step as one change, after checking the action is
    /// allowed from the case's current state (per
    /// [`gridpatrol_domain::lifecycle`]). Returns the new state.
    pub fn append_step(
        &mut self,
        step: Action,
        by: &str,
        at_ms: i64,
        note: &str,
    ) -> Result<CaseState, DocError> {
        self.append_step_with(step, by, at_ms, note, &StepDetail::default())
    }

    /// [`CaseDoc::append_step`] with the step's unit, deadline,
    /// verification or photos recorded in the same change. Photos are
    /// refused on any step but `report_handled`.
    pub fn append_step_with(
        &mut self,
        step: Action,
        by: &str,
        at_ms: i64,
        note: &str,
        detail: &StepDetail,
    ) -> Result<CaseState, DocError> {
        check_step_photos("the new step", step, &detail.photos)?;
        let mut lc = self.replay()?;
        let next = lc.apply(step, step.performed_by())?;
        let l = req_obj(&self.doc, &ROOT, "lifecycle", ObjType::Map)?;
        let steps = req_obj(&self.doc, &l, "steps", ObjType::List)?;
        self.doc
            .transact::<_, _, AutomergeError>(|tx| {
                let n = tx.length(&steps);
                let s = tx.insert_object(&steps, n, ObjType::Map)?;
                tx.put(&s, "step", step.as_str())?;
                tx.put(&s, "state", next.as_str())?;
                tx.put(&s, "by", by)?;
                tx.put(&s, "at_ms", at_ms)?;
                put_text(tx, &s, "note", note)?;
                if let Some(u) = &detail.unit {
                    tx.put(&s, "unit", u.as_str())?;
                }
                if let Some(d) = detail.due_at_ms {
                    tx.put(&s, "due_at_ms", d)?;
                }
                if let Some(v) = &detail.verification {
                    tx.put(&s, "verification", v.as_str())?;
                }
                if !detail.photos.is_empty() {
                    put_str_list(tx, &s, "photos", &detail.photos)?;
                }
                tx.put(&l, "state", next.as_str())?;
                Ok(())
            })
            .map_err(|f| f.error)?;
        Ok(next)
    }

    /// The lifecycle rebuilt from the flow and the recorded steps; steps that
    /// do not apply (e.g. two concurrent centre edits) are skipped.
    fn replay(&self) -> Result<Lifecycle, DocError> {
        let r = req_obj(&self.doc, &ROOT, "report", ObjType::Map)?;
        let source = Source::parse(&str_req(&self.doc, &r, "source")?)
            .ok_or_else(|| DocError::Field("report.source".into()))?;
        let mut lc = Lifecycle::new(source.flow());
        for s in read_steps(&self.doc)? {
            // A concurrent, no-longer-applicable step is history, not state.
            let _ = lc.apply(s.step, s.step.performed_by());
        }
        Ok(lc)
    }

    /// Reads the whole case into plain values.
    pub fn read(&self) -> Result<Case, DocError> {
        read_case(&self.doc)
    }
}

/// Reads a case document into plain values: the reader devices and the
/// server share (see [`crate::validate`]).
pub(crate) fn read_case(d: &Automerge) -> Result<Case, DocError> {
    let root = Fields::root(d);
    let id = expect_kind_of(&root, DocKind::Case)?;
    let r = root.req_map("report")?;
    let source_s = r.str_req("source")?;
    let source = Source::parse(&source_s).ok_or_else(|| DocError::Field("report.source".into()))?;
    let report = Report {
        category: r.str_req("category")?,
        lon: r.f64_req("lon")?,
        lat: r.f64_req("lat")?,
        accuracy_m: r.f64_req("accuracy_m")?,
        technical_grid: r.str_req("technical_grid")?,
        supervision_grid: r.str_req("supervision_grid")?,
        street: r.str_req("street")?,
        address: r.str_opt("address").unwrap_or_default(),
        description: r.str_opt("description").unwrap_or_default(),
        photos: r.str_list("photos"),
        reporter: r.str_req("reporter")?,
        source,
        created_at_ms: r.i64_req("created_at_ms")?,
    };
    let review = match root.map("review") {
        Some(rv) => match (rv.str_opt("reviewer"), rv.str_opt("verdict")) {
            (Some(reviewer), Some(v)) => Some(Review {
                reviewer,
                verdict: Verdict::parse(&v)
                    .ok_or_else(|| DocError::Field("review.verdict".into()))?,
                note: rv.str_opt("note").unwrap_or_default(),
                at_ms: rv.i64_opt("at_ms").unwrap_or_default(),
                reason: match rv.str_opt("reason") {
                    Some(r) => Some(
                        ReturnReason::parse(&r)
                            .ok_or_else(|| DocError::Field("review.reason".into()))?,
                    ),
                    None => None,
                },
                duplicate_of: rv.str_opt("duplicate_of"),
            }),
            _ => None,
        },
        None => None,
    };
    let flow = source.flow();
    let lifecycle = root.map("lifecycle");
    let state = match lifecycle.as_ref().and_then(|l| l.str_opt("state")) {
        Some(s) => CaseState::parse(&s).ok_or_else(|| DocError::Field("lifecycle.state".into()))?,
        None => Lifecycle::new(flow).state,
    };
    Ok(Case {
        id,
        report,
        review,
        flow,
        state,
        steps: match &lifecycle {
            Some(l) => steps_of(d, l)?,
            None => Vec::new(),
        },
        position_flags: r
            .str_list("position_flags")
            .iter()
            .map(|f| {
                PositionFlag::parse(f)
                    .ok_or_else(|| DocError::Field("report.position_flags".into()))
            })
            .collect::<Result<_, _>>()?,
        revised_at_ms: r.i64_opt("revised_at_ms"),
    })
}

fn read_steps(d: &Automerge) -> Result<Vec<LifecycleStep>, DocError> {
    match Fields::root(d).map("lifecycle") {
        Some(l) => steps_of(d, &l),
        None => Ok(Vec::new()),
    }
}

/// The steps of the `lifecycle` map `l`.
fn steps_of(d: &Automerge, l: &Fields<'_, Automerge>) -> Result<Vec<LifecycleStep>, DocError> {
    let Some(steps) = l.list("steps") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, s) in maps(d, &steps).into_iter().enumerate() {
        let Some(s) = s else {
            return Err(DocError::Field(format!("lifecycle.steps[{i}]")));
        };
        let step = Action::parse(&s.str_req("step")?)
            .ok_or_else(|| DocError::Field(format!("lifecycle.steps[{i}].step")))?;
        let state = CaseState::parse(&s.str_req("state")?)
            .ok_or_else(|| DocError::Field(format!("lifecycle.steps[{i}].state")))?;
        out.push(LifecycleStep {
            step,
            state,
            by: s.str_req("by")?,
            at_ms: s.i64_req("at_ms")?,
            note: s.str_opt("note").unwrap_or_default(),
            detail: StepDetail {
                unit: s.str_opt("unit"),
                due_at_ms: s.i64_opt("due_at_ms"),
                verification: s.str_opt("verification"),
                photos: s.str_list("photos"),
            },
        });
    }
    Ok(out)
}
