//! HTTP: `POST /v2` (GraphQL with Monday's transport rules) and the `/__mock/` admin API.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::complexity::{self, Charge};
use crate::config::BudgetErrorMode;
use crate::mock::{CannedResponse, Faults, JournalEntry, Mock};
use crate::schema::{ComplexityInfo, MondaySchema, RequestInfo};
use crate::state::{ApiError, ItemView};

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The mock.
    pub mock: Arc<Mock>,
    /// The GraphQL schema.
    pub schema: MondaySchema,
}

/// Builds the router.
pub fn router(mock: Arc<Mock>) -> Router {
    let state = AppState {
        mock,
        schema: crate::schema::build_schema(),
    };
    Router::new()
        .route("/v2", post(graphql))
        .route("/__mock/reset", post(reset))
        .route("/__mock/state", get(dump))
        .route("/__mock/requests", get(requests).delete(clear_requests))
        .route("/__mock/webhooks", get(list_webhooks))
        .route("/__mock/webhooks/deliveries", get(deliveries))
        .route("/__mock/webhooks/release", post(release))
        .route(
            "/__mock/faults",
            get(get_faults)
                .put(put_faults)
                .post(put_faults)
                .delete(clear_faults),
        )
        .route("/__mock/budget", get(get_budget).post(set_budget))
        .route("/__mock/items/{id}", get(get_item))
        .route("/__mock/act/create_item", post(act_create))
        .route("/__mock/act/change_column_values", post(act_change))
        .route("/__mock/act/rename", post(act_rename))
        .route("/__mock/act/delete", post(act_delete))
        .route("/__mock/act/archive", post(act_archive))
        .route("/__mock/act/restore", post(act_restore))
        .route("/__mock/act/move", post(act_move))
        .route("/__mock/schema.graphql", get(sdl))
        .route("/__mock/ping", delete(ping).get(ping))
        .with_state(state)
}

async fn ping() -> &'static str {
    "ok"
}

// ---------------------------------------------------------------------------------------------
// /v2

const DEFAULT_VERSION: &str = "2026-10";

fn parse_version(v: &str) -> Option<u32> {
    if v == "current" {
        return Some(202610);
    }
    let (y, m) = v.split_once('-')?;
    if y.len() != 4 || !matches!(m, "01" | "04" | "07" | "10") {
        return None;
    }
    let y: u32 = y.parse().ok()?;
    if !(2023..=2099).contains(&y) {
        return None;
    }
    Some(y * 100 + m.parse::<u32>().ok()?)
}

struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    version: String,
}

fn err_body(errors: Vec<Value>, request_id: &str) -> Value {
    json!({ "errors": errors, "extensions": { "request_id": request_id } })
}

struct InFlight<'a>(&'a Mock);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn graphql(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mock = &app.mock;
    let request_id = uuid::Uuid::new_v4().to_string();
    let version_header = headers
        .get("api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == mock.config.token);
    let parsed_body: Option<Value> = serde_json::from_slice(&body).ok();
    let mut entry = JournalEntry {
        seq: 0,
        at: crate::state::ts(chrono::Utc::now()),
        api_version: version_header.clone(),
        authorized,
        operation_name: parsed_body
            .as_ref()
            .and_then(|b| b["operationName"].as_str())
            .map(str::to_string),
        query: parsed_body
            .as_ref()
            .and_then(|b| b["query"].as_str())
            .map(str::to_string),
        variables: parsed_body
            .as_ref()
            .map(|b| b["variables"].clone())
            .unwrap_or(Value::Null),
        complexity: None,
        status: 0,
        response: Value::Null,
    };
    let answer = handle(
        &app,
        &headers,
        parsed_body,
        &body,
        &request_id,
        authorized,
        version_header,
        &mut entry,
    )
    .await;
    entry.status = answer.status.as_u16();
    entry.response = answer.body.clone();
    mock.record(entry);
    let mut resp = (answer.status, Json(answer.body)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&answer.version) {
        h.insert("api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-request-id", v);
    }
    if let Some(secs) = answer.retry_after {
        h.insert("retry-after", HeaderValue::from(secs));
    }
    let remaining = mock.budget_remaining();
    let window = mock.config.budget_window.as_secs().max(1);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"minuteRate\";q={};w={window}, \"concurrency\";q={}, \"complexityMinute\";q={};w={window}",
        mock.config.requests_per_window, mock.config.max_concurrency, mock.config.budget_points
    )) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"complexityMinute\";r={remaining}")) {
        h.insert("ratelimit", v);
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    app: &AppState,
    _headers: &HeaderMap,
    parsed_body: Option<Value>,
    raw: &Bytes,
    request_id: &str,
    authorized: bool,
    version_header: Option<String>,
    entry: &mut JournalEntry,
) -> Answer {
    let mock = &app.mock;
    let now_in_flight = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(mock);
    let faults = mock.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    let version_str = version_header
        .clone()
        .unwrap_or_else(|| DEFAULT_VERSION.to_string());
    let answer = |status: StatusCode, body: Value, retry_after: Option<u64>| Answer {
        status,
        body,
        retry_after,
        version: version_str.clone(),
    };
    let canned_answer = |canned: CannedResponse| {
        let status =
            StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        answer(status, canned.body, canned.retry_after)
    };
    let query_text = parsed_body
        .as_ref()
        .and_then(|b| b.get("query"))
        .and_then(Value::as_str);
    let canned = mock.take_canned(query_text);
    if let Some(c) = canned.as_ref().filter(|c| !c.after) {
        return canned_answer(c.clone());
    }
    let real = execute(
        app,
        parsed_body,
        raw,
        request_id,
        authorized,
        version_str.clone(),
        &faults,
        now_in_flight,
        entry,
    )
    .await;
    // An `after` canned answer: the request was executed for real, the client gets the fault.
    match canned {
        Some(c) => canned_answer(c),
        None => real,
    }
}

/// Everything after the canned-answer check: authentication, version, limits, body, complexity,
/// execution.
#[allow(clippy::too_many_arguments)]
async fn execute(
    app: &AppState,
    parsed_body: Option<Value>,
    raw: &Bytes,
    request_id: &str,
    authorized: bool,
    version_str: String,
    faults: &Faults,
    now_in_flight: u64,
    entry: &mut JournalEntry,
) -> Answer {
    let mock = &app.mock;
    let answer = |status: StatusCode, body: Value, retry_after: Option<u64>| Answer {
        status,
        body,
        retry_after,
        version: version_str.clone(),
    };
    if !authorized {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "errors": [{ "message": "Not authenticated", "extensions": { "code": "NOT_AUTHENTICATED" } }] }),
            None,
        );
    }
    let Some(version) = parse_version(&version_str) else {
        return answer(
            StatusCode::BAD_REQUEST,
            err_body(
                vec![json!({
                    "message": format!("Invalid API version '{version_str}'. Expected 'YYYY-MM' with month 01, 04, 07 or 10, or 'current'."),
                    "extensions": { "code": "InvalidVersionException", "status_code": 400 }
                })],
                request_id,
            ),
            None,
        );
    };
    // Concurrency limit (requests in flight when this one arrived, itself included).
    if now_in_flight > mock.config.max_concurrency {
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            err_body(
                vec![json!({
                    "message": "Concurrency limit exceeded",
                    "extensions": { "code": "maxConcurrencyExceeded", "retry_in_seconds": 1, "status_code": 429 }
                })],
                request_id,
            ),
            Some(1),
        );
    }
    // Per-minute request limit.
    if let Charge::Exhausted { retry_in, .. } = mock.charge_request() {
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            err_body(
                vec![json!({
                    "message": "Rate limit exceeded",
                    "extensions": { "code": "RATE_LIMIT_EXCEEDED", "retry_in_seconds": retry_in, "status_code": 429 }
                })],
                request_id,
            ),
            Some(retry_in),
        );
    }
    // Body.
    let Some(body) = parsed_body else {
        let text = String::from_utf8_lossy(raw);
        return answer(
            StatusCode::BAD_REQUEST,
            err_body(
                vec![json!({
                    "message": format!("Unexpected token in JSON body: {}", text.chars().take(80).collect::<String>()),
                    "extensions": { "code": "BAD_REQUEST", "status_code": 400 }
                })],
                request_id,
            ),
            None,
        );
    };
    let Some(query) = body
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return answer(
            StatusCode::BAD_REQUEST,
            err_body(
                vec![
                    json!({ "message": "No query string was present", "extensions": { "code": "BAD_REQUEST", "status_code": 400 } }),
                ],
                request_id,
            ),
            None,
        );
    };
    let variables = match body.get("variables") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
    };
    if !variables.is_object() {
        return answer(
            StatusCode::BAD_REQUEST,
            err_body(
                vec![
                    json!({ "message": "Variables must be a JSON object", "extensions": { "code": "BAD_REQUEST", "status_code": 400 } }),
                ],
                request_id,
            ),
            None,
        );
    }
    let operation_name = body
        .get("operationName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let doc = match async_graphql_parser::parse_query(&query) {
        Ok(d) => d,
        Err(e) => {
            let locations: Vec<Value> = e
                .positions()
                .map(|p| json!({ "line": p.line, "column": p.column }))
                .collect();
            let first = e
                .to_string()
                .lines()
                .next()
                .unwrap_or("syntax error")
                .trim()
                .to_string();
            return answer(
                StatusCode::BAD_REQUEST,
                err_body(
                    vec![json!({
                        "message": format!("Parse error: {first}"),
                        "locations": locations,
                        "extensions": { "code": "PARSE_ERROR", "status_code": 400 }
                    })],
                    request_id,
                ),
                None,
            );
        }
    };
    // Complexity.
    // The estimate's work is bounded (fragment bombs stop at the cap or the selection limit).
    let cap = mock.config.per_query_cap;
    let estimate = complexity::estimate(&doc, operation_name.as_deref(), &variables, cap);
    let cost = estimate.cost();
    entry.complexity = Some(cost);
    let over_cap = match estimate {
        complexity::Estimate::Cost(_) => None,
        complexity::Estimate::OverCap { at_least } => Some(format!(
            "Query has complexity of at least {at_least}, which exceeds max complexity of {cap}"
        )),
        complexity::Estimate::TooManySelections { .. } => Some(format!(
            "Query expands to more than {} selections, which exceeds max complexity of {cap}",
            complexity::MAX_VISITED_SELECTIONS
        )),
    };
    if let Some(message) = over_cap {
        return answer(
            StatusCode::OK,
            err_body(
                vec![json!({
                    "message": message,
                    "extensions": { "code": "maxComplexityExceeded", "complexity": cost, "maxComplexity": cap }
                })],
                request_id,
            ),
            None,
        );
    }
    // Mutations per window (Monday: 2,000 per minute, on top of the complexity budget). The
    // whole request is refused before anything runs, so a refused batch created nothing.
    let mutations = complexity::mutation_fields(&doc, operation_name.as_deref());
    if !mutations.is_empty() {
        if let Charge::Exhausted { retry_in, .. } = mock.charge_mutations(mutations.len() as u64) {
            let name = complexity::call_name(&mutations[0]);
            return answer(
                StatusCode::TOO_MANY_REQUESTS,
                err_body(
                    vec![json!({
                        "message": format!("Call limit exceeded for {name}"),
                        "extensions": { "code": "RATE_LIMIT_EXCEEDED", "retry_in_seconds": retry_in, "status_code": 429 }
                    })],
                    request_id,
                ),
                Some(retry_in),
            );
        }
    }
    let info = match mock.charge_budget(cost) {
        Charge::Ok {
            before,
            after,
            reset_in,
        } => ComplexityInfo {
            before,
            query: cost,
            after,
            reset_in_x_seconds: reset_in,
        },
        Charge::Exhausted { left, retry_in } => {
            let mode = faults
                .budget_error_mode
                .unwrap_or(mock.config.budget_error_mode);
            let status = match mode {
                BudgetErrorMode::Status429 => StatusCode::TOO_MANY_REQUESTS,
                BudgetErrorMode::Status200 => StatusCode::OK,
                BudgetErrorMode::Alternate => {
                    if mock
                        .alternate
                        .fetch_add(1, Ordering::SeqCst)
                        .is_multiple_of(2)
                    {
                        StatusCode::TOO_MANY_REQUESTS
                    } else {
                        StatusCode::OK
                    }
                }
            };
            let mut ext =
                json!({ "code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": retry_in });
            if (202501..202507).contains(&version) {
                ext["complexity"] = json!(cost);
                ext["complexity_budget_left"] = json!(left);
                ext["complexity_budget_limit"] = json!(mock.config.budget_points);
                ext["status_code"] = json!(429);
            }
            return answer(
                status,
                err_body(
                    vec![json!({ "message": "Complexity budget exhausted", "extensions": ext })],
                    request_id,
                ),
                Some(retry_in),
            );
        }
    };
    // Execute.
    let vars = async_graphql::Variables::from_json(variables);
    let mut req = async_graphql::Request::new(query).variables(vars);
    if let Some(op) = operation_name {
        req = req.operation_name(op);
    }
    let req = req.data(Arc::clone(mock)).data(RequestInfo {
        api_version: version,
        complexity: info,
    });
    let resp = app.schema.execute(req).await;
    let data = resp.data.clone().into_json().unwrap_or(Value::Null);
    let errors: Vec<Value> = resp.errors.iter().map(monday_error).collect();
    let mut out = Map::new();
    let validation_only =
        data.is_null() && !resp.errors.is_empty() && resp.errors.iter().all(|e| e.path.is_empty());
    if !validation_only {
        out.insert("data".into(), data);
    }
    if !errors.is_empty() {
        out.insert("errors".into(), Value::Array(errors));
    }
    out.insert("extensions".into(), json!({ "request_id": request_id }));
    answer(StatusCode::OK, Value::Object(out), None)
}

/// Rewrites an async-graphql error into Monday's (graphql-ruby-style) wording and codes.
fn monday_error(e: &async_graphql::ServerError) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_else(|_| json!({ "message": e.message }));
    if e.extensions.is_none() {
        let msg = e.message.clone();
        let (message, ext) = translate_validation(&msg);
        v["message"] = json!(message);
        v["extensions"] = ext;
    }
    v
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let a = s.find(start)? + start.len();
    let b = s[a..].find(end)? + a;
    Some(&s[a..b])
}

fn translate_validation(msg: &str) -> (String, Value) {
    if msg.starts_with("Unknown field") {
        if let (Some(field), Some(ty)) = (
            between(msg, "Unknown field \"", "\""),
            between(msg, "on type \"", "\""),
        ) {
            return (
                format!("Field '{field}' doesn't exist on type '{ty}'"),
                json!({ "code": "undefinedField", "typeName": ty, "fieldName": field }),
            );
        }
    }
    if msg.starts_with("Unknown argument") {
        if let Some(arg) = between(msg, "Unknown argument \"", "\"") {
            return (
                format!("Field doesn't accept argument '{arg}'"),
                json!({ "code": "argumentNotAccepted", "argumentName": arg }),
            );
        }
    }
    if msg.contains("Invalid value for argument") {
        let arg = between(msg, "argument \"", "\"")
            .unwrap_or_default()
            .to_string();
        return (
            msg.to_string(),
            json!({ "code": "argumentLiteralsIncompatible", "argumentName": arg }),
        );
    }
    if msg.starts_with("Variable") || msg.contains("variable") {
        return (msg.to_string(), json!({ "code": "variableMismatch" }));
    }
    (
        msg.to_string(),
        json!({ "code": "GRAPHQL_VALIDATION_FAILED" }),
    )
}

// ---------------------------------------------------------------------------------------------
// Admin

fn admin_error(status: StatusCode, e: &ApiError) -> Response {
    (
        status,
        Json(json!({ "error": e.to_string(), "code": e.code(), "error_data": e.error_data() })),
    )
        .into_response()
}

fn api_status(e: &ApiError) -> StatusCode {
    match e {
        ApiError::InvalidBoardId(_)
        | ApiError::InvalidItemId(_)
        | ApiError::InvalidWebhookId(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

async fn reset(State(app): State<AppState>) -> Json<Value> {
    app.mock.reset();
    Json(json!({ "ok": true }))
}

async fn dump(State(app): State<AppState>) -> Json<Value> {
    let st = app.mock.lock_state();
    let items: Vec<&crate::model::ItemRec> = st.items.values().collect();
    Json(json!({ "boards": st.boards, "items": items, "users": st.users, "webhooks": st.webhooks }))
}

async fn requests(State(app): State<AppState>) -> Json<Value> {
    Json(json!(app.mock.journal()))
}

async fn clear_requests(State(app): State<AppState>) -> Json<Value> {
    app.mock.clear_journal();
    Json(json!({ "ok": true }))
}

async fn list_webhooks(State(app): State<AppState>) -> Json<Value> {
    Json(json!(app.mock.lock_state().webhooks))
}

async fn deliveries(State(app): State<AppState>) -> Json<Value> {
    Json(json!(app.mock.deliveries()))
}

async fn release(State(app): State<AppState>) -> Json<Value> {
    let n = app.mock.release_held();
    Json(json!({ "released": n }))
}

async fn get_faults(State(app): State<AppState>) -> Json<Value> {
    Json(json!(app.mock.faults()))
}

async fn put_faults(State(app): State<AppState>, Json(f): Json<Faults>) -> Json<Value> {
    app.mock.set_faults(f.clone());
    Json(json!(f))
}

async fn clear_faults(State(app): State<AppState>) -> Json<Value> {
    app.mock.set_faults(Faults::default());
    Json(json!(Faults::default()))
}

fn budget_json(mock: &Mock) -> Value {
    json!({
        "remaining": mock.budget_remaining(),
        "limit": mock.config.budget_points,
        "window_ms": mock.config.budget_window.as_millis() as u64,
        "per_query_cap": mock.config.per_query_cap,
    })
}

async fn get_budget(State(app): State<AppState>) -> Json<Value> {
    Json(budget_json(&app.mock))
}

#[derive(Deserialize)]
struct SetBudget {
    remaining: u64,
}

async fn set_budget(State(app): State<AppState>, Json(b): Json<SetBudget>) -> Json<Value> {
    app.mock.set_budget_remaining(b.remaining);
    Json(budget_json(&app.mock))
}

async fn get_item(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let st = app.mock.lock_state();
    match st.item(&id).and_then(|i| ItemView::of(&st, i)) {
        Ok(v) => Json(json!(v)).into_response(),
        Err(e) => admin_error(api_status(&e), &e),
    }
}

async fn sdl(State(app): State<AppState>) -> String {
    app.schema.sdl()
}

fn default_actor(mock: &Mock, given: Option<String>) -> String {
    given.unwrap_or_else(|| {
        let st = mock.lock_state();
        st.users
            .get(1)
            .or_else(|| st.users.first())
            .map(|u| u.id.clone())
            .unwrap_or_default()
    })
}

fn act_result(
    mock: &Mock,
    r: Result<(crate::model::ItemRec, Vec<crate::state::Event>), ApiError>,
) -> Response {
    match r {
        Ok((item, events)) => {
            let types: Vec<&str> = events
                .iter()
                .map(|e| crate::webhooks::event_type(&e.change))
                .collect();
            let view = {
                let st = mock.lock_state();
                ItemView::of(&st, &item).ok()
            };
            let body = json!({ "item": view.map(|v| json!(v)).unwrap_or_else(|| json!(item)), "events": types });
            mock.emit(events);
            Json(body).into_response()
        }
        Err(e) => admin_error(api_status(&e), &e),
    }
}

/// Body of `POST /__mock/act/create_item`.
#[derive(Deserialize)]
struct ActCreate {
    board_id: String,
    name: String,
    group_id: Option<String>,
    #[serde(default)]
    column_values: Map<String, Value>,
    user_id: Option<String>,
    #[serde(default)]
    create_labels_if_missing: bool,
}

async fn act_create(State(app): State<AppState>, Json(b): Json<ActCreate>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let r = app.mock.lock_state().create_item(
        &b.board_id,
        &b.name,
        b.group_id.as_deref(),
        &b.column_values,
        b.create_labels_if_missing,
        &user,
    );
    act_result(&app.mock, r)
}

/// Body of `POST /__mock/act/change_column_values`.
#[derive(Deserialize)]
struct ActChange {
    item_id: String,
    column_values: Map<String, Value>,
    user_id: Option<String>,
    #[serde(default)]
    create_labels_if_missing: bool,
}

fn board_of(mock: &Mock, item_id: &str) -> Result<String, ApiError> {
    Ok(mock.lock_state().item(item_id)?.board_id.clone())
}

async fn act_change(State(app): State<AppState>, Json(b): Json<ActChange>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let r = board_of(&app.mock, &b.item_id).and_then(|board| {
        app.mock.lock_state().change_values(
            &board,
            &b.item_id,
            &b.column_values,
            b.create_labels_if_missing,
            &user,
        )
    });
    act_result(&app.mock, r)
}

/// Body of `POST /__mock/act/rename`.
#[derive(Deserialize)]
struct ActRename {
    item_id: String,
    name: String,
    user_id: Option<String>,
}

async fn act_rename(State(app): State<AppState>, Json(b): Json<ActRename>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let mut values = Map::new();
    values.insert("name".into(), json!(b.name));
    let r = board_of(&app.mock, &b.item_id).and_then(|board| {
        app.mock
            .lock_state()
            .change_values(&board, &b.item_id, &values, false, &user)
    });
    act_result(&app.mock, r)
}

/// Body of the single-item actions.
#[derive(Deserialize)]
struct ActItem {
    item_id: String,
    user_id: Option<String>,
    group_id: Option<String>,
}

async fn act_delete(State(app): State<AppState>, Json(b): Json<ActItem>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let r = app.mock.lock_state().delete_item(&b.item_id, &user);
    act_result(&app.mock, r)
}

async fn act_archive(State(app): State<AppState>, Json(b): Json<ActItem>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let r = app.mock.lock_state().archive_item(&b.item_id, &user);
    act_result(&app.mock, r)
}

async fn act_restore(State(app): State<AppState>, Json(b): Json<ActItem>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let r = app.mock.lock_state().restore_item(&b.item_id, &user);
    act_result(&app.mock, r)
}

async fn act_move(State(app): State<AppState>, Json(b): Json<ActItem>) -> Response {
    let user = default_actor(&app.mock, b.user_id);
    let Some(group) = b.group_id else {
        return admin_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ApiError::InvalidArgument("group_id is required".into()),
        );
    };
    let r = app.mock.lock_state().move_item(&b.item_id, &group, &user);
    act_result(&app.mock, r)
}
