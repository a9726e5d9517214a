//! Queue mode of the real `crmsync serve` against moto's SQS in server mode (real sockets): the
//! receiver stores each delivery and sends it to a FIFO queue; the polling consumer applies it.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Db, Env, LEADS};
use crmsync_testkit::moto::{FifoQueue, Moto};
use crmsync_testkit::telegram::FakeTelegram;
use serde_json::{json, Value};

const LAST_NAME: &str = "text_mkry1xy1";

/// `crmsync serve` in queue mode on `queue` (visibility 3 s > event deadline 2 s).
async fn queue_env(moto: &Moto, queue: &FifoQueue, telegram: Option<&FakeTelegram>) -> Env {
    let mut env = Env::start(Db::Postgres).await;
    env.vars.extend(moto.env());
    env.vars.extend(
        [
            ("CRMSYNC_QUEUE_URL", queue.url.as_str()),
            ("CRMSYNC_QUEUE_WAIT_SECS", "1"),
            ("CRMSYNC_QUEUE_VISIBILITY_SECS", "3"),
            ("CRMSYNC_EVENT_DEADLINE_SECS", "2"),
            ("CRMSYNC_LEASE_SECS", "4"),
            ("CRMSYNC_INLINE_BUDGET_MS", "1000"),
            ("CRMSYNC_SWEEP_MINUTES", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    if let Some(t) = telegram {
        env.vars.extend([
            (
                "TELEGRAM_BOT_TOKEN".to_string(),
                "123:queue-test".to_string(),
            ),
            ("TELEGRAM_CHAT_ID".to_string(), "42".to_string()),
            ("TELEGRAM_API_URL".to_string(), t.url.clone()),
        ]);
    }
    env
}

/// Event counts by status, read from the store.
async fn statuses(env: &Env) -> BTreeMap<String, i64> {
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM events GROUP BY status")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

/// The LastName values the mock Salesforce was asked to write for `item`, in the order it
/// received them.
fn last_names_written(env: &Env, item: &str, lead_id: &str) -> Vec<String> {
    env.salesforce
        .handle
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" || r.method == "POST")
        .filter(|r| {
            r.path.ends_with(&format!("/Monday_Item_Id__c/{item}")) || r.path.ends_with(lead_id)
        })
        .filter_map(|r| {
            r.body
                .get("LastName")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

async fn lead_of(env: &Env, item: &str) -> Vec<Value> {
    use futures::StreamExt;
    let sf = env.sf();
    let s = sf.query::<Value>(format!(
        "SELECT Id, LastName FROM Lead WHERE Monday_Item_Id__c = '{item}'"
    ));
    s.filter_map(|r| async move { r.ok() }).collect().await
}

/// The burst: `CRMSYNC_QUEUE_BURST=ITEMS:DELIVERIES_PER_ITEM`. The default (10 × 5 = 50) keeps
/// the CI run short; the full burst of 500 deliveries over 50 items is
/// `CRMSYNC_QUEUE_BURST=50:10 cargo nextest run -p crmsync-cli --test queue a_burst`.
fn burst_size() -> (usize, usize) {
    std::env::var("CRMSYNC_QUEUE_BURST")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((10, 5))
}

// A burst of deliveries over many items (a create and LastName edits each, made on the mock
// Monday, which delivers them to the receiver; see `burst_size`): every one is applied, once, and
// per item in Monday's order; the queue ends empty and nothing reaches the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_through_the_queue_is_applied_completely_in_order_once() {
    let moto = Moto::start().unwrap();
    let queue = moto.fifo_queue("crmsync-burst", 5, 3).await.unwrap();
    let env = queue_env(&moto, &queue, None).await;
    let (server, _public) = env.serve_public(&[]).await;
    let (n_items, per_item) = burst_size();
    let admin = &env.monday.admin;
    let mut items = Vec::new();
    for n in 0..n_items {
        let created = admin
            .create_item(
                LEADS,
                &format!("Queue Org {n}"),
                None,
                json!({ LAST_NAME: format!("Q{n} v0") }),
            )
            .await
            .unwrap();
        items.push(created.item.id.clone());
    }
    for round in 1..per_item {
        for (n, item) in items.iter().enumerate() {
            admin
                .change_column_value(item, LAST_NAME, json!(format!("Q{n} v{round}")))
                .await
                .unwrap();
        }
    }
    let total = (n_items * per_item) as i64;
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(if std::env::var("CRMSYNC_QUEUE_BURST").is_ok() {
            40
        } else {
            240
        });
    let done = loop {
        let s = statuses(&env).await;
        let open: i64 = ["pending", "processing", "failed"]
            .iter()
            .filter_map(|k| s.get(*k))
            .sum();
        // Besides the changes, one echo per item of crmsync's own write-back of the Salesforce
        // Id (skipped as its own write).
        if s.get("done").copied() == Some(total) && open == 0 {
            break s;
        }
        if tokio::time::Instant::now() > deadline {
            let err = server.stderr.lock().unwrap().clone();
            let tail: Vec<&str> = err.lines().rev().take(40).collect();
            panic!(
                "not every event applied: {s:?} of {total}; queue {:?}; server log (last lines, newest first):\n{}",
                moto.depth(&queue.url).await,
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        done.get("skipped").copied(),
        Some(n_items as i64),
        "statuses: {done:?} (expected one skipped write-back echo per item)"
    );
    assert_eq!(
        done.values().sum::<i64>(),
        total + n_items as i64,
        "{done:?}"
    );
    // Monday made one delivery per change (and per write-back echo), each answered on its first
    // attempt.
    let deliveries = env.monday.admin.deliveries().await.unwrap();
    assert_eq!(deliveries.len(), n_items * per_item + n_items);
    assert!(
        deliveries.iter().all(|d| d.attempts.len() == 1),
        "some deliveries needed a retry"
    );
    // Per item, the events were applied in the order Monday sent them (item_seq), each once.
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT item_id, item_seq, processed_at FROM events WHERE status = 'done' \
         ORDER BY item_id, item_seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    for w in rows.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(
                w[0].2 <= w[1].2,
                "item {}: seq {} applied after seq {}",
                w[0].0,
                w[0].1,
                w[1].1
            );
        }
    }
    assert_eq!(rows.len(), total as usize);
    for (n, item) in items.iter().enumerate() {
        let leads = lead_of(&env, item).await;
        assert_eq!(leads.len(), 1, "item {item}: {leads:?}");
        let id = leads[0]["Id"].as_str().unwrap().to_string();
        // One Salesforce write per event (the engine reads the item fresh from Monday, so a
        // write may already carry a later value); the last one is Monday's last value.
        let written = last_names_written(&env, item, &id);
        assert_eq!(written.len(), per_item, "item {item}: writes {written:?}");
        let last = format!("Q{n} v{}", per_item - 1);
        assert_eq!(
            written.last(),
            Some(&last),
            "item {item}: writes {written:?}"
        );
        assert_eq!(leads[0]["LastName"], json!(last));
    }
    let (visible, in_flight) = moto.depth(&queue.url).await.unwrap();
    assert_eq!((visible, in_flight), (0, 0), "messages left in the queue");
    assert_eq!(
        moto.depth(&queue.dlq_url).await.unwrap(),
        (0, 0),
        "messages in the DLQ"
    );
    let (code, stdout, stderr) = server.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("queue mode"), "{stdout}");
}

// A message whose event keeps failing (Salesforce answers 503 for that item's record) returns
// until the queue's maxReceiveCount: then the event becomes one dead letter with one alert and
// the message moves to the DLQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_ends_in_the_dlq_as_one_dead_letter_with_one_alert() {
    let moto = Moto::start().unwrap();
    let queue = moto.fifo_queue("crmsync-poison", 3, 3).await.unwrap();
    let telegram = FakeTelegram::start().await;
    let env = queue_env(&moto, &queue, Some(&telegram)).await;
    let (server, _public) = env.serve_public(&[]).await;
    let admin = &env.monday.admin;
    // Every upsert of a Lead fails transiently, so the item's create keeps failing.
    env.salesforce.handle.add_fault(
        serde_json::from_value(json!({
            "path": "/services/data/*/sobjects/Lead/Monday_Item_Id__c/*",
            "status": 503
        }))
        .unwrap(),
    );
    admin
        .create_item(LEADS, "Poison Org", None, json!({ LAST_NAME: "Poison" }))
        .await
        .unwrap();
    let _ = common::eventually_for(
        "the poison event dead-lettered",
        Duration::from_secs(90),
        || async {
            let s = statuses(&env).await;
            (s.get("dead").copied() == Some(1)).then_some(())
        },
    )
    .await;
    let _ = common::eventually_for(
        "the message in the DLQ",
        Duration::from_secs(30),
        || async {
            let (v, f) = moto.depth(&queue.dlq_url).await.unwrap();
            (v + f == 1).then_some(())
        },
    )
    .await;
    env.salesforce.handle.clear_faults();
    let listed = env.run(&["dead-letters", "list", "--json"]).await;
    let listed = listed.ok().json();
    let letters = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(letters.len(), 1, "{listed}");
    assert!(
        listed
            .to_string()
            .contains("the queue gave up after 3 receives"),
        "{listed}"
    );
    // Wait for the alert flush; exactly one alert about it.
    let texts = common::eventually_for("the alert", Duration::from_secs(20), || async {
        let t = telegram.texts();
        (!t.is_empty()).then_some(t)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let texts_after = telegram.texts();
    assert_eq!(texts_after.len(), 1, "{texts_after:?}");
    assert!(
        texts[0].contains("SQS_MAX_RECEIVES") || texts[0].contains("after many retries"),
        "{texts:?}"
    );
    assert_eq!(moto.depth(&queue.url).await.unwrap(), (0, 0));
    let (code, _, stderr) = server.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
}

// A redelivered (duplicate) message — sent again after the deduplication interval, as SQS may
// redeliver — changes nothing: its event is settled, so the consumer deletes it without a
// Salesforce call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_message_changes_nothing() {
    let moto = Moto::start().unwrap();
    let queue = moto.fifo_queue("crmsync-dup", 5, 3).await.unwrap();
    let env = queue_env(&moto, &queue, None).await;
    let (server, _public) = env.serve_public(&[]).await;
    let item = env
        .monday
        .admin
        .create_item(LEADS, "Dup Org", None, json!({ LAST_NAME: "Once" }))
        .await
        .unwrap()
        .item
        .id
        .clone();
    // Wait until everything the create set off is settled: the create, and the webhook the
    // mock Monday fires for crmsync's own Salesforce-Id write-back (skipped as an own write).
    // Only then is any later change to an event the redelivery's doing.
    let _ = common::eventually_for("the create applied", Duration::from_secs(30), || async {
        let s = statuses(&env).await;
        let open: i64 = ["pending", "processing", "failed"]
            .iter()
            .filter_map(|k| s.get(*k))
            .sum();
        (s.get("done").copied() == Some(1)
            && open == 0
            && moto.depth(&queue.url).await.unwrap() == (0, 0))
            .then_some(())
    })
    .await;
    let writes_before = env.salesforce.handle.requests().len();
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    let all_events = "SELECT id, status, updated_at FROM events ORDER BY id";
    let before: Vec<(i64, String, i64)> =
        sqlx::query_as(all_events).fetch_all(&pool).await.unwrap();
    let (event_id, board, item_id): (i64, i64, i64) = sqlx::query_as(
        "SELECT id, board_id, item_id FROM events WHERE event_type = 'create_pulse'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(item_id.to_string(), item);
    let sqs = moto.sqs().await;
    sqs.send_message()
        .queue_url(&queue.url)
        .message_body(json!({"eventId": event_id, "boardId": board, "itemId": item_id}).to_string())
        .message_group_id(format!("{board}:{item_id}"))
        .message_deduplication_id("redelivered-after-the-interval")
        .send()
        .await
        .unwrap();
    let _ = common::eventually_for(
        "the duplicate consumed",
        Duration::from_secs(30),
        || async { (moto.depth(&queue.url).await.unwrap() == (0, 0)).then_some(()) },
    )
    .await;
    let after: Vec<(i64, String, i64)> = sqlx::query_as(all_events).fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(after, before, "an event was touched again");
    assert_eq!(
        env.salesforce.handle.requests().len(),
        writes_before,
        "the duplicate reached Salesforce"
    );
    assert_eq!(lead_of(&env, &item).await.len(), 1);
    let (code, _, stderr) = server.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
}
