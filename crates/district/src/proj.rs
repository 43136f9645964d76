//! Local metric projection used for all generation geometry.
//!
//! An equirectangular projection about (116.49 E, 39.95 N) with metres per
//! degree taken from the WGS-84 ellipsoid at 39.95 N. The scale factors are
//! literals, not computed with `cos`, so every machine projects bit-identically
//! (libm implementations may differ in the last bit). Over Chaoyang's 0.3° of
//! latitude the east-west scale drifts by under 0.5 %, which only affects how
//! square a "240 m" cell is on the ground, not the partition itself.

/// Longitude of the projection origin (degrees).
pub(crate) const LON0: f64 = 116.49;
/// Latitude of the projection origin (degrees).
pub(crate) const LAT0: f64 = 39.95;
/// Metres per degree of longitude at 39.95 N (WGS-84 ellipsoid).
pub(crate) const M_PER_DEG_LON: f64 = 85_456.076_958_482_78;
/// Metres per degree of latitude at 39.95 N (WGS-84 ellipsoid).
pub(crate) const M_PER_DEG_LAT: f64 = 111_033.644_630_510_99;

/// WGS-84 (lon, lat) → local metres (x east, y north).
pub(crate) fn to_xy(lon: f64, lat: f64) -> (f64, f64) {
    ((lon - LON0) * M_PER_DEG_LON, (lat - LAT0) * M_PER_DEG_LAT)
}

/// Local metres → WGS-84 (lon, lat).
pub(crate) fn to_lonlat(x: f64, y: f64) -> (f64, f64) {
    (LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT)
}
