//! Resumable photo upload and download by SHA-256 (see `gridpatrol_protocol` docs).
//!
//! Who sees what: a complete photo is visible (HEAD reports it, GET returns
//! it, PUT is a no-op) to the centre, to anyone with a document in scope that
//! refers to it, and to an account whose own upload of it completed (it sent
//! every byte, hash verified). To anyone else it looks exactly like a missing
//! photo: HEAD 404, GET 404, and a PUT starts the caller's own upload. Each
//! account has its own unfinished upload of a photo (HEAD shows the caller
//! theirs), within a per-account quota, expiring when left untouched.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use gridpatrol_protocol::{codes, headers, is_sha256_hex, limits};
use gridpatrol_server_storage::{PhotoStatus, Scope, StoreError, UploadQuota};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::{now_ms, AppState};

/// Stale unfinished uploads are purged at most this often (on a PUT).
const PURGE_EVERY_MS: i64 = 60 * 1000;

/// Bytes buffered before each write to storage while streaming a PUT body.
const FLUSH_BYTES: usize = 1024 * 1024;

fn check_sha(sha: &str) -> Result<(), ApiError> {
    if is_sha256_hex(sha) {
        Ok(())
    } else {
        Err(ApiError::malformed(
            "photo id must be 64 lowercase hex digits (SHA-256)",
        ))
    }
}

fn num(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

fn status_headers(st: PhotoStatus) -> HeaderMap {
    let mut h = HeaderMap::new();
    let (offset, total, done) = match st {
        PhotoStatus::Missing => (0, 0, false),
        PhotoStatus::Partial { offset, total } => (offset, total, false),
        PhotoStatus::Complete { len } => (len, len, true),
    };
    h.insert(headers::UPLOAD_OFFSET, num(offset));
    h.insert(headers::UPLOAD_LENGTH, num(total));
    h.insert(
        headers::UPLOAD_COMPLETE,
        HeaderValue::from_static(if done { "?1" } else { "?0" }),
    );
    h
}

/// What `caller` may know of a photo: the complete photo if visible to them,
/// else their own unfinished upload, else [`PhotoStatus::Missing`].
async fn status_for(
    state: &Arc<AppState>,
    caller: &Caller,
    sha: &str,
) -> Result<PhotoStatus, ApiError> {
    let store = state.store.clone();
    let scope = caller.scope();
    let (sha, user) = (sha.to_string(), caller.user.id.clone());
    let st = tokio::task::spawn_blocking(move || -> Result<PhotoStatus, StoreError> {
        let complete = store.photo_status(&sha)?;
        if complete != PhotoStatus::Missing
            && (scope == Scope::All || store.photo_visible(&sha, &user, &scope)?)
        {
            return Ok(complete);
        }
        store.photo_upload(&sha, &user)
    })
    .await??;
    Ok(st)
}

/// The one answer for a photo that is missing or not visible to the caller.
fn no_such_photo() -> ApiError {
    ApiError::not_found("no such photo (or not visible to you)")
}

pub(crate) async fn head_photo(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_case_role()?;
    check_sha(&sha)?;
    let st = status_for(&state, &caller, &sha).await?;
    if st == PhotoStatus::Missing {
        return Err(no_such_photo());
    }
    Ok((StatusCode::OK, status_headers(st)).into_response())
}

fn header_u64(h: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    h.get(name)
        .ok_or_else(|| ApiError::malformed(format!("missing header {name}")))?
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| ApiError::malformed(format!("header {name} must be a non-negative integer")))
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::OffsetMismatch { expected, got } => {
            let mut err = ApiError::new(
                StatusCode::CONFLICT,
                codes::OFFSET_MISMATCH,
                format!("upload offset {got} does not match the {expected} bytes held; resume from {expected}"),
            );
            err.headers.push((HeaderName::from_static(headers::UPLOAD_OFFSET), num(expected)));
            err
        }
        StoreError::LengthMismatch { expected, got } => ApiError::new(
            StatusCode::CONFLICT,
            codes::LENGTH_MISMATCH,
            format!("Upload-Length {got} differs from the upload in progress ({expected} bytes)"),
        ),
        StoreError::PastEnd { total, got } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("body runs to byte {got}, past Upload-Length {total}"),
        ),
        StoreError::HashMismatch { expected, actual } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::HASH_MISMATCH,
            format!("uploaded bytes hash to {actual}, not {expected}; nothing was kept, upload again from 0"),
        ),
        StoreError::QuotaExceeded { uploads, bytes } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::UPLOAD_QUOTA_EXCEEDED,
            format!("you hold {uploads} unfinished uploads ({bytes} bytes declared); finish one before starting another"),
        ),
        other => ApiError::internal(other),
    }
}

async fn append(
    state: &Arc<AppState>,
    sha: &str,
    user: &str,
    offset: u64,
    total: u64,
    bytes: Vec<u8>,
) -> Result<PhotoStatus, ApiError> {
    let store = state.store.clone();
    let (sha, user) = (sha.to_string(), user.to_string());
    Metrics::add(&state.metrics.photo_bytes_in, bytes.len() as u64);
    let photos = &state.settings.photos;
    let quota = UploadQuota {
        max_uploads: photos.partial_uploads_per_account,
        max_bytes: photos.partial_bytes_per_account,
    };
    tokio::task::spawn_blocking(move || {
        store.photo_append(&sha, &user, offset, total, &bytes, quota, now_ms())
    })
    .await?
    .map_err(store_error)
}

/// Appends the buffered bytes at `pos` and advances `pos` past them.
async fn flush(
    state: &Arc<AppState>,
    sha: &str,
    user: &str,
    pos: &mut u64,
    total: u64,
    buf: &mut Vec<u8>,
) -> Result<PhotoStatus, ApiError> {
    let bytes = std::mem::take(buf);
    let n = bytes.len() as u64;
    let status = append(state, sha, user, *pos, total, bytes).await?;
    *pos += n;
    Ok(status)
}

/// Deletes unfinished uploads untouched for `photos.partial_ttl_secs`, at
/// most once a minute (or once a TTL, if shorter): a cheap check on every PUT.
async fn purge_stale_uploads(state: &Arc<AppState>) -> Result<(), ApiError> {
    let now = now_ms();
    let ttl_ms = i64::try_from(state.settings.photos.partial_ttl_secs.saturating_mul(1000))
        .unwrap_or(i64::MAX);
    let last = state.last_upload_purge_ms.load(Ordering::Relaxed);
    if now - last < PURGE_EVERY_MS.min(ttl_ms)
        || state
            .last_upload_purge_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return Ok(());
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.purge_stale_uploads(now.saturating_sub(ttl_ms)))
        .await??;
    Ok(())
}

pub(crate) async fn put_photo(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha): Path<String>,
    req_headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require_case_role()?;
    check_sha(&sha)?;
    let offset = header_u64(&req_headers, headers::UPLOAD_OFFSET)?;
    let total = header_u64(&req_headers, headers::UPLOAD_LENGTH)?;
    if total > limits::MAX_PHOTO_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!(
                "photo of {total} bytes exceeds the limit of {} bytes",
                limits::MAX_PHOTO_BYTES
            ),
        ));
    }
    if offset > total {
        return Err(ApiError::malformed("Upload-Offset is past Upload-Length"));
    }
    purge_stale_uploads(&state).await?;
    // Already complete and visible to the caller: a no-op. (Not visible: the
    // caller uploads as if it were missing, and only a complete upload of the
    // right bytes makes them an uploader.)
    let before = status_for(&state, &caller, &sha).await?;
    if let PhotoStatus::Complete { .. } = before {
        return Ok((StatusCode::OK, status_headers(before)).into_response());
    }
    // Stream the body to storage in chunks, so a cut connection keeps what arrived.
    let mut pos = offset;
    let mut buf: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    let mut status = before;
    let mut cut = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                cut = Some(e.to_string());
                break;
            }
        };
        if pos + (buf.len() + chunk.len()) as u64 > total {
            if !buf.is_empty() {
                flush(&state, &sha, &caller.user.id, &mut pos, total, &mut buf).await?;
            }
            return Err(store_error(StoreError::PastEnd {
                total,
                got: pos + chunk.len() as u64,
            }));
        }
        buf.extend_from_slice(&chunk);
        if buf.len() >= FLUSH_BYTES {
            status = flush(&state, &sha, &caller.user.id, &mut pos, total, &mut buf).await?;
        }
    }
    if !buf.is_empty() || (pos == offset && offset == total) {
        status = flush(&state, &sha, &caller.user.id, &mut pos, total, &mut buf).await?;
    }
    if let Some(e) = cut {
        return Err(ApiError::malformed(format!(
            "request body broke off after byte {pos}: {e}; resume from the offset HEAD reports"
        )));
    }
    let code = match status {
        PhotoStatus::Complete { .. } => StatusCode::CREATED,
        _ => StatusCode::NO_CONTENT,
    };
    Ok((code, status_headers(status)).into_response())
}

pub(crate) async fn get_photo(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_case_role()?;
    check_sha(&sha)?;
    let store = state.store.clone();
    let scope = caller.scope();
    let user = caller.user.id.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
        // The centre sees everything; others what they uploaded or what a
        // document in their scope refers to.
        if scope != Scope::All && !store.photo_visible(&sha, &user, &scope)? {
            return Ok(None);
        }
        store.photo_read(&sha)
    })
    .await??;
    let Some(bytes) = bytes else {
        return Err(no_such_photo());
    };
    Metrics::add(&state.metrics.photo_bytes_out, bytes.len() as u64);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
