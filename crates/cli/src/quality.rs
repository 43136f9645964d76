//! `gridpatrol kpi …` and `gridpatrol eval …`: the month's quality figures,
//! read straight from a server's data directory (`--data DIR`, safe while
//! the server runs) or asked of a server as the signed-in centre account
//! (`--server URL`). Same formulas either way (`gridpatrol-quality`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use gridpatrol_quality::eval::Evaluation;
use gridpatrol_quality::kpi::KpiReport;
use gridpatrol_quality::Month;
use gridpatrol_server::config::Settings;
use gridpatrol_server::quality::{evaluation, kpi_report};
use gridpatrol_server_storage_sqlite::{SqliteStore, DB_FILE};

use crate::print_json;

/// Where the figures come from, and for which month.
#[derive(Args)]
pub struct Source {
    /// The month, `YYYY-MM` (Beijing time).
    #[arg(long)]
    month: String,
    /// A server data directory (read directly).
    #[arg(long, conflicts_with = "server")]
    data: Option<PathBuf>,
    /// A server to ask as the signed-in centre account (`gridpatrol case login`).
    #[arg(long)]
    server: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `gridpatrol kpi` options.
#[derive(Args)]
pub struct KpiArgs {
    #[command(flatten)]
    source: Source,
    /// Only this squad's inspectors (e.g. `S01`).
    #[arg(long)]
    squad: Option<String>,
}

fn open(dir: &Path) -> anyhow::Result<(SqliteStore, Settings)> {
    if !dir.join(DB_FILE).is_file() {
        bail!(
            "{} is not a server data directory (no {DB_FILE}); make one with `gridpatrol init`",
            dir.display()
        );
    }
    let settings = Settings::load(dir, None)?;
    let store = SqliteStore::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    Ok((store, settings))
}

fn month(s: &Source) -> anyhow::Result<Month> {
    Ok(Month::parse(&s.month)?)
}

/// Asks `server` for `path`; a refusal is printed and becomes exit 2.
fn ask_server<T: serde::de::DeserializeOwned>(
    server: &str,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Result<T, ExitCode>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(ask(server, path, query))?.map_err(|refused| {
        println!("refused: {refused}");
        ExitCode::from(crate::EXIT_REFUSED)
    }))
}

async fn ask<T: serde::de::DeserializeOwned>(
    server: &str,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Result<T, String>> {
    let s = crate::case::load_session(Some(server))?;
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", s.server))
        .query(query)
        .bearer_auth(s.token())
        .send()
        .await
        .with_context(|| format!("cannot reach {}", s.server))?;
    Ok(match crate::case::read_reply(resp).await? {
        crate::case::Reply::Ok(v) => Ok(v),
        crate::case::Reply::Refused(r) => Err(format!("({}) {}", r.code, r.message)),
    })
}

fn pct(r: Option<f64>) -> String {
    r.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// Runs `gridpatrol kpi`.
pub fn kpi(args: KpiArgs) -> anyhow::Result<ExitCode> {
    let m = month(&args.source)?;
    let report: KpiReport = match (&args.source.data, &args.source.server) {
        (Some(dir), _) => {
            let (store, settings) = open(dir)?;
            kpi_report(&store, m, args.squad.as_deref(), &settings.quality)?
        }
        (None, Some(server)) => {
            let mut q = vec![("month", m.to_string())];
            if let Some(s) = &args.squad {
                q.push(("squad", s.clone()));
            }
            match ask_server(server, gridpatrol_protocol::paths::QUALITY_KPI, &q)? {
                Ok(r) => r,
                Err(code) => return Ok(code),
            }
        }
        (None, None) => bail!("say where the figures come from: --data DIR or --server URL"),
    };
    if args.source.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("KPIs for {}", report.month);
    println!(
        "{:<6} {:<8} {:>4} {:>7} {:>6} {:>9} {:>8} {:>6} {:>8} {:>7} {:>8} {:>7}",
        "squad",
        "id",
        "rank",
        "reports",
        "filed",
        "valid",
        "returned",
        "wrong",
        "on-time",
        "missed",
        "coverage",
        "score"
    );
    for k in &report.inspectors {
        println!(
            "{:<6} {:<8} {:>4} {:>7} {:>6} {:>9} {:>8} {:>6} {:>8} {:>7} {:>8} {:>7.1}",
            k.squad,
            k.id,
            k.rank,
            k.reports,
            k.filed,
            pct(k.valid_rate),
            pct(k.returned_rate),
            k.wrong,
            pct(k.on_time_rate),
            k.missed,
            pct(k.coverage),
            k.score
        );
    }
    for s in report
        .squads
        .iter()
        .filter(|s| args.squad.as_deref().is_none_or(|q| q == s.squad))
    {
        println!(
            "squad {} rank {} of {}: {} members, {} reports, valid {}, wrong {}, missed {}, patrol coverage {}, mean score {:.1}",
            s.squad,
            s.rank,
            report.squads.len(),
            s.members,
            s.reports,
            pct(s.valid_rate),
            s.wrong,
            s.missed,
            pct(s.coverage),
            s.score
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `gridpatrol eval`.
pub fn eval(args: Source) -> anyhow::Result<ExitCode> {
    let m = month(&args)?;
    let e: Evaluation = match (&args.data, &args.server) {
        (Some(dir), _) => {
            let (store, settings) = open(dir)?;
            evaluation(&store, m, &settings.quality)?
        }
        (None, Some(server)) => {
            let q = [("month", m.to_string())];
            match ask_server(server, gridpatrol_protocol::paths::QUALITY_EVAL, &q)? {
                Ok(r) => r,
                Err(code) => return Ok(code),
            }
        }
        (None, None) => bail!("say where the figures come from: --data DIR or --server URL"),
    };
    if args.json {
        print_json(&e)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Evaluation for {}: responsible units", e.month);
    println!(
        "{:>4} {:<24} {:>6} {:>8} {:>7} {:>8} {:>7}",
        "rank", "unit", "rounds", "on-time", "rework", "closure", "score"
    );
    for u in &e.units {
        println!(
            "{:>4} {:<24} {:>6} {:>8} {:>7} {:>8} {:>7.1}",
            u.rank,
            u.unit,
            u.rounds,
            pct(u.on_time_rate),
            pct(u.rework_rate),
            pct(u.closure_rate),
            u.score
        );
    }
    println!("squads");
    for s in &e.squads {
        println!(
            "{:>4} {:<8} {} reports, valid {}, wrong {}, missed {}, mean score {:.1}",
            s.rank,
            s.squad,
            s.reports,
            pct(s.valid_rate),
            s.wrong,
            s.missed,
            s.score
        );
    }
    Ok(ExitCode::SUCCESS)
}
