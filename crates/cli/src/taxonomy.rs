//! `gridpatrol taxonomy …`: counts, category search (with `--explain`),
//! checklist and alias-file validation, and the report-frequency prior.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_search::{Aliases, Boosts, CategoryIndex, Frequency};
use serde::Serialize;

use crate::print_json;

/// Taxonomy subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Counts per level (modules, major classes, subclasses, fine classes).
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find categories by characters, pinyin, pinyin initials or code prefix.
    Search {
        /// What the inspector typed, e.g. `xgg`, `jinggai`, `井盖`, `0201`.
        query: String,
        /// How many results to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Favourite category codes, boosted (comma separated).
        #[arg(long, value_delimiter = ',')]
        favourite: Vec<String>,
        /// Recently used category codes, most recent first (comma separated).
        #[arg(long, value_delimiter = ',')]
        recent: Vec<String>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
        /// Show why each hit ranked where it did: the query's reading
        /// (aliases, known words, leftovers) and every hit's score parts.
        #[arg(long)]
        explain: bool,
    },
    /// Validate a taxonomy TSV file (counts, codes, parents, names) and the
    /// search's alias file against it.
    Validate {
        /// Path of the TSV file.
        file: std::path::PathBuf,
        /// The alias file to check against it (default: the shipped
        /// `data/search-aliases.tsv`).
        #[arg(long)]
        aliases: Option<std::path::PathBuf>,
    },
    /// Rebuild the report-frequency prior (`data/category-frequency.tsv`)
    /// from a server data directory's case index, read-only.
    Frequency {
        /// The server's data directory (holding `server.sqlite3`).
        #[arg(long)]
        data: std::path::PathBuf,
        /// Where to write the TSV (default: standard output).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Serialize)]
struct HitJson<'a> {
    code: &'a str,
    name: &'a str,
    path: &'a str,
}

/// Runs a taxonomy subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Stats { json } => {
            let stats = Taxonomy::builtin().stats();
            if json {
                print_json(&stats)?;
            } else {
                println!("modules        {}", stats.modules);
                println!("major classes  {}", stats.major_classes);
                println!("subclasses     {}", stats.subclasses);
                println!("fine classes   {}", stats.fine_classes);
            }
        }
        Cmd::Search {
            query,
            limit,
            favourite,
            recent,
            json,
            explain,
        } => {
            let index = CategoryIndex::build(Taxonomy::builtin());
            let boosts = Boosts::new(&favourite, &recent);
            if explain {
                print_explanation(&index, &query, limit, &boosts, json)?;
                return Ok(ExitCode::SUCCESS);
            }
            let hits = index.search(&query, limit, &boosts);
            if json {
                let rows: Vec<HitJson> = hits
                    .iter()
                    .map(|h| HitJson {
                        code: h.code,
                        name: h.name,
                        path: h.path,
                    })
                    .collect();
                print_json(&rows)?;
            } else if hits.is_empty() {
                println!("no category matches {query:?}");
            } else {
                for h in hits {
                    println!("{:<8}  {}", h.code, h.path);
                }
            }
        }
        Cmd::Validate { file, aliases } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let result = Taxonomy::parse(&text)
                .and_then(|t| t.validate_counts(Taxonomy::EXPECTED).map(|_| t));
            let t = match result {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return Ok(ExitCode::from(crate::EXIT_REFUSED));
                }
            };
            let s = t.stats();
            println!(
                "ok: {} modules, {} major classes, {} subclasses, {} fine classes",
                s.modules, s.major_classes, s.subclasses, s.fine_classes
            );
            let (label, alias_text) = match &aliases {
                Some(p) => (
                    p.display().to_string(),
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                None => (
                    "data/search-aliases.tsv (shipped)".to_string(),
                    gridpatrol_search::lexicon::BUILTIN_ALIASES.to_string(),
                ),
            };
            match Aliases::parse(&alias_text).and_then(|a| a.validate(&t).map(|_| a)) {
                Ok(a) => println!("ok: {} aliases in {label}", a.entries().len()),
                Err(e) => {
                    eprintln!("{label}: {e}");
                    return Ok(ExitCode::from(crate::EXIT_REFUSED));
                }
            }
        }
        Cmd::Frequency { data, out } => {
            let counts = case_counts(&data)?;
            let tsv = Frequency::from_counts(counts).to_tsv(Taxonomy::builtin());
            match out {
                Some(p) => std::fs::write(&p, tsv)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print!("{tsv}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reported cases per category in a server's case index (opened read-only,
/// so a running server is not disturbed).
fn case_counts(dir: &std::path::Path) -> anyhow::Result<std::collections::HashMap<String, u32>> {
    let path = dir.join(gridpatrol_server_storage_sqlite::DB_FILE);
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} read-only", path.display()))?;
    let mut stmt = conn
        .prepare("SELECT category, count(*) FROM case_index GROUP BY category")
        .context("reading case_index")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut counts = std::collections::HashMap::new();
    for row in rows {
        let (code, n) = row?;
        counts.insert(code, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(counts)
}

#[derive(Serialize)]
struct ExplainJson<'a> {
    reading: Option<gridpatrol_search::Reading>,
    hits: Vec<gridpatrol_search::Explanation<'a>>,
}

/// `taxonomy search Q --explain`: the reading of the query, then each hit
/// with its score parts and tie-breaks.
fn print_explanation(
    index: &CategoryIndex,
    query: &str,
    limit: usize,
    boosts: &Boosts,
    json: bool,
) -> anyhow::Result<()> {
    let reading = index.read(query);
    let hits = index.explain(query, limit, boosts);
    if json {
        return print_json(&ExplainJson { reading, hits });
    }
    if let Some(r) = &reading {
        println!("read as   {}", r.rewritten);
        for (alias, target) in &r.aliases {
            println!("alias     {alias} → {target}");
        }
        println!("words     {}", r.words.join(" "));
        if !r.leftovers.is_empty() {
            println!("leftovers {}", r.leftovers.join(" "));
        }
    }
    if hits.is_empty() {
        println!("no category matches {query:?}");
    }
    for (rank, x) in hits.iter().enumerate() {
        println!(
            "{:>2}. {:<8} {:>5} pts  boost {}  reported {}  {:?}  {}",
            rank + 1,
            x.hit.code,
            x.score,
            x.boost,
            x.frequency,
            x.hit.matched,
            x.hit.path
        );
        for p in &x.parts {
            println!("      {:>5}  {:?} {}", p.points, p.kind, p.word);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(aliases: &str) -> ExitCode {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases.tsv");
        std::fs::write(&path, aliases).unwrap();
        let taxonomy =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/taxonomy.tsv");
        run(Cmd::Validate {
            file: taxonomy,
            aliases: Some(path),
        })
        .unwrap()
    }

    #[test]
    fn validate_refuses_an_alias_pointing_nowhere() {
        assert_eq!(
            validate("alias\tterm\n牛皮癣\t非法小广告\n"),
            ExitCode::SUCCESS
        );
        assert_eq!(
            validate("alias\tterm\n牛皮癣\t非法小广告\n违建\t没有这个词\n"),
            ExitCode::from(crate::EXIT_REFUSED)
        );
        assert_eq!(
            validate("alias\tterm\n牛皮癣\t02089999\n"),
            ExitCode::from(crate::EXIT_REFUSED)
        );
    }

    #[test]
    fn frequency_counts_the_case_index_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            rusqlite::Connection::open(dir.path().join(gridpatrol_server_storage_sqlite::DB_FILE))
                .unwrap();
        db.execute_batch(
            "CREATE TABLE case_index (id TEXT, category TEXT);
             INSERT INTO case_index VALUES ('a','02080101'),('b','02080101'),('c','02110201');",
        )
        .unwrap();
        drop(db);
        let counts = case_counts(dir.path()).unwrap();
        assert_eq!(counts.get("02080101"), Some(&2));
        assert_eq!(counts.get("02110201"), Some(&1));
        let tsv = Frequency::from_counts(counts).to_tsv(Taxonomy::builtin());
        let f = Frequency::parse(&tsv).unwrap();
        assert_eq!(f.count("02080101"), 2);
        assert_eq!(f.count("02010101"), 0);
        assert!(case_counts(&dir.path().join("missing")).is_err());
    }
}
