//! Open311 GeoReport v2, read-only and public (no token): the checklist's
//! fine classes as services (`GET /open311/v2/services.json`, grouped by
//! module) and the cases as service requests (`GET /open311/v2/requests.json`
//! with the spec's filters, `GET /open311/v2/requests/{id}.json`). JSON only.
//!
//! Only public facts leave: the category, the address, the coordinates
//! rounded to `[open311] coordinate_decimals`, the state as `open`/`closed`
//! with its name, the responsible unit and its deadline, the times. Never
//! the reporter or anyone else's account id, never photos; what people
//! wrote (the report's description, step notes) only with
//! `[open311] public_descriptions`. Errors are the spec's array of
//! `{code, description}` with the same HTTP status.

use std::sync::{Arc, OnceLock};

use automerge::ActorId;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat};
use gridpatrol_docs::{Case, CaseDoc};
use gridpatrol_domain::lifecycle::CaseState;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_domain::time::{at_beijing, day_start_ms, DAY_MS};
use gridpatrol_protocol::{limits, DocKind};
use gridpatrol_server_storage::{CaseQuery, CaseRow, StoreError, StoredDoc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Open311Section;
use crate::error::ApiError;
use crate::AppState;

/// `GET`: every fine class as a service.
pub const SERVICES: &str = "/open311/v2/services.json";
/// `GET`: service requests, filtered.
pub const REQUESTS: &str = "/open311/v2/requests.json";
/// `GET /open311/v2/requests/{id}.json`: one service request (the route
/// takes the whole last segment; only `.json` is served).
pub const REQUEST_ROUTE: &str = "/open311/v2/requests/{file}";
/// Everything else under `/open311/v2/`: answered in the spec's error format.
pub const OTHER_ROUTE: &str = "/open311/v2/{*rest}";

/// Longest query string taken (bytes), checked before it is parsed.
const MAX_QUERY_BYTES: usize = 4096;
/// Most requests one answer holds (the spec's default limit).
pub const MAX_REQUESTS: usize = 1000;
/// Longest span of `start_date`..`end_date`, and the default window back
/// from now (the spec's 90 days).
pub const MAX_WINDOW_MS: i64 = 90 * 86_400_000;
/// Most ids in one `service_request_id` list.
pub const MAX_IDS: usize = 100;
/// Most codes in one `service_code` list.
pub const MAX_CODES: usize = 10;
/// Longest date parameter, `jurisdiction_id` or `status` value (bytes).
const MAX_PARAM_LEN: usize = 64;
/// Documents loaded at once while a list is built (bounds memory).
const LOAD_CHUNK: usize = 100;
/// Public requests that read documents at once, over all servers of the
/// process: a burst of anonymous list requests (each up to 1,000 documents
/// parsed) queues here and takes at most one core from the devices' sync.
static WORK: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The states published as `closed`; every other state is `open`.
pub const CLOSED_STATES: [CaseState; 3] =
    [CaseState::NotFiled, CaseState::Closed, CaseState::Evaluated];

/// The spec's status of a case in `state`: `closed` once it is closed
/// (结案), evaluated or refused filing; `open` before.
pub fn status_of(state: CaseState) -> &'static str {
    if CLOSED_STATES.contains(&state) {
        "closed"
    } else {
        "open"
    }
}

/// One service (a fine class), as GeoReport v2 `GET services` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The fine class's 8-digit code.
    pub service_code: String,
    /// Its name.
    pub service_name: String,
    /// When a report of it is filed (the checklist's 立案条件).
    pub description: String,
    /// Always false: no service takes extra attributes.
    pub metadata: bool,
    /// Always `realtime`: a request's id is known at once.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its major class, subclass and kind (部件/事件/事项), comma separated.
    pub keywords: String,
    /// The module's name.
    pub group: String,
}

/// One service request (a case), as GeoReport v2 `GET requests` lists it.
/// Fields the server cannot fill (`zipcode`, `media_url`) are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRequest {
    /// The case id.
    pub service_request_id: String,
    /// `open` or `closed` (see [`status_of`]).
    pub status: String,
    /// The state's name (e.g. 已派遣), with the latest step's note when
    /// notes are public.
    pub status_notes: String,
    /// The category's name.
    pub service_name: String,
    /// The category's code.
    pub service_code: String,
    /// The report's description when descriptions are public, else the
    /// category's name.
    pub description: String,
    /// The unit of the latest dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_responsible: Option<String>,
    /// When the case may be closed (the checklist's 结案条件).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_notice: Option<String>,
    /// When reported, ISO 8601 at +08:00.
    pub requested_datetime: String,
    /// When last changed (for closed requests: when closed), ISO 8601 at +08:00.
    pub updated_datetime: String,
    /// The latest dispatch's deadline, ISO 8601 at +08:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<String>,
    /// The report's address, then the street, district and city.
    pub address: String,
    /// The 15-digit technical grid code (Beijing's grid addressing).
    pub address_id: String,
    /// WGS-84 latitude, rounded.
    pub lat: f64,
    /// WGS-84 longitude, rounded.
    pub long: f64,
}

/// One entry of the spec's error body (an array of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorItem {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong.
    pub description: String,
}

/// An Open311 failure: the spec's error body with its HTTP status.
#[derive(Debug)]
pub struct Open311Error {
    /// HTTP status (also the body's `code`).
    pub status: StatusCode,
    /// Human explanation.
    pub description: String,
}

impl Open311Error {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Open311Error {
            status,
            description: description.into(),
        }
    }

    fn bad(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "open311: internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl From<StoreError> for Open311Error {
    fn from(e: StoreError) -> Self {
        Open311Error::internal(e)
    }
}

impl From<tokio::task::JoinError> for Open311Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Open311Error::internal(e)
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = [ErrorItem {
            code: self.status.as_u16(),
            description: self.description,
        }];
        json_response(self.status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// A JSON body with the spec's UTF-8 content type.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn to_json<T: Serialize>(v: &T) -> Result<Response, Open311Error> {
    let body = serde_json::to_vec(v).map_err(Open311Error::internal)?;
    Ok(json_response(StatusCode::OK, body))
}

/// With `[open311] enabled = false` every Open311 path answers exactly as
/// an unknown path does.
fn disabled() -> Response {
    ApiError::not_found("no such endpoint").into_response()
}

/// The query string parsed into `T`, refused past [`MAX_QUERY_BYTES`].
/// Parameters the spec or its extensions define but this server does not
/// use (`api_key`, `page`…) are ignored.
fn params<T: DeserializeOwned>(uri: &Uri) -> Result<T, Open311Error> {
    if uri.query().map_or(0, str::len) > MAX_QUERY_BYTES {
        return Err(Open311Error::bad(format!(
            "query string over {MAX_QUERY_BYTES} bytes"
        )));
    }
    Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| Open311Error::bad(format!("bad query string: {}", e.body_text())))
}

/// The parameter every method takes.
#[derive(Debug, Default, Deserialize)]
struct JurisdictionParam {
    jurisdiction_id: Option<String>,
}

/// Accepts a missing `jurisdiction_id` (the spec requires it only of
/// endpoints serving several) or the configured one.
fn check_jurisdiction(o: &Open311Section, j: Option<&str>) -> Result<(), Open311Error> {
    match j {
        None => Ok(()),
        Some(j) if j.len() > MAX_PARAM_LEN => Err(Open311Error::bad("jurisdiction_id too long")),
        Some(j) if j == o.jurisdiction_id => Ok(()),
        Some(j) => Err(Open311Error::not_found(format!(
            "jurisdiction_id `{j}` not found; this endpoint serves `{}`",
            o.jurisdiction_id
        ))),
    }
}

/// Every fine class of `taxonomy` as a service, in code order.
pub fn services_of(taxonomy: &Taxonomy) -> Vec<Service> {
    taxonomy
        .fine_classes()
        .filter_map(|n| {
            let fine = n.fine.as_ref()?;
            let path = taxonomy.path(&n.code);
            let group = path.first()?.name.clone();
            let mut keywords: Vec<&str> = path
                .iter()
                .skip(1)
                .take(path.len().saturating_sub(2))
                .map(|p| p.name.as_str())
                .collect();
            keywords.push(fine.kind.label_zh());
            Some(Service {
                service_code: n.code.clone(),
                service_name: n.name.clone(),
                description: if fine.filing_condition.is_empty() {
                    taxonomy.path_label(&n.code)
                } else {
                    fine.filing_condition.clone()
                },
                metadata: false,
                kind: "realtime".into(),
                keywords: keywords.join(","),
                group,
            })
        })
        .collect()
}

/// `GET /open311/v2/services.json`.
pub(crate) async fn services(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    let o = &state.settings.open311;
    if !o.enabled {
        return disabled();
    }
    let p: JurisdictionParam = match params(&uri) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_jurisdiction(o, p.jurisdiction_id.as_deref()) {
        return e.into_response();
    }
    // The checklist is fixed for the life of the process: serialised once.
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    let body = BODY
        .get_or_init(|| serde_json::to_vec(&services_of(Taxonomy::builtin())).unwrap_or_default());
    let mut resp = json_response(StatusCode::OK, body.clone());
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// The filters of `GET requests.json`.
#[derive(Debug, Default, Deserialize)]
struct RequestsParams {
    jurisdiction_id: Option<String>,
    service_request_id: Option<String>,
    service_code: Option<String>,
    status: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// What a validated `GET requests.json` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// These ids (the spec: overrides every other filter).
    Ids(Vec<String>),
    /// Reported in `[from_ms, to_ms)`, of these codes (all if `None`), in
    /// these states (all if `None`).
    Filter {
        from_ms: i64,
        to_ms: Option<i64>,
        codes: Option<Vec<String>>,
        states: Option<Vec<CaseState>>,
    },
}

/// A comma-delimited list, blanks dropped, at most `max` entries.
fn list_param<'a>(name: &str, v: &'a str, max: usize) -> Result<Vec<&'a str>, Open311Error> {
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(Open311Error::bad(format!("{name} is empty")));
    }
    if items.len() > max {
        return Err(Open311Error::bad(format!(
            "{name} lists {} values; at most {max}",
            items.len()
        )));
    }
    Ok(items)
}

/// `items` without repeats, in first-seen order.
fn unique(items: Vec<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for i in items {
        if !out.iter().any(|o| o == i) {
            out.push(i.to_string());
        }
    }
    out
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= limits::MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// An ISO 8601 date parameter (the W3C subset the spec names): a date
/// (`2026-12-01`, taken in Beijing time), or a date and time with seconds
/// or minutes and a zone (`2026-12-01T08:00:00+08:00`, `…Z`, fractions
/// allowed). Returns its start and how long it lasts at its precision
/// (a day, a minute, a second, a millisecond), both in ms. A space stands
/// for `+`: a client that did not percent-encode `+08:00` in the query
/// string sends ` 08:00`, and no valid date has a space.
pub fn parse_date(name: &str, raw: &str) -> Result<(i64, i64), Open311Error> {
    if raw.len() > MAX_PARAM_LEN {
        return Err(Open311Error::bad(format!("{name} too long")));
    }
    let unspaced = raw.replace(' ', "+");
    let v = unspaced.as_str();
    let bad = || {
        Open311Error::bad(format!(
            "{name} `{v}` is not an ISO 8601 date or date-time with a time zone (e.g. 2026-12-01T08:00:00+08:00)"
        ))
    };
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok((day_start_ms(d), DAY_MS));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        let precision = if v.contains('.') { 1 } else { 1000 };
        return Ok((t.timestamp_millis(), precision));
    }
    for (fmt, precision) in [("%Y-%m-%dT%H:%M%:z", 60_000), ("%Y-%m-%dT%H:%MZ", 60_000)] {
        let parsed = if fmt.ends_with('Z') {
            chrono::NaiveDateTime::parse_from_str(v, fmt).map(|t| t.and_utc().timestamp_millis())
        } else {
            DateTime::parse_from_str(v, fmt).map(|t| t.timestamp_millis())
        };
        if let Ok(ms) = parsed {
            return Ok((ms, precision));
        }
    }
    Err(bad())
}

/// The reporting window: `[start, end]` as given (at most 90 days), 90 days
/// from a lone start or up to a lone end, else the last 90 days.
fn window(
    start: Option<(i64, i64)>,
    end: Option<(i64, i64)>,
    now_ms: i64,
) -> Result<(i64, Option<i64>), Open311Error> {
    match (start, end) {
        (None, None) => Ok((now_ms - MAX_WINDOW_MS, None)),
        (Some((s, _)), None) => Ok((s, Some(s.saturating_add(MAX_WINDOW_MS)))),
        (None, Some((e, len))) => {
            let to = e.saturating_add(len);
            Ok((to - MAX_WINDOW_MS, Some(to)))
        }
        (Some((s, _)), Some((e, len))) => {
            let to = e.saturating_add(len);
            if to <= s {
                return Err(Open311Error::bad("end_date is before start_date"));
            }
            if to - s > MAX_WINDOW_MS {
                return Err(Open311Error::bad(
                    "start_date to end_date may not span more than 90 days",
                ));
            }
            Ok((s, Some(to)))
        }
    }
}

impl RequestsParams {
    /// Checks every parameter (lengths and counts first) into a selection.
    fn select(&self, o: &Open311Section, now_ms: i64) -> Result<Selection, Open311Error> {
        check_jurisdiction(o, self.jurisdiction_id.as_deref())?;
        if let Some(ids) = &self.service_request_id {
            let ids = list_param("service_request_id", ids, MAX_IDS)?;
            if let Some(bad) = ids.iter().find(|id| !valid_id(id)) {
                return Err(Open311Error::bad(format!(
                    "service_request_id `{bad}` is not a request id"
                )));
            }
            return Ok(Selection::Ids(unique(ids)));
        }
        let codes = match &self.service_code {
            None => None,
            Some(v) => {
                let codes = list_param("service_code", v, MAX_CODES)?;
                let t = Taxonomy::builtin();
                if let Some(c) = codes
                    .iter()
                    .find(|c| t.get(c).is_none_or(|n| n.fine.is_none()))
                {
                    return Err(Open311Error::bad(format!(
                        "service_code `{c}` is not a service (see services.json)"
                    )));
                }
                Some(unique(codes))
            }
        };
        let states = match &self.status {
            None => None,
            Some(v) => {
                if v.len() > MAX_PARAM_LEN {
                    return Err(Open311Error::bad("status too long"));
                }
                let (mut open, mut closed) = (false, false);
                for s in list_param("status", v, 2)? {
                    match s {
                        "open" => open = true,
                        "closed" => closed = true,
                        other => {
                            return Err(Open311Error::bad(format!(
                                "status `{other}` is neither open nor closed"
                            )))
                        }
                    }
                }
                match (open, closed) {
                    (true, true) => None,
                    _ => Some(
                        CaseState::ALL
                            .into_iter()
                            .filter(|s| (status_of(*s) == "closed") == closed)
                            .collect(),
                    ),
                }
            }
        };
        let start = self
            .start_date
            .as_deref()
            .map(|v| parse_date("start_date", v))
            .transpose()?;
        let end = self
            .end_date
            .as_deref()
            .map(|v| parse_date("end_date", v))
            .transpose()?;
        let (from_ms, to_ms) = window(start, end, now_ms)?;
        Ok(Selection::Filter {
            from_ms,
            to_ms,
            codes,
            states,
        })
    }
}

/// `GET /open311/v2/requests.json`.
pub(crate) async fn requests(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    if !state.settings.open311.enabled {
        return disabled();
    }
    match list_requests(state, &uri).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn list_requests(state: Arc<AppState>, uri: &Uri) -> Result<Response, Open311Error> {
    let p: RequestsParams = params(uri)?;
    let sel = p.select(&state.settings.open311, crate::now_ms())?;
    let permit = WORK.acquire().await.map_err(Open311Error::internal)?;
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let ids = match sel {
            Selection::Ids(ids) => ids,
            Selection::Filter {
                from_ms,
                to_ms,
                codes,
                states,
            } => matching_ids(&state, from_ms, to_ms, codes, states)?,
        };
        load_public(&state, &ids)
    })
    .await??;
    to_json(&out)
}

/// Ids of the newest [`MAX_REQUESTS`] cases matching, newest first: one
/// index query per (code, state) asked for, each at most [`MAX_REQUESTS`]
/// rows, merged.
fn matching_ids(
    state: &AppState,
    from_ms: i64,
    to_ms: Option<i64>,
    codes: Option<Vec<String>>,
    states: Option<Vec<CaseState>>,
) -> Result<Vec<String>, Open311Error> {
    let codes: Vec<Option<String>> = match codes {
        None => vec![None],
        Some(c) => c.into_iter().map(Some).collect(),
    };
    let states: Vec<Option<String>> = match states {
        None => vec![None],
        Some(s) => s
            .into_iter()
            .map(|s| Some(s.as_str().to_string()))
            .collect(),
    };
    let mut rows: Vec<CaseRow> = Vec::new();
    for code in &codes {
        for st in &states {
            rows.extend(state.store.list_cases(&CaseQuery {
                state: st.clone(),
                category: code.clone(),
                from_ms: Some(from_ms),
                to_ms,
                limit: MAX_REQUESTS as u32,
                ..CaseQuery::default()
            })?);
        }
    }
    rows.sort_by(|a, b| (b.summary.reported_at_ms, &b.id).cmp(&(a.summary.reported_at_ms, &a.id)));
    rows.dedup_by(|a, b| a.id == b.id);
    rows.truncate(MAX_REQUESTS);
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The public form of the cases among `ids`, in that order; ids that are
/// no case, or whose document cannot be read, are left out.
fn load_public(state: &AppState, ids: &[String]) -> Result<Vec<ServiceRequest>, Open311Error> {
    let o = &state.settings.open311;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(LOAD_CHUNK) {
        for d in state.store.load_docs(chunk)?.into_iter().flatten() {
            if let Some(c) = read_case(&d) {
                out.push(public_request(&c, o));
            }
        }
    }
    Ok(out)
}

fn read_case(d: &StoredDoc) -> Option<Case> {
    if d.kind != DocKind::Case {
        return None;
    }
    match CaseDoc::load(&d.bytes, ActorId::random()).and_then(|doc| doc.read()) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(id = %d.id, error = %e, "open311: stored case cannot be read");
            None
        }
    }
}

/// Unix ms as ISO 8601 at +08:00, to the second.
pub fn iso_beijing(ms: i64) -> String {
    at_beijing(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// `x` rounded to `decimals` (at most 6) decimal places.
pub fn round_coordinate(x: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals.min(6) as i32);
    (x * f).round() / f
}

/// What the public may see of `case`.
pub fn public_request(case: &Case, o: &Open311Section) -> ServiceRequest {
    let taxonomy = Taxonomy::builtin();
    let node = taxonomy.get(&case.report.category);
    let service_name = node.map(|n| n.name.clone()).unwrap_or_default();
    let summary = crate::centre::case_summary(case);
    let last = case.steps.last();
    let mut status_notes = case.state.label_zh().to_string();
    if o.public_descriptions {
        if let Some(note) = last.map(|s| s.note.trim()).filter(|n| !n.is_empty()) {
            status_notes = format!("{status_notes}：{note}");
        }
    }
    let description = if o.public_descriptions && !case.report.description.trim().is_empty() {
        case.report.description.clone()
    } else {
        service_name.clone()
    };
    let updated = last
        .map(|s| s.at_ms)
        .into_iter()
        .chain(case.revised_at_ms)
        .chain(case.review.as_ref().map(|r| r.at_ms))
        .fold(case.report.created_at_ms, i64::max);
    let district = gridpatrol_district::DemoDistrict::get();
    let street = district
        .district
        .street(&case.report.street)
        .map(|s| s.name.as_str());
    let address = [
        Some(case.report.address.trim()),
        street,
        Some("朝阳区"),
        Some("北京市"),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    ServiceRequest {
        service_request_id: case.id.clone(),
        status: status_of(case.state).into(),
        status_notes,
        service_code: case.report.category.clone(),
        service_name,
        description,
        agency_responsible: summary.unit,
        service_notice: node
            .and_then(|n| n.fine.as_ref())
            .map(|f| f.closing_condition.clone())
            .filter(|c| !c.is_empty()),
        requested_datetime: iso_beijing(case.report.created_at_ms),
        updated_datetime: iso_beijing(updated),
        expected_datetime: summary.due_at_ms.map(iso_beijing),
        address,
        address_id: case.report.technical_grid.clone(),
        lat: round_coordinate(case.report.lat, o.coordinate_decimals),
        long: round_coordinate(case.report.lon, o.coordinate_decimals),
    }
}

/// `GET /open311/v2/requests/{id}.json`: an array of the one request.
pub(crate) async fn request(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    uri: Uri,
) -> Response {
    if !state.settings.open311.enabled {
        return disabled();
    }
    match one_request(state, &file, &uri).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn one_request(
    state: Arc<AppState>,
    file: &str,
    uri: &Uri,
) -> Result<Response, Open311Error> {
    let p: JurisdictionParam = params(uri)?;
    check_jurisdiction(&state.settings.open311, p.jurisdiction_id.as_deref())?;
    let Some(id) = file.strip_suffix(".json") else {
        return Err(unsupported_format(file));
    };
    if !valid_id(id) {
        return Err(Open311Error::not_found(format!(
            "no service request `{id}`"
        )));
    }
    let id = id.to_string();
    let permit = WORK.acquire().await.map_err(Open311Error::internal)?;
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let found = load_public(&state, std::slice::from_ref(&id))?;
        if found.is_empty() {
            return Err(Open311Error::not_found(format!(
                "no service request `{id}`"
            )));
        }
        Ok(found)
    })
    .await??;
    to_json(&out)
}

/// 400 for a known resource in another format (XML), 404 otherwise.
fn unsupported_format(name: &str) -> Open311Error {
    if name.ends_with(".xml") {
        Open311Error::bad("only the JSON format is served: use .json")
    } else {
        Open311Error::not_found(format!("no Open311 resource `{name}`"))
    }
}

/// Any other path under `/open311/v2/` (XML, service definitions, tokens,
/// discovery): the spec's error body.
pub(crate) async fn other(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
) -> Response {
    if !state.settings.open311.enabled {
        return disabled();
    }
    let rest: String = rest.chars().take(MAX_PARAM_LEN).collect();
    let e = if matches!(rest.as_str(), "services.xml" | "requests.xml")
        || rest.starts_with("requests/")
    {
        unsupported_format(&rest)
    } else {
        Open311Error::not_found(format!(
            "no Open311 resource `{rest}`; served: services.json, requests.json, requests/{{id}}.json"
        ))
    };
    e.into_response()
}

/// Any method but GET/HEAD on an Open311 path: 405 in the spec's format
/// (the endpoints are read-only; POST requests are not taken).
pub(crate) async fn read_only(State(state): State<Arc<AppState>>) -> Response {
    if !state.settings.open311.enabled {
        return disabled();
    }
    Open311Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "read-only: only GET is served (no POST of service requests)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_at_their_precision() {
        let (t, len) = parse_date("d", "2026-12-01").unwrap();
        assert_eq!(iso_beijing(t), "2026-12-01T00:00:00+08:00");
        assert_eq!(len, 86_400_000);
        let (t2, len) = parse_date("d", "2026-11-30T16:00:00Z").unwrap();
        assert_eq!((t2, len), (t, 1000));
        let (t3, len) = parse_date("d", "2026-12-01T00:00+08:00").unwrap();
        assert_eq!((t3, len), (t, 60_000));
        let (t4, len) = parse_date("d", "2026-11-30T16:00Z").unwrap();
        assert_eq!((t4, len), (t, 60_000));
        let (t5, len) = parse_date("d", "2026-12-01T00:00:00.250+08:00").unwrap();
        assert_eq!((t5, len), (t + 250, 1));
        // `+` sent unencoded arrives as a space.
        let (t6, len) = parse_date("d", "2026-12-01T00:00:00 08:00").unwrap();
        assert_eq!((t6, len), (t, 1000));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-12-01T00:00:00",
            "1700000000",
        ] {
            let e = parse_date("start_date", bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn windows_are_at_most_ninety_days() {
        let day = 86_400_000;
        let now = 1_800_000_000_000;
        assert_eq!(window(None, None, now).unwrap(), (now - 90 * day, None));
        assert_eq!(
            window(Some((now, 1000)), None, now).unwrap(),
            (now, Some(now + 90 * day))
        );
        // A whole last day counts.
        assert_eq!(
            window(Some((now, day)), Some((now + 89 * day, day)), now).unwrap(),
            (now, Some(now + 90 * day))
        );
        assert!(window(Some((now, day)), Some((now + 90 * day, day)), now).is_err());
        assert!(window(Some((now, 1000)), Some((now - 1000, 1000)), now).is_err());
    }

    #[test]
    fn coordinates_round_and_states_map() {
        assert_eq!(round_coordinate(39.951_234, 3), 39.951);
        assert_eq!(round_coordinate(116.484_56, 2), 116.48);
        assert_eq!(round_coordinate(116.484_567_891, 9), 116.484_568);
        let closed: Vec<_> = CaseState::ALL
            .into_iter()
            .filter(|s| status_of(*s) == "closed")
            .collect();
        assert_eq!(closed, CLOSED_STATES);
    }
}
