//! `GET /status/search?q=` and `GET /status/items/{board}/{item}`: "did my change reach
//! Salesforce?"

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use crmsync_core::{BoardMapping, EventKind, ItemNameTarget};
use crmsync_store::{DeadLetter, Event, EventStatus, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use super::{
    auth, board_name, duration_ms, esc, html, json, layout, not_found, outcome_label, search_form,
    store_down, time, url_encode, wants_json, PageOpts, MAX_QUERY_CHARS,
};
use crate::AppState;

/// Most events shown on an item page (newest first).
const HISTORY_LIMIT: u32 = 100;
/// Most search results.
const SEARCH_LIMIT: u32 = 25;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SearchHit {
    pub board_id: i64,
    pub board_name: Option<String>,
    pub item_id: i64,
    pub name: Option<String>,
    pub salesforce_object: Option<String>,
    pub salesforce_id: Option<String>,
    /// Outcome of its latest change (`done`, `skipped`, `retrying`, `waiting`, `dead`).
    pub latest_outcome: Option<String>,
    /// Where the item stands: `in_sync`, `pending`, `needs_fix`, `not_synced` (as on its page).
    pub state: String,
    pub last_change_at: Option<DateTime<Utc>>,
    /// The item's page.
    pub page: String,
}

#[derive(Debug, Serialize)]
struct SearchView {
    query: String,
    /// The query was longer than the search uses and was cut.
    truncated: bool,
    results: Vec<SearchHit>,
}

/// The item's name as the newest payload that carries one spells it.
fn name_from(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| {
        let v: Value = serde_json::from_str(&e.payload).ok()?;
        let ev = v.get("event")?;
        let renamed = (ev.get("type").and_then(Value::as_str) == Some("update_name"))
            .then(|| ev.pointer("/value/name").and_then(Value::as_str))
            .flatten();
        renamed
            .or_else(|| ev.get("pulseName").and_then(Value::as_str))
            .or_else(|| ev.get("itemName").and_then(Value::as_str))
            .map(str::to_owned)
    })
}

pub(crate) async fn search(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let access = match auth::check(&st, &headers, &uri, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let raw = q.get("q").map(String::as_str).unwrap_or("");
    let truncated = raw.chars().count() > MAX_QUERY_CHARS;
    let query: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUERY_CHARS)
        .collect();
    let query = query.trim().to_owned();
    let results = match find(&st, &query).await {
        Ok(r) => r,
        Err(e) => return store_down(&headers, &e),
    };
    let view = SearchView {
        query,
        truncated,
        results,
    };
    if wants_json(&headers, q.get("format").map(String::as_str)) {
        return json(&view);
    }
    let mut h = String::from("<h1>Find an item</h1>");
    h.push_str(&search_form(&view.query));
    if view.truncated {
        h.push_str(&format!(
            "<p class=\"warn\">Only the first {MAX_QUERY_CHARS} characters were searched for.</p>"
        ));
    }
    if view.query.is_empty() {
        h.push_str("<p>Type an item's name, its Monday item id, its Salesforce Id or an email address.</p>");
    } else if view.results.is_empty() {
        h.push_str(&format!(
            "<p role=\"status\">No item matches <strong>{}</strong>. crmsync only knows items it \
             received a change for: try the Monday item id (in the item's URL on Monday), or check \
             the spelling.</p>",
            esc(&view.query)
        ));
    } else {
        h.push_str(&format!(
            "<p role=\"status\">{} item{} <strong>{}</strong>:</p>",
            view.results.len(),
            if view.results.len() == 1 {
                " matches"
            } else {
                "s match"
            },
            esc(&view.query)
        ));
        h.push_str(
            "<div class=\"table-wrap\"><table><tr><th scope=\"col\">Item</th><th scope=\"col\">Board</th>\
             <th scope=\"col\">Salesforce</th><th scope=\"col\">State, latest change</th></tr>",
        );
        for r in &view.results {
            let label = r
                .name
                .clone()
                .unwrap_or_else(|| format!("Item {}", r.item_id));
            let (class, word) = match r.state.as_str() {
                "in_sync" => ("done", "In Salesforce"),
                "needs_fix" => ("dead", "Needs a fix"),
                "pending" => ("waiting", "On its way"),
                _ => ("skipped", "Not in Salesforce"),
            };
            let state = format!("<span class=\"badge {class}\">{word}</span> ");
            h.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"{}\">{}</a> <span class=\"muted\">#{}</span></th><td>{}</td><td>{}</td><td>{state}{}</td></tr>",
                esc(&r.page),
                esc(&label),
                r.item_id,
                esc(r.board_name.as_deref().unwrap_or(&r.board_id.to_string())),
                match (&r.salesforce_object, &r.salesforce_id) {
                    (Some(o), Some(i)) => format!("{} <code>{}</code>", esc(o), esc(i)),
                    _ => "<span class=\"muted\">not linked</span>".into(),
                },
                r.last_change_at.map(time).unwrap_or_default(),
            ));
        }
        h.push_str("</table></div>");
    }
    html(
        StatusCode::OK,
        layout(
            "Find an item",
            &h,
            &PageOpts {
                signed_in: access == auth::Access::Session,
                ..PageOpts::default()
            },
        ),
    )
}

async fn find(st: &AppState, query: &str) -> Result<Vec<SearchHit>, StoreError> {
    let store = st.engine().store();
    let mut out = Vec::new();
    let mut hits = store.search_items(query, SEARCH_LIMIT).await?;
    // An exact item id first (a number also matches other payloads that contain it).
    hits.sort_by_key(|h| h.item_id.to_string() != query);
    for hit in hits {
        let events = store.events_for_item(hit.board_id, hit.item_id, 20).await?;
        let link = store.link_of_item(hit.board_id, hit.item_id).await?;
        let link_known = link.is_some();
        out.push(SearchHit {
            board_id: hit.board_id,
            board_name: board_name(st, hit.board_id),
            item_id: hit.item_id,
            name: name_from(&events),
            salesforce_object: link.as_ref().map(|l| l.sf_object.clone()),
            salesforce_id: link.map(|l| l.sf_id),
            latest_outcome: events.first().map(|e| outcome_label(e.status).0.to_owned()),
            state: item_state(&events, link_known).0.to_owned(),
            last_change_at: hit.last_received_at,
            page: format!("/status/items/{}/{}", hit.board_id, hit.item_id),
        });
    }
    Ok(out)
}

/// The item's Salesforce record.
#[derive(Debug, Clone, Serialize)]
struct SalesforceRecord {
    object: String,
    id: String,
    /// Lightning record page, when the instance URL is known.
    url: Option<String>,
}

/// One recorded attempt.
#[derive(Debug, Clone, Serialize)]
struct AttemptView {
    attempt: u32,
    finished_at: DateTime<Utc>,
    outcome: String,
    operation: String,
    error: Option<String>,
}

/// One change received for the item, and what crmsync did with it.
#[derive(Debug, Clone, Serialize)]
struct HistoryRow {
    event_id: i64,
    received_at: DateTime<Utc>,
    event_type: String,
    /// The change, for people.
    change: String,
    /// `done`, `skipped`, `retrying`, `waiting`, `dead`.
    outcome: String,
    /// What crmsync did, for people.
    what_happened: String,
    /// Salesforce fields the change writes (applied ones when `done`).
    fields: Vec<String>,
    processed_at: Option<DateTime<Utc>>,
    /// Change → Salesforce time, ms (applied changes).
    took_ms: Option<i64>,
    /// Next attempt (retrying or waiting).
    next_attempt_at: Option<DateTime<Utc>>,
    failed_attempts: u32,
    error: Option<String>,
    /// Salesforce's error body (dead letters).
    salesforce_error: Option<String>,
    /// What to do (dead letters and retries).
    advice: Option<String>,
    dead_letter_id: Option<i64>,
    replay_command: Option<String>,
    attempts: Vec<AttemptView>,
}

#[derive(Debug, Serialize)]
struct ItemView {
    board_id: i64,
    board_name: Option<String>,
    item_id: i64,
    name: Option<String>,
    /// The item on Monday.
    monday_url: String,
    salesforce: Option<SalesforceRecord>,
    /// One sentence: where the item stands.
    summary: String,
    /// `in_sync`, `pending`, `needs_fix`, `not_synced`.
    state: String,
    history: Vec<HistoryRow>,
}

/// People's words for a change (from its stored payload).
fn describe_change(e: &Event, board: Option<&BoardMapping>) -> (String, Vec<String>) {
    let v: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    if let Some(f) = v.get("crmsyncFollowUp") {
        let col = f.get("column").and_then(Value::as_str).unwrap_or("?");
        let fields = board
            .and_then(|b| b.column(col))
            .map(|c| vec![c.field.clone()])
            .unwrap_or_default();
        return (
            format!(
                "Follow-up for column “{col}” (left out of the create until its target existed)"
            ),
            fields,
        );
    }
    let ev = v.get("event").cloned().unwrap_or(Value::Null);
    let s = |k: &str| ev.get(k).and_then(Value::as_str).map(str::to_owned);
    match EventKind::parse(&e.event_type) {
        EventKind::CreatePulse => (
            format!(
                "Item created{}",
                s("pulseName")
                    .map(|n| format!(" as “{n}”"))
                    .unwrap_or_default()
            ),
            board
                .map(|b| b.salesforce_fields())
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != "Id")
                .collect(),
        ),
        EventKind::UpdateColumnValue => {
            let col = s("columnId").unwrap_or_default();
            let title = s("columnTitle").unwrap_or_else(|| col.clone());
            let new = ev.get("value").and_then(value_text);
            let fields = board
                .and_then(|b| b.column(&col))
                .filter(|c| c.direction.to_salesforce())
                .map(|c| {
                    let mut f = vec![c.field.clone()];
                    f.extend(c.end_field.clone());
                    f
                })
                .unwrap_or_default();
            (
                match new {
                    Some(n) => format!("“{title}” changed to “{n}”"),
                    None => format!("“{title}” cleared"),
                },
                fields,
            )
        }
        EventKind::UpdateName => {
            let fields = match board.map(|b| &b.item_name) {
                Some(ItemNameTarget::Field(f)) => vec![f.clone()],
                Some(ItemNameTarget::Split { first, last }) => vec![first.clone(), last.clone()],
                _ => vec![],
            };
            (
                match ev.pointer("/value/name").and_then(Value::as_str) {
                    Some(n) => format!("Renamed to “{n}”"),
                    None => "Renamed".into(),
                },
                fields,
            )
        }
        EventKind::DeletePulse => ("Item deleted".into(), vec![]),
        EventKind::ArchivePulse => ("Item archived".into(), vec![]),
        EventKind::RestorePulse => ("Item restored".into(), vec![]),
        other => (format!("Monday event “{}”", other.as_str()), vec![]),
    }
}

/// A column value's text as Monday shows it (best effort).
fn value_text(v: &Value) -> Option<String> {
    let t = v
        .pointer("/label/text")
        .or_else(|| v.get("text"))
        .or_else(|| v.get("email"))
        .or_else(|| v.get("phone"))
        .or_else(|| v.get("date"))
        .or_else(|| v.get("value"))?;
    match t {
        Value::String(s) if !s.is_empty() => Some(s.chars().take(200).collect()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What to do about a dead letter, from Salesforce's error codes when it sent any.
pub(crate) fn advice(dl: &DeadLetter) -> String {
    let replay = format!(
        "then replay it with `crmsync dead-letters replay {}`",
        dl.id
    );
    let errors: Vec<Value> = dl
        .sf_error_body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let first = errors.first();
    let code = first
        .and_then(|e| e.get("errorCode"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let fields = first
        .and_then(|e| e.get("fields"))
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|f| !f.is_empty());
    let in_fields = fields
        .as_deref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let message = first
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match code {
        "INVALID_EMAIL_ADDRESS" => format!(
            "Salesforce does not accept the value as an email address{in_fields}. Correct the email on the Monday item (or stop copying that column in mapping.toml), {replay}."
        ),
        "REQUIRED_FIELD_MISSING" => format!(
            "Salesforce needs a value{in_fields}. Fill the matching column on the Monday item, or give the field a default in mapping.toml, {replay}."
        ),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION" => format!(
            "A Salesforce validation rule refused the change: “{message}”. Change the value on Monday so the rule accepts it (or ask your Salesforce admin about the rule), {replay}."
        ),
        "STRING_TOO_LONG" => format!(
            "The text is longer than Salesforce allows{in_fields}. Shorten it on Monday (or set `truncate = true` for that column in mapping.toml), {replay}."
        ),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" | "BAD_VALUE_FOR_RESTRICTED_PICKLIST" => format!(
            "The value is not one of the picklist's values in Salesforce{in_fields}. Pick a listed value on Monday, or map the label in mapping.toml (`values`), {replay}."
        ),
        "DUPLICATE_VALUE" | "DUPLICATES_DETECTED" => format!(
            "Salesforce already has a record with this value{in_fields}. Merge or fix the duplicate in Salesforce, or change the value on Monday, {replay}."
        ),
        "ENTITY_IS_DELETED" => format!(
            "The Salesforce record was deleted. Restore it from the Salesforce recycle bin, or clear the item's Salesforce Id column on Monday so crmsync creates a new one, {replay}."
        ),
        c if c.starts_with("INSUFFICIENT_ACCESS") => format!(
            "The integration user may not change this record{in_fields}. Ask your Salesforce admin to grant access, {replay}."
        ),
        "" if dl.sf_error_body.is_none() => format!(
            "Fix the cause described in the error (the value on Monday or the mapping), {replay}."
        ),
        _ => format!(
            "Salesforce rejected the change. Fix the value on Monday, the mapping, or the Salesforce field or validation rule, {replay}."
        ),
    }
}

async fn history_row(
    store: &Store,
    e: &Event,
    board: Option<&BoardMapping>,
    dls: &[DeadLetter],
) -> Result<HistoryRow, StoreError> {
    let (change, fields) = describe_change(e, board);
    let (key, label) = outcome_label(e.status);
    let dl = dls.iter().find(|d| d.event_id == e.id);
    let took_ms = (e.status == EventStatus::Done)
        .then(|| {
            e.processed_at
                .map(|p| (p - e.received_at).num_milliseconds().max(0))
        })
        .flatten();
    let list = |f: &[String]| {
        if f.is_empty() {
            String::new()
        } else {
            format!(": {}", f.join(", "))
        }
    };
    let what_happened = match e.status {
        EventStatus::Done if fields.is_empty() => "Copied to Salesforce".to_owned(),
        EventStatus::Done if fields.len() > 6 => format!(
            "Copied to Salesforce (the mapped fields: {} and {} more)",
            fields[..4].join(", "),
            fields.len() - 4
        ),
        EventStatus::Done => format!("Copied to Salesforce{}", list(&fields)),
        EventStatus::Skipped => format!(
            "Nothing to copy: {}",
            e.last_error.as_deref().unwrap_or("no reason recorded")
        ),
        EventStatus::Failed => format!(
            "Failed {} time{}, crmsync retries by itself",
            e.attempts,
            if e.attempts == 1 { "" } else { "s" }
        ),
        EventStatus::Pending => "Waiting to be copied".to_owned(),
        EventStatus::Processing => "Being copied now".to_owned(),
        EventStatus::Dead => match dl {
            Some(d) => format!(
                "Not copied: crmsync stopped trying and kept the change as dead letter {} until it is fixed and replayed",
                d.id
            ),
            None => label.to_owned(),
        },
    };
    let advice = match e.status {
        EventStatus::Dead => dl.map(advice),
        EventStatus::Failed => Some(
            "Nothing to do yet: crmsync retries automatically. If it keeps failing, it becomes a dead letter with advice here."
                .to_owned(),
        ),
        _ => None,
    };
    let attempts = store
        .attempts_for_event(e.id)
        .await?
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            finished_at: a.finished_at,
            outcome: a.outcome.as_str().to_owned(),
            operation: a.operation,
            error: a.error,
        })
        .collect();
    Ok(HistoryRow {
        event_id: e.id.0,
        received_at: e.received_at,
        event_type: e.event_type.clone(),
        change,
        outcome: key.to_owned(),
        what_happened,
        fields,
        processed_at: e.processed_at,
        took_ms,
        next_attempt_at: matches!(e.status, EventStatus::Failed | EventStatus::Pending)
            .then_some(e.next_attempt_at),
        failed_attempts: e.attempts,
        error: match e.status {
            EventStatus::Dead => dl.map(|d| d.error.clone()).or(e.last_error.clone()),
            EventStatus::Failed => e.last_error.clone(),
            _ => None,
        },
        salesforce_error: dl.and_then(|d| d.sf_error_body.clone()),
        advice,
        dead_letter_id: dl.map(|d| d.id.0),
        replay_command: dl
            .filter(|d| d.status == crmsync_store::DeadLetterStatus::Open)
            .map(|d| format!("crmsync dead-letters replay {}", d.id)),
        attempts,
    })
}

/// Where an item stands, from its (newest) events and whether it is linked: a key and a sentence.
/// A dead event is one whose dead letter is open (a replay puts the event back to pending).
fn item_state(events: &[Event], linked: bool) -> (&'static str, &'static str) {
    if events.iter().any(|e| e.status == EventStatus::Dead) {
        (
            "needs_fix",
            "A change of this item could not be copied to Salesforce and needs a fix (see below).",
        )
    } else if events.iter().any(|e| e.status.is_open()) {
        (
            "pending",
            "A change of this item is on its way to Salesforce (waiting or being retried).",
        )
    } else if linked {
        (
            "in_sync",
            "Every change crmsync received for this item has been copied to Salesforce or deliberately skipped.",
        )
    } else {
        (
            "not_synced",
            "This item has no Salesforce record: its changes were skipped (see why below).",
        )
    }
}

/// A path id: digits only, else `None` (the page answers 404).
pub(crate) fn parse_id(s: &str) -> Option<i64> {
    (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
        .filter(|n| *n > 0)
}

pub(crate) async fn page(
    State(st): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let access = match auth::check(&st, &headers, &uri, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let ids = path
        .ok()
        .and_then(|Path((b, i))| Some((parse_id(&b)?, parse_id(&i)?)));
    let Some((board_id, item_id)) = ids else {
        return not_found(
            &headers,
            "That is not an item address: item pages are /status/items/BOARD-ID/ITEM-ID (numbers). Search for the item instead.",
        );
    };
    let view = match item_view(&st, board_id, item_id).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            let board = board_name(&st, board_id);
            let msg = match board {
                Some(b) => format!(
                    "crmsync has received no change for item {item_id} on board “{b}”. If it was just changed on Monday, wait a few seconds and reload; if it stays missing, check the item id (in its Monday URL) and that the board's webhooks are installed (`crmsync webhooks install`)."
                ),
                None => format!(
                    "Board {board_id} is not one crmsync syncs, and crmsync has received nothing for item {item_id} there. Check the board id (in the item's Monday URL), or search by name."
                ),
            };
            return not_found(&headers, &msg);
        }
        Err(e) => return store_down(&headers, &e),
    };
    if wants_json(&headers, q.get("format").map(String::as_str)) {
        return json(&view);
    }
    let title = view
        .name
        .clone()
        .unwrap_or_else(|| format!("Item {}", view.item_id));
    html(
        StatusCode::OK,
        layout(
            &title,
            &render_item(&view),
            &PageOpts {
                signed_in: access == auth::Access::Session,
                ..PageOpts::default()
            },
        ),
    )
}

async fn item_view(
    st: &AppState,
    board_id: i64,
    item_id: i64,
) -> Result<Option<ItemView>, StoreError> {
    let store = st.engine().store();
    let events = store
        .events_for_item(board_id, item_id, HISTORY_LIMIT)
        .await?;
    let link = store.link_of_item(board_id, item_id).await?;
    if events.is_empty() && link.is_none() {
        return Ok(None);
    }
    let dls = store.dead_letters_for_item(board_id, item_id).await?;
    let mapping = st.engine().mapping();
    let board = mapping.board(&board_id.to_string());
    let mut history = Vec::with_capacity(events.len());
    for e in &events {
        history.push(history_row(store, e, board, &dls).await?);
    }
    let salesforce = match link {
        Some(l) => Some(SalesforceRecord {
            url: lightning_url(st, &l.sf_object, &l.sf_id).await,
            object: l.sf_object,
            id: l.sf_id,
        }),
        None => None,
    };
    let (state, summary) = item_state(&events, salesforce.is_some());
    Ok(Some(ItemView {
        board_id,
        board_name: board_name(st, board_id),
        item_id,
        name: name_from(&events),
        monday_url: format!("https://monday.com/boards/{board_id}/pulses/{item_id}"),
        salesforce,
        summary: summary.to_owned(),
        state: state.to_owned(),
        history,
    }))
}

/// The record's Lightning page, from the instance URL of the Salesforce session (asked for at
/// most 3 s; `None` when unknown).
async fn lightning_url(st: &AppState, object: &str, id: &str) -> Option<String> {
    let safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !safe(object) || !safe(id) {
        return None;
    }
    let url = tokio::time::timeout(
        StdDuration::from_secs(3),
        st.engine().salesforce().instance_url(),
    )
    .await
    .ok()?
    .ok()?;
    let base = url.as_str().trim_end_matches('/');
    Some(format!("{base}/lightning/r/{object}/{id}/view"))
}

fn render_item(v: &ItemView) -> String {
    let title = v
        .name
        .clone()
        .unwrap_or_else(|| format!("Item {}", v.item_id));
    let class = match v.state.as_str() {
        "in_sync" => "ok",
        "needs_fix" => "bad",
        _ => "warn",
    };
    let board = v
        .board_name
        .clone()
        .unwrap_or_else(|| format!("Board {}", v.board_id));
    let mut h = format!(
        "<p class=\"muted\"><a href=\"/status\">Overview</a> › <a href=\"/status/boards/{bid}\">{board}</a></p>\
         <h1>{title}</h1><p class=\"banner {class}\" role=\"status\">{summary}</p>\
         <dl class=\"facts\"><dt>Board</dt><dd><a href=\"/status/boards/{bid}\">{board}</a></dd>\
         <dt>Monday item</dt><dd><a href=\"{murl}\" rel=\"noreferrer\">{iid} on Monday</a></dd>",
        bid = v.board_id,
        board = esc(&board),
        title = esc(&title),
        summary = esc(&v.summary),
        murl = esc(&v.monday_url),
        iid = v.item_id,
    );
    match &v.salesforce {
        Some(sf) => {
            h.push_str(&format!(
                "<dt>Salesforce object</dt><dd>{}</dd><dt>Salesforce Id</dt><dd><code>{}</code></dd>",
                esc(&sf.object),
                esc(&sf.id)
            ));
            if let Some(u) = &sf.url {
                h.push_str(&format!(
                    "<dt>Salesforce record</dt><dd><a id=\"salesforce-link\" href=\"{}\" rel=\"noreferrer\">Open the {} in Salesforce</a></dd>",
                    esc(u),
                    esc(&sf.object)
                ));
            }
        }
        None => h.push_str("<dt>Salesforce record</dt><dd>none yet</dd>"),
    }
    h.push_str("</dl>");
    h.push_str(&format!(
        "<h2>History</h2><p class=\"muted\">Every change crmsync received for this item, newest first{}.</p>",
        if v.history.len() as u32 >= HISTORY_LIMIT {
            format!(" (the latest {HISTORY_LIMIT})")
        } else {
            String::new()
        }
    ));
    if v.history.is_empty() {
        h.push_str("<p>No change received yet (the item is known from its link only).</p>");
    }
    h.push_str("<ol class=\"history\" style=\"padding-left:1.2em\">");
    let n = v.history.len();
    for (i, r) in v.history.iter().enumerate() {
        let (_, label) = outcome_word_pair(&r.outcome);
        h.push_str(&format!(
            "<li class=\"card\" value=\"{}\" id=\"event-{}\"><h3>{} <span class=\"badge {}\">{}</span></h3>\
             <p class=\"muted\">Received {}</p><p>{}",
            n - i,
            r.event_id,
            esc(&r.change),
            esc(&r.outcome),
            esc(label),
            time(r.received_at),
            esc(&r.what_happened)
        ));
        if let (Some(p), Some(ms)) = (r.processed_at, r.took_ms) {
            h.push_str(&format!(
                " at {} ({} after the change)",
                time(p),
                duration_ms(ms)
            ));
        }
        h.push_str(".</p>");
        if r.outcome == "done" && r.fields.len() > 6 {
            h.push_str(&format!(
                "<details><summary>All {} fields</summary><p>{}</p></details>",
                r.fields.len(),
                esc(&r.fields.join(", "))
            ));
        }
        if let Some(n) = r.next_attempt_at {
            h.push_str(&format!("<p>Next attempt: {}.</p>", time(n)));
        }
        if let Some(e) = &r.error {
            h.push_str(&format!(
                "<p><strong>Error:</strong> <span class=\"error\">{}</span></p>",
                esc(e)
            ));
        }
        if let Some(a) = &r.advice {
            h.push_str(&format!(
                "<p class=\"advice\"><strong>What to do:</strong> {}</p>",
                code_spans(a)
            ));
        }
        if let Some(sf) = &r.salesforce_error {
            h.push_str(&format!(
                "<details><summary>Salesforce's answer</summary><pre>{}</pre></details>",
                esc(sf)
            ));
        }
        if !r.attempts.is_empty() {
            h.push_str("<details><summary>Attempts</summary><ul>");
            for a in &r.attempts {
                h.push_str(&format!(
                    "<li>#{} {} — {} — <code>{}</code>{}</li>",
                    a.attempt,
                    time(a.finished_at),
                    esc(&a.outcome),
                    esc(&a.operation),
                    a.error
                        .as_deref()
                        .map(|e| format!(": {}", esc(e)))
                        .unwrap_or_default()
                ));
            }
            h.push_str("</ul></details>");
        }
        h.push_str("</li>");
    }
    h.push_str("</ol>");
    h.push_str(&format!(
        "<p class=\"muted\">As JSON: <code>/status/items/{}/{}?format=json</code>. \
         <a href=\"/status/search?q={}\">Search again</a></p>",
        v.board_id,
        v.item_id,
        url_encode(&v.item_id.to_string())
    ));
    h
}

fn outcome_word_pair(key: &str) -> (&str, &'static str) {
    let label = match key {
        "done" => "Copied to Salesforce",
        "skipped" => "Nothing to copy",
        "retrying" => "Failed, will retry",
        "waiting" => "Waiting",
        "dead" => "Failed, needs a fix",
        _ => "",
    };
    (key, label)
}

/// Escapes text and shows `backquoted` parts as code.
fn code_spans(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_digits_only() {
        assert_eq!(parse_id("9378000505"), Some(9_378_000_505));
        for bad in ["", "0", "-1", "1e3", "12a", "99999999999999999999", " 1"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn advice_names_the_fix_and_the_replay() {
        let dl = DeadLetter {
            id: crmsync_store::DeadLetterId(4),
            event_id: crmsync_store::EventId(9),
            trigger_uuid: "t".into(),
            board_id: 1,
            item_id: 2,
            event_type: "create_pulse".into(),
            payload: "{}".into(),
            error: "x".into(),
            sf_error_body: Some(
                r#"[{"errorCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid","fields":["Email"]}]"#
                    .into(),
            ),
            status: crmsync_store::DeadLetterStatus::Open,
            replay_count: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            replayed_at: None,
        };
        let a = advice(&dl);
        assert!(a.contains("email address (Email)"), "{a}");
        assert!(a.contains("crmsync dead-letters replay 4"), "{a}");
        assert_eq!(code_spans("run `a<b` now"), "run <code>a&lt;b</code> now");
    }
}
