//! The sync engine of crmsync: applies stored Monday webhook events to Salesforce.
//!
//! * [`Engine`] — claims events per item from the store, fetches the item from Monday when the plan
//!   needs it (or always, with [`EngineConfig::fresh_reads`]), plans with `crmsync-core`, applies the
//!   plan to Salesforce (upsert by external id when the mapping has one), records links both ways,
//!   writes the Salesforce Id back to the item's Id column, and settles every claim: done, skipped,
//!   failed (retry with backoff and jitter), dead (dead letter + alert), or paused on
//!   `REQUEST_LIMIT_EXCEEDED`. [`Engine::run_worker`] drains due events in the background;
//!   [`Engine::replay_dead_letter`] replays one dead letter.
//! * [`Alerter`] — Telegram alerts, deduplicated and rate-limited (a storm becomes one message and
//!   one summary with a count — across every process on the store, whose alert windows are rows);
//!   logs only when Telegram is not configured.
//! * [`load_mapping`], [`required_webhook_events`] — setup shared by the app and the tests.
//!
//! Deferred columns (nothing is lost): when the planner leaves a column out of a create — a
//! board_relation to an item that has no Salesforce record yet, or a Monday user without an active
//! Salesforce user of the same email — the engine stores, *before* applying the create, one
//! follow-up per such column ([`crmsync_core::FollowUp`]), keyed by the **root** event
//! `crmsync-deferred:<root event id>:<column>` (idempotent: a retried create stores nothing new).
//! It goes through the item's ordinary queue, so it runs after the create, in order with the
//! item's other events. Processing it reads the item from Monday and applies
//! [`crmsync_core::follow_up_plan`]: the column's *current* value, written to the linked record.
//! A follow-up never plans a create and never stores another follow-up. While the item itself has
//! no record (its create failed) it waits; while the related record or user is unknown it is a
//! transient failure too; both are retried with the usual backoff ([`RetrySchedule`], bounded by
//! `max_attempts`) and then become a dead letter with one alert that names the column and what to
//! do. Replaying the root event's dead letter ([`Engine::replay_dead_letter`]) re-opens the open
//! dead letters of its follow-ups, so a replay re-applies the deferred columns. (Ordinary column
//! changes that hit an unknown related record are retried the same way; an unknown user there is
//! a permanent failure, as before.)
//!
//! Loop prevention: crmsync's own write-back of the Salesforce Id fires an `update_column_value`
//! webhook on the Id column; the planner sees the Id equal to the stored link and skips it
//! ("no change"). Items created by the migration already carry the Salesforce Id in their Id
//! column, so their `create_pulse` links instead of creating.

pub mod alerts;
pub mod drift;
mod engine;
mod error;
mod health;
pub mod ingest;
mod lookups;
pub mod queue;
pub mod reconcile;
mod setup;

pub use alerts::{Alert, AlertConfig, AlertKind, Alerter, TelegramConfig};
pub use crmsync_core::{FOLLOW_UP_KEY, FOLLOW_UP_PREFIX};
pub use engine::{Engine, EngineConfig, EventOutcome, Processed, RetrySchedule, SALESFORCE_PAUSE};
pub use error::{ApplyError, EngineError, FailureClass};
pub use health::WorkerHealth;
pub use setup::{
    fetch_schema, load_mapping, parse_mapping, read_mapping, required_webhook_events, validate_live,
};
