//! `gridpatrol taxonomy …`: counts and category search.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_search::{Boosts, CategoryIndex};
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
    },
    /// Validate a taxonomy TSV file (counts, codes, parents, names).
    Validate {
        /// Path of the TSV file.
        file: std::path::PathBuf,
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
        } => {
            let index = CategoryIndex::build(Taxonomy::builtin());
            let hits = index.search(&query, limit, &Boosts::new(&favourite, &recent));
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
        Cmd::Validate { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let result = Taxonomy::parse(&text)
                .and_then(|t| t.validate_counts(Taxonomy::EXPECTED).map(|_| t));
            match result {
                Ok(t) => {
                    let s = t.stats();
                    println!(
                        "ok: {} modules, {} major classes, {} subclasses, {} fine classes",
                        s.modules, s.major_classes, s.subclasses, s.fine_classes
                    );
                }
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return Ok(ExitCode::from(crate::EXIT_REFUSED));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
