//! Queue mode on SQS FIFO: the producer and the polling consumer of `crmsync serve`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use crmsync_sync::queue::{
    consume_batch, BoxFuture, Disposition, Enqueue, EnqueueError, QueueMessage, Received,
};
use crmsync_sync::Engine;

use crate::sdk_error;

/// Default of `CRMSYNC_QUEUE_MAX_RECEIVES` (used when the queue has no redrive policy to read).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// Queue mode's settings (read by the binaries from their environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// `CRMSYNC_QUEUE_URL`: the FIFO queue (its name ends in `.fifo`). Unset: synchronous mode.
    pub url: String,
    /// `CRMSYNC_QUEUE_MAX_RECEIVES`: the DLQ's `maxReceiveCount`. The polling consumer reads it
    /// from the queue's redrive policy when there is one; the Lambda takes it from here (the SAM
    /// template sets both from one parameter).
    pub max_receives: u32,
    /// `CRMSYNC_QUEUE_VISIBILITY_SECS` (polling consumer): how long a received message stays
    /// invisible; must exceed the per-event deadline. Default: deadline + 15 s.
    pub visibility: Option<Duration>,
    /// `CRMSYNC_QUEUE_WAIT_SECS` (polling consumer): long-poll wait, 0–20 s. Default 10.
    pub wait: Duration,
}

/// A queue setting that cannot work, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct SettingsError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl QueueSettings {
    /// From environment variables; `Ok(None)` when `CRMSYNC_QUEUE_URL` is unset or empty
    /// (synchronous mode, the default).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Option<QueueSettings>, SettingsError> {
        let Some(url) = env
            .get("CRMSYNC_QUEUE_URL")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        if !url.ends_with(".fifo") {
            return Err(SettingsError {
                var: "CRMSYNC_QUEUE_URL",
                problem: format!(
                    "{url:?} is not a FIFO queue (its name must end in .fifo): queue mode needs \
                     per-item order"
                ),
            });
        }
        let num = |var: &'static str, min: u64, max: u64| -> Result<Option<u64>, SettingsError> {
            match env.get(var).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(SettingsError {
                        var,
                        problem: format!("expected a whole number from {min} to {max}, got {v:?}"),
                    }),
                },
            }
        };
        let max_receives = num("CRMSYNC_QUEUE_MAX_RECEIVES", 1, 1000)?
            .map(|n| n as u32)
            .unwrap_or(DEFAULT_MAX_RECEIVES);
        let visibility = num("CRMSYNC_QUEUE_VISIBILITY_SECS", 1, 43_200)?.map(Duration::from_secs);
        let wait = Duration::from_secs(num("CRMSYNC_QUEUE_WAIT_SECS", 0, 20)?.unwrap_or(10));
        Ok(Some(QueueSettings {
            url: url.to_string(),
            max_receives,
            visibility,
            wait,
        }))
    }

    /// The visibility timeout the polling consumer asks for: the setting, which must exceed
    /// `event_deadline` (so that a message never reappears while its event is still being
    /// applied), or `event_deadline` + 15 s.
    pub fn visibility_for(&self, event_deadline: Duration) -> Result<Duration, SettingsError> {
        match self.visibility {
            Some(v) if v <= event_deadline => Err(SettingsError {
                var: "CRMSYNC_QUEUE_VISIBILITY_SECS",
                problem: format!(
                    "{} s does not exceed the per-event deadline ({} s, CRMSYNC_EVENT_DEADLINE_SECS): \
                     a message would come back while its event is still being applied",
                    v.as_secs(),
                    event_deadline.as_secs()
                ),
            }),
            Some(v) => Ok(v),
            None => Ok(event_deadline + Duration::from_secs(15)),
        }
    }
}

/// The SQS client of the environment.
pub async fn client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&crate::aws_config().await)
}

/// The producer: one `SendMessage` per stored event.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The producer for the FIFO queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

impl Enqueue for SqsQueue {
    fn send<'a>(
        &'a self,
        message: QueueMessage,
        dedup_id: &'a str,
    ) -> BoxFuture<'a, Result<(), EnqueueError>> {
        Box::pin(async move {
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(message.body())
                .message_group_id(message.group_id())
                .message_deduplication_id(dedup_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| EnqueueError(sdk_error(&e)))
        })
    }
}

/// The polling consumer of `crmsync serve` in queue mode.
#[derive(Debug, Clone)]
pub struct PollConsumer {
    client: aws_sdk_sqs::Client,
    url: String,
    max_receives: u32,
    visibility: Duration,
    wait: Duration,
}

impl PollConsumer {
    /// A consumer of `settings.url`: the redrive policy's `maxReceiveCount` when the queue has one
    /// (else `settings.max_receives`), and a visibility timeout above `event_deadline`.
    pub async fn new(
        client: aws_sdk_sqs::Client,
        settings: &QueueSettings,
        event_deadline: Duration,
    ) -> anyhow::Result<PollConsumer> {
        use anyhow::Context as _;
        let visibility = settings.visibility_for(event_deadline)?;
        let attrs = client
            .get_queue_attributes()
            .queue_url(&settings.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(sdk_error(&e)))
            .with_context(|| format!("reading the attributes of the queue {}", settings.url))?;
        let from_policy = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|p| match &p["maxReceiveCount"] {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .and_then(|n| u32::try_from(n).ok());
        let max_receives = match from_policy {
            Some(n) => n,
            None => {
                tracing::warn!(queue = %settings.url, max_receives = settings.max_receives,
                    "the queue has no redrive policy (no dead-letter queue): a message that keeps \
                     failing is given up after CRMSYNC_QUEUE_MAX_RECEIVES receives");
                settings.max_receives
            }
        };
        Ok(PollConsumer {
            client,
            url: settings.url.clone(),
            max_receives,
            visibility,
            wait: settings.wait,
        })
    }

    /// The receive count after which an event still open is given up.
    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }

    /// Receives, processes and deletes messages until `stop` turns true; sends due alert
    /// summaries after each batch. Errors of the queue are logged and retried after a pause.
    pub async fn run(self, engine: Engine, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(queue = %self.url, max_receives = self.max_receives,
            visibility_s = self.visibility.as_secs(), "queue consumer started");
        loop {
            if *stop.borrow() {
                break;
            }
            let received = tokio::select! {
                r = self.receive() => r,
                _ = stop.wait_for(|s| *s) => break,
            };
            match received {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => self.handle(&engine, batch).await,
                Err(e) => {
                    tracing::error!(error = %e, queue = %self.url, "receiving from the queue failed; retrying shortly");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = stop.wait_for(|s| *s) => break,
                    }
                }
            }
            engine.alerter().flush().await;
        }
        tracing::info!(queue = %self.url, "queue consumer stopped");
    }

    async fn receive(&self) -> Result<Vec<(Received, String)>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(self.wait.as_secs() as i32)
            .visibility_timeout(self.visibility.as_secs().min(43_200) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let attrs = m.attributes();
                let attr = |k: MessageSystemAttributeName| attrs.and_then(|a| a.get(&k)).cloned();
                Some((
                    Received {
                        id: m.message_id()?.to_string(),
                        body: m.body().unwrap_or_default().to_string(),
                        receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(1),
                        group_id: attr(MessageSystemAttributeName::MessageGroupId),
                    },
                    m.receipt_handle()?.to_string(),
                ))
            })
            .collect())
    }

    async fn handle(&self, engine: &Engine, batch: Vec<(Received, String)>) {
        let messages: Vec<Received> = batch.iter().map(|(m, _)| m.clone()).collect();
        let results = consume_batch(engine, &messages, self.max_receives, None).await;
        for ((message, handle), (_, disposition)) in batch.iter().zip(results) {
            match disposition {
                Disposition::Done { status } => {
                    tracing::debug!(message_id = %message.id, status, "queue message done");
                    if let Err(e) = self
                        .client
                        .delete_message()
                        .queue_url(&self.url)
                        .receipt_handle(handle)
                        .send()
                        .await
                    {
                        // It comes back after the visibility timeout and finds its event settled.
                        tracing::warn!(message_id = %message.id, error = %sdk_error(&e),
                            "could not delete a processed queue message");
                    }
                }
                other => {
                    tracing::warn!(message_id = %message.id, receive_count = message.receive_count,
                        disposition = ?other, "queue message returned to the queue");
                }
            }
        }
    }
}
