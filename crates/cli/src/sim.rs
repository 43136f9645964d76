//! `gridpatrol sim`: the headless field simulator against a running server:
//! one app `Device` per inspector (see `gridpatrol-sim`).

use std::process::ExitCode;

use anyhow::Context as _;
use gridpatrol_sim::SimConfig;

/// `gridpatrol sim --server URL --inspectors N --cases M [--photos K] [--faults P] [--seed S] --json`.
#[derive(clap::Args)]
pub struct Args {
    /// Server base URL, e.g. `http://127.0.0.1:8080` (created with `init --demo`).
    #[arg(long)]
    server: String,
    /// Simulated phones (the app's Device facade each), one per demo inspector I0001… in id order (1..=1547).
    #[arg(long)]
    inspectors: usize,
    /// Cases to create offline, spread over the devices.
    #[arg(long)]
    cases: usize,
    /// Photos per case (a synthetic street scene through the app's photo pipeline).
    #[arg(long, default_value_t = 0)]
    photos: usize,
    /// Probability that the loopback fault proxy cuts a request, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Seed of places, categories and cuts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Devices syncing at the same time.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Print the result as one line of JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the simulation; exit status 2 when it did not converge.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = SimConfig::new(&args.server, args.inspectors, args.cases);
    cfg.photos = args.photos;
    cfg.faults = args.faults;
    cfg.seed = args.seed;
    cfg.concurrency = args.concurrency;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt.block_on(gridpatrol_sim::run(&cfg))?;
    if args.json {
        crate::print_json(&r)?;
    } else {
        println!(
            "{} cases from {} devices: converged={} lost={} duplicated={} diverged={} \
             round_trips={} bytes_up={} bytes_down={} photos={} cuts={} retries={} in {:.2}s",
            r.cases,
            args.inspectors,
            r.converged,
            r.lost,
            r.duplicated,
            r.diverged,
            r.round_trips,
            r.bytes_up,
            r.bytes_down,
            r.photos_uploaded,
            r.cuts,
            r.retries,
            r.seconds
        );
    }
    Ok(if r.converged {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_REFUSED)
    })
}
