//! GridPatrol's Tauri shell: it opens the [`Device`] in the app's data
//! directory, forwards one command to each device method
//! ([`commands`]), serves stored photos to the web view on the `gpphoto:`
//! protocol, and forwards the sync loop's status as `sync-status` events.
//! No app logic lives here.
#![forbid(unsafe_code)]

pub mod commands;
mod error;

use std::sync::Arc;

use gridpatrol_device::{
    Device, DeviceConfig, FilePosition, NoPosition, PositionSource, SystemClock,
};
use tauri::{Emitter, Manager, Runtime};

pub use error::CommandError;

/// Name of the event carrying [`gridpatrol_device::view::SyncStatus`].
pub const SYNC_EVENT: &str = "sync-status";

/// How often the background loop syncs when nothing triggers it.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the device: data under `GRIDPATROL_DATA_DIR` or the app's data
/// directory; on the desktop the position comes from the JSON file named
/// by `GRIDPATROL_POSITION_FILE` (a stand-in for the GPS), on phones from
/// the fixes the UI forwards.
pub fn open_device(
    default_dir: std::path::PathBuf,
) -> Result<Device, gridpatrol_device::DeviceError> {
    let data_dir = std::env::var_os("GRIDPATROL_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(default_dir);
    let position: Arc<dyn PositionSource> = match std::env::var_os("GRIDPATROL_POSITION_FILE") {
        Some(p) => Arc::new(FilePosition(p.into())),
        None => Arc::new(NoPosition),
    };
    Device::open(DeviceConfig {
        data_dir,
        clock: Arc::new(SystemClock),
        position,
        allow_plain_http: false,
    })
}

/// Adds every command and the photo protocol to `builder`; shared by
/// [`run`] and the tests (which pass `tauri::test::mock_builder()` and
/// `manage` their own device).
pub fn app_builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .register_uri_scheme_protocol("gpphoto", |ctx, request| {
            let sha = request.uri().path().trim_start_matches('/').to_string();
            let device = ctx.app_handle().state::<Arc<Device>>();
            commands::photo_response(&device, &sha)
        })
        .invoke_handler(tauri::generate_handler![
            commands::session::me,
            commands::session::sign_in,
            commands::session::sign_out,
            commands::patrol::map_view,
            commands::patrol::locate,
            commands::patrol::locate_at,
            commands::patrol::report_position,
            commands::patrol::patrol,
            commands::patrol::start_patrol,
            commands::patrol::end_patrol,
            commands::patrol::track_point,
            commands::patrol::checklist,
            commands::patrol::check_item,
            commands::report::search_categories,
            commands::report::browse_categories,
            commands::report::set_favourite,
            commands::report::add_photo,
            commands::report::save_case,
            commands::report::duplicates,
            commands::cases::list_cases,
            commands::cases::case_detail,
            commands::cases::resubmit_case,
            commands::tasks::list_tasks,
            commands::tasks::task_detail,
            commands::tasks::submit_verification,
            commands::review::team,
            commands::review::review_case,
            commands::quality::quality_samples,
            commands::quality::mark_sample,
            commands::quality::quality_kpi,
            commands::sync::sync_now,
            commands::sync::sync_status,
        ])
}

/// Forwards every sync status change to the web view.
pub fn forward_sync_status<R: Runtime>(app: &tauri::AppHandle<R>, device: &Device) {
    let sync = device.sync_loop().clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        sync.start(SYNC_EVERY);
        let mut rx = sync.subscribe();
        while rx.changed().await.is_ok() {
            let status = rx.borrow_and_update().clone();
            if app.emit(SYNC_EVENT, status).is_err() {
                break;
            }
        }
    });
}

/// The app's entry point (desktop `main` and the mobile libraries).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let builder = app_builder(tauri::Builder::<tauri::Wry>::default());
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_geolocation::init());
    let result = builder
        .setup(|app| {
            let dir = app.path().app_data_dir()?;
            let device = Arc::new(open_device(dir)?);
            forward_sync_status(app.handle(), &device);
            app.manage(device);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "GridPatrol could not start");
        std::process::exit(1);
    }
}
