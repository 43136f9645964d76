//! The HTTP calls of the sync protocol, counting round trips and body bytes.

use gridpatrol_protocol::{
    headers, paths, ErrorBody, LoginRequest, LoginResponse, ManifestRequest, ManifestResponse,
    SyncDocRequest, SyncRequest, SyncResponse,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SyncError;

/// Traffic counters of one engine (bodies only, headers not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// HTTP requests sent (each is one round trip).
    pub round_trips: u64,
    /// Request body bytes sent.
    pub bytes_up: u64,
    /// Response body bytes received.
    pub bytes_down: u64,
    /// Photos whose upload this engine completed.
    pub photos_uploaded: u64,
}

/// What the server holds of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemotePhoto {
    /// Nothing.
    Missing,
    /// The first `offset` bytes of an upload in progress.
    Partial { offset: u64 },
    /// The whole, verified photo.
    Complete,
}

/// Result of one `PUT` of photo bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutOutcome {
    /// Stored (or was already).
    Complete,
    /// Accepted up to `offset`.
    Partial { offset: u64 },
    /// The server holds a different offset; continue from it.
    OffsetMismatch { offset: u64 },
    /// The bytes do not hash to the name; the server discarded them.
    HashMismatch,
}

/// Result of one `GET` of a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// The body, at most the cap asked for (not yet checked against its name).
    Bytes(Vec<u8>),
    /// Missing, or not visible to this account (the server does not say which).
    Missing,
    /// The body is longer than the cap: `len` bytes (at least), not read.
    TooLarge { len: u64 },
}

/// A thin client of the GridPatrol server.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    pub(crate) token: Option<String>,
    pub(crate) traffic: Traffic,
}

fn net(e: reqwest::Error) -> SyncError {
    SyncError::Network(e.to_string())
}

fn server_error(status: StatusCode, body: &[u8]) -> SyncError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => SyncError::Server {
            status: status.as_u16(),
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => SyncError::Server {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

fn header_u64(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

impl Api {
    pub(crate) fn new(
        http: reqwest::Client,
        base: &str,
        allow_plain_http: bool,
    ) -> Result<Api, SyncError> {
        let base = base.trim_end_matches('/').to_string();
        check_server_url(&base, allow_plain_http)?;
        Ok(Api {
            http,
            base,
            token: None,
            traffic: Traffic::default(),
        })
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, SyncError> {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => Ok(rb.bearer_auth(t)),
            None if path == paths::LOGIN => Ok(rb),
            None => Err(SyncError::Invalid("not logged in".into())),
        }
    }

    /// `POST`s `body` as JSON; the answer's body when it is a success.
    async fn post_body<Q: Serialize>(
        &mut self,
        path: &str,
        body: &Q,
    ) -> Result<reqwest::Response, SyncError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        self.traffic.round_trips += 1;
        self.traffic.bytes_up += bytes.len() as u64;
        self.request(Method::POST, path)?
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(net)
    }

    /// The body of a successful answer; a refusal as its [`SyncError`].
    async fn success_body(&mut self, resp: reqwest::Response) -> Result<Vec<u8>, SyncError> {
        let status = resp.status();
        let body = resp.bytes().await.map_err(net)?;
        self.traffic.bytes_down += body.len() as u64;
        if !status.is_success() {
            return Err(server_error(status, &body));
        }
        Ok(body.to_vec())
    }

    async fn post_json<Q: Serialize, R: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &Q,
    ) -> Result<R, SyncError> {
        let resp = self.post_body(path, body).await?;
        let body = self.success_body(resp).await?;
        serde_json::from_slice(&body).map_err(|e| SyncError::Protocol(format!("{path}: {e}")))
    }

    /// `POST`s `body` as JSON to a resource that answers with no content.
    pub(crate) async fn post_no_content<Q: Serialize>(
        &mut self,
        path: &str,
        body: &Q,
    ) -> Result<(), SyncError> {
        let resp = self.post_body(path, body).await?;
        self.success_body(resp).await.map(drop)
    }

    pub(crate) async fn login(
        &mut self,
        user_id: &str,
        password: &str,
    ) -> Result<LoginResponse, SyncError> {
        self.token = None;
        let r: LoginResponse = self
            .post_json(
                paths::LOGIN,
                &LoginRequest {
                    user_id: user_id.into(),
                    password: password.into(),
                },
            )
            .await?;
        self.token = Some(r.token.clone());
        Ok(r)
    }

    pub(crate) async fn manifest(
        &mut self,
        cursor: Option<u64>,
    ) -> Result<ManifestResponse, SyncError> {
        // The largest page: a device catching up after days offline (or the
        // centre fetching a district) needs fewer round trips.
        self.post_json(
            paths::MANIFEST,
            &ManifestRequest {
                cursor,
                limit: Some(gridpatrol_protocol::limits::MANIFEST_MAX_LIMIT),
            },
        )
        .await
    }

    pub(crate) async fn sync(
        &mut self,
        device: &str,
        docs: Vec<SyncDocRequest>,
    ) -> Result<SyncResponse, SyncError> {
        self.post_json(
            paths::SYNC,
            &SyncRequest {
                device: device.into(),
                docs,
            },
        )
        .await
    }

    /// Fetches a JSON resource (`GET`), bounded to `max` bytes.
    pub(crate) async fn get_json<R: DeserializeOwned>(
        &mut self,
        path: &str,
        max: usize,
    ) -> Result<R, SyncError> {
        self.traffic.round_trips += 1;
        let mut resp = self.request(Method::GET, path)?.send().await.map_err(net)?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            body.extend_from_slice(&chunk);
            if body.len() > max {
                return Err(SyncError::Protocol(format!(
                    "{path}: answer larger than {max} bytes"
                )));
            }
        }
        self.traffic.bytes_down += body.len() as u64;
        if !status.is_success() {
            return Err(server_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| SyncError::Protocol(format!("{path}: {e}")))
    }

    /// Revokes the token on the server.
    pub(crate) async fn logout(&mut self) -> Result<(), SyncError> {
        self.traffic.round_trips += 1;
        let resp = self
            .request(Method::POST, paths::LOGOUT)?
            .send()
            .await
            .map_err(net)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(net)?;
        if !status.is_success() {
            return Err(server_error(status, &body));
        }
        self.token = None;
        Ok(())
    }

    pub(crate) async fn photo_head(&mut self, sha: &str) -> Result<RemotePhoto, SyncError> {
        self.traffic.round_trips += 1;
        let resp = self
            .request(Method::HEAD, &paths::photo(sha))?
            .send()
            .await
            .map_err(net)?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(RemotePhoto::Missing),
            s if s.is_success() => {
                let complete = resp
                    .headers()
                    .get(headers::UPLOAD_COMPLETE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim() == "?1");
                match (complete, header_u64(&resp, headers::UPLOAD_OFFSET)) {
                    (Some(false), Some(offset)) => Ok(RemotePhoto::Partial { offset }),
                    (Some(false), None) => Ok(RemotePhoto::Partial { offset: 0 }),
                    _ => Ok(RemotePhoto::Complete),
                }
            }
            s => Err(server_error(s, &[])),
        }
    }

    /// Fetches a photo's bytes, reading at most `cap` of them: a body that
    /// announces (or turns out) longer is dropped unread past the cap.
    pub(crate) async fn photo_get(&mut self, sha: &str, cap: u64) -> Result<Fetched, SyncError> {
        self.traffic.round_trips += 1;
        let mut resp = self
            .request(Method::GET, &paths::photo(sha))?
            .send()
            .await
            .map_err(net)?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(Fetched::Missing);
        }
        if !status.is_success() {
            let body = resp.bytes().await.map_err(net)?;
            self.traffic.bytes_down += body.len() as u64;
            return Err(server_error(status, &body));
        }
        if let Some(len) = resp.content_length().filter(|&n| n > cap) {
            return Ok(Fetched::TooLarge { len });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            self.traffic.bytes_down += chunk.len() as u64;
            let len = (body.len() + chunk.len()) as u64;
            if len > cap {
                return Ok(Fetched::TooLarge { len });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Bytes(body))
    }

    pub(crate) async fn photo_put(
        &mut self,
        sha: &str,
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    ) -> Result<PutOutcome, SyncError> {
        self.traffic.round_trips += 1;
        self.traffic.bytes_up += bytes.len() as u64;
        let resp = self
            .request(Method::PUT, &paths::photo(sha))?
            .header(headers::UPLOAD_OFFSET, offset.to_string())
            .header(headers::UPLOAD_LENGTH, total.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(net)?;
        let status = resp.status();
        let at = header_u64(&resp, headers::UPLOAD_OFFSET);
        let body = resp.bytes().await.map_err(net)?;
        self.traffic.bytes_down += body.len() as u64;
        match status {
            StatusCode::OK | StatusCode::CREATED => Ok(PutOutcome::Complete),
            StatusCode::NO_CONTENT => Ok(PutOutcome::Partial {
                offset: at.unwrap_or(offset),
            }),
            StatusCode::CONFLICT => match at {
                Some(offset) => Ok(PutOutcome::OffsetMismatch { offset }),
                None => Err(server_error(status, &body)),
            },
            StatusCode::UNPROCESSABLE_ENTITY => Ok(PutOutcome::HashMismatch),
            s => Err(server_error(s, &body)),
        }
    }
}

impl Api {
    /// PUTs `bytes` as photo `sha` from `offset` on, `chunk` bytes at a
    /// time, following the offsets the server answers. `Ok(true)`: the
    /// server holds it complete; `Ok(false)`: the bytes do not hash to
    /// `sha` (the server discarded them).
    pub(crate) async fn put_from(
        &mut self,
        sha: &str,
        bytes: &[u8],
        mut offset: u64,
        chunk: usize,
    ) -> Result<bool, SyncError> {
        let total = bytes.len() as u64;
        let chunk = chunk.max(1) as u64;
        // Each PUT must move forward; a server that keeps answering the same
        // offset is broken, not slow.
        let mut budget = total / chunk + 4;
        loop {
            if budget == 0 {
                return Err(SyncError::Protocol(format!(
                    "photo {sha}: upload makes no progress at offset {offset}"
                )));
            }
            budget -= 1;
            if offset > total {
                offset = 0;
            }
            let end = (offset + chunk).min(total);
            let body = bytes[offset as usize..end as usize].to_vec();
            match self.photo_put(sha, offset, total, body).await? {
                PutOutcome::Complete => return Ok(true),
                PutOutcome::Partial { offset: o } | PutOutcome::OffsetMismatch { offset: o } => {
                    offset = o
                }
                PutOutcome::HashMismatch => return Ok(false),
            }
        }
    }
}

/// Accepts `https://` anywhere and `http://` only to this machine (or
/// anywhere when explicitly allowed): the login sends the password, and a
/// phone on public mobile networks must never send it in the clear.
pub(crate) fn check_server_url(base: &str, allow_plain_http: bool) -> Result<(), SyncError> {
    let url = reqwest::Url::parse(base)
        .map_err(|e| SyncError::Invalid(format!("server URL {base:?} is not a URL: {e}")))?;
    let Some(host) = url.host_str() else {
        return Err(SyncError::Invalid(format!(
            "server URL {base:?} has no host"
        )));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || allow_plain_http => Ok(()),
        "http" => Err(SyncError::Invalid(format!(
            "server URL {base:?} would send your password unencrypted; use https:// \
             (plain http:// is only for a server on this machine)"
        ))),
        _ => Err(SyncError::Invalid(format!(
            "server URL {base:?} must start with https:// (or http:// to this machine)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_server_url, Api, Fetched};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback answering every request with `answer`.
    async fn answering(answer: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(&answer).await;
                let _ = conn.shutdown().await;
            }
        });
        format!("http://{addr}")
    }

    async fn get(answer: &[u8], cap: u64) -> Fetched {
        let base = answering(answer.to_vec()).await;
        let mut api = Api::new(reqwest::Client::new(), &base, false).unwrap();
        api.token = Some("t".into());
        api.photo_get(&"a".repeat(64), cap).await.unwrap()
    }

    #[tokio::test]
    async fn a_photo_body_over_the_cap_is_not_read() {
        let body = vec![7u8; 100];
        let mut sized =
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n".to_vec();
        sized.extend_from_slice(&body);
        assert_eq!(get(&sized, 50).await, Fetched::TooLarge { len: 100 });
        assert_eq!(get(&sized, 100).await, Fetched::Bytes(body.clone()));
        // No length announced: cut off once the cap is passed.
        let mut unsized_ = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        unsized_.extend_from_slice(&body);
        assert!(
            matches!(get(&unsized_, 50).await, Fetched::TooLarge { len } if len > 50),
            "streamed body over the cap"
        );
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(get(missing, 50).await, Fetched::Missing);
    }

    #[tokio::test]
    async fn a_post_with_no_content_answer_is_ok_and_a_refusal_keeps_its_code() {
        let post = |answer: &'static [u8]| async move {
            let base = answering(answer.to_vec()).await;
            let mut api = Api::new(reqwest::Client::new(), &base, false).unwrap();
            api.token = Some("t".into());
            api.post_no_content("/v1/x", &serde_json::json!({"a": 1}))
                .await
        };
        assert!(
            post(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await
                .is_ok()
        );
        let refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 45\r\nConnection: close\r\n\r\n{\"error\":{\"code\":\"forbidden\",\"message\":\"no\"}}";
        match post(refused).await {
            Err(crate::SyncError::Server { status, code, .. }) => {
                assert_eq!((status, code.as_str()), (403, "forbidden"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn passwords_never_go_out_in_the_clear() {
        for ok in [
            "https://sync.example.cn",
            "https://10.1.2.3:8443/",
            "http://127.0.0.1:8787",
            "http://127.9.9.9",
            "http://localhost:1",
            "http://[::1]:8787",
        ] {
            assert!(check_server_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://sync.example.cn",
            "http://192.168.1.20:8787",
            "http://[2001:db8::1]",
        ] {
            let e = check_server_url(bad, false).unwrap_err().to_string();
            assert!(
                e.contains("unencrypted") && e.contains("https://"),
                "{bad}: {e}"
            );
            // A test network may opt in explicitly.
            assert!(check_server_url(bad, true).is_ok(), "{bad}");
        }
        for bad in ["ftp://127.0.0.1", "sync.example.cn", "https://", ""] {
            assert!(check_server_url(bad, true).is_err(), "{bad}");
        }
    }
}
