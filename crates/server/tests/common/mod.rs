//! Test fixture: a tiny district, a server on 127.0.0.1:0, and a JSON client
//! with a per-document Automerge sync loop.
#![allow(dead_code)]

use std::sync::Arc;

use automerge::sync::{Message, State as SyncState, SyncDoc};
use automerge::Automerge;
use gridpatrol_domain::district::{District, Inspector, InspectorKind, Squad};
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{
    paths, DocKind, SyncDocRequest, SyncDocResult, SyncRequest, SyncResponse, SyncStatus,
};
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::config::Settings;
use gridpatrol_server::{spawn_test_server_with, RunningServer};
use gridpatrol_server_storage::{ServerStore, User};
use reqwest::StatusCode;

/// A patrol report by `reporter` in supervision grid `grid` (a real fine
/// class, a point inside Chaoyang).
pub fn report(reporter: &str, grid: &str) -> gridpatrol_docs::Report {
    gridpatrol_docs::Report {
        category: "02010101".into(),
        lon: 116.48,
        lat: 39.95,
        accuracy_m: 5.0,
        technical_grid: format!("{grid}001"),
        supervision_grid: grid.into(),
        street: grid[..9].into(),
        address: "朝阳路1号".into(),
        description: "井盖破损".into(),
        photos: vec![],
        reporter: reporter.into(),
        source: gridpatrol_docs::Source::Patrol,
        created_at_ms: 1_700_000_000_000,
    }
}

/// Cheapest argon2 cost: tests exercise the flow, not the hash strength.
pub const TEST_COST: HashCost = HashCost { m_kib: 64, t: 1 };

pub const G1: &str = "110105001001";
pub const G2: &str = "110105001002";
pub const G3: &str = "110105002001";

fn inspector(id: &str, squad: &str, grid: &str, role: Role) -> Inspector {
    Inspector {
        id: id.into(),
        name: format!("name-{id}"),
        squad: squad.into(),
        supervision_grid: grid.into(),
        kind: InspectorKind::Grid,
        role,
    }
}

/// S01 (grids G1, G2): I0001 in G1, I0002 in G2, leader I0003.
/// S02 (grid G3): I0004 in G3, leader I0005. Centre C0001, admin A0001.
pub fn tiny_district() -> District {
    District {
        streets: vec![],
        supervision_grids: vec![],
        technical_grids: vec![],
        squads: vec![
            Squad {
                id: "S01".into(),
                name: "第01分队".into(),
                leader: "I0003".into(),
                supervision_grids: vec![G1.into(), G2.into()],
            },
            Squad {
                id: "S02".into(),
                name: "第02分队".into(),
                leader: "I0005".into(),
                supervision_grids: vec![G3.into()],
            },
        ],
        inspectors: vec![
            inspector("I0001", "S01", G1, Role::Inspector),
            inspector("I0002", "S01", G2, Role::Inspector),
            inspector("I0003", "S01", G1, Role::SquadLeader),
            inspector("I0004", "S02", G3, Role::Inspector),
            inspector("I0005", "S02", G3, Role::SquadLeader),
        ],
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: RunningServer,
    pub http: reqwest::Client,
}

pub async fn start() -> Fixture {
    start_with(Settings::default()).await
}

pub async fn start_with(settings: Settings) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_test_server_with(dir.path(), settings).await.unwrap();
    let store: Arc<dyn ServerStore> = server.state.store.clone();
    accounts::load_district(store.as_ref(), &tiny_district(), &["C0001"], TEST_COST, 2).unwrap();
    store
        .upsert_users(&[User {
            id: "A0001".into(),
            name: "admin".into(),
            role: Role::Admin,
            squad: None,
            supervision_grid: None,
            password_hash: accounts::hash_password("patrol-A0001", TEST_COST).unwrap(),
        }])
        .unwrap();
    Fixture {
        dir,
        server,
        http: reqwest::Client::new(),
    }
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// Logs in with the demo password; returns the token.
    pub async fn login(&self, user: &str) -> String {
        let r = self
            .http
            .post(self.url(paths::LOGIN))
            .json(&serde_json::json!({"user_id": user, "password": accounts::demo_password(user)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let v: serde_json::Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    pub async fn post_json(
        &self,
        token: Option<&str>,
        path: &str,
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let mut rb = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Creates case `id` reported by `reporter` in `grid` at `at_ms`, synced
    /// as that reporter.
    pub async fn upload_at(&self, token: &str, id: &str, reporter: &str, grid: &str, at_ms: i64) {
        let mut r = report(reporter, grid);
        r.created_at_ms = at_ms;
        upload_report(self, token, "dev-up", id, &r).await;
    }

    /// `GET path` with a token; the status and the JSON body (null if none).
    pub async fn get_json(&self, token: &str, path: &str) -> (StatusCode, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn sync_batch(
        &self,
        token: &str,
        device: &str,
        docs: Vec<SyncDocRequest>,
    ) -> Vec<SyncDocResult> {
        let r = self
            .http
            .post(self.url(paths::SYNC))
            .bearer_auth(token)
            .json(&SyncRequest {
                device: device.into(),
                docs,
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<SyncResponse>().await.unwrap().docs
    }

    /// Runs sync rounds for one document until the device has nothing more to
    /// send; returns the last result (or the first non-ok one).
    pub async fn sync_doc(
        &self,
        token: &str,
        device: &str,
        id: &str,
        kind: DocKind,
        doc: &mut Automerge,
        state: &mut SyncState,
    ) -> SyncDocResult {
        let mut last = None;
        for _ in 0..20 {
            let Some(msg) = doc.generate_sync_message(state) else {
                break;
            };
            let mut res = self
                .sync_batch(
                    token,
                    device,
                    vec![SyncDocRequest {
                        id: id.into(),
                        kind,
                        msg: msg.encode(),
                    }],
                )
                .await;
            let r = res.remove(0);
            if r.status != SyncStatus::Ok {
                return r;
            }
            if let Some(m) = &r.msg {
                doc.receive_sync_message(state, Message::decode(m).unwrap())
                    .unwrap();
                gridpatrol_docs::guard::speak_v1(state);
            }
            last = Some(r);
        }
        last.expect("at least one round")
    }

    /// Fetches a document the caller can see into a fresh local copy.
    pub async fn fetch(
        &self,
        token: &str,
        device: &str,
        id: &str,
        kind: DocKind,
    ) -> (Automerge, SyncState, SyncDocResult) {
        let mut doc = Automerge::new();
        let mut st = SyncState::new();
        let r = self
            .sync_doc(token, device, id, kind, &mut doc, &mut st)
            .await;
        (doc, st, r)
    }

    /// The server's stored heads of a document (via the store).
    pub fn stored_bytes(&self, id: &str) -> Option<Vec<u8>> {
        self.server
            .state
            .store
            .load_docs(&[id.to_string()])
            .unwrap()
            .remove(0)
            .map(|d| d.bytes)
    }
}

/// The assignee (I0003, the squad leader) writes a result into their copy
/// of verification `vid` and syncs it back.
pub async fn verify(f: &Fixture, vid: &str, outcome: gridpatrol_docs::Outcome) {
    let token = f.login("I0003").await;
    let (doc, mut st, r) = f.fetch(&token, "dev-l3", vid, DocKind::Verification).await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
    let mut vd =
        gridpatrol_docs::VerificationDoc::from_doc(doc.with_actor(automerge::ActorId::random()))
            .unwrap();
    assert_eq!(vd.read().unwrap().task.assignee, "I0003");
    vd.set_result(&gridpatrol_docs::VerificationResult {
        outcome,
        note: "现场核查".into(),
        photos: vec![],
        lon: 116.48,
        lat: 39.95,
        at_ms: gridpatrol_server::now_ms(),
    })
    .unwrap();
    let mut doc = vd.into_doc();
    let r = f
        .sync_doc(
            &token,
            "dev-l3",
            vid,
            DocKind::Verification,
            &mut doc,
            &mut st,
        )
        .await;
    assert_eq!(r.status, SyncStatus::Ok, "{r:?}");
}

/// The centre account behind `token` records `body` on case `id`.
pub async fn act(
    f: &Fixture,
    token: &str,
    id: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    f.post_json(
        Some(token),
        &format!("{}/{id}/actions", paths::CENTRE_CASES),
        &body,
    )
    .await
}

/// The reporter behind `token` creates case `id` with report `r` on
/// `device` and syncs it up.
pub async fn upload_report(
    f: &Fixture,
    token: &str,
    device: &str,
    id: &str,
    r: &gridpatrol_docs::Report,
) {
    let mut doc = gridpatrol_docs::CaseDoc::create(automerge::ActorId::random(), id, r)
        .unwrap()
        .into_doc();
    let mut st = SyncState::new();
    let res = f
        .sync_doc(token, device, id, DocKind::Case, &mut doc, &mut st)
        .await;
    assert_eq!(res.status, SyncStatus::Ok, "{res:?}");
}
