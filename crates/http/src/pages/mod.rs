//! The status pages for people: server-rendered HTML (no build step, no external assets, no
//! JavaScript needed), each mirrored as JSON (`?format=json` or `Accept: application/json`).
//!
//! * `GET /status` — overview: health, search box, charts of the last 24 h, boards, migration
//!   runs, recent failures, dead letters, refused deliveries (refreshes itself every 60 s).
//! * `GET /status/search?q=` — find an item by name, Monday item id, Salesforce Id or email.
//! * `GET /status/items/{board}/{item}` — one item: its board, its Salesforce record (with a
//!   Lightning link), its history (what crmsync did with every change).
//! * `GET /status/boards/{board}` — one board: 24 h / 7 d counts, open problems, last applied.
//! * `GET /status/drift` — the last `crmsync drift` report (the overview also lists the last
//!   reconciliation sweeps with their complexity).
//! * `GET|POST /status/sign-in`, `POST /status/sign-out` — the session cookie (see [`auth`]).
//!
//! Times are rendered in UTC inside `<time datetime=…>`; a 10-line inline script rewrites them
//! in the viewer's time zone when JavaScript runs.

pub(crate) mod auth;
mod board;
mod item;
mod overview;
mod reconcile;
mod svg;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::AppState;

/// The routes of the status pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(overview::page))
        .route("/status/", get(overview::page))
        .route("/status/search", get(item::search))
        .route("/status/items/{board}/{item}", get(item::page))
        .route("/status/boards/{board}", get(board::page))
        .route("/status/drift", get(reconcile::drift_page))
        .route(
            "/status/sign-in",
            get(auth::sign_in_form).post(auth::sign_in),
        )
        .route("/status/sign-out", axum::routing::post(auth::sign_out))
        .route("/status/{*rest}", get(not_found_fallback))
}

async fn not_found_fallback(headers: HeaderMap) -> Response {
    not_found(
        &headers,
        "There is no such page. Start from the overview or search for an item.",
    )
}

/// Whether the client asked for JSON (`?format=json` or `Accept: application/json`).
pub(crate) fn wants_json(headers: &HeaderMap, format: Option<&str>) -> bool {
    format == Some("json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))
}

/// HTML-escapes text for element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A time for people: UTC text inside `<time datetime>`, localised by the page's script.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        t.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// A duration in ms, for people.
pub(crate) fn duration_ms(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 7_200_000 {
        format!("{} min", ms / 60_000)
    } else {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    }
}

const STYLE: &str = "\
:root{color-scheme:light;--fg:#1a1a1a;--muted:#555;--line:#d0d0d0;--bg:#fff;--card:#f5f6f8;\
--ok:#1b6e2d;--warn:#8a5300;--bad:#a4161a;--link:#0b57d0}\
*{box-sizing:border-box}\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}\
header.top{background:#12263f;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center}\
header.top a{color:#fff}header.top .brand{font-weight:700;text-decoration:none}\
header.top form{margin:0 0 0 auto}\
header.top button{background:transparent;color:#fff;border:1px solid #fff;border-radius:4px;padding:.2em .7em;font:inherit;cursor:pointer}\
main{max-width:64em;margin:0 auto;padding:1em}\
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.25em;margin:1.6em 0 .5em;border-bottom:2px solid var(--line);padding-bottom:.2em}\
h3{font-size:1.05em;margin:1em 0 .3em}\
a{color:var(--link)}\
.table-wrap{overflow-x:auto}\
table{border-collapse:collapse;width:100%;margin:.3em 0 1em}\
th,td{text-align:left;vertical-align:top;padding:.4em .6em;border-bottom:1px solid var(--line)}td{overflow-wrap:anywhere;min-width:10.5ch}td.num{min-width:0;overflow-wrap:normal}\
th{background:var(--card);font-weight:600}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.muted{color:var(--muted)}\
.banner{padding:.7em 1em;border-radius:6px;border-left:6px solid;margin:.8em 0;background:var(--card)}\
.banner.ok{border-color:var(--ok)}.banner.bad{border-color:var(--bad)}.banner.warn{border-color:var(--warn)}\
.card{background:var(--card);border-radius:6px;padding:.6em 1em;margin:.6em 0}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em;margin:.5em 0}\
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}\
.badge{display:inline-block;white-space:nowrap;border-radius:999px;padding:0 .6em;font-size:.9em;font-weight:600;border:1px solid}\
.badge.done{color:var(--ok)}.badge.skipped{color:var(--muted)}.badge.retrying,.badge.waiting{color:var(--warn)}.badge.dead{color:var(--bad)}\
form.search{display:flex;flex-wrap:wrap;gap:.5em;align-items:flex-end;margin:.8em 0}\
form.search label{display:block;font-weight:600;width:100%}\
input[type=search],input[type=password]{font:inherit;padding:.45em .6em;border:1px solid #767676;border-radius:4px;min-width:0;flex:1 1 16em}\
button.primary{font:inherit;padding:.45em 1.1em;border:0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}\
:focus-visible{outline:3px solid #f4b400;outline-offset:2px}\
code{background:var(--card);padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}\
pre{background:var(--card);padding:.6em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}\
figure{margin:.5em 0 1em}figure svg{width:100%;height:auto;display:block}\
figcaption{color:var(--muted);font-size:.9em}\
.legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.9em;margin:.2em 0;padding:0;list-style:none}\
.legend span.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;vertical-align:-.1em}\
.advice{border-left:4px solid var(--warn);padding:.3em .8em;background:#fff8e6}\
footer{color:var(--muted);font-size:.85em;margin:2em 0 1em}\
@media (max-width:40em){body{font-size:15px}main{padding:.6em}th,td{padding:.35em .4em}}";

/// Rewrites every `<time datetime>` in the viewer's time zone; without JavaScript the UTC text stays.
const LOCAL_TIME_SCRIPT: &str = "document.querySelectorAll('time[datetime]').forEach(function(t){\
var d=new Date(t.getAttribute('datetime'));if(isNaN(d))return;\
t.title=t.textContent;t.textContent=d.toLocaleString(undefined,{year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit',second:'2-digit',timeZoneName:'short'});});";

/// Options of a page.
#[derive(Default)]
pub(crate) struct PageOpts {
    /// Reload the page every this many seconds (`<meta http-equiv=refresh>`, works without JS).
    pub refresh_secs: Option<u32>,
    /// Show the sign-out button (the viewer has a session cookie).
    pub signed_in: bool,
}

/// A whole HTML document around `body`.
pub(crate) fn layout(title: &str, body: &str, opts: &PageOpts) -> String {
    let refresh = opts
        .refresh_secs
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let sign_out = if opts.signed_in {
        "<form method=\"post\" action=\"/status/sign-out\"><button type=\"submit\">Sign out</button></form>"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">{refresh}\
         <title>{title} · crmsync status</title><style>{STYLE}</style></head><body>\
         <header class=\"top\"><a class=\"brand\" href=\"/status\">crmsync status</a>\
         <nav aria-label=\"Main\"><a href=\"/status\">Overview</a> · <a href=\"/status#boards\">Boards</a> · \
         <a href=\"/status#migration\">Migration</a></nav>{sign_out}</header>\
         <main id=\"main\">{body}\
         <footer>Times are shown in your time zone when JavaScript is on, otherwise in UTC.</footer></main>\
         <script>{LOCAL_TIME_SCRIPT}</script></body></html>",
        title = esc(title),
    )
}

/// The search form (on the overview and the search page).
pub(crate) fn search_form(value: &str) -> String {
    format!(
        "<form class=\"search\" role=\"search\" method=\"get\" action=\"/status/search\">\
         <label for=\"q\">Find an item: name, Monday item id, Salesforce Id or email</label>\
         <input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" maxlength=\"{MAX_QUERY_CHARS}\" \
         autocomplete=\"off\" placeholder=\"e.g. Harbor Arts, 1234567890, 00Q…\">\
         <button class=\"primary\" type=\"submit\">Search</button></form>",
        esc(value)
    )
}

/// Longest search text used (longer input is cut, never refused).
pub(crate) const MAX_QUERY_CHARS: usize = 200;

/// Security headers of every status response.
fn harden(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// An HTML page answer.
pub(crate) fn html(status: StatusCode, doc: String) -> Response {
    harden((status, axum::response::Html(doc)).into_response())
}

/// A JSON answer.
pub(crate) fn json<T: Serialize>(value: &T) -> Response {
    harden(Json(value).into_response())
}

/// 404 with a helpful message, as HTML or JSON.
pub(crate) fn not_found(headers: &HeaderMap, message: &str) -> Response {
    problem(headers, StatusCode::NOT_FOUND, "Not found", message)
}

/// An error page (HTML) or `{"error": …}` (JSON).
pub(crate) fn problem(
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    if wants_json(headers, None) {
        let mut r = json(&serde_json::json!({ "error": message }));
        *r.status_mut() = status;
        return r;
    }
    let body = format!(
        "<h1>{}</h1><p>{}</p>{}<p><a href=\"/status\">Back to the overview</a></p>",
        esc(title),
        esc(message),
        search_form("")
    );
    html(
        status,
        layout(
            title,
            &body,
            &PageOpts {
                signed_in: auth::has_cookie(headers),
                ..PageOpts::default()
            },
        ),
    )
}

/// The store failed: 503, as HTML or JSON.
pub(crate) fn store_down(headers: &HeaderMap, e: &crmsync_store::StoreError) -> Response {
    tracing::error!(error = %e, "status page: store unavailable");
    problem(
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The event store is unavailable; try again shortly.",
    )
}

/// How a board is named to people: its mapping name, else its object, else its id.
pub(crate) fn board_name(st: &AppState, board_id: i64) -> Option<String> {
    st.engine()
        .mapping()
        .board(&board_id.to_string())
        .map(|m| m.name.clone().unwrap_or_else(|| m.object.clone()))
}

/// People's word for an event's state.
pub(crate) fn outcome_label(s: crmsync_store::EventStatus) -> (&'static str, &'static str) {
    use crmsync_store::EventStatus as S;
    match s {
        S::Done => ("done", "Copied to Salesforce"),
        S::Skipped => ("skipped", "Nothing to copy"),
        S::Failed => ("retrying", "Failed, will retry"),
        S::Pending => ("waiting", "Waiting"),
        S::Processing => ("waiting", "Being copied now"),
        S::Dead => ("dead", "Failed, needs a fix"),
    }
}
