//! Sync benchmarks against an in-process server on 127.0.0.1:0 (release
//! build: `cargo bench -p gridpatrol-sync --bench sync`):
//! - new case upload: round trips and bytes of one session carrying one new
//!   case (photos aside);
//! - no-change reconnect of a device holding 5,000 documents: the manifest
//!   session versus plain per-document Automerge sync of every document
//!   (batched 500 per request, no manifest), round trips, bytes and time.
//!
//! Bytes are HTTP body bytes (JSON with base64 messages), headers excluded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync::{Message, State, SyncDoc};
use gridpatrol_device::local;
use gridpatrol_docs::{Report, Source};
use gridpatrol_domain::district::{District, Inspector, InspectorKind, Squad};
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{paths, LoginResponse, SyncDocRequest, SyncRequest, SyncResponse};
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server_storage::ServerStore;
use gridpatrol_store::Store;
use gridpatrol_sync::{SyncConfig, SyncEngine, Traffic};

const G1: &str = "110105001001";
const DOCS: usize = 5_000;
const RUNS: usize = 30;

fn district() -> District {
    District {
        streets: vec![],
        supervision_grids: vec![],
        technical_grids: vec![],
        squads: vec![Squad {
            id: "S01".into(),
            name: "第01分队".into(),
            leader: "I0003".into(),
            supervision_grids: vec![G1.into()],
        }],
        inspectors: vec![Inspector {
            id: "I0001".into(),
            name: "name-I0001".into(),
            squad: "S01".into(),
            supervision_grid: G1.into(),
            kind: InspectorKind::Grid,
            role: Role::Inspector,
        }],
    }
}

fn report(i: usize) -> Report {
    Report {
        category: "02010101".into(),
        lon: 116.4432,
        lat: 39.9219,
        accuracy_m: 6.0,
        technical_grid: format!("{G1}{:03}", i % 40 + 1),
        supervision_grid: G1.into(),
        street: G1[..9].into(),
        address: format!("朝阳区朝外大街{i}号"),
        description: format!("上水井盖破损，第{i}处"),
        photos: vec![],
        reporter: "I0001".into(),
        source: Source::Patrol,
        created_at_ms: 1_700_000_000_000 + i as i64,
    }
}

fn delta(a: Traffic, b: Traffic) -> (u64, u64, u64) {
    (
        b.round_trips - a.round_trips,
        b.bytes_up - a.bytes_up,
        b.bytes_down - a.bytes_down,
    )
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`; stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("sync bench: run with `cargo bench -p gridpatrol-sync --bench sync`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let srv = gridpatrol_server::spawn_test_server(dir.path())
        .await
        .unwrap();
    let store: Arc<dyn ServerStore> = srv.state.store.clone();
    accounts::load_district(
        store.as_ref(),
        &district(),
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        1,
    )
    .unwrap();
    let url = srv.url();
    let cfg = SyncConfig::new(&url, "I0001", "patrol-I0001");

    // New case upload: one session per new case.
    let mut dev = Store::open_in_memory().unwrap();
    let mut eng = SyncEngine::new(cfg.clone()).unwrap();
    eng.sync(&mut dev).await.unwrap();
    let (mut rts, mut ups, mut downs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        local::create_case(&mut dev, &format!("new-{i}"), &report(i), 1).unwrap();
        let t0 = eng.traffic();
        let r = eng.sync(&mut dev).await.unwrap();
        assert_eq!(r.synced, 1, "{r:?}");
        let (rt, up, down) = delta(t0, eng.traffic());
        rts.push(rt as f64);
        ups.push(up as f64);
        downs.push(down as f64);
    }
    println!(
        "new case upload (session = manifest + sync), {RUNS} runs: round trips p50 {} max {}; \
         bytes up p50 {} max {}; bytes down p50 {} max {}",
        pct(rts.clone(), 0.5),
        pct(rts, 1.0),
        pct(ups.clone(), 0.5),
        pct(ups, 1.0),
        pct(downs.clone(), 0.5),
        pct(downs, 1.0)
    );

    // A device holding 5,000 documents.
    let mut dev = Store::open_in_memory().unwrap();
    for i in 0..DOCS {
        local::create_case(&mut dev, &format!("doc-{i:05}"), &report(i), 1).unwrap();
    }
    let mut eng = SyncEngine::new(cfg.clone()).unwrap();
    let t = Instant::now();
    let t0 = eng.traffic();
    let r = eng.sync(&mut dev).await.unwrap();
    let (rt, up, down) = delta(t0, eng.traffic());
    println!(
        "initial upload of {DOCS} cases from one device: {:.0} ms, {rt} round trips, {up} B up, {down} B down, {} synced",
        ms(t.elapsed()),
        r.synced
    );
    // The next session sees its own uploads in the manifest once.
    eng.sync(&mut dev).await.unwrap();

    let (mut times, mut bytes, mut trips) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t0 = eng.traffic();
        let t = Instant::now();
        let r = eng.sync(&mut dev).await.unwrap();
        times.push(ms(t.elapsed()));
        let (rt, up, down) = delta(t0, eng.traffic());
        assert_eq!(r.docs, 0);
        trips.push(rt as f64);
        bytes.push((up + down) as f64);
    }
    println!(
        "no-change reconnect, manifest ({DOCS} docs, {RUNS} runs): round trips {}; bytes both ways p50 {} max {}; \
         time p50 {:.2} ms p95 {:.2} ms",
        pct(trips, 0.5),
        pct(bytes.clone(), 0.5),
        pct(bytes, 1.0),
        pct(times.clone(), 0.5),
        pct(times, 0.95)
    );

    // Baseline: plain per-document Automerge sync of every document, from
    // states that remember the shared heads, batched 500 per request.
    let http = reqwest::Client::new();
    let login: LoginResponse = http
        .post(format!("{url}{}", paths::LOGIN))
        .json(&serde_json::json!({"user_id": "I0001", "password": "patrol-I0001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut docs = Vec::with_capacity(DOCS);
    for i in 0..DOCS {
        let id = format!("doc-{i:05}");
        let d = local::load_doc(&mut dev, &id).unwrap().unwrap();
        docs.push((id, d));
    }
    let (mut times, mut bytes, mut trips) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS.min(10) {
        let t = Instant::now();
        let (mut rt, mut b) = (0u64, 0u64);
        let mut states: Vec<State> = docs
            .iter()
            .map(|(_, d)| {
                let mut s = State::new();
                s.shared_heads = d.get_heads();
                State::decode(&s.encode()).unwrap()
            })
            .collect();
        loop {
            let mut reqs = Vec::new();
            for (k, (id, d)) in docs.iter().enumerate() {
                if let Some(m) = d.generate_sync_message(&mut states[k]) {
                    reqs.push((
                        k,
                        SyncDocRequest {
                            id: id.clone(),
                            kind: gridpatrol_protocol::DocKind::Case,
                            msg: m.encode(),
                        },
                    ));
                }
            }
            if reqs.is_empty() {
                break;
            }
            for chunk in reqs.chunks(500) {
                let body = serde_json::to_vec(&SyncRequest {
                    device: format!("plain-{run}"),
                    docs: chunk.iter().map(|(_, r)| r.clone()).collect(),
                })
                .unwrap();
                b += body.len() as u64;
                rt += 1;
                let resp = http
                    .post(format!("{url}{}", paths::SYNC))
                    .bearer_auth(&login.token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                b += resp.len() as u64;
                let resp: SyncResponse = serde_json::from_slice(&resp).unwrap();
                for ((k, _), r) in chunk.iter().zip(resp.docs) {
                    if let Some(m) = r.msg {
                        let (_, d) = &mut docs[*k];
                        d.receive_sync_message(&mut states[*k], Message::decode(&m).unwrap())
                            .unwrap();
                        gridpatrol_docs::guard::speak_v1(&mut states[*k]);
                    }
                }
            }
        }
        times.push(ms(t.elapsed()));
        bytes.push(b as f64);
        trips.push(rt as f64);
    }
    println!(
        "no-change reconnect, plain per-document sync ({DOCS} docs, {} runs): round trips p50 {}; \
         bytes both ways p50 {}; time p50 {:.0} ms p95 {:.0} ms",
        RUNS.min(10),
        pct(trips, 0.5),
        pct(bytes, 0.5),
        pct(times.clone(), 0.5),
        pct(times, 0.95)
    );
    srv.shutdown().await.unwrap();
}
