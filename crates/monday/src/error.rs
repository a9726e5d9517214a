//! Typed errors of the Monday client and their classification.
//!
//! Monday reports errors in several shapes depending on the `API-Version`:
//!
//! * up to 2024-10: top-level `error_code` / `error_message` / `error_data` / `status_code`
//!   (sometimes with `errors` as an array of plain strings, e.g. `{"errors":["Not Authenticated"]}`);
//! * 2024-10: both the legacy fields and a GraphQL `errors` array;
//! * 2025-01 and later: spec-style `errors[]` with `message`, `path`, `locations` and
//!   `extensions { code, status_code, error_data, retry_in_seconds, … }`, possibly next to
//!   partial `data`.
//!
//! All of them are normalised into [`GraphQlError`]s, and every [`MondayError`] can be classified
//! with [`MondayError::kind`] into an [`ErrorKind`] that the sync engine acts on.

use std::time::Duration;

use serde_json::Value;

/// What the caller should do about an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying later with backoff: network failures, timeouts, 5xx, locked resources.
    Transient,
    /// Monday refused the request because of a rate limit or the complexity budget. Wait
    /// `retry_after` (when known) before the next request; this does not indicate a bad request.
    RateLimited {
        /// How long Monday asked us to wait, when it said so.
        retry_after: Option<Duration>,
    },
    /// The API token is missing, invalid, or lacks the permission for this action.
    Auth,
    /// The request itself is wrong (unknown board/item/column, invalid value, bad query).
    /// Retrying the same request will fail again.
    Permanent,
}

/// One GraphQL error, normalised from any of Monday's error shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphQlError {
    /// Human-readable message (`message`, or legacy `error_message`, or the plain string).
    pub message: String,
    /// `extensions.code`, or legacy `error_code` (e.g. `InvalidColumnIdException`,
    /// `COMPLEXITY_BUDGET_EXHAUSTED`, `NOT_AUTHENTICATED`).
    pub code: Option<String>,
    /// GraphQL `path` (field names and list indexes). Empty when the error is request-wide.
    pub path: Vec<Value>,
    /// `extensions.error_data` or legacy `error_data`.
    pub error_data: Option<Value>,
    /// `extensions.status_code` or legacy `status_code` (Monday's own status, not the HTTP one).
    pub status_code: Option<u16>,
    /// `extensions.retry_in_seconds` (complexity budget errors).
    pub retry_in_seconds: Option<u64>,
}

impl GraphQlError {
    /// An error with only a message.
    pub fn message_only(message: impl Into<String>) -> Self {
        GraphQlError {
            message: message.into(),
            code: None,
            path: Vec::new(),
            error_data: None,
            status_code: None,
            retry_in_seconds: None,
        }
    }

    /// The first path segment when it is a field name (for batched mutations: the alias).
    pub fn root_field(&self) -> Option<&str> {
        self.path.first().and_then(Value::as_str)
    }

    /// Whether this error says the complexity budget is exhausted (all known shapes:
    /// `COMPLEXITY_BUDGET_EXHAUSTED`, legacy `ComplexityException` / `complexityBudgetExhausted`,
    /// or a bare "Complexity budget exhausted …" message).
    pub fn is_complexity_exhausted(&self) -> bool {
        match self.code.as_deref() {
            Some(code) if code_eq(code, "COMPLEXITY_BUDGET_EXHAUSTED") => return true,
            Some(code) if code_eq(code, "ComplexityException") => {
                // `ComplexityException` is also used for "query too complex" (a permanent error).
                return !self.is_query_too_complex();
            }
            Some(code) if code_eq(code, "complexityBudgetExhausted") => return true,
            _ => {}
        }
        self.message
            .to_ascii_lowercase()
            .starts_with("complexity budget exhausted")
    }

    /// "Query has complexity of N, which exceeds max complexity of M": a single query is too
    /// expensive; waiting does not help.
    pub fn is_query_too_complex(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        m.contains("exceeds max complexity")
    }

    /// Whether this error says a pagination cursor has expired (`CursorExpiredError`, or a
    /// message such as "The cursor has expired").
    pub fn is_cursor_expired(&self) -> bool {
        if let Some(code) = self.code.as_deref() {
            if code_eq(code, "CursorExpiredError")
                || code_eq(code, "CURSOR_EXPIRED")
                || code_eq(code, "CursorException")
            {
                return true;
            }
        }
        let m = self.message.to_ascii_lowercase();
        m.contains("cursor") && m.contains("expired")
    }

    /// How long to wait before retrying, when this error says so: `extensions.retry_in_seconds`,
    /// else the legacy message's "reset in N seconds".
    pub fn retry_after(&self) -> Option<Duration> {
        if let Some(secs) = self.retry_in_seconds {
            return Some(Duration::from_secs(secs));
        }
        parse_reset_in_seconds(&self.message).map(Duration::from_secs)
    }

    /// Classification of this single error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        if self.is_auth() {
            return ErrorKind::Auth;
        }
        if self.is_complexity_exhausted() || self.is_rate_limit() {
            return ErrorKind::RateLimited {
                retry_after: self.retry_after(),
            };
        }
        if self.is_transient() {
            return ErrorKind::Transient;
        }
        ErrorKind::Permanent
    }

    fn is_auth(&self) -> bool {
        const AUTH_CODES: &[&str] = &[
            "NOT_AUTHENTICATED",
            "UNAUTHENTICATED",
            "UserUnauthorizedException",
            "USER_UNAUTHORIZED",
            "Unauthorized",
            "UNAUTHORIZED",
            "INVALID_TOKEN",
            "MissingRequiredPermissions",
            "missingRequiredPermissions",
        ];
        if let Some(code) = self.code.as_deref() {
            if AUTH_CODES.iter().any(|c| code_eq(code, c)) {
                return true;
            }
        }
        let m = self.message.to_ascii_lowercase();
        self.code.is_none() && (m == "not authenticated" || m.starts_with("not authenticated"))
    }

    fn is_rate_limit(&self) -> bool {
        const RATE_CODES: &[&str] = &[
            "maxConcurrencyExceeded",
            "RateLimitExceeded",
            "RATE_LIMIT_EXCEEDED",
            "rateLimitExceeded",
            "IP_RATE_LIMIT_EXCEEDED",
            "DAILY_LIMIT_EXCEEDED",
            "FIELD_LIMIT_EXCEEDED",
            "Rate Limit Exceeded",
        ];
        if let Some(code) = self.code.as_deref() {
            if RATE_CODES.iter().any(|c| code_eq(code, c)) {
                return true;
            }
        }
        self.status_code == Some(429) && !self.is_query_too_complex()
    }

    fn is_transient(&self) -> bool {
        const TRANSIENT_CODES: &[&str] = &[
            "INTERNAL_SERVER_ERROR",
            "InternalServerError",
            "ResourceLocked",
            "RESOURCE_LOCKED",
            "SERVICE_UNAVAILABLE",
            "TIMEOUT",
        ];
        if let Some(code) = self.code.as_deref() {
            if TRANSIENT_CODES.iter().any(|c| code_eq(code, c)) {
                return true;
            }
        }
        if matches!(self.status_code, Some(s) if s >= 500 || s == 423) {
            return true;
        }
        self.message
            .to_ascii_lowercase()
            .contains("resource is currently locked")
    }
}

fn code_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses "… reset in 16 seconds" from a legacy complexity message.
fn parse_reset_in_seconds(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let idx = lower.find("reset in ")?;
    let rest = &lower[idx + "reset in ".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Errors returned by [`crate::MondayClient`].
///
/// Every variant names the operation that failed. Tokens never appear in any variant.
#[derive(Debug, thiserror::Error)]
pub enum MondayError {
    /// The request could not be sent or the response could not be read (DNS, connect, TLS,
    /// timeout, connection reset).
    #[error("{operation}: transport error: {source}")]
    Transport {
        /// Operation name, e.g. `create_item`.
        operation: String,
        /// Whether the error happened before the request was sent (connect/DNS), so the server
        /// certainly did not process it.
        not_sent: bool,
        /// Underlying reqwest error.
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx HTTP status.
    #[error("{operation}: HTTP {status}{}", summary(.errors))]
    Http {
        /// Operation name.
        operation: String,
        /// HTTP status code.
        status: u16,
        /// Errors parsed from the body, when it had any.
        errors: Vec<GraphQlError>,
        /// `Retry-After` header, when present.
        retry_after: Option<Duration>,
        /// Start of the body when it was not JSON (at most 512 bytes).
        body_excerpt: Option<String>,
    },
    /// HTTP 2xx with GraphQL / legacy errors in the body.
    #[error("{operation}: Monday returned errors{}", summary(.errors))]
    GraphQl {
        /// Operation name.
        operation: String,
        /// HTTP status (normally 200).
        http_status: u16,
        /// The errors, in the order Monday listed them.
        errors: Vec<GraphQlError>,
        /// `data` when Monday also returned partial data.
        partial_data: Option<Box<Value>>,
        /// `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },
    /// The complexity budget or rate limit kept refusing the request longer than the
    /// configured total wait.
    #[error("{operation}: rate limited; gave up after waiting {waited:?} (last error: {last})")]
    RateLimitWaitExceeded {
        /// Operation name.
        operation: String,
        /// Total time spent waiting for this request.
        waited: Duration,
        /// How long Monday asked to wait the last time.
        retry_after: Option<Duration>,
        /// The last rate-limit error.
        last: Box<MondayError>,
    },
    /// The response was well-formed JSON but did not have the expected shape.
    #[error("{operation}: unexpected response: {message}")]
    Decode {
        /// Operation name.
        operation: String,
        /// What was wrong.
        message: String,
    },
    /// Monday answered without error but the requested object does not exist (e.g. `boards`
    /// returned no board for the id).
    #[error("{operation}: {what} not found")]
    NotFound {
        /// Operation name.
        operation: String,
        /// What was looked up, e.g. `board 123`.
        what: String,
    },
    /// The caller's input was rejected before any request was made.
    #[error("invalid input for {operation}: {message}")]
    InvalidInput {
        /// Operation name.
        operation: String,
        /// What was wrong.
        message: String,
    },
    /// The client could not be built (e.g. an invalid base URL or header value).
    #[error("invalid Monday client configuration: {0}")]
    Config(String),
}

fn summary(errors: &[GraphQlError]) -> String {
    match errors.first() {
        None => String::new(),
        Some(e) => {
            let more = if errors.len() > 1 {
                format!(" (+{} more)", errors.len() - 1)
            } else {
                String::new()
            };
            match &e.code {
                Some(code) => format!(": [{code}] {}{more}", e.message),
                None => format!(": {}{more}", e.message),
            }
        }
    }
}

impl MondayError {
    /// Classifies the error (see [`ErrorKind`]).
    ///
    /// * transport failures and 5xx → `Transient`;
    /// * HTTP 429, complexity budget, concurrency and rate limits → `RateLimited`;
    /// * 401, `NOT_AUTHENTICATED`, `UserUnauthorizedException` → `Auth`;
    /// * validation errors (`InvalidColumnIdException`, `ColumnValueException`,
    ///   `InvalidItemIdException`, `InvalidBoardIdException`, GraphQL parse errors …) → `Permanent`.
    ///
    /// With several errors the most actionable wins: `Auth`, then `RateLimited`, then
    /// `Permanent`, then `Transient`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MondayError::Transport { .. } => ErrorKind::Transient,
            MondayError::Http {
                status,
                errors,
                retry_after,
                ..
            } => {
                let from_body = combine(errors);
                match *status {
                    401 => ErrorKind::Auth,
                    403 => match from_body {
                        Some(ErrorKind::RateLimited { retry_after: r }) => ErrorKind::RateLimited {
                            retry_after: r.or(*retry_after),
                        },
                        _ => ErrorKind::Auth,
                    },
                    429 => ErrorKind::RateLimited {
                        retry_after: match from_body {
                            Some(ErrorKind::RateLimited { retry_after: r }) => r.or(*retry_after),
                            _ => *retry_after,
                        },
                    },
                    408 | 423 | 500..=599 => ErrorKind::Transient,
                    _ => match from_body {
                        Some(ErrorKind::RateLimited { retry_after: r }) => ErrorKind::RateLimited {
                            retry_after: r.or(*retry_after),
                        },
                        Some(kind) => kind,
                        None => ErrorKind::Permanent,
                    },
                }
            }
            MondayError::GraphQl {
                errors,
                retry_after,
                ..
            } => match combine(errors) {
                Some(ErrorKind::RateLimited { retry_after: r }) => ErrorKind::RateLimited {
                    retry_after: r.or(*retry_after),
                },
                Some(kind) => kind,
                None => ErrorKind::Permanent,
            },
            MondayError::RateLimitWaitExceeded { retry_after, .. } => ErrorKind::RateLimited {
                retry_after: *retry_after,
            },
            MondayError::Decode { .. } => ErrorKind::Permanent,
            MondayError::NotFound { .. } => ErrorKind::Permanent,
            MondayError::InvalidInput { .. } => ErrorKind::Permanent,
            MondayError::Config(_) => ErrorKind::Permanent,
        }
    }

    /// The GraphQL errors carried by this error (empty for transport/decoding errors).
    pub fn graphql_errors(&self) -> &[GraphQlError] {
        match self {
            MondayError::Http { errors, .. } | MondayError::GraphQl { errors, .. } => errors,
            MondayError::RateLimitWaitExceeded { last, .. } => last.graphql_errors(),
            _ => &[],
        }
    }

    /// The first error code, if any (handy for logs and dead letters).
    pub fn code(&self) -> Option<&str> {
        self.graphql_errors().iter().find_map(|e| e.code.as_deref())
    }

    /// The operation that failed.
    pub fn operation(&self) -> &str {
        match self {
            MondayError::Transport { operation, .. }
            | MondayError::Http { operation, .. }
            | MondayError::GraphQl { operation, .. }
            | MondayError::RateLimitWaitExceeded { operation, .. }
            | MondayError::Decode { operation, .. }
            | MondayError::NotFound { operation, .. }
            | MondayError::InvalidInput { operation, .. } => operation,
            MondayError::Config(_) => "config",
        }
    }

    pub(crate) fn is_complexity_exhausted(&self) -> bool {
        self.graphql_errors()
            .iter()
            .any(GraphQlError::is_complexity_exhausted)
    }

    pub(crate) fn is_concurrency_limited(&self) -> bool {
        self.graphql_errors().iter().any(|e| {
            e.code
                .as_deref()
                .is_some_and(|c| code_eq(c, "maxConcurrencyExceeded"))
        })
    }

    pub(crate) fn is_cursor_expired(&self) -> bool {
        self.graphql_errors()
            .iter()
            .any(GraphQlError::is_cursor_expired)
    }
}

fn combine(errors: &[GraphQlError]) -> Option<ErrorKind> {
    let kinds: Vec<ErrorKind> = errors.iter().map(GraphQlError::kind).collect();
    if kinds.is_empty() {
        return None;
    }
    if kinds.contains(&ErrorKind::Auth) {
        return Some(ErrorKind::Auth);
    }
    if let Some(rl) = kinds
        .iter()
        .find(|k| matches!(k, ErrorKind::RateLimited { .. }))
    {
        return Some(rl.clone());
    }
    if kinds.contains(&ErrorKind::Permanent) {
        return Some(ErrorKind::Permanent);
    }
    Some(ErrorKind::Transient)
}

/// A response body split into data and normalised errors.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    /// `data`, when it is a JSON object (Monday sometimes sends `"data": []` with errors).
    pub data: Option<Value>,
    /// All errors in the body, new-style first, then a legacy top-level error if it adds
    /// anything the new-style ones did not say.
    pub errors: Vec<GraphQlError>,
}

/// Normalises any Monday response body (see the module documentation for the shapes).
pub fn parse_body(body: &Value) -> ParsedBody {
    let data = body.get("data").filter(|d| d.is_object()).cloned();
    let mut errors = Vec::new();
    if let Some(list) = body.get("errors").and_then(Value::as_array) {
        for entry in list {
            errors.push(parse_error_entry(entry));
        }
    } else if let Some(s) = body.get("errors").and_then(Value::as_str) {
        errors.push(GraphQlError::message_only(s));
    }
    // Legacy top-level fields.
    let legacy_code = body
        .get("error_code")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let legacy_message = body
        .get("error_message")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if legacy_code.is_some() || legacy_message.is_some() {
        let legacy = GraphQlError {
            message: legacy_message.unwrap_or_else(|| legacy_code.clone().unwrap_or_default()),
            code: legacy_code,
            path: Vec::new(),
            error_data: body.get("error_data").cloned(),
            status_code: body.get("status_code").and_then(as_u16),
            retry_in_seconds: None,
        };
        // 2024-10 sends both shapes for one error: keep one (the richer, structured one), but
        // give it the legacy code when the structured one has none.
        let mut merged = false;
        for e in errors.iter_mut() {
            if e.message == legacy.message
                || (e.code.is_some() && e.code == legacy.code)
                || (e.code.is_none() && e.path.is_empty())
            {
                if e.code.is_none() {
                    e.code = legacy.code.clone();
                }
                if e.status_code.is_none() {
                    e.status_code = legacy.status_code;
                }
                if e.error_data.is_none() {
                    e.error_data = legacy.error_data.clone();
                }
                merged = true;
            }
        }
        if !merged {
            errors.push(legacy);
        }
    }
    ParsedBody { data, errors }
}

fn parse_error_entry(entry: &Value) -> GraphQlError {
    match entry {
        Value::String(s) => GraphQlError::message_only(s.clone()),
        Value::Object(map) => {
            let ext = map.get("extensions");
            let ext_get = |k: &str| ext.and_then(|e| e.get(k));
            GraphQlError {
                message: map
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                code: ext_get("code")
                    .and_then(Value::as_str)
                    .or_else(|| map.get("code").and_then(Value::as_str))
                    .map(str::to_owned),
                path: map
                    .get("path")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                error_data: ext_get("error_data").cloned(),
                status_code: ext_get("status_code").and_then(as_u16),
                retry_in_seconds: ext_get("retry_in_seconds").and_then(as_u64),
            }
        }
        other => GraphQlError::message_only(other.to_string()),
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_u16(v: &Value) -> Option<u16> {
    as_u64(v).and_then(|n| u16::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reset_in_seconds_is_parsed_from_legacy_message() {
        assert_eq!(
            parse_reset_in_seconds("Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds"),
            Some(3)
        );
        assert_eq!(parse_reset_in_seconds("no number here"), None);
    }

    #[test]
    fn string_errors_and_legacy_fields_merge_into_one_error() {
        let body = json!({
            "error_code": "ComplexityException",
            "status_code": 429,
            "error_message": "Complexity budget exhausted, query cost 1 budget remaining 0 out of 10 reset in 7 seconds",
            "errors": ["Complexity budget exhausted, query cost 1 budget remaining 0 out of 10 reset in 7 seconds"]
        });
        let parsed = parse_body(&body);
        assert_eq!(parsed.errors.len(), 1);
        let e = &parsed.errors[0];
        assert_eq!(e.code.as_deref(), Some("ComplexityException"));
        assert_eq!(e.status_code, Some(429));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_complexity_exhausted());
    }

    #[test]
    fn query_too_complex_is_permanent_not_rate_limited() {
        let e = GraphQlError::message_only(
            "Query has complexity of 1016020, which exceeds max complexity of 1000000",
        );
        assert_eq!(e.kind(), ErrorKind::Permanent);
        assert!(!e.is_complexity_exhausted());
    }

    #[test]
    fn data_that_is_not_an_object_is_dropped() {
        let parsed = parse_body(&json!({"data": [], "errors": [{"message": "x"}]}));
        assert_eq!(parsed.data, None);
        assert_eq!(parsed.errors.len(), 1);
    }
}
