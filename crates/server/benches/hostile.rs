//! The worst sync requests a valid inspector account could craft, one per
//! attack class, sent to a server in this process on 127.0.0.1:0: CPU time
//! and peak memory above the baseline for each, and how long an honest
//! device's sync takes while another account floods the server. Prints one
//! JSON line per attack. Each request is bounded by a 120 s client timeout.
//!
//! `cargo bench -p gridpatrol-server --bench hostile`

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync::{Capability, Message, State as SyncState, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ReadDoc, ROOT};
use gridpatrol_docs::{CaseDoc, Report, Source};
use gridpatrol_domain::district::{District, Inspector, InspectorKind, Squad};
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{paths, DocKind, LoginResponse, SyncDocRequest, SyncRequest};
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server_storage::ServerStore;

const G1: &str = "110105001001";

fn district() -> District {
    let person = |id: &str, role| Inspector {
        id: id.into(),
        name: id.into(),
        squad: "S01".into(),
        supervision_grid: G1.into(),
        kind: InspectorKind::Grid,
        role,
    };
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
        inspectors: vec![
            person("I0001", Role::Inspector),
            person("I0002", Role::Inspector),
            person("I0003", Role::SquadLeader),
        ],
    }
}

fn report(reporter: &str) -> Report {
    Report {
        category: "02010101".into(),
        lon: 116.48,
        lat: 39.95,
        accuracy_m: 5.0,
        technical_grid: format!("{G1}001"),
        supervision_grid: G1.into(),
        street: G1[..9].into(),
        address: "朝阳路1号".into(),
        description: "井盖破损".into(),
        photos: vec![],
        reporter: reporter.into(),
        source: Source::Patrol,
        created_at_ms: 1_700_000_000_000,
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Resets the kernel's peak-RSS mark to the current RSS.
fn reset_peak() {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
    {
        let _ = f.write_all(b"5");
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// V1 sync message: with a `have`, one head the server does not know (so
/// it checks its changes against the summary), no needs, these changes.
fn message(bloom: Option<&[u8]>, changes: &[Vec<u8>]) -> Vec<u8> {
    let mut m = vec![0x42];
    if bloom.is_some() {
        m.push(1);
        m.extend([0xab; 32]);
    } else {
        m.push(0);
    }
    m.push(0);
    match bloom {
        Some(b) => {
            m.extend([1, 0]);
            uleb(&mut m, b.len() as u64);
            m.extend(b);
        }
        None => m.push(0),
    }
    uleb(&mut m, changes.len() as u64);
    for c in changes {
        uleb(&mut m, c.len() as u64);
        m.extend(c);
    }
    m
}

fn v1(st: &mut SyncState) {
    st.their_capabilities = Some(vec![Capability::SyncReset]);
}

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn login(&self, user: &str) -> String {
        let r: LoginResponse = self
            .http
            .post(format!("{}{}", self.url, paths::LOGIN))
            .json(&serde_json::json!({"user_id": user, "password": accounts::demo_password(user)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r.token
    }

    /// One sync request; returns the HTTP status and the body text.
    async fn sync(&self, token: &str, docs: Vec<SyncDocRequest>) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{}", self.url, paths::SYNC))
            .bearer_auth(token)
            .json(&SyncRequest {
                device: "bench".into(),
                docs,
            })
            .send()
            .await;
        match r {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// Syncs a new case to the end; returns the device copy and state.
    async fn upload(&self, token: &str, id: &str, reporter: &str) -> (Automerge, SyncState) {
        let mut doc = CaseDoc::create(ActorId::random(), id, &report(reporter))
            .unwrap()
            .into_doc();
        let mut st = SyncState::new();
        for _ in 0..10 {
            let Some(m) = doc.generate_sync_message(&mut st) else {
                break;
            };
            let (_, body) = self.sync(token, vec![req(id, m.encode())]).await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let Some(msg) = v["docs"][0]["msg"].as_str() else {
                break;
            };
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(msg)
                .unwrap_or_default();
            if let Ok(m) = Message::decode(&bytes) {
                let _ = doc.receive_sync_message(&mut st, m);
            }
            v1(&mut st);
        }
        (doc, st)
    }
}

fn req(id: &str, msg: Vec<u8>) -> SyncDocRequest {
    SyncDocRequest {
        id: id.into(),
        kind: DocKind::Case,
        msg,
    }
}

fn outcome(status: u16, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match v["docs"][0]["code"].as_str() {
        Some(c) => format!("{status} {c}"),
        None if status == 200 => format!("{status} {}", v["docs"][0]["status"]),
        None => format!("{status} {}", v["error"]["code"]),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server = gridpatrol_server::spawn_test_server(dir.path())
        .await
        .unwrap();
    let store: Arc<dyn ServerStore> = server.state.store.clone();
    accounts::load_district(
        store.as_ref(),
        &district(),
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        1,
    )
    .unwrap();
    let c = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        url: server.url(),
    };
    let attacker = c.login("I0001").await;
    let honest = c.login("I0002").await;
    let (mut own, mut own_state) = c.upload(&attacker, "case-own", "I0001").await;

    // The crafted requests, built before any measurement.
    let probes = message(
        Some(&[1, 10, 0x80, 0x80, 0x80, 0x80, 0x01, 0xff, 0xff]),
        &[],
    );
    let zero_bits = message(Some(&[1, 0, 7]), &[]);
    let inflate = {
        use flate2::write::DeflateEncoder;
        let mut e = DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            e.write_all(&zeros).unwrap();
        }
        let data = e.finish().unwrap();
        let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        uleb(&mut chunk, data.len() as u64);
        chunk.extend(data);
        message(None, &[chunk])
    };
    let bomb = {
        let r = own.get(ROOT, "report").unwrap().unwrap().1;
        let l = own.get(&r, "photos").unwrap().unwrap().1;
        let mut tx = own.transaction();
        tx.splice(
            &l,
            0,
            0,
            (0..1_000_000).map(|_| automerge::ScalarValue::Null),
        )
        .unwrap();
        tx.commit();
        own.generate_sync_message(&mut own_state).unwrap().encode()
    };
    drop(own);
    let pred_bomb = {
        // One operation whose pred group declares 16 million entries.
        let n = 16_000_000u64;
        let sleb = |v: u64| {
            let mut out = Vec::new();
            let mut v = v;
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 && b & 0x40 == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        };
        let mut group = vec![1];
        uleb(&mut group, n);
        let mut actor = sleb(n);
        actor.push(0);
        let mut ctr = sleb(n);
        ctr.push(1);
        let cols: Vec<(u8, Vec<u8>)> = vec![
            (0x15, vec![1, 1, b'a']),
            (0x34, vec![1]),
            (0x42, vec![1, 1]),
            (0x56, vec![1, 0]),
            (0x70, group),
            (0x71, actor),
            (0x73, ctr),
        ];
        let mut body = vec![0u8, 16];
        body.extend([7u8; 16]);
        body.extend([1, 1, 0, 0, 0]);
        body.push(cols.len() as u8);
        for (spec, data) in &cols {
            body.push(*spec);
            body.push(data.len() as u8);
        }
        for (_, data) in &cols {
            body.extend(data);
        }
        let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1];
        uleb(&mut chunk, body.len() as u64);
        chunk.extend(body);
        message(None, &[chunk])
    };

    let attacks: Vec<(&str, Vec<u8>, &str)> = vec![
        ("summary with 2^28 probes", probes.clone(), "case-own"),
        ("summary with zero bits per entry", zero_bits, "case-own"),
        ("compressed chunk inflating to 1 GiB", inflate, "case-new"),
        (
            "1,000,000-operation edit of one's own case",
            bomb,
            "case-own",
        ),
        (
            "one operation declaring 16 million preds",
            pred_bomb,
            "case-own",
        ),
    ];
    for (name, msg, id) in attacks {
        let bytes = msg.len();
        let base = status_kib("VmRSS:");
        reset_peak();
        let cpu = cpu_seconds();
        let t = Instant::now();
        let (status, body) = c.sync(&attacker, vec![req(id, msg)]).await;
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        let peak = status_kib("VmHWM:").saturating_sub(base);
        println!(
            "{}",
            serde_json::json!({
                "attack": name,
                "request_bytes": bytes,
                "answer": outcome(status, &body),
                "wall_s": (wall * 1000.0).round() / 1000.0,
                "cpu_s": cpu,
                "peak_above_baseline_mib": peak / 1024,
            })
        );
    }

    // The most work a request may still ask for: ten new cases, each with a
    // change just under the per-change limit (the server applies them all,
    // then refuses the documents as invalid).
    let heavy: Vec<SyncDocRequest> = (0..10)
        .map(|i| {
            let id = format!("case-heavy-{i}");
            let mut doc = CaseDoc::create(ActorId::random(), &id, &report("I0001"))
                .unwrap()
                .into_doc();
            let r = doc.get(ROOT, "report").unwrap().unwrap().1;
            let l = doc.get(&r, "photos").unwrap().unwrap().1;
            let mut tx = doc.transaction();
            tx.splice(&l, 0, 0, (0..9_900).map(|_| automerge::ScalarValue::Null))
                .unwrap();
            tx.commit();
            let mut st = SyncState::new();
            let m = doc.generate_sync_message(&mut st).unwrap();
            let mut peer = Automerge::new();
            let mut ps = SyncState::new();
            peer.receive_sync_message(&mut ps, m).unwrap();
            let ask = peer.generate_sync_message(&mut ps).unwrap();
            doc.receive_sync_message(&mut st, ask).unwrap();
            v1(&mut st);
            req(&id, doc.generate_sync_message(&mut st).unwrap().encode())
        })
        .collect();
    let bytes: usize = heavy.iter().map(|d| d.msg.len()).sum();
    let base = status_kib("VmRSS:");
    reset_peak();
    let cpu = cpu_seconds();
    let t = Instant::now();
    let (status, body) = c.sync(&attacker, heavy).await;
    println!(
        "{}",
        serde_json::json!({
            "attack": "10 new cases of ~10,000 operations each in one request",
            "request_bytes": bytes,
            "answer": outcome(status, &body),
            "wall_s": (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            "cpu_s": cpu_seconds() - cpu,
            "peak_above_baseline_mib": status_kib("VmHWM:").saturating_sub(base) / 1024,
        })
    );

    // Fairness: one account sends 8 costly requests at once while an honest
    // device uploads 5 new cases one after the other.
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let c = Client {
                http: c.http.clone(),
                url: c.url.clone(),
            };
            let t = attacker.clone();
            let m = probes.clone();
            tokio::spawn(async move { c.sync(&t, vec![req("case-own", m)]).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut worst = 0.0f64;
    for i in 0..5 {
        let t = Instant::now();
        c.upload(&honest, &format!("case-honest-{i}"), "I0002")
            .await;
        worst = worst.max(t.elapsed().as_secs_f64());
    }
    for f in flood {
        let _ = f.await;
    }
    println!(
        "{}",
        serde_json::json!({
            "attack": "8 concurrent 2^28-probe requests from one account",
            "honest_upload_worst_s": (worst * 1000.0).round() / 1000.0,
        })
    );
    server.shutdown().await.unwrap();
}
