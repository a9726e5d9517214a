//! Monday webhook deliveries: the challenge handshake, typed event payloads and authentication.
//!
//! A delivery is a POST whose JSON body is either `{"challenge": "…"}` (sent once when the
//! webhook is created; answer with the same JSON) or `{"event": {…}}`. The event's `type`
//! differs from the subscribed event name: `create_item` → `create_pulse`,
//! `change_column_value` → `update_column_value`, `change_name` → `update_name`,
//! `item_deleted` → `delete_pulse`, `item_archived` → `archive_pulse`, `item_restored` →
//! `restore_pulse`, `item_moved_to_any_group` → `move_pulse_into_group`. Delete, archive and
//! restore events carry `itemId`/`itemName` instead of `pulseId`/`pulseName`.
//!
//! [`parse_body`] never panics. Unknown `type`s (or events without a `type`) are kept as raw JSON
//! in [`EventPayload::Unknown`]; only a known type missing the fields that identify what changed
//! (board and item id, column id for column changes) is a [`WebhookParseError`].

use serde_json::{Map, Value};

mod auth;

pub use auth::{verify_shared_token, AuthError, JwtClaims, WebhookVerifier};

/// A parsed webhook request body.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookBody {
    /// The handshake: answer 200 with [`challenge_response`] of this string.
    Challenge(String),
    /// An event delivery.
    Event(Box<WebhookEvent>),
}

/// The JSON to answer a challenge with: `{"challenge": "<same string>"}`.
pub fn challenge_response(challenge: &str) -> Value {
    let mut m = Map::new();
    m.insert("challenge".into(), Value::String(challenge.to_owned()));
    Value::Object(m)
}

/// One event delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Fields every event type carries (all optional: never trusted to be present).
    pub meta: EventMeta,
    /// The typed payload.
    pub payload: EventPayload,
    /// The inner `event` object exactly as received.
    pub raw: Value,
}

impl WebhookEvent {
    /// `triggerUuid`: the idempotency key of a delivery (redeliveries repeat it).
    pub fn trigger_uuid(&self) -> Option<&str> {
        self.meta.trigger_uuid.as_deref()
    }

    /// The board id (from `boardId`).
    pub fn board_id(&self) -> Option<&str> {
        self.meta.board_id.as_deref()
    }

    /// The item the event is about, for item events.
    pub fn item_id(&self) -> Option<&str> {
        match &self.payload {
            EventPayload::CreatePulse(p) => Some(&p.item_id),
            EventPayload::UpdateColumnValue(p) => Some(&p.item_id),
            EventPayload::UpdateName(p) => Some(&p.item_id),
            EventPayload::DeletePulse(p) | EventPayload::ArchivePulse(p) => Some(&p.item_id),
            EventPayload::RestorePulse(p) => Some(&p.item_id),
            EventPayload::MovePulseIntoGroup(p) => Some(&p.item_id),
            EventPayload::CreateUpdate(p) => Some(&p.item_id),
            EventPayload::Unknown => None,
        }
    }
}

/// Fields common to all events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventMeta {
    /// `type` as delivered (e.g. `create_pulse`); empty when absent.
    pub event_type: String,
    /// `triggerUuid`.
    pub trigger_uuid: Option<String>,
    /// `originalTriggerUuid` (set when an automation triggered this change).
    pub original_trigger_uuid: Option<String>,
    /// `subscriptionId` (the webhook id).
    pub subscription_id: Option<String>,
    /// `triggerTime` (ISO 8601).
    pub trigger_time: Option<String>,
    /// `userId` of the user who made the change.
    pub user_id: Option<String>,
    /// `app` (normally `monday`).
    pub app: Option<String>,
    /// `isRetry`.
    pub is_retry: Option<bool>,
    /// `boardId`.
    pub board_id: Option<String>,
}

/// Typed payloads by delivered `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    /// `create_pulse`.
    CreatePulse(CreatePulse),
    /// `update_column_value`.
    UpdateColumnValue(UpdateColumnValue),
    /// `update_name`.
    UpdateName(UpdateName),
    /// `delete_pulse`.
    DeletePulse(ItemRemoved),
    /// `archive_pulse`.
    ArchivePulse(ItemRemoved),
    /// `restore_pulse`.
    RestorePulse(RestorePulse),
    /// `move_pulse_into_group`.
    MovePulseIntoGroup(MovePulseIntoGroup),
    /// `create_update`.
    CreateUpdate(CreateUpdate),
    /// Any other type; see [`WebhookEvent::raw`].
    Unknown,
}

/// `create_pulse`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePulse {
    /// `boardId`.
    pub board_id: String,
    /// `pulseId` (or `itemId`).
    pub item_id: String,
    /// `pulseName`.
    pub item_name: Option<String>,
    /// `groupId`.
    pub group_id: Option<String>,
    /// `groupName`.
    pub group_name: Option<String>,
    /// `columnValues` (raw).
    pub column_values: Option<Value>,
    /// `parentItemId` (subitems).
    pub parent_item_id: Option<String>,
    /// `parentItemBoardId` (subitems).
    pub parent_item_board_id: Option<String>,
}

/// `update_column_value`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateColumnValue {
    /// `boardId`.
    pub board_id: String,
    /// `pulseId` (or `itemId`).
    pub item_id: String,
    /// `pulseName`.
    pub item_name: Option<String>,
    /// `groupId`.
    pub group_id: Option<String>,
    /// `columnId`.
    pub column_id: String,
    /// `columnType` (webhooks use old names: `color` for status, `multiple-person` for people).
    pub column_type: Option<String>,
    /// `columnTitle`.
    pub column_title: Option<String>,
    /// `value` (raw JSON; `None` when null or absent).
    pub value: Option<Value>,
    /// `previousValue` (raw JSON).
    pub previous_value: Option<Value>,
    /// `changedAt` (Unix seconds with fraction).
    pub changed_at: Option<f64>,
    /// `parentItemId` (subitems).
    pub parent_item_id: Option<String>,
    /// `parentItemBoardId` (subitems).
    pub parent_item_board_id: Option<String>,
}

/// `update_name`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateName {
    /// `boardId`.
    pub board_id: String,
    /// `pulseId` (or `itemId`).
    pub item_id: String,
    /// `groupId`.
    pub group_id: Option<String>,
    /// `value` (raw, `{"name": …}`).
    pub value: Option<Value>,
    /// `previousValue` (raw).
    pub previous_value: Option<Value>,
}

impl UpdateName {
    /// The new name (`value.name`).
    pub fn new_name(&self) -> Option<&str> {
        self.value.as_ref()?.get("name")?.as_str()
    }

    /// The previous name (`previousValue.name`).
    pub fn previous_name(&self) -> Option<&str> {
        self.previous_value.as_ref()?.get("name")?.as_str()
    }
}

/// `delete_pulse` / `archive_pulse`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRemoved {
    /// `boardId`.
    pub board_id: String,
    /// `itemId` (or `pulseId`).
    pub item_id: String,
    /// `itemName` (or `pulseName`).
    pub item_name: Option<String>,
    /// `parentItemId` (subitems).
    pub parent_item_id: Option<String>,
    /// `parentBoardId` / `parentItemBoardId` (subitems).
    pub parent_board_id: Option<String>,
}

/// `restore_pulse`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestorePulse {
    /// `boardId`.
    pub board_id: String,
    /// `itemId` (or `pulseId`).
    pub item_id: String,
    /// `itemName`.
    pub item_name: Option<String>,
    /// `value` (raw, e.g. `{"state":1,"is_undo":true}`).
    pub value: Option<Value>,
    /// `previousValue` (raw).
    pub previous_value: Option<Value>,
}

/// `move_pulse_into_group`.
#[derive(Debug, Clone, PartialEq)]
pub struct MovePulseIntoGroup {
    /// `boardId`.
    pub board_id: String,
    /// `pulseId` (or `itemId`).
    pub item_id: String,
    /// `sourceGroupId`.
    pub source_group_id: Option<String>,
    /// `destGroupId`.
    pub dest_group_id: Option<String>,
    /// `destGroup` (raw: id, title, color, is_top_group).
    pub dest_group: Option<Value>,
}

/// `create_update` (a comment posted on an item).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateUpdate {
    /// `boardId`.
    pub board_id: String,
    /// `pulseId` (or `itemId`).
    pub item_id: String,
    /// `updateId`.
    pub update_id: Option<String>,
    /// `body` (HTML).
    pub body: Option<String>,
    /// `textBody`.
    pub text_body: Option<String>,
    /// `replyId`.
    pub reply_id: Option<String>,
}

/// Why a webhook body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookParseError {
    /// The body is not JSON.
    #[error("webhook body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON but neither a challenge nor an event.
    #[error("webhook body has neither `challenge` nor `event`")]
    NotAWebhook,
    /// A known event type lacks a field that identifies what changed.
    #[error("`{event_type}` event is missing `{field}`")]
    MissingField {
        /// Delivered type.
        event_type: String,
        /// Missing field (or alternatives, e.g. `pulseId|itemId`).
        field: String,
    },
}

/// Parses a webhook request body (bytes as received).
pub fn parse_body(body: &[u8]) -> Result<WebhookBody, WebhookParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookParseError::NotJson(e.to_string()))?;
    parse_value(&value)
}

/// Parses an already-decoded webhook body. Accepts `{"event": {…}}` and, for robustness, a bare
/// event object (as shown in Monday's documentation samples).
pub fn parse_value(body: &Value) -> Result<WebhookBody, WebhookParseError> {
    let Some(obj) = body.as_object() else {
        return Err(WebhookParseError::NotAWebhook);
    };
    if let Some(Value::String(ch)) = obj.get("challenge") {
        if !obj.contains_key("event") {
            return Ok(WebhookBody::Challenge(ch.clone()));
        }
    }
    let event = match obj.get("event") {
        Some(Value::Object(e)) => e,
        Some(_) => return Err(WebhookParseError::NotAWebhook),
        None if obj.contains_key("type") => obj,
        None => return Err(WebhookParseError::NotAWebhook),
    };
    parse_event(event).map(|e| WebhookBody::Event(Box::new(e)))
}

fn parse_event(e: &Map<String, Value>) -> Result<WebhookEvent, WebhookParseError> {
    let event_type = str_field(e, "type").unwrap_or_default();
    let meta = EventMeta {
        event_type: event_type.clone(),
        trigger_uuid: id_field(e, "triggerUuid"),
        original_trigger_uuid: id_field(e, "originalTriggerUuid"),
        subscription_id: id_field(e, "subscriptionId"),
        trigger_time: str_field(e, "triggerTime"),
        user_id: id_field(e, "userId"),
        app: str_field(e, "app"),
        is_retry: e.get("isRetry").and_then(Value::as_bool),
        board_id: id_field(e, "boardId"),
    };
    let ctx = Ctx {
        e,
        event_type: &event_type,
    };
    let payload = match event_type.as_str() {
        "create_pulse" => EventPayload::CreatePulse(CreatePulse {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["pulseId", "itemId"])?,
            item_name: str_field(e, "pulseName").or_else(|| str_field(e, "itemName")),
            group_id: str_field(e, "groupId"),
            group_name: str_field(e, "groupName"),
            column_values: value_field(e, "columnValues"),
            parent_item_id: id_field(e, "parentItemId"),
            parent_item_board_id: id_field(e, "parentItemBoardId"),
        }),
        "update_column_value" => EventPayload::UpdateColumnValue(UpdateColumnValue {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["pulseId", "itemId"])?,
            item_name: str_field(e, "pulseName").or_else(|| str_field(e, "itemName")),
            group_id: str_field(e, "groupId"),
            column_id: ctx.required("columnId")?,
            column_type: str_field(e, "columnType"),
            column_title: str_field(e, "columnTitle"),
            value: value_field(e, "value"),
            previous_value: value_field(e, "previousValue"),
            changed_at: e.get("changedAt").and_then(number_f64),
            parent_item_id: id_field(e, "parentItemId"),
            parent_item_board_id: id_field(e, "parentItemBoardId"),
        }),
        "update_name" => EventPayload::UpdateName(UpdateName {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["pulseId", "itemId"])?,
            group_id: str_field(e, "groupId"),
            value: value_field(e, "value"),
            previous_value: value_field(e, "previousValue"),
        }),
        "delete_pulse" | "archive_pulse" => {
            let removed = ItemRemoved {
                board_id: ctx.required("boardId")?,
                item_id: ctx.item_id(&["itemId", "pulseId"])?,
                item_name: str_field(e, "itemName").or_else(|| str_field(e, "pulseName")),
                parent_item_id: id_field(e, "parentItemId"),
                parent_board_id: id_field(e, "parentBoardId")
                    .or_else(|| id_field(e, "parentItemBoardId")),
            };
            if event_type == "delete_pulse" {
                EventPayload::DeletePulse(removed)
            } else {
                EventPayload::ArchivePulse(removed)
            }
        }
        "restore_pulse" => EventPayload::RestorePulse(RestorePulse {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["itemId", "pulseId"])?,
            item_name: str_field(e, "itemName").or_else(|| str_field(e, "pulseName")),
            value: value_field(e, "value"),
            previous_value: value_field(e, "previousValue"),
        }),
        "move_pulse_into_group" => EventPayload::MovePulseIntoGroup(MovePulseIntoGroup {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["pulseId", "itemId"])?,
            source_group_id: str_field(e, "sourceGroupId"),
            dest_group_id: str_field(e, "destGroupId"),
            dest_group: value_field(e, "destGroup"),
        }),
        "create_update" => EventPayload::CreateUpdate(CreateUpdate {
            board_id: ctx.required("boardId")?,
            item_id: ctx.item_id(&["pulseId", "itemId"])?,
            update_id: id_field(e, "updateId"),
            body: str_field(e, "body"),
            text_body: str_field(e, "textBody"),
            reply_id: id_field(e, "replyId"),
        }),
        _ => EventPayload::Unknown,
    };
    Ok(WebhookEvent {
        meta,
        payload,
        raw: Value::Object(e.clone()),
    })
}

struct Ctx<'a> {
    e: &'a Map<String, Value>,
    event_type: &'a str,
}

impl Ctx<'_> {
    fn required(&self, key: &str) -> Result<String, WebhookParseError> {
        id_field(self.e, key).ok_or_else(|| WebhookParseError::MissingField {
            event_type: self.event_type.to_owned(),
            field: key.to_owned(),
        })
    }

    fn item_id(&self, keys: &[&str]) -> Result<String, WebhookParseError> {
        keys.iter()
            .find_map(|k| id_field(self.e, k))
            .ok_or_else(|| WebhookParseError::MissingField {
                event_type: self.event_type.to_owned(),
                field: keys.join("|"),
            })
    }
}

/// A string, or a number rendered as a string (ids arrive as numbers or strings).
fn id_field(e: &Map<String, Value>, key: &str) -> Option<String> {
    match e.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_field(e: &Map<String, Value>, key: &str) -> Option<String> {
    match e.get(key)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn value_field(e: &Map<String, Value>, key: &str) -> Option<Value> {
    match e.get(key)? {
        Value::Null => None,
        v => Some(v.clone()),
    }
}

fn number_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn challenge_is_recognised_and_echoed() {
        let body = br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
        let WebhookBody::Challenge(c) = parse_body(body).expect("challenge") else {
            panic!("not a challenge")
        };
        assert_eq!(
            challenge_response(&c),
            json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
        );
    }

    #[test]
    fn unknown_type_is_kept_raw() {
        let body = json!({"event": {"type": "something_new", "boardId": 1, "x": [1, 2]}});
        let WebhookBody::Event(ev) = parse_value(&body).expect("event") else {
            panic!("not an event")
        };
        assert_eq!(ev.payload, EventPayload::Unknown);
        assert_eq!(ev.raw["x"], json!([1, 2]));
        assert_eq!(ev.board_id(), Some("1"));
    }

    #[test]
    fn known_type_without_item_id_is_an_error() {
        let body = json!({"event": {"type": "create_pulse", "boardId": 1}});
        assert_eq!(
            parse_value(&body),
            Err(WebhookParseError::MissingField {
                event_type: "create_pulse".into(),
                field: "pulseId|itemId".into()
            })
        );
    }

    #[test]
    fn not_json_and_not_webhook() {
        assert!(matches!(
            parse_body(b"{nope"),
            Err(WebhookParseError::NotJson(_))
        ));
        assert_eq!(parse_body(b"[1,2]"), Err(WebhookParseError::NotAWebhook));
    }
}
