//! The storage boundary of the GridPatrol sync server. Handlers in
//! `gridpatrol-server` only ever see an `Arc<dyn ServerStore>`; the SQLite
//! backend (`gridpatrol-server-storage-sqlite`) is the default, and another
//! backend (PostgreSQL) can be added by implementing [`ServerStore`] alone.
//!
//! The trait is blocking: the server calls it from `spawn_blocking`, which
//! suits both an embedded SQLite and a synchronous PostgreSQL client. Every
//! method is atomic: it either does all it says or changes nothing.
//!
//! What the store holds: accounts (argon2 PHC password hashes), the squads
//! with their supervision grids (for scope), bearer tokens (only their
//! SHA-256), documents (Automerge bytes + heads + the facts used for scope,
//! ordered by one global change sequence), per-(device, document) sync state,
//! and photos (content-addressed by SHA-256, resumable partial uploads).
#![forbid(unsafe_code)]

use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::DocKind;

/// Errors of a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (IO, database); nothing was changed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A document changed between load and commit (see [`ServerStore::commit_sync`]);
    /// nothing was committed, reload and retry.
    #[error("documents changed concurrently: {0:?}")]
    Conflict(Vec<String>),
    /// A photo upload at the wrong offset; carries the offset the store holds.
    #[error("upload offset {got} differs from stored offset {expected}")]
    OffsetMismatch {
        /// Bytes the store already holds.
        expected: u64,
        /// Offset the client sent.
        got: u64,
    },
    /// A photo upload whose total length differs from the upload in progress.
    #[error("upload length {got} differs from the upload in progress ({expected})")]
    LengthMismatch {
        /// Total length of the upload in progress.
        expected: u64,
        /// Total length the client sent.
        got: u64,
    },
    /// A photo upload would write past its declared total length.
    #[error("upload of {got} bytes runs past the declared length {total}")]
    PastEnd {
        /// Declared total.
        total: u64,
        /// Offset + body length sent.
        got: u64,
    },
    /// The completed photo does not hash to its id; the partial bytes were discarded.
    #[error("uploaded bytes hash to {actual}, not {expected}")]
    HashMismatch {
        /// SHA-256 in the path.
        expected: String,
        /// SHA-256 of the received bytes.
        actual: String,
    },
    /// Starting this upload would take the account past its quota of
    /// unfinished uploads; nothing was stored.
    #[error("unfinished uploads of this account: {uploads} holding {bytes} bytes; quota reached")]
    QuotaExceeded {
        /// Unfinished uploads the account holds.
        uploads: u64,
        /// Sum of their declared lengths.
        bytes: u64,
    },
    /// A write referred to something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Account id (`I0001`, `C0001`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Squad id (inspectors and leaders).
    pub squad: Option<String>,
    /// Supervision grid code (inspectors).
    pub supervision_grid: Option<String>,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// A squad and the supervision grids it covers (for leader scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SquadRecord {
    /// Squad id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Leader's account id.
    pub leader: String,
    /// Supervision grid codes of the squad.
    pub supervision_grids: Vec<String>,
}

/// A stored bearer token (looked up by its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Owner.
    pub user_id: String,
    /// Expiry, ms since epoch.
    pub expires_at_ms: i64,
}

/// Facts about a stored document, used for scope and photo visibility.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocIndex {
    /// Supervision grid of a case (for verifications: of its case, if known).
    pub supervision_grid: Option<String>,
    /// Reporter of a case.
    pub reporter: Option<String>,
    /// Assignee of a verification task.
    pub assignee: Option<String>,
    /// SHA-256 (hex) of every photo the document refers to.
    pub photos: Vec<String>,
    /// What the centre lists and scores a case by (cases only).
    pub case: Option<CaseSummary>,
    /// What the centre tracks of a verification (verifications only).
    pub verification: Option<VerificationSummary>,
}

/// A case as the centre lists it, derived from the document on every write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseSummary {
    /// Lifecycle state (snake_case).
    pub state: String,
    /// Fine-class code.
    pub category: String,
    /// Street code.
    pub street: String,
    /// Technical grid code.
    pub technical_grid: String,
    /// Where it came from (`inspector`, `hotline`…).
    pub source: String,
    /// When it was reported, Unix ms.
    pub reported_at_ms: i64,
    /// WGS-84 longitude of the report.
    pub lon: f64,
    /// WGS-84 latitude of the report.
    pub lat: f64,
    /// The leader's latest verdict (`approved`, `needs_fix`, `rejected`).
    pub review: Option<String>,
    /// The reporter corrected it after a return.
    pub resubmitted: bool,
    /// The unit of the latest dispatch.
    pub unit: Option<String>,
    /// The deadline of the latest dispatch, Unix ms.
    pub due_at_ms: Option<i64>,
    /// Every recorded lifecycle step, in order.
    pub events: Vec<CaseEvent>,
}

/// One recorded lifecycle step of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseEvent {
    /// The action (snake_case).
    pub action: String,
    /// The state it led to.
    pub state: String,
    /// Who recorded it.
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The unit a dispatch sent it to.
    pub unit: Option<String>,
    /// The deadline a dispatch set.
    pub due_at_ms: Option<i64>,
}

/// A verification as the centre tracks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerificationSummary {
    /// The case checked.
    pub case_id: String,
    /// `handling_check` or `complaint_check`.
    pub kind: String,
    /// Deadline, Unix ms.
    pub due_at_ms: i64,
    /// `pass` / `fail` once the assignee has written a result.
    pub outcome: Option<String>,
    /// When the result was recorded, Unix ms.
    pub done_at_ms: Option<i64>,
}

/// A row of the centre's case list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseRow {
    /// Case id.
    pub id: String,
    /// Supervision grid code.
    pub supervision_grid: String,
    /// Reporter's account id.
    pub reporter: String,
    /// The rest of what the list shows.
    pub summary: CaseSummary,
}

/// Filters of the centre's case list (all optional, combined with AND),
/// newest report first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseQuery {
    /// Lifecycle state.
    pub state: Option<String>,
    /// Street code.
    pub street: Option<String>,
    /// Supervision grid code.
    pub supervision_grid: Option<String>,
    /// Fine-class code, or a prefix of one (a module, class or subclass).
    pub category: Option<String>,
    /// Reported at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Reported before, Unix ms.
    pub to_ms: Option<i64>,
    /// Only cases whose handling deadline passed before this time while
    /// they are still with the unit.
    pub overdue_at_ms: Option<i64>,
    /// Resume after this `(reported_at_ms, id)` (keyset paging).
    pub after: Option<(i64, String)>,
    /// Most rows.
    pub limit: u32,
}

/// One month's recorded sample draw.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawRecord {
    /// `YYYY-MM`, the month whose reports were drawn.
    pub month: String,
    /// The seed that reproduces the draw.
    pub seed: String,
    /// Share drawn.
    pub rate: f64,
    /// At least this many per inspector.
    pub min_count: u32,
    /// When drawn, Unix ms.
    pub drawn_at_ms: i64,
}

/// One inspector's patrol of one Beijing day: the technical grids visited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatrolDayRow {
    /// `YYYY-MM-DD`, Beijing time.
    pub day: String,
    /// The inspector.
    pub inspector: String,
    /// The supervision grid they held that day.
    pub supervision_grid: String,
    /// Technical grid codes visited.
    pub technical_grids: Vec<String>,
}

/// One sampled report and its mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    /// `YYYY-MM`.
    pub month: String,
    /// The case.
    pub case_id: String,
    /// Its reporter.
    pub inspector: String,
    /// The reporter's squad at the draw.
    pub squad: Option<String>,
    /// `Some(true)` = wrong report (错报); `None` until marked.
    pub wrong: Option<bool>,
    /// Why it is wrong.
    pub reason: Option<String>,
    /// The leader who marked it.
    pub marked_by: Option<String>,
    /// When, Unix ms.
    pub marked_at_ms: Option<i64>,
}

/// A verification of a case, as listed for the centre.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerificationRow {
    /// Verification id.
    pub id: String,
    /// The inspector sent.
    pub assignee: String,
    /// The rest.
    pub summary: VerificationSummary,
}

/// A document as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDoc {
    /// Document id.
    pub id: String,
    /// Kind.
    pub kind: DocKind,
    /// `Automerge::save()` bytes.
    pub bytes: Vec<u8>,
    /// Change sequence at which this version was stored (for optimistic commits).
    pub seq: u64,
    /// Scope facts.
    pub index: DocIndex,
}

/// A new version of a document to store.
#[derive(Debug, Clone, PartialEq)]
pub struct DocWrite {
    /// Document id.
    pub id: String,
    /// Kind.
    pub kind: DocKind,
    /// `Automerge::save()` bytes.
    pub bytes: Vec<u8>,
    /// Heads, lowercase hex, sorted.
    pub heads: Vec<String>,
    /// `seq` of the version this was computed from; `None` for a new document.
    pub expected_seq: Option<u64>,
    /// Scope facts.
    pub index: DocIndex,
}

/// What part of the documents a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything (the centre).
    All,
    /// An inspector: cases of their supervision grid or reported by them, and
    /// verifications assigned to them.
    Inspector {
        /// Account id.
        user_id: String,
        /// Their supervision grid (if any).
        supervision_grid: Option<String>,
    },
    /// A squad leader: cases in the squad's grids or reported by squad members,
    /// verifications assigned to squad members (or the leader).
    Squad {
        /// Leader's account id.
        user_id: String,
        /// Squad id.
        squad: String,
    },
    /// Nothing (roles without a part in case handling).
    Nothing,
}

/// One manifest row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    /// Change sequence of the row.
    pub seq: u64,
    /// Document id.
    pub id: String,
    /// Kind.
    pub kind: DocKind,
    /// Heads, lowercase hex, sorted.
    pub heads: Vec<String>,
}

/// A page of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPage {
    /// Rows in change order.
    pub rows: Vec<ManifestRow>,
    /// Cursor to resume from: last row's seq if the page is full, else the
    /// store's highest seq at the time of the query (nothing in scope is newer).
    pub cursor: u64,
    /// More rows follow.
    pub more: bool,
    /// The store's highest seq at the time of the query, whatever the
    /// scope: a device whose cursor is past it talks to a server that has
    /// gone back in time (restored from a backup).
    pub latest: u64,
    /// The store's epoch (see [`ServerStore::epoch`]).
    pub epoch: String,
}

/// State of a photo in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoStatus {
    /// No bytes.
    Missing,
    /// An upload in progress.
    Partial {
        /// Bytes held.
        offset: u64,
        /// Declared total.
        total: u64,
    },
    /// Stored and verified.
    Complete {
        /// Size in bytes.
        len: u64,
    },
}

/// Limits on one account's unfinished photo uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    /// Most unfinished uploads at once.
    pub max_uploads: u64,
    /// Most bytes (sum of declared totals) of unfinished uploads.
    pub max_bytes: u64,
}

/// The server's storage. All methods are blocking and atomic.
pub trait ServerStore: Send + Sync + 'static {
    /// Creates or replaces accounts (password hashes included).
    fn upsert_users(&self, users: &[User]) -> Result<(), StoreError>;
    /// Looks up one account.
    fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// The password hash of some account (the most recently stored), so the
    /// server can check passwords of unknown ids at the cost real ones take.
    fn sample_password_hash(&self) -> Result<Option<String>, StoreError>;
    /// Number of accounts.
    fn user_count(&self) -> Result<u64, StoreError>;
    /// Creates or replaces squads and their grids.
    fn upsert_squads(&self, squads: &[SquadRecord]) -> Result<(), StoreError>;
    /// The squad of an account, if any.
    fn squad_of(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// The squad that patrols a supervision grid, if any.
    fn squad_of_grid(&self, supervision_grid: &str) -> Result<Option<String>, StoreError>;

    /// Stores a token hash for a user.
    fn insert_token(
        &self,
        token_sha256: &[u8; 32],
        user_id: &str,
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Looks up a token by its hash.
    fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// Revokes a token; returns whether it existed.
    fn revoke_token(&self, token_sha256: &[u8; 32]) -> Result<bool, StoreError>;
    /// Deletes tokens that expired before `now_ms`; returns how many.
    fn purge_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Loads documents by id (same order; `None` for unknown ids).
    fn load_docs(&self, ids: &[String]) -> Result<Vec<Option<StoredDoc>>, StoreError>;
    /// Whether `scope` may see the stored document `id`.
    fn doc_visible(&self, id: &str, scope: &Scope) -> Result<bool, StoreError>;
    /// Loads persisted sync states of one device (same order as `ids`).
    fn load_sync_states(
        &self,
        device: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// In one transaction: stores new document versions (each gets a fresh,
    /// higher change sequence) and the device's sync states. If any
    /// `expected_seq` differs from the stored version, commits nothing and
    /// returns [`StoreError::Conflict`].
    fn commit_sync(
        &self,
        device: &str,
        writes: &[DocWrite],
        states: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// Keeps the sync states of at most `max_devices` devices whose keys
    /// start with `account_prefix` (always including `keep_device`),
    /// deleting the others; returns how many rows went.
    fn prune_sync_devices(
        &self,
        account_prefix: &str,
        keep_device: &str,
        max_devices: usize,
    ) -> Result<u64, StoreError>;
    /// Documents in `scope` changed after `cursor`, at most `limit`.
    fn manifest(&self, scope: &Scope, cursor: u64, limit: u32) -> Result<ManifestPage, StoreError>;
    /// Number of documents stored.
    fn doc_count(&self) -> Result<u64, StoreError>;

    /// The centre's case list.
    fn list_cases(&self, q: &CaseQuery) -> Result<Vec<CaseRow>, StoreError>;
    /// The verifications of one case, oldest first.
    fn case_verifications(&self, case_id: &str) -> Result<Vec<VerificationRow>, StoreError>;
    /// Open (result-less) verification tasks per assignee among `users`.
    fn open_verification_counts(&self, users: &[String]) -> Result<Vec<u64>, StoreError>;
    /// Inspectors (and leaders) whose supervision grid is `grid`.
    fn users_of_grid(&self, grid: &str) -> Result<Vec<User>, StoreError>;
    /// Whether `user_id` holds a session token valid at `now_ms` (signed
    /// in on some device: on duty).
    fn has_session(&self, user_id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Every account.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// The accounts of `squad` (none when `None`) and the centre's
    /// operators, by id: who a device's district package may name, read
    /// without touching the rest of the district's accounts.
    fn squad_and_centre(&self, squad: Option<&str>) -> Result<Vec<User>, StoreError>;
    /// Calls `f` with each case (with its events, each case once) reported
    /// in `[reported_from_ms, to_ms)` or with a lifecycle step in
    /// `[from_ms, to_ms)`: what a month's quality figures are computed from.
    /// The cases stream through one row the store refills, so a month is
    /// never held whole; `f` copies what it keeps.
    fn each_quality_case(
        &self,
        reported_from_ms: i64,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&CaseRow),
    ) -> Result<(), StoreError>;
    /// Calls `f` with each verification due in `[from_ms, to_ms)`, in no
    /// particular order, through one refilled row as
    /// [`ServerStore::each_quality_case`] does.
    fn each_verification_due(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&VerificationRow),
    ) -> Result<(), StoreError>;
    /// `(reporter, case id)` of the patrol reports made in `[from_ms, to_ms)`.
    fn patrol_reports(&self, from_ms: i64, to_ms: i64)
        -> Result<Vec<(String, String)>, StoreError>;
    /// The recorded draw of a month, if any.
    fn sample_draw(&self, month: &str) -> Result<Option<DrawRecord>, StoreError>;
    /// Records a month's draw and its samples in one transaction; `false`
    /// (and nothing written) if the month was drawn already.
    fn record_draw(&self, draw: &DrawRecord, samples: &[SampleRow]) -> Result<bool, StoreError>;
    /// A month's samples (of one squad, or all), by inspector then case.
    fn samples(&self, month: &str, squad: Option<&str>) -> Result<Vec<SampleRow>, StoreError>;
    /// Marks one sample; `false` if there is no such sample.
    fn mark_sample(&self, mark: &SampleRow) -> Result<bool, StoreError>;
    /// Adds the codes of one patrol day to what is recorded of it (a set:
    /// codes already there are kept as they were), in one transaction;
    /// returns how many codes were new.
    fn record_patrol_day(&self, day: &PatrolDayRow, at_ms: i64) -> Result<u64, StoreError>;
    /// Calls `f` with each recorded patrol day from `from_day` to `to_day`
    /// (`YYYY-MM-DD`, both included), its codes sorted, by day then
    /// inspector.
    fn each_patrol_day(
        &self,
        from_day: &str,
        to_day: &str,
        f: &mut dyn FnMut(&PatrolDayRow),
    ) -> Result<(), StoreError>;
    /// Moves people to the squads and supervision grids of `postings`
    /// (`(user, squad, grid)`) and makes `leaders` (`(squad, leader)`) lead
    /// their squads, in one transaction; returns how many rows changed
    /// (0 when the store already says so).
    fn apply_postings(
        &self,
        postings: &[(String, Option<String>, Option<String>)],
        leaders: &[(String, String)],
    ) -> Result<u64, StoreError>;
    /// Ids of stored documents whose centre index is missing (stored
    /// before the index existed), at most `limit`.
    fn unindexed_docs(&self, limit: u32) -> Result<Vec<String>, StoreError>;
    /// Writes the centre index of stored documents (the document rows are
    /// left as they are).
    fn write_index(&self, rows: &[(String, DocIndex)]) -> Result<(), StoreError>;

    /// Whether a photo is stored complete: [`PhotoStatus::Complete`] or
    /// [`PhotoStatus::Missing`] (unfinished uploads belong to their owners,
    /// see [`ServerStore::photo_upload`]).
    fn photo_status(&self, sha256: &str) -> Result<PhotoStatus, StoreError>;
    /// The unfinished upload of a photo by `owner`: [`PhotoStatus::Partial`]
    /// or [`PhotoStatus::Missing`]. Nobody else's upload is visible.
    fn photo_upload(&self, sha256: &str, owner: &str) -> Result<PhotoStatus, StoreError>;
    /// Appends `bytes` at `offset` of `owner`'s upload of `total` bytes,
    /// starting it (at offset 0, within `quota`, else
    /// [`StoreError::QuotaExceeded`]) if `owner` has none. Each account has
    /// its own upload of a photo: no one appends to or resets another's.
    /// When the upload becomes complete, verifies the SHA-256 (on mismatch the
    /// bytes are discarded and [`StoreError::HashMismatch`] returned), keeps
    /// the photo (or, if it was already stored, just drops the upload) and
    /// records `owner` as an uploader. `now_ms` stamps the upload for expiry.
    #[allow(clippy::too_many_arguments)]
    fn photo_append(
        &self,
        sha256: &str,
        owner: &str,
        offset: u64,
        total: u64,
        bytes: &[u8],
        quota: UploadQuota,
        now_ms: i64,
    ) -> Result<PhotoStatus, StoreError>;
    /// Deletes unfinished uploads last written before `before_ms`; returns how many.
    fn purge_stale_uploads(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Bytes of a complete photo.
    fn photo_read(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether a document in `scope` refers to the photo, or `user_id`
    /// completed an upload of it (so holds its bytes anyway).
    fn photo_visible(&self, sha256: &str, user_id: &str, scope: &Scope)
        -> Result<bool, StoreError>;

    /// Makes every write committed before the call durable (on disk, not
    /// just in the page cache), so an answer sent after it survives a power
    /// cut. Concurrent callers share one flush; a call with nothing newly
    /// written since the last flush returns at once. After a failed flush
    /// the store refuses every later flush: what the kernel dropped cannot
    /// be known, so nothing more is acknowledged until a restart.
    fn flush(&self) -> Result<(), StoreError>;
    /// The id of this copy of the data: random at creation, new after a
    /// restore (see [`ServerStore::renew_epoch`]). Devices compare it with
    /// the one they last synced with.
    fn epoch(&self) -> Result<String, StoreError>;
    /// Gives the store a new random epoch and returns it (after a restore
    /// from a backup: devices then offer again what it may lack).
    fn renew_epoch(&self) -> Result<String, StoreError>;
}
