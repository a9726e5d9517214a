//! Reconciliation on the status pages: the overview's "Sweeps and drift" section (the last
//! sweeps with their numbers and Monday complexity, a link to the last drift report) and
//! `GET /status/drift`, the last stored `crmsync drift` result (JSON: the report as stored).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use crmsync_store::{DriftReportRow, StoreError, SweepRun};
use serde::Serialize;
use serde_json::Value;

use super::{auth, duration_ms, esc, html, layout, store_down, time, wants_json, PageOpts};
use crate::AppState;

/// A sweep on the overview.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SweepView {
    pub id: i64,
    /// `cli` or `schedule`.
    pub trigger: String,
    pub outcome: String,
    pub started_at: DateTime<Utc>,
    pub elapsed_ms: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    pub items_checked: u64,
    pub events_stored: u64,
    pub log_entries: u64,
    pub full_reads: u64,
    /// Monday complexity points the sweep spent.
    pub complexity: u64,
    pub error: Option<String>,
}

impl From<&SweepRun> for SweepView {
    fn from(r: &SweepRun) -> SweepView {
        SweepView {
            id: r.id.0,
            trigger: r.trigger.clone(),
            outcome: r.outcome.clone(),
            started_at: r.started_at,
            elapsed_ms: r.elapsed().map(|d| d.num_milliseconds()),
            since: r.since,
            items_checked: r.counts.items_checked,
            events_stored: r.counts.events_stored,
            log_entries: r.counts.log_entries,
            full_reads: r.counts.full_reads,
            complexity: r.counts.complexity,
            error: r.error.clone(),
        }
    }
}

/// The last drift report, in short.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DriftSummary {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub boards: String,
    pub drifted: u64,
}

/// What the overview shows about reconciliation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReconcileView {
    pub sweeps: Vec<SweepView>,
    pub last_drift: Option<DriftSummary>,
}

pub(crate) async fn gather(st: &AppState) -> Result<ReconcileView, StoreError> {
    let store = st.engine().store();
    let sweeps = store
        .recent_sweeps(10)
        .await?
        .iter()
        .map(SweepView::from)
        .collect();
    let last_drift = store.last_drift_report().await?.map(|d| DriftSummary {
        id: d.id,
        created_at: d.created_at,
        boards: d.boards,
        drifted: d.drifted,
    });
    Ok(ReconcileView { sweeps, last_drift })
}

pub(crate) fn section(v: &ReconcileView) -> String {
    let mut h = String::from("<h2 id=\"reconcile\">Sweeps and drift</h2>");
    h.push_str(match &v.last_drift {
        None => "<p>No drift report yet: <code>crmsync drift</code> compares every mapped field of Salesforce and Monday and stores its result here.</p>",
        Some(_) => "",
    });
    if let Some(d) = &v.last_drift {
        h.push_str(&format!(
            "<p class=\"banner {}\"><a href=\"/status/drift\">Last drift report</a> ({}, boards {}): {}</p>",
            if d.drifted == 0 { "ok" } else { "bad" },
            time(d.created_at),
            esc(&d.boards),
            if d.drifted == 0 {
                "Salesforce and Monday agree.".to_string()
            } else {
                format!("{} fields or items disagree.", d.drifted)
            }
        ));
    }
    if v.sweeps.is_empty() {
        h.push_str(
            "<p>No reconciliation sweep has run yet. <code>crmsync serve</code> runs one every \
             <code>CRMSYNC_SWEEP_MINUTES</code> (default 15); <code>crmsync reconcile</code> runs \
             one now.</p>",
        );
        return h;
    }
    h.push_str(
        "<div class=\"table-wrap\"><table><caption class=\"muted\">Changes no webhook brought, found \
         in Monday's activity log (or a full read) and stored as events</caption><tr>\
         <th scope=\"col\">Sweep</th><th scope=\"col\">Started by</th><th scope=\"col\">Result</th>\
         <th scope=\"col\">Started</th><th scope=\"col\" class=\"num\">Time</th>\
         <th scope=\"col\" class=\"num\">Items checked</th><th scope=\"col\" class=\"num\">Events stored</th>\
         <th scope=\"col\" class=\"num\">Log entries</th><th scope=\"col\" class=\"num\">Full reads</th>\
         <th scope=\"col\" class=\"num\">Complexity</th></tr>",
    );
    for s in &v.sweeps {
        let class = match s.outcome.as_str() {
            "passed" => "ok",
            "failed" => "bad",
            _ => "warn",
        };
        h.push_str(&format!(
            "<tr><th scope=\"row\">#{}</th><td>{}</td><td class=\"{class}\"{}>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.id,
            if s.trigger == "schedule" {
                "timer"
            } else {
                "command"
            },
            s.error
                .as_deref()
                .map(|e| format!(" title=\"{}\"", esc(e)))
                .unwrap_or_default(),
            esc(&s.outcome),
            time(s.started_at),
            s.elapsed_ms
                .map(duration_ms)
                .unwrap_or_else(|| "running".into()),
            s.items_checked,
            s.events_stored,
            s.log_entries,
            s.full_reads,
            s.complexity,
        ));
    }
    h.push_str("</table></div>");
    h
}

/// `GET /status/drift`.
pub(crate) async fn drift_page(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let access = match auth::check(&st, &headers, &uri, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let row = match st.engine().store().last_drift_report().await {
        Ok(r) => r,
        Err(e) => return store_down(&headers, &e),
    };
    let report: Option<Value> = row
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.report).ok());
    if wants_json(&headers, q.get("format").map(String::as_str)) {
        return (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "last_report": report })),
        )
            .into_response();
    }
    html(
        StatusCode::OK,
        layout(
            "Drift",
            &render_drift(row.as_ref(), report.as_ref()),
            &PageOpts {
                refresh_secs: None,
                signed_in: access == auth::Access::Session,
            },
        ),
    )
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "<span class=\"muted\">empty</span>".into(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

fn render_drift(row: Option<&DriftReportRow>, report: Option<&Value>) -> String {
    let mut h = String::from("<h1>Drift: where Salesforce and Monday disagree</h1>");
    let (Some(row), Some(report)) = (row, report) else {
        h.push_str(
            "<p>No drift report yet. Run <code>crmsync drift</code> (it exits 1 when anything \
             disagrees); its last result is shown here.</p>",
        );
        return h;
    };
    h.push_str(&format!(
        "<p class=\"banner {}\">Report #{} of {}: {}</p>",
        if row.drifted == 0 { "ok" } else { "bad" },
        row.id,
        time(row.created_at),
        if row.drifted == 0 {
            "every mapped field agrees.".to_string()
        } else {
            format!("{} fields or items disagree.", row.drifted)
        }
    ));
    let empty = Vec::new();
    for b in report["boards"].as_array().unwrap_or(&empty) {
        let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
        h.push_str(&format!(
            "<h2>{} ({} → {})</h2><p>{} items, {} linked.</p>",
            esc(&b["board_name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s("board_id"))),
            esc(&s("board_id")),
            esc(&s("object")),
            b["items"],
            b["linked"]
        ));
        let fields = b["fields"].as_array().unwrap_or(&empty);
        if !fields.is_empty() {
            h.push_str(
                "<div class=\"table-wrap\"><table><tr><th scope=\"col\">Item</th><th scope=\"col\">Field</th>\
                 <th scope=\"col\">Monday</th><th scope=\"col\">Salesforce</th><th scope=\"col\">Fix</th></tr>",
            );
            for f in fields {
                let board = s("board_id");
                let item = f["item_id"].as_str().unwrap_or_default();
                h.push_str(&format!(
                    "<tr><th scope=\"row\"><a href=\"/status/items/{}/{}\">{}</a></th><td><code>{}</code></td>\
                     <td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&board),
                    esc(item),
                    esc(f["item_name"].as_str().unwrap_or(item)),
                    esc(f["field"].as_str().unwrap_or_default()),
                    cell(&f["monday"]),
                    cell(&f["salesforce"]),
                    esc(f["fix"].as_str().unwrap_or_default()),
                ));
            }
            h.push_str("</table></div>");
        }
        let lone = b["unpartnered"].as_array().unwrap_or(&empty);
        if !lone.is_empty() {
            h.push_str(
                "<h3>Without a partner</h3><div class=\"table-wrap\"><table><tr><th scope=\"col\">Monday item</th>\
                 <th scope=\"col\">Salesforce Id</th><th scope=\"col\">Why</th><th scope=\"col\">Fix</th></tr>",
            );
            for u in lone {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    cell(&u["item_id"]),
                    cell(&u["salesforce_id"]),
                    esc(u["reason"].as_str().unwrap_or_default()),
                    esc(u["fix"].as_str().unwrap_or_default()),
                ));
            }
            h.push_str("</table></div>");
        }
    }
    h
}
