//! One short command per `Device` method, grouped by screen. Commands take
//! snake_case arguments and return `Result<T, CommandError>`.

use std::sync::Arc;

use gridpatrol_device::Device;
use tauri::http::{header, Response, StatusCode};

pub mod cases;
pub mod patrol;
pub mod quality;
pub mod report;
pub mod review;
pub mod session;
pub mod sync;
pub mod tasks;

/// The device as commands receive it.
pub type Dev<'a> = tauri::State<'a, Arc<Device>>;

/// `gpphoto://localhost/<sha256>`: the stored photo or thumbnail bytes.
pub fn photo_response(device: &Device, sha: &str) -> Response<Vec<u8>> {
    match device.photo_bytes(sha) {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "image/jpeg")
            // A photo's name is its hash: it never changes.
            .header(header::CACHE_CONTROL, "max-age=31536000, immutable")
            .body(bytes),
        Err(e) => Response::builder()
            .status(match e.code() {
                "not_found" => StatusCode::NOT_FOUND,
                "invalid_input" => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            })
            .header(header::CONTENT_TYPE, "text/plain")
            .body(e.to_string().into_bytes()),
    }
    .unwrap_or_else(|_| Response::new(Vec::new()))
}
