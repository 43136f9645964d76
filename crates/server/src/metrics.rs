//! Process-wide counters rendered as Prometheus text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of one server instance.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Documents per sync outcome (`ok`, `refused`, `not_found`, `error`).
    sync_docs: Mutex<BTreeMap<&'static str, u64>>,
    /// New document versions stored by sync.
    pub docs_stored: AtomicU64,
    /// Bytes of sync request bodies.
    pub sync_bytes_in: AtomicU64,
    /// Bytes of sync response bodies.
    pub sync_bytes_out: AtomicU64,
    /// Photo bytes received.
    pub photo_bytes_in: AtomicU64,
    /// Photo bytes sent.
    pub photo_bytes_out: AtomicU64,
    /// Sync batches recomputed because a document changed concurrently.
    pub sync_conflicts: AtomicU64,
    /// Sync messages refused by the guard before Automerge saw them.
    pub sync_messages_refused: AtomicU64,
    /// Successful logins.
    pub logins_ok: AtomicU64,
    /// Failed logins.
    pub logins_failed: AtomicU64,
    /// Logins refused by the throttle (429 `too_many_attempts`).
    pub logins_throttled: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Counts one finished request.
    pub fn request(&self, route: &str, method: &str, status: u16) {
        *lock(&self.requests)
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
    }

    /// Counts one document's sync outcome.
    pub fn sync_doc(&self, status: &'static str) {
        *lock(&self.sync_docs).entry(status).or_default() += 1;
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP gridpatrol_http_requests_total HTTP requests by route, method and status.\n# TYPE gridpatrol_http_requests_total counter\n");
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "gridpatrol_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP gridpatrol_sync_docs_total Documents in sync requests by outcome.\n# TYPE gridpatrol_sync_docs_total counter\n");
        for (status, n) in lock(&self.sync_docs).iter() {
            let _ = writeln!(out, "gridpatrol_sync_docs_total{{status=\"{status}\"}} {n}");
        }
        let simple: [(&str, &str, &AtomicU64); 10] = [
            (
                "gridpatrol_sync_messages_refused_total",
                "Sync messages over a limit, refused before Automerge saw them.",
                &self.sync_messages_refused,
            ),
            (
                "gridpatrol_sync_conflict_retries_total",
                "Sync batches recomputed after a concurrent change.",
                &self.sync_conflicts,
            ),
            (
                "gridpatrol_docs_stored_total",
                "Document versions stored by sync.",
                &self.docs_stored,
            ),
            (
                "gridpatrol_sync_bytes_in_total",
                "Bytes of sync request bodies.",
                &self.sync_bytes_in,
            ),
            (
                "gridpatrol_sync_bytes_out_total",
                "Bytes of sync response bodies.",
                &self.sync_bytes_out,
            ),
            (
                "gridpatrol_photo_bytes_in_total",
                "Photo bytes received.",
                &self.photo_bytes_in,
            ),
            (
                "gridpatrol_photo_bytes_out_total",
                "Photo bytes sent.",
                &self.photo_bytes_out,
            ),
            (
                "gridpatrol_logins_ok_total",
                "Successful logins.",
                &self.logins_ok,
            ),
            (
                "gridpatrol_logins_failed_total",
                "Failed logins.",
                &self.logins_failed,
            ),
            (
                "gridpatrol_logins_throttled_total",
                "Logins refused by the failed-login throttle.",
                &self.logins_throttled,
            ),
        ];
        for (name, help, c) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        out
    }
}
