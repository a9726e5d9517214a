//! The HTTP surface of crmsync: one axum [`Router`] shared by `crmsync serve` and the Lambda.
//!
//! * `POST /webhooks/monday` — Monday webhook receiver: body limit (413), authentication (app JWT
//!   signed with `MONDAY_SIGNING_SECRET`, raw token in `Authorization`, `exp` and `aud` checked;
//!   or `MONDAY_WEBHOOK_TOKEN` in the URL query `?token=`; unauthenticated only when explicitly
//!   allowed) (401), challenge echo, malformed JSON (400 with a clear message), durable receipt
//!   keyed by `triggerUuid` (a duplicate is a no-op that still answers 200), then inline
//!   processing of the item within [`ReceiverConfig::inline_budget`].
//! * `GET /healthz` — 200 `{"status":"ok"}` when the store answers, 503 otherwise.
//! * `GET /status` — token-protected (`CRMSYNC_STATUS_TOKEN` as `Authorization: Bearer …` or
//!   `?token=`): an HTML page for people, or JSON (`Accept: application/json` or `?format=json`).
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

mod status;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use crmsync_monday::webhook::{
    challenge_response, parse_body, verify_shared_token, AuthError, WebhookBody, WebhookParseError,
    WebhookVerifier,
};
use crmsync_store::{EventStatus, InsertOutcome, NewEvent};
use crmsync_sync::Engine;
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use status::{DeadLetterRow, FailureRow, LatencyView, StatusCountsView, StatusReport};

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
            inline_budget: Duration::from_secs(5),
            pending_policy: PendingPolicy::AckWhenStored,
            status_token: None,
        }
    }
}

impl ReceiverConfig {
    /// From the process configuration: authentication from the `MONDAY_*` settings (see
    /// [`WebhookAuth::from_settings`]) and `CRMSYNC_STATUS_TOKEN`; other fields default.
    pub fn from_config(config: &crmsync_config::Config, audiences: Vec<String>) -> ReceiverConfig {
        let mut rc = ReceiverConfig::new(WebhookAuth::from_settings(&config.monday, audiences));
        rc.status_token = config.status_token.clone();
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
        Ok(AppState {
            engine,
            config: Arc::new(config),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The router: `POST /webhooks/monday`, `GET /healthz`, `GET /status`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/monday", post(monday_webhook))
        .route("/healthz", get(healthz))
        .route("/status", get(status::status))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn monday_webhook(
    State(st): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let max = st.config.max_body_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {max} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max as u64 {
            return too_large();
        }
    }
    let bytes: Bytes = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(e) => {
            let is_limit = std::error::Error::source(&e)
                .map(|s| s.to_string().contains("length limit"))
                .unwrap_or(false)
                || e.to_string().contains("length limit");
            if is_limit {
                return too_large();
            }
            return error(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body: {e}"),
            );
        }
    };
    if let Err(e) = st
        .config
        .auth
        .check(&headers, &uri, query.get("token").map(String::as_str))
    {
        tracing::warn!(reason = %e, "webhook rejected: authentication failed");
        return error(StatusCode::UNAUTHORIZED, format!("unauthorized: {e}"));
    }
    let event = match parse_body(&bytes) {
        Ok(WebhookBody::Challenge(c)) => {
            tracing::info!("answered Monday's webhook challenge");
            return (StatusCode::OK, Json(challenge_response(&c))).into_response();
        }
        Ok(WebhookBody::Event(ev)) => ev,
        Err(WebhookParseError::NotJson(m)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("request body is not valid JSON: {m}"),
            )
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a Monday webhook: {e}"),
            )
        }
    };
    let Some(board_id) = event.board_id().and_then(|b| b.trim().parse::<i64>().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "not a Monday webhook: the event has no numeric boardId",
        );
    };
    let item_id = event
        .item_id()
        .and_then(|i| i.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let trigger_uuid = match event.trigger_uuid() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            let digest = Sha256::digest(&bytes);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    };
    let payload = String::from_utf8_lossy(&bytes).into_owned();
    let new = NewEvent {
        trigger_uuid: trigger_uuid.clone(),
        board_id,
        item_id,
        event_type: event.meta.event_type.clone(),
        payload,
    };
    let store = st.engine.store().clone();
    let inserted = match store.insert_event_if_new(&new).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, %trigger_uuid, "could not store the webhook; answering 503 so Monday redelivers");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event store is unavailable; the event was not recorded (Monday will redeliver it)",
            );
        }
    };
    let duplicate = matches!(inserted, InsertOutcome::Duplicate(_));
    let event_id = inserted.event_id();
    tracing::info!(%event_id, board_id, item_id, event_type = %new.event_type, duplicate, "webhook stored");

    let engine = st.engine.clone();
    let task =
        tokio::spawn(async move { engine.process_item(board_id, item_id, Some(event_id)).await });
    match tokio::time::timeout(st.config.inline_budget, task).await {
        Ok(Ok(Ok(_))) => {}
        Ok(Ok(Err(e))) => {
            tracing::warn!(%event_id, error = %e, "inline processing failed; the event stays stored")
        }
        Ok(Err(e)) => tracing::error!(%event_id, error = %e, "inline processing task failed"),
        Err(_) => {
            tracing::info!(%event_id, "inline budget used up; processing continues in the background")
        }
    }
    let status = match store.get_event(event_id).await {
        Ok(Some(ev)) => Some(ev.status),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(%event_id, error = %e, "could not read the event back");
            None
        }
    };
    let open = status.is_none_or(EventStatus::is_open);
    let label = status.map(|s| s.as_str()).unwrap_or("stored");
    let body = json!({ "event_id": event_id.0, "duplicate": duplicate, "status": label });
    if open && st.config.pending_policy == PendingPolicy::RedeliverUntilApplied {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn healthz(State(st): State<AppState>) -> Response {
    match st.engine.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(
                json!({ "status": "ok", "store": "ok", "paused_until": st.engine.paused_until() }),
            ),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "store": "unreachable" })),
            )
                .into_response()
        }
    }
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
