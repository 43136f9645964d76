//! The squad leader's monthly quality (needs the network).

use gridpatrol_device::view::{QualityKpi, QualitySamples, SampleMark};

use super::Dev;
use crate::CommandError;

/// My squad's sample of `month` (`YYYY-MM`; null: last month).
#[tauri::command(rename_all = "snake_case")]
pub async fn quality_samples(
    device: Dev<'_>,
    month: Option<String>,
) -> Result<QualitySamples, CommandError> {
    Ok(device.quality_samples(month).await?)
}

/// Marks a sampled report correct or wrong; the sample after it.
#[tauri::command(rename_all = "snake_case")]
pub async fn mark_sample(
    device: Dev<'_>,
    mark: SampleMark,
) -> Result<QualitySamples, CommandError> {
    Ok(device.mark_sample(mark).await?)
}

/// My squad's KPIs of `month` (null: last month).
#[tauri::command(rename_all = "snake_case")]
pub async fn quality_kpi(
    device: Dev<'_>,
    month: Option<String>,
) -> Result<QualityKpi, CommandError> {
    Ok(device.quality_kpi(month).await?)
}
