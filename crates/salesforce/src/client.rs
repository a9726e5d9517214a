//! The client: request execution (auth, retries, limits) and the sObject operations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::{read_body_capped, transport_error, RefreshTokenCallback, Session, TokenManager};
use crate::config::SalesforceConfig;
use crate::describe::{GlobalDescribe, SObjectDescribe};
use crate::error::{ApiErrorDetail, ErrorKind, Result, SalesforceError};
use crate::limits::{parse_limit_info, ApiUsage, OrgLimits};
use crate::soql::validate_identifier;

/// A record as JSON object (field name → value).
pub type Record = serde_json::Map<String, serde_json::Value>;

/// Result of [`SalesforceClient::upsert`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertResult {
    /// Id of the created or updated record.
    pub id: String,
    /// `true` when a record was created (HTTP 201), `false` when an existing one was updated
    /// (HTTP 200).
    pub created: bool,
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Path segments below `/services/data/vXX.X/` (each segment percent-encoded).
    Api(Vec<String>),
    /// A server-provided path or URL (e.g. `nextRecordsUrl`), resolved against the instance
    /// URL and refused if it points at another origin.
    Link(String),
}

/// A request the client can (re-)send.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub target: Target,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    /// Repeating it after an ambiguous failure cannot cause a duplicate.
    pub retry_safe: bool,
    pub accept: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Req {
    pub(crate) fn new(method: Method, segments: &[&str]) -> Req {
        Req {
            method,
            target: Target::Api(segments.iter().map(|s| s.to_string()).collect()),
            query: Vec::new(),
            body: None,
            retry_safe: true,
            accept: "application/json",
            headers: Vec::new(),
        }
    }
    pub(crate) fn link(url: &str) -> Req {
        Req {
            method: Method::GET,
            target: Target::Link(url.to_string()),
            query: Vec::new(),
            body: None,
            retry_safe: true,
            accept: "application/json",
            headers: Vec::new(),
        }
    }
    pub(crate) fn query(mut self, k: &str, v: impl Into<String>) -> Req {
        self.query.push((k.to_string(), v.into()));
        self
    }
    pub(crate) fn json(mut self, body: serde_json::Value) -> Req {
        self.body = Some(body);
        self
    }
    pub(crate) fn not_retry_safe(mut self) -> Req {
        self.retry_safe = false;
        self
    }
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
    pub(crate) fn accept(mut self, accept: &'static str) -> Req {
        self.accept = accept;
        self
    }
}

/// A fully read response.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e.to_string()))
    }
    pub(crate) fn decode_error(&self, reason: impl Into<String>) -> SalesforceError {
        SalesforceError::Decode {
            method: self.method.clone(),
            path: self.path.clone(),
            status: self.status,
            reason: reason.into(),
        }
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Builder for [`SalesforceClient`].
pub struct ClientBuilder {
    config: SalesforceConfig,
    on_rotate: Option<RefreshTokenCallback>,
    session: Option<(SecretString, Url)>,
}

impl ClientBuilder {
    /// Calls `callback` with the new refresh token whenever Salesforce rotates it
    /// ([`crate::AuthMode::RefreshToken`]), so the caller can persist it.
    pub fn on_refresh_token_rotated(
        mut self,
        callback: impl Fn(&SecretString) + Send + Sync + 'static,
    ) -> Self {
        self.on_rotate = Some(Arc::new(callback));
        self
    }

    /// Starts with an existing access token for `instance_url` instead of requesting one on
    /// the first call. It is replaced (once) when Salesforce reports `INVALID_SESSION_ID`.
    pub fn with_session(mut self, access_token: SecretString, instance_url: Url) -> Self {
        self.session = Some((access_token, instance_url));
        self
    }

    /// Validates the configuration and builds the client (no network I/O happens here).
    pub fn build(self) -> Result<SalesforceClient> {
        self.config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(self.config.request_timeout)
            .connect_timeout(self.config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("crmsync-salesforce/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SalesforceError::Config(format!("cannot build HTTP client: {e}")))?;
        let config = Arc::new(self.config);
        let tokens = TokenManager::new(http.clone(), config.clone(), self.on_rotate, self.session)?;
        let client = SalesforceClient {
            inner: Arc::new(Inner {
                http,
                config,
                tokens,
                usage: StdMutex::new(None),
                describes: StdMutex::new(HashMap::new()),
                global: StdMutex::new(None),
            }),
        };
        Ok(client)
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) config: Arc<SalesforceConfig>,
    pub(crate) tokens: TokenManager,
    usage: StdMutex<Option<ApiUsage>>,
    describes: StdMutex<HashMap<String, Arc<SObjectDescribe>>>,
    global: StdMutex<Option<Arc<GlobalDescribe>>>,
}

/// The Salesforce REST client. Cheap to clone (shared state behind an `Arc`); safe to use
/// from many tasks at once. See the crate documentation for the behaviour on failures.
#[derive(Clone)]
pub struct SalesforceClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceClient")
            .field("login_url", &self.inner.config.login_url.as_str())
            .field("client_id", &self.inner.config.client_id)
            .field("auth", &self.inner.config.auth.grant_name())
            .field("api_version", &self.inner.config.api_version)
            .field("api_usage", &self.api_usage())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_error_body(status: u16, body: &[u8]) -> Vec<ApiErrorDetail> {
    if let Ok(v) = serde_json::from_slice::<Vec<ApiErrorDetail>>(body) {
        if !v.is_empty() && v.iter().all(|e| !e.error_code.is_empty()) {
            return v;
        }
    }
    if let Ok(one) = serde_json::from_slice::<ApiErrorDetail>(body) {
        if !one.error_code.is_empty() {
            return vec![one];
        }
    }
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.chars().take(300).collect();
    vec![ApiErrorDetail {
        error_code: format!("HTTP_{status}"),
        message: excerpt,
        fields: Vec::new(),
    }]
}

/// Validates a record id for use as a URL path segment.
pub(crate) fn validate_record_id(id: &str) -> Result<()> {
    if (15..=18).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(SalesforceError::InvalidInput {
            what: "record id",
            value: id.to_string(),
            reason: "must be 15 or 18 alphanumeric characters",
        })
    }
}

pub(crate) fn validate_name(what: &'static str, name: &str) -> Result<()> {
    validate_identifier(what, name).map_err(|_| SalesforceError::InvalidInput {
        what,
        value: name.to_string(),
        reason: "must be a Salesforce API name (letters, digits, underscores)",
    })
}

pub(crate) fn to_object(value: &(impl Serialize + ?Sized)) -> Result<Record> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(other) => Err(SalesforceError::InvalidInput {
            what: "record",
            value: other.to_string().chars().take(100).collect(),
            reason: "must serialize to a JSON object",
        }),
        Err(e) => Err(SalesforceError::InvalidInput {
            what: "record",
            value: e.to_string(),
            reason: "could not be serialized",
        }),
    }
}

/// Salesforce's save result: the body of a single create/upsert and each element of an
/// sObject Collections response.
#[derive(Deserialize)]
pub(crate) struct SaveResult {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) success: bool,
    #[serde(default)]
    pub(crate) errors: Vec<ApiErrorDetail>,
    #[serde(default)]
    pub(crate) created: Option<bool>,
}

impl SalesforceClient {
    /// A client with default options. Equivalent to `SalesforceClient::builder(config).build()`.
    pub fn new(config: SalesforceConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// A builder for options beyond [`SalesforceConfig`].
    pub fn builder(config: SalesforceConfig) -> ClientBuilder {
        ClientBuilder {
            config,
            on_rotate: None,
            session: None,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &SalesforceConfig {
        &self.inner.config
    }

    /// The org's API usage as reported by the last response's `Sforce-Limit-Info` header.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        *lock(&self.inner.usage)
    }

    /// The refresh token currently in use (after any rotation), for refresh token auth.
    pub fn current_refresh_token(&self) -> Option<SecretString> {
        self.inner.tokens.current_refresh_token()
    }

    /// How many token requests this client has sent (for diagnostics and tests).
    pub fn token_request_count(&self) -> u64 {
        self.inner.tokens.token_requests()
    }

    /// The instance URL of the current session, requesting a token if there is none yet.
    pub async fn instance_url(&self) -> Result<Url> {
        Ok(self.session().await?.instance_url)
    }

    /// Fails with [`SalesforceError::LimitReserve`] when the last known API usage leaves fewer
    /// requests than [`SalesforceConfig::api_reserve`]. Every operation calls this first.
    pub fn check_reserve(&self) -> Result<()> {
        let reserve = self.inner.config.api_reserve;
        if reserve == 0 {
            return Ok(());
        }
        match self.api_usage() {
            Some(u) if u.remaining() < reserve => Err(SalesforceError::LimitReserve {
                used: u.used,
                max: u.max,
                reserve,
            }),
            _ => Ok(()),
        }
    }

    async fn session(&self) -> Result<Session> {
        self.inner.tokens.session().await
    }

    fn url_for(&self, session: &Session, target: &Target) -> Result<Url> {
        match target {
            Target::Api(segments) => {
                let mut url = session.instance_url.clone();
                url.set_query(None);
                url.set_fragment(None);
                {
                    let mut segs = url.path_segments_mut().map_err(|_| {
                        SalesforceError::Config(format!(
                            "instance URL {} cannot have a path",
                            session.instance_url
                        ))
                    })?;
                    segs.pop_if_empty();
                    segs.push("services")
                        .push("data")
                        .push(&format!("v{}", self.inner.config.api_version));
                    for s in segments {
                        segs.push(s);
                    }
                }
                Ok(url)
            }
            Target::Link(link) => {
                let url =
                    session
                        .instance_url
                        .join(link)
                        .map_err(|_| SalesforceError::ForeignUrl {
                            url: link.clone(),
                            instance: session.instance_url.to_string(),
                        })?;
                if url.origin() != session.instance_url.origin() {
                    return Err(SalesforceError::ForeignUrl {
                        url: link.clone(),
                        instance: session.instance_url.to_string(),
                    });
                }
                Ok(url)
            }
        }
    }

    async fn send_once(&self, session: &Session, req: &Req) -> Result<RawResponse> {
        let url = self.url_for(session, &req.target)?;
        let method = req.method.as_str().to_string();
        let path = url.path().to_string();
        let timeout = self.inner.config.request_timeout;
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url)
            .bearer_auth(session.access_token.expose_secret())
            .header(reqwest::header::ACCEPT, req.accept);
        for (name, value) in &req.headers {
            rb = rb.header(*name, value);
        }
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        if let Some(body) = &req.body {
            rb = rb.json(body);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| transport_error(&method, &path, e, timeout))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(usage) = headers
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_limit_info)
        {
            *lock(&self.inner.usage) = Some(usage);
        }
        let body = read_body_capped(
            &method,
            &path,
            resp,
            self.inner.config.max_response_bytes,
            timeout,
        )
        .await?;
        tracing::debug!(method = %method, path = %path, status, "salesforce response");
        if (200..300).contains(&status) || status == 300 {
            Ok(RawResponse {
                method,
                path,
                status,
                headers,
                body,
            })
        } else {
            Err(SalesforceError::Api {
                errors: parse_error_body(status, &body),
                method,
                path,
                status,
            })
        }
    }

    /// Sends `req` with the session, the one-time refresh on `INVALID_SESSION_ID`, and retries
    /// of transient failures per the configured policy.
    pub(crate) async fn send(&self, req: Req) -> Result<RawResponse> {
        let policy = &self.inner.config.retry;
        let start = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut session = self.session().await?;
        loop {
            attempt += 1;
            let err = match self.send_once(&session, &req).await {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            if err.is_invalid_session() && !refreshed {
                refreshed = true;
                tracing::info!("Salesforce session rejected; refreshing the access token once");
                session = self.inner.tokens.refresh(session.generation).await?;
                // The retry after a refresh does not count against the transient budget.
                attempt -= 1;
                continue;
            }
            let retryable = err.kind() == ErrorKind::Transient
                && (req.retry_safe || err.certainly_not_applied());
            if !retryable {
                return Err(wrap_exhausted(err, attempt, start));
            }
            let delay = policy.backoff(attempt);
            if attempt >= policy.max_attempts
                || start.elapsed().saturating_add(delay) > policy.max_elapsed
            {
                return Err(wrap_exhausted(err, attempt, start));
            }
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %err, "transient Salesforce failure; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(&self, req: Req) -> Result<T> {
        self.send(req).await?.json()
    }

    // ----------------------------------------------------------------------------------
    // sObjects
    // ----------------------------------------------------------------------------------

    /// Creates a record: `POST /sobjects/{sobject}`; returns the new id.
    ///
    /// A create is not idempotent, so it is retried only after failures where Salesforce
    /// certainly did not process it (connection refused, `UNABLE_TO_LOCK_ROW`,
    /// `SERVER_UNAVAILABLE`). After a timeout or dropped response the outcome is unknown; see
    /// the crate docs for the upsert-by-external-id pattern that makes this safe.
    pub async fn create(
        &self,
        sobject: &str,
        fields: &(impl Serialize + ?Sized),
    ) -> Result<String> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        let body = serde_json::Value::Object(to_object(fields)?);
        let resp = self
            .send(
                Req::new(Method::POST, &["sobjects", sobject])
                    .json(body)
                    .not_retry_safe(),
            )
            .await?;
        let r: SaveResult = resp.json()?;
        match (r.success, r.id) {
            (true, Some(id)) => Ok(id),
            (_, _) if !r.errors.is_empty() => Err(SalesforceError::Api {
                method: resp.method,
                path: resp.path,
                status: resp.status,
                errors: r.errors,
            }),
            _ => Err(resp.decode_error("create answered without an id")),
        }
    }

    /// Reads a record: `GET /sobjects/{sobject}/{id}[?fields=...]` (all fields when `fields`
    /// is empty).
    pub async fn get(&self, sobject: &str, id: &str, fields: &[&str]) -> Result<Record> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        validate_record_id(id)?;
        let mut req = Req::new(Method::GET, &["sobjects", sobject, id]);
        if !fields.is_empty() {
            for f in fields {
                validate_name("field name", f)?;
            }
            req = req.query("fields", fields.join(","));
        }
        let resp = self.send(req).await?;
        if resp.status == 300 {
            return Err(resp.decode_error("unexpected HTTP 300"));
        }
        resp.json()
    }

    /// Reads a record by external id: `GET /sobjects/{sobject}/{field}/{value}`.
    /// Several matches give [`SalesforceError::MultipleMatches`].
    pub async fn get_by_external_id(
        &self,
        sobject: &str,
        external_id_field: &str,
        value: &str,
        fields: &[&str],
    ) -> Result<Record> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        validate_name("external id field", external_id_field)?;
        let mut req = Req::new(
            Method::GET,
            &["sobjects", sobject, external_id_field, value],
        );
        if !fields.is_empty() {
            for f in fields {
                validate_name("field name", f)?;
            }
            req = req.query("fields", fields.join(","));
        }
        let resp = self.send(req).await?;
        if resp.status == 300 {
            return Err(multiple_matches(&resp, sobject, external_id_field, value));
        }
        resp.json()
    }

    /// Updates fields of a record: `PATCH /sobjects/{sobject}/{id}` (204).
    pub async fn update(
        &self,
        sobject: &str,
        id: &str,
        fields: &(impl Serialize + ?Sized),
    ) -> Result<()> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        validate_record_id(id)?;
        let body = serde_json::Value::Object(to_object(fields)?);
        let resp = self
            .send(Req::new(Method::PATCH, &["sobjects", sobject, id]).json(body))
            .await?;
        expect_no_content(&resp)
    }

    /// Deletes a record: `DELETE /sobjects/{sobject}/{id}` (204). Deleting an already deleted
    /// record fails with `ENTITY_IS_DELETED` / `NOT_FOUND` (permanent).
    pub async fn delete(&self, sobject: &str, id: &str) -> Result<()> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        validate_record_id(id)?;
        let resp = self
            .send(Req::new(Method::DELETE, &["sobjects", sobject, id]))
            .await?;
        expect_no_content(&resp)
    }

    /// Upserts by external id: `PATCH /sobjects/{sobject}/{field}/{value}`.
    ///
    /// 201 → `created: true`, 200 → `created: false` (from the body's `created` flag when
    /// present), 300 → [`SalesforceError::MultipleMatches`] (nothing written). The external id
    /// field is removed from `fields` if present (Salesforce rejects it in the body). The value
    /// is percent-encoded as a path segment. Idempotent, so it is retried after any transient
    /// failure, including timeouts.
    pub async fn upsert(
        &self,
        sobject: &str,
        external_id_field: &str,
        external_id: &str,
        fields: &(impl Serialize + ?Sized),
    ) -> Result<UpsertResult> {
        self.check_reserve()?;
        validate_name("sObject name", sobject)?;
        validate_name("external id field", external_id_field)?;
        if external_id.is_empty() {
            return Err(SalesforceError::InvalidInput {
                what: "external id value",
                value: String::new(),
                reason: "must not be empty",
            });
        }
        let mut body = to_object(fields)?;
        body.retain(|k, _| !k.eq_ignore_ascii_case(external_id_field));
        let resp = self
            .send(
                Req::new(
                    Method::PATCH,
                    &["sobjects", sobject, external_id_field, external_id],
                )
                .json(serde_json::Value::Object(body)),
            )
            .await?;
        match resp.status {
            300 => Err(multiple_matches(&resp, sobject, external_id_field, external_id)),
            200 | 201 => {
                let r: SaveResult = resp.json()?;
                if !r.success && !r.errors.is_empty() {
                    return Err(SalesforceError::Api {
                        method: resp.method,
                        path: resp.path,
                        status: resp.status,
                        errors: r.errors,
                    });
                }
                let id = r
                    .id
                    .ok_or_else(|| resp.decode_error("upsert answered without an id"))?;
                Ok(UpsertResult {
                    id,
                    created: r.created.unwrap_or(resp.status == 201),
                })
            }
            other => Err(resp.decode_error(format!(
                "upsert answered HTTP {other} without a body (API versions before 46.0 do this; use 46.0 or later)"
            ))),
        }
    }

    // ----------------------------------------------------------------------------------
    // describe and limits
    // ----------------------------------------------------------------------------------

    /// `GET /sobjects/{sobject}/describe`, cached per client (by case-insensitive name).
    pub async fn describe(&self, sobject: &str) -> Result<Arc<SObjectDescribe>> {
        validate_name("sObject name", sobject)?;
        let key = sobject.to_ascii_lowercase();
        if let Some(d) = lock(&self.inner.describes).get(&key) {
            return Ok(d.clone());
        }
        self.check_reserve()?;
        let resp = self
            .send(Req::new(Method::GET, &["sobjects", sobject, "describe"]))
            .await?;
        let raw: serde_json::Value = resp.json()?;
        let d = Arc::new(
            SObjectDescribe::from_json(raw)
                .map_err(|e| resp.decode_error(format!("describe of {sobject}: {e}")))?,
        );
        lock(&self.inner.describes).insert(key, d.clone());
        Ok(d)
    }

    /// `GET /sobjects` (global describe), cached per client.
    pub async fn describe_global(&self) -> Result<Arc<GlobalDescribe>> {
        if let Some(g) = lock(&self.inner.global).as_ref() {
            return Ok(g.clone());
        }
        self.check_reserve()?;
        let resp = self.send(Req::new(Method::GET, &["sobjects"])).await?;
        let raw: serde_json::Value = resp.json()?;
        let g = Arc::new(
            GlobalDescribe::from_json(raw)
                .map_err(|e| resp.decode_error(format!("global describe: {e}")))?,
        );
        *lock(&self.inner.global) = Some(g.clone());
        Ok(g)
    }

    /// Forgets cached describes (e.g. after metadata changes).
    pub fn clear_describe_cache(&self) {
        lock(&self.inner.describes).clear();
        *lock(&self.inner.global) = None;
    }

    /// `GET /limits`. Also updates [`SalesforceClient::api_usage`] from `DailyApiRequests`.
    pub async fn limits(&self) -> Result<OrgLimits> {
        let resp = self.send(Req::new(Method::GET, &["limits"])).await?;
        let limits: OrgLimits = resp.json()?;
        if let Some(d) = limits.get("DailyApiRequests") {
            let max = u64::try_from(d.max).unwrap_or(0);
            let remaining = u64::try_from(d.remaining).unwrap_or(0);
            *lock(&self.inner.usage) = Some(ApiUsage {
                used: max.saturating_sub(remaining),
                max,
            });
        }
        Ok(limits)
    }
}

fn wrap_exhausted(err: SalesforceError, attempt: u32, start: Instant) -> SalesforceError {
    if attempt > 1 && err.kind() == ErrorKind::Transient {
        SalesforceError::RetriesExhausted {
            attempts: attempt,
            elapsed: start.elapsed(),
            last: Box::new(err),
        }
    } else {
        err
    }
}

fn expect_no_content(resp: &RawResponse) -> Result<()> {
    match resp.status {
        200..=299 => Ok(()),
        other => Err(resp.decode_error(format!("unexpected HTTP {other}"))),
    }
}

/// Builds [`SalesforceError::MultipleMatches`] from a 300 body: a JSON array of record URLs
/// (or objects with `attributes.url`/`Id`).
fn multiple_matches(
    resp: &RawResponse,
    sobject: &str,
    field: &str,
    value: &str,
) -> SalesforceError {
    let ids = match serde_json::from_slice::<serde_json::Value>(&resp.body) {
        Ok(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                serde_json::Value::String(url) => url.rsplit('/').next().map(str::to_string),
                serde_json::Value::Object(o) => o
                    .get("Id")
                    .or_else(|| o.get("id"))
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    SalesforceError::MultipleMatches {
        sobject: sobject.to_string(),
        field: field.to_string(),
        value: value.to_string(),
        ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_parse_in_all_documented_shapes() {
        let e = parse_error_body(
            400,
            br#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#,
        );
        assert_eq!(e[0].error_code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e[0].fields, vec!["LastName"]);
        let e = parse_error_body(401, br#"{"errorCode":"INVALID_SESSION_ID","message":"x"}"#);
        assert_eq!(e[0].error_code, "INVALID_SESSION_ID");
        let e = parse_error_body(502, b"<html>Bad gateway</html>");
        assert_eq!(e[0].error_code, "HTTP_502");
        assert!(e[0].message.contains("Bad gateway"));
    }

    #[test]
    fn record_ids_are_validated() {
        assert!(validate_record_id("001D000000IRFmaIAH").is_ok());
        assert!(validate_record_id("001D000000IRFma").is_ok());
        assert!(validate_record_id("../../limits").is_err());
        assert!(validate_record_id("001D000000IRFmaIA/").is_err());
    }
}
