//! `GET /status/boards/{board}`: one board's last 24 h and 7 days, open problems, last applied.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use crmsync_store::{DeadLetterFilter, DeadLetterStatus, EventStatus, StoreError};
use serde::Serialize;

use super::item::parse_id;
use super::overview::CountsView;
use super::{
    auth, esc, html, json, layout, not_found, search_form, store_down, time, wants_json, PageOpts,
};
use crate::AppState;

/// An open problem of the board: a dead letter or a change being retried.
#[derive(Debug, Clone, Serialize)]
struct Problem {
    /// `dead` or `retrying`.
    kind: String,
    item_id: i64,
    event_id: i64,
    error: String,
    since: DateTime<Utc>,
    /// The item's page.
    page: String,
    dead_letter_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct BoardView {
    board_id: i64,
    name: String,
    object: String,
    last_24h: CountsView,
    last_7d: CountsView,
    last_applied_at: Option<DateTime<Utc>>,
    open_problems: Vec<Problem>,
}

async fn board_view(st: &AppState, board_id: i64) -> Result<Option<BoardView>, StoreError> {
    let mapping = st.engine().mapping();
    let Some(b) = mapping.board(&board_id.to_string()) else {
        return Ok(None);
    };
    let store = st.engine().store();
    let now = Utc::now();
    let counts = |v: Vec<crmsync_store::BoardCounts>| {
        v.into_iter()
            .find(|c| c.board_id == board_id)
            .map(|c| CountsView::from(c.counts))
            .unwrap_or_default()
    };
    let last_24h = counts(
        store
            .event_counts_by_board_since(now - Duration::hours(24))
            .await?,
    );
    let last_7d = counts(
        store
            .event_counts_by_board_since(now - Duration::days(7))
            .await?,
    );
    let last_applied_at = store
        .last_applied_by_board()
        .await?
        .into_iter()
        .find(|(b, _)| *b == board_id)
        .map(|(_, t)| t);
    let mut open_problems: Vec<Problem> = store
        .list_dead_letters(&DeadLetterFilter {
            status: Some(DeadLetterStatus::Open),
            board_id: Some(board_id),
            limit: 100,
            ..DeadLetterFilter::default()
        })
        .await?
        .into_iter()
        .map(|d| Problem {
            kind: "dead".into(),
            item_id: d.item_id,
            event_id: d.event_id.0,
            error: d.error,
            since: d.created_at,
            page: format!("/status/items/{board_id}/{}", d.item_id),
            dead_letter_id: Some(d.id.0),
        })
        .collect();
    for e in store.recent_failures(200).await? {
        if e.board_id == board_id && e.status == EventStatus::Failed {
            open_problems.push(Problem {
                kind: "retrying".into(),
                item_id: e.item_id,
                event_id: e.id.0,
                error: e.last_error.unwrap_or_default(),
                since: e.updated_at,
                page: format!("/status/items/{board_id}/{}", e.item_id),
                dead_letter_id: None,
            });
        }
    }
    Ok(Some(BoardView {
        board_id,
        name: b.name.clone().unwrap_or_else(|| b.object.clone()),
        object: b.object.clone(),
        last_24h,
        last_7d,
        last_applied_at,
        open_problems,
    }))
}

pub(crate) async fn page(
    State(st): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let access = match auth::check(&st, &headers, &uri, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Some(board_id) = path.ok().and_then(|Path(b)| parse_id(&b)) else {
        return not_found(
            &headers,
            "That is not a board address: board pages are /status/boards/BOARD-ID (a number). The overview lists every board crmsync syncs.",
        );
    };
    let view = match board_view(&st, board_id).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            let known: Vec<String> = st
                .engine()
                .mapping()
                .boards
                .iter()
                .map(|b| {
                    format!(
                        "{} ({})",
                        b.name.clone().unwrap_or_else(|| b.object.clone()),
                        b.board_id
                    )
                })
                .collect();
            return not_found(
                &headers,
                &format!(
                    "Board {board_id} is not one crmsync syncs. The boards in the mapping are: {}.",
                    known.join(", ")
                ),
            );
        }
        Err(e) => return store_down(&headers, &e),
    };
    if wants_json(&headers, q.get("format").map(String::as_str)) {
        return json(&view);
    }
    html(
        StatusCode::OK,
        layout(
            &view.name,
            &render_board(&view),
            &PageOpts {
                signed_in: access == auth::Access::Session,
                ..PageOpts::default()
            },
        ),
    )
}

fn render_board(v: &BoardView) -> String {
    let mut h = format!(
        "<p class=\"muted\"><a href=\"/status\">Overview</a> › {name}</p>\
         <h1>{name}</h1><p>Monday board {id}, synced with Salesforce <strong>{obj}</strong> records. \
         Last change copied to Salesforce: {last}.</p>{search}",
        name = esc(&v.name),
        id = v.board_id,
        obj = esc(&v.object),
        last = v
            .last_applied_at
            .map(time)
            .unwrap_or_else(|| "never".into()),
        search = search_form(""),
    );
    h.push_str(
        "<h2>Changes by outcome</h2><div class=\"table-wrap\"><table>\
         <tr><th scope=\"col\">Outcome</th><th scope=\"col\" class=\"num\">Last 24 hours</th>\
         <th scope=\"col\" class=\"num\">Last 7 days</th></tr>",
    );
    let (a, b) = (&v.last_24h, &v.last_7d);
    for (label, x, y) in [
        ("Received from Monday", a.received, b.received),
        ("Copied to Salesforce", a.done, b.done),
        ("Nothing to copy (skipped)", a.skipped, b.skipped),
        ("Waiting or being copied", a.waiting, b.waiting),
        ("Failed, will retry", a.retrying, b.retrying),
        ("Failed, needs a fix", a.dead, b.dead),
    ] {
        h.push_str(&format!(
            "<tr><th scope=\"row\">{label}</th><td class=\"num\">{x}</td><td class=\"num\">{y}</td></tr>"
        ));
    }
    h.push_str("</table></div>");
    h.push_str(&format!(
        "<h2>Open problems ({})</h2>",
        v.open_problems.len()
    ));
    if v.open_problems.is_empty() {
        h.push_str(
            "<p class=\"ok\">None: nothing on this board is waiting for a fix or a retry.</p>",
        );
    } else {
        h.push_str(
            "<div class=\"table-wrap\"><table><tr><th scope=\"col\">Item</th><th scope=\"col\">State</th>\
             <th scope=\"col\">Since</th><th scope=\"col\">Error</th></tr>",
        );
        for p in &v.open_problems {
            let state = if p.kind == "dead" {
                "<span class=\"badge dead\">Needs a fix</span>"
            } else {
                "<span class=\"badge retrying\">Retrying</span>"
            };
            h.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"{}\">Item {}</a></th><td>{state}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.page),
                p.item_id,
                time(p.since),
                esc(&p.error)
            ));
        }
        h.push_str("</table></div>");
    }
    h
}
