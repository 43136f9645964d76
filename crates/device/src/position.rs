//! Position sources. On a phone the shell feeds fixes from the platform's
//! geolocation (see [`crate::Device::report_position`]); on the desktop a
//! file the tests can rewrite stands in for the GPS.

use std::path::PathBuf;

use crate::view::Position;

/// Where the device's current fix comes from.
pub trait PositionSource: Send + Sync {
    /// The latest fix, if there is one.
    fn current(&self) -> Option<Position>;
}

/// No fix ever (a desktop without a position file): the UI offers a manual pin.
#[derive(Debug, Default)]
pub struct NoPosition;

impl PositionSource for NoPosition {
    fn current(&self) -> Option<Position> {
        None
    }
}

/// Always the same fix (tests, the simulator).
#[derive(Debug, Clone)]
pub struct FixedPosition(pub Position);

impl PositionSource for FixedPosition {
    fn current(&self) -> Option<Position> {
        Some(self.0.clone())
    }
}

/// A JSON file `{"lon":…,"lat":…,"accuracy_m":…,"mock":false}` read at each
/// request (`GRIDPATROL_POSITION_FILE` on the desktop); a missing or
/// unreadable file means no fix.
#[derive(Debug, Clone)]
pub struct FilePosition(pub PathBuf);

#[derive(serde::Deserialize)]
struct FileFix {
    lon: f64,
    lat: f64,
    accuracy_m: f64,
    #[serde(default)]
    mock: bool,
}

impl PositionSource for FilePosition {
    fn current(&self) -> Option<Position> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        if text.len() > 4096 {
            return None;
        }
        let f: FileFix = serde_json::from_str(&text).ok()?;
        let ok = f.lon.is_finite()
            && f.lat.is_finite()
            && (-180.0..=180.0).contains(&f.lon)
            && (-90.0..=90.0).contains(&f.lat)
            && f.accuracy_m.is_finite()
            && f.accuracy_m >= 0.0;
        ok.then(|| Position {
            lon: f.lon,
            lat: f.lat,
            accuracy_m: f.accuracy_m,
            mock: f.mock,
            manual: false,
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        })
    }
}
