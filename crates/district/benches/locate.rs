//! Locate latency: R-tree index vs. a linear scan over all grid polygons.
//!
//! Run: `cargo bench -p gridpatrol-district --bench locate`
//! Prints generation time, then p50/p90/p99/max per call for 100,000 random
//! points in the district's bounding box (inside and outside), and the same
//! percentiles for a linear scan over a 2,000-point subset (it is ~1000× slower).

use std::hint::black_box;
use std::time::{Duration, Instant};

use geo::BoundingRect;
use gridpatrol_district::{DemoDistrict, GridIndex};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn percentiles(mut ns: Vec<u64>) -> String {
    ns.sort_unstable();
    let at = |p: f64| ns[((ns.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:>8.2} µs  p90 {:>8.2} µs  p99 {:>8.2} µs  max {:>9.2} µs",
        at(0.50) as f64 / 1e3,
        at(0.90) as f64 / 1e3,
        at(0.99) as f64 / 1e3,
        at(1.0) as f64 / 1e3
    )
}

fn time_each(points: &[(f64, f64)], f: impl Fn(f64, f64) -> Option<usize>) -> (Vec<u64>, usize) {
    let mut hits = 0;
    let ns = points
        .iter()
        .map(|&(x, y)| {
            let t = Instant::now();
            let r = black_box(f(black_box(x), black_box(y)));
            let e = t.elapsed();
            hits += usize::from(r.is_some());
            u64::try_from(e.as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    (ns, hits)
}

fn main() {
    let t = Instant::now();
    let d = DemoDistrict::generate();
    let gen = t.elapsed();
    let t = Instant::now();
    let index = GridIndex::new(&d);
    let build = t.elapsed();
    println!(
        "generate: {:.1} ms   index build: {:.1} ms",
        ms(gen),
        ms(build)
    );

    let bbox = DemoDistrict::outline()
        .bounding_rect()
        .expect("outline has a box");
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let points: Vec<(f64, f64)> = (0..100_000)
        .map(|_| {
            (
                rng.random_range(bbox.min().x..bbox.max().x),
                rng.random_range(bbox.min().y..bbox.max().y),
            )
        })
        .collect();
    // Warm-up pass so caches and branch predictors settle.
    for &(x, y) in &points[..10_000] {
        black_box(index.locate_index(x, y));
    }
    let (ns, hits) = time_each(&points, |x, y| index.locate_index(x, y));
    println!(
        "rtree  locate  n=100000 inside={hits:<6} {}",
        percentiles(ns.clone())
    );
    let sub = &points[..2_000];
    let (ns_lin, _) = time_each(sub, |x, y| index.locate_index_linear(x, y));
    let (ns_sub, _) = time_each(sub, |x, y| index.locate_index(x, y));
    let med = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2].max(1)
    };
    println!(
        "linear scan    n=2000                {}",
        percentiles(ns_lin.clone())
    );
    println!(
        "median ratio linear/rtree on the same 2000 points: {:.0}×",
        med(ns_lin) as f64 / med(ns_sub) as f64
    );
    let t = Instant::now();
    let full = index.locate(116.4605, 39.9087);
    println!(
        "locate with Location (allocating): {:?} in {:.2} µs",
        full.map(|l| l.technical_grid),
        t.elapsed().as_nanos() as f64 / 1e3
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
