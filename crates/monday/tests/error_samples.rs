//! Data-driven: every error body in the reference `error-samples.json` (and the recorded
//! cassette error bodies) is parsed and classified.

use std::time::Duration;

use crmsync_monday::{parse_error_body, ErrorKind, MondayError};
use serde_json::{json, Value};

const SAMPLES: &str = "/work/shared/reference/monday/error-samples.json";

fn load() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(SAMPLES)
        .unwrap_or_else(|e| panic!("reference file {SAMPLES} is required for this test: {e}"));
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        other => panic!("{SAMPLES} is not a JSON object: {other:?}"),
    }
}

/// Classifies a body as the client would for an HTTP 200 response.
fn classify_200(body: &Value) -> Option<ErrorKind> {
    let parsed = parse_error_body(body);
    if parsed.errors.is_empty() {
        return None;
    }
    Some(
        MondayError::GraphQl {
            operation: "test".into(),
            http_status: 200,
            errors: parsed.errors,
            partial_data: parsed.data.map(Box::new),
            retry_after: None,
        }
        .kind(),
    )
}

#[test]
fn every_error_sample_is_classified() {
    let samples = load();
    let rl = |s: u64| {
        Some(ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(s)),
        })
    };
    let expected: Vec<(&str, Option<ErrorKind>)> = vec![
        (
            "legacy_pre_2024_10_user_unauthorized",
            Some(ErrorKind::Auth),
        ),
        (
            "v2024_10_user_unauthorized_both_shapes",
            Some(ErrorKind::Auth),
        ),
        (
            "v2025_01_plus_user_unauthorized_http200",
            Some(ErrorKind::Auth),
        ),
        ("partial_data", Some(ErrorKind::Permanent)),
        ("legacy_complexity_exception_http200_body_status429", rl(3)),
        (
            "legacy_complexityBudgetExhausted_seen_by_airbyte_2024",
            rl(16),
        ),
        ("v2025_01_to_2025_04_complexity_exhausted", rl(60)),
        ("v2025_07_plus_complexity_exhausted", rl(60)),
        (
            "old_per_query_max_complexity_2020",
            Some(ErrorKind::Permanent),
        ),
        ("success_with_request_id_extension", None),
    ];
    let not_bodies = ["_provenance", "rate_limit_headers_example"];
    for key in samples.keys() {
        assert!(
            not_bodies.contains(&key.as_str()) || expected.iter().any(|(k, _)| k == key),
            "sample `{key}` in {SAMPLES} has no expected classification in this test"
        );
    }
    for (key, kind) in expected {
        let body = samples
            .get(key)
            .unwrap_or_else(|| panic!("sample `{key}` missing from {SAMPLES}"));
        assert_eq!(classify_200(body), kind, "sample `{key}`");
    }
}

#[test]
fn both_shapes_of_2024_10_collapse_into_one_error_with_its_code() {
    let samples = load();
    let parsed = parse_error_body(&samples["v2024_10_user_unauthorized_both_shapes"]);
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(
        parsed.errors[0].code.as_deref(),
        Some("UserUnauthorizedException")
    );
    assert_eq!(parsed.errors[0].path, vec![json!("me")]);
    assert_eq!(parsed.errors[0].status_code, Some(403));
}

#[test]
fn partial_data_sample_keeps_data_and_path() {
    let samples = load();
    let parsed = parse_error_body(&samples["partial_data"]);
    assert_eq!(
        parsed.data.as_ref().map(|d| d["me"]["id"].clone()),
        Some(json!("4012689"))
    );
    assert_eq!(parsed.errors[0].code.as_deref(), Some("ASSET_UNAVAILABLE"));
    assert_eq!(
        parsed.errors[0].path,
        vec![json!("me"), json!("photo_thumb")]
    );
}

#[test]
fn recorded_cassette_error_bodies_are_classified() {
    // Bodies recorded in monday_ruby_cassettes (API 2024-07 … 2025-10), the documentation's
    // examples (maxConcurrencyExceeded, internal server error), and one constructed new-style
    // body for ColumnValueException (no recording of it exists in the reference data).
    let cases = [
        (
            json!({"error_message":"This column ID doesn't exist for the board","error_code":"InvalidColumnIdException","error_data":{"column_id":"status","board_id":null,"error_reason":"store.monday.automation.error.missing_column"},"status_code":200,"account_id":24308083}),
            ErrorKind::Permanent,
            Some("InvalidColumnIdException"),
        ),
        (
            json!({"error_message":"Item not found","error_code":"InvalidItemIdException","error_data":{"item_id":123},"status_code":200,"account_id":24308083}),
            ErrorKind::Permanent,
            Some("InvalidItemIdException"),
        ),
        (
            json!({"error_message":"The board does not exist. Please check your board ID and try again","error_code":"InvalidBoardIdException","error_data":{"board_id":123},"status_code":200,"account_id":24308083}),
            ErrorKind::Permanent,
            Some("InvalidBoardIdException"),
        ),
        (
            json!({"errors":[{"message":"invalid value","extensions":{"code":"ColumnValueException","status_code":200}}]}),
            ErrorKind::Permanent,
            Some("ColumnValueException"),
        ),
        (
            json!({"errors":[{"message":"Argument 'column_type' on Field 'create_column' has an invalid value (nope). Expected type 'ColumnType!'.","locations":[{"line":1,"column":10}],"path":["mutation","create_column","column_type"],"extensions":{"code":"argumentLiteralsIncompatible","typeName":"Field","argumentName":"column_type"}}],"account_id":24308083}),
            ErrorKind::Permanent,
            Some("argumentLiteralsIncompatible"),
        ),
        (
            json!({"errors":["Not Authenticated"]}),
            ErrorKind::Auth,
            None,
        ),
        (
            json!({"errors":[{"message":"Not authenticated","extensions":{"code":"NOT_AUTHENTICATED"}}]}),
            ErrorKind::Auth,
            Some("NOT_AUTHENTICATED"),
        ),
        (
            json!({"errors":[{"message":"Concurrency limit exceeded","extensions":{"code":"maxConcurrencyExceeded"}}],"account_id":123456}),
            ErrorKind::RateLimited { retry_after: None },
            Some("maxConcurrencyExceeded"),
        ),
        (
            json!({"error_message":"Internal server error","status_code":500}),
            ErrorKind::Transient,
            None,
        ),
    ];
    for (body, kind, code) in cases {
        let parsed = parse_error_body(&body);
        assert_eq!(parsed.errors[0].code.as_deref(), code, "{body}");
        assert_eq!(classify_200(&body), Some(kind), "{body}");
    }
}

#[test]
fn http_status_classification() {
    let http = |status: u16, body: Value, retry_after: Option<Duration>| MondayError::Http {
        operation: "t".into(),
        status,
        errors: parse_error_body(&body).errors,
        retry_after,
        body_excerpt: None,
    };
    assert_eq!(http(503, json!({}), None).kind(), ErrorKind::Transient);
    assert_eq!(http(500, json!({}), None).kind(), ErrorKind::Transient);
    assert_eq!(
        http(401, json!({"errors":["Not Authenticated"]}), None).kind(),
        ErrorKind::Auth
    );
    assert_eq!(
        http(429, json!({}), Some(Duration::from_secs(4))).kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(4))
        }
    );
    assert_eq!(
        http(
            429,
            json!({"errors":[{"message":"Complexity budget exhausted","extensions":{"code":"COMPLEXITY_BUDGET_EXHAUSTED","retry_in_seconds":12}}]}),
            Some(Duration::from_secs(4))
        )
        .kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(12))
        },
        "retry_in_seconds from the body wins over Retry-After"
    );
    assert_eq!(
        http(
            400,
            json!({"errors":[{"message":"Parse error on \")\" (RPAREN) at [59, 15]"}]}),
            None
        )
        .kind(),
        ErrorKind::Permanent
    );
}
