//! Value transforms between Monday column values and Salesforce field values, both directions.
//!
//! Monday -> Salesforce reads any of the shapes Monday produces for a column: a webhook `value`, an
//! item's `column_values` entry (`value` + `text`), or the JSON we write ourselves. Salesforce ->
//! Monday produces the `column_values` JSON that `change_multiple_column_values` / `create_item`
//! accept. Clearing a column yields `null` for its field(s) (a checkbox yields `false`), and a `null`
//! field clears the column.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use thiserror::Error;

use crate::countries::COUNTRIES;
use crate::lookups::Lookups;
use crate::mapping::{ColumnMapping, CountryFormat};
use crate::monday::{id_to_string, value_as_u64, ColumnKind, ColumnValue};
use crate::phone::{country_for_e164, normalize_phone, PhoneError};

/// A value transform: how one Monday column type maps to Salesforce field type(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// text <-> string-like field.
    Text,
    /// long_text <-> textarea.
    LongText,
    /// numbers <-> double/currency/percent/int.
    Numbers,
    /// status label <-> picklist value (through the value map).
    Status,
    /// dropdown labels <-> multipicklist (`;`-joined) or single picklist.
    Dropdown,
    /// date (+ optional time) -> Date.
    Date,
    /// date + time (UTC) -> DateTime.
    DateTime,
    /// email <-> email.
    Email,
    /// phone <-> phone, normalised to E.164.
    Phone,
    /// link URL <-> url.
    Link,
    /// checkbox <-> boolean.
    Checkbox,
    /// country <-> name or ISO code.
    Country,
    /// people -> owner (User id) by email.
    People,
    /// board_relation -> lookup, resolved through the record links.
    BoardRelation,
    /// timeline -> two date fields.
    Timeline,
    /// rating <-> number.
    Rating,
}

impl Transform {
    /// Every transform.
    pub const ALL: [Transform; 16] = [
        Transform::Text,
        Transform::LongText,
        Transform::Numbers,
        Transform::Status,
        Transform::Dropdown,
        Transform::Date,
        Transform::DateTime,
        Transform::Email,
        Transform::Phone,
        Transform::Link,
        Transform::Checkbox,
        Transform::Country,
        Transform::People,
        Transform::BoardRelation,
        Transform::Timeline,
        Transform::Rating,
    ];

    /// The name used in `mapping.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Text => "text",
            Transform::LongText => "long_text",
            Transform::Numbers => "numbers",
            Transform::Status => "status",
            Transform::Dropdown => "dropdown",
            Transform::Date => "date",
            Transform::DateTime => "datetime",
            Transform::Email => "email",
            Transform::Phone => "phone",
            Transform::Link => "link",
            Transform::Checkbox => "checkbox",
            Transform::Country => "country",
            Transform::People => "people",
            Transform::BoardRelation => "board_relation",
            Transform::Timeline => "timeline",
            Transform::Rating => "rating",
        }
    }

    /// Parse a name from `mapping.toml`.
    pub fn parse(name: &str) -> Option<Transform> {
        Transform::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The Monday column type this transform reads and writes.
    pub fn column_kind(self) -> ColumnKind {
        match self {
            Transform::Text => ColumnKind::Text,
            Transform::LongText => ColumnKind::LongText,
            Transform::Numbers => ColumnKind::Numbers,
            Transform::Status => ColumnKind::Status,
            Transform::Dropdown => ColumnKind::Dropdown,
            Transform::Date | Transform::DateTime => ColumnKind::Date,
            Transform::Email => ColumnKind::Email,
            Transform::Phone => ColumnKind::Phone,
            Transform::Link => ColumnKind::Link,
            Transform::Checkbox => ColumnKind::Checkbox,
            Transform::Country => ColumnKind::Country,
            Transform::People => ColumnKind::People,
            Transform::BoardRelation => ColumnKind::BoardRelation,
            Transform::Timeline => ColumnKind::Timeline,
            Transform::Rating => ColumnKind::Rating,
        }
    }

    /// The default transform for a column type, or the "unsupported column type" error naming it.
    pub fn for_column(column: &str, kind: &ColumnKind) -> Result<Transform, TransformError> {
        Transform::ALL
            .into_iter()
            .find(|t| t.column_kind() == *kind)
            .ok_or_else(|| TransformError::UnsupportedColumnType {
                column: column.to_string(),
                column_type: kind.to_string(),
            })
    }

    /// Salesforce field types the transform can write.
    pub fn salesforce_types(self) -> &'static [&'static str] {
        const TEXT: &[&str] = &[
            "string", "textarea", "email", "phone", "url", "picklist", "combobox", "date",
        ];
        match self {
            Transform::Text => TEXT,
            Transform::LongText => &["textarea", "string"],
            Transform::Numbers => &["double", "currency", "percent", "int", "long", "string"],
            Transform::Status => &["picklist", "string", "combobox"],
            Transform::Dropdown => &["multipicklist", "picklist", "string", "textarea"],
            Transform::Date => &["date"],
            Transform::DateTime => &["datetime"],
            Transform::Email => &["email", "string"],
            Transform::Phone => &["phone", "string"],
            Transform::Link => &["url", "string"],
            Transform::Checkbox => &["boolean"],
            Transform::Country => &["string", "picklist"],
            Transform::People => &["reference"],
            Transform::BoardRelation => &["reference"],
            Transform::Timeline => &["date", "datetime"],
            Transform::Rating => &["int", "double", "percent"],
        }
    }

    /// Whether Salesforce -> Monday -> Salesforce returns the value unchanged (for values in the
    /// transform's canonical form; status/dropdown need a one-to-one value map).
    pub fn lossless(self) -> bool {
        !matches!(self, Transform::People | Transform::BoardRelation)
    }
}

/// Why a value could not be transformed.
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransformError {
    /// The column's type has no transform.
    #[error("unsupported column type `{column_type}` for column `{column}`")]
    UnsupportedColumnType {
        /// Column id.
        column: String,
        /// Its type.
        column_type: String,
    },
    /// The event's column type differs from the mapping's (the column was changed on Monday).
    #[error(
        "column `{column}` is now of type `{actual}` but the mapping reads it as `{expected}`"
    )]
    ColumnTypeChanged {
        /// Column id.
        column: String,
        /// Expected type.
        expected: String,
        /// Type in the event.
        actual: String,
    },
    /// A value that is not what the column type holds.
    #[error("column `{column}` ({transform}): {reason}{}", with_colon(.value))]
    InvalidValue {
        /// Column id.
        column: String,
        /// Transform name.
        transform: &'static str,
        /// What is wrong.
        reason: String,
        /// The value (shortened).
        value: String,
    },
    /// A string longer than the field, and the mapping does not allow truncation.
    #[error("column `{column}`: {length} characters do not fit field `{field}` (length {max}); set `truncate = true` to cut")]
    TooLong {
        /// Column id.
        column: String,
        /// Field.
        field: String,
        /// Characters in the value.
        length: usize,
        /// Field length.
        max: usize,
    },
    /// A phone number that cannot be normalised.
    #[error("column `{column}`: {source}")]
    Phone {
        /// Column id.
        column: String,
        /// Why.
        source: PhoneError,
    },
    /// Several labels for a single-select picklist.
    #[error(
        "column `{column}`: {count} labels selected but `{field}` is a single-select picklist"
    )]
    TooManyValues {
        /// Column id.
        column: String,
        /// Field.
        field: String,
        /// Labels selected.
        count: usize,
    },
    /// A Monday person without a Salesforce user of the same email.
    #[error("column `{column}`: {detail}")]
    UnresolvedUser {
        /// Column id.
        column: String,
        /// What could not be found.
        detail: String,
    },
    /// A linked item that has no Salesforce record (yet). Retry once the linked item is synced.
    #[error("column `{column}`: linked item {item_id} has no Salesforce record yet")]
    UnresolvedLink {
        /// Column id.
        column: String,
        /// The linked item.
        item_id: String,
    },
}

impl TransformError {
    /// Whether retrying later can succeed (the linked record may be created meanwhile).
    pub fn is_retryable(&self) -> bool {
        matches!(self, TransformError::UnresolvedLink { .. })
    }
}

/// A Monday value as it arrives.
#[derive(Debug, Clone, Copy)]
pub enum MondayInput<'a> {
    /// A webhook's `value` (`None` when the column was cleared).
    Webhook(Option<&'a Value>),
    /// An item's `column_values` entry.
    Column(&'a ColumnValue),
}

/// The result of reading a Monday value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Converted {
    /// Field values (two for a timeline).
    Fields(Vec<(String, Value)>),
    /// The input does not carry enough (e.g. dropdown ids without labels): fetch the item.
    NeedsItem(String),
}

/// The result of writing a Salesforce value to Monday.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MondayWrite {
    /// The `column_values` JSON for this column (`null` clears it).
    Value(Value),
    /// Cannot be written yet (linked record or user not on Monday); set in a later pass.
    Deferred(String),
}

/// Canonical intermediate form of a Monday value.
#[derive(Debug, Clone, PartialEq)]
enum MValue {
    Empty,
    Text(String),
    Number(Value),
    Labels(Vec<String>),
    Date(NaiveDate, Option<NaiveTime>),
    Phone(String, Option<String>),
    Checked(bool),
    Country(String),
    People(Vec<String>),
    Linked(Vec<String>),
    Range(Option<NaiveDate>, Option<NaiveDate>),
}

enum Decoded {
    Value(MValue),
    NeedsItem(String),
}

fn with_colon(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!(": {value}")
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) => non_empty(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Read a Monday value into the intermediate form.
fn decode(cm: &ColumnMapping, input: MondayInput<'_>) -> Result<Decoded, TransformError> {
    let (value, text, linked): (Option<Value>, Option<String>, Option<Vec<String>>) = match input {
        MondayInput::Webhook(v) => (v.filter(|v| !v.is_null()).cloned(), None, None),
        MondayInput::Column(cv) => (
            cv.decoded_value(),
            cv.text.as_deref().and_then(non_empty),
            cv.linked_item_ids.clone(),
        ),
    };
    let invalid = |reason: &str, v: &Value| TransformError::InvalidValue {
        column: cm.column.clone(),
        transform: cm.transform.name(),
        reason: reason.to_string(),
        value: short(v),
    };
    let Some(value) = value else {
        // No stored value: the text may still carry it (older exports), else the column is empty.
        return Ok(Decoded::Value(match (cm.transform, text) {
            (Transform::Checkbox, Some(t)) => MValue::Checked(t == "v" || t == "true"),
            (Transform::Checkbox, None) => MValue::Checked(false),
            (Transform::BoardRelation, _) => match linked {
                Some(ids) if !ids.is_empty() => MValue::Linked(ids),
                _ => MValue::Empty,
            },
            (
                Transform::Text | Transform::LongText | Transform::Email | Transform::Link,
                Some(t),
            ) => MValue::Text(t),
            (Transform::Status, Some(t)) => MValue::Labels(vec![t]),
            _ => MValue::Empty,
        }));
    };
    let m = match cm.transform {
        Transform::Text | Transform::LongText => match &value {
            Value::String(s) => non_empty(s).map(MValue::Text),
            Value::Number(n) => Some(MValue::Text(n.to_string())),
            Value::Bool(b) => Some(MValue::Text(b.to_string())),
            Value::Object(_) => str_field(&value, "value")
                .or_else(|| str_field(&value, "text"))
                .or(text)
                .map(MValue::Text),
            _ => return Err(invalid("expected text", &value)),
        }
        .unwrap_or(MValue::Empty),
        Transform::Numbers | Transform::Rating => {
            let key = if cm.transform == Transform::Rating {
                "rating"
            } else {
                "value"
            };
            let raw = match &value {
                Value::Object(o) => o
                    .get(key)
                    .or_else(|| o.get("number"))
                    .cloned()
                    .unwrap_or(Value::Null),
                other => other.clone(),
            };
            match raw {
                Value::Null => MValue::Empty,
                Value::String(s) if s.trim().is_empty() => MValue::Empty,
                Value::String(s) => {
                    MValue::Number(parse_number(&s).ok_or_else(|| invalid("not a number", &value))?)
                }
                Value::Number(n) if cm.transform == Transform::Rating && n.as_i64() == Some(0) => {
                    MValue::Empty
                }
                Value::Number(n) => MValue::Number(Value::Number(n)),
                _ => return Err(invalid("not a number", &value)),
            }
        }
        Transform::Status => {
            if let Some(t) = text {
                MValue::Labels(vec![t])
            } else {
                match &value {
                    Value::String(s) => non_empty(s)
                        .map(|s| MValue::Labels(vec![s]))
                        .unwrap_or(MValue::Empty),
                    Value::Object(o) => match o.get("label") {
                        Some(Value::String(s)) => non_empty(s)
                            .map(|s| MValue::Labels(vec![s]))
                            .unwrap_or(MValue::Empty),
                        Some(label @ Value::Object(_)) => match str_field(label, "text") {
                            Some(t) => MValue::Labels(vec![t]),
                            None => MValue::Empty,
                        },
                        Some(Value::Null) => MValue::Empty,
                        Some(other) => return Err(invalid("unexpected status label", other)),
                        // Index 5 is the default label: blank unless the board renamed it,
                        // so consult the board's labels before treating it as empty.
                        None => match o.get("index").and_then(value_as_u64) {
                            None => MValue::Empty,
                            Some(i) => match cm.column_labels.get(&i) {
                                Some(l) if l.trim().is_empty() => MValue::Empty,
                                Some(l) => MValue::Labels(vec![l.clone()]),
                                None if i == 5 => MValue::Empty,
                                None => {
                                    return Ok(Decoded::NeedsItem(format!(
                                        "status column `{}` has index {i} and no label text",
                                        cm.column
                                    )))
                                }
                            },
                        },
                    },
                    _ => return Err(invalid("expected a status value", &value)),
                }
            }
        }
        Transform::Dropdown => {
            let names = |arr: &Value, key: Option<&str>| -> Option<Vec<String>> {
                arr.as_array().map(|a| {
                    a.iter()
                        .filter_map(|e| match key {
                            Some(k) => str_field(e, k),
                            None => e.as_str().and_then(non_empty),
                        })
                        .collect()
                })
            };
            if let Some(l) = value
                .get("chosenValues")
                .and_then(|a| names(a, Some("name")))
            {
                MValue::Labels(l)
            } else if let Some(l) = value.get("labels").and_then(|a| names(a, None)) {
                MValue::Labels(l)
            } else if let Some(ids) = value.get("ids").and_then(Value::as_array) {
                let ids: Vec<u64> = ids.iter().filter_map(value_as_u64).collect();
                if ids.iter().all(|i| cm.column_labels.contains_key(i)) {
                    MValue::Labels(
                        ids.iter()
                            .filter_map(|i| cm.column_labels.get(i).cloned())
                            .collect(),
                    )
                } else if let Some(t) = text {
                    MValue::Labels(t.split(", ").filter_map(non_empty).collect())
                } else {
                    return Ok(Decoded::NeedsItem(format!(
                        "dropdown column `{}` has label ids {ids:?} and no label names",
                        cm.column
                    )));
                }
            } else if let Value::String(s) = &value {
                MValue::Labels(s.split(',').filter_map(non_empty).collect())
            } else if value
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "changed_at"))
            {
                MValue::Empty
            } else {
                return Err(invalid("expected dropdown labels", &value));
            }
        }
        Transform::Date | Transform::DateTime => {
            let (d, t) = match &value {
                Value::Object(_) => (str_field(&value, "date"), str_field(&value, "time")),
                Value::String(s) => {
                    let mut parts = s.split_whitespace();
                    (
                        parts.next().map(str::to_string),
                        parts.next().map(str::to_string),
                    )
                }
                _ => return Err(invalid("expected a date", &value)),
            };
            match d {
                None => MValue::Empty,
                Some(d) => {
                    let date = NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|_| invalid("not a YYYY-MM-DD date", &value))?;
                    let time = match t {
                        None => None,
                        Some(t) => Some(
                            NaiveTime::parse_from_str(&t, "%H:%M:%S")
                                .or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M"))
                                .map_err(|_| invalid("not a HH:MM:SS time", &value))?,
                        ),
                    };
                    MValue::Date(date, time)
                }
            }
        }
        Transform::Email => match &value {
            Value::Object(_) => str_field(&value, "email").or_else(|| str_field(&value, "text")),
            Value::String(s) => s.split_whitespace().next().map(str::to_string),
            _ => return Err(invalid("expected an email", &value)),
        }
        .map(MValue::Text)
        .unwrap_or(MValue::Empty),
        Transform::Link => match &value {
            Value::Object(_) => str_field(&value, "url"),
            Value::String(s) => s.split_whitespace().next().map(str::to_string),
            _ => return Err(invalid("expected a link", &value)),
        }
        .map(MValue::Text)
        .unwrap_or(MValue::Empty),
        Transform::Phone => match &value {
            Value::Object(_) => match str_field(&value, "phone") {
                Some(p) => MValue::Phone(p, str_field(&value, "countryShortName")),
                None => MValue::Empty,
            },
            Value::String(s) => {
                let mut parts = s.split_whitespace().collect::<Vec<_>>();
                let country = match parts.last() {
                    Some(c)
                        if parts.len() > 1
                            && c.len() == 2
                            && c.chars().all(|c| c.is_ascii_alphabetic()) =>
                    {
                        let c = c.to_string();
                        parts.pop();
                        Some(c)
                    }
                    _ => None,
                };
                non_empty(&parts.join(" "))
                    .map(|p| MValue::Phone(p, country))
                    .unwrap_or(MValue::Empty)
            }
            Value::Number(n) => MValue::Phone(n.to_string(), None),
            _ => return Err(invalid("expected a phone", &value)),
        },
        Transform::Checkbox => match value.get("checked").unwrap_or(&value) {
            Value::Bool(b) => MValue::Checked(*b),
            Value::String(s) => MValue::Checked(s == "true"),
            Value::Null => MValue::Checked(false),
            Value::Object(o) if o.is_empty() || o.keys().all(|k| k == "changed_at") => {
                MValue::Checked(false)
            }
            other => return Err(invalid("expected a checkbox value", other)),
        },
        Transform::Country => match &value {
            Value::Object(_) => match str_field(&value, "countryCode") {
                Some(code) => MValue::Country(code.to_ascii_uppercase()),
                None => match str_field(&value, "countryName").and_then(|n| country_code_for(&n)) {
                    Some(code) => MValue::Country(code.to_string()),
                    None => MValue::Empty,
                },
            },
            Value::String(s) => match country_code_for(s) {
                Some(code) => MValue::Country(code.to_string()),
                None if s.trim().is_empty() => MValue::Empty,
                None => return Err(invalid("unknown country", &value)),
            },
            _ => return Err(invalid("expected a country", &value)),
        },
        Transform::People => match value.get("personsAndTeams") {
            Some(Value::Array(a)) => {
                let ids: Vec<String> = a
                    .iter()
                    .filter(|p| {
                        p.get("kind").and_then(Value::as_str).unwrap_or("person") == "person"
                    })
                    .filter_map(|p| p.get("id").and_then(id_to_string))
                    .collect();
                if ids.is_empty() {
                    MValue::Empty
                } else {
                    MValue::People(ids)
                }
            }
            Some(other) => return Err(invalid("expected personsAndTeams to be a list", other)),
            None => MValue::Empty,
        },
        Transform::BoardRelation => {
            let ids: Vec<String> = if let Some(ids) = linked {
                ids
            } else if let Some(Value::Array(a)) = value.get("linkedPulseIds") {
                a.iter()
                    .filter_map(|e| e.get("linkedPulseId").and_then(id_to_string))
                    .collect()
            } else if let Some(Value::Array(a)) = value.get("item_ids") {
                a.iter().filter_map(id_to_string).collect()
            } else if value.is_object() {
                Vec::new()
            } else {
                return Err(invalid("expected linked items", &value));
            };
            if ids.is_empty() {
                MValue::Empty
            } else {
                MValue::Linked(ids)
            }
        }
        Transform::Timeline => {
            let parse = |k: &str| -> Result<Option<NaiveDate>, TransformError> {
                match str_field(&value, k) {
                    None => Ok(None),
                    Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| invalid("not a YYYY-MM-DD date", &value)),
                }
            };
            if !value.is_object() {
                return Err(invalid("expected a timeline", &value));
            }
            match (parse("from")?, parse("to")?) {
                (None, None) => MValue::Empty,
                (f, t) => MValue::Range(f, t),
            }
        }
    };
    Ok(Decoded::Value(m))
}

fn parse_number(s: &str) -> Option<Value> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::from(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// ISO code for a country given as a code or an English name (case-insensitive).
pub fn country_code_for(s: &str) -> Option<&'static str> {
    let t = s.trim();
    COUNTRIES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(t) || name.eq_ignore_ascii_case(t))
        .map(|(code, _)| *code)
}

/// English name of an ISO alpha-2 code.
pub fn country_name(code: &str) -> Option<&'static str> {
    COUNTRIES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
        .map(|(_, n)| *n)
}

impl ColumnMapping {
    fn fit(&self, field: &str, s: String) -> Result<String, TransformError> {
        let max = self
            .field_meta
            .as_ref()
            .and_then(|m| m.length)
            .filter(|l| *l > 0);
        match max {
            Some(max) if s.chars().count() > max => {
                if self.truncate {
                    Ok(s.chars().take(max).collect())
                } else {
                    Err(TransformError::TooLong {
                        column: self.column.clone(),
                        field: field.to_string(),
                        length: s.chars().count(),
                        max,
                    })
                }
            }
            _ => Ok(s),
        }
    }

    fn field_type(&self) -> Option<&str> {
        self.field_meta.as_ref().map(|m| m.field_type.as_str())
    }

    fn date_value(&self, date: NaiveDate, time: Option<NaiveTime>, as_datetime: bool) -> Value {
        let offset = self.timezone.unwrap_or_else(utc_offset);
        if as_datetime {
            // Monday's time is UTC; a date without time is midnight in the mapping's offset.
            let utc: DateTime<Utc> = match time {
                Some(t) => Utc.from_utc_datetime(&NaiveDateTime::new(date, t)),
                None => offset
                    .from_local_datetime(&NaiveDateTime::new(date, NaiveTime::MIN))
                    .single()
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or_else(|| {
                        Utc.from_utc_datetime(&NaiveDateTime::new(date, NaiveTime::MIN))
                    }),
            };
            Value::String(format_sf_datetime(utc))
        } else {
            let local = match time {
                Some(t) => Utc
                    .from_utc_datetime(&NaiveDateTime::new(date, t))
                    .with_timezone(&offset)
                    .date_naive(),
                None => date,
            };
            Value::String(local.format("%Y-%m-%d").to_string())
        }
    }
}

fn utc_offset() -> FixedOffset {
    Utc.fix()
}

/// Salesforce's DateTime wire format: `2025-02-10T14:30:00.000+0000`.
pub fn format_sf_datetime(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Parse a Salesforce DateTime (`2025-02-10T14:30:00.000+0000`, or RFC 3339).
pub fn parse_sf_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Monday -> Salesforce: the field value(s) for one column.
pub fn to_salesforce(
    cm: &ColumnMapping,
    input: MondayInput<'_>,
    lookups: &dyn Lookups,
) -> Result<Converted, TransformError> {
    let m = match decode(cm, input)? {
        Decoded::NeedsItem(why) => return Ok(Converted::NeedsItem(why)),
        Decoded::Value(m) => m,
    };
    let f = cm.field.clone();
    let one = |v: Value| Ok(Converted::Fields(vec![(cm.field.clone(), v)]));
    let invalid = |reason: String| TransformError::InvalidValue {
        column: cm.column.clone(),
        transform: cm.transform.name(),
        reason,
        value: String::new(),
    };
    match (cm.transform, m) {
        (Transform::Timeline, MValue::Empty) => Ok(Converted::Fields(vec![
            (f, Value::Null),
            (cm.end_field.clone().unwrap_or_default(), Value::Null),
        ])),
        (Transform::Checkbox, MValue::Empty) => one(Value::Bool(false)),
        // The owner is required: clearing the people column leaves it as it is.
        (Transform::People, MValue::Empty) => Ok(Converted::Fields(vec![])),
        (_, MValue::Empty) => one(Value::Null),
        (_, MValue::Text(s)) if cm.field_type() == Some("date") => match parse_loose_date(&s) {
            Some(d) => one(Value::String(d.format("%Y-%m-%d").to_string())),
            None => Err(invalid(format!(
                "{s:?} is not a date (YYYY-MM-DD or MM/DD/YYYY) for date field `{f}`"
            ))),
        },
        (_, MValue::Text(s)) => one(Value::String(cm.fit(&f, s)?)),
        (Transform::Numbers | Transform::Rating, MValue::Number(n)) => {
            if cm.field_type() == Some("string") {
                one(Value::String(cm.fit(&f, number_text(&n))?))
            } else if matches!(cm.field_type(), Some("int") | Some("long")) && n.as_i64().is_none()
            {
                match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => one(Value::from(x as i64)),
                    _ => Err(invalid(format!(
                        "{} is not a whole number for integer field `{f}`",
                        number_text(&n)
                    ))),
                }
            } else {
                one(n)
            }
        }
        (_, MValue::Number(n)) => one(Value::String(cm.fit(&f, number_text(&n))?)),
        (_, MValue::Labels(labels)) => {
            let mut mapped: Vec<String> = Vec::new();
            for l in &labels {
                let v = cm.to_salesforce_label(l);
                if !mapped.contains(&v) {
                    mapped.push(v);
                }
            }
            if mapped.is_empty() {
                return one(Value::Null);
            }
            if mapped.len() > 1 && matches!(cm.field_type(), Some("picklist") | Some("combobox")) {
                return Err(TransformError::TooManyValues {
                    column: cm.column.clone(),
                    field: f,
                    count: mapped.len(),
                });
            }
            one(Value::String(cm.fit(&f, mapped.join(";"))?))
        }
        (t, MValue::Date(d, time)) => one(cm.date_value(d, time, t == Transform::DateTime)),
        (_, MValue::Phone(p, country)) => {
            let country = country.or_else(|| cm.default_country.clone());
            let e164 = normalize_phone(&p, country.as_deref()).map_err(|source| {
                TransformError::Phone {
                    column: cm.column.clone(),
                    source,
                }
            })?;
            one(Value::String(cm.fit(&f, e164)?))
        }
        (_, MValue::Checked(b)) => one(Value::Bool(b)),
        (_, MValue::Country(code)) => match cm.country_format {
            CountryFormat::Code => one(Value::String(code)),
            CountryFormat::Name => match country_name(&code) {
                Some(n) => one(Value::String(cm.fit(&f, n.to_string())?)),
                None => Err(invalid(format!("unknown country code {code:?}"))),
            },
        },
        (_, MValue::People(ids)) => {
            // Salesforce has one owner: the first person assigned.
            let Some(id) = ids.first() else {
                return Ok(Converted::Fields(vec![]));
            };
            let email =
                lookups
                    .monday_user_email(id)
                    .ok_or_else(|| TransformError::UnresolvedUser {
                        column: cm.column.clone(),
                        detail: format!("Monday user {id} has no known email"),
                    })?;
            let user = lookups.salesforce_user_by_email(&email).ok_or_else(|| {
                TransformError::UnresolvedUser {
                    column: cm.column.clone(),
                    detail: format!("no active Salesforce user has the email of Monday user {id}"),
                }
            })?;
            one(Value::String(user))
        }
        (_, MValue::Linked(ids)) => {
            // A lookup holds one record: the first linked item.
            let Some(id) = ids.first() else {
                return one(Value::Null);
            };
            match lookups.salesforce_id_for_item(id) {
                Some(sf) => one(Value::String(sf)),
                None => Err(TransformError::UnresolvedLink {
                    column: cm.column.clone(),
                    item_id: id.clone(),
                }),
            }
        }
        (_, MValue::Range(from, to)) => {
            let as_dt = cm.field_type() == Some("datetime");
            let conv = |d: Option<NaiveDate>| {
                d.map(|d| cm.date_value(d, None, as_dt))
                    .unwrap_or(Value::Null)
            };
            let (from, to) = (from.or(to), to.or(from));
            Ok(Converted::Fields(vec![
                (f, conv(from)),
                (cm.end_field.clone().unwrap_or_default(), conv(to)),
            ]))
        }
    }
}

/// `YYYY-MM-DD` or US `MM/DD/YYYY` (text columns holding dates, e.g. a Birthdate typed by hand).
fn parse_loose_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%m/%d/%Y"))
        .ok()
}

fn number_text(n: &Value) -> String {
    match n {
        Value::Number(n) => match n.as_f64() {
            Some(f)
                if f.fract() == 0.0
                    && f.abs() < 9.0e15
                    && n.as_i64().is_none()
                    && n.as_u64().is_none() =>
            {
                format!("{}", f as i64)
            }
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Salesforce -> Monday: the `column_values` JSON for one column from a record (`null` clears).
pub fn to_monday(
    cm: &ColumnMapping,
    record: &Map<String, Value>,
    lookups: &dyn Lookups,
) -> Result<MondayWrite, TransformError> {
    let get = |f: &str| -> Value {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(f))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let v = get(&cm.field);
    let invalid = |reason: &str, v: &Value| TransformError::InvalidValue {
        column: cm.column.clone(),
        transform: cm.transform.name(),
        reason: format!("Salesforce field `{}` {reason}", cm.field),
        value: short(v),
    };
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    };
    let out = match cm.transform {
        Transform::Timeline => {
            let end = get(cm.end_field.as_deref().unwrap_or_default());
            let date_of = |v: &Value| -> Result<Option<String>, TransformError> {
                match v {
                    Value::Null => Ok(None),
                    Value::String(s) if s.len() == 10 => Ok(Some(s.clone())),
                    Value::String(s) => parse_sf_datetime(s)
                        .map(|d| Some(d.format("%Y-%m-%d").to_string()))
                        .ok_or_else(|| invalid("is not a date", v)),
                    other => Err(invalid("is not a date", other)),
                }
            };
            match (date_of(&v)?, date_of(&end)?) {
                (None, None) => Value::Null,
                (from, to) => {
                    let (from, to) = (from.clone().or(to.clone()), to.or(from));
                    json!({"from": from, "to": to})
                }
            }
        }
        _ if v.is_null() => {
            if cm.transform == Transform::Checkbox {
                Value::Null
            } else if matches!(cm.transform, Transform::Text | Transform::Numbers) {
                Value::String(String::new())
            } else {
                Value::Null
            }
        }
        Transform::Text => Value::String(text(&v).unwrap_or_default()),
        Transform::LongText => match text(&v) {
            Some(s) => json!({"text": s}),
            None => Value::Null,
        },
        Transform::Numbers => match &v {
            Value::Number(_) => Value::String(number_text(&v)),
            Value::String(s) => Value::String(number_text(
                &parse_number(s).ok_or_else(|| invalid("is not a number", &v))?,
            )),
            other => return Err(invalid("is not a number", other)),
        },
        Transform::Rating => match v.as_f64() {
            Some(f) => json!({"rating": f.round() as i64}),
            None => return Err(invalid("is not a number", &v)),
        },
        Transform::Status => match text(&v) {
            Some(s) => json!({"label": cm.to_monday_label(&s)}),
            None => Value::Null,
        },
        Transform::Dropdown => match text(&v) {
            Some(s) => {
                let labels: Vec<String> = s
                    .split(';')
                    .filter_map(non_empty)
                    .map(|l| cm.to_monday_label(&l))
                    .collect();
                if labels.is_empty() {
                    Value::Null
                } else {
                    json!({"labels": labels})
                }
            }
            None => Value::Null,
        },
        Transform::Date => match &v {
            Value::String(s) => {
                let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .or_else(|| parse_sf_datetime(s).map(|d| d.date_naive()))
                    .ok_or_else(|| invalid("is not a date", &v))?;
                json!({"date": d.format("%Y-%m-%d").to_string()})
            }
            other => return Err(invalid("is not a date", other)),
        },
        Transform::DateTime => match v.as_str().and_then(parse_sf_datetime) {
            Some(d) => {
                json!({"date": d.format("%Y-%m-%d").to_string(), "time": d.format("%H:%M:%S").to_string()})
            }
            None => return Err(invalid("is not a DateTime", &v)),
        },
        Transform::Email => match text(&v) {
            Some(s) => json!({"email": s, "text": s}),
            None => Value::Null,
        },
        Transform::Link => match text(&v) {
            Some(s) => json!({"url": s, "text": s}),
            None => Value::Null,
        },
        Transform::Phone => match text(&v) {
            Some(s) => {
                let e164 =
                    normalize_phone(&s, cm.default_country.as_deref()).map_err(|source| {
                        TransformError::Phone {
                            column: cm.column.clone(),
                            source,
                        }
                    })?;
                let country = country_for_e164(&e164)
                    .map(str::to_string)
                    .or_else(|| cm.default_country.clone());
                json!({"phone": e164, "countryShortName": country})
            }
            None => Value::Null,
        },
        Transform::Checkbox => match &v {
            Value::Bool(true) => json!({"checked": "true"}),
            Value::Bool(false) => Value::Null,
            other => return Err(invalid("is not a boolean", other)),
        },
        Transform::Country => match text(&v) {
            Some(s) => match country_code_for(&s) {
                Some(code) => {
                    json!({"countryCode": code, "countryName": country_name(code).unwrap_or(code)})
                }
                None => return Err(invalid("is not a known country", &v)),
            },
            None => Value::Null,
        },
        Transform::People => match text(&v) {
            Some(id) => {
                let Some(email) = lookups.salesforce_user_email(&id) else {
                    return Ok(MondayWrite::Deferred(format!(
                        "Salesforce user {id} has no known email"
                    )));
                };
                let Some(user) = lookups.monday_user_by_email(&email) else {
                    return Ok(MondayWrite::Deferred(format!(
                        "no Monday user has the email of Salesforce user {id}"
                    )));
                };
                let id_json = user
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(user));
                json!({"personsAndTeams": [{"id": id_json, "kind": "person"}]})
            }
            None => Value::Null,
        },
        Transform::BoardRelation => match text(&v) {
            Some(id) => match lookups.item_id_for_salesforce_id(&id) {
                Some(item) => {
                    let id_json = item
                        .parse::<u64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(item));
                    json!({"item_ids": [id_json]})
                }
                None => {
                    return Ok(MondayWrite::Deferred(format!(
                        "record {id} has no Monday item yet"
                    )))
                }
            },
            None => json!({"item_ids": []}),
        },
    };
    Ok(MondayWrite::Value(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticLookups;

    fn status_column(labels: &[(u64, &str)]) -> ColumnMapping {
        let mut cm = ColumnMapping::new("status", "StageName", Transform::Status);
        cm.column_labels = labels.iter().map(|(i, l)| (*i, l.to_string())).collect();
        cm
    }

    fn convert(cm: &ColumnMapping, value: Value) -> Converted {
        to_salesforce(
            cm,
            MondayInput::Webhook(Some(&value)),
            &StaticLookups::default(),
        )
        .expect("converts")
    }

    #[test]
    fn status_index_5_uses_the_boards_label_when_it_defines_one() {
        // A board that renamed its default label (index 5) to "Unassigned".
        let cm = status_column(&[(0, "Working on it"), (1, "Done"), (5, "Unassigned")]);
        assert_eq!(
            convert(&cm, json!({"index": 5, "post_id": null})),
            Converted::Fields(vec![("StageName".into(), json!("Unassigned"))])
        );
    }

    #[test]
    fn status_index_5_without_a_board_label_is_empty() {
        let cm = status_column(&[(0, "Working on it"), (1, "Done")]);
        assert_eq!(
            convert(&cm, json!({"index": 5, "post_id": null})),
            Converted::Fields(vec![("StageName".into(), Value::Null)])
        );
        // An empty label text at index 5 is the blank default too.
        let cm = status_column(&[(0, "Working on it"), (5, "")]);
        assert_eq!(
            convert(&cm, json!({"index": 5})),
            Converted::Fields(vec![("StageName".into(), Value::Null)])
        );
    }
}
