//! Server settings: defaults in code, then an optional TOML file, then
//! environment variables `GRIDPATROL__SECTION__KEY` (e.g.
//! `GRIDPATROL__SERVER__LISTEN=0.0.0.0:8787`, `GRIDPATROL__AUTH__TOKEN_TTL_SECS=3600`).
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8787"
//! sync_state_cache = 200000
//! sync_workers = 0          # 0 = one per CPU
//! [auth]
//! token_ttl_secs = 604800
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
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: DEFAULT_LISTEN.into(),
            sync_state_cache: 200_000,
            sync_workers: 0,
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
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            token_ttl_secs: 7 * 24 * 3600,
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
