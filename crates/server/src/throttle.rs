//! Login throttling: exponential backoff on failed password checks, per
//! (account, client address), per client address across accounts, and per
//! account across addresses — each with a short cap, so that a stranger can
//! slow an account down for minutes but never lock its inspector out for a
//! shift.
//!
//! - (account, address): after [`LoginThrottleSettings::free_failures`]
//!   failures each further one doubles a wait (1 s, 2 s, 4 s …) up to
//!   `max_lockout_secs`. A successful login from that address clears it.
//! - address: the same after `address_free_failures` failures over any
//!   accounts (one address spraying many ids).
//! - account: the same after `account_free_failures` failures over any
//!   addresses, capped at `account_max_lockout_secs` (short: this is the one a
//!   stranger elsewhere can trigger). An address that logged in to the
//!   account successfully within a day is exempt from it.
//!
//! A refused attempt costs no password hash and does not extend the wait. The
//! table is bounded: past `max_entries` the least recently touched entries go.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a successful login exempts its address from the account-wide limit.
const TRUSTED_FOR: Duration = Duration::from_secs(24 * 3600);
/// Failures older than this are forgotten (the count starts again).
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// `[auth.throttle]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginThrottleSettings {
    /// Failures of one account from one address before backoff starts.
    pub free_failures: u32,
    /// Longest wait imposed on one (account, address), in seconds.
    pub max_lockout_secs: u64,
    /// Failures from one address (over all accounts) before backoff starts.
    pub address_free_failures: u32,
    /// Failures of one account (over all addresses) before backoff starts.
    pub account_free_failures: u32,
    /// Longest wait imposed on an account as a whole, in seconds.
    pub account_max_lockout_secs: u64,
    /// Most entries kept in memory (least recently used go first).
    pub max_entries: usize,
}

impl Default for LoginThrottleSettings {
    fn default() -> Self {
        LoginThrottleSettings {
            free_failures: 5,
            max_lockout_secs: 300,
            address_free_failures: 50,
            account_free_failures: 100,
            account_max_lockout_secs: 60,
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Address(IpAddr),
    Account(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Option<Instant>,
    trusted_until: Option<Instant>,
    touched: Instant,
}

/// The throttle table of one server.
#[derive(Debug)]
pub struct LoginThrottle {
    settings: LoginThrottleSettings,
    table: Mutex<HashMap<Key, Entry>>,
}

/// A login attempt refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the next attempt is taken (at least 1).
    pub retry_after_secs: u64,
}

fn backoff(failures: u32, free: u32, cap_secs: u64) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    if over == 0 {
        return None;
    }
    let secs = 1u64.checked_shl(over - 1).unwrap_or(u64::MAX).min(cap_secs);
    Some(Duration::from_secs(secs))
}

impl LoginThrottle {
    /// An empty table with these settings.
    pub fn new(settings: LoginThrottleSettings) -> LoginThrottle {
        LoginThrottle {
            settings,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of entries held (for tests and the memory bound).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an attempt for `account` from `addr` may be checked now.
    pub fn check(&self, account: &str, addr: IpAddr) -> Result<(), Throttled> {
        self.check_at(account, addr, Instant::now())
    }

    fn check_at(&self, account: &str, addr: IpAddr, now: Instant) -> Result<(), Throttled> {
        let table = self.lock();
        let pair = table.get(&Key::Pair(account.to_string(), addr));
        let trusted = pair.and_then(|e| e.trusted_until).is_some_and(|t| t > now);
        let mut keys = vec![Key::Pair(account.to_string(), addr), Key::Address(addr)];
        if !trusted {
            keys.push(Key::Account(account.to_string()));
        }
        let wait = keys
            .iter()
            .filter_map(|k| table.get(k)?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            None => Ok(()),
            Some(w) => Err(Throttled {
                retry_after_secs: w.as_secs() + u64::from(w.subsec_nanos() > 0),
            }),
        }
    }

    /// Records a failed attempt.
    pub fn failure(&self, account: &str, addr: IpAddr) {
        self.failure_at(account, addr, Instant::now());
    }

    fn failure_at(&self, account: &str, addr: IpAddr, now: Instant) {
        let s = &self.settings;
        let mut table = self.lock();
        let plan = [
            (
                Key::Pair(account.to_string(), addr),
                s.free_failures,
                s.max_lockout_secs,
            ),
            (
                Key::Address(addr),
                s.address_free_failures,
                s.max_lockout_secs,
            ),
            (
                Key::Account(account.to_string()),
                s.account_free_failures,
                s.account_max_lockout_secs,
            ),
        ];
        for (key, free, cap) in plan {
            let e = table.entry(key).or_insert(Entry {
                failures: 0,
                blocked_until: None,
                trusted_until: None,
                touched: now,
            });
            if now.duration_since(e.touched) > FORGET_AFTER {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.touched = now;
            e.blocked_until = backoff(e.failures, free, cap).map(|d| now + d);
        }
        self.evict(&mut table);
    }

    /// Records a successful login: clears the (account, address) failures and
    /// exempts the address from the account-wide limit for a day.
    pub fn success(&self, account: &str, addr: IpAddr) {
        let now = Instant::now();
        let mut table = self.lock();
        table.insert(
            Key::Pair(account.to_string(), addr),
            Entry {
                failures: 0,
                blocked_until: None,
                trusted_until: Some(now + TRUSTED_FOR),
                touched: now,
            },
        );
        self.evict(&mut table);
    }

    /// Keeps the table within `max_entries`: drops the least recently touched
    /// tenth when full (amortised O(1) per insert).
    fn evict(&self, table: &mut HashMap<Key, Entry>) {
        let max = self.settings.max_entries.max(1);
        if table.len() <= max {
            return;
        }
        let mut ages: Vec<Instant> = table.values().map(|e| e.touched).collect();
        let drop = (table.len() - max).max(max / 10).min(ages.len() - 1);
        let (_, cut, _) = ages.select_nth_unstable(drop);
        let cut = *cut;
        table.retain(|_, e| e.touched > cut);
    }
}

/// The address a request came from: the TCP peer, or — when the peer is one
/// of `server.trusted_proxies` — the last address in `X-Forwarded-For` that
/// is not itself a trusted proxy. Unspecified (`0.0.0.0`) if the server was
/// started without connection info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl axum::extract::FromRequestParts<std::sync::Arc<crate::AppState>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<crate::AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let proxies = &state.settings.server.trusted_proxies;
        if !proxies.contains(&peer) {
            return Ok(ClientAddr(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let client = forwarded
            .into_iter()
            .rev()
            .find(|a| !proxies.contains(a))
            .unwrap_or(peer);
        Ok(ClientAddr(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        assert_eq!(backoff(5, 5, 300), None);
        assert_eq!(backoff(6, 5, 300), Some(Duration::from_secs(1)));
        assert_eq!(backoff(7, 5, 300), Some(Duration::from_secs(2)));
        assert_eq!(backoff(14, 5, 300), Some(Duration::from_secs(256)));
        assert_eq!(backoff(15, 5, 300), Some(Duration::from_secs(300)));
        assert_eq!(backoff(u32::MAX, 5, 300), Some(Duration::from_secs(300)));
    }

    #[test]
    fn a_stranger_elsewhere_cannot_lock_out_a_trusted_address_and_waits_stay_short() {
        let t = LoginThrottle::new(LoginThrottleSettings::default());
        let (home, evil) = (ip("10.0.0.1"), ip("10.9.9.9"));
        let now = Instant::now();
        t.success("I0001", home);
        // A million wrong guesses from many addresses (as fast as allowed).
        for n in 0..1000u32 {
            let a = IpAddr::from([10, 1, (n / 256) as u8, (n % 256) as u8]);
            for _ in 0..5 {
                t.failure_at("I0001", a, now);
            }
        }
        for _ in 0..50 {
            t.failure_at("I0001", evil, now);
        }
        assert!(t.check_at("I0001", home, now).is_ok(), "trusted address");
        let w = t.check_at("I0001", ip("10.2.0.1"), now).unwrap_err();
        assert!(
            w.retry_after_secs <= 60,
            "account-wide wait is short: {w:?}"
        );
        let w = t.check_at("I0001", evil, now).unwrap_err();
        assert!(w.retry_after_secs <= 300, "pair wait capped: {w:?}");
        assert!(t
            .check_at("I0001", evil, now + Duration::from_secs(301))
            .is_ok());
    }

    #[test]
    fn table_stays_bounded() {
        let t = LoginThrottle::new(LoginThrottleSettings {
            max_entries: 1000,
            ..Default::default()
        });
        for n in 0..20_000u32 {
            t.failure(&format!("U{n}"), IpAddr::from(n.to_be_bytes()));
        }
        assert!(t.len() <= 1000, "{}", t.len());
    }
}
