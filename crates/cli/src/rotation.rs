//! `gridpatrol rotation …`: generate, check and apply the two-monthly
//! rotation plans of a server data directory's district. Applied plans are
//! the history, kept as `DIR/rotation/<period>.json`; the initial assignment
//! is the district as generated. Refused input (a bad period, a violating
//! plan, a directory that is not a server's) exits 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use gridpatrol_district::DemoDistrict;
use gridpatrol_rotation::{check, default_seed, plan, Period, Plan, RotationError, Violation};
use serde::Serialize;

use crate::{print_json, EXIT_REFUSED};

/// Folder of the applied plans inside the data directory.
use gridpatrol_server::rotation::HISTORY_DIR;

/// Rotation subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Generate the plan for a period from the plans applied so far.
    Plan {
        /// The period, `YYYY-MM` with an odd month (January, March, …).
        #[arg(long)]
        period: String,
        /// Server data directory (`gridpatrol init --demo --data DIR`).
        #[arg(long)]
        data: PathBuf,
        /// Seed of the generator (default: fixed per period).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the plan as JSON (to save and `apply`) instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Name every rule a plan breaks against the applied plans before it.
    Check {
        /// The plan file (JSON, as `plan --json` prints it).
        plan: PathBuf,
        /// Server data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON instead of one line per violation.
        #[arg(long)]
        json: bool,
    },
    /// Check a plan and, if it breaks no rule, store it as applied.
    Apply {
        /// The plan file (JSON).
        plan: PathBuf,
        /// Server data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

/// A refusal: the message goes to stderr and the tool exits 2.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Refuses with the rotation crate's reason.
fn refused(e: RotationError) -> anyhow::Error {
    Refused(e.to_string()).into()
}

/// Runs a rotation subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match run_or_refuse(cmd) {
        Err(e) => match e.downcast_ref::<Refused>() {
            Some(r) => {
                eprintln!("error: {r}");
                Ok(ExitCode::from(EXIT_REFUSED))
            }
            None => Err(e),
        },
        ok => ok,
    }
}

fn run_or_refuse(cmd: Cmd) -> anyhow::Result<ExitCode> {
    let district = &DemoDistrict::get().district;
    match cmd {
        Cmd::Plan {
            period,
            data,
            seed,
            json,
        } => {
            let period: Period = period.parse().map_err(refused)?;
            let history = load_history(&data)?;
            let seed = seed.unwrap_or_else(|| default_seed(period));
            let next = plan(district, &history, period, seed).map_err(refused)?;
            let violations = check(&next, district, &history);
            anyhow::ensure!(
                violations.is_empty(),
                "generated plan breaks the rules (a bug): {}",
                violations[0]
            );
            if json {
                print_json(&next)?;
            } else {
                print_summary(&next, &history);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { plan, data, json } => {
            let plan = read_plan(&plan)?;
            let history = load_history(&data)?;
            let violations = check(&plan, district, &history);
            if json {
                print_json(&Report::new(&plan, &violations))?;
            } else if violations.is_empty() {
                println!("plan {}: no violations", plan.period);
            } else {
                for v in &violations {
                    println!("{v}");
                }
            }
            Ok(exit_for(&violations))
        }
        Cmd::Apply { plan, data } => {
            let plan = read_plan(&plan)?;
            let history = load_history(&data)?;
            if let Some(last) = history.iter().map(|p| p.period).max() {
                if last >= plan.period {
                    return Err(Refused(format!(
                        "{} already holds the plan for {last}; plans are applied in order, \
                         each after the last",
                        data.join(HISTORY_DIR).display()
                    ))
                    .into());
                }
            }
            let violations = check(&plan, district, &history);
            if !violations.is_empty() {
                for v in &violations {
                    println!("{v}");
                }
                return Err(Refused(format!(
                    "plan {} breaks {} rule(s); not applied",
                    plan.period,
                    violations.len()
                ))
                .into());
            }
            let path = store(&data, &plan)?;
            println!("applied plan {} → {}", plan.period, path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit_for(violations: &[Violation]) -> ExitCode {
    if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    }
}

/// `check --json`: the plan's period and every violation with its message.
#[derive(Serialize)]
struct Report<'a> {
    period: Period,
    violations: Vec<Named<'a>>,
}

#[derive(Serialize)]
struct Named<'a> {
    #[serde(flatten)]
    violation: &'a Violation,
    message: String,
}

impl<'a> Report<'a> {
    fn new(plan: &Plan, violations: &'a [Violation]) -> Report<'a> {
        Report {
            period: plan.period,
            violations: violations
                .iter()
                .map(|v| Named {
                    violation: v,
                    message: v.to_string(),
                })
                .collect(),
        }
    }
}

/// A plan in a people's summary: what moves, when it starts.
fn print_summary(next: &Plan, history: &[Plan]) {
    let district = &DemoDistrict::get().district;
    let before = gridpatrol_rotation::assignment_at(history, district, next.starts_at_ms - 1);
    let mut grid_moves = 0;
    let mut squad_moves = 0;
    for p in &next.postings {
        if let Some(was) = before.posting(&p.person) {
            grid_moves += usize::from(p.grid.is_some() && p.grid != was.grid);
            squad_moves += usize::from(p.squad != was.squad);
        }
    }
    println!(
        "plan {} (starts 00:00 UTC+8 on {}-01, {} ms), seed {}",
        next.period, next.period, next.starts_at_ms, next.seed
    );
    println!("people            {}", next.postings.len());
    println!("new grid          {grid_moves}");
    println!("new squad         {squad_moves}");
    println!(
        "yearly moves      {}",
        if next.yearly { "yes (January)" } else { "no" }
    );
    println!("save it with --json, then `gridpatrol rotation apply FILE --data DIR`");
}

/// The data directory's applied plans; refuses a directory that is not a
/// server's and a stored file that does not read as the plan its name says.
fn load_history(data: &Path) -> anyhow::Result<Vec<Plan>> {
    let db = gridpatrol_server_storage_sqlite::DB_FILE;
    if !data.join(db).is_file() {
        return Err(Refused(format!(
            "{} is not a server data directory (no {db}; run `gridpatrol init --demo --data {}`)",
            data.display(),
            data.display()
        ))
        .into());
    }
    let dir = data.join(HISTORY_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    gridpatrol_server::rotation::load_history(data).map_err(|e| match e {
        gridpatrol_server::rotation::HistoryError::Invalid(m) => Refused(m).into(),
        io => anyhow::Error::new(io),
    })
}

/// Reads a plan file; refuses one that is not a plan.
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| Refused(format!("{} is not a rotation plan: {e}", path.display())).into())
}

/// Writes `DIR/rotation/<period>.json` (via a temporary file and a rename, so
/// a crash never leaves half a plan in the history).
fn store(data: &Path, plan: &Plan) -> anyhow::Result<PathBuf> {
    let dir = data.join(HISTORY_DIR);
    let path = dir.join(format!("{}.json", plan.period));
    let tmp = dir.join(format!(".{}.json.tmp", plan.period));
    let text = serde_json::to_string_pretty(plan)?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("storing {}", path.display()))?;
    Ok(path)
}
