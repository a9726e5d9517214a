//! Injected faults (`/__mock/faults`): matching, and the answer a fault gives.

use axum::http::{Method, StatusCode};
use indexmap::IndexMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::http::Resp;
use super::MockHandle;

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
    /// Apply, then fail: the request is executed for real first (records created or updated,
    /// API usage counted), then `latencyMs` is waited and the client gets the fault's `status` and
    /// `body` instead of the real answer (without `status`: the real answer, late). Default
    /// false: the fault answers before (and instead of) executing the request.
    #[serde(default)]
    pub after: bool,
}

impl Fault {
    pub(super) fn matches(&self, method: &Method, path: &str) -> bool {
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
    /// The first fault in force for this request (counting down its `times`), if any.
    pub(super) fn take_fault(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut m = self.lock();
        let mut chosen = None;
        for f in m.faults.iter_mut() {
            if !f.matches(method, path) || f.times == Some(0) {
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
    }

    /// The answer of a fault with a `status`: its body (or a Salesforce error array) and headers.
    pub(super) fn fault_response(&self, f: &Fault, path: &str) -> Resp {
        let status = StatusCode::from_u16(f.status.unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = f.body.clone().unwrap_or_else(|| default_fault_body(status));
        let mut r = Resp::json(status, body);
        for (k, v) in f.headers.clone().unwrap_or_default() {
            r = r.header(&k, v);
        }
        if path.starts_with("/services/data") {
            let m = self.lock();
            r = r.header(
                "Sforce-Limit-Info",
                format!("api-usage={}/{}", m.used, m.max),
            );
        }
        r
    }
}
