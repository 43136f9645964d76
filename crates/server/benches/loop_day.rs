//! The whole supervision loop for a district day, end to end over HTTP:
//! inspectors' phones report `CASES` new cases (default 25,000), each with
//! one photo of 250,000 random bytes (not a JPEG: the server stores photos
//! by hash and never decodes them), and sync them up; squad leaders' phones
//! pull their squad's reports, approve each and sync back; the centre files
//! and dispatches every case, records the units' feedback (`handled`) and
//! assigns every re-verification (the server picks the on-duty inspector of
//! the grid other than the reporter; where the reporter patrols the grid
//! alone the centre names the squad leader) through the batched centre
//! endpoint; the assignees' phones pull their tasks, record a pass and sync
//! it back;
//! the centre closes every case; every phone syncs once more and every
//! document on every phone is compared with the server's.
//!
//! Phones are real device stores (`gridpatrol_store::Store` on disk) driven
//! by the real sync engine (`gridpatrol_sync::SyncEngine`), as in
//! `gridpatrol-sim`. The server runs in a child process (this same binary,
//! re-executed with `LOOP_DAY_SERVE=DIR`) so its CPU time and peak memory
//! (`VmHWM`) are measured apart from the simulated phones'.
//!
//! `cargo bench -p gridpatrol-server --bench loop_day`; env `CASES`
//! (default 25000), `DEVICES_PARALLEL` (phones syncing at once, default
//! 32), `CENTRE_PARALLEL` (centre batches in flight, default 2). Prints one
//! JSON line.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geo::InteriorPoint;
use gridpatrol_device::local;
use gridpatrol_district::{DemoDistrict, GridIndex};
use gridpatrol_docs::{Outcome, Report, Review, Source, Verdict, VerificationResult};
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{
    limits, paths, CentreAction, CentreBatchItem, CentreBatchRequest, CentreBatchResponse,
};
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_store::{PhotoMeta, Store, SyncState};
use gridpatrol_sync::{RetryPolicy, SyncConfig, SyncEngine};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Set in the child process: serve the data directory it names.
const SERVE_ENV: &str = "LOOP_DAY_SERVE";
/// Bytes of each case's photo.
const PHOTO_BYTES: usize = 250_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    gridpatrol_server::now_ms()
}

/// `VmHWM` of a process, MiB.
fn peak_rss_mib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .map_or(0, |kib: u64| kib / 1024)
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The child: a server over `dir` with the demo district's accounts, its
/// URL on stdout, until stdin closes.
fn serve(dir: &Path) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let settings = gridpatrol_server::config::Settings::default();
        let server = gridpatrol_server::spawn_test_server_with(dir, settings)
            .await
            .expect("server starts");
        let store = server.state.store.clone();
        let district = &DemoDistrict::get().district;
        accounts::load_district(
            store.as_ref(),
            district,
            &["C0001"],
            HashCost { m_kib: 64, t: 1 },
            2,
        )
        .expect("accounts");
        println!("{}", server.url());
        std::io::stdout().flush().expect("stdout");
        let _ = tokio::task::spawn_blocking(|| {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
        })
        .await;
        server.shutdown().await.expect("clean shutdown");
    });
}

/// The server child process and its URL.
struct ServerChild {
    child: Child,
    url: String,
}

impl ServerChild {
    fn start(dir: &Path) -> ServerChild {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(SERVE_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("server child starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("server prints its URL");
        ServerChild {
            child,
            url: line.trim().to_string(),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Closes its stdin and waits for a clean exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("server child exits");
        assert!(status.success(), "server child: {status}");
    }
}

/// One simulated phone.
struct Phone {
    user: String,
    role: Role,
    store: Store,
    engine: SyncEngine,
    cases: Vec<String>,
}

/// What a phone does around its sync session in a phase.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    /// Sync only.
    Sync,
    /// Sync, approve every report of the squad not yet reviewed, sync.
    Review,
    /// Sync, record a pass on every open task of this account, sync.
    Verify,
}

/// One sync session that must leave nothing failed or refused.
async fn sync_clean(phone: &mut Phone) -> usize {
    for _ in 0..8 {
        let r = phone
            .engine
            .sync(&mut phone.store)
            .await
            .unwrap_or_else(|e| panic!("{}: sync failed: {e}", phone.user));
        assert!(
            r.refused.is_empty(),
            "{}: refused {:?}",
            phone.user,
            r.refused
        );
        if r.failed.is_empty() {
            return r.docs;
        }
    }
    panic!("{}: documents kept failing", phone.user);
}

/// The leader approves every report of the squad on the phone.
fn review_all(phone: &mut Phone) -> usize {
    let mut reviewed = 0;
    for id in phone.store.document_ids().expect("ids") {
        let Some(case) = local::load_case(&mut phone.store, &id).expect("load") else {
            continue;
        };
        let c = case.read().expect("read");
        if c.review.is_some() || c.report.reporter == phone.user {
            continue;
        }
        local::edit_case(&mut phone.store, &id, now_ms(), |cd| {
            cd.set_review(&Review {
                reviewer: phone.user.clone(),
                verdict: Verdict::Approved,
                note: "属实".into(),
                at_ms: now_ms(),
                reason: None,
                duplicate_of: None,
            })
        })
        .expect("review");
        reviewed += 1;
    }
    reviewed
}

/// The assignee records a pass on each open task on the phone.
fn verify_all(phone: &mut Phone) -> usize {
    let tasks = phone.store.tasks_for(&phone.user).expect("tasks");
    let mut done = 0;
    for t in tasks.into_iter().filter(|t| t.outcome.is_none()) {
        local::edit_verification(&mut phone.store, &t.id, now_ms(), |v| {
            v.set_result(&VerificationResult {
                outcome: Outcome::Pass,
                note: "已整改".into(),
                photos: vec![],
                lon: 116.48,
                lat: 39.95,
                at_ms: now_ms(),
            })
        })
        .expect("result");
        done += 1;
    }
    done
}

/// Runs `step` on every phone `who` selects, `parallel` at a time; returns
/// the phones and what the local edits counted.
async fn phase(
    phones: Vec<Phone>,
    who: impl Fn(&Phone) -> bool,
    step: Step,
    parallel: usize,
) -> (Vec<Phone>, usize) {
    let gate = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    let mut idle = Vec::new();
    for (n, mut phone) in phones.into_iter().enumerate() {
        if !who(&phone) {
            idle.push((n, phone));
            continue;
        }
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            sync_clean(&mut phone).await;
            let edits = match step {
                Step::Sync => 0,
                Step::Review => review_all(&mut phone),
                Step::Verify => verify_all(&mut phone),
            };
            if edits > 0 {
                sync_clean(&mut phone).await;
            }
            (n, phone, edits)
        });
    }
    let mut edits = 0;
    let mut all = idle;
    while let Some(r) = set.join_next().await {
        let (n, phone, e) = r.expect("phone task");
        edits += e;
        all.push((n, phone));
    }
    all.sort_by_key(|(n, _)| *n);
    (all.into_iter().map(|(_, p)| p).collect(), edits)
}

/// The centre's client of `POST /v1/centre/actions`.
struct Centre {
    http: reqwest::Client,
    url: String,
    token: String,
    /// Batches in flight at once.
    parallel: usize,
    /// Requests made so far.
    requests: usize,
}

impl Centre {
    /// `actions`, in order, on every case of `ids` (a case's actions stay
    /// in one batch), `parallel` batches in flight; every item must be
    /// recorded.
    async fn each(&mut self, ids: &[String], actions: &[CentreAction]) {
        self.each_with(ids, |_| actions.to_vec()).await
    }

    /// [`Centre::each`] with the actions `actions_of` gives for each case.
    async fn each_with(&mut self, ids: &[String], actions_of: impl Fn(&str) -> Vec<CentreAction>) {
        let mut batches: Vec<Vec<CentreBatchItem>> = vec![Vec::new()];
        for id in ids {
            let group = actions_of(id);
            if batches
                .last()
                .is_some_and(|b| b.len() + group.len() > limits::MAX_CENTRE_BATCH)
            {
                batches.push(Vec::new());
            }
            batches
                .last_mut()
                .expect("one batch")
                .extend(group.into_iter().map(|action| CentreBatchItem {
                    case_id: id.clone(),
                    action,
                }));
        }
        let mut set = JoinSet::new();
        let gate = Arc::new(Semaphore::new(self.parallel));
        for items in batches {
            let (http, gate) = (self.http.clone(), gate.clone());
            let url = format!("{}{}", self.url, paths::CENTRE_ACTIONS);
            let token = self.token.clone();
            self.requests += 1;
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let resp = http
                    .post(url)
                    .bearer_auth(&token)
                    .json(&CentreBatchRequest { items })
                    .send()
                    .await
                    .expect("centre batch sent");
                let status = resp.status();
                assert!(status.is_success(), "centre batch: {status}");
                let r: CentreBatchResponse = resp.json().await.expect("centre batch answer");
                if let Some(bad) = r.results.iter().find(|r| !r.is_ok()) {
                    panic!("centre action refused: {bad:?}");
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("centre task");
        }
    }
}

/// A point inside each technical grid (located back to its grids), by
/// supervision grid.
fn places() -> HashMap<String, Vec<(f64, f64, gridpatrol_district::Location)>> {
    let demo = DemoDistrict::get();
    let index = GridIndex::new(demo);
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for tg in &demo.district.technical_grids {
        let Some(p) = demo
            .grid_geometry(&tg.code)
            .and_then(|g| g.interior_point())
        else {
            continue;
        };
        if let Some(loc) = index.locate(p.x(), p.y()) {
            if loc.technical_grid == tg.code {
                out.entry(loc.supervision_grid.clone())
                    .or_default()
                    .push((p.x(), p.y(), loc));
            }
        }
    }
    out
}

/// Every phone's documents against the server's (the centre's manifest
/// from the beginning): equal heads, synced, and every server document on
/// some phone; every case closed, every verification passed, every photo
/// confirmed by the server. Returns (documents on the server, copies
/// compared, problems).
async fn check(
    phones: &mut [Phone],
    centre: &mut SyncEngine,
    cases: usize,
) -> (usize, usize, Vec<String>) {
    let on_server = centre.server_heads().await.expect("manifest");
    let mut problems = Vec::new();
    let mut held: BTreeMap<&str, usize> = BTreeMap::new();
    let mut copies = 0;
    for phone in phones.iter_mut() {
        for id in phone.store.document_ids().expect("ids") {
            let doc = phone.store.get_document(&id).expect("doc").expect("listed");
            let mut heads: Vec<String> = doc.heads.iter().map(hex::encode).collect();
            heads.sort();
            copies += 1;
            match on_server.get_key_value(&id) {
                None => problems.push(format!("{id} on {} is not on the server", phone.user)),
                Some((k, theirs)) => {
                    *held.entry(k.as_str()).or_default() += 1;
                    if *theirs != heads || doc.sync_state != SyncState::Synced {
                        problems.push(format!("{id} on {} differs from the server", phone.user));
                    }
                }
            }
        }
        for id in &phone.cases {
            let c = local::load_case(&mut phone.store, id)
                .expect("load")
                .expect("own case")
                .read()
                .expect("read");
            if c.state.as_str() != "closed" {
                problems.push(format!(
                    "{id} is {} on its reporter's phone",
                    c.state.as_str()
                ));
            }
            for sha in &c.report.photos {
                if !gridpatrol_sync::photo_uploaded(&phone.store, sha).expect("meta") {
                    problems.push(format!("photo of {id} not confirmed by the server"));
                }
            }
        }
        for t in phone.store.tasks_for(&phone.user).expect("tasks") {
            if t.outcome.as_deref() != Some("pass") {
                problems.push(format!("{} has no pass on {}", t.id, phone.user));
            }
        }
    }
    for id in on_server.keys() {
        if !held.contains_key(id.as_str()) {
            problems.push(format!("{id} is on no phone"));
        }
    }
    if on_server.len() != 2 * cases {
        problems.push(format!(
            "the server holds {} documents, not {} cases and as many verifications",
            on_server.len(),
            cases
        ));
    }
    (on_server.len(), copies, problems)
}

fn main() {
    if let Some(dir) = std::env::var_os(SERVE_ENV) {
        serve(Path::new(&dir));
        return;
    }
    let cases = env_usize("CASES", 25_000);
    let parallel = env_usize("DEVICES_PARALLEL", 32).max(1);
    let centre_parallel = env_usize("CENTRE_PARALLEL", 2).max(1);
    let load_before = load_average();
    let root = tempfile::tempdir().expect("temp dir");
    let server_dir: PathBuf = root.path().join("server");
    std::fs::create_dir_all(&server_dir).expect("server dir");
    let server = ServerChild::start(&server_dir);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let out = rt.block_on(run(&server, root.path(), cases, parallel, centre_parallel));
    let (server_cpu, server_peak) = (cpu_seconds(&server.pid()), peak_rss_mib(&server.pid()));
    server.stop();
    let mut out = out;
    out["server"] = serde_json::json!({
        "process": "child (this binary re-executed), gridpatrol_server over SQLite, default settings, durable acks on",
        "cpu_seconds": round2(server_cpu),
        "peak_rss_mib": server_peak,
    });
    out["load_average_before"] = load_before.into();
    out["load_average_after"] = load_average().into();
    println!("{out}");
}

async fn run(
    server: &ServerChild,
    root: &Path,
    cases: usize,
    parallel: usize,
    centre_parallel: usize,
) -> serde_json::Value {
    let url = server.url.clone();
    let demo = DemoDistrict::get();
    let places = places();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(gridpatrol_sync::IDLE_CONNECTION)
        .build()
        .expect("client");
    let retry = RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    };

    // Every inspector and leader has a phone, signed in at shift start.
    let prep = Instant::now();
    let mut phones = Vec::new();
    for p in &demo.district.inspectors {
        if !matches!(p.role, Role::Inspector | Role::SquadLeader) {
            continue;
        }
        let dir = root.join("phones").join(&p.id);
        std::fs::create_dir_all(&dir).expect("phone dir");
        let mut sc = SyncConfig::new(&url, &p.id, &accounts::demo_password(&p.id));
        sc.retry = retry;
        // Phones fetch other people's photos one per session here (the
        // first photo of a session is always allowed): the bench measures
        // the loop, not every phone downloading the day's 6 GB of photos.
        sc.photo_download_budget = 1;
        phones.push(Phone {
            user: p.id.clone(),
            role: p.role,
            store: Store::open(&dir.join("device.db")).expect("phone store"),
            engine: SyncEngine::with_client(sc, http.clone()).expect("engine"),
            cases: Vec::new(),
        });
    }
    let gate = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    for (n, mut phone) in phones.into_iter().enumerate() {
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            phone.engine.login().await.expect("login");
            (n, phone)
        });
    }
    let mut signed_in = Vec::new();
    while let Some(r) = set.join_next().await {
        signed_in.push(r.expect("login task"));
    }
    signed_in.sort_by_key(|(n, _)| *n);
    let mut phones: Vec<Phone> = signed_in.into_iter().map(|(_, p)| p).collect();
    let mut cc = SyncConfig::new(&url, "C0001", &accounts::demo_password("C0001"));
    cc.retry = retry;
    let mut centre_engine = SyncEngine::with_client(cc, http.clone()).expect("centre engine");
    centre_engine.login().await.expect("centre login");
    let token = centre_engine.token().expect("token").to_string();
    let login_seconds = prep.elapsed().as_secs_f64();

    // Offline beforehand: each inspector's reports with their photos.
    let made = Instant::now();
    let reporters: Vec<usize> = phones
        .iter()
        .enumerate()
        .filter(|(_, p)| p.role == Role::Inspector)
        .map(|(n, _)| n)
        .collect();
    let grid_of: HashMap<&str, &str> = demo
        .district
        .inspectors
        .iter()
        .map(|i| (i.id.as_str(), i.supervision_grid.as_str()))
        .collect();
    let mut inspectors_of: HashMap<&str, usize> = HashMap::new();
    for i in &demo.district.inspectors {
        if i.role == Role::Inspector {
            *inspectors_of
                .entry(i.supervision_grid.as_str())
                .or_default() += 1;
        }
    }
    let leader_of: HashMap<&str, &str> = demo
        .district
        .squads
        .iter()
        .flat_map(|s| {
            s.supervision_grids
                .iter()
                .map(|g| (g.as_str(), s.leader.as_str()))
        })
        .collect();
    let mut sent_instead: HashMap<String, String> = HashMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut ids = Vec::with_capacity(cases);
    let mut photo = vec![0u8; PHOTO_BYTES];
    for c in 0..cases {
        let phone = &mut phones[reporters[c % reporters.len()]];
        let grid = grid_of[phone.user.as_str()];
        let spots = &places[grid];
        let (lon, lat, loc) = spots[c / reporters.len() % spots.len()].clone();
        rng.fill_bytes(&mut photo);
        let sha = phone
            .store
            .put_photo(
                &photo,
                &PhotoMeta {
                    mime: "image/jpeg".into(),
                    taken_at_ms: now_ms(),
                    lon: Some(lon),
                    lat: Some(lat),
                },
            )
            .expect("photo");
        let id = format!("day-{c:06}");
        let report = Report {
            category: "02010101".into(),
            lon,
            lat,
            accuracy_m: 5.0,
            technical_grid: loc.technical_grid,
            supervision_grid: loc.supervision_grid,
            street: loc.street,
            address: format!("朝阳路{c}号"),
            description: "井盖破损".into(),
            photos: vec![sha],
            reporter: phone.user.clone(),
            source: Source::Patrol,
            created_at_ms: now_ms(),
        };
        local::create_case(&mut phone.store, &id, &report, now_ms()).expect("case");
        if inspectors_of.get(grid).copied().unwrap_or(0) < 2 {
            sent_instead.insert(id.clone(), leader_of[grid].to_string());
        }
        phone.cases.push(id.clone());
        ids.push(id);
    }
    let make_seconds = made.elapsed().as_secs_f64();

    let bench_pid = std::process::id().to_string();
    let cpu0 = (cpu_seconds(&server.pid()), cpu_seconds(&bench_pid));
    let started = Instant::now();
    let mut timings = serde_json::Map::new();
    let mut lap = Instant::now();
    let mut mark = |name: &str, lap: &mut Instant| {
        timings.insert(name.into(), round2(lap.elapsed().as_secs_f64()).into());
        *lap = Instant::now();
    };

    let is = |r: Role| move |p: &Phone| p.role == r;
    let (phones, _) = phase(phones, |p| !p.cases.is_empty(), Step::Sync, parallel).await;
    mark("report_and_photo_upload", &mut lap);
    let (phones, reviewed) = phase(phones, is(Role::SquadLeader), Step::Review, parallel).await;
    mark("leader_review", &mut lap);
    let mut centre = Centre {
        http: http.clone(),
        url: url.clone(),
        token,
        parallel: centre_parallel,
        requests: 0,
    };
    let dispatch = CentreAction::Dispatch {
        unit: None,
        note: String::new(),
    };
    let file = CentreAction::File {
        note: "立案".into(),
    };
    centre.each(&ids, &[file, dispatch]).await;
    mark("file_and_dispatch", &mut lap);
    let handled = CentreAction::Handled {
        note: "已更换井盖".into(),
        photos: vec![],
    };
    centre.each(&ids, &[handled]).await;
    mark("handled", &mut lap);
    // The server picks an on-duty inspector of the grid other than the
    // reporter; where the reporter patrols the grid alone the centre names
    // the squad leader (who sees the whole squad), as it must.
    centre
        .each_with(&ids, |id| {
            vec![CentreAction::AssignVerification {
                assignee: sent_instead.get(id).cloned(),
                due_hours: None,
                note: String::new(),
            }]
        })
        .await;
    mark("assign_verification", &mut lap);
    let (phones, verified) = phase(phones, |_| true, Step::Verify, parallel).await;
    mark("verify_on_phones", &mut lap);
    let close = CentreAction::Close {
        note: "结案".into(),
    };
    centre.each(&ids, &[close]).await;
    mark("close", &mut lap);
    let (mut phones, _) = phase(phones, |_| true, Step::Sync, parallel).await;
    mark("phones_sync_the_outcome", &mut lap);
    let (on_server, copies, problems) = check(&mut phones, &mut centre_engine, cases).await;
    mark("final_verification", &mut lap);
    let seconds = started.elapsed().as_secs_f64();
    let cpu = (
        cpu_seconds(&server.pid()) - cpu0.0,
        cpu_seconds(&bench_pid) - cpu0.1,
    );
    let (mut rounds, mut up, mut down, mut photos_up) = (0, 0, 0, 0);
    for p in &phones {
        let t = p.engine.traffic();
        rounds += t.round_trips;
        up += t.bytes_up;
        down += t.bytes_down;
        photos_up += t.photos_uploaded;
    }
    serde_json::json!({
        "cases": cases,
        "photo_bytes": PHOTO_BYTES,
        "phones": phones.len(),
        "reviewed": reviewed,
        "verifications_sent_to_the_squad_leader": sent_instead.len(),
        "verified": verified,
        "centre_batches": centre.requests,
        "centre_actions": 5 * cases,
        "documents_on_server": on_server,
        "copies_compared": copies,
        "identical": problems.is_empty(),
        "problems": problems.iter().take(5).collect::<Vec<_>>(),
        "problem_count": problems.len(),
        "seconds": round2(seconds),
        "phases": timings,
        "before_the_clock": {"sign_in_seconds": round2(login_seconds), "make_cases_offline_seconds": round2(make_seconds)},
        "phone_traffic": {"round_trips": rounds, "bytes_up": up, "bytes_down": down, "photos_uploaded": photos_up},
        "phones_process": {"cpu_seconds": round2(cpu.1), "peak_rss_mib": peak_rss_mib("self")},
        "server_cpu_seconds_in_loop": round2(cpu.0),
        "machine": {"cpus": std::thread::available_parallelism().map_or(0, |n| n.get())},
        "devices_parallel": parallel,
        "centre_parallel": centre_parallel,
    })
}
