//! Writes the fuzz corpus seeds: small JPEGs (baseline and progressive,
//! every EXIF orientation, GPS and capture time), PNGs (RGB, RGBA, grey,
//! 16-bit), a lossless WebP and a HEIC-like header. Seeds are generated,
//! never committed: `cargo run -p gridpatrol-media --example fuzz_seeds -- DIR`.

use std::io::Cursor;
use std::path::PathBuf;

use gridpatrol_media::synth::{self, ExifSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: fuzz_seeds OUTPUT_DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let (w, h) = (24u32, 16u32);
    let rgb = synth::street_scene(w, h, 11);
    let mut n = 0;
    let mut write = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        n += 1;
        std::fs::write(dir.join(format!("{n:02}-{name}")), bytes)
    };

    for o in 1..=8u16 {
        let spec = ExifSpec {
            orientation: Some(o),
            taken_at: Some("2026:11:27 09:15:02".into()),
            offset: (o % 2 == 0).then(|| "+08:00".to_string()),
            gps: (o <= 2).then_some((116.4432, 39.9219)),
            make: Some("ACME".into()),
            serial: Some("SN1".into()),
        };
        write(
            &format!("exif-o{o}.jpg"),
            &synth::jpeg(&rgb, w, h, 85, Some(&spec))?,
        )?;
    }
    write("plain-q30.jpg", &synth::jpeg(&rgb, w, h, 30, None)?)?;

    let mut progressive = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut progressive, 75);
    enc.set_progressive(true);
    enc.encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)?;
    write("progressive.jpg", &progressive)?;

    let grey: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
    let mut grey_jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut grey_jpeg, 80).encode(
        &grey,
        w as u16,
        h as u16,
        jpeg_encoder::ColorType::Luma,
    )?;
    write("grey.jpg", &grey_jpeg)?;

    let img = image::RgbImage::from_raw(w, h, rgb.clone()).ok_or("size")?;
    let dynamic = [
        (
            "rgb.png",
            image::DynamicImage::ImageRgb8(img.clone()),
            image::ImageFormat::Png,
        ),
        (
            "rgba.png",
            image::DynamicImage::ImageRgba8(image::DynamicImage::ImageRgb8(img.clone()).to_rgba8()),
            image::ImageFormat::Png,
        ),
        (
            "grey.png",
            image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(img.clone()).to_luma8()),
            image::ImageFormat::Png,
        ),
        (
            "rgb16.png",
            image::DynamicImage::ImageRgb16(image::DynamicImage::ImageRgb8(img.clone()).to_rgb16()),
            image::ImageFormat::Png,
        ),
        (
            "lossless.webp",
            image::DynamicImage::ImageRgb8(img),
            image::ImageFormat::WebP,
        ),
    ];
    for (name, img, format) in dynamic {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, format)?;
        write(name, buf.get_ref())?;
    }

    let mut heic = vec![0, 0, 0, 0x18];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    write("header.heic", &heic)?;
    println!("wrote {n} seeds to {}", dir.display());
    Ok(())
}
