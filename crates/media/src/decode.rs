//! Format detection and decoding to 8-bit RGB, with the pixel limit checked
//! from the header before any pixel buffer exists.

use std::io::Cursor;

use image::ImageDecoder;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::{Limits, MediaError, Options};

/// Image formats the pipeline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// JPEG / JFIF / EXIF JPEG.
    Jpeg,
    /// PNG (8 or 16 bit, any colour type).
    Png,
    /// WebP (lossy or lossless).
    Webp,
}

impl SourceFormat {
    /// Upper-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "JPEG",
            SourceFormat::Png => "PNG",
            SourceFormat::Webp => "WebP",
        }
    }
}

const CAMERA_HINT: &str = "set the camera to JPEG (on iPhone: Settings > Camera > Formats > Most Compatible) and take the photo again";

/// Identifies the format from the leading magic bytes. Recognised but
/// undecodable formats (HEIC, AVIF, GIF, TIFF, BMP) get their own message.
pub fn sniff(data: &[u8]) -> Result<SourceFormat, MediaError> {
    if data.is_empty() {
        return Err(MediaError::Empty);
    }
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        return Ok(SourceFormat::Webp);
    }
    // ISO-BMFF ('ftyp' box first): HEIF family or AVIF.
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        let brand = &data[8..12];
        let is_avif = brand == b"avif" || brand == b"avis";
        return Err(MediaError::Unsupported {
            format: if is_avif { "AVIF" } else { "HEIC/HEIF" },
            hint: CAMERA_HINT,
        });
    }
    let other = if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("GIF")
    } else if data.starts_with(b"II*\0") || data.starts_with(b"MM\0*") {
        Some("TIFF/RAW")
    } else if data.starts_with(b"BM") && data.len() > 14 {
        Some("BMP")
    } else {
        None
    };
    match other {
        Some(format) => Err(MediaError::Unsupported {
            format,
            hint: "send a JPEG, PNG or WebP photo",
        }),
        None if data.len() < 12 => Err(MediaError::Corrupt {
            format: "image",
            detail: format!("only {} bytes", data.len()),
        }),
        None => Err(MediaError::NotAnImage),
    }
}

/// A decoded picture in the orientation it is stored in the file.
pub(crate) struct Decoded {
    pub format: SourceFormat,
    pub width: u32,
    pub height: u32,
    /// Packed 8-bit RGB, `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    /// Raw EXIF (TIFF structure), if the file has any.
    pub exif: Option<Vec<u8>>,
    /// Embedded colour profile, carried over so colours stay right.
    pub icc: Option<Vec<u8>>,
}

/// Reads only the header and returns (format, width, height).
pub fn probe(data: &[u8]) -> Result<(SourceFormat, u32, u32), MediaError> {
    let format = sniff(data)?;
    let (w, h) = match format {
        SourceFormat::Jpeg => {
            let mut dec = jpeg_decoder(data);
            dec.decode_headers().map_err(|e| corrupt(format, e))?;
            let info = dec
                .info()
                .ok_or_else(|| corrupt(format, "no frame header"))?;
            (u32::from(info.width), u32::from(info.height))
        }
        SourceFormat::Png | SourceFormat::Webp => {
            let reader = image::ImageReader::with_format(Cursor::new(data), image_format(format));
            reader.into_dimensions().map_err(|e| corrupt(format, e))?
        }
    };
    Ok((format, w, h))
}

fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), MediaError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(MediaError::TooManyPixels {
            width: width.into(),
            height: height.into(),
            limit: limits.max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            format: "image",
            detail: "zero width or height".into(),
        });
    }
    Ok(())
}

fn corrupt(format: SourceFormat, e: impl std::fmt::Display) -> MediaError {
    MediaError::Corrupt {
        format: format.name(),
        detail: e.to_string(),
    }
}

fn jpeg_decoder(data: &[u8]) -> JpegDecoder<ZCursor<&[u8]>> {
    // Strict mode turns a truncated entropy stream into an error instead of
    // a silently grey lower half: half a photo is not evidence. (No check for
    // the EOI marker at the end: motion photos append a video after it.)
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    JpegDecoder::new_with_options(ZCursor::new(data), options)
}

/// A JPEG prepared by [`mark_scan_ends`].
struct Scans {
    /// The padded copy to decode.
    data: Vec<u8>,
    /// Number of scans (SOS segments).
    count: usize,
    /// Bytes of DCT coefficients in the frame (what a decoder that buffers
    /// the whole image holds).
    coefficient_bytes: u64,
}

/// 128 one-bits as entropy-coded bytes (0xFF is stuffed as `FF 00`).
const ONE_BITS: [u8; 32] = [
    0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
    0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
];

/// A copy of the JPEG with [`ONE_BITS`] inserted wherever entropy-coded data
/// ends (before each RSTn inside a scan, before whatever follows a scan, and
/// at the end of the file), after checking that the scans cover every
/// coefficient of every component. `Err` says why the file is damaged.
///
/// Why: zune-jpeg, like libjpeg, pads a scan that stops at a marker with
/// 0-bits, and 0-bits decode as valid flat blocks, so a file cut short and
/// given an EOI, or whose SOF declares more rows than the scan holds,
/// decodes "fine" with grey bands even in strict mode. JPEG never assigns an
/// all-ones Huffman code (T.81 C.2), so with 1-bits as the padding, reading
/// past the real data is a decode error instead. A complete scan consumes
/// only its own bits and decodes to the same pixels as the original.
///
/// zune-jpeg insists on finding the marker right after a progressive
/// file's first scan, so that one scan is not padded; a progressive file cut
/// inside it has lost its later scans, which the coverage check catches.
fn mark_scan_ends(data: &[u8]) -> Result<Scans, String> {
    let broken = || "the marker structure is broken".to_string();
    let be16 = |at: usize| -> Result<usize, String> {
        match (data.get(at), data.get(at + 1)) {
            (Some(&a), Some(&b)) => Ok(usize::from(u16::from_be_bytes([a, b]))),
            _ => Err(broken()),
        }
    };
    let byte = |at: usize| data.get(at).copied().ok_or_else(broken);
    let mut out = Vec::with_capacity(data.len() + 64 * ONE_BITS.len());
    out.extend_from_slice(data.get(..2).ok_or_else(broken)?);
    // Per frame component (id): the lowest successive-approximation bit
    // position reached so far for each of the 64 coefficients.
    let mut coverage: Vec<(u8, [u8; 64])> = Vec::new();
    let mut progressive = false;
    let mut scans = 0usize;
    let mut coefficient_bytes = 0u64;
    let mut pos = 2;
    let complete = |coverage: &[(u8, [u8; 64])]| {
        if coverage.is_empty() || coverage.iter().any(|(_, c)| c.iter().any(|&al| al != 0)) {
            Err("scans are missing: part of the picture was never sent".to_string())
        } else {
            Ok(())
        }
    };
    loop {
        // At a marker: 0xFF, optional fill bytes, the marker code.
        if byte(pos)? != 0xFF {
            return Err(broken());
        }
        let mut code_at = pos + 1;
        while byte(code_at)? == 0xFF {
            code_at += 1;
        }
        let code = data[code_at];
        let body = code_at + 1;
        match code {
            // EOI: anything after it (a motion photo's video) is not ours.
            0xD9 => {
                complete(&coverage)?;
                out.extend_from_slice(&data[pos..]);
                return Ok(Scans {
                    data: out,
                    count: scans,
                    coefficient_bytes,
                });
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&data[pos..body]);
                pos = body;
            }
            // SOF0–SOF2 (baseline, extended, progressive): the components.
            0xC0..=0xC2 => {
                let end = body + be16(body)?;
                let n = usize::from(byte(body + 7)?);
                progressive = code == 0xC2;
                coverage = (0..n)
                    .map(|k| Ok((byte(body + 8 + 3 * k)?, [u8::MAX; 64])))
                    .collect::<Result<_, String>>()?;
                // What a decoder that buffers the whole image keeps: 64 i16
                // coefficients per block, blocks padded to whole MCUs.
                let sampling = (0..n)
                    .map(|k| byte(body + 9 + 3 * k).map(|b| (u64::from(b >> 4), u64::from(b & 15))))
                    .collect::<Result<Vec<_>, String>>()?;
                let hmax = sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1);
                let vmax = sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1);
                let (rows, cols) = (be16(body + 3)? as u64, be16(body + 5)? as u64);
                let mcus = cols.div_ceil(8 * hmax) * rows.div_ceil(8 * vmax);
                coefficient_bytes = sampling.iter().map(|(h, v)| mcus * h * v * 128).sum();
                out.extend_from_slice(data.get(pos..end).ok_or_else(broken)?);
                pos = end;
            }
            0xDA => {
                let header_end = body + be16(body)?;
                let ns = usize::from(byte(body + 2)?);
                let spectral = body + 3 + 2 * ns;
                let (ss, se, al) = (
                    usize::from(byte(spectral)?),
                    usize::from(byte(spectral + 1)?),
                    byte(spectral + 2)? & 0x0F,
                );
                let (ss, se, al) = if progressive {
                    (ss, se, al)
                } else {
                    (0, 63, 0)
                };
                for k in 0..ns {
                    let id = byte(body + 3 + 2 * k)?;
                    let (_, c) = coverage
                        .iter_mut()
                        .find(|(cid, _)| *cid == id)
                        .ok_or("a scan names a component the frame does not have")?;
                    for v in c.get_mut(ss..=se.min(63)).unwrap_or_default() {
                        *v = (*v).min(al);
                    }
                }
                scans += 1;
                let pad = !(progressive && scans == 1);
                out.extend_from_slice(data.get(pos..header_end).ok_or_else(broken)?);
                // Entropy-coded data until a marker that is not stuffing.
                let mut i = header_end;
                loop {
                    let rest = data.get(i..).ok_or_else(broken)?;
                    let Some(ff) = rest.iter().position(|&b| b == 0xFF).map(|r| i + r) else {
                        // Cut off without any marker: pad the end too.
                        out.extend_from_slice(rest);
                        if pad {
                            out.extend_from_slice(&ONE_BITS);
                        }
                        complete(&coverage)?;
                        return Ok(Scans {
                            data: out,
                            count: scans,
                            coefficient_bytes,
                        });
                    };
                    let mut next = ff + 1;
                    while data.get(next) == Some(&0xFF) {
                        next += 1;
                    }
                    let m = byte(next)?;
                    out.extend_from_slice(&data[i..ff]);
                    if m == 0x00 {
                        out.extend_from_slice(&data[ff..=next]);
                        i = next + 1;
                        continue;
                    }
                    if pad {
                        out.extend_from_slice(&ONE_BITS);
                    }
                    if (0xD0..=0xD7).contains(&m) {
                        out.extend_from_slice(&data[ff..=next]);
                        i = next + 1;
                        continue;
                    }
                    pos = ff;
                    break;
                }
            }
            _ => {
                let end = body + be16(body)?;
                out.extend_from_slice(data.get(pos..end).ok_or_else(broken)?);
                pos = end;
            }
        }
    }
}

fn image_format(format: SourceFormat) -> image::ImageFormat {
    match format {
        SourceFormat::Jpeg => image::ImageFormat::Jpeg,
        SourceFormat::Png => image::ImageFormat::Png,
        SourceFormat::Webp => image::ImageFormat::WebP,
    }
}

/// Decodes `data` to RGB after checking the header against `opts.limits`
/// (pixels, then the memory the whole pipeline will need).
pub(crate) fn decode(data: &[u8], opts: &Options) -> Result<Decoded, MediaError> {
    let format = sniff(data)?;
    match format {
        SourceFormat::Jpeg => decode_jpeg(data, opts),
        SourceFormat::Png | SourceFormat::Webp => decode_with_image(data, format, opts),
    }
}

/// Refuses a photo whose processing would need more than
/// `limits.max_memory`, estimated from its header: the peak of the decode
/// (`held` input bytes, the decoder's own `scratch`, the RGB output) and of
/// the resize (input, RGB, fast_image_resize's intermediate image of the
/// target width × source height or the other way round, the output).
fn check_memory(
    what: impl FnOnce() -> String,
    (width, height): (u32, u32),
    (input, held, scratch): (u64, u64, u64),
    opts: &Options,
) -> Result<(), MediaError> {
    let (w, h) = (u64::from(width), u64::from(height));
    let (tw, th) = crate::fit(width, height, opts.max_edge);
    let (tw, th) = (u64::from(tw), u64::from(th));
    let rgb = 3 * w * h;
    let decode = held + scratch + rgb;
    let resize = input + rgb + 3 * (tw * h).max(w * th) + 3 * tw * th;
    let need = decode.max(resize);
    let limit = opts.limits.max_memory;
    if need <= limit {
        return Ok(());
    }
    Err(MediaError::TooMuchMemory {
        what: what(),
        width,
        height,
        needed_mb: need.div_ceil(1_000_000),
        limit_mb: limit / 1_000_000,
    })
}

fn decode_jpeg(data: &[u8], opts: &Options) -> Result<Decoded, MediaError> {
    let limits = &opts.limits;
    let format = SourceFormat::Jpeg;
    let mut dec = jpeg_decoder(data);
    dec.decode_headers().map_err(|e| corrupt(format, e))?;
    let info = dec
        .info()
        .ok_or_else(|| corrupt(format, "no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, limits)?;
    let exif = dec.exif().cloned();
    let rgb_source = matches!(
        dec.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::RGB)
    );
    let icc = rgb_profile(dec.icc_profile(), rgb_source);
    let progressive = info.sof.is_progressive();
    drop(dec);
    // Decode a copy whose compressed data is followed by 1-bits wherever it
    // ends (see `mark_scan_ends`): a complete scan never reads them, a scan
    // that ends early does and fails on the first all-ones (invalid) code.
    let scans = mark_scan_ends(data).map_err(|e| corrupt(format, e))?;
    // A progressive or multi-scan file is decoded whole: zune-jpeg keeps
    // every coefficient.
    let scratch = if progressive || scans.count > 1 {
        scans.coefficient_bytes
    } else {
        0
    };
    let marked = scans.data;
    let len = data.len() as u64;
    let what = || {
        let kind = if progressive {
            "progressive"
        } else {
            "baseline"
        };
        format!("{kind} JPEG")
    };
    check_memory(
        what,
        (width, height),
        (len, len + marked.len() as u64, scratch),
        opts,
    )?;
    let mut dec = jpeg_decoder(&marked);
    let rgb = dec.decode().map_err(|e| {
        corrupt(
            format,
            format!("the compressed data ends before the image does ({e})"),
        )
    })?;
    drop(marked);
    let expected = width as usize * height as usize * 3;
    if rgb.len() != expected {
        return Err(corrupt(format, "decoder returned a short pixel buffer"));
    }
    Ok(Decoded {
        format,
        width,
        height,
        rgb,
        exif,
        icc,
    })
}

fn decode_with_image(
    data: &[u8],
    format: SourceFormat,
    opts: &Options,
) -> Result<Decoded, MediaError> {
    let limits = &opts.limits;
    let reader = image::ImageReader::with_format(Cursor::new(data), image_format(format));
    let mut dec = reader.into_decoder().map_err(|e| corrupt(format, e))?;
    let (width, height) = dec.dimensions();
    check_pixels(width, height, limits)?;
    // `image` decodes into the file's own layout (8 bytes a pixel for
    // 16-bit RGBA), which `to_rgb` then turns into RGB in one pass; WebP's
    // decoder holds a YUV frame as well.
    let colour = dec.color_type();
    let webp_frame = if format == SourceFormat::Webp {
        2 * u64::from(width) * u64::from(height)
    } else {
        0
    };
    let len = data.len() as u64;
    let what = || {
        use image::ColorType as C;
        let layout = match colour {
            C::L8 => "8-bit grey ",
            C::La8 => "8-bit grey+alpha ",
            C::Rgb8 => "8-bit RGB ",
            C::Rgba8 => "8-bit RGBA ",
            C::L16 => "16-bit grey ",
            C::La16 => "16-bit grey+alpha ",
            C::Rgb16 => "16-bit RGB ",
            C::Rgba16 => "16-bit RGBA ",
            _ => "",
        };
        format!("{layout}{}", format.name())
    };
    check_memory(
        what,
        (width, height),
        (len, len, dec.total_bytes() + webp_frame),
        opts,
    )?;
    // Belt and braces: cap what the decoder may allocate to what the
    // header-checked size needs (16-bit RGBA is the widest layout).
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(1 << 24));
    dec.set_limits(decoder_limits)
        .map_err(|e| corrupt(format, e))?;
    let exif = dec.exif_metadata().ok().flatten();
    let rgb_source = dec.color_type().has_color();
    let icc = rgb_profile(dec.icc_profile().ok().flatten(), rgb_source);
    let img = image::DynamicImage::from_decoder(dec).map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels {
            width: width.into(),
            height: height.into(),
            limit: limits.max_pixels,
        },
        other => corrupt(format, other),
    })?;
    let rgb = to_rgb(img);
    Ok(Decoded {
        format,
        width,
        height,
        rgb,
        exif,
        icc,
    })
}

/// The profile to carry over to the RGB output, if it describes it: only an
/// RGB profile (data colour space `RGB `) on a source whose pixels were RGB.
/// A grey or CMYK profile, or any profile on a grey or CMYK source (whose
/// pixels the decoder has converted to RGB), would make viewers recolour
/// the evidence, so it is dropped and the pixels are read as sRGB.
fn rgb_profile(icc: Option<Vec<u8>>, rgb_source: bool) -> Option<Vec<u8>> {
    let icc = icc?;
    let declared = icc
        .get(0..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let fits = icc.len() >= 128 && declared == Some(icc.len() as u32);
    let ok = rgb_source
        && fits
        && &icc[36..40] == b"acsp"
        && &icc[16..20] == b"RGB "
        && matches!(&icc[20..24], b"XYZ " | b"Lab ")
        && matches!(&icc[12..16], b"mntr" | b"scnr" | b"spac");
    ok.then_some(icc)
}

/// Packed 8-bit RGB from any decoded layout in one pass (no intermediate
/// 8-bit RGBA copy of a 16-bit image), transparency flattened on white.
fn to_rgb(img: image::DynamicImage) -> Vec<u8> {
    use image::DynamicImage as D;
    match img {
        D::ImageRgb8(b) => b.into_raw(),
        D::ImageLuma8(b) => flatten_on_white(b.as_raw(), 1, 255),
        D::ImageLumaA8(b) => flatten_on_white(b.as_raw(), 2, 255),
        D::ImageRgba8(b) => flatten_on_white(b.as_raw(), 4, 255),
        D::ImageLuma16(b) => flatten_on_white(b.as_raw(), 1, 65535),
        D::ImageLumaA16(b) => flatten_on_white(b.as_raw(), 2, 65535),
        D::ImageRgb16(b) => flatten_on_white(b.as_raw(), 3, 65535),
        D::ImageRgba16(b) => flatten_on_white(b.as_raw(), 4, 65535),
        // Float layouts do not come out of PNG or WebP.
        other => flatten_on_white(other.into_rgba8().as_raw(), 4, 255),
    }
}

/// Grey or RGB samples (`channels` 1–4, alpha last when 2 or 4) with maximum
/// `max` to 8-bit RGB, composited over white: transparent parts of a
/// screenshot or sticker should not turn black in the stored JPEG.
fn flatten_on_white<T: Copy + Into<u32>>(samples: &[T], channels: usize, max: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() / channels * 3);
    let alpha = channels == 2 || channels == 4;
    let colour = if channels >= 3 { 3 } else { 1 };
    let (max, max2) = (u64::from(max), u64::from(max) * u64::from(max));
    for px in samples.chunks_exact(channels) {
        let a = if alpha {
            u64::from(px[channels - 1].into())
        } else {
            max
        };
        let mut rgb = [0u8; 3];
        for (k, v) in rgb.iter_mut().enumerate() {
            let c = u64::from(px[k.min(colour - 1)].into());
            // c·a + max·(max − a), scaled from max² to 255, rounded.
            *v = (((c * a + max * (max - a)) * 255 + max2 / 2) / max2) as u8;
        }
        out.extend_from_slice(&rgb);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_names_heic_and_gives_the_camera_hint() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic");
        heic.extend_from_slice(&[0; 16]);
        let msg = sniff(&heic).unwrap_err().to_string();
        assert!(msg.contains("HEIC"), "{msg}");
        assert!(msg.contains("Most Compatible"), "{msg}");
    }

    #[test]
    fn sniff_refuses_text_and_empty() {
        assert!(matches!(sniff(b""), Err(MediaError::Empty)));
        assert!(matches!(
            sniff(b"hello, this is not a picture at all"),
            Err(MediaError::NotAnImage)
        ));
        assert!(matches!(
            sniff(b"GIF89a\x01\x00\x01\x00"),
            Err(MediaError::Unsupported { format: "GIF", .. })
        ));
    }

    #[test]
    fn padding_the_scan_ends_does_not_change_a_complete_photo() {
        use crate::synth::{jpeg_with, street_scene, JpegSpec, Layout};
        let rgb = street_scene(120, 90, 3);
        for spec in [
            JpegSpec::default(),
            JpegSpec {
                restart_interval: Some(3),
                ..JpegSpec::default()
            },
            JpegSpec {
                progressive: true,
                ..JpegSpec::default()
            },
            JpegSpec {
                layout: Layout::Luma,
                ..JpegSpec::default()
            },
        ] {
            let px = if spec.layout == Layout::Luma {
                rgb.iter().step_by(3).copied().collect()
            } else {
                rgb.clone()
            };
            let file = jpeg_with(&px, 120, 90, 85, &spec).unwrap();
            let plain = jpeg_decoder(&file).decode().unwrap();
            let marked = mark_scan_ends(&file).unwrap().data;
            assert!(marked.len() > file.len(), "{spec:?}");
            assert_eq!(jpeg_decoder(&marked).decode().unwrap(), plain, "{spec:?}");
        }
    }

    #[test]
    fn transparent_pixels_become_white() {
        let out = flatten_on_white(&[0u8, 0, 0, 0, 10, 20, 30, 255], 4, 255);
        assert_eq!(out, vec![255, 255, 255, 10, 20, 30]);
        let out = flatten_on_white(&[0u16, 0, 0, 0, 2570, 5140, 7710, 65535], 4, 65535);
        assert_eq!(out, vec![255, 255, 255, 10, 20, 30]);
        assert_eq!(flatten_on_white(&[7u8, 9], 1, 255), vec![7, 7, 7, 9, 9, 9]);
        assert_eq!(flatten_on_white(&[0u16, 0], 2, 65535), vec![255; 3]);
    }
}
