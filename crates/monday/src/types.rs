//! Typed data returned by, and sent to, the Monday GraphQL API.
//!
//! Identifiers are kept as strings (GraphQL `ID`), whatever their JSON form: Monday returns them
//! as strings from GraphQL and as numbers in webhooks.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A board with its columns and groups.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Board {
    /// Board id.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Board name.
    pub name: String,
    /// Columns in board order.
    #[serde(default)]
    pub columns: Vec<Column>,
    /// Groups in board order.
    #[serde(default)]
    pub groups: Vec<Group>,
}

impl Board {
    /// The column with this id.
    pub fn column(&self, id: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }
}

/// A board group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Group {
    /// Group id (e.g. `topics`).
    pub id: String,
    /// Group title.
    #[serde(default)]
    pub title: String,
}

/// A column definition (`id title type settings_str`).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column id (e.g. `status`, `dropdown_mkmyr6sf`).
    pub id: String,
    /// Column title.
    pub title: String,
    /// Column type as Monday names it (`status`, `dropdown`, `board_relation`, `text`, …).
    pub column_type: String,
    /// The raw `settings_str`.
    pub settings_str: String,
    /// `settings_str`, parsed.
    pub settings: ColumnSettings,
}

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            id: String,
            #[serde(default)]
            title: String,
            #[serde(rename = "type", default)]
            column_type: String,
            #[serde(default)]
            settings_str: Option<String>,
        }
        let raw = Raw::deserialize(d)?;
        let settings_str = raw.settings_str.unwrap_or_else(|| "{}".to_owned());
        let settings = ColumnSettings::parse(&raw.column_type, &settings_str);
        Ok(Column {
            id: raw.id,
            title: raw.title,
            column_type: raw.column_type,
            settings_str,
            settings,
        })
    }
}

impl Column {
    /// Status labels, for a status column with parseable settings.
    pub fn status_labels(&self) -> Option<&[StatusLabel]> {
        match &self.settings {
            ColumnSettings::Status { labels } => Some(labels),
            _ => None,
        }
    }

    /// Dropdown labels, for a dropdown column with parseable settings.
    pub fn dropdown_labels(&self) -> Option<&[DropdownLabel]> {
        match &self.settings {
            ColumnSettings::Dropdown { labels } => Some(labels),
            _ => None,
        }
    }
}

/// Parsed `settings_str`.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnSettings {
    /// Status column: labels keyed by (sparse) index, in display order when
    /// `labels_positions_v2` is present, otherwise by index.
    Status {
        /// The labels.
        labels: Vec<StatusLabel>,
    },
    /// Dropdown column: labels with ids.
    Dropdown {
        /// The labels (deactivated ones included, flagged).
        labels: Vec<DropdownLabel>,
    },
    /// Any other column type: the parsed JSON object.
    Other(Value),
    /// `settings_str` was not valid JSON, or a status/dropdown `labels` had an unknown shape.
    /// The raw string stays in [`Column::settings_str`].
    Invalid {
        /// Why parsing failed.
        reason: String,
    },
}

/// One status label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusLabel {
    /// The label index (`value.index` of an item), e.g. 0, 1, 2, 105.
    pub index: u32,
    /// Label text.
    pub label: String,
    /// Display position (`labels_positions_v2`), when known.
    pub position: Option<i64>,
    /// Colour hex (`labels_colors[index].color`), when known.
    pub color: Option<String>,
}

/// One dropdown label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropdownLabel {
    /// Label id (`value.ids` of an item).
    pub id: u32,
    /// Label text.
    pub name: String,
    /// Whether the label is in `deactivated_labels`.
    pub deactivated: bool,
}

impl ColumnSettings {
    /// Parses a `settings_str` for a column of `column_type`. Never fails: problems become
    /// [`ColumnSettings::Invalid`].
    pub fn parse(column_type: &str, settings_str: &str) -> ColumnSettings {
        let value: Value = match serde_json::from_str(settings_str) {
            Ok(v) => v,
            Err(e) => {
                return ColumnSettings::Invalid {
                    reason: format!("settings_str is not JSON: {e}"),
                }
            }
        };
        match column_type {
            "status" | "color" => match parse_status_labels(&value) {
                Ok(labels) => ColumnSettings::Status { labels },
                Err(reason) => ColumnSettings::Invalid { reason },
            },
            "dropdown" => match parse_dropdown_labels(&value) {
                Ok(labels) => ColumnSettings::Dropdown { labels },
                Err(reason) => ColumnSettings::Invalid { reason },
            },
            _ => ColumnSettings::Other(value),
        }
    }
}

fn parse_index(key: &str) -> Result<u32, String> {
    key.trim()
        .parse::<u32>()
        .map_err(|_| format!("status label key {key:?} is not an index"))
}

fn parse_status_labels(settings: &Value) -> Result<Vec<StatusLabel>, String> {
    let mut labels: Vec<StatusLabel> = Vec::new();
    match settings.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let index = parse_index(k)?;
                let label = match v {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("label")
                        .or_else(|| o.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                labels.push(StatusLabel {
                    index,
                    label,
                    position: None,
                    color: None,
                });
            }
        }
        // Tolerated alternative: [{"index"|"id": n, "label"|"name": "..."}].
        Some(Value::Array(items)) => {
            for item in items {
                let index = item
                    .get("index")
                    .or_else(|| item.get("id"))
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("status label {item} has no index"))?;
                let label = item
                    .get("label")
                    .or_else(|| item.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                labels.push(StatusLabel {
                    index,
                    label,
                    position: None,
                    color: None,
                });
            }
        }
        Some(other) => return Err(format!("status labels have an unknown shape: {other}")),
    }
    let positions = settings
        .get("labels_positions_v2")
        .and_then(Value::as_object);
    let colors = settings.get("labels_colors").and_then(Value::as_object);
    for l in labels.iter_mut() {
        let key = l.index.to_string();
        l.position = positions.and_then(|p| p.get(&key)).and_then(Value::as_i64);
        l.color = colors
            .and_then(|c| c.get(&key))
            .and_then(|c| c.get("color"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    labels.sort_by_key(|l| (l.position.unwrap_or(i64::MAX), l.index));
    Ok(labels)
}

fn parse_dropdown_labels(settings: &Value) -> Result<Vec<DropdownLabel>, String> {
    let deactivated: Vec<u64> = settings
        .get("deactivated_labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64().or_else(|| v.get("id").and_then(Value::as_u64)))
                .collect()
        })
        .unwrap_or_default();
    let mut labels = Vec::new();
    match settings.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let id = item
                    .get("id")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("dropdown label {item} has no numeric id"))?;
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                labels.push(DropdownLabel {
                    id,
                    name,
                    deactivated: deactivated.contains(&u64::from(id)),
                });
            }
        }
        // Tolerated alternative: {"1": "a", "2": "b"}.
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let id = k
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("dropdown label key {k:?} is not an id"))?;
                labels.push(DropdownLabel {
                    id,
                    name: v.as_str().unwrap_or_default().to_owned(),
                    deactivated: deactivated.contains(&u64::from(id)),
                });
            }
            labels.sort_by_key(|l| l.id);
        }
        Some(other) => return Err(format!("dropdown labels have an unknown shape: {other}")),
    }
    Ok(labels)
}

/// A reference to a group, as returned on items.
pub type GroupRef = Group;

/// An item with its column values.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Item {
    /// Item id.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Item name.
    pub name: String,
    /// The item's group, when selected.
    #[serde(default)]
    pub group: Option<GroupRef>,
    /// The item's board, when selected.
    #[serde(default)]
    pub board: Option<BoardRef>,
    /// Column values, in column order.
    #[serde(default)]
    pub column_values: Vec<ColumnValue>,
}

impl Item {
    /// The value of column `id`.
    pub fn column_value(&self, id: &str) -> Option<&ColumnValue> {
        self.column_values.iter().find(|c| c.id == id)
    }
}

/// A reference to a board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BoardRef {
    /// Board id.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
}

/// One column value of an item (`id type text value`, plus `linked_item_ids` for
/// board_relation columns, whose `value`/`text` are always null from API 2025-04).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ColumnValue {
    /// Column id.
    pub id: String,
    /// Column type.
    #[serde(rename = "type", default)]
    pub column_type: String,
    /// Display text, null when empty.
    #[serde(default)]
    pub text: Option<String>,
    /// The raw `value` JSON string (e.g. `"{\"index\":1}"`, `"\"10\""`), null when empty.
    #[serde(default)]
    pub value: Option<String>,
    /// Linked item ids (board_relation columns only).
    #[serde(default)]
    pub linked_item_ids: Option<Vec<String>>,
}

impl ColumnValue {
    /// `value` parsed as JSON (`None` when null; `Some(Err)` when Monday sent invalid JSON).
    pub fn value_json(&self) -> Option<Result<Value, serde_json::Error>> {
        self.value.as_deref().map(serde_json::from_str)
    }
}

/// Item id and name, as returned by mutations.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ItemRef {
    /// Item id.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Item name (may be absent for deletes).
    #[serde(default)]
    pub name: Option<String>,
}

/// Input of `create_item`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateItem {
    /// Target board.
    pub board_id: String,
    /// Target group (`None`: the board's top group).
    pub group_id: Option<String>,
    /// The new item's name.
    pub item_name: String,
    /// Column values as a JSON object keyed by column id (sent as the `JSON` variable; the
    /// client serialises it to a string as Monday expects).
    pub column_values: Option<Value>,
    /// Ask Monday to create missing status/dropdown labels.
    pub create_labels_if_missing: bool,
}

/// Input of `change_multiple_column_values`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeColumnValues {
    /// Board of the item.
    pub board_id: String,
    /// Item to change.
    pub item_id: String,
    /// Column values as a JSON object keyed by column id.
    pub column_values: Value,
    /// Ask Monday to create missing status/dropdown labels.
    pub create_labels_if_missing: bool,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Webhook {
    /// Webhook id.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Board id.
    #[serde(deserialize_with = "id_string")]
    pub board_id: String,
    /// Subscribed event (`create_item`, `change_column_value`, …).
    #[serde(default)]
    pub event: Option<String>,
    /// Config JSON string, when set.
    #[serde(default)]
    pub config: Option<String>,
}

/// Events a webhook can subscribe to (the subset crmsync uses, plus any other by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEventType {
    /// `create_item` (delivered as `create_pulse`).
    CreateItem,
    /// `change_column_value` (delivered as `update_column_value`).
    ChangeColumnValue,
    /// `change_name` (delivered as `update_name`).
    ChangeName,
    /// `item_deleted` (delivered as `delete_pulse`).
    ItemDeleted,
    /// `item_archived` (delivered as `archive_pulse`).
    ItemArchived,
    /// `item_restored` (delivered as `restore_pulse`).
    ItemRestored,
    /// `item_moved_to_any_group` (delivered as `move_pulse_into_group`).
    ItemMovedToAnyGroup,
    /// `create_update`.
    CreateUpdate,
    /// Any other `WebhookEventType` enum value, by name.
    Other(String),
}

impl WebhookEventType {
    /// The GraphQL enum value name.
    pub fn as_str(&self) -> &str {
        match self {
            WebhookEventType::CreateItem => "create_item",
            WebhookEventType::ChangeColumnValue => "change_column_value",
            WebhookEventType::ChangeName => "change_name",
            WebhookEventType::ItemDeleted => "item_deleted",
            WebhookEventType::ItemArchived => "item_archived",
            WebhookEventType::ItemRestored => "item_restored",
            WebhookEventType::ItemMovedToAnyGroup => "item_moved_to_any_group",
            WebhookEventType::CreateUpdate => "create_update",
            WebhookEventType::Other(s) => s,
        }
    }
}

/// Options of the items stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsPageOptions {
    /// Page size (1..=500; Monday's maximum is 500).
    pub limit: u32,
    /// How many times the stream may restart from the first page after an expired cursor.
    pub max_restarts: u32,
    /// Read only these columns' values (`column_values(ids:)`; None: every column). Fewer columns
    /// cost less of the complexity budget.
    pub column_ids: Option<Vec<String>>,
}

impl Default for ItemsPageOptions {
    fn default() -> Self {
        ItemsPageOptions {
            limit: 100,
            max_restarts: 3,
            column_ids: None,
        }
    }
}

/// Deserialises an id given as a JSON string or number into a `String`.
pub(crate) fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected an id (string or number), got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_sparse_and_ordered_by_position() {
        let s = r##"{"done_colors":[1],"labels":{"3":"Label 2","105":"1","156":"Label 3"},"labels_positions_v2":{"3":1,"5":3,"105":0,"156":2},"labels_colors":{"3":{"color":"#007eb5"}}}"##;
        let ColumnSettings::Status { labels } = ColumnSettings::parse("status", s) else {
            panic!("not status")
        };
        let idx: Vec<u32> = labels.iter().map(|l| l.index).collect();
        assert_eq!(idx, vec![105, 3, 156]);
        assert_eq!(labels[1].color.as_deref(), Some("#007eb5"));
        assert_eq!(labels[0].label, "1");
    }

    #[test]
    fn dropdown_labels_with_deactivated() {
        let s = r#"{"limit_select":false,"labels":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"deactivated_labels":[2]}"#;
        let ColumnSettings::Dropdown { labels } = ColumnSettings::parse("dropdown", s) else {
            panic!("not dropdown")
        };
        assert_eq!(labels.len(), 2);
        assert!(!labels[0].deactivated);
        assert!(labels[1].deactivated);
        assert_eq!(labels[1].name, "b");
    }

    #[test]
    fn invalid_settings_do_not_fail() {
        assert!(matches!(
            ColumnSettings::parse("status", "{not json"),
            ColumnSettings::Invalid { .. }
        ));
        assert!(matches!(
            ColumnSettings::parse("status", r#"{"labels": 5}"#),
            ColumnSettings::Invalid { .. }
        ));
        assert!(matches!(
            ColumnSettings::parse("text", "{}"),
            ColumnSettings::Other(_)
        ));
    }
}

/// One entry of a board's activity log (`ActivityLogType`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ActivityLog {
    /// Entry id (a UUID).
    pub id: String,
    /// What happened: `create_pulse`, `update_column_value`, `update_name`, `delete_pulse`,
    /// `archive_pulse`, `restore_pulse`, … (board-level events too).
    pub event: String,
    /// `pulse` for item events.
    #[serde(default)]
    pub entity: String,
    /// Who did it.
    #[serde(default)]
    pub user_id: String,
    /// 100-nanosecond ticks since the Unix epoch, as a string (17 digits).
    #[serde(default)]
    pub created_at: String,
    /// The details, a JSON document as a string (`pulse_id`, `column_id`, `value`, …).
    #[serde(default)]
    pub data: String,
}

impl ActivityLog {
    /// The parsed `data`, when it is JSON.
    pub fn data_json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }

    /// The item the entry is about (`pulse_id`, or `pulse.id` on moves), as a string.
    pub fn item_id(&self) -> Option<String> {
        let d = self.data_json()?;
        let id = d
            .get("pulse_id")
            .or_else(|| d.get("pulse").and_then(|p| p.get("id")))?;
        match id {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    /// The column of an `update_column_value` entry.
    pub fn column_id(&self) -> Option<String> {
        self.data_json()?
            .get("column_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// `created_at` in milliseconds since the epoch (it is given in 100-ns ticks).
    pub fn created_at_ms(&self) -> Option<i64> {
        let ticks: i64 = self.created_at.trim().parse().ok()?;
        Some(ticks / 10_000)
    }
}
