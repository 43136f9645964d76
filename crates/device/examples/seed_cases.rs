//! Fills a device's data directory with an inspector's case history, for
//! the app benchmarks (`scripts/bench-app.sh`): signs in against a real
//! server, saves N reports through the `Device` facade (the same
//! transaction the report screen runs), each at a point inside the
//! inspector's own supervision grid (checked with the device's own
//! locator), with a fine class and a time spread over the past year, then
//! syncs until nothing is pending, so the app later opens signed in with
//! the cases in My cases and nothing left to upload. With `--month
//! YYYY-MM` the reports fall inside that (Beijing) month instead: the
//! end-to-end test gives an inspector last month's reports this way, so the
//! squad leader has a monthly sample to mark.
//!
//! ```sh
//! cargo run --release -p gridpatrol-device --example seed_cases -- \
//!     --server http://127.0.0.1:8787 --user I0002 --data DIR --cases 10000 [--month 2026-11]
//! ```
//!
//! The password is the demo one (`patrol-<id>`, from `gridpatrol init --demo`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Contains, Point};
use gridpatrol_device::view::{CaseDraft, Position, SignIn};
use gridpatrol_device::{Clock, Device, DeviceConfig, NoPosition, SystemClock};
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_quality::Month;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The system clock moved back by a settable number of milliseconds, so
/// the seeded reports carry times spread over the past year.
struct BackClock(AtomicI64);

impl Clock for BackClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() - self.0.load(Ordering::Relaxed)
    }
}

struct Args {
    server: String,
    user: String,
    data: std::path::PathBuf,
    cases: usize,
    month: Option<Month>,
}

fn args() -> Args {
    let mut server = None;
    let mut user = None;
    let mut data = None;
    let mut cases = 10_000;
    let mut month = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--server" => server = Some(value()),
            "--user" => user = Some(value()),
            "--data" => data = Some(value().into()),
            "--cases" => {
                cases = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--cases takes a number"))
            }
            "--month" => {
                month =
                    Some(Month::parse(&value()).unwrap_or_else(|e| usage(&format!("--month: {e}"))))
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    Args {
        server: server.unwrap_or_else(|| usage("--server is required")),
        user: user.unwrap_or_else(|| usage("--user is required")),
        data: data.unwrap_or_else(|| usage("--data is required")),
        cases,
        month,
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("seed_cases: {msg}\nusage: seed_cases --server URL --user ID --data DIR [--cases N] [--month YYYY-MM]");
    std::process::exit(2)
}

const WHAT: [&str; 8] = [
    "井盖破损，已设警示",
    "人行道上堆放建筑垃圾",
    "路灯不亮",
    "占道经营，已劝离",
    "小广告张贴在电线杆上",
    "垃圾桶满溢",
    "共享单车乱停放",
    "绿地被踩踏",
];

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(args));
}

async fn run(args: Args) {
    let clock = Arc::new(BackClock(AtomicI64::new(0)));
    let device = Device::open(DeviceConfig {
        data_dir: args.data.clone(),
        clock: clock.clone(),
        position: Arc::new(NoPosition),
        allow_plain_http: false,
    })
    .expect("open the device");
    let me = device
        .sign_in(SignIn {
            server: args.server.clone(),
            user_id: args.user.clone(),
            password: format!("patrol-{}", args.user),
        })
        .await
        .expect("sign in");

    // The technical grids of the inspector's supervision grid.
    let dd = DemoDistrict::get();
    let grid = me
        .supervision_grid
        .clone()
        .expect("the account has a supervision grid");
    let cells: Vec<_> = dd
        .district
        .technical_grids
        .iter()
        .enumerate()
        .filter(|(_, t)| t.supervision_grid == grid)
        .map(|(k, t)| (t.code.clone(), &dd.geometry[k]))
        .collect();
    assert!(!cells.is_empty(), "no technical grids in {grid}");
    let fine: Vec<_> = Taxonomy::builtin()
        .fine_classes()
        .map(|n| n.code.clone())
        .collect();

    // Seeded: the same arguments give the same history.
    let mut rng = StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    // How far back the clock goes for the first report and the last one:
    // the past year, or the chosen month (its first and last hour spared).
    let now_ms = SystemClock.now_ms();
    let (first_back, last_back) = match args.month {
        None => (365 * 24 * 3600 * 1000, 0),
        Some(m) => {
            assert!(m.end_ms() <= now_ms, "--month {m} has not ended yet");
            (
                now_ms - m.start_ms() - 3_600_000,
                now_ms - m.end_ms() + 3_600_000,
            )
        }
    };
    let span_ms: i64 = first_back - last_back;
    let started = Instant::now();
    let mut saved = 0usize;
    while saved < args.cases {
        let (code, shape) = &cells[rng.random_range(0..cells.len())];
        let Some(rect) = shape.bounding_rect() else {
            continue;
        };
        let lon = rect.min().x + rng.random::<f64>() * rect.width();
        let lat = rect.min().y + rng.random::<f64>() * rect.height();
        if !shape.contains(&Point::new(lon, lat)) {
            continue;
        }
        // The device's own locator must agree: inside my grid, this cell.
        let at = device.locate_at(lon, lat).expect("locate");
        if !at.inside_mine || at.technical_grid.as_deref() != Some(code.as_str()) {
            continue;
        }
        // Oldest first, so the list's newest-first order is the saving order reversed.
        let back = first_back - span_ms * saved as i64 / args.cases.max(1) as i64;
        clock.0.store(back, Ordering::Relaxed);
        let now = clock.now_ms();
        let n = rng.random_range(0..WHAT.len());
        device
            .save_case(CaseDraft {
                category: fine[rng.random_range(0..fine.len())].clone(),
                position: Position {
                    lon,
                    lat,
                    accuracy_m: 3.0 + 12.0 * rng.random::<f64>(),
                    mock: false,
                    manual: false,
                    at_ms: now,
                },
                address: format!("朝阳区 {} 号附近", rng.random_range(1..=300)),
                description: format!("{}（第 {} 次巡查）", WHAT[n], saved + 1),
                photos: Vec::new(),
            })
            .expect("save a case");
        saved += 1;
        if saved.is_multiple_of(1000) {
            eprintln!(
                "seed_cases: {saved} saved, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    clock.0.store(0, Ordering::Relaxed);
    let save_s = started.elapsed().as_secs_f64();

    // Sync until nothing is pending (bounded: 60 sessions or 10 minutes).
    let sync_started = Instant::now();
    let mut status = device.sync_status();
    for _ in 0..60 {
        status = device.sync_now().await;
        if status.phase == "idle" && status.pending_docs == 0 && status.pending_photos == 0 {
            break;
        }
        if sync_started.elapsed() > Duration::from_secs(600) {
            break;
        }
    }
    let sync_s = sync_started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "user": me.id,
            "supervision_grid": grid,
            "cases": saved,
            "save_s": save_s,
            "sync_s": sync_s,
            "phase": status.phase,
            "pending_docs": status.pending_docs,
            "pending_photos": status.pending_photos,
            "refused_docs": status.refused_docs,
        })
    );
    if status.phase != "idle" || status.pending_docs != 0 || status.refused_docs != 0 {
        eprintln!("seed_cases: sync did not finish cleanly: {status:?}");
        std::process::exit(1);
    }
}
