//! The serialisable view models the screens render, and the inputs they send.
//! TypeScript bindings for the UI are generated from these types (ts-rs,
//! `ui/src/lib/bindings/`); a test fails when the committed files are stale.
//! Field names are snake_case on both sides; times are Unix ms (UTC);
//! coordinates are WGS-84 degrees.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Who is signed in on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Me {
    /// Account id (`I0001`…).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role: decides the navigation (`inspector`, `squad_leader`, …).
    pub role: Role,
    /// Squad id.
    pub squad: Option<String>,
    /// The supervision grid assigned to this account.
    pub supervision_grid: Option<String>,
    /// Server base URL this device syncs with.
    pub server: String,
}

/// An account's role: the domain's own type (one definition), whose
/// TypeScript binding the domain derives with its `ts` feature.
pub use gridpatrol_domain::roles::Role;

/// What the sign-in screen sends. The password is used once, for the
/// server's token, and never stored; `Debug` redacts it.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SignIn {
    /// Server base URL.
    pub server: String,
    /// Account id.
    pub user_id: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("server", &self.server)
            .field("user_id", &self.user_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The result of asking to sign out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SignOut {
    /// True when the device is now signed out.
    pub signed_out: bool,
    /// Documents and photos not yet on the server. With `force = false` and
    /// unsynced work the device stays signed in so the UI can warn; work is
    /// never deleted either way (it stays in this account's store).
    pub unsynced_docs: u32,
    /// Photos not yet uploaded.
    pub unsynced_photos: u32,
    /// Whether the server confirmed the token's revocation (false offline:
    /// the token is forgotten on the device and expires on the server).
    pub revoked_on_server: bool,
}

/// One grid outline for the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MapGrid {
    /// Grid code (12-digit supervision, 15-digit technical).
    pub code: String,
    /// `supervision` or `technical`.
    pub level: GridLevel,
    /// Display name (supervision grids).
    pub name: String,
    /// True for the signed-in account's own grid(s).
    pub mine: bool,
    /// Outer rings, each `[lon, lat]` points.
    pub rings: Vec<Vec<[f64; 2]>>,
    /// Visited on today's patrols (technical grids).
    pub visited: bool,
}

/// Which grid level a [`MapGrid`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GridLevel {
    /// 12-digit supervision grid.
    Supervision,
    /// 15-digit technical grid.
    Technical,
}

/// The cached district package, as the patrol map draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MapView {
    /// Supervision and technical grids in scope.
    pub grids: Vec<MapGrid>,
    /// `[west, south, east, north]` of my grid(s).
    pub bbox: [f64; 4],
    /// Street name of my grid.
    pub street: String,
    /// Checklist version the package was made with.
    pub checklist_version: String,
    /// Open cases in scope, as pins.
    pub pins: Vec<Pin>,
}

/// A case pin on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Pin {
    /// Case id.
    pub id: String,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Category name.
    pub label: String,
}

/// A position fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Position {
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Horizontal accuracy, metres.
    pub accuracy_m: f64,
    /// The platform says the fix came from a mock provider.
    pub mock: bool,
    /// Placed by hand on the map (no usable fix).
    pub manual: bool,
    /// When the fix was taken.
    pub at_ms: i64,
}

/// Where a position falls, with what the inspector should be warned about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Located {
    /// The fix (none when the position source has none).
    pub position: Option<Position>,
    /// 15-digit technical grid, when inside the package's area.
    pub technical_grid: Option<String>,
    /// 12-digit supervision grid.
    pub supervision_grid: Option<String>,
    /// 9-digit street code.
    pub street: Option<String>,
    /// Inside the account's own grid(s).
    pub inside_mine: bool,
    /// Warnings, as stable codes the UI words: `no_fix`, `low_accuracy`
    /// (> 30 m), `mock_location`, `outside_my_grid`, `outside_area`.
    pub warnings: Vec<String>,
}

/// Today's patrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PatrolView {
    /// Start of the open patrol, if one is open.
    pub open_since_ms: Option<i64>,
    /// Track points recorded today.
    pub points_today: u32,
    /// My technical grids visited today.
    pub visited: u32,
    /// My technical grids.
    pub total: u32,
    /// Today's track, `[lon, lat]` in order.
    pub track: Vec<[f64; 2]>,
}

/// One line of the patrol checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChecklistItem {
    /// Fine-class code.
    pub code: String,
    /// Fine-class name.
    pub name: String,
    /// Module › major › sub names.
    pub path: String,
    /// Starred by me.
    pub favourite: bool,
    /// Reported by me lately.
    pub recent: bool,
    /// Ticked "checked, no problem" today.
    pub checked_today: bool,
}

/// One category search result or browse entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Category {
    /// Code (2, 4, 6 or 9 digits by level).
    pub code: String,
    /// Name.
    pub name: String,
    /// Names of the levels above, joined with " › ".
    pub path: String,
    /// `module`, `major`, `sub` or `fine`.
    pub level: String,
    /// Starred by me (fine classes).
    pub favourite: bool,
}

/// A photo in the device store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Photo {
    /// SHA-256 hex of the stored photo: its id.
    pub sha256: String,
    /// SHA-256 hex of its thumbnail.
    pub thumb_sha256: String,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// Stored size, bytes.
    pub bytes: u64,
}

/// A new report as the report screen sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseDraft {
    /// Fine-class code.
    pub category: String,
    /// Where (a fix or a manual pin).
    pub position: Position,
    /// Free-text address.
    pub address: String,
    /// What the inspector saw.
    pub description: String,
    /// Photos added with [`crate::Device::add_photo`], in order.
    pub photos: Vec<String>,
}

/// A correction to my own report (returned ones, before resubmitting).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseEdit {
    /// New fine-class code.
    pub category: Option<String>,
    /// New position.
    pub position: Option<Position>,
    /// New address.
    pub address: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Photos to append.
    pub add_photos: Vec<String>,
}

/// A document's sync badge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncBadge {
    /// `local_only`, `syncing`, `synced`, `refused` or `quarantined`.
    pub state: String,
    /// The server's reason (refused) or the reader's (quarantined).
    pub reason: Option<String>,
}

/// A row of a case list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseSummary {
    /// Case id.
    pub id: String,
    /// Fine-class code.
    pub category: String,
    /// Fine-class name.
    pub category_name: String,
    /// First line of the description (or the category).
    pub title: String,
    /// Lifecycle state (`reported`, `filed`, …).
    pub state: String,
    /// The leader's verdict: `approved`, `rejected`, `needs_fix`; none yet.
    pub review: Option<String>,
    /// Corrected after the leader's review and waiting for another look.
    pub resubmitted: bool,
    /// Sync badge of the case document.
    pub sync: SyncBadge,
    /// Reporter id.
    pub reporter: String,
    /// Photos attached.
    pub photo_count: u32,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// Reported at.
    pub created_at_ms: i64,
    /// Last changed on this device.
    pub updated_at_ms: i64,
}

/// Where a case list page ends; pass it back for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Cursor {
    /// Sort key of the last row.
    pub updated_at_ms: i64,
    /// Id of the last row.
    pub id: String,
}

/// One page of a case list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CasePage {
    /// Rows.
    pub items: Vec<CaseSummary>,
    /// Cursor of the next page; none at the end.
    pub next: Option<Cursor>,
    /// Rows matching the filter in all.
    pub total: u32,
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseFilter {
    /// Only this reporter's cases (the leader's "by inspector").
    pub reporter: Option<String>,
    /// Only this lifecycle state.
    pub state: Option<String>,
    /// `unreviewed` (new or resubmitted), `approved`, `returned`.
    pub review: Option<String>,
    /// Only this fine class.
    pub category: Option<String>,
    /// Reported at or after.
    pub from_ms: Option<i64>,
    /// Reported before.
    pub to_ms: Option<i64>,
    /// Only my own reports.
    pub mine: bool,
    /// Continue after this row.
    pub after: Option<Cursor>,
    /// Rows per page (1–200; 50 when 0).
    pub limit: u32,
}

/// One step of a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TimelineStep {
    /// Which of the six steps: 1 report, 2 file, 3 dispatch, 4 handle,
    /// 5 re-verify, 6 evaluate/close.
    pub stage: u8,
    /// The recorded action (`report`, `review`, `file`, `dispatch`…).
    pub action: String,
    /// State after it.
    pub state: String,
    /// Who: the account id.
    pub by: String,
    /// Their display name, when this device knows them (me, my squad, the
    /// centre's operators).
    pub by_name: Option<String>,
    /// Their role, when known: the screens sign a centre step as the
    /// centre's, not an operator's.
    pub by_role: Option<Role>,
    /// When.
    pub at_ms: i64,
    /// Note.
    pub note: String,
    /// The unit a dispatch sent the case to.
    pub unit: Option<String>,
    /// The handling deadline a dispatch set, Unix ms.
    pub due_at_ms: Option<i64>,
    /// Photo ids (sha256) the step carries (the unit's photos on a
    /// `report_handled` step), in order.
    pub photos: Vec<String>,
    /// Parallel to `photos`: the bytes are on this device.
    pub photo_available: Vec<bool>,
}

/// The leader's review as the detail screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReviewView {
    /// Leader id.
    pub reviewer: String,
    /// The leader's display name, when this device knows them.
    pub reviewer_name: Option<String>,
    /// `approved`, `rejected`, `needs_fix`.
    pub verdict: String,
    /// Reason code when returned.
    pub reason: Option<String>,
    /// The earlier case this one duplicates (reason `duplicate`).
    pub duplicate_of: Option<String>,
    /// Comment.
    pub note: String,
    /// When.
    pub at_ms: i64,
}

/// A whole case for its detail screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseDetail {
    /// The list row.
    pub summary: CaseSummary,
    /// The reporter's display name, when this device knows them.
    pub reporter_name: Option<String>,
    /// Category path.
    pub category_path: String,
    /// Address.
    pub address: String,
    /// Description.
    pub description: String,
    /// Accuracy of the reported position, metres.
    pub accuracy_m: f64,
    /// Position placed by hand / from a mock provider.
    pub position_flags: Vec<String>,
    /// Technical grid.
    pub technical_grid: String,
    /// Supervision grid.
    pub supervision_grid: String,
    /// Photo ids (sha256) in order; `photo_available` tells which are here.
    pub photos: Vec<String>,
    /// Parallel to `photos`: the bytes are on this device.
    pub photo_available: Vec<bool>,
    /// The leader's review.
    pub review: Option<ReviewView>,
    /// Time-stamped steps.
    pub timeline: Vec<TimelineStep>,
    /// Whether I may correct and resubmit it (my own, returned).
    pub can_resubmit: bool,
    /// Whether I may review it (leader of the reporter's squad, not yet
    /// filed by the centre).
    pub can_review: bool,
}

/// A re-verification task in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskView {
    /// Verification document id.
    pub id: String,
    /// Case id.
    pub case_id: String,
    /// Category name of the case.
    pub category_name: String,
    /// `handling_check` or `complaint_check`.
    pub kind: String,
    /// Deadline.
    pub due_at_ms: i64,
    /// The case's point.
    pub lon: f64,
    /// The case's point.
    pub lat: f64,
    /// My distance to the point, metres, when I have a fix.
    pub distance_m: Option<f64>,
    /// `pass` / `fail` once done.
    pub outcome: Option<String>,
    /// Done more than 50 m from the point (a pass there was confirmed).
    pub far: bool,
    /// Sync badge of the verification document.
    pub sync: SyncBadge,
}

/// A task with what the inspector needs on site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskDetail {
    /// The list row.
    pub task: TaskView,
    /// The case being checked.
    pub case: CaseDetail,
    /// The result note, once done.
    pub note: String,
    /// After-photos, once done.
    pub after_photos: Vec<String>,
    /// Parallel to `after_photos`: the bytes are on this device.
    pub after_photo_available: Vec<bool>,
}

/// The inspector's on-site result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VerificationInput {
    /// True for pass (fixed), false for fail.
    pub pass: bool,
    /// Note.
    pub note: String,
    /// After-photos added with `add_photo`.
    pub photos: Vec<String>,
    /// Where I am.
    pub position: Position,
    /// The inspector confirmed a pass more than 50 m from the point.
    pub confirm_far: bool,
}

/// A squad leader's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ReviewInput {
    /// True to approve, false to return to the reporter.
    pub approve: bool,
    /// When returning: `wrong_category`, `not_a_problem`, `photo_unclear`,
    /// `wrong_location`, `duplicate`.
    pub reason: Option<String>,
    /// With `duplicate`: the earlier case's id.
    pub duplicate_of: Option<String>,
    /// Comment for the inspector.
    pub comment: String,
}

/// A member of my squad (for the leader's filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Member {
    /// Account id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A month's quality sample of my squad (the leader's 质量 screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QualitySamples {
    /// `YYYY-MM`: the month whose reports were drawn.
    pub month: String,
    /// When the server drew it.
    pub drawn_at_ms: i64,
    /// Percent drawn of each inspector's reports.
    pub percent: u32,
    /// At least this many per inspector.
    pub min: u32,
    /// Sampled reports in my squad.
    pub total: u32,
    /// Of those, marked (correct or wrong).
    pub marked: u32,
    /// By inspector (id order).
    pub inspectors: Vec<SampleGroup>,
}

/// One inspector's sampled reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SampleGroup {
    /// Account id.
    pub inspector: String,
    /// Name (empty when not in my squad's package).
    pub name: String,
    /// Their sampled reports.
    pub items: Vec<SampleView>,
}

/// One sampled report as the server has it (my mark included), and
/// whether its case is on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SampleView {
    /// The report and its mark.
    #[serde(flatten)]
    #[ts(flatten)]
    pub item: SampleItem,
    /// The case is on this device: its detail screen opens.
    pub on_device: bool,
}

/// A sampled report with the leader's mark (the protocol's own type).
pub use gridpatrol_protocol::SampleItem;

/// A leader's mark on a sampled report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SampleMark {
    /// `YYYY-MM` of the sample.
    pub month: String,
    /// Case id.
    pub case_id: String,
    /// Wrong report (错报).
    pub wrong: bool,
    /// Why (required when wrong).
    pub reason: Option<String>,
}

/// My squad's KPIs for a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct QualityKpi {
    /// `YYYY-MM`.
    pub month: String,
    /// My squad's inspectors, best first (rates 0–1, `null` with nothing
    /// to count).
    pub inspectors: Vec<InspectorKpi>,
    /// Their names.
    pub names: Vec<Member>,
    /// My squad's line; its rank is among all squads.
    pub squad: Option<SquadKpi>,
    /// Squads ranked.
    pub squads: u32,
}

/// The KPI lines (`gridpatrol-quality`'s own types).
pub use gridpatrol_quality::kpi::{InspectorKpi, SquadKpi};

/// The sync loop's state, published on every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncStatus {
    /// `idle`, `syncing`, `offline`, `error`, `signed_out`.
    pub phase: String,
    /// Documents exchanged so far in this session.
    pub docs_done: u32,
    /// Documents this session has to exchange.
    pub docs_total: u32,
    /// Photo bytes sent so far in this session.
    pub photo_bytes_sent: u64,
    /// Photo bytes this session has to send.
    pub photo_bytes_total: u64,
    /// Photos of cases on this device that it still has to receive.
    pub photos_to_receive: u32,
    /// Of those, photos received in this session.
    pub photos_received: u32,
    /// Photo bytes received in this session.
    pub photo_bytes_received: u64,
    /// Documents changed here and not yet on the server.
    pub pending_docs: u32,
    /// Photos not yet on the server.
    pub pending_photos: u32,
    /// Refused by the server (see their badges).
    pub refused_docs: u32,
    /// Last session that finished, when.
    pub last_success_ms: Option<i64>,
    /// The last failure, in stable code + words.
    pub last_error: Option<ErrorView>,
}

/// An error as the UI shows it: a stable code it words itself, and the
/// detail for support.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ErrorView {
    /// Stable code (see `DeviceError::code`).
    pub code: String,
    /// Detail in English (not shown as the main message).
    pub message: String,
}

/// Every type the UI receives or sends, for the TypeScript bindings.
macro_rules! for_each_view {
    ($m:ident) => {
        $m!(
            Me,
            Role,
            SignIn,
            SignOut,
            MapGrid,
            GridLevel,
            MapView,
            Pin,
            Position,
            Located,
            PatrolView,
            ChecklistItem,
            Category,
            Photo,
            CaseDraft,
            CaseEdit,
            SyncBadge,
            CaseSummary,
            Cursor,
            CasePage,
            CaseFilter,
            TimelineStep,
            ReviewView,
            CaseDetail,
            TaskView,
            TaskDetail,
            VerificationInput,
            ReviewInput,
            Member,
            QualitySamples,
            SampleGroup,
            SampleView,
            SampleMark,
            QualityKpi,
            InspectorKpi,
            SquadKpi,
            SyncStatus,
            ErrorView
        )
    };
}

/// The TypeScript bindings: `(file name, contents)` for each view type.
/// Integers are `number` (times in ms and byte counts stay below 2^53).
pub fn typescript_bindings() -> Vec<(String, String)> {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = Vec::new();
    macro_rules! export {
        ($($t:ty),*) => {
            $(
                out.push((
                    format!("{}.ts", <$t as TS>::ident(&cfg)),
                    <$t as TS>::export_to_string(&cfg).expect("view types export"),
                ));
            )*
        };
    }
    for_each_view!(export);
    out
}
