//! Category search relevance on the public set `data/search-relevance.tsv`
//! (issue 10): hit@1, hit@3, hit@10 and MRR of `CategoryIndex::search`
//! with no boosts, over the first acceptable fine class in the top 10.
//!
//! Run: `cargo bench -p gridpatrol-search --bench relevance`
//! (`RELEVANCE_MISSES=1` also prints every query that misses the top 3).

use gridpatrol_domain::taxonomy::{Level, Taxonomy};
use gridpatrol_search::{Boosts, CategoryIndex};

const SET: &str = include_str!("../../../data/search-relevance.tsv");

/// Minimal JSON string escaping (no serde_json in this crate's deps).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let t = Taxonomy::builtin();
    let index = CategoryIndex::build(t);
    let show_misses = std::env::var("RELEVANCE_MISSES").is_ok_and(|v| v == "1");
    let (mut n, mut h1, mut h3, mut h10, mut rr) = (0usize, 0usize, 0usize, 0usize, 0.0f64);
    for line in SET.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let query = cols.next().unwrap_or_default();
        let acceptable: Vec<&str> = cols.next().unwrap_or_default().split_whitespace().collect();
        let hits = index.search(query, 10, &Boosts::none());
        let rank = hits
            .iter()
            .position(|h| h.level == Level::Fine && acceptable.contains(&h.code))
            .map(|i| i + 1);
        n += 1;
        if let Some(r) = rank {
            h1 += usize::from(r <= 1);
            h3 += usize::from(r <= 3);
            h10 += 1;
            rr += 1.0 / r as f64;
        }
        if show_misses && rank.is_none_or(|r| r > 3) {
            let got: Vec<String> = hits
                .iter()
                .map(|h| json_str(&format!("{} {}", h.code, h.name)))
                .collect();
            println!(
                "{{\"miss\":{},\"rank\":{},\"got\":[{}]}}",
                json_str(query),
                rank.map_or("null".to_string(), |r| r.to_string()),
                got.join(",")
            );
        }
    }
    let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
    println!(
        "{{\"set\":\"data/search-relevance.tsv\",\"queries\":{n},\"limit\":10,\"hit_at_1\":{:.1},\"hit_at_3\":{:.1},\"hit_at_10\":{:.1},\"mrr\":{:.3}}}",
        pct(h1),
        pct(h3),
        pct(h10),
        rr / n.max(1) as f64
    );
}
