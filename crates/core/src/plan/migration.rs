//! Salesforce -> Monday (the migration): a Salesforce record to a Monday item create/update.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{DeferredColumn, PlanError};
use crate::lookups::Lookups;
use crate::mapping::{BoardMapping, ColumnMapping, ItemNameTarget};
use crate::monday::{ColumnValue, Item};
use crate::phone::normalize_phone;
use crate::transform::{
    parse_sf_datetime, to_monday, to_salesforce, Converted, MondayInput, MondayWrite, Transform,
};

/// A status/dropdown label written by the migration that the board column does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewLabel {
    /// Column id.
    pub column_id: String,
    /// The label.
    pub label: String,
}

fn labels_missing(cm: &ColumnMapping, write: &Value, out: &mut Vec<NewLabel>) {
    if cm.column_labels.is_empty() {
        return;
    }
    let written: Vec<&str> = match cm.transform {
        Transform::Status => write
            .get("label")
            .and_then(Value::as_str)
            .into_iter()
            .collect(),
        Transform::Dropdown => write
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    for label in written {
        if !cm.column_labels.values().any(|l| l == label) {
            out.push(NewLabel {
                column_id: cm.column.clone(),
                label: label.to_string(),
            });
        }
    }
}

/// What the migration does for one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ItemOperation {
    /// `create_item(board_id, item_name, column_values)`; the Id column carries the record id (loop
    /// prevention: the `create_pulse` webhook it triggers links instead of creating).
    Create {
        /// Board.
        board_id: String,
        /// Item name.
        item_name: String,
        /// Column values JSON by column id.
        column_values: BTreeMap<String, Value>,
        /// Status/dropdown labels the board does not have yet: send `create_labels_if_missing: true`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        new_labels: Vec<NewLabel>,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
    /// `change_multiple_column_values` with only the changed columns (and the name if changed).
    Update {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// New name, when it changed.
        item_name: Option<String>,
        /// Changed columns.
        column_values: BTreeMap<String, Value>,
        /// Status/dropdown labels the board does not have yet: send `create_labels_if_missing: true`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        new_labels: Vec<NewLabel>,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
    /// The item already matches the record.
    Unchanged {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
}

/// The item name a record gives (Contact: `FirstName LastName`).
pub fn item_name_from_record(bm: &BoardMapping, record: &Map<String, Value>) -> String {
    let get = |f: &str| -> String {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(f))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    match &bm.item_name {
        ItemNameTarget::Field(f) => get(f),
        ItemNameTarget::Split { first, last } => [get(first), get(last)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        ItemNameTarget::None => get("Name"),
    }
}

/// Plan the Monday side of one Salesforce record (the migration). `existing` is the item already
/// linked to the record, if any: then only the columns whose value differs are written.
pub fn plan_item(
    record: &Map<String, Value>,
    existing: Option<&Item>,
    bm: &BoardMapping,
    lookups: &dyn Lookups,
) -> Result<ItemOperation, PlanError> {
    let record_id = record
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| PlanError::InvalidEvent {
            event_type: "salesforce_record".into(),
            reason: "record has no Id".into(),
        })?
        .to_string();
    let name = item_name_from_record(bm, record);
    let mut values = BTreeMap::new();
    let mut deferred = Vec::new();
    let mut new_labels = Vec::new();
    for cm in bm.columns.iter().filter(|c| c.direction.to_monday()) {
        let write = match to_monday(cm, record, lookups)? {
            MondayWrite::Value(v) => v,
            MondayWrite::Deferred(reason) => {
                deferred.push(DeferredColumn {
                    column_id: cm.column.clone(),
                    reason,
                });
                continue;
            }
        };
        match existing {
            None => {
                if !is_empty_write(&write) {
                    labels_missing(cm, &write, &mut new_labels);
                    values.insert(cm.column.clone(), write);
                }
            }
            Some(item) => {
                if column_differs(cm, item, record, lookups) {
                    labels_missing(cm, &write, &mut new_labels);
                    values.insert(cm.column.clone(), write);
                }
            }
        }
    }
    match existing {
        None => {
            values.insert(bm.salesforce_id_column.clone(), Value::String(record_id));
            Ok(ItemOperation::Create {
                board_id: bm.board_id.clone(),
                item_name: name,
                column_values: values,
                new_labels,
                deferred,
            })
        }
        Some(item) => {
            let current_id = item
                .column(&bm.salesforce_id_column)
                .and_then(|cv| {
                    cv.decoded_value()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .or(cv.text.clone())
                })
                .unwrap_or_default();
            if current_id.trim() != record_id {
                values.insert(bm.salesforce_id_column.clone(), Value::String(record_id));
            }
            let item_name = (item.name.trim() != name && !name.is_empty()).then_some(name);
            if values.is_empty() && item_name.is_none() {
                Ok(ItemOperation::Unchanged {
                    board_id: bm.board_id.clone(),
                    item_id: item.id.clone(),
                    deferred,
                })
            } else {
                Ok(ItemOperation::Update {
                    board_id: bm.board_id.clone(),
                    item_id: item.id.clone(),
                    item_name,
                    column_values: values,
                    new_labels,
                    deferred,
                })
            }
        }
    }
}

fn is_empty_write(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Whether the item's column holds something else than the record's field(s), compared on the
/// Salesforce side (after normalisation), so that formatting differences are not changes.
fn column_differs(
    cm: &ColumnMapping,
    item: &Item,
    record: &Map<String, Value>,
    lookups: &dyn Lookups,
) -> bool {
    let empty = ColumnValue {
        id: cm.column.clone(),
        ..ColumnValue::default()
    };
    let cv = item.column(&cm.column).unwrap_or(&empty);
    let current = match to_salesforce(cm, MondayInput::Column(cv), lookups) {
        Ok(Converted::Fields(fs)) => fs,
        _ => return true,
    };
    current.iter().any(|(field, cur)| {
        let desired = record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        !same_salesforce_value(cm, cur, &desired)
    })
}

/// Equality of two Salesforce values for a transform, after normalisation.
pub fn same_salesforce_value(cm: &ColumnMapping, a: &Value, b: &Value) -> bool {
    let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
    if cm.transform == Transform::Checkbox {
        return a.as_bool().unwrap_or(false) == b.as_bool().unwrap_or(false);
    }
    if blank(a) || blank(b) {
        return blank(a) && blank(b);
    }
    let s = |v: &Value| match v {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    match cm.transform {
        Transform::Numbers | Transform::Rating => {
            let f = |v: &Value| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            };
            match (f(a), f(b)) {
                (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()).max(1.0),
                _ => s(a) == s(b),
            }
        }
        Transform::Dropdown => {
            let set = |v: &Value| {
                let mut l: Vec<String> = s(v)
                    .split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                l.sort();
                l
            };
            set(a) == set(b)
        }
        Transform::DateTime => match (parse_sf_datetime(&s(a)), parse_sf_datetime(&s(b))) {
            (Some(x), Some(y)) => x == y,
            _ => s(a) == s(b),
        },
        Transform::Timeline => {
            let d = |v: &Value| {
                let t = s(v);
                parse_sf_datetime(&t)
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or(t)
            };
            d(a) == d(b)
        }
        Transform::Phone => {
            let n = |v: &Value| {
                normalize_phone(&s(v), cm.default_country.as_deref()).unwrap_or_else(|_| s(v))
            };
            n(a) == n(b)
        }
        Transform::Email => s(a).eq_ignore_ascii_case(&s(b)),
        Transform::Country => {
            let c = |v: &Value| {
                crate::transform::country_code_for(&s(v))
                    .map(str::to_string)
                    .unwrap_or_else(|| s(v))
            };
            c(a) == c(b)
        }
        Transform::BoardRelation | Transform::People => {
            let k = |v: &Value| {
                let t = s(v);
                t.get(..15).unwrap_or(&t).to_string()
            };
            k(a) == k(b)
        }
        _ => s(a) == s(b),
    }
}
