//! The one schema check of a stored document, run by the server after every
//! accepted change and by devices on everything they receive: the typed
//! reader ([`CaseDoc::read`](crate::CaseDoc::read) /
//! [`VerificationDoc::read`](crate::VerificationDoc::read)) plus range checks
//! and size limits. A document the server stores always passes it, so no
//! device can be handed one it cannot read.

use automerge::{Automerge, ReadDoc};
use gridpatrol_domain::taxonomy::{Level, Taxonomy};

use crate::case::read_case;
use crate::limits;
use crate::read::{header_of, maps, Fields};
use crate::verification::read_verification;
use crate::{Case, DocError, DocKind, Verification};

/// Where and when a document's values may lie.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// West edge of every WGS-84 position, degrees.
    pub min_lon: f64,
    /// South edge, degrees.
    pub min_lat: f64,
    /// East edge, degrees.
    pub max_lon: f64,
    /// North edge, degrees.
    pub max_lat: f64,
    /// Earliest time a report, review, step or result may carry, Unix ms.
    pub min_time_ms: i64,
    /// Latest such time (now plus the clock skew a phone may have), Unix ms.
    pub max_time_ms: i64,
    /// Latest deadline a verification task may set, Unix ms.
    pub max_due_ms: i64,
}

/// 2000-01-01T00:00:00Z: no GridPatrol record is older.
const EPOCH_2000_MS: i64 = 946_684_800_000;
/// A phone's clock may run this far ahead of the server's.
const CLOCK_SKEW_MS: i64 = 24 * 3600 * 1000;
/// A re-verification deadline is never further away than this.
const MAX_DUE_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;

impl Bounds {
    /// Bounds for a district whose bounding box is `[min_lon, min_lat,
    /// max_lon, max_lat]` (WGS-84), padded by `pad_deg` for GPS error, at
    /// the server time `now_ms`.
    pub fn for_district(bbox: [f64; 4], pad_deg: f64, now_ms: i64) -> Bounds {
        Bounds {
            min_lon: bbox[0] - pad_deg,
            min_lat: bbox[1] - pad_deg,
            max_lon: bbox[2] + pad_deg,
            max_lat: bbox[3] + pad_deg,
            min_time_ms: EPOCH_2000_MS,
            max_time_ms: now_ms.saturating_add(CLOCK_SKEW_MS),
            max_due_ms: now_ms.saturating_add(MAX_DUE_AHEAD_MS),
        }
    }

    fn check_position(&self, what: &str, lon: f64, lat: f64) -> Result<(), DocError> {
        let inside = lon.is_finite()
            && lat.is_finite()
            && (self.min_lon..=self.max_lon).contains(&lon)
            && (self.min_lat..=self.max_lat).contains(&lat);
        if inside {
            Ok(())
        } else {
            Err(DocError::Invalid(format!(
                "{what} ({lon}, {lat}) is outside the district"
            )))
        }
    }

    fn check_time(&self, what: &str, ms: i64) -> Result<(), DocError> {
        if (self.min_time_ms..=self.max_time_ms).contains(&ms) {
            Ok(())
        } else {
            Err(DocError::Invalid(format!(
                "{what} {ms} is not a plausible time (Unix ms between 2000 and tomorrow)"
            )))
        }
    }
}

/// A document that passed [`validate`], read into plain values.
#[derive(Debug, Clone, PartialEq)]
pub enum Valid {
    /// A case.
    Case(Box<Case>),
    /// A verification.
    Verification(Box<Verification>),
}

fn check_keys<D: ReadDoc>(
    fields: &Fields<'_, D>,
    what: &str,
    allowed: &[&str],
) -> Result<(), DocError> {
    match fields.keys().find(|k| !allowed.contains(k)) {
        Some(k) => Err(DocError::Invalid(format!("unknown field `{what}{k}`"))),
        None => Ok(()),
    }
}

fn check_part_keys(
    root: &Fields<'_, Automerge>,
    part: &str,
    allowed: &[&str],
) -> Result<(), DocError> {
    if !root.has(part) {
        return Ok(());
    }
    match root.map(part) {
        Some(m) => check_keys(&m, &format!("{part}."), allowed),
        None => Err(DocError::Field(part.to_string())),
    }
}

fn check_id(what: &str, s: &str) -> Result<(), DocError> {
    let ok =
        !s.is_empty() && s.len() <= limits::MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(DocError::Invalid(format!(
            "{what} `{}` must be 1..={} printable ASCII characters",
            s.chars().take(40).collect::<String>(),
            limits::MAX_ID_LEN
        )))
    }
}

fn check_text(what: &str, s: &str, max_chars: usize) -> Result<(), DocError> {
    let n = s.chars().count();
    if n <= max_chars {
        Ok(())
    } else {
        Err(DocError::Invalid(format!(
            "{what} has {n} characters; at most {max_chars}"
        )))
    }
}

fn check_digits(what: &str, s: &str, len: usize) -> Result<(), DocError> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(DocError::Invalid(format!(
            "{what} `{}` must be {len} digits",
            s.chars().take(40).collect::<String>()
        )))
    }
}

pub(crate) fn check_photo_count(what: &str, n: usize) -> Result<(), DocError> {
    if n <= limits::MAX_PHOTOS {
        Ok(())
    } else {
        Err(DocError::TooLarge(format!(
            "{what} lists {n} photos; at most {}",
            limits::MAX_PHOTOS
        )))
    }
}

/// Checks the document's size against [`limits`]: saved bytes (`saved_len`,
/// the length of `doc.save()`), changes and operations.
pub fn check_size(doc: &Automerge, saved_len: usize) -> Result<(), DocError> {
    if saved_len > limits::MAX_DOC_BYTES {
        return Err(DocError::TooLarge(format!(
            "the document would be {saved_len} bytes; at most {}",
            limits::MAX_DOC_BYTES
        )));
    }
    // Counted from the document's own tallies: collecting its changes to
    // count them cost more than the rest of the write gate's checks.
    let stats = doc.stats();
    let changes = usize::try_from(stats.num_changes).unwrap_or(usize::MAX);
    if changes > limits::MAX_DOC_CHANGES {
        return Err(DocError::TooLarge(format!(
            "the document would have {changes} changes; at most {}",
            limits::MAX_DOC_CHANGES
        )));
    }
    // Every operation held, deleted text included (a deletion marks the
    // operations it removes rather than adding one).
    let ops = usize::try_from(stats.num_ops).unwrap_or(usize::MAX);
    if ops > limits::MAX_DOC_OPS {
        return Err(DocError::TooLarge(format!(
            "the document would hold {ops} operations; at most {}",
            limits::MAX_DOC_OPS
        )));
    }
    Ok(())
}

/// Reads `doc` with the devices' reader and checks every value: known
/// fields only, enums known, identifiers and texts bounded, grid codes well
/// formed and nested, the category a fine class of the checklist, positions
/// inside `bounds`, accuracy ≥ 0, times plausible, list lengths within
/// [`limits`]. Size limits are [`check_size`]'s.
pub fn validate(doc: &Automerge, bounds: &Bounds) -> Result<Valid, DocError> {
    let root = Fields::root(doc);
    let kind = header_of(&root)?.0;
    match kind {
        DocKind::Case => {
            check_keys(
                &root,
                "",
                &["schema", "kind", "id", "report", "review", "lifecycle"],
            )?;
            check_part_keys(
                &root,
                "report",
                &[
                    "category",
                    "lon",
                    "lat",
                    "accuracy_m",
                    "technical_grid",
                    "supervision_grid",
                    "street",
                    "address",
                    "description",
                    "photos",
                    "reporter",
                    "source",
                    "created_at_ms",
                    "position_flags",
                    "revised_at_ms",
                ],
            )?;
            check_part_keys(
                &root,
                "review",
                &[
                    "reviewer",
                    "verdict",
                    "note",
                    "at_ms",
                    "reason",
                    "duplicate_of",
                ],
            )?;
            check_part_keys(&root, "lifecycle", &["state", "steps"])?;
            check_step_keys(&root)?;
            let case = read_case(doc)?;
            check_case(doc, &case, bounds)?;
            Ok(Valid::Case(Box::new(case)))
        }
        DocKind::Verification => {
            check_keys(
                &root,
                "",
                &["schema", "kind", "id", "case_id", "task", "result"],
            )?;
            check_part_keys(
                &root,
                "task",
                &["assignee", "kind", "due_at_ms", "created_by"],
            )?;
            check_part_keys(
                &root,
                "result",
                &["outcome", "note", "photos", "lon", "lat", "at_ms"],
            )?;
            let v = read_verification(doc)?;
            check_verification(&v, bounds)?;
            Ok(Valid::Verification(Box::new(v)))
        }
    }
}

fn check_case(doc: &Automerge, c: &Case, b: &Bounds) -> Result<(), DocError> {
    check_id("case id", &c.id)?;
    let r = &c.report;
    let fine = Taxonomy::builtin()
        .get(&r.category)
        .is_some_and(|n| n.level == Level::Fine);
    if !fine {
        return Err(DocError::UnknownCategory(
            r.category.chars().take(40).collect(),
        ));
    }
    b.check_position("report position", r.lon, r.lat)?;
    if !(r.accuracy_m.is_finite() && (0.0..=limits::MAX_ACCURACY_M).contains(&r.accuracy_m)) {
        return Err(DocError::Invalid(format!(
            "accuracy {} m must be between 0 and {} m",
            r.accuracy_m,
            limits::MAX_ACCURACY_M
        )));
    }
    check_digits("technical grid", &r.technical_grid, 15)?;
    check_digits("supervision grid", &r.supervision_grid, 12)?;
    check_digits("street", &r.street, 9)?;
    if !r.technical_grid.starts_with(&r.supervision_grid)
        || !r.supervision_grid.starts_with(&r.street)
    {
        return Err(DocError::Invalid(format!(
            "technical grid {} is not in supervision grid {} of street {}",
            r.technical_grid, r.supervision_grid, r.street
        )));
    }
    check_text("address", &r.address, limits::MAX_ADDRESS_CHARS)?;
    check_text("description", &r.description, limits::MAX_TEXT_CHARS)?;
    check_photo_count("the report", r.photos.len())?;
    crate::case::check_photos(&r.photos)?;
    // The reader skips list items that are not strings; a valid list has none.
    let root = Fields::root(doc);
    let stored = root.map("report").and_then(|rep| rep.list_len("photos"));
    if stored.is_some_and(|n| n != r.photos.len()) {
        return Err(DocError::Field("report.photos".into()));
    }
    check_id("reporter", &r.reporter)?;
    b.check_time("report time", r.created_at_ms)?;
    if let Some(rv) = &c.review {
        check_id("reviewer", &rv.reviewer)?;
        check_text("review note", &rv.note, limits::MAX_NOTE_CHARS)?;
        b.check_time("review time", rv.at_ms)?;
        if let Some(d) = &rv.duplicate_of {
            check_id("review.duplicate_of", d)?;
        }
    }
    if c.position_flags.len() > 2 {
        return Err(DocError::Field("report.position_flags".into()));
    }
    if let Some(t) = c.revised_at_ms {
        b.check_time("resubmission time", t)?;
    }
    if c.steps.len() > limits::MAX_STEPS {
        return Err(DocError::TooLarge(format!(
            "{} lifecycle steps; at most {}",
            c.steps.len(),
            limits::MAX_STEPS
        )));
    }
    for (i, s) in c.steps.iter().enumerate() {
        check_id(&format!("lifecycle.steps[{i}].by"), &s.by)?;
        check_text(
            &format!("lifecycle.steps[{i}].note"),
            &s.note,
            limits::MAX_NOTE_CHARS,
        )?;
        b.check_time(&format!("lifecycle.steps[{i}] time"), s.at_ms)?;
        if let Some(u) = &s.detail.unit {
            check_text(
                &format!("lifecycle.steps[{i}].unit"),
                u,
                limits::MAX_UNIT_CHARS,
            )?;
        }
        if let Some(d) = s.detail.due_at_ms {
            if !(b.min_time_ms..=b.max_due_ms).contains(&d) {
                return Err(DocError::Invalid(format!(
                    "lifecycle.steps[{i}] deadline {d} is not a plausible time"
                )));
            }
        }
        if let Some(v) = &s.detail.verification {
            check_id(&format!("lifecycle.steps[{i}].verification"), v)?;
        }
        crate::case::check_step_photos(&format!("lifecycle.steps[{i}]"), s.step, &s.detail.photos)?;
    }
    check_step_photo_lists(&root, c)
}

/// The reader skips list items that are not strings; a valid step photo
/// list has none (as for the report's).
fn check_step_photo_lists(root: &Fields<'_, Automerge>, c: &Case) -> Result<(), DocError> {
    for (i, (st, s)) in steps(root).iter().zip(&c.steps).enumerate() {
        let stored = st.as_ref().and_then(|st| st.list_len("photos"));
        if stored.is_some_and(|n| n != s.detail.photos.len()) {
            return Err(DocError::Field(format!("lifecycle.steps[{i}].photos")));
        }
    }
    Ok(())
}

/// Every lifecycle step holds only the fields a step has.
fn check_step_keys(root: &Fields<'_, Automerge>) -> Result<(), DocError> {
    for (i, s) in steps(root).iter().enumerate() {
        if let Some(s) = s {
            check_keys(
                s,
                &format!("lifecycle.steps[{i}]."),
                &[
                    "step",
                    "state",
                    "by",
                    "at_ms",
                    "note",
                    "unit",
                    "due_at_ms",
                    "verification",
                    "photos",
                ],
            )?;
        }
    }
    Ok(())
}

/// The lifecycle steps' fields (`None` for an item that is not a map).
fn steps<'a>(root: &Fields<'a, Automerge>) -> Vec<Option<Fields<'a, Automerge>>> {
    match root.map("lifecycle").and_then(|l| l.list("steps")) {
        Some(list) => maps(root.doc(), &list),
        None => Vec::new(),
    }
}

fn check_verification(v: &Verification, b: &Bounds) -> Result<(), DocError> {
    check_id("verification id", &v.id)?;
    check_id("case id", &v.case_id)?;
    check_id("assignee", &v.task.assignee)?;
    check_id("task creator", &v.task.created_by)?;
    if !(b.min_time_ms..=b.max_due_ms).contains(&v.task.due_at_ms) {
        return Err(DocError::Invalid(format!(
            "task deadline {} is not a plausible time",
            v.task.due_at_ms
        )));
    }
    if let Some(r) = &v.result {
        check_text("result note", &r.note, limits::MAX_NOTE_CHARS)?;
        check_photo_count("the result", r.photos.len())?;
        crate::case::check_photos(&r.photos)?;
        b.check_position("result position", r.lon, r.lat)?;
        b.check_time("result time", r.at_ms)?;
    }
    Ok(())
}
