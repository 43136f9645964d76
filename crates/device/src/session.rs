//! Sign in / out and the signed-in account: the device keeps the server's
//! token (never the password) in the account's own store, so it stays
//! signed in offline and across restarts.

use gridpatrol_protocol::{DistrictPackage, UserInfo};
use gridpatrol_store::{Assignment, Store};
use gridpatrol_sync::{SyncConfig, SyncEngine};

use crate::view::{Me, SignIn, SignOut};
use crate::{district::Area, Account, Device, DeviceError, Result};

const META_USER: &str = "session.user";
const META_TOKEN: &str = "session.token";
const META_SERVER: &str = "session.server";
/// The file naming the signed-in account (its id, one line).
const CURRENT: &str = "current-account";

fn me_of(u: &UserInfo, server: &str) -> Me {
    Me {
        id: u.id.clone(),
        name: u.name.clone(),
        role: u.role,
        squad: u.squad.clone(),
        supervision_grid: u.supervision_grid.clone(),
        server: server.to_string(),
    }
}

/// An account id is used as a directory name: keep it to what ids are.
fn check_user_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DeviceError::Invalid(format!(
            "account id {id:?}: letters, digits, - and _ only"
        )))
    }
}

/// When a session found the account reassigned (a rotation plan started:
/// the engine's account differs from the stored one), keeps the account as
/// the server knows it now and its new district package, fetched with the
/// session's engine. The screens pick both up at their next call
/// ([`Device::with_account`]).
pub(crate) async fn adopt_reassignment(
    engine: &mut SyncEngine,
    store: &mut Store,
    now_ms: i64,
) -> Result<()> {
    let Some(user) = engine.user().cloned() else {
        return Ok(());
    };
    let stored: Option<UserInfo> = store
        .get_meta(META_USER)?
        .and_then(|s| serde_json::from_str(&s).ok());
    if stored.as_ref() == Some(&user) {
        return Ok(());
    }
    tracing::info!(grid = ?user.supervision_grid, squad = ?user.squad, "reassigned; fetching the new district package");
    let user = &user;
    let pkg = engine.district().await?;
    let pkg_json = serde_json::to_string(&pkg)
        .map_err(|e| DeviceError::Internal(format!("district package: {e}")))?;
    keep_account(store, user, &pkg_json, now_ms)
}

/// Stores who the account is (as the server said), its assignment and its
/// district package.
fn keep_account(store: &mut Store, user: &UserInfo, pkg_json: &str, now_ms: i64) -> Result<()> {
    store.set_meta(
        META_USER,
        &serde_json::to_string(user).map_err(|e| DeviceError::Internal(e.to_string()))?,
    )?;
    store.set_assignment(&Assignment {
        inspector_id: user.id.clone(),
        name: user.name.clone(),
        role: user.role,
        squad: user.squad.clone(),
        supervision_grid: user.supervision_grid.clone(),
    })?;
    store.set_district_package(pkg_json, now_ms)?;
    Ok(())
}

impl Account {
    /// Reloads who the account is and its district package when the sync
    /// loop (its own store connection) stored a newer package.
    pub(crate) fn refresh(&mut self) -> Result<()> {
        let at = self.store.district_package_at()?;
        if at == self.package_at {
            return Ok(());
        }
        if let Some(user) = self.store.get_meta(META_USER)? {
            let user: UserInfo = serde_json::from_str(&user)
                .map_err(|e| DeviceError::Internal(format!("stored account: {e}")))?;
            self.me = me_of(&user, &self.me.server);
        }
        self.area = load_area(&self.store)?;
        self.package_at = at;
        Ok(())
    }
}

fn load_area(store: &Store) -> Result<Option<Area>> {
    let Some((json, _)) = store.district_package()? else {
        return Ok(None);
    };
    let pkg: DistrictPackage = serde_json::from_str(&json)
        .map_err(|e| DeviceError::Internal(format!("cached district package: {e}")))?;
    Ok(Some(Area::new(pkg)))
}

impl Device {
    /// Reopens the account named in the data directory, if any.
    pub(crate) fn resume(&self) -> Result<()> {
        let Ok(id) = std::fs::read_to_string(self.data_dir().join(CURRENT)) else {
            return Ok(());
        };
        let id = id.trim().to_string();
        check_user_id(&id)?;
        let db_path = self.db_path(&id);
        if !db_path.exists() {
            return Ok(());
        }
        let store = Store::open(&db_path)?;
        let (Some(user), Some(token), Some(server)) = (
            store.get_meta(META_USER)?,
            store.get_meta(META_TOKEN)?,
            store.get_meta(META_SERVER)?,
        ) else {
            return Ok(());
        };
        let user: UserInfo = serde_json::from_str(&user)
            .map_err(|e| DeviceError::Internal(format!("stored account: {e}")))?;
        let area = load_area(&store)?;
        let package_at = store.district_package_at()?;
        let me = me_of(&user, &server);
        self.install_sync(&server, &token, user, &db_path)?;
        *self.lock() = Some(Account {
            me,
            package_at,
            store,
            area,
        });
        Ok(())
    }

    fn sync_config(&self, server: &str, user: &str, password: &str) -> SyncConfig {
        let mut cfg = SyncConfig::new(server, user, password);
        cfg.allow_plain_http = self.cfg.allow_plain_http;
        // A person is waiting: two quick tries, then say "offline"; the
        // background loop tries again on its own schedule.
        cfg.retry.max_attempts = 2;
        cfg.retry.base_delay = std::time::Duration::from_millis(300);
        cfg
    }

    fn install_sync(
        &self,
        server: &str,
        token: &str,
        user: UserInfo,
        db_path: &std::path::Path,
    ) -> Result<()> {
        let cfg = self.sync_config(server, &user.id, "");
        let engine = SyncEngine::resume(cfg, http_client()?, token, user)?;
        let store = Store::open(db_path)?;
        self.sync.install(engine, store);
        Ok(())
    }

    /// An engine of its own for one request the screen waits on (the
    /// monthly quality screens), with the signed-in account's token: it
    /// never waits for a sync session holding the background engine.
    pub(crate) fn online_engine(&self) -> Result<SyncEngine> {
        let (user, token, server) = self.with_account(|a| {
            Ok((
                a.store.get_meta(META_USER)?,
                a.store.get_meta(META_TOKEN)?,
                a.store.get_meta(META_SERVER)?,
            ))
        })?;
        let (Some(user), Some(token), Some(server)) = (user, token, server) else {
            return Err(DeviceError::SessionExpired);
        };
        if token.is_empty() {
            return Err(DeviceError::SessionExpired);
        }
        let user: UserInfo = serde_json::from_str(&user)
            .map_err(|e| DeviceError::Internal(format!("stored account: {e}")))?;
        let cfg = self.sync_config(&server, &user.id, "");
        Ok(SyncEngine::resume(cfg, http_client()?, &token, user)?)
    }

    /// Signs in: gets a token for the id and password, fetches the account's
    /// district package, and keeps both. The password is not kept.
    pub async fn sign_in(&self, req: SignIn) -> Result<Me> {
        check_user_id(&req.user_id)?;
        let server = req.server.trim().trim_end_matches('/').to_string();
        if server.is_empty() {
            return Err(DeviceError::Invalid("server address is empty".into()));
        }
        let mut engine = SyncEngine::with_client(
            self.sync_config(&server, &req.user_id, &req.password),
            http_client()?,
        )?;
        drop(req);
        let user = engine.login().await?;
        let token = engine
            .token()
            .ok_or_else(|| DeviceError::Internal("login returned no token".into()))?
            .to_string();
        let pkg = engine.district().await?;
        let pkg_json = serde_json::to_string(&pkg)
            .map_err(|e| DeviceError::Internal(format!("district package: {e}")))?;

        // Another account signed in before: stop its sync, keep its data.
        self.sync.clear().await;
        *self.lock() = None;

        let db_path = self.db_path(&user.id);
        if let Some(dir) = db_path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| DeviceError::Internal(format!("account dir: {e}")))?;
        }
        let mut store = Store::open(&db_path)?;
        let now = self.now();
        store.set_meta(META_TOKEN, &token)?;
        store.set_meta(META_SERVER, &server)?;
        keep_account(&mut store, &user, &pkg_json, now)?;
        write_atomic(&self.data_dir().join(CURRENT), user.id.as_bytes())?;
        let me = me_of(&user, &server);
        self.install_sync(&server, &token, user, &db_path)?;
        *self.lock() = Some(Account {
            me: me.clone(),
            package_at: store.district_package_at()?,
            store,
            area: Some(Area::new(pkg)),
        });
        self.sync.refresh_pending_from(&self.lock());
        Ok(me)
    }

    /// Who is signed in (works offline).
    pub fn me(&self) -> Option<Me> {
        let mut g = self.lock();
        let a = g.as_mut()?;
        if let Err(e) = a.refresh() {
            tracing::warn!(error = %e, "could not reload the account after a reassignment");
        }
        Some(a.me.clone())
    }

    /// Signs out. With unsynced work and `force = false` it stays signed in
    /// and says how much is unsynced; otherwise it revokes the token on the
    /// server (when reachable) and forgets it. The account's data is never
    /// deleted: signing in again as the same account picks it up.
    pub async fn sign_out(&self, force: bool) -> Result<SignOut> {
        let (docs, photos) = self.with_account(|a| unsynced(&a.store))?;
        if (docs > 0 || photos > 0) && !force {
            return Ok(SignOut {
                signed_out: false,
                unsynced_docs: docs,
                unsynced_photos: photos,
                revoked_on_server: false,
            });
        }
        let revoked = self.sync.logout().await;
        self.with_account(|a| {
            a.store.set_meta(META_TOKEN, "")?;
            Ok(())
        })?;
        let _ = std::fs::remove_file(self.data_dir().join(CURRENT));
        self.sync.clear().await;
        *self.lock() = None;
        Ok(SignOut {
            signed_out: true,
            unsynced_docs: docs,
            unsynced_photos: photos,
            revoked_on_server: revoked,
        })
    }
}

/// Documents and photos not yet on the server.
pub(crate) fn unsynced(store: &Store) -> Result<(u32, u32)> {
    let docs = store.pending_docs()?;
    let photos = gridpatrol_sync::pending_photos(store)?;
    Ok((docs as u32, photos as u32))
}

/// The HTTP client of the device (TLS with the platform's roots).
fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(5))
        .pool_idle_timeout(gridpatrol_sync::IDLE_CONNECTION)
        .build()
        .map_err(|e| DeviceError::Internal(format!("HTTP client: {e}")))
}

/// Writes a small file so a crash leaves the old or the new content.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| DeviceError::Internal(format!("{}: {e}", path.display())))
}
