//! Mutations of the client against the in-repo mock Monday: create/change/delete round trip,
//! batched aliases, and the create_webhook handshake with a receiver.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use crmsync_monday::webhook::{
    challenge_response, parse_body, AuthError, EventPayload, WebhookBody, WebhookEvent,
    WebhookVerifier,
};
use crmsync_monday::{
    ChangeColumnValues, CreateItem, ErrorKind, MondayClient, MondayConfig, Mutation, RetryPolicy,
    WebhookEventType,
};
use mock_monday::{MockMonday, RunningMock};
use secrecy::SecretString;
use serde_json::{json, Value};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/monday")
}

async fn start_mock(builder: mock_monday::MockMondayBuilder) -> RunningMock {
    builder
        .seed_dir(seed_dir())
        .start()
        .await
        .expect("mock Monday starts")
}

fn client_for(mock: &RunningMock) -> MondayClient {
    let config = MondayConfig::new(SecretString::from(mock.token().to_owned()))
        .with_api_url(mock.api_url())
        .with_retry_policy(RetryPolicy {
            max_total_wait: Duration::from_secs(20),
            ..RetryPolicy::default()
        });
    MondayClient::new(config).expect("client")
}

#[tokio::test]
async fn create_change_delete_round_trip() {
    let mock = start_mock(MockMonday::builder()).await;
    let client = client_for(&mock);
    let board = client.board("9378000505").await.expect("Leads board");
    let status = board
        .columns
        .iter()
        .find(|c| c.column_type == "status")
        .expect("a status column");
    let label = status.status_labels().expect("labels")[1].clone();
    let text = board
        .columns
        .iter()
        .find(|c| c.column_type == "text")
        .expect("a text column");

    let created = client
        .create_item(&CreateItem {
            board_id: board.id.clone(),
            group_id: Some(board.groups[0].id.clone()),
            item_name: "Round \"trip\" {test}".into(),
            column_values: Some(json!({
                text.id.clone(): "hello",
                status.id.clone(): {"index": label.index},
            })),
            create_labels_if_missing: false,
        })
        .await
        .expect("created");
    let items = client
        .items(std::slice::from_ref(&created.id))
        .await
        .expect("read back");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].name, "Round \"trip\" {test}");
    assert_eq!(
        items[0].column_value(&text.id).and_then(|c| c.text.clone()),
        Some("hello".into())
    );
    assert_eq!(
        items[0]
            .column_value(&status.id)
            .and_then(|c| c.text.clone()),
        Some(label.label.clone())
    );

    client
        .change_multiple_column_values(&ChangeColumnValues {
            board_id: board.id.clone(),
            item_id: created.id.clone(),
            column_values: json!({ text.id.clone(): "changed" }),
            create_labels_if_missing: false,
        })
        .await
        .expect("changed");
    let items = client
        .items(std::slice::from_ref(&created.id))
        .await
        .expect("read back");
    assert_eq!(
        items[0].column_value(&text.id).and_then(|c| c.text.clone()),
        Some("changed".into())
    );

    let err = client
        .change_multiple_column_values(&ChangeColumnValues {
            board_id: board.id.clone(),
            item_id: created.id.clone(),
            column_values: json!({ "no_such_column": "x" }),
            create_labels_if_missing: false,
        })
        .await
        .expect_err("unknown column");
    assert_eq!(err.kind(), ErrorKind::Permanent, "{err}");

    let deleted = client.delete_item(&created.id).await.expect("deleted");
    assert_eq!(deleted.id, created.id);
    let items = client
        .items(std::slice::from_ref(&created.id))
        .await
        .expect("query");
    assert!(items.is_empty(), "deleted item is gone: {items:?}");
}

#[tokio::test]
async fn batch_against_the_mock_maps_one_failing_alias() {
    let mock = start_mock(MockMonday::builder()).await;
    let client = client_for(&mock);
    let board = "9378000326";
    let create = |name: &str, values: Value| {
        Mutation::CreateItem(CreateItem {
            board_id: board.into(),
            group_id: None,
            item_name: name.into(),
            column_values: Some(values),
            create_labels_if_missing: false,
        })
    };
    let results = client
        .batch(&[
            create("Batch A", json!({})),
            create("Batch B", json!({"no_such_column": "x"})),
            create("Batch C", json!({})),
        ])
        .await
        .expect("request succeeded");
    assert_eq!(results.len(), 3);
    let a = results[0].as_ref().expect("m0 created");
    let c = results[2].as_ref().expect("m2 created");
    let e = results[1].as_ref().expect_err("m1 failed");
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    let found = client
        .items(&[a.id.clone(), c.id.clone()])
        .await
        .expect("read back");
    let names: BTreeSet<String> = found.into_iter().map(|i| i.name).collect();
    assert_eq!(
        names,
        BTreeSet::from(["Batch A".to_owned(), "Batch C".to_owned()])
    );
}

#[derive(Clone, Default)]
struct Receiver {
    events: Arc<Mutex<Vec<WebhookEvent>>>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
}

async fn receive(
    State(rx): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, StatusCode> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    rx.authorizations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(auth);
    match parse_body(&body) {
        Ok(WebhookBody::Challenge(c)) => Ok(Json(challenge_response(&c))),
        Ok(WebhookBody::Event(e)) => {
            rx.events.lock().unwrap_or_else(|p| p.into_inner()).push(*e);
            Ok(Json(json!({})))
        }
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

#[tokio::test]
async fn create_webhook_handshake_and_delivery_to_a_receiver() {
    const SECRET: &str = "mock-signing-secret";
    let mock = start_mock(MockMonday::builder().signing_secret(SECRET)).await;
    let client = client_for(&mock);

    let rx = Receiver::default();
    let app = Router::new()
        .route("/webhooks/monday", post(receive))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/webhooks/monday");

    let board = "9378000505";
    let hook = client
        .create_webhook(board, &url, &WebhookEventType::CreateItem, None)
        .await
        .expect("handshake succeeded");
    assert_eq!(hook.board_id, board);
    let listed = client.webhooks(board).await.expect("list");
    assert!(listed.iter().any(|h| h.id == hook.id), "{listed:?}");

    let created = client
        .create_item(&CreateItem {
            board_id: board.into(),
            group_id: None,
            item_name: "Webhook target".into(),
            column_values: None,
            create_labels_if_missing: false,
        })
        .await
        .expect("created");

    let mut event = None;
    for _ in 0..100 {
        if let Some(e) = rx
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|e| e.item_id() == Some(created.id.as_str()))
            .cloned()
        {
            event = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event = event.expect("create_pulse delivered within 5 s");
    assert!(
        matches!(event.payload, EventPayload::CreatePulse(_)),
        "{event:?}"
    );
    assert_eq!(event.board_id(), Some(board));
    assert!(event.trigger_uuid().is_some());

    // Deliveries of an app webhook carry a JWT that our verifier accepts for this URL only.
    let auths = rx
        .authorizations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let last = auths
        .last()
        .cloned()
        .flatten()
        .expect("Authorization header on delivery");
    let verifier = WebhookVerifier::new(SecretString::from(SECRET.to_owned()), vec![url.clone()]);
    verifier
        .verify_authorization(Some(&last))
        .expect("valid JWT");
    let other = WebhookVerifier::new(
        SecretString::from(SECRET.to_owned()),
        vec!["https://elsewhere.example/hook".to_owned()],
    );
    assert_eq!(
        other.verify_authorization(Some(&last)).map(|_| ()),
        Err(AuthError::WrongAudience)
    );

    let deleted = client.delete_webhook(&hook.id).await.expect("deleted");
    assert_eq!(deleted.id, hook.id);
    let listed = client.webhooks(board).await.expect("list");
    assert!(listed.iter().all(|h| h.id != hook.id));
    server.abort();
}
