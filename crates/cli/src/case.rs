//! `gridpatrol case …`: the supervision centre's side of the loop over the
//! server's centre API, signed in as a centre account. The session token is
//! kept in a file readable only by its owner (like the app, never the
//! password); tables for people by default, `--json` for scripts. A refused
//! action exits 2 with the server's reason.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use gridpatrol_domain::time;
use gridpatrol_protocol::{
    paths, CaseListItem, CaseListPage, CaseListParams, CentreAction, ComplaintRequest, ErrorBody,
    LoginRequest, LoginResponse,
};
use gridpatrol_server::centre::CaseDetail;
use serde::{Deserialize, Serialize};

use crate::{print_json, EXIT_REFUSED};

/// Where the session file lives: `$GRIDPATROL_HOME`, else
/// `$XDG_CONFIG_HOME/gridpatrol`, else `~/.config/gridpatrol`.
fn home() -> anyhow::Result<PathBuf> {
    if let Some(h) = std::env::var_os("GRIDPATROL_HOME") {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(x).join("gridpatrol"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".config/gridpatrol")),
        None => bail!("no HOME: set GRIDPATROL_HOME to where the session may be kept"),
    }
}

const SESSION_FILE: &str = "centre-session.json";

/// A signed-in centre session. The token is redacted from `Debug`.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) server: String,
    user: String,
    token: String,
    expires_at_ms: i64,
}

impl Session {
    /// The bearer token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .finish()
    }
}

fn session_path() -> anyhow::Result<PathBuf> {
    Ok(home()?.join(SESSION_FILE))
}

fn save_session(s: &Session) -> anyhow::Result<()> {
    let path = session_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(serde_json::to_string(s)?.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The kept centre session (for `server`, when given).
pub(crate) fn load_session(server: Option<&str>) -> anyhow::Result<Session> {
    let path = session_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("not signed in: run `gridpatrol case login --server URL --user ID` first")
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let s: Session = serde_json::from_str(&text)
        .with_context(|| format!("{} is damaged; sign in again", path.display()))?;
    if let Some(want) = server {
        if want.trim_end_matches('/') != s.server {
            bail!(
                "signed in to {} as {}, not to {want}: run `gridpatrol case login --server {want}`",
                s.server,
                s.user
            );
        }
    }
    Ok(s)
}

/// What the server said when it refused.
pub(crate) struct Refused {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The outcome of a call: success, refusal (exit 2) or failure.
pub(crate) enum Reply<T> {
    Ok(T),
    Refused(Refused),
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?)
}

/// A response as success or the server's refusal.
pub(crate) async fn read_reply<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
) -> anyhow::Result<Reply<T>> {
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if status.is_success() {
        return Ok(Reply::Ok(
            serde_json::from_slice(&bytes)
                .context("the server's answer is not what this tool expects")?,
        ));
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
            status.as_str().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ),
    };
    if status.is_server_error() {
        bail!("the server failed ({status}): {message}");
    }
    if code == gridpatrol_protocol::codes::INVALID_TOKEN
        || code == gridpatrol_protocol::codes::TOKEN_EXPIRED
    {
        bail!("the session ended ({message}); run `gridpatrol case login` again");
    }
    Ok(Reply::Refused(Refused { code, message }))
}

fn finish<T>(
    reply: Reply<T>,
    show: impl FnOnce(T) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    match reply {
        Reply::Ok(v) => {
            show(v)?;
            Ok(ExitCode::SUCCESS)
        }
        Reply::Refused(r) => {
            println!("refused ({}): {}", r.code, r.message);
            Ok(ExitCode::from(EXIT_REFUSED))
        }
    }
}

/// Options every call to the server takes.
#[derive(Args, Clone)]
pub struct Conn {
    /// The server (default: the one signed in to).
    #[arg(long)]
    server: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Case subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Sign in as a centre account; the password comes from
    /// `GRIDPATROL_PASSWORD` or the first line of standard input.
    Login {
        /// Server base URL, e.g. `http://127.0.0.1:8080`.
        #[arg(long)]
        server: String,
        /// Account id, e.g. `C0001`.
        #[arg(long)]
        user: String,
    },
    /// Sign out and forget the token.
    Logout,
    /// Cases, newest first, filtered.
    List {
        #[command(flatten)]
        conn: Conn,
        /// Lifecycle state (reported, filed, dispatched, handled, verifying, reopened, closed…).
        #[arg(long)]
        state: Option<String>,
        /// 9-digit street code.
        #[arg(long)]
        street: Option<String>,
        /// 12-digit supervision grid code.
        #[arg(long)]
        grid: Option<String>,
        /// Category code (a fine class or any class above it).
        #[arg(long)]
        category: Option<String>,
        /// Reported on or after this day (YYYY-MM-DD, Beijing time).
        #[arg(long)]
        from: Option<String>,
        /// Reported on or before this day (YYYY-MM-DD, Beijing time).
        #[arg(long)]
        to: Option<String>,
        /// Only cases past their handling deadline.
        #[arg(long)]
        overdue: bool,
        /// Most rows (all pages are fetched up to this).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One case with its whole timeline.
    Show {
        /// Case id.
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// File a reported case (立案).
    File {
        /// Case id.
        id: String,
        /// Note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Refuse to file a reported case.
    Reject {
        /// Case id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Send a filed case to the responsible unit; the deadline follows
    /// from the checklist's time limit and the grid's area class.
    Dispatch {
        /// Case id.
        id: String,
        /// The unit (default: the checklist's responsible department).
        #[arg(long)]
        unit: Option<String>,
        /// Note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Record the unit's feedback that the problem is fixed, with the
    /// photos it sent: each goes through the app's photo pipeline (checked,
    /// upright, resized, stamped) and is uploaded before the step is
    /// recorded; a file that is not a usable image stops it all (exit 2).
    Handled {
        /// Case id.
        id: String,
        /// The unit's words.
        #[arg(long, default_value = "")]
        note: String,
        /// A photo of the fixed problem (JPEG, PNG or WebP); repeat for more.
        #[arg(long = "photo", value_name = "FILE")]
        photos: Vec<PathBuf>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Send an inspector to re-verify on site (default: an on-duty
    /// inspector of the grid other than the reporter).
    AssignVerification {
        /// Case id.
        id: String,
        /// Who goes.
        #[arg(long)]
        assignee: Option<String>,
        /// Hours until it is due.
        #[arg(long)]
        due_hours: Option<u32>,
        /// Note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Enter a public complaint (source: hotline) at a place; an
    /// inspector then checks it on site (`assign-verification`).
    Complaint {
        /// Fine-class code of the problem.
        #[arg(long)]
        category: String,
        /// WGS-84 longitude.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// WGS-84 latitude.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// The address as given.
        #[arg(long, default_value = "")]
        address: String,
        /// What the complainant said.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Complaint: record what the complainant was told.
    Reply {
        /// Case id.
        id: String,
        /// What they were told.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Complaint: the complainant is satisfied (the case closes).
    Satisfied {
        /// Case id.
        id: String,
        /// Note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Complaint: the complainant is not satisfied (second handling, then
    /// an investigation).
    NotSatisfied {
        /// Case id.
        id: String,
        /// What they said.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Close a case whose re-verification passed.
    Close {
        /// Case id.
        id: String,
        /// Note for the timeline.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Conn,
    },
}

fn day_start_ms(day: &str, plus_days: i64) -> anyhow::Result<i64> {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .with_context(|| format!("`{day}` is not a date like 2026-12-01"))?;
    Ok(time::day_start_ms(d + chrono::Duration::days(plus_days)))
}

fn when(ms: i64) -> String {
    time::at_beijing(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Runs a case subcommand.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: Cmd) -> anyhow::Result<ExitCode> {
    let http = client()?;
    match cmd {
        Cmd::Login { server, user } => {
            let server = server.trim_end_matches('/').to_string();
            let password = match std::env::var("GRIDPATROL_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let resp = http
                .post(format!("{server}{}", paths::LOGIN))
                .json(&LoginRequest {
                    user_id: user.clone(),
                    password,
                })
                .send()
                .await
                .with_context(|| format!("cannot reach {server}"))?;
            let reply: Reply<LoginResponse> = read_reply(resp).await?;
            if let Reply::Ok(r) = &reply {
                if r.user.role != gridpatrol_domain::roles::Role::CentreOperator {
                    println!(
                        "refused: {} is a {}, not a centre account",
                        r.user.id,
                        r.user.role.as_str()
                    );
                    return Ok(ExitCode::from(EXIT_REFUSED));
                }
                save_session(&Session {
                    server: server.clone(),
                    user: r.user.id.clone(),
                    token: r.token.clone(),
                    expires_at_ms: r.expires_at_ms,
                })?;
            }
            finish(reply, |r| {
                println!("signed in to {server} as {} ({})", r.user.id, r.user.name);
                Ok(())
            })
        }
        Cmd::Logout => {
            let s = load_session(None)?;
            let resp = http
                .post(format!("{}{}", s.server, paths::LOGOUT))
                .bearer_auth(&s.token)
                .send()
                .await;
            // The token is forgotten here whether or not the server heard.
            std::fs::remove_file(session_path()?)?;
            match resp {
                Ok(r) if r.status().is_success() => println!("signed out of {}", s.server),
                _ => println!("signed out here; {} did not confirm", s.server),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::List {
            conn,
            state,
            street,
            grid,
            category,
            from,
            to,
            overdue,
            limit,
        } => {
            let s = load_session(conn.server.as_deref())?;
            let mut params = CaseListParams {
                state,
                street,
                grid,
                category,
                from_ms: from.as_deref().map(|d| day_start_ms(d, 0)).transpose()?,
                to_ms: to.as_deref().map(|d| day_start_ms(d, 1)).transpose()?,
                overdue,
                after: None,
                limit: Some(limit.clamp(1, 1000)),
            };
            let mut items: Vec<CaseListItem> = Vec::new();
            loop {
                let resp = http
                    .get(format!("{}{}", s.server, paths::CENTRE_CASES))
                    .query(&params)
                    .bearer_auth(&s.token)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {}", s.server))?;
                match read_reply::<CaseListPage>(resp).await? {
                    Reply::Ok(page) => {
                        items.extend(page.items);
                        match page.next {
                            Some(n) if (items.len() as u32) < limit => params.after = Some(n),
                            _ => break,
                        }
                    }
                    refused => return finish(refused, |_| Ok(())),
                }
            }
            items.truncate(limit as usize);
            if conn.json {
                print_json(&items)?;
            } else {
                print_list(&items);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Show { id, conn } => {
            let s = load_session(conn.server.as_deref())?;
            finish(get_case(&http, &s, &id).await?, |d| show(&d, conn.json))
        }
        Cmd::File { id, note, conn } => act(&http, &conn, &id, CentreAction::File { note }).await,
        Cmd::Reject { id, reason, conn } => {
            act(&http, &conn, &id, CentreAction::Reject { reason }).await
        }
        Cmd::Dispatch {
            id,
            unit,
            note,
            conn,
        } => act(&http, &conn, &id, CentreAction::Dispatch { unit, note }).await,
        Cmd::Handled {
            id,
            note,
            photos,
            conn,
        } => {
            let s = load_session(conn.server.as_deref())?;
            let photos = match handled_photos(&http, &s, &id, &photos).await? {
                Ok(p) => p,
                Err(exit) => return Ok(exit),
            };
            act(&http, &conn, &id, CentreAction::Handled { note, photos }).await
        }
        Cmd::AssignVerification {
            id,
            assignee,
            due_hours,
            note,
            conn,
        } => {
            let a = CentreAction::AssignVerification {
                assignee,
                due_hours,
                note,
            };
            act(&http, &conn, &id, a).await
        }
        Cmd::Close { id, note, conn } => act(&http, &conn, &id, CentreAction::Close { note }).await,
        Cmd::Reply { id, note, conn } => act(&http, &conn, &id, CentreAction::Reply { note }).await,
        Cmd::Satisfied { id, note, conn } => {
            act(&http, &conn, &id, CentreAction::Satisfied { note }).await
        }
        Cmd::NotSatisfied { id, note, conn } => {
            act(&http, &conn, &id, CentreAction::NotSatisfied { note }).await
        }
        Cmd::Complaint {
            category,
            lon,
            lat,
            address,
            description,
            conn,
        } => {
            let s = load_session(conn.server.as_deref())?;
            let req = ComplaintRequest {
                category,
                lon,
                lat,
                address,
                description,
            };
            let path = paths::CENTRE_COMPLAINTS;
            finish(post_case(&http, &s, path, &req).await?, |d| {
                if conn.json {
                    print_json(&d)
                } else {
                    println!(
                        "{}: {} — grid {} {}",
                        d.case.id,
                        d.case.state.label_zh(),
                        d.case.report.supervision_grid,
                        d.category_name
                    );
                    Ok(())
                }
            })
        }
    }
}

/// Pieces a photo is uploaded in (as the app's sync does).
const PHOTO_CHUNK: usize = 1024 * 1024;

/// Runs each file through the app's photo pipeline
/// ([`gridpatrol_media::process`] with the app's options, stamped with the
/// time and the case's grid) and uploads the result as the signed-in centre
/// account; the SHA-256 of each, in order. A file that is missing, too
/// large or not a usable image is a refusal (exit 2) before anything is
/// uploaded.
async fn handled_photos(
    http: &reqwest::Client,
    s: &Session,
    id: &str,
    files: &[PathBuf],
) -> anyhow::Result<Result<Vec<String>, ExitCode>> {
    if files.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    // The case's grid goes into the stamp; an unknown case stops here.
    let grid = match get_case(http, s, id).await? {
        Reply::Ok(d) => d.case.report.technical_grid,
        refused => return finish(refused, |_| Ok(())).map(Err),
    };
    let opts = gridpatrol_media::Options::default();
    let capture = gridpatrol_media::Capture {
        device_time: time::at_beijing(gridpatrol_server::now_ms()),
        device_position: None,
        grid_code: grid.parse::<gridpatrol_media::GridCode>().ok(),
    };
    let mut processed = Vec::with_capacity(files.len());
    for f in files {
        let done = gridpatrol_media::read_limited(f, &opts.limits)
            .and_then(|bytes| gridpatrol_media::process(&bytes, &capture, &opts));
        match done {
            Ok(p) => processed.push(p.photo),
            Err(e) => {
                println!("refused: {}: {e}; nothing was recorded", f.display());
                return Ok(Err(ExitCode::from(EXIT_REFUSED)));
            }
        }
    }
    let mut out = Vec::with_capacity(processed.len());
    for p in processed {
        gridpatrol_sync::upload_photo(
            http.clone(),
            &s.server,
            // The session's token already goes to this server on every call.
            true,
            &s.token,
            &p.sha256,
            &p.bytes,
            PHOTO_CHUNK,
        )
        .await
        .with_context(|| format!("uploading photo {} to {}", p.sha256, s.server))?;
        out.push(p.sha256);
    }
    Ok(Ok(out))
}

/// One case as the centre sees it.
async fn get_case(
    http: &reqwest::Client,
    s: &Session,
    id: &str,
) -> anyhow::Result<Reply<CaseDetail>> {
    let resp = http
        .get(format!("{}{}/{}", s.server, paths::CENTRE_CASES, id))
        .bearer_auth(&s.token)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", s.server))?;
    read_reply(resp).await
}

/// POSTs `body` to `path` with the session's token; the answer is a case.
async fn post_case<B: Serialize>(
    http: &reqwest::Client,
    s: &Session,
    path: &str,
    body: &B,
) -> anyhow::Result<Reply<CaseDetail>> {
    let resp = http
        .post(format!("{}{path}", s.server))
        .bearer_auth(&s.token)
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", s.server))?;
    read_reply(resp).await
}

async fn act(
    http: &reqwest::Client,
    conn: &Conn,
    id: &str,
    action: CentreAction,
) -> anyhow::Result<ExitCode> {
    let s = load_session(conn.server.as_deref())?;
    let path = format!("{}/{}/actions", paths::CENTRE_CASES, id);
    finish(post_case(http, &s, &path, &action).await?, |d| {
        if conn.json {
            print_json(&d)
        } else {
            let last = d.case.steps.last();
            println!(
                "{}: {} — {}",
                d.case.id,
                d.case.state.label_zh(),
                last.map(describe_step).unwrap_or_default()
            );
            Ok(())
        }
    })
}

fn describe_step(s: &gridpatrol_docs::LifecycleStep) -> String {
    let mut out = format!("{} {} by {}", when(s.at_ms), s.state.label_zh(), s.by);
    if let Some(u) = &s.detail.unit {
        out.push_str(&format!(" → {u}"));
    }
    if let Some(d) = s.detail.due_at_ms {
        out.push_str(&format!(", due {}", when(d)));
    }
    if let Some(v) = &s.detail.verification {
        out.push_str(&format!(" [{v}]"));
    }
    if !s.note.is_empty() {
        out.push_str(&format!(" «{}»", s.note));
    }
    out
}

fn print_list(items: &[CaseListItem]) {
    if items.is_empty() {
        println!("no cases");
        return;
    }
    println!(
        "{:<22} {:<12} {:<16} {:<10} {:<17} category",
        "id", "state", "grid", "reporter", "reported"
    );
    for i in items {
        let state = gridpatrol_domain::lifecycle::CaseState::parse(&i.state)
            .map(|s| s.label_zh().to_string())
            .unwrap_or_else(|| i.state.clone());
        println!(
            "{:<22} {:<12} {:<16} {:<10} {:<17} {} {}{}",
            i.id,
            state,
            i.grid,
            i.reporter,
            when(i.reported_at_ms),
            i.category,
            i.category_name,
            if i.overdue { "  [超期]" } else { "" }
        );
    }
    println!("{} case(s)", items.len());
}

fn show(d: &CaseDetail, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(d);
    }
    let c = &d.case;
    println!("case      {}", c.id);
    println!("state     {} ({})", c.state.label_zh(), c.state.as_str());
    println!("category  {} {}", c.report.category, d.category_name);
    println!(
        "where     grid {} / {} ({:.6}, {:.6} WGS-84) {}",
        c.report.supervision_grid,
        c.report.technical_grid,
        c.report.lon,
        c.report.lat,
        c.report.address
    );
    println!(
        "reported  {} by {}",
        when(c.report.created_at_ms),
        c.report.reporter
    );
    if !c.report.description.is_empty() {
        println!("said      {}", c.report.description);
    }
    if let Some(r) = &c.review {
        println!(
            "review    {} by {} {}",
            r.verdict.as_str(),
            r.reviewer,
            r.note
        );
    }
    if d.rework > 0 {
        println!("rework    {} failed verification(s)", d.rework);
    }
    if d.overdue {
        println!("overdue   past the handling deadline");
    }
    println!("timeline");
    for s in &c.steps {
        println!("  {}", describe_step(s));
        for p in &s.detail.photos {
            match d.step_photo_bytes.get(p) {
                Some(n) => println!("    photo {p} ({n} bytes)"),
                None => println!("    photo {p} (not on the server)"),
            }
        }
    }
    for v in &d.verifications {
        let result = match &v.result {
            Some(r) => format!("{} at {} «{}»", r.outcome.as_str(), when(r.at_ms), r.note),
            None => "no result yet".to_string(),
        };
        println!(
            "verification {} → {} (due {}): {result}",
            v.id,
            v.task.assignee,
            when(v.task.due_at_ms)
        );
    }
    let next: Vec<String> = d
        .allowed
        .iter()
        .map(|a| format!("{a:?}").to_lowercase())
        .collect();
    if !next.is_empty() {
        println!("next      {}", next.join(", "));
    }
    Ok(())
}
