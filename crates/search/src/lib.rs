//! Category search: finds patrol checklist categories the way an inspector
//! types on a phone — Chinese characters (`井盖`), full pinyin (`jinggai`),
//! pinyin initials (`xgg` → 非法小广告) or a code prefix (`0101`). The index
//! is built once from the taxonomy (every module, major class, subclass and
//! fine class) and answers in well under a millisecond with a linear scan
//! over precomputed readings, so it needs no IO and no database. Polyphonic
//! characters match on any of their readings.
//!
//! Ranking: exact name > name prefix > initials > substring (see
//! [`MatchKind`]); within a match kind the inspector's favourite and recent
//! categories come first, then the most complete match, then shallower
//! levels, then code order.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use gridpatrol_domain::taxonomy::{Level, Taxonomy};
use pinyin::ToPinyinMulti;
use serde::Serialize;

/// How a query matched a category, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The whole name (in characters or full pinyin) or the whole code.
    Exact,
    /// The start of the name (characters or pinyin) or of the code.
    Prefix,
    /// Consecutive pinyin initials anywhere in the name (`xgg`).
    Initials,
    /// Characters or full pinyin somewhere inside the name.
    Substring,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit<'a> {
    /// Hierarchical code, e.g. `02020101`.
    pub code: &'a str,
    /// Chinese name of the category.
    pub name: &'a str,
    /// Full path, `module › major › sub › fine`.
    pub path: &'a str,
    /// Depth in the taxonomy.
    pub level: Level,
    /// Why it matched.
    pub matched: MatchKind,
}

/// The inspector's own shortcuts, used to lift results within a match kind.
#[derive(Debug, Clone, Default)]
pub struct Boosts {
    weight: HashMap<String, u32>,
}

impl Boosts {
    /// No boosts.
    pub fn none() -> Boosts {
        Boosts::default()
    }

    /// Builds boosts from favourite codes and recently used codes (most
    /// recent first). Favourites outrank recents; more recent outranks older.
    pub fn new<S: AsRef<str>>(favourites: &[S], recent: &[S]) -> Boosts {
        let mut weight = HashMap::new();
        let n = recent.len() as u32;
        for (i, code) in recent.iter().enumerate() {
            weight.insert(code.as_ref().to_string(), 1 + n - i as u32);
        }
        for code in favourites {
            *weight.entry(code.as_ref().to_string()).or_insert(0) += 1_000;
        }
        Boosts { weight }
    }

    fn get(&self, code: &str) -> u32 {
        if self.weight.is_empty() {
            return 0;
        }
        self.weight.get(code).copied().unwrap_or(0)
    }
}

/// One indexed category with its precomputed readings.
struct Entry {
    code: String,
    name: String,
    path: String,
    level: Level,
    /// Per searchable character of the name: all its readings, lowercase
    /// ASCII (`ü` written `v`). Letters and digits in the name read as
    /// themselves; punctuation is skipped.
    readings: Vec<Vec<String>>,
    /// Per searchable character: the set of first letters of its readings.
    initials: Vec<Vec<u8>>,
    /// Number of characters in the name, for "most complete match first".
    name_chars: usize,
}

/// Search index over every node of a taxonomy.
pub struct CategoryIndex {
    entries: Vec<Entry>,
}

enum QueryKind {
    Code,
    Pinyin,
    Hanzi,
}

impl CategoryIndex {
    /// Indexes every node of `taxonomy`.
    pub fn build(taxonomy: &Taxonomy) -> CategoryIndex {
        let entries = taxonomy
            .nodes()
            .iter()
            .map(|node| {
                let mut readings = Vec::new();
                for c in node.name.chars() {
                    if c.is_ascii_alphanumeric() {
                        readings.push(vec![c.to_ascii_lowercase().to_string()]);
                    } else if let Some(multi) = c.to_pinyin_multi() {
                        let mut alts: Vec<String> = Vec::new();
                        for p in multi {
                            let r = p.plain().replace('ü', "v");
                            if !alts.contains(&r) {
                                alts.push(r);
                            }
                        }
                        readings.push(alts);
                    }
                }
                let initials = readings
                    .iter()
                    .map(|alts| {
                        let mut v: Vec<u8> = alts.iter().filter_map(|r| r.bytes().next()).collect();
                        v.dedup();
                        v
                    })
                    .collect();
                Entry {
                    code: node.code.clone(),
                    name: node.name.clone(),
                    path: taxonomy.path_label(&node.code),
                    level: node.level,
                    readings,
                    initials,
                    name_chars: node.name.chars().count(),
                }
            })
            .collect();
        CategoryIndex { entries }
    }

    /// Number of indexed categories.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` categories for `query`, best first. An empty query
    /// (after trimming) matches nothing.
    pub fn search(&self, query: &str, limit: usize, boosts: &Boosts) -> Vec<Hit<'_>> {
        let q: String = query
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                'ü' | 'Ü' => 'v',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let kind = if q.bytes().all(|b| b.is_ascii_digit()) {
            QueryKind::Code
        } else if q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            QueryKind::Pinyin
        } else {
            QueryKind::Hanzi
        };
        let qchars = q.chars().count();

        // Sort key: match kind, then boost (higher first), then how much of
        // the name the query covers (more first), then level, then code.
        let mut scored: Vec<((MatchKind, u32, usize, usize), usize)> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let m = match kind {
                QueryKind::Code => match_code(e, &q),
                QueryKind::Hanzi => match_hanzi(e, &q),
                QueryKind::Pinyin => match_pinyin(e, q.as_bytes()),
            };
            if let Some(m) = m {
                let uncovered = match kind {
                    QueryKind::Code => e.code.len(),
                    _ => e.name_chars.saturating_sub(qchars),
                };
                let key = (m, u32::MAX - boosts.get(&e.code), uncovered, level_rank(e.level));
                scored.push((key, i));
            }
        }
        let by_key = |a: &((MatchKind, u32, usize, usize), usize),
                      b: &((MatchKind, u32, usize, usize), usize)| {
            a.0.cmp(&b.0)
                .then_with(|| self.entries[a.1].code.cmp(&self.entries[b.1].code))
        };
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, by_key);
            scored.truncate(limit);
        }
        scored.sort_unstable_by(by_key);
        scored
            .into_iter()
            .map(|((m, ..), i)| {
                let e = &self.entries[i];
                Hit {
                    code: &e.code,
                    name: &e.name,
                    path: &e.path,
                    level: e.level,
                    matched: m,
                }
            })
            .collect()
    }
}

fn level_rank(level: Level) -> usize {
    match level {
        Level::Module => 0,
        Level::Major => 1,
        Level::Sub => 2,
        Level::Fine => 3,
    }
}

fn match_code(e: &Entry, q: &str) -> Option<MatchKind> {
    if e.code == q {
        Some(MatchKind::Exact)
    } else if e.code.starts_with(q) {
        Some(MatchKind::Prefix)
    } else {
        None
    }
}

fn match_hanzi(e: &Entry, q: &str) -> Option<MatchKind> {
    if e.name == q {
        Some(MatchKind::Exact)
    } else if e.name.starts_with(q) {
        Some(MatchKind::Prefix)
    } else if e.name.contains(q) {
        Some(MatchKind::Substring)
    } else {
        None
    }
}

fn match_pinyin(e: &Entry, q: &[u8]) -> Option<MatchKind> {
    let n = e.readings.len();
    if n == 0 {
        return None;
    }
    // Full pinyin from the first character: exact if it consumes the whole
    // name on a syllable boundary, otherwise a prefix.
    match full_pinyin_at(&e.readings, 0, q) {
        Some(true) => return Some(MatchKind::Exact),
        Some(false) => return Some(MatchKind::Prefix),
        None => {}
    }
    if q.len() <= n && (0..=n - q.len()).any(|s| initials_at(&e.initials, s, q)) {
        return Some(MatchKind::Initials);
    }
    if (1..n).any(|s| full_pinyin_at(&e.readings, s, q).is_some()) {
        return Some(MatchKind::Substring);
    }
    None
}

/// True if each query byte is an initial of consecutive characters from
/// `start`.
fn initials_at(initials: &[Vec<u8>], start: usize, q: &[u8]) -> bool {
    q.iter()
        .enumerate()
        .all(|(k, b)| initials[start + k].contains(b))
}

/// Matches `q` as full pinyin starting at character `start`: whole
/// syllables, the last of which may be partial (`jingg` → 井盖). Returns
/// `Some(true)` when the match ends exactly at the end of the name on a
/// syllable boundary, `Some(false)` for any other match, `None` for none.
fn full_pinyin_at(readings: &[Vec<String>], start: usize, q: &[u8]) -> Option<bool> {
    if q.is_empty() {
        return Some(start == readings.len());
    }
    let alts = readings.get(start)?;
    let mut found = None;
    for r in alts {
        let r = r.as_bytes();
        if q.len() >= r.len() && q.starts_with(r) {
            match full_pinyin_at(readings, start + 1, &q[r.len()..]) {
                Some(true) => return Some(true),
                Some(false) => found = Some(false),
                None => {}
            }
        } else if r.starts_with(q) {
            found = Some(false);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> CategoryIndex {
        CategoryIndex::build(Taxonomy::builtin())
    }

    #[test]
    fn indexes_every_node_of_the_taxonomy() {
        assert_eq!(index().len(), 11 + 121 + 590 + 3537);
    }

    #[test]
    fn initials_find_illegal_small_ads() {
        let idx = index();
        let hits = idx.search("xgg", 20, &Boosts::none());
        assert!(!hits.is_empty());
        assert!(
            hits.iter().any(|h| h.name.contains("非法小广告")),
            "{:?}",
            hits.iter().map(|h| h.name).collect::<Vec<_>>()
        );
        for h in &hits {
            assert!(h.matched <= MatchKind::Initials, "{h:?}");
        }
    }

    #[test]
    fn full_pinyin_finds_manhole_covers() {
        let idx = index();
        let hits = idx.search("jinggai", 50, &Boosts::none());
        assert!(hits.len() >= 8, "{} hits", hits.len());
        assert!(hits.iter().all(|h| h.name.contains("井盖")), "{hits:?}");
        // The eight network covers of the national standard are all there.
        for net in ["上水", "污水", "雨水", "电力", "路灯", "通讯", "燃气", "热力"] {
            let name = format!("{net}井盖");
            assert!(hits.iter().any(|h| h.name.starts_with(&name)), "{name}");
        }
    }

    #[test]
    fn hanzi_substring_and_code_prefix() {
        let idx = index();
        let hits = idx.search("井盖", 200, &Boosts::none());
        assert!(hits.iter().all(|h| h.name.contains("井盖")));
        assert!(hits.len() >= 30);

        let hits = idx.search("0201", 500, &Boosts::none());
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|h| h.code.starts_with("0201")));
        assert_eq!(hits[0].code, "0201", "the exact code comes first");
        assert_eq!(hits[0].matched, MatchKind::Exact);
        let expected = Taxonomy::builtin()
            .nodes()
            .iter()
            .filter(|n| n.code.starts_with("0201"))
            .count();
        assert_eq!(hits.len(), expected);
    }

    #[test]
    fn results_show_the_full_path() {
        let idx = index();
        let hit = idx
            .search("xgg", 50, &Boosts::none())
            .into_iter()
            .find(|h| h.level == Level::Fine)
            .expect("a fine class");
        let parts: Vec<&str> = hit.path.split(" › ").collect();
        assert_eq!(parts.len(), 4, "{}", hit.path);
        assert_eq!(parts[0], "城市管理");
        assert_eq!(parts[3], hit.name);
    }

    #[test]
    fn ranking_puts_exact_before_prefix_before_initials_before_substring() {
        let idx = index();
        for q in ["jinggai", "xgg", "lu", "井盖", "垃圾", "wz", "ql"] {
            let hits = idx.search(q, 300, &Boosts::none());
            for w in hits.windows(2) {
                assert!(w[0].matched <= w[1].matched, "{q}: {:?} then {:?}", w[0], w[1]);
            }
        }
        // A whole subclass name typed out comes first.
        let t = Taxonomy::builtin();
        let sub = t
            .nodes()
            .iter()
            .find(|n| n.level == Level::Sub && n.name == "上水井盖")
            .expect("上水井盖 subclass");
        let hits = idx.search("上水井盖", 10, &Boosts::none());
        assert_eq!(hits[0].code, sub.code);
        assert_eq!(hits[0].matched, MatchKind::Exact);
        let hits = idx.search("shangshuijinggai", 10, &Boosts::none());
        assert_eq!(hits[0].code, sub.code);
        assert_eq!(hits[0].matched, MatchKind::Exact);
    }

    #[test]
    fn favourites_and_recents_rise_within_their_match_kind() {
        let idx = index();
        let plain = idx.search("jinggai", 100, &Boosts::none());
        let last = plain.last().expect("hits").code.to_string();
        let second_last = plain[plain.len() - 2].code.to_string();
        let fav = idx.search("jinggai", 100, &Boosts::new(&[last.clone()], &[]));
        assert_eq!(fav[0].code, last, "a favourite comes first");
        let rec = idx.search(
            "jinggai",
            100,
            &Boosts::new(&[] as &[String], &[second_last.clone(), last.clone()]),
        );
        assert_eq!(rec[0].code, second_last, "the most recent comes first");
        assert_eq!(rec[1].code, last);
        // Boosts never lift a weaker match over a stronger one.
        let sub = idx.search("上水井盖", 30, &Boosts::none());
        let weak = sub.last().unwrap().code.to_string();
        let boosted = idx.search("上水井盖", 30, &Boosts::new(&[weak.clone()], &[]));
        assert_eq!(boosted[0].matched, MatchKind::Exact);
    }

    #[test]
    fn polyphonic_characters_match_on_any_reading() {
        let idx = index();
        // 行 reads xing (行道树) and hang (银行).
        let t = Taxonomy::builtin();
        if let Some(n) = t.nodes().iter().find(|n| n.name.contains("行道树")) {
            let hits = idx.search("xingdaoshu", 50, &Boosts::none());
            assert!(hits.iter().any(|h| h.code == n.code), "{}", n.name);
        }
        let hits = idx.search("xds", 50, &Boosts::none());
        assert!(hits.iter().any(|h| h.name.contains("行道树")));
    }

    #[test]
    fn nonsense_and_empty_queries_find_nothing() {
        let idx = index();
        assert!(idx.search("", 10, &Boosts::none()).is_empty());
        assert!(idx.search("   ", 10, &Boosts::none()).is_empty());
        assert!(idx.search("qqqqqqqq", 10, &Boosts::none()).is_empty());
        assert!(idx.search("99", 10, &Boosts::none()).is_empty());
        assert!(idx.search("💥", 10, &Boosts::none()).is_empty());
        assert_eq!(idx.search("j", 5, &Boosts::none()).len(), 5);
    }
}
