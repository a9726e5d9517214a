//! The HTTP surface of crmsync: one axum [`Router`] shared by `crmsync serve` and the Lambda.
//!
//! * `POST /webhooks/monday` — Monday webhook receiver: body limit (413), authentication (app JWT
//!   signed with `MONDAY_SIGNING_SECRET`, raw token in `Authorization`, `exp` and `aud` checked;
//!   or `MONDAY_WEBHOOK_TOKEN` in the URL query `?token=`; unauthenticated only when explicitly
//!   allowed) (401), challenge echo, malformed JSON (400 with a clear message), durable receipt
//!   keyed by `triggerUuid` (a duplicate is a no-op that still answers 200), then inline
//!   processing of the item within [`ReceiverConfig::inline_budget`].
//! * `GET /healthz` — 200 `{"status":"ok"}` when the store answers and (in a process running the
//!   worker) every worker loop is alive; 503 otherwise (`{"status":"unhealthy","worker":"…"}` for
//!   a dead or stalled worker loop).
//! * `GET /status`, `/status/search`, `/status/items/{board}/{item}`, `/status/boards/{board}` —
//!   the status pages behind `CRMSYNC_STATUS_TOKEN` (a sign-in form that sets a session cookie, or
//!   `Authorization: Bearer …` for scripts): HTML for people, JSON for machines
//!   (`Accept: application/json` or `?format=json`). See the `pages` module.
//!
//! ## When does the receiver answer 200? (nothing is lost)
//! The event is stored **before** any answer. If the store is down the answer is 503 and Monday
//! redelivers (every minute, for 30 minutes); the redelivery is stored then. After storing, the
//! receiver processes the item's open events inline (in a spawned task, so a slow Salesforce call
//! is never cancelled half-way) and waits at most `inline_budget`. What it answers when the event
//! is still open after that (transient failure being retried, item busy, paused) depends on
//! [`PendingPolicy`]:
//! * [`PendingPolicy::AckWhenStored`] (for `crmsync serve`, which runs [`crmsync_sync::Engine::run_worker`]):
//!   200 — the event is durably stored and the worker applies it when due.
//! * [`PendingPolicy::RedeliverUntilApplied`] (for a Lambda without a worker): 503 — Monday
//!   redelivers; the redelivery is a duplicate (no second row) that triggers processing again.
//!
//! Either way a duplicate delivery never applies an event twice: the event log has one row per
//! `triggerUuid`, and per-item claims settle each row once.

mod pages;
mod status;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use crmsync_monday::webhook::{
    challenge_response, verify_shared_token, AuthError, WebhookVerifier,
};
use crmsync_store::{NewRejectedDelivery, RejectReason};
use crmsync_sync::ingest::{parse_delivery, Ingest, IngestConfig, IngestError, Parsed, Rejection};
use crmsync_sync::{Engine, WorkerHealth};
use secrecy::SecretString;
use serde_json::json;

pub use status::{
    AttemptsView, DeadLetterRow, FailureRow, LatencyView, RejectionRow, StatusCountsView,
    StatusReport,
};

/// Default request body limit of `POST /webhooks/monday` (Monday's events are a few KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// How webhook requests are authenticated. At least one method must be configured, or
/// unauthenticated requests must be explicitly allowed.
#[derive(Clone, Default)]
pub struct WebhookAuth {
    signing_secret: Option<SecretString>,
    audiences: Vec<String>,
    shared_token: Option<SecretString>,
    allow_unauthenticated: bool,
}

impl fmt::Debug for WebhookAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookAuth")
            .field("jwt", &self.signing_secret.is_some())
            .field(
                "audiences",
                &self
                    .audiences
                    .iter()
                    .map(|a| crmsync_redact::mask_url(a))
                    .collect::<Vec<_>>(),
            )
            .field("shared_token", &self.shared_token.is_some())
            .field("allow_unauthenticated", &self.allow_unauthenticated)
            .finish()
    }
}

impl WebhookAuth {
    /// Nothing configured (every request is refused until a method is added).
    pub fn new() -> WebhookAuth {
        WebhookAuth::default()
    }

    /// Accept app-webhook JWTs signed with `MONDAY_SIGNING_SECRET` (HS256, `exp` checked). `aud`
    /// must be one of `audiences` (the public webhook URLs); with no audiences given, `aud` must
    /// equal the URL the request was sent to (`X-Forwarded-Proto`/`http` + `Host` + path and query).
    pub fn with_signing_secret(mut self, secret: SecretString, audiences: Vec<String>) -> Self {
        self.signing_secret = Some(secret);
        self.audiences = audiences;
        self
    }

    /// Accept requests whose URL carries `?token=MONDAY_WEBHOOK_TOKEN` (webhooks created with a
    /// personal API token carry no JWT). Compared in constant time.
    pub fn with_shared_token(mut self, token: SecretString) -> Self {
        self.shared_token = Some(token);
        self
    }

    /// Accept requests without credentials (only for local experiments; logged at startup).
    pub fn allow_unauthenticated(mut self, allow: bool) -> Self {
        self.allow_unauthenticated = allow;
        self
    }

    /// From `MONDAY_SIGNING_SECRET` (with `audiences`, the public webhook URL(s); empty = the
    /// request's own URL) and `MONDAY_WEBHOOK_TOKEN`. Unauthenticated access stays off.
    pub fn from_settings(monday: &crmsync_config::MondaySettings, audiences: Vec<String>) -> Self {
        let mut a = WebhookAuth::new();
        if let Some(s) = &monday.signing_secret {
            a = a.with_signing_secret(s.clone(), audiences);
        }
        if let Some(t) = &monday.webhook_token {
            a = a.with_shared_token(t.clone());
        }
        a
    }

    /// Whether any method is configured or unauthenticated access is allowed.
    pub fn is_usable(&self) -> bool {
        self.signing_secret.is_some() || self.shared_token.is_some() || self.allow_unauthenticated
    }

    fn check(&self, headers: &HeaderMap, uri: &Uri, token: Option<&str>) -> Result<(), AuthError> {
        let authz = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty());
        if let (Some(secret), Some(h)) = (&self.signing_secret, authz) {
            let audiences = if self.audiences.is_empty() {
                vec![request_url(headers, uri)]
            } else {
                self.audiences.clone()
            };
            return WebhookVerifier::new(secret.clone(), audiences)
                .verify_authorization(Some(h))
                .map(|_| ());
        }
        if let (Some(expected), Some(t)) = (&self.shared_token, token) {
            return verify_shared_token(expected, Some(t));
        }
        if self.allow_unauthenticated {
            return Ok(());
        }
        Err(AuthError::Missing)
    }
}

fn request_url(headers: &HeaderMap, uri: &Uri) -> String {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{proto}://{host}{pq}")
}

/// What the receiver answers when an event is stored but still open after the inline budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingPolicy {
    /// 200: a background worker ([`crmsync_sync::Engine::run_worker`]) applies it. For `crmsync serve`.
    AckWhenStored,
    /// 503: Monday redelivers, and the redelivery processes it again. For the Lambda (no worker).
    RedeliverUntilApplied,
}

/// Receiver configuration.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Webhook authentication.
    pub auth: WebhookAuth,
    /// Body limit of `POST /webhooks/monday` (413 above). Default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// How long a request waits for inline processing. Default 5 s (Monday times out at 10 s).
    pub inline_budget: Duration,
    /// Requests processed inline at once; beyond, events are left to the worker. Default 16.
    pub inline_concurrency: usize,
    /// Longest wait for the store to take an event before answering 503. Default 2 s.
    pub insert_timeout: Duration,
    /// Answer for events still open after the budget.
    pub pending_policy: PendingPolicy,
    /// `CRMSYNC_STATUS_TOKEN`; `/status` answers 404 when unset.
    pub status_token: Option<SecretString>,
}

impl ReceiverConfig {
    /// Defaults with this authentication: 256 KiB, 5 s, [`PendingPolicy::AckWhenStored`], no
    /// status token.
    pub fn new(auth: WebhookAuth) -> ReceiverConfig {
        ReceiverConfig {
            auth,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            inline_budget: IngestConfig::default().inline_budget,
            inline_concurrency: IngestConfig::default().inline_concurrency,
            insert_timeout: IngestConfig::default().insert_timeout,
            pending_policy: PendingPolicy::AckWhenStored,
            status_token: None,
        }
    }
}

impl ReceiverConfig {
    /// From the process configuration: authentication from the `MONDAY_*` settings (see
    /// [`WebhookAuth::from_settings`]), `CRMSYNC_STATUS_TOKEN` and the inline budget
    /// (`CRMSYNC_INLINE_BUDGET_MS`); other fields default.
    pub fn from_config(config: &crmsync_config::Config, audiences: Vec<String>) -> ReceiverConfig {
        let mut rc = ReceiverConfig::new(WebhookAuth::from_settings(&config.monday, audiences));
        rc.status_token = config.status_token.clone();
        rc.inline_budget = config.processing.inline_budget;
        rc
    }
}

/// Why an [`AppState`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverConfigError {
    /// No webhook authentication configured.
    #[error("no webhook authentication configured: set MONDAY_SIGNING_SECRET (app webhooks) or MONDAY_WEBHOOK_TOKEN (personal-token webhooks), or explicitly allow unauthenticated webhooks")]
    NoAuth,
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    ingest: Ingest,
    config: Arc<ReceiverConfig>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state: the engine (its store is the event log) and the receiver configuration.
    pub fn new(engine: Engine, config: ReceiverConfig) -> Result<AppState, ReceiverConfigError> {
        if !config.auth.is_usable() {
            return Err(ReceiverConfigError::NoAuth);
        }
        if config.auth.allow_unauthenticated {
            tracing::warn!("webhooks are accepted WITHOUT authentication (explicitly allowed)");
        }
        if config.status_token.is_none() {
            tracing::warn!("CRMSYNC_STATUS_TOKEN is not set: /status is disabled");
        }
        let ingest = Ingest::new(
            engine.clone(),
            IngestConfig {
                insert_timeout: config.insert_timeout,
                inline_budget: config.inline_budget,
                inline_concurrency: config.inline_concurrency,
            },
        );
        Ok(AppState {
            engine,
            ingest,
            config: Arc::new(config),
        })
    }

    /// Queue mode: stored events go to `queue` (see [`crmsync_sync::queue`]); the receiver
    /// answers 200 once the event is stored and sent, 503 when the send fails.
    pub fn with_queue(mut self, queue: Arc<dyn crmsync_sync::queue::Enqueue>) -> AppState {
        self.ingest = self.ingest.with_queue(queue);
        self
    }

    /// The ingest path (shared with the Lambda, queue consumers and replay); its
    /// [`Ingest::drain`] waits for inline work at shutdown.
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The router: `POST /webhooks/monday`, `GET /healthz`, the status pages under `/status`.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route(
            "/webhooks/monday",
            post(monday_webhook).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/healthz", get(healthz))
        .merge(pages::routes())
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Every way `POST /webhooks/monday` can fail, with its status: 4xx for the sender's mistakes,
/// 503 only when crmsync could not store the event (Monday redelivers).
#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("could not read the request body: {0}")]
    UnreadableBody(String),
    #[error("unauthorized: {0}")]
    Unauthorized(AuthError),
    #[error(transparent)]
    Rejected(Rejection),
    #[error(
        "the event store is unavailable; the event was not recorded (Monday will redeliver it)"
    )]
    StoreUnavailable,
}

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            WebhookError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::UnreadableBody(_) | WebhookError::Rejected(_) => StatusCode::BAD_REQUEST,
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl WebhookError {
    /// How a refused delivery is recorded (`None`: not the sender's mistake, nothing to record).
    fn reject_reason(&self) -> Option<RejectReason> {
        Some(match self {
            WebhookError::TooLarge(_) => RejectReason::TooLarge,
            WebhookError::UnreadableBody(_) => RejectReason::MalformedJson,
            WebhookError::Unauthorized(AuthError::Missing) => RejectReason::Unauthenticated,
            WebhookError::Unauthorized(_) => RejectReason::BadSignature,
            WebhookError::Rejected(Rejection::NotJson(_)) => RejectReason::MalformedJson,
            WebhookError::Rejected(Rejection::NotAWebhook(_)) => RejectReason::NotAWebhook,
            WebhookError::Rejected(Rejection::InvalidField { .. }) => RejectReason::InvalidField,
            WebhookError::StoreUnavailable => return None,
        })
    }
}

/// How much of an unauthenticated request's body is kept with its record.
const UNAUTHENTICATED_BODY_KEPT: usize = 4 * 1024;
/// Longest wait for the store to record a refused delivery.
const RECORD_TIMEOUT: Duration = Duration::from_millis(500);

/// Request headers safe to keep: without `Authorization`, cookies and proxy credentials, plus the
/// request path with any `?token=` masked (as a `:path` pseudo-header).
fn recordable_headers(headers: &HeaderMap, uri: &Uri) -> Vec<(String, String)> {
    let mut out = vec![(
        ":path".to_owned(),
        crmsync_redact::mask_url(&uri.to_string()),
    )];
    for (k, v) in headers {
        let name = k.as_str();
        if matches!(
            name,
            "authorization"
                | "cookie"
                | "proxy-authorization"
                | "set-cookie"
                | "x-api-key"
                | "x-auth-token"
                | "x-amz-security-token"
        ) {
            continue;
        }
        // Proxies repeat the URL (`x-original-uri`, `x-forwarded-uri`, `referer`, …): every value
        // goes through the same masking as the path.
        let value = String::from_utf8_lossy(v.as_bytes());
        out.push((name.to_owned(), crmsync_redact::mask_url(&value)));
    }
    out
}

/// Records a refused delivery (reason, headers without secrets, body) so that every delivery's
/// outcome is in the store; a store that is down only costs the record (the answer is the same).
async fn record_rejection(
    st: &AppState,
    err: &WebhookError,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) {
    let Some(reason) = err.reject_reason() else {
        return;
    };
    let body_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > body.len() as u64);
    // A stranger hammering the URL must not fill the store or hold its connections: the body of
    // an unauthenticated request is kept only in part, and recording is bounded in time.
    let keep = match err {
        WebhookError::Unauthorized(_) => body.len().min(UNAUTHENTICATED_BODY_KEPT),
        _ => body.len(),
    };
    let body_len = body_len.or((keep < body.len()).then_some(body.len() as u64));
    let rejected = NewRejectedDelivery {
        reason,
        http_status: err.status().as_u16(),
        detail: Some(err.to_string()),
        headers: recordable_headers(headers, uri),
        body: body[..keep].to_vec(),
        body_len,
    };
    let store = st.engine.store();
    match tokio::time::timeout(RECORD_TIMEOUT, store.record_rejected_delivery(&rejected)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, reason = reason.as_str(), "could not record a rejected delivery")
        }
        Err(_) => tracing::warn!(
            reason = reason.as_str(),
            "recording a rejected delivery timed out; the answer is unchanged"
        ),
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        error(self.status(), self.to_string())
    }
}

async fn monday_webhook(
    State(st): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bytes = body.as_ref().map(Bytes::clone).unwrap_or_default();
    match receive(&st, &query, &headers, &uri, body).await {
        Ok(r) => r,
        Err(e) => {
            record_rejection(&st, &e, &headers, &uri, &bytes).await;
            e.into_response()
        }
    }
}

async fn receive(
    st: &AppState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    uri: &Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, WebhookError> {
    // The body limit is axum's (`DefaultBodyLimit` on the route): a larger body is a 413 rejection.
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebhookError::TooLarge(st.config.max_body_bytes)
        } else {
            WebhookError::UnreadableBody(e.body_text())
        }
    })?;
    // Monday's URL verification is answered whatever the authentication: Monday documents the JWT
    // for app webhooks' event deliveries, not for the challenge, and echoing a challenge reveals
    // nothing. Nothing is stored for it.
    let parsed = match parse_delivery(&bytes) {
        Ok(Parsed::Challenge(c)) => {
            tracing::info!("answered Monday's webhook challenge");
            return Ok((StatusCode::OK, Json(challenge_response(&c))).into_response());
        }
        Ok(Parsed::Event(new)) => Ok(new),
        Err(r) => Err(r),
    };
    st.config
        .auth
        .check(headers, uri, query.get("token").map(String::as_str))
        .map_err(|e| {
            tracing::warn!(reason = %e, "webhook rejected: authentication failed");
            WebhookError::Unauthorized(e)
        })?;
    let new = parsed.map_err(|r| {
        tracing::warn!(reason = r.code(), error = %r, "webhook rejected: malformed delivery");
        WebhookError::Rejected(r)
    })?;
    let stored = st.ingest.store(&new).await.map_err(|e| match e {
        IngestError::Rejected(r) => {
            tracing::warn!(reason = r.code(), error = %r, "webhook rejected by the store");
            WebhookError::Rejected(r)
        }
        IngestError::StoreUnavailable(_) => {
            tracing::error!(error = %e, trigger_uuid = %new.trigger_uuid,
                "could not store the webhook; answering 503 so Monday redelivers");
            WebhookError::StoreUnavailable
        }
    })?;
    if st.ingest.queue_mode() {
        return match st.ingest.enqueue(&stored, &new.trigger_uuid).await {
            Ok(_) => Ok((
                StatusCode::OK,
                Json(json!({
                    "event_id": stored.event_id.0,
                    "duplicate": stored.duplicate,
                    "status": "queued",
                })),
            )
                .into_response()),
            Err(e) => {
                // Stored, not sent: Monday's redelivery sends it (and the scheduled drain
                // applies anything left behind).
                tracing::error!(error = %e, event_id = %stored.event_id,
                    "could not send the event to the queue; answering 503 so Monday redelivers");
                Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({
                        "event_id": stored.event_id.0,
                        "duplicate": stored.duplicate,
                        "status": "stored",
                        "error": "the queue is unavailable",
                    })),
                )
                    .into_response())
            }
        };
    }
    let receipt = st.ingest.process_inline(&stored).await;
    let body = json!({
        "event_id": stored.event_id.0,
        "duplicate": stored.duplicate,
        "status": receipt.status_label(),
    });
    if receipt.is_open() && st.config.pending_policy == PendingPolicy::RedeliverUntilApplied {
        return Ok((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response());
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

async fn healthz(State(st): State<AppState>) -> Response {
    if let Err(e) = st.engine.store().ping().await {
        tracing::error!(error = %e, "health check: store unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "store": "unreachable" })),
        )
            .into_response();
    }
    // Only a process that runs the worker reports on it (a receiver without one, like the
    // Lambda, has nothing to report).
    if let WorkerHealth::Unhealthy(reason) = st.engine.worker_health() {
        tracing::error!(worker = %reason, "health check: worker unhealthy");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "store": "ok", "worker": reason })),
        )
            .into_response();
    }
    let paused_until = match st.engine.paused_until().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "health check: could not read the pause");
            None
        }
    };
    (
        StatusCode::OK,
        Json(json!({ "status": "ok", "store": "ok", "paused_until": paused_until })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_auth_hides_a_token_in_an_audience_url() {
        let auth = WebhookAuth::new().with_signing_secret(
            SecretString::from("signing-secret"),
            vec![
                "https://sync.example.org/webhooks/monday".into(),
                "https://sync.example.org/webhooks/monday?a=1&token=s3cr%26t&b=2".into(),
            ],
        );
        let rc = ReceiverConfig::new(auth);
        let shown = format!("{rc:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("signing-secret"), "{shown}");
        assert!(
            shown.contains("https://sync.example.org/webhooks/monday?a=1&token=***&b=2"),
            "{shown}"
        );
        assert!(
            shown.contains("\"https://sync.example.org/webhooks/monday\""),
            "{shown}"
        );
    }
}
