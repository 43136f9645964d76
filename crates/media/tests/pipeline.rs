//! End-to-end behaviour of the photo pipeline on generated camera files.

use std::path::Path;

use gridpatrol_media::synth::{self, ExifSpec};
use gridpatrol_media::{
    process, process_file, Capture, Limits, LonLat, MediaError, Options, SourceFormat,
};

/// An upright 96×64 picture with four solid quadrants, so any wrong turn
/// or flip moves a colour to the wrong corner.
const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 40];
const BLUE: [u8; 3] = [30, 40, 220];
const YELLOW: [u8; 3] = [240, 230, 40];

fn quadrants(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let c = match (x < w / 2, y < h / 2) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => YELLOW,
            };
            out.extend_from_slice(&c);
        }
    }
    out
}

fn decode_rgb(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("stored photo decodes")
        .to_rgb8()
}

fn close(a: &image::Rgb<u8>, b: [u8; 3]) -> bool {
    a.0.iter()
        .zip(b)
        .all(|(x, y)| (i16::from(*x) - i16::from(y)).abs() < 40)
}

fn no_stamp() -> Options {
    Options {
        stamp: false,
        ..Options::default()
    }
}

fn camera_jpeg(w: u32, h: u32, spec: &ExifSpec) -> Vec<u8> {
    synth::jpeg(&synth::street_scene(w, h, 7), w, h, 90, Some(spec)).unwrap()
}

fn dir_is_empty_or_missing(dir: &Path) -> bool {
    !dir.exists() || std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    let (w, h) = (96, 64);
    let upright = quadrants(w, h);
    for o in 1..=8u16 {
        let (stored, sw, sh) = synth::store_as_oriented(&upright, w, h, o);
        let spec = ExifSpec {
            orientation: Some(o),
            ..ExifSpec::default()
        };
        let file = synth::jpeg(&stored, sw, sh, 95, Some(&spec)).unwrap();
        let out = process(&file, &Capture::default(), &no_stamp()).unwrap();
        assert_eq!(
            (out.photo.width, out.photo.height),
            (w, h),
            "orientation {o}"
        );
        assert_eq!(out.exif.orientation, o as u8);
        let img = decode_rgb(&out.photo.bytes);
        assert_eq!(img.dimensions(), (w, h));
        for (x, y, c, name) in [
            (w / 4, h / 4, RED, "top-left"),
            (3 * w / 4, h / 4, GREEN, "top-right"),
            (w / 4, 3 * h / 4, BLUE, "bottom-left"),
            (3 * w / 4, 3 * h / 4, YELLOW, "bottom-right"),
        ] {
            let got = img.get_pixel(x, y);
            assert!(
                close(got, c),
                "orientation {o}: {name} is {got:?}, want {c:?}"
            );
        }
    }
}

#[test]
fn large_photos_are_resized_to_the_long_edge_and_small_ones_never_upscaled() {
    let spec = ExifSpec::default();
    let big = camera_jpeg(3000, 2000, &spec);
    let out = process(&big, &Capture::default(), &no_stamp()).unwrap();
    assert_eq!((out.photo.width, out.photo.height), (2048, 1365));
    assert_eq!((out.thumb.width, out.thumb.height), (320, 213));
    assert_eq!(decode_rgb(&out.thumb.bytes).dimensions(), (320, 213));

    let opts = Options {
        max_edge: 1000,
        ..no_stamp()
    };
    let out = process(&big, &Capture::default(), &opts).unwrap();
    assert_eq!((out.photo.width, out.photo.height), (1000, 667));

    let small = camera_jpeg(640, 480, &spec);
    let out = process(&small, &Capture::default(), &no_stamp()).unwrap();
    assert_eq!((out.photo.width, out.photo.height), (640, 480));
    assert_eq!(decode_rgb(&out.photo.bytes).dimensions(), (640, 480));
}

#[test]
fn portrait_photo_with_orientation_6_keeps_its_long_edge_vertical() {
    let spec = ExifSpec {
        orientation: Some(6),
        ..ExifSpec::default()
    };
    let out = process(
        &camera_jpeg(2400, 1800, &spec),
        &Capture::default(),
        &no_stamp(),
    )
    .unwrap();
    assert_eq!((out.photo.width, out.photo.height), (1536, 2048));
    assert_eq!((out.thumb.width, out.thumb.height), (240, 320));
}

#[test]
fn gps_and_capture_time_go_to_the_record_and_no_exif_goes_to_the_file() {
    let spec = ExifSpec {
        orientation: Some(1),
        taken_at: Some("2026:11:27 09:15:02".into()),
        offset: Some("+08:00".into()),
        gps: Some((116.4432, 39.9219)),
        make: Some("ACME-PHONE".into()),
        serial: Some("SERIAL-SECRET-4711".into()),
    };
    let file = camera_jpeg(800, 600, &spec);
    let capture = Capture {
        device_time: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-27T09:14:00+08:00").unwrap(),
        ),
        device_position: LonLat::new(116.4442, 39.9219),
        grid_code: Some("110105001002003".parse().unwrap()),
    };
    let out = process(&file, &capture, &Options::default()).unwrap();
    let rec = out.record();
    assert_eq!(rec.taken_at.as_deref(), Some("2026-11-27T09:15:02+08:00"));
    let gps = rec.exif_gps.unwrap();
    assert!((gps.lon - 116.4432).abs() < 1e-6 && (gps.lat - 39.9219).abs() < 1e-6);
    assert_eq!(rec.clock_skew_s, Some(62));
    // 0.001° of longitude at 39.92° N is about 85 m.
    let off = rec.gps_offset_m.unwrap();
    assert!((off - 85.3).abs() < 1.0, "{off}");

    for stored in [&out.photo.bytes, &out.thumb.bytes] {
        let has = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"Exif\0\0"), "EXIF block left in the stored file");
        assert!(!has(b"SERIAL-SECRET-4711"));
        assert!(!has(b"ACME-PHONE"));
        let again = gridpatrol_media::read_exif(None);
        assert!(again.gps.is_none());
    }
    // Re-processing the stored photo finds no metadata at all.
    let second = process(&out.photo.bytes, &Capture::default(), &no_stamp()).unwrap();
    assert!(second.exif.gps.is_none() && second.exif.taken_at.is_none());
}

#[test]
fn camera_time_without_offset_is_read_in_the_devices_offset() {
    let spec = ExifSpec {
        taken_at: Some("2026:11:27 09:15:02".into()),
        ..ExifSpec::default()
    };
    let capture = Capture {
        device_time: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-27T09:15:00+08:00").unwrap(),
        ),
        ..Capture::default()
    };
    let out = process(&camera_jpeg(64, 48, &spec), &capture, &no_stamp()).unwrap();
    let rec = out.record();
    assert_eq!(rec.taken_at.as_deref(), Some("2026-11-27T09:15:02"));
    assert_eq!(rec.clock_skew_s, Some(2));
    assert_eq!(rec.exif_gps, None);
    assert_eq!(rec.gps_offset_m, None);
}

#[test]
fn the_stamp_marks_the_bottom_left_corner_only() {
    let file = camera_jpeg(1200, 900, &ExifSpec::default());
    let capture = Capture {
        device_time: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-27T09:15:00+08:00").unwrap(),
        ),
        device_position: LonLat::new(116.4432, 39.9219),
        grid_code: Some("110105001002003".parse().unwrap()),
    };
    let stamped = process(&file, &capture, &Options::default()).unwrap();
    let plain = process(&file, &capture, &no_stamp()).unwrap();
    assert!(stamped.stamped && !plain.stamped);
    assert_ne!(stamped.photo.sha256, plain.photo.sha256);
    let (a, b) = (
        decode_rgb(&stamped.photo.bytes),
        decode_rgb(&plain.photo.bytes),
    );
    let diff = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut sum = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                for c in 0..3 {
                    sum += u64::from(a.get_pixel(x, y)[c].abs_diff(b.get_pixel(x, y)[c]));
                }
            }
        }
        sum as f64 / f64::from((x1 - x0) * (y1 - y0) * 3)
    };
    let corner = diff(0, 840, 300, 900);
    let far = diff(900, 0, 1200, 60);
    assert!(corner > 20.0, "stamp corner differs by {corner}");
    assert!(far < 2.0, "opposite corner differs by {far}");
    // The thumbnail is never stamped, so it is the same either way.
    assert_eq!(stamped.thumb.sha256, plain.thumb.sha256);
}

#[test]
fn png_and_webp_inputs_are_accepted() {
    let (w, h) = (300, 200);
    let rgb = synth::street_scene(w, h, 3);
    let img = image::RgbImage::from_raw(w, h, rgb).unwrap();
    for (fmt, want) in [
        (image::ImageFormat::Png, SourceFormat::Png),
        (image::ImageFormat::WebP, SourceFormat::Webp),
    ] {
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt).unwrap();
        let out = process(buf.get_ref(), &Capture::default(), &no_stamp()).unwrap();
        assert_eq!(out.source_format, want);
        assert_eq!((out.photo.width, out.photo.height), (w, h));
    }
}

#[test]
fn transparent_png_is_flattened_on_white() {
    let img = image::RgbaImage::from_pixel(64, 64, image::Rgba([0, 0, 0, 0]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    let out = process(buf.get_ref(), &Capture::default(), &no_stamp()).unwrap();
    let px = *decode_rgb(&out.photo.bytes).get_pixel(32, 32);
    assert!(px.0.iter().all(|&c| c > 245), "{px:?}");
}

fn refused(data: &[u8], opts: &Options) -> MediaError {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("upload.bin");
    std::fs::write(&input, data).unwrap();
    let out = tmp.path().join("store");
    let err = process_file(&input, &out, &Capture::default(), opts).unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert!(
        dir_is_empty_or_missing(&out),
        "something was written for: {err}"
    );
    err
}

#[test]
fn empty_truncated_and_non_image_files_are_refused_and_nothing_is_written() {
    let opts = Options::default();
    assert!(matches!(refused(b"", &opts), MediaError::Empty));
    assert!(matches!(
        refused(b"name,lon,lat\nlamp,116.4,39.9\n", &opts),
        MediaError::NotAnImage
    ));
    let good = camera_jpeg(640, 480, &ExifSpec::default());
    for cut in [good.len() / 2, good.len() - 300, 40] {
        let err = refused(&good[..cut], &opts);
        assert!(
            matches!(err, MediaError::Corrupt { .. }),
            "cut at {cut}: {err}"
        );
    }
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_raw(200, 100, synth::street_scene(200, 100, 1))
        .unwrap()
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let png = png.into_inner();
    let err = refused(&png[..png.len() / 2], &opts);
    assert!(matches!(err, MediaError::Corrupt { .. }), "{err}");
}

#[test]
fn heic_is_refused_with_the_camera_setting_hint() {
    let mut heic = vec![0, 0, 0, 0x18];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0u8; 200]);
    let err = refused(&heic, &Options::default());
    let msg = err.to_string();
    assert!(msg.starts_with("unsupported format HEIC"), "{msg}");
    assert!(msg.contains("Most Compatible"), "{msg}");
}

/// A real small JPEG whose frame header claims 60000×60000 (3.6 GP): the
/// header check must refuse it; decoding it would need ~10 GB.
#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let mut bomb = camera_jpeg(16, 16, &ExifSpec::default());
    let sof = bomb
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline frame header");
    bomb[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    let err = refused(&bomb, &Options::default());
    assert!(
        matches!(
            err,
            MediaError::TooManyPixels {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(gridpatrol_media::probe(&bomb).unwrap().1, 60000);

    // The same for PNG: IHDR patched (with a fixed CRC) to 60000×60000.
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(8, 8)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let mut png = png.into_inner();
    synth::set_png_size(&mut png, 60000, 60000);
    let err = refused(&png, &Options::default());
    assert!(matches!(err, MediaError::TooManyPixels { .. }), "{err}");
}

#[test]
fn configured_byte_and_pixel_limits_are_enforced() {
    let file = camera_jpeg(640, 480, &ExifSpec::default());
    let opts = Options {
        limits: Limits {
            max_bytes: 1000,
            ..Limits::default()
        },
        ..Options::default()
    };
    let err = refused(&file, &opts);
    assert!(
        matches!(err, MediaError::TooManyBytes { limit: 1000, .. }),
        "{err}"
    );
    let opts = Options {
        limits: Limits {
            max_pixels: 640 * 480 - 1,
            ..Limits::default()
        },
        ..Options::default()
    };
    let err = refused(&file, &opts);
    assert!(matches!(err, MediaError::TooManyPixels { .. }), "{err}");
}

#[test]
fn stored_files_are_named_by_their_sha256_and_json_has_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("IMG_0001.JPG");
    let spec = ExifSpec {
        taken_at: Some("2026:11:27 09:15:02".into()),
        gps: Some((116.4432, 39.9219)),
        ..ExifSpec::default()
    };
    std::fs::write(&input, camera_jpeg(1000, 750, &spec)).unwrap();
    let dir = tmp.path().join("photos");
    let (processed, stored) =
        process_file(&input, &dir, &Capture::default(), &Options::default()).unwrap();
    let photo = std::fs::read(&stored.photo).unwrap();
    let thumb = std::fs::read(&stored.thumb).unwrap();
    assert_eq!(photo, processed.photo.bytes);
    assert_eq!(thumb, processed.thumb.bytes);
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&photo));
    assert_eq!(stored.photo, dir.join(format!("{sha}.jpg")));
    // Exactly the two files: no temp files left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);

    let json = serde_json::to_value(processed.record()).unwrap();
    for key in [
        "sha256", "width", "height", "bytes", "thumb", "taken_at", "exif_gps",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["sha256"], sha);
    assert_eq!(json["width"], 1000);
    assert_eq!(json["bytes"], photo.len());
    for key in ["sha256", "width", "height", "bytes"] {
        assert!(json["thumb"].get(key).is_some(), "missing thumb.{key}");
    }
    assert_eq!(json["thumb"]["width"], 320);
    assert_eq!(json["taken_at"], "2026-11-27T09:15:02");
    assert!((json["exif_gps"]["lon"].as_f64().unwrap() - 116.4432).abs() < 1e-6);
    assert!((json["exif_gps"]["lat"].as_f64().unwrap() - 39.9219).abs() < 1e-6);

    // Without EXIF both fields are present and null.
    let plain = process(
        &camera_jpeg(64, 48, &ExifSpec::default()),
        &Capture::default(),
        &no_stamp(),
    )
    .unwrap();
    let json = serde_json::to_value(plain.record()).unwrap();
    assert!(
        json["taken_at"].is_null() && json["exif_gps"].is_null(),
        "{json}"
    );
}

#[test]
fn same_input_gives_the_same_identity() {
    let file = camera_jpeg(500, 400, &ExifSpec::default());
    let a = process(&file, &Capture::default(), &Options::default()).unwrap();
    let b = process(&file, &Capture::default(), &Options::default()).unwrap();
    assert_eq!(a.photo.sha256, b.photo.sha256);
    assert_eq!(a.thumb.sha256, b.thumb.sha256);
}

#[test]
fn a_stored_photo_gets_the_same_size_of_thumbnail_as_the_pipeline_makes() {
    let rgb = synth::street_scene(1200, 800, 3);
    let jpeg = synth::jpeg(&rgb, 1200, 800, 85, None).unwrap();
    let opts = Options::default();
    let processed = process(&jpeg, &Capture::default(), &opts).unwrap();
    let thumb = gridpatrol_media::thumbnail(&processed.photo.bytes, &opts).unwrap();
    assert_eq!(
        (thumb.width, thumb.height),
        (processed.thumb.width, processed.thumb.height)
    );
    let img = decode_rgb(&thumb.bytes);
    assert_eq!((img.width(), img.height()), (thumb.width, thumb.height));
    let e = gridpatrol_media::thumbnail(&[b'x'; 4096], &opts).unwrap_err();
    assert!(matches!(e, MediaError::NotAnImage), "{e:?}");
    let e = gridpatrol_media::thumbnail(&processed.photo.bytes[..2000], &opts).unwrap_err();
    assert!(matches!(e, MediaError::Corrupt { .. }), "{e:?}");
    assert!(matches!(
        gridpatrol_media::thumbnail(b"", &opts).unwrap_err(),
        MediaError::Empty
    ));
}
