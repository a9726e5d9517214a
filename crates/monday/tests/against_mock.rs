//! The client against the in-repo mock Monday (an independent implementation of the API),
//! seeded from `fixtures/seed/monday`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use crmsync_monday::{
    ErrorKind, Item, ItemsPageOptions, MondayClient, MondayConfig, RetryPolicy, Timer, TokioTimer,
    WebhookEventType,
};
use futures::StreamExt;
use mock_monday::{MockMonday, RunningMock};
use secrecy::SecretString;
use serde_json::{json, Value};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/monday")
}

fn read_seed(file: &str) -> Vec<Value> {
    let path = seed_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("seed file {} is required: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

/// Compares one item read through the API with its seed record.
fn assert_item_matches_seed(item: &Item, seed: &Value) {
    let id = seed["id"].as_str().expect("seed id");
    assert_eq!(item.id, id);
    assert_eq!(
        Some(item.name.as_str()),
        seed["name"].as_str(),
        "item {id} name"
    );
    assert_eq!(
        item.group.as_ref().map(|g| g.id.as_str()),
        seed["group_id"].as_str(),
        "item {id} group"
    );
    assert_eq!(
        item.board.as_ref().map(|b| b.id.as_str()),
        seed["board_id"].as_str(),
        "item {id} board"
    );
    let Some(values) = seed["column_values"].as_object() else {
        panic!("seed item {id} has no column_values object")
    };
    for (col, expected) in values {
        let cv = item
            .column_value(col)
            .unwrap_or_else(|| panic!("item {id} lacks column {col}"));
        if cv.column_type == "board_relation" {
            let want: Vec<String> = expected["linkedPulseIds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|l| l["linkedPulseId"].to_string().trim_matches('"').to_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(
                cv.linked_item_ids.clone().unwrap_or_default(),
                want,
                "item {id} relation {col}"
            );
            continue;
        }
        let got = cv
            .value_json()
            .unwrap_or_else(|| panic!("item {id} column {col}: value is null"))
            .unwrap_or_else(|e| panic!("item {id} column {col}: value is not JSON: {e}"));
        assert_eq!(&got, expected, "item {id} column {col}");
    }
}

#[tokio::test]
async fn full_board_read_through_items_page_equals_the_seed() {
    let mock = start_mock(MockMonday::builder()).await;
    let client = client_for(&mock);
    let seed_boards = read_seed("boards.json");
    let seed_items = read_seed("items.json");

    let board_ids: Vec<String> = seed_boards
        .iter()
        .map(|b| b["id"].as_str().expect("board id").to_owned())
        .collect();
    let boards = client.boards(&board_ids).await.expect("boards");
    assert_eq!(boards.len(), seed_boards.len());
    for sb in &seed_boards {
        let id = sb["id"].as_str().expect("id");
        let board = boards.iter().find(|b| b.id == id).expect("board read");
        assert_eq!(Some(board.name.as_str()), sb["name"].as_str());
        let cols: Vec<(&str, &str, &str)> = board
            .columns
            .iter()
            .map(|c| (c.id.as_str(), c.title.as_str(), c.column_type.as_str()))
            .collect();
        let seed_cols: Vec<(&str, &str, &str)> = sb["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default(),
                    c["title"].as_str().unwrap_or_default(),
                    c["type"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(cols, seed_cols, "board {id} columns");
        for (col, seed_col) in board
            .columns
            .iter()
            .zip(sb["columns"].as_array().expect("columns"))
        {
            let seed_settings: Value =
                serde_json::from_str(seed_col["settings_str"].as_str().unwrap_or("{}"))
                    .expect("seed settings JSON");
            if col.column_type == "status" {
                let want: BTreeMap<u32, String> = seed_settings["labels"]
                    .as_object()
                    .expect("status labels object")
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.parse().expect("index"),
                            v.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                let got: BTreeMap<u32, String> = col
                    .status_labels()
                    .expect("parsed status labels")
                    .iter()
                    .map(|l| (l.index, l.label.clone()))
                    .collect();
                assert_eq!(got, want, "board {id} status column {}", col.id);
            }
            if col.column_type == "dropdown" {
                let want: Vec<(u32, String)> = seed_settings["labels"]
                    .as_array()
                    .expect("dropdown labels array")
                    .iter()
                    .map(|l| {
                        (
                            l["id"].as_u64().expect("id") as u32,
                            l["name"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                let got: Vec<(u32, String)> = col
                    .dropdown_labels()
                    .expect("parsed dropdown labels")
                    .iter()
                    .map(|l| (l.id, l.name.clone()))
                    .collect();
                assert_eq!(got, want, "board {id} dropdown column {}", col.id);
            }
        }

        // Several pages: page size 7.
        let items: Vec<Item> = client
            .items_stream(
                id,
                ItemsPageOptions {
                    limit: 7,
                    max_restarts: 0,
                    column_ids: None,
                },
            )
            .map(|r| r.expect("page"))
            .collect()
            .await;
        let expected: Vec<&Value> = seed_items
            .iter()
            .filter(|i| i["board_id"].as_str() == Some(id))
            .collect();
        assert!(expected.len() > 14, "board {id} spans several pages");
        let got_ids: BTreeSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let want_ids: BTreeSet<&str> = expected.iter().filter_map(|i| i["id"].as_str()).collect();
        assert_eq!(got_ids, want_ids, "board {id} item ids");
        assert_eq!(items.len(), expected.len(), "no duplicates on board {id}");
        for seed in expected {
            let item = items
                .iter()
                .find(|i| Some(i.id.as_str()) == seed["id"].as_str())
                .expect("present");
            assert_item_matches_seed(item, seed);
        }
    }
    let journal = mock.mock.journal();
    assert!(
        journal
            .iter()
            .filter(|j| j
                .query
                .as_deref()
                .unwrap_or_default()
                .contains("next_items_page"))
            .count()
            >= 4 * 2,
        "paged through next_items_page"
    );
}

#[tokio::test]
async fn items_stream_restarts_after_the_mock_expires_its_cursor() {
    let mock = start_mock(MockMonday::builder().cursor_ttl(Duration::from_secs(2))).await;
    let client = client_for(&mock);
    let board = "9378000505";
    let mut stream = client.items_stream(
        board,
        ItemsPageOptions {
            limit: 5,
            max_restarts: 5,
            column_ids: None,
        },
    );
    let mut ids = Vec::new();
    // Read the first page, let its cursor expire, then read on.
    for _ in 0..5 {
        ids.push(stream.next().await.expect("item").expect("ok").id);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    while let Some(r) = stream.next().await {
        ids.push(r.expect("no error after restart").id);
    }
    let want: BTreeSet<String> = read_seed("items.json")
        .iter()
        .filter(|i| i["board_id"].as_str() == Some(board))
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), want.len(), "no duplicates");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), want);
    let first_pages = mock
        .mock
        .journal()
        .iter()
        .filter(|j| {
            j.query
                .as_deref()
                .unwrap_or_default()
                .contains("query ItemsPage(")
        })
        .count();
    // At least one restart (more only if the machine is so slow that a fresh cursor expired too).
    assert!(
        first_pages >= 2,
        "restarted: {first_pages} first-page requests"
    );
}

#[tokio::test]
async fn create_webhook_fails_when_the_receiver_does_not_echo() {
    let mock = start_mock(MockMonday::builder()).await;
    let client = client_for(&mock);
    let app = Router::new().route("/hook", post(|| async { Json(json!({"nope": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let err = client
        .create_webhook(
            "9378000505",
            &format!("http://{addr}/hook"),
            &WebhookEventType::ChangeColumnValue,
            None,
        )
        .await
        .expect_err("challenge not echoed");
    assert_eq!(err.kind(), ErrorKind::Permanent, "{err}");
    server.abort();
}

/// The real timer, recording every wait the client chooses.
#[derive(Debug, Default, Clone)]
struct RecordingTimer {
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl Timer for RecordingTimer {
    fn now(&self) -> std::time::Instant {
        TokioTimer.now()
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        self.sleeps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(duration);
        TokioTimer.sleep(duration)
    }
}

#[tokio::test]
async fn exhausted_budget_on_the_mock_is_waited_out_in_both_shapes() {
    // The mock's budget is emptied before the first request: the client does not know, gets
    // refused (HTTP 429 or HTTP 200 with the error in the body), waits `retry_in_seconds` in real
    // time (the window is one second) and succeeds.
    for (mode, status) in [
        (mock_monday::BudgetErrorMode::Status200, 200),
        (mock_monday::BudgetErrorMode::Status429, 429),
    ] {
        let mock = start_mock(
            MockMonday::builder()
                .budget(10_000_000, Duration::from_secs(1))
                .budget_error_mode(mode),
        )
        .await;
        mock.mock.set_budget_remaining(0);
        let timer = RecordingTimer::default();
        let config = MondayConfig::new(SecretString::from(mock.token().to_owned()))
            .with_api_url(mock.api_url());
        let client = MondayClient::with_timer(config, Arc::new(timer.clone())).expect("client");
        let boards = client
            .boards(&["9378000505".to_owned()])
            .await
            .expect("read succeeds after waiting");
        assert_eq!(boards.len(), 1);
        let journal = mock.mock.journal();
        let refused: Vec<u16> = journal
            .iter()
            .filter(|j| {
                j.response
                    .to_string()
                    .contains("COMPLEXITY_BUDGET_EXHAUSTED")
            })
            .map(|j| j.status)
            .collect();
        assert_eq!(
            refused,
            vec![status],
            "{mode:?}: one refusal in the expected shape"
        );
        assert_eq!(journal.len(), 2, "{mode:?}: refused once, then retried");
        let sleeps = timer
            .sleeps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        assert_eq!(sleeps.len(), 1, "{mode:?}: {sleeps:?}");
        assert!(sleeps[0] >= Duration::from_secs(1), "{mode:?}: {sleeps:?}");
    }
}

fn creates(n: usize, board: &str) -> Vec<crmsync_monday::Mutation> {
    (0..n)
        .map(|i| {
            crmsync_monday::Mutation::CreateItem(crmsync_monday::CreateItem {
                board_id: board.to_owned(),
                group_id: None,
                item_name: format!("Paced {i}"),
                column_values: None,
                create_labels_if_missing: false,
            })
        })
        .collect()
}

/// A mock Monday allowing 20 mutations per `window` (its budget lifted).
async fn limited_mock(window: Duration) -> RunningMock {
    start_mock(
        MockMonday::builder()
            .budget(1_000_000_000_000, window)
            .mutations_per_window(20),
    )
    .await
}

fn call_limit_refusals(mock: &RunningMock) -> usize {
    mock.mock
        .journal()
        .iter()
        .filter(|j| j.status == 429 && j.response.to_string().contains("Call limit exceeded"))
        .count()
}

#[tokio::test]
async fn mutations_are_paced_under_the_mutation_limit() {
    // The mock enforces 20 mutations per 1-second window (Monday: 2,000 per minute); the client
    // paced under the same limit sends 60 in batches of 10 without a single refusal, waiting
    // for room before the batches that would not fit.
    let mock = limited_mock(Duration::from_secs(1)).await;
    let timer = RecordingTimer::default();
    let config = MondayConfig::new(SecretString::from(mock.token().to_owned()))
        .with_api_url(mock.api_url())
        .with_mutation_limit(Some(crmsync_monday::MutationLimit {
            per_window: 20,
            window: Duration::from_secs(1),
        }));
    let client = MondayClient::with_timer(config, Arc::new(timer.clone())).expect("client");
    let batch = creates(10, "9378000326");
    for _ in 0..6 {
        let results = client.batch(&batch).await.expect("batch");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    assert_eq!(
        call_limit_refusals(&mock),
        0,
        "the paced client was refused"
    );
    // Two batches fit a window: the third and the fifth had to wait for room.
    let waits = timer.sleeps.lock().unwrap_or_else(|p| p.into_inner()).len();
    assert!(waits >= 2, "the client waited {waits} time(s)");
}

#[tokio::test]
async fn an_unpaced_client_waits_out_the_mutation_limit_refusal() {
    // Without pacing the second batch is refused whole (429, "Call limit exceeded"): the client
    // waits `retry_in_seconds` and re-sends it (safe: nothing of a refused request ran), and
    // every item exists exactly once.
    let mock = limited_mock(Duration::from_secs(5)).await;
    let config = MondayConfig::new(SecretString::from(mock.token().to_owned()))
        .with_api_url(mock.api_url())
        .with_mutation_limit(None);
    let client = MondayClient::new(config).expect("client");
    let board = "9378000326";
    let before = client
        .items_stream(board, ItemsPageOptions::default())
        .count()
        .await;
    // 20 fill the 5-second window; the next 10 are refused, waited out and re-sent.
    for n in [20, 10] {
        let results = client.batch(&creates(n, board)).await.expect("batch");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    assert!(call_limit_refusals(&mock) >= 1, "expected a refusal");
    let after = client
        .items_stream(board, ItemsPageOptions::default())
        .count()
        .await;
    assert_eq!(after, before + 30);
}

#[tokio::test]
async fn me_activity_logs_and_the_complexity_spent() {
    let mock = start_mock(MockMonday::builder()).await;
    let client = client_for(&mock);
    let spent_before = client.complexity_spent();
    let me = client.me_id().await.expect("me");
    assert_eq!(me, "58200001", "the token's user is the first seeded user");
    let from = chrono::Utc::now() - chrono::Duration::seconds(5);
    let created = mock
        .admin
        .create_item("9378000505", "Logged Co", None, json!({}))
        .await
        .unwrap();
    let id = created.item.id.clone();
    mock.admin.rename(&id, "Logged Co 2").await.unwrap();
    let to = chrono::Utc::now() + chrono::Duration::seconds(5);
    let logs = client
        .activity_logs("9378000505", &from.to_rfc3339(), &to.to_rfc3339(), 1, 1)
        .await
        .expect("activity logs");
    assert_eq!(logs.len(), 1, "limit 1: {logs:?}");
    assert_eq!(logs[0].event, "update_name", "newest first");
    assert_eq!(logs[0].item_id().as_deref(), Some(id.as_str()));
    assert_ne!(
        logs[0].user_id, me,
        "an edit made as a user is not the token's"
    );
    let page2 = client
        .activity_logs("9378000505", &from.to_rfc3339(), &to.to_rfc3339(), 1, 2)
        .await
        .unwrap();
    assert_eq!(page2[0].event, "create_pulse");
    let ms = page2[0].created_at_ms().expect("ticks parse");
    assert!((ms - chrono::Utc::now().timestamp_millis()).abs() < 60_000);
    assert!(
        client.complexity_spent() > spent_before,
        "the calls' complexity is counted"
    );
    let missing = client
        .activity_logs("1", &from.to_rfc3339(), &to.to_rfc3339(), 1, 1)
        .await;
    assert!(
        missing.is_err(),
        "an unknown board is an error: {missing:?}"
    );
}
