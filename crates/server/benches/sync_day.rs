//! Server-side sync throughput: a district day of new cases, created offline
//! beforehand on one simulated device per inspector, pushed into a fresh
//! server over HTTP with batched Automerge sync (500 documents per request,
//! 8 devices at a time), then verified. Also measures a no-change reconnect
//! (one manifest round trip). Prints one JSON line with percentiles.
//!
//! `cargo bench -p gridpatrol-server --bench sync_day` (env `CASES`, default
//! 25000; `DURABLE_ACKS=0` answers before the flush to disk, to measure what
//! durable acknowledgements cost).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::{ActorId, Automerge};
use gridpatrol_docs::{CaseDoc, Report, Source};
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{
    paths, DocKind, LoginResponse, ManifestResponse, SyncDocRequest, SyncRequest, SyncResponse,
    SyncStatus,
};
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server_storage::ServerStore;

const BATCH: usize = 500;
const PARALLEL: usize = 8;

struct Device {
    user: String,
    docs: Vec<(String, Automerge, SyncState)>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process (server and simulated devices together).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cases: usize = std::env::var("CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_000);
    let durable = std::env::var("DURABLE_ACKS").map_or(true, |v| v != "0");
    let mut settings = gridpatrol_server::config::Settings::default();
    settings.server.durable_acks = durable;
    let dir = tempfile::tempdir().unwrap();
    let server = gridpatrol_server::spawn_test_server_with(dir.path(), settings)
        .await
        .unwrap();
    let district = &gridpatrol_district::DemoDistrict::get().district;
    let store: Arc<dyn ServerStore> = server.state.store.clone();
    accounts::load_district(
        store.as_ref(),
        district,
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        2,
    )
    .unwrap();
    let inspectors: Vec<_> = district
        .inspectors
        .iter()
        .filter(|i| i.role == Role::Inspector)
        .collect();

    // Offline beforehand: every case created on its reporter's device.
    let mut devices: Vec<Device> = inspectors
        .iter()
        .map(|i| Device {
            user: i.id.clone(),
            docs: vec![],
        })
        .collect();
    for n in 0..cases {
        let k = n % devices.len();
        let i = inspectors[k];
        let id = format!("case-{n:06}");
        let report = Report {
            category: "02010101".into(),
            lon: 116.48,
            lat: 39.95,
            accuracy_m: 5.0,
            technical_grid: format!("{}001", i.supervision_grid),
            supervision_grid: i.supervision_grid.clone(),
            street: i.supervision_grid[..9].to_string(),
            address: "朝阳路1号".into(),
            description: "井盖破损".into(),
            photos: vec![],
            reporter: i.id.clone(),
            source: Source::Patrol,
            created_at_ms: 1_700_000_000_000 + n as i64,
        };
        let doc = CaseDoc::create(ActorId::random(), &id, &report)
            .unwrap()
            .into_doc();
        devices[k].docs.push((id, doc, SyncState::new()));
    }
    let devices: Vec<Device> = devices.into_iter().filter(|d| !d.docs.is_empty()).collect();

    let http = reqwest::Client::new();
    let base = server.url();
    let bytes_up = Arc::new(AtomicU64::new(0));
    let bytes_down = Arc::new(AtomicU64::new(0));
    let round_trips = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let queue = Arc::new(std::sync::Mutex::new(devices));
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..PARALLEL {
        let (http, base, queue) = (http.clone(), base.clone(), queue.clone());
        let (up, down, rt, lat) = (
            bytes_up.clone(),
            bytes_down.clone(),
            round_trips.clone(),
            latencies.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let Some(mut dev) = queue.lock().unwrap().pop() else {
                    break;
                };
                let login: LoginResponse = http
                    .post(format!("{base}{}", paths::LOGIN))
                    .json(&serde_json::json!({"user_id": dev.user, "password": accounts::demo_password(&dev.user)}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                loop {
                    let mut idx = Vec::new();
                    let mut reqs = Vec::new();
                    for (n, (id, doc, st)) in dev.docs.iter_mut().enumerate() {
                        if reqs.len() == BATCH {
                            break;
                        }
                        if let Some(m) = doc.generate_sync_message(st) {
                            idx.push(n);
                            reqs.push(SyncDocRequest {
                                id: id.clone(),
                                kind: DocKind::Case,
                                msg: m.encode(),
                            });
                        }
                    }
                    if reqs.is_empty() {
                        break;
                    }
                    let body = serde_json::to_vec(&SyncRequest {
                        device: format!("dev-{}", dev.user),
                        docs: reqs,
                    })
                    .unwrap();
                    up.fetch_add(body.len() as u64, Ordering::Relaxed);
                    let t = Instant::now();
                    let resp = http
                        .post(format!("{base}{}", paths::SYNC))
                        .bearer_auth(&login.token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let bytes = resp.bytes().await.unwrap();
                    lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                    rt.fetch_add(1, Ordering::Relaxed);
                    down.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    let resp: SyncResponse = serde_json::from_slice(&bytes).unwrap();
                    for (n, r) in idx.into_iter().zip(resp.docs) {
                        assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
                        let (_, doc, st) = &mut dev.docs[n];
                        if let Some(m) = r.msg {
                            doc.receive_sync_message(st, Message::decode(&m).unwrap())
                                .unwrap();
                            gridpatrol_docs::guard::speak_v1(st);
                        }
                    }
                }
                done.push(dev);
            }
            done
        }));
    }
    let mut devices = Vec::new();
    for w in workers {
        devices.extend(w.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;

    // Verify: every device's document equals the server's.
    let mut converged = true;
    let mut stored = 0;
    for dev in &devices {
        let ids: Vec<String> = dev.docs.iter().map(|d| d.0.clone()).collect();
        for ((_, doc, _), s) in dev.docs.iter().zip(store.load_docs(&ids).unwrap()) {
            let Some(s) = s else {
                converged = false;
                continue;
            };
            stored += 1;
            let server_doc = Automerge::load(&s.bytes).unwrap();
            converged &= server_doc.get_heads() == doc.get_heads();
        }
    }

    // No-change reconnect: one manifest round trip from the synced cursor.
    let dev = &devices[0];
    let login: LoginResponse = http
        .post(format!("{base}{}", paths::LOGIN))
        .json(&serde_json::json!({"user_id": dev.user, "password": accounts::demo_password(&dev.user)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first: ManifestResponse = http
        .post(format!("{base}{}", paths::MANIFEST))
        .bearer_auth(&login.token)
        .json(&serde_json::json!({"cursor": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = serde_json::to_vec(&serde_json::json!({"cursor": first.cursor})).unwrap();
    let resp = http
        .post(format!("{base}{}", paths::MANIFEST))
        .bearer_auth(&login.token)
        .header("content-type", "application/json")
        .body(req.clone())
        .send()
        .await
        .unwrap();
    let reconnect_down = resp.bytes().await.unwrap().len();

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{}",
        serde_json::json!({
            "cases": cases,
            "durable_acks": durable,
            "stored": stored,
            "converged": converged && stored == cases,
            "devices": devices.len(),
            "seconds": (seconds * 100.0).round() / 100.0,
            "cases_per_second": (cases as f64 / seconds).round(),
            "round_trips": round_trips.load(Ordering::Relaxed),
            "bytes_up": bytes_up.load(Ordering::Relaxed),
            "bytes_down": bytes_down.load(Ordering::Relaxed),
            "cpu_seconds_process": (cpu * 100.0).round() / 100.0,
            "peak_rss_mib": peak_rss_kib() / 1024,
            "sync_request_ms": {"p50": percentile(&lat, 0.5), "p95": percentile(&lat, 0.95), "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0)},
            "no_change_reconnect": {"round_trips": 1, "bytes_up_body": req.len(), "bytes_down_body": reconnect_down, "first_manifest_docs": first.docs.len()},
        })
    );
    server.shutdown().await.unwrap();
}
