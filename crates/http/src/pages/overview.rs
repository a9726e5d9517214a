//! `GET /status`: the overview (refreshes itself every 60 s).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use crmsync_store::{MigrationRun, StatusCounts};
use serde::Serialize;

use super::svg::{self, HourBucket};
use super::{auth, esc, html, json, layout, search_form, store_down, time, wants_json, PageOpts};
use crate::status::{build, render, StatusReport};
use crate::AppState;

/// Most events the charts read (newest first); a small organisation has far fewer a day.
const TIMINGS_LIMIT: u32 = 200_000;

/// A mapped board on the overview.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BoardSummary {
    pub board_id: i64,
    pub name: String,
    /// Salesforce object it syncs with.
    pub object: String,
    /// Changes received in the last 24 h, by outcome.
    pub last_24h: CountsView,
    /// Open dead letters of the board.
    pub open_dead_letters: u64,
    /// When a change of the board last reached Salesforce.
    pub last_applied_at: Option<DateTime<Utc>>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub(crate) struct CountsView {
    pub received: u64,
    pub done: u64,
    pub skipped: u64,
    pub retrying: u64,
    pub waiting: u64,
    pub dead: u64,
}

impl From<StatusCounts> for CountsView {
    fn from(c: StatusCounts) -> CountsView {
        CountsView {
            received: c.total(),
            done: c.done,
            skipped: c.skipped,
            retrying: c.failed,
            waiting: c.pending + c.processing,
            dead: c.dead,
        }
    }
}

/// A migration run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunView {
    pub id: i64,
    pub stage: String,
    pub plan_hash: String,
    /// `running`, `passed`, `failed`, `aborted`.
    pub outcome: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Records migrated so far (checkpoints).
    pub records_checkpointed: u64,
    pub records_read: u64,
    pub items_created: u64,
    pub items_updated: u64,
    pub records_skipped: u64,
    pub records_failed: u64,
}

fn run_view(r: &MigrationRun, checkpointed: u64) -> RunView {
    RunView {
        id: r.id.0,
        stage: r.stage.as_str().to_owned(),
        plan_hash: r.plan_hash.clone(),
        outcome: r.outcome.as_str().to_owned(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        records_checkpointed: checkpointed,
        records_read: r.counts.records_read,
        items_created: r.counts.items_created,
        items_updated: r.counts.items_updated,
        records_skipped: r.counts.records_skipped,
        records_failed: r.counts.records_failed,
    }
}

/// The overview's JSON: every field of [`StatusReport`] plus boards, hours and migration runs.
#[derive(Debug, Serialize)]
pub(crate) struct Overview {
    #[serde(flatten)]
    pub report: StatusReport,
    pub boards: Vec<BoardSummary>,
    pub hourly: Vec<HourBucket>,
    pub migration_runs: Vec<RunView>,
    /// Reconciliation sweeps and the last drift report.
    pub reconcile: super::reconcile::ReconcileView,
}

async fn gather(st: &AppState) -> Result<Overview, crmsync_store::StoreError> {
    let report = build(st).await?;
    let store = st.engine().store();
    let now = Utc::now();
    let since = now - Duration::hours(24);
    let by_board = store.event_counts_by_board_since(since).await?;
    let applied = store.last_applied_by_board().await?;
    let open_dl = store.open_dead_letters_by_board().await?;
    let mapping = st.engine().mapping();
    let boards = mapping
        .boards
        .iter()
        .map(|b| {
            let id: i64 = b.board_id.parse().unwrap_or(0);
            BoardSummary {
                board_id: id,
                name: b.name.clone().unwrap_or_else(|| b.object.clone()),
                object: b.object.clone(),
                last_24h: by_board
                    .iter()
                    .find(|c| c.board_id == id)
                    .map(|c| CountsView::from(c.counts))
                    .unwrap_or_default(),
                open_dead_letters: open_dl
                    .iter()
                    .find(|(b, _)| *b == id)
                    .map_or(0, |(_, n)| *n),
                last_applied_at: applied.iter().find(|(b, _)| *b == id).map(|(_, t)| *t),
            }
        })
        .collect();
    let timings = store.event_timings_since(since, TIMINGS_LIMIT).await?;
    let mut migration_runs = Vec::new();
    for r in store.list_runs(20).await? {
        let n = store.checkpoint_count(r.id).await?;
        migration_runs.push(run_view(&r, n));
    }
    Ok(Overview {
        report,
        boards,
        hourly: svg::buckets(&timings, now),
        migration_runs,
        reconcile: super::reconcile::gather(st).await?,
    })
}

pub(crate) async fn page(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let access = match auth::check(&st, &headers, &uri, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let o = match gather(&st).await {
        Ok(o) => o,
        Err(e) => return store_down(&headers, &e),
    };
    if wants_json(&headers, q.get("format").map(String::as_str)) {
        return json(&o);
    }
    html(
        StatusCode::OK,
        layout(
            "Overview",
            &render_overview(&o),
            &PageOpts {
                refresh_secs: Some(60),
                signed_in: access == auth::Access::Session,
            },
        ),
    )
}

pub(crate) fn boards_table(boards: &[BoardSummary]) -> String {
    let mut h = String::from(
        "<div class=\"table-wrap\"><table><caption class=\"muted\">Changes in the last 24 hours</caption>\
         <tr><th scope=\"col\">Board</th><th scope=\"col\">Salesforce object</th>\
         <th scope=\"col\" class=\"num\">Received</th><th scope=\"col\" class=\"num\">Copied</th>\
         <th scope=\"col\" class=\"num\">Retrying</th><th scope=\"col\" class=\"num\">Open dead letters</th>\
         <th scope=\"col\">Last change copied</th></tr>",
    );
    for b in boards {
        h.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"/status/boards/{id}\">{name}</a></th><td>{obj}</td>\
             <td class=\"num\">{rec}</td><td class=\"num\">{done}</td><td class=\"num{rc}\">{retry}</td>\
             <td class=\"num{dc}\">{dead}</td><td>{last}</td></tr>",
            id = b.board_id,
            name = esc(&b.name),
            obj = esc(&b.object),
            rec = b.last_24h.received,
            done = b.last_24h.done,
            retry = b.last_24h.retrying,
            rc = if b.last_24h.retrying > 0 { " warn" } else { "" },
            dead = b.open_dead_letters,
            dc = if b.open_dead_letters > 0 { " bad" } else { "" },
            last = b.last_applied_at.map(time).unwrap_or_else(|| "never".into()),
        ));
    }
    h.push_str("</table></div>");
    h
}

fn runs_section(runs: &[RunView]) -> String {
    let mut h = String::from("<h2 id=\"migration\">Migration runs (Salesforce → Monday)</h2>");
    if runs.is_empty() {
        h.push_str(
            "<p>No migration run has been recorded yet. Each run of the migration (rehearsal \
             against the mocks, then production) will appear here with its progress.</p>",
        );
        return h;
    }
    h.push_str(
        "<div class=\"table-wrap\"><table><tr><th scope=\"col\">Run</th><th scope=\"col\">Stage</th>\
         <th scope=\"col\">Result</th><th scope=\"col\">Plan</th><th scope=\"col\">Started</th>\
         <th scope=\"col\">Finished</th><th scope=\"col\" class=\"num\">Read</th>\
         <th scope=\"col\" class=\"num\">Migrated</th><th scope=\"col\" class=\"num\">Created</th>\
         <th scope=\"col\" class=\"num\">Updated</th><th scope=\"col\" class=\"num\">Skipped</th>\
         <th scope=\"col\" class=\"num\">Failed</th></tr>",
    );
    for r in runs {
        let class = match r.outcome.as_str() {
            "passed" => "ok",
            "failed" | "aborted" => "bad",
            _ => "warn",
        };
        let short: String = r.plan_hash.chars().take(12).collect();
        h.push_str(&format!(
            "<tr><th scope=\"row\">#{}</th><td>{}</td><td class=\"{class}\">{}</td>\
             <td><code title=\"{}\">{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
            r.id,
            esc(&r.stage),
            esc(&r.outcome),
            esc(&r.plan_hash),
            esc(&short),
            time(r.started_at),
            r.finished_at
                .map(time)
                .unwrap_or_else(|| "still running".into()),
            r.records_read,
            r.records_checkpointed,
            r.items_created,
            r.items_updated,
            r.records_skipped,
            if r.records_failed > 0 { " bad" } else { "" },
            r.records_failed,
        ));
    }
    h.push_str(
        "</table></div><p class=\"muted\">Migrated = records checkpointed so far (a killed run resumes \
         from there). Failed records with their reasons and the verify result are shown once the \
         migration command records them.</p>",
    );
    h
}

fn render_overview(o: &Overview) -> String {
    let mut h = String::from("<h1>Monday → Salesforce sync</h1>");
    h.push_str(&search_form(""));
    // health banner, counts, failures, dead letters, refused deliveries
    let sections = render(&o.report);
    let ok = o.report.counts.dead == 0
        && o.report.open_dead_letters == 0
        && o.report.paused_until.is_none();
    let (first, rest) = sections
        .split_once("</strong></p>")
        .unwrap_or(("", sections.as_str()));
    let banner = first.trim_start_matches("<p><strong>");
    h.push_str(&format!(
        "<p class=\"banner {}\" role=\"status\"><strong>{banner}</strong></p>",
        if ok { "ok" } else { "bad" }
    ));
    h.push_str("<h2>Changes per hour</h2>");
    h.push_str(&svg::changes_chart(&o.hourly));
    h.push_str(&svg::latency_chart(&o.hourly));
    h.push_str("<h2 id=\"boards\">Boards</h2>");
    h.push_str(&boards_table(&o.boards));
    h.push_str(&runs_section(&o.migration_runs));
    h.push_str(&super::reconcile::section(&o.reconcile));
    // the report's own tables scroll sideways on a narrow screen instead of widening the page
    h.push_str(
        &rest
            .replace("<table>", "<div class=\"table-wrap\"><table>")
            .replace("</table>", "</table></div>"),
    );
    h.push_str(
        "<p class=\"muted\">This page refreshes itself every minute. The same data as JSON: \
         <code>/status?format=json</code> (with <code>Authorization: Bearer …</code>).</p>",
    );
    h
}
