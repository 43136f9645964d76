//! Format detection and decoding to 8-bit RGB, with the pixel limit checked
//! from the header before any pixel buffer exists.

use std::io::Cursor;

use image::ImageDecoder;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::{Limits, MediaError};

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

fn image_format(format: SourceFormat) -> image::ImageFormat {
    match format {
        SourceFormat::Jpeg => image::ImageFormat::Jpeg,
        SourceFormat::Png => image::ImageFormat::Png,
        SourceFormat::Webp => image::ImageFormat::WebP,
    }
}

/// Decodes `data` to RGB after checking the header against `limits`.
pub(crate) fn decode(data: &[u8], limits: &Limits) -> Result<Decoded, MediaError> {
    let format = sniff(data)?;
    match format {
        SourceFormat::Jpeg => decode_jpeg(data, limits),
        SourceFormat::Png | SourceFormat::Webp => decode_with_image(data, format, limits),
    }
}

fn decode_jpeg(data: &[u8], limits: &Limits) -> Result<Decoded, MediaError> {
    let format = SourceFormat::Jpeg;
    let mut dec = jpeg_decoder(data);
    dec.decode_headers().map_err(|e| corrupt(format, e))?;
    let info = dec
        .info()
        .ok_or_else(|| corrupt(format, "no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, limits)?;
    let exif = dec.exif().cloned();
    let icc = dec.icc_profile();
    let rgb = dec.decode().map_err(|e| corrupt(format, e))?;
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
    limits: &Limits,
) -> Result<Decoded, MediaError> {
    let reader = image::ImageReader::with_format(Cursor::new(data), image_format(format));
    let mut dec = reader.into_decoder().map_err(|e| corrupt(format, e))?;
    let (width, height) = dec.dimensions();
    check_pixels(width, height, limits)?;
    // Belt and braces: cap what the decoder may allocate to what the
    // header-checked size needs (16-bit RGBA is the widest layout).
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(1 << 24));
    dec.set_limits(decoder_limits)
        .map_err(|e| corrupt(format, e))?;
    let exif = dec.exif_metadata().ok().flatten();
    let icc = dec.icc_profile().ok().flatten();
    let img = image::DynamicImage::from_decoder(dec).map_err(|e| match e {
        image::ImageError::Limits(_) => MediaError::TooManyPixels {
            width: width.into(),
            height: height.into(),
            limit: limits.max_pixels,
        },
        other => corrupt(format, other),
    })?;
    let rgb = if img.color().has_alpha() {
        flatten_on_white(img.into_rgba8().into_raw())
    } else {
        img.into_rgb8().into_raw()
    };
    Ok(Decoded {
        format,
        width,
        height,
        rgb,
        exif,
        icc,
    })
}

/// Composites RGBA over white: transparent parts of a screenshot or sticker
/// should not turn black in the stored JPEG.
fn flatten_on_white(rgba: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let a = u32::from(px[3]);
        for &c in &px[..3] {
            let v = (u32::from(c) * a + 255 * (255 - a) + 127) / 255;
            out.push(v as u8);
        }
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
    fn transparent_pixels_become_white() {
        let out = flatten_on_white(vec![0, 0, 0, 0, 10, 20, 30, 255]);
        assert_eq!(out, vec![255, 255, 255, 10, 20, 30]);
    }
}
