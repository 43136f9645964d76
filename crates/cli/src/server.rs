//! `gridpatrol serve` (the sync server) and `gridpatrol init --demo` (a data
//! directory with the demo district's accounts).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use gridpatrol_server::accounts::{self, HashCost, DEMO_CENTRE_ID};
use gridpatrol_server::config::Settings;
use gridpatrol_server::AppState;
use gridpatrol_server_storage::ServerStore;
use gridpatrol_server_storage_sqlite::SqliteStore;

/// How long requests in flight may take to finish after a stop signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// `gridpatrol serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Data directory (SQLite database, photos, optional gridpatrol.toml).
    #[arg(long)]
    data: PathBuf,
    /// Listen address; overrides the config file and GRIDPATROL__SERVER__LISTEN.
    #[arg(long)]
    listen: Option<String>,
    /// Config file (default: DIR/gridpatrol.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// `gridpatrol init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Load the demo district: accounts for every inspector and squad leader
    /// and centre operator C0001, password `patrol-<id>`.
    #[arg(long)]
    demo: bool,
    /// Data directory to create or update.
    #[arg(long)]
    data: PathBuf,
}

/// Runs the server until Ctrl-C / SIGTERM, then shuts down gracefully.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let mut settings = Settings::load(&args.data, args.config.as_deref())?;
    if let Some(listen) = args.listen {
        settings.server.listen = listen;
    }
    // One server per directory, and no restore under a running one.
    let _lock = gridpatrol_server_storage_sqlite::backup::lock_data_dir(&args.data)?;
    let store = SqliteStore::open(&args.data)
        .with_context(|| format!("opening the store in {}", args.data.display()))?;
    if store.user_count()? == 0 {
        eprintln!(
            "warning: no accounts in {}; run `gridpatrol init --demo --data {}`",
            args.data.display(),
            args.data.display()
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listen = settings.server.listen.clone();
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        eprintln!(
            "gridpatrol serve: listening on http://{}",
            listener.local_addr()?
        );
        let state = AppState::in_dir(Arc::new(store), settings, &args.data);
        let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
        let server = gridpatrol_server::serve(listener, state, async move {
            shutdown_signal().await;
            eprintln!("gridpatrol serve: stopping; finishing requests in flight");
            let _ = stopping_tx.send(true);
        });
        // In-flight requests get a bounded grace period, so one stuck client
        // cannot keep the process alive.
        let grace = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            r = server => r?,
            _ = grace => eprintln!("gridpatrol serve: grace period over; closing remaining connections"),
        }
        eprintln!("gridpatrol serve: stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Creates the data directory and loads the demo accounts; prints counts as JSON.
pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    if !args.demo {
        eprintln!(
            "error: only `init --demo` is supported (real accounts are not loaded from files yet)"
        );
        return Ok(ExitCode::from(crate::EXIT_REFUSED));
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let store = SqliteStore::open(&args.data)
        .with_context(|| format!("opening the store in {}", args.data.display()))?;
    let district = &gridpatrol_district::DemoDistrict::get().district;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = std::time::Instant::now();
    let counts =
        accounts::load_district(&store, district, &[DEMO_CENTRE_ID], HashCost::DEMO, threads)?;
    crate::print_json(&serde_json::json!({
        "data": args.data,
        "inspectors": counts.inspectors,
        "leaders": counts.leaders,
        "centre": counts.centre,
        "squads": counts.squads,
        "accounts": store.user_count()?,
        "password": "patrol-<id>",
        "seconds": started.elapsed().as_secs_f64(),
    }))?;
    Ok(ExitCode::SUCCESS)
}
