//! Writes the inputs behind the "damaged and hostile inputs" table in
//! `docs/BENCHMARKS.md`: the largest files each decoder path accepts at the
//! default limits (64 MP, 40 MB) and the damaged ones.
//! `cargo run --release -p gridpatrol-media --example hostile_inputs -- DIR`.

use std::path::PathBuf;

use gridpatrol_media::synth::{self, JpegSpec};
use image::ImageEncoder;

/// A blocky gradient: big, yet small enough as PNG to pass the byte limit.
fn gradient(w: u32, h: u32, channels: usize, wide: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(w as usize * h as usize * channels * (1 + usize::from(wide)));
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                // Flat runs of 500 px: PNG's Sub filter makes them zeros.
                let v = match c {
                    0 => (x / 500) * 4000,
                    1 => y * 65535 / h,
                    2 => 30000,
                    _ => 65535 - (x / 500) * 1000,
                } as u16;
                if wide {
                    out.extend_from_slice(&v.to_be_bytes());
                } else {
                    out.push((v >> 8) as u8);
                }
            }
        }
    }
    out
}

fn png(pixels: &[u8], w: u32, h: u32, colour: image::ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    )
    .write_image(pixels, w, h, colour)
    .expect("encode PNG");
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: hostile_inputs OUTPUT_DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, bytes: &[u8]| {
        println!("{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes)
    };
    let (w, h) = (8000u32, 8000u32);
    let colour = image::ExtendedColorType::Rgba16;
    write(
        "png16-rgba-8000.png",
        &png(&gradient(w, h, 4, true), w, h, colour),
    )?;
    let colour = image::ExtendedColorType::L8;
    write(
        "png8-grey-8000.png",
        &png(&gradient(w, h, 1, false), w, h, colour),
    )?;

    let rgb = synth::street_scene(w, h, 5);
    let base = synth::jpeg(&rgb, w, h, 60, None)?;
    write("jpeg-baseline-8000.jpg", &base)?;
    let spec = JpegSpec {
        progressive: true,
        ..JpegSpec::default()
    };
    write(
        "jpeg-progressive-8000.jpg",
        &synth::jpeg_with(&rgb, w, h, 60, &spec)?,
    )?;
    // Cut at a tenth and given an EOI: before the fix, 90 % grey, stored.
    let mut cut = base[..base.len() / 10].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    write("jpeg-cut-eoi-8000.jpg", &cut)?;

    // The largest of each kind the memory estimate accepts at the defaults.
    let (bw, bh) = (5400u32, 4050u32);
    let big = synth::street_scene(bw, bh, 8);
    write(
        "jpeg-baseline-5400x4050.jpg",
        &synth::jpeg(&big, bw, bh, 95, None)?,
    )?;
    let (qw, qh) = (3600u32, 2700u32);
    let prog = synth::street_scene(qw, qh, 8);
    let file = synth::jpeg_with(&prog, qw, qh, 95, &spec)?;
    write("jpeg-progressive-3600x2700.jpg", &file)?;
    let colour = image::ExtendedColorType::Rgba16;
    write(
        "png16-rgba-3100.png",
        &png(&gradient(3100, 3100, 4, true), 3100, 3100, colour),
    )?;
    let colour = image::ExtendedColorType::Rgba8;
    write(
        "png8-rgba-3900.png",
        &png(&gradient(3900, 3900, 4, false), 3900, 3900, colour),
    )?;

    let (pw, ph) = (4000u32, 3000u32);
    let phone = synth::street_scene(pw, ph, 6);
    write(
        "jpeg-phone-12mp.jpg",
        &synth::jpeg(&phone, pw, ph, 90, None)?,
    )?;
    Ok(())
}
