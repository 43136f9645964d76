//! The field simulator: N inspector phones, each the app's own
//! [`gridpatrol_device::Device`] (its store, photo pipeline and sync loop,
//! its own HTTP client), sign in at shift start, create cases offline, sync
//! them through the fault proxy, and the centre's copy is checked against
//! every phone's copy.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Contains, Point};
use gridpatrol_device::view::{CaseDraft, Position, SignIn};
use gridpatrol_device::{DeviceConfig, DeviceError, NoPosition, SystemClock};
use gridpatrol_district::{DemoDistrict, GridIndex};
use gridpatrol_domain::roles::Role;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_sync::{RetryPolicy, SyncConfig, SyncEngine, SyncError, Traffic};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::proxy::FaultProxy;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Server base URL (`http://host:port`).
    pub server: String,
    /// Simulated devices, one per demo inspector `I0001…` in id order
    /// (squad leaders included: they report in their squad too).
    pub inspectors: usize,
    /// Cases created in total, spread round-robin over the devices.
    pub cases: usize,
    /// Photos per case (a small synthetic street scene, through the app's
    /// photo pipeline like a camera shot).
    pub photos: usize,
    /// Probability that the proxy cuts a request.
    pub faults: f64,
    /// Seed of every random choice (places, categories, cuts).
    pub seed: u64,
    /// Devices syncing at the same time.
    pub concurrency: usize,
    /// Centre account used to check convergence, with its password.
    pub centre: (String, String),
    /// A restore drill: half the cases are synced, the server is backed up,
    /// the other half is synced, the server is restored from that backup,
    /// and the devices must bring back the second half on their own.
    pub drill: Option<Drill>,
}

/// Future returned by a [`RestoreDrill`] step.
pub type DrillFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// The server side of a restore drill (the simulator cannot restart a
/// server; whoever runs it can).
pub trait RestoreDrill: Send + Sync {
    /// Takes the backup (the server keeps running).
    fn backup(&self) -> DrillFuture<'_, ()>;
    /// Stops the server, restores the backup and starts a server on it;
    /// returns the restored server's address.
    fn restore(&self) -> DrillFuture<'_, SocketAddr>;
}

/// A [`RestoreDrill`] in a [`SimConfig`].
#[derive(Clone)]
pub struct Drill(pub Arc<dyn RestoreDrill>);

impl std::fmt::Debug for Drill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Drill(..)")
    }
}

/// What a restore drill measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DrillResult {
    /// Cases synced before the backup.
    pub cases_before_backup: usize,
    /// Cases synced after it (lost by the restore until devices resend them).
    pub cases_after_backup: usize,
    /// From the restored server's start to every device having synced
    /// with it (what it lacked sent again), before the centre's check.
    pub recover_seconds: f64,
    /// The baseline in the same run: the devices sending the second half
    /// to the server the first time.
    pub second_half_seconds: f64,
    /// Devices whose first session with the restored server noticed it.
    pub devices_recovered: usize,
    /// HTTP requests during the recovery.
    pub recover_round_trips: u64,
    /// Request body bytes sent during the recovery.
    pub recover_bytes_up: u64,
}

impl SimConfig {
    /// A config with the demo centre account `C0001` and 32 devices at a time.
    pub fn new(server: &str, inspectors: usize, cases: usize) -> SimConfig {
        SimConfig {
            server: server.into(),
            inspectors,
            cases,
            photos: 0,
            faults: 0.0,
            seed: 1,
            concurrency: 32,
            centre: ("C0001".into(), "patrol-C0001".into()),
            drill: None,
        }
    }
}

/// The outcome, printed by `gridpatrol sim --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimResult {
    /// Cases created on the devices.
    pub cases: usize,
    /// Every device's copy equals the server's (same heads), nothing lost or duplicated.
    pub converged: bool,
    /// Cases the server does not have.
    pub lost: usize,
    /// Extra copies on the server beyond the cases created.
    pub duplicated: usize,
    /// HTTP requests made by the devices.
    pub round_trips: u64,
    /// Request body bytes sent by the devices.
    pub bytes_up: u64,
    /// Response body bytes received by the devices.
    pub bytes_down: u64,
    /// From the first sync request to verified convergence.
    pub seconds: f64,
    /// Logging every device in at shift start (before the cases are made
    /// offline; not part of `seconds`).
    pub login_seconds: f64,
    /// Of `seconds`: until every device finished syncing.
    pub sync_seconds: f64,
    /// Of `seconds`: the centre fetching everything and the comparison.
    pub verify_seconds: f64,
    /// Cases whose server copy differs from the device copy.
    pub diverged: usize,
    /// Cases refused by the server.
    pub refused: usize,
    /// Photos uploaded (each exactly once).
    pub photos_uploaded: u64,
    /// Photos referenced by a case that never reached the server.
    pub photos_missing: usize,
    /// Connections the proxy cut.
    pub cuts: u64,
    /// Sync sessions that failed and were retried.
    pub retries: u64,
    /// The restore drill, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillResult>,
}

/// Why a simulation could not run.
#[derive(Debug, Error)]
pub enum SimError {
    /// Bad arguments.
    #[error("{0}")]
    Config(String),
    /// Local IO (temp dirs, proxy socket).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A phone (the app's device facade) failed.
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    /// The centre's check could not read the server.
    #[error("sync: {0}")]
    Sync(#[from] SyncError),
    /// A synthetic photo could not be made.
    #[error("photo: {0}")]
    Photo(#[from] gridpatrol_media::MediaError),
    /// A restore drill step failed.
    #[error("restore drill: {0}")]
    Drill(String),
}

/// One simulated phone: the app's device facade in a data directory of its own.
struct Phone {
    app: gridpatrol_device::Device,
    user: String,
    cases: Vec<String>,
    /// Keeps the phone's data directory alive.
    _dir: tempfile::TempDir,
}

impl Phone {
    fn open() -> Result<Phone, SimError> {
        let dir = tempfile::tempdir()?;
        let app = gridpatrol_device::Device::open(DeviceConfig {
            data_dir: dir.path().to_path_buf(),
            clock: Arc::new(SystemClock),
            // Each case sets its fix (`report_position`) as the shell would.
            position: Arc::new(NoPosition),
            // The fault proxy is on loopback.
            allow_plain_http: false,
        })?;
        Ok(Phone {
            app,
            user: String::new(),
            cases: Vec::new(),
            _dir: dir,
        })
    }
}

/// A failure no retry can mend (the account itself is refused).
fn fatal(e: &DeviceError) -> bool {
    matches!(
        e,
        DeviceError::BadCredentials | DeviceError::SessionExpired | DeviceError::NotSignedIn
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random WGS-84 point inside technical grid `k`, located back to its grids.
fn random_point(
    d: &DemoDistrict,
    index: &GridIndex,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(f64, f64, gridpatrol_district::Location)> {
    let geom = &d.geometry[k];
    let rect = geom.bounding_rect()?;
    for _ in 0..64 {
        let lon = rng.random_range(rect.min().x..=rect.max().x);
        let lat = rng.random_range(rect.min().y..=rect.max().y);
        if geom.contains(&Point::new(lon, lat)) {
            if let Some(loc) = index.locate(lon, lat) {
                if loc.technical_grid == d.district.technical_grids[k].code {
                    return Some((lon, lat, loc));
                }
            }
        }
    }
    None
}

/// Runs the simulation against `cfg.server`.
pub async fn run(cfg: &SimConfig) -> Result<SimResult, SimError> {
    if cfg.inspectors == 0 {
        return Err(SimError::Config("--inspectors must be at least 1".into()));
    }
    if !(0.0..1.0).contains(&cfg.faults) {
        return Err(SimError::Config("--faults must be in [0, 1)".into()));
    }
    let upstream = resolve(&cfg.server).await?;
    let district = DemoDistrict::get();
    let index = GridIndex::new(district);
    let taxonomy = Taxonomy::builtin();
    let fine: Vec<(String, String)> = taxonomy
        .fine_classes()
        .map(|n| (n.code.clone(), n.name.clone()))
        .collect();
    if fine.is_empty() {
        return Err(SimError::Config(
            "the built-in taxonomy has no fine classes".into(),
        ));
    }
    let mut people: Vec<_> = district
        .district
        .inspectors
        .iter()
        // Squad leaders patrol and report too (as themselves, in their squad).
        .filter(|i| matches!(i.role, Role::Inspector | Role::SquadLeader))
        .collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    if people.len() < cfg.inspectors {
        return Err(SimError::Config(format!(
            "the demo district has only {} inspectors",
            people.len()
        )));
    }
    let mut grids_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, t) in district.district.technical_grids.iter().enumerate() {
        grids_of
            .entry(t.supervision_grid.as_str())
            .or_default()
            .push(k);
    }

    let proxy = FaultProxy::start(upstream, cfg.faults, cfg.seed).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(gridpatrol_sync::IDLE_CONNECTION)
        .build()
        .map_err(|e| SimError::Config(format!("HTTP client: {e}")))?;
    let retry = RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    };
    // The centre's count before (a duplicate is a document beyond it and
    // the cases made).
    let mut centre = centre_engine(cfg, &cfg.server, retry, &http)?;
    let held_before = centre.server_heads().await?.len();

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let run_id = format!("{:x}", now_ms());
    // Shift start: every phone signs in while it still has signal (a
    // token lasts the shift, the district package is cached); the cases
    // are then made offline.
    let mut phones: Vec<Phone> = Vec::with_capacity(cfg.inspectors);
    for p in &people[..cfg.inspectors] {
        let mut phone = Phone::open()?;
        phone.user = p.id.clone();
        phones.push(phone);
    }
    let login_started = Instant::now();
    let gate = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut set = JoinSet::new();
    for (n, phone) in phones.into_iter().enumerate() {
        let gate = gate.clone();
        let server = proxy.url();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut last = None;
            for attempt in 1..=retry.max_attempts {
                let req = SignIn {
                    server: server.clone(),
                    user_id: phone.user.clone(),
                    password: format!("patrol-{}", phone.user),
                };
                match phone.app.sign_in(req).await {
                    Ok(_) => return Ok((n, phone)),
                    Err(e) if fatal(&e) => return Err(e),
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(retry.delay(attempt)).await;
                    }
                }
            }
            Err(last.unwrap_or_else(|| DeviceError::Internal("sign-in never attempted".into())))
        });
    }
    let mut signed_in = Vec::new();
    while let Some(r) = set.join_next().await {
        signed_in.push(r.map_err(|e| SimError::Config(format!("phone task failed: {e}")))??);
    }
    signed_in.sort_by_key(|(n, _)| *n);
    let mut devices: Vec<Phone> = signed_in.into_iter().map(|(_, d)| d).collect();
    let login_seconds = login_started.elapsed().as_secs_f64();

    let half = if cfg.drill.is_some() {
        cfg.cases / 2
    } else {
        cfg.cases
    };
    let photo = if cfg.photos > 0 {
        let (w, h) = (480, 360);
        gridpatrol_media::synth::jpeg(
            &gridpatrol_media::synth::street_scene(w, h, cfg.seed),
            w,
            h,
            85,
            None,
        )?
    } else {
        Vec::new()
    };
    let mut make = Maker {
        cfg,
        photo: &photo,
        people: &people,
        grids_of: &grids_of,
        district,
        index: &index,
        fine: &fine,
        rng: &mut rng,
        run_id: &run_id,
    };
    make.cases(&mut devices, 0..half)?;

    // Everyone syncs, through the proxy, some at the same time.
    let started = Instant::now();
    let mut stats = SyncStats::default();
    let mut done = sync_all(devices, &gate, &mut stats).await?;
    let mut drill = None;
    let mut server = cfg.server.clone();
    if let Some(Drill(d)) = &cfg.drill {
        d.backup().await.map_err(SimError::Drill)?;
        make.cases(&mut done, half..cfg.cases)?;
        let t = Instant::now();
        done = sync_all(done, &gate, &mut stats).await?;
        let second_half_seconds = t.elapsed().as_secs_f64();
        let addr = d.restore().await.map_err(SimError::Drill)?;
        proxy.set_upstream(addr);
        server = format!("http://{addr}");
        let before = total_traffic(&done).await;
        let t = Instant::now();
        let mut recovery = SyncStats::default();
        done = sync_all(done, &gate, &mut recovery).await?;
        let after = total_traffic(&done).await;
        drill = Some(DrillResult {
            cases_before_backup: half,
            cases_after_backup: cfg.cases - half,
            recover_seconds: t.elapsed().as_secs_f64(),
            second_half_seconds,
            devices_recovered: recovery.recovered,
            recover_round_trips: after.round_trips - before.round_trips,
            recover_bytes_up: after.bytes_up - before.bytes_up,
        });
        stats.add(&recovery);
    }
    let traffic = total_traffic(&done).await;
    let SyncStats {
        retries,
        refused,
        unfinished,
        ..
    } = stats;
    let sync_seconds = started.elapsed().as_secs_f64();
    // The centre reads the server's heads of every document (the manifest
    // from the beginning, directly, without the proxy) and compares them with
    // every phone's stored heads: equal heads mean equal documents.
    if server != cfg.server {
        centre = centre_engine(cfg, &server, retry, &http)?;
    }
    let on_server = centre.server_heads().await?;
    let (mut lost, mut diverged, mut photos_missing) = (0, 0, 0);
    for phone in &done {
        for id in &phone.cases {
            let Some(theirs) = on_server.get(id) else {
                lost += 1;
                continue;
            };
            let Some(mine) = phone.app.check_document(id)? else {
                diverged += 1;
                continue;
            };
            if &mine.heads != theirs || !mine.synced {
                diverged += 1;
            }
            photos_missing += mine.photos_not_uploaded;
        }
    }
    let duplicated = on_server
        .len()
        .saturating_sub(held_before)
        .saturating_sub(cfg.cases - lost);
    let seconds = started.elapsed().as_secs_f64();
    Ok(SimResult {
        cases: cfg.cases,
        converged: lost == 0
            && duplicated == 0
            && diverged == 0
            && unfinished == 0
            && photos_missing == 0,
        lost,
        duplicated,
        round_trips: traffic.round_trips,
        bytes_up: traffic.bytes_up,
        bytes_down: traffic.bytes_down,
        seconds,
        login_seconds,
        sync_seconds,
        verify_seconds: seconds - sync_seconds,
        diverged,
        refused,
        photos_uploaded: traffic.photos_uploaded,
        photos_missing,
        cuts: proxy.cuts(),
        retries,
        drill,
    })
}

/// Makes cases offline on the devices, round-robin, from the seeded RNG.
struct Maker<'a> {
    cfg: &'a SimConfig,
    /// The camera's shot (JPEG) each photo starts from.
    photo: &'a [u8],
    people: &'a [&'a gridpatrol_domain::district::Inspector],
    grids_of: &'a BTreeMap<&'a str, Vec<usize>>,
    district: &'a DemoDistrict,
    index: &'a GridIndex,
    fine: &'a [(String, String)],
    rng: &'a mut ChaCha8Rng,
    run_id: &'a str,
}

impl Maker<'_> {
    fn cases(
        &mut self,
        devices: &mut [Phone],
        range: std::ops::Range<usize>,
    ) -> Result<(), SimError> {
        let (cfg, people, grids_of, district, index, fine, run_id) = (
            self.cfg,
            self.people,
            self.grids_of,
            self.district,
            self.index,
            self.fine,
            self.run_id,
        );
        let rng = &mut *self.rng;
        for c in range {
            let n = c % cfg.inspectors;
            let person = people[n];
            let grids = grids_of
                .get(person.supervision_grid.as_str())
                .filter(|g| !g.is_empty())
                .ok_or_else(|| {
                    SimError::Config(format!(
                        "grid {} has no technical grids",
                        person.supervision_grid
                    ))
                })?;
            let (lon, lat, loc) = (0..16)
                .find_map(|_| {
                    let k = grids[rng.random_range(0..grids.len())];
                    random_point(district, index, k, rng)
                })
                .ok_or_else(|| {
                    SimError::Config(format!("no point found in {}", person.supervision_grid))
                })?;
            let (code, name) = &fine[rng.random_range(0..fine.len())];
            let phone = &mut devices[n];
            debug_assert_eq!(loc.supervision_grid, person.supervision_grid);
            let fix = Position {
                lon,
                lat,
                accuracy_m: rng.random_range(3.0..15.0),
                mock: false,
                manual: false,
                at_ms: now_ms(),
            };
            phone.app.report_position(fix.clone())?;
            let mut photos = Vec::new();
            for _ in 0..cfg.photos {
                photos.push(phone.app.add_photo(self.photo)?.sha256);
            }
            let saved = phone.app.save_case(CaseDraft {
                category: code.clone(),
                position: fix,
                address: format!("模拟地址 {c} ({run_id})"),
                description: format!("{name}（模拟第{c}号）"),
                photos,
            })?;
            phone.cases.push(saved.id);
        }

        Ok(())
    }
}

/// Sync outcomes summed over devices.
#[derive(Debug, Default)]
struct SyncStats {
    retries: u64,
    refused: usize,
    unfinished: usize,
    recovered: usize,
}

impl SyncStats {
    fn add(&mut self, o: &SyncStats) {
        self.retries += o.retries;
        self.refused += o.refused;
        self.unfinished = o.unfinished;
        self.recovered += o.recovered;
    }
}

async fn total_traffic(phones: &[Phone]) -> Traffic {
    let mut traffic = Traffic::default();
    for phone in phones {
        let t = phone.app.sync_loop().traffic().await;
        traffic.round_trips += t.round_trips;
        traffic.bytes_up += t.bytes_up;
        traffic.bytes_down += t.bytes_down;
        traffic.photos_uploaded += t.photos_uploaded;
    }
    traffic
}

/// The centre account's engine for the convergence check (directly to the
/// server, not through the proxy).
fn centre_engine(
    cfg: &SimConfig,
    server: &str,
    retry: RetryPolicy,
    http: &reqwest::Client,
) -> Result<SyncEngine, SimError> {
    let mut cc = SyncConfig::new(server, &cfg.centre.0, &cfg.centre.1);
    cc.retry = retry;
    // A test tool against a test server, possibly on another machine of the
    // test network; `resolve` already limits it to http://.
    cc.allow_plain_http = true;
    Ok(SyncEngine::with_client(cc, http.clone())?)
}

/// Every phone syncs (`gate` bounds how many at once), retrying a session
/// that failed up to 8 times, as the app's background loop would.
async fn sync_all(
    phones: Vec<Phone>,
    gate: &Arc<Semaphore>,
    stats: &mut SyncStats,
) -> Result<Vec<Phone>, SimError> {
    let mut set = JoinSet::new();
    for (n, phone) in phones.into_iter().enumerate() {
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut retries = 0u64;
            let mut refused = 0usize;
            let mut recovered = false;
            let mut last_err = None;
            for _ in 0..8 {
                match phone.app.sync_loop().session().await {
                    Ok(r) => {
                        retries += u64::from(r.attempts.saturating_sub(1));
                        refused += r.refused.len();
                        recovered |= r.recovered;
                        if r.failed.is_empty() {
                            last_err = None;
                            break;
                        }
                        retries += 1;
                        last_err = Some(format!("{:?}", r.failed.first()));
                    }
                    Err(e) if fatal(&e) => return Err(e),
                    Err(e) => {
                        retries += 1;
                        last_err = Some(e.to_string());
                    }
                }
            }
            if let Some(e) = &last_err {
                tracing::warn!(phone = %phone.user, error = %e, "phone did not finish syncing");
            }
            Ok((n, phone, retries, refused, recovered, last_err))
        });
    }
    let mut done = Vec::new();
    stats.unfinished = 0;
    while let Some(r) = set.join_next().await {
        let (n, phone, r, f, rec, err) =
            r.map_err(|e| SimError::Config(format!("phone task failed: {e}")))??;
        stats.retries += r;
        stats.refused += f;
        stats.recovered += usize::from(rec);
        if err.is_some() {
            stats.unfinished += 1;
        }
        done.push((n, phone));
    }
    done.sort_by_key(|(n, _)| *n);
    Ok(done.into_iter().map(|(_, d)| d).collect())
}

/// `http://host:port` → the socket address the proxy forwards to.
async fn resolve(url: &str) -> Result<SocketAddr, SimError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| SimError::Config(format!("--server {url:?} must be an http:// URL")))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    tokio::net::lookup_host(hostport)
        .await?
        .next()
        .ok_or_else(|| SimError::Config(format!("cannot resolve {hostport}")))
}
