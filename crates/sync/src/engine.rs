//! The sync session: manifest → batched Automerge sync rounds → photos up →
//! acknowledge outbox and save the cursor → photos down.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use automerge::sync::{Have, Message, State, SyncDoc};
use automerge::{Automerge, ChangeHash};
use gridpatrol_docs::DocKind;
use gridpatrol_protocol::{self as proto, limits, SyncDocRequest, SyncStatus, UserInfo};
use gridpatrol_store::{Store, SyncState};

use crate::api::{self, Api, RemotePhoto, Traffic};
use crate::persist::{device_actor, save_any};
use crate::SyncError;

/// How failed sessions are retried: exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (at least 1).
    pub max_attempts: u32,
    /// Pause before the first retry (upper bound; the actual pause is random below it).
    pub base_delay: Duration,
    /// Upper bound of any pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `attempt` (1-based): uniformly random in
    /// `0..=min(max_delay, base_delay·2^(attempt-1))`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::random_range(0..=ms)
        })
    }
}

/// Settings of a sync engine. `Debug` redacts the password.
#[derive(Clone)]
pub struct SyncConfig {
    /// Server base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// Account id.
    pub user_id: String,
    /// Password.
    pub password: String,
    /// Documents per `/v1/sync` request (clamped to the protocol limit).
    pub batch_docs: usize,
    /// Photo bytes per `PUT`.
    pub photo_chunk: usize,
    /// Most sync rounds per session before giving up on the remaining docs.
    pub max_rounds: usize,
    /// Retry policy of [`SyncEngine::sync`].
    pub retry: RetryPolicy,
    /// Allow `http://` to hosts other than this machine (a test network;
    /// never on a phone in the field, where only `https://` is accepted).
    pub allow_plain_http: bool,
    /// Most photo bytes one session downloads (the rest waits for the next
    /// session); a first photo of up to [`limits::MAX_PHOTO_BYTES`] is
    /// always allowed, so no photo is too large to ever arrive.
    pub photo_download_budget: u64,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("server", &self.server)
            .field("user_id", &self.user_id)
            .field("password", &"<redacted>")
            .field("batch_docs", &self.batch_docs)
            .field("photo_chunk", &self.photo_chunk)
            .field("max_rounds", &self.max_rounds)
            .field("retry", &self.retry)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("photo_download_budget", &self.photo_download_budget)
            .finish()
    }
}

/// How far a running session is, reported as it goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Documents settled (synced, refused or failed) so far.
    pub docs_done: usize,
    /// Documents taking part in the session.
    pub docs_total: usize,
    /// Photo bytes sent so far.
    pub photo_bytes_sent: u64,
    /// Photo bytes the session has to send (known once photos are listed).
    pub photo_bytes_total: u64,
    /// Photos the documents on this device refer to and it lacks (known
    /// once the documents are synced).
    pub photos_to_receive: usize,
    /// Of those, photos received (verified and stored) so far.
    pub photos_received: usize,
    /// Photo bytes received so far.
    pub photo_bytes_received: u64,
}

/// Receives [`Progress`] updates of a session.
pub type ProgressFn = std::sync::Arc<dyn Fn(Progress) + Send + Sync>;

impl SyncConfig {
    /// Defaults for `user_id`/`password` on `server`.
    pub fn new(server: &str, user_id: &str, password: &str) -> SyncConfig {
        SyncConfig {
            server: server.into(),
            user_id: user_id.into(),
            password: password.into(),
            batch_docs: limits::MAX_SYNC_DOCS,
            photo_chunk: 1024 * 1024,
            max_rounds: 16,
            retry: RetryPolicy::default(),
            allow_plain_http: false,
            photo_download_budget: 64 << 20,
        }
    }
}

/// What one successful session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Documents that took part (local changes + server changes).
    pub docs: usize,
    /// Documents now identical on device and server.
    pub synced: usize,
    /// Documents whose stored copy changed from what the server sent.
    pub pulled: usize,
    /// Refused documents with the server's reason.
    pub refused: Vec<(String, String)>,
    /// Documents that failed for another reason (kept for the next session).
    pub failed: Vec<(String, String)>,
    /// Documents from the server this build cannot read, with the reason:
    /// kept as bytes in the store's quarantine, not shown, and not allowed
    /// to stop the session.
    pub quarantined: Vec<(String, String)>,
    /// Sync rounds (`/v1/sync` requests may be several per round).
    pub rounds: usize,
    /// Photos uploaded in this session.
    pub photos_uploaded: usize,
    /// Photos downloaded (verified and stored) in this session.
    pub photos_downloaded: Vec<String>,
    /// Photos that could not be downloaded, with the reason (tried again
    /// in a later session).
    pub photos_not_downloaded: Vec<(String, String)>,
    /// Attempts it took ([`SyncEngine::sync`]).
    pub attempts: u32,
    /// The session found the server restored from a backup and offered
    /// again everything the server did not hold as this device does.
    pub recovered: bool,
    /// Documents offered again to a restored server that it did not take
    /// from this account, with its reason (changes another account made;
    /// that account's devices bring them back). Kept as they are here.
    pub not_restored: Vec<(String, String)>,
    /// The account as the server now knows it, when this session found it
    /// moved to another role, squad or grid (a rotation plan started): the
    /// device should refetch its district package.
    pub reassigned: Option<UserInfo>,
}

/// True once this device has seen the server hold the whole photo `sha`
/// (it is then never sent again).
pub fn photo_uploaded(store: &Store, sha: &str) -> Result<bool, SyncError> {
    Ok(store.get_meta(&format!("{META_PHOTO_UP}{sha}"))?.is_some())
}

/// Key prefixes of what the engine keeps in the store's key/value table.
const META_CURSOR: &str = "sync.cursor.";
const META_STATE: &str = "sync.state.";
const META_PHOTO_UP: &str = "sync.photo_uploaded.";
/// The server epoch this device last finished a session with.
const META_EPOCH: &str = "sync.epoch.";
/// A document with own changes a restored server still lacks because they
/// depend on another account's changes it lacks too; the value is when it
/// was marked (ms). Offered again whenever the server's copy changes.
const META_REOFFER: &str = "sync.reoffer.";
/// How long a document stays marked: past it, its changes go as usual.
const REOFFER_FOR_MS: i64 = 7 * 24 * 3600 * 1000;
/// A photo a stored document refers to and this device lacks; the value
/// counts failed downloads (the least-failed go first).
const META_PHOTO_WANTED: &str = "sync.photo_wanted.";
/// Set once every stored document has been scanned for wanted photos
/// (stores synced before downloads existed have documents without them).
const META_PHOTO_SCANNED: &str = "sync.photo_scan_done";

/// The server epoch `user_id` last finished a session with on this device
/// (a server restored from a backup has a new one), if any.
pub fn server_epoch(store: &Store, user_id: &str) -> Result<Option<String>, SyncError> {
    Ok(store.get_meta(&format!("{META_EPOCH}{user_id}"))?)
}

/// Photos stored on this device that the server has not confirmed holding.
pub fn pending_photos(store: &Store) -> Result<u64, SyncError> {
    Ok(store.photos_without_mark(META_PHOTO_UP)?)
}

fn to_doc_kind(k: proto::DocKind) -> DocKind {
    match k {
        proto::DocKind::Case => DocKind::Case,
        proto::DocKind::Verification => DocKind::Verification,
    }
}

fn to_proto_kind(k: DocKind) -> proto::DocKind {
    match k {
        DocKind::Case => proto::DocKind::Case,
        DocKind::Verification => proto::DocKind::Verification,
    }
}

fn to_store_kind(k: DocKind) -> gridpatrol_store::DocKind {
    match k {
        DocKind::Case => gridpatrol_store::DocKind::Case,
        DocKind::Verification => gridpatrol_store::DocKind::Verification,
    }
}

fn store_kind(k: gridpatrol_store::DocKind) -> DocKind {
    match k {
        gridpatrol_store::DocKind::Case => DocKind::Case,
        gridpatrol_store::DocKind::Verification => DocKind::Verification,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One document in a session.
struct Work {
    kind: DocKind,
    doc: Automerge,
    state: State,
    /// Heads as stored on the device when the session began (or after the
    /// last save), to know whether the server's changes need storing.
    stored_heads: Vec<ChangeHash>,
    /// Saved size on the device, to pack requests within the server's budget.
    bytes: usize,
    outcome: Outcome,
    /// When `doc` is only the part of the device's document this account
    /// may send to a restored server (see [`sendable_part`]): the whole
    /// document, into which whatever the server sends is merged.
    whole: Option<Automerge>,
    /// The server sent its heads for this document in this session (its
    /// word, not what the persisted state assumes).
    heard: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Active,
    Refused(String),
    Failed(String),
    Quarantined(String),
}

/// Whether a photo `doc` refers to is on this device and not yet confirmed
/// by the server.
fn photos_waiting(store: &Store, doc: &Automerge) -> Result<bool, SyncError> {
    for sha in gridpatrol_docs::photo_refs(doc) {
        if !photo_uploaded(store, &sha)? && store.has_photo(&sha)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What of a document this account may send to a server holding `known`.
enum Part {
    /// All of it.
    Whole,
    /// Only this fork of it (at least what the server holds, so its own
    /// changes can still come down).
    Some(Box<Automerge>),
    /// Nothing: neither changes the server holds nor any of our own.
    Nothing,
}

/// The server heads in `server_heads` that `doc` holds.
fn server_heads_known(doc: &Automerge, server_heads: &[ChangeHash]) -> Vec<ChangeHash> {
    server_heads
        .iter()
        .copied()
        .filter(|h| doc.get_change_meta_by_hash(h).is_some())
        .collect()
}

/// The largest part of `doc` this device may offer a server that holds
/// the changes up to `known`: those, plus every change made by `me` (this
/// device's actor) whose dependencies are in the part. Another account's
/// change the server lacks (the server lost it in a restore) is theirs to
/// send: offering it would get the whole message refused.
fn sendable_part(doc: &Automerge, known: &[ChangeHash], me: &automerge::ActorId) -> Part {
    let missing = doc.get_changes(known);
    if missing.is_empty() {
        return Part::Whole;
    }
    let lacking: HashSet<ChangeHash> = missing.iter().map(|c| c.hash()).collect();
    let mut ok: HashSet<ChangeHash> = HashSet::new();
    // Causal order is not promised: repeat until nothing more qualifies.
    loop {
        let before = ok.len();
        for c in &missing {
            if !ok.contains(&c.hash())
                && c.actor_id() == me
                && c.deps()
                    .iter()
                    .all(|d| !lacking.contains(d) || ok.contains(d))
            {
                ok.insert(c.hash());
            }
        }
        if ok.len() == before {
            break;
        }
    }
    if ok.len() == missing.len() {
        return Part::Whole;
    }
    let depended: HashSet<ChangeHash> = missing
        .iter()
        .filter(|c| ok.contains(&c.hash()))
        .flat_map(|c| c.deps().iter().copied())
        .collect();
    let mut heads: Vec<ChangeHash> = known
        .iter()
        .chain(ok.iter())
        .copied()
        .filter(|h| !depended.contains(h))
        .collect();
    heads.sort();
    heads.dedup();
    if heads.is_empty() {
        return Part::Nothing;
    }
    match doc.fork_at(&heads) {
        Ok(f) => Part::Some(Box::new(f)),
        Err(_) => Part::Nothing,
    }
}

/// Starts from the persisted state and assumes the server has exactly the
/// shared heads, so the first message already carries our new changes (a new
/// document goes whole in one message); `needs_reset` makes the server forget
/// what it believes it sent before an interruption.
fn primed_state(persisted: Option<State>) -> State {
    let mut s = persisted.unwrap_or_default();
    let shared = s.shared_heads.clone();
    s.their_heads = Some(shared.clone());
    s.their_have = Some(vec![Have {
        last_sync: shared,
        bloom: Default::default(),
    }]);
    s.their_need = Some(Vec::new());
    gridpatrol_docs::guard::speak_v1(&mut s);
    s.needs_reset = true;
    s
}

/// Stores one document's progress after a server answer: the merged
/// document (if the server sent changes), the sync state, and — once the
/// server holds exactly what the device holds — the outbox acknowledgement
/// and the `synced` mark.
fn settle(
    store: &mut Store,
    id: &str,
    w: &mut Work,
    outbox: &Pending,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    if let Some(whole) = &mut w.whole {
        // Sent only part: keep everything, plus what the server sent.
        whole
            .merge(&mut w.doc.clone())
            .map_err(|e| SyncError::Automerge {
                id: id.to_string(),
                message: e.to_string(),
            })?;
    }
    let local = w.whole.as_ref().unwrap_or(&w.doc);
    let heads = local.get_heads();
    if heads != w.stored_heads && !heads.is_empty() {
        match save_any(store, id, w.kind, local, now_ms()) {
            Ok(()) => {
                report.pulled += 1;
                w.stored_heads = heads.clone();
                store.release_quarantine(id)?;
            }
            Err(e @ SyncError::Store(_)) if w.stored_heads.is_empty() => {
                // e.g. a verification whose case is not on this device.
                w.outcome = Outcome::Failed(e.to_string());
                return Ok(());
            }
            Err(e @ (SyncError::Doc { .. } | SyncError::Automerge { .. })) => {
                // One unreadable document must not stop everyone's sync:
                // keep its bytes aside and go on with the others.
                let reason = e.to_string();
                tracing::warn!(doc = id, %reason, "quarantined a document this build cannot read");
                store.quarantine(&gridpatrol_store::Quarantined {
                    doc_id: id.to_string(),
                    kind: to_store_kind(w.kind),
                    bytes: w.doc.save(),
                    reason: reason.clone(),
                    received_at_ms: now_ms(),
                })?;
                w.outcome = Outcome::Quarantined(reason);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    if w.outcome != Outcome::Active {
        return Ok(());
    }
    store.set_meta(&format!("{META_STATE}{id}"), &hex::encode(w.state.encode()))?;
    if confirmed(w) {
        store.set_sync_state(id, &SyncState::Synced)?;
        // Photos go after the documents; keep the outbox entry (and so the
        // document in the next session) until its photos are up too.
        if photos_waiting(store, &w.doc)? {
            return Ok(());
        }
        let seqs = acked_entries(outbox, id, &w.doc);
        if !seqs.is_empty() {
            store.outbox_ack(&seqs)?;
        }
    }
    Ok(())
}

/// Outbox entries by document id: `(seq, heads)`.
type Pending = HashMap<String, Vec<(i64, Vec<[u8; 32]>)>>;

fn group_outbox(entries: Vec<gridpatrol_store::OutboxEntry>) -> Pending {
    let mut m: Pending = HashMap::new();
    for e in entries {
        m.entry(e.doc_id).or_default().push((e.seq, e.heads));
    }
    m
}

/// True when the server's last word was that it holds exactly our heads.
fn confirmed(w: &Work) -> bool {
    let ours: HashSet<ChangeHash> = w.doc.get_heads().into_iter().collect();
    let theirs: HashSet<ChangeHash> = w
        .state
        .their_heads
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    !ours.is_empty() && ours == theirs
}

/// Outbox entries of `id` whose heads the (now confirmed) document holds.
fn acked_entries(outbox: &Pending, id: &str, doc: &Automerge) -> Vec<i64> {
    outbox
        .get(id)
        .map(|entries| {
            entries
                .iter()
                .filter(|(_, heads)| {
                    heads
                        .iter()
                        .all(|h| doc.get_change_meta_by_hash(&ChangeHash(*h)).is_some())
                })
                .map(|(seq, _)| *seq)
                .collect()
        })
        .unwrap_or_default()
}

/// Splits a round's messages (with each document's saved size) into
/// requests of at most `batch` documents, the server's per-request operation
/// budget (counted by the server's own guard) and its stored-bytes budget,
/// so an honest device never meets `request_budget`.
fn pack(msgs: Vec<(SyncDocRequest, usize)>, batch: usize) -> Vec<Vec<SyncDocRequest>> {
    use gridpatrol_docs::limits::{MAX_REQUEST_OPS, MAX_REQUEST_STORED_BYTES};
    let mut out: Vec<Vec<SyncDocRequest>> = Vec::new();
    let (mut ops, mut bytes) = (0u64, 0usize);
    for (m, size) in msgs {
        let n = gridpatrol_docs::guard::check_sync_message(&m.msg).map_or(0, |c| c.ops);
        match out.last_mut() {
            Some(last)
                if last.len() < batch
                    && ops.saturating_add(n) <= MAX_REQUEST_OPS
                    && bytes.saturating_add(size) <= MAX_REQUEST_STORED_BYTES =>
            {
                ops += n;
                bytes += size;
                last.push(m);
            }
            _ => {
                (ops, bytes) = (n, size);
                out.push(vec![m]);
            }
        }
    }
    out
}

/// The device sync engine for one account.
pub struct SyncEngine {
    api: Api,
    cfg: SyncConfig,
    user: Option<UserInfo>,
    progress: Option<ProgressFn>,
    now: Progress,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("cfg", &self.cfg)
            .field("user", &self.user)
            .field("token", &self.api.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How long an idle connection to the server is kept for reuse.
pub const IDLE_CONNECTION: Duration = Duration::from_secs(30);

impl SyncEngine {
    /// An engine with its own HTTP client (30 s timeout per request).
    pub fn new(cfg: SyncConfig) -> Result<SyncEngine, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            // Below the server's 60 s idle timeout, so a request never goes
            // out on a connection the server is just closing.
            .pool_idle_timeout(IDLE_CONNECTION)
            .build()
            .map_err(|e| SyncError::Invalid(format!("HTTP client: {e}")))?;
        SyncEngine::with_client(cfg, http)
    }

    /// An engine sharing an existing HTTP client (many devices in one process).
    pub fn with_client(cfg: SyncConfig, http: reqwest::Client) -> Result<SyncEngine, SyncError> {
        Ok(SyncEngine {
            api: Api::new(http, &cfg.server, cfg.allow_plain_http)?,
            cfg,
            user: None,
            progress: None,
            now: Progress::default(),
        })
    }

    /// An engine resuming a signed-in session with its token and account,
    /// holding no password (`cfg.password` is ignored and cleared): when the
    /// server stops accepting the token, sessions end with
    /// [`SyncError::SessionEnded`].
    pub fn resume(
        mut cfg: SyncConfig,
        http: reqwest::Client,
        token: &str,
        user: UserInfo,
    ) -> Result<SyncEngine, SyncError> {
        cfg.password.clear();
        let mut e = SyncEngine::with_client(cfg, http)?;
        e.api.token = Some(token.to_string());
        e.user = Some(user);
        Ok(e)
    }

    /// Sends [`Progress`] updates of every session to `f`.
    pub fn on_progress(&mut self, f: ProgressFn) {
        self.progress = Some(f);
    }

    fn report_progress(&self) {
        if let Some(f) = &self.progress {
            f(self.now);
        }
    }

    /// The bearer token of the current session, once logged in.
    pub fn token(&self) -> Option<&str> {
        self.api.token.as_deref()
    }

    /// Ends the session on the server (the token stops working everywhere).
    pub async fn logout(&mut self) -> Result<(), SyncError> {
        if self.api.token.is_none() {
            return Ok(());
        }
        self.api.logout().await
    }

    /// The account's district package (`GET /v1/district`).
    pub async fn district(&mut self) -> Result<gridpatrol_protocol::DistrictPackage, SyncError> {
        if self.api.token.is_none() {
            self.login().await?;
        }
        // A centre package covers the whole district: a few MiB of GeoJSON.
        self.api
            .get_json(gridpatrol_protocol::paths::DISTRICT, 64 << 20)
            .await
    }

    /// Fetches a JSON resource of the server with the session's token
    /// (`GET`, answer bounded to `max` bytes). Errors map as the sync's do:
    /// no link is [`SyncError::Network`], a token the server stopped
    /// accepting a `401` [`SyncError::Server`].
    pub async fn get<R: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        max: usize,
    ) -> Result<R, SyncError> {
        if self.api.token.is_none() {
            self.login().await?;
        }
        self.api.get_json(path, max).await
    }

    /// `POST`s a JSON body to a resource of the server that answers with no
    /// content, with the session's token (errors as [`SyncEngine::get`]).
    pub async fn post<Q: serde::Serialize>(
        &mut self,
        path: &str,
        body: &Q,
    ) -> Result<(), SyncError> {
        if self.api.token.is_none() {
            self.login().await?;
        }
        self.api.post_no_content(path, body).await
    }

    /// Requests, bytes up and bytes down so far.
    pub fn traffic(&self) -> Traffic {
        self.api.traffic
    }

    /// The logged-in account, once logged in.
    pub fn user(&self) -> Option<&UserInfo> {
        self.user.as_ref()
    }

    /// Every document in the account's scope with its server heads (lowercase
    /// hex, sorted), read from the manifest from the beginning. Changes
    /// nothing on the device; used to check convergence.
    pub async fn server_heads(&mut self) -> Result<BTreeMap<String, Vec<String>>, SyncError> {
        if self.api.token.is_none() {
            self.login().await?;
        }
        let mut out = BTreeMap::new();
        let mut cursor = None;
        loop {
            let m = self.api.manifest(cursor).await?;
            let advanced = Some(m.cursor) != cursor;
            cursor = Some(m.cursor);
            for e in m.docs {
                let mut heads = e.heads;
                heads.sort();
                out.insert(e.id, heads);
            }
            if !m.more || !advanced {
                return Ok(out);
            }
        }
    }

    /// Logs in (again) and keeps the token.
    pub async fn login(&mut self) -> Result<UserInfo, SyncError> {
        if self.cfg.password.is_empty() {
            self.api.token = None;
            return Err(SyncError::SessionEnded);
        }
        let r = self
            .api
            .login(&self.cfg.user_id, &self.cfg.password)
            .await?;
        self.user = Some(r.user.clone());
        Ok(r.user)
    }

    /// Runs sync sessions until one succeeds, pausing with exponential
    /// backoff and jitter after transient failures (network, 5xx, expired
    /// token → log in again). Final failures (bad password, broken store)
    /// return at once.
    pub async fn sync(&mut self, store: &mut Store) -> Result<SyncReport, SyncError> {
        let max = self.cfg.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.sync_once(store).await {
                Ok(mut r) => {
                    r.attempts = attempt;
                    return Ok(r);
                }
                Err(e) if e.is_transient() && attempt < max => {
                    if matches!(e, SyncError::Server { status: 401, .. }) {
                        self.api.token = None;
                    }
                    tokio::time::sleep(self.cfg.retry.delay(attempt)).await;
                }
                Err(e) if attempt > 1 && e.is_transient() => {
                    return Err(SyncError::GaveUp {
                        attempts: attempt,
                        last: Box::new(e),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One sync session without retries. Safe to interrupt at any point: the
    /// outbox is acknowledged and the cursor saved only after the server has
    /// confirmed, and a repeated message is harmless to Automerge.
    pub async fn sync_once(&mut self, store: &mut Store) -> Result<SyncReport, SyncError> {
        let mut marked = Vec::new();
        let result = self.session(store, &mut marked).await;
        if result.is_err() {
            // Cut off: what was still being sent is local-only again, so the
            // list doesn't claim "syncing" while the phone has no signal.
            for id in &marked {
                let doc = store.get_document(id).ok().flatten();
                if doc.is_some_and(|d| d.sync_state == SyncState::Syncing) {
                    let _ = store.set_sync_state(id, &SyncState::LocalOnly);
                }
            }
        }
        result
    }

    async fn session(
        &mut self,
        store: &mut Store,
        marked: &mut Vec<String>,
    ) -> Result<SyncReport, SyncError> {
        if self.api.token.is_none() || self.user.is_none() {
            self.login().await?;
        }
        let user_id = self.cfg.user_id.clone();
        let actor = device_actor(store)?;
        let device = actor.to_hex_string();
        let cursor_key = format!("{META_CURSOR}{user_id}");
        let cursor: Option<u64> = store.get_meta(&cursor_key)?.and_then(|s| s.parse().ok());

        // 1. What changed on the server within my scope.
        let epoch_key = format!("{META_EPOCH}{user_id}");
        let known_epoch = store.get_meta(&epoch_key)?;
        let mut server_docs: BTreeMap<String, (DocKind, Vec<String>)> = BTreeMap::new();
        let mut next_cursor = cursor;
        let mut epoch = None;
        let mut recovering = false;
        let mut reassigned = None;
        loop {
            let m = self.api.manifest(next_cursor).await?;
            if let Some(now) = m.account.as_ref().filter(|_| reassigned.is_none()) {
                let moved = self.user.as_ref().is_some_and(|was| {
                    (was.role, &was.squad, &was.supervision_grid)
                        != (now.role, &now.squad, &now.supervision_grid)
                });
                if moved {
                    // A new scope: what it holds may be older than our
                    // cursor. Read it all (documents we have are skipped).
                    tracing::info!(
                        grid = ?now.supervision_grid,
                        squad = ?now.squad,
                        "the account was reassigned; reading the new scope from the start"
                    );
                    reassigned = Some(now.clone());
                    self.user = Some(now.clone());
                    if next_cursor.is_some() {
                        next_cursor = None;
                        continue;
                    }
                }
            }
            if epoch.is_none() && !m.epoch.is_empty() {
                // A server restored from a backup has a new epoch (or, copied
                // back by hand, a change sequence behind our cursor): it may
                // lack what it acknowledged. Read its whole manifest and
                // offer again everything it does not hold as we do.
                let moved = known_epoch.as_deref().is_some_and(|k| k != m.epoch);
                let behind = cursor.is_some_and(|c| c > m.latest);
                epoch = Some(m.epoch.clone());
                if (moved || behind) && next_cursor.is_some() {
                    tracing::warn!(
                        known = ?known_epoch,
                        epoch = %m.epoch,
                        cursor = ?cursor,
                        latest = m.latest,
                        "the server was restored from a backup; offering again what it lacks"
                    );
                    recovering = true;
                    next_cursor = None;
                    continue;
                }
                recovering = moved || behind;
            }
            let advanced = Some(m.cursor) != next_cursor;
            next_cursor = Some(m.cursor);
            for e in m.docs {
                server_docs.insert(e.id, (to_doc_kind(e.kind), e.heads));
            }
            if !m.more || !advanced {
                break;
            }
        }

        // 2. Documents to sync: local changes from the outbox, plus server
        //    changes this device does not have yet.
        let outbox_entries = store.outbox_pending(u32::MAX)?;
        let mut work: BTreeMap<String, Work> = BTreeMap::new();
        let outbox = group_outbox(outbox_entries);
        for id in outbox.keys() {
            if let Some(w) = self.load_work(store, id, &actor)? {
                work.insert(id.clone(), w);
            }
        }
        let marked_ids: Vec<String> = store
            .meta_with_prefix(META_REOFFER)?
            .into_iter()
            .filter_map(|(k, v)| {
                let fresh = v
                    .parse::<i64>()
                    .is_ok_and(|at| now_ms().saturating_sub(at) < REOFFER_FOR_MS);
                fresh.then(|| k[META_REOFFER.len()..].to_string())
            })
            .collect();
        if recovering {
            self.reoffer(
                store,
                &actor,
                store.document_ids()?,
                &server_docs,
                &mut work,
            )?;
        } else if !marked_ids.is_empty() {
            // Waiting for another account's part: offer again once the
            // server's copy changed, else hold the document back (its
            // changes would be refused with the part it lacks).
            let (listed, waiting): (Vec<String>, Vec<String>) = marked_ids
                .into_iter()
                .partition(|id| server_docs.contains_key(id));
            for id in &waiting {
                work.remove(id);
            }
            self.reoffer(store, &actor, listed, &server_docs, &mut work)?;
        }
        for (id, (kind, heads)) in &server_docs {
            if work.contains_key(id) {
                continue;
            }
            let w = match self.load_work(store, id, &actor)? {
                Some(w) => {
                    let have_all = heads.iter().all(|h| {
                        h.parse::<ChangeHash>()
                            .map(|h| w.doc.get_change_meta_by_hash(&h).is_some())
                            .unwrap_or(false)
                    });
                    if have_all {
                        continue;
                    }
                    w
                }
                None => Work {
                    kind: *kind,
                    doc: Automerge::new().with_actor(actor.clone()),
                    // Nothing local: let the server send everything.
                    state: State::new(),
                    stored_heads: Vec::new(),
                    bytes: 0,
                    outcome: Outcome::Active,
                    whole: None,
                    heard: false,
                },
            };
            work.insert(id.clone(), w);
        }
        for id in work.keys() {
            if store.get_document(id)?.is_some() {
                store.set_sync_state(id, &SyncState::Syncing)?;
                marked.push(id.clone());
            }
        }

        // 3. Sync rounds until no document has anything left to say.
        let mut report = SyncReport {
            docs: work.len(),
            ..Default::default()
        };
        self.now = Progress {
            docs_total: work.len(),
            ..Progress::default()
        };
        self.report_progress();
        let batch = self.cfg.batch_docs.clamp(1, limits::MAX_SYNC_DOCS);
        loop {
            let mut msgs: Vec<(SyncDocRequest, usize)> = Vec::new();
            for (id, w) in work.iter_mut() {
                // Once the server has said it holds exactly our heads, the
                // copies are identical: Automerge would still send our new
                // heads back for the server to answer nothing, a second
                // round trip (and a load of the document on the server) for
                // every document pulled. The device's next session starts by
                // resetting what the server believes it sent.
                if w.outcome != Outcome::Active || (w.heard && confirmed(w)) {
                    continue;
                }
                if let Some(m) = w.doc.generate_sync_message(&mut w.state) {
                    let req = SyncDocRequest {
                        id: id.clone(),
                        kind: to_proto_kind(w.kind),
                        msg: m.encode(),
                    };
                    msgs.push((req, w.bytes));
                }
            }
            if msgs.is_empty() {
                break;
            }
            if report.rounds >= self.cfg.max_rounds {
                for (m, _) in &msgs {
                    if let Some(w) = work.get_mut(&m.id) {
                        w.outcome =
                            Outcome::Failed("did not converge within the round limit".into());
                    }
                }
                break;
            }
            report.rounds += 1;
            for chunk in pack(msgs, batch) {
                let resp = self.api.sync(&device, chunk).await?;
                for r in resp.docs {
                    let Some(w) = work.get_mut(&r.id) else {
                        continue;
                    };
                    match r.status {
                        SyncStatus::Ok if r.msg.is_none() => {
                            // Automerge answers nothing only when, having read
                            // our message (which carried our heads), it holds
                            // exactly those heads and has nothing to send: the
                            // server confirms us. (Its earlier answer may have
                            // been lost on the way, so we can't wait for it.)
                            let heads = w.doc.get_heads();
                            w.state.their_heads = Some(heads.clone());
                            w.state.shared_heads = heads;
                            w.state.in_flight = false;
                        }
                        SyncStatus::Ok => {
                            if let Some(bytes) = r.msg {
                                let applied = Message::decode(&bytes)
                                    .map_err(|e| e.to_string())
                                    .and_then(|m| {
                                        w.doc
                                            .receive_sync_message(&mut w.state, m)
                                            .map_err(|e| e.to_string())
                                    });
                                gridpatrol_docs::guard::speak_v1(&mut w.state);
                                match applied {
                                    Ok(()) => w.heard = true,
                                    Err(e) => {
                                        w.outcome = Outcome::Failed(format!("server message: {e}"));
                                    }
                                }
                            }
                        }
                        SyncStatus::Refused => {
                            w.outcome = Outcome::Refused(
                                r.reason
                                    .or(r.code)
                                    .unwrap_or_else(|| "refused by the server".into()),
                            );
                        }
                        SyncStatus::NotFound | SyncStatus::Error => {
                            w.outcome = Outcome::Failed(format!(
                                "{}: {}",
                                r.code.unwrap_or_else(|| "error".into()),
                                r.reason.unwrap_or_default()
                            ));
                        }
                    }
                    // Keep the progress of every answered request, so a cut
                    // later in the session does not undo it.
                    settle(store, &r.id, w, &outbox, &mut report)?;
                }
            }
            self.now.docs_done = work
                .values()
                .filter(|w| w.outcome != Outcome::Active || confirmed(w))
                .count();
            self.report_progress();
        }

        // 5. Photos the synced documents refer to and the server lacks.
        let mut photos: BTreeSet<String> = BTreeSet::new();
        for w in work.values() {
            if w.outcome == Outcome::Active {
                photos.extend(gridpatrol_docs::photo_refs(&w.doc));
            }
        }
        let mut to_send = Vec::new();
        for sha in photos {
            if store.get_meta(&format!("{META_PHOTO_UP}{sha}"))?.is_some()
                || !store.has_photo(&sha)?
            {
                continue;
            }
            let bytes = store.photo_meta(&sha)?.map_or(0, |(_, n)| n);
            self.now.photo_bytes_total += bytes;
            to_send.push((sha, bytes));
        }
        self.now.docs_done = self.now.docs_total;
        self.report_progress();
        for (sha, bytes) in to_send {
            let uploaded = self.upload_photo(store, &sha).await?;
            self.now.photo_bytes_sent += bytes;
            self.report_progress();
            if uploaded {
                report.photos_uploaded += 1;
            }
        }

        // 6. Acknowledge what the server confirmed (including the entries
        //    `settle` wrote for merged server changes); record refusals.
        let outbox = group_outbox(store.outbox_pending(u32::MAX)?);
        let mut ack: Vec<i64> = Vec::new();
        for (id, w) in &work {
            // Stored on the device (before the session, or by `settle`).
            let exists = !w.stored_heads.is_empty();
            match &w.outcome {
                Outcome::Active => {
                    if confirmed(w) {
                        report.synced += 1;
                        ack.extend(acked_entries(&outbox, id, &w.doc));
                        if exists {
                            store.set_sync_state(id, &SyncState::Synced)?;
                        }
                    } else {
                        report
                            .failed
                            .push((id.clone(), "server did not confirm every change".into()));
                        if exists {
                            store.set_sync_state(id, &SyncState::LocalOnly)?;
                        }
                    }
                }
                Outcome::Refused(reason)
                    if (recovering || w.whole.is_some()) && !outbox.contains_key(id) =>
                {
                    // Offered again to a restored server, which does not take
                    // these changes from this account (another account made
                    // them; its devices bring them back). Our copy stays as is.
                    report.not_restored.push((id.clone(), reason.clone()));
                }
                Outcome::Refused(reason) => {
                    // The refusal is final for these changes: stop resending them.
                    ack.extend(acked_entries(&outbox, id, &w.doc));
                    report.refused.push((id.clone(), reason.clone()));
                    if exists {
                        store.set_sync_state(
                            id,
                            &SyncState::Refused {
                                reason: reason.clone(),
                            },
                        )?;
                    }
                }
                Outcome::Failed(reason) => {
                    report.failed.push((id.clone(), reason.clone()));
                    if exists {
                        store.set_sync_state(id, &SyncState::LocalOnly)?;
                    }
                }
                Outcome::Quarantined(reason) => {
                    report.quarantined.push((id.clone(), reason.clone()));
                    if exists {
                        // The last readable version stays; it is not in sync.
                        store.set_sync_state(id, &SyncState::LocalOnly)?;
                    }
                }
            }
        }
        store.outbox_ack(&ack)?;
        if report.failed.is_empty() {
            if let Some(c) = next_cursor {
                store.set_meta(&cursor_key, &c.to_string())?;
            }
            // Only now: a recovery cut short starts again next session.
            if let Some(e) = &epoch {
                store.set_meta(&epoch_key, e)?;
            }
            report.recovered = recovering;
        }
        report.reassigned = reassigned;

        // 7. Photos the stored documents refer to and this device lacks
        //    (everything above is already kept, so a cut here loses nothing).
        //    A store in memory (a simulator, a script) keeps no photos.
        if store.keeps_photos() {
            self.want_photos(store, &work)?;
            self.download_photos(store, &mut report).await?;
        }
        Ok(report)
    }

    /// Marks as wanted every photo that a document of this session (or, the
    /// first time, any stored document) refers to and the store lacks.
    fn want_photos(
        &self,
        store: &mut Store,
        work: &BTreeMap<String, Work>,
    ) -> Result<(), SyncError> {
        let mut refs: BTreeSet<String> = work
            .values()
            .filter(|w| !w.stored_heads.is_empty() && !matches!(w.outcome, Outcome::Quarantined(_)))
            .flat_map(|w| gridpatrol_docs::photo_refs(&w.doc))
            .collect();
        let scanned = store.get_meta(META_PHOTO_SCANNED)?.is_some();
        if !scanned {
            for id in store.document_ids()? {
                if work.contains_key(&id) {
                    continue;
                }
                if let Some(d) = store.get_document(&id)? {
                    // An unreadable stored document has no photos to want.
                    if let Ok(doc) = Automerge::load(&d.bytes) {
                        refs.extend(gridpatrol_docs::photo_refs(&doc));
                    }
                }
            }
        }
        for sha in refs {
            let key = format!("{META_PHOTO_WANTED}{sha}");
            if proto::is_sha256_hex(&sha)
                && !store.has_photo(&sha)?
                && store.get_meta(&key)?.is_none()
            {
                store.set_meta(&key, "0")?;
            }
        }
        if !scanned {
            store.set_meta(META_PHOTO_SCANNED, "1")?;
        }
        Ok(())
    }

    /// Downloads wanted photos within the session's byte budget: each is
    /// bounded by the photo size limit, checked against its SHA-256 before
    /// anything is stored, and one that fails is recorded and passed over.
    async fn download_photos(
        &mut self,
        store: &mut Store,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let mut wanted: Vec<(u32, String)> = store
            .meta_with_prefix(META_PHOTO_WANTED)?
            .into_iter()
            .map(|(k, v)| {
                (
                    v.parse().unwrap_or(0),
                    k[META_PHOTO_WANTED.len()..].to_string(),
                )
            })
            .collect();
        wanted.sort();
        self.now.photos_to_receive = wanted.len();
        self.report_progress();
        let budget = self.cfg.photo_download_budget;
        for (failures, sha) in wanted {
            let key = format!("{META_PHOTO_WANTED}{sha}");
            if !proto::is_sha256_hex(&sha) || store.has_photo(&sha)? {
                store.delete_meta(&key)?;
                self.now.photos_to_receive -= 1;
                continue;
            }
            let received = self.now.photo_bytes_received;
            if received > 0 && received >= budget {
                break;
            }
            // The first photo of a session may use the whole size limit.
            let cap = if received == 0 {
                limits::MAX_PHOTO_BYTES
            } else {
                (budget - received).min(limits::MAX_PHOTO_BYTES)
            };
            let fetched = match self.api.photo_get(&sha, cap).await {
                Ok(f) => f,
                Err(e) if e.is_transient() => {
                    // The link went, the server is busy or the token ran
                    // out: not this photo's fault; the rest waits for the
                    // next session.
                    report.photos_not_downloaded.push((sha, e.to_string()));
                    break;
                }
                Err(e) => {
                    tracing::warn!(photo = %sha, error = %e, "photo download failed");
                    store.set_meta(&key, &(failures + 1).to_string())?;
                    report.photos_not_downloaded.push((sha, e.to_string()));
                    continue;
                }
            };
            let refused = match fetched {
                // Not uploaded yet by its reporter: not a failure.
                api::Fetched::Missing => {
                    report
                        .photos_not_downloaded
                        .push((sha, "not on the server yet".into()));
                    continue;
                }
                api::Fetched::TooLarge { len } if len <= limits::MAX_PHOTO_BYTES => {
                    // Over what is left of the budget: next session.
                    report
                        .photos_not_downloaded
                        .push((sha, "over this session's download budget".into()));
                    break;
                }
                api::Fetched::TooLarge { len } => format!(
                    "the server sent {len} bytes or more, over the photo limit of {}",
                    limits::MAX_PHOTO_BYTES
                ),
                api::Fetched::Bytes(bytes) => {
                    self.now.photo_bytes_received += bytes.len() as u64;
                    let meta = gridpatrol_store::PhotoMeta {
                        mime: "image/jpeg".into(),
                        // Not known here: when it arrived on this device.
                        taken_at_ms: now_ms(),
                        lon: None,
                        lat: None,
                    };
                    match store.put_photo_as(&sha, &bytes, &meta) {
                        Ok(()) => {
                            // The server holds it: never upload it back.
                            store.set_meta(&format!("{META_PHOTO_UP}{sha}"), "1")?;
                            store.delete_meta(&key)?;
                            self.now.photos_received += 1;
                            self.report_progress();
                            report.photos_downloaded.push(sha);
                            continue;
                        }
                        Err(e @ gridpatrol_store::StoreError::DigestMismatch { .. }) => {
                            e.to_string()
                        }
                        Err(gridpatrol_store::StoreError::Invalid(m)) => m,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            tracing::warn!(photo = %sha, reason = %refused, "refused a photo from the server");
            store.set_meta(&key, &(failures + 1).to_string())?;
            report.photos_not_downloaded.push((sha, refused));
            self.report_progress();
        }
        Ok(())
    }

    /// Adds to `work` every stored document of `ids` that the server (as its
    /// manifest lists it in `server_docs`) lacks or holds an older version
    /// of, with a sync state that assumes the server holds only that (never
    /// what it confirmed before a restore). Only what this account may send
    /// goes: changes the server holds, plus this device's own changes whose
    /// dependencies go too ([`sendable_part`]); a document left with own
    /// changes waiting for another account's is marked to be offered again
    /// when the server's copy of it next changes. Photos of re-offered
    /// documents are checked against the server again.
    fn reoffer(
        &self,
        store: &mut Store,
        actor: &automerge::ActorId,
        ids: Vec<String>,
        server_docs: &BTreeMap<String, (DocKind, Vec<String>)>,
        work: &mut BTreeMap<String, Work>,
    ) -> Result<(), SyncError> {
        for id in ids {
            let Some(mut w) = self.load_work(store, &id, actor)? else {
                let _ = store.delete_meta(&format!("{META_REOFFER}{id}"));
                continue;
            };
            let server_heads: Vec<ChangeHash> = server_docs
                .get(&id)
                .map(|(_, h)| h.iter().filter_map(|h| h.parse().ok()).collect())
                .unwrap_or_default();
            let mut ours = w.doc.get_heads();
            ours.sort();
            let mut theirs = server_heads.clone();
            theirs.sort();
            let marker = format!("{META_REOFFER}{id}");
            if ours == theirs {
                store.delete_meta(&marker)?;
                // Back on the server already (an earlier attempt of this
                // recovery, cut off before its photos were up): only its
                // photos may still be missing there.
                if photos_waiting(store, &w.doc)? {
                    work.insert(id, w);
                } else {
                    work.remove(&id);
                }
                continue;
            }
            // Server heads this device lacks: the normal exchange pulls
            // them; what we send is measured from the ones we know.
            let known = server_heads_known(&w.doc, &server_heads);
            let part = sendable_part(&w.doc, &known, actor);
            let mut state = State::new();
            state.shared_heads = known;
            w.state = primed_state(Some(state));
            for sha in gridpatrol_docs::photo_refs(&w.doc) {
                store.delete_meta(&format!("{META_PHOTO_UP}{sha}"))?;
            }
            match part {
                Part::Whole => store.delete_meta(&marker)?,
                Part::Some(fork) => {
                    store.set_meta(&marker, &now_ms().to_string())?;
                    let whole = std::mem::replace(&mut w.doc, (*fork).with_actor(actor.clone()));
                    w.whole = Some(whole);
                }
                Part::Nothing => {
                    store.set_meta(&marker, &now_ms().to_string())?;
                    work.remove(&id);
                    continue;
                }
            }
            work.insert(id, w);
        }
        Ok(())
    }

    fn load_work(
        &self,
        store: &mut Store,
        id: &str,
        actor: &automerge::ActorId,
    ) -> Result<Option<Work>, SyncError> {
        let Some(d) = store.get_document(id)? else {
            return Ok(None);
        };
        let doc = Automerge::load(&d.bytes)
            .map_err(|e| SyncError::Automerge {
                id: id.to_string(),
                message: e.to_string(),
            })?
            .with_actor(actor.clone());
        let persisted = store
            .get_meta(&format!("{META_STATE}{id}"))?
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| State::decode(&b).ok());
        Ok(Some(Work {
            kind: store_kind(d.kind),
            bytes: d.bytes.len(),
            stored_heads: doc.get_heads(),
            doc,
            state: primed_state(persisted),
            outcome: Outcome::Active,
            whole: None,
            heard: false,
        }))
    }

    /// Uploads one photo, resuming from what the server already holds.
    /// Returns false if the server already had it or refused the bytes.
    async fn upload_photo(&mut self, store: &mut Store, sha: &str) -> Result<bool, SyncError> {
        let mark = |store: &mut Store| store.set_meta(&format!("{META_PHOTO_UP}{sha}"), "1");
        let offset = match self.api.photo_head(sha).await? {
            RemotePhoto::Complete => {
                mark(store)?;
                return Ok(false);
            }
            RemotePhoto::Missing => 0,
            RemotePhoto::Partial { offset } => offset,
        };
        let Some(path) = store.photo_path(sha)? else {
            return Ok(false);
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| SyncError::Invalid(format!("photo {}: {e}", path.display())))?;
        if self
            .api
            .put_from(sha, &bytes, offset, self.cfg.photo_chunk)
            .await?
        {
            mark(store)?;
            self.api.traffic.photos_uploaded += 1;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Uploads one photo's `bytes` (named by their SHA-256 hex `sha`) to
/// `server` as the account behind `token`, resuming an upload of this
/// account's in progress, in PUTs of at most `chunk` bytes: the same
/// resumable upload a device's sync makes. `Ok(false)`: the server already
/// held it. Bytes that do not hash to `sha` are refused.
pub async fn upload_photo(
    http: reqwest::Client,
    server: &str,
    allow_plain_http: bool,
    token: &str,
    sha: &str,
    bytes: &[u8],
    chunk: usize,
) -> Result<bool, SyncError> {
    let mut api = Api::new(http, server, allow_plain_http)?;
    api.token = Some(token.to_string());
    let offset = match api.photo_head(sha).await? {
        RemotePhoto::Complete => return Ok(false),
        RemotePhoto::Missing => 0,
        RemotePhoto::Partial { offset } => offset,
    };
    if api.put_from(sha, bytes, offset, chunk).await? {
        Ok(true)
    } else {
        Err(SyncError::Invalid(format!(
            "photo {sha}: the server says the bytes do not hash to their name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_is_jittered_and_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for attempt in 1..=12u32 {
            let cap = (100u64 << (attempt - 1).min(20)).min(1000);
            let samples: Vec<u64> = (0..200)
                .map(|_| p.delay(attempt).as_millis() as u64)
                .collect();
            assert!(samples.iter().all(|&d| d <= cap), "attempt {attempt}");
            // Jitter: not always the same pause.
            assert!(
                samples.iter().any(|&d| d != samples[0]),
                "attempt {attempt}"
            );
        }
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..p
        };
        assert_eq!(zero.delay(3), Duration::ZERO);
    }

    #[test]
    fn requests_are_packed_by_documents_and_by_operations() {
        use automerge::transaction::Transactable;
        // A new document of `ops` operations, as its first sync message.
        let msg = |ops: usize| {
            let mut doc = Automerge::new();
            let mut tx = doc.transaction();
            let l = tx
                .put_object(automerge::ROOT, "l", automerge::ObjType::List)
                .unwrap();
            tx.commit();
            // In changes of at most 9,000 operations (the per-change limit is 10,000).
            let mut left = ops - 1;
            while left > 0 {
                let n = left.min(9_000);
                let mut tx = doc.transaction();
                tx.splice(&l, 0, 0, (0..n).map(|_| automerge::ScalarValue::Null))
                    .unwrap();
                tx.commit();
                left -= n;
            }
            let mut s = primed_state(None);
            let req = SyncDocRequest {
                id: format!("d{ops}"),
                kind: proto::DocKind::Case,
                msg: doc.generate_sync_message(&mut s).unwrap().encode(),
            };
            (req, 1_000)
        };
        let sizes = |p: &Vec<Vec<SyncDocRequest>>| p.iter().map(Vec::len).collect::<Vec<_>>();
        let small: Vec<_> = (0..5).map(|_| msg(10)).collect();
        assert_eq!(sizes(&pack(small, 2)), vec![2, 2, 1]);
        // Six documents of 18,000 operations: five fit one request's budget.
        let big: Vec<_> = (0..6).map(|_| msg(18_000)).collect();
        assert_eq!(sizes(&pack(big, 500)), vec![5, 1]);
        // Documents of 1.5 MB saved: two fit the stored-bytes budget.
        let heavy: Vec<_> = (0..3).map(|_| (msg(10).0, 1_500_000)).collect();
        assert_eq!(sizes(&pack(heavy, 500)), vec![2, 1]);
    }

    #[test]
    fn primed_state_offers_changes_since_the_shared_heads_in_the_first_message() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "a", 1).unwrap();
        tx.commit();
        // Never synced: the whole document goes in the first message.
        let mut s = primed_state(None);
        let m = doc.generate_sync_message(&mut s).unwrap();
        let mut server = Automerge::new();
        let mut ss = State::new();
        server.receive_sync_message(&mut ss, m).unwrap();
        assert_eq!(server.get_heads(), doc.get_heads());
    }
}
