//! Edge cases of the Monday client against wiremock: exact requests and injected failures.

use std::sync::Arc;
use std::time::Duration;

use crmsync_monday::{
    ChangeColumnValues, ColumnSettings, CreateItem, ErrorKind, ItemsPageOptions, ManualTimer,
    MondayClient, MondayConfig, MondayError, Mutation, RetryPolicy,
};
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "test-token-123";

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        max_total_wait: Duration::from_secs(300),
        default_rate_limit_wait: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
    }
}

fn client_with(server: &MockServer, timer: &ManualTimer, retry: RetryPolicy) -> MondayClient {
    let config = MondayConfig::new(SecretString::from(TOKEN.to_owned()))
        .with_api_url(format!("{}/v2", server.uri()))
        .with_retry_policy(retry);
    MondayClient::with_timer(config, Arc::new(timer.clone())).expect("client builds")
}

fn client(server: &MockServer, timer: &ManualTimer) -> MondayClient {
    client_with(server, timer, policy())
}

fn complexity(after: i64, query: i64, reset: i64) -> Value {
    json!({"before": after + query, "after": after, "query": query, "reset_in_x_seconds": reset})
}

fn boards_ok() -> Value {
    json!({"data": {
        "complexity": complexity(999_000, 1000, 30),
        "boards": [{"id": "1", "name": "Leads", "columns": [
            {"id": "name", "title": "Name", "type": "name", "settings_str": "{}"}
        ], "groups": [{"id": "topics", "title": "Group"}]}]
    }})
}

async fn received_bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("client sends JSON"))
        .collect()
}

#[tokio::test]
async fn sends_raw_token_api_version_and_variables() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2"))
        .and(header("Authorization", TOKEN))
        .and(header("API-Version", "2026-10"))
        .and(header("Content-Type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .expect(1)
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let boards = client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect("boards");
    assert_eq!(boards.len(), 1);
    assert_eq!(boards[0].groups[0].id, "topics");
    let bodies = received_bodies(&server).await;
    assert_eq!(bodies[0]["variables"]["ids"], json!(["1"]));
    let q = bodies[0]["query"].as_str().expect("query string");
    assert!(q.contains("complexity { before after query reset_in_x_seconds }"));
    assert!(q.contains("settings_str"));
    assert!(timer.sleeps().is_empty());
}

#[tokio::test]
async fn api_version_is_configurable() {
    let server = MockServer::start().await;
    Mock::given(header("API-Version", "2025-04"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .expect(1)
        .mount(&server)
        .await;
    let config = MondayConfig::new(SecretString::from(TOKEN.to_owned()))
        .with_api_url(format!("{}/v2", server.uri()))
        .with_api_version("2025-04");
    let c = MondayClient::with_timer(config, Arc::new(ManualTimer::new())).expect("client");
    c.boards(&["1".to_owned()]).await.expect("boards");
}

#[tokio::test]
async fn complexity_error_in_http_200_body_waits_retry_in_seconds_then_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{"message": "Complexity budget exhausted",
                        "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 42}}]
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let boards = client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect("second attempt succeeds");
    assert_eq!(boards[0].name, "Leads");
    assert_eq!(received_bodies(&server).await.len(), 2);
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(42)]);
}

#[tokio::test]
async fn legacy_complexity_shapes_are_recognised_with_their_reset_time() {
    for (status, body, expected_wait) in [
        (
            200,
            json!({"error_code": "ComplexityException", "status_code": 429,
                   "error_message": "Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds",
                   "error_data": {}, "errors": ["Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds"]}),
            3,
        ),
        (
            429,
            json!({"errors": ["Complexity budget exhausted, query cost 222250 budget remaining 214980 out of 10000000 reset in 16 seconds"],
                   "status_code": 429, "error_code": "complexityBudgetExhausted",
                   "error_message": "Complexity budget exhausted, query cost 222250 budget remaining 214980 out of 10000000 reset in 16 seconds"}),
            16,
        ),
        (
            429,
            json!({"errors": [{"message": "Complexity budget exhausted",
                               "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 9, "status_code": 429}}]}),
            9,
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
            .mount(&server)
            .await;
        let timer = ManualTimer::new();
        client(&server, &timer)
            .boards(&["1".to_owned()])
            .await
            .expect("retried");
        assert_eq!(received_bodies(&server).await.len(), 2);
        assert_eq!(timer.sleeps(), vec![Duration::from_secs(expected_wait)]);
    }
}

#[tokio::test]
async fn http_429_with_retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(json!({"errors": [{"message": "Rate limit exceeded",
                                                   "extensions": {"code": "RATE_LIMIT_EXCEEDED"}}]})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect("retried after Retry-After");
    assert_eq!(received_bodies(&server).await.len(), 2);
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn concurrency_limit_without_hint_uses_short_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"errors": [{
            "message": "Concurrency limit exceeded", "extensions": {"code": "maxConcurrencyExceeded"}}]})))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect("recovers");
    assert_eq!(received_bodies(&server).await.len(), 3);
    let sleeps = timer.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(
        sleeps.iter().all(|d| *d <= Duration::from_secs(2)),
        "{sleeps:?}"
    );
}

#[tokio::test]
async fn rate_limit_waits_are_bounded_by_max_total_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{"message": "Complexity budget exhausted",
                        "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 60}}]
        })))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let retry = RetryPolicy {
        max_total_wait: Duration::from_secs(150),
        ..policy()
    };
    let err = client_with(&server, &timer, retry)
        .boards(&["1".to_owned()])
        .await
        .expect_err("gives up");
    assert!(
        matches!(err, MondayError::RateLimitWaitExceeded { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(60))
        }
    );
    // 60 + 60 = 120 <= 150; a third wait would exceed the bound.
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(60); 2]);
    assert_eq!(received_bodies(&server).await.len(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let err = client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect_err("fails after retries");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(
        matches!(err, MondayError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(received_bodies(&server).await.len(), 3, "max_attempts = 3");
    assert_eq!(timer.sleeps().len(), 2);
    // Backoff is below its cap.
    assert!(timer.sleeps().iter().all(|d| *d <= Duration::from_secs(2)));
}

#[tokio::test]
async fn server_error_then_success_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                json!({"error_message": "Internal server error", "status_code": 500}),
            ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(boards_ok()))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect("recovers");
    assert_eq!(received_bodies(&server).await.len(), 2);
}

#[tokio::test]
async fn create_item_is_not_resent_after_an_ambiguous_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let err = client(&server, &timer)
        .create_item(&CreateItem {
            board_id: "1".into(),
            group_id: None,
            item_name: "Acme".into(),
            column_values: None,
            create_labels_if_missing: false,
        })
        .await
        .expect_err("5xx");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        received_bodies(&server).await.len(),
        1,
        "a create may have been applied; the caller reconciles"
    );
}

#[tokio::test]
async fn create_item_sends_column_values_as_json_string_variable() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("create_item("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"create_item": {"id": "2887147339", "name": "Acme \"Ltd\""},
                     "complexity": complexity(100_000, 10, 40)},
            "extensions": {"request_id": "9256a5b1"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let created = client(&server, &timer)
        .create_item(&CreateItem {
            board_id: "42".into(),
            group_id: Some("topics".into()),
            item_name: "Acme \"Ltd\"".into(),
            column_values: Some(json!({"status": {"label": "Done"}, "text": "a\"b"})),
            create_labels_if_missing: true,
        })
        .await
        .expect("created");
    assert_eq!(created.id, "2887147339");
    let body = &received_bodies(&server).await[0];
    assert_eq!(body["variables"]["board"], json!("42"));
    assert_eq!(body["variables"]["name"], json!("Acme \"Ltd\""));
    assert_eq!(body["variables"]["labels"], json!(true));
    let values: Value = serde_json::from_str(
        body["variables"]["values"]
            .as_str()
            .expect("JSON scalar sent as a string"),
    )
    .expect("valid JSON");
    assert_eq!(values["text"], json!("a\"b"));
    assert!(!body["query"].as_str().unwrap_or_default().contains("Acme"));
}

#[tokio::test]
async fn known_low_budget_makes_the_next_request_wait_for_the_reset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": complexity(50, 1000, 25),
            "boards": []
        }})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let c = client(&server, &timer);
    c.boards(&["1".to_owned()]).await.expect("first");
    assert!(timer.sleeps().is_empty());
    assert_eq!(c.budget().remaining, Some(50));
    c.boards(&["1".to_owned()]).await.expect("second");
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(25)]);
}

fn item(id: u32) -> Value {
    json!({"id": id.to_string(), "name": format!("Item {id}"), "group": {"id": "topics", "title": "G"},
           "board": {"id": "1"}, "column_values": []})
}

#[tokio::test]
async fn expired_cursor_restarts_from_the_first_page_without_duplicates() {
    let server = MockServer::start().await;
    // First pass: items_page -> [1, 2] c1; next(c1) -> [3] c2; next(c2) -> cursor expired.
    Mock::given(body_string_contains("query ItemsPage("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": complexity(900_000, 100, 50),
            "boards": [{"items_page": {"cursor": "c1", "items": [item(1), item(2)]}}]}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(body_partial_json(json!({"variables": {"cursor": "c1"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": complexity(900_000, 100, 50),
            "next_items_page": {"cursor": "c2", "items": [item(3)]}}})))
        .mount(&server)
        .await;
    Mock::given(body_partial_json(json!({"variables": {"cursor": "c2"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": null, "errors": [{
            "message": "The cursor has expired, please start a new pagination",
            "extensions": {"code": "CursorExpiredError", "status_code": 200}}]})),
        )
        .mount(&server)
        .await;
    // Second pass: items_page -> [1, 2, 3] d1 (a new item 4 arrives later); next(d1) -> [4, 5] end.
    Mock::given(body_string_contains("query ItemsPage("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": complexity(900_000, 100, 50),
            "boards": [{"items_page": {"cursor": "d1", "items": [item(1), item(2), item(3)]}}]}})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(body_partial_json(json!({"variables": {"cursor": "d1"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": complexity(900_000, 100, 50),
            "next_items_page": {"cursor": null, "items": [item(4), item(5)]}}})))
        .mount(&server)
        .await;

    let timer = ManualTimer::new();
    let items: Vec<_> = client(&server, &timer)
        .items_stream(
            "1",
            ItemsPageOptions {
                limit: 3,
                max_restarts: 2,
                column_ids: None,
            },
        )
        .collect()
        .await;
    let ids: Vec<String> = items.into_iter().map(|r| r.expect("no error").id).collect();
    assert_eq!(ids, vec!["1", "2", "3", "4", "5"]);
    let bodies = received_bodies(&server).await;
    let first_pages = bodies
        .iter()
        .filter(|b| {
            b["query"]
                .as_str()
                .unwrap_or_default()
                .contains("query ItemsPage(")
        })
        .count();
    assert_eq!(first_pages, 2, "restarted exactly once");
    assert_eq!(bodies[0]["variables"]["limit"], json!(3));
    assert_eq!(bodies[0]["variables"]["board"], json!(["1"]));
}

#[tokio::test]
async fn expired_cursor_restarts_are_bounded() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("query ItemsPage("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "boards": [{"items_page": {"cursor": "c1", "items": [item(1)]}}]}})))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("NextItemsPage("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errors": [{
            "message": "Cursor expired", "extensions": {"code": "CursorExpiredError"}}]})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let results: Vec<_> = client(&server, &timer)
        .items_stream(
            "1",
            ItemsPageOptions {
                limit: 10,
                max_restarts: 2,
                column_ids: None,
            },
        )
        .collect()
        .await;
    assert_eq!(results.len(), 2, "item 1 once, then the error");
    assert_eq!(results[0].as_ref().expect("item").id, "1");
    let err = results[1].as_ref().expect_err("error ends the stream");
    assert_eq!(err.code(), Some("CursorExpiredError"));
    let first_pages = received_bodies(&server)
        .await
        .iter()
        .filter(|b| {
            b["query"]
                .as_str()
                .unwrap_or_default()
                .contains("query ItemsPage(")
        })
        .count();
    assert_eq!(first_pages, 3, "initial pass + 2 restarts");
}

#[tokio::test]
async fn batched_mutations_map_results_and_errors_back_by_alias() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("mutation Batch("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {
                "m0": {"id": "101", "name": "A"},
                "m1": null,
                "m2": {"id": "103", "name": "C"},
                "m3": {"id": "55"},
                "complexity": complexity(500_000, 120, 30)
            },
            "errors": [{
                "message": "This column ID doesn't exist for the board",
                "locations": [{"line": 1, "column": 300}],
                "path": ["m1"],
                "extensions": {"code": "InvalidColumnIdException", "status_code": 200,
                               "error_data": {"column_id": "nope"}}
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let create = |name: &str| {
        Mutation::CreateItem(CreateItem {
            board_id: "1".into(),
            group_id: Some("topics".into()),
            item_name: name.into(),
            column_values: Some(json!({"text": name})),
            create_labels_if_missing: false,
        })
    };
    let results = client(&server, &timer)
        .batch(&[
            create("A"),
            Mutation::ChangeColumnValues(ChangeColumnValues {
                board_id: "1".into(),
                item_id: "77".into(),
                column_values: json!({"nope": "x"}),
                create_labels_if_missing: false,
            }),
            create("C"),
            Mutation::DeleteItem {
                item_id: "55".into(),
            },
        ])
        .await
        .expect("the request as a whole succeeded");
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().expect("m0").id, "101");
    let e1 = results[1].as_ref().expect_err("m1 failed");
    assert_eq!(e1.kind(), ErrorKind::Permanent);
    assert_eq!(e1.code(), Some("InvalidColumnIdException"));
    assert_eq!(
        e1.graphql_errors()[0].error_data,
        Some(json!({"column_id": "nope"}))
    );
    assert_eq!(results[2].as_ref().expect("m2").id, "103");
    assert_eq!(results[3].as_ref().expect("m3").id, "55");

    let body = &received_bodies(&server).await[0];
    let q = body["query"].as_str().expect("query");
    for alias in [
        "m0: create_item(",
        "m1: change_multiple_column_values(",
        "m2: create_item(",
        "m3: delete_item(",
    ] {
        assert!(q.contains(alias), "{alias} in {q}");
    }
    assert_eq!(body["variables"]["n2"], json!("C"));
    assert_eq!(body["variables"]["i1"], json!("77"));
    assert_eq!(body["variables"]["i3"], json!("55"));
}

#[tokio::test]
async fn batch_with_complexity_error_waits_and_resends_whole_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errors": [{
            "message": "Complexity budget exhausted",
            "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 5}}]})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "m0": {"id": "9"}, "complexity": complexity(1000, 10, 30)}})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let results = client(&server, &timer)
        .batch(&[Mutation::DeleteItem {
            item_id: "9".into(),
        }])
        .await
        .expect("batch");
    assert_eq!(results[0].as_ref().expect("deleted").id, "9");
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(5)]);
    assert_eq!(received_bodies(&server).await.len(), 2);
}

#[tokio::test]
async fn not_authenticated_is_auth_and_not_retried() {
    for (status, body) in [
        (401, json!({"errors": ["Not Authenticated"]})),
        (
            401,
            json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "NOT_AUTHENTICATED"}}]}),
        ),
        (
            200,
            json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "NOT_AUTHENTICATED"}}]}),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let timer = ManualTimer::new();
        let err = client(&server, &timer)
            .delete_item("1")
            .await
            .expect_err("auth error");
        assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
        assert!(!format!("{err} {err:?}").contains(TOKEN));
        assert_eq!(received_bodies(&server).await.len(), 1);
    }
}

#[tokio::test]
async fn partial_data_is_kept_on_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"delete_item": null, "complexity": {"query": 12}},
            "errors": [{"message": "Item not found", "path": ["delete_item"],
                        "extensions": {"code": "InvalidItemIdException", "error_data": {"item_id": 1}}}]
        })))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let err = client(&server, &timer)
        .delete_item("1")
        .await
        .expect_err("invalid item");
    assert_eq!(err.kind(), ErrorKind::Permanent);
    let MondayError::GraphQl { partial_data, .. } = &err else {
        panic!("expected GraphQl, got {err:?}")
    };
    assert_eq!(
        partial_data.as_deref().and_then(|d| d.get("complexity")),
        Some(&json!({"query": 12}))
    );
}

#[tokio::test]
async fn recorded_board_columns_parse_status_and_dropdown_labels() {
    let path =
        "/work/shared/reference/monday/recorded/mondaytoframe_response_fetch_boards_by_id.json";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reference file {path} is required for this test: {e}"));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(text))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let board = client(&server, &timer).board("13").await.expect("board 13");
    let status = board.column("status").expect("status column");
    let labels: Vec<(u32, &str)> = status
        .status_labels()
        .expect("status labels")
        .iter()
        .map(|l| (l.index, l.label.as_str()))
        .collect();
    // Ordered by labels_positions_v2: 0 -> 0, 2 -> 1, 1 -> 2.
    assert_eq!(
        labels,
        vec![(0, "Working on it"), (2, "Stuck"), (1, "Done")]
    );
    let sparse = board.column("label_mkmytka4").expect("sparse status");
    let idx: Vec<u32> = sparse
        .status_labels()
        .expect("labels")
        .iter()
        .map(|l| l.index)
        .collect();
    assert_eq!(idx, vec![105, 3, 156]);
    let dropdown = board.column("dropdown_mkmyr6sf").expect("dropdown");
    let names: Vec<(u32, &str)> = dropdown
        .dropdown_labels()
        .expect("dropdown labels")
        .iter()
        .map(|l| (l.id, l.name.as_str()))
        .collect();
    assert_eq!(names, vec![(1, "a"), (2, "b")]);
    assert!(board
        .columns
        .iter()
        .all(|c| !matches!(c.settings, ColumnSettings::Invalid { .. })));
}

#[tokio::test]
async fn items_by_ids_read_board_relation_linked_ids_and_chunk_by_100() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("query Items("))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let ids = body["variables"]["ids"].as_array().cloned().unwrap_or_default();
            let items: Vec<Value> = ids
                .iter()
                .map(|id| {
                    json!({"id": id, "name": "x", "column_values": [
                        {"id": "connect_boards", "type": "board_relation", "text": null, "value": null,
                         "linked_item_ids": ["8426052265"]},
                        {"id": "numbers", "type": "numbers", "text": "10", "value": "\"10\""}
                    ]})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"data": {"items": items}}))
        })
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let ids: Vec<String> = (1..=150).map(|i| i.to_string()).collect();
    let items = client(&server, &timer).items(&ids).await.expect("items");
    assert_eq!(items.len(), 150);
    let rel = items[0].column_value("connect_boards").expect("relation");
    assert_eq!(rel.linked_item_ids, Some(vec!["8426052265".to_owned()]));
    assert_eq!(
        items[0]
            .column_value("numbers")
            .and_then(|c| c.value_json())
            .and_then(Result::ok),
        Some(json!("10"))
    );
    let bodies = received_bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0]["variables"]["ids"].as_array().map(Vec::len),
        Some(100)
    );
    assert_eq!(
        bodies[1]["variables"]["ids"].as_array().map(Vec::len),
        Some(50)
    );
    assert!(bodies[0]["query"]
        .as_str()
        .unwrap_or_default()
        .contains("... on BoardRelationValue { linked_item_ids }"));
}

#[tokio::test]
async fn items_by_column_values_follows_the_cursor() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("query ItemsByColumnValues("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "items_page_by_column_values": {"cursor": "k1", "items": [item(7)]}}})))
        .mount(&server)
        .await;
    Mock::given(body_partial_json(json!({"variables": {"cursor": "k1"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "next_items_page": {"cursor": null, "items": [item(8)]}}})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let items = client(&server, &timer)
        .items_by_column_values("1", "text_sfid", &["00Q5e00000AbCdE\"x".to_owned()])
        .await
        .expect("found");
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["7", "8"]);
    let body = &received_bodies(&server).await[0];
    assert_eq!(
        body["variables"]["columns"],
        json!([{"column_id": "text_sfid", "column_values": ["00Q5e00000AbCdE\"x"]}])
    );
    assert_eq!(body["variables"]["board"], json!("1"));
}

#[tokio::test]
async fn webhooks_create_list_delete() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("create_webhook("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "create_webhook": {"id": "73759690", "board_id": 1771812698}}})))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("webhooks(board_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "webhooks": [{"id": "73759690", "board_id": "1771812698", "event": "create_item", "config": null}]}})))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("delete_webhook("))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "delete_webhook": {"id": "73759690", "board_id": "1771812698"}}})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let c = client(&server, &timer);
    let hook = c
        .create_webhook(
            "1771812698",
            "https://example.test/webhooks/monday?token=abc",
            &crmsync_monday::WebhookEventType::CreateItem,
            None,
        )
        .await
        .expect("created");
    assert_eq!(hook.id, "73759690");
    assert_eq!(hook.board_id, "1771812698");
    assert_eq!(hook.event.as_deref(), Some("create_item"));
    let list = c.webhooks("1771812698").await.expect("list");
    assert_eq!(list, vec![hook.clone()]);
    let deleted = c.delete_webhook("73759690").await.expect("deleted");
    assert_eq!(deleted.id, "73759690");
    let bodies = received_bodies(&server).await;
    assert_eq!(bodies[0]["variables"]["event"], json!("create_item"));
    assert_eq!(
        bodies[0]["variables"]["url"],
        json!("https://example.test/webhooks/monday?token=abc")
    );
}

#[tokio::test]
async fn response_bodies_larger_than_the_cap_are_refused_not_buffered() {
    let body = serde_json::to_vec(&boards_ok()).expect("serialise");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"))
        .mount(&server)
        .await;
    let client_capped_at = |max: usize| {
        let config = MondayConfig::new(SecretString::from(TOKEN.to_owned()))
            .with_api_url(format!("{}/v2", server.uri()))
            .with_retry_policy(policy())
            .with_max_response_bytes(max);
        MondayClient::with_timer(config, Arc::new(ManualTimer::new())).expect("client")
    };

    // A cap of exactly the body's size still reads it.
    let boards = client_capped_at(body.len())
        .boards(&["1".to_owned()])
        .await
        .expect("a body at the cap is read");
    assert_eq!(boards.len(), 1);

    // One byte less: a permanent decode error naming the limit, and no retry.
    let err = client_capped_at(body.len() - 1)
        .boards(&["1".to_owned()])
        .await
        .expect_err("a body over the cap is refused");
    match &err {
        MondayError::Decode { operation, message } => {
            assert_eq!(operation, "boards");
            assert!(
                message.contains(&format!("limit of {} bytes", body.len() - 1)),
                "{message}"
            );
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
}

/// Absurd reset times from the network (`retry_in_seconds`, `Retry-After`,
/// `reset_in_x_seconds` near the integer maximum) end in an error, never in an arithmetic
/// overflow panic.
#[tokio::test]
async fn huge_reset_times_from_the_server_do_not_overflow() {
    let huge = u64::MAX;
    // 1. A short wait first (so the total is non-zero), then a budget error asking for u64::MAX s.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "5").set_body_json(
            json!({"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATE_LIMIT_EXCEEDED"}}]}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{"message": "Complexity budget exhausted",
                        "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": huge}}]
        })))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let err = client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect_err("the wait is beyond max_total_wait");
    match &err {
        MondayError::RateLimitWaitExceeded { waited, .. } => {
            assert_eq!(*waited, Duration::from_secs(5));
        }
        other => panic!("expected RateLimitWaitExceeded, got {other:?}"),
    }
    assert_eq!(timer.sleeps(), vec![Duration::from_secs(5)]);

    // 2. The same with Retry-After: u64::MAX on HTTP 429.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", huge.to_string().as_str())
                .set_body_json(json!({"errors": [{"message": "Complexity budget exhausted",
                    "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED"}}]})),
        )
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let err = client(&server, &timer)
        .boards(&["1".to_owned()])
        .await
        .expect_err("gives up");
    assert!(
        matches!(err, MondayError::RateLimitWaitExceeded { .. }),
        "{err:?}"
    );
    assert!(timer.sleeps().is_empty());

    // 3. A successful answer whose complexity says the reset is i64::MAX seconds away, with no
    // budget left: the next call waits no longer than the cap and never panics.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "complexity": {"before": 1000, "after": 0, "query": 1000, "reset_in_x_seconds": i64::MAX},
            "boards": [{"id": "1", "name": "Leads", "columns": [], "groups": []}]
        }})))
        .mount(&server)
        .await;
    let timer = ManualTimer::new();
    let c = client(&server, &timer);
    c.boards(&["1".to_owned()]).await.expect("first call");
    c.boards(&["1".to_owned()]).await.expect("second call");
    // The proactive wait would exceed max_total_wait (300 s), so it is not taken.
    assert!(timer.sleeps().is_empty(), "{:?}", timer.sleeps());
    assert_eq!(received_bodies(&server).await.len(), 2);
}
