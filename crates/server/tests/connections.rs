//! Connection limits over raw TCP: request-head deadline, idle and stalled
//! connections, and the bound on concurrent connections.

mod common;

use std::time::Duration;

use common::*;
use gridpatrol_server::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test waits for something that should happen within ~1–2 s.
const PATIENCE: Duration = Duration::from_secs(8);

fn settings(header_secs: u64, idle_secs: u64, max_connections: usize) -> Settings {
    let mut s = Settings::default();
    s.server.header_read_timeout_secs = header_secs;
    s.server.idle_timeout_secs = idle_secs;
    s.server.max_connections = max_connections;
    s
}

async fn connect(f: &Fixture) -> TcpStream {
    TcpStream::connect(f.server.addr).await.unwrap()
}

/// Reads until the peer closes (or errors); `None` if it is still open
/// after `wait`. Returns what was read.
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

/// Reads one response head (up to the blank line); `None` if none in `wait`.
async fn read_response_head(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    tokio::time::timeout(wait, async {
        let mut buf = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => got.push(buf[0]),
            }
        }
    })
    .await
    .ok()?;
    (!got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned())
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// Asks for /healthz on `s` and expects a 200 (the connection stays open).
async fn served(s: &mut TcpStream) {
    s.write_all(HEALTHZ).await.unwrap();
    let head = read_response_head(s, PATIENCE).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn a_client_dribbling_its_request_head_is_cut_off_unserved() {
    let f = start_with(settings(1, 30, 100)).await;
    // Every flavour of slow head: a byte at a time with the request line
    // unfinished, header lines trickling in, and a head that stops mid-way.
    let heads: [&[u8]; 3] = [
        b"GET /healthz HTTP/1.1\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\nX-E: 5\r\nX-F: 6\r\nX-G: 7\r\nX-H: 8\r\n",
        b"GET /heal",
    ];
    for (n, head) in heads.iter().enumerate() {
        let mut s = connect(&f).await;
        let dribble = async {
            for chunk in head.chunks(3) {
                if s.write_all(chunk).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            // Keep the head open, then try to finish it far too late.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let _ = s.write_all(b"\r\n").await;
        };
        tokio::time::timeout(PATIENCE, dribble).await.unwrap();
        let rest = read_until_closed(&mut s, PATIENCE).await;
        let rest = rest.unwrap_or_else(|| panic!("head {n}: connection still open"));
        assert!(!rest.contains("200 OK"), "head {n} was served: {rest}");
    }
    // A prompt client on a fresh connection is still served.
    let mut s = connect(&f).await;
    served(&mut s).await;
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_and_stalled_connections_are_closed() {
    let f = start_with(settings(30, 1, 100)).await;
    // Idle keep-alive after a response.
    let mut s = connect(&f).await;
    served(&mut s).await;
    assert!(
        read_until_closed(&mut s, PATIENCE).await.is_some(),
        "idle keep-alive connection still open"
    );
    // A connection that never sends a byte.
    let mut silent = connect(&f).await;
    assert!(
        read_until_closed(&mut silent, PATIENCE).await.is_some(),
        "silent connection still open"
    );
    // A request whose body stops coming (the slow-body form of the attack).
    let token = f.login("I0001").await;
    let mut s = connect(&f).await;
    let put = format!(
        "PUT /v1/photos/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Upload-Offset: 0\r\nUpload-Length: 1000\r\nContent-Length: 1000\r\n\r\n0123456789",
        "c".repeat(64)
    );
    s.write_all(put.as_bytes()).await.unwrap();
    assert!(
        read_until_closed(&mut s, PATIENCE).await.is_some(),
        "stalled upload still open"
    );
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_beyond_the_bound_wait_while_none_is_idle() {
    let f = start_with(settings(30, 30, 2)).await;
    // Two connections take the two places, both reading a request head.
    let mut a = connect(&f).await;
    a.write_all(b"GET /heal").await.unwrap();
    let mut b = connect(&f).await;
    b.write_all(b"GET /heal").await.unwrap();
    // A third is not served while they are busy (longer than an idle
    // connection must be quiet before it is closed for a newcomer) …
    let mut c = connect(&f).await;
    c.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response_head(&mut c, Duration::from_millis(2500))
            .await
            .is_none(),
        "third connection served beyond max_connections = 2"
    );
    // … and is as soon as one closes.
    drop(a);
    let head = read_response_head(&mut c, PATIENCE).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(b);
    drop(c);
    f.server.shutdown().await.unwrap();
}

/// Phones that have just synced keep their connection open for reuse; at
/// the bound the one idle longest is closed so the next phone is served
/// (not left waiting for the 30 s idle timeout, past its request timeout).
#[tokio::test]
async fn at_the_bound_the_idlest_connection_makes_room_for_a_newcomer() {
    let f = start_with(settings(30, 30, 2)).await;
    let mut busy = connect(&f).await;
    busy.write_all(b"GET /heal").await.unwrap();
    let mut idle = connect(&f).await;
    served(&mut idle).await;
    let mut newcomer = connect(&f).await;
    served(&mut newcomer).await;
    assert!(
        read_until_closed(&mut idle, PATIENCE).await.is_some(),
        "the idle connection was not closed"
    );
    // The one reading a request head was left alone and is still served.
    busy.write_all(b"thz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_response_head(&mut busy, PATIENCE).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(newcomer);
    drop(busy);
    f.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_progress_and_closes_idle_connections() {
    let f = start_with(settings(30, 30, 10)).await;
    let mut idle = connect(&f).await;
    served(&mut idle).await;
    let server = f.server;
    tokio::time::timeout(PATIENCE, server.shutdown())
        .await
        .expect("shutdown waits for no idle connection")
        .unwrap();
    assert!(read_until_closed(&mut idle, PATIENCE).await.is_some());
}

#[tokio::test]
async fn a_client_that_does_not_take_its_response_is_dropped() {
    // Larger than what loopback socket buffers hold, so the server's writes stall.
    let data: Vec<u8> = (0..30_000_000u32).map(|i| (i % 253) as u8).collect();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
    // (Made first: the login's keep-alive connection is closed after 1 s idle.)
    let f = start_with(settings(30, 1, 100)).await;
    let token = f.login("C0001").await;
    let r = f
        .http
        .put(f.url(&gridpatrol_protocol::paths::photo(&sha)))
        .bearer_auth(&token)
        .header(gridpatrol_protocol::headers::UPLOAD_OFFSET, "0")
        .header(
            gridpatrol_protocol::headers::UPLOAD_LENGTH,
            data.len().to_string(),
        )
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let mut s = connect(&f).await;
    let get = format!(
        "GET /v1/photos/{sha} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(get.as_bytes()).await.unwrap();
    // Take nothing for a while …
    tokio::time::sleep(Duration::from_secs(4)).await;
    // … by then the server has given up: what arrives is short of the photo
    // and the connection ends.
    let got = tokio::time::timeout(PATIENCE, async {
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += k,
            }
        }
    })
    .await
    .expect("connection still open");
    assert!(got < data.len(), "{got} bytes: the whole photo was sent");
    f.server.shutdown().await.unwrap();
}
