#![allow(dead_code)]
//! Shared helpers for the mock's integration tests.

use std::path::PathBuf;

use mock_monday::{MockMonday, MockMondayBuilder, RunningMock};
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";

pub fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/monday")
}

pub fn builder() -> MockMondayBuilder {
    MockMonday::builder().seed_dir(seed_dir()).token(TOKEN)
}

pub async fn start() -> RunningMock {
    builder().start().await.expect("mock starts")
}

/// POSTs a GraphQL request; returns (status, headers, body).
pub async fn gql_raw(
    m: &RunningMock,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().post(m.api_url()).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

pub async fn gql(m: &RunningMock, query: &str, variables: Value) -> (u16, Value) {
    let (s, _, b) = gql_raw(
        m,
        &[("Authorization", TOKEN), ("API-Version", "2026-10")],
        json!({ "query": query, "variables": variables }),
    )
    .await;
    (s, b)
}

pub const LEADS: &str = "9378000505";
pub const ACCOUNTS: &str = "9378000326";
pub const CONTACTS: &str = "9429890440";
pub const OPPS: &str = "9378000036";

/// A webhook receiver recording every POST (headers and body).
pub struct Receiver {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<(reqwest::header::HeaderMap, Value)>>>,
    /// Number of upcoming event deliveries to answer 500.
    pub fail_next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub async fn start(echo_challenge: bool) -> Receiver {
        use axum::routing::post;
        let received: std::sync::Arc<std::sync::Mutex<Vec<(reqwest::header::HeaderMap, Value)>>> =
            Default::default();
        let fail_next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, f) = (received.clone(), fail_next.clone());
        let app = axum::Router::new().route(
            "/hook",
            post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let r = r.clone();
                    let f = f.clone();
                    async move {
                        let mut h = reqwest::header::HeaderMap::new();
                        for (k, v) in headers.iter() {
                            if let (Ok(name), Ok(val)) = (
                                reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()),
                                reqwest::header::HeaderValue::from_bytes(v.as_bytes()),
                            ) {
                                h.insert(name, val);
                            }
                        }
                        r.lock().unwrap().push((h, body.clone()));
                        if body.get("challenge").is_some() {
                            if echo_challenge {
                                return (axum::http::StatusCode::OK, axum::Json(body));
                            }
                            return (
                                axum::http::StatusCode::OK,
                                axum::Json(json!({ "ok": true })),
                            );
                        }
                        let fail = f
                            .fetch_update(
                                std::sync::atomic::Ordering::SeqCst,
                                std::sync::atomic::Ordering::SeqCst,
                                |n| n.checked_sub(1),
                            )
                            .is_ok();
                        if fail {
                            (
                                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                                axum::Json(json!({ "error": "boom" })),
                            )
                        } else {
                            (axum::http::StatusCode::OK, axum::Json(json!({})))
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            received,
            fail_next,
        }
    }

    /// Event bodies received so far (challenges excluded).
    pub fn events(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b.get("event").is_some())
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<(reqwest::header::HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` events arrived (at most 5 s).
    pub async fn wait_events(&self, n: usize) -> Vec<Value> {
        for _ in 0..500 {
            let ev = self.events();
            if ev.len() >= n {
                return ev;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("expected {n} events, got {:?}", self.events());
    }
}

/// Subscribes `url` to `event` on `board` through the API.
pub async fn subscribe(
    m: &RunningMock,
    board: &str,
    url: &str,
    event: &str,
    config: Option<Value>,
) -> Value {
    let (s, b) = gql(
        m,
        "mutation ($b: ID!, $u: String!, $e: WebhookEventType!, $c: JSON) { create_webhook(board_id: $b, url: $u, event: $e, config: $c) { id board_id event config } }",
        json!({ "b": board, "u": url, "e": event, "c": config }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// A file of the shared reference data (`shared/reference/` beside the checkout): taken from
/// `CRMSYNC_REFERENCE_DIR` if set, else the first ancestor of this crate holding
/// `shared/reference`, else `/work/shared/reference`. Tests that need it fail (never skip) when
/// it is absent, naming every place they looked.
#[allow(dead_code)]
pub fn reference_file(rel: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CRMSYNC_REFERENCE_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    for dir in std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors() {
        candidates.push(dir.join("shared/reference"));
    }
    candidates.push(PathBuf::from("/work/shared/reference"));
    for dir in &candidates {
        let file = dir.join(rel);
        if file.is_file() {
            return file;
        }
    }
    panic!(
        "reference file {rel} is required by this test but was found in none of: {}",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
