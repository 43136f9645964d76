//! Category search latency: p50/p99 per query over the whole taxonomy for
//! 1–4 character queries of every kind, and, in the same run, a naive
//! SQLite `LIKE '%q%'` scan over the same rows as the baseline.
//!
//! Run: `cargo bench -p gridpatrol-search --bench search`

use std::time::{Duration, Instant};

use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_search::{Boosts, CategoryIndex};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Deterministic query set: for every 7th fine class, 1–4 leading
/// characters of its name, the same number of pinyin initials, the first
/// 1–4 letters of its full pinyin, and a 2–4 digit code prefix.
fn queries(t: &Taxonomy) -> Vec<(&'static str, String)> {
    use pinyin::ToPinyin;
    let mut out = Vec::new();
    for (i, n) in t.fine_classes().enumerate().filter(|(i, _)| i % 7 == 0) {
        let len = 1 + i % 4;
        let chars: Vec<char> = n.name.chars().collect();
        let start = i % chars.len().saturating_sub(len).max(1);
        let hanzi: String = chars.iter().skip(start).take(len).collect();
        out.push(("hanzi", hanzi));
        let py: Vec<&str> = n
            .name
            .as_str()
            .to_pinyin()
            .flatten()
            .map(|p| p.plain())
            .collect();
        let initials: String = py
            .iter()
            .take(len)
            .filter_map(|s| s.chars().next())
            .collect();
        out.push(("initials", initials));
        let full: String = py.concat().chars().take(len).collect();
        out.push(("pinyin", full));
        out.push((
            "code",
            n.code[..2 + 2 * (i % 2) + (i % 3).min(1)].to_string(),
        ));
    }
    out
}

fn main() {
    let t = Taxonomy::builtin();
    let built = Instant::now();
    let index = CategoryIndex::build(t);
    let build_time = built.elapsed();
    let qs = queries(t);
    let boosts = Boosts::new(
        &["02010101", "02080101"],
        &["02070201", "02010301", "02110101"],
    );
    const ROUNDS: usize = 20;

    println!(
        "category search over {} nodes ({} fine classes); index build {:.1} ms; {} queries x {ROUNDS} rounds",
        index.len(),
        t.stats().fine_classes,
        build_time.as_secs_f64() * 1e3,
        qs.len()
    );
    println!("| query kind | n | p50 µs | p99 µs | max µs |");
    println!("|---|---|---|---|---|");
    let mut all = Vec::new();
    for kind in ["hanzi", "initials", "pinyin", "code"] {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            for (_, q) in qs.iter().filter(|(k, _)| *k == kind) {
                let s = Instant::now();
                let hits = index.search(q, 20, &boosts);
                times.push(s.elapsed());
                std::hint::black_box(hits);
            }
        }
        times.sort();
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {:.1} |",
            times.len(),
            micros(percentile(&times, 0.5)),
            micros(percentile(&times, 0.99)),
            micros(*times.last().unwrap())
        );
        all.extend(times);
    }
    all.sort();
    let ours_p50 = percentile(&all, 0.5);
    let ours_p99 = percentile(&all, 0.99);
    println!(
        "| all | {} | {:.1} | {:.1} | {:.1} |",
        all.len(),
        micros(ours_p50),
        micros(ours_p99),
        micros(*all.last().unwrap())
    );

    // Baseline: the same rows in SQLite, `name LIKE '%q%'` (hanzi queries
    // only — LIKE cannot do pinyin at all), against our index on the same
    // hanzi queries.
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE c (code TEXT PRIMARY KEY, name TEXT, path TEXT)")
        .unwrap();
    {
        let mut ins = db.prepare("INSERT INTO c VALUES (?1, ?2, ?3)").unwrap();
        for n in t.nodes() {
            ins.execute((&n.code, &n.name, t.path_label(&n.code)))
                .unwrap();
        }
    }
    let mut stmt = db
        .prepare("SELECT code, name, path FROM c WHERE name LIKE '%' || ?1 || '%' ORDER BY length(name), code LIMIT 20")
        .unwrap();
    let hanzi: Vec<&String> = qs
        .iter()
        .filter(|(k, _)| *k == "hanzi")
        .map(|(_, q)| q)
        .collect();
    let (mut sql, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for q in &hanzi {
            let s = Instant::now();
            let rows: Vec<(String, String, String)> = stmt
                .query_map([q.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            sql.push(s.elapsed());
            std::hint::black_box(rows);
            let s = Instant::now();
            std::hint::black_box(index.search(q, 20, &boosts));
            ours.push(s.elapsed());
        }
    }
    sql.sort();
    ours.sort();
    println!();
    println!("| hanzi queries, same run | p50 µs | p99 µs |");
    println!("|---|---|---|");
    println!(
        "| SQLite LIKE '%q%' | {:.1} | {:.1} |",
        micros(percentile(&sql, 0.5)),
        micros(percentile(&sql, 0.99))
    );
    println!(
        "| CategoryIndex | {:.1} | {:.1} |",
        micros(percentile(&ours, 0.5)),
        micros(percentile(&ours, 0.99))
    );
    println!(
        "ratio (LIKE / index): p50 {:.2}x, p99 {:.2}x",
        percentile(&sql, 0.5).as_secs_f64() / percentile(&ours, 0.5).as_secs_f64(),
        percentile(&sql, 0.99).as_secs_f64() / percentile(&ours, 0.99).as_secs_f64()
    );
}
