//! Damaged and hostile inputs (issue 7 §6): what is stored must be what the
//! camera took, so every one of these is refused, never stored with bands.

use gridpatrol_media::synth::{self, JpegSpec, Layout};
use gridpatrol_media::{process, Capture, MediaError, Options};

fn opts() -> Options {
    Options {
        stamp: false,
        ..Options::default()
    }
}

fn scene(w: u32, h: u32, layout: Layout) -> Vec<u8> {
    let rgb = synth::street_scene(w, h, 11);
    match layout {
        Layout::Rgb => rgb,
        Layout::Luma => rgb.chunks_exact(3).map(|p| p[1]).collect(),
        Layout::Cmyk => rgb
            .chunks_exact(3)
            .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
            .collect(),
    }
}

/// Every scan layout a phone or an editor produces.
fn layouts() -> Vec<(&'static str, JpegSpec)> {
    vec![
        ("baseline", JpegSpec::default()),
        (
            "restart markers",
            JpegSpec {
                restart_interval: Some(4),
                ..JpegSpec::default()
            },
        ),
        (
            "progressive",
            JpegSpec {
                progressive: true,
                ..JpegSpec::default()
            },
        ),
        (
            "grey",
            JpegSpec {
                layout: Layout::Luma,
                ..JpegSpec::default()
            },
        ),
    ]
}

fn make(spec: &JpegSpec, w: u32, h: u32) -> Vec<u8> {
    synth::jpeg_with(&scene(w, h, spec.layout), w, h, 85, spec).unwrap()
}

/// Byte range of the last scan's entropy-coded data (after its SOS header,
/// up to the final EOI).
fn last_scan(jpeg: &[u8]) -> std::ops::Range<usize> {
    let sos = jpeg
        .windows(2)
        .rposition(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let len = usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
    sos + 2 + len..jpeg.len() - 2
}

fn assert_damaged(data: &[u8], what: &str) {
    match process(data, &Capture::default(), &opts()) {
        Err(e @ MediaError::Corrupt { .. }) => assert!(e.is_refusal()),
        Err(e) => panic!("{what}: refused for the wrong reason: {e}"),
        Ok(p) => panic!(
            "{what}: stored as {}×{} instead of refused",
            p.photo.width, p.photo.height
        ),
    }
}

#[test]
fn complete_files_of_every_layout_are_accepted() {
    for (name, spec) in layouts() {
        let out = process(&make(&spec, 160, 120), &Capture::default(), &opts())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((out.photo.width, out.photo.height), (160, 120), "{name}");
    }
}

/// Entropy data cut anywhere (also right after a stuffed byte or an RST
/// marker) and an EOI appended: the decoder pads with zeros and, before the
/// fix, stored the rest of the picture as grey.
#[test]
fn entropy_data_cut_short_with_an_eoi_appended_is_refused() {
    for (name, spec) in layouts() {
        let good = make(&spec, 160, 120);
        let scan = last_scan(&good);
        let mut cuts: Vec<usize> = (1..20).map(|k| scan.start + scan.len() * k / 20).collect();
        // Cuts at structure boundaries: after `FF 00` and after an RSTn.
        for i in scan.clone() {
            if good[i] == 0xFF && i + 2 < scan.end {
                cuts.push(i + 2);
            }
        }
        cuts.truncate(60);
        // And inside the first scan (for a progressive file: all later
        // scans are lost).
        let first = good.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        cuts.extend([first + 20, first + 60]);
        for cut in cuts {
            let mut bad = good[..cut].to_vec();
            bad.extend_from_slice(&[0xFF, 0xD9]);
            assert_damaged(&bad, &format!("{name}, cut at {cut}/{}", good.len()));
        }
    }
}

/// A frame header that declares more rows than the scan holds.
#[test]
fn a_header_declaring_more_rows_than_the_data_holds_is_refused() {
    for (name, spec) in layouts() {
        let mut bad = make(&spec, 160, 120);
        let sof = bad
            .windows(2)
            .position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2])
            .expect("frame header");
        for h in [136u16, 240, 1200] {
            bad[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
            assert_damaged(&bad, &format!("{name}, SOF height {h} for 120 rows"));
        }
    }
}

/// One restart interval's data cut short while the following RST marker and
/// intervals are kept: a grey band in the middle.
#[test]
fn a_restart_interval_cut_short_is_refused() {
    let spec = JpegSpec {
        restart_interval: Some(2),
        ..JpegSpec::default()
    };
    let good = make(&spec, 160, 120);
    let scan = last_scan(&good);
    let rst: Vec<usize> = scan
        .clone()
        .filter(|&i| good[i] == 0xFF && (0xD0..=0xD7).contains(&good[i + 1]))
        .collect();
    assert!(rst.len() > 4);
    for pair in rst.windows(2).take(6) {
        let (a, b) = (pair[0] + 2, pair[1]);
        let mut bad = good[..a + (b - a) / 2].to_vec();
        bad.extend_from_slice(&good[b..]);
        assert_damaged(&bad, &format!("interval after RST at {}", pair[0]));
    }
}

/// Runs `process_file` on a thread and gives up after 10 s, so a hang is a
/// test failure rather than a stuck test run.
fn process_file_within_10s(input: &std::path::Path) -> Result<(), MediaError> {
    let input = input.to_path_buf();
    let out = input.with_file_name("store");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = gridpatrol_media::process_file(&input, &out, &Capture::default(), &opts());
        let _ = tx.send(r.map(|_| ()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("refused at once, not hanging")
}

#[test]
fn fifos_devices_sockets_and_directories_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("upload.jpg");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let link = tmp.path().join("link-to-fifo.jpg");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let sock = tmp.path().join("upload.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (path, kind) in [
        (fifo.as_path(), "FIFO"),
        (link.as_path(), "FIFO"),
        (std::path::Path::new("/dev/zero"), "character device"),
        (std::path::Path::new("/dev/null"), "character device"),
        (sock.as_path(), "socket"),
        (tmp.path(), "directory"),
    ] {
        match process_file_within_10s(path) {
            Err(e @ MediaError::NotAFile { .. }) => {
                assert!(e.is_refusal());
                assert!(e.to_string().contains(kind), "{}: {e}", path.display());
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }
    assert!(!tmp.path().join("store").exists());
}

/// EXIF with orientation 6 and everything else the camera writes, then
/// damaged in each place other than IFD0's orientation entry.
#[test]
fn exif_damaged_elsewhere_still_yields_its_orientation() {
    let spec = synth::ExifSpec {
        orientation: Some(6),
        taken_at: Some("2026:11:27 09:15:02".into()),
        offset: Some("+08:00".into()),
        gps: Some((116.4432, 39.9219)),
        make: Some("ACME-PHONE".into()),
        serial: Some("SN-4711".into()),
    };
    let good = synth::exif_tiff(&spec);
    // IFD0 at 8: count, then 12-byte entries sorted by tag: Make, Orientation,
    // ExifIFDPointer, GPSInfoIFDPointer.
    let entry = |k: usize| 10 + 12 * k;
    let value = |k: usize| entry(k) + 8..entry(k) + 12;
    let exif_ifd = u32::from_le_bytes(good[value(2)].try_into().unwrap()) as usize;
    let gps_ifd = u32::from_le_bytes(good[value(3)].try_into().unwrap()) as usize;
    let far = 0xFFFF_FF00u32.to_le_bytes();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut patch = |name, at: std::ops::Range<usize>, bytes: &[u8]| {
        let mut bad = good.clone();
        bad[at].copy_from_slice(bytes);
        cases.push((name, bad));
    };
    patch("Exif IFD pointer past the end", value(2), &far);
    patch("GPS IFD pointer past the end", value(3), &far);
    patch("Make value past the end", value(0), &far);
    patch("IFD0 claims 65535 entries", 8..10, &[0xFF, 0xFF]);
    patch(
        "Exif IFD claims 65535 entries",
        exif_ifd..exif_ifd + 2,
        &[0xFF, 0xFF],
    );
    patch(
        "GPS IFD claims 65535 entries",
        gps_ifd..gps_ifd + 2,
        &[0xFF, 0xFF],
    );
    patch("next-IFD link past the end", entry(4)..entry(4) + 4, &far);
    cases.push(("cut after the orientation entry", good[..entry(2)].to_vec()));
    cases.push(("cut inside the Exif IFD", good[..exif_ifd + 8].to_vec()));
    for (name, bad) in &cases {
        assert_eq!(
            gridpatrol_media::read_exif(Some(bad)).orientation,
            6,
            "{name}"
        );
    }

    // End to end: the stored photo is upright (portrait), not on its side.
    let (w, h) = (160u32, 120u32);
    let rgb = synth::street_scene(w, h, 2);
    let file = synth::jpeg(&rgb, w, h, 85, None).unwrap();
    for (name, bad) in &cases {
        let mut app1 = b"\xFF\xE1".to_vec();
        app1.extend_from_slice(&((bad.len() + 8) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(bad);
        let mut jpeg = file[..2].to_vec();
        jpeg.extend_from_slice(&app1);
        jpeg.extend_from_slice(&file[2..]);
        let out = process(&jpeg, &Capture::default(), &opts()).unwrap();
        assert_eq!((out.photo.width, out.photo.height), (h, w), "{name}");
    }

    // The orientation entry itself damaged: no guess, the photo stays as stored.
    let mut bad = good.clone();
    bad[entry(1) + 2..entry(1) + 4].copy_from_slice(&7u16.to_le_bytes());
    bad[8..10].copy_from_slice(&[0xFF, 0xFF]);
    assert_eq!(gridpatrol_media::read_exif(Some(&bad)).orientation, 1);
}

/// The ICC profile embedded in a stored JPEG, if any.
fn stored_icc(jpeg: &[u8]) -> Option<Vec<u8>> {
    let mut dec = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(jpeg));
    dec.decode_headers().unwrap();
    dec.icc_profile()
}

fn icc_space(icc: &[u8]) -> &[u8] {
    &icc[16..20]
}

/// Largest per-channel difference between two RGB pixels.
fn max_diff(a: [u8; 3], b: [u8; 3]) -> u8 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(y))
        .max()
        .unwrap_or(0)
}

/// Mid-grey-free test colours, as (R, G, B).
const PATCHES: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 40], [30, 40, 220], [240, 230, 40]];

fn patches(w: u32, h: u32, layout: Layout) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = PATCHES[usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2)];
            match layout {
                Layout::Rgb => out.extend_from_slice(&[r, g, b]),
                Layout::Luma => out.push(g),
                Layout::Cmyk => out.extend_from_slice(&[255 - r, 255 - g, 255 - b, 0]),
            }
        }
    }
    out
}

#[test]
fn the_stored_photo_never_carries_a_profile_that_does_not_match_its_pixels() {
    let (w, h) = (64, 64);
    let cases: [(&str, Layout, &[u8; 4], bool); 6] = [
        ("RGB photo, RGB profile", Layout::Rgb, b"RGB ", true),
        ("RGB photo, CMYK profile", Layout::Rgb, b"CMYK", false),
        ("RGB photo, grey profile", Layout::Rgb, b"GRAY", false),
        ("grey photo, grey profile", Layout::Luma, b"GRAY", false),
        ("grey photo, RGB profile", Layout::Luma, b"RGB ", false),
        ("CMYK photo, CMYK profile", Layout::Cmyk, b"CMYK", false),
    ];
    for (name, layout, space, kept) in cases {
        let spec = JpegSpec {
            layout,
            icc: Some(synth::icc_header(space)),
            ..JpegSpec::default()
        };
        let file = synth::jpeg_with(&patches(w, h, layout), w, h, 95, &spec).unwrap();
        let out = process(&file, &Capture::default(), &opts()).unwrap();
        let icc = stored_icc(&out.photo.bytes);
        if kept {
            assert_eq!(icc.as_deref().map(icc_space), Some(&b"RGB "[..]), "{name}");
        } else {
            assert_eq!(icc, None, "{name}");
        }
        // And the pixels are the colours the camera saw.
        let img = image::load_from_memory(&out.photo.bytes).unwrap().to_rgb8();
        for (k, want) in PATCHES.iter().enumerate() {
            let (x, y) = (
                w / 4 + (w / 2) * (k as u32 % 2),
                h / 4 + (h / 2) * (k as u32 / 2),
            );
            let got = img.get_pixel(x, y).0;
            let want = if layout == Layout::Luma {
                [want[1]; 3]
            } else {
                *want
            };
            let off = max_diff(got, want);
            assert!(off < 24, "{name}: patch {k} is {got:?}, want {want:?}");
        }
    }

    // PNG: a grey PNG with a grey profile, an RGB PNG with an RGB profile.
    for (name, colour, space, kept) in [
        (
            "grey PNG, grey profile",
            image::ExtendedColorType::L8,
            b"GRAY",
            false,
        ),
        (
            "RGB PNG, CMYK profile",
            image::ExtendedColorType::Rgb8,
            b"CMYK",
            false,
        ),
        (
            "RGB PNG, RGB profile",
            image::ExtendedColorType::Rgb8,
            b"RGB ",
            true,
        ),
    ] {
        use image::ImageEncoder;
        let layout = if colour == image::ExtendedColorType::L8 {
            Layout::Luma
        } else {
            Layout::Rgb
        };
        let mut png = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut png);
        enc.set_icc_profile(synth::icc_header(space)).unwrap();
        enc.write_image(&patches(w, h, layout), w, h, colour)
            .unwrap();
        let out = process(&png, &Capture::default(), &opts()).unwrap();
        let icc = stored_icc(&out.photo.bytes);
        assert_eq!(icc.is_some(), kept, "{name}");
    }
}

fn png_of(pixels: &[u8], w: u32, h: u32, colour: image::ExtendedColorType) -> Vec<u8> {
    use image::ImageEncoder;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(pixels, w, h, colour)
        .unwrap();
    png
}

/// What cannot be processed within the memory limit is refused from its
/// header, saying how much it would need (before the fix a 16-bit RGBA PNG
/// of 8000² was decoded, peaking at 739 MB).
#[test]
fn photos_that_cannot_fit_in_memory_are_refused_from_the_header_saying_why() {
    let rgba16 = image::ExtendedColorType::Rgba16;
    let mut png = png_of(&[0x80; 8 * 8 * 8], 8, 8, rgba16);
    synth::set_png_size(&mut png, 8000, 8000);
    let mut progressive = make(
        &JpegSpec {
            progressive: true,
            ..JpegSpec::default()
        },
        64,
        64,
    );
    let sof = progressive
        .windows(2)
        .position(|w| w == [0xFF, 0xC2])
        .unwrap();
    progressive[sof + 5..sof + 9].copy_from_slice(&[0x1F, 0x40, 0x1F, 0x40]);
    for (file, what) in [
        (png, "16-bit RGBA PNG of 8000×8000"),
        (progressive, "progressive JPEG of 8000×8000"),
    ] {
        match process(&file, &Capture::default(), &opts()) {
            Err(e @ MediaError::TooMuchMemory { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(what) && msg.contains("the limit is 110 MB"),
                    "{msg}"
                );
                assert!(e.is_refusal());
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    // The estimate follows the configured limit ...
    let jpeg = make(&JpegSpec::default(), 640, 480);
    let tight = Options {
        limits: gridpatrol_media::Limits {
            max_memory: 1_000_000,
            ..Default::default()
        },
        ..opts()
    };
    let err = process(&jpeg, &Capture::default(), &tight).unwrap_err();
    assert!(matches!(err, MediaError::TooMuchMemory { .. }), "{err}");
    assert!(process(&jpeg, &Capture::default(), &opts()).is_ok());

    // ... and a 16-bit RGBA PNG that fits is converted in one pass, right.
    // Left half opaque red, right half transparent (white once flattened).
    let mut px = Vec::new();
    for i in 0..(600 * 400) {
        let a: u16 = if i % 600 < 300 { 65535 } else { 0 };
        for v in [0xDC00u16, 0x1E00, 0x1E00, a] {
            px.extend_from_slice(&v.to_ne_bytes());
        }
    }
    let out = process(&png_of(&px, 600, 400, rgba16), &Capture::default(), &opts()).unwrap();
    assert_eq!((out.photo.width, out.photo.height), (600, 400));
    let img = image::load_from_memory(&out.photo.bytes).unwrap().to_rgb8();
    for (x, want) in [(150, [220, 30, 30]), (450, [255, 255, 255])] {
        let got = img.get_pixel(x, 200).0;
        let off = max_diff(got, want);
        assert!(off < 8, "x {x}: {got:?}, want {want:?}");
    }
}
