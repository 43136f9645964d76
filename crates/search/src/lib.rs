//! Category search: finds patrol checklist categories the way an inspector
//! types on a phone — Chinese characters (`井盖`), full pinyin (`jinggai`),
//! pinyin initials (`xgg` → 非法小广告), a code prefix (`0101`), colloquial
//! words (`井盖丢了`, `牛皮癣`, `违停`) and small typos (`jingai`,
//! `路等不亮`). The index is built once from the taxonomy and answers in
//! well under a millisecond, with no IO and no database. Polyphonic
//! characters match on any of their readings.
//!
//! Scoring, in points (higher first):
//!
//! - **Coverage** (0–1000): how much of the query a category covers. The
//!   query is first rewritten with the synonym lexicon
//!   (`data/search-aliases.tsv`: `丢了` → 丢失, `牛皮癣` → 非法小广告), then
//!   split into character bigrams (and, with little weight, single
//!   characters); each bigram that occurs in some category is a known word
//!   weighted by its inverse document frequency (BM25-like), the rest are
//!   leftovers that count for nothing. A known word in the fine class's own
//!   name scores fully, one only in its parent path half, a homophone
//!   (`路等` for 路灯) 70 %. Letters inside a mixed query (`jg丢了`) are
//!   matched as pinyin or initials. Categories covering less than 40 % of
//!   the known words are left out.
//! - **Literal match** (see [`MatchKind`]): the whole query as typed
//!   matching exactly, as a prefix, as initials (at a word start more than
//!   inside a word: `jg` → 井盖 before 应急管理) or as a substring. For
//!   letters with few literal matches, pinyin within one edit (`jingai`,
//!   `jinggia`) still matches.
//!
//! Ties are broken by the inspector's favourites and recents ([`Boosts`]),
//! then by how often the class is reported (`data/category-frequency.tsv`),
//! then by the shorter name, fine classes (the only ones a case can be filed
//! under) before their parents, and code order.
//! [`CategoryIndex::explain`] shows the parts of every hit's score.
#![forbid(unsafe_code)]

pub mod lexicon;

use std::collections::{HashMap, HashSet};

use gridpatrol_domain::taxonomy::{Level, Taxonomy};
use pinyin::{ToPinyin, ToPinyinMulti};
use serde::Serialize;

use lexicon::fold;
pub use lexicon::{Alias, AliasTarget, Aliases, Frequency, LexiconError};

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
    /// Characters or full pinyin somewhere inside the name, or the
    /// query's alias rewrite anywhere in it (`牛皮癣` → 非法小广告).
    Substring,
    /// Part of the query's words, or words through homophones or a pinyin
    /// typo.
    Partial,
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

/// What one part of a hit's score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// The whole query (or its alias rewrite) matched literally.
    Literal,
    /// A known word of the query in the category's own name.
    Name,
    /// A known word only in the category's parent path.
    Path,
    /// A known word through a homophone (same pinyin, other characters).
    Homophone,
    /// Letters of a mixed query as pinyin or initials of the name.
    Pinyin,
    /// An alias naming this fine class directly.
    AliasCode,
    /// Letters within one or two edits of the name's pinyin.
    Fuzzy,
}

/// One part of a hit's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScorePart {
    /// The query word (or whole query) this part is for.
    pub word: String,
    /// How it matched.
    pub kind: PartKind,
    /// Points it contributed (coverage parts are already scaled to 0–1000
    /// over all of them).
    pub points: u32,
}

/// Why a hit ranked where it did (see [`CategoryIndex::explain`]).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation<'a> {
    /// The hit itself.
    pub hit: Hit<'a>,
    /// Total points (the primary sort key).
    pub score: u32,
    /// The parts of the score.
    pub parts: Vec<ScorePart>,
    /// Favourite / recent weight (the first tie-break).
    pub boost: u32,
    /// Reported cases of the class (the second tie-break).
    pub frequency: u32,
}

/// How a query was read before scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// The query after normalising and alias rewriting.
    pub rewritten: String,
    /// Aliases applied, `(alias, target)` in query order.
    pub aliases: Vec<(String, String)>,
    /// Known words (character bigrams or single characters, letter runs).
    pub words: Vec<String>,
    /// Parts of the query that occur in no category.
    pub leftovers: Vec<String>,
}

/// The inspector's own shortcuts, used to lift results among equal scores.
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
    /// Per searchable character: whether a known word starts there (the
    /// name's start, after `—`, or a word of the lexicon / a parent's name).
    word_start: Vec<bool>,
    /// Every letter appearing in any reading: a query using a letter
    /// outside this set cannot match in pinyin, so the entry is skipped.
    letters: u64,
    /// Union of `initials`, the same quick reject for initials queries.
    initial_letters: u64,
    /// One bit per hashed character of the name: the quick reject for
    /// character queries.
    char_bloom: u64,
    /// Number of characters in the name, for "shorter name first".
    name_chars: usize,
    /// The name's default pinyin, letters only, for typo matching.
    py: Vec<u8>,
    /// Letter bigrams of `py` (26 × 26 bits), the quick reject for typos.
    py_pairs: [u64; 11],
    /// Reported cases (fine classes only).
    freq: u32,
}

/// Search index over every node of a taxonomy.
///
/// Literal matching scans all entries, but per-entry bit sets reject almost
/// every non-matching entry in a few instructions; tolerant matching reads
/// small posting lists of an inverted index of character bigrams.
pub struct CategoryIndex {
    entries: Vec<Entry>,
    /// Distinct syllables (`ü` written `v`).
    syllables: Vec<String>,
    syllable_ids: HashMap<String, u16>,
    /// Syllable ids, referenced by [`Entry::chars`] ranges.
    alts: Vec<u16>,
    by_code: HashMap<String, usize>,
    /// Character bigram → entries having it (field 2: own name, 1: parent
    /// path only).
    bigrams: HashMap<(char, char), Vec<(u32, u8)>>,
    /// Single character → entries having it, as above.
    unigrams: HashMap<char, Vec<(u32, u8)>>,
    /// Syllable pair → entries whose name has a bigram reading so.
    py_bigrams: HashMap<(u16, u16), Vec<u32>>,
    /// Number of fine classes, for inverse document frequencies.
    fine_count: usize,
    /// Normalised alias → target.
    aliases: HashMap<String, AliasTarget>,
    /// Longest alias, in characters.
    alias_max: usize,
}

#[derive(Clone, Copy)]
enum QueryKind {
    Code,
    Pinyin,
    Hanzi,
}

/// One known word of a query.
enum Unit {
    Bigram(char, char),
    Unigram(char),
    Letters(String),
    Code(usize),
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

/// Index of a lower-case letter pair in a 26 × 26 bit set.
fn pair_index(a: u8, b: u8) -> Option<usize> {
    (a.is_ascii_lowercase() && b.is_ascii_lowercase())
        .then(|| (a - b'a') as usize * 26 + (b - b'a') as usize)
}

fn is_han(c: char) -> bool {
    !c.is_ascii() && c.is_alphanumeric()
}

/// Least coverage (of 1000) of the query's known words a category needs.
const MIN_COVERAGE: u32 = 400;

/// Points of the literal match kinds (see the crate docs).
fn literal_points(kind: QueryKind, m: MatchKind, word_start: bool) -> u32 {
    match (kind, m) {
        (QueryKind::Hanzi, MatchKind::Exact) => 1000,
        (QueryKind::Hanzi, MatchKind::Prefix) => 300,
        (QueryKind::Hanzi, _) => 150,
        (_, MatchKind::Exact) => 2000,
        (_, MatchKind::Prefix) => 1400,
        (_, MatchKind::Initials) if word_start => 1250,
        (_, MatchKind::Initials) => 1200,
        (_, _) => 1100,
    }
}

/// Optimal-string-alignment distance of `q` to the best-matching substring
/// of `t` (Sellers' algorithm with transpositions), or `None` above `max`.
fn substring_distance(q: &[u8], t: &[u8], max: usize) -> Option<usize> {
    let n = q.len();
    // Columns for t positions j-2, j-1, j.
    let mut prev2: Vec<usize> = (0..=n).collect();
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0; n + 1];
    let mut best = prev[n];
    for j in 1..=t.len() {
        cur[0] = 0;
        for i in 1..=n {
            let cost = usize::from(q[i - 1] != t[j - 1]);
            let mut d = (prev[i - 1] + cost).min(prev[i] + 1).min(cur[i - 1] + 1);
            if i > 1 && j > 1 && q[i - 1] == t[j - 2] && q[i - 2] == t[j - 1] {
                d = d.min(prev2[i - 2] + 1);
            }
            cur[i] = d;
        }
        best = best.min(cur[n]);
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (best <= max).then_some(best)
}

/// Per-query working state of the tolerant scorer.
struct Scored {
    /// Points per entry.
    points: Vec<u32>,
    /// Literal match kind per entry, if any.
    literal: Vec<Option<MatchKind>>,
    /// Entries with any points, in first-touched order.
    touched: Vec<u32>,
}

impl Scored {
    fn add(&mut self, i: usize, p: u32) {
        if self.points[i] == 0 && self.literal[i].is_none() {
            self.touched.push(i as u32);
        }
        self.points[i] += p;
    }
}

/// The analysed query: units with their weights, and what [`Reading`]
/// reports.
struct Analysis {
    units: Vec<(Unit, u32)>,
    reading: Reading,
}

impl CategoryIndex {
    /// Indexes every node of `taxonomy` with the shipped lexicon and
    /// frequency prior.
    pub fn build(taxonomy: &Taxonomy) -> CategoryIndex {
        CategoryIndex::build_with(taxonomy, &Aliases::builtin(), &Frequency::builtin())
    }

    /// Indexes every node of `taxonomy` with the given lexicon and prior.
    pub fn build_with(
        taxonomy: &Taxonomy,
        aliases: &Aliases,
        frequency: &Frequency,
    ) -> CategoryIndex {
        // Known words for word starts: the names of modules, major classes
        // and subclasses, and every term of the lexicon.
        let mut words: HashMap<char, Vec<Vec<char>>> = HashMap::new();
        let mut add_word = |w: &str| {
            let cs: Vec<char> = w.chars().collect();
            if cs.len() >= 2 {
                words.entry(cs[0]).or_default().push(cs);
            }
        };
        for n in taxonomy.nodes().iter().filter(|n| n.level != Level::Fine) {
            add_word(&n.name);
        }
        for a in aliases.entries() {
            if let AliasTarget::Term(t) = &a.target {
                add_word(t);
            }
        }

        let mut syllables: Vec<String> = Vec::new();
        let mut syllable_ids: HashMap<String, u16> = HashMap::new();
        let mut alts: Vec<u16> = Vec::new();
        let mut entries = Vec::with_capacity(taxonomy.nodes().len());
        for node in taxonomy.nodes() {
            let mut chars = Vec::new();
            let mut initials = Vec::new();
            let mut word_start = Vec::new();
            let mut letters = 0;
            let name: Vec<char> = node.name.chars().collect();
            let mut after_dash = true;
            for (k, &c) in name.iter().enumerate() {
                let readings: Vec<String> = if c.is_ascii_alphanumeric() {
                    vec![c.to_ascii_lowercase().to_string()]
                } else if let Some(multi) = c.to_pinyin_multi() {
                    multi
                        .into_iter()
                        .map(|p| p.plain().replace('ü', "v"))
                        .collect()
                } else {
                    after_dash = true;
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
                let known = words
                    .get(&c)
                    .is_some_and(|ws| ws.iter().any(|w| name[k..].starts_with(w)));
                word_start.push(after_dash || known);
                after_dash = false;
            }
            let py: Vec<u8> = node
                .name
                .as_str()
                .to_pinyin()
                .flatten()
                .flat_map(|p| p.plain().bytes().collect::<Vec<_>>())
                .collect();
            let mut py_pairs = [0u64; 11];
            for w in py.windows(2) {
                if let Some(k) = pair_index(w[0], w[1]) {
                    py_pairs[k / 64] |= 1 << (k % 64);
                }
            }
            entries.push(Entry {
                code: node.code.clone(),
                name: node.name.clone(),
                path: taxonomy.path_label(&node.code),
                level: node.level,
                initial_letters: initials.iter().fold(0, |m, i| m | i),
                chars,
                initials,
                word_start,
                letters,
                char_bloom: node.name.chars().fold(0, |m, c| m | char_bit(c)),
                name_chars: name.len(),
                py,
                py_pairs,
                freq: frequency.count(&node.code),
            });
        }
        let by_code: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code.clone(), i))
            .collect();

        // The inverted index: bigrams and characters of each name (field
        // 2) and of its parents' names (field 1).
        let mut bigrams: HashMap<(char, char), Vec<(u32, u8)>> = HashMap::new();
        let mut unigrams: HashMap<char, Vec<(u32, u8)>> = HashMap::new();
        let mut py_bigrams: HashMap<(u16, u16), Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let own: Vec<char> = e.name.chars().filter(|c| is_han(*c)).collect();
            let mut parents: Vec<char> = Vec::new();
            for p in taxonomy.path(&e.code).iter().filter(|p| p.code != e.code) {
                parents.extend(p.name.chars().filter(|c| is_han(*c)));
                parents.push(' ');
            }
            let mut bi: HashMap<(char, char), u8> = HashMap::new();
            let mut uni: HashMap<char, u8> = HashMap::new();
            for (text, field) in [(&parents, 1u8), (&own, 2u8)] {
                for w in text.windows(2).filter(|w| w[0] != ' ' && w[1] != ' ') {
                    bi.insert((w[0], w[1]), field);
                }
                for &c in text.iter().filter(|c| **c != ' ') {
                    uni.insert(c, field);
                }
            }
            for (k, f) in bi {
                bigrams.entry(k).or_default().push((i as u32, f));
            }
            for (k, f) in uni {
                unigrams.entry(k).or_default().push((i as u32, f));
            }
            let mut pairs = HashSet::new();
            for w in e.chars.windows(2) {
                let a = &alts[w[0].0 as usize..(w[0].0 + w[0].1 as u32) as usize];
                let b = &alts[w[1].0 as usize..(w[1].0 + w[1].1 as u32) as usize];
                for x in a {
                    for y in b {
                        pairs.insert((*x, *y));
                    }
                }
            }
            for p in pairs {
                py_bigrams.entry(p).or_default().push(i as u32);
            }
        }
        for v in bigrams.values_mut().chain(unigrams.values_mut()) {
            v.sort_unstable();
        }
        for v in py_bigrams.values_mut() {
            v.sort_unstable();
        }
        let usable: Vec<&Alias> = aliases
            .entries()
            .iter()
            .filter(|a| match &a.target {
                AliasTarget::Code(c) => by_code.contains_key(c),
                AliasTarget::Term(_) => true,
            })
            .collect();
        let mut alias_map: HashMap<String, AliasTarget> = usable
            .iter()
            .map(|a| (a.alias.clone(), a.target.clone()))
            .collect();
        // Inspectors type colloquial words in pinyin too: every alias of two
        // or more characters also answers to its full pinyin (`zaoyin` →
        // 噪音 → 噪声), and of three or more to its initials (`ljt` → 垃圾桶),
        // unless that spelling is already an alias (the file's order decides
        // between two aliases spelled alike).
        for a in &usable {
            let n = a.alias.chars().count();
            if n < 2 || !a.alias.chars().all(is_han) {
                continue;
            }
            let readings: Vec<&str> = a
                .alias
                .as_str()
                .to_pinyin()
                .flatten()
                .map(|p| p.plain())
                .collect();
            if readings.len() != n {
                continue;
            }
            let full = readings.concat().replace('ü', "v");
            alias_map.entry(full).or_insert_with(|| a.target.clone());
            if n >= 3 {
                let initials: String = readings.iter().filter_map(|r| r.chars().next()).collect();
                alias_map
                    .entry(initials)
                    .or_insert_with(|| a.target.clone());
            }
        }
        CategoryIndex {
            fine_count: entries.iter().filter(|e| e.level == Level::Fine).count(),
            alias_max: alias_map
                .keys()
                .map(|k| k.chars().count())
                .max()
                .unwrap_or(0),
            aliases: alias_map,
            entries,
            syllables,
            syllable_ids,
            alts,
            by_code,
            bigrams,
            unigrams,
            py_bigrams,
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
        self.ranked(query, limit, boosts)
            .into_iter()
            .map(|(i, _, kind)| self.hit(i, kind))
            .collect()
    }

    /// Like [`CategoryIndex::search`], with the parts of every hit's score.
    pub fn explain(&self, query: &str, limit: usize, boosts: &Boosts) -> Vec<Explanation<'_>> {
        let Some((analysis, kind, q)) = self.analyse(query) else {
            return Vec::new();
        };
        let weights = self.boost_weights(boosts);
        self.ranked(query, limit, boosts)
            .into_iter()
            .map(|(i, score, matched)| {
                let mut parts = Vec::new();
                let mut scored = self.fresh();
                self.literal_pass(&mut scored, &kind, &q, &analysis, Some(i), &mut parts);
                self.tolerant_pass(&mut scored, &kind, &analysis, Some(i), &mut parts);
                Explanation {
                    hit: self.hit(i, matched),
                    score,
                    parts,
                    boost: weights[i],
                    frequency: self.entries[i].freq,
                }
            })
            .collect()
    }

    /// How `query` is read: the alias rewrite, known words and leftovers.
    pub fn read(&self, query: &str) -> Option<Reading> {
        self.analyse(query).map(|(a, _, _)| a.reading)
    }

    fn hit(&self, i: usize, matched: MatchKind) -> Hit<'_> {
        let e = &self.entries[i];
        Hit {
            code: &e.code,
            name: &e.name,
            path: &e.path,
            level: e.level,
            matched,
        }
    }

    fn fresh(&self) -> Scored {
        Scored {
            points: vec![0; self.entries.len()],
            literal: vec![None; self.entries.len()],
            touched: Vec::new(),
        }
    }

    fn boost_weights(&self, boosts: &Boosts) -> Vec<u32> {
        let mut boost = vec![0u32; self.entries.len()];
        for (code, w) in &boosts.weight {
            if let Some(&i) = self.by_code.get(code) {
                boost[i] = *w;
            }
        }
        boost
    }

    /// Normalises the query, applies aliases and splits it into units.
    fn analyse(&self, query: &str) -> Option<(Analysis, QueryKind, String)> {
        let mut norm = String::new();
        for c in query.trim().chars().map(fold) {
            if c.is_whitespace() {
                if !norm.ends_with(' ') {
                    norm.push(' ');
                }
            } else {
                norm.push(c);
            }
        }
        let q: String = norm.chars().filter(|c| *c != ' ').collect();
        if q.is_empty() {
            return None;
        }
        let kind = if q.bytes().all(|b| b.is_ascii_digit()) {
            QueryKind::Code
        } else if q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            QueryKind::Pinyin
        } else {
            QueryKind::Hanzi
        };
        let mut reading = Reading {
            rewritten: String::new(),
            aliases: Vec::new(),
            words: Vec::new(),
            leftovers: Vec::new(),
        };
        let mut units = Vec::new();
        if matches!(kind, QueryKind::Code) {
            return Some((Analysis { units, reading }, kind, q));
        }
        // Alias rewriting, longest alias first at each position; a letter
        // alias must be a whole run of letters (`wt`, not inside `wtf`).
        let cs: Vec<char> = norm.chars().collect();
        let mut out = String::new();
        let mut k = 0;
        while k < cs.len() {
            let mut applied = false;
            for len in (1..=self.alias_max.min(cs.len() - k)).rev() {
                let cand: String = cs[k..k + len].iter().collect();
                let Some(target) = self.aliases.get(&cand) else {
                    continue;
                };
                let ascii = cand.is_ascii();
                let bounded = |j: Option<&char>| j.is_none_or(|c| !c.is_ascii_alphanumeric());
                if ascii
                    && !(bounded(k.checked_sub(1).and_then(|j| cs.get(j)))
                        && bounded(cs.get(k + len)))
                {
                    continue;
                }
                match target {
                    AliasTarget::Term(t) => {
                        out.push_str(t);
                        reading.aliases.push((cand, t.clone()));
                    }
                    AliasTarget::Code(c) => {
                        out.push(' ');
                        units.push((Unit::Code(self.by_code[c]), 400));
                        reading.aliases.push((cand, c.clone()));
                    }
                }
                k += len;
                applied = true;
                break;
            }
            if !applied {
                out.push(cs[k]);
                k += 1;
            }
        }
        reading.rewritten = out.trim().to_string();
        // Runs of characters and of letters.
        let chars: Vec<char> = out.chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            let mut j = k + 1;
            if is_han(c) {
                while j < chars.len() && is_han(chars[j]) {
                    j += 1;
                }
                self.han_units(&chars[k..j], &mut units, &mut reading);
            } else if c.is_ascii_alphanumeric() {
                while j < chars.len() && chars[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                if matches!(kind, QueryKind::Hanzi) || reading.aliases.iter().any(|a| a.1 != a.0) {
                    let run: String = chars[k..j].iter().collect();
                    reading.words.push(run.clone());
                    units.push((Unit::Letters(run), 300));
                }
            }
            k = j;
        }
        Some((Analysis { units, reading }, kind, q))
    }

    /// Known words of a run of characters: every bigram occurring in some
    /// category (or a homophone of one), and each character with a fifth of
    /// its weight.
    fn han_units(&self, run: &[char], units: &mut Vec<(Unit, u32)>, reading: &mut Reading) {
        let idf = |df: usize| -> u32 {
            (100.0 * (1.0 + self.fine_count as f64 / df.max(1) as f64).ln()) as u32
        };
        if run.len() == 1 {
            match self.unigrams.get(&run[0]) {
                Some(p) => {
                    units.push((Unit::Unigram(run[0]), idf(p.len())));
                    reading.words.push(run[0].to_string());
                }
                None => reading.leftovers.push(run[0].to_string()),
            }
            return;
        }
        for w in run.windows(2) {
            let df = self.bigrams.get(&(w[0], w[1])).map_or(0, Vec::len);
            let df = if df > 0 {
                df
            } else {
                self.homophone_pairs(w[0], w[1])
                    .iter()
                    .filter_map(|p| self.py_bigrams.get(p))
                    .map(Vec::len)
                    .sum()
            };
            let word: String = w.iter().collect();
            if df > 0 {
                units.push((Unit::Bigram(w[0], w[1]), idf(df)));
                reading.words.push(word);
            } else {
                reading.leftovers.push(word);
            }
        }
        for &c in run {
            if let Some(p) = self.unigrams.get(&c) {
                units.push((Unit::Unigram(c), idf(p.len()) / 5));
            }
        }
    }

    /// Syllable pairs the bigram `a b` can be read as.
    fn homophone_pairs(&self, a: char, b: char) -> Vec<(u16, u16)> {
        let ids = |c: char| -> Vec<u16> {
            c.to_pinyin_multi()
                .map(|m| {
                    m.into_iter()
                        .filter_map(|p| {
                            self.syllable_ids.get(&p.plain().replace('ü', "v")).copied()
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (xs, ys) = (ids(a), ids(b));
        xs.iter()
            .flat_map(|x| ys.iter().map(move |y| (*x, *y)))
            .collect()
    }

    /// Ranked `(entry, points, match kind)`, best first.
    fn ranked(&self, query: &str, limit: usize, boosts: &Boosts) -> Vec<(usize, u32, MatchKind)> {
        if limit == 0 {
            return Vec::new();
        }
        let Some((analysis, kind, q)) = self.analyse(query) else {
            return Vec::new();
        };
        let mut scored = self.fresh();
        let mut no_parts = Vec::new();
        self.literal_pass(&mut scored, &kind, &q, &analysis, None, &mut no_parts);
        self.tolerant_pass(&mut scored, &kind, &analysis, None, &mut no_parts);
        let boost = self.boost_weights(boosts);

        // One packed key per hit, smaller is better: points (higher
        // first), boost, frequency (higher first), name length, fine class
        // first, then position, which is code order.
        let mut keys: Vec<(u64, u64)> = Vec::with_capacity(scored.touched.len());
        for &i in &scored.touched {
            let i = i as usize;
            let e = &self.entries[i];
            let p = scored.points[i];
            if p == 0 {
                continue;
            }
            let hi = (u64::from(u32::MAX - p) << 32) | u64::from(u32::MAX - boost[i]);
            let lo = (u64::from(u32::MAX - e.freq) << 32)
                | ((e.name_chars.min(0xFF) as u64) << 24)
                | (u64::from(e.level != Level::Fine) << 23)
                | i as u64;
            keys.push((hi, lo));
        }
        if keys.len() > limit {
            keys.select_nth_unstable(limit - 1);
            keys.truncate(limit);
        }
        keys.sort_unstable();
        keys.into_iter()
            .map(|(hi, lo)| {
                let i = (lo & 0x7F_FFFF) as usize;
                let points = u32::MAX - (hi >> 32) as u32;
                (i, points, scored.literal[i].unwrap_or(MatchKind::Partial))
            })
            .collect()
    }

    /// Literal matching of the whole query (and, for characters, of its
    /// alias rewrite); pinyin within an edit or two when letters find few
    /// categories. With `only`, scores that entry alone and records parts.
    fn literal_pass(
        &self,
        s: &mut Scored,
        kind: &QueryKind,
        q: &str,
        analysis: &Analysis,
        only: Option<usize>,
        parts: &mut Vec<ScorePart>,
    ) {
        let qb = q.as_bytes();
        let q_letters = letters_of(qb);
        let q_bloom = q.chars().fold(0, |m, c| m | char_bit(c));
        let rewritten: String = analysis
            .reading
            .rewritten
            .chars()
            .filter(|c| *c != ' ')
            .collect();
        let r_bloom = rewritten.chars().fold(0, |m, c| m | char_bit(c));
        // A code typed without its leading zero (as spreadsheets print it).
        let zero = (matches!(kind, QueryKind::Code) && q.len() % 2 == 1).then(|| format!("0{q}"));
        let mut found = 0;
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            let (m, word_start) = match kind {
                QueryKind::Code => {
                    let m =
                        match_code(e, q).or_else(|| zero.as_deref().and_then(|z| match_code(e, z)));
                    (m, false)
                }
                QueryKind::Hanzi => {
                    let mut m = if q_bloom & !e.char_bloom == 0 {
                        match_hanzi(e, q)
                    } else {
                        None
                    };
                    if m.is_none() && rewritten != q && r_bloom & !e.char_bloom == 0 {
                        // Through aliases: never an exact match.
                        m = match_hanzi(e, &rewritten).map(|k| k.max(MatchKind::Substring));
                    }
                    (m, false)
                }
                QueryKind::Pinyin => self.match_pinyin(e, qb, q_letters),
            };
            let Some(m) = m else { continue };
            found += 1;
            let p = literal_points(*kind, m, word_start);
            s.add(i, p);
            s.literal[i] = Some(m);
            if only == Some(i) {
                // Name the text that matched: as typed, or its rewrite.
                let typed = !matches!(kind, QueryKind::Hanzi) || self.entries[i].name.contains(q);
                parts.push(ScorePart {
                    word: if typed {
                        q.to_string()
                    } else {
                        rewritten.clone()
                    },
                    kind: PartKind::Literal,
                    points: p,
                });
            }
        }
        // Typos: letters only, long enough to tell apart, few literal hits.
        let fuzzy_wanted = matches!(kind, QueryKind::Pinyin)
            && qb.len() >= 5
            && qb.iter().all(u8::is_ascii_lowercase)
            && found < 10;
        if !fuzzy_wanted {
            return;
        }
        let max = if qb.len() >= 9 { 2 } else { 1 };
        let q_pairs: Vec<usize> = qb
            .windows(2)
            .filter_map(|w| pair_index(w[0], w[1]))
            .collect();
        for i in 0..self.entries.len() {
            if s.literal[i].is_some() {
                continue;
            }
            let e = &self.entries[i];
            if (q_letters & !e.letters).count_ones() as usize > max {
                continue;
            }
            let shared = q_pairs
                .iter()
                .filter(|k| e.py_pairs[**k / 64] & (1 << (**k % 64)) != 0)
                .count();
            if shared + 3 * max < q_pairs.len() {
                continue;
            }
            if let Some(d) = substring_distance(qb, &e.py, max) {
                let p = 1000 - 150 * d as u32;
                s.add(i, p);
                if only == Some(i) {
                    parts.push(ScorePart {
                        word: q.to_string(),
                        kind: PartKind::Fuzzy,
                        points: p,
                    });
                }
            }
        }
    }

    /// Coverage of the query's known words (0–1000). With `only`, scores
    /// that entry alone and records parts.
    fn tolerant_pass(
        &self,
        s: &mut Scored,
        kind: &QueryKind,
        analysis: &Analysis,
        only: Option<usize>,
        parts: &mut Vec<ScorePart>,
    ) {
        let total: u32 = analysis.units.iter().map(|(_, w)| *w).sum();
        // Letters read through an alias (`wt`, `ljt`) mean that class more
        // than any literal reading of the letters does.
        let scale = if matches!(kind, QueryKind::Pinyin) {
            2000
        } else {
            1000
        };
        if total == 0 {
            return;
        }
        // Raw weight per entry (×10 for the field factors), then scaled.
        // Raw weight per entry, and the unit that last credited it (each
        // unit counts once per entry, at its best field).
        let mut raw = vec![0u32; self.entries.len()];
        let mut stamp = vec![u32::MAX; self.entries.len()];
        let mut hit: Vec<u32> = Vec::new();
        let mut traced = Vec::new();
        for (u, (unit, w)) in analysis.units.iter().enumerate() {
            let u = u as u32;
            let mut credit =
                |i: u32, factor: u32, kind: PartKind, word: &str, parts: &mut Vec<ScorePart>| {
                    let k = i as usize;
                    if stamp[k] != u {
                        stamp[k] = u;
                        if raw[k] == 0 {
                            hit.push(i);
                        }
                        raw[k] += w * factor;
                        if only == Some(k) {
                            parts.push(ScorePart {
                                word: word.to_string(),
                                kind,
                                points: w * factor * scale / (10 * total),
                            });
                        }
                    }
                };
            match unit {
                Unit::Bigram(a, b) => {
                    let word: String = [*a, *b].iter().collect();
                    let exact = self.bigrams.get(&(*a, *b));
                    for &(i, f) in exact.into_iter().flatten() {
                        let (factor, kind) = if f == 2 {
                            (10, PartKind::Name)
                        } else {
                            (5, PartKind::Path)
                        };
                        credit(i, factor, kind, &word, &mut traced);
                    }
                    // Homophones stand in only for a bigram no name has.
                    let pairs = if exact.is_some() {
                        Vec::new()
                    } else {
                        self.homophone_pairs(*a, *b)
                    };
                    for p in pairs {
                        for &i in self.py_bigrams.get(&p).into_iter().flatten() {
                            credit(i, 7, PartKind::Homophone, &word, &mut traced);
                        }
                    }
                }
                Unit::Unigram(c) => {
                    for &(i, f) in self.unigrams.get(c).into_iter().flatten() {
                        let (factor, kind) = if f == 2 {
                            (10, PartKind::Name)
                        } else {
                            (5, PartKind::Path)
                        };
                        credit(i, factor, kind, &c.to_string(), &mut traced);
                    }
                }
                Unit::Letters(run) => {
                    let rb = run.as_bytes();
                    let rl = letters_of(rb);
                    for i in 0..self.entries.len() {
                        if self.match_pinyin(&self.entries[i], rb, rl).0.is_some() {
                            credit(i as u32, 10, PartKind::Pinyin, run, &mut traced);
                        }
                    }
                }
                Unit::Code(i) => credit(*i as u32, 10, PartKind::AliasCode, "", &mut traced),
            }
        }
        // Half the known words at least; scaled so full coverage is 1000.
        for i in hit {
            let r = raw[i as usize];
            if r * 100 / total >= MIN_COVERAGE {
                s.add(i as usize, r * scale / (10 * total));
                if only == Some(i as usize) {
                    parts.append(&mut traced);
                }
            }
        }
    }

    /// Literal pinyin match and whether it begins at a word start.
    fn match_pinyin(&self, e: &Entry, q: &[u8], q_letters: u64) -> (Option<MatchKind>, bool) {
        let n = e.chars.len();
        let may_full = q_letters & !e.letters == 0;
        let may_initials = q.len() <= n && q_letters & !e.initial_letters == 0;
        if !may_full && !may_initials {
            return (None, false);
        }
        // Full pinyin from the first character: exact if it consumes the
        // whole name on a syllable boundary, otherwise a prefix.
        if may_full {
            match self.full_pinyin_at(e, 0, q) {
                Some(true) => return (Some(MatchKind::Exact), true),
                Some(false) => return (Some(MatchKind::Prefix), true),
                None => {}
            }
        }
        if may_initials {
            let mut found = None;
            for s in 0..=n - q.len() {
                if q.iter()
                    .enumerate()
                    .all(|(k, b)| e.initials[s + k] & bit(*b) != 0)
                {
                    if e.word_start[s] {
                        return (Some(MatchKind::Initials), true);
                    }
                    found = Some(MatchKind::Initials);
                }
            }
            if found.is_some() {
                return (found, false);
            }
        }
        if may_full && (1..n).any(|s| self.full_pinyin_at(e, s, q).is_some()) {
            return (Some(MatchKind::Substring), false);
        }
        (None, false)
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
        // `xgg` is also the initials of the alias 小广告, so the class itself
        // leads; the rest are literal initials or partial matches.
        assert!(
            hits[..5].iter().all(|h| h.name.contains("非法小广告")),
            "{hits:?}"
        );
        for h in &hits {
            assert!(
                h.matched <= MatchKind::Initials || h.matched == MatchKind::Partial,
                "{h:?}"
            );
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

    #[test]
    fn colloquial_words_typos_and_initials_find_the_class() {
        let idx = index();
        let top = |q: &str| -> Vec<String> {
            idx.search(q, 3, &Boosts::none())
                .iter()
                .map(|h| h.name.to_string())
                .collect()
        };
        for q in ["井盖丢了", "jg丢了", "jinggai diushi"] {
            assert!(
                top(q).iter().all(|n| n.contains("井盖丢失")),
                "{q}: {:?}",
                top(q)
            );
        }
        assert!(top("牛皮癣").iter().all(|n| n.contains("非法小广告")));
        assert!(top("僵尸车").iter().all(|n| n.contains("废弃车辆")));
        // A typo in pinyin (one letter dropped, two swapped) and a homophone.
        assert!(
            top("jinggia").iter().all(|n| n.contains("井盖")),
            "{:?}",
            top("jinggia")
        );
        assert!(
            top("路等不亮").iter().any(|n| n.contains("路灯不亮")),
            "{:?}",
            top("路等不亮")
        );
        // Initials at a word start (井盖) before inside a word (应急管理).
        let jg = top("jg");
        assert!(jg.iter().all(|n| n.contains("井盖")), "{jg:?}");
        // A code without its leading zero.
        assert_eq!(
            idx.search("2080101", 1, &Boosts::none())[0].code,
            "02080101"
        );
    }

    #[test]
    fn explain_adds_up_and_names_the_aliases() {
        let idx = index();
        let r = idx.read("井盖丢了").unwrap();
        assert_eq!(r.rewritten, "井盖丢失");
        assert_eq!(r.aliases, vec![("丢了".to_string(), "丢失".to_string())]);
        let ex = idx.explain("井盖丢了", 5, &Boosts::none());
        let hits = idx.search("井盖丢了", 5, &Boosts::none());
        assert_eq!(ex.len(), hits.len());
        for (x, h) in ex.iter().zip(&hits) {
            assert_eq!(&x.hit, h);
            let sum: u32 = x.parts.iter().map(|p| p.points).sum();
            // Parts are rounded down one by one.
            assert!(sum <= x.score && x.score - sum < 10, "{sum} vs {}", x.score);
            assert!(x
                .parts
                .iter()
                .any(|p| p.word == "丢失" && p.kind == PartKind::Name));
        }
    }

    #[test]
    fn substring_distance_counts_edits_and_swaps() {
        assert_eq!(
            substring_distance(b"jinggai", b"wushuijinggaiposun", 1),
            Some(0)
        );
        assert_eq!(
            substring_distance(b"jinggia", b"wushuijinggaiposun", 1),
            Some(1)
        );
        assert_eq!(
            substring_distance(b"jingai", b"wushuijinggaiposun", 1),
            Some(1)
        );
        assert_eq!(
            substring_distance(b"qqqqqq", b"wushuijinggaiposun", 1),
            None
        );
    }
}
