//! A loopback TCP proxy that cuts connections in the middle of HTTP requests.
//!
//! Every chunk the client sends that starts a request (`POST `, `PUT `,
//! `HEAD `, `GET `) rolls the dice: with probability `p` the connection is cut
//! — half the time before the request has fully reached the server, half the
//! time after the server got it but before its whole answer got back (the
//! nasty case: the server applied the change, the device doesn't know).
//! The upstream address can be switched while running, so a test can kill a
//! server and start another on the same data directory behind the same URL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug)]
struct Shared {
    upstream: RwLock<SocketAddr>,
    /// Fault probability as f64 bits.
    rate: AtomicU64,
    rng: Mutex<ChaCha8Rng>,
    connections: AtomicU64,
    requests: AtomicU64,
    cuts: AtomicU64,
}

impl Shared {
    fn roll(&self) -> Option<bool> {
        let p = f64::from_bits(self.rate.load(Ordering::Relaxed));
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        if p > 0.0 && rng.random_bool(p.min(1.0)) {
            // true: cut the request; false: cut the response.
            Some(rng.random_bool(0.5))
        } else {
            None
        }
    }
}

/// A running fault proxy on `127.0.0.1:<port>`; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

fn starts_request(b: &[u8]) -> bool {
    [&b"POST "[..], b"PUT ", b"HEAD ", b"GET "]
        .iter()
        .any(|m| b.starts_with(m))
}

async fn pump(mut client: TcpStream, shared: Arc<Shared>) {
    let upstream = *shared.upstream.read().unwrap_or_else(|e| e.into_inner());
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return; // upstream down: the client sees the connection close
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut sbuf = vec![0u8; 64 * 1024];
    let mut cut_response = false;
    loop {
        tokio::select! {
            n = cr.read(&mut cbuf) => {
                let Ok(n) = n else { return };
                if n == 0 { let _ = sw.shutdown().await; return; }
                let chunk = &cbuf[..n];
                if starts_request(chunk) {
                    shared.requests.fetch_add(1, Ordering::Relaxed);
                    match shared.roll() {
                        Some(true) => {
                            shared.cuts.fetch_add(1, Ordering::Relaxed);
                            let _ = sw.write_all(&chunk[..n / 2]).await;
                            return;
                        }
                        Some(false) => {
                            shared.cuts.fetch_add(1, Ordering::Relaxed);
                            cut_response = true;
                        }
                        None => {}
                    }
                }
                if sw.write_all(chunk).await.is_err() { return; }
            }
            n = sr.read(&mut sbuf) => {
                let Ok(n) = n else { return };
                if n == 0 { let _ = cw.shutdown().await; return; }
                if cut_response {
                    let _ = cw.write_all(&sbuf[..n / 2]).await;
                    return;
                }
                if cw.write_all(&sbuf[..n]).await.is_err() { return; }
            }
        }
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, cutting with
    /// probability `rate` per request; `seed` makes the cuts repeatable for a
    /// given request order.
    pub async fn start(upstream: SocketAddr, rate: f64, seed: u64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: RwLock::new(upstream),
            rate: AtomicU64::new(rate.to_bits()),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(pump(client, s.clone()));
            }
        });
        Ok(FaultProxy { addr, shared, task })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends new connections to another upstream (e.g. a restarted server).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self
            .shared
            .upstream
            .write()
            .unwrap_or_else(|e| e.into_inner()) = upstream;
    }

    /// Changes the fault probability for requests from now on.
    pub fn set_fault_rate(&self, rate: f64) {
        self.shared.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// HTTP requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
