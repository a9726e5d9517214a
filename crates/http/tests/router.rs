//! The receiver's edge cases, in-process with `tower::ServiceExt::oneshot` (no sockets, no mocks:
//! the API clients point at a closed port, so nothing here reaches Salesforce or Monday).

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use crmsync_http::{
    router, AppState, PendingPolicy, ReceiverConfig, ReceiverConfigError, WebhookAuth,
};
use crmsync_monday::{MondayClient, MondayConfig, RetryPolicy as MondayRetry};
use crmsync_salesforce::{AuthMode, RetryPolicy, SalesforceClient, SalesforceConfig};
use crmsync_store::{EventStatus, Store};
use crmsync_sync::{parse_mapping, Alerter, Engine, EngineConfig};
use secrecy::SecretString;
use serde_json::{json, Value};
use tower::ServiceExt;

const SECRET: &str = "router-secret";
const AUD: &str = "https://crmsync.example.org/webhooks/monday";
const LEADS: i64 = 9378000505;

async fn engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/mapping.toml"),
    )
    .unwrap();
    let mapping = parse_mapping(&src, "mapping.toml").unwrap();
    let closed = "http://127.0.0.1:9";
    let sf = SalesforceClient::new(
        SalesforceConfig::new(
            url::Url::parse(closed).unwrap(),
            "id",
            SecretString::from("s"),
            AuthMode::ClientCredentials,
        )
        .with_retry(RetryPolicy::none()),
    )
    .unwrap();
    let monday = MondayClient::new(
        MondayConfig::new(SecretString::from("t"))
            .with_api_url(format!("{closed}/v2"))
            .with_retry_policy(MondayRetry {
                max_attempts: 1,
                ..MondayRetry::default()
            }),
    )
    .unwrap();
    let e = Engine::new(
        store,
        mapping,
        sf,
        monday,
        Alerter::log_only(),
        EngineConfig::default(),
    );
    (e, dir)
}

fn jwt(aud: &str, exp_in: i64, secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"accountId": 1, "userId": 2, "aud": aud, "exp": now + exp_in, "iat": now}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn config() -> ReceiverConfig {
    let mut c = ReceiverConfig::new(
        WebhookAuth::new()
            .with_signing_secret(SecretString::from(SECRET), vec![AUD.into()])
            .with_shared_token(SecretString::from("shared-token")),
    );
    c.status_token = Some(SecretString::from("status-token"));
    c.inline_budget = Duration::from_secs(3);
    c
}

async fn app_with(c: ReceiverConfig) -> (axum::Router, Engine, tempfile::TempDir) {
    let (e, dir) = engine().await;
    let st = AppState::new(e.clone(), c).unwrap();
    (router(st), e, dir)
}

fn post(uri: &str, auth: Option<String>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(body.into()).unwrap()
}

async fn read(r: axum::response::Response) -> (StatusCode, Value) {
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

fn event(trigger: &str, board: i64) -> String {
    json!({"event": {"type": "create_pulse", "boardId": board, "pulseId": 77, "pulseName": "x", "triggerUuid": trigger}}).to_string()
}

#[tokio::test]
async fn challenge_is_echoed() {
    let (app, _, _d) = app_with(config()).await;
    let r = app
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            r#"{"challenge":"abc123"}"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        read(r).await,
        (StatusCode::OK, json!({"challenge": "abc123"}))
    );
}

// Monday documents the JWT for app webhooks' event deliveries, not for the URL-verification
// challenge: the challenge is echoed whatever the authentication (nothing is stored), while every
// event still needs valid credentials.
#[tokio::test]
async fn the_challenge_is_answered_without_a_signature_and_events_still_need_one() {
    let (app, e, _d) = app_with(config()).await;
    for auth in [
        None,
        Some(jwt(AUD, 60, "wrong")),
        Some("not.a.jwt".to_string()),
    ] {
        let r = app
            .clone()
            .oneshot(post(
                "/webhooks/monday",
                auth.clone(),
                r#"{"challenge":"c-1"}"#,
            ))
            .await
            .unwrap();
        assert_eq!(
            read(r).await,
            (StatusCode::OK, json!({"challenge": "c-1"})),
            "{auth:?}"
        );
        let r = app
            .clone()
            .oneshot(post(
                "/webhooks/monday",
                auth.clone(),
                event("t-unsigned", 1),
            ))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    assert!(e.store().recent_events(5).await.unwrap().is_empty());
}

#[tokio::test]
async fn authentication_failures_are_401() {
    let (app, e, _d) = app_with(config()).await;
    let cases = [
        ("/webhooks/monday", None, "missing webhook credentials"),
        ("/webhooks/monday", Some(jwt(AUD, 60, "wrong")), "signature"),
        ("/webhooks/monday", Some(jwt(AUD, -3600, SECRET)), "expired"),
        (
            "/webhooks/monday",
            Some(jwt("https://evil.example/x", 60, SECRET)),
            "audience",
        ),
        (
            "/webhooks/monday",
            Some("not.a.jwt".to_string()),
            "malformed",
        ),
        ("/webhooks/monday?token=nope", None, "does not match"),
    ];
    for (uri, auth, why) in cases {
        let r = app
            .clone()
            .oneshot(post(uri, auth, event("t-auth", 1)))
            .await
            .unwrap();
        let (status, body) = read(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    assert!(e.store().recent_events(5).await.unwrap().is_empty());
}

#[tokio::test]
async fn shared_token_in_the_url_is_accepted() {
    let (app, _, _d) = app_with(config()).await;
    let r = app
        .oneshot(post(
            "/webhooks/monday?token=shared-token",
            None,
            event("t-shared", 1),
        ))
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "skipped", "board 1 is not mapped: {body}");
}

#[tokio::test]
async fn audience_defaults_to_the_request_url() {
    let mut c = config();
    c.auth = WebhookAuth::new().with_signing_secret(SecretString::from(SECRET), vec![]);
    let (app, _, _d) = app_with(c).await;
    let mk = |aud: &str| {
        let mut r = post(
            "/webhooks/monday",
            Some(jwt(aud, 60, SECRET)),
            event(&format!("t-aud-{aud}"), 1),
        );
        r.headers_mut()
            .insert(header::HOST, "hooks.example.org".parse().unwrap());
        r.headers_mut()
            .insert("x-forwarded-proto", "https".parse().unwrap());
        r
    };
    let ok = app
        .clone()
        .oneshot(mk("https://hooks.example.org/webhooks/monday"))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let bad = app
        .oneshot(mk("https://other.example.org/webhooks/monday"))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unauthenticated_only_when_allowed() {
    let (e, _d) = engine().await;
    assert!(matches!(
        AppState::new(e.clone(), ReceiverConfig::new(WebhookAuth::new())),
        Err(ReceiverConfigError::NoAuth)
    ));
    let st = AppState::new(
        e,
        ReceiverConfig::new(WebhookAuth::new().allow_unauthenticated(true)),
    )
    .unwrap();
    let r = router(st)
        .oneshot(post("/webhooks/monday", None, event("t-unauth", 1)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_body_is_413_with_or_without_content_length() {
    let mut c = config();
    c.max_body_bytes = 1000;
    let (app, _, _d) = app_with(c).await;
    let big = format!(r#"{{"challenge":"{}"}}"#, "x".repeat(2000));
    let r = app
        .clone()
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            big.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed body (no Content-Length).
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes_of(&big))]);
    let r = app
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            Body::from_stream(stream),
        ))
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

fn bytes_of(s: &str) -> axum::body::Bytes {
    axum::body::Bytes::from(s.to_string())
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_clear_message() {
    let (app, e, _d) = app_with(config()).await;
    for (body, needle) in [
        ("{not json", "not valid JSON"),
        (r#"{"hello":1}"#, "neither `challenge` nor `event`"),
        (
            r#"{"event":{"type":"update_column_value","boardId":1,"pulseId":2}}"#,
            "columnId",
        ),
        (r#"{"event":{"type":"create_update"}}"#, "missing `boardId`"),
        (
            r#"{"event":{"type":"brand_new_type","boardId":"abc"}}"#,
            "event.boardId is not a number (\"abc\")",
        ),
        // A NUL character cannot be stored in PostgreSQL text: the sender's mistake, never a 503
        // (which would make Monday redeliver it for 30 minutes).
        (
            r#"{"event":{"type":"create_pulse","boardId":1,"pulseId":2,"triggerUuid":"a\u0000b"}}"#,
            "event.triggerUuid contains a NUL character",
        ),
        (
            r#"{"event":{"type":"create\u0000pulse","boardId":1,"pulseId":2,"triggerUuid":"t-nul"}}"#,
            "event.type contains a NUL character",
        ),
        (
            r#"{"event":{"type":"create_pulse","boardId":1,"pulseId":"2x","triggerUuid":"t-item"}}"#,
            "event.pulseId is not a number",
        ),
    ] {
        let r = app
            .clone()
            .oneshot(post("/webhooks/monday", Some(jwt(AUD, 60, SECRET)), body))
            .await
            .unwrap();
        let (status, v) = read(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }
    assert!(e.store().recent_events(5).await.unwrap().is_empty());
}

#[tokio::test]
async fn duplicate_delivery_is_200_and_stored_once() {
    let (app, e, _d) = app_with(config()).await;
    for n in 0..3 {
        let r = app
            .clone()
            .oneshot(post(
                "/webhooks/monday",
                Some(jwt(AUD, 60, SECRET)),
                event("dup-1", 1),
            ))
            .await
            .unwrap();
        let (status, v) = read(r).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["duplicate"], n > 0);
    }
    let evs = e.store().recent_events(10).await.unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].status, EventStatus::Skipped);
}

#[tokio::test]
async fn pending_policy_decides_the_answer_for_open_events() {
    // Salesforce and Monday are unreachable: a mapped board's event fails transiently.
    for (policy, expected) in [
        (PendingPolicy::AckWhenStored, StatusCode::OK),
        (
            PendingPolicy::RedeliverUntilApplied,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        let mut c = config();
        c.pending_policy = policy;
        let (app, e, _d) = app_with(c).await;
        let r = app
            .oneshot(post(
                "/webhooks/monday",
                Some(jwt(AUD, 60, SECRET)),
                event("p-1", LEADS),
            ))
            .await
            .unwrap();
        let (status, v) = read(r).await;
        assert_eq!(status, expected, "{policy:?}: {v}");
        let ev = &e.store().recent_events(1).await.unwrap()[0];
        assert_eq!(
            ev.status,
            EventStatus::Failed,
            "stored and scheduled for retry"
        );
        assert_eq!(ev.attempts, 1, "one attempt inline, the next one scheduled");
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["duplicate"], false, "{v}");
    }
}

#[tokio::test]
async fn store_down_is_503_for_webhooks_and_healthz() {
    let (app, e, _d) = app_with(config()).await;
    let r = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(read(r).await.0, StatusCode::OK);
    e.store().close().await;
    let r = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(read(r).await.0, StatusCode::SERVICE_UNAVAILABLE);
    let r = app
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            event("down-1", 1),
        ))
        .await
        .unwrap();
    let (status, v) = read(r).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(v["error"].as_str().unwrap().contains("redeliver"), "{v}");
}

#[tokio::test]
async fn status_needs_the_token_and_serves_html_and_json() {
    let (app, _, _d) = app_with(config()).await;
    // one skipped event so the counts are not all zero
    let r = app
        .clone()
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            event("s-1", 1),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let get = |uri: &str, auth: Option<&str>, accept: Option<&str>| {
        let mut b = Request::get(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        b.body(Body::empty()).unwrap()
    };
    for (uri, auth) in [
        ("/status", None),
        ("/status", Some("Bearer wrong")),
        ("/status?token=wrong", None),
    ] {
        let r = app.clone().oneshot(get(uri, auth, None)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{uri} {auth:?}");
    }
    let r = app
        .clone()
        .oneshot(get(
            "/status",
            Some("Bearer status-token"),
            Some("application/json"),
        ))
        .await
        .unwrap();
    let (status, v) = read(r).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["counts"]["received"], 1, "{v}");
    assert_eq!(v["counts"]["skipped"], 1, "{v}");
    assert_eq!(v["window_hours"], 24);
    // The old `?token=` still serves scripts; a browser is moved to the same page without it,
    // with a session cookie (the token leaves the address bar).
    let r = app
        .clone()
        .oneshot(get("/status?token=status-token", None, Some("text/html")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/status");
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(!cookie.contains("status-token"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let mut req = get("/status", None, Some("text/html"));
    req.headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    let r = app.oneshot(req).await.unwrap();
    let (status, v) = read(r).await;
    assert_eq!(status, StatusCode::OK);
    let html = v.as_str().unwrap();
    assert!(html.contains("Changes received from Monday"), "{html}");
    assert!(html.contains("Everything is working"), "{html}");
}

#[tokio::test]
async fn status_is_404_without_a_configured_token() {
    let mut c = config();
    c.status_token = None;
    let (app, _, _d) = app_with(c).await;
    let r = app
        .oneshot(Request::get("/status?token=x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, v) = read(r).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("CRMSYNC_STATUS_TOKEN"));
}

#[tokio::test]
async fn receiver_config_from_the_environment() {
    let env: std::collections::HashMap<String, String> = [
        ("MONDAY_WEBHOOK_TOKEN", "env-token"),
        ("CRMSYNC_STATUS_TOKEN", "env-status"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let cfg = crmsync_config::Config::from_map(&env).unwrap();
    let rc = ReceiverConfig::from_config(&cfg, vec![]);
    assert!(
        !format!("{rc:?}").contains("env-token"),
        "secrets stay out of Debug"
    );
    let (app, _, _d) = app_with(rc).await;
    let ok = app
        .clone()
        .oneshot(post(
            "/webhooks/monday?token=env-token",
            None,
            event("t-env-token", 1),
        ))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let jwt_without_secret = app
        .clone()
        .oneshot(post(
            "/webhooks/monday",
            Some(jwt(AUD, 60, SECRET)),
            event("t-env-jwt", 1),
        ))
        .await
        .unwrap();
    assert_eq!(
        jwt_without_secret.status(),
        StatusCode::UNAUTHORIZED,
        "no signing secret configured"
    );
    let status = app
        .oneshot(
            Request::get("/status?token=env-status&format=json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK);
}

// An event that names no item (an unknown type, kept raw) gets a queue of its own in the store and
// is processed inline like any other: it neither waits behind nor blocks other such events.
#[tokio::test]
async fn events_without_an_item_are_processed_inline_in_queues_of_their_own() {
    let (app, e, _d) = app_with(config()).await;
    for n in 0..2 {
        let body = json!({"event": {"type": "brand_new_type", "boardId": LEADS, "triggerUuid": format!("t-no-item-{n}")}});
        let r = app
            .clone()
            .oneshot(post(
                "/webhooks/monday",
                Some(jwt(AUD, 60, SECRET)),
                body.to_string(),
            ))
            .await
            .unwrap();
        let (status, v) = read(r).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "skipped", "{v}");
    }
    let events = e.store().recent_events(5).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_ne!(events[0].item_id, events[1].item_id, "{events:?}");
    assert!(
        events.iter().all(|ev| ev.monday_item_id().is_none()),
        "{events:?}"
    );
}

// Every refused delivery leaves a trace (reason, status, headers without secrets, the body byte
// for byte), and /status counts and lists them.
#[tokio::test]
async fn refused_deliveries_are_recorded_without_secrets_and_shown_on_status() {
    let (app, e, _d) = app_with(config()).await;
    let cases: Vec<(String, Option<String>, String, u16, &str)> =
        vec![
        ("/webhooks/monday".into(), None, event("t-r1", 1), 401, "unauthenticated"),
        (
            "/webhooks/monday?token=wrong-token".into(),
            None,
            event("t-r2", 1),
            401,
            "bad_signature",
        ),
        (
            "/webhooks/monday".into(),
            Some(jwt(AUD, 60, SECRET)),
            "{not json".into(),
            400,
            "malformed_json",
        ),
        (
            "/webhooks/monday".into(),
            Some(jwt(AUD, 60, SECRET)),
            r#"{"event":{"type":"create_pulse","boardId":1,"pulseId":2,"triggerUuid":"a\u0000b"}}"#
                .into(),
            400,
            "invalid_field",
        ),
    ];
    for (uri, auth, body, status, _) in &cases {
        let mut req = post(uri, auth.clone(), body.clone());
        // Proxies repeat the URL in headers of their own; an API key header is dropped.
        req.headers_mut()
            .insert("x-original-uri", uri.parse().unwrap());
        req.headers_mut()
            .insert("x-api-key", "k-secret-value".parse().unwrap());
        let r = app.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{uri} {body}");
    }
    let mut rows = e.store().list_rejected_deliveries(10).await.unwrap();
    rows.reverse();
    assert_eq!(rows.len(), cases.len(), "{rows:?}");
    for (row, (_, _, body, status, reason)) in rows.iter().zip(&cases) {
        assert_eq!(row.reason.as_str(), *reason);
        assert_eq!(row.http_status, *status);
        assert_eq!(row.body_text(), body.as_str());
        assert!(
            row.headers.iter().all(|(k, _)| k != "authorization"),
            "{:?}",
            row.headers
        );
        let shown = format!("{:?}", row.headers);
        assert!(!shown.contains("wrong-token"), "{shown}");
        assert!(!shown.contains("k-secret-value"), "{shown}");
    }
    assert!(rows[1]
        .headers
        .iter()
        .any(|(k, v)| k == ":path" && v.contains("token=***")));
    let status = app
        .oneshot(
            Request::get("/status?format=json")
                .header(header::AUTHORIZATION, "Bearer status-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (code, v) = read(status).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["rejected_deliveries"], 4, "{v}");
    assert_eq!(v["recent_rejections"][0]["reason"], "invalid_field", "{v}");
}
