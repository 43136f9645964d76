//! The search's data files: the synonym lexicon (`data/search-aliases.tsv`)
//! and the report-frequency prior (`data/category-frequency.tsv`), parsed
//! and checked against a taxonomy.

use std::collections::HashMap;

use gridpatrol_domain::taxonomy::{Level, Taxonomy};

/// The shipped synonym lexicon.
pub const BUILTIN_ALIASES: &str = include_str!("../../../data/search-aliases.tsv");
/// The shipped report-frequency prior.
pub const BUILTIN_FREQUENCY: &str = include_str!("../../../data/category-frequency.tsv");

/// A data file that cannot be used, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    /// The first line is not the expected header.
    #[error("line 1: header must be {expected:?}, found {found:?}")]
    Header {
        /// The header the file must start with.
        expected: &'static str,
        /// What the file starts with.
        found: String,
    },
    /// A line is not two tab-separated, non-empty columns.
    #[error("line {line}: expected two tab-separated non-empty columns, found {text:?}")]
    Columns {
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// The same alias (or code) appears twice.
    #[error("line {line}: {key:?} already appears on line {first}")]
    Duplicate {
        /// 1-based line number of the repeat.
        line: usize,
        /// 1-based line number of the first occurrence.
        first: usize,
        /// The repeated alias or code.
        key: String,
    },
    /// An alias points at neither a fine-class code nor a term that occurs
    /// in some category name.
    #[error("line {line}: alias {alias:?} points at {target:?}, which is neither a fine-class code nor a term in any category name")]
    UnknownTarget {
        /// 1-based line number.
        line: usize,
        /// The alias.
        alias: String,
        /// Its target.
        target: String,
    },
    /// A frequency row names no fine class or has a count that is not a
    /// non-negative integer.
    #[error("line {line}: {text:?} is not `fine-class code<TAB>count`")]
    Frequency {
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
}

/// What an alias stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasTarget {
    /// An official term, written into the query in place of the alias.
    Term(String),
    /// One fine class, which the alias names directly.
    Code(String),
}

/// One line of the synonym lexicon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// What inspectors type (lower-cased).
    pub alias: String,
    /// What it stands for.
    pub target: AliasTarget,
    /// 1-based line in the file.
    pub line: usize,
}

/// The synonym lexicon: `alias<TAB>term` lines (a term or an 8-digit
/// fine-class code), `#` comments and blank lines ignored.
#[derive(Debug, Clone, Default)]
pub struct Aliases {
    entries: Vec<Alias>,
}

/// Normalises typed text the way the search does: lower case, `ü` as `v`.
pub(crate) fn fold(c: char) -> char {
    match c {
        'ü' | 'Ü' => 'v',
        c => c.to_ascii_lowercase(),
    }
}

/// Data lines of a two-column TSV after its header: `(line number, a, b)`.
fn rows<'a>(
    text: &'a str,
    header: &'static str,
) -> Result<Vec<(usize, &'a str, &'a str)>, LexiconError> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if first != header {
        return Err(LexiconError::Header {
            expected: header,
            found: first.to_string(),
        });
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 2 || cols.iter().any(|c| c.trim().is_empty() || c.trim() != *c) {
            return Err(LexiconError::Columns {
                line: n,
                text: line.to_string(),
            });
        }
        out.push((n, cols[0], cols[1]));
    }
    Ok(out)
}

impl Aliases {
    /// The header every alias file starts with.
    pub const HEADER: &'static str = "alias\tterm";

    /// The shipped lexicon (checked against the builtin taxonomy by the
    /// crate's tests).
    pub fn builtin() -> Aliases {
        Aliases::parse(BUILTIN_ALIASES).expect("data/search-aliases.tsv is well formed")
    }

    /// Parses an alias file (format only; see [`Aliases::validate`]).
    pub fn parse(text: &str) -> Result<Aliases, LexiconError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut entries = Vec::new();
        for (line, alias, target) in rows(text, Self::HEADER)? {
            let alias: String = alias.chars().map(fold).collect();
            if let Some(&first) = seen.get(&alias) {
                return Err(LexiconError::Duplicate {
                    line,
                    first,
                    key: alias,
                });
            }
            seen.insert(alias.clone(), line);
            let target = if target.bytes().all(|b| b.is_ascii_digit()) {
                AliasTarget::Code(target.to_string())
            } else {
                AliasTarget::Term(target.to_string())
            };
            entries.push(Alias {
                alias,
                target,
                line,
            });
        }
        Ok(Aliases { entries })
    }

    /// Checks every target against `taxonomy`: a code must be a fine
    /// class, a term must occur in some category's name.
    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<(), LexiconError> {
        for a in &self.entries {
            let ok = match &a.target {
                AliasTarget::Code(code) => {
                    taxonomy.get(code).is_some_and(|n| n.level == Level::Fine)
                }
                AliasTarget::Term(term) => taxonomy
                    .nodes()
                    .iter()
                    .any(|n| n.name.contains(term.as_str())),
            };
            if !ok {
                let target = match &a.target {
                    AliasTarget::Code(s) | AliasTarget::Term(s) => s.clone(),
                };
                return Err(LexiconError::UnknownTarget {
                    line: a.line,
                    alias: a.alias.clone(),
                    target,
                });
            }
        }
        Ok(())
    }

    /// Every alias, in file order.
    pub fn entries(&self) -> &[Alias] {
        &self.entries
    }
}

/// How often each fine class is reported: `code<TAB>count` lines.
#[derive(Debug, Clone, Default)]
pub struct Frequency {
    counts: HashMap<String, u32>,
    /// 1-based file line of each code (empty when built from counts).
    lines: HashMap<String, usize>,
}

impl Frequency {
    /// The header every frequency file starts with.
    pub const HEADER: &'static str = "code\tcount";

    /// The shipped prior (an estimate, see `data/README.md`).
    pub fn builtin() -> Frequency {
        Frequency::parse(BUILTIN_FREQUENCY).expect("data/category-frequency.tsv is well formed")
    }

    /// Parses a frequency file (format only; see [`Frequency::validate`]).
    pub fn parse(text: &str) -> Result<Frequency, LexiconError> {
        let mut counts = HashMap::new();
        let mut lines: HashMap<String, usize> = HashMap::new();
        for (line, code, count) in rows(text, Self::HEADER)? {
            let n: u32 = count.parse().map_err(|_| LexiconError::Frequency {
                line,
                text: format!("{code}\t{count}"),
            })?;
            if let Some(&first) = lines.get(code) {
                return Err(LexiconError::Duplicate {
                    line,
                    first,
                    key: code.to_string(),
                });
            }
            lines.insert(code.to_string(), line);
            counts.insert(code.to_string(), n);
        }
        Ok(Frequency { counts, lines })
    }

    /// Builds a prior from counts already in hand.
    pub fn from_counts(counts: HashMap<String, u32>) -> Frequency {
        Frequency {
            counts,
            lines: HashMap::new(),
        }
    }

    /// Checks that every row names a fine class of `taxonomy`.
    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<(), LexiconError> {
        let mut bad: Vec<(usize, &String)> = self
            .counts
            .keys()
            .filter(|code| taxonomy.get(code).is_none_or(|n| n.level != Level::Fine))
            .map(|code| (self.lines.get(code).copied().unwrap_or(0), code))
            .collect();
        bad.sort();
        match bad.first() {
            Some((line, code)) => Err(LexiconError::Frequency {
                line: *line,
                text: format!("{code}\t{}", self.count(code)),
            }),
            None => Ok(()),
        }
    }

    /// Reported cases of `code` (0 when unknown).
    pub fn count(&self, code: &str) -> u32 {
        self.counts.get(code).copied().unwrap_or(0)
    }

    /// Writes the file form, fine classes in taxonomy order (0 for classes
    /// never reported).
    pub fn to_tsv(&self, taxonomy: &Taxonomy) -> String {
        let mut out = String::from(Self::HEADER);
        out.push('\n');
        for n in taxonomy.fine_classes() {
            out.push_str(&format!("{}\t{}\n", n.code, self.count(&n.code)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_aliases_all_point_at_real_classes() {
        let a = Aliases::builtin();
        assert!(a.entries().len() >= 300, "{} aliases", a.entries().len());
        a.validate(Taxonomy::builtin()).unwrap();
    }

    #[test]
    fn builtin_frequency_covers_every_fine_class() {
        let t = Taxonomy::builtin();
        let f = Frequency::builtin();
        f.validate(t).unwrap();
        let e = Frequency::parse("code\tcount\n02080101\t3\n0208\t5\n")
            .unwrap()
            .validate(t)
            .unwrap_err();
        assert!(matches!(e, LexiconError::Frequency { line: 3, .. }), "{e}");
        assert!(t.fine_classes().all(|n| f.count(&n.code) > 0));
        assert_eq!(
            Frequency::parse(&f.to_tsv(t)).unwrap().count("02080101"),
            f.count("02080101")
        );
    }

    #[test]
    fn bad_alias_files_name_the_line() {
        let t = Taxonomy::builtin();
        let bad_line = |text: &str| match Aliases::parse(text).unwrap().validate(t) {
            Err(LexiconError::UnknownTarget { line, .. }) => line,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            bad_line("alias\tterm\n牛皮癣\t非法小广告\n违建\t不存在的词\n"),
            3
        );
        assert_eq!(bad_line("alias\tterm\nx\t99999999\n"), 2);
        // A subclass code is not a fine class.
        assert_eq!(bad_line("alias\tterm\nx\t020801\n"), 2);
        assert!(Aliases::parse("alias\tterm\nx\t02080101\n")
            .unwrap()
            .validate(t)
            .is_ok());
        let e = Aliases::parse("alias\tterm\na\tb\n# c\na\tc\n").unwrap_err();
        assert_eq!(
            e,
            LexiconError::Duplicate {
                line: 4,
                first: 2,
                key: "a".into()
            }
        );
        let e = Aliases::parse("alias\tterm\na b\n").unwrap_err();
        assert!(matches!(e, LexiconError::Columns { line: 2, .. }), "{e}");
        assert!(matches!(
            Aliases::parse("x\ty\n"),
            Err(LexiconError::Header { .. })
        ));
        let e = Frequency::parse("code\tcount\n02080101\tmany\n").unwrap_err();
        assert!(matches!(e, LexiconError::Frequency { line: 2, .. }), "{e}");
    }
}
