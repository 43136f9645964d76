//! WGS-84 ↔ GCJ-02 conversion at the edges of the system.
//!
//! GridPatrol stores WGS-84 (what phones report); Chinese base maps draw in
//! GCJ-02. These wrap the maintained `coordtransform` crate, whose inverse
//! refines the published forward formula numerically (round trip well under a
//! centimetre). Points outside mainland China pass through unchanged, as
//! GCJ-02 defines.

/// WGS-84 (lon, lat) → GCJ-02 (lon, lat).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    coordtransform::wgs84_to_gcj02(lon, lat)
}

/// GCJ-02 (lon, lat) → WGS-84 (lon, lat).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    coordtransform::gcj02_to_wgs84(lon, lat)
}
