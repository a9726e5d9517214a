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
pub async fn gql_raw(m: &RunningMock, headers: &[(&str, &str)], body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
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
