//! Salesforce-shaped API errors.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// One error entry: `{"message","errorCode","fields"}` (REST) or `{"statusCode","message","fields"}`
/// (inside sObject Collections results).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrItem {
    /// `errorCode` / `statusCode`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Fields concerned; `None` omits the key.
    pub fields: Option<Vec<String>>,
}

/// An error answer of the REST API: an HTTP status and a JSON array of [`ErrItem`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The entries.
    pub items: Vec<ErrItem>,
}

impl ApiError {
    /// A single-entry error.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            items: vec![ErrItem {
                code: code.into(),
                message: message.into(),
                fields: None,
            }],
        }
    }

    /// A single-entry error with `fields`.
    pub fn with_fields(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        fields: Vec<String>,
    ) -> ApiError {
        ApiError {
            status,
            items: vec![ErrItem {
                code: code.into(),
                message: message.into(),
                fields: Some(fields),
            }],
        }
    }

    /// 400 with `fields`.
    pub fn bad(code: &str, message: impl Into<String>, fields: Vec<String>) -> ApiError {
        ApiError::with_fields(StatusCode::BAD_REQUEST, code, message, fields)
    }

    /// 404 `NOT_FOUND` "The requested resource does not exist".
    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// 401 `INVALID_SESSION_ID`.
    pub fn invalid_session() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// The REST body: `[{"message","errorCode","fields"?}]`.
    pub fn body(&self) -> Value {
        Value::Array(
            self.items
                .iter()
                .map(|e| {
                    let mut m = serde_json::Map::new();
                    m.insert("message".into(), json!(e.message));
                    m.insert("errorCode".into(), json!(e.code));
                    if let Some(f) = &e.fields {
                        m.insert("fields".into(), json!(f));
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }

    /// The collections form: `[{"statusCode","message","fields"}]`.
    pub fn collection_errors(&self) -> Value {
        Value::Array(
            self.items
                .iter()
                .map(|e| json!({"statusCode": e.code, "message": e.message, "fields": e.fields.clone().unwrap_or_default()}))
                .collect(),
        )
    }
}
