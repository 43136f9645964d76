//! The GridPatrol sync wire protocol, shared by the server (`gridpatrol-server`)
//! and the device sync engine (`gridpatrol-sync`): endpoint paths, header
//! names, size limits, stable error codes and the serde types of every JSON
//! body. It holds no logic beyond (de)serialisation, so both sides can depend
//! on it without pulling in HTTP or Automerge.
//!
//! Conventions: JSON over HTTP; binary values (Automerge sync messages) are
//! standard base64 with padding ([`b64`]); document heads are lowercase hex
//! change hashes; times are milliseconds since the Unix epoch (UTC). Every
//! error is an HTTP 4xx/5xx with an [`ErrorBody`]. All endpoints except
//! [`paths::LOGIN`], [`paths::HEALTHZ`] and [`paths::METRICS`] require
//! `Authorization: Bearer <token>`.
//!
//! Photo upload is resumable and tus-like (see [`paths::PHOTOS`]). A complete
//! photo is *visible* to the centre, to a caller with a document in scope
//! that refers to it, and to an account whose own upload of it completed; to
//! anyone else it is answered exactly as a missing photo. Each account has
//! its own unfinished upload of a photo: no one else can see, append to or
//! reset it; it counts against the account's quota and expires when left
//! untouched (server settings).
//! - `HEAD /v1/photos/{sha256}` → 404 `not_found` if the photo is missing or
//!   not visible and the caller has no upload of it;
//!   200 with `Upload-Offset: N`, `Upload-Length: TOTAL`, `Upload-Complete: ?0`
//!   for the caller's unfinished upload; 200 with `Upload-Offset =
//!   Upload-Length = TOTAL` and `Upload-Complete: ?1` for a visible photo.
//! - `PUT /v1/photos/{sha256}` with `Upload-Offset: N` and `Upload-Length: TOTAL`
//!   (≤ [`limits::MAX_PHOTO_BYTES`], else 413), body = bytes `N..N+len`.
//!   Responses: 204 (partial accepted; headers carry the new offset), 201
//!   (complete, hash verified, stored), 200 (visible and already complete:
//!   no-op), 409 `offset_mismatch` (headers carry the caller's offset), 422
//!   `hash_mismatch` (the partial bytes are discarded; restart from 0), 429
//!   `upload_quota_exceeded` (too many unfinished uploads).
//! - `GET /v1/photos/{sha256}` → the bytes (`application/octet-stream`) if
//!   the photo is visible to the caller; otherwise 404.
#![forbid(unsafe_code)]

use gridpatrol_domain::roles::Role;
use serde::{Deserialize, Serialize};

/// Endpoint paths (axum route syntax for the parameterised one).
pub mod paths {
    /// `POST` [`super::LoginRequest`] → [`super::LoginResponse`]; no token needed.
    pub const LOGIN: &str = "/v1/login";
    /// `POST` with an empty body → 204; revokes the presented token.
    pub const LOGOUT: &str = "/v1/logout";
    /// `GET`: the caller's district package ([`crate::DistrictPackage`]).
    pub const DISTRICT: &str = "/v1/district";
    /// `POST` [`super::ManifestRequest`] → [`super::ManifestResponse`].
    pub const MANIFEST: &str = "/v1/manifest";
    /// `POST` [`super::SyncRequest`] → [`super::SyncResponse`].
    pub const SYNC: &str = "/v1/sync";
    /// Prefix of the photo resource; append the lowercase hex SHA-256.
    pub const PHOTOS: &str = "/v1/photos";
    /// Route pattern of one photo (`HEAD`/`PUT`/`GET`).
    pub const PHOTO_ROUTE: &str = "/v1/photos/{sha256}";
    /// `GET` (centre): the case list, filtered by [`super::CaseListParams`]
    /// → [`super::CaseListPage`].
    pub const CENTRE_CASES: &str = "/v1/centre/cases";
    /// `GET` (centre): one case with its whole timeline and verifications.
    pub const CENTRE_CASE_ROUTE: &str = "/v1/centre/cases/{id}";
    /// `POST` (centre) [`super::CentreAction`] → the case after it.
    pub const CENTRE_ACTION_ROUTE: &str = "/v1/centre/cases/{id}/actions";
    /// `POST` (centre) [`super::CentreBatchRequest`] → [`super::CentreBatchResponse`]:
    /// up to [`super::limits::MAX_CENTRE_BATCH`] actions on any cases, in order.
    pub const CENTRE_ACTIONS: &str = "/v1/centre/actions";
    /// `POST` (centre) [`super::ComplaintRequest`] → the new case.
    pub const CENTRE_COMPLAINTS: &str = "/v1/centre/complaints";
    /// `GET` (leader: own squad; centre: all) `?month=YYYY-MM` → [`super::SamplePage`].
    pub const QUALITY_SAMPLES: &str = "/v1/quality/samples";
    /// `POST` (the sampled reporter's leader) [`super::SampleMarkRequest`].
    pub const QUALITY_SAMPLE_ROUTE: &str = "/v1/quality/samples/{month}/{case_id}";
    /// `GET` (leader: own squad; centre: any) `?month=YYYY-MM[&squad=S]`:
    /// inspector and squad KPIs.
    pub const QUALITY_KPI: &str = "/v1/quality/kpi";
    /// `GET` (centre) `?month=YYYY-MM`: the month's evaluation.
    pub const QUALITY_EVAL: &str = "/v1/quality/eval";
    /// `POST` (the inspector themself) [`super::PatrolDayUpload`] → 204: the
    /// technical grids a patrol visited on one Beijing day, kept as a set
    /// (re-sending adds nothing new).
    pub const PATROL_DAYS: &str = "/v1/patrol/days";
    /// `GET` → 200 `ok`; no token needed.
    pub const HEALTHZ: &str = "/healthz";
    /// `GET` → Prometheus text exposition; no token needed.
    pub const METRICS: &str = "/metrics";

    /// The path of one photo.
    pub fn photo(sha256_hex: &str) -> String {
        format!("{PHOTOS}/{sha256_hex}")
    }
}

/// Header names of the resumable photo upload (lowercase, as HTTP/2 wants).
pub mod headers {
    /// Byte offset: where a `PUT` body starts / how far the server has got.
    pub const UPLOAD_OFFSET: &str = "upload-offset";
    /// Total size of the photo in bytes.
    pub const UPLOAD_LENGTH: &str = "upload-length";
    /// Structured boolean `?1` (complete) or `?0` (partial).
    pub const UPLOAD_COMPLETE: &str = "upload-complete";
}

/// Size limits both sides respect; the server refuses anything larger.
pub mod limits {
    /// Largest JSON body of login/logout/manifest requests.
    pub const MAX_SMALL_BODY: usize = 64 * 1024;
    /// Largest body of one `/v1/sync` request.
    pub const MAX_SYNC_BODY: usize = 8 * 1024 * 1024;
    /// Most documents in one `/v1/sync` request.
    pub const MAX_SYNC_DOCS: usize = 500;
    /// Largest photo (the `Upload-Length`), and so the largest `PUT` body.
    pub const MAX_PHOTO_BYTES: u64 = 40 * 1024 * 1024;
    /// Manifest page size when the request gives none.
    pub const MANIFEST_DEFAULT_LIMIT: u32 = 1000;
    /// Largest manifest page the server returns (larger requests are clamped).
    pub const MANIFEST_MAX_LIMIT: u32 = 5000;
    /// Most items in one [`super::CentreBatchRequest`].
    pub const MAX_CENTRE_BATCH: usize = 500;
    /// Largest body of one [`super::paths::CENTRE_ACTIONS`] request (room
    /// for [`MAX_CENTRE_BATCH`] items with notes of a few hundred bytes).
    pub const MAX_CENTRE_BATCH_BODY: usize = 512 * 1024;
    /// Most technical grid codes in one [`super::PatrolDayUpload`] (a
    /// supervision grid has about 35, the largest demo grid fewer than 64).
    pub const MAX_PATROL_GRIDS: usize = 64;
    /// Longest user id or device id accepted.
    pub const MAX_ID_LEN: usize = 128;
}

/// Stable machine-readable error codes (`ErrorDetail::code`, `SyncDocResult::code`).
pub mod codes {
    /// 401: unknown user or wrong password.
    pub const BAD_CREDENTIALS: &str = "bad_credentials";
    /// 401: no `Authorization: Bearer` header.
    pub const MISSING_TOKEN: &str = "missing_token";
    /// 401: token unknown or revoked (log in again).
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// 401: token past its expiry (log in again).
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// 403: authenticated, but the role may not use this endpoint.
    pub const FORBIDDEN: &str = "forbidden";
    /// 404: no such resource (or not visible to the caller).
    pub const NOT_FOUND: &str = "not_found";
    /// 400: body is not valid JSON of the expected shape, or a bad header/value.
    pub const MALFORMED_REQUEST: &str = "malformed_request";
    /// 413: body or photo larger than the limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// 400: more documents in one sync request than [`super::limits::MAX_SYNC_DOCS`].
    pub const TOO_MANY_DOCS: &str = "too_many_docs";
    /// 422: uploaded bytes do not hash to the SHA-256 in the path.
    pub const HASH_MISMATCH: &str = "hash_mismatch";
    /// 409: `Upload-Offset` differs from what the server holds.
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    /// 409: `Upload-Length` differs from the length of the upload in progress.
    pub const LENGTH_MISMATCH: &str = "length_mismatch";
    /// 405: the endpoint exists but not with this HTTP method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// 429: too many failed logins for this account or client address; the
    /// `Retry-After` header says in how many seconds to try again.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// 429: the account holds as many unfinished photo uploads (count or
    /// bytes) as allowed; finish or let some expire first.
    pub const UPLOAD_QUOTA_EXCEEDED: &str = "upload_quota_exceeded";
    /// 400: more items in one centre batch than [`super::limits::MAX_CENTRE_BATCH`].
    pub const TOO_MANY_ITEMS: &str = "too_many_items";
    /// 500: the server failed; nothing was changed by this request.
    pub const INTERNAL: &str = "internal";
    /// Sync, per doc: the Automerge sync message could not be decoded/applied.
    pub const BAD_SYNC_MESSAGE: &str = "bad_sync_message";
    /// Sync, per doc: the resulting document is not a valid GridPatrol document.
    pub const INVALID_DOCUMENT: &str = "invalid_document";
    /// Sync, per doc (from `gridpatrol_docs::authorize`): the change touches a
    /// part the caller does not own.
    pub const NOT_OWNER: &str = "not_owner";
    /// Sync, per doc: the change alters the header, the reporter or the grid.
    pub const IMMUTABLE_FIELD: &str = "immutable_field";
    /// Sync, per doc: a new document the caller's role may not create.
    pub const UNEXPECTED_DOCUMENT: &str = "unexpected_document";
    /// Sync, per doc: a new case reported in someone else's name.
    pub const NOT_REPORTER: &str = "not_reporter";
    /// Sync, per doc: a new case outside the caller's supervision grid / squad.
    pub const OUTSIDE_SCOPE: &str = "outside_scope";
    /// Sync, per doc: the `kind` sent differs from the stored document's kind.
    pub const KIND_MISMATCH: &str = "kind_mismatch";
    /// A report names a category that is not a fine class of the checklist.
    pub const UNKNOWN_CATEGORY: &str = "unknown_category";
    /// The document would exceed a size limit (bytes, changes, operations,
    /// list lengths); see `gridpatrol_docs::limits`.
    pub const DOCUMENT_TOO_LARGE: &str = "document_too_large";
    /// The request's documents together carry more operations than one
    /// request may; the document named must be sent in a later request.
    pub const REQUEST_BUDGET: &str = "request_budget";
    /// 409 (centre): the action does not apply to the case as it stands
    /// (its state, its verification, the write rules); the message says why.
    pub const ACTION_REFUSED: &str = "action_refused";
    /// Per doc, and 409 (centre): a lifecycle step names a photo the server
    /// does not hold complete; upload it first.
    pub const PHOTO_NOT_UPLOADED: &str = "photo_not_uploaded";
    /// 409 (centre): no inspector can be sent (none of the grid other than
    /// the reporter is on duty); the message says who was considered.
    pub const NO_ASSIGNEE: &str = "no_assignee";
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human explanation of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// One of [`codes`].
    pub code: String,
    /// Human text (English), safe to show or log.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
            },
        }
    }
}

/// `POST /v1/login` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account id, e.g. `I0001` or `C0001`.
    pub user_id: String,
    /// Plain password (sent over TLS in production).
    pub password: String,
}

/// `POST /v1/login` success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Bearer token (43 chars of unpadded URL-safe base64 of 32 random bytes).
    pub token: String,
    /// When the token stops working (ms since epoch, UTC).
    pub expires_at_ms: i64,
    /// Who logged in.
    pub user: UserInfo,
}

/// An account as the device sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Account id (`I0001`, `C0001`…).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role (snake_case on the wire).
    pub role: Role,
    /// Squad id; `null` for the centre.
    pub squad: Option<String>,
    /// 12-digit supervision grid code currently assigned; `null` for the centre.
    pub supervision_grid: Option<String>,
}

/// The two document kinds that sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A case report with its review and lifecycle.
    Case,
    /// A re-verification task with its result.
    Verification,
}

impl DocKind {
    /// Stable identifier (`case` / `verification`).
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Case => "case",
            DocKind::Verification => "verification",
        }
    }

    /// Parses [`DocKind::as_str`] output.
    pub fn parse(s: &str) -> Option<DocKind> {
        match s {
            "case" => Some(DocKind::Case),
            "verification" => Some(DocKind::Verification),
            _ => None,
        }
    }
}

/// `POST /v1/manifest` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRequest {
    /// The `cursor` of the previous response; `null` on first contact.
    pub cursor: Option<u64>,
    /// Page size; defaults to [`limits::MANIFEST_DEFAULT_LIMIT`], clamped to
    /// [`limits::MANIFEST_MAX_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /v1/manifest` success: documents in the caller's scope changed on the
/// server after `cursor`, oldest change first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestResponse {
    /// Server change sequence to send next time (unchanged when `docs` is empty).
    pub cursor: u64,
    /// Changed documents with their current server heads.
    pub docs: Vec<ManifestEntry>,
    /// `true` if more changes follow; ask again with the new cursor.
    pub more: bool,
    /// The server's highest change sequence, whatever the caller's scope.
    /// A cursor past it means the server went back in time (restored from
    /// a backup): the device then offers again what it had sent.
    #[serde(default)]
    pub latest: u64,
    /// The id of the server's copy of the data; it changes when the server
    /// is restored from a backup (same meaning as a smaller `latest`).
    #[serde(default)]
    pub epoch: String,
    /// The caller as the server knows them now. A rotation plan moves
    /// inspectors between grids and squads from its start: a device whose
    /// account differs in role, squad or grid reads the manifest again from
    /// the beginning (its scope changed) and refetches its district package.
    #[serde(default)]
    pub account: Option<UserInfo>,
}

/// One changed document in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Document id.
    pub id: String,
    /// Document kind.
    pub kind: DocKind,
    /// Server heads (lowercase hex change hashes, sorted).
    pub heads: Vec<String>,
}

/// `POST /v1/sync` body: one Automerge sync message per document. Messages
/// must be sync message V1 with plain change chunks (a client calls
/// `gridpatrol_docs::guard::speak_v1` on its sync state after every answer)
/// and stay within `gridpatrol_docs::limits`; anything else is answered per
/// document with `bad_sync_message`, and documents past a request's budget
/// with `request_budget`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Stable id of the device install (the server keys sync state by
    /// account and this id, for a few devices per account).
    pub device: String,
    /// At most [`limits::MAX_SYNC_DOCS`] documents.
    pub docs: Vec<SyncDocRequest>,
}

/// One document's sync message from the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDocRequest {
    /// Document id.
    pub id: String,
    /// Document kind.
    pub kind: DocKind,
    /// Encoded `automerge::sync::Message`.
    #[serde(with = "b64")]
    pub msg: Vec<u8>,
}

/// `POST /v1/sync` success: one result per requested document, same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Per-document results.
    pub docs: Vec<SyncDocResult>,
}

/// Outcome of one document in a sync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Applied (or nothing to apply); `msg` may carry the server's reply.
    Ok,
    /// The change was refused and not stored; see `code` and `reason`.
    Refused,
    /// The document is outside the caller's scope, or the server has no such
    /// document and the caller's role may not create one (only inspectors and
    /// leaders create cases, only the centre creates verifications). For an
    /// unknown id the caller may create, the server answers `ok` with the
    /// empty document's sync message and stores nothing until changes arrive.
    NotFound,
    /// The message could not be processed (`code`, `reason` say why); nothing stored.
    Error,
}

/// One document's sync result from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDocResult {
    /// Document id (echoed).
    pub id: String,
    /// Outcome.
    pub status: SyncStatus,
    /// One of [`codes`] when `status` is not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human explanation when `status` is not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The server's next Automerge sync message for this document, if any.
    #[serde(default, with = "b64_opt")]
    pub msg: Option<Vec<u8>>,
}

/// Serde helper: `Vec<u8>` as standard base64.
pub mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises bytes as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// Deserialises base64 to bytes, with a clear error on bad input.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// Serde helper: `Option<Vec<u8>>` as base64 or `null`.
pub mod b64_opt {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises optional bytes as base64 or `null`.
    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    /// Deserialises base64 or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| {
            STANDARD
                .decode(s.as_bytes())
                .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
        })
        .transpose()
    }
}

/// True if `s` is a lowercase 64-char hex SHA-256, the only photo id accepted.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_request_round_trips_with_base64() {
        let req = SyncRequest {
            device: "dev-1".into(),
            docs: vec![SyncDocRequest {
                id: "case-1".into(),
                kind: DocKind::Case,
                msg: vec![0, 1, 2, 255],
            }],
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains(r#""msg":"AAEC/w==""#), "{json}");
        assert!(json.contains(r#""kind":"case""#), "{json}");
        assert_eq!(serde_json::from_str::<SyncRequest>(&json).unwrap(), req);
    }

    #[test]
    fn bad_base64_is_a_clear_error() {
        let err = serde_json::from_str::<SyncRequest>(
            r#"{"device":"d","docs":[{"id":"x","kind":"case","msg":"!!"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid base64"), "{err}");
    }

    #[test]
    fn sync_result_null_msg_and_omitted_code() {
        let r: SyncDocResult =
            serde_json::from_str(r#"{"id":"a","status":"ok","msg":null}"#).unwrap();
        assert_eq!(r.msg, None);
        assert_eq!(r.status, SyncStatus::Ok);
        let r: SyncDocResult = serde_json::from_str(
            r#"{"id":"a","status":"refused","code":"not_owner","reason":"no"}"#,
        )
        .unwrap();
        assert_eq!(r.code.as_deref(), Some(codes::NOT_OWNER));
        assert_eq!(r.msg, None);
    }

    #[test]
    fn a_centre_batch_item_is_the_single_action_body_with_a_case_id() {
        let r: CentreBatchRequest = serde_json::from_str(
            r#"{"items":[{"case_id":"c1","action":"dispatch","note":"n"},
                         {"case_id":"c2","action":"reject","reason":"r"}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.items[0].action,
            CentreAction::Dispatch {
                unit: None,
                note: "n".into()
            }
        );
        assert_eq!(r.items[1].case_id, "c2");
        let back = serde_json::to_value(&r.items[1]).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"case_id": "c2", "action": "reject", "reason": "r"})
        );
        // An action without the fields it needs is a clear error.
        assert!(
            serde_json::from_str::<CentreBatchItem>(r#"{"case_id":"c","action":"reject"}"#)
                .is_err()
        );
        let ok: CentreBatchResult =
            serde_json::from_str(r#"{"case_id":"c1","status":200}"#).unwrap();
        assert!(ok.is_ok());
    }

    #[test]
    fn handled_carries_photos_only_when_there_are_some() {
        let sha = "a".repeat(64);
        let a: CentreAction =
            serde_json::from_str(&format!(r#"{{"action":"handled","photos":["{sha}"]}}"#)).unwrap();
        assert_eq!(
            a,
            CentreAction::Handled {
                note: String::new(),
                photos: vec![sha.clone()]
            }
        );
        let item: CentreBatchItem = serde_json::from_value(serde_json::json!(
            {"case_id": "c1", "action": "handled", "note": "n", "photos": [sha]}
        ))
        .unwrap();
        assert_eq!(item.action, a_with_note(&sha));
        // Without photos the JSON is what it always was.
        let plain = CentreAction::Handled {
            note: "n".into(),
            photos: vec![],
        };
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!({"action": "handled", "note": "n"})
        );
        assert!(
            serde_json::from_str::<CentreAction>(r#"{"action":"handled","photos":"x"}"#).is_err()
        );
    }

    fn a_with_note(sha: &str) -> CentreAction {
        CentreAction::Handled {
            note: "n".into(),
            photos: vec![sha.to_string()],
        }
    }

    #[test]
    fn login_response_uses_snake_case_roles_and_nulls() {
        let r = LoginResponse {
            token: "t".into(),
            expires_at_ms: 1,
            user: UserInfo {
                id: "C0001".into(),
                name: "x".into(),
                role: Role::CentreOperator,
                squad: None,
                supervision_grid: None,
            },
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""role":"centre_operator""#), "{json}");
        assert!(json.contains(r#""squad":null"#), "{json}");
    }

    #[test]
    fn manifest_request_accepts_null_cursor_and_rejects_unknown_fields() {
        let r: ManifestRequest = serde_json::from_str(r#"{"cursor":null}"#).unwrap();
        assert_eq!(r, ManifestRequest::default());
        assert!(serde_json::from_str::<ManifestRequest>(r#"{"cursor":1,"x":2}"#).is_err());
    }

    #[test]
    fn sha256_hex_check() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&"a".repeat(63)));
        assert!(!is_sha256_hex("../etc/passwd"));
    }
}

/// `GET /v1/district`: what a field device needs to work offline in its
/// scope. An inspector gets their supervision grid, a squad leader the
/// squad's grids, the centre the whole district; each with the technical
/// grids around it (so a report just across the boundary still gets its
/// grid codes) as GeoJSON in WGS-84.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictPackage {
    /// Fingerprint of the district data the package was cut from.
    pub district_version: String,
    /// Version of the checklist (taxonomy) the server validates against.
    pub checklist_version: String,
    /// The caller's own supervision grids (12-digit codes).
    pub supervision_grids: Vec<String>,
    /// Street of the caller's (first) grid.
    pub street: Option<PackageStreet>,
    /// The caller's squad (leader included) and the centre's operators:
    /// a leader reviews the squad's reports, every screen names people.
    pub members: Vec<PackageMember>,
    /// Technical grids in and around the scope.
    pub grids: FeatureCollection,
}

/// A street in a [`DistrictPackage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageStreet {
    /// 9-digit code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// A squad member in a [`DistrictPackage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageMember {
    /// Account id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Their role (absent in packages cached before it was sent).
    #[serde(default)]
    pub role: Option<Role>,
}

/// A GeoJSON `FeatureCollection` of technical grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureCollection {
    /// Always `"FeatureCollection"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The grids.
    pub features: Vec<GridFeature>,
}

/// One technical grid as a GeoJSON `Feature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridFeature {
    /// Always `"Feature"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Codes and names.
    pub properties: GridProperties,
    /// Outline.
    pub geometry: MultiPolygonGeometry,
}

/// Properties of a [`GridFeature`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridProperties {
    /// 15-digit technical grid code.
    pub code: String,
    /// 12-digit supervision grid code.
    pub supervision_grid: String,
    /// Name of the supervision grid.
    pub supervision_name: String,
    /// 9-digit street code.
    pub street: String,
    /// In one of the caller's own supervision grids.
    pub mine: bool,
}

/// A GeoJSON `MultiPolygon` (WGS-84 `[lon, lat]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiPolygonGeometry {
    /// Always `"MultiPolygon"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Polygons → rings → points.
    pub coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

/// Filters of the centre's case list (`GET` query string); all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseListParams {
    /// Lifecycle state (`reported`, `filed`, `dispatched`…).
    pub state: Option<String>,
    /// 9-digit street code.
    pub street: Option<String>,
    /// 12-digit supervision grid code.
    pub grid: Option<String>,
    /// Fine-class code or the code of a class above (prefix).
    pub category: Option<String>,
    /// Reported at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Reported before, Unix ms.
    pub to_ms: Option<i64>,
    /// Only cases past their handling deadline still with the unit.
    #[serde(default)]
    pub overdue: bool,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Rows per page (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// One row of the centre's case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseListItem {
    /// Case id.
    pub id: String,
    /// Lifecycle state.
    pub state: String,
    /// Fine-class code.
    pub category: String,
    /// Its name in the checklist.
    pub category_name: String,
    /// Street code.
    pub street: String,
    /// Supervision grid code.
    pub grid: String,
    /// Reporter's account id.
    pub reporter: String,
    /// When reported, Unix ms.
    pub reported_at_ms: i64,
    /// The unit it was last dispatched to.
    pub unit: Option<String>,
    /// That dispatch's deadline, Unix ms.
    pub due_at_ms: Option<i64>,
    /// Past the deadline and still with the unit.
    pub overdue: bool,
}

/// A page of the centre's case list, newest report first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseListPage {
    /// The rows.
    pub items: Vec<CaseListItem>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next: Option<String>,
}

/// A centre action on one case (`POST` body), recorded as one time-stamped
/// lifecycle step under the same write rules devices meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CentreAction {
    /// File the report as a case (立案).
    File {
        /// Note for the timeline.
        #[serde(default)]
        note: String,
    },
    /// Refuse to file it, with the reason.
    Reject {
        /// Why (required).
        reason: String,
    },
    /// Send it to the responsible unit; the deadline follows from the
    /// checklist's time limit and the grid's area class.
    Dispatch {
        /// The unit; default: the checklist's responsible department.
        #[serde(default)]
        unit: Option<String>,
        /// Note for the timeline.
        #[serde(default)]
        note: String,
    },
    /// Record the unit's feedback that it is fixed, with the photos it
    /// sent of the fixed problem.
    Handled {
        /// The unit's words.
        #[serde(default)]
        note: String,
        /// SHA-256 hex of each photo, in order, each already uploaded
        /// (`PUT` [`paths::photo`]) by the calling account; at most
        /// `gridpatrol_docs::limits::MAX_PHOTOS` (20), no repeats.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        photos: Vec<String>,
    },
    /// Send an inspector to re-verify on site.
    AssignVerification {
        /// Who; default: an on-duty inspector of the grid other than the reporter.
        #[serde(default)]
        assignee: Option<String>,
        /// Hours until the deadline (default 24).
        #[serde(default)]
        due_hours: Option<u32>,
        /// Note for the timeline.
        #[serde(default)]
        note: String,
    },
    /// Close the case on a passed verification.
    Close {
        /// Note for the timeline.
        #[serde(default)]
        note: String,
    },
    /// Complaint: tell the complainant the outcome.
    Reply {
        /// What they were told (required).
        note: String,
    },
    /// Complaint: the complainant is satisfied; the case closes.
    Satisfied {
        /// Note for the timeline.
        #[serde(default)]
        note: String,
    },
    /// Complaint: the complainant is not satisfied; a second handling
    /// (then an investigation) goes to the unit.
    NotSatisfied {
        /// What they said (required).
        note: String,
    },
}

/// One item of a [`CentreBatchRequest`]: an action on one case, in the
/// JSON form of [`CentreAction`] with the case id beside it, e.g.
/// `{"case_id": "c1", "action": "dispatch", "note": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreBatchItem {
    /// The case acted on.
    pub case_id: String,
    /// What is done to it.
    #[serde(flatten)]
    pub action: CentreAction,
}

/// Many centre actions in one request (`POST` [`paths::CENTRE_ACTIONS`]).
/// Each item is recorded exactly as the single-case endpoint records it
/// (same write rules, same lifecycle, its own commit), in order, so an item
/// may act on a case an earlier item of the same batch moved on. A refused
/// item does not stop the ones after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreBatchRequest {
    /// At most [`limits::MAX_CENTRE_BATCH`] items.
    pub items: Vec<CentreBatchItem>,
}

/// What became of one [`CentreBatchItem`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreBatchResult {
    /// The item's case id.
    pub case_id: String,
    /// The HTTP status the single-case endpoint would have answered (200
    /// when recorded).
    pub status: u16,
    /// Why it was not recorded (the single-case endpoint's error code and
    /// message); `None` when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

impl CentreBatchResult {
    /// The action was recorded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Answer to a [`CentreBatchRequest`]: one result per item, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreBatchResponse {
    /// The results, item for item.
    pub results: Vec<CentreBatchResult>,
}

/// A public complaint taken by the centre (`POST`
/// [`paths::CENTRE_COMPLAINTS`]): it becomes a case of the complaint flow
/// at the place given, waiting for an inspector's on-site check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplaintRequest {
    /// Fine-class code of the problem.
    pub category: String,
    /// WGS-84 longitude of the place.
    pub lon: f64,
    /// WGS-84 latitude of the place.
    pub lat: f64,
    /// The address as the complainant gave it.
    #[serde(default)]
    pub address: String,
    /// What the complainant said.
    #[serde(default)]
    pub description: String,
}

/// One month's quality sample as a squad leader (or the centre) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplePage {
    /// `YYYY-MM`: the month whose reports were drawn.
    pub month: String,
    /// The seed that reproduces the draw.
    pub seed: String,
    /// When it was drawn, Unix ms.
    pub drawn_at_ms: i64,
    /// Percent drawn of each inspector's reports.
    pub percent: u32,
    /// At least this many per inspector.
    pub min: u32,
    /// The sampled reports, by inspector.
    pub items: Vec<SampleItem>,
}

/// One sampled report and the leader's mark on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SampleItem {
    /// Case id.
    pub case_id: String,
    /// Its reporter.
    pub inspector: String,
    /// Fine-class code.
    pub category: String,
    /// Its name.
    pub category_name: String,
    /// The description the reporter wrote.
    pub description: String,
    /// When reported, Unix ms.
    pub reported_at_ms: i64,
    /// `Some(true)`: marked wrong (错报); `Some(false)`: correct; `None`: not yet.
    pub wrong: Option<bool>,
    /// Why it is wrong.
    pub reason: Option<String>,
    /// Who marked it.
    pub marked_by: Option<String>,
}

/// A leader's mark on a sampled report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleMarkRequest {
    /// A wrong report (错报).
    pub wrong: bool,
    /// Why (required when wrong).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One inspector's patrol of one Beijing day: the set of technical grids
/// their track visited (never the track itself). Sent by the device's sync
/// loop for every day whose set grew since it was last accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolDayUpload {
    /// The inspector, who must be the caller.
    pub inspector: String,
    /// The Beijing calendar day, `YYYY-MM-DD`.
    pub day: String,
    /// 15-digit technical grid codes of the inspector's supervision grid
    /// that day, at most [`limits::MAX_PATROL_GRIDS`].
    pub technical_grids: Vec<String>,
}
