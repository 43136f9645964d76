//! Taxonomy latency: parsing the shipped 3,537-class checklist (what
//! `Taxonomy::builtin()` pays once per process) and the per-lookup cost of
//! `get`, `path_label` and `children`. Prints p50/p90/p99 per operation.
//!
//! Run: `cargo bench -p gridpatrol-domain --bench taxonomy`

use std::hint::black_box;
use std::time::{Duration, Instant};

use gridpatrol_domain::taxonomy::Taxonomy;

const TSV: &str = include_str!("../../../data/taxonomy.tsv");

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!(
        "{name:<28} n={:<6} p50={:>10.2?} p90={:>10.2?} p99={:>10.2?}",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99)
    );
}

fn time_each<F: FnMut()>(n: usize, mut f: F) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn main() {
    percentiles(
        "parse builtin tsv",
        time_each(30, || {
            black_box(Taxonomy::parse(black_box(TSV)).expect("shipped file parses"));
        }),
    );
    let t = Taxonomy::builtin();
    let codes: Vec<String> = t.fine_classes().map(|n| n.code.clone()).collect();
    let mut i = 0;
    percentiles(
        "get(fine code)",
        time_each(20_000, || {
            i = (i + 7919) % codes.len();
            black_box(t.get(black_box(&codes[i])));
        }),
    );
    percentiles(
        "path_label(fine code)",
        time_each(20_000, || {
            i = (i + 7919) % codes.len();
            black_box(t.path_label(black_box(&codes[i])));
        }),
    );
    percentiles(
        "children(\"0201\").count()",
        time_each(20_000, || {
            black_box(t.children(black_box("0201")).count());
        }),
    );
}
