//! The store's error type.

use std::time::Duration;

use crate::types::{DeadLetterId, EventId, Link, RunId};

/// Everything that can go wrong in the store. Each variant names the operation and the key involved;
/// URLs are always shown with their password masked (see [`crmsync_redact::mask_url`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is not a URL the store understands.
    #[error("unsupported DATABASE_URL {url}: {reason} (expected sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB)")]
    InvalidUrl { url: String, reason: String },

    /// The database could not be reached or refused the connection.
    #[error("cannot connect to database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// No connection within the connect timeout (server unreachable or not answering).
    #[error("cannot connect to database at {url}: no connection within {timeout:?} (is the server running and reachable?)")]
    ConnectTimeout { url: String, timeout: Duration },

    /// Applying the schema migrations failed.
    #[error("applying schema migrations to {url} failed: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A query failed.
    #[error("store operation {op} ({key}) failed: {source}")]
    Query {
        op: &'static str,
        key: String,
        #[source]
        source: sqlx::Error,
    },

    /// The row an operation needs does not exist.
    #[error("store operation {op}: {key} not found")]
    NotFound { op: &'static str, key: String },

    /// The row exists but is in a state that does not allow the operation.
    #[error("store operation {op} ({key}): {reason}")]
    InvalidState {
        op: &'static str,
        key: String,
        reason: String,
    },

    /// The caller passed a value the store refuses.
    #[error("store operation {op}: invalid {field}: {reason}")]
    InvalidInput {
        op: &'static str,
        field: &'static str,
        reason: String,
    },

    /// The claim is no longer valid: its lease expired and another worker took the item over (or the
    /// claim was already settled). Nothing was written.
    #[error("store operation {op}: lease on event {event_id} was lost (token {token} no longer holds item {board_id}/{item_id})")]
    LeaseLost {
        op: &'static str,
        event_id: EventId,
        board_id: i64,
        item_id: i64,
        token: String,
    },

    /// One side of the requested link is already linked to something else.
    #[error("cannot link Monday item {}/{} to {} {}: already linked as Monday item {}/{} <-> {} {}",
        requested.monday_board_id, requested.monday_item_id, requested.sf_object, requested.sf_id,
        existing.monday_board_id, existing.monday_item_id, existing.sf_object, existing.sf_id)]
    LinkConflict {
        requested: Box<Link>,
        existing: Box<Link>,
    },

    /// The Salesforce record is already checkpointed to a different Monday item in this run.
    #[error("migration run {run_id}: {sf_object} {sf_id} is already checkpointed to Monday item {existing_item_id}, not {requested_item_id}")]
    CheckpointConflict {
        run_id: RunId,
        sf_object: String,
        sf_id: String,
        existing_item_id: i64,
        requested_item_id: i64,
    },

    /// A value read from the database is not one this version understands.
    #[error("unexpected {what} value in the database: {value:?}")]
    Corrupt { what: &'static str, value: String },
}

impl StoreError {
    /// Whether the caller's data is at fault ([`StoreError::InvalidInput`], e.g. a NUL character that
    /// PostgreSQL text cannot hold): retrying the same data fails again, so a receiver answers 4xx, not
    /// 5xx. Every other error is the store's or the database's.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, StoreError::InvalidInput { .. })
    }

    /// Whether this is [`StoreError::LeaseLost`]: the claim no longer holds its item.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, StoreError::LeaseLost { .. })
    }

    pub(crate) fn query(
        op: &'static str,
        key: impl std::fmt::Display,
    ) -> impl FnOnce(sqlx::Error) -> StoreError {
        let key = key.to_string();
        move |source| StoreError::Query { op, key, source }
    }
}

/// Keys used in error messages.
pub(crate) fn dl_key(id: DeadLetterId) -> String {
    format!("dead letter {id}")
}

pub(crate) fn event_key(id: EventId) -> String {
    format!("event {id}")
}

/// Short alias used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
