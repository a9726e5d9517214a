//! Bad input never panics and never yields a 500: arbitrary bodies, queries and variables get
//! Monday's error shapes. Also the canned-answer fault, targeted (`query_contains`) and "apply, then
//! fail" (`after`).

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use mock_monday::{CannedResponse, Faults};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

/// One mock shared by all cases (requests are independent).
fn router() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static ENV: std::sync::OnceLock<(tokio::runtime::Runtime, axum::Router)> =
        std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seed = mock_monday::Seed::load(&seed_dir()).unwrap();
        let config = mock_monday::Config {
            token: TOKEN.into(),
            budget_points: u64::MAX / 4,
            requests_per_window: u64::MAX / 4,
            ..Default::default()
        };
        let mock = rt.block_on(async { mock_monday::Mock::start(config, seed) });
        let router = mock_monday::server::router(Arc::clone(&mock));
        (rt, router)
    })
}

fn post(rt: &tokio::runtime::Runtime, router: &axum::Router, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::post("/v2")
        .header("Authorization", TOKEN)
        .header("API-Version", "2026-10")
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
    let status = resp.status();
    let bytes = rt
        .block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).expect("every answer is JSON"),
    )
}

fn assert_monday_shape(status: StatusCode, body: &Value) {
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    if let Some(errors) = body.get("errors") {
        for e in errors.as_array().expect("errors is an array") {
            assert!(e["message"].is_string(), "{body}");
            assert!(e["extensions"]["code"].is_string(), "{body}");
        }
    } else {
        assert!(body.get("data").is_some(), "{body}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (rt, r) = router();
        let (status, v) = post(rt, r, body);
        assert_monday_shape(status, &v);
    }

    #[test]
    fn arbitrary_queries(q in "[{}()a-z_:$!\\[\\] \"0-9,.@#]{0,80}") {
        let (rt, r) = router();
        let (status, v) = post(rt, r, serde_json::to_vec(&json!({ "query": q })).unwrap());
        assert_monday_shape(status, &v);
    }

    #[test]
    fn arbitrary_variables(v in prop_oneof![
        Just(json!(null)), Just(json!(1)), Just(json!("x")), Just(json!([1, 2])), Just(json!({ "a": 1 })),
        Just(json!(true)), Just(json!("{not json")), Just(json!({ "nested": { "deep": [null] } })),
    ], col in prop_oneof![Just("text_mkry13cw"), Just("color_mksj2adq"), Just("nope"), Just("name"), Just("person")]) {
        let (rt, r) = router();
        let q = "mutation ($v: JSON!, $c: String!) { change_column_value(board_id: 9378000505, item_id: 9378100000, column_id: $c, value: $v) { id } }";
        let (status, body) = post(rt, r, serde_json::to_vec(&json!({ "query": q, "variables": { "v": v, "c": col } })).unwrap());
        assert_monday_shape(status, &body);
        let q2 = "mutation ($v: JSON!) { create_item(board_id: 9378000505, item_name: \"P\", column_values: $v) { id } }";
        let (status, body) = post(rt, r, serde_json::to_vec(&json!({ "query": q2, "variables": { "v": v } })).unwrap());
        assert_monday_shape(status, &body);
    }
}

#[test]
fn non_json_and_bad_variables_are_400() {
    let (rt, r) = router();
    let (s, b) = post(rt, r, b"not json".to_vec());
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let (s, _) = post(
        rt,
        r,
        serde_json::to_vec(&json!({ "query": "{ me { id } }", "variables": [1] })).unwrap(),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(
        rt,
        r,
        serde_json::to_vec(&json!({ "variables": {} })).unwrap(),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Wrong variable type: 200 with a GraphQL error.
    let (s, b) = post(
        rt,
        r,
        serde_json::to_vec(&json!({ "query": "query ($l: Int) { boards(limit: $l) { id } }", "variables": { "l": "many" } })).unwrap(),
    );
    assert_eq!(s, StatusCode::OK);
    // The error names the argument and the type it expected.
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"limit\"") && message.contains("Int"),
        "{b}"
    );
}

#[tokio::test]
async fn canned_answers_then_back_to_normal() {
    let m = start().await;
    m.admin
        .set_faults(&Faults {
            fail_next: vec![CannedResponse {
                status: 503,
                body: json!({ "errors": [{ "message": "Service unavailable" }] }),
                retry_after: Some(2),
                count: 2,
                query_contains: None,
                after: false,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (s, h, _) = gql_raw(
        &m,
        &[("Authorization", TOKEN)],
        json!({ "query": "{ me { id } }" }),
    )
    .await;
    assert_eq!(s, 503);
    assert_eq!(h["retry-after"], "2");
    let (s, _) = gql(&m, "{ me { id } }", json!({})).await;
    assert_eq!(s, 503);
    let (s, _) = gql(&m, "{ me { id } }", json!({})).await;
    assert_eq!(s, 200);
    let journal = m.admin.requests().await.unwrap();
    assert_eq!(
        journal.iter().map(|j| j.status).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    assert!(journal.iter().all(|j| j.authorized));
}

async fn put_faults_json(m: &mock_monday::RunningMock, faults: Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/__mock/faults", m.base_url))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Items on the accounts board named `name`, through `items_page` with a `name` rule.
async fn items_named(m: &mock_monday::RunningMock, name: &str) -> usize {
    let (s, b) = gql(
        m,
        "query ($b: [ID!], $n: CompareValue!) { boards(ids: $b) { items_page(limit: 500, query_params: {rules: [{column_id: \"name\", compare_value: $n, operator: any_of}]}) { items { id name } } } }",
        json!({ "b": [ACCOUNTS], "n": [name] }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["data"]["boards"][0]["items_page"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .len()
}

const CREATE: &str =
    "mutation ($b: ID!, $n: String!) { create_item(board_id: $b, item_name: $n) { id } }";

#[tokio::test]
async fn an_after_canned_answer_creates_the_item_then_answers_the_fault() {
    let m = start().await;
    put_faults_json(
        &m,
        json!({ "fail_next": [{
            "status": 500,
            "body": { "error_message": "Internal server error", "status_code": 500 },
            "after": true,
            "query_contains": "create_item"
        }] }),
    )
    .await;
    // Other requests pass the canned answer by.
    let (s, _) = gql(&m, "{ me { id } }", json!({})).await;
    assert_eq!(s, 200);
    let (s, b) = gql(&m, CREATE, json!({ "b": ACCOUNTS, "n": "After Fault Inc" })).await;
    assert_eq!(s, 500);
    assert_eq!(
        b,
        json!({ "error_message": "Internal server error", "status_code": 500 })
    );
    assert_eq!(items_named(&m, "After Fault Inc").await, 1);
    let journal = m.admin.requests().await.unwrap();
    let create = journal
        .iter()
        .find(|j| j.query.as_deref() == Some(CREATE))
        .unwrap();
    assert_eq!(create.status, 500);
    // Used up: the next create answers normally.
    let (s, b) = gql(&m, CREATE, json!({ "b": ACCOUNTS, "n": "After Fault Inc" })).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(items_named(&m, "After Fault Inc").await, 2);
}

#[tokio::test]
async fn a_canned_answer_without_after_does_not_create_the_item() {
    let m = start().await;
    put_faults_json(
        &m,
        json!({ "fail_next": [{ "status": 500, "body": {}, "query_contains": "create_item" }] }),
    )
    .await;
    let (s, _) = gql(
        &m,
        CREATE,
        json!({ "b": ACCOUNTS, "n": "Before Fault Inc" }),
    )
    .await;
    assert_eq!(s, 500);
    assert_eq!(items_named(&m, "Before Fault Inc").await, 0);
}
