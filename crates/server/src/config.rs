//! Server settings: defaults in code, then an optional TOML file, then
//! environment variables `GRIDPATROL__SECTION__KEY` (e.g.
//! `GRIDPATROL__SERVER__LISTEN=0.0.0.0:8787`, `GRIDPATROL__AUTH__TOKEN_TTL_SECS=3600`).
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8787"
//! sync_state_cache = 200000
//! sync_workers = 0          # 0 = one per CPU
//! trusted_proxies = []     # peers whose X-Forwarded-For names the client
//! header_read_timeout_secs = 10
//! idle_timeout_secs = 60
//! max_connections = 1024
//! [auth]
//! token_ttl_secs = 604800
//! [auth.throttle]
//! free_failures = 5
//! max_lockout_secs = 300
//! address_free_failures = 50
//! account_free_failures = 100
//! account_max_lockout_secs = 60
//! max_entries = 100000
//! [photos]
//! partial_uploads_per_account = 20
//! partial_bytes_per_account = 209715200
//! partial_ttl_secs = 259200
//! [open311]
//! enabled = true            # the public GeoReport v2 endpoints (crate::open311)
//! coordinate_decimals = 3   # 3 ≈ 100 m; at most 6
//! public_descriptions = false
//! jurisdiction_id = "110105"
//! ```

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Name of the optional config file inside the data directory.
pub const CONFIG_FILE: &str = "gridpatrol.toml";

/// All server settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    /// `[server]`.
    pub server: ServerSection,
    /// `[auth]`.
    pub auth: AuthSection,
    /// `[photos]`.
    pub photos: PhotosSection,
    /// `[quality]`.
    pub quality: QualitySection,
    /// `[open311]`.
    pub open311: Open311Section,
}

/// `[quality]` section: the monthly sample and the missed-report rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualitySection {
    /// Percent of each inspector's month drawn for checking.
    pub sample_percent: u32,
    /// At least this many reports per inspector (or all, if fewer).
    pub sample_min: u32,
    /// A patrol report this close covers a complaint (metres).
    pub missed_radius_m: u32,
    /// A patrol report this long before a complaint covers it (hours).
    pub missed_window_hours: u32,
    /// A month's sample is drawn this many hours after it ends, so reports
    /// made offline at its end have reached the server.
    pub draw_delay_hours: u32,
    /// Draw by itself (hourly check); when off, the draw happens when a
    /// leader or the centre first asks for it.
    pub auto_draw: bool,
}

impl Default for QualitySection {
    fn default() -> Self {
        QualitySection {
            sample_percent: 5,
            sample_min: 3,
            missed_radius_m: 100,
            missed_window_hours: 24,
            draw_delay_hours: 24,
            auto_draw: true,
        }
    }
}

impl QualitySection {
    /// The sample rule these settings say.
    pub fn sample_rule(&self) -> gridpatrol_quality::sample::SampleRule {
        gridpatrol_quality::sample::SampleRule {
            rate: f64::from(self.sample_percent.min(100)) / 100.0,
            min: self.sample_min as usize,
        }
    }

    /// The missed-report rule these settings say.
    pub fn kpi_rules(&self) -> gridpatrol_quality::kpi::KpiRules {
        gridpatrol_quality::kpi::KpiRules {
            missed_radius_m: f64::from(self.missed_radius_m),
            missed_window_ms: i64::from(self.missed_window_hours) * 3_600_000,
        }
    }
}

/// `[open311]` section: the public, read-only Open311 GeoReport v2
/// endpoints (see [`crate::open311`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Open311Section {
    /// Serve `/open311/v2/…`; when false those paths answer like any
    /// unknown path (404).
    pub enabled: bool,
    /// Decimals the published WGS-84 coordinates are rounded to (3 ≈ 100 m,
    /// 2 ≈ 1 km); values over 6 count as 6.
    pub coordinate_decimals: u32,
    /// Publish what people wrote (the report's description, the latest
    /// step's note); when false a request's description is its category
    /// name and its status notes the state's name.
    pub public_descriptions: bool,
    /// The one jurisdiction served: a request naming another
    /// `jurisdiction_id` answers 404 (default: Chaoyang's division code).
    pub jurisdiction_id: String,
}

impl Default for Open311Section {
    fn default() -> Self {
        Open311Section {
            enabled: true,
            coordinate_decimals: 3,
            public_descriptions: false,
            jurisdiction_id: "110105".into(),
        }
    }
}

/// `[photos]` section: limits on unfinished uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhotosSection {
    /// Most unfinished uploads one account may hold at once.
    pub partial_uploads_per_account: u64,
    /// Most bytes (sum of declared `Upload-Length`s) of one account's
    /// unfinished uploads.
    pub partial_bytes_per_account: u64,
    /// An unfinished upload untouched for this many seconds is deleted.
    pub partial_ttl_secs: u64,
}

impl Default for PhotosSection {
    fn default() -> Self {
        PhotosSection {
            partial_uploads_per_account: 20,
            partial_bytes_per_account: 5 * gridpatrol_protocol::limits::MAX_PHOTO_BYTES,
            partial_ttl_secs: 3 * 24 * 3600,
        }
    }
}

/// `[server]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSection {
    /// Address to listen on.
    pub listen: String,
    /// Most (device, document) sync states kept in memory; beyond it the
    /// cache is emptied and states reload from storage.
    pub sync_state_cache: usize,
    /// Sync batches processed at once (CPU-bound Automerge work); further
    /// requests wait their turn. 0 means one per CPU.
    pub sync_workers: usize,
    /// Addresses of reverse proxies (e.g. the TLS terminator) whose
    /// `X-Forwarded-For` header names the client; the login throttle counts
    /// per client address, so without this every client behind the proxy
    /// would share one address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A client must send a complete request head within this many seconds
    /// of the connection opening (or of the previous response), else the
    /// connection is closed.
    pub header_read_timeout_secs: u64,
    /// A connection with no request in progress and no bytes moving for this
    /// many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Most client connections served at once; at the bound the one idle
    /// longest is closed for a newcomer, else further ones wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
    /// Answer a successful write (sync, photo, login, centre or quality
    /// action) only once what it stored is flushed to disk, so a power cut
    /// after the answer loses nothing the device then forgets. Flushes are
    /// shared by concurrent requests. Turn off only for throwaway data
    /// (benchmarks of the difference).
    pub durable_acks: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: DEFAULT_LISTEN.into(),
            sync_state_cache: 200_000,
            sync_workers: 0,
            trusted_proxies: Vec::new(),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            durable_acks: true,
        }
    }
}

/// `[auth]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSection {
    /// Lifetime of a bearer token in seconds (default 7 days: a shift plus
    /// days offline).
    pub token_ttl_secs: u64,
    /// `[auth.throttle]`: backoff on failed logins.
    pub throttle: crate::throttle::LoginThrottleSettings,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            token_ttl_secs: 7 * 24 * 3600,
            throttle: Default::default(),
        }
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Loads defaults, then `config_file` (or `DIR/gridpatrol.toml` if it
    /// exists), then `GRIDPATROL__*` environment variables.
    pub fn load(data_dir: &Path, config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError(format!(
                        "config file {} not found",
                        p.display()
                    )));
                }
                fig = fig.merge(Toml::file(p));
            }
            None => {
                let p = data_dir.join(CONFIG_FILE);
                if p.is_file() {
                    fig = fig.merge(Toml::file(p));
                }
            }
        }
        fig.merge(Env::prefixed("GRIDPATROL__").split("__"))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }
}
