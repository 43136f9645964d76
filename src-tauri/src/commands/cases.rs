//! My cases: lists, detail, resubmission.

use gridpatrol_device::view::{CaseDetail, CaseEdit, CaseFilter, CasePage};

use super::Dev;
use crate::CommandError;

/// A page of cases.
#[tauri::command(rename_all = "snake_case")]
pub fn list_cases(device: Dev<'_>, filter: CaseFilter) -> Result<CasePage, CommandError> {
    Ok(device.list_cases(filter)?)
}

/// One case with photos, review and timeline.
#[tauri::command(rename_all = "snake_case")]
pub fn case_detail(device: Dev<'_>, id: String) -> Result<CaseDetail, CommandError> {
    Ok(device.case_detail(&id)?)
}

/// Corrects a returned report and resubmits it.
#[tauri::command(rename_all = "snake_case")]
pub fn resubmit_case(
    device: Dev<'_>,
    id: String,
    edit: CaseEdit,
) -> Result<CaseDetail, CommandError> {
    Ok(device.resubmit_case(&id, edit)?)
}
