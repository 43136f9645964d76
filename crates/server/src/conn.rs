//! The HTTP/1.1 accept loop: a bound on concurrent connections, a deadline
//! for each request head, and closing of idle or stalled connections.
//! (`axum::serve` has none of these: a client dribbling its headers was
//! served after 45 s, and idle keep-alive connections were never closed.)
//!
//! - At most `server.max_connections` connections are served at once. When
//!   all places are taken, the one quiet longest with no request in progress
//!   (an idle keep-alive connection, quiet ≥ [`EVICT_AFTER`]) is asked to
//!   close so the newcomer is served; with none idle the newcomer waits
//!   until one closes, and later ones wait in the listen backlog. (Without
//!   this, phones that had just synced held every place with idle
//!   keep-alive connections and the next phones timed out waiting.)
//! - A request head must arrive complete within
//!   `server.header_read_timeout_secs` of its first byte, else the
//!   connection is dropped (no answer is owed to a client that cannot send
//!   a request head in time).
//! - No bytes moving for `server.idle_timeout_secs`: a connection with no
//!   request in progress (an idle keep-alive one, or one that never sent a
//!   byte) is closed gracefully; one stalled while the server waits for its
//!   request body, or one that does not take its response after being asked
//!   to close, is dropped.
//!
//! Shutdown: stop accepting, ask every connection to close once its request
//! in progress (if any) is answered, and return when all are gone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore, TryAcquireError};
use tower_service::Service;

use crate::config::ServerSection;

/// Connection limits taken from `[server]`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: u32,
}

impl Limits {
    fn from(s: &ServerSection) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout_secs.max(1)),
            max_connections: u32::try_from(s.max_connections.clamp(1, 1 << 20)).unwrap_or(1 << 20),
        }
    }
}

/// What one connection is doing, shared by its IO, its requests and its watchdog.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start` when a byte last moved.
    last_io_ms: AtomicU64,
    /// Requests whose response has not been produced yet.
    in_flight: AtomicUsize,
    /// The handler is waiting for more request body.
    awaiting_body: AtomicBool,
    /// 1 + milliseconds after `start` when the first byte of a request head
    /// arrived; 0 while no head is being read.
    head_started_ms: AtomicU64,
    /// Asked to close to make room for a newcomer.
    evicted: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            awaiting_body: AtomicBool::new(false),
            head_started_ms: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Bytes arrived: with no request in progress they start a request head.
    fn bytes_read(&self) {
        self.touch();
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self.head_started_ms.compare_exchange(
                0,
                self.now_ms().saturating_add(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// How long the request head being read has taken so far.
    fn head_reading_for(&self) -> Option<Duration> {
        match self.head_started_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some(Duration::from_millis(self.now_ms().saturating_sub(t - 1))),
        }
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// How long a connection must have been quiet, with no request in progress,
/// before it may be closed to make room for a newcomer (a client between
/// two requests of one session is not cut off).
const EVICT_AFTER: Duration = Duration::from_secs(1);

/// Each open connection's activity and its "close now" signal, by id.
type OpenConns = HashMap<u64, (Arc<Activity>, Arc<Notify>)>;

/// The connections being served, so the accept loop can close an idle one
/// when every place is taken.
#[derive(Default)]
struct Open {
    next: AtomicU64,
    conns: Mutex<OpenConns>,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, OpenConns> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection; it is forgotten when the guard drops.
    fn register(self: &Arc<Self>, activity: &Arc<Activity>) -> (Registered, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evict = Arc::new(Notify::new());
        self.lock().insert(id, (activity.clone(), evict.clone()));
        (
            Registered {
                open: self.clone(),
                id,
            },
            evict,
        )
    }

    /// Asks the connection quiet longest (at least [`EVICT_AFTER`], no
    /// request in progress, no head being read) to close; false if none is.
    fn evict_idlest(&self) -> bool {
        let conns = self.lock();
        let idlest = conns
            .values()
            .filter(|(a, _)| {
                a.in_flight.load(Ordering::Relaxed) == 0
                    && a.head_reading_for().is_none()
                    && !a.evicted.load(Ordering::Relaxed)
            })
            .map(|(a, n)| (a.quiet_for(), a, n))
            .filter(|(q, _, _)| *q >= EVICT_AFTER)
            .max_by_key(|(q, _, _)| *q);
        match idlest {
            Some((_, a, n)) => {
                a.evicted.store(true, Ordering::Relaxed);
                n.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from [`Open`] when it ends.
struct Registered {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

/// A TCP stream that records when bytes move.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that tells the watchdog when the handler waits for it.
struct WatchedBody {
    inner: Incoming,
    activity: Arc<Activity>,
}

impl hyper::body::Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        self.activity
            .awaiting_body
            .store(r.is_pending(), Ordering::Relaxed);
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.activity.awaiting_body.store(false, Ordering::Relaxed);
    }
}

/// Counts a request as in flight until its response is produced.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        // The head is complete: hyper hands over a request only then.
        activity.head_started_ms.store(0, Ordering::Relaxed);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Serves `app` on `listener` with the connection limits of `settings` until
/// `shutdown` completes, then lets every connection finish its request in
/// progress and returns once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ServerSection,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Limits::from(settings);
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let open = Arc::new(Open::default());
    'accept: loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // A place for it: free, or made by closing an idle connection, or
        // (none idle) the first one that closes. Later newcomers wait in
        // the listen backlog meanwhile.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => loop {
                let asked = open.evict_idlest();
                let recheck = if asked {
                    Duration::from_secs(2)
                } else {
                    EVICT_AFTER / 4
                };
                tokio::select! {
                    _ = &mut shutdown => break 'accept,
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => break p,
                        Err(_) => break 'accept,
                    },
                    _ = tokio::time::sleep(recheck) => {}
                }
            },
        };
        let app = app.clone();
        let stop = stop_rx.clone();
        let open = open.clone();
        tokio::spawn(async move {
            serve_connection(tcp, peer, app, limits, stop, &open).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it is closed.
    let _all = permits.acquire_many(limits.max_connections).await;
    Ok(())
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    open: &Arc<Open>,
) {
    let activity = Arc::new(Activity::new());
    let (_registered, evict) = open.register(&activity);
    let io = TokioIo::new(Tracked {
        inner: tcp,
        activity: activity.clone(),
    });
    let svc_activity = activity.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let guard = InFlight::new(&svc_activity);
        let activity = svc_activity.clone();
        let mut app = app.clone();
        async move {
            let mut req = req.map(|inner| Body::new(WatchedBody { inner, activity }));
            req.extensions_mut().insert(ConnectInfo(peer));
            let resp = app.call(req).await;
            drop(guard);
            Ok::<_, Infallible>(match resp {
                Ok(r) => r,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head deadline is ours (from the first byte, see `Activity`):
    // hyper's would also run while an idle keep-alive connection waits.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    let mut conn = std::pin::pin!(conn);
    let mut closing = *stop.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    let tick = (limits.idle_timeout.min(limits.header_read_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(tick);
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                return;
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = evict.notified(), if !closing => {
                tracing::debug!("closing idle connection from {peer}: all places taken");
                closing = true;
                activity.touch();
                conn.as_mut().graceful_shutdown();
            }
            _ = ticker.tick() => {
                if activity
                    .head_reading_for()
                    .is_some_and(|t| t >= limits.header_read_timeout)
                {
                    tracing::debug!("dropping {peer}: request head not complete in time");
                    return;
                }
                if activity.quiet_for() < limits.idle_timeout {
                    continue;
                }
                if closing || activity.awaiting_body.load(Ordering::Relaxed) {
                    tracing::debug!("dropping stalled connection from {peer}");
                    return;
                }
                if activity.in_flight.load(Ordering::Relaxed) == 0 {
                    closing = true;
                    // Counts the close as activity, so a client that does
                    // not take the rest of its response is dropped a full
                    // idle timeout later.
                    activity.touch();
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
