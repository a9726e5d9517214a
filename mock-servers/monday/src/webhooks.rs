//! Webhook subscriptions, payloads in the shapes Monday delivers, and the delivery log.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::columns::{self, Kind};
use crate::model::BoardDef;
use crate::state::{ts, Change, Event, WebhookRec};

/// Delivery state of one event to one subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Queued or being retried.
    Pending,
    /// Held by the `hold` fault until released.
    Held,
    /// Answered 200.
    Delivered,
    /// Never answered 200 within the retry schedule.
    Failed,
}

/// One HTTP attempt of a delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    /// When it was made.
    pub at: String,
    /// HTTP status answered (None: no answer).
    pub status: Option<u16>,
    /// Transport error, if any.
    pub error: Option<String>,
    /// Whether the body said `isRetry: true`.
    pub is_retry: bool,
}

/// One event delivered to one subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    /// Delivery id (log order).
    pub id: u64,
    /// Subscription id.
    pub webhook_id: u64,
    /// Subscribed event name (`create_item`, ...).
    pub subscription_event: String,
    /// Target URL.
    pub url: String,
    /// `event.type` as delivered (`create_pulse`, ...).
    pub event_type: String,
    /// `event.triggerUuid`.
    pub trigger_uuid: String,
    /// The POST body (`{"event": {...}}`) of the first attempt.
    pub body: Value,
    /// Whether attempts carry an app-webhook JWT.
    pub app_webhook: bool,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// Current state.
    pub state: DeliveryState,
}

/// Webhook delivery faults (set through `/__mock/faults`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookFaults {
    /// Deliver every event twice (same `triggerUuid`).
    pub duplicate: bool,
    /// Buffer the next N deliveries and send them in reverse order (then the fault clears).
    pub reverse_batch: usize,
    /// Delay each delivery by this many milliseconds (later events may overtake it).
    pub delay_ms: u64,
    /// Hold deliveries until `POST /__mock/webhooks/release`.
    pub hold: bool,
}

/// Whether subscription `w` receives event `ev`.
pub fn subscribed(w: &WebhookRec, ev: &Event, board: &BoardDef) -> bool {
    if w.board_id != ev.item.board_id {
        return false;
    }
    let cfg = |k: &str| w.config.as_ref().and_then(|c| c.get(k)).cloned();
    let cfg_str = |k: &str| {
        cfg(k).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
    };
    match (w.event.as_str(), &ev.change) {
        ("create_item", Change::Created { .. }) => true,
        ("change_column_value", Change::ColumnChanged { .. }) => true,
        ("change_specific_column_value", Change::ColumnChanged { column_id, .. }) => {
            cfg_str("columnId").is_some_and(|c| &c == column_id)
        }
        (
            "change_status_column_value",
            Change::ColumnChanged {
                column_id, value, ..
            },
        ) => {
            let is_status = board
                .column(column_id)
                .is_some_and(|c| Kind::of(&c.kind) == Kind::Status);
            let col_ok = cfg_str("columnId").is_none_or(|c| &c == column_id);
            let value_ok =
                match cfg("columnValue").and_then(|v| v.get("index").and_then(Value::as_i64)) {
                    Some(want) => {
                        value
                            .as_ref()
                            .and_then(|v| v.get("index"))
                            .and_then(Value::as_i64)
                            == Some(want)
                    }
                    None => true,
                };
            is_status && col_ok && value_ok
        }
        ("change_name", Change::Renamed { .. }) => true,
        ("item_deleted", Change::Deleted) => true,
        ("item_archived", Change::Archived) => true,
        ("item_restored", Change::Restored { .. }) => true,
        ("item_moved_to_any_group", Change::Moved { .. }) => true,
        ("item_moved_to_specific_group", Change::Moved { .. }) => {
            cfg_str("groupId").is_some_and(|g| g == ev.item.group_id)
        }
        _ => false,
    }
}

fn num_id(s: &str) -> Value {
    s.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(s.to_string()))
}

/// `event.type` for a change.
pub fn event_type(change: &Change) -> &'static str {
    match change {
        Change::Created { .. } => "create_pulse",
        Change::ColumnChanged { .. } => "update_column_value",
        Change::Renamed { .. } => "update_name",
        Change::Deleted => "delete_pulse",
        Change::Archived => "archive_pulse",
        Change::Restored { .. } => "restore_pulse",
        Change::Moved { .. } => "move_pulse_into_group",
    }
}

/// Builds the POST body `{"event": {...}}` Monday delivers for `ev` to subscription `w`.
pub fn payload(ev: &Event, w: &WebhookRec, board: &BoardDef, trigger_uuid: &str) -> Value {
    let item = &ev.item;
    let mut e = Map::new();
    e.insert("app".into(), json!("monday"));
    e.insert("type".into(), json!(event_type(&ev.change)));
    e.insert("triggerTime".into(), json!(ts(ev.at)));
    e.insert("subscriptionId".into(), json!(w.id));
    e.insert("isRetry".into(), json!(false));
    e.insert("userId".into(), num_id(&ev.user_id));
    let group = board.group(&item.group_id);
    let is_top = board.groups.first().is_some_and(|g| g.id == item.group_id);
    let changed_at = ev.at.timestamp() as f64 + f64::from(ev.at.timestamp_subsec_micros()) / 1e6;
    match &ev.change {
        Change::Created { column_values } => {
            e.insert("originalTriggerUuid".into(), Value::Null);
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("pulseId".into(), num_id(&item.id));
            e.insert("pulseName".into(), json!(item.name));
            e.insert("groupId".into(), json!(item.group_id));
            e.insert(
                "groupName".into(),
                json!(group.map(|g| g.title.clone()).unwrap_or_default()),
            );
            e.insert(
                "groupColor".into(),
                json!(group.map(|g| g.color.clone()).unwrap_or_default()),
            );
            e.insert("isTopGroup".into(), json!(is_top));
            let mut cvs = Map::new();
            for (col_id, stored) in column_values {
                if let Some(col) = board.column(col_id) {
                    cvs.insert(col_id.clone(), columns::webhook_value(col, Some(stored)));
                }
            }
            e.insert("columnValues".into(), Value::Object(cvs));
        }
        Change::ColumnChanged {
            column_id,
            previous,
            value,
        } => {
            let col = board.column(column_id);
            e.insert("originalTriggerUuid".into(), Value::Null);
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("groupId".into(), json!(item.group_id));
            e.insert("pulseId".into(), num_id(&item.id));
            e.insert("pulseName".into(), json!(item.name));
            e.insert("columnId".into(), json!(column_id));
            e.insert(
                "columnType".into(),
                json!(col
                    .map(|c| Kind::of(&c.kind).legacy_name(&c.kind))
                    .unwrap_or_default()),
            );
            e.insert(
                "columnTitle".into(),
                json!(col.map(|c| c.title.clone()).unwrap_or_default()),
            );
            e.insert(
                "value".into(),
                col.map(|c| columns::webhook_value(c, value.as_ref()))
                    .unwrap_or(Value::Null),
            );
            e.insert(
                "previousValue".into(),
                col.map(|c| columns::webhook_previous_value(c, previous.as_ref()))
                    .unwrap_or(Value::Null),
            );
            e.insert("changedAt".into(), json!(changed_at));
            e.insert("isTopGroup".into(), json!(is_top));
        }
        Change::Renamed { previous, name } => {
            e.insert("originalTriggerUuid".into(), Value::Null);
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("groupId".into(), json!(item.group_id));
            e.insert("pulseId".into(), num_id(&item.id));
            e.insert("value".into(), json!({ "name": name }));
            e.insert("previousValue".into(), json!({ "name": previous }));
        }
        Change::Deleted | Change::Archived => {
            e.insert("originalTriggerUuid".into(), Value::Null);
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("itemId".into(), num_id(&item.id));
            e.insert("itemName".into(), json!(item.name));
        }
        Change::Restored { previous_state } => {
            e.insert("value".into(), json!({ "state": 1, "is_undo": false }));
            e.insert(
                "previousValue".into(),
                json!({ "state": if previous_state == "deleted" { 3 } else { 2 } }),
            );
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("itemId".into(), num_id(&item.id));
            e.insert("itemName".into(), json!(item.name));
        }
        Change::Moved { from_group } => {
            e.insert("originalTriggerUuid".into(), Value::Null);
            e.insert("boardId".into(), num_id(&board.id));
            e.insert("pulseId".into(), num_id(&item.id));
            e.insert("sourceGroupId".into(), json!(from_group));
            e.insert("destGroupId".into(), json!(item.group_id));
            e.insert(
                "destGroup".into(),
                json!({
                    "id": item.group_id,
                    "title": group.map(|g| g.title.clone()).unwrap_or_default(),
                    "color": group.map(|g| g.color.clone()).unwrap_or_default(),
                    "is_top_group": is_top,
                }),
            );
        }
    }
    e.insert("triggerUuid".into(), json!(trigger_uuid));
    json!({ "event": Value::Object(e) })
}

/// Claims of the app-webhook JWT in `Authorization`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JwtClaims {
    /// Account id.
    pub account_id: u64,
    /// Acting user id.
    pub user_id: u64,
    /// The webhook URL.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
}

/// Signs the JWT for a delivery to `url`.
pub fn sign_jwt(
    secret: &str,
    account_id: u64,
    user_id: u64,
    url: &str,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = JwtClaims {
        account_id,
        user_id,
        aud: url.to_string(),
        exp: now + 300,
        iat: now,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}
