//! Queue mode of the *built* artifact: a second function process of the same `bootstrap`, with
//! `CRMSYNC_QUEUE_URL` pointing at a FIFO queue on moto (server mode, real sockets). The suite
//! plays API Gateway (the signed deliveries) and Lambda's SQS event source mapping: it receives
//! batches from the queue, invokes the function with them as an SQS event, and deletes the
//! messages the function did not report in `batchItemFailures` — what the mapping does with
//! `ReportBatchItemFailures`. Failed messages come back after the queue's visibility timeout,
//! and after `maxReceiveCount` receives the queue moves them to its dead-letter queue.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use crmsync_cloud::aws_sdk_sqs;
use crmsync_cloud::aws_sdk_sqs::types::MessageSystemAttributeName;
use crmsync_store::EventStatus;
use serde_json::{json, Value};

use super::{answer, delivery, http_event, spawn, wait_for_init, Answer, Front, Suite, PUBLIC_URL};
use crate::harness::jwt_for;
use crate::lambda_emulator::{Emulator, Outcome};
use crate::moto::{FifoQueue, Moto};

/// The queue function's timeout: short, so that a returned message comes back quickly.
const TIMEOUT: Duration = Duration::from_secs(6);
/// The queue's visibility timeout (at least the function timeout, as AWS requires).
const VISIBILITY_S: u32 = 6;
/// The queue's `maxReceiveCount` (the function is told the same).
const MAX_RECEIVES: u32 = 2;

/// The burst: `CRMSYNC_LAMBDA_QUEUE_BURST=ITEMS:DELIVERIES_PER_ITEM`, by default the 500
/// deliveries over 50 items (a create and nine Title edits each).
fn burst_size() -> Result<(usize, usize)> {
    match std::env::var("CRMSYNC_LAMBDA_QUEUE_BURST") {
        Err(_) => Ok((50, 10)),
        Ok(v) => v
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .filter(|&(a, b): &(usize, usize)| a > 0 && b > 0)
            .with_context(|| {
                format!("CRMSYNC_LAMBDA_QUEUE_BURST={v:?}: expected ITEMS:DELIVERIES")
            }),
    }
}

struct QueueFunction {
    emulator: Emulator,
    child: tokio::process::Child,
    logs: Arc<Mutex<Vec<String>>>,
    queue: FifoQueue,
    sqs: aws_sdk_sqs::Client,
}

/// What one pass of the event source did.
struct Batch {
    /// Message ids the function was invoked with.
    sent: Vec<String>,
    /// Those it reported in `batchItemFailures` (left in the queue).
    failed: Vec<String>,
    /// `ApproximateReceiveCount` of each message, in order.
    receive_counts: Vec<u32>,
}

impl QueueFunction {
    async fn invoke(&self, s: &mut Suite, event: Value) -> Result<Outcome> {
        let f = self.emulator.invoke(event).await?;
        s.invocations += 1;
        s.slowest = s.slowest.max(f.elapsed);
        Ok(f.outcome)
    }

    async fn signed(&self, s: &mut Suite, body: &Value) -> Result<Answer> {
        let aud = format!("{PUBLIC_URL}/webhooks/monday");
        let headers = [("authorization", jwt_for(&aud, 300))];
        let bytes = serde_json::to_vec(body)?;
        let outcome = self
            .invoke(
                s,
                http_event(
                    Front::HttpApi,
                    "POST",
                    "/webhooks/monday",
                    &headers,
                    &bytes,
                    false,
                )?,
            )
            .await?;
        answer(&outcome)
    }

    /// One poll of the event source mapping: receive (long poll up to `wait`), invoke with the
    /// batch, delete what succeeded. `None` when nothing was received.
    async fn poll(&self, s: &mut Suite, wait: Duration) -> Result<Option<Batch>> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .context("receiving from the queue")?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(None);
        }
        let mut records = Vec::new();
        let mut handles = Vec::new();
        let mut receive_counts = Vec::new();
        for m in messages {
            let id = m.message_id().context("a message without an id")?;
            let handle = m.receipt_handle().context("a message without a handle")?;
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            receive_counts.push(
                attributes
                    .get("ApproximateReceiveCount")
                    .and_then(Value::as_str)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
            );
            records.push(json!({
                "messageId": id,
                "receiptHandle": handle,
                "body": m.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue.arn,
                "awsRegion": "us-east-1",
            }));
            handles.push((id.to_owned(), handle.to_owned()));
        }
        let outcome = self.invoke(s, json!({ "Records": records })).await?;
        let Outcome::Response(r) = &outcome else {
            bail!("the SQS batch failed as a whole: {outcome:?}");
        };
        let failed: Vec<String> = r["batchItemFailures"]
            .as_array()
            .with_context(|| format!("no batchItemFailures in {r}"))?
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect();
        for (id, handle) in &handles {
            if !failed.contains(id) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .context("deleting a processed message")?;
            }
        }
        Ok(Some(Batch {
            sent: handles.into_iter().map(|(id, _)| id).collect(),
            failed,
            receive_counts,
        }))
    }

    fn log_tail(&self) -> String {
        let log = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let start = log.len().saturating_sub(40);
        log[start..].join("\n")
    }
}

/// Runs the queue-mode cases against `bootstrap`; the function shares the suite's database,
/// mocks and Telegram.
pub(super) async fn cases(
    s: &mut Suite,
    bootstrap: &std::path::Path,
    database_url: &str,
) -> Result<()> {
    let moto = Moto::start().context(
        "queue mode needs moto's server mode (cargo xtask lambda test passes CRMSYNC_TEST_PYTHON)",
    )?;
    let queue = moto
        .fifo_queue("crmsync-lambda", MAX_RECEIVES, VISIBILITY_S)
        .await?;
    let emulator = Emulator::start(TIMEOUT).await?;
    let mut env = emulator.lambda_env();
    env.extend(super::function_env(
        database_url,
        &s.salesforce.base_url,
        &s.monday,
        &s.telegram.url,
    ));
    env.extend(moto.env());
    let timeout = TIMEOUT.as_secs().to_string();
    let lease = (TIMEOUT.as_secs() + 2).to_string();
    let max_receives = MAX_RECEIVES.to_string();
    for (k, v) in [
        ("CRMSYNC_QUEUE_URL", queue.url.as_str()),
        ("CRMSYNC_QUEUE_MAX_RECEIVES", max_receives.as_str()),
        ("CRMSYNC_FUNCTION_TIMEOUT_SECS", timeout.as_str()),
        ("CRMSYNC_LEASE_SECS", lease.as_str()),
        ("CRMSYNC_EVENT_DEADLINE_SECS", "2"),
        ("CRMSYNC_INLINE_BUDGET_MS", "1000"),
    ] {
        env.retain(|(key, _)| key != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    let logs: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let mut child = spawn(bootstrap, &env, logs.clone())?;
    wait_for_init(&emulator, &mut child, &logs, started).await?;
    let sqs = moto.sqs().await;
    let mut f = QueueFunction {
        emulator,
        child,
        logs,
        queue,
        sqs,
    };
    let result = run_cases(s, &moto, &mut f).await;
    let _ = f.child.start_kill();
    let _ = f.child.wait().await;
    result.map_err(|e| {
        e.context(format!(
            "the queue function's last log lines:\n{}",
            f.log_tail()
        ))
    })
}

async fn run_cases(s: &mut Suite, moto: &Moto, f: &mut QueueFunction) -> Result<()> {
    // A delivery is stored and enqueued, answered 200 without being applied.
    let item = s.new_lead("Lambda Queue Guild", "Adeyemi").await?;
    let create = delivery(
        "create_pulse",
        &item,
        "Lambda Queue Guild",
        "lambda-queue-1",
    )?;
    let a = f.signed(s, &create).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "queued",
        "queue-mode create_pulse: {a:?}"
    );
    ensure!(
        s.event_status("lambda-queue-1").await? == EventStatus::Pending,
        "the event is not waiting for the consumer"
    );
    ensure!(
        moto.depth(&f.queue.url).await? == (1, 0),
        "not exactly one message in the queue"
    );
    ensure!(
        s.lead_of(&item).await?.is_none(),
        "the receiver applied the event itself"
    );
    s.pass("queue mode: a signed delivery is stored, enqueued (FIFO) and answered 200 \"queued\"");

    // The event source invokes the function with the batch: applied, message deleted.
    let batch = f
        .poll(s, Duration::from_secs(2))
        .await?
        .context("the message was not received")?;
    ensure!(
        batch.sent.len() == 1 && batch.failed.is_empty(),
        "batch {:?} failures {:?}",
        batch.sent,
        batch.failed
    );
    let lead = s
        .lead_of(&item)
        .await?
        .context("no Lead after the SQS batch")?;
    ensure!(
        lead["Company"] == "Lambda Queue Guild" && lead["LastName"] == "Adeyemi",
        "lead {lead}"
    );
    ensure!(
        s.event_status("lambda-queue-1").await? == EventStatus::Done,
        "the event is not done"
    );
    ensure!(
        moto.depth(&f.queue.url).await? == (0, 0),
        "the processed message is still in the queue"
    );
    s.pass("SQS batch → the event applied, batchItemFailures empty, the message deleted");

    // A duplicated message (SQS delivers at least once): deleted, nothing written again.
    let (event_id, board, item_id) = {
        let events = s.store.recent_events(200).await?;
        let e = events
            .iter()
            .find(|e| e.trigger_uuid == "lambda-queue-1")
            .context("the stored event")?;
        (e.id.0, e.board_id, e.item_id)
    };
    f.sqs
        .send_message()
        .queue_url(&f.queue.url)
        .message_body(json!({"eventId": event_id, "boardId": board, "itemId": item_id}).to_string())
        .message_group_id(format!("{board}:{item_id}"))
        .message_deduplication_id("lambda-queue-1-redelivered")
        .send()
        .await
        .context("sending the duplicate")?;
    let writes = super::sf_writes(s);
    let batch = f
        .poll(s, Duration::from_secs(2))
        .await?
        .context("the duplicate was not received")?;
    ensure!(
        batch.failed.is_empty(),
        "the duplicate was returned: {:?}",
        batch.failed
    );
    ensure!(
        super::sf_writes(s) == writes,
        "the duplicate reached Salesforce"
    );
    ensure!(
        moto.depth(&f.queue.url).await? == (0, 0),
        "the duplicate is still in the queue"
    );
    s.pass("a duplicated SQS message → deleted, no Salesforce write");

    burst(s, moto, f).await?;

    // A message whose event keeps failing: returned (partial batch failure) until the last
    // receive, where the event becomes one dead letter with one alert; the queue then moves the
    // message to its DLQ.
    let alerts_before = s.telegram.texts().len();
    s.fault(
        json!({"path": "/services/data/*/sobjects/Lead/*", "status": 503,
        "body": [{"errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}]}),
    )?;
    let item = s.new_lead("Lambda Poison Collective", "Nakamura").await?;
    let create = delivery(
        "create_pulse",
        &item,
        "Lambda Poison Collective",
        "lambda-queue-poison",
    )?;
    let a = f.signed(s, &create).await?;
    ensure!(a.status == 200, "poison delivery: {a:?}");
    let mut counts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(VISIBILITY_S as u64 * 4 + 10);
    while counts.len() < MAX_RECEIVES as usize {
        ensure!(
            Instant::now() < deadline,
            "the poison message came back {} time(s) only",
            counts.len()
        );
        if let Some(b) = f.poll(s, Duration::from_secs(2)).await? {
            ensure!(
                b.failed == b.sent,
                "a failing message was not reported in batchItemFailures: {:?} of {:?}",
                b.failed,
                b.sent
            );
            counts.extend(b.receive_counts);
        }
    }
    ensure!(
        counts == (1..=MAX_RECEIVES).collect::<Vec<_>>(),
        "receive counts {counts:?}"
    );
    ensure!(
        s.event_status("lambda-queue-poison").await? == EventStatus::Dead,
        "not a dead letter after {MAX_RECEIVES} receives"
    );
    // The next receive finds the count exhausted: the queue moves the message to its DLQ.
    let deadline = Instant::now() + Duration::from_secs(VISIBILITY_S as u64 * 2 + 10);
    loop {
        if let Some(b) = f.poll(s, Duration::from_secs(1)).await? {
            bail!(
                "the message was received again after the dead letter: counts {:?}",
                b.receive_counts
            );
        }
        let (visible, in_flight) = moto.depth(&f.queue.dlq_url).await?;
        if visible + in_flight == 1 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the message never reached the DLQ"
        );
    }
    s.salesforce.handle.clear_faults();
    ensure!(
        s.lead_of(&item).await?.is_none(),
        "a Lead despite the outage"
    );
    let ours = s.dead_letters_for("lambda-queue-poison").await?;
    ensure!(ours.len() == 1, "{} dead letters, expected 1", ours.len());
    ensure!(
        ours[0].error.contains("the queue gave up after"),
        "dead letter error: {}",
        ours[0].error
    );
    let alerts: Vec<String> = s.telegram.texts()[alerts_before..].to_vec();
    ensure!(
        alerts.len() == 1,
        "expected exactly one alert, got {alerts:?}"
    );
    s.pass(
        "a message failing on every receive → batchItemFailures, one dead letter and one alert, \
         then the DLQ",
    );
    Ok(())
}

/// A burst of deliveries over many items, all received (and enqueued) before the event source
/// runs: every one applied once, per item in the order Monday sent them, nothing left in the queue
/// or the DLQ.
async fn burst(s: &mut Suite, moto: &Moto, f: &QueueFunction) -> Result<()> {
    const TITLE: &str = "text_mksf27hv";
    let (n_items, per_item) = burst_size()?;
    let mut items = Vec::new();
    for n in 0..n_items {
        let name = format!("Lambda Burst Org {n}");
        let item = s.new_lead(&name, &format!("Burst{n}")).await?;
        let d = delivery("create_pulse", &item, &name, &format!("lambda-burst-{n}-0"))?;
        let a = f.signed(s, &d).await?;
        ensure!(
            a.status == 200 && a.body["status"] == "queued",
            "burst create {n}: {a:?}"
        );
        items.push((item, name));
    }
    for round in 1..per_item {
        for (n, (item, name)) in items.iter().enumerate() {
            let title = format!("Q{n} v{round}");
            s.monday
                .admin
                .change_column_value(item, TITLE, json!(title))
                .await
                .map_err(|e| anyhow::anyhow!("changing a Title: {e:?}"))?;
            let mut d = delivery(
                "update_column_value_text",
                item,
                name,
                &format!("lambda-burst-{n}-{round}"),
            )?;
            d["event"]["value"] = json!({ "value": title });
            let a = f.signed(s, &d).await?;
            ensure!(
                a.status == 200 && a.body["status"] == "queued",
                "burst edit {n}/{round}: {a:?}"
            );
        }
    }
    let total = n_items * per_item;
    ensure!(
        moto.depth(&f.queue.url).await?.0 as usize == total,
        "not one message per delivery in the queue"
    );
    // The event source drains the queue.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut returned = 0usize;
    loop {
        match f.poll(s, Duration::from_secs(1)).await? {
            Some(b) => returned += b.failed.len(),
            None => {
                if moto.depth(&f.queue.url).await? == (0, 0) {
                    break;
                }
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the burst was not drained within 300 s"
        );
    }
    let events = s.store.recent_events(u32::try_from(total + 1000)?).await?;
    let ours: Vec<_> = events
        .iter()
        .filter(|e| e.trigger_uuid.starts_with("lambda-burst-"))
        .collect();
    ensure!(
        ours.len() == total,
        "{} events stored of {total}",
        ours.len()
    );
    let open: Vec<_> = ours
        .iter()
        .filter(|e| e.status != EventStatus::Done)
        .collect();
    ensure!(
        open.is_empty(),
        "{} burst events not done, e.g. {:?}",
        open.len(),
        open.first().map(|e| (&e.trigger_uuid, e.status))
    );
    for (n, (item, _)) in items.iter().enumerate() {
        // Applied in Monday's order: processed_at never goes backwards along the item's deliveries.
        let mut mine: Vec<_> = ours
            .iter()
            .filter(|e| e.item_id.to_string() == *item)
            .collect();
        mine.sort_by_key(|e| {
            e.trigger_uuid
                .rsplit('-')
                .next()
                .and_then(|k| k.parse::<usize>().ok())
                .unwrap_or(usize::MAX)
        });
        ensure!(mine.len() == per_item, "item {item}: {} events", mine.len());
        for w in mine.windows(2) {
            ensure!(
                w[0].processed_at <= w[1].processed_at,
                "item {item}: {} applied after {}",
                w[0].trigger_uuid,
                w[1].trigger_uuid
            );
        }
        let leads = s.sf.by_item("Lead", "Company, LastName, Title", item).await;
        ensure!(leads.len() == 1, "item {item}: {} Leads", leads.len());
        // One Salesforce write per event: nothing applied twice.
        let lead_id = leads[0]["Id"].as_str().unwrap_or_default().to_owned();
        let writes = s
            .salesforce
            .handle
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" || r.method == "POST")
            .filter(|r| {
                r.path.ends_with(&format!("/Monday_Item_Id__c/{item}"))
                    || (!lead_id.is_empty() && r.path.ends_with(&lead_id))
            })
            .count();
        ensure!(
            writes == per_item,
            "item {item}: {writes} Salesforce writes for {per_item} events"
        );
        if per_item > 1 {
            let last = format!("Q{n} v{}", per_item - 1);
            ensure!(
                leads[0]["Title"] == json!(last),
                "item {item}: Title {} (expected {last})",
                leads[0]["Title"]
            );
        }
    }
    ensure!(
        moto.depth(&f.queue.dlq_url).await? == (0, 0),
        "messages in the DLQ after the burst"
    );
    s.pass(&format!(
        "a burst of {total} deliveries over {n_items} items through the queue → all applied once, in \
         order per item ({returned} returned for order and retried), none in the DLQ"
    ));
    Ok(())
}
