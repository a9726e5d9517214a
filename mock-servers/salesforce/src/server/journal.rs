//! The request journal behind `GET /__mock/requests` (secrets redacted).

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use chrono::Utc;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use super::MockHandle;
use crate::store;

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

impl MockHandle {
    pub(super) fn journal(
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
}
