//! Sign in / out.

use gridpatrol_device::view::{Me, SignIn, SignOut};

use super::Dev;
use crate::CommandError;

/// Who is signed in (`null`: nobody).
#[tauri::command(rename_all = "snake_case")]
pub fn me(device: Dev<'_>) -> Option<Me> {
    device.me()
}

/// Signs in with id and password (the password is not kept).
#[tauri::command(rename_all = "snake_case")]
pub async fn sign_in(device: Dev<'_>, req: SignIn) -> Result<Me, CommandError> {
    Ok(device.sign_in(req).await?)
}

/// Signs out (warns first when work is unsynced, unless forced).
#[tauri::command(rename_all = "snake_case")]
pub async fn sign_out(device: Dev<'_>, force: bool) -> Result<SignOut, CommandError> {
    Ok(device.sign_out(force).await?)
}
