//! The evidence metadata read from EXIF: orientation, capture time and GPS.
//! Everything else in EXIF (serial numbers, owner names, maker notes) is
//! ignored here and never written to the stored file.

use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use exif::{In, Tag, Value};

/// A WGS-84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LonLat {
    /// Longitude, degrees east (WGS-84).
    pub lon: f64,
    /// Latitude, degrees north (WGS-84).
    pub lat: f64,
}

impl LonLat {
    /// A position if both values are finite and in range.
    pub fn new(lon: f64, lat: f64) -> Option<LonLat> {
        let ok = lon.is_finite()
            && lat.is_finite()
            && (-180.0..=180.0).contains(&lon)
            && (-90.0..=90.0).contains(&lat);
        ok.then_some(LonLat { lon, lat })
    }

    /// Great-circle distance in metres (haversine, mean Earth radius).
    pub fn distance_m(&self, other: &LonLat) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

/// Capture time from EXIF `DateTimeOriginal`: the camera's local wall-clock
/// time, with its UTC offset when the camera wrote `OffsetTimeOriginal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakenAt {
    /// Local wall-clock time as the camera recorded it.
    pub local: NaiveDateTime,
    /// UTC offset, if the file records one.
    pub offset: Option<FixedOffset>,
}

impl TakenAt {
    /// RFC 3339 when the offset is known (`2026-11-27T09:15:02+08:00`),
    /// otherwise the bare local time (`2026-11-27T09:15:02`).
    pub fn to_rfc3339(&self) -> String {
        match self
            .offset
            .and_then(|o| o.from_local_datetime(&self.local).single())
        {
            Some(dt) => dt.to_rfc3339(),
            None => self.local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }
}

/// What the pipeline takes from EXIF.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifEvidence {
    /// EXIF orientation 1–8 (1 when absent or invalid).
    pub orientation: u8,
    /// Capture time, if present and valid.
    pub taken_at: Option<TakenAt>,
    /// GPS position, if present and valid.
    pub gps: Option<LonLat>,
}

/// Parses raw EXIF (TIFF structure, as found after `Exif\0\0`). Damaged EXIF
/// never refuses a photo: whatever cannot be read is simply absent.
pub fn read_exif(raw: Option<&[u8]>) -> ExifEvidence {
    let mut out = ExifEvidence {
        orientation: 1,
        ..Default::default()
    };
    let Some(raw) = raw else { return out };
    // Some writers keep the "Exif\0\0" prefix inside the returned block.
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    // Keep what parses when something elsewhere is broken (a maker note, a
    // GPS IFD pointing past the end); a hard error still leaves IFD0's own
    // orientation entry to the direct reader below.
    let exif = exif::Reader::new()
        .continue_on_error(true)
        .read_raw(raw.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}))
        .ok();
    let orientation = exif
        .as_ref()
        .and_then(|exif| exif.get_field(Tag::Orientation, In::PRIMARY))
        .and_then(|f| f.value.get_uint(0))
        .or_else(|| ifd0_orientation(raw).map(u32::from));
    if let Some(o) = orientation.filter(|o| (1..=8).contains(o)) {
        out.orientation = o as u8;
    }
    let Some(exif) = exif else { return out };
    out.taken_at = taken_at(&exif);
    out.gps = gps(&exif);
    out
}

/// IFD0's orientation entry (tag 0x0112, one SHORT) read straight from the
/// TIFF structure with bounded reads: a sideways photo is wrong evidence
/// even when the rest of its EXIF is unreadable. Entries past the end of the
/// block are simply not there.
fn ifd0_orientation(tiff: &[u8]) -> Option<u16> {
    let le = match tiff.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    // Big-endian value of `n` bytes at `at`, in the block's byte order.
    let uint = |at: usize, n: usize| {
        let b = tiff.get(at..at.checked_add(n)?)?;
        let fold = |v: u32, &x: &u8| v << 8 | u32::from(x);
        Some(if le {
            b.iter().rev().fold(0, fold)
        } else {
            b.iter().fold(0, fold)
        })
    };
    let u16_at = |at: usize| uint(at, 2).map(|v| v as u16);
    let u32_at = |at: usize| uint(at, 4);
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    for k in 0..count {
        let entry = ifd.checked_add(2 + 12 * k)?;
        if u16_at(entry)? != 0x0112 {
            continue;
        }
        // SHORT (3), count 1, value in the first two bytes of the field.
        return (u16_at(entry + 2)? == 3 && u32_at(entry + 4)? == 1)
            .then(|| u16_at(entry + 8))
            .flatten();
    }
    None
}

fn ascii(exif: &exif::Exif, tag: Tag) -> Option<&[u8]> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(v) => v.first().map(Vec::as_slice),
        _ => None,
    }
}

fn taken_at(exif: &exif::Exif) -> Option<TakenAt> {
    let raw = ascii(exif, Tag::DateTimeOriginal).or_else(|| ascii(exif, Tag::DateTime))?;
    let mut dt = exif::DateTime::from_ascii(raw).ok()?;
    if let Some(off) = ascii(exif, Tag::OffsetTimeOriginal) {
        // An unreadable offset only loses the offset, not the time.
        let _ = dt.parse_offset(off);
    }
    let date = chrono::NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?;
    let local = date.and_hms_opt(dt.hour.into(), dt.minute.into(), dt.second.into())?;
    let offset = dt
        .offset
        .and_then(|m| FixedOffset::east_opt(i32::from(m) * 60));
    Some(TakenAt { local, offset })
}

fn gps(exif: &exif::Exif) -> Option<LonLat> {
    let lat = dms(exif, Tag::GPSLatitude)?;
    let lon = dms(exif, Tag::GPSLongitude)?;
    let lat_sign = match ascii(exif, Tag::GPSLatitudeRef).and_then(|r| r.first()) {
        Some(b'S') | Some(b's') => -1.0,
        _ => 1.0,
    };
    let lon_sign = match ascii(exif, Tag::GPSLongitudeRef).and_then(|r| r.first()) {
        Some(b'W') | Some(b'w') => -1.0,
        _ => 1.0,
    };
    LonLat::new(lon * lon_sign, lat * lat_sign)
}

/// Degrees/minutes/seconds rationals to decimal degrees.
fn dms(exif: &exif::Exif, tag: Tag) -> Option<f64> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    let Value::Rational(parts) = &field.value else {
        return None;
    };
    let mut deg = 0.0;
    for (i, r) in parts.iter().take(3).enumerate() {
        if r.denom == 0 {
            return None;
        }
        deg += r.to_f64() / [1.0, 60.0, 3600.0][i];
    }
    deg.is_finite().then_some(deg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_one_arc_minute_of_latitude_is_about_1852_m() {
        let a = LonLat::new(116.4, 39.9).unwrap();
        let b = LonLat::new(116.4, 39.9 + 1.0 / 60.0).unwrap();
        assert!((a.distance_m(&b) - 1853.0).abs() < 5.0);
    }

    #[test]
    fn out_of_range_positions_are_rejected() {
        assert!(LonLat::new(181.0, 0.0).is_none());
        assert!(LonLat::new(0.0, f64::NAN).is_none());
    }

    #[test]
    fn garbage_exif_is_ignored() {
        let ev = read_exif(Some(b"definitely not tiff"));
        assert_eq!(ev.orientation, 1);
        assert!(ev.taken_at.is_none() && ev.gps.is_none());
    }
}
