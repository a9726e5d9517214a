//! The board activity log (`boards { activity_logs(...) }`, type `ActivityLogType`), in the shapes
//! Monday returns: every change an [`Event`] describes becomes one entry, whoever made it (API
//! token or "act as a user"), whether or not a webhook was subscribed.
//!
//! Real entries: `id` a UUID, `event` the change (`create_pulse`, `update_column_value`,
//! `update_name`, `delete_pulse`, `archive_pulse`, `restore_pulse`, `move_pulse_into_group`),
//! `entity` `pulse`, `user_id` and `account_id` as strings, `created_at` a 17-digit string of
//! 100-nanosecond ticks since the Unix epoch, and `data` a JSON *string* whose keys are snake_case
//! (`board_id` and `pulse_id` as numbers, `value` / `previous_value` per column type,
//! `textual_value` / `previous_textual_value`). Results come newest first, paged by `limit`
//! (default 25) and `page` (from 1), filtered by `from` / `to` (ISO 8601, inclusive), `item_ids`,
//! `column_ids`, `group_ids` and `user_ids`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::columns::{self, Kind};
use crate::model::{BoardDef, UserRec};
use crate::state::{Change, Event};

/// One activity log entry.
#[derive(Clone, Debug, Serialize)]
pub struct ActivityRec {
    /// Entry id (a UUID).
    pub id: String,
    /// Board id.
    pub board_id: String,
    /// Item id.
    pub item_id: String,
    /// Group of the item after the change.
    pub group_id: String,
    /// Column id (column changes only).
    pub column_id: Option<String>,
    /// `event` (`create_pulse`, ...).
    pub event: String,
    /// Acting user id.
    pub user_id: String,
    /// Account id.
    pub account_id: String,
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The `data` JSON string.
    pub data: String,
}

impl ActivityRec {
    /// `created_at` as Monday renders it: 100-nanosecond ticks since the epoch, as a string.
    pub fn created_at(&self) -> String {
        let ticks = self.at.timestamp() as i128 * 10_000_000
            + i128::from(self.at.timestamp_subsec_nanos() / 100);
        ticks.to_string()
    }
}

fn num(s: &str) -> Value {
    s.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(s.to_string()))
}

/// The `event` name of a change in the activity log (the same names webhooks deliver as `type`).
pub fn event_name(change: &Change) -> &'static str {
    crate::webhooks::event_type(change)
}

/// Builds the entry for `ev` on `board`.
pub fn entry(ev: &Event, board: &BoardDef, users: &[UserRec], account_id: u64) -> ActivityRec {
    let item = &ev.item;
    let group = board.group(&item.group_id);
    let is_top = board.groups.first().is_some_and(|g| g.id == item.group_id);
    let mut d = Map::new();
    d.insert("board_id".into(), num(&board.id));
    let mut column_id = None;
    match &ev.change {
        Change::Created { .. } => {
            d.insert("group_id".into(), json!(item.group_id));
            d.insert(
                "group_name".into(),
                json!(group.map(|g| g.title.clone()).unwrap_or_default()),
            );
            d.insert(
                "group_color".into(),
                json!(group.map(|g| g.color.clone()).unwrap_or_default()),
            );
            d.insert("is_top_group".into(), json!(is_top));
            d.insert("pulse_id".into(), num(&item.id));
            d.insert("pulse_name".into(), json!(item.name));
        }
        Change::ColumnChanged {
            column_id: col_id,
            previous,
            value,
        } => {
            column_id = Some(col_id.clone());
            let col = board.column(col_id);
            d.insert("group_id".into(), json!(item.group_id));
            d.insert("is_top_group".into(), json!(is_top));
            d.insert("pulse_id".into(), num(&item.id));
            d.insert("pulse_name".into(), json!(item.name));
            d.insert("column_id".into(), json!(col_id));
            d.insert(
                "column_type".into(),
                json!(col
                    .map(|c| Kind::of(&c.kind).legacy_name(&c.kind))
                    .unwrap_or_default()),
            );
            d.insert(
                "column_title".into(),
                json!(col.map(|c| c.title.clone()).unwrap_or_default()),
            );
            d.insert(
                "value".into(),
                col.map(|c| columns::webhook_value(c, value.as_ref()))
                    .unwrap_or(Value::Null),
            );
            d.insert(
                "previous_value".into(),
                col.map(|c| columns::webhook_value(c, previous.as_ref()))
                    .unwrap_or(Value::Null),
            );
            d.insert("is_column_with_hide_permissions".into(), json!(false));
            if let Some(c) = col {
                if let Some(t) = columns::render_text(c, value.as_ref(), users) {
                    d.insert("textual_value".into(), json!(t));
                }
                if let Some(t) = columns::render_text(c, previous.as_ref(), users) {
                    d.insert("previous_textual_value".into(), json!(t));
                }
            }
        }
        Change::Renamed { previous, name } => {
            d.insert("group_id".into(), json!(item.group_id));
            d.insert("is_top_group".into(), json!(is_top));
            d.insert("pulse_id".into(), num(&item.id));
            d.insert("pulse_name".into(), json!(name));
            d.insert("value".into(), json!({ "name": name }));
            d.insert("previous_value".into(), json!({ "name": previous }));
        }
        Change::Deleted | Change::Archived | Change::Restored { .. } => {
            d.insert("group_id".into(), json!(item.group_id));
            d.insert("is_top_group".into(), json!(is_top));
            d.insert("pulse_id".into(), num(&item.id));
            d.insert("pulse_name".into(), json!(item.name));
        }
        Change::Moved { from_group } => {
            let source = board.group(from_group);
            let group_json = |g: Option<&crate::model::GroupDef>, id: &str| {
                json!({
                    "id": id,
                    "title": g.map(|g| g.title.clone()).unwrap_or_default(),
                    "color": g.map(|g| g.color.clone()).unwrap_or_default(),
                    "is_top_group": board.groups.first().is_some_and(|t| t.id == id),
                })
            };
            d.insert("group_id".into(), json!(item.group_id));
            d.insert(
                "source_board".into(),
                json!({ "id": num(&board.id), "name": board.name, "kind": board.board_kind }),
            );
            d.insert("source_group".into(), group_json(source, from_group));
            d.insert("dest_group".into(), group_json(group, &item.group_id));
            d.insert(
                "pulse".into(),
                json!({ "id": num(&item.id), "name": item.name }),
            );
            d.insert("is_undo_action".into(), json!(false));
            d.insert("is_batch_action".into(), json!(false));
        }
    }
    ActivityRec {
        id: uuid::Uuid::new_v4().to_string(),
        board_id: board.id.clone(),
        item_id: item.id.clone(),
        group_id: item.group_id.clone(),
        column_id,
        event: event_name(&ev.change).to_string(),
        user_id: ev.user_id.clone(),
        account_id: account_id.to_string(),
        at: ev.at,
        data: Value::Object(d).to_string(),
    }
}

/// Filters of `activity_logs`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// `from` (inclusive).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// `to` (inclusive).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// `item_ids`.
    pub item_ids: Option<Vec<String>>,
    /// `column_ids`.
    pub column_ids: Option<Vec<String>>,
    /// `group_ids`.
    pub group_ids: Option<Vec<String>>,
    /// `user_ids`.
    pub user_ids: Option<Vec<String>>,
    /// `limit` (default 25).
    pub limit: usize,
    /// `page` (from 1).
    pub page: usize,
}

/// The entries of `board_id` matching `f`, newest first, one page.
pub fn select(log: &[ActivityRec], board_id: &str, f: &Filter) -> Vec<ActivityRec> {
    let within = |ids: &Option<Vec<String>>, v: Option<&str>| {
        ids.as_ref()
            .is_none_or(|ids| v.is_some_and(|v| ids.iter().any(|i| i == v)))
    };
    let limit = f.limit.max(1);
    let skip = f.page.max(1).saturating_sub(1).saturating_mul(limit);
    log.iter()
        .rev()
        .filter(|e| e.board_id == board_id)
        .filter(|e| f.from.is_none_or(|t| e.at >= t))
        .filter(|e| f.to.is_none_or(|t| e.at <= t))
        .filter(|e| within(&f.item_ids, Some(&e.item_id)))
        .filter(|e| within(&f.column_ids, e.column_id.as_deref()))
        .filter(|e| within(&f.group_ids, Some(&e.group_id)))
        .filter(|e| within(&f.user_ids, Some(&e.user_id)))
        .skip(skip)
        .take(limit)
        .cloned()
        .collect()
}
