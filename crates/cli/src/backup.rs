//! `gridpatrol backup` and `gridpatrol restore`: thin wrappers over
//! `gridpatrol_server_storage_sqlite::backup` with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;

use gridpatrol_server_storage_sqlite::backup::{self, BackupError, Manifest, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `gridpatrol backup`.
#[derive(clap::Args)]
pub struct BackupArgs {
    /// Data directory of the server (running or stopped).
    #[arg(long)]
    data: PathBuf,
    /// The backup file to write (replaced only once complete).
    #[arg(long)]
    out: PathBuf,
    /// Print the manifest as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

/// `gridpatrol restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file (from `gridpatrol backup`).
    file: PathBuf,
    /// Data directory to restore into; must not be in use by a server.
    #[arg(long)]
    data: PathBuf,
    /// Restore over a directory that holds data, moving its contents aside
    /// to DIR.replaced-<ms> (nothing is deleted).
    #[arg(long)]
    replace: bool,
}

/// One bar for the run: database bytes, then photo bytes.
struct Bar {
    bar: ProgressBar,
    stage: Option<&'static str>,
}

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg:10} [{bar:30}] {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar { bar, stage: None }
    }

    fn update(&mut self, p: Progress) {
        let (stage, done, total) = match p {
            Progress::Database { done, total } => ("database", done, total),
            Progress::Photos { done, total } => ("photos", done, total),
        };
        if self.stage != Some(stage) {
            self.stage = Some(stage);
            self.bar.set_message(stage);
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}

fn summary(m: &Manifest) -> String {
    let photo_bytes: u64 = m.photos.values().sum();
    format!(
        "{} cases, {} verifications, {} accounts, {} photos ({:.1} MiB), database {:.1} MiB (sha256 {}), taken {} from epoch {}",
        m.counts.cases,
        m.counts.verifications,
        m.counts.users,
        m.photos.len(),
        photo_bytes as f64 / 1048576.0,
        m.database.bytes as f64 / 1048576.0,
        &m.database.sha256[..16],
        chrono::DateTime::from_timestamp_millis(m.created_at_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        m.epoch
    )
}

fn refused(e: &BackupError) -> bool {
    matches!(
        e,
        BackupError::Live(_)
            | BackupError::NotEmpty(_)
            | BackupError::NoDatabase(_)
            | BackupError::Damaged(_)
    )
}

/// Takes a backup and prints what it holds.
pub fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let mut bar = Bar::new();
    let result = backup::backup(&args.data, &args.out, &mut |p| bar.update(p));
    bar.bar.finish_and_clear();
    match result {
        Ok(m) => {
            if args.json {
                crate::print_json(&m)?;
            } else {
                println!("backed up to {}: {}", args.out.display(), summary(&m));
                if !m.unreadable_photos.is_empty() {
                    println!(
                        "warning: {} photos were missing or damaged on disk and are not in the backup: {}",
                        m.unreadable_photos.len(),
                        m.unreadable_photos.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if refused(&e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(crate::EXIT_REFUSED))
        }
        Err(e) => Err(e.into()),
    }
}

/// Restores a backup and says what it restored.
pub fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut bar = Bar::new();
    let result = backup::restore(&args.file, &args.data, args.replace, &mut |p| bar.update(p));
    bar.bar.finish_and_clear();
    match result {
        Ok(r) => {
            println!(
                "restored into {}: {}",
                args.data.display(),
                summary(&r.manifest)
            );
            println!(
                "new epoch {}: devices will send again what they had sent since the backup",
                r.epoch
            );
            if let Some(aside) = r.moved_aside {
                println!("the earlier contents are in {}", aside.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if refused(&e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(crate::EXIT_REFUSED))
        }
        Err(e) => Err(e.into()),
    }
}
