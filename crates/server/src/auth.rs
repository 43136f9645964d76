//! Bearer tokens and the authenticated caller.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::codes;
use gridpatrol_server_storage::{Scope, User};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::{now_ms, AppState};

/// A new random token (32 bytes from the OS-seeded thread RNG) and its SHA-256.
pub fn new_token() -> (String, [u8; 32]) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 of a token string, the only form the store keeps.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub user: User,
    /// SHA-256 of the presented token (for logout).
    pub token_hash: [u8; 32],
}

impl Caller {
    /// What documents the caller may see.
    pub fn scope(&self) -> Scope {
        match self.user.role {
            Role::CentreOperator => Scope::All,
            Role::Inspector => Scope::Inspector {
                user_id: self.user.id.clone(),
                supervision_grid: self.user.supervision_grid.clone(),
            },
            Role::SquadLeader => match &self.user.squad {
                Some(squad) => Scope::Squad {
                    user_id: self.user.id.clone(),
                    squad: squad.clone(),
                },
                None => Scope::Nothing,
            },
            Role::Admin => Scope::Nothing,
        }
    }

    /// Refuses roles that take no part in case handling (403).
    pub fn require_case_role(&self) -> Result<(), ApiError> {
        match self.user.role {
            Role::Inspector | Role::SquadLeader | Role::CentreOperator => Ok(()),
            Role::Admin => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                "this role takes no part in case handling",
            )),
        }
    }

    /// The caller as the document write rule sees them.
    pub fn principal(&self) -> gridpatrol_docs::Principal {
        gridpatrol_docs::Principal {
            user_id: self.user.id.clone(),
            role: self.user.role,
            squad: self.user.squad.clone(),
            supervision_grid: self.user.supervision_grid.clone(),
        }
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    let mut e = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    e.headers.push((
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    ));
    e
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                codes::MISSING_TOKEN,
                "missing Authorization: Bearer token",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| {
                unauthorized(
                    codes::INVALID_TOKEN,
                    "Authorization header is not `Bearer <token>`",
                )
            })?;
        let hash = token_hash(token);
        let store = state.store.clone();
        let found = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let Some(rec) = store.token(&hash)? else {
                return Ok(None);
            };
            let user = store.user(&rec.user_id)?;
            Ok(Some((rec, user)))
        })
        .await??;
        let Some((rec, user)) = found else {
            return Err(unauthorized(
                codes::INVALID_TOKEN,
                "unknown or revoked token; log in again",
            ));
        };
        if rec.expires_at_ms <= now_ms() {
            return Err(unauthorized(
                codes::TOKEN_EXPIRED,
                "token expired; log in again",
            ));
        }
        let Some(user) = user else {
            return Err(unauthorized(
                codes::INVALID_TOKEN,
                "the token's account no longer exists",
            ));
        };
        Ok(Caller {
            user,
            token_hash: hash,
        })
    }
}
