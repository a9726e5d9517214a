//! HTTP layer: one entry point ([`router`] → `handle_any`) for every path, so that every answer
//! (including bad paths and bad bodies) has Salesforce's shape.
//!
//! `handle_any` reads the body, sends `/__mock/*` to [`admin`], applies [faults](faults), then
//! [`MockHandle::route`] (OAuth, versions, authentication, the daily limit) and
//! [`MockHandle::dispatch`] — the one route table of the REST resources, in `routes.rs`. Each
//! resource family lives in its own module: `crud`, `query`, `composite`, `collections`, `bulk`;
//! `journal` records every request, `handle` is the in-process admin API.

mod admin;
mod auth;
mod bulk;
mod collections;
mod composite;
mod crud;
mod faults;
mod handle;
mod http;
mod journal;
mod query;
mod routes;

pub(crate) use auth::random_token;
pub use faults::Fault;
pub use handle::MockHandle;
pub(crate) use http::{Req, Resp};
pub use journal::JournalEntry;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use self::admin::admin;
use self::http::{base_url, into_response};
use crate::error::ApiError;
use crate::schema::Schema;
use crate::store::{Data, WriteCtx};
use crate::CURRENT_VERSION;

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub user_id: String,
    pub expires: Instant,
}

#[derive(Clone, Debug)]
struct Cursor {
    rows: Arc<Vec<Value>>,
    total: usize,
    batch: usize,
}

#[derive(Clone, Debug)]
struct Job {
    info: Map<String, Value>,
    columns: Vec<String>,
    rows: Vec<Value>,
}

/// Open query cursors kept per org (Salesforce keeps 10 per user).
pub const MAX_OPEN_CURSORS: usize = 10;

/// Configuration fixed at start.
pub(crate) struct Config {
    pub client_id: String,
    pub client_secret: String,
    pub password: String,
    pub rotate: bool,
    pub ttl: Duration,
    pub daily_limit: u64,
    pub jwt_key: Option<jsonwebtoken::DecodingKey>,
    pub max_body: usize,
    pub org_id: String,
    pub https: bool,
    pub integration_user: String,
}

pub(crate) struct Mutable {
    pub data: Data,
    pub sessions: HashMap<String, Session>,
    pub refresh_tokens: HashMap<String, String>,
    pub used: u64,
    pub max: u64,
    journal: Vec<JournalEntry>,
    journal_seq: u64,
    faults: Vec<Fault>,
    locked: HashSet<String>,
    cursors: IndexMap<String, Cursor>,
    jobs: IndexMap<String, Job>,
    pub seq: u64,
}

/// Shared state.
pub(crate) struct Inner {
    pub cfg: Config,
    pub schema: Schema,
    seed: Data,
    pub m: Mutex<Mutable>,
}

pub(crate) fn router(handle: MockHandle) -> Router {
    Router::new().fallback(handle_any).with_state(handle)
}

async fn handle_any(State(h): State<MockHandle>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let tls = parts.uri.scheme_str() == Some("https");
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_owned);
    let query: Vec<(String, String)> = raw_query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let max = h.0.cfg.max_body;
    let body = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "REQUEST_ENTITY_TOO_LARGE",
                format!("Request body exceeds the maximum size of {max} bytes"),
            );
            let resp = Resp::from(e);
            h.journal(
                &parts.method,
                &path,
                raw_query.clone(),
                &parts.headers,
                &Bytes::new(),
                resp.status,
            );
            return into_response(resp);
        }
    };
    let req = Req {
        method: parts.method.clone(),
        path: path.clone(),
        query,
        headers: parts.headers.clone(),
        base_url: base_url(&parts.headers, tls || h.0.cfg.https),
        body,
    };

    if path.starts_with("/__mock") {
        return into_response(admin(&h, &req));
    }

    // Faults (latency outside the lock). An `after` fault lets the request apply first.
    let fault = h.take_fault(&req.method, &path);
    let applied = match &fault {
        Some(f) if f.after => Some(h.route(&req)),
        _ => None,
    };
    if let Some(ms) = fault.as_ref().and_then(|f| f.latency_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let resp = match (fault.filter(|f| f.status.is_some()), applied) {
        (Some(f), _) => h.fault_response(&f, &path),
        (None, Some(real)) => real,
        (None, None) => h.route(&req),
    };
    h.journal(
        &req.method,
        &path,
        raw_query,
        &req.headers,
        &req.body,
        resp.status,
    );
    into_response(resp)
}

pub(crate) struct Ctx {
    pub version: String,
    pub user_id: String,
}

impl Ctx {
    fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(CURRENT_VERSION)
    }
    fn write(&self) -> WriteCtx {
        WriteCtx {
            user_id: self.user_id.clone(),
            now: Utc::now(),
        }
    }
}

pub(crate) fn now_millis() -> String {
    let t: DateTime<Utc> = Utc::now();
    t.timestamp_millis().to_string()
}
