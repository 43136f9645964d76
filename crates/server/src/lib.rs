//! The GridPatrol sync server: a thin axum app that is nevertheless the one
//! place deciding who may see and change what. It authenticates people
//! (argon2 password hashes, random bearer tokens stored only as SHA-256, with
//! expiry and logout), answers the manifest (documents in the caller's scope
//! changed since a cursor), runs batched Automerge sync — applying each
//! incoming message to a fork, asking `gridpatrol_docs::parts_changed` and
//! `gridpatrol_docs::authorize` whether the caller owns every part it altered,
//! and storing only allowed changes — and takes resumable photo uploads by
//! SHA-256. Storage is behind [`gridpatrol_server_storage::ServerStore`]
//! (SQLite by default). Wire types live in `gridpatrol-protocol`.
//!
//! For tests (here and in `gridpatrol-sync` / `gridpatrol-sim`):
//! [`spawn_test_server`] opens (or creates) a SQLite store in a directory,
//! binds `127.0.0.1:0` and returns a [`RunningServer`] with its address;
//! [`RunningServer::shutdown`] stops it gracefully. Seed accounts with
//! [`accounts::load_district`] (password of every account: `patrol-<id>`).
#![forbid(unsafe_code)]

pub mod accounts;
pub mod auth;
pub mod centre;
pub mod config;
mod conn;
pub mod district;
pub mod error;
pub mod metrics;
pub mod open311;
pub mod patrol;
mod photos;
pub mod quality;
pub mod rotation;
mod sync;
pub mod throttle;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gridpatrol_protocol::{
    codes, limits, paths, LoginRequest, LoginResponse, ManifestEntry, ManifestRequest,
    ManifestResponse, UserInfo,
};
use gridpatrol_server_storage::{ServerStore, StoreError};
use gridpatrol_server_storage_sqlite::SqliteStore;
use tokio::net::TcpListener;

use crate::auth::Caller;
use crate::config::Settings;
use crate::error::{body_rejection, parse_json, ApiError};
use crate::metrics::Metrics;

/// Cached sync states by (account/device, document) and the bytes they take.
type StateCache = (HashMap<(String, String), automerge::sync::State>, usize);

/// Shared state of one server instance.
pub struct AppState {
    /// The storage backend.
    pub store: Arc<dyn ServerStore>,
    /// Settings in force.
    pub settings: Settings,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// In-memory Automerge sync states per (account/device, document).
    /// (And the bytes they take, bounded in `sync.rs`.)
    sync_states: Mutex<StateCache>,
    /// Bounds concurrent sync batch processing (CPU and memory).
    sync_permits: Arc<tokio::sync::Semaphore>,
    /// One lock per account with a sync in progress, so one account holds
    /// at most one sync worker however many requests it sends.
    sync_accounts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The district's WGS-84 bounding box `[min_lon, min_lat, max_lon, max_lat]`.
    pub district_bbox: [f64; 4],
    /// Bounds concurrent password checks: each argon2 check holds its
    /// memory cost (8–19 MiB), and a shift-start storm of 1,500 logins run
    /// all at once grew the server to 3.5 GB for no gain in throughput.
    login_permits: Arc<tokio::sync::Semaphore>,
    /// Backoff on failed logins.
    pub throttle: throttle::LoginThrottle,
    /// Password checks with reused argon2 memory (one buffer per login permit).
    pub passwords: accounts::PasswordChecker,
    /// Hash checked for unknown ids: same parameters as the accounts' hashes.
    dummy_hash: Mutex<Option<String>>,
    /// When stale unfinished photo uploads were last purged (ms since epoch).
    last_upload_purge_ms: std::sync::atomic::AtomicI64,
    /// The data directory, when the store lives in one (rotation plans).
    data_dir: Option<std::path::PathBuf>,
}

impl AppState {
    /// State over a store with the given settings.
    pub fn new(store: Arc<dyn ServerStore>, settings: Settings) -> Arc<AppState> {
        let workers = match settings.server.sync_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Arc::new(AppState {
            store,
            sync_permits: Arc::new(tokio::sync::Semaphore::new(workers)),
            sync_accounts: Mutex::new(HashMap::new()),
            district_bbox: district_bbox(),
            login_permits: Arc::new(tokio::sync::Semaphore::new(workers)),
            metrics: Metrics::default(),
            sync_states: Mutex::new((HashMap::new(), 0)),
            throttle: throttle::LoginThrottle::new(settings.auth.throttle.clone()),
            passwords: accounts::PasswordChecker::default(),
            dummy_hash: Mutex::new(None),
            last_upload_purge_ms: std::sync::atomic::AtomicI64::new(0),
            data_dir: None,
            settings,
        })
    }

    /// [`AppState::new`] for a store in the data directory `dir`, whose
    /// rotation plans the server then follows.
    pub fn in_dir(store: Arc<dyn ServerStore>, settings: Settings, dir: &Path) -> Arc<AppState> {
        let mut s = AppState::new(store, settings);
        Arc::get_mut(&mut s).expect("just made").data_dir = Some(dir.to_path_buf());
        s
    }

    /// The hash that passwords for unknown ids are checked against, once one
    /// was needed: a hash with the algorithm, version and parameters of the
    /// accounts' hashes (so "no such id" costs what "wrong password" costs).
    pub fn login_dummy_hash(&self) -> Option<String> {
        lock(&self.dummy_hash).clone()
    }

    /// The dummy hash, derived from a stored account's hash on first use.
    fn dummy_hash(&self) -> Result<String, StoreError> {
        if let Some(d) = lock(&self.dummy_hash).clone() {
            return Ok(d);
        }
        let sample = self.store.sample_password_hash()?;
        let d = sample
            .as_deref()
            .and_then(accounts::dummy_hash_like)
            .or_else(|| accounts::hash_password("no such user", accounts::HashCost::STANDARD).ok())
            .unwrap_or_default();
        *lock(&self.dummy_hash) = Some(d.clone());
        Ok(d)
    }

    /// Keeps the dummy hash at the parameters of the account just checked.
    fn follow_account_cost(&self, real: &str) {
        let current = lock(&self.dummy_hash).clone();
        let want = accounts::hash_params(real);
        if want.is_some() && current.as_deref().and_then(accounts::hash_params) != want {
            if let Some(d) = accounts::dummy_hash_like(real) {
                *lock(&self.dummy_hash) = Some(d);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The demo district's bounding box, from its outline.
fn district_bbox() -> [f64; 4] {
    use geo::BoundingRect;
    match gridpatrol_district::DemoDistrict::outline().bounding_rect() {
        Some(r) => [r.min().x, r.min().y, r.max().x, r.max().y],
        // The embedded outline is never empty (tested in the district crate).
        None => [-180.0, -90.0, 180.0, 90.0],
    }
}

impl AppState {
    /// A sync worker, owned so it can move into the blocking task.
    pub(crate) async fn sync_worker(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.sync_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)
    }

    /// Waits until no other sync of `account` runs, then holds its lock.
    pub(crate) async fn lock_account(self: &Arc<Self>, account: &str) -> AccountLock {
        let m = {
            let mut map = self.sync_accounts.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(account.to_string()).or_default().clone()
        };
        let guard = m.clone().lock_owned().await;
        AccountLock {
            state: self.clone(),
            account: account.to_string(),
            lock: m,
            _guard: Some(guard),
        }
    }
}

/// Held while one account's sync runs; forgets the account's lock when no
/// one else waits for it, so the table stays as small as the crowd.
pub(crate) struct AccountLock {
    state: Arc<AppState>,
    account: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        self._guard = None;
        let mut map = self
            .state
            .sync_accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Ours and the table's: nobody else waits.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.account);
        }
    }
}

/// How long an expired token is remembered (to answer `token_expired`).
const TOKEN_GRACE_MS: i64 = 30 * 24 * 3600 * 1000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The axum router with every endpoint, body limits and request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let small = DefaultBodyLimit::max(limits::MAX_SMALL_BODY);
    Router::new()
        .route(paths::LOGIN, post(login).layer(small))
        .route(paths::LOGOUT, post(logout).layer(small))
        .route(paths::MANIFEST, post(manifest).layer(small))
        .route(paths::DISTRICT, get(district::district))
        .route(paths::CENTRE_CASES, get(centre::list))
        .route(paths::CENTRE_CASE_ROUTE, get(centre::show))
        .route(paths::CENTRE_ACTION_ROUTE, post(centre::act).layer(small))
        .route(
            paths::CENTRE_ACTIONS,
            post(centre::act_batch).layer(DefaultBodyLimit::max(limits::MAX_CENTRE_BATCH_BODY)),
        )
        .route(
            paths::CENTRE_COMPLAINTS,
            post(centre::complaint).layer(small),
        )
        .route(paths::QUALITY_SAMPLES, get(quality::samples))
        .route(
            paths::QUALITY_SAMPLE_ROUTE,
            post(quality::mark).layer(small),
        )
        .route(paths::QUALITY_KPI, get(quality::kpi))
        .route(paths::QUALITY_EVAL, get(quality::eval))
        .route(paths::PATROL_DAYS, post(patrol::upload).layer(small))
        .route(
            paths::SYNC,
            post(sync::sync).layer(DefaultBodyLimit::max(limits::MAX_SYNC_BODY)),
        )
        .route(
            paths::PHOTO_ROUTE,
            get(photos::get_photo)
                .head(photos::head_photo)
                .put(photos::put_photo)
                // The PUT handler streams and enforces Upload-Length itself.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            open311::SERVICES,
            get(open311::services).fallback(open311::read_only),
        )
        .route(
            open311::REQUESTS,
            get(open311::requests).fallback(open311::read_only),
        )
        .route(
            open311::REQUEST_ROUTE,
            get(open311::request).fallback(open311::read_only),
        )
        .route(
            open311::OTHER_ROUTE,
            get(open311::other).fallback(open311::read_only),
        )
        .route(paths::HEALTHZ, get(|| async { "ok" }))
        .route(paths::METRICS, get(metrics_text))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::METHOD_NOT_ALLOWED,
                "this endpoint does not take that HTTP method",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), durable_acks))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(DefaultBodyLimit::max(limits::MAX_SMALL_BODY))
        .with_state(state)
}

async fn count_requests(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let resp = next.run(req).await;
    state
        .metrics
        .request(&route, &method, resp.status().as_u16());
    resp
}

/// Holds every successful answer to a request that may write (anything
/// but GET/HEAD) until what the store committed before it is on disk: the
/// device forgets what an answer confirms, so the answer must not outrun
/// the flush. One rule for every endpoint, present and future.
async fn durable_acks(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let writes = !req.method().is_safe();
    let resp = next.run(req).await;
    if !writes || !state.settings.server.durable_acks || !resp.status().is_success() {
        return resp;
    }
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.flush()).await {
        Ok(Ok(())) => resp,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not make a write durable; not acknowledging it");
            ApiError::from(e).into_response()
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// An account as devices see it.
fn user_info(user: gridpatrol_server_storage::User) -> UserInfo {
    UserInfo {
        id: user.id,
        name: user.name,
        role: user.role,
        squad: user.squad,
        supervision_grid: user.supervision_grid,
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// 429 `too_many_attempts` with `Retry-After`.
fn too_many_attempts(state: &AppState, t: throttle::Throttled) -> ApiError {
    Metrics::add(&state.metrics.logins_throttled, 1);
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::TOO_MANY_ATTEMPTS,
        format!(
            "too many failed logins for this account or address; try again in {} s",
            t.retry_after_secs
        ),
    );
    e.headers.push((
        header::RETRY_AFTER,
        header::HeaderValue::from(t.retry_after_secs),
    ));
    e
}

async fn login(
    State(state): State<Arc<AppState>>,
    throttle::ClientAddr(addr): throttle::ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let body = body.map_err(body_rejection)?;
    let req: LoginRequest = parse_json(&body)?;
    if req.user_id.len() > limits::MAX_ID_LEN || req.password.len() > 1024 {
        return Err(ApiError::malformed("user_id or password too long"));
    }
    let st = state.clone();
    let ttl_ms =
        i64::try_from(state.settings.auth.token_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    // Refused attempts cost no hash; checked again once a permit is held,
    // so a burst queued behind the permits is cut off as soon as it fails.
    state
        .throttle
        .check(&req.user_id, addr)
        .map_err(|t| too_many_attempts(&state, t))?;
    // Owned, and moved into the blocking task: a client that hangs up does
    // not free the permit while its hash still runs.
    let permit = state
        .login_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    state
        .throttle
        .check(&req.user_id, addr)
        .map_err(|t| too_many_attempts(&state, t))?;
    let account = req.user_id.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Option<LoginResponse>, ApiError> {
        let _permit = permit;
        let user = st.store.user(&req.user_id)?;
        let ok = match &user {
            Some(u) => {
                st.follow_account_cost(&u.password_hash);
                st.passwords.verify(&req.password, &u.password_hash)
            }
            None => {
                let _ = st.passwords.verify(&req.password, &st.dummy_hash()?);
                false
            }
        };
        let (Some(user), true) = (user, ok) else {
            return Ok(None);
        };
        let (token, hash) = auth::new_token();
        let now = now_ms();
        let expires = now.saturating_add(ttl_ms);
        st.store.insert_token(&hash, &user.id, now, expires)?;
        // Forget tokens long expired; recently expired ones stay so their
        // holders hear `token_expired` rather than `invalid_token`.
        st.store.purge_expired_tokens(now - TOKEN_GRACE_MS)?;
        Ok(Some(LoginResponse {
            token,
            expires_at_ms: expires,
            user: user_info(user),
        }))
    })
    .await??;
    match out {
        Some(r) => {
            state.throttle.success(&account, addr);
            Metrics::add(&state.metrics.logins_ok, 1);
            Ok(Json(r))
        }
        None => {
            state.throttle.failure(&account, addr);
            Metrics::add(&state.metrics.logins_failed, 1);
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::BAD_CREDENTIALS,
                "unknown user or wrong password",
            ))
        }
    }
}

async fn logout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.revoke_token(&caller.token_hash)).await??;
    Ok(StatusCode::NO_CONTENT)
}

async fn manifest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ManifestResponse>, ApiError> {
    caller.require_case_role()?;
    let body = body.map_err(body_rejection)?;
    let req: ManifestRequest = parse_json(&body)?;
    let limit = req
        .limit
        .unwrap_or(limits::MANIFEST_DEFAULT_LIMIT)
        .clamp(1, limits::MANIFEST_MAX_LIMIT);
    let scope = caller.scope();
    let account = user_info(caller.user.clone());
    let store = state.store.clone();
    let page =
        tokio::task::spawn_blocking(move || store.manifest(&scope, req.cursor.unwrap_or(0), limit))
            .await??;
    Ok(Json(ManifestResponse {
        cursor: page.cursor,
        more: page.more,
        latest: page.latest,
        epoch: page.epoch,
        account: Some(account),
        docs: page
            .rows
            .into_iter()
            .map(|r| ManifestEntry {
                id: r.id,
                kind: r.kind,
                heads: r.heads,
            })
            .collect(),
    }))
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Storage could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes
/// in-flight requests and returns. Connections are bounded and timed out as
/// `[server]` says (see `max_connections`, `header_read_timeout_secs`,
/// `idle_timeout_secs`).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let settings = state.settings.server.clone();
    let st = state.clone();
    match tokio::task::spawn_blocking(move || centre::backfill_index(&st)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(documents = n, "built the centre index of older documents"),
        Ok(Err(e)) => tracing::warn!(error = %e, "could not build the centre index"),
        Err(e) => tracing::warn!(error = %e, "centre index task failed"),
    }
    let drawing = tokio::spawn(quality::draw_monthly(state.clone()));
    let following = state
        .data_dir
        .clone()
        .map(|dir| tokio::spawn(rotation::follow_plans(state.clone(), dir)));
    let served = conn::serve(listener, router(state), &settings, shutdown).await;
    drawing.abort();
    if let Some(f) = following {
        f.abort();
    }
    served?;
    Ok(())
}

/// A server running in the background (tests, simulator).
pub struct RunningServer {
    /// The bound address (`127.0.0.1:<port>`).
    pub addr: SocketAddr,
    /// Its state (store, metrics).
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl RunningServer {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_wait().await
    }

    async fn stop_and_wait(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(t) => t
                .await
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Dropped without shutdown(): still ask the task to stop.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server over `state` on `addr` (port 0 picks a free port) in a
/// background task of the current tokio runtime.
pub async fn spawn_server(state: Arc<AppState>, addr: &str) -> Result<RunningServer, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        state,
        stop: Some(tx),
        task: Some(task),
    })
}

/// Opens (creating if needed) a SQLite store in `data_dir` and serves it on
/// `127.0.0.1:0` with default settings. Accounts are whatever the store holds
/// (seed with [`accounts::load_district`]).
pub async fn spawn_test_server(data_dir: &Path) -> Result<RunningServer, ServeError> {
    spawn_test_server_with(data_dir, Settings::default()).await
}

/// [`spawn_test_server`] with explicit settings (e.g. a short token lifetime).
pub async fn spawn_test_server_with(
    data_dir: &Path,
    settings: Settings,
) -> Result<RunningServer, ServeError> {
    let dir = data_dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir))
        .await
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
    spawn_server(
        AppState::in_dir(Arc::new(store), settings, data_dir),
        "127.0.0.1:0",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, Arc<AppState>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, AppState::new(Arc::new(store), Settings::default()))
    }

    /// One account's second sync waits for its first; another account's
    /// does not, and the table forgets accounts nobody waits for.
    #[tokio::test]
    async fn one_account_holds_one_sync_worker_at_most() {
        let (_dir, st) = state();
        let first = st.lock_account("I0001").await;
        let again = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            st.lock_account("I0001"),
        )
        .await;
        assert!(
            again.is_err(),
            "a second sync of I0001 ran beside the first"
        );
        // Another account goes straight through.
        let other =
            tokio::time::timeout(std::time::Duration::from_secs(5), st.lock_account("I0002"))
                .await
                .expect("I0002 waited for I0001");
        drop(other);
        drop(first);
        let after =
            tokio::time::timeout(std::time::Duration::from_secs(5), st.lock_account("I0001"))
                .await
                .expect("the lock was released");
        drop(after);
        assert!(st
            .sync_accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty());
    }
}
