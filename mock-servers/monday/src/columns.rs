//! Column value semantics: what a write stores (`value`), how Monday renders it (`text`), and what a
//! webhook carries (`value` / `previousValue`), per column type.
//!
//! Stored values are the JSON objects Monday keeps (the API returns them JSON-encoded in `value`).
//! `changed_at` is part of most stored values, as on Monday.

use serde_json::{json, Map, Value};

use crate::model::{ColumnDef, UserRec};

/// Supported column kinds (API 2023-10+ type names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The item name column (`name`); not part of `column_values`.
    Name,
    /// `text`
    Text,
    /// `long_text`
    LongText,
    /// `numbers`
    Numbers,
    /// `status`
    Status,
    /// `dropdown`
    Dropdown,
    /// `date`
    Date,
    /// `email`
    Email,
    /// `phone`
    Phone,
    /// `link`
    Link,
    /// `checkbox`
    Checkbox,
    /// `country`
    Country,
    /// `people`
    People,
    /// `board_relation`
    BoardRelation,
    /// `timeline`
    Timeline,
    /// `rating`
    Rating,
    /// Anything else: stored and returned as given, text empty.
    Other,
}

impl Kind {
    /// The kind for a column type name.
    pub fn of(type_name: &str) -> Kind {
        match type_name {
            "name" => Kind::Name,
            "text" => Kind::Text,
            "long_text" => Kind::LongText,
            "numbers" => Kind::Numbers,
            "status" => Kind::Status,
            "dropdown" => Kind::Dropdown,
            "date" => Kind::Date,
            "email" => Kind::Email,
            "phone" => Kind::Phone,
            "link" => Kind::Link,
            "checkbox" => Kind::Checkbox,
            "country" => Kind::Country,
            "people" => Kind::People,
            "board_relation" => Kind::BoardRelation,
            "timeline" => Kind::Timeline,
            "rating" => Kind::Rating,
            _ => Kind::Other,
        }
    }

    /// The legacy type name webhooks carry in `columnType` (`color` for status, ...).
    pub fn legacy_name(self, type_name: &str) -> String {
        match self {
            Kind::Status => "color",
            Kind::People => "multiple-person",
            Kind::Numbers => "numeric",
            Kind::LongText => "long-text",
            Kind::Checkbox => "boolean",
            Kind::Timeline => "timerange",
            Kind::BoardRelation => "board-relation",
            Kind::Name => "name",
            _ => return type_name.to_string(),
        }
        .to_string()
    }

    /// The server-side class name Monday puts in `error_data.column_type`.
    fn class_name(self) -> &'static str {
        match self {
            Kind::Name => "NameColumn",
            Kind::Text => "TextColumn",
            Kind::LongText => "LongTextColumn",
            Kind::Numbers => "NumericColumn",
            Kind::Status => "StatusColumn",
            Kind::Dropdown => "DropdownColumn",
            Kind::Date => "DateColumn",
            Kind::Email => "EmailColumn",
            Kind::Phone => "PhoneColumn",
            Kind::Link => "LinkColumn",
            Kind::Checkbox => "CheckboxColumn",
            Kind::Country => "CountryColumn",
            Kind::People => "MultiplePersonColumn",
            Kind::BoardRelation => "BoardRelationColumn",
            Kind::Timeline => "TimelineColumn",
            Kind::Rating => "RatingColumn",
            Kind::Other => "Column",
        }
    }
}

/// A rejected column value: Monday's `ColumnValueException`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ColumnValueError {
    /// Human-readable message, as Monday words it.
    pub message: String,
    /// `error_data` (`column_value`, `column_type`, ...).
    pub error_data: Value,
}

const INVALID_VALUE: &str = "invalid value, please check our API documentation for the correct data structure for this column. https://developer.monday.com/api-reference/docs/change-column-values";

fn invalid(kind: Kind, input: &Value) -> ColumnValueError {
    invalid_msg(kind, input, INVALID_VALUE.to_string())
}

fn invalid_msg(kind: Kind, input: &Value, message: String) -> ColumnValueError {
    let shown = match input {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    ColumnValueError {
        message,
        error_data: json!({ "column_value": shown, "column_type": kind.class_name() }),
    }
}

/// What a write needs to know beyond the column itself.
pub struct WriteCtx<'a> {
    /// The account's users (for people columns).
    pub users: &'a [UserRec],
    /// Board id of an existing, non-deleted item (for board_relation columns).
    pub item_board: &'a dyn Fn(u64) -> Option<String>,
    /// `create_labels_if_missing` of the mutation.
    pub create_labels_if_missing: bool,
    /// Timestamp to put in `changed_at`.
    pub changed_at: String,
}

/// Parses a write for `col` (simple string or structured JSON, as Monday accepts in `column_values`),
/// returning the value to store (`None` clears the column). May add labels to the column's settings
/// when `create_labels_if_missing` is set.
pub fn parse_write(
    col: &mut ColumnDef,
    input: &Value,
    ctx: &WriteCtx<'_>,
) -> Result<Option<Value>, ColumnValueError> {
    let kind = Kind::of(&col.kind);
    let structured = match input {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::Object(m) if m.is_empty() => return Ok(None),
        Value::String(s) => simple_to_structured(kind, s),
        other => other.clone(),
    };
    structured_write(kind, col, &structured, input, ctx)
}

/// Converts the simple string form (`change_simple_column_value`, or a string in `column_values`)
/// to the structured form.
fn simple_to_structured(kind: Kind, s: &str) -> Value {
    let s = s.trim();
    match kind {
        Kind::Status => json!({ "label": s }),
        Kind::Dropdown => {
            json!({ "labels": s.split(',').map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>() })
        }
        Kind::Date => {
            let mut parts = s.splitn(2, ' ');
            let date = parts.next().unwrap_or_default();
            match parts.next() {
                Some(t) => json!({ "date": date, "time": t.trim() }),
                None => json!({ "date": date }),
            }
        }
        Kind::Email => {
            let mut parts = s.splitn(2, ' ');
            let email = parts.next().unwrap_or_default();
            let text = parts.next().map(str::trim).unwrap_or(email);
            json!({ "email": email, "text": text })
        }
        Kind::Phone => match s.rsplit_once(' ') {
            Some((phone, country)) if country.len() == 2 => {
                json!({ "phone": phone.trim(), "countryShortName": country })
            }
            _ => json!({ "phone": s }),
        },
        Kind::Link => {
            let mut parts = s.splitn(2, ' ');
            let url = parts.next().unwrap_or_default();
            let text = parts.next().map(str::trim).unwrap_or(url);
            json!({ "url": url, "text": text })
        }
        Kind::Checkbox => json!({ "checked": s }),
        Kind::Country => json!({ "countryCode": s }),
        Kind::People => {
            let persons: Vec<Value> = s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| match p.parse::<u64>() {
                    Ok(id) => json!({ "id": id, "kind": "person" }),
                    Err(_) => json!({ "id": p, "kind": "person" }),
                })
                .collect();
            json!({ "personsAndTeams": persons })
        }
        Kind::BoardRelation => {
            let ids: Vec<Value> = s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<u64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(p.to_string()))
                })
                .collect();
            json!({ "item_ids": ids })
        }
        Kind::Timeline => match s.split_once(';').or_else(|| s.split_once(" - ")) {
            Some((from, to)) => json!({ "from": from.trim(), "to": to.trim() }),
            None => json!({ "from": s }),
        },
        Kind::Rating => match s.parse::<i64>() {
            Ok(n) => json!({ "rating": n }),
            Err(_) => json!({ "rating": s }),
        },
        Kind::Text | Kind::LongText | Kind::Numbers | Kind::Name | Kind::Other => {
            Value::String(s.to_string())
        }
    }
}

fn get_str<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn structured_write(
    kind: Kind,
    col: &mut ColumnDef,
    v: &Value,
    raw: &Value,
    ctx: &WriteCtx<'_>,
) -> Result<Option<Value>, ColumnValueError> {
    let at = ctx.changed_at.clone();
    match kind {
        Kind::Name => match v {
            Value::String(s) => Ok(Some(Value::String(s.clone()))),
            _ => Err(invalid(kind, raw)),
        },
        Kind::Text => match v {
            Value::String(s) => Ok(Some(Value::String(s.clone()))),
            Value::Number(n) => Ok(Some(Value::String(n.to_string()))),
            _ => Err(invalid(kind, raw)),
        },
        Kind::LongText => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Object(_) => get_str(v, "text")
                    .ok_or_else(|| invalid(kind, raw))?
                    .to_string(),
                _ => return Err(invalid(kind, raw)),
            };
            if text.is_empty() {
                return Ok(None);
            }
            Ok(Some(json!({ "text": text, "changed_at": at })))
        }
        Kind::Numbers => {
            let s = match v {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid(kind, raw)),
            };
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Some(Value::String(s))),
                _ => Err(invalid(kind, raw)),
            }
        }
        Kind::Status => status_write(col, v, raw, ctx),
        Kind::Dropdown => dropdown_write(col, v, raw, ctx),
        Kind::Date => {
            let date = get_str(v, "date").ok_or_else(|| invalid(kind, raw))?;
            if date.is_empty() {
                return Ok(None);
            }
            if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                return Err(invalid(kind, raw));
            }
            let mut out = Map::new();
            out.insert("date".into(), json!(date));
            out.insert("icon".into(), Value::Null);
            match v.get("time") {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) if t.is_empty() => {}
                Some(Value::String(t)) => {
                    let t = normalize_time(t).ok_or_else(|| invalid(kind, raw))?;
                    out.insert("time".into(), json!(t));
                }
                Some(_) => return Err(invalid(kind, raw)),
            }
            out.insert("changed_at".into(), json!(at));
            Ok(Some(Value::Object(out)))
        }
        Kind::Email => {
            let email = get_str(v, "email")
                .ok_or_else(|| invalid(kind, raw))?
                .trim();
            if email.is_empty() {
                return Ok(None);
            }
            if !valid_email(email) {
                return Err(invalid(kind, raw));
            }
            let text = get_str(v, "text")
                .filter(|t| !t.is_empty())
                .unwrap_or(email);
            Ok(Some(
                json!({ "email": email, "text": text, "changed_at": at }),
            ))
        }
        Kind::Phone => {
            let phone = get_str(v, "phone")
                .ok_or_else(|| invalid(kind, raw))?
                .trim();
            if phone.is_empty() {
                return Ok(None);
            }
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            if digits < 3
                || !phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-() .".contains(c))
            {
                return Err(invalid(kind, raw));
            }
            let country = get_str(v, "countryShortName").ok_or_else(|| {
                invalid_msg(
                    kind,
                    raw,
                    "Phone number is missing a valid country short name (countryShortName)"
                        .to_string(),
                )
            })?;
            if country_name(country).is_none() {
                return Err(invalid_msg(
                    kind,
                    raw,
                    format!("Invalid country short name: {country}"),
                ));
            }
            Ok(Some(
                json!({ "phone": phone, "countryShortName": country, "changed_at": at }),
            ))
        }
        Kind::Link => {
            let url = get_str(v, "url").ok_or_else(|| invalid(kind, raw))?.trim();
            if url.is_empty() {
                return Ok(None);
            }
            if !has_protocol(url) {
                return Err(invalid_msg(
                    kind,
                    raw,
                    "Link column value must include a valid URL with a protocol (e.g. https://)"
                        .to_string(),
                ));
            }
            let text = get_str(v, "text").filter(|t| !t.is_empty()).unwrap_or(url);
            Ok(Some(json!({ "url": url, "text": text, "changed_at": at })))
        }
        Kind::Checkbox => {
            let checked = match v.get("checked") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "true" => true,
                Some(Value::String(s)) if s == "false" => false,
                _ => return Err(invalid(kind, raw)),
            };
            if checked {
                Ok(Some(json!({ "checked": true, "changed_at": at })))
            } else {
                Ok(Some(json!({ "checked": false, "changed_at": at })))
            }
        }
        Kind::Country => {
            let code = get_str(v, "countryCode").ok_or_else(|| invalid(kind, raw))?;
            let name = country_name(code).ok_or_else(|| invalid(kind, raw))?;
            if let Some(given) = get_str(v, "countryName") {
                if given != name {
                    return Err(invalid(kind, raw));
                }
            }
            Ok(Some(
                json!({ "countryCode": code, "countryName": name, "changed_at": at }),
            ))
        }
        Kind::People => {
            let list = v
                .get("personsAndTeams")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(kind, raw))?;
            if list.is_empty() {
                return Ok(None);
            }
            let mut out = Vec::new();
            for p in list {
                let id = id_of(p.get("id")).ok_or_else(|| invalid(kind, raw))?;
                let kind_str = get_str(p, "kind").unwrap_or("person");
                if kind_str != "person" || !ctx.users.iter().any(|u| u.id == id.to_string()) {
                    return Err(invalid_msg(
                        kind,
                        raw,
                        format!("The user or team with id {id} does not exist"),
                    ));
                }
                out.push(json!({ "id": id, "kind": "person" }));
            }
            Ok(Some(json!({ "changed_at": at, "personsAndTeams": out })))
        }
        Kind::BoardRelation => {
            let ids = v
                .get("item_ids")
                .or_else(|| v.get("itemIds"))
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(kind, raw))?;
            if ids.is_empty() {
                return Ok(None);
            }
            let allowed: Vec<String> = col.settings()["boardIds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|b| id_of(Some(b)).map(|n| n.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let mut linked = Vec::new();
            for id in ids {
                let id = id_of(Some(id)).ok_or_else(|| invalid(kind, raw))?;
                match (ctx.item_board)(id) {
                    Some(board) if allowed.is_empty() || allowed.contains(&board) => {
                        linked.push(json!({ "linkedPulseId": id }));
                    }
                    _ => {
                        return Err(invalid_msg(
                            kind,
                            raw,
                            format!(
                                "Item {id} does not exist on the boards connected to this column"
                            ),
                        ))
                    }
                }
            }
            Ok(Some(json!({ "changed_at": at, "linkedPulseIds": linked })))
        }
        Kind::Timeline => {
            let from = get_str(v, "from").ok_or_else(|| invalid(kind, raw))?;
            let to = get_str(v, "to").ok_or_else(|| invalid(kind, raw))?;
            let f = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d")
                .map_err(|_| invalid(kind, raw))?;
            let t = chrono::NaiveDate::parse_from_str(to, "%Y-%m-%d")
                .map_err(|_| invalid(kind, raw))?;
            if t < f {
                return Err(invalid(kind, raw));
            }
            let mut out = Map::new();
            out.insert("from".into(), json!(from));
            out.insert("to".into(), json!(to));
            if let Some(vt) = v.get("visualization_type").filter(|x| !x.is_null()) {
                out.insert("visualization_type".into(), vt.clone());
            }
            out.insert("changed_at".into(), json!(at));
            Ok(Some(Value::Object(out)))
        }
        Kind::Rating => {
            let max = col.settings()["max"].as_i64().unwrap_or(5);
            let n = match v.get("rating") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| invalid(kind, raw))?;
            if n == 0 {
                return Ok(None);
            }
            if !(1..=max).contains(&n) {
                return Err(invalid(kind, raw));
            }
            Ok(Some(json!({ "rating": n, "changed_at": at })))
        }
        Kind::Other => Ok(Some(v.clone())),
    }
}

fn id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn normalize_time(t: &str) -> Option<String> {
    let t = t.trim();
    for fmt in ["%H:%M:%S", "%H:%M"] {
        if let Ok(parsed) = chrono::NaiveTime::parse_from_str(t, fmt) {
            return Some(parsed.format("%H:%M:%S").to_string());
        }
    }
    None
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn has_protocol(url: &str) -> bool {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && !rest.is_empty()
        }
        None => false,
    }
}

/// Status labels of a column: (index, label) in index order.
pub fn status_labels(col: &ColumnDef) -> Vec<(i64, String)> {
    let settings = col.settings();
    let mut out: Vec<(i64, String)> = settings["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse::<i64>().ok()?, v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|(i, _)| *i);
    out
}

/// The status index of the default (blank) label, which every status column has.
const DEFAULT_STATUS_INDEX: i64 = 5;

fn status_write(
    col: &mut ColumnDef,
    v: &Value,
    raw: &Value,
    ctx: &WriteCtx<'_>,
) -> Result<Option<Value>, ColumnValueError> {
    let kind = Kind::Status;
    let labels = status_labels(col);
    let index = if let Some(idx) = v.get("index") {
        let idx = match idx {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(kind, raw))?;
        // Index 5 is the default (blank) label: always present, even when `labels` omits it.
        if idx != DEFAULT_STATUS_INDEX && !labels.iter().any(|(i, _)| *i == idx) {
            return Err(invalid_msg(
                kind,
                raw,
                format!(
                    "This status index doesn't exist, possible statuses are: {}",
                    list_labels(&labels)
                ),
            ));
        }
        idx
    } else if let Some(label) = v.get("label") {
        let label = label.as_str().ok_or_else(|| invalid(kind, raw))?;
        match labels.iter().find(|(_, l)| l == label) {
            Some((i, _)) => *i,
            None if ctx.create_labels_if_missing => add_status_label(col, label),
            None => {
                return Err(invalid_msg(
                    kind,
                    raw,
                    format!(
                        "This status label doesn't exist, possible statuses are: {}",
                        list_labels(&labels)
                    ),
                ))
            }
        }
    } else {
        return Err(invalid(kind, raw));
    };
    Ok(Some(
        json!({ "index": index, "post_id": null, "changed_at": ctx.changed_at }),
    ))
}

fn list_labels(labels: &[(i64, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(i, l)| format!("{i}: {l}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn add_status_label(col: &mut ColumnDef, label: &str) -> i64 {
    let mut settings = col.settings();
    let used: Vec<i64> = status_labels(col).into_iter().map(|(i, _)| i).collect();
    let index = (0..20)
        .chain(101..200)
        .find(|i| *i != DEFAULT_STATUS_INDEX && !used.contains(i))
        .unwrap_or(200 + used.len() as i64);
    if !settings["labels"].is_object() {
        settings["labels"] = json!({});
    }
    settings["labels"][index.to_string()] = json!(label);
    if settings["labels_colors"].is_object() {
        settings["labels_colors"][index.to_string()] =
            json!({ "color": "#c4c4c4", "border": "#b0b0b0", "var_name": "grey" });
    }
    if let Some(pos) = settings["labels_positions_v2"].as_object_mut() {
        let next = pos.len();
        pos.insert(index.to_string(), json!(next));
    }
    col.settings_str = settings.to_string();
    index
}

/// Dropdown labels of a column: (id, name).
pub fn dropdown_labels(col: &ColumnDef) -> Vec<(i64, String)> {
    col.settings()["labels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    Some((l.get("id")?.as_i64()?, l.get("name")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn dropdown_write(
    col: &mut ColumnDef,
    v: &Value,
    raw: &Value,
    ctx: &WriteCtx<'_>,
) -> Result<Option<Value>, ColumnValueError> {
    let kind = Kind::Dropdown;
    let labels = dropdown_labels(col);
    let has_labels = v.get("labels").is_some();
    let has_ids = v.get("ids").is_some();
    if has_labels && has_ids {
        return Err(invalid_msg(
            kind,
            raw,
            "Dropdown column value can contain either labels or ids, not both".to_string(),
        ));
    }
    let mut ids = Vec::new();
    if has_ids {
        let arr: Vec<Value> = match &v["ids"] {
            Value::Array(a) => a.clone(),
            Value::String(s) => s.split(',').map(|p| json!(p.trim())).collect(),
            other => vec![other.clone()],
        };
        for id in arr {
            let id = match &id {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| invalid(kind, raw))?;
            if !labels.iter().any(|(i, _)| *i == id) {
                return Err(invalid_msg(
                    kind,
                    raw,
                    format!(
                        "The dropdown label with id {id} doesn't exist, possible labels are: {}",
                        list_labels(&labels)
                    ),
                ));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    } else if has_labels {
        let arr: Vec<String> = match &v["labels"] {
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(kind, raw))
                })
                .collect::<Result<_, _>>()?,
            Value::String(s) => s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            _ => return Err(invalid(kind, raw)),
        };
        for name in arr {
            let current = dropdown_labels(col);
            let id = match current.iter().find(|(_, n)| *n == name) {
                Some((i, _)) => *i,
                None if ctx.create_labels_if_missing => add_dropdown_label(col, &name),
                None => {
                    return Err(invalid_msg(
                        kind,
                        raw,
                        format!(
                            "The dropdown label '{name}' doesn't exist, possible labels are: {}",
                            list_labels(&current)
                        ),
                    ))
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    } else {
        return Err(invalid(kind, raw));
    }
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({ "ids": ids })))
}

fn add_dropdown_label(col: &mut ColumnDef, name: &str) -> i64 {
    let mut settings = col.settings();
    let next = dropdown_labels(col)
        .iter()
        .map(|(i, _)| *i)
        .max()
        .unwrap_or(0)
        + 1;
    if !settings["labels"].is_array() {
        settings["labels"] = json!([]);
    }
    if let Some(a) = settings["labels"].as_array_mut() {
        a.push(json!({ "id": next, "name": name }));
    }
    col.settings_str = settings.to_string();
    next
}

/// The `text` Monday renders for a stored value (`None` = JSON null).
pub fn render_text(col: &ColumnDef, stored: Option<&Value>, users: &[UserRec]) -> Option<String> {
    let kind = Kind::of(&col.kind);
    let Some(v) = stored else {
        return match kind {
            Kind::Status | Kind::Dropdown | Kind::BoardRelation => None,
            _ => Some(String::new()),
        };
    };
    let s = |key: &str| get_str(v, key).unwrap_or_default().to_string();
    Some(match kind {
        Kind::Name | Kind::Text | Kind::Numbers => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Kind::LongText => s("text"),
        Kind::Status => {
            let idx = v.get("index").and_then(Value::as_i64)?;
            return status_labels(col)
                .into_iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, l)| l);
        }
        Kind::Dropdown => {
            let labels = dropdown_labels(col);
            let names: Vec<String> = v["ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|id| id.as_i64())
                        .filter_map(|id| {
                            labels
                                .iter()
                                .find(|(i, _)| *i == id)
                                .map(|(_, n)| n.clone())
                        })
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                return None;
            }
            names.join(", ")
        }
        Kind::Date => {
            let date = s("date");
            match get_str(v, "time") {
                Some(t) if !t.is_empty() => format!("{date} {}", &t[..t.len().min(5)]),
                _ => date,
            }
        }
        Kind::Email => s("email"),
        Kind::Phone => s("phone"),
        Kind::Link => {
            let url = s("url");
            let text = s("text");
            if text.is_empty() {
                url
            } else {
                format!("{text} - {url}")
            }
        }
        Kind::Checkbox => {
            if v.get("checked").and_then(Value::as_bool).unwrap_or(false) {
                "v".to_string()
            } else {
                String::new()
            }
        }
        Kind::Country => s("countryName"),
        Kind::People => people_names(v, users).join(", "),
        Kind::BoardRelation => return None,
        Kind::Timeline => {
            let from = s("from");
            let to = s("to");
            if from.is_empty() && to.is_empty() {
                String::new()
            } else {
                format!("{from} - {to}")
            }
        }
        Kind::Rating => v.get("rating").map(|r| r.to_string()).unwrap_or_default(),
        Kind::Other => String::new(),
    })
}

fn people_names(v: &Value, users: &[UserRec]) -> Vec<String> {
    v["personsAndTeams"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| id_of(p.get("id")))
                .filter_map(|id| {
                    users
                        .iter()
                        .find(|u| u.id == id.to_string())
                        .map(|u| u.name.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Item ids linked by a stored board_relation value.
pub fn linked_item_ids(stored: Option<&Value>) -> Vec<u64> {
    stored
        .and_then(|v| v["linkedPulseIds"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|l| id_of(l.get("linkedPulseId")))
                .collect()
        })
        .unwrap_or_default()
}

/// The `value` a webhook carries for a stored value (`previousValue` too), per column type.
pub fn webhook_value(col: &ColumnDef, stored: Option<&Value>) -> Value {
    let kind = Kind::of(&col.kind);
    let Some(v) = stored else {
        return Value::Null;
    };
    match kind {
        Kind::Text | Kind::Name => json!({ "value": v.as_str().unwrap_or_default() }),
        Kind::Numbers => {
            let n = v.as_str().and_then(|s| s.parse::<f64>().ok());
            let num = match n {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
                Some(f) => json!(f),
                None => Value::Null,
            };
            json!({ "value": num, "unit": null })
        }
        Kind::LongText => json!({ "text": v["text"], "changed_at": v["changed_at"] }),
        Kind::Status => {
            let idx = v.get("index").and_then(Value::as_i64).unwrap_or(5);
            let settings = col.settings();
            let text = status_labels(col)
                .into_iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, l)| l);
            let style = settings["labels_colors"]
                .get(idx.to_string())
                .cloned()
                .unwrap_or_else(
                    || json!({ "color": "#c4c4c4", "border": "#b0b0b0", "var_name": "grey" }),
                );
            let done = settings["done_colors"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x.as_i64() == Some(idx)));
            json!({ "label": { "index": idx, "text": text, "style": style, "is_done": done }, "post_id": null })
        }
        Kind::Dropdown => {
            let labels = dropdown_labels(col);
            let chosen: Vec<Value> = v["ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_i64)
                        .filter_map(|id| labels.iter().find(|(i, _)| *i == id))
                        .map(|(i, n)| json!({ "id": i, "name": n }))
                        .collect()
                })
                .unwrap_or_default();
            json!({ "chosenValues": chosen })
        }
        Kind::Date => json!({
            "date": v["date"], "icon": null, "time": v.get("time").cloned().unwrap_or(Value::Null),
            "changed_at": v["changed_at"]
        }),
        _ => v.clone(),
    }
}

/// The `previousValue` a webhook carries for the value a column held before the change. Like
/// [`webhook_value`], except that a people column that was empty is `{}` (the real 2025 capture of
/// `update_column_value` on an empty person column), where other types that were empty are `null`.
pub fn webhook_previous_value(col: &ColumnDef, stored: Option<&Value>) -> Value {
    match (Kind::of(&col.kind), stored) {
        (Kind::People, None) => json!({}),
        _ => webhook_value(col, stored),
    }
}

/// Strips `changed_at` (recursively at the top level) for comparisons.
pub fn without_changed_at(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "changed_at")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// ISO 3166-1 alpha-2 codes and the names Monday shows (a subset: the Americas, Europe, and the most
/// populous countries elsewhere).
pub const COUNTRIES: &[(&str, &str)] = &[
    ("AR", "Argentina"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BD", "Bangladesh"),
    ("BE", "Belgium"),
    ("BG", "Bulgaria"),
    ("BO", "Bolivia"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CL", "Chile"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CR", "Costa Rica"),
    ("CU", "Cuba"),
    ("CY", "Cyprus"),
    ("CZ", "Czech Republic"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("DO", "Dominican Republic"),
    ("EC", "Ecuador"),
    ("EE", "Estonia"),
    ("EG", "Egypt"),
    ("ES", "Spain"),
    ("ET", "Ethiopia"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GH", "Ghana"),
    ("GR", "Greece"),
    ("GT", "Guatemala"),
    ("HN", "Honduras"),
    ("HR", "Croatia"),
    ("HT", "Haiti"),
    ("HU", "Hungary"),
    ("ID", "Indonesia"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IN", "India"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("JM", "Jamaica"),
    ("JP", "Japan"),
    ("KE", "Kenya"),
    ("KR", "South Korea"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("MA", "Morocco"),
    ("MT", "Malta"),
    ("MX", "Mexico"),
    ("MY", "Malaysia"),
    ("NG", "Nigeria"),
    ("NI", "Nicaragua"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NZ", "New Zealand"),
    ("PA", "Panama"),
    ("PE", "Peru"),
    ("PH", "Philippines"),
    ("PK", "Pakistan"),
    ("PL", "Poland"),
    ("PR", "Puerto Rico"),
    ("PT", "Portugal"),
    ("PY", "Paraguay"),
    ("RO", "Romania"),
    ("RS", "Serbia"),
    ("RW", "Rwanda"),
    ("SA", "Saudi Arabia"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("SI", "Slovenia"),
    ("SK", "Slovakia"),
    ("SN", "Senegal"),
    ("SV", "El Salvador"),
    ("TH", "Thailand"),
    ("TR", "Turkey"),
    ("TZ", "Tanzania"),
    ("UA", "Ukraine"),
    ("UG", "Uganda"),
    ("US", "United States"),
    ("UY", "Uruguay"),
    ("VE", "Venezuela"),
    ("VN", "Vietnam"),
    ("ZA", "South Africa"),
];

/// The country name for an ISO alpha-2 code, if known.
pub fn country_name(code: &str) -> Option<&'static str> {
    COUNTRIES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(kind: &str, settings: Value) -> ColumnDef {
        ColumnDef {
            id: format!("{kind}_x"),
            title: kind.into(),
            kind: kind.into(),
            settings_str: settings.to_string(),
            description: None,
            archived: false,
        }
    }

    fn users() -> Vec<UserRec> {
        vec![UserRec {
            id: "7".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.org".into(),
        }]
    }

    /// Writes a simple string (as `change_simple_column_value` sends it) and renders it.
    fn simple(
        c: &mut ColumnDef,
        s: &str,
    ) -> Result<(Option<Value>, Option<String>), ColumnValueError> {
        let users = users();
        let lookup = |id: u64| (id == 42).then(|| "1".to_string());
        let ctx = WriteCtx {
            users: &users,
            item_board: &lookup,
            create_labels_if_missing: false,
            changed_at: "T".into(),
        };
        let v = parse_write(c, &json!(s), &ctx)?;
        let t = render_text(c, v.as_ref(), &users);
        Ok((v.map(|v| without_changed_at(&v)), t))
    }

    #[test]
    fn simple_string_forms_per_type() {
        let mut status = col(
            "status",
            json!({ "labels": { "0": "Working on it", "1": "Done", "105": "Later" } }),
        );
        assert_eq!(
            simple(&mut status, "Later").unwrap(),
            (
                Some(json!({ "index": 105, "post_id": null })),
                Some("Later".into())
            )
        );
        let mut dd = col(
            "dropdown",
            json!({ "labels": [{ "id": 1, "name": "a" }, { "id": 2, "name": "b" }] }),
        );
        assert_eq!(
            simple(&mut dd, "b, a").unwrap(),
            (Some(json!({ "ids": [2, 1] })), Some("b, a".into()))
        );
        let mut date = col("date", json!({}));
        assert_eq!(
            simple(&mut date, "2026-01-02 10:00").unwrap().1.as_deref(),
            Some("2026-01-02 10:00")
        );
        let mut email = col("email", json!({}));
        assert_eq!(
            simple(&mut email, "ada@example.org Ada").unwrap().0,
            Some(json!({ "email": "ada@example.org", "text": "Ada" }))
        );
        let mut phone = col("phone", json!({}));
        assert_eq!(
            simple(&mut phone, "12125551234 US").unwrap().0,
            Some(json!({ "phone": "12125551234", "countryShortName": "US" }))
        );
        let mut link = col("link", json!({}));
        assert_eq!(
            simple(&mut link, "https://x.org Site")
                .unwrap()
                .1
                .as_deref(),
            Some("Site - https://x.org")
        );
        let mut check = col("checkbox", json!({}));
        assert_eq!(simple(&mut check, "true").unwrap().1.as_deref(), Some("v"));
        let mut country = col("country", json!({}));
        assert_eq!(
            simple(&mut country, "NL").unwrap().1.as_deref(),
            Some("Netherlands")
        );
        let mut people = col("people", json!({}));
        assert_eq!(
            simple(&mut people, "7").unwrap().1.as_deref(),
            Some("Ada Lovelace")
        );
        let mut rel = col("board_relation", json!({ "boardIds": [1] }));
        assert_eq!(
            simple(&mut rel, "42").unwrap(),
            (
                Some(json!({ "linkedPulseIds": [{ "linkedPulseId": 42 }] })),
                None
            )
        );
        assert!(
            simple(&mut rel, "43").is_err(),
            "items on other boards cannot be linked"
        );
        let mut rating = col("rating", json!({}));
        assert_eq!(simple(&mut rating, "5").unwrap().1.as_deref(), Some("5"));
        let mut tl = col("timeline", json!({}));
        assert_eq!(
            simple(&mut tl, "2026-01-01;2026-01-31")
                .unwrap()
                .1
                .as_deref(),
            Some("2026-01-01 - 2026-01-31")
        );
        // Empty clears; text-like columns render "" and status/dropdown render null when empty.
        assert_eq!(simple(&mut status, "").unwrap(), (None, None));
        assert_eq!(simple(&mut email, "").unwrap(), (None, Some(String::new())));
    }

    /// Writes a structured value (as `change_column_value` sends it) and renders it.
    fn structured(
        c: &mut ColumnDef,
        v: Value,
    ) -> Result<(Option<Value>, Option<String>), ColumnValueError> {
        let users = users();
        let lookup = |_: u64| None;
        let ctx = WriteCtx {
            users: &users,
            item_board: &lookup,
            create_labels_if_missing: false,
            changed_at: "T".into(),
        };
        let stored = parse_write(c, &v, &ctx)?;
        let t = render_text(c, stored.as_ref(), &users);
        Ok((stored.map(|v| without_changed_at(&v)), t))
    }

    proptest::proptest! {
        /// Index 5 is the default (blank) label every status column has, whether or not
        /// `settings_str.labels` lists it: writing it is accepted, as real Monday does, while any
        /// other index the board lacks is still refused.
        #[test]
        fn status_index_5_is_always_accepted(
            indexes in proptest::collection::btree_set(0i64..200, 0..8),
            other in 0i64..200,
            as_string in proptest::bool::ANY,
        ) {
            let labels: serde_json::Map<String, Value> = indexes
                .iter()
                .filter(|i| **i != 5)
                .map(|i| (i.to_string(), json!(format!("Label {i}"))))
                .collect();
            let mut status = col("status", json!({ "labels": labels }));
            let five = if as_string { json!({ "index": "5" }) } else { json!({ "index": 5 }) };
            let (stored, text) = structured(&mut status, five.clone())
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{five} refused: {}", e.message)))?;
            proptest::prop_assert_eq!(stored, Some(json!({ "index": 5, "post_id": null })));
            proptest::prop_assert_eq!(text, None, "the blank default label renders no text");
            if other != 5 && !indexes.contains(&other) {
                let refused = structured(&mut status, json!({ "index": other }));
                proptest::prop_assert!(refused.is_err(), "index {} accepted", other);
            }
        }
    }

    #[test]
    fn status_index_5_renders_the_boards_label_when_renamed() {
        let mut status = col(
            "status",
            json!({ "labels": { "0": "Working on it", "1": "Done", "5": "Not started" } }),
        );
        assert_eq!(
            structured(&mut status, json!({ "index": 5 })).unwrap(),
            (
                Some(json!({ "index": 5, "post_id": null })),
                Some("Not started".into())
            )
        );
    }

    #[test]
    fn create_labels_if_missing_adds_sparse_indexes() {
        let mut status = col(
            "status",
            json!({ "labels": { "0": "A", "1": "B" }, "labels_colors": {}, "labels_positions_v2": { "0": 0, "1": 1, "5": 2 } }),
        );
        let users = users();
        let lookup = |_: u64| None;
        let ctx = WriteCtx {
            users: &users,
            item_board: &lookup,
            create_labels_if_missing: true,
            changed_at: "T".into(),
        };
        let v = parse_write(&mut status, &json!({ "label": "C" }), &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(v["index"], 2);
        let v = parse_write(&mut status, &json!({ "label": "D" }), &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(v["index"], 3);
        assert_eq!(status_labels(&status).len(), 4);
        assert!(
            !status_labels(&status).iter().any(|(i, _)| *i == 5),
            "index 5 is the blank label"
        );
        let mut dd = col("dropdown", json!({ "labels": [{ "id": 1, "name": "a" }] }));
        let v = parse_write(&mut dd, &json!({ "labels": ["a", "z"] }), &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(v, json!({ "ids": [1, 2] }));
    }

    #[test]
    fn legacy_webhook_type_names() {
        assert_eq!(Kind::of("status").legacy_name("status"), "color");
        assert_eq!(Kind::of("people").legacy_name("people"), "multiple-person");
        assert_eq!(Kind::of("checkbox").legacy_name("checkbox"), "boolean");
        assert_eq!(Kind::of("email").legacy_name("email"), "email");
    }
}
