//! Follow-ups: a column a create had to leave out ([`DeferredColumn`]) is written later by a
//! follow-up event stored in the item's queue.
//!
//! Rules (see ARCHITECTURE.md, "Follow-ups"):
//! - a follow-up is keyed by its **root** event — the webhook event whose create deferred the
//!   column — and the column: `crmsync-deferred:<root event id>:<column>` ([`FollowUp::key`]), so
//!   storing it again (a retried or replayed root) stores nothing new;
//! - a follow-up never stores another follow-up: it is planned by [`follow_up_plan`], which only
//!   ever writes the one column to the linked record;
//! - on an item that has no Salesforce record (its create failed or has not run) it **waits**
//!   ([`FollowUpOutcome::WaitForRecord`]) and never creates the record itself.

use serde::Serialize;
use serde_json::{json, Value};

use super::realtime::snapshot_not_enough;
use super::{DeferredColumn, Operation, Plan, PlanError, SkipReason};
use crate::lookups::Lookups;
use crate::mapping::Mapping;
use crate::monday::{id_to_string, ColumnValue, Item};
use crate::transform::{to_salesforce, Converted, MondayInput};

/// Payload key of a stored follow-up.
pub const FOLLOW_UP_KEY: &str = "crmsyncFollowUp";
/// Key (`triggerUuid`) prefix of follow-up events.
pub const FOLLOW_UP_PREFIX: &str = "crmsync-deferred:";
/// Event type stored with a follow-up in the event log. (Follow-ups stored before this type
/// existed were stored as `update_column_value`; they are recognised by their payload.)
pub const FOLLOW_UP_EVENT_TYPE: &str = "crmsync_follow_up";

/// A deferred column to write once the item's record exists and the column's value resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// The event-log id of the root event (the webhook event whose create deferred the column).
    pub root_event: i64,
    /// Board.
    pub board_id: String,
    /// Item.
    pub item_id: String,
    /// The deferred column.
    pub column_id: String,
    /// Why it was deferred.
    pub reason: String,
}

impl FollowUp {
    /// The follow-ups of the columns a root event's plan deferred.
    pub fn for_deferred(
        root_event: i64,
        board_id: &str,
        item_id: &str,
        deferred: &[DeferredColumn],
    ) -> Vec<FollowUp> {
        deferred
            .iter()
            .map(|d| FollowUp {
                root_event,
                board_id: board_id.to_string(),
                item_id: item_id.to_string(),
                column_id: d.column_id.clone(),
                reason: d.reason.clone(),
            })
            .collect()
    }

    /// Whether planning it needs the user directories (the deferred column is a people column).
    pub fn needs_user_directory(&self, mapping: &Mapping) -> bool {
        mapping
            .board(&self.board_id)
            .and_then(|bm| bm.column(&self.column_id))
            .is_some_and(|c| c.transform == crate::transform::Transform::People)
    }

    /// The idempotency key: `crmsync-deferred:<root event>:<column>`.
    pub fn key(&self) -> String {
        format!("{FOLLOW_UP_PREFIX}{}:{}", self.root_event, self.column_id)
    }

    /// Whether an event-log key is a follow-up's.
    pub fn is_follow_up_key(key: &str) -> bool {
        key.starts_with(FOLLOW_UP_PREFIX)
    }

    /// The key prefix of every follow-up of one root event.
    pub fn key_prefix_of_root(root_event: i64) -> String {
        format!("{FOLLOW_UP_PREFIX}{root_event}:")
    }

    /// The payload to store: `{"crmsyncFollowUp": {"rootEvent", "boardId", "itemId", "column",
    /// "reason"}}` (no webhook event in it).
    pub fn to_payload(&self) -> String {
        json!({
            FOLLOW_UP_KEY: {
                "rootEvent": self.root_event,
                "boardId": self.board_id,
                "itemId": self.item_id,
                "column": self.column_id,
                "reason": self.reason,
            }
        })
        .to_string()
    }

    /// Reads a stored follow-up; `None` when the payload is not one. Also reads the earlier format,
    /// a forged `update_column_value` webhook body with `crmsyncFollowUp: {ofEvent, column,
    /// reason}` next to its `event` (board and item taken from `event.boardId` / `pulseId`).
    pub fn from_payload(payload: &str) -> Option<FollowUp> {
        let v: Value = serde_json::from_str(payload).ok()?;
        let fu = v.get(FOLLOW_UP_KEY)?;
        let event = v.get("event");
        let field = |name: &str, legacy: &str| {
            fu.get(name)
                .and_then(id_to_string)
                .or_else(|| event.and_then(|e| e.get(legacy)).and_then(id_to_string))
        };
        let root_event = fu
            .get("rootEvent")
            .or_else(|| fu.get("ofEvent"))
            .and_then(|r| r.as_i64().or_else(|| r.as_str()?.parse().ok()))?;
        Some(FollowUp {
            root_event,
            board_id: field("boardId", "boardId")?,
            item_id: field("itemId", "pulseId")?,
            column_id: fu.get("column")?.as_str()?.to_string(),
            reason: fu
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// What a follow-up does now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FollowUpOutcome {
    /// Operations to apply (one update of the column's fields, or a skip).
    Ready(Plan),
    /// The item has no Salesforce record yet (the create it follows failed, or has not been
    /// applied): wait and plan again later. A follow-up never creates the record.
    WaitForRecord {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// The deferred column.
        column_id: String,
    },
}

/// Plans a follow-up against the item as Monday holds it now (`fresh`): the deferred column's
/// *current* value, written to the item's linked record. An unresolved related record or user is
/// an error ([`PlanError::is_retryable`] for a related record): the caller retries it later.
pub fn follow_up_plan(
    fu: &FollowUp,
    mapping: &Mapping,
    fresh: &Item,
    lookups: &dyn Lookups,
) -> Result<FollowUpOutcome, PlanError> {
    let skip = |reason| {
        Ok(FollowUpOutcome::Ready(Plan::new(vec![Operation::Skip {
            reason,
        }])))
    };
    let Some(bm) = mapping.board(&fu.board_id) else {
        return skip(SkipReason::UnknownBoard {
            board_id: fu.board_id.clone(),
        });
    };
    let Some(cm) = bm.column(&fu.column_id) else {
        return skip(SkipReason::UnmappedColumn {
            column_id: fu.column_id.clone(),
        });
    };
    if !cm.direction.to_salesforce() {
        return skip(SkipReason::ToMondayOnly {
            column_id: fu.column_id.clone(),
        });
    }
    let Some(id) = lookups.salesforce_id_for_item(&fu.item_id) else {
        return Ok(FollowUpOutcome::WaitForRecord {
            board_id: fu.board_id.clone(),
            item_id: fu.item_id.clone(),
            column_id: fu.column_id.clone(),
        });
    };
    let empty = ColumnValue {
        id: cm.column.clone(),
        ..ColumnValue::default()
    };
    let cv = fresh.column(&cm.column).unwrap_or(&empty);
    let fields: super::Fields = match to_salesforce(cm, MondayInput::Column(cv), lookups)? {
        Converted::Fields(fs) => fs.into_iter().collect(),
        Converted::NeedsItem(reason) => return Err(snapshot_not_enough(cm, &reason)),
    };
    if fields.is_empty() {
        return skip(SkipReason::NothingToWrite {
            column_id: fu.column_id.clone(),
        });
    }
    Ok(FollowUpOutcome::Ready(Plan::new(vec![Operation::Update {
        object: bm.object.clone(),
        id,
        fields,
    }])))
}
