//! The squad leader's review.

use gridpatrol_device::view::{CaseDetail, Member, ReviewInput};

use super::Dev;
use crate::CommandError;

/// My squad's members.
#[tauri::command(rename_all = "snake_case")]
pub fn team(device: Dev<'_>) -> Result<Vec<Member>, CommandError> {
    Ok(device.team()?)
}

/// Approves or returns a report.
#[tauri::command(rename_all = "snake_case")]
pub fn review_case(
    device: Dev<'_>,
    id: String,
    input: ReviewInput,
) -> Result<CaseDetail, CommandError> {
    Ok(device.review_case(&id, input)?)
}
