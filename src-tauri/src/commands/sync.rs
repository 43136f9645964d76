//! Sync now / status.

use gridpatrol_device::view::SyncStatus;

use super::Dev;

/// Runs a session now; the status after it.
#[tauri::command(rename_all = "snake_case")]
pub async fn sync_now(device: Dev<'_>) -> Result<SyncStatus, crate::CommandError> {
    Ok(device.sync_now().await)
}

/// The sync status.
#[tauri::command(rename_all = "snake_case")]
pub fn sync_status(device: Dev<'_>) -> SyncStatus {
    device.sync_status()
}
