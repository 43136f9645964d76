//! Synthetic camera files for tests, the benchmark and the fuzz seeds: a
//! street-like picture (sky, façades with windows, road, sensor noise) and a
//! hand-written EXIF block with orientation, capture time, GPS and the kind
//! of private fields (make, model, body serial) the pipeline must strip.
//! Nothing here is used on the production path.

use crate::MediaError;

/// EXIF fields to put into a synthetic JPEG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifSpec {
    /// Orientation tag 1–8.
    pub orientation: Option<u16>,
    /// `DateTimeOriginal`, EXIF format `YYYY:MM:DD HH:MM:SS`.
    pub taken_at: Option<String>,
    /// `OffsetTimeOriginal`, e.g. `+08:00`.
    pub offset: Option<String>,
    /// GPS position as (longitude, latitude), WGS-84 degrees.
    pub gps: Option<(f64, f64)>,
    /// Camera make (a private field the store must not keep).
    pub make: Option<String>,
    /// Camera body serial number (a private field the store must not keep).
    pub serial: Option<String>,
}

/// Tiny deterministic PRNG (xorshift64*) so images are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() >> 33) as u32 % n.max(1)
    }
}

/// A street-like scene as packed RGB: sky gradient, façades with window
/// grids, a road with lane marks, and per-pixel noise like a phone sensor's.
pub fn street_scene(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let mut rng = Rng(seed | 1);
    let horizon = h * 11 / 20;
    // Sky and road gradients.
    for y in 0..h {
        let (r, g, b) = if y < horizon {
            let t = y as f32 / horizon as f32;
            (110.0 + 80.0 * t, 150.0 + 60.0 * t, 210.0 + 30.0 * t)
        } else {
            let t = (y - horizon) as f32 / (h - horizon).max(1) as f32;
            (70.0 + 40.0 * t, 70.0 + 38.0 * t, 75.0 + 35.0 * t)
        };
        for x in 0..w {
            let i = (y * w + x) * 3;
            rgb[i] = r as u8;
            rgb[i + 1] = g as u8;
            rgb[i + 2] = b as u8;
        }
    }
    // Façades: coloured blocks with a grid of darker windows.
    let mut x = 0usize;
    while x < w {
        let bw = (w / 14).max(4) + rng.below((w / 10).max(1) as u32) as usize;
        let top = horizon.saturating_sub((h / 8) + rng.below((h / 3).max(1) as u32) as usize);
        let base = [
            90 + rng.below(120) as u8,
            80 + rng.below(110) as u8,
            70 + rng.below(100) as u8,
        ];
        let (win_w, win_h) = ((bw / 8).max(2), (h / 40).max(2));
        for y in top..horizon {
            for xx in x..(x + bw).min(w) {
                let (lx, ly) = (xx - x, y - top);
                let window = (lx % (win_w * 2)) >= win_w / 2
                    && (lx % (win_w * 2)) < win_w / 2 + win_w
                    && (ly % (win_h * 2)) >= win_h / 2
                    && (ly % (win_h * 2)) < win_h / 2 + win_h;
                let shade = 0.85 + 0.15 * (lx as f32 / bw as f32);
                let i = (y * w + xx) * 3;
                for c in 0..3 {
                    let v = if window {
                        base[c] as f32 * 0.35
                    } else {
                        base[c] as f32 * shade
                    };
                    rgb[i + c] = v as u8;
                }
            }
        }
        x += bw + rng.below((w / 60).max(1) as u32) as usize;
    }
    // Lane marks converging towards the horizon.
    for y in horizon..h {
        let t = (y - horizon) as f32 / (h - horizon).max(1) as f32;
        let half = (w as f32 * 0.004 * (0.3 + t)) as usize + 1;
        let centre = w / 2;
        if ((y - horizon) / (h / 30).max(1)) % 2 == 0 {
            for xx in centre.saturating_sub(half)..(centre + half).min(w) {
                let i = (y * w + xx) * 3;
                rgb[i..i + 3].copy_from_slice(&[225, 220, 200]);
            }
        }
    }
    // Sensor noise as left after a phone's noise reduction: mostly luma
    // (the same offset on all three channels), about ±8 levels.
    for px in rgb.chunks_exact_mut(3) {
        let n = rng.below(17) as i16 - 8;
        for v in px {
            *v = (*v as i16 + n).clamp(0, 255) as u8;
        }
    }
    rgb
}

/// Encodes packed RGB as a baseline JPEG with an optional EXIF APP1 block.
pub fn jpeg(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    exif: Option<&ExifSpec>,
) -> Result<Vec<u8>, MediaError> {
    let err = |e: jpeg_encoder::EncodingError| MediaError::Encode(e.to_string());
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    if let Some(spec) = exif {
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&exif_tiff(spec));
        enc.add_app_segment(1, &app1).map_err(err)?;
    }
    let (w, h) = (
        u16::try_from(width).map_err(|_| MediaError::Encode("width".into()))?,
        u16::try_from(height).map_err(|_| MediaError::Encode("height".into()))?,
    );
    enc.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(err)?;
    Ok(out)
}

/// Pixel layout of a synthetic JPEG made by [`jpeg_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// 3 bytes per pixel, stored as YCbCr.
    #[default]
    Rgb,
    /// 1 byte per pixel, one grey component.
    Luma,
    /// 4 bytes per pixel (C, M, Y, K), stored as Adobe CMYK.
    Cmyk,
}

/// Encoder choices for [`jpeg_with`], to cover decoder paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JpegSpec {
    /// Pixel layout of the input buffer and the file.
    pub layout: Layout,
    /// Progressive instead of baseline.
    pub progressive: bool,
    /// Restart interval in MCUs (RSTn markers in the scan).
    pub restart_interval: Option<u16>,
    /// ICC profile to embed.
    pub icc: Option<Vec<u8>>,
}

/// Encodes `pixels` (laid out as `spec.layout`) as a JPEG with the given
/// scan structure and profile.
pub fn jpeg_with(
    pixels: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    spec: &JpegSpec,
) -> Result<Vec<u8>, MediaError> {
    let err = |e: jpeg_encoder::EncodingError| MediaError::Encode(e.to_string());
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_progressive(spec.progressive);
    if let Some(n) = spec.restart_interval {
        enc.set_restart_interval(n);
    }
    if let Some(icc) = &spec.icc {
        enc.add_icc_profile(icc).map_err(err)?;
    }
    let color = match spec.layout {
        Layout::Rgb => jpeg_encoder::ColorType::Rgb,
        Layout::Luma => jpeg_encoder::ColorType::Luma,
        Layout::Cmyk => jpeg_encoder::ColorType::Cmyk,
    };
    let (w, h) = (
        u16::try_from(width).map_err(|_| MediaError::Encode("width".into()))?,
        u16::try_from(height).map_err(|_| MediaError::Encode("height".into()))?,
    );
    enc.encode(pixels, w, h, color).map_err(err)?;
    Ok(out)
}

/// A minimal ICC profile header (128 bytes, no tags) declaring the data
/// colour space `space` (`b"RGB "`, `b"GRAY"`, `b"CMYK"`): enough for a
/// reader that looks at the header, which is what the pipeline checks.
pub fn icc_header(space: &[u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 132];
    p[0..4].copy_from_slice(&132u32.to_be_bytes());
    p[12..16].copy_from_slice(b"mntr");
    p[16..20].copy_from_slice(space);
    p[20..24].copy_from_slice(b"XYZ ");
    p[36..40].copy_from_slice(b"acsp");
    p
}

/// Patches a PNG's IHDR to claim `width`×`height` (CRC fixed), for header
/// bombs: the rest of the file still holds the original pixels.
pub fn set_png_size(png: &mut [u8], width: u32, height: u32) {
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One TIFF directory entry: tag, type, count and the value bytes.
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    data: Vec<u8>,
}

const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

fn ascii_entry(tag: u16, s: &str) -> Entry {
    let mut data = s.as_bytes().to_vec();
    data.push(0);
    Entry {
        tag,
        kind: ASCII,
        count: data.len() as u32,
        data,
    }
}

fn dms_entry(tag: u16, deg: f64) -> Entry {
    let deg = deg.abs();
    let d = deg.floor();
    let m = ((deg - d) * 60.0).floor();
    let s = ((deg - d) * 60.0 - m) * 60.0;
    let mut data = Vec::new();
    for (num, den) in [
        (d as u32, 1u32),
        (m as u32, 1),
        ((s * 10_000.0).round() as u32, 10_000),
    ] {
        data.extend_from_slice(&num.to_le_bytes());
        data.extend_from_slice(&den.to_le_bytes());
    }
    Entry {
        tag,
        kind: RATIONAL,
        count: 3,
        data,
    }
}

fn ifd_size(entries: &[Entry]) -> usize {
    let out_of_line: usize = entries
        .iter()
        .filter(|e| e.data.len() > 4)
        .map(|e| e.data.len() + e.data.len() % 2)
        .sum();
    2 + 12 * entries.len() + 4 + out_of_line
}

/// Serialises one IFD at absolute offset `at` (entries must be sorted).
fn write_ifd(out: &mut Vec<u8>, at: usize, entries: &[Entry]) {
    debug_assert_eq!(out.len(), at);
    let mut data_at = at + 2 + 12 * entries.len() + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.kind.to_le_bytes());
        out.extend_from_slice(&e.count.to_le_bytes());
        if e.data.len() <= 4 {
            let mut inline = e.data.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&(data_at as u32).to_le_bytes());
            data.extend_from_slice(&e.data);
            if e.data.len() % 2 == 1 {
                data.push(0);
            }
            data_at += e.data.len() + e.data.len() % 2;
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&data);
}

/// Builds a little-endian TIFF/EXIF structure (IFD0 → Exif IFD, GPS IFD).
pub fn exif_tiff(spec: &ExifSpec) -> Vec<u8> {
    let mut exif_ifd = Vec::new();
    if let Some(t) = &spec.taken_at {
        exif_ifd.push(ascii_entry(0x9003, t));
    }
    if let Some(o) = &spec.offset {
        exif_ifd.push(ascii_entry(0x9011, o));
    }
    if let Some(s) = &spec.serial {
        exif_ifd.push(ascii_entry(0xA431, s));
    }
    let mut gps_ifd = Vec::new();
    if let Some((lon, lat)) = spec.gps {
        gps_ifd.push(ascii_entry(1, if lat < 0.0 { "S" } else { "N" }));
        gps_ifd.push(dms_entry(2, lat));
        gps_ifd.push(ascii_entry(3, if lon < 0.0 { "W" } else { "E" }));
        gps_ifd.push(dms_entry(4, lon));
    }

    // IFD0 with placeholder pointers; sizes do not depend on pointer values.
    let build_ifd0 = |exif_at: u32, gps_at: u32| {
        let mut v = Vec::new();
        if let Some(m) = &spec.make {
            v.push(ascii_entry(0x010F, m));
        }
        if let Some(o) = spec.orientation {
            v.push(Entry {
                tag: 0x0112,
                kind: SHORT,
                count: 1,
                data: o.to_le_bytes().to_vec(),
            });
        }
        if !exif_ifd.is_empty() {
            v.push(Entry {
                tag: 0x8769,
                kind: LONG,
                count: 1,
                data: exif_at.to_le_bytes().to_vec(),
            });
        }
        if !gps_ifd.is_empty() {
            v.push(Entry {
                tag: 0x8825,
                kind: LONG,
                count: 1,
                data: gps_at.to_le_bytes().to_vec(),
            });
        }
        v
    };
    let ifd0_at = 8usize;
    let exif_at = ifd0_at + ifd_size(&build_ifd0(0, 0));
    let gps_at = exif_at
        + if exif_ifd.is_empty() {
            0
        } else {
            ifd_size(&exif_ifd)
        };
    let ifd0 = build_ifd0(exif_at as u32, gps_at as u32);

    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&(ifd0_at as u32).to_le_bytes());
    write_ifd(&mut out, ifd0_at, &ifd0);
    if !exif_ifd.is_empty() {
        write_ifd(&mut out, exif_at, &exif_ifd);
    }
    if !gps_ifd.is_empty() {
        write_ifd(&mut out, gps_at, &gps_ifd);
    }
    out
}

/// Stored-pixel → displayed-pixel mapping of EXIF orientation `o` for a
/// stored image of `w`×`h` (EXIF 2.3, tag 0x0112); used to build test files
/// whose correct display is known.
pub fn displayed_at(o: u16, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    match o {
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (h - 1 - y, x),
        7 => (h - 1 - y, w - 1 - x),
        8 => (y, w - 1 - x),
        _ => (x, y),
    }
}

/// Lays out the upright picture `upright` (`w`×`h`, packed RGB) the way a
/// camera stores it under orientation `o`, returning the stored pixels and
/// stored size.
pub fn store_as_oriented(upright: &[u8], w: u32, h: u32, o: u16) -> (Vec<u8>, u32, u32) {
    let (sw, sh) = if o >= 5 { (h, w) } else { (w, h) };
    let mut out = vec![0u8; upright.len()];
    for y in 0..sh {
        for x in 0..sw {
            let (u, v) = displayed_at(o, x, y, sw, sh);
            let s = ((v * w + u) * 3) as usize;
            let d = ((y * sw + x) * 3) as usize;
            out[d..d + 3].copy_from_slice(&upright[s..s + 3]);
        }
    }
    (out, sw, sh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_round_trips_through_the_reader() {
        let spec = ExifSpec {
            orientation: Some(6),
            taken_at: Some("2026:11:27 09:15:02".into()),
            offset: Some("+08:00".into()),
            gps: Some((116.4432, 39.9219)),
            make: Some("ACME".into()),
            serial: Some("SN-1".into()),
        };
        let ev = crate::read_exif(Some(&exif_tiff(&spec)));
        assert_eq!(ev.orientation, 6);
        assert_eq!(
            ev.taken_at.unwrap().to_rfc3339(),
            "2026-11-27T09:15:02+08:00"
        );
        let gps = ev.gps.unwrap();
        assert!((gps.lon - 116.4432).abs() < 1e-6 && (gps.lat - 39.9219).abs() < 1e-6);
    }
}
