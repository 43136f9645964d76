//! Photo pipeline benchmark: a generated 4000×3000 camera JPEG (street-like
//! scene with sensor noise, EXIF with GPS) → 2048 px stored photo with stamp
//! and 320 px thumbnail, against ImageMagick's
//! `convert IN -auto-orient -resize 2048x2048 -quality 80 OUT` on the same
//! file, alternating runs. Each run is a separate process so wall time
//! includes start-up and file I/O for both, and `/usr/bin/time` reports each
//! process's peak RSS.
//!
//! `cargo bench -p gridpatrol-media --bench pipeline` (env `RUNS`, default 7;
//! `SOURCE=WxH`, default 4000x3000).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gridpatrol_media::synth::{self, ExifSpec};
use gridpatrol_media::{process_file, Capture, LonLat, Options};

const CHILD: &str = "GRIDPATROL_MEDIA_BENCH_CHILD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    if let Err(e) = parent() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

/// One pipeline run in its own process: `input|outdir`.
fn child(spec: &str) {
    let (input, out) = spec.split_once('|').expect("input|outdir");
    let capture = Capture {
        device_time: gridpatrol_media::parse_device_time("2026-11-27T09:15:00+08:00").ok(),
        device_position: LonLat::new(116.4432, 39.9219),
        grid_code: "110105001002003".parse().ok(),
    };
    process_file(
        Path::new(input),
        Path::new(out),
        &capture,
        &Options::default(),
    )
    .expect("pipeline run");
}

struct Sample {
    wall_s: f64,
    peak_kb: u64,
}

/// Runs `cmd` under `/usr/bin/time -f %M`, returning wall time and peak RSS.
fn measure(cmd: &[&str], rss_file: &Path, env: Option<(&str, &str)>) -> Result<Sample, String> {
    let mut c = Command::new("/usr/bin/time");
    c.arg("-f").arg("%M").arg("-o").arg(rss_file).args(cmd);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let start = Instant::now();
    let status = c.status().map_err(|e| format!("running {cmd:?}: {e}"))?;
    let wall_s = start.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}"));
    }
    let rss = std::fs::read_to_string(rss_file).map_err(|e| e.to_string())?;
    let peak_kb = rss
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("no RSS figure in {rss:?}"))?;
    Ok(Sample { wall_s, peak_kb })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, samples: &[Sample]) -> (f64, u64) {
    let mut t: Vec<f64> = samples.iter().map(|s| s.wall_s).collect();
    t.sort_by(f64::total_cmp);
    let peak = samples.iter().map(|s| s.peak_kb).max().unwrap_or(0);
    println!(
        "{name:<12} wall p50 {:.3} s  min {:.3} s  p90 {:.3} s  max {:.3} s   peak RSS {:.1} MB  (n={})",
        percentile(&t, 0.5),
        t[0],
        percentile(&t, 0.9),
        t[t.len() - 1],
        peak as f64 / 1024.0,
        t.len()
    );
    (percentile(&t, 0.5), peak)
}

fn find_imagemagick() -> Option<PathBuf> {
    // /usr/local/bin/convert may be a stand-in; Debian's real one is here.
    ["/usr/bin/convert", "/usr/bin/convert-im6.q16"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("-version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("ImageMagick"))
                .unwrap_or(false)
        })
}

fn parent() -> Result<(), String> {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let (w, h) = std::env::var("SOURCE")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((4000u32, 3000u32));
    if !Path::new("/usr/bin/time").exists() {
        return Err("/usr/bin/time is missing (Debian package `time`)".into());
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = tmp.path().join("camera.jpg");
    let spec = ExifSpec {
        orientation: Some(1),
        taken_at: Some("2026:11:27 09:15:02".into()),
        offset: Some("+08:00".into()),
        gps: Some((116.4432, 39.9219)),
        make: Some("ACME".into()),
        serial: Some("SN-0001".into()),
    };
    let rgb = synth::street_scene(w, h, 2026);
    let jpeg = synth::jpeg(&rgb, w, h, 92, Some(&spec)).map_err(|e| e.to_string())?;
    drop(rgb);
    std::fs::write(&input, &jpeg).map_err(|e| e.to_string())?;
    println!(
        "source: generated {w}×{h} street-scene JPEG, quality 92, 4:2:0, {} bytes",
        jpeg.len()
    );

    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me.to_str().ok_or("exe path")?;
    let out_dir = tmp.path().join("store");
    let rss = tmp.path().join("rss.txt");
    let child_spec = format!("{}|{}", input.display(), out_dir.display());
    let ours_cmd = [me];
    let im = find_imagemagick();
    let im_out = tmp.path().join("im.jpg");
    let im_cmd: Option<Vec<String>> = im.as_ref().map(|p| {
        [
            p.display().to_string(),
            input.display().to_string(),
            "-auto-orient".into(),
            "-resize".into(),
            "2048x2048".into(),
            "-quality".into(),
            "80".into(),
            im_out.display().to_string(),
        ]
        .to_vec()
    });

    // Warm-up (page cache, dynamic loader) for both, not counted.
    measure(&ours_cmd, &rss, Some((CHILD, &child_spec)))?;
    if let Some(c) = &im_cmd {
        let c: Vec<&str> = c.iter().map(String::as_str).collect();
        measure(&c, &rss, None)?;
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(measure(&ours_cmd, &rss, Some((CHILD, &child_spec)))?);
        if let Some(c) = &im_cmd {
            let c: Vec<&str> = c.iter().map(String::as_str).collect();
            theirs.push(measure(&c, &rss, None)?);
        }
    }
    let (ours_p50, ours_peak) = summary("gridpatrol", &ours);

    let mut sizes: Vec<u64> = std::fs::read_dir(&out_dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.metadata().ok().map(|m| m.len()))
        .collect();
    sizes.sort_unstable();
    println!(
        "stored photo {} bytes ({:.0} KB), thumbnail {} bytes",
        sizes.last().copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0) as f64 / 1024.0,
        sizes.first().copied().unwrap_or(0)
    );
    match im {
        Some(p) => {
            let (im_p50, im_peak) = summary("imagemagick", &theirs);
            let im_size = std::fs::metadata(&im_out).map(|m| m.len()).unwrap_or(0);
            println!("imagemagick  {} output {} bytes", p.display(), im_size);
            println!(
                "ratio (p50 wall, ours / ImageMagick): {:.3}   peak RSS ours {:.1} MB vs {:.1} MB",
                ours_p50 / im_p50,
                ours_peak as f64 / 1024.0,
                im_peak as f64 / 1024.0
            );
        }
        None => println!("ImageMagick not found (apt-get install imagemagick): no ratio"),
    }
    Ok(())
}
