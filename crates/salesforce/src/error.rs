//! The crate's error type and its classification.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::soql::SoqlError;

/// One entry of a Salesforce error body.
///
/// REST endpoints answer errors as a JSON array of `{"errorCode", "message", "fields"}`; sObject
/// Collections report per-record errors as `{"statusCode", "message", "fields"}`. Both
/// deserialize into this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// `errorCode` (REST) or `statusCode` (per-record collection results), e.g. `REQUIRED_FIELD_MISSING`.
    #[serde(rename = "errorCode", alias = "statusCode", default)]
    pub error_code: String,
    /// Human readable message from Salesforce.
    #[serde(default)]
    pub message: String,
    /// Fields the error refers to (may be empty).
    #[serde(default)]
    pub fields: Vec<String>,
}

/// How the sync engine should react to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Worth retrying later with backoff: network failures, timeouts, HTTP 5xx,
    /// `UNABLE_TO_LOCK_ROW`, `SERVER_UNAVAILABLE`.
    Transient,
    /// The session could not be (re-)established: `INVALID_SESSION_ID` even after the one
    /// refresh, or the token endpoint rejected the credentials.
    Session,
    /// `REQUEST_LIMIT_EXCEEDED` or the configured API reserve reached: stop and alert; never
    /// retried by this client and should not burn the engine's retries either.
    RateLimited,
    /// Will fail again the same way: validation errors, unknown fields, not found, malformed
    /// requests, multiple upsert matches, configuration errors.
    Permanent,
}

/// Error codes that mean Salesforce did not apply the request and a retry is expected to work.
pub(crate) const TRANSIENT_CODES: &[&str] = &["UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"];

/// Error codes of rate limiting.
pub(crate) const RATE_LIMIT_CODES: &[&str] = &["REQUEST_LIMIT_EXCEEDED"];

/// The session error code.
pub(crate) const INVALID_SESSION: &str = "INVALID_SESSION_ID";

/// Everything that can go wrong talking to Salesforce.
///
/// No variant ever carries an access token, refresh token, client secret or private key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SalesforceError {
    /// Salesforce answered with an error status and (usually) an error body.
    #[error("Salesforce {method} {path} answered HTTP {status}: {}", summarize(.errors))]
    Api {
        /// HTTP method of the failed request.
        method: String,
        /// URL path of the failed request (no query string, which may hold record data).
        path: String,
        /// HTTP status code.
        status: u16,
        /// The error entries of the body (at least one; synthesized from the status when the
        /// body was not a Salesforce error body).
        errors: Vec<ApiErrorDetail>,
    },
    /// The OAuth token endpoint refused to issue a token.
    #[error("OAuth token request ({grant}) failed with HTTP {status}: {error}: {description}")]
    Auth {
        /// The grant that was attempted (`client_credentials`, `jwt_bearer`, `refresh_token`).
        grant: &'static str,
        /// HTTP status code of the token endpoint.
        status: u16,
        /// OAuth `error` (e.g. `invalid_grant`).
        error: String,
        /// OAuth `error_description`.
        description: String,
    },
    /// The request could not be sent or its response could not be read.
    #[error("network error on {method} {path}: {source}")]
    Network {
        /// HTTP method.
        method: String,
        /// URL path.
        path: String,
        /// `true` when the connection could not even be established, so the request was
        /// certainly not processed by Salesforce.
        connect: bool,
        /// The underlying error (its URL is stripped).
        #[source]
        source: reqwest::Error,
    },
    /// The request or reading its response exceeded the configured timeout. Salesforce may or
    /// may not have applied it.
    #[error("{method} {path} timed out after {timeout:?}")]
    Timeout {
        /// HTTP method.
        method: String,
        /// URL path.
        path: String,
        /// The configured per-request timeout.
        timeout: Duration,
    },
    /// A response arrived but did not have the documented shape.
    #[error("unexpected response to {method} {path} (HTTP {status}): {reason}")]
    Decode {
        /// HTTP method.
        method: String,
        /// URL path.
        path: String,
        /// HTTP status code.
        status: u16,
        /// What was wrong.
        reason: String,
    },
    /// Upsert by external id answered HTTP 300: the external id value matches several records,
    /// nothing was created or updated.
    #[error("upsert of {sobject} by {field} = {value:?} matched {} records: {ids:?}", ids.len())]
    MultipleMatches {
        /// sObject type.
        sobject: String,
        /// External id field.
        field: String,
        /// External id value.
        value: String,
        /// Ids of the matching records (from the URLs in the 300 body).
        ids: Vec<String>,
    },
    /// A query page said `done: false` but carried no `nextRecordsUrl`: the result is truncated.
    #[error("query page from {path} has done=false but no nextRecordsUrl after {records_so_far} records (totalSize {total_size}); the result would be truncated")]
    MissingNextRecordsUrl {
        /// Path of the page that lacked the link.
        path: String,
        /// Records received before the truncation.
        records_so_far: u64,
        /// `totalSize` the server announced.
        total_size: u64,
    },
    /// `nextRecordsUrl` or a Bulk locator pointed somewhere this client refuses to send its
    /// bearer token (another host).
    #[error("refusing to follow {url:?}: not on the instance {instance}")]
    ForeignUrl {
        /// The URL that was returned.
        url: String,
        /// The instance URL of the session.
        instance: String,
    },
    /// The last known API usage leaves fewer calls than the configured reserve.
    #[error("API usage {used}/{max} leaves fewer than the reserved {reserve} requests; refusing new work")]
    LimitReserve {
        /// Calls used in the rolling 24 h window.
        used: u64,
        /// Daily allocation.
        max: u64,
        /// Configured reserve.
        reserve: u64,
    },
    /// A Bulk API 2.0 query job ended in `Failed` or `Aborted`.
    #[error("Bulk API 2.0 query job {job_id} ended in state {state}: {message}")]
    BulkJobFailed {
        /// Job id.
        job_id: String,
        /// Final state.
        state: String,
        /// `errorMessage` of the job.
        message: String,
    },
    /// A Bulk API 2.0 query job did not complete within the configured wait.
    #[error("Bulk API 2.0 query job {job_id} still {state} after {waited:?}")]
    BulkJobTimeout {
        /// Job id.
        job_id: String,
        /// Last seen state.
        state: String,
        /// How long the client waited.
        waited: Duration,
    },
    /// The SOQL builder rejected its input.
    #[error(transparent)]
    Soql(#[from] SoqlError),
    /// An identifier (sObject or field name, record id) that would not be a valid URL path part.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What the value is (e.g. "sObject name").
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The configuration is unusable.
    #[error("invalid Salesforce configuration: {0}")]
    Config(String),
    /// The JWT bearer assertion could not be signed (bad private key).
    #[error("could not sign the JWT bearer assertion: {0}")]
    Jwt(String),
    /// Transient failures continued until the retry budget (attempts or total time) ran out.
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Time spent, including backoff.
        elapsed: Duration,
        /// The last error.
        last: Box<SalesforceError>,
    },
}

fn summarize(errors: &[ApiErrorDetail]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.fields.is_empty() {
                format!("{}: {}", e.error_code, e.message)
            } else {
                format!(
                    "{}: {} (fields: {})",
                    e.error_code,
                    e.message,
                    e.fields.join(", ")
                )
            }
        })
        .collect();
    parts.join("; ")
}

/// Classifies a set of Salesforce error codes (used for whole responses and for per-record
/// collection errors).
pub(crate) fn classify_codes<'a>(
    status: Option<u16>,
    codes: impl Iterator<Item = &'a str> + Clone,
) -> ErrorKind {
    if codes.clone().any(|c| RATE_LIMIT_CODES.contains(&c)) {
        return ErrorKind::RateLimited;
    }
    if codes.clone().any(|c| c == INVALID_SESSION) {
        return ErrorKind::Session;
    }
    if codes.clone().any(|c| TRANSIENT_CODES.contains(&c)) {
        return ErrorKind::Transient;
    }
    match status {
        Some(429) => ErrorKind::RateLimited,
        Some(401) => ErrorKind::Session,
        Some(s) if s >= 500 => ErrorKind::Transient,
        // 408 Request Timeout from an intermediary.
        Some(408) => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

impl SalesforceError {
    /// The classification the sync engine acts on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SalesforceError::Api { status, errors, .. } => {
                classify_codes(Some(*status), errors.iter().map(|e| e.error_code.as_str()))
            }
            SalesforceError::Auth { status, .. } => {
                if *status >= 500 || *status == 429 {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Session
                }
            }
            SalesforceError::Network { .. } | SalesforceError::Timeout { .. } => {
                ErrorKind::Transient
            }
            SalesforceError::Decode { status, .. } => {
                if *status >= 500 {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Permanent
                }
            }
            // A truncated page is a server-side inconsistency; re-running the (idempotent)
            // query later is the right reaction.
            SalesforceError::MissingNextRecordsUrl { .. } => ErrorKind::Transient,
            SalesforceError::BulkJobTimeout { .. } => ErrorKind::Transient,
            SalesforceError::LimitReserve { .. } => ErrorKind::RateLimited,
            SalesforceError::MultipleMatches { .. }
            | SalesforceError::ForeignUrl { .. }
            | SalesforceError::BulkJobFailed { .. }
            | SalesforceError::Soql(_)
            | SalesforceError::InvalidInput { .. }
            | SalesforceError::Config(_)
            | SalesforceError::Jwt(_) => ErrorKind::Permanent,
            SalesforceError::RetriesExhausted { last, .. } => last.kind(),
        }
    }

    /// HTTP status of the response that caused the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SalesforceError::Api { status, .. }
            | SalesforceError::Auth { status, .. }
            | SalesforceError::Decode { status, .. } => Some(*status),
            SalesforceError::MultipleMatches { .. } => Some(300),
            SalesforceError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The Salesforce error entries (empty unless this is an [`SalesforceError::Api`] error,
    /// possibly wrapped in [`SalesforceError::RetriesExhausted`]).
    pub fn api_errors(&self) -> &[ApiErrorDetail] {
        match self {
            SalesforceError::Api { errors, .. } => errors,
            SalesforceError::RetriesExhausted { last, .. } => last.api_errors(),
            _ => &[],
        }
    }

    /// The first `errorCode`, if any (e.g. `"REQUIRED_FIELD_MISSING"`).
    pub fn error_code(&self) -> Option<&str> {
        self.api_errors().first().map(|e| e.error_code.as_str())
    }

    /// `true` when the error carries the given `errorCode`.
    pub fn has_code(&self, code: &str) -> bool {
        self.api_errors().iter().any(|e| e.error_code == code)
    }

    /// `true` when Salesforce certainly did not apply the request, so repeating even a
    /// non-idempotent request (a create) cannot produce a duplicate.
    pub(crate) fn certainly_not_applied(&self) -> bool {
        match self {
            SalesforceError::Network { connect, .. } => *connect,
            SalesforceError::Api { errors, .. } => errors
                .iter()
                .any(|e| TRANSIENT_CODES.contains(&e.error_code.as_str())),
            _ => false,
        }
    }

    pub(crate) fn is_invalid_session(&self) -> bool {
        match self {
            SalesforceError::Api { status, errors, .. } => {
                errors.iter().any(|e| e.error_code == INVALID_SESSION)
                    || (*status == 401 && errors.is_empty())
            }
            _ => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = SalesforceError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> SalesforceError {
        SalesforceError::Api {
            method: "GET".into(),
            path: "/x".into(),
            status,
            errors: vec![ApiErrorDetail {
                error_code: code.into(),
                message: "m".into(),
                fields: vec![],
            }],
        }
    }

    #[test]
    fn classification_follows_codes_then_status() {
        assert_eq!(
            api(403, "REQUEST_LIMIT_EXCEEDED").kind(),
            ErrorKind::RateLimited
        );
        assert_eq!(api(401, "INVALID_SESSION_ID").kind(), ErrorKind::Session);
        assert_eq!(api(400, "UNABLE_TO_LOCK_ROW").kind(), ErrorKind::Transient);
        assert_eq!(api(503, "SERVER_UNAVAILABLE").kind(), ErrorKind::Transient);
        assert_eq!(api(500, "UNKNOWN_EXCEPTION").kind(), ErrorKind::Transient);
        assert_eq!(
            api(400, "REQUIRED_FIELD_MISSING").kind(),
            ErrorKind::Permanent
        );
        assert_eq!(
            api(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION").kind(),
            ErrorKind::Permanent
        );
        assert_eq!(api(400, "INVALID_FIELD").kind(), ErrorKind::Permanent);
        assert_eq!(api(400, "STRING_TOO_LONG").kind(), ErrorKind::Permanent);
        assert_eq!(api(404, "NOT_FOUND").kind(), ErrorKind::Permanent);
    }

    #[test]
    fn per_record_errors_accept_status_code_spelling() {
        let e: ApiErrorDetail = serde_json::from_str(
            r#"{"statusCode":"MALFORMED_ID","message":"bad","fields":["OwnerId"]}"#,
        )
        .unwrap();
        assert_eq!(e.error_code, "MALFORMED_ID");
        assert_eq!(e.fields, vec!["OwnerId".to_string()]);
    }

    #[test]
    fn retries_exhausted_keeps_inner_kind_and_code() {
        let e = SalesforceError::RetriesExhausted {
            attempts: 3,
            elapsed: Duration::from_millis(5),
            last: Box::new(api(503, "SERVER_UNAVAILABLE")),
        };
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert_eq!(e.error_code(), Some("SERVER_UNAVAILABLE"));
        assert_eq!(e.status(), Some(503));
    }
}
