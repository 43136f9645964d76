//! `gridpatrol media …`: the photo evidence pipeline from the command line
//! (a thin wrapper over `gridpatrol-media`).

use std::path::PathBuf;
use std::process::ExitCode;

use gridpatrol_media::{Capture, GridCode, Limits, LonLat, Options};

/// Photo evidence commands.
#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Turn a camera file (JPEG, PNG or WebP) into stored evidence: an
    /// upright JPEG and a thumbnail, each written to DIR as <sha256>.jpg.
    /// Refused input exits with code 2 and writes nothing.
    Process {
        /// The camera file.
        file: PathBuf,
        /// Directory to store into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Do not burn the evidence stamp into the stored photo.
        #[arg(long)]
        no_stamp: bool,
        /// Print the evidence record as one JSON line.
        #[arg(long)]
        json: bool,
        /// 15-digit grid code shown in the stamp and kept in the record.
        #[arg(long, value_name = "CODE")]
        grid_code: Option<String>,
        /// Device longitude at capture, WGS-84 degrees (needs --lat).
        #[arg(long, requires = "lat", allow_negative_numbers = true)]
        lon: Option<f64>,
        /// Device latitude at capture, WGS-84 degrees (needs --lon).
        #[arg(long, requires = "lon", allow_negative_numbers = true)]
        lat: Option<f64>,
        /// Device clock at capture, RFC 3339 (e.g. 2026-11-27T09:15:00+08:00).
        #[arg(long, value_name = "TIME")]
        device_time: Option<String>,
        /// Long edge of the stored photo in px (never upscaled).
        #[arg(long, default_value_t = 2048)]
        max_edge: u32,
        /// JPEG quality of the stored photo (1–100).
        #[arg(long, default_value_t = 80)]
        quality: u8,
        /// Long edge of the thumbnail in px.
        #[arg(long, default_value_t = 320)]
        thumb_edge: u32,
        /// Largest accepted input file in bytes.
        #[arg(long, default_value_t = 40_000_000)]
        max_bytes: u64,
        /// Largest accepted image in pixels (width × height from the header).
        #[arg(long, default_value_t = 64_000_000)]
        max_pixels: u64,
        /// Most memory one photo may need to decode and resize, in bytes
        /// (estimated from the header; the default keeps a run under 150 MB).
        #[arg(long, default_value_t = 110_000_000)]
        max_memory: u64,
    },
}

/// Runs a media command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    let Cmd::Process {
        file,
        out,
        no_stamp,
        json,
        grid_code,
        lon,
        lat,
        device_time,
        max_edge,
        quality,
        thumb_edge,
        max_bytes,
        max_pixels,
        max_memory,
    } = cmd;
    let refuse = |reason: String| {
        eprintln!("refused: {reason}");
        Ok(ExitCode::from(crate::EXIT_REFUSED))
    };

    let grid_code = match grid_code.map(|g| g.parse::<GridCode>()).transpose() {
        Ok(g) => g,
        Err(e) => return refuse(e.to_string()),
    };
    let device_position = match (lon, lat) {
        (Some(lon), Some(lat)) => match LonLat::new(lon, lat) {
            Some(p) => Some(p),
            None => {
                return refuse(format!(
                    "position {lon}, {lat} is not a WGS-84 longitude, latitude"
                ))
            }
        },
        _ => None,
    };
    let device_time = match device_time
        .as_deref()
        .map(gridpatrol_media::parse_device_time)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return refuse(e.to_string()),
    };
    let capture = Capture {
        device_time,
        device_position,
        grid_code,
    };
    let opts = Options {
        max_edge,
        quality,
        thumb_edge,
        stamp: !no_stamp,
        limits: Limits {
            max_bytes,
            max_pixels,
            max_memory,
        },
        ..Options::default()
    };

    match gridpatrol_media::process_file(&file, &out, &capture, &opts) {
        Ok((processed, stored)) => {
            let record = processed.record();
            if json {
                crate::print_json(&record)?;
            } else {
                println!(
                    "photo  {} ({}×{}, {} bytes)",
                    stored.photo.display(),
                    record.width,
                    record.height,
                    record.bytes
                );
                println!(
                    "thumb  {} ({}×{}, {} bytes)",
                    stored.thumb.display(),
                    record.thumb.width,
                    record.thumb.height,
                    record.thumb.bytes
                );
                println!(
                    "taken  {}",
                    record.taken_at.as_deref().unwrap_or("(no EXIF time)")
                );
                match record.exif_gps {
                    Some(p) => println!("gps    {:.6}, {:.6} (lon, lat WGS-84)", p.lon, p.lat),
                    None => println!("gps    (no EXIF GPS)"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.is_refusal() => refuse(e.to_string()),
        // Said here, once: through anyhow, main's `{:#}` would print the OS
        // error twice (it ends the message and is also its source).
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(subcommand)]
        cmd: Cmd,
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gridpatrol-media-cli-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn parse(args: &[&str]) -> Cmd {
        Wrap::try_parse_from(std::iter::once("media").chain(args.iter().copied()))
            .unwrap()
            .cmd
    }

    #[test]
    fn refused_input_exits_2_and_writes_nothing() {
        let dir = scratch("refused");
        let input = dir.join("notes.txt");
        std::fs::write(&input, "not a photo at all, just some text").unwrap();
        let out = dir.join("store");
        let code = run(parse(&[
            "process",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(code, ExitCode::from(crate::EXIT_REFUSED));
        assert!(!out.exists());

        let code = run(parse(&[
            "process",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--grid-code",
            "12345",
        ]))
        .unwrap();
        assert_eq!(code, ExitCode::from(crate::EXIT_REFUSED));
        assert!(!out.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_photo_is_stored_under_its_hash() {
        let dir = scratch("ok");
        let input = dir.join("IMG_0001.JPG");
        let rgb = gridpatrol_media::synth::street_scene(400, 300, 5);
        std::fs::write(
            &input,
            gridpatrol_media::synth::jpeg(&rgb, 400, 300, 90, None).unwrap(),
        )
        .unwrap();
        let out = dir.join("store");
        let code = run(parse(&[
            "process",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--grid-code",
            "110105001002003",
            "--lon",
            "116.4432",
            "--lat",
            "39.9219",
            "--device-time",
            "2026-11-27T09:15:00+08:00",
        ]))
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names
            .iter()
            .all(|n| n.len() == 64 + 4 && n.ends_with(".jpg")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
