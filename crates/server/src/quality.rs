//! The monthly quality work on the server: the sample of each inspector's
//! last month drawn once the month is over (seed and draw recorded), the
//! squad leader's marks on it, and the KPI and evaluation figures computed
//! by `gridpatrol-quality` from the recorded events ([`tally_month`] is the
//! one loader the API and the CLI share: it streams a month's records into
//! the figures' tallies; [`records`] loads the same records whole).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use gridpatrol_docs::CaseDoc;
use gridpatrol_domain::lifecycle::Action;
use gridpatrol_domain::roles::Role;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_protocol::{codes, SampleItem, SampleMarkRequest, SamplePage};
use gridpatrol_quality::coverage::PatrolDay;
use gridpatrol_quality::eval::{Evaluation, Evaluator};
use gridpatrol_quality::kpi::{KpiReport, KpiTally};
use gridpatrol_quality::{
    sample, CaseRecord, CaseView, Mark, Month, MonthTally, Person, Step, VerificationRecord,
};
use gridpatrol_server_storage::{DrawRecord, SampleRow, ServerStore, StoreError};
use serde::Deserialize;

use crate::auth::Caller;
use crate::config::QualitySection;
use crate::error::{body_rejection, parse_json, ApiError};
use crate::AppState;

/// Everything a month's figures are computed from.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Everyone in the district.
    pub people: Vec<Person>,
    /// The month's cases, plus the reports of the window before it.
    pub cases: Vec<CaseRecord>,
    /// Verifications due in the month, by id.
    pub verifications: Vec<VerificationRecord>,
    /// The leaders' marks on the month's sample.
    pub marks: Vec<Mark>,
    /// The month's recorded patrol days.
    pub patrol_days: Vec<PatrolDay>,
}

/// Everyone in the district.
fn people(store: &dyn ServerStore) -> Result<Vec<Person>, StoreError> {
    Ok(store
        .users()?
        .into_iter()
        .map(|u| Person {
            id: u.id,
            role: u.role,
            squad: u.squad,
            supervision_grid: u.supervision_grid,
        })
        .collect())
}

/// The leaders' marks on the sample of `month`.
fn marks(store: &dyn ServerStore, month: Month) -> Result<Vec<Mark>, StoreError> {
    Ok(store
        .samples(&month.to_string(), None)?
        .into_iter()
        .map(|s| Mark {
            case_id: s.case_id,
            inspector: s.inspector,
            wrong: s.wrong,
        })
        .collect())
}

/// Calls `f` with each case of the records of `month` (see
/// [`Records::cases`]) as the store reads it, steps of unknown actions
/// left out: nothing of a case is kept after its call.
fn each_case(
    store: &dyn ServerStore,
    month: Month,
    settings: &QualitySection,
    f: &mut dyn FnMut(&CaseView<'_>),
) -> Result<(), StoreError> {
    let window = settings.kpi_rules().missed_window_ms;
    store.each_quality_case(
        month.start_ms() - window,
        month.start_ms(),
        month.end_ms(),
        &mut |r| {
            let steps: Vec<Step<'_>> = r
                .summary
                .events
                .iter()
                .filter_map(|e| {
                    Some(Step {
                        action: Action::parse(&e.action)?,
                        by: &e.by,
                        at_ms: e.at_ms,
                        unit: e.unit.as_deref(),
                        due_at_ms: e.due_at_ms,
                    })
                })
                .collect();
            f(&CaseView {
                id: &r.id,
                source: &r.summary.source,
                category: &r.summary.category,
                supervision_grid: &r.supervision_grid,
                reporter: &r.reporter,
                reported_at_ms: r.summary.reported_at_ms,
                lon: r.summary.lon,
                lat: r.summary.lat,
                review: r.summary.review.as_deref(),
                resubmitted: r.summary.resubmitted,
                steps: &steps,
            });
        },
    )
}

/// Calls `f` with each recorded patrol day of `month` (Beijing days); a
/// stored day that is no date is left out with a warning.
fn each_patrol_day(
    store: &dyn ServerStore,
    month: Month,
    f: &mut dyn FnMut(PatrolDay),
) -> Result<(), StoreError> {
    let first = crate::patrol::beijing_day(month.start_ms());
    let last = crate::patrol::beijing_day(month.end_ms() - 1);
    store.each_patrol_day(&first.to_string(), &last.to_string(), &mut |r| {
        match NaiveDate::parse_from_str(&r.day, "%Y-%m-%d") {
            Ok(day) => f(PatrolDay {
                inspector: r.inspector.clone(),
                day,
                supervision_grid: r.supervision_grid.clone(),
                technical_grids: r.technical_grids.clone(),
            }),
            Err(e) => {
                tracing::warn!(day = %r.day, error = %e, "patrol day with a bad date left out")
            }
        }
    })
}

/// Feeds `tally` the records of `month` as the store reads them (a month
/// is never held whole; see [`records`] for the same records loaded).
pub fn tally_month(
    store: &dyn ServerStore,
    month: Month,
    settings: &QualitySection,
    tally: &mut dyn MonthTally,
) -> Result<(), StoreError> {
    each_case(store, month, settings, &mut |c| tally.add_case(c))?;
    store.each_verification_due(month.start_ms(), month.end_ms(), &mut |v| {
        tally.add_verification(&v.assignee, v.summary.due_at_ms, v.summary.done_at_ms)
    })?;
    for m in marks(store, month)? {
        tally.add_mark(&m);
    }
    Ok(())
}

/// Loads the records of `month` from the store (what [`tally_month`]
/// streams, held whole).
pub fn records(
    store: &dyn ServerStore,
    month: Month,
    settings: &QualitySection,
) -> Result<Records, StoreError> {
    let mut cases = Vec::new();
    each_case(store, month, settings, &mut |c| {
        cases.push(CaseRecord::from(c))
    })?;
    let mut verifications = Vec::new();
    store.each_verification_due(month.start_ms(), month.end_ms(), &mut |v| {
        verifications.push(VerificationRecord {
            id: v.id.clone(),
            case_id: v.summary.case_id.clone(),
            assignee: v.assignee.clone(),
            due_at_ms: v.summary.due_at_ms,
            outcome: v.summary.outcome.clone(),
            done_at_ms: v.summary.done_at_ms,
        })
    })?;
    verifications.sort_by(|a, b| a.id.cmp(&b.id));
    let mut patrol_days = Vec::new();
    each_patrol_day(store, month, &mut |d| patrol_days.push(d))?;
    Ok(Records {
        people: people(store)?,
        cases,
        verifications,
        marks: marks(store, month)?,
        patrol_days,
    })
}

/// The month's evaluation (units, squads, inspectors), computed while the
/// store streams the month's records.
pub fn evaluation(
    store: &dyn ServerStore,
    month: Month,
    settings: &QualitySection,
) -> Result<Evaluation, StoreError> {
    let people = people(store)?;
    let mut e = Evaluator::new(month, &people, settings.kpi_rules());
    tally_month(store, month, settings, &mut e)?;
    Ok(e.finish())
}

/// The month's KPIs as of now; with `squad`, that squad's inspectors only.
pub fn kpi_report(
    store: &dyn ServerStore,
    month: Month,
    squad: Option<&str>,
    settings: &QualitySection,
) -> Result<KpiReport, StoreError> {
    kpi_report_at(store, month, squad, settings, crate::now_ms())
}

/// The month's KPIs as of `now_ms` (patrol coverage counts the month's
/// days up to that day; see `gridpatrol_quality::coverage`).
pub fn kpi_report_at(
    store: &dyn ServerStore,
    month: Month,
    squad: Option<&str>,
    settings: &QualitySection,
    now_ms: i64,
) -> Result<KpiReport, StoreError> {
    let people = people(store)?;
    let today = crate::patrol::beijing_day(now_ms);
    let mut t = KpiTally::new(month, &people, settings.kpi_rules())
        .with_coverage(today, crate::patrol::grid_cells());
    tally_month(store, month, settings, &mut t)?;
    each_patrol_day(store, month, &mut |d| t.add_patrol_day(&d))?;
    let (mut inspectors, squads) = t.finish();
    if let Some(s) = squad {
        inspectors.retain(|k| k.squad == s);
    }
    Ok(KpiReport {
        month,
        inspectors,
        squads,
    })
}

/// When the sample of `month` is drawn, Unix ms.
pub fn draw_at_ms(month: Month, settings: &QualitySection) -> i64 {
    month.end_ms() + i64::from(settings.draw_delay_hours) * 3_600_000
}

/// Draws the sample of `month` once its time has come (see [`draw_at_ms`])
/// if it was not drawn yet; returns the recorded draw (`None` before).
pub fn ensure_draw(
    store: &dyn ServerStore,
    month: Month,
    settings: &QualitySection,
    now_ms: i64,
) -> Result<Option<DrawRecord>, StoreError> {
    if now_ms < draw_at_ms(month, settings) {
        return Ok(None);
    }
    let key = month.to_string();
    if let Some(d) = store.sample_draw(&key)? {
        return Ok(Some(d));
    }
    let rule = settings.sample_rule();
    let seed = hex::encode(rand::random::<[u8; 16]>());
    let reports = store.patrol_reports(month.start_ms(), month.end_ms())?;
    let picks = sample::draw(month, &seed, &reports, rule);
    let squads: std::collections::HashMap<String, Option<String>> = store
        .users()?
        .into_iter()
        .map(|u| (u.id, u.squad))
        .collect();
    let rows: Vec<SampleRow> = picks
        .into_iter()
        .map(|(inspector, case_id)| SampleRow {
            month: key.clone(),
            squad: squads.get(&inspector).cloned().flatten(),
            case_id,
            inspector,
            wrong: None,
            reason: None,
            marked_by: None,
            marked_at_ms: None,
        })
        .collect();
    let draw = DrawRecord {
        month: key.clone(),
        seed,
        rate: rule.rate,
        min_count: rule.min as u32,
        drawn_at_ms: now_ms,
    };
    if store.record_draw(&draw, &rows)? {
        tracing::info!(month = %key, samples = rows.len(), seed = %draw.seed, "drew the monthly quality sample");
    }
    store.sample_draw(&key)
}

/// Draws last month's sample now if due, and again every hour (the first
/// hour of a month draws the month before).
pub(crate) async fn draw_monthly(state: Arc<AppState>) {
    if !state.settings.quality.auto_draw {
        return;
    }
    loop {
        let st = state.clone();
        let r = tokio::task::spawn_blocking(move || {
            let now = crate::now_ms();
            ensure_draw(
                st.store.as_ref(),
                Month::of_ms(now).prev(),
                &st.settings.quality,
                now,
            )
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "could not draw the monthly sample");
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

fn beijing(ms: i64) -> String {
    gridpatrol_domain::time::at_beijing(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// `?month=YYYY-MM&squad=S`.
#[derive(Debug, Deserialize)]
pub(crate) struct MonthParams {
    month: Option<String>,
    squad: Option<String>,
}

fn month_of(p: &Option<String>) -> Result<Month, ApiError> {
    match p {
        Some(m) => Month::parse(m).map_err(|e| ApiError::malformed(e.to_string())),
        None => Ok(Month::of_ms(crate::now_ms()).prev()),
    }
}

fn forbidden(m: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, m)
}

/// The squad a caller may look at: a leader their own, the centre any.
fn squad_scope(caller: &Caller, asked: Option<String>) -> Result<Option<String>, ApiError> {
    match caller.user.role {
        Role::CentreOperator => Ok(asked),
        Role::SquadLeader => match &caller.user.squad {
            Some(own) if asked.as_deref().is_none_or(|a| a == own) => Ok(Some(own.clone())),
            Some(_) => Err(forbidden("a squad leader sees their own squad's figures")),
            None => Err(forbidden("this leader has no squad")),
        },
        _ => Err(forbidden(
            "only squad leaders and the centre see quality figures",
        )),
    }
}

/// `GET /v1/quality/samples`.
pub(crate) async fn samples(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(p): Query<MonthParams>,
) -> Result<Json<SamplePage>, ApiError> {
    let month = month_of(&p.month)?;
    let squad = squad_scope(&caller, p.squad)?;
    let page = tokio::task::spawn_blocking(move || {
        let store = state.store.as_ref();
        let Some(draw) = ensure_draw(store, month, &state.settings.quality, crate::now_ms())?
        else {
            let at = draw_at_ms(month, &state.settings.quality);
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                codes::ACTION_REFUSED,
                format!(
                    "the sample of {month} is drawn at {} (Unix ms {at})",
                    beijing(at)
                ),
            ));
        };
        let rows = store.samples(&draw.month, squad.as_deref())?;
        let ids: Vec<String> = rows.iter().map(|r| r.case_id.clone()).collect();
        let docs = store.load_docs(&ids)?;
        let mut items = Vec::with_capacity(rows.len());
        for (row, doc) in rows.into_iter().zip(docs) {
            let case = doc.and_then(|d| {
                CaseDoc::load(&d.bytes, automerge::ActorId::random())
                    .and_then(|c| c.read())
                    .ok()
            });
            let Some(case) = case else { continue };
            items.push(SampleItem {
                category_name: Taxonomy::builtin()
                    .get(&case.report.category)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                category: case.report.category,
                description: case.report.description,
                reported_at_ms: case.report.created_at_ms,
                case_id: row.case_id,
                inspector: row.inspector,
                wrong: row.wrong,
                reason: row.reason,
                marked_by: row.marked_by,
            });
        }
        Ok(SamplePage {
            month: draw.month,
            seed: draw.seed,
            drawn_at_ms: draw.drawn_at_ms,
            percent: (draw.rate * 100.0).round() as u32,
            min: draw.min_count,
            items,
        })
    })
    .await??;
    Ok(Json(page))
}

/// `POST /v1/quality/samples/{month}/{case_id}`.
pub(crate) async fn mark(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((month, case_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let req: SampleMarkRequest = parse_json(&body.map_err(body_rejection)?)?;
    let month = Month::parse(&month).map_err(|e| ApiError::malformed(e.to_string()))?;
    if caller.user.role != Role::SquadLeader {
        return Err(forbidden("the reporter's squad leader marks the sample"));
    }
    let reason = req
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if req.wrong && reason.is_none() {
        return Err(ApiError::malformed("a wrong report (错报) needs a reason"));
    }
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > gridpatrol_docs::limits::MAX_NOTE_CHARS)
    {
        return Err(ApiError::malformed(format!(
            "the reason is over {} characters",
            gridpatrol_docs::limits::MAX_NOTE_CHARS
        )));
    }
    tokio::task::spawn_blocking(move || {
        let store = state.store.as_ref();
        let key = month.to_string();
        let row = store
            .samples(&key, caller.user.squad.as_deref())?
            .into_iter()
            .find(|r| r.case_id == case_id)
            .ok_or_else(|| {
                ApiError::not_found(format!("case {case_id} is not in your squad's sample of {key}"))
            })?;
        let marked = SampleRow {
            wrong: Some(req.wrong),
            reason: if req.wrong { reason } else { None },
            marked_by: Some(caller.user.id.clone()),
            marked_at_ms: Some(crate::now_ms()),
            ..row
        };
        store.mark_sample(&marked)?;
        tracing::info!(month = %key, case = %case_id, wrong = req.wrong, by = %caller.user.id, "sample marked");
        Ok::<_, ApiError>(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/quality/kpi`.
pub(crate) async fn kpi(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(p): Query<MonthParams>,
) -> Result<Json<KpiReport>, ApiError> {
    let month = month_of(&p.month)?;
    let squad = squad_scope(&caller, p.squad)?;
    let r = tokio::task::spawn_blocking(move || {
        kpi_report(
            state.store.as_ref(),
            month,
            squad.as_deref(),
            &state.settings.quality,
        )
    })
    .await??;
    Ok(Json(r))
}

/// `GET /v1/quality/eval`.
pub(crate) async fn eval(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(p): Query<MonthParams>,
) -> Result<Json<Evaluation>, ApiError> {
    if caller.user.role != Role::CentreOperator {
        return Err(forbidden("only the supervision centre sees the evaluation"));
    }
    let month = month_of(&p.month)?;
    let r = tokio::task::spawn_blocking(move || {
        evaluation(state.store.as_ref(), month, &state.settings.quality)
    })
    .await??;
    Ok(Json(r))
}
