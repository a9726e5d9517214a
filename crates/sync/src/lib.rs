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
//!   one summary with a count); logs only when Telegram is not configured.
//! * [`load_mapping`], [`install_webhooks`] — setup shared by the CLI and the tests.
//!
//! Loop prevention: crmsync's own write-back of the Salesforce Id fires an `update_column_value`
//! webhook on the Id column; the planner sees the Id equal to the stored link and skips it
//! ("no change"). Items created by the migration already carry the Salesforce Id in their Id
//! column, so their `create_pulse` links instead of creating.

pub mod alerts;
mod engine;
mod error;
mod lookups;
pub mod monday_ops;
mod setup;

pub use alerts::{Alert, AlertConfig, AlertKind, Alerter, TelegramConfig};
pub use engine::{skip_text, Engine, EngineConfig, EventOutcome, Processed, RetrySchedule};
pub use error::{ApplyError, EngineError, FailureClass};
pub use setup::{
    fetch_schema, install_webhooks, load_mapping, parse_mapping, read_mapping,
    required_webhook_events, validate_live,
};
