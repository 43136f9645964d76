//! `gridpatrol`: the one operations binary. Each area of the product adds a
//! subcommand module here (`taxonomy`, `district`, `rotation`, `media`, …); the modules
//! stay thin and call into the library crates.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backup;
mod case;
mod district;
mod media;
mod quality;
mod rotation;
mod server;
mod sim;
mod taxonomy;

/// Exit code for input the tool refuses (outside the district, bad file…).
pub const EXIT_REFUSED: u8 = 2;

#[derive(Parser)]
#[command(name = "gridpatrol", version, about = "GridPatrol operations tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The patrol checklist (3,537 fine categories).
    Taxonomy {
        #[command(subcommand)]
        cmd: taxonomy::Cmd,
    },
    /// The demo district: streets, grids, squads, inspectors.
    District {
        #[command(subcommand)]
        cmd: district::Cmd,
    },
    /// Rotation plans: `plan --period YYYY-MM`, `check`, `apply` (DIR/rotation/).
    Rotation {
        #[command(subcommand)]
        cmd: rotation::Cmd,
    },
    /// Photo evidence pipeline.
    Media {
        #[command(subcommand)]
        cmd: media::Cmd,
    },
    /// The supervision centre's actions on cases (as a centre account).
    Case {
        #[command(subcommand)]
        cmd: case::Cmd,
    },
    /// Inspector and squad KPIs for a month: `kpi --month YYYY-MM [--squad S] --data DIR`.
    Kpi(quality::KpiArgs),
    /// The month's evaluation of units, squads and inspectors: `eval --month YYYY-MM --data DIR`.
    Eval(quality::Source),
    /// Run the sync server: `serve --data DIR [--listen ADDR]`.
    Serve(server::ServeArgs),
    /// Create a server data directory: `init --demo --data DIR`.
    Init(server::InitArgs),
    /// Online backup of a server data directory: `backup --data DIR --out FILE`.
    Backup(backup::BackupArgs),
    /// Restore a backup into a stopped server's directory: `restore FILE --data DIR`.
    Restore(backup::RestoreArgs),
    /// Field-client simulator: `sim --server URL --inspectors N --cases M [--faults P] --json`.
    Sim(sim::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Taxonomy { cmd } => taxonomy::run(cmd),
        Command::District { cmd } => district::run(cmd),
        Command::Rotation { cmd } => rotation::run(cmd),
        Command::Media { cmd } => media::run(cmd),
        Command::Case { cmd } => case::run(cmd),
        Command::Kpi(args) => quality::kpi(args),
        Command::Eval(args) => quality::eval(args),
        Command::Serve(args) => server::serve(args),
        Command::Init(args) => server::init(args),
        Command::Sim(args) => sim::run(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a value as one line of JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
