//! The patrol screen: map, position, patrol, checklist.

use gridpatrol_device::view::{ChecklistItem, Located, MapView, PatrolView, Position};

use super::Dev;
use crate::CommandError;

/// My grids, visited cells and case pins.
#[tauri::command(rename_all = "snake_case")]
pub fn map_view(device: Dev<'_>) -> Result<MapView, CommandError> {
    Ok(device.map_view()?)
}

/// Where I am, with warnings.
#[tauri::command(rename_all = "snake_case")]
pub fn locate(device: Dev<'_>) -> Result<Located, CommandError> {
    Ok(device.locate()?)
}

/// Where a manual pin falls.
#[tauri::command(rename_all = "snake_case")]
pub fn locate_at(device: Dev<'_>, lon: f64, lat: f64) -> Result<Located, CommandError> {
    Ok(device.locate_at(lon, lat)?)
}

/// A fix from the platform's geolocation (phones).
#[tauri::command(rename_all = "snake_case")]
pub fn report_position(device: Dev<'_>, position: Position) -> Result<(), CommandError> {
    Ok(device.report_position(position)?)
}

/// Today's patrol.
#[tauri::command(rename_all = "snake_case")]
pub fn patrol(device: Dev<'_>) -> Result<PatrolView, CommandError> {
    Ok(device.patrol()?)
}

/// Starts a patrol.
#[tauri::command(rename_all = "snake_case")]
pub fn start_patrol(device: Dev<'_>) -> Result<PatrolView, CommandError> {
    Ok(device.start_patrol()?)
}

/// Ends the patrol.
#[tauri::command(rename_all = "snake_case")]
pub fn end_patrol(device: Dev<'_>) -> Result<PatrolView, CommandError> {
    Ok(device.end_patrol()?)
}

/// Records the current fix on the track.
#[tauri::command(rename_all = "snake_case")]
pub fn track_point(device: Dev<'_>) -> Result<PatrolView, CommandError> {
    Ok(device.track_point()?)
}

/// The checklist for my grid.
#[tauri::command(rename_all = "snake_case")]
pub fn checklist(device: Dev<'_>) -> Result<Vec<ChecklistItem>, CommandError> {
    Ok(device.checklist()?)
}

/// Ticks an item "checked, no problem".
#[tauri::command(rename_all = "snake_case")]
pub fn check_item(device: Dev<'_>, code: String) -> Result<Vec<ChecklistItem>, CommandError> {
    Ok(device.check_item(&code)?)
}
