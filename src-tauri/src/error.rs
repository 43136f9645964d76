//! The error every command returns: a stable `code` the UI words in the
//! user's language, and an English `message` for support.

use gridpatrol_device::DeviceError;
use serde::Serialize;

/// A command's failure as the UI receives it (`{ code, message }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable snake_case code (see `DeviceError::code`).
    pub code: String,
    /// Detail in English.
    pub message: String,
}

impl From<DeviceError> for CommandError {
    fn from(e: DeviceError) -> Self {
        CommandError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

impl CommandError {
    /// An input the shell itself refuses (e.g. a photo not sent as bytes).
    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError {
            code: "invalid_input".into(),
            message: message.into(),
        }
    }
}
