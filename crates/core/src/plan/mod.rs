//! Planning, in both directions:
//!
//! - [`realtime`]: Monday -> Salesforce, from a webhook event (and, when needed, an item snapshot)
//!   to Salesforce [`Operation`]s ([`plan`](realtime::plan)).
//! - [`migration`]: Salesforce -> Monday, from a Salesforce record to a Monday item
//!   create/update ([`plan_item`](migration::plan_item)).
//!
//! This module holds what both share: the operation and outcome types, skip reasons, errors.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::lookups::Lookups;
use crate::transform::TransformError;

pub mod follow_up;
pub mod migration;
pub mod realtime;

pub use follow_up::{
    follow_up_plan, FollowUp, FollowUpOutcome, FOLLOW_UP_EVENT_TYPE, FOLLOW_UP_KEY,
    FOLLOW_UP_PREFIX,
};
pub use migration::{
    item_name_from_record, plan_item, same_salesforce_value, ItemOperation, NewLabel,
};
pub use realtime::{freshen, name_fields, needs_user_directory, plan};

/// Salesforce field values by API name.
pub type Fields = BTreeMap<String, Value>;

/// What the planner needs besides the event and the mapping.
#[derive(Clone, Copy)]
pub struct PlanContext<'a> {
    /// Record links and user directories.
    pub lookups: &'a dyn Lookups,
    /// The date `today+Nd` defaults are computed from.
    pub today: NaiveDate,
}

/// A Salesforce record id, or the id the plan's `Create`/`Upsert` will return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordRef {
    /// A known id.
    Id(String),
    /// The id returned by this plan's `Create` or `Upsert`.
    Created,
}

/// One step for the engine to apply, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /sobjects/<object>` (no external id configured).
    Create {
        /// Object.
        object: String,
        /// Fields (including `RecordTypeId` when configured).
        fields: Fields,
        /// The board's `item_id_field` and the item id: before creating, look for a record holding
        /// it (created by an earlier attempt whose answer was lost) and take that one instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        find_by: Option<FindBy>,
    },
    /// `PATCH /sobjects/<object>/<external_id_field>/<external_id>`: create or update by external id.
    Upsert {
        /// Object.
        object: String,
        /// External id field.
        external_id_field: String,
        /// Its value (the Monday item id).
        external_id: String,
        /// Fields, without the external id field.
        fields: Fields,
    },
    /// `PATCH /sobjects/<object>/<id>` with only the changed fields (`null` clears a field).
    Update {
        /// Object.
        object: String,
        /// Record id.
        id: String,
        /// Changed fields.
        fields: Fields,
    },
    /// `DELETE /sobjects/<object>/<id>`.
    Delete {
        /// Object.
        object: String,
        /// Record id.
        id: String,
    },
    /// Record the link item <-> record in the store.
    Link {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// Object.
        object: String,
        /// Record.
        salesforce_id: RecordRef,
    },
    /// Remove the item's link (after a delete).
    Unlink {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
    },
    /// Write the Salesforce id into the item's Id column on Monday.
    WriteBackSalesforceId {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// The Id column.
        column_id: String,
        /// Record.
        salesforce_id: RecordRef,
    },
    /// Nothing to do, and why.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

/// A field and the value that identify the record of an item (see [`Operation::Create`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindBy {
    /// Field (`item_id_field`).
    pub field: String,
    /// Value (the Monday item id).
    pub value: String,
}

/// Why an event needs no Salesforce call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The board is not in the mapping.
    UnknownBoard {
        /// Board id.
        board_id: String,
    },
    /// A subitem event (subitems are not synced).
    Subitem,
    /// The column is not in the mapping.
    UnmappedColumn {
        /// Column id.
        column_id: String,
    },
    /// The column only syncs Salesforce -> Monday.
    ToMondayOnly {
        /// Column id.
        column_id: String,
    },
    /// The board does not sync item names.
    NameNotMapped,
    /// The new value equals the previous one.
    NoChange,
    /// The item is already linked to a record (e.g. a redelivered `create_pulse`).
    AlreadyLinked {
        /// The linked record.
        salesforce_id: String,
    },
    /// Delete/archive of an item that has no record.
    NotLinked,
    /// The mapping says to ignore this delete/archive.
    PolicyIgnore {
        /// Event type.
        event_type: String,
    },
    /// The column was cleared but its field cannot be cleared (the owner); the record keeps it.
    NothingToWrite {
        /// Column id.
        column_id: String,
    },
    /// The Id column was cleared (or overwritten with text that is not a record id) on Monday:
    /// the link is kept, and the column is rewritten from it when the plan had the item snapshot
    /// (the write-back rule, [`crate::write_back`]).
    IdColumnCleared,
    /// An event type that carries nothing to sync (`create_update`, `move_pulse_into_group`, ...).
    UnsupportedEvent {
        /// Event type.
        event_type: String,
    },
}

impl std::fmt::Display for SkipReason {
    /// The reason in plain words (the engine's skip message in the event log and `/status`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::UnknownBoard { board_id } => {
                write!(f, "board {board_id} is not in the mapping (unknown board)")
            }
            SkipReason::Subitem => f.write_str("subitems are not synced"),
            SkipReason::UnmappedColumn { column_id } => {
                write!(f, "column {column_id} is not in the mapping")
            }
            SkipReason::ToMondayOnly { column_id } => {
                write!(f, "column {column_id} only syncs Salesforce -> Monday")
            }
            SkipReason::NameNotMapped => f.write_str("this board does not sync item names"),
            SkipReason::NoChange => {
                f.write_str("no change (same value as before, or crmsync's own write-back)")
            }
            SkipReason::AlreadyLinked { salesforce_id } => {
                write!(f, "the item is already linked to {salesforce_id}")
            }
            SkipReason::NotLinked => f.write_str("the item has no Salesforce record"),
            SkipReason::PolicyIgnore { event_type } => {
                write!(f, "the mapping says to ignore {event_type}")
            }
            SkipReason::NothingToWrite { column_id } => {
                write!(
                    f,
                    "column {column_id} was cleared but its field cannot be cleared"
                )
            }
            SkipReason::IdColumnCleared => {
                f.write_str("the Id column was cleared on Monday; the link is kept")
            }
            SkipReason::UnsupportedEvent { event_type } => {
                write!(f, "{event_type} events carry nothing to sync")
            }
        }
    }
}

/// A plan: operations to apply in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Operations.
    pub ops: Vec<Operation>,
    /// Columns left out of a create because their owner or linked record cannot be resolved yet
    /// (the record is created without them; the engine logs them and may re-plan the item later).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferredColumn>,
}

impl Plan {
    /// A plan of these operations, nothing deferred.
    pub fn new(ops: Vec<Operation>) -> Plan {
        Plan {
            ops,
            deferred: Vec::new(),
        }
    }

    fn skip(reason: SkipReason) -> PlanOutcome {
        PlanOutcome::Ready(Plan::new(vec![Operation::Skip { reason }]))
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlanOutcome {
    /// Operations to apply.
    Ready(Plan),
    /// The payload lacks what is needed: fetch the item and plan again with the snapshot.
    NeedsItem {
        /// Board.
        board_id: String,
        /// Item to fetch.
        item_id: String,
        /// What is missing.
        reason: String,
    },
}

/// Why planning failed (the event cannot be applied as it stands).
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanError {
    /// A value could not be transformed.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// The event lacks a field every event of its type has.
    #[error("malformed {event_type} event: {reason}")]
    InvalidEvent {
        /// Event type.
        event_type: String,
        /// What is missing.
        reason: String,
    },
    /// The Id column holds something that is not a Salesforce id.
    #[error(
        "column `{column}` of item {item_id} holds {value:?}, which is not a Salesforce record id"
    )]
    InvalidSalesforceId {
        /// Column.
        column: String,
        /// Item.
        item_id: String,
        /// What it holds.
        value: String,
    },
    /// The item name does not fit the name field.
    #[error("item name of {length} characters does not fit field `{field}` (length {max})")]
    NameTooLong {
        /// Field.
        field: String,
        /// Characters.
        length: usize,
        /// Field length.
        max: usize,
    },
}

impl PlanError {
    /// Whether planning again later can succeed (a linked record not synced yet).
    pub fn is_retryable(&self) -> bool {
        matches!(self, PlanError::Transform(t) if t.is_retryable())
    }
}

/// A column a plan leaves out because its linked record or user cannot be resolved yet: a create
/// made without it (real time), or a column the migration sets in its relations pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeferredColumn {
    /// Column id.
    pub column_id: String,
    /// Why.
    pub reason: String,
}
