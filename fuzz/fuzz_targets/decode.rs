//! Fuzzes the whole untrusted-input path of the photo pipeline: sniffing,
//! header probing, limits, decoding, EXIF parsing, resize, orientation,
//! stamping and encoding. Any panic, overflow or out-of-memory is a bug;
//! refusals (`Err`) are the expected outcome for most inputs.
#![no_main]

use gridpatrol_media::{probe, process, Capture, Limits, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast and well under libFuzzer's 2 GB RSS
    // cap; the limit logic under test is the same as at the defaults.
    let opts = Options {
        max_edge: 256,
        thumb_edge: 64,
        limits: Limits {
            max_bytes: 1 << 20,
            max_pixels: 2_000_000,
            ..Limits::default()
        },
        ..Options::default()
    };
    let probed = probe(data);
    if let Ok(out) = process(data, &Capture::default(), &opts) {
        // Whatever decodes must satisfy the pipeline's promises.
        let (_, w, h) = probed.expect("decodable input has a readable header");
        assert!(u64::from(w) * u64::from(h) <= opts.limits.max_pixels);
        assert!(out.photo.width.max(out.photo.height) <= opts.max_edge);
        assert!(out.thumb.width.max(out.thumb.height) <= opts.thumb_edge);
        assert!(!out.photo.bytes.windows(6).any(|w| w == b"Exif\0\0"));
        assert_eq!(out.photo.sha256.len(), 64);
    }
});
