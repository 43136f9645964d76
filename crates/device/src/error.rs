//! `DeviceError`: every failure a screen can meet, with a stable code the UI
//! words in the user's language.

use gridpatrol_store::StoreError;
use gridpatrol_sync::SyncError;

/// What went wrong, with a stable [`DeviceError::code`].
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No account is signed in on this device.
    #[error("no account is signed in")]
    NotSignedIn,
    /// The server refused the id or password.
    #[error("wrong id or password")]
    BadCredentials,
    /// Too many failed sign-ins; the server asks to wait.
    #[error("too many attempts: {0}")]
    TooManyAttempts(String),
    /// The server cannot be reached.
    #[error("server unreachable: {0}")]
    Offline(String),
    /// The server answered with an error.
    #[error("server error: {0}")]
    Server(String),
    /// The token is no longer accepted: sign in again (nothing is lost).
    #[error("the session has ended; sign in again")]
    SessionExpired,
    /// Input from the screen is wrong (named field, reason).
    #[error("{0}")]
    Invalid(String),
    /// The position is outside every grid this device knows.
    #[error("the position is outside the grids of this device's district package")]
    OutsideArea,
    /// No such case, task or category.
    #[error("not found: {0}")]
    NotFound(String),
    /// A pass more than 50 m from the case's point needs confirmation.
    #[error("{distance_m:.0} m from the case's point; confirm to pass it")]
    FarFromPoint {
        /// Distance to the point, metres.
        distance_m: f64,
    },
    /// The photo pipeline refused the file.
    #[error("photo refused: {0}")]
    PhotoRefused(String),
    /// A document would exceed the limits the server enforces.
    #[error("too large: {0}")]
    TooLarge(String),
    /// This account may not do that (role or ownership).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The server has not got it ready yet (a month's sample before its draw).
    #[error("not yet: {0}")]
    NotYet(String),
    /// The device store failed; nothing half-written was kept.
    #[error("device store: {0}")]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl DeviceError {
    /// Stable snake_case code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::NotSignedIn => "not_signed_in",
            DeviceError::BadCredentials => "bad_credentials",
            DeviceError::TooManyAttempts(_) => "too_many_attempts",
            DeviceError::Offline(_) => "offline",
            DeviceError::Server(_) => "server",
            DeviceError::SessionExpired => "session_expired",
            DeviceError::Invalid(_) => "invalid_input",
            DeviceError::OutsideArea => "outside_area",
            DeviceError::NotFound(_) => "not_found",
            DeviceError::FarFromPoint { .. } => "far_from_point",
            DeviceError::PhotoRefused(_) => "photo_refused",
            DeviceError::TooLarge(_) => "too_large",
            DeviceError::NotAllowed(_) => "not_allowed",
            DeviceError::NotYet(_) => "not_yet",
            DeviceError::Store(_) => "store",
            DeviceError::Internal(_) => "internal",
        }
    }

    /// The error as the UI receives it.
    pub fn view(&self) -> crate::view::ErrorView {
        crate::view::ErrorView {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }
}

impl From<SyncError> for DeviceError {
    fn from(e: SyncError) -> Self {
        use gridpatrol_protocol::codes;
        match e {
            SyncError::Network(m) => DeviceError::Offline(m),
            SyncError::SessionEnded => DeviceError::SessionExpired,
            SyncError::Server { code, .. } if code == codes::BAD_CREDENTIALS => {
                DeviceError::BadCredentials
            }
            SyncError::Server { code, message, .. } if code == codes::TOO_MANY_ATTEMPTS => {
                DeviceError::TooManyAttempts(message)
            }
            SyncError::Server { status: 401, .. } => DeviceError::SessionExpired,
            SyncError::Server {
                status,
                code,
                message,
            } => DeviceError::Server(format!("{status} {code}: {message}")),
            SyncError::Store(s) => DeviceError::Store(s),
            SyncError::Doc { id, source } => match *source {
                gridpatrol_docs::DocError::TooLarge(m) => DeviceError::TooLarge(m),
                other => DeviceError::Invalid(format!("{id}: {other}")),
            },
            SyncError::GaveUp { last, .. } => DeviceError::from(*last),
            SyncError::Invalid(m) => DeviceError::Invalid(m),
            other => DeviceError::Internal(other.to_string()),
        }
    }
}

impl From<gridpatrol_docs::DocError> for DeviceError {
    fn from(e: gridpatrol_docs::DocError) -> Self {
        match e {
            gridpatrol_docs::DocError::TooLarge(m) => DeviceError::TooLarge(m),
            other => DeviceError::Invalid(other.to_string()),
        }
    }
}
