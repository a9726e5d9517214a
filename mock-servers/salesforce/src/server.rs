//! HTTP layer: one dispatcher for every path, so that every answer (including bad paths and bad
//! bodies) has Salesforce's shape.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::ids;
use crate::schema::{ObjectDef, Schema};
use crate::store::{self, Data, WriteCtx};
use crate::{oauth, Args, MockError, Shared, CURRENT_VERSION, MIN_VERSION};

/// One request received (the journal behind `GET /__mock/requests`). Secrets are redacted.
#[derive(Clone, Debug, Serialize)]
pub struct JournalEntry {
    /// Sequence number from 1.
    pub seq: u64,
    /// When it arrived.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Selected request headers (`content-type`, `sforce-*`); never `Authorization`.
    pub headers: IndexMap<String, String>,
    /// Request body: JSON when it parses, a string otherwise, null when empty; OAuth secrets redacted.
    pub body: Value,
    /// Response status.
    pub status: u16,
}

/// An injected fault (`POST /__mock/faults`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Method to match (`*` or absent = any).
    #[serde(default)]
    pub method: Option<String>,
    /// Path glob (`*` matches any run of characters), e.g. `/services/data/*/sobjects/Lead*`.
    pub path: String,
    /// Status to answer; absent = only add latency and then handle normally.
    #[serde(default)]
    pub status: Option<u16>,
    /// Body to answer (JSON); absent = a Salesforce error array matching the status.
    #[serde(default)]
    pub body: Option<Value>,
    /// Latency added before answering, in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Apply to the next N matching requests (absent = unlimited).
    #[serde(default)]
    pub times: Option<u64>,
    /// Apply with this probability (0..=1; absent = always).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Extra response headers.
    #[serde(default)]
    pub headers: Option<IndexMap<String, String>>,
}

impl Fault {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let m = self.method.as_deref().unwrap_or("*");
        (m == "*" || m.eq_ignore_ascii_case(method.as_str())) && glob(&self.path, path)
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut dp = vec![vec![false; t.len() + 1]; p.len() + 1];
    dp[0][0] = true;
    for i in 1..=p.len() {
        if p[i - 1] == '*' {
            dp[i][0] = dp[i - 1][0];
        }
        for j in 1..=t.len() {
            dp[i][j] = if p[i - 1] == '*' {
                dp[i - 1][j] || dp[i][j - 1]
            } else {
                dp[i - 1][j - 1] && p[i - 1] == t[j - 1]
            };
        }
    }
    dp[p.len()][t.len()]
}

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

/// A handle on a mock's state: the in-process form of the `/__mock/` admin API.
#[derive(Clone)]
pub struct MockHandle(pub(crate) Shared);

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("org_id", &self.0.cfg.org_id)
            .finish_non_exhaustive()
    }
}

impl MockHandle {
    pub(crate) fn new(
        args: &Args,
        jwt_pem: Option<&str>,
        seed_dir: &Path,
    ) -> Result<MockHandle, MockError> {
        let schema = Schema::load(seed_dir)?;
        let seed = Data::load(&schema, seed_dir)?;
        let org_path = seed_dir.join("org.json");
        let org: Value = if org_path.exists() {
            let text = std::fs::read_to_string(&org_path).map_err(|source| MockError::Io {
                path: org_path.clone(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|source| MockError::Json {
                path: org_path.clone(),
                source,
            })?
        } else {
            Value::Null
        };
        let user_obj = schema.object("User");
        let integration_user = org
            .get("integrationUserId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                user_obj
                    .and_then(|u| seed.table(u).next())
                    .and_then(|r| r.get("Id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| ids::make_id("005", 1));
        let org_id = org
            .get("organizationId")
            .and_then(Value::as_str)
            .and_then(ids::to_18)
            .unwrap_or_else(|| ids::make_id("00D", 1));
        let jwt_key = match jwt_pem {
            Some(pem) => Some(
                jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    MockError::JwtKey {
                        path: "(pem)".into(),
                        message: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let cfg = Config {
            client_id: args.client_id.clone(),
            client_secret: args.client_secret.clone(),
            password: args.password.clone(),
            rotate: args.rotate_refresh_tokens,
            ttl: Duration::from_secs(args.token_ttl_secs),
            daily_limit: args.daily_limit,
            jwt_key,
            max_body: args.max_body_bytes,
            org_id,
            https: args.tls.is_some(),
            integration_user: integration_user.clone(),
        };
        let mut refresh_tokens = HashMap::new();
        refresh_tokens.insert(args.refresh_token.clone(), integration_user);
        let m = Mutable {
            data: seed.clone(),
            sessions: HashMap::new(),
            refresh_tokens,
            used: 0,
            max: args.daily_limit,
            journal: Vec::new(),
            journal_seq: 0,
            faults: Vec::new(),
            locked: HashSet::new(),
            cursors: IndexMap::new(),
            jobs: IndexMap::new(),
            seq: 0,
        };
        Ok(MockHandle(Arc::new(Inner {
            cfg,
            schema,
            seed,
            m: Mutex::new(m),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Mutable> {
        self.0.m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Restores the seed records, clears the journal, faults, locks, cursors, jobs and API usage.
    /// Sessions and refresh tokens stay valid.
    pub fn reset(&self) {
        let mut m = self.lock();
        m.data = self.0.seed.clone();
        m.journal.clear();
        m.faults.clear();
        m.locked.clear();
        m.cursors.clear();
        m.jobs.clear();
        m.used = 0;
        m.max = self.0.cfg.daily_limit;
    }

    /// The journal of requests received so far.
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.lock().journal.clone()
    }

    /// Adds a fault.
    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Invalidates every access token now.
    pub fn expire_sessions(&self) {
        self.lock().sessions.clear();
    }

    /// Uses up the daily allocation: further REST calls get `403 REQUEST_LIMIT_EXCEEDED`.
    pub fn exhaust_daily_limit(&self) {
        let mut m = self.lock();
        m.used = m.max;
    }

    /// Sets API usage and/or the allocation.
    pub fn set_api_usage(&self, used: Option<u64>, max: Option<u64>) {
        let mut m = self.lock();
        if let Some(u) = used {
            m.used = u;
        }
        if let Some(x) = max {
            m.max = x;
        }
    }

    /// `(used, max)` of the daily allocation.
    pub fn api_usage(&self) -> (u64, u64) {
        let m = self.lock();
        (m.used, m.max)
    }

    /// Writes to these record Ids fail with `UNABLE_TO_LOCK_ROW` until [`MockHandle::unlock_rows`].
    pub fn lock_rows<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, ids_: I) {
        let mut m = self.lock();
        for id in ids_ {
            if let Some(id18) = ids::to_18(id.as_ref()) {
                m.locked.insert(id18);
            }
        }
    }

    /// Releases every locked row.
    pub fn unlock_rows(&self) {
        self.lock().locked.clear();
    }

    /// Issues a refresh token for the integration user (as a web-server flow would).
    pub fn issue_refresh_token(&self) -> String {
        let token = random_token(&self.0.cfg.org_id);
        self.lock()
            .refresh_tokens
            .insert(token.clone(), self.0.cfg.integration_user.clone());
        token
    }

    /// A live (non-deleted) record by object and Id, rendered like `GET /sobjects/{Object}/{id}`.
    pub fn record(&self, object: &str, id: &str) -> Option<Value> {
        let obj = self.0.schema.object(object)?;
        let m = self.lock();
        m.data
            .get(obj, id)
            .filter(|r| !store::is_deleted(r))
            .map(|r| store::render(obj, r, None, &format!("{CURRENT_VERSION}.0")))
    }

    /// All records of every object (including deleted ones): `{"Lead":[…],…}`.
    pub fn dump(&self) -> Value {
        let m = self.lock();
        let mut out = Map::new();
        for obj in self.0.schema.objects() {
            let rows: Vec<Value> = m.data.table(obj).map(|r| json!(r)).collect();
            out.insert(obj.name.clone(), Value::Array(rows));
        }
        Value::Object(out)
    }
}

pub(crate) fn random_token(org_id: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::thread_rng();
    let tail: String = (0..96)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("{}!{tail}", &org_id[..15.min(org_id.len())])
}

pub(crate) fn router(handle: MockHandle) -> Router {
    Router::new().fallback(handle_any).with_state(handle)
}

/// A response before conversion.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub body: RespBody,
    pub headers: Vec<(String, String)>,
}

pub(crate) enum RespBody {
    Empty,
    Json(Value),
    Csv(String),
}

impl Resp {
    pub fn json(status: StatusCode, v: Value) -> Resp {
        Resp {
            status,
            body: RespBody::Json(v),
            headers: vec![],
        }
    }
    fn empty(status: StatusCode) -> Resp {
        Resp {
            status,
            body: RespBody::Empty,
            headers: vec![],
        }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn body_json(&self) -> Value {
        match &self.body {
            RespBody::Json(v) => v.clone(),
            RespBody::Csv(s) => Value::String(s.clone()),
            RespBody::Empty => Value::Null,
        }
    }
}

impl From<ApiError> for Resp {
    fn from(e: ApiError) -> Resp {
        Resp::json(e.status, e.body())
    }
}

fn into_response(r: Resp) -> Response {
    let mut builder = Response::builder().status(r.status);
    let body = match r.body {
        RespBody::Empty => Body::empty(),
        RespBody::Json(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        RespBody::Csv(s) => {
            builder = builder.header(header::CONTENT_TYPE, "text/csv");
            Body::from(s)
        }
    };
    for (k, v) in r.headers {
        if let Ok(hv) = HeaderValue::from_str(&v) {
            builder = builder.header(k, hv);
        }
    }
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The parts of a request the dispatcher needs.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub base_url: String,
}

impl Req {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(if tls { "https" } else { "http" });
    format!("{proto}://{host}")
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

    // Faults (latency first, outside the lock).
    let fault = {
        let mut m = h.lock();
        let mut chosen = None;
        for f in m.faults.iter_mut() {
            if !f.matches(&req.method, &path) || f.times == Some(0) {
                continue;
            }
            if let Some(p) = f.probability {
                if rand::thread_rng().gen::<f64>() >= p {
                    continue;
                }
            }
            if let Some(t) = f.times.as_mut() {
                *t -= 1;
            }
            chosen = Some(f.clone());
            break;
        }
        m.faults.retain(|f| f.times != Some(0));
        chosen
    };
    if let Some(ms) = fault.as_ref().and_then(|f| f.latency_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let resp = match fault.filter(|f| f.status.is_some()) {
        Some(f) => {
            let status = StatusCode::from_u16(f.status.unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = f.body.clone().unwrap_or_else(|| default_fault_body(status));
            let mut r = Resp::json(status, body);
            for (k, v) in f.headers.clone().unwrap_or_default() {
                r = r.header(&k, v);
            }
            if path.starts_with("/services/data") {
                let m = h.lock();
                r = r.header(
                    "Sforce-Limit-Info",
                    format!("api-usage={}/{}", m.used, m.max),
                );
            }
            r
        }
        None => h.route(&req),
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

fn default_fault_body(status: StatusCode) -> Value {
    let (code, msg) = match status.as_u16() {
        401 => ("INVALID_SESSION_ID", "Session expired or invalid"),
        403 => ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        404 => ("NOT_FOUND", "The requested resource does not exist"),
        503 => ("SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later."),
        s if s >= 500 => ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)"),
        _ => ("BAD_REQUEST", "Injected fault"),
    };
    json!([{"message": msg, "errorCode": code}])
}

impl MockHandle {
    fn journal(
        &self,
        method: &Method,
        path: &str,
        query: Option<String>,
        headers: &HeaderMap,
        body: &Bytes,
        status: StatusCode,
    ) {
        let mut hs = IndexMap::new();
        for (k, v) in headers {
            let name = k.as_str();
            if name == "content-type" || name.starts_with("sforce-") {
                hs.insert(name.to_string(), v.to_str().unwrap_or("").to_string());
            }
        }
        let body_v = if body.is_empty() {
            Value::Null
        } else if let Ok(v) = serde_json::from_slice::<Value>(body) {
            v
        } else if path.starts_with("/services/oauth2") {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).unwrap_or_default();
            let mut m = Map::new();
            for (k, v) in form {
                let redacted = matches!(
                    k.as_str(),
                    "client_secret" | "password" | "assertion" | "refresh_token"
                );
                m.insert(
                    k,
                    Value::String(if redacted { "[REDACTED]".into() } else { v }),
                );
            }
            Value::Object(m)
        } else {
            Value::String(String::from_utf8_lossy(body).chars().take(4096).collect())
        };
        let mut m = self.lock();
        m.journal_seq += 1;
        let seq = m.journal_seq;
        m.journal.push(JournalEntry {
            seq,
            at: store::sf_datetime(Utc::now()),
            method: method.to_string(),
            path: path.to_string(),
            query,
            headers: hs,
            body: body_v,
            status: status.as_u16(),
        });
        if m.journal.len() > 10_000 {
            m.journal.remove(0);
        }
    }

    fn route(&self, req: &Req) -> Resp {
        let path = req.path.trim_end_matches('/');
        if path == "/services/oauth2/token" {
            return oauth::token(self, req);
        }
        if path == "/services/oauth2/revoke" {
            return oauth::revoke(self, req);
        }
        if let Some(rest) = path.strip_prefix("/id/") {
            return oauth::identity(self, req, rest);
        }
        if path == "/services/data" {
            return Resp::json(StatusCode::OK, versions());
        }
        let Some(rest) = path.strip_prefix("/services/data/") else {
            return ApiError::not_found().into();
        };
        let mut segs: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        if segs.is_empty() {
            return ApiError::not_found().into();
        }
        let version = segs.remove(0);
        let Some(version) = parse_version(&version) else {
            return ApiError::not_found().into();
        };
        // Authentication.
        let user = match self.authenticate(&req.headers) {
            Ok(u) => u,
            Err(e) => return e.into(),
        };
        let mut m = self.lock();
        if m.used >= m.max {
            let info = format!("api-usage={}/{}", m.used, m.max);
            return Resp::from(ApiError::new(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ))
            .header("Sforce-Limit-Info", info);
        }
        m.used += 1;
        let ctx = Ctx {
            version: version.clone(),
            user_id: user,
        };
        let resp = match self.dispatch(&mut m, &ctx, req, &segs) {
            Ok(r) => r,
            Err(e) => e.into(),
        };
        let info = format!("api-usage={}/{}", m.used, m.max);
        resp.header("Sforce-Limit-Info", info)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("OAuth "))
            .map(str::trim);
        let Some(token) = token else {
            return Err(ApiError::invalid_session());
        };
        let mut m = self.lock();
        match m.sessions.get(token) {
            Some(s) if s.expires > Instant::now() => Ok(s.user_id.clone()),
            Some(_) => {
                m.sessions.remove(token);
                Err(ApiError::invalid_session())
            }
            None => Err(ApiError::invalid_session()),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_version(seg: &str) -> Option<String> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    (minor == "0" && (MIN_VERSION..=CURRENT_VERSION).contains(&major)).then(|| format!("{major}.0"))
}

/// `GET /services/data/`: every version from 46.0 to current, with release labels.
pub fn versions() -> Value {
    Value::Array(
        (MIN_VERSION..=CURRENT_VERSION)
            .map(|v| {
                let k = v as i32 - 60;
                let season = ["Spring", "Summer", "Winter"][k.rem_euclid(3) as usize];
                let year = if season == "Winter" { 25 + k.div_euclid(3) } else { 24 + k.div_euclid(3) };
                json!({"label": format!("{season} '{year:02}"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
            })
            .collect(),
    )
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

fn method_not_allowed(m: &Method, allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{m}' not allowed. Allowed are {allowed}"),
    )
}

/// Parses a JSON body with Salesforce's errors for wrong content types and malformed JSON.
fn json_body(req: &Req) -> Result<Value, ApiError> {
    if let Some(ct) = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
    {
        let mt = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mt == "application/json" || mt.ends_with("+json")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("MediaType of '{mt}' is not supported by this resource"),
            ));
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "No content to map due to end-of-input at [line:1, column:0]",
        ));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!(
                "{} at [line:{}, column:{}]",
                json_error_text(&e),
                e.line(),
                e.column()
            ),
        )
    })
}

fn json_error_text(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn object_body(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from START_ARRAY value [line:1, column:1]",
        )
    })
}

impl MockHandle {
    fn object(&self, name: &str) -> Result<&ObjectDef, ApiError> {
        self.0.schema.object(name).ok_or_else(ApiError::not_found)
    }

    fn check_lock(m: &Mutable, id: &str) -> Result<(), ApiError> {
        match ids::to_18(id) {
            Some(id18) if m.locked.contains(&id18) => Err(ApiError::with_fields(
                StatusCode::BAD_REQUEST,
                "UNABLE_TO_LOCK_ROW",
                format!("unable to obtain exclusive access to this record or 1 records: {id18}"),
                vec![],
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn dispatch(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        segs: &[String],
    ) -> Result<Resp, ApiError> {
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let meth = &req.method;
        match s.as_slice() {
            [] => match *meth {
                Method::GET => Ok(Resp::json(StatusCode::OK, resources(&ctx.version))),
                _ => Err(method_not_allowed(meth, "GET,HEAD")),
            },
            ["limits"] => Ok(Resp::json(StatusCode::OK, self.limits(m))),
            ["sobjects"] => match *meth {
                Method::GET => Ok(Resp::json(
                    StatusCode::OK,
                    json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": self.0.schema.objects().map(|o| o.summary(&ctx.version)).collect::<Vec<_>>()}),
                )),
                _ => Err(method_not_allowed(meth, "GET,HEAD")),
            },
            ["sobjects", o] => {
                let obj = self.object(o)?;
                match *meth {
                    Method::GET => Ok(Resp::json(
                        StatusCode::OK,
                        json!({"objectDescribe": obj.summary(&ctx.version), "recentItems": []}),
                    )),
                    Method::POST => {
                        let body = json_body(req)?;
                        let id = m.data.create(
                            &self.0.schema,
                            obj,
                            object_body(&body)?,
                            &ctx.write(),
                        )?;
                        Ok(Resp::json(
                            StatusCode::CREATED,
                            json!({"id": id, "success": true, "errors": []}),
                        )
                        .header(
                            "Location",
                            format!("/services/data/v{}/sobjects/{}/{id}", ctx.version, obj.name),
                        ))
                    }
                    _ => Err(method_not_allowed(meth, "GET,HEAD,POST")),
                }
            }
            ["sobjects", o, "describe"] => {
                let obj = self.object(o)?;
                match *meth {
                    Method::GET => Ok(Resp::json(StatusCode::OK, obj.describe_for(&ctx.version))),
                    _ => Err(method_not_allowed(meth, "GET,HEAD")),
                }
            }
            ["sobjects", o, id] => {
                let obj = self.object(o)?;
                if !ids::is_valid(id) {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        format!(
                            "Provided external ID field does not exist or is not accessible: {id}"
                        ),
                    ));
                }
                self.record_op(m, ctx, req, obj, id)
            }
            ["sobjects", o, field, value] => {
                let obj = self.object(o)?;
                let f = obj.field(field).filter(|f| f.external_id || f.id_lookup).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        format!("Provided external ID field does not exist or is not accessible: {field}"),
                    )
                })?;
                let matches = m.data.find_by(obj, f, value);
                match *meth {
                    Method::PATCH => {
                        let body = json_body(req)?;
                        let body = object_body(&body)?;
                        let update_only = req
                            .param("updateOnly")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        self.upsert_one(
                            m,
                            ctx,
                            obj,
                            f.name.as_str(),
                            value,
                            body,
                            &matches,
                            update_only,
                        )
                        .map(|(status, v, id)| {
                            let mut r = if status == StatusCode::NO_CONTENT {
                                Resp::empty(status)
                            } else {
                                Resp::json(status, v)
                            };
                            if status == StatusCode::CREATED {
                                r = r.header(
                                    "Location",
                                    format!(
                                        "/services/data/v{}/sobjects/{}/{id}",
                                        ctx.version, obj.name
                                    ),
                                );
                            }
                            r
                        })
                    }
                    Method::GET | Method::DELETE => match matches.as_slice() {
                        [] => Err(ApiError::not_found()),
                        [one] => {
                            let one = one.clone();
                            self.record_op(m, ctx, req, obj, &one)
                        }
                        many => Ok(Resp::json(
                            StatusCode::MULTIPLE_CHOICES,
                            multiple(ctx, obj, many),
                        )),
                    },
                    _ => Err(method_not_allowed(meth, "GET,HEAD,PATCH,DELETE")),
                }
            }
            ["query"] | ["queryAll"] => {
                if *meth != Method::GET {
                    return Err(method_not_allowed(meth, "GET,HEAD"));
                }
                let all = s[0] == "queryAll";
                let Some(q) = req.param("q") else {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "MALFORMED_QUERY",
                        "A query string has to be specified",
                    ));
                };
                let batch = batch_size(&req.headers);
                self.query(m, ctx, q, all, batch)
            }
            ["query", loc] | ["queryAll", loc] => {
                if *meth != Method::GET {
                    return Err(method_not_allowed(meth, "GET,HEAD"));
                }
                self.query_more(m, ctx, s[0], loc)
            }
            ["composite"] => match *meth {
                Method::POST => self.composite(m, ctx, req),
                _ => Err(method_not_allowed(meth, "GET,HEAD,POST")),
            },
            ["composite", "sobjects"] => self.collections(m, ctx, req, None),
            ["composite", "sobjects", o] if *meth == Method::GET => {
                self.collections_retrieve(m, ctx, req, o)
            }
            ["composite", "sobjects", o, field] => self.collections(m, ctx, req, Some((o, field))),
            ["jobs", "query"] => self.job_create_or_list(m, ctx, req),
            ["jobs", "query", id] => self.job_op(m, ctx, req, id),
            ["jobs", "query", id, "results"] => self.job_results(m, req, id),
            _ => Err(ApiError::not_found()),
        }
    }

    fn record_op(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        obj: &ObjectDef,
        id: &str,
    ) -> Result<Resp, ApiError> {
        let meth = &req.method;
        match *meth {
            Method::GET => {
                let rec = m
                    .data
                    .get(obj, id)
                    .filter(|r| !store::is_deleted(r))
                    .ok_or_else(ApiError::not_found)?;
                let fields = match req.param("fields") {
                    Some(list) => {
                        let mut out = Vec::new();
                        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                            out.push(obj.field(name).ok_or_else(|| {
                                ApiError::new(
                                    StatusCode::BAD_REQUEST,
                                    "INVALID_FIELD",
                                    format!(
                                        "No such column '{name}' on sobject of type {}",
                                        obj.name
                                    ),
                                )
                            })?);
                        }
                        Some(out)
                    }
                    None => None,
                };
                Ok(Resp::json(
                    StatusCode::OK,
                    store::render(obj, rec, fields.as_deref(), &ctx.version),
                ))
            }
            Method::PATCH => {
                let body = json_body(req)?;
                let body = object_body(&body)?;
                if m.data.get(obj, id).is_none() {
                    return Err(ApiError::not_found());
                }
                Self::check_lock(m, id)?;
                m.data.update(&self.0.schema, obj, id, body, &ctx.write())?;
                Ok(Resp::empty(StatusCode::NO_CONTENT))
            }
            Method::DELETE => {
                if m.data.get(obj, id).is_none() {
                    return Err(ApiError::not_found());
                }
                Self::check_lock(m, id)?;
                m.data.delete(obj, id, &ctx.write())?;
                Ok(Resp::empty(StatusCode::NO_CONTENT))
            }
            _ => Err(method_not_allowed(meth, "GET,HEAD,PATCH,DELETE")),
        }
    }

    /// Upsert of one record: (status, body, id).
    #[allow(clippy::too_many_arguments)]
    fn upsert_one(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        obj: &ObjectDef,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        matches: &[String],
        update_only: bool,
    ) -> Result<(StatusCode, Value, String), ApiError> {
        let mut body = body.clone();
        body.retain(|k, _| !k.eq_ignore_ascii_case(field));
        match matches {
            [] if update_only || field == "Id" => Err(ApiError::not_found()),
            [] => {
                body.insert(field.to_string(), Value::String(value.to_string()));
                let id = m.data.create(&self.0.schema, obj, &body, &ctx.write())?;
                Ok((
                    StatusCode::CREATED,
                    json!({"id": id, "success": true, "errors": [], "created": true}),
                    id,
                ))
            }
            [one] => {
                Self::check_lock(m, one)?;
                m.data
                    .update(&self.0.schema, obj, one, &body, &ctx.write())?;
                if ctx.major() < 46 {
                    Ok((StatusCode::NO_CONTENT, Value::Null, one.clone()))
                } else {
                    Ok((
                        StatusCode::OK,
                        json!({"id": one, "success": true, "errors": [], "created": false}),
                        one.clone(),
                    ))
                }
            }
            many => Ok((
                StatusCode::MULTIPLE_CHOICES,
                multiple(ctx, obj, many),
                String::new(),
            )),
        }
    }

    fn limits(&self, m: &Mutable) -> Value {
        let remaining = m.max.saturating_sub(m.used);
        json!({
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DailyApiRequests": {"Max": m.max, "Remaining": remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - m.jobs.len().min(10000)},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "HourlyTimeBasedWorkflow": {"Max": 50, "Remaining": 50},
            "SingleEmail": {"Max": 15, "Remaining": 15},
        })
    }

    // ------------------------------------------------------------ query

    fn query(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        soql_text: &str,
        all: bool,
        batch: usize,
    ) -> Result<Resp, ApiError> {
        let parsed = crate::soql::parse(soql_text).map_err(|e| store::malformed(soql_text, &e))?;
        let out = store::run_query(
            &self.0.schema,
            &m.data,
            &parsed,
            soql_text,
            all,
            &ctx.version,
            Utc::now().date_naive(),
        )?;
        if matches!(parsed.select, crate::soql::Select::Count) {
            return Ok(Resp::json(
                StatusCode::OK,
                json!({"totalSize": out.total, "done": true, "records": []}),
            ));
        }
        let rows = Arc::new(out.rows);
        let total = out.total;
        Ok(Resp::json(
            StatusCode::OK,
            self.page(
                m,
                ctx,
                if all { "queryAll" } else { "query" },
                None,
                Cursor { rows, total, batch },
                0,
            ),
        ))
    }

    /// One page of a result set; opens (or keeps using) a cursor when more rows remain.
    /// Like Salesforce, at most [`MAX_OPEN_CURSORS`] cursors stay open; opening another closes the
    /// oldest (its `nextRecordsUrl` then answers `INVALID_QUERY_LOCATOR`).
    fn page(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        kind: &str,
        cursor_id: Option<&str>,
        cursor: Cursor,
        start: usize,
    ) -> Value {
        let rows = cursor.rows.clone();
        let end = (start + cursor.batch).min(rows.len());
        let records: Vec<Value> = rows.get(start..end).unwrap_or(&[]).to_vec();
        let mut out = Map::new();
        out.insert("totalSize".into(), json!(cursor.total));
        out.insert("done".into(), json!(end >= rows.len()));
        if end < rows.len() {
            let id = match cursor_id {
                Some(id) => id.to_string(),
                None => {
                    m.seq += 1;
                    let id = ids::make_id("01g", m.seq);
                    if m.cursors.len() >= MAX_OPEN_CURSORS {
                        m.cursors.shift_remove_index(0);
                    }
                    m.cursors.insert(id.clone(), cursor);
                    id
                }
            };
            out.insert(
                "nextRecordsUrl".into(),
                json!(format!("/services/data/v{}/{kind}/{id}-{end}", ctx.version)),
            );
        }
        out.insert("records".into(), Value::Array(records));
        Value::Object(out)
    }

    fn query_more(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        kind: &str,
        loc: &str,
    ) -> Result<Resp, ApiError> {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY_LOCATOR",
                "invalid query locator",
            )
        };
        let (cid, off) = loc.split_once('-').ok_or_else(invalid)?;
        let off: usize = off.parse().map_err(|_| invalid())?;
        let cursor = m.cursors.get(cid).cloned().ok_or_else(invalid)?;
        if off > cursor.rows.len() {
            return Err(invalid());
        }
        Ok(Resp::json(
            StatusCode::OK,
            self.page(m, ctx, kind, Some(cid), cursor, off),
        ))
    }

    // ------------------------------------------------------------ composite

    fn composite(&self, m: &mut Mutable, ctx: &Ctx, req: &Req) -> Result<Resp, ApiError> {
        let body = json_body(req)?;
        let all_or_none = body
            .get("allOrNone")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let subs = body
            .get("compositeRequest")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "Missing required field compositeRequest",
                )
            })?;
        if subs.len() > 25 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "LIMIT_EXCEEDED",
                "Composite request subrequest limit exceeded: a composite request can contain at most 25 subrequests",
            ));
        }
        let snapshot = m.data.clone();
        let mut refs: HashMap<String, Value> = HashMap::new();
        let mut failed = false;
        let mut out = Vec::new();
        for sub in subs {
            let ref_id = sub
                .get("referenceId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if failed && all_or_none {
                out.push(json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref_id}));
                continue;
            }
            let method = sub.get("method").and_then(Value::as_str).unwrap_or("GET");
            let url = sub.get("url").and_then(Value::as_str).unwrap_or("");
            let url = match substitute(url, &refs) {
                Ok(u) => u,
                Err(missing) => {
                    failed = true;
                    out.push(halted_ref(&ref_id, &missing));
                    continue;
                }
            };
            let body_value = match sub.get("body").map(|b| substitute_json(b, &refs)) {
                Some(Ok(v)) => Some(v),
                Some(Err(missing)) => {
                    failed = true;
                    out.push(halted_ref(&ref_id, &missing));
                    continue;
                }
                None => None,
            };
            let (path, query) = match url.split_once('?') {
                Some((p, q)) => (
                    p.to_string(),
                    serde_urlencoded::from_str(q).unwrap_or_default(),
                ),
                None => (url.to_string(), vec![]),
            };
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(h) = sub.get("httpHeaders").and_then(Value::as_object) {
                for (k, v) in h {
                    if let (Ok(name), Some(Ok(val))) = (
                        header::HeaderName::from_bytes(k.as_bytes()),
                        v.as_str().map(HeaderValue::from_str),
                    ) {
                        headers.insert(name, val);
                    }
                }
            }
            let sub_req = Req {
                method,
                path: path.clone(),
                query,
                headers,
                body: body_value
                    .map(|v| Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
                    .unwrap_or_default(),
                base_url: req.base_url.clone(),
            };
            let resp = match path.trim_end_matches('/').strip_prefix("/services/data/") {
                Some(rest) => {
                    let mut segs: Vec<String> = rest
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(percent_decode)
                        .collect();
                    let v = if segs.is_empty() {
                        String::new()
                    } else {
                        segs.remove(0)
                    };
                    match parse_version(&v) {
                        Some(version) => {
                            let sub_ctx = Ctx {
                                version,
                                user_id: ctx.user_id.clone(),
                            };
                            self.dispatch(m, &sub_ctx, &sub_req, &segs)
                                .unwrap_or_else(Resp::from)
                        }
                        None => ApiError::not_found().into(),
                    }
                }
                None => ApiError::not_found().into(),
            };
            let body_json = resp.body_json();
            if resp.status.as_u16() >= 400 {
                failed = true;
            } else {
                refs.insert(ref_id.clone(), body_json.clone());
            }
            let headers: Map<String, Value> = resp
                .headers
                .iter()
                .filter(|(k, _)| k == "Location")
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            out.push(json!({"body": if matches!(resp.body, RespBody::Empty) { Value::Null } else { body_json }, "httpHeaders": headers, "httpStatusCode": resp.status.as_u16(), "referenceId": ref_id}));
        }
        if failed && all_or_none {
            m.data = snapshot;
            for item in out.iter_mut() {
                if item
                    .get("httpStatusCode")
                    .and_then(Value::as_u64)
                    .is_some_and(|s| s < 400)
                {
                    *item = json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": item.get("referenceId").cloned().unwrap_or(Value::Null)});
                }
            }
        }
        Ok(Resp::json(
            StatusCode::OK,
            json!({"compositeResponse": out}),
        ))
    }

    // ------------------------------------------------------------ collections

    fn collections(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        upsert: Option<(&str, &str)>,
    ) -> Result<Resp, ApiError> {
        let meth = req.method.clone();
        if meth == Method::DELETE && upsert.is_none() {
            let ids_param = req.param("ids").unwrap_or("");
            let all_or_none = req
                .param("allOrNone")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let list: Vec<String> = ids_param
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            check_count(list.len())?;
            let snapshot = m.data.clone();
            let mut results = Vec::new();
            for id in &list {
                let r = (|| {
                    let (obj, _) = m.data.get_any(&self.0.schema, id).ok_or_else(|| {
                        ApiError::bad("MALFORMED_ID", format!("malformed id {id}"), vec![])
                    })?;
                    let obj = obj.clone();
                    Self::check_lock(m, id)?;
                    m.data.delete(&obj, id, &ctx.write())?;
                    Ok::<_, ApiError>(ids::to_18(id).unwrap_or_default())
                })();
                results.push(
                    r.map(|id| json!({"id": id, "success": true, "errors": []}))
                        .map_err(|e| (id.clone(), e)),
                );
            }
            return Ok(Resp::json(
                StatusCode::OK,
                finish_collection(m, snapshot, results, all_or_none, true),
            ));
        }
        let expected = match upsert {
            Some(_) => Method::PATCH,
            None if meth == Method::POST || meth == Method::PATCH => meth.clone(),
            None => return Err(method_not_allowed(&meth, "GET,POST,PATCH,DELETE")),
        };
        if meth != expected {
            return Err(method_not_allowed(&meth, "PATCH"));
        }
        let body = json_body(req)?;
        let all_or_none = body
            .get("allOrNone")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let records = body
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "Cannot deserialize instance of records: expected a JSON array",
                )
            })?;
        check_count(records.len())?;
        let upsert_target = match upsert {
            Some((o, f)) => {
                let obj = self.object(o)?;
                let field = obj.field(f).filter(|fd| fd.external_id || fd.id_lookup).ok_or_else(|| {
                    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("Provided external ID field does not exist or is not accessible: {f}"))
                })?;
                Some((obj.clone(), field.clone()))
            }
            None => None,
        };
        let snapshot = m.data.clone();
        let mut results = Vec::new();
        for rec in records {
            let r = (|| -> Result<Value, ApiError> {
                let map = rec.as_object().ok_or_else(|| {
                    ApiError::bad("JSON_PARSER_ERROR", "record is not an object", vec![])
                })?;
                let type_name = map
                    .get("attributes")
                    .and_then(|a| a.get("type"))
                    .and_then(Value::as_str);
                let Some(type_name) =
                    type_name.or(upsert_target.as_ref().map(|(o, _)| o.name.as_str()))
                else {
                    return Err(ApiError::bad(
                        "INVALID_TYPE",
                        "Must send a concrete entity type.",
                        vec![],
                    ));
                };
                let obj = self.0.schema.object(type_name).ok_or_else(|| {
                    ApiError::bad(
                        "INVALID_TYPE",
                        format!("sObject type '{type_name}' is not supported."),
                        vec![],
                    )
                })?;
                if let Some((uo, field)) = &upsert_target {
                    if uo.name != obj.name {
                        return Err(ApiError::bad(
                            "INVALID_TYPE",
                            format!("The record type {} does not match {}", obj.name, uo.name),
                            vec![],
                        ));
                    }
                    let key = map
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&field.name))
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Null);
                    if field.name == "Id" && key.is_null() {
                        let id = m.data.create(&self.0.schema, obj, map, &ctx.write())?;
                        return Ok(
                            json!({"id": id, "success": true, "errors": [], "created": true}),
                        );
                    }
                    let key = match key {
                        Value::String(s) => s,
                        Value::Null => {
                            return Err(ApiError::bad(
                                "MISSING_ARGUMENT",
                                format!("{} not specified", field.name),
                                vec![],
                            ))
                        }
                        other => other.to_string(),
                    };
                    let matches = m.data.find_by(obj, field, &key);
                    if matches.len() > 1 {
                        return Err(ApiError::bad(
                            "DUPLICATE_EXTERNAL_ID",
                            format!(
                                "{}: more than one record found for external id field: {}",
                                field.name,
                                matches.join(", ")
                            ),
                            vec![field.name.clone()],
                        ));
                    }
                    let (_, v, _) =
                        self.upsert_one(m, ctx, obj, &field.name, &key, map, &matches, false)?;
                    return Ok(v);
                }
                if expected == Method::POST {
                    if id_field(map).is_some_and(|v| !v.is_null()) {
                        return Err(ApiError::bad(
                            "INVALID_FIELD",
                            "cannot specify Id in an insert call",
                            vec!["Id".into()],
                        ));
                    }
                    let id = m.data.create(&self.0.schema, obj, map, &ctx.write())?;
                    Ok(json!({"id": id, "success": true, "errors": []}))
                } else {
                    let id = id_field(map).and_then(Value::as_str).ok_or_else(|| {
                        ApiError::bad(
                            "MISSING_ARGUMENT",
                            "Id not specified in an update call",
                            vec![],
                        )
                    })?;
                    let id18 = ids::to_18(id).ok_or_else(|| {
                        ApiError::bad(
                            "MALFORMED_ID",
                            format!("{} ID: id value of incorrect type: {id}", obj.label),
                            vec!["Id".into()],
                        )
                    })?;
                    if m.data.get(obj, &id18).is_none() {
                        return Err(ApiError::bad(
                            "INVALID_CROSS_REFERENCE_KEY",
                            "invalid cross reference id",
                            vec![],
                        ));
                    }
                    Self::check_lock(m, &id18)?;
                    m.data
                        .update(&self.0.schema, obj, &id18, map, &ctx.write())?;
                    Ok(json!({"id": id18, "success": true, "errors": []}))
                }
            })();
            let id_hint = rec
                .as_object()
                .and_then(id_field)
                .and_then(Value::as_str)
                .and_then(ids::to_18)
                .unwrap_or_default();
            results.push(r.map_err(|e| (id_hint, e)));
            if all_or_none && results.last().is_some_and(Result::is_err) {
                // keep going to report every record's own error, like Salesforce does
            }
        }
        Ok(Resp::json(
            StatusCode::OK,
            finish_collection(
                m,
                snapshot,
                results,
                all_or_none,
                expected != Method::POST && upsert.is_none(),
            ),
        ))
    }

    fn collections_retrieve(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        o: &str,
    ) -> Result<Resp, ApiError> {
        let obj = self.object(o)?;
        let list: Vec<&str> = req
            .param("ids")
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        check_count(list.len())?;
        let fields_param = req.param("fields").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MISSING_ARGUMENT",
                "fields parameter is required",
            )
        })?;
        let mut fields = Vec::new();
        for name in fields_param.split(',').map(str::trim) {
            fields.push(obj.field(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", obj.name),
                )
            })?);
        }
        let out: Vec<Value> = list
            .iter()
            .map(|id| {
                m.data
                    .get(obj, id)
                    .filter(|r| !store::is_deleted(r))
                    .map(|r| store::render(obj, r, Some(&fields), &ctx.version))
                    .unwrap_or(Value::Null)
            })
            .collect();
        Ok(Resp::json(StatusCode::OK, Value::Array(out)))
    }

    // ------------------------------------------------------------ bulk 2.0 query

    fn job_create_or_list(&self, m: &mut Mutable, ctx: &Ctx, req: &Req) -> Result<Resp, ApiError> {
        match req.method {
            Method::GET => {
                let records: Vec<Value> = m
                    .jobs
                    .values()
                    .map(|j| Value::Object(j.info.clone()))
                    .collect();
                Ok(Resp::json(
                    StatusCode::OK,
                    json!({"done": true, "records": records, "nextRecordsUrl": null}),
                ))
            }
            Method::POST => {
                let body = json_body(req)?;
                let op = body.get("operation").and_then(Value::as_str).unwrap_or("");
                if op != "query" && op != "queryAll" {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOB",
                        format!(
                            "Invalid operation: '{op}'. Valid operations are query and queryAll."
                        ),
                    ));
                }
                let soql_text = body.get("query").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOB",
                        "The query field is required.",
                    )
                })?;
                let parsed =
                    crate::soql::parse(soql_text).map_err(|e| store::malformed(soql_text, &e))?;
                let out = store::run_query(
                    &self.0.schema,
                    &m.data,
                    &parsed,
                    soql_text,
                    op == "queryAll",
                    &ctx.version,
                    Utc::now().date_naive(),
                )?;
                m.seq += 1;
                let id = ids::make_id("750", m.seq);
                let now = store::sf_datetime(Utc::now());
                let info = json!({
                    "id": id, "operation": op, "object": out.object, "createdById": ctx.user_id,
                    "createdDate": now, "systemModstamp": now, "state": "UploadComplete",
                    "concurrencyMode": "Parallel", "contentType": "CSV",
                    "apiVersion": ctx.version.parse::<f64>().unwrap_or(66.0), "lineEnding": "LF", "columnDelimiter": "COMMA",
                });
                let Value::Object(info) = info else {
                    return Err(ApiError::not_found());
                };
                let total = out.total;
                m.jobs.insert(
                    id.clone(),
                    Job {
                        info: info.clone(),
                        columns: out.columns,
                        rows: out.rows,
                    },
                );
                let mut done = info.clone();
                done.insert("state".into(), json!("JobComplete"));
                done.insert("numberRecordsProcessed".into(), json!(total));
                done.insert("retries".into(), json!(0));
                done.insert("totalProcessingTime".into(), json!(1));
                if let Some(j) = m.jobs.get_mut(&id) {
                    j.info = done;
                }
                Ok(Resp::json(StatusCode::OK, Value::Object(info)))
            }
            _ => Err(method_not_allowed(&req.method, "GET,POST")),
        }
    }

    fn job_op(&self, m: &mut Mutable, _ctx: &Ctx, req: &Req, id: &str) -> Result<Resp, ApiError> {
        let id18 = ids::to_18(id).unwrap_or_default();
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        };
        match req.method {
            Method::GET => m
                .jobs
                .get(&id18)
                .map(|j| Resp::json(StatusCode::OK, Value::Object(j.info.clone())))
                .ok_or_else(not_found),
            Method::PATCH => {
                let body = json_body(req)?;
                let job = m.jobs.get_mut(&id18).ok_or_else(not_found)?;
                if body.get("state").and_then(Value::as_str) != Some("Aborted") {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOBSTATE",
                        "Invalid state transition",
                    ));
                }
                if job.info.get("state").and_then(Value::as_str) == Some("JobComplete") {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOBSTATE",
                        "Job is already complete",
                    ));
                }
                job.info.insert("state".into(), json!("Aborted"));
                Ok(Resp::json(StatusCode::OK, Value::Object(job.info.clone())))
            }
            Method::DELETE => m
                .jobs
                .shift_remove(&id18)
                .map(|_| Resp::empty(StatusCode::NO_CONTENT))
                .ok_or_else(not_found),
            _ => Err(method_not_allowed(&req.method, "GET,PATCH,DELETE")),
        }
    }

    fn job_results(&self, m: &mut Mutable, req: &Req, id: &str) -> Result<Resp, ApiError> {
        let id18 = ids::to_18(id).unwrap_or_default();
        let job = m.jobs.get(&id18).ok_or_else(ApiError::not_found)?;
        let start: usize = match req.param("locator") {
            Some(l) if !l.is_empty() && l != "null" => decode_locator(l).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALIDLOCATOR",
                    format!("Invalid locator: {l}"),
                )
            })?,
            _ => 0,
        };
        let max: usize = req
            .param("maxRecords")
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(10_000);
        let end = (start + max).min(job.rows.len());
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let header_row = if job.columns.is_empty() {
            vec!["expr0".to_string()]
        } else {
            job.columns.clone()
        };
        let _ = w.write_record(&header_row);
        for row in job.rows.get(start..end).unwrap_or(&[]) {
            let _ = w.write_record(store::csv_cells(row, &job.columns));
        }
        let text = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        let locator = if end < job.rows.len() {
            encode_locator(end)
        } else {
            "null".to_string()
        };
        Ok(Resp {
            status: StatusCode::OK,
            body: RespBody::Csv(text),
            headers: vec![],
        }
        .header("Sforce-Locator", locator)
        .header("Sforce-NumberOfRecords", (end - start).to_string()))
    }
}

fn encode_locator(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{n}"))
}

fn decode_locator(s: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

fn halted_ref(ref_id: &str, missing: &str) -> Value {
    let base = missing.split('.').next().unwrap_or("");
    json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": format!("Invalid reference specified. No value for {missing} found in {base}. Provided referenceId ('{base}') must match a referenceId of a previous successful subrequest.")}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref_id})
}

fn check_count(n: usize) -> Result<(), ApiError> {
    if n > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok(())
}

/// Per-record results; with allOrNone and any failure, rolls back and marks the others.
fn finish_collection(
    m: &mut Mutable,
    snapshot: Data,
    results: Vec<Result<Value, (String, ApiError)>>,
    all_or_none: bool,
    include_id_on_error: bool,
) -> Value {
    let any_failed = results.iter().any(Result::is_err);
    if all_or_none && any_failed {
        m.data = snapshot;
    }
    Value::Array(
        results
            .into_iter()
            .map(|r| match r {
                Ok(v) if all_or_none && any_failed => {
                    let mut o = Map::new();
                    if let Some(id) = v.get("id").filter(|_| include_id_on_error) {
                        o.insert("id".into(), id.clone());
                    }
                    o.insert("success".into(), json!(false));
                    o.insert(
                        "errors".into(),
                        json!([{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []}]),
                    );
                    Value::Object(o)
                }
                Ok(v) => v,
                Err((id, e)) => {
                    let mut o = Map::new();
                    if include_id_on_error && !id.is_empty() {
                        o.insert("id".into(), json!(id));
                    }
                    o.insert("success".into(), json!(false));
                    o.insert("errors".into(), e.collection_errors());
                    Value::Object(o)
                }
            })
            .collect(),
    )
}

fn multiple(ctx: &Ctx, obj: &ObjectDef, ids_: &[String]) -> Value {
    Value::Array(
        ids_.iter()
            .map(|id| {
                json!(format!(
                    "/services/data/v{}/sobjects/{}/{id}",
                    ctx.version, obj.name
                ))
            })
            .collect(),
    )
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| {
            s.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
        })
        .map(|n| n.clamp(200, 2000))
        .unwrap_or(2000)
}

fn resources(version: &str) -> Value {
    let b = format!("/services/data/v{version}");
    json!({
        "tooling": format!("{b}/tooling"), "metadata": format!("{b}/metadata"), "eclair": format!("{b}/eclair"),
        "folders": format!("{b}/folders"), "prechatForms": format!("{b}/prechatForms"),
        "jobs": format!("{b}/jobs"), "composite": format!("{b}/composite"),
        "query": format!("{b}/query"), "queryAll": format!("{b}/queryAll"),
        "limits": format!("{b}/limits"), "sobjects": format!("{b}/sobjects"),
        "search": format!("{b}/search"), "recent": format!("{b}/recent"),
    })
}

/// Replaces `@{ref.path}` in a string; Err(reference) when a reference cannot be resolved.
fn substitute(s: &str, refs: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("@{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let expr = &after[..end];
        let v = lookup_ref(expr, refs).ok_or_else(|| expr.to_string())?;
        match v {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(v: &Value, refs: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            // A string that is exactly one reference keeps the referenced JSON type.
            if s.starts_with("@{") && s.ends_with('}') && s.matches("@{").count() == 1 {
                lookup_ref(&s[2..s.len() - 1], refs).ok_or_else(|| s[2..s.len() - 1].to_string())?
            } else {
                Value::String(substitute(s, refs)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_json(x, refs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), substitute_json(x, refs)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn lookup_ref(expr: &str, refs: &HashMap<String, Value>) -> Option<Value> {
    let mut parts = expr.split('.');
    let mut cur = refs.get(parts.next()?)?.clone();
    for p in parts {
        let (name, idx) = match p.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (p, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?.clone();
        }
        if let Some(i) = idx {
            cur = cur.get(i)?.clone();
        }
    }
    Some(cur)
}

// ------------------------------------------------------------ admin API

fn admin(h: &MockHandle, req: &Req) -> Resp {
    let path = req.path.trim_end_matches('/');
    let ok = || Resp::json(StatusCode::OK, json!({"ok": true}));
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match (req.method.clone(), path) {
        (Method::POST, "/__mock/reset") => {
            h.reset();
            ok()
        }
        (Method::GET, "/__mock/state") => {
            let (used, max) = h.api_usage();
            let m = h.lock();
            let sessions = m.sessions.len();
            drop(m);
            let mut dump = h.dump();
            if let Some(o) = req.param("object") {
                dump =
                    h.0.schema
                        .object(o)
                        .and_then(|obj| dump.get(&obj.name).cloned())
                        .unwrap_or(Value::Null);
                return Resp::json(StatusCode::OK, dump);
            }
            Resp::json(
                StatusCode::OK,
                json!({"apiUsage": {"used": used, "max": max}, "sessions": sessions, "records": dump}),
            )
        }
        (Method::GET, "/__mock/requests") => Resp::json(StatusCode::OK, json!(h.requests())),
        (Method::DELETE, "/__mock/requests") => {
            h.lock().journal.clear();
            ok()
        }
        (Method::GET, "/__mock/faults") => {
            Resp::json(StatusCode::OK, json!(h.lock().faults.clone()))
        }
        (Method::POST, "/__mock/faults") => {
            let list: Result<Vec<Fault>, _> = if body.is_array() {
                serde_json::from_value(body)
            } else {
                serde_json::from_value(body).map(|f| vec![f])
            };
            match list {
                Ok(fs) => {
                    for f in fs {
                        h.add_fault(f);
                    }
                    ok()
                }
                Err(e) => Resp::json(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("invalid fault: {e}")}),
                ),
            }
        }
        (Method::DELETE, "/__mock/faults") => {
            h.clear_faults();
            ok()
        }
        (Method::POST, "/__mock/sessions/expire") => {
            h.expire_sessions();
            ok()
        }
        (Method::POST, "/__mock/limits") => {
            if body
                .get("exhaust")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                h.exhaust_daily_limit();
            } else {
                h.set_api_usage(
                    body.get("used").and_then(Value::as_u64),
                    body.get("max").and_then(Value::as_u64),
                );
            }
            let (used, max) = h.api_usage();
            Resp::json(StatusCode::OK, json!({"used": used, "max": max}))
        }
        (Method::POST, "/__mock/limits/exhaust") => {
            h.exhaust_daily_limit();
            ok()
        }
        (Method::POST, "/__mock/locks") => {
            let list: Vec<String> = body
                .get("ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            h.lock_rows(list);
            ok()
        }
        (Method::DELETE, "/__mock/locks") => {
            h.unlock_rows();
            ok()
        }
        (Method::POST, "/__mock/refresh-tokens") => Resp::json(
            StatusCode::OK,
            json!({"refresh_token": h.issue_refresh_token()}),
        ),
        _ => Resp::json(
            StatusCode::NOT_FOUND,
            json!({"error": format!("unknown admin endpoint {} {path}", req.method)}),
        ),
    }
}

pub(crate) fn now_millis() -> String {
    let t: DateTime<Utc> = Utc::now();
    t.timestamp_millis().to_string()
}

/// The record's `Id` in a request body; field names are case-insensitive, as on Salesforce
/// (jsforce 3 sends `"id"` in sObject Collections updates).
fn id_field(map: &serde_json::Map<String, Value>) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
        .map(|(_, v)| v)
}
