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
}

/// One indexed category with its precomputed readings.
struct Entry {
    code: String,
    name: String,
    path: String,
    level: Level,
    /// Per searchable character of the name: a range into
    /// [`CategoryIndex::alts`] listing its readings. Letters and digits in
    /// the name read as themselves; punctuation is skipped.
    chars: Vec<(u32, u8)>,
    /// Per searchable character: bit set of the first letters of its
    /// readings (see [`bit`]).
    initials: Vec<u64>,
    /// Every letter appearing in any reading: a query using a letter
    /// outside this set cannot match in pinyin, so the entry is skipped.
    letters: u64,
    /// Union of `initials`, the same quick reject for initials queries.
    initial_letters: u64,
    /// One bit per hashed character of the name: the quick reject for
    /// character queries.
    char_bloom: u64,
    /// Number of characters in the name, for "most complete match first".
    name_chars: usize,
}

/// Search index over every node of a taxonomy.
///
/// Each query scans all entries, but the per-entry bit sets reject almost
/// every non-matching entry in a few instructions, and results are ranked
/// with one packed integer key per hit.
pub struct CategoryIndex {
    entries: Vec<Entry>,
    /// Distinct syllables (`ü` written `v`).
    syllables: Vec<String>,
    /// Syllable ids, referenced by [`Entry::chars`] ranges.
    alts: Vec<u16>,
    by_code: HashMap<String, usize>,
}

enum QueryKind {
    Code,
    Pinyin,
    Hanzi,
}

/// Bit of an ASCII letter or digit in the per-entry letter sets.
fn bit(b: u8) -> u64 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        b'0'..=b'9' => 1 << (26 + b - b'0'),
        _ => 1 << 63,
    }
}

fn letters_of(s: &[u8]) -> u64 {
    s.iter().fold(0, |m, b| m | bit(*b))
}

fn char_bit(c: char) -> u64 {
    // Fibonacci hashing of the code point into 64 buckets.
    1 << ((c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

impl CategoryIndex {
    /// Indexes every node of `taxonomy`.
    pub fn build(taxonomy: &Taxonomy) -> CategoryIndex {
        let mut syllables: Vec<String> = Vec::new();
        let mut syllable_ids: HashMap<String, u16> = HashMap::new();
        let mut alts: Vec<u16> = Vec::new();
        let mut entries = Vec::with_capacity(taxonomy.nodes().len());
        for node in taxonomy.nodes() {
            let mut chars = Vec::new();
            let mut initials = Vec::new();
            let mut letters = 0;
            for c in node.name.chars() {
                let readings: Vec<String> = if c.is_ascii_alphanumeric() {
                    vec![c.to_ascii_lowercase().to_string()]
                } else if let Some(multi) = c.to_pinyin_multi() {
                    multi
                        .into_iter()
                        .map(|p| p.plain().replace('ü', "v"))
                        .collect()
                } else {
                    continue;
                };
                let start = alts.len() as u32;
                let mut init = 0;
                for r in readings {
                    let id = *syllable_ids.entry(r.clone()).or_insert_with(|| {
                        syllables.push(r.clone());
                        (syllables.len() - 1) as u16
                    });
                    if !alts[start as usize..].contains(&id) {
                        alts.push(id);
                        init |= bit(r.as_bytes()[0]);
                        letters |= letters_of(r.as_bytes());
                    }
                }
                chars.push((start, (alts.len() as u32 - start) as u8));
                initials.push(init);
            }
            entries.push(Entry {
                code: node.code.clone(),
                name: node.name.clone(),
                path: taxonomy.path_label(&node.code),
                level: node.level,
                initial_letters: initials.iter().fold(0, |m, i| m | i),
                chars,
                initials,
                letters,
                char_bloom: node.name.chars().fold(0, |m, c| m | char_bit(c)),
                name_chars: node.name.chars().count(),
            });
        }
        let by_code = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code.clone(), i))
            .collect();
        CategoryIndex {
            entries,
            syllables,
            alts,
            by_code,
        }
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
        let qb = q.as_bytes();
        let qchars = q.chars().count();
        let q_letters = letters_of(qb);
        let q_bloom = q.chars().fold(0, |m, c| m | char_bit(c));

        // Boosts resolved to entry positions once per query.
        let mut boost = vec![0u32; self.entries.len()];
        for (code, w) in &boosts.weight {
            if let Some(&i) = self.by_code.get(code) {
                boost[i] = *w;
            }
        }

        // One packed key per hit, smaller is better: match kind, boost
        // (higher first), uncovered part of the name (less first), level
        // (shallower first), then position, which is code order.
        let mut keys: Vec<u64> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let m = match kind {
                QueryKind::Code => match_code(e, &q),
                QueryKind::Hanzi => {
                    if q_bloom & !e.char_bloom != 0 {
                        continue;
                    }
                    match_hanzi(e, &q)
                }
                QueryKind::Pinyin => self.match_pinyin(e, qb, q_letters),
            };
            let Some(m) = m else { continue };
            let uncovered = match kind {
                QueryKind::Code => e.code.len(),
                _ => e.name_chars.saturating_sub(qchars),
            };
            let key = ((m as u64) << 60)
                | (u64::from(0xF_FFFF - boost[i].min(0xF_FFFF)) << 40)
                | ((uncovered.min(0xFF) as u64) << 32)
                | ((level_rank(e.level) as u64) << 24)
                | i as u64;
            keys.push(key);
        }
        if keys.len() > limit {
            keys.select_nth_unstable(limit - 1);
            keys.truncate(limit);
        }
        keys.sort_unstable();
        keys.into_iter()
            .map(|key| {
                let e = &self.entries[(key & 0xFF_FFFF) as usize];
                Hit {
                    code: &e.code,
                    name: &e.name,
                    path: &e.path,
                    level: e.level,
                    matched: match key >> 60 {
                        0 => MatchKind::Exact,
                        1 => MatchKind::Prefix,
                        2 => MatchKind::Initials,
                        _ => MatchKind::Substring,
                    },
                }
            })
            .collect()
    }

    fn match_pinyin(&self, e: &Entry, q: &[u8], q_letters: u64) -> Option<MatchKind> {
        let n = e.chars.len();
        let may_full = q_letters & !e.letters == 0;
        let may_initials = q.len() <= n && q_letters & !e.initial_letters == 0;
        if !may_full && !may_initials {
            return None;
        }
        // Full pinyin from the first character: exact if it consumes the
        // whole name on a syllable boundary, otherwise a prefix.
        if may_full {
            match self.full_pinyin_at(e, 0, q) {
                Some(true) => return Some(MatchKind::Exact),
                Some(false) => return Some(MatchKind::Prefix),
                None => {}
            }
        }
        if may_initials
            && (0..=n - q.len()).any(|s| {
                q.iter()
                    .enumerate()
                    .all(|(k, b)| e.initials[s + k] & bit(*b) != 0)
            })
        {
            return Some(MatchKind::Initials);
        }
        if may_full && (1..n).any(|s| self.full_pinyin_at(e, s, q).is_some()) {
            return Some(MatchKind::Substring);
        }
        None
    }

    /// Matches `q` as full pinyin starting at character `start`: whole
    /// syllables, the last of which may be partial (`jingg` → 井盖).
    /// Returns `Some(true)` when the match ends exactly at the end of the
    /// name on a syllable boundary, `Some(false)` for any other match,
    /// `None` for none.
    fn full_pinyin_at(&self, e: &Entry, start: usize, q: &[u8]) -> Option<bool> {
        if q.is_empty() {
            return Some(start == e.chars.len());
        }
        let &(first, count) = e.chars.get(start)?;
        if e.initials[start] & bit(q[0]) == 0 {
            return None;
        }
        let mut found = None;
        for id in &self.alts[first as usize..first as usize + count as usize] {
            let r = self.syllables[*id as usize].as_bytes();
            if q.len() >= r.len() && q.starts_with(r) {
                match self.full_pinyin_at(e, start + 1, &q[r.len()..]) {
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
        for net in [
            "上水", "污水", "雨水", "电力", "路灯", "通讯", "燃气", "热力",
        ] {
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
                assert!(
                    w[0].matched <= w[1].matched,
                    "{q}: {:?} then {:?}",
                    w[0],
                    w[1]
                );
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
        let fav = idx.search(
            "jinggai",
            100,
            &Boosts::new(std::slice::from_ref(&last), &[]),
        );
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
        let boosted = idx.search(
            "上水井盖",
            30,
            &Boosts::new(std::slice::from_ref(&weak), &[]),
        );
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
