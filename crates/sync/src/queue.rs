//! Queue mode: the receiver stores each event (the store stays the source of truth) and hands a
//! small message to a FIFO queue; consumers (the Lambda's SQS event source, or the polling
//! consumer of `crmsync serve`) apply it. This module is the queue-independent part: the message,
//! the producer seam ([`Enqueue`], implemented for SQS in `crmsync-cloud`) and what a consumer
//! does with one received message ([`consume`]) or a batch ([`consume_batch`]).
//!
//! * One message per stored delivery: `{"eventId":…,"boardId":…,"itemId":…}`, message group
//!   `board:item` (one item's events in order, different items in parallel), deduplication id
//!   the delivery's `triggerUuid` (the idempotency key the store keyed it by).
//! * A message is *done* when its event is final (applied, skipped, dead letter): delete it. An
//!   event still open (a transient failure waiting for its retry, the item held by another
//!   worker, processing paused) *returns* the message (it comes back after the visibility
//!   timeout). On the last receive the queue allows (`max_receives`, the DLQ's
//!   `maxReceiveCount`), an event still open is given up: dead-lettered in the store with one
//!   alert, and the message is returned one last time so the queue moves it to its DLQ.
//! * Item leases still serialize processing, so a duplicated or redelivered message is
//!   harmless: its event is final already, or the item's lease holder applies it.

use std::future::Future;
use std::pin::Pin;

use crmsync_store::{EventId, EventStatus};
use serde::{Deserialize, Serialize};

use crate::ingest::Stored;
use crate::{Engine, EngineError};

/// The message queue mode sends for one stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMessage {
    /// The event's row in the event log.
    pub event_id: i64,
    /// Monday board.
    pub board_id: i64,
    /// Monday item.
    pub item_id: i64,
}

impl QueueMessage {
    /// The message of a stored event.
    pub fn of(stored: &Stored) -> QueueMessage {
        QueueMessage {
            event_id: stored.event_id.0,
            board_id: stored.board_id,
            item_id: stored.item_id,
        }
    }

    /// The FIFO message group: `board:item`.
    pub fn group_id(&self) -> String {
        format!("{}:{}", self.board_id, self.item_id)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        // A struct of three integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a body; the error says what is wrong.
    pub fn parse(body: &str) -> Result<QueueMessage, String> {
        serde_json::from_str(body).map_err(|e| format!("not a crmsync queue message: {e}"))
    }
}

/// Why a message could not be sent (the receiver answers 503, so Monday redelivers and the
/// redelivery sends it again; the event is stored already).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not send the event to the queue: {0}")]
pub struct EnqueueError(pub String);

/// A boxed future (the producer seam is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The producer side of a FIFO queue.
pub trait Enqueue: Send + Sync + std::fmt::Debug {
    /// Sends `message` with message group [`QueueMessage::group_id`] and deduplication id
    /// `dedup_id` (the delivery's `triggerUuid`).
    fn send<'a>(
        &'a self,
        message: QueueMessage,
        dedup_id: &'a str,
    ) -> BoxFuture<'a, Result<(), EnqueueError>>;
}

/// One received message, as a consumer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The queue's id of the message (Lambda's `messageId`; reported back in `batchItemFailures`).
    pub id: String,
    /// The body.
    pub body: String,
    /// `ApproximateReceiveCount` (1 on the first receive).
    pub receive_count: u32,
    /// The message group (FIFO), when known.
    pub group_id: Option<String>,
}

/// What to do with a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Its event is final: delete the message.
    Done {
        /// The event's final status (`done`, `skipped`, `dead`).
        status: &'static str,
    },
    /// Its event is still open: return the message (it comes back after the visibility timeout).
    Retry {
        /// Why (the event's status).
        reason: String,
    },
    /// The last receive with the event still open: the event is now a dead letter (one alert),
    /// and the message is returned so that the queue moves it to the DLQ.
    GaveUp {
        /// The dead letter, when this call made it (None: another worker settled the event
        /// meanwhile, or the item's head event holds it).
        dead_letter_id: Option<i64>,
    },
    /// Not a crmsync message, or its event does not exist: returned, so that it ends in the DLQ
    /// for a person to look at (never silently deleted).
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

impl Disposition {
    /// Whether the message should be deleted (reported as processed).
    pub fn is_done(&self) -> bool {
        matches!(self, Disposition::Done { .. })
    }
}

/// Processes one received message with `engine` (see the module docs). `max_receives` is the
/// queue's `maxReceiveCount`: on that receive an event still open is given up.
pub async fn consume(
    engine: &Engine,
    message: &Received,
    max_receives: u32,
) -> Result<Disposition, EngineError> {
    let msg = match QueueMessage::parse(&message.body) {
        Ok(m) => m,
        Err(reason) => {
            tracing::error!(message_id = %message.id, %reason, "queue message refused");
            return Ok(Disposition::Invalid { reason });
        }
    };
    let event_id = EventId(msg.event_id);
    let Some(before) = engine.store().get_event(event_id).await? else {
        let reason = format!("event {} is not in the event log", msg.event_id);
        tracing::error!(message_id = %message.id, %reason, "queue message refused");
        return Ok(Disposition::Invalid { reason });
    };
    if !before.status.is_open() {
        tracing::info!(message_id = %message.id, event_id = msg.event_id,
            status = before.status.as_str(), "queue message for a settled event (duplicate)");
        return Ok(Disposition::Done {
            status: before.status.as_str(),
        });
    }
    engine.process_event(event_id).await?;
    let status = engine
        .store()
        .get_event(event_id)
        .await?
        .map(|e| e.status)
        .unwrap_or(EventStatus::Pending);
    if !status.is_open() {
        return Ok(Disposition::Done {
            status: status.as_str(),
        });
    }
    if message.receive_count >= max_receives.max(1) {
        let why = format!(
            "the queue gave up after {} receives (maxReceiveCount {max_receives}); the message \
             goes to the dead-letter queue",
            message.receive_count
        );
        let dl = engine.give_up(event_id, &why).await?;
        return Ok(Disposition::GaveUp {
            dead_letter_id: dl.map(|d| d.0),
        });
    }
    Ok(Disposition::Retry {
        reason: format!("event {} is {}", msg.event_id, status.as_str()),
    })
}

/// Processes a batch in order and returns the ids of the messages to report as failures
/// (Lambda's `batchItemFailures`): as FIFO queues require, once a message of a group is not done,
/// the group's later messages in the batch are not processed and are reported too (they keep
/// their order). Other groups go on. A store failure fails the rest of the batch, and so does
/// reaching `stop_at` (the Lambda's deadline less one event deadline): those messages come back.
pub async fn consume_batch(
    engine: &Engine,
    batch: &[Received],
    max_receives: u32,
    stop_at: Option<std::time::Instant>,
) -> Vec<(String, Disposition)> {
    let mut failed_groups: Vec<Option<String>> = Vec::new();
    let mut out = Vec::new();
    let mut store_failure: Option<String> = None;
    for m in batch {
        let group = m.group_id.clone();
        if store_failure.is_none() && stop_at.is_some_and(|t| std::time::Instant::now() >= t) {
            store_failure = Some("the invocation's deadline is near".into());
        }
        if let Some(e) = &store_failure {
            out.push((m.id.clone(), Disposition::Retry { reason: e.clone() }));
            continue;
        }
        if failed_groups.contains(&group) {
            out.push((
                m.id.clone(),
                Disposition::Retry {
                    reason: "an earlier message of its group failed".into(),
                },
            ));
            continue;
        }
        match consume(engine, m, max_receives).await {
            Ok(d) => {
                if !d.is_done() {
                    failed_groups.push(group);
                }
                out.push((m.id.clone(), d));
            }
            Err(e) => {
                tracing::error!(message_id = %m.id, error = %e, "queue message could not be processed");
                let reason = e.to_string();
                store_failure = Some(reason.clone());
                out.push((m.id.clone(), Disposition::Retry { reason }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_round_trips_and_names_its_group() {
        let m = QueueMessage {
            event_id: 7,
            board_id: 12,
            item_id: 34,
        };
        assert_eq!(m.body(), r#"{"eventId":7,"boardId":12,"itemId":34}"#);
        assert_eq!(QueueMessage::parse(&m.body()), Ok(m));
        assert_eq!(m.group_id(), "12:34");
    }

    #[test]
    fn a_foreign_body_is_refused_with_a_reason() {
        let e = QueueMessage::parse("hello").unwrap_err();
        assert!(e.starts_with("not a crmsync queue message"), "{e}");
    }
}
