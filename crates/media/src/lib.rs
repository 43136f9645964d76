//! GridPatrol's photo evidence pipeline. It turns whatever a phone camera
//! produced (JPEG, PNG or WebP, any EXIF orientation, 12–64 MP) into the
//! evidence the centre files a case on: an upright JPEG whose long edge is at
//! most 2048 px, a thumbnail for lists, and the SHA-256 of the stored bytes as
//! the photo's identity. Capture time and GPS are read from EXIF and returned
//! in the [`Record`] (together with the device's own time and position and
//! the difference between them) while every byte of EXIF is left out of the
//! stored file. A visible stamp (time, WGS-84 position, 15-digit grid code)
//! can be burned into a corner. Hostile or broken input is refused with a
//! [`MediaError`] before anything is written, and the pixel limit is checked
//! from the header so a decompression bomb never allocates.
#![forbid(unsafe_code)]

mod decode;
mod error;
mod meta;
mod stamp;
pub mod synth;

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use fast_image_resize as fr;
use sha2::{Digest, Sha256};

pub use decode::{probe, sniff, SourceFormat};
pub use error::MediaError;
pub use meta::{read_exif, ExifEvidence, LonLat, TakenAt};
pub use stamp::StampText;

/// Input size limits, checked before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes (default 40 MB).
    pub max_bytes: u64,
    /// Largest accepted width × height from the header (default 64 MP).
    pub max_pixels: u64,
    /// Most memory one photo may need, estimated from the header before
    /// decoding: input, decoded pixels, decoder scratch and the resize's
    /// intermediate image (default 110 MB, which keeps a whole `media
    /// process` run under 150 MB of peak RSS).
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 40_000_000,
            max_pixels: 64_000_000,
            max_memory: 110_000_000,
        }
    }
}

/// How the stored photo and thumbnail are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Long edge of the stored photo in px; smaller photos are never upscaled.
    pub max_edge: u32,
    /// JPEG quality of the stored photo, 1–100.
    pub quality: u8,
    /// Long edge of the thumbnail in px.
    pub thumb_edge: u32,
    /// JPEG quality of the thumbnail, 1–100.
    pub thumb_quality: u8,
    /// Whether to burn the evidence stamp into the stored photo.
    pub stamp: bool,
    /// Input limits.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_edge: 2048,
            quality: 80,
            thumb_edge: 320,
            thumb_quality: 75,
            stamp: true,
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// Checks every option is in range.
    pub fn validate(&self) -> Result<(), MediaError> {
        let bad = |m: String| Err(MediaError::InvalidOption(m));
        if !(16..=16_384).contains(&self.max_edge) {
            return bad(format!(
                "max edge {} px is not in 16..=16384",
                self.max_edge
            ));
        }
        if !(16..=self.max_edge).contains(&self.thumb_edge) {
            return bad(format!(
                "thumbnail edge {} px is not in 16..={}",
                self.thumb_edge, self.max_edge
            ));
        }
        for q in [self.quality, self.thumb_quality] {
            if !(1..=100).contains(&q) {
                return bad(format!("JPEG quality {q} is not in 1..=100"));
            }
        }
        let l = &self.limits;
        if l.max_bytes == 0 || l.max_pixels == 0 || l.max_memory == 0 {
            return bad("limits must be positive".into());
        }
        Ok(())
    }
}

/// A 15-digit Beijing grid code (6-digit district + 3 street + 3 community
/// + 3 grid sequence).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct GridCode(String);

impl GridCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GridCode {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(GridCode(s.to_string()))
        } else {
            Err(MediaError::InvalidOption(format!(
                "grid code {s:?} is not 15 digits"
            )))
        }
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the inspector's device knew at the moment of capture, passed in by
/// the caller (the upload request), independent of the file's EXIF.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capture {
    /// The device's clock at capture.
    pub device_time: Option<DateTime<FixedOffset>>,
    /// The device's WGS-84 position at capture.
    pub device_position: Option<LonLat>,
    /// The grid the inspector was in.
    pub grid_code: Option<GridCode>,
}

/// Parses a device clock reading in RFC 3339 (`2026-11-27T09:15:00+08:00`).
pub fn parse_device_time(s: &str) -> Result<DateTime<FixedOffset>, MediaError> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|e| MediaError::InvalidOption(format!("device time {s:?} is not RFC 3339 ({e})")))
}

/// One encoded JPEG and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The exact bytes to store.
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Width in px.
    pub width: u32,
    /// Height in px.
    pub height: u32,
}

impl Encoded {
    fn new(bytes: Vec<u8>, width: u32, height: u32) -> Self {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Encoded {
            bytes,
            sha256,
            width,
            height,
        }
    }

    /// The file name this image is stored under: `<sha256>.jpg`.
    pub fn file_name(&self) -> String {
        format!("{}.jpg", self.sha256)
    }
}

/// The result of the pipeline: stored photo, thumbnail and evidence metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The photo to store (upright, resized, stamped unless switched off).
    pub photo: Encoded,
    /// The list thumbnail (never stamped: text would be unreadable).
    pub thumb: Encoded,
    /// Format of the input.
    pub source_format: SourceFormat,
    /// Input width as stored in the file (before orientation).
    pub source_width: u32,
    /// Input height as stored in the file (before orientation).
    pub source_height: u32,
    /// Metadata read from EXIF.
    pub exif: ExifEvidence,
    /// What the caller passed in.
    pub capture: Capture,
    /// Whether the stamp was drawn.
    pub stamped: bool,
}

/// Serialisable evidence record (the CLI's `--json` line; the store keeps
/// the same fields).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Record {
    /// SHA-256 of the stored photo: its identity.
    pub sha256: String,
    /// Stored photo width.
    pub width: u32,
    /// Stored photo height.
    pub height: u32,
    /// Stored photo size in bytes.
    pub bytes: u64,
    /// The thumbnail.
    pub thumb: ThumbRecord,
    /// EXIF capture time (RFC 3339; no offset when the camera wrote none).
    pub taken_at: Option<String>,
    /// EXIF GPS position, WGS-84.
    pub exif_gps: Option<LonLat>,
    /// Device clock at capture (RFC 3339), as passed in.
    pub device_time: Option<String>,
    /// Device position at capture, WGS-84, as passed in.
    pub device_position: Option<LonLat>,
    /// `taken_at − device_time` in seconds (positive: camera clock ahead).
    /// Without an EXIF offset the camera time is read in the device's offset.
    pub clock_skew_s: Option<i64>,
    /// Distance between EXIF GPS and device position, metres.
    pub gps_offset_m: Option<f64>,
    /// Grid code passed in.
    pub grid_code: Option<GridCode>,
    /// Input format, pixel size and EXIF orientation.
    pub source: SourceRecord,
    /// Whether the evidence stamp was drawn.
    pub stamped: bool,
}

/// The thumbnail part of a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThumbRecord {
    /// SHA-256 of the thumbnail bytes.
    pub sha256: String,
    /// Width in px.
    pub width: u32,
    /// Height in px.
    pub height: u32,
    /// Size in bytes.
    pub bytes: u64,
}

/// The input part of a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceRecord {
    /// Input format.
    pub format: SourceFormat,
    /// Width as stored in the file.
    pub width: u32,
    /// Height as stored in the file.
    pub height: u32,
    /// EXIF orientation that was applied (1–8).
    pub orientation: u8,
}

/// Paths of the two files written by [`Processed::store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// `<dir>/<photo sha256>.jpg`.
    pub photo: PathBuf,
    /// `<dir>/<thumb sha256>.jpg`.
    pub thumb: PathBuf,
}

impl Processed {
    /// The clock difference `taken_at − device_time`, in seconds.
    pub fn clock_skew_s(&self) -> Option<i64> {
        let taken = self.exif.taken_at?;
        let device = self.capture.device_time?;
        let offset = taken.offset.unwrap_or(*device.offset());
        let taken = taken.local.and_local_timezone(offset).single()?;
        Some((taken - device).num_seconds())
    }

    /// The evidence record.
    pub fn record(&self) -> Record {
        Record {
            sha256: self.photo.sha256.clone(),
            width: self.photo.width,
            height: self.photo.height,
            bytes: self.photo.bytes.len() as u64,
            thumb: ThumbRecord {
                sha256: self.thumb.sha256.clone(),
                width: self.thumb.width,
                height: self.thumb.height,
                bytes: self.thumb.bytes.len() as u64,
            },
            taken_at: self.exif.taken_at.map(|t| t.to_rfc3339()),
            exif_gps: self.exif.gps,
            device_time: self.capture.device_time.map(|t| t.to_rfc3339()),
            device_position: self.capture.device_position,
            clock_skew_s: self.clock_skew_s(),
            gps_offset_m: match (self.exif.gps, self.capture.device_position) {
                (Some(a), Some(b)) => Some((a.distance_m(&b) * 10.0).round() / 10.0),
                _ => None,
            },
            grid_code: self.capture.grid_code.clone(),
            source: SourceRecord {
                format: self.source_format,
                width: self.source_width,
                height: self.source_height,
                orientation: self.exif.orientation,
            },
            stamped: self.stamped,
        }
    }

    /// Writes photo and thumbnail into `dir` (created if missing) as
    /// `<sha256>.jpg`, each through a temporary file renamed into place, so a
    /// reader never sees a half-written photo.
    ///
    /// `dir` is used as given (not normalised). The directories it names
    /// that do not exist yet are created, and removed again if storing
    /// fails, so a failed run leaves no empty folders; a `..` that would step
    /// out of a directory created only for it is refused (see
    /// [`check_out_dir`]).
    pub fn store(&self, dir: &Path) -> Result<Stored, MediaError> {
        let missing = check_out_dir(dir)?;
        let mut created = Vec::with_capacity(missing.len());
        let result = create_dirs(&missing, &mut created).and_then(|()| self.store_in(dir));
        if result.is_err() {
            // Innermost first; a folder someone else filled meanwhile stays.
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        result
    }

    fn store_in(&self, dir: &Path) -> Result<Stored, MediaError> {
        // Write both temp files first, then rename: a failure while writing
        // leaves no stored file behind.
        let mut temps = Vec::with_capacity(2);
        for img in [&self.photo, &self.thumb] {
            let mut tmp = tempfile::Builder::new()
                .prefix(".incoming-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(io("creating a temporary file in", dir))?;
            tmp.write_all(&img.bytes)
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(io("writing", tmp.path()))?;
            temps.push((tmp, dir.join(img.file_name())));
        }
        let mut paths = Vec::with_capacity(2);
        for (tmp, dest) in temps {
            tmp.persist(&dest)
                .map_err(|e| io("renaming into", &dest)(e.error))?;
            paths.push(dest);
        }
        let thumb = paths.pop().expect("two paths");
        let photo = paths.pop().expect("two paths");
        Ok(Stored { photo, thumb })
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> MediaError {
    let path = path.to_path_buf();
    move |source| MediaError::Io {
        action,
        path,
        source,
    }
}

/// Creates `dirs` (outermost first), recording in `created` each one this
/// call made; one that appeared meanwhile is not ours to remove later.
fn create_dirs(dirs: &[PathBuf], created: &mut Vec<PathBuf>) -> Result<(), MediaError> {
    for d in dirs {
        match std::fs::create_dir(d) {
            Ok(()) => created.push(d.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(io("creating", d)(e)),
        }
    }
    Ok(())
}

/// Checks an output directory before anything is read or written and
/// returns the directories that storing into it would create, outermost
/// first. The path is used as given; what is refused is a `..` right after
/// a directory that does not exist yet (`new/../store`): creating `new` only
/// to step out of it would leave a stray empty folder and put the photos
/// somewhere other than where the path seems to point.
pub fn check_out_dir(dir: &Path) -> Result<Vec<PathBuf>, MediaError> {
    use std::path::Component;
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.as_os_str().is_empty() && !cur.exists() {
        match cur.components().next_back() {
            Some(Component::Normal(_)) => missing.push(cur.to_path_buf()),
            Some(Component::CurDir) => {}
            _ => {
                return Err(MediaError::InvalidOption(format!(
                    "output directory {}: `..` steps out of {}, which does not exist",
                    dir.display(),
                    cur.parent().unwrap_or(cur).display()
                )))
            }
        }
        cur = cur.parent().unwrap_or(Path::new(""));
    }
    missing.reverse();
    Ok(missing)
}

/// Refuses anything but a regular file, naming what it is.
fn require_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), MediaError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Err(MediaError::NotAFile {
        path: path.to_path_buf(),
        kind,
    })
}

/// Reads a regular file, refusing it from its size alone when it is over
/// `limits.max_bytes` (nothing beyond the limit is read). FIFOs, devices,
/// sockets and directories are refused before they are opened.
pub fn read_limited(path: &Path, limits: &Limits) -> Result<Vec<u8>, MediaError> {
    let io = |source| MediaError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    };
    // Opening a FIFO for reading blocks until a writer appears, so look
    // first (following symlinks, like open does), then check again on the
    // opened file in case the path was swapped in between.
    require_regular(path, &std::fs::metadata(path).map_err(io)?)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    require_regular(path, &meta)?;
    let len = meta.len();
    if len > limits.max_bytes {
        return Err(MediaError::TooManyBytes {
            bytes: len,
            limit: limits.max_bytes,
        });
    }
    let mut data = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while we read it.
    file.take(limits.max_bytes + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > limits.max_bytes {
        return Err(MediaError::TooManyBytes {
            bytes: data.len() as u64,
            limit: limits.max_bytes,
        });
    }
    Ok(data)
}

/// Reads, processes and stores one photo: the whole `media process` job.
/// On any refusal nothing is created in `dir`.
pub fn process_file(
    input: &Path,
    dir: &Path,
    capture: &Capture,
    opts: &Options,
) -> Result<(Processed, Stored), MediaError> {
    opts.validate()?;
    // A bad output path is refused before the photo is read or decoded.
    check_out_dir(dir)?;
    let data = read_limited(input, &opts.limits)?;
    let decoded = decode::decode(&data, opts)?;
    // The file is not needed past decoding: free it before resizing.
    drop(data);
    let processed = process_decoded(decoded, capture, opts)?;
    let stored = processed.store(dir)?;
    Ok((processed, stored))
}

/// Runs the pipeline on bytes in memory: decode (after the header checks),
/// resize, apply the EXIF orientation, stamp, encode photo and thumbnail.
pub fn process(input: &[u8], capture: &Capture, opts: &Options) -> Result<Processed, MediaError> {
    check_input(input, opts)?;
    let decoded = decode::decode(input, opts)?;
    process_decoded(decoded, capture, opts)
}

/// Options in range, and bytes present and within the size limit.
fn check_input(input: &[u8], opts: &Options) -> Result<(), MediaError> {
    opts.validate()?;
    if input.is_empty() {
        return Err(MediaError::Empty);
    }
    if input.len() as u64 > opts.limits.max_bytes {
        return Err(MediaError::TooManyBytes {
            bytes: input.len() as u64,
            limit: opts.limits.max_bytes,
        });
    }
    Ok(())
}

/// The thumbnail of a photo that has already been through the pipeline
/// (received from the server, say): decoded within `opts.limits`, turned
/// upright if its EXIF says so, fitted to `opts.thumb_edge` and encoded at
/// `opts.thumb_quality`. Nothing is stamped.
pub fn thumbnail(input: &[u8], opts: &Options) -> Result<Encoded, MediaError> {
    check_input(input, opts)?;
    let decoded = decode::decode(input, opts)?;
    let orientation = read_exif(decoded.exif.as_deref()).orientation;
    let (tw, th) = fit(decoded.width, decoded.height, opts.thumb_edge);
    let small = resize(decoded.rgb, decoded.width, decoded.height, tw, th)?;
    let (upright, w, h) = orient(small, tw, th, orientation);
    encode(&upright, w, h, opts.thumb_quality, None)
}

/// The pipeline after decoding (the input bytes are no longer needed).
fn process_decoded(
    decoded: decode::Decoded,
    capture: &Capture,
    opts: &Options,
) -> Result<Processed, MediaError> {
    let exif = read_exif(decoded.exif.as_deref());
    let (source_width, source_height) = (decoded.width, decoded.height);

    // Resize before rotating: the long edge does not depend on orientation,
    // and turning 3 MP is cheaper than turning 12 MP.
    let (w, h) = fit(decoded.width, decoded.height, opts.max_edge);
    let resized = resize(decoded.rgb, decoded.width, decoded.height, w, h)?;
    let (upright, w, h) = orient(resized, w, h, exif.orientation);

    // The thumbnail (from the unstamped pixels) and the stamped photo are
    // independent: make them on two threads.
    let (tw, th) = fit(w, h, opts.thumb_edge);
    let (thumb, photo) = std::thread::scope(|s| {
        let thumb = s.spawn(|| {
            let thumb_rgb = resize_ref(&upright, w, h, tw, th)?;
            encode(&thumb_rgb, tw, th, opts.thumb_quality, None)
        });
        let photo = {
            let mut photo_rgb = upright.clone();
            if opts.stamp {
                let time = capture
                    .device_time
                    .map(|t| t.to_rfc3339())
                    .or_else(|| exif.taken_at.map(|t| t.to_rfc3339()));
                let position = capture.device_position.or(exif.gps);
                let text = StampText::new(time.as_deref(), position, capture.grid_code.as_ref());
                stamp::draw(&mut photo_rgb, w, h, &text);
            }
            encode(&photo_rgb, w, h, opts.quality, decoded.icc.as_deref())
        };
        let thumb = thumb.join().expect("thumbnail thread does not panic");
        (thumb, photo)
    });
    let (thumb, photo) = (thumb?, photo?);

    Ok(Processed {
        photo,
        thumb,
        source_format: decoded.format,
        source_width,
        source_height,
        exif,
        capture: capture.clone(),
        stamped: opts.stamp,
    })
}

/// Size that fits in a `max_edge` square keeping the aspect ratio; never
/// larger than the input.
pub fn fit(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_edge {
        return (width, height);
    }
    let scale = f64::from(max_edge) / f64::from(long);
    let w = ((f64::from(width) * scale).round() as u32).clamp(1, max_edge);
    let h = ((f64::from(height) * scale).round() as u32).clamp(1, max_edge);
    (w, h)
}

fn resize(rgb: Vec<u8>, w: u32, h: u32, tw: u32, th: u32) -> Result<Vec<u8>, MediaError> {
    if (w, h) == (tw, th) {
        return Ok(rgb);
    }
    resize_ref(&rgb, w, h, tw, th)
}

/// Resizes with a Catmull-Rom convolution (sharp, no ringing to speak of),
/// SIMD and split across cores by `fast_image_resize`.
fn resize_ref(rgb: &[u8], w: u32, h: u32, tw: u32, th: u32) -> Result<Vec<u8>, MediaError> {
    if (w, h) == (tw, th) {
        return Ok(rgb.to_vec());
    }
    let err = |e: &dyn fmt::Display| MediaError::Resize(e.to_string());
    let src = fr::images::ImageRef::new(w, h, rgb, fr::PixelType::U8x3).map_err(|e| err(&e))?;
    let mut dst = fr::images::Image::new(tw, th, fr::PixelType::U8x3);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| err(&e))?;
    Ok(dst.into_vec())
}

/// Applies EXIF orientation `o` to a packed RGB image, returning the upright
/// pixels and their size.
fn orient(rgb: Vec<u8>, w: u32, h: u32, o: u8) -> (Vec<u8>, u32, u32) {
    if o <= 1 || o > 8 {
        return (rgb, w, h);
    }
    let (w, h) = (w as usize, h as usize);
    let swap = o >= 5;
    let (dw, dh) = if swap { (h, w) } else { (w, h) };
    let mut out = vec![0u8; rgb.len()];
    for y in 0..h {
        for x in 0..w {
            // Where stored pixel (x, y) is displayed (EXIF 2.3, tag 0x0112).
            let (u, v) = match o {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (h - 1 - y, x),
                7 => (h - 1 - y, w - 1 - x),
                _ => (y, w - 1 - x),
            };
            let s = (y * w + x) * 3;
            let d = (v * dw + u) * 3;
            out[d..d + 3].copy_from_slice(&rgb[s..s + 3]);
        }
    }
    (out, dw as u32, dh as u32)
}

fn encode(
    rgb: &[u8],
    w: u32,
    h: u32,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Encoded, MediaError> {
    let err = |e: jpeg_encoder::EncodingError| MediaError::Encode(e.to_string());
    let (ew, eh) = (
        u16::try_from(w).map_err(|_| MediaError::Encode(format!("width {w} too large")))?,
        u16::try_from(h).map_err(|_| MediaError::Encode(format!("height {h} too large")))?,
    );
    let mut bytes = Vec::with_capacity(rgb.len() / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut bytes, quality);
    // Standard Huffman tables: jpeg-encoder 0.6.1's optimised tables produce
    // files that decode to wrong colours (seen in our tests), so they stay off.
    if let Some(icc) = icc {
        // Only the colour profile travels with the pixels; no EXIF is written.
        enc.add_icc_profile(icc).map_err(err)?;
    }
    enc.encode(rgb, ew, eh, jpeg_encoder::ColorType::Rgb)
        .map_err(err)?;
    Ok(Encoded::new(bytes, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_upscales_and_keeps_aspect() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3000, 4000, 2048), (1536, 2048));
        assert_eq!(fit(800, 600, 2048), (800, 600));
        assert_eq!(fit(10000, 10, 2048), (2048, 2));
    }

    #[test]
    fn grid_codes_must_be_15_digits() {
        assert!("110105001002003".parse::<GridCode>().is_ok());
        assert!("11010500100200".parse::<GridCode>().is_err());
        assert!("11010500100200x".parse::<GridCode>().is_err());
    }

    #[test]
    fn orientation_6_turns_clockwise() {
        // 2×1 stored: [A B] → displayed as a column with A on top.
        let (out, w, h) = orient(vec![1, 1, 1, 2, 2, 2], 2, 1, 6);
        assert_eq!((w, h), (1, 2));
        assert_eq!(out, vec![1, 1, 1, 2, 2, 2]);
        let (out, _, _) = orient(vec![1, 1, 1, 2, 2, 2], 2, 1, 8);
        assert_eq!(out, vec![2, 2, 2, 1, 1, 1]);
    }

    #[test]
    fn bad_options_are_refused() {
        let o = Options {
            quality: 0,
            ..Options::default()
        };
        assert!(matches!(o.validate(), Err(MediaError::InvalidOption(_))));
        let o = Options {
            thumb_edge: 4096,
            ..Options::default()
        };
        assert!(o.validate().is_err());
    }
}
