//! The report screen: categories, photos, save.

use gridpatrol_device::view::{CaseDraft, CaseSummary, Category, Photo};
use tauri::ipc::{InvokeBody, Request};

use super::Dev;
use crate::CommandError;

/// Category search.
#[tauri::command(rename_all = "snake_case")]
pub fn search_categories(
    device: Dev<'_>,
    query: String,
    limit: u32,
) -> Result<Vec<Category>, CommandError> {
    Ok(device.search_categories(&query, limit)?)
}

/// Children of a category (`null`: the modules).
#[tauri::command(rename_all = "snake_case")]
pub fn browse_categories(
    device: Dev<'_>,
    parent: Option<String>,
) -> Result<Vec<Category>, CommandError> {
    Ok(device.browse_categories(parent.as_deref())?)
}

/// Stars or unstars a category.
#[tauri::command(rename_all = "snake_case")]
pub fn set_favourite(device: Dev<'_>, code: String, on: bool) -> Result<(), CommandError> {
    Ok(device.set_favourite(&code, on)?)
}

/// A photo's bytes, sent raw as the request body (no base64, no JSON).
#[tauri::command(rename_all = "snake_case")]
pub async fn add_photo(device: Dev<'_>, request: Request<'_>) -> Result<Photo, CommandError> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(CommandError::invalid(
            "send the photo's bytes as the raw request body",
        ));
    };
    let device = device.inner().clone();
    let bytes = bytes.clone();
    // Decoding and resizing a 12 MP photo is CPU work: off the IPC thread.
    tauri::async_runtime::spawn_blocking(move || device.add_photo(&bytes))
        .await
        .map_err(|e| CommandError {
            code: "internal".into(),
            message: e.to_string(),
        })?
        .map_err(Into::into)
}

/// Saves a new report (offline, queued for sync).
#[tauri::command(rename_all = "snake_case")]
pub fn save_case(device: Dev<'_>, draft: CaseDraft) -> Result<CaseSummary, CommandError> {
    Ok(device.save_case(draft)?)
}

/// Open cases of the category within 50 m.
#[tauri::command(rename_all = "snake_case")]
pub fn duplicates(
    device: Dev<'_>,
    category: String,
    lon: f64,
    lat: f64,
) -> Result<Vec<CaseSummary>, CommandError> {
    Ok(device.duplicates(&category, lon, lat)?)
}
