//! Re-verification tasks.

use gridpatrol_device::view::{TaskDetail, TaskView, VerificationInput};

use super::Dev;
use crate::CommandError;

/// My tasks, by deadline and distance.
#[tauri::command(rename_all = "snake_case")]
pub fn list_tasks(device: Dev<'_>) -> Result<Vec<TaskView>, CommandError> {
    Ok(device.list_tasks()?)
}

/// One task with its case.
#[tauri::command(rename_all = "snake_case")]
pub fn task_detail(device: Dev<'_>, id: String) -> Result<TaskDetail, CommandError> {
    Ok(device.task_detail(&id)?)
}

/// Records the on-site result.
#[tauri::command(rename_all = "snake_case")]
pub fn submit_verification(
    device: Dev<'_>,
    id: String,
    input: VerificationInput,
) -> Result<TaskView, CommandError> {
    Ok(device.submit_verification(&id, input)?)
}
