//! GridPatrol's field app with no UI: one [`Device`] facade that owns the
//! account's store, the cached district package, category search, the photo
//! pipeline and the background sync loop, and offers exactly what the
//! screens need as plain Rust. The Tauri shell forwards one command to each
//! method; the simulator and the tests drive the same methods headless.
//! Every edit is one local store transaction first (it works with no
//! signal); the sync loop runs on its own store connection and never holds
//! the screens' connection across a network wait.
#![forbid(unsafe_code)]

mod check;
mod district;
mod error;
pub mod local;
mod patrol_days;
mod position;
mod quality;
mod screens;
mod session;
mod sync_loop;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_search::CategoryIndex;
use gridpatrol_store::Store;

pub use check::DocCheck;
pub use district::distance_m;
pub use error::DeviceError;
pub use position::{FilePosition, FixedPosition, NoPosition, PositionSource};
pub use sync_loop::SyncLoop;

/// Result of every [`Device`] method.
pub type Result<T> = std::result::Result<T, DeviceError>;

/// The app's clock (a test sets its own).
pub trait Clock: Send + Sync {
    /// Now, Unix ms.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// How a [`Device`] is set up.
pub struct DeviceConfig {
    /// Where the device keeps its data (one store per account under it).
    pub data_dir: PathBuf,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The platform's position source.
    pub position: Arc<dyn PositionSource>,
    /// Allow `http://` to hosts other than this machine (test networks only).
    pub allow_plain_http: bool,
}

/// Everything signed in: the account's store and who it is.
pub(crate) struct Account {
    pub(crate) me: view::Me,
    pub(crate) store: Store,
    pub(crate) area: Option<district::Area>,
    /// When the loaded district package was fetched (see `Account::refresh`).
    pub(crate) package_at: Option<i64>,
}

/// The field app's behaviour. Cheap to share (`Arc<Device>`); every method
/// takes `&self`.
pub struct Device {
    cfg: DeviceConfig,
    account: Mutex<Option<Account>>,
    search: OnceLock<CategoryIndex>,
    sync: SyncLoop,
    fed_fix: Mutex<Option<view::Position>>,
}

impl Device {
    /// Opens the device's data directory and resumes the account that was
    /// signed in (offline: nothing is fetched).
    pub fn open(cfg: DeviceConfig) -> Result<Device> {
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| DeviceError::Internal(format!("data dir: {e}")))?;
        let d = Device {
            sync: SyncLoop::new(cfg.clock.clone()),
            cfg,
            account: Mutex::new(None),
            search: OnceLock::new(),
            fed_fix: Mutex::new(None),
        };
        d.resume()?;
        Ok(d)
    }

    pub(crate) fn now(&self) -> i64 {
        self.cfg.clock.now_ms()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Account>> {
        self.account.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the signed-in account.
    pub(crate) fn with_account<T>(&self, f: impl FnOnce(&mut Account) -> Result<T>) -> Result<T> {
        let mut g = self.lock();
        let a = g.as_mut().ok_or(DeviceError::NotSignedIn)?;
        a.refresh()?;
        f(a)
    }

    pub(crate) fn index(&self) -> &CategoryIndex {
        self.search
            .get_or_init(|| CategoryIndex::build(Taxonomy::builtin()))
    }

    /// The store file of an account.
    pub(crate) fn db_path(&self, user_id: &str) -> PathBuf {
        self.cfg
            .data_dir
            .join("accounts")
            .join(user_id)
            .join("gridpatrol.db")
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.cfg.data_dir
    }

    /// The background sync loop (status stream, trigger).
    pub fn sync_loop(&self) -> &SyncLoop {
        &self.sync
    }
}
