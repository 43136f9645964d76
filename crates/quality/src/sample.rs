//! The monthly sample of each inspector's reports (抽检): reproducible from
//! its recorded seed, so anyone can redo the draw and get the same cases.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Month;

/// How much of each inspector's month is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRule {
    /// Share of each inspector's reports (0–1).
    pub rate: f64,
    /// At least this many (or all, when fewer).
    pub min: usize,
}

impl Default for SampleRule {
    /// 5 %, at least 3.
    fn default() -> Self {
        SampleRule { rate: 0.05, min: 3 }
    }
}

/// How many of `n` reports the rule draws.
pub fn sample_size(n: usize, rule: SampleRule) -> usize {
    let share = (n as f64 * rule.rate.clamp(0.0, 1.0)).ceil() as usize;
    share.max(rule.min).min(n)
}

/// Draws the sample of `month`'s reports: for each inspector, the
/// [`sample_size`] cases whose `sha256(seed, month, case id)` is smallest.
/// `reports` are `(inspector, case id)` pairs; the result is sorted by
/// inspector, then by draw order. The same seed always gives the same draw.
pub fn draw(
    month: Month,
    seed: &str,
    reports: &[(String, String)],
    rule: SampleRule,
) -> Vec<(String, String)> {
    let mut by_inspector: std::collections::BTreeMap<&str, Vec<(String, &str)>> =
        Default::default();
    for (inspector, case) in reports {
        let key = hex::encode(Sha256::digest(
            format!("{seed}\n{month}\n{case}").as_bytes(),
        ));
        by_inspector
            .entry(inspector.as_str())
            .or_default()
            .push((key, case.as_str()));
    }
    let mut out = Vec::new();
    for (inspector, mut cases) in by_inspector {
        cases.sort();
        cases.dedup_by(|a, b| a.1 == b.1);
        let k = sample_size(cases.len(), rule);
        out.extend(
            cases
                .into_iter()
                .take(k)
                .map(|(_, c)| (inspector.to_string(), c.to_string())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(per: &[(&str, usize)]) -> Vec<(String, String)> {
        per.iter()
            .flat_map(|(who, n)| (0..*n).map(move |i| (who.to_string(), format!("{who}-c{i}"))))
            .collect()
    }

    #[test]
    fn five_percent_but_at_least_three_and_never_more_than_there_are() {
        let r = SampleRule::default();
        assert_eq!(sample_size(0, r), 0);
        assert_eq!(sample_size(2, r), 2);
        assert_eq!(sample_size(10, r), 3);
        assert_eq!(sample_size(60, r), 3);
        assert_eq!(sample_size(61, r), 4);
        assert_eq!(sample_size(400, r), 20);
    }

    #[test]
    fn the_same_seed_draws_the_same_cases_and_another_seed_others() {
        let m = Month::parse("2026-11").unwrap();
        let all = reports(&[("I0001", 400), ("I0002", 10), ("I0003", 1)]);
        let a = draw(m, "seed-1", &all, SampleRule::default());
        let mut shuffled = all.clone();
        shuffled.reverse();
        assert_eq!(a, draw(m, "seed-1", &shuffled, SampleRule::default()));
        let count = |who: &str| a.iter().filter(|(i, _)| i == who).count();
        assert_eq!((count("I0001"), count("I0002"), count("I0003")), (20, 3, 1));
        assert!(a.iter().all(|(i, c)| c.starts_with(i.as_str())));
        let b = draw(m, "seed-2", &all, SampleRule::default());
        assert_ne!(a, b);
        assert_ne!(a, draw(m.next(), "seed-1", &all, SampleRule::default()));
    }
}
