//! Ingest: the one path from a received Monday delivery to a stored event, and the decision to
//! process it inline. The HTTP receiver (and so the Lambda), the SQS consumer and replay all call
//! it; none of them parses, derives ids or stores events itself.
//!
//! 1. [`parse_delivery`] (pure): a challenge, or the [`NewEvent`] to store — ids derived, the
//!    idempotency key (`triggerUuid`, or `sha256:` of the body when Monday sent none) chosen,
//!    malformed input refused with a [`Rejection`] that names the field (the sender's mistake:
//!    answered 4xx, never 5xx).
//! 2. [`Ingest::store`]: inserts it (bounded by [`IngestConfig::insert_timeout`]; a store that
//!    does not answer is [`IngestError::StoreUnavailable`], answered 503 so Monday redelivers).
//! 3. [`Ingest::process_inline`]: processes the item's open events up to this one in a task that
//!    holds one of [`IngestConfig::inline_concurrency`] permits, waiting at most
//!    [`IngestConfig::inline_budget`]. With no permit free (a burst), nothing runs inline: the
//!    event stays pending for the worker. Tasks are never cancelled half-way; [`Ingest::drain`]
//!    waits for them at shutdown.

use std::sync::Arc;
use std::time::Duration;

use crmsync_monday::webhook::{parse_body, WebhookBody, WebhookParseError};
use crmsync_store::{EventId, EventStatus, InsertOutcome, NewEvent, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::queue::{Enqueue, EnqueueError, QueueMessage};
use crate::Engine;

/// Tuning of [`Ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Longest wait for the event store to accept the event before answering 503. Default 2 s.
    pub insert_timeout: Duration,
    /// How long a request waits for inline processing (Monday times out at 10 s). Default 5 s.
    pub inline_budget: Duration,
    /// Requests processed inline at once; the rest are left to the worker. Default 16.
    pub inline_concurrency: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            insert_timeout: Duration::from_secs(2),
            inline_budget: Duration::from_secs(5),
            inline_concurrency: 16,
        }
    }
}

/// Why a delivery was refused: the sender's mistake, answered 4xx and recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not a Monday webhook (no `event`, no `challenge`).
    #[error("not a Monday webhook: {0}")]
    NotAWebhook(String),
    /// A field the event log needs is missing or unusable.
    #[error("not a Monday webhook: {field} {problem}")]
    InvalidField {
        /// The field, e.g. `event.boardId`.
        field: &'static str,
        /// What is wrong, e.g. `is not a number`.
        problem: String,
    },
}

impl Rejection {
    /// A short machine-readable code: `not_json`, `not_a_webhook`, `invalid_field`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotJson(_) => "not_json",
            Rejection::NotAWebhook(_) => "not_a_webhook",
            Rejection::InvalidField { .. } => "invalid_field",
        }
    }
}

/// What a delivery is.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Monday's URL verification: answer `{"challenge": …}`; nothing is stored.
    Challenge(String),
    /// An event to store.
    Event(NewEvent),
}

/// Why ingest failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The delivery is malformed (4xx).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The store did not take the event (503: Monday redelivers).
    #[error("the event store is unavailable: {0}")]
    StoreUnavailable(String),
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The event's row.
    pub event_id: EventId,
    /// Whether this delivery was a duplicate of a stored one (no second row).
    pub duplicate: bool,
    /// Monday board.
    pub board_id: i64,
    /// Monday item ([`NewEvent::NO_ITEM`] for an event without one).
    pub item_id: i64,
    /// Monday event type.
    pub event_type: String,
}

/// How inline processing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inline {
    /// Processed within the budget (the event may still be open: retrying, item busy, paused).
    Ran,
    /// The budget ran out; the task goes on in the background.
    BudgetExceeded,
    /// No permit free (a burst): left to the worker.
    Deferred,
}

/// The receipt of one stored delivery after [`Ingest::process_inline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The stored event.
    pub stored: Stored,
    /// Its status after inline processing (`None` when it could not be read back).
    pub status: Option<EventStatus>,
    /// What inline processing did.
    pub inline: Inline,
}

impl Receipt {
    /// Whether the event is still open (not done, skipped or dead).
    pub fn is_open(&self) -> bool {
        self.status.is_none_or(EventStatus::is_open)
    }

    /// The status as a word (`stored` when unknown).
    pub fn status_label(&self) -> &'static str {
        self.status.map(|s| s.as_str()).unwrap_or("stored")
    }
}

/// Parses a delivery body: a challenge, or the event to store. Pure.
pub fn parse_delivery(body: &[u8]) -> Result<Parsed, Rejection> {
    let event = match parse_body(body) {
        Ok(WebhookBody::Challenge(c)) => return Ok(Parsed::Challenge(c)),
        Ok(WebhookBody::Event(ev)) => ev,
        Err(WebhookParseError::NotJson(m)) => return Err(Rejection::NotJson(m)),
        Err(e) => return Err(Rejection::NotAWebhook(e.to_string())),
    };
    let board_id = match event.board_id() {
        None => {
            return Err(Rejection::InvalidField {
                field: "event.boardId",
                problem: "is missing".into(),
            })
        }
        Some(b) => b
            .trim()
            .parse::<i64>()
            .map_err(|_| Rejection::InvalidField {
                field: "event.boardId",
                problem: format!("is not a number ({})", shown(b)),
            })?,
    };
    let event_type = event.meta.event_type.clone();
    no_nul("event.type", &event_type)?;
    let trigger_uuid = match event.trigger_uuid() {
        Some(t) if !t.is_empty() => {
            no_nul("event.triggerUuid", t)?;
            t.to_string()
        }
        _ => {
            let digest = Sha256::digest(body);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    };
    let item_id = match event.item_id() {
        Some(i) => i
            .trim()
            .parse::<i64>()
            .map_err(|_| Rejection::InvalidField {
                field: "event.pulseId",
                problem: format!("is not a number ({})", shown(i)),
            })?,
        // No item: the store gives the event a queue of its own, never one shared "item 0" queue.
        None => NewEvent::NO_ITEM,
    };
    Ok(Parsed::Event(NewEvent {
        trigger_uuid,
        board_id,
        item_id,
        event_type,
        payload: String::from_utf8_lossy(body).into_owned(),
    }))
}

fn no_nul(field: &'static str, v: &str) -> Result<(), Rejection> {
    if v.contains('\0') {
        return Err(Rejection::InvalidField {
            field,
            problem: "contains a NUL character".into(),
        });
    }
    Ok(())
}

/// A value for an error message: at most 40 characters, control characters escaped.
fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(40).flat_map(char::escape_debug).collect();
    if v.chars().count() > 40 {
        s.push('…');
    }
    format!("\"{s}\"")
}

/// The ingest path over one engine. Cheap to clone (shared permits).
#[derive(Clone)]
pub struct Ingest {
    engine: Engine,
    config: IngestConfig,
    permits: Arc<Semaphore>,
    queue: Option<Arc<dyn Enqueue>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("config", &self.config)
            .field("free_permits", &self.permits.available_permits())
            .field("queue_mode", &self.queue.is_some())
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Ingest into `engine`'s store, processing inline with `engine`.
    pub fn new(engine: Engine, config: IngestConfig) -> Ingest {
        let n = config.inline_concurrency.max(1);
        Ingest {
            engine,
            config: IngestConfig {
                inline_concurrency: n,
                ..config
            },
            permits: Arc::new(Semaphore::new(n)),
            queue: None,
        }
    }

    /// Queue mode: stored events are sent to `queue` instead of being processed inline (see
    /// [`crate::queue`]).
    pub fn with_queue(mut self, queue: Arc<dyn Enqueue>) -> Ingest {
        self.queue = Some(queue);
        self
    }

    /// Whether stored events go to a queue (queue mode).
    pub fn queue_mode(&self) -> bool {
        self.queue.is_some()
    }

    /// Queue mode: sends the message of a stored event (group `board:item`, deduplication id
    /// `trigger_uuid`). A duplicate delivery is sent again (the queue drops it within its
    /// deduplication interval; later, the consumer finds its event settled), so a delivery whose
    /// first send failed (answered 503) is sent by Monday's redelivery. `Ok(false)` when not in
    /// queue mode.
    pub async fn enqueue(&self, stored: &Stored, trigger_uuid: &str) -> Result<bool, EnqueueError> {
        let Some(queue) = &self.queue else {
            return Ok(false);
        };
        let message = QueueMessage::of(stored);
        queue.send(message, trigger_uuid).await?;
        tracing::info!(event_id = %stored.event_id, group = %message.group_id(), "event sent to the queue");
        Ok(true)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The configuration.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Stores a parsed event (a duplicate is not an error).
    pub async fn store(&self, new: &NewEvent) -> Result<Stored, IngestError> {
        let store = self.engine.store();
        let inserted =
            match tokio::time::timeout(self.config.insert_timeout, store.insert_event_if_new(new))
                .await
            {
                Ok(Ok(o)) => o,
                // Data the store cannot hold is the sender's mistake (4xx), not an outage.
                Ok(Err(e)) if e.is_invalid_input() => {
                    return Err(IngestError::Rejected(Rejection::InvalidField {
                        field: "event",
                        problem: format!("cannot be stored: {e}"),
                    }))
                }
                Ok(Err(e)) => return Err(store_error(e)),
                Err(_) => {
                    return Err(IngestError::StoreUnavailable(format!(
                        "no answer within {} ms",
                        self.config.insert_timeout.as_millis()
                    )))
                }
            };
        let duplicate = matches!(inserted, InsertOutcome::Duplicate(_));
        let event_id = inserted.event_id();
        tracing::info!(%event_id, board_id = new.board_id, item_id = new.item_id,
            event_type = %new.event_type, duplicate, "webhook stored");
        Ok(Stored {
            event_id,
            duplicate,
            board_id: new.board_id,
            item_id: new.item_id,
            event_type: new.event_type.clone(),
        })
    }

    /// Processes the item's open events up to `stored` inline (see the module docs) and reads the
    /// event's status back.
    pub async fn process_inline(&self, stored: &Stored) -> Receipt {
        let inline = match Arc::clone(&self.permits).try_acquire_owned() {
            Err(_) => {
                tracing::info!(event_id = %stored.event_id,
                    "inline processing is at its concurrency limit; the worker applies the event");
                Inline::Deferred
            }
            Ok(permit) => {
                let engine = self.engine.clone();
                let event_id = stored.event_id;
                // In the caller's span, so its log lines carry the request (e.g. Lambda's
                // request id) even when they come after the answer.
                let task = tokio::spawn(
                    async move {
                        let r = engine.process_event(event_id).await;
                        drop(permit);
                        r
                    }
                    .in_current_span(),
                );
                match tokio::time::timeout(self.config.inline_budget, task).await {
                    Ok(Ok(Ok(_))) => Inline::Ran,
                    Ok(Ok(Err(e))) => {
                        tracing::warn!(%event_id, error = %e, "inline processing failed; the event stays stored");
                        Inline::Ran
                    }
                    Ok(Err(e)) => {
                        tracing::error!(%event_id, error = %e, "inline processing task failed");
                        Inline::Ran
                    }
                    Err(_) => {
                        tracing::info!(%event_id, "inline budget used up; processing continues in the background");
                        Inline::BudgetExceeded
                    }
                }
            }
        };
        let status = match self.engine.store().get_event(stored.event_id).await {
            Ok(Some(ev)) => Some(ev.status),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(event_id = %stored.event_id, error = %e, "could not read the event back");
                None
            }
        };
        Receipt {
            stored: stored.clone(),
            status,
            inline,
        }
    }

    /// Inline tasks still running.
    pub fn in_flight(&self) -> usize {
        self.config.inline_concurrency - self.permits.available_permits()
    }

    /// Waits until no inline task runs (at shutdown, before the store is closed), at most
    /// `timeout`; `false` when some were still running then (their claims expire with the lease).
    pub async fn drain(&self, timeout: Duration) -> bool {
        let n = u32::try_from(self.config.inline_concurrency).unwrap_or(u32::MAX);
        match tokio::time::timeout(timeout, self.permits.acquire_many(n)).await {
            Ok(Ok(all)) => {
                drop(all);
                true
            }
            Ok(Err(_)) => true,
            Err(_) => false,
        }
    }
}

fn store_error(e: StoreError) -> IngestError {
    IngestError::StoreUnavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> Result<NewEvent, Rejection> {
        match parse_delivery(body.as_bytes())? {
            Parsed::Event(e) => Ok(e),
            Parsed::Challenge(c) => panic!("challenge {c}"),
        }
    }

    #[test]
    fn a_challenge_is_recognised() {
        assert_eq!(
            parse_delivery(br#"{"challenge":"abc"}"#).unwrap(),
            Parsed::Challenge("abc".into())
        );
    }

    #[test]
    fn ids_and_key_are_derived() {
        let e = event(
            r#"{"event":{"type":"create_pulse","boardId":12,"pulseId":"34","triggerUuid":"t-1"}}"#,
        )
        .unwrap();
        assert_eq!((e.board_id, e.item_id), (12, 34));
        assert_eq!(e.trigger_uuid, "t-1");
        assert_eq!(e.event_type, "create_pulse");
    }

    #[test]
    fn without_a_trigger_uuid_the_key_is_the_body_hash() {
        let body = r#"{"event":{"type":"create_pulse","boardId":12,"pulseId":34}}"#;
        let a = event(body).unwrap();
        assert!(a.trigger_uuid.starts_with("sha256:"), "{}", a.trigger_uuid);
        assert_eq!(a.trigger_uuid, event(body).unwrap().trigger_uuid);
    }

    #[test]
    fn malformed_fields_are_rejections_that_name_the_field() {
        let cases = [
            (
                r#"{"event":{"type":"create_pulse","boardId":"12x","pulseId":1}}"#,
                "event.boardId is not a number (\"12x\")",
            ),
            (
                r#"{"event":{"type":"brand_new_type","pulseId":1}}"#,
                "event.boardId is missing",
            ),
            (
                r#"{"event":{"type":"create_pulse","boardId":1,"pulseId":"x"}}"#,
                "event.pulseId is not a number (\"x\")",
            ),
            (
                r#"{"event":{"type":"create_pulse","boardId":1,"pulseId":1,"triggerUuid":"a\u0000b"}}"#,
                "event.triggerUuid contains a NUL character",
            ),
            (
                r#"{"event":{"type":"create\u0000pulse","boardId":1,"pulseId":1}}"#,
                "event.type contains a NUL character",
            ),
        ];
        for (body, message) in cases {
            let r = event(body).unwrap_err();
            assert_eq!(r.code(), "invalid_field", "{body}");
            assert_eq!(r.to_string(), format!("not a Monday webhook: {message}"));
        }
        assert_eq!(event("{nope").unwrap_err().code(), "not_json");
        assert_eq!(event(r#"{"x":1}"#).unwrap_err().code(), "not_a_webhook");
        // Typed events without their ids are refused by the payload parser, naming the field.
        let r = event(r#"{"event":{"type":"create_pulse","pulseId":1}}"#).unwrap_err();
        assert_eq!(r.code(), "not_a_webhook");
        assert!(r.to_string().contains("boardId"), "{r}");
    }

    #[test]
    fn events_without_an_item_are_stored_as_such() {
        let a =
            event(r#"{"event":{"type":"brand_new_type","boardId":1,"triggerUuid":"a"}}"#).unwrap();
        assert_eq!(a.item_id, NewEvent::NO_ITEM);
    }
}
