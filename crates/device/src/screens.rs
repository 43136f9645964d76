//! What each screen asks of the device: map and position, patrol and
//! checklist, categories, photos, reports, case lists and detail,
//! re-verification tasks, the squad leader's review, sync.

use std::collections::HashSet;

use crate::local;
use gridpatrol_docs::{
    Case, CaseDoc, Outcome, PositionFlag, Report, ReportEdit, ReturnReason, Review, Source,
    Verdict, VerificationResult,
};
use gridpatrol_domain::lifecycle::{Action, CaseState};
use gridpatrol_domain::taxonomy::{Level, Taxonomy};
use gridpatrol_domain::time::{self, DAY_MS};
use gridpatrol_search::Boosts;
use gridpatrol_store::{CaseCursor, CaseQuery, CaseRow, PhotoMeta, Thumb, TrackPoint};

use crate::district::distance_m;
use crate::view::*;
use crate::{Account, Device, DeviceError, Result};

/// Worse than this, the fix is flagged "low accuracy" (metres).
pub const LOW_ACCURACY_M: f64 = 30.0;
/// A pass further than this from the case's point needs confirmation.
pub const FAR_FROM_POINT_M: f64 = 50.0;
/// Open cases of the same category this close are possible duplicates.
pub const DUPLICATE_RADIUS_M: f64 = 50.0;
/// Largest photo file accepted from the camera or a file.
pub const MAX_PHOTO_INPUT: usize = 40 << 20;

/// Start of the Beijing calendar day containing `t`, and its `YYYY-MM-DD`.
fn beijing_day(t: i64) -> (i64, String) {
    let day = time::beijing_day(t);
    (time::day_start_ms(day), day.format("%Y-%m-%d").to_string())
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Module => "module",
        Level::Major => "major",
        Level::Sub => "sub",
        Level::Fine => "fine",
    }
}

fn category_name(code: &str) -> String {
    Taxonomy::builtin()
        .get(code)
        .map_or_else(|| code.to_string(), |n| n.name.clone())
}

fn category_path(code: &str) -> String {
    let t = Taxonomy::builtin();
    let path = t.path(code);
    path.iter()
        .take(path.len().saturating_sub(1))
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(" › ")
}

fn badge(store: &gridpatrol_store::Store, id: &str) -> Result<SyncBadge> {
    use gridpatrol_store::SyncState;
    if let Some(reason) = store.quarantine_reason(id)? {
        return Ok(SyncBadge {
            state: "quarantined".into(),
            reason: Some(reason),
        });
    }
    Ok(match store.get_document(id)?.map(|d| d.sync_state) {
        Some(SyncState::Synced) => SyncBadge {
            state: "synced".into(),
            reason: None,
        },
        Some(SyncState::Syncing) => SyncBadge {
            state: "syncing".into(),
            reason: None,
        },
        Some(SyncState::Refused { reason }) => SyncBadge {
            state: "refused".into(),
            reason: Some(reason),
        },
        _ => SyncBadge {
            state: "local_only".into(),
            reason: None,
        },
    })
}

fn summary(store: &gridpatrol_store::Store, r: CaseRow) -> Result<CaseSummary> {
    let sync = badge(store, &r.id)?;
    Ok(CaseSummary {
        category_name: category_name(&r.category_code),
        sync,
        id: r.id,
        category: r.category_code,
        title: r.title,
        state: r.status,
        review: r.review,
        resubmitted: r.resubmitted,
        reporter: r.reporter,
        photo_count: r.photo_count,
        lon: r.lon,
        lat: r.lat,
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
    })
}

/// The six steps of the loop a recorded step belongs to. The centre closes
/// a case by recording the passed check (`verify_pass` leading to `closed`):
/// that step is the close, step 6, not a second re-verification.
fn stage_of(a: Action, after: CaseState) -> u8 {
    if after == CaseState::Closed {
        return 6;
    }
    match a {
        Action::File | Action::RefuseFiling | Action::TakeDirectly => 2,
        Action::Dispatch | Action::Escalate => 3,
        Action::ReportHandled => 4,
        Action::RequestVerification
        | Action::VerifyPass
        | Action::VerifyFail
        | Action::ConfirmOnSite => 5,
        Action::Evaluate | Action::Reply | Action::Satisfied | Action::NotSatisfied => 6,
    }
}

fn check_position(p: &Position) -> Result<()> {
    let ok = p.lon.is_finite()
        && p.lat.is_finite()
        && (-180.0..=180.0).contains(&p.lon)
        && (-90.0..=90.0).contains(&p.lat)
        && p.accuracy_m.is_finite()
        && p.accuracy_m >= 0.0;
    if ok {
        Ok(())
    } else {
        Err(DeviceError::Invalid("position out of range".into()))
    }
}

fn flags_of(p: &Position) -> Vec<PositionFlag> {
    let mut f = Vec::new();
    if p.manual {
        f.push(PositionFlag::Manual);
    }
    if p.mock {
        f.push(PositionFlag::Mock);
    }
    f
}

impl Account {
    pub(crate) fn area(&self) -> Result<&crate::district::Area> {
        self.area.as_ref().ok_or_else(|| {
            DeviceError::Internal("no district package on this device; sign in again online".into())
        })
    }

    fn boosts(&self) -> Result<Boosts> {
        let fav = self.store.favourites()?;
        let rec = self.store.recents(20)?;
        Ok(Boosts::new(&fav, &rec))
    }

    fn located(&self, position: Option<Position>) -> Located {
        let mut warnings = Vec::new();
        let Some(p) = position else {
            return Located {
                position: None,
                technical_grid: None,
                supervision_grid: None,
                street: None,
                inside_mine: false,
                warnings: vec!["no_fix".into()],
            };
        };
        if p.accuracy_m > LOW_ACCURACY_M {
            warnings.push("low_accuracy".into());
        }
        if p.mock {
            warnings.push("mock_location".into());
        }
        let hit = self.area.as_ref().and_then(|a| a.locate(p.lon, p.lat));
        match &hit {
            None => warnings.push("outside_area".into()),
            Some(h) if !h.mine => warnings.push("outside_my_grid".into()),
            Some(_) => {}
        }
        Located {
            technical_grid: hit.as_ref().map(|h| h.technical_grid.clone()),
            supervision_grid: hit.as_ref().map(|h| h.supervision_grid.clone()),
            street: hit.as_ref().map(|h| h.street.clone()),
            inside_mine: hit.as_ref().is_some_and(|h| h.mine),
            position: Some(p),
            warnings,
        }
    }

    fn patrol_view(&self, now: i64) -> Result<PatrolView> {
        let (start, _) = beijing_day(now);
        let points = self.store.track_points(start, start + DAY_MS)?;
        let visited: HashSet<&str> = points
            .iter()
            .filter_map(|p| p.technical_grid.as_deref())
            .collect();
        let area = self.area.as_ref();
        let mine: HashSet<&str> = area
            .map(|a| {
                a.package
                    .grids
                    .features
                    .iter()
                    .filter(|f| f.properties.mine)
                    .map(|f| f.properties.code.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let open = self.store.open_patrol(&self.me.id)?;
        Ok(PatrolView {
            open_since_ms: open.map(|p| p.started_at_ms),
            points_today: points.len() as u32,
            visited: visited.iter().filter(|c| mine.contains(*c)).count() as u32,
            total: mine.len() as u32,
            track: points.iter().map(|p| [p.lon, p.lat]).collect(),
        })
    }

    /// The name and role of an account this device knows: me, a member of
    /// my squad or a centre operator, from the district package.
    fn person(&self, id: &str) -> (Option<String>, Option<Role>) {
        if id == self.me.id {
            return (Some(self.me.name.clone()), Some(self.me.role));
        }
        self.area
            .as_ref()
            .and_then(|a| a.package.members.iter().find(|m| m.id == id))
            .map_or((None, None), |m| (Some(m.name.clone()), m.role))
    }

    /// Parallel to `photos`: whether each one's bytes are on this device.
    fn photos_here(&self, photos: &[String]) -> Result<Vec<bool>> {
        Ok(photos
            .iter()
            .map(|p| self.store.has_photo(p))
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn detail(&mut self, id: &str) -> Result<CaseDetail> {
        let row = self
            .store
            .get_case(id)?
            .ok_or_else(|| DeviceError::NotFound(format!("case {id}")))?;
        let case = self.read_case(id)?;
        let c = &case;
        let photos = c.report.photos.clone();
        let photo_available = self.photos_here(&photos)?;
        let name = |id: &str| self.person(id).0;
        let role = |id: &str| self.person(id).1;
        let mut timeline = vec![TimelineStep {
            stage: 1,
            action: "report".into(),
            state: "reported".into(),
            by: c.report.reporter.clone(),
            by_name: name(&c.report.reporter),
            by_role: role(&c.report.reporter),
            at_ms: c.report.created_at_ms,
            note: String::new(),
            unit: None,
            due_at_ms: None,
            photos: vec![],
            photo_available: vec![],
        }];
        if let Some(r) = &c.review {
            timeline.push(TimelineStep {
                stage: 1,
                action: "review".into(),
                state: r.verdict.as_str().into(),
                by: r.reviewer.clone(),
                by_name: name(&r.reviewer),
                by_role: role(&r.reviewer),
                at_ms: r.at_ms,
                note: r.note.clone(),
                unit: None,
                due_at_ms: None,
                photos: vec![],
                photo_available: vec![],
            });
        }
        if let Some(t) = c.revised_at_ms {
            timeline.push(TimelineStep {
                stage: 1,
                action: "resubmit".into(),
                state: "reported".into(),
                by: c.report.reporter.clone(),
                by_name: name(&c.report.reporter),
                by_role: role(&c.report.reporter),
                at_ms: t,
                note: String::new(),
                unit: None,
                due_at_ms: None,
                photos: vec![],
                photo_available: vec![],
            });
        }
        for s in &c.steps {
            timeline.push(TimelineStep {
                stage: stage_of(s.step, s.state),
                action: s.step.as_str().into(),
                state: s.state.as_str().into(),
                by: s.by.clone(),
                by_name: name(&s.by),
                by_role: role(&s.by),
                at_ms: s.at_ms,
                note: s.note.clone(),
                unit: s.detail.unit.clone(),
                due_at_ms: s.detail.due_at_ms,
                photo_available: self.photos_here(&s.detail.photos)?,
                photos: s.detail.photos.clone(),
            });
        }
        timeline.sort_by_key(|s| s.at_ms);
        let is_mine = c.report.reporter == self.me.id;
        let returned = matches!(
            c.review.as_ref().map(|r| r.verdict),
            Some(Verdict::NeedsFix)
        ) && !c.resubmitted();
        // A leader reviews a report before the centre takes it up; once
        // filed (or closed) there is nothing left to approve or return.
        let can_review = self.me.role == Role::SquadLeader
            && c.state == CaseState::Reported
            && self.area.as_ref().is_some_and(|a| {
                a.package
                    .supervision_grids
                    .contains(&c.report.supervision_grid)
            });
        Ok(CaseDetail {
            summary: summary(&self.store, row)?,
            reporter_name: name(&c.report.reporter),
            category_path: category_path(&c.report.category),
            address: c.report.address.clone(),
            description: c.report.description.clone(),
            accuracy_m: c.report.accuracy_m,
            position_flags: c
                .position_flags
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
            technical_grid: c.report.technical_grid.clone(),
            supervision_grid: c.report.supervision_grid.clone(),
            photos,
            photo_available,
            review: c.review.as_ref().map(|r| ReviewView {
                reviewer: r.reviewer.clone(),
                reviewer_name: name(&r.reviewer),
                verdict: r.verdict.as_str().into(),
                reason: r.reason.map(|x| x.as_str().to_string()),
                duplicate_of: r.duplicate_of.clone(),
                note: r.note.clone(),
                at_ms: r.at_ms,
            }),
            timeline,
            can_resubmit: is_mine && returned,
            can_review,
        })
    }

    fn task_row(&self, me: &str, id: &str) -> Result<gridpatrol_store::TaskRow> {
        self.store
            .tasks_for(me)?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| DeviceError::NotFound(format!("task {id}")))
    }

    fn read_case(&mut self, id: &str) -> Result<Case> {
        let doc = local::load_case(&mut self.store, id)?
            .ok_or_else(|| DeviceError::NotFound(format!("case {id}")))?;
        Ok(doc.read()?)
    }

    fn task_view(
        &mut self,
        t: gridpatrol_store::TaskRow,
        here: Option<&Position>,
    ) -> Result<TaskView> {
        let (lon, lat, name) = match self.store.get_case(&t.case_id)? {
            Some(c) => (c.lon, c.lat, category_name(&c.category_code)),
            None => (0.0, 0.0, String::new()),
        };
        let far = match local::load_verification(&mut self.store, &t.id)? {
            Some(v) => v
                .read()?
                .result
                .is_some_and(|r| distance_m((r.lon, r.lat), (lon, lat)) > FAR_FROM_POINT_M),
            None => false,
        };
        Ok(TaskView {
            sync: badge(&self.store, &t.id)?,
            distance_m: here.map(|p| distance_m((p.lon, p.lat), (lon, lat))),
            id: t.id,
            case_id: t.case_id,
            category_name: name,
            kind: t.kind,
            due_at_ms: t.due_at_ms,
            lon,
            lat,
            outcome: t.outcome,
            far,
        })
    }
}

impl Device {
    fn after_save(&self) {
        self.sync.refresh_pending_from(&self.lock());
        self.sync.trigger();
    }

    /// The current fix: the platform's latest (fed by the shell) if fresh,
    /// else the position source's.
    fn fix(&self) -> Option<Position> {
        let fed = self
            .fed_fix
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match fed {
            Some(p) if self.now() - p.at_ms < 60_000 => Some(p),
            _ => self.cfg.position.current(),
        }
    }

    /// A fix from the platform's geolocation (mobile shells forward them).
    pub fn report_position(&self, p: Position) -> Result<()> {
        check_position(&p)?;
        *self.fed_fix.lock().unwrap_or_else(|p| p.into_inner()) = Some(p);
        Ok(())
    }

    /// Where I am, with warnings.
    pub fn locate(&self) -> Result<Located> {
        let fix = self.fix();
        self.with_account(|a| Ok(a.located(fix)))
    }

    /// Where a manually placed pin falls.
    pub fn locate_at(&self, lon: f64, lat: f64) -> Result<Located> {
        let p = Position {
            lon,
            lat,
            accuracy_m: 0.0,
            mock: false,
            manual: true,
            at_ms: self.now(),
        };
        check_position(&p)?;
        self.with_account(|a| Ok(a.located(Some(p))))
    }

    /// The patrol map: my grids, today's visited cells, open case pins.
    pub fn map_view(&self) -> Result<MapView> {
        let now = self.now();
        self.with_account(|a| {
            let (start, _) = beijing_day(now);
            let visited: HashSet<String> = a
                .store
                .track_points(start, start + DAY_MS)?
                .into_iter()
                .filter_map(|p| p.technical_grid)
                .collect();
            let area = a.area()?;
            let pins = a
                .store
                .open_cases_in(&area.package.supervision_grids, 500)?
                .into_iter()
                .map(|c| Pin {
                    label: category_name(&c.category_code),
                    id: c.id,
                    lon: c.lon,
                    lat: c.lat,
                })
                .collect();
            Ok(MapView {
                grids: area.map_grids(&visited),
                bbox: area.my_bbox(),
                street: area
                    .package
                    .street
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                checklist_version: area.package.checklist_version.clone(),
                pins,
            })
        })
    }

    /// Today's patrol.
    pub fn patrol(&self) -> Result<PatrolView> {
        let now = self.now();
        self.with_account(|a| a.patrol_view(now))
    }

    /// Starts a patrol of my grid (and records where I am).
    pub fn start_patrol(&self) -> Result<PatrolView> {
        let now = self.now();
        self.with_account(|a| {
            let grid =
                a.me.supervision_grid
                    .clone()
                    .or_else(|| {
                        a.area
                            .as_ref()
                            .and_then(|x| x.package.supervision_grids.first().cloned())
                    })
                    .ok_or_else(|| {
                        DeviceError::NotAllowed("this account has no grid to patrol".into())
                    })?;
            if a.store.open_patrol(&a.me.id)?.is_none() {
                a.store.start_patrol(&a.me.id, &grid, now)?;
            }
            Ok(())
        })?;
        self.track_point()
    }

    /// Ends the open patrol.
    pub fn end_patrol(&self) -> Result<PatrolView> {
        let now = self.now();
        self.with_account(|a| {
            if let Some(p) = a.store.open_patrol(&a.me.id)? {
                a.store.end_patrol(p.id, now.max(p.started_at_ms))?;
            }
            a.patrol_view(now)
        })
    }

    /// Records the current fix on the open patrol's track (the UI calls it
    /// on a timer while patrolling).
    pub fn track_point(&self) -> Result<PatrolView> {
        let now = self.now();
        let fix = self.fix();
        self.with_account(|a| {
            if let (Some(p), Some(open)) = (fix, a.store.open_patrol(&a.me.id)?) {
                let hit = a.area.as_ref().and_then(|x| x.locate(p.lon, p.lat));
                a.store.add_track_point(
                    open.id,
                    &TrackPoint {
                        at_ms: now,
                        lon: p.lon,
                        lat: p.lat,
                        accuracy_m: p.accuracy_m,
                        technical_grid: hit.map(|h| h.technical_grid),
                    },
                )?;
            }
            a.patrol_view(now)
        })
    }

    /// The patrol checklist: favourites, then recents, then the fine
    /// classes of open cases in my grids, each with today's tick.
    pub fn checklist(&self) -> Result<Vec<ChecklistItem>> {
        let (_, day) = beijing_day(self.now());
        self.with_account(|a| {
            let fav = a.store.favourites()?;
            let rec = a.store.recents(20)?;
            let ticks: HashSet<String> = a.store.ticks(&day)?.into_iter().collect();
            let grids = a
                .area
                .as_ref()
                .map(|x| x.package.supervision_grids.clone())
                .unwrap_or_default();
            let open: Vec<String> = a
                .store
                .open_cases_in(&grids, 200)?
                .into_iter()
                .map(|c| c.category_code)
                .collect();
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            let t = Taxonomy::builtin();
            for code in fav.iter().chain(&rec).chain(&open) {
                if !seen.insert(code.clone()) || out.len() >= 60 {
                    continue;
                }
                let Some(n) = t.get(code) else { continue };
                out.push(ChecklistItem {
                    code: code.clone(),
                    name: n.name.clone(),
                    path: category_path(code),
                    favourite: fav.contains(code),
                    recent: rec.contains(code),
                    checked_today: ticks.contains(code),
                });
            }
            Ok(out)
        })
    }

    /// Ticks a checklist item "checked, no problem" for today.
    pub fn check_item(&self, code: &str) -> Result<Vec<ChecklistItem>> {
        if Taxonomy::builtin().get(code).is_none() {
            return Err(DeviceError::NotFound(format!("category {code}")));
        }
        let now = self.now();
        let (_, day) = beijing_day(now);
        self.with_account(|a| Ok(a.store.tick(&day, code, now)?))?;
        self.checklist()
    }

    /// Category search (hanzi, pinyin, initials or code), fine classes
    /// first, my favourites and recents lifted.
    pub fn search_categories(&self, query: &str, limit: u32) -> Result<Vec<Category>> {
        if query.chars().count() > 100 {
            return Err(DeviceError::Invalid(
                "search text longer than 100 characters".into(),
            ));
        }
        let (boosts, fav) = self.with_account(|a| Ok((a.boosts()?, a.store.favourites()?)))?;
        let limit = limit.clamp(1, 100) as usize;
        Ok(self
            .index()
            .search(query, limit, &boosts)
            .into_iter()
            .map(|h| Category {
                favourite: fav.iter().any(|f| f == h.code),
                code: h.code.to_string(),
                name: h.name.to_string(),
                path: category_path(h.code),
                level: level_str(h.level).into(),
            })
            .collect())
    }

    /// The children of a category (`None`: the 11 modules).
    pub fn browse_categories(&self, parent: Option<&str>) -> Result<Vec<Category>> {
        let t = Taxonomy::builtin();
        let parent = parent.unwrap_or("");
        if !parent.is_empty() && t.get(parent).is_none() {
            return Err(DeviceError::NotFound(format!("category {parent}")));
        }
        let fav = self.with_account(|a| Ok(a.store.favourites()?))?;
        Ok(t.children(parent)
            .map(|n| Category {
                code: n.code.clone(),
                name: n.name.clone(),
                path: category_path(&n.code),
                level: level_str(n.level).into(),
                favourite: fav.contains(&n.code),
            })
            .collect())
    }

    /// Stars or unstars a fine class.
    pub fn set_favourite(&self, code: &str, on: bool) -> Result<()> {
        if Taxonomy::builtin().get(code).is_none() {
            return Err(DeviceError::NotFound(format!("category {code}")));
        }
        let now = self.now();
        self.with_account(|a| Ok(a.store.set_favourite(code, on, now)?))
    }

    /// Runs a photo (camera or file bytes) through the pipeline (upright,
    /// resized, stamped with time, position and grid) and stores it with
    /// its thumbnail. The bytes of a refused file are not kept.
    pub fn add_photo(&self, bytes: &[u8]) -> Result<Photo> {
        if bytes.len() > MAX_PHOTO_INPUT {
            return Err(DeviceError::PhotoRefused(format!(
                "{} bytes; at most {MAX_PHOTO_INPUT}",
                bytes.len()
            )));
        }
        let now = self.now();
        let fix = self.fix();
        let grid = self.with_account(|a| {
            Ok(fix
                .as_ref()
                .and_then(|p| a.area.as_ref().and_then(|x| x.locate(p.lon, p.lat)))
                .map(|h| h.technical_grid))
        })?;
        let capture = gridpatrol_media::Capture {
            device_time: time::at_beijing(now),
            device_position: fix.as_ref().map(|p| gridpatrol_media::LonLat {
                lon: p.lon,
                lat: p.lat,
            }),
            grid_code: grid.and_then(|g| g.parse::<gridpatrol_media::GridCode>().ok()),
        };
        // Decoding a 12 MP photo takes a while: not under the account lock.
        let processed =
            gridpatrol_media::process(bytes, &capture, &gridpatrol_media::Options::default())
                .map_err(|e| DeviceError::PhotoRefused(e.to_string()))?;
        let meta = PhotoMeta {
            mime: "image/jpeg".into(),
            taken_at_ms: now,
            lon: fix.as_ref().map(|p| p.lon),
            lat: fix.as_ref().map(|p| p.lat),
        };
        self.with_account(|a| {
            let thumb = a.store.put_photo(&processed.thumb.bytes, &meta)?;
            let sha = a.store.put_photo(&processed.photo.bytes, &meta)?;
            a.store.set_thumb(
                &sha,
                &Thumb {
                    sha256: thumb.clone(),
                    width: processed.thumb.width,
                    height: processed.thumb.height,
                },
            )?;
            Ok(Photo {
                sha256: sha,
                thumb_sha256: thumb,
                width: processed.photo.width,
                height: processed.photo.height,
                bytes: processed.photo.bytes.len() as u64,
            })
        })
    }

    /// The bytes of a stored photo (or thumbnail), for the UI's image URLs.
    pub fn photo_bytes(&self, sha: &str) -> Result<Vec<u8>> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DeviceError::Invalid(
                "photo id must be 64 hex digits".into(),
            ));
        }
        let path = self.with_account(|a| Ok(a.store.photo_path(sha)?))?;
        let path = path.ok_or_else(|| DeviceError::NotFound(format!("photo {sha}")))?;
        std::fs::read(path).map_err(|e| DeviceError::Internal(format!("photo {sha}: {e}")))
    }

    /// The thumbnail id of a stored photo.
    pub fn thumb_of(&self, sha: &str) -> Result<Option<String>> {
        self.with_account(|a| Ok(a.store.thumb(sha)?.map(|t| t.sha256)))
    }

    /// Saves a new report: one store transaction, no network. It is queued
    /// for sync at once and shows in My cases as "local only".
    pub fn save_case(&self, draft: CaseDraft) -> Result<CaseSummary> {
        check_position(&draft.position)?;
        let t = Taxonomy::builtin();
        match t.get(&draft.category) {
            Some(n) if n.level == Level::Fine => {}
            _ => {
                return Err(DeviceError::Invalid(format!(
                    "category {}: choose a fine class",
                    draft.category
                )))
            }
        }
        let now = self.now();
        let r = self.with_account(|a| {
            for p in &draft.photos {
                if !a.store.has_photo(p)? {
                    return Err(DeviceError::NotFound(format!("photo {p}")));
                }
            }
            let hit = a
                .area()?
                .locate(draft.position.lon, draft.position.lat)
                .ok_or(DeviceError::OutsideArea)?;
            let suffix: u32 = rand::random();
            let id = format!("{}-{}-{:08x}", a.me.id, now, suffix);
            let report = Report {
                category: draft.category.clone(),
                lon: draft.position.lon,
                lat: draft.position.lat,
                accuracy_m: draft.position.accuracy_m,
                technical_grid: hit.technical_grid,
                supervision_grid: hit.supervision_grid,
                street: hit.street,
                address: draft.address.trim().to_string(),
                description: draft.description.trim().to_string(),
                photos: draft.photos.clone(),
                reporter: a.me.id.clone(),
                source: Source::Patrol,
                created_at_ms: now,
            };
            let actor = local::device_actor(&mut a.store)?;
            let case = CaseDoc::create_flagged(actor, &id, &report, &flags_of(&draft.position))?;
            local::save_case(&mut a.store, &case, now)?;
            a.store.touch_recent(&draft.category, now)?;
            let row = a
                .store
                .get_case(&id)?
                .ok_or_else(|| DeviceError::Internal("saved case not found".into()))?;
            summary(&a.store, row)
        })?;
        self.after_save();
        Ok(r)
    }

    /// Open cases of `category` within 50 m of a point (offline).
    pub fn duplicates(&self, category: &str, lon: f64, lat: f64) -> Result<Vec<CaseSummary>> {
        // 50 m is ~0.00045° of latitude; longitude degrees shrink with cos(lat).
        let dlat = DUPLICATE_RADIUS_M / 111_320.0;
        let dlon = dlat / lat.to_radians().cos().max(0.1);
        self.with_account(|a| {
            a.store
                .open_cases_near(
                    category,
                    [lon - dlon, lat - dlat, lon + dlon, lat + dlat],
                    50,
                )?
                .into_iter()
                .filter(|c| distance_m((c.lon, c.lat), (lon, lat)) <= DUPLICATE_RADIUS_M)
                .map(|c| summary(&a.store, c))
                .collect()
        })
    }

    /// A page of cases (keyset): my own, or for a leader the squad's.
    pub fn list_cases(&self, f: CaseFilter) -> Result<CasePage> {
        let limit = match f.limit {
            0 => 50,
            n => n.min(200),
        };
        self.with_account(|a| {
            let q = CaseQuery {
                reporter: if f.mine {
                    Some(a.me.id.clone())
                } else {
                    f.reporter.clone()
                },
                status: f.state.clone(),
                review: f.review.clone(),
                category: f.category.clone(),
                from_ms: f.from_ms,
                to_ms: f.to_ms,
                supervision_grids: Vec::new(),
            };
            let after = f.after.as_ref().map(|c| CaseCursor {
                updated_at_ms: c.updated_at_ms,
                id: c.id.clone(),
            });
            let (rows, next) = a.store.query_cases(&q, after.as_ref(), limit)?;
            let total = a.store.count_cases(&q)? as u32;
            Ok(CasePage {
                items: rows
                    .into_iter()
                    .map(|r| summary(&a.store, r))
                    .collect::<Result<_>>()?,
                next: next.map(|c| Cursor {
                    updated_at_ms: c.updated_at_ms,
                    id: c.id,
                }),
                total,
            })
        })
    }

    /// A case with photos, review and timeline.
    pub fn case_detail(&self, id: &str) -> Result<CaseDetail> {
        self.with_account(|a| a.detail(id))
    }

    /// Corrects my returned report and resubmits it for review.
    pub fn resubmit_case(&self, id: &str, edit: CaseEdit) -> Result<CaseDetail> {
        let now = self.now();
        if let Some(p) = &edit.position {
            check_position(p)?;
        }
        if let Some(c) = &edit.category {
            match Taxonomy::builtin().get(c) {
                Some(n) if n.level == Level::Fine => {}
                _ => {
                    return Err(DeviceError::Invalid(format!(
                        "category {c}: choose a fine class"
                    )))
                }
            }
        }
        let r = self.with_account(|a| {
            let d = a.detail(id)?;
            if !d.can_resubmit {
                return Err(DeviceError::NotAllowed(format!(
                    "case {id} is not a returned report of yours"
                )));
            }
            for p in &edit.add_photos {
                if !a.store.has_photo(p)? {
                    return Err(DeviceError::NotFound(format!("photo {p}")));
                }
            }
            if let Some(p) = &edit.position {
                let hit = a
                    .area()?
                    .locate(p.lon, p.lat)
                    .ok_or(DeviceError::OutsideArea)?;
                if hit.supervision_grid != d.supervision_grid {
                    return Err(DeviceError::Invalid(
                        "a correction must stay in the case's supervision grid".into(),
                    ));
                }
            }
            let re = ReportEdit {
                category: edit.category.clone(),
                location: edit.position.as_ref().map(|p| (p.lon, p.lat, p.accuracy_m)),
                address: edit.address.clone(),
                description: edit.description.clone(),
                add_photos: edit.add_photos.clone(),
                position_flags: edit.position.as_ref().map(flags_of),
                revised_at_ms: Some(now),
            };
            local::edit_case(&mut a.store, id, now, |c| c.edit_report(&re))?;
            if let Some(c) = &edit.category {
                a.store.touch_recent(c, now)?;
            }
            a.detail(id)
        })?;
        self.after_save();
        Ok(r)
    }

    /// My re-verification tasks, by deadline then distance.
    pub fn list_tasks(&self) -> Result<Vec<TaskView>> {
        let fix = self.fix();
        self.with_account(|a| {
            let rows = a.store.tasks_for(&a.me.id.clone())?;
            let mut out = rows
                .into_iter()
                .map(|t| a.task_view(t, fix.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            out.sort_by(|x, y| {
                (x.outcome.is_some(), x.due_at_ms)
                    .cmp(&(y.outcome.is_some(), y.due_at_ms))
                    .then(
                        x.distance_m
                            .unwrap_or(f64::MAX)
                            .total_cmp(&y.distance_m.unwrap_or(f64::MAX)),
                    )
            });
            Ok(out)
        })
    }

    /// A task with its case, for the on-site screen.
    pub fn task_detail(&self, id: &str) -> Result<TaskDetail> {
        let fix = self.fix();
        self.with_account(|a| {
            let me = a.me.id.clone();
            let row = a.task_row(&me, id)?;
            let v = local::load_verification(&mut a.store, id)?
                .ok_or_else(|| DeviceError::NotFound(format!("task {id}")))?
                .read()?;
            let case_id = row.case_id.clone();
            let task = a.task_view(row, fix.as_ref())?;
            let after_photos = v
                .result
                .as_ref()
                .map(|r| r.photos.clone())
                .unwrap_or_default();
            let after_photo_available = a.photos_here(&after_photos)?;
            Ok(TaskDetail {
                case: a.detail(&case_id)?,
                note: v
                    .result
                    .as_ref()
                    .map(|r| r.note.clone())
                    .unwrap_or_default(),
                after_photos,
                after_photo_available,
                task,
            })
        })
    }

    /// Records my on-site result. A pass more than 50 m from the case's
    /// point is refused with `far_from_point` unless confirmed.
    pub fn submit_verification(&self, id: &str, input: VerificationInput) -> Result<TaskView> {
        check_position(&input.position)?;
        let now = self.now();
        let r = self.with_account(|a| {
            let me = a.me.id.clone();
            let row = a.task_row(&me, id)?;
            let case = a
                .store
                .get_case(&row.case_id)?
                .ok_or_else(|| DeviceError::NotFound(format!("case {}", row.case_id)))?;
            let d = distance_m(
                (input.position.lon, input.position.lat),
                (case.lon, case.lat),
            );
            if input.pass && d > FAR_FROM_POINT_M && !input.confirm_far {
                return Err(DeviceError::FarFromPoint { distance_m: d });
            }
            for p in &input.photos {
                if !a.store.has_photo(p)? {
                    return Err(DeviceError::NotFound(format!("photo {p}")));
                }
            }
            let result = VerificationResult {
                outcome: if input.pass {
                    Outcome::Pass
                } else {
                    Outcome::Fail
                },
                note: input.note.trim().to_string(),
                photos: input.photos.clone(),
                lon: input.position.lon,
                lat: input.position.lat,
                at_ms: now,
            };
            local::edit_verification(&mut a.store, id, now, |v| v.set_result(&result))?;
            let row = a.task_row(&me, id)?;
            a.task_view(row, Some(&input.position))
        })?;
        self.after_save();
        Ok(r)
    }

    /// The members of my squad, me included (leaders filter by them).
    pub fn team(&self) -> Result<Vec<Member>> {
        self.with_account(|a| {
            Ok(a.area()?
                .package
                .members
                .iter()
                .filter(|m| m.role != Some(Role::CentreOperator))
                .map(|m| Member {
                    id: m.id.clone(),
                    name: m.name.clone(),
                })
                .collect())
        })
    }

    /// A squad leader approves a report or returns it with a reason.
    pub fn review_case(&self, id: &str, input: ReviewInput) -> Result<CaseDetail> {
        let now = self.now();
        let reason = match (&input.reason, input.approve) {
            (_, true) => None,
            (None, false) => {
                return Err(DeviceError::Invalid(
                    "returning a report needs a reason".into(),
                ))
            }
            (Some(r), false) => Some(
                ReturnReason::parse(r)
                    .ok_or_else(|| DeviceError::Invalid(format!("return reason {r:?}")))?,
            ),
        };
        let duplicate_of = match reason {
            Some(ReturnReason::Duplicate) => Some(
                input
                    .duplicate_of
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        DeviceError::Invalid("name the case this one duplicates".into())
                    })?
                    .to_string(),
            ),
            _ => None,
        };
        let verdict = match (input.approve, reason) {
            (true, _) => Verdict::Approved,
            // Not a problem, or already reported: nothing to correct.
            (false, Some(ReturnReason::NotAProblem | ReturnReason::Duplicate)) => Verdict::Rejected,
            (false, _) => Verdict::NeedsFix,
        };
        let r = self.with_account(|a| {
            let d = a.detail(id)?;
            if !d.can_review {
                return Err(DeviceError::NotAllowed(format!(
                    "case {id} is not a report of your squad"
                )));
            }
            let review = Review {
                reviewer: a.me.id.clone(),
                verdict,
                note: input.comment.trim().to_string(),
                at_ms: now,
                reason,
                duplicate_of: duplicate_of.clone(),
            };
            local::edit_case(&mut a.store, id, now, |c| c.set_review(&review))?;
            a.detail(id)
        })?;
        self.after_save();
        Ok(r)
    }

    /// Runs a sync session now and returns the status after it.
    pub async fn sync_now(&self) -> SyncStatus {
        self.sync.sync_now().await
    }

    /// The sync status.
    pub fn sync_status(&self) -> SyncStatus {
        self.sync.status()
    }
}

#[cfg(test)]
mod tests {
    use super::beijing_day;

    #[test]
    fn beijing_days_start_at_16_utc() {
        // 2026-12-02 15:59:59 UTC is still 23:59:59 on 12-02 in Beijing.
        let t = 1_796_227_199_000;
        let (start, day) = beijing_day(t);
        assert_eq!(day, "2026-12-02");
        assert_eq!(start, 1_796_140_800_000);
        assert_eq!(beijing_day(t + 1000).1, "2026-12-03");
    }
}
