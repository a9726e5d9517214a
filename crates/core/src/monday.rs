//! Input shapes from Monday.com, as the API and webhooks deliver them.
//!
//! These are deliberately small, tolerant subsets of the real JSON: every field the planner does not
//! need is ignored, ids arrive as numbers in webhooks and as strings in GraphQL and are both accepted,
//! and a column value's `value` may be a JSON-encoded string (GraphQL `column_values.value`) or a
//! JSON value (seed files, webhook payloads).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The body Monday POSTs for an event: `{"event": {...}}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WebhookDelivery {
    /// The event itself.
    pub event: WebhookEvent,
}

/// One webhook event (the inner `event` object of a delivery).
///
/// `type` is the payload type (`create_pulse`, `update_column_value`, `update_name`, `delete_pulse`,
/// `archive_pulse`, ...), not the subscription name. Create/update events carry `pulseId`; delete and
/// archive events carry `itemId`/`itemName`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// Payload type, e.g. `update_column_value` (unknown types kept raw).
    #[serde(rename = "type", default)]
    pub event_type: EventKind,
    /// Board the item lives on.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub board_id: Option<String>,
    /// Item id on create/update events.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub pulse_id: Option<String>,
    /// Item id on delete/archive/restore events.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub item_id: Option<String>,
    /// Item name on create/update events.
    #[serde(default)]
    pub pulse_name: Option<String>,
    /// Item name on delete/archive events.
    #[serde(default)]
    pub item_name: Option<String>,
    /// Column changed (`update_column_value`).
    #[serde(default)]
    pub column_id: Option<String>,
    /// Column type as webhooks name it (legacy names such as `color`, `multiple-person`).
    #[serde(default)]
    pub column_type: Option<String>,
    /// New value (column value object, or `{"name": ..}` for `update_name`); `None` when cleared.
    #[serde(default)]
    pub value: Option<Value>,
    /// Previous value, when Monday sends it.
    #[serde(default)]
    pub previous_value: Option<Value>,
    /// Column values on `create_pulse` (usually `{}`).
    #[serde(default)]
    pub column_values: Option<Value>,
    /// Set on subitem events.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub parent_item_id: Option<String>,
    /// Delivery id; the engine deduplicates on it.
    #[serde(default)]
    pub trigger_uuid: Option<String>,
    /// When Monday produced the event.
    #[serde(default)]
    pub trigger_time: Option<String>,
}

impl WebhookEvent {
    /// The item the event is about: `pulseId`, or `itemId` on delete/archive events.
    pub fn item(&self) -> Option<&str> {
        self.pulse_id.as_deref().or(self.item_id.as_deref())
    }
}

/// A webhook event's payload type (`type`). The one place that knows Monday's type names: the
/// planner and the engine match on this, never on strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// `create_pulse`: an item was created.
    CreatePulse,
    /// `update_column_value`: one column changed.
    UpdateColumnValue,
    /// `update_name`: the item was renamed.
    UpdateName,
    /// `delete_pulse`: the item was deleted.
    DeletePulse,
    /// `archive_pulse`: the item was archived.
    ArchivePulse,
    /// `restore_pulse`: an archived or deleted item was restored.
    RestorePulse,
    /// `move_pulse_into_group`: the item moved to another group.
    MovePulseIntoGroup,
    /// `create_update`: an update (comment) was posted on the item.
    CreateUpdate,
    /// Any other type, kept as Monday sent it (empty when the event has no `type`).
    Other(String),
}

impl EventKind {
    /// The kind of a payload type name.
    pub fn parse(name: &str) -> EventKind {
        match name {
            "create_pulse" => EventKind::CreatePulse,
            "update_column_value" => EventKind::UpdateColumnValue,
            "update_name" => EventKind::UpdateName,
            "delete_pulse" => EventKind::DeletePulse,
            "archive_pulse" => EventKind::ArchivePulse,
            "restore_pulse" => EventKind::RestorePulse,
            "move_pulse_into_group" => EventKind::MovePulseIntoGroup,
            "create_update" => EventKind::CreateUpdate,
            other => EventKind::Other(other.to_string()),
        }
    }

    /// The payload type name, as Monday sends it.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::CreatePulse => "create_pulse",
            EventKind::UpdateColumnValue => "update_column_value",
            EventKind::UpdateName => "update_name",
            EventKind::DeletePulse => "delete_pulse",
            EventKind::ArchivePulse => "archive_pulse",
            EventKind::RestorePulse => "restore_pulse",
            EventKind::MovePulseIntoGroup => "move_pulse_into_group",
            EventKind::CreateUpdate => "create_update",
            EventKind::Other(s) => s,
        }
    }

    /// Whether the event changes what an item holds (create, column change, rename): the engine
    /// reads the item's current values for these (fresh reads).
    pub fn changes_item(&self) -> bool {
        matches!(
            self,
            EventKind::CreatePulse | EventKind::UpdateColumnValue | EventKind::UpdateName
        )
    }

    /// Whether the event removes the item (delete or archive).
    pub fn removes_item(&self) -> bool {
        matches!(self, EventKind::DeletePulse | EventKind::ArchivePulse)
    }
}

impl Default for EventKind {
    fn default() -> Self {
        EventKind::Other(String::new())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for EventKind {
    fn from(s: &str) -> Self {
        EventKind::parse(s)
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(EventKind::parse(&String::deserialize(d)?))
    }
}

/// The Monday items that board_relation values in an event and/or an item snapshot point at: the
/// `linkedPulseIds: [{"linkedPulseId": N}]` of webhook values (also inside JSON-encoded strings,
/// as GraphQL returns `value`) and the `linked_item_ids` of snapshots. The engine looks up their
/// Salesforce records before planning.
pub fn related_item_ids(event: Option<&WebhookEvent>, item: Option<&Item>) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "linkedPulseId" {
                        match v {
                            Value::Number(n) => {
                                out.insert(n.to_string());
                            }
                            Value::String(s) => {
                                out.insert(s.clone());
                            }
                            _ => {}
                        }
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::String(s) if s.contains("linkedPulseId") => {
                if let Ok(inner) = serde_json::from_str::<Value>(s) {
                    walk(&inner, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let Some(event) = event {
        for v in [&event.value, &event.previous_value, &event.column_values]
            .into_iter()
            .flatten()
        {
            walk(v, &mut out);
        }
    }
    if let Some(item) = item {
        for cv in &item.column_values {
            if let Some(ids) = &cv.linked_item_ids {
                out.extend(ids.iter().cloned());
            }
            if let Some(v) = &cv.value {
                walk(v, &mut out);
            }
        }
    }
    out
}

/// An item snapshot as fetched from Monday (`items { id name column_values { id type text value } }`),
/// or as stored in `fixtures/seed/monday/items.json` (`column_values` as a map of id to value).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Item {
    /// Item id.
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// Board id, when known.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub board_id: Option<String>,
    /// Item name (the `name` column).
    #[serde(default)]
    pub name: String,
    /// Column values.
    #[serde(default, deserialize_with = "de_column_values")]
    pub column_values: Vec<ColumnValue>,
}

impl Item {
    /// The value of one column, if the snapshot has it.
    pub fn column(&self, id: &str) -> Option<&ColumnValue> {
        self.column_values.iter().find(|c| c.id == id)
    }
}

/// One `column_values` entry: `{id, type, text, value}`. `value` is what Monday stores (often a
/// JSON-encoded string); `linked_item_ids` is the `BoardRelationValue` fragment field that replaces
/// `value` for board_relation columns from API 2025-04 on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ColumnValue {
    /// Column id.
    pub id: String,
    /// Column type (API name), when requested.
    #[serde(rename = "type", default)]
    pub column_type: Option<String>,
    /// Display text.
    #[serde(default)]
    pub text: Option<String>,
    /// Stored value (JSON-encoded string or JSON value); `None`/`null` when empty.
    #[serde(default)]
    pub value: Option<Value>,
    /// Linked item ids of a board_relation column (`... on BoardRelationValue { linked_item_ids }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_item_ids: Option<Vec<String>>,
}

impl ColumnValue {
    /// `value` decoded: a string holding JSON is parsed; a string that is not JSON stays a string.
    pub fn decoded_value(&self) -> Option<Value> {
        match &self.value {
            None | Some(Value::Null) => None,
            // GraphQL returns JSON-encoded strings (`"\"abc\""`, `"{\"index\":1}"`); seed files
            // store plain strings (`"abc"`, `"95814"`), which are kept as they are.
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Null) => None,
                Ok(v @ (Value::String(_) | Value::Object(_) | Value::Array(_))) => Some(v),
                Ok(_) | Err(_) => Some(Value::String(s.clone())),
            },
            Some(v) => Some(v.clone()),
        }
    }
}

/// A board with its columns (`boards { id name columns { id title type settings_str } }`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Board {
    /// Board id.
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// Board name.
    #[serde(default)]
    pub name: String,
    /// Columns.
    #[serde(default)]
    pub columns: Vec<BoardColumn>,
}

impl Board {
    /// A column by id.
    pub fn column(&self, id: &str) -> Option<&BoardColumn> {
        self.columns.iter().find(|c| c.id == id)
    }
}

/// A board column.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BoardColumn {
    /// Column id.
    pub id: String,
    /// Column title.
    #[serde(default)]
    pub title: String,
    /// Column type (API name, e.g. `status`).
    #[serde(rename = "type")]
    pub column_type: String,
    /// Settings as Monday returns them: a JSON-encoded string.
    #[serde(default)]
    pub settings_str: Option<String>,
}

impl BoardColumn {
    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        ColumnKind::parse(&self.column_type)
    }

    /// Labels of a status column (`settings_str.labels`, an object keyed by sparse index) or a
    /// dropdown column (`settings_str.labels`, an array of `{id, name}`), keyed by index/id.
    pub fn labels(&self) -> BTreeMap<u64, String> {
        let mut out = BTreeMap::new();
        let Some(settings) = self
            .settings_str
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
        else {
            return out;
        };
        match settings.get("labels") {
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    if let (Ok(idx), Some(name)) = (k.parse::<u64>(), v.as_str()) {
                        out.insert(idx, name.to_string());
                    }
                }
            }
            Some(Value::Array(items)) => {
                for entry in items {
                    let id = entry.get("id").and_then(value_as_u64);
                    let name = entry.get("name").and_then(Value::as_str);
                    if let (Some(id), Some(name)) = (id, name) {
                        out.insert(id, name.to_string());
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Board ids a board_relation column connects to (`settings_str.boardIds`).
    pub fn related_board_ids(&self) -> Vec<String> {
        self.settings_str
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|v| v.get("boardIds").cloned())
            .and_then(|v| match v {
                Value::Array(a) => Some(a.iter().filter_map(id_to_string).collect()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// Monday column kinds the crate knows, with the API names and the legacy names webhooks still use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// `name` (the item name).
    Name,
    /// `text`.
    Text,
    /// `long_text` (`long-text` in webhooks).
    LongText,
    /// `numbers` (`numeric`).
    Numbers,
    /// `status` (`color`).
    Status,
    /// `dropdown`.
    Dropdown,
    /// `date`.
    Date,
    /// `email`.
    Email,
    /// `phone`.
    Phone,
    /// `link`.
    Link,
    /// `checkbox` (`boolean`).
    Checkbox,
    /// `country`.
    Country,
    /// `people` (`multiple-person`).
    People,
    /// `board_relation` (`board-relation`).
    BoardRelation,
    /// `timeline` (`timerange`).
    Timeline,
    /// `rating`.
    Rating,
    /// Anything else (formula, mirror, file, tags, ...), with its type name.
    Other(String),
}

impl ColumnKind {
    /// Parse an API type name or a legacy webhook type name.
    pub fn parse(name: &str) -> ColumnKind {
        match name {
            "name" => ColumnKind::Name,
            "text" => ColumnKind::Text,
            "long_text" | "long-text" => ColumnKind::LongText,
            "numbers" | "numeric" => ColumnKind::Numbers,
            "status" | "color" => ColumnKind::Status,
            "dropdown" => ColumnKind::Dropdown,
            "date" => ColumnKind::Date,
            "email" => ColumnKind::Email,
            "phone" => ColumnKind::Phone,
            "link" => ColumnKind::Link,
            "checkbox" | "boolean" => ColumnKind::Checkbox,
            "country" => ColumnKind::Country,
            "people" | "multiple-person" => ColumnKind::People,
            "board_relation" | "board-relation" => ColumnKind::BoardRelation,
            "timeline" | "timerange" => ColumnKind::Timeline,
            "rating" => ColumnKind::Rating,
            other => ColumnKind::Other(other.to_string()),
        }
    }

    /// The API type name.
    pub fn api_name(&self) -> &str {
        match self {
            ColumnKind::Name => "name",
            ColumnKind::Text => "text",
            ColumnKind::LongText => "long_text",
            ColumnKind::Numbers => "numbers",
            ColumnKind::Status => "status",
            ColumnKind::Dropdown => "dropdown",
            ColumnKind::Date => "date",
            ColumnKind::Email => "email",
            ColumnKind::Phone => "phone",
            ColumnKind::Link => "link",
            ColumnKind::Checkbox => "checkbox",
            ColumnKind::Country => "country",
            ColumnKind::People => "people",
            ColumnKind::BoardRelation => "board_relation",
            ColumnKind::Timeline => "timeline",
            ColumnKind::Rating => "rating",
            ColumnKind::Other(s) => s,
        }
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

pub(crate) fn value_as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn id_to_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(id_to_string))
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    id_to_string(&v).ok_or_else(|| serde::de::Error::custom(format!("expected an id, got {v}")))
}

fn de_column_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ColumnValue>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        List(Vec<ColumnValue>),
        Map(BTreeMap<String, Value>),
    }
    Ok(match Option::<Shape>::deserialize(d)? {
        None => Vec::new(),
        Some(Shape::List(list)) => list,
        Some(Shape::Map(map)) => map
            .into_iter()
            .map(|(id, value)| ColumnValue {
                id,
                value: Some(value),
                ..ColumnValue::default()
            })
            .collect(),
    })
}
