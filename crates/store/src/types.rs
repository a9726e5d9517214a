//! Plain data types exchanged with the store.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::StoreError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Primary key of a row in the event log.
    EventId
);
id_type!(
    /// Primary key of a dead letter.
    DeadLetterId
);
id_type!(
    /// Primary key of a migration run.
    RunId
);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt {
                        what: stringify!($name),
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}

string_enum!(
    /// Lifecycle of an event in the event log.
    ///
    /// `Pending`, `Failed` and `Processing` are *open* (the event still has to be applied);
    /// `Done`, `Skipped` and `Dead` are *closed*.
    EventStatus {
        /// Stored, waiting to be claimed.
        Pending => "pending",
        /// Claimed by a worker that holds an item lease.
        Processing => "processing",
        /// Failed at least once; a retry is scheduled at `next_attempt_at` (claimable again then, like
        /// `Pending`).
        Failed => "failed",
        /// Applied to Salesforce.
        Done => "done",
        /// Deliberately not applied (e.g. board not mapped); the reason is in `last_error`.
        Skipped => "skipped",
        /// Permanently failed; a dead letter holds the payload and the error.
        Dead => "dead",
    }
);

impl EventStatus {
    /// Whether the event still has to be applied (pending, failed-and-retrying or processing).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            EventStatus::Pending | EventStatus::Processing | EventStatus::Failed
        )
    }
}

string_enum!(
    /// State of a dead letter.
    DeadLetterStatus {
        /// Waiting for a fix and a replay.
        Open => "open",
        /// Put back into the event log as pending; reopens if the event dies again.
        Replayed => "replayed",
    }
);

string_enum!(
    /// Which target a migration run wrote to.
    MigrationStage {
        /// Against mocks seeded with a snapshot of the source data.
        Rehearsal => "rehearsal",
        /// Against the real Monday account.
        Production => "production",
    }
);

string_enum!(
    /// How a migration run ended.
    RunOutcome {
        /// Started, not finished (still running, or killed).
        Running => "running",
        /// Finished and verified.
        Passed => "passed",
        /// Finished with errors.
        Failed => "failed",
        /// Stopped before the end on purpose.
        Aborted => "aborted",
    }
);

/// Which database a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Embedded SQLite file (`sqlite://…`).
    Sqlite,
    /// PostgreSQL server (`postgres://…` or `postgresql://…`).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A webhook delivery to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Monday's `triggerUuid`: the idempotency key.
    pub trigger_uuid: String,
    /// Monday board id (`boardId`).
    pub board_id: i64,
    /// Monday item id (`pulseId` / `itemId`), or 0 when the delivery carries none: such an event gets
    /// a queue of its own (stored `item_id` = −event id, see [`Event::monday_item_id`]) instead of
    /// sharing one "item 0" queue with every other such event. Any value ≤ 0 counts as "none".
    pub item_id: i64,
    /// Monday event type, e.g. `create_pulse`, `update_column_value`.
    pub event_type: String,
    /// The request body exactly as received. Must not contain NUL characters (valid JSON never does).
    pub payload: String,
}

impl NewEvent {
    /// The `item_id` to pass for a delivery that carries no item id.
    pub const NO_ITEM: i64 = 0;
}

/// The Monday item id of a queue key: `None` for the per-event queue of an event without an item id.
fn monday_item(item_id: i64) -> Option<i64> {
    (item_id > 0).then_some(item_id)
}

/// Result of [`crate::Store::insert_event_if_new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// First delivery of this `triggerUuid`; the new row.
    Inserted(EventId),
    /// Already stored (a redelivery); the existing row, left untouched.
    Duplicate(EventId),
}

impl InsertOutcome {
    /// The event's id, whether new or duplicate.
    pub fn event_id(self) -> EventId {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => id,
        }
    }
}

/// A row of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub trigger_uuid: String,
    pub board_id: i64,
    /// The queue key: the Monday item id, or −`id` for an event without one (see
    /// [`Event::monday_item_id`]).
    pub item_id: i64,
    /// Position of this event among the events of its item (1-based, in order of receipt).
    pub item_seq: i64,
    pub event_type: String,
    /// The request body exactly as received.
    pub payload: String,
    pub status: EventStatus,
    /// Number of failed attempts so far (reset to 0 by a dead-letter replay).
    pub attempts: u32,
    /// Last failure or skip reason.
    pub last_error: Option<String>,
    /// Not claimable before this instant.
    pub next_attempt_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it reached done, skipped or dead.
    pub processed_at: Option<DateTime<Utc>>,
    /// Worker holding (or last holding) the lease, while `Processing`.
    pub claimed_by: Option<String>,
    /// Lease expiry, while `Processing`.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl Event {
    /// The Monday item this event is about; `None` when the delivery carried no item id (then
    /// `item_id` is −`id`: the event's own queue).
    pub fn monday_item_id(&self) -> Option<i64> {
        monday_item(self.item_id)
    }
}

/// Proof of a claim: pass it to `mark_*` / `extend_lease`. A claim whose lease expired and was taken
/// over by another worker is rejected with [`StoreError::LeaseLost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub event_id: EventId,
    pub board_id: i64,
    pub item_id: i64,
    /// Random token identifying this claim (fencing token).
    pub token: String,
    pub worker: String,
    pub lease_expires_at: DateTime<Utc>,
}

impl Claim {
    /// The Monday item of the claimed queue; `None` for an event without an item id.
    pub fn monday_item_id(&self) -> Option<i64> {
        monday_item(self.item_id)
    }
}

/// An event handed to a worker, with the claim that proves it holds the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEvent {
    pub event: Event,
    pub claim: Claim,
}

/// A Monday item linked to a Salesforce record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub monday_board_id: i64,
    pub monday_item_id: i64,
    /// Salesforce object API name, e.g. `Lead`, `Invoice__c`.
    pub sf_object: String,
    /// Salesforce record Id.
    pub sf_id: String,
}

/// Result of [`crate::Store::upsert_link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The link is new.
    Created,
    /// Exactly this link already existed.
    AlreadyLinked,
}

/// A dead letter: an event that failed permanently, with everything needed to understand and replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: DeadLetterId,
    pub event_id: EventId,
    pub trigger_uuid: String,
    pub board_id: i64,
    pub item_id: i64,
    pub event_type: String,
    /// The original request body, byte for byte.
    pub payload: String,
    /// Why it failed (crmsync's description).
    pub error: String,
    /// Salesforce's response body, when Salesforce rejected it.
    pub sf_error_body: Option<String>,
    pub status: DeadLetterStatus,
    pub replay_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

impl DeadLetter {
    /// The Monday item of the dead event; `None` when the delivery carried no item id.
    pub fn monday_item_id(&self) -> Option<i64> {
        monday_item(self.item_id)
    }
}

/// Which dead letters [`crate::Store::list_dead_letters`] returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only this status (all when `None`).
    pub status: Option<DeadLetterStatus>,
    /// Only this Monday board (all when `None`).
    pub board_id: Option<i64>,
    /// Only ids strictly below this one (for paging; `None` = from the newest).
    pub before: Option<DeadLetterId>,
    /// At most this many.
    pub limit: u32,
}

impl Default for DeadLetterFilter {
    fn default() -> Self {
        DeadLetterFilter {
            status: None,
            board_id: None,
            before: None,
            limit: 100,
        }
    }
}

/// Counters of a migration run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub records_read: u64,
    pub items_created: u64,
    pub items_updated: u64,
    pub records_skipped: u64,
    pub records_failed: u64,
}

/// A migration run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRun {
    pub id: RunId,
    pub stage: MigrationStage,
    /// Hash of mapping + queries: a production run requires a passed rehearsal with the same hash.
    pub plan_hash: String,
    pub outcome: RunOutcome,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: RunCounts,
}

/// Result of [`crate::Store::checkpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Newly recorded.
    Recorded,
    /// The same (run, object, Salesforce Id) → item was already recorded.
    AlreadyRecorded,
}

/// One migrated record: Salesforce record → Monday item, within a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub run_id: RunId,
    pub sf_object: String,
    pub sf_id: String,
    pub monday_item_id: i64,
    pub created_at: DateTime<Utc>,
}

/// Number of events per status (see [`crate::Store::event_counts_since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub pending: u64,
    pub processing: u64,
    pub failed: u64,
    pub done: u64,
    pub skipped: u64,
    pub dead: u64,
}

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: EventStatus) -> u64 {
        match status {
            EventStatus::Pending => self.pending,
            EventStatus::Processing => self.processing,
            EventStatus::Failed => self.failed,
            EventStatus::Done => self.done,
            EventStatus::Skipped => self.skipped,
            EventStatus::Dead => self.dead,
        }
    }

    pub(crate) fn slot(&mut self, status: EventStatus) -> &mut u64 {
        match status {
            EventStatus::Pending => &mut self.pending,
            EventStatus::Processing => &mut self.processing,
            EventStatus::Failed => &mut self.failed,
            EventStatus::Done => &mut self.done,
            EventStatus::Skipped => &mut self.skipped,
            EventStatus::Dead => &mut self.dead,
        }
    }

    /// Sum over all statuses.
    pub fn total(&self) -> u64 {
        EventStatus::ALL.iter().map(|s| self.get(*s)).sum()
    }
}

/// Receipt → processed latency of events that reached `done` (see [`crate::Store::latency_since`]).
/// Percentiles are nearest-rank over the exact values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyStats {
    pub count: u64,
    pub avg_ms: i64,
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
}

/// A pause every worker honours (see [`crate::Store::set_pause`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// What is paused, e.g. `salesforce`.
    pub scope: String,
    /// End of the pause (database clock).
    pub until: DateTime<Utc>,
    /// How long the pause still runs, measured on the database clock when it was read: wait this long
    /// rather than until `until` on the process clock.
    pub remaining: std::time::Duration,
    /// Why, for the status page and logs.
    pub reason: String,
    /// When this pause was set (database clock).
    pub set_at: DateTime<Utc>,
}

/// Answer of [`crate::Store::alert_window_hit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertDecision {
    /// First of its key in a new window: send the alert.
    Send,
    /// The window is open and its alert was sent already: do not send; `count` hits (this one
    /// included) were suppressed in this window so far.
    Suppressed { count: u64 },
}

/// A closed alert window that suppressed hits, handed out once by
/// [`crate::Store::claim_due_alert_summaries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSummary {
    /// The alert key passed to `alert_window_hit`.
    pub key: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    /// Hits suppressed in the window (the sent one not counted).
    pub suppressed: u64,
}

id_type!(
    /// Primary key of an attempt row.
    AttemptId
);
id_type!(
    /// Primary key of a rejected delivery.
    RejectedDeliveryId
);

string_enum!(
    /// How one attempt to apply an event ended.
    AttemptOutcome {
        /// Applied.
        Done => "done",
        /// Deliberately not applied.
        Skipped => "skipped",
        /// Failed transiently; retried later.
        Failed => "failed",
        /// Failed permanently; dead-lettered.
        Dead => "dead",
        /// Stopped by a pause (e.g. `REQUEST_LIMIT_EXCEEDED`); not counted as a failure.
        Paused => "paused",
        /// The worker lost its lease mid-way and stopped; another worker owns the event now.
        LeaseLost => "lease_lost",
    }
);

/// One attempt to apply an event, to record with [`crate::Store::record_attempt`]. Text fields may
/// hold anything: a NUL character is stored as U+FFFD, and `error` is cut at
/// [`crate::ATTEMPT_ERROR_CAP`] bytes — recording history never fails on its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub event_id: EventId,
    /// Worker id (e.g. `EngineConfig::worker_id`).
    pub worker: String,
    /// What was called, e.g. `salesforce PATCH Lead/00Q5g00000AbCdEAAV` or `monday items(123)`.
    pub operation: String,
    pub outcome: AttemptOutcome,
    /// Machine-readable class, e.g. `transient`, `permanent`, `REQUIRED_FIELD_MISSING`, `deadline`.
    pub error_class: Option<String>,
    /// Human-readable error.
    pub error: Option<String>,
    /// HTTP status of the failing call, if any.
    pub http_status: Option<u16>,
    /// How long the attempt took (measure with `Instant`): `started_at` = `finished_at` − `elapsed`,
    /// and `finished_at` is the database's now when the attempt is recorded.
    pub elapsed: std::time::Duration,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: AttemptId,
    pub event_id: EventId,
    /// 1, 2, 3… per event, in order of recording.
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub worker: String,
    pub operation: String,
    pub outcome: AttemptOutcome,
    pub error_class: Option<String>,
    pub error: Option<String>,
    pub http_status: Option<u16>,
}

/// Number of attempts per outcome (see [`crate::Store::attempt_counts_since`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
    pub dead: u64,
    pub paused: u64,
    pub lease_lost: u64,
}

impl AttemptCounts {
    /// The count for one outcome.
    pub fn get(&self, outcome: AttemptOutcome) -> u64 {
        match outcome {
            AttemptOutcome::Done => self.done,
            AttemptOutcome::Skipped => self.skipped,
            AttemptOutcome::Failed => self.failed,
            AttemptOutcome::Dead => self.dead,
            AttemptOutcome::Paused => self.paused,
            AttemptOutcome::LeaseLost => self.lease_lost,
        }
    }

    pub(crate) fn slot(&mut self, outcome: AttemptOutcome) -> &mut u64 {
        match outcome {
            AttemptOutcome::Done => &mut self.done,
            AttemptOutcome::Skipped => &mut self.skipped,
            AttemptOutcome::Failed => &mut self.failed,
            AttemptOutcome::Dead => &mut self.dead,
            AttemptOutcome::Paused => &mut self.paused,
            AttemptOutcome::LeaseLost => &mut self.lease_lost,
        }
    }

    /// Sum over all outcomes.
    pub fn total(&self) -> u64 {
        AttemptOutcome::ALL.iter().map(|o| self.get(*o)).sum()
    }
}

string_enum!(
    /// Why the receiver refused a webhook delivery.
    RejectReason {
        /// No credentials (no JWT, no URL token).
        Unauthenticated => "unauthenticated",
        /// A JWT or URL token that does not verify (bad signature, expired, wrong audience).
        BadSignature => "bad_signature",
        /// The body is not JSON.
        MalformedJson => "malformed_json",
        /// JSON, but not a Monday webhook (no `event` object, …).
        NotAWebhook => "not_a_webhook",
        /// A field the store cannot accept: a non-numeric `boardId`, a NUL in `triggerUuid` or
        /// `type`, …
        InvalidField => "invalid_field",
        /// The body exceeds the receiver's limit.
        TooLarge => "too_large",
    }
);

/// A refused webhook delivery, to record with [`crate::Store::record_rejected_delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRejectedDelivery {
    pub reason: RejectReason,
    /// The HTTP status answered (e.g. 400, 401, 413).
    pub http_status: u16,
    /// What exactly was wrong, e.g. `boardId "abc" is not a number`. A NUL is stored as U+FFFD; cut at
    /// 4 KiB.
    pub detail: Option<String>,
    /// Request headers as received, **with secrets removed by the caller** (`Authorization`, the
    /// `?token=` of the URL, cookies). Stored as a JSON array of `[name, value]` pairs, in order.
    pub headers: Vec<(String, String)>,
    /// The body's bytes (any bytes: NUL and invalid UTF-8 are kept). The store keeps the first
    /// [`crate::REJECTED_BODY_CAP`] bytes and flags the rest as truncated, so a caller may pass just
    /// that prefix of a huge body.
    pub body: Vec<u8>,
    /// The full body length when `body` is only a prefix of it (e.g. a too-large body not read to the
    /// end); `None` means `body.len()`.
    pub body_len: Option<u64>,
}

/// A recorded rejected delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedDelivery {
    pub id: RejectedDeliveryId,
    /// Database clock.
    pub received_at: DateTime<Utc>,
    pub reason: RejectReason,
    pub http_status: u16,
    pub detail: Option<String>,
    pub headers: Vec<(String, String)>,
    /// At most [`crate::REJECTED_BODY_CAP`] bytes of the body, byte for byte.
    pub body: Vec<u8>,
    /// Length of the whole body as received.
    pub body_len: u64,
    /// Whether `body` is shorter than the body received.
    pub body_truncated: bool,
}

impl RejectedDelivery {
    /// The stored body as text (invalid UTF-8 replaced by U+FFFD), for display.
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}
