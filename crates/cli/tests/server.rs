//! `gridpatrol init --demo` and `gridpatrol serve` as an operator runs them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::{gridpatrol, init_demo, serve};

/// One HTTP/1.1 request over a plain socket; returns (status line, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.lines().next().unwrap_or("").to_string();
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn init_requires_demo_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = gridpatrol()
        .args(["init", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--demo"));
}

#[test]
fn init_demo_then_serve_login_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let v = init_demo(dir.path());
    assert_eq!(v["accounts"], 1548, "{v}");
    assert_eq!(v["leaders"], 35);
    assert_eq!(v["centre"], 1);
    assert_eq!(v["squads"], 35);

    let (mut child, addr, mut err) = serve(dir.path());
    let (status, body) = http(&addr, "GET", "/healthz", "");
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok");
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/login",
        r#"{"user_id":"C0001","password":"patrol-C0001"}"#,
    );
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains(r#""role":"centre_operator""#), "{body}");
    let (status, _) = http(
        &addr,
        "POST",
        "/v1/login",
        r#"{"user_id":"I0001","password":"wrong"}"#,
    );
    assert!(status.contains("401"), "{status}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "exit {status:?}: {rest}");
    assert!(rest.contains("stopped"), "{rest}");
}
