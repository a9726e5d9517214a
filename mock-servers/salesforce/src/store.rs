//! Records in memory: validation like a real org, writes, reads and SOQL evaluation.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::ids;
use crate::schema::{FieldDef, ObjectDef, Schema};
use crate::soql::{CompareOp, Condition, DateLiteral, FieldRef, Literal, Query, Select};
use crate::MockError;

/// A stored record: canonical field name → value, in describe order.
pub type Record = IndexMap<String, Value>;

/// Formats a timestamp the way Salesforce does (`2024-01-31T10:00:00.000+0000`).
pub fn sf_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// All records of the org. Cloning is how transactions (allOrNone) roll back.
#[derive(Clone, Debug, Default)]
pub struct Data {
    tables: BTreeMap<String, IndexMap<String, Record>>,
    seq: u64,
}

/// Who writes and when.
#[derive(Clone, Debug)]
pub struct WriteCtx {
    /// The user recorded in `CreatedById`/`LastModifiedById` (and default `OwnerId`).
    pub user_id: String,
    /// Now.
    pub now: DateTime<Utc>,
}

fn table_key(obj: &ObjectDef) -> String {
    obj.name.to_ascii_lowercase()
}

impl Data {
    /// Loads `records/<Object>.json` for every object in the schema (missing files = no records).
    pub fn load(schema: &Schema, seed_dir: &Path) -> Result<Data, MockError> {
        let mut data = Data {
            tables: BTreeMap::new(),
            seq: 100_000,
        };
        for obj in schema.objects() {
            data.tables.insert(table_key(obj), IndexMap::new());
        }
        for obj in schema.objects() {
            let path = seed_dir.join("records").join(format!("{}.json", obj.name));
            if !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| MockError::Io {
                path: path.clone(),
                source,
            })?;
            let rows: Vec<Map<String, Value>> =
                serde_json::from_str(&text).map_err(|source| MockError::Json {
                    path: path.clone(),
                    source,
                })?;
            for row in rows {
                let id = row
                    .get("Id")
                    .and_then(Value::as_str)
                    .and_then(ids::to_18)
                    .ok_or_else(|| {
                        MockError::Seed(format!("{}: record without a valid Id", path.display()))
                    })?;
                if ids::key_prefix(&id) != Some(obj.key_prefix.as_str()) {
                    return Err(MockError::Seed(format!(
                        "{}: Id {id} has the wrong key prefix",
                        path.display()
                    )));
                }
                let mut rec = Record::new();
                for f in &obj.fields {
                    let v = row.get(&f.name).cloned().unwrap_or(match f.ftype.as_str() {
                        "boolean" => Value::Bool(f.default_value.as_bool().unwrap_or(false)),
                        _ => Value::Null,
                    });
                    rec.insert(f.name.clone(), v);
                }
                for k in row.keys() {
                    if obj.field(k).is_none() {
                        return Err(MockError::Seed(format!(
                            "{}: field {k} is not in the describe",
                            path.display()
                        )));
                    }
                }
                rec.insert("Id".into(), Value::String(id.clone()));
                data.tables
                    .entry(table_key(obj))
                    .or_default()
                    .insert(id, rec);
            }
        }
        Ok(data)
    }

    /// Multiplies the seed deterministically: `n` copies of every record of every object except
    /// `User` (copy 1 is the seed itself). Copy `k` gets fresh Ids, its name fields (`Name`,
    /// `LastName`) end in ` k` and its email fields read `local+k@domain`, so names and emails
    /// stay unique; references to scaled objects point at the same copy's records (a copied
    /// Contact's `AccountId` is the copied Account), references to Users stay.
    pub fn scale(&mut self, schema: &Schema, n: u32) -> Result<(), MockError> {
        if n == 0 {
            return Err(MockError::Seed("--scale must be at least 1".into()));
        }
        let scaled: Vec<&ObjectDef> = schema
            .objects()
            .filter(|o| !o.name.eq_ignore_ascii_case("User"))
            .collect();
        // The seed's own records, per object, before any copy is added.
        let seed: Vec<(&ObjectDef, Vec<Record>)> = scaled
            .iter()
            .map(|obj| (*obj, self.table(obj).cloned().collect()))
            .collect();
        for k in 2..=u64::from(n) {
            // Seed Id → copy k's Id, for every scaled record (references are remapped with it).
            let mut ids_k: std::collections::HashMap<String, String> = Default::default();
            for (obj, records) in &seed {
                for (i, rec) in records.iter().enumerate() {
                    let Some(old) = rec.get("Id").and_then(Value::as_str) else {
                        continue;
                    };
                    let id = ids::make_id(&obj.key_prefix, k * 1_000_000 + i as u64 + 1);
                    if self.get_any(schema, &id).is_some() {
                        return Err(MockError::Seed(format!(
                            "--scale {n}: the generated Id {id} is already in the seed"
                        )));
                    }
                    ids_k.insert(old.to_string(), id);
                }
            }
            for (obj, records) in &seed {
                let table = self.tables.entry(table_key(obj)).or_default();
                for rec in records {
                    let copy = scaled_copy(obj, rec, k, &ids_k);
                    if let Some(id) = copy.get("Id").and_then(Value::as_str).map(str::to_owned) {
                        table.insert(id, copy);
                    }
                }
            }
        }
        Ok(())
    }

    /// All records of an object (including deleted ones).
    pub fn table(&self, obj: &ObjectDef) -> impl Iterator<Item = &Record> {
        self.tables
            .get(&table_key(obj))
            .into_iter()
            .flat_map(|t| t.values())
    }

    /// Number of live records per object.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.tables
            .iter()
            .map(|(k, t)| (k.clone(), t.values().filter(|r| !is_deleted(r)).count()))
            .collect()
    }

    /// A record by 15/18-char Id, deleted or not.
    pub fn get(&self, obj: &ObjectDef, id: &str) -> Option<&Record> {
        let id18 = ids::to_18(id)?;
        self.tables.get(&table_key(obj))?.get(&id18)
    }

    /// Finds a record by Id in any object.
    pub fn get_any<'s>(&self, schema: &'s Schema, id: &str) -> Option<(&'s ObjectDef, &Record)> {
        let id18 = ids::to_18(id)?;
        let obj = schema.by_prefix(ids::key_prefix(&id18)?)?;
        self.tables
            .get(&table_key(obj))?
            .get(&id18)
            .map(|r| (obj, r))
    }

    /// The next generated Id for an object.
    pub fn next_id(&mut self, obj: &ObjectDef) -> String {
        self.seq += 1;
        ids::make_id(&obj.key_prefix, self.seq)
    }

    /// Ids of live records whose `field` equals `value` (case-insensitive unless case-sensitive).
    pub fn find_by(&self, obj: &ObjectDef, field: &FieldDef, value: &str) -> Vec<String> {
        let want = if field.ftype == "id" || field.ftype == "reference" {
            ids::to_18(value).unwrap_or_else(|| value.to_string())
        } else {
            value.to_string()
        };
        self.table(obj)
            .filter(|r| !is_deleted(r))
            .filter(|r| match r.get(&field.name).and_then(Value::as_str) {
                Some(v) if field.case_sensitive => v == want,
                Some(v) => v.eq_ignore_ascii_case(&want),
                None => false,
            })
            .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Creates a record from a JSON body; returns the new Id.
    pub fn create(
        &mut self,
        schema: &Schema,
        obj: &ObjectDef,
        body: &Map<String, Value>,
        ctx: &WriteCtx,
    ) -> Result<String, ApiError> {
        let values = self.validate(schema, obj, body, None)?;
        let missing: Vec<String> = obj
            .fields
            .iter()
            .filter(|f| f.required_on_create())
            .filter(|f| values.get(&f.name).is_none_or(is_blank))
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
                missing,
            ));
        }
        let id = self.next_id(obj);
        let mut rec = Record::new();
        for f in &obj.fields {
            let v = match values.get(&f.name) {
                Some(v) => v.clone(),
                None => default_for(f),
            };
            rec.insert(f.name.clone(), v);
        }
        rec.insert("Id".into(), Value::String(id.clone()));
        let now = Value::String(sf_datetime(ctx.now));
        let user = Value::String(ctx.user_id.clone());
        for (k, v) in [
            ("CreatedDate", now.clone()),
            ("LastModifiedDate", now.clone()),
            ("SystemModstamp", now),
            ("CreatedById", user.clone()),
            ("LastModifiedById", user.clone()),
            ("IsDeleted", Value::Bool(false)),
        ] {
            if rec.contains_key(k) {
                rec.insert(k.into(), v);
            }
        }
        if rec.get("OwnerId").is_some_and(Value::is_null) {
            rec.insert("OwnerId".into(), user);
        }
        derive_fields(obj, &mut rec);
        self.check_unique(obj, &rec, None)?;
        self.tables
            .entry(table_key(obj))
            .or_default()
            .insert(id.clone(), rec);
        Ok(id)
    }

    /// Updates a live record from a JSON body.
    pub fn update(
        &mut self,
        schema: &Schema,
        obj: &ObjectDef,
        id: &str,
        body: &Map<String, Value>,
        ctx: &WriteCtx,
    ) -> Result<(), ApiError> {
        let id18 = ids::to_18(id).ok_or_else(ApiError::not_found)?;
        let existing = self.get(obj, &id18).ok_or_else(ApiError::not_found)?;
        if is_deleted(existing) {
            return Err(ApiError::with_fields(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
                vec![],
            ));
        }
        let values = self.validate(schema, obj, body, Some(&id18))?;
        let cleared: Vec<String> = obj
            .fields
            .iter()
            .filter(|f| f.required_on_create())
            .filter(|f| values.get(&f.name).is_some_and(is_blank))
            .map(|f| f.name.clone())
            .collect();
        if !cleared.is_empty() {
            return Err(ApiError::bad(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", cleared.join(", ")),
                cleared,
            ));
        }
        let mut rec = existing.clone();
        for (k, v) in values {
            rec.insert(k, v);
        }
        let now = Value::String(sf_datetime(ctx.now));
        for k in ["LastModifiedDate", "SystemModstamp"] {
            if rec.contains_key(k) {
                rec.insert(k.into(), now.clone());
            }
        }
        if rec.contains_key("LastModifiedById") {
            rec.insert(
                "LastModifiedById".into(),
                Value::String(ctx.user_id.clone()),
            );
        }
        derive_fields(obj, &mut rec);
        self.check_unique(obj, &rec, Some((&id18, existing)))?;
        self.tables
            .entry(table_key(obj))
            .or_default()
            .insert(id18, rec);
        Ok(())
    }

    /// Soft-deletes a record (it stays visible to `queryAll`).
    pub fn delete(&mut self, obj: &ObjectDef, id: &str, ctx: &WriteCtx) -> Result<(), ApiError> {
        let id18 = ids::to_18(id).ok_or_else(ApiError::not_found)?;
        let rec = self
            .tables
            .get_mut(&table_key(obj))
            .and_then(|t| t.get_mut(&id18))
            .ok_or_else(ApiError::not_found)?;
        if is_deleted(rec) {
            return Err(ApiError::with_fields(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
                vec![],
            ));
        }
        rec.insert("IsDeleted".into(), Value::Bool(true));
        if rec.contains_key("SystemModstamp") {
            rec.insert("SystemModstamp".into(), Value::String(sf_datetime(ctx.now)));
        }
        Ok(())
    }

    /// Refuses `rec` when a unique or external-id field holds another live record's value.
    /// `updating`: the record's Id and its stored version; a value the update leaves as it was
    /// is not searched for (it was unique when it was written, and searching every record of the
    /// table for it made each update cost a scan of the whole table).
    fn check_unique(
        &self,
        obj: &ObjectDef,
        rec: &Record,
        updating: Option<(&str, &Record)>,
    ) -> Result<(), ApiError> {
        let own_id = updating.map(|(id, _)| id);
        for f in obj
            .fields
            .iter()
            .filter(|f| (f.unique || f.external_id) && f.name != "Id")
        {
            let Some(v) = rec.get(&f.name).and_then(Value::as_str) else {
                continue;
            };
            if updating.is_some_and(|(_, before)| before.get(&f.name) == rec.get(&f.name)) {
                continue;
            }
            if let Some(other) = self
                .find_by(obj, f, v)
                .into_iter()
                .find(|o| Some(o.as_str()) != own_id)
            {
                return Err(ApiError::bad(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {other}",
                        f.name
                    ),
                    vec![],
                ));
            }
        }
        Ok(())
    }

    /// Checks a JSON body against the describe; returns canonical field name → stored value.
    fn validate(
        &self,
        schema: &Schema,
        obj: &ObjectDef,
        body: &Map<String, Value>,
        updating: Option<&str>,
    ) -> Result<IndexMap<String, Value>, ApiError> {
        let mut out = IndexMap::new();
        let mut not_writable = Vec::new();
        for (key, value) in body {
            if key == "attributes" {
                continue;
            }
            let Some(f) = obj.field(key) else {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    format!("No such column '{key}' on sobject of type {}", obj.name),
                ));
            };
            if f.name == "Id" {
                if let (Some(own), Some(given)) = (updating, value.as_str()) {
                    if ids::to_18(given).as_deref() == Some(own) {
                        continue;
                    }
                }
                if updating.is_none() && value.is_null() {
                    continue;
                }
            }
            let writable = if updating.is_some() {
                f.updateable
            } else {
                f.createable
            };
            if !writable {
                not_writable.push(f.name.clone());
                continue;
            }
            out.insert(f.name.clone(), self.coerce(schema, obj, f, value)?);
        }
        if !not_writable.is_empty() {
            return Err(ApiError::bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    not_writable.join(", ")
                ),
                not_writable,
            ));
        }
        Ok(out)
    }

    fn coerce(
        &self,
        schema: &Schema,
        obj: &ObjectDef,
        f: &FieldDef,
        value: &Value,
    ) -> Result<Value, ApiError> {
        let fields = || vec![f.name.clone()];
        let parse_err = |what: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                match short(value) {
                    v if v.is_empty() => format!(
                        "Cannot deserialize instance of {what} from {} value or request may be missing a required field",
                        json_token_kind(value)
                    ),
                    v => format!(
                        "Cannot deserialize instance of {what} from {} value {v} or request may be missing a required field",
                        json_token_kind(value)
                    ),
                },
            )
        };
        if value.is_null() {
            return Ok(match f.ftype.as_str() {
                "boolean" => Value::Bool(false),
                _ => Value::Null,
            });
        }
        match f.ftype.as_str() {
            "boolean" => match value {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
                _ => Err(parse_err("boolean")),
            },
            "int" | "double" | "currency" | "percent" | "long" => {
                let n = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|n| n.is_finite())
                .ok_or_else(|| parse_err("double"))?;
                let int_digits = f.precision.saturating_sub(f.scale);
                if f.precision > 0 && n.abs().trunc() >= 10f64.powi(int_digits as i32) {
                    return Err(ApiError::bad(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        format!(
                            "{}: value outside of valid range on numeric field: {n}",
                            f.label
                        ),
                        fields(),
                    ));
                }
                if f.ftype == "int" || f.ftype == "long" {
                    if n.fract() != 0.0 {
                        return Err(parse_err("int"));
                    }
                    Ok(json!(n as i64))
                } else {
                    let factor = 10f64.powi(f.scale as i32);
                    let rounded = if f.precision > 0 {
                        (n * factor).round() / factor
                    } else {
                        n
                    };
                    Ok(json!(rounded))
                }
            }
            "date" => {
                let s = value.as_str().ok_or_else(|| parse_err("date"))?;
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                    .map_err(|_| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "JSON_PARSER_ERROR",
                            format!("Cannot deserialize value of type `date` from String \"{s}\": expected format \"yyyy-MM-dd\""),
                        )
                    })
            }
            "datetime" => {
                let s = value.as_str().ok_or_else(|| parse_err("datetime"))?;
                parse_datetime(s).map(|t| Value::String(sf_datetime(t))).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "JSON_PARSER_ERROR",
                        format!("Cannot deserialize value of type `datetime` from String \"{s}\": expected format \"yyyy-MM-ddTHH:mm:ss.SSSZ\""),
                    )
                })
            }
            "id" | "reference" => {
                let s = match value {
                    Value::String(s) => s.clone(),
                    _ => return Err(parse_err("string")),
                };
                if s.is_empty() {
                    return Ok(Value::Null);
                }
                let id18 = ids::to_18(&s).ok_or_else(|| {
                    ApiError::bad(
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {s}", f.label),
                        fields(),
                    )
                })?;
                if f.name == "RecordTypeId" {
                    return if obj
                        .record_type_ids()
                        .iter()
                        .any(|r| ids::to_18(r).as_deref() == Some(&id18))
                    {
                        Ok(Value::String(id18))
                    } else {
                        Err(ApiError::bad(
                            "INVALID_CROSS_REFERENCE_KEY",
                            format!("Record Type ID: this ID value isn't valid for the user: {s}"),
                            fields(),
                        ))
                    };
                }
                let prefix = ids::key_prefix(&id18).unwrap_or_default();
                let target = f
                    .reference_to
                    .iter()
                    .filter_map(|r| schema.object(r))
                    .find(|o| o.key_prefix == prefix);
                let Some(target) = target else {
                    return Err(ApiError::bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{}: id value of incorrect type: {s}", f.label),
                        fields(),
                    ));
                };
                match self.get(target, &id18) {
                    Some(r) if !is_deleted(r) => Ok(Value::String(id18)),
                    Some(_) => Err(ApiError::bad(
                        "ENTITY_IS_DELETED",
                        "entity is deleted",
                        fields(),
                    )),
                    None => Err(ApiError::bad(
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                        fields(),
                    )),
                }
            }
            _ => {
                // text types
                let s = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(parse_err("string")),
                };
                if f.length > 0 && s.chars().count() as u64 > f.length {
                    return Err(ApiError::bad(
                        "STRING_TOO_LONG",
                        format!(
                            "{}: data value too large: {} (max length={})",
                            f.label,
                            truncate(&s, 80),
                            f.length
                        ),
                        fields(),
                    ));
                }
                if f.ftype == "email" && !s.is_empty() && !valid_email(&s) {
                    return Err(ApiError::bad(
                        "INVALID_EMAIL_ADDRESS",
                        format!("{}: invalid email address: {s}", f.label),
                        fields(),
                    ));
                }
                if f.restricted && !s.is_empty() {
                    let parts: Vec<&str> = if f.ftype == "multipicklist" {
                        s.split(';').collect()
                    } else {
                        vec![s.as_str()]
                    };
                    if let Some(bad) = parts.iter().find(|p| !f.picklist.iter().any(|v| v == *p)) {
                        return Err(ApiError::bad(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            format!(
                                "{}: bad value for restricted picklist field: {bad}",
                                f.label
                            ),
                            fields(),
                        ));
                    }
                }
                if s.is_empty() {
                    Ok(Value::Null)
                } else {
                    Ok(Value::String(s))
                }
            }
        }
    }
}

fn json_token_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => truncate(s, 40),
        Value::Array(_) | Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == ';' || c == '<' || c == '>')
        && !domain.contains('@')
}

/// Parses the datetime forms Salesforce accepts (`2024-01-31T10:00:00Z`, `…000+0000`, `…+01:00`).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

fn is_blank(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// True when the record is in the recycle bin.
pub fn is_deleted(r: &Record) -> bool {
    r.get("IsDeleted").and_then(Value::as_bool).unwrap_or(false)
}

fn default_for(f: &FieldDef) -> Value {
    match f.ftype.as_str() {
        "boolean" => Value::Bool(f.default_value.as_bool().unwrap_or(false)),
        "picklist" => f
            .default_value
            .as_str()
            .map(|s| Value::String(s.into()))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Fields a real org computes: compound `Name` of person objects, Opportunity `IsClosed`/`IsWon`.
fn derive_fields(obj: &ObjectDef, rec: &mut Record) {
    if obj.field("Name").is_some_and(|f| !f.createable) && obj.field("LastName").is_some() {
        let name = ["FirstName", "LastName"]
            .iter()
            .filter_map(|k| rec.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        rec.insert("Name".into(), Value::String(name));
    }
    if obj.name == "Opportunity" {
        let stage = rec
            .get("StageName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if rec.contains_key("IsClosed") {
            rec.insert("IsClosed".into(), Value::Bool(stage.starts_with("Closed")));
        }
        if rec.contains_key("IsWon") {
            rec.insert("IsWon".into(), Value::Bool(stage == "Closed Won"));
        }
    }
}

/// `{"attributes":{"type","url"}}` for a record.
pub fn attributes(obj: &ObjectDef, id: &str, version: &str) -> Value {
    json!({"type": obj.name, "url": format!("/services/data/v{version}/sobjects/{}/{id}", obj.name)})
}

/// Renders a record for `GET /sobjects/{Object}/{id}` (all fields, or only `fields`).
pub fn render(obj: &ObjectDef, rec: &Record, fields: Option<&[&FieldDef]>, version: &str) -> Value {
    let id = rec.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut m = Map::new();
    m.insert("attributes".into(), attributes(obj, id, version));
    match fields {
        Some(fs) => {
            for f in fs {
                m.insert(
                    f.name.clone(),
                    rec.get(&f.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
        None => {
            for (k, v) in rec {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(m)
}

// ---------------------------------------------------------------- SOQL evaluation

/// A field path resolved against the schema.
#[derive(Clone, Debug)]
struct Resolved {
    /// Relationship hops: (relationship name as in describe, reference field, target object).
    hops: Vec<(String, FieldDef, ObjectDef)>,
    /// The final field.
    field: FieldDef,
}

fn soql_error(code: &str, soql: &str, offset: usize, message: &str) -> ApiError {
    let col = soql
        .get(..offset)
        .map(|s| s.chars().count())
        .unwrap_or(offset)
        + 1;
    let caret = format!("{}^", " ".repeat(col.saturating_sub(1)));
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        format!("\n{soql}\n{caret}\nERROR at Row:1:Column:{col}\n{message}"),
    )
}

/// A SOQL syntax error as Salesforce reports it (`MALFORMED_QUERY`, with row and column).
pub fn malformed(soql: &str, e: &crate::soql::SoqlError) -> ApiError {
    soql_error("MALFORMED_QUERY", soql, e.offset, &e.message)
}

fn resolve(
    schema: &Schema,
    base: &ObjectDef,
    fr: &FieldRef,
    soql: &str,
) -> Result<Resolved, ApiError> {
    let mut cur = base.clone();
    let mut hops = Vec::new();
    let n = fr.path.len();
    for seg in fr.path.iter().take(n.saturating_sub(1)) {
        let Some(rf) = cur.relationship(seg).cloned() else {
            return Err(soql_error(
                "INVALID_FIELD",
                soql,
                fr.pos.0,
                &format!(
                    "Didn't understand relationship '{seg}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            ));
        };
        let Some(target) = rf
            .reference_to
            .iter()
            .find_map(|r| schema.object(r))
            .cloned()
        else {
            return Err(soql_error(
                "INVALID_FIELD",
                soql,
                fr.pos.0,
                &format!("Didn't understand relationship '{seg}' in field path."),
            ));
        };
        hops.push((
            rf.relationship_name.clone().unwrap_or_else(|| seg.clone()),
            rf,
            target.clone(),
        ));
        cur = target;
    }
    let last = &fr.path[n - 1];
    let Some(field) = cur.field(last).cloned() else {
        return Err(soql_error(
            "INVALID_FIELD",
            soql,
            fr.pos.0,
            &format!(
                "No such column '{last}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                cur.name
            ),
        ));
    };
    Ok(Resolved { hops, field })
}

fn value_at<'d>(data: &'d Data, rec: &'d Record, r: &Resolved) -> Option<&'d Value> {
    let mut cur = rec;
    for (_, rf, target) in &r.hops {
        let id = cur.get(&rf.name)?.as_str()?;
        cur = data.get(target, id)?;
    }
    cur.get(&r.field.name)
}

/// Comparable form of a value for a field type.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Cmp {
    Str(String),
    Num(f64),
    Bool(bool),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

fn field_cmp(f: &FieldDef, v: &Value) -> Option<Cmp> {
    if v.is_null() {
        return None;
    }
    match f.ftype.as_str() {
        "boolean" => v.as_bool().map(Cmp::Bool),
        "date" => v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(Cmp::Date),
        "datetime" => v.as_str().and_then(parse_datetime).map(Cmp::Time),
        _ if f.is_number() => v.as_f64().map(Cmp::Num),
        "id" | "reference" => v.as_str().map(|s| Cmp::Str(s.to_string())),
        _ => v.as_str().map(|s| Cmp::Str(s.to_lowercase())),
    }
}

fn filter_type_error(
    f: &FieldDef,
    soql: &str,
    pos: usize,
    expected: &str,
    quoted: bool,
) -> ApiError {
    soql_error(
        "INVALID_QUERY_FILTER_OPERATOR",
        soql,
        pos,
        &format!(
            "value of filter criterion for field '{}' must be of type {expected} and {}",
            f.name,
            if quoted {
                "should be enclosed in quotes"
            } else {
                "should not be enclosed in quotes"
            }
        ),
    )
}

/// What a literal means for a field: a point value, a date range, or null.
enum LitVal {
    Null,
    Point(Cmp),
    Range(NaiveDate, NaiveDate),
}

fn literal_for(
    f: &FieldDef,
    lit: &Literal,
    soql: &str,
    pos: usize,
    today: NaiveDate,
) -> Result<LitVal, ApiError> {
    let t = f.ftype.as_str();
    Ok(match lit {
        Literal::Null => LitVal::Null,
        Literal::Bool(b) if t == "boolean" => LitVal::Point(Cmp::Bool(*b)),
        Literal::Number(n) if f.is_number() => LitVal::Point(Cmp::Num(
            n.parse::<f64>()
                .map_err(|_| filter_type_error(f, soql, pos, "double", false))?,
        )),
        Literal::Date(d) if t == "date" || t == "datetime" => {
            let d = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| filter_type_error(f, soql, pos, t, false))?;
            if t == "date" {
                LitVal::Point(Cmp::Date(d))
            } else {
                LitVal::Range(d, d + Duration::days(1))
            }
        }
        Literal::DateTime(s) if t == "datetime" || t == "date" => {
            let dt = parse_datetime(s).ok_or_else(|| filter_type_error(f, soql, pos, t, false))?;
            if t == "date" {
                LitVal::Point(Cmp::Date(dt.date_naive()))
            } else {
                LitVal::Point(Cmp::Time(dt))
            }
        }
        Literal::DateLiteral(dl) if t == "date" || t == "datetime" => {
            let (a, b) = date_range(dl, today);
            LitVal::Range(a, b)
        }
        Literal::String(s) if f.is_text() || t == "id" || t == "reference" => {
            if t == "id" || t == "reference" {
                LitVal::Point(Cmp::Str(ids::to_18(s).unwrap_or_else(|| s.clone())))
            } else {
                LitVal::Point(Cmp::Str(s.to_lowercase()))
            }
        }
        Literal::Pattern(p) if f.is_text() || t == "id" || t == "reference" => {
            LitVal::Point(Cmp::Str(p.to_plain_string().to_lowercase()))
        }
        Literal::String(_) | Literal::Pattern(_) => {
            let expected = match t {
                "boolean" => "boolean",
                "date" => "date",
                "datetime" => "dateTime",
                _ => "double",
            };
            return Err(filter_type_error(f, soql, pos, expected, false));
        }
        _ => {
            let expected = if f.is_text() || t == "id" || t == "reference" {
                "string"
            } else {
                t
            };
            return Err(filter_type_error(
                f,
                soql,
                pos,
                expected,
                f.is_text() || t == "id" || t == "reference",
            ));
        }
    })
}

/// The `[start, end)` dates of a relative date literal.
pub fn date_range(dl: &DateLiteral, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let week_start = today - Duration::days(today.weekday().num_days_from_sunday() as i64);
    let month_start = today.with_day(1).unwrap_or(today);
    let add_months = |d: NaiveDate, m: i32| {
        let total = d.year() * 12 + d.month0() as i32 + m;
        NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
            .unwrap_or(d)
    };
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let add_years = |d: NaiveDate, y: i32| NaiveDate::from_ymd_opt(d.year() + y, 1, 1).unwrap_or(d);
    let day = Duration::days(1);
    match dl {
        DateLiteral::Fixed(name) => match name.as_str() {
            "YESTERDAY" => (today - day, today),
            "TOMORROW" => (today + day, today + day + day),
            "LAST_WEEK" => (week_start - Duration::days(7), week_start),
            "THIS_WEEK" => (week_start, week_start + Duration::days(7)),
            "NEXT_WEEK" => (
                week_start + Duration::days(7),
                week_start + Duration::days(14),
            ),
            "LAST_MONTH" => (add_months(month_start, -1), month_start),
            "THIS_MONTH" => (month_start, add_months(month_start, 1)),
            "NEXT_MONTH" => (add_months(month_start, 1), add_months(month_start, 2)),
            "LAST_YEAR" => (add_years(year_start, -1), year_start),
            "THIS_YEAR" => (year_start, add_years(year_start, 1)),
            "NEXT_YEAR" => (add_years(year_start, 1), add_years(year_start, 2)),
            "LAST_90_DAYS" => (today - Duration::days(90), today + day),
            "NEXT_90_DAYS" => (today + day, today + Duration::days(91)),
            _ => (today, today + day),
        },
        DateLiteral::WithN(name, n) => {
            let n = i64::from(*n);
            match name.as_str() {
                "LAST_N_DAYS" => (today - Duration::days(n), today + day),
                "NEXT_N_DAYS" => (today + day, today + Duration::days(n + 1)),
                "LAST_N_WEEKS" => (week_start - Duration::days(7 * n), week_start),
                "NEXT_N_WEEKS" => (
                    week_start + Duration::days(7),
                    week_start + Duration::days(7 * (n + 1)),
                ),
                "LAST_N_MONTHS" => (add_months(month_start, -(n as i32)), month_start),
                "NEXT_N_MONTHS" => (
                    add_months(month_start, 1),
                    add_months(month_start, n as i32 + 1),
                ),
                "LAST_N_YEARS" => (add_years(year_start, -(n as i32)), year_start),
                _ => (
                    add_years(year_start, 1),
                    add_years(year_start, n as i32 + 1),
                ),
            }
        }
    }
}

fn cmp_date_of(c: &Cmp) -> Option<NaiveDate> {
    match c {
        Cmp::Date(d) => Some(*d),
        Cmp::Time(t) => Some(t.date_naive()),
        _ => None,
    }
}

fn test_compare(f: &FieldDef, v: Option<Cmp>, op: CompareOp, lit: &LitVal, raw: &Literal) -> bool {
    match (v, lit) {
        (None, LitVal::Null) => op == CompareOp::Eq,
        (Some(_), LitVal::Null) => op == CompareOp::Ne,
        (None, _) => op == CompareOp::Ne,
        (Some(v), LitVal::Range(a, b)) => {
            let Some(d) = cmp_date_of(&v) else {
                return false;
            };
            match op {
                CompareOp::Eq => d >= *a && d < *b,
                CompareOp::Ne => !(d >= *a && d < *b),
                CompareOp::Lt => d < *a,
                CompareOp::Le => d < *b,
                CompareOp::Gt => d >= *b,
                CompareOp::Ge => d >= *a,
                CompareOp::Like => false,
            }
        }
        (Some(v), LitVal::Point(l)) => {
            if op == CompareOp::Like {
                let (Cmp::Str(s), Literal::Pattern(p)) = (&v, raw) else {
                    return false;
                };
                return crate::soql::like_matches(p, s);
            }
            if f.ftype == "multipicklist" {
                // `=` on a multi-select picklist matches the exact set of values.
                if let (Cmp::Str(a), Cmp::Str(b)) = (&v, l) {
                    let mut x: Vec<&str> = a.split(';').collect();
                    let mut y: Vec<&str> = b.split(';').collect();
                    x.sort_unstable();
                    y.sort_unstable();
                    return match op {
                        CompareOp::Eq => x == y,
                        CompareOp::Ne => x != y,
                        _ => false,
                    };
                }
            }
            let ord = v.partial_cmp(l);
            match op {
                CompareOp::Eq => ord == Some(Ordering::Equal),
                CompareOp::Ne => ord != Some(Ordering::Equal),
                CompareOp::Lt => ord == Some(Ordering::Less),
                CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                CompareOp::Gt => ord == Some(Ordering::Greater),
                CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CompareOp::Like => false,
            }
        }
    }
}

/// A compiled condition.
enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Cmp(Resolved, CompareOp, LitVal, Literal),
    In(Resolved, bool, Vec<LitVal>),
}

fn compile(
    schema: &Schema,
    obj: &ObjectDef,
    c: &Condition,
    soql: &str,
    today: NaiveDate,
) -> Result<Pred, ApiError> {
    Ok(match c {
        Condition::And(a, b) => Pred::And(
            Box::new(compile(schema, obj, a, soql, today)?),
            Box::new(compile(schema, obj, b, soql, today)?),
        ),
        Condition::Or(a, b) => Pred::Or(
            Box::new(compile(schema, obj, a, soql, today)?),
            Box::new(compile(schema, obj, b, soql, today)?),
        ),
        Condition::Not(a) => Pred::Not(Box::new(compile(schema, obj, a, soql, today)?)),
        Condition::Group(a) => compile(schema, obj, a, soql, today)?,
        Condition::Compare { field, op, value } => {
            let r = resolve(schema, obj, field, soql)?;
            if *op == CompareOp::Like
                && !(r.field.is_text() || r.field.ftype == "id" || r.field.ftype == "reference")
            {
                return Err(soql_error(
                    "INVALID_FIELD",
                    soql,
                    field.pos.0,
                    &format!(
                        "invalid operator on {} field: {}",
                        r.field.ftype, r.field.name
                    ),
                ));
            }
            let lit = literal_for(&r.field, value, soql, field.pos.0, today)?;
            Pred::Cmp(r, *op, lit, value.clone())
        }
        Condition::In {
            field,
            negated,
            values,
        } => {
            let r = resolve(schema, obj, field, soql)?;
            let lits = values
                .iter()
                .map(|v| literal_for(&r.field, v, soql, field.pos.0, today))
                .collect::<Result<Vec<_>, _>>()?;
            Pred::In(r, *negated, lits)
        }
    })
}

fn eval(data: &Data, rec: &Record, p: &Pred) -> bool {
    match p {
        Pred::And(a, b) => eval(data, rec, a) && eval(data, rec, b),
        Pred::Or(a, b) => eval(data, rec, a) || eval(data, rec, b),
        Pred::Not(a) => !eval(data, rec, a),
        Pred::Cmp(r, op, lit, raw) => {
            let v = value_at(data, rec, r).and_then(|v| field_cmp(&r.field, v));
            test_compare(&r.field, v, *op, lit, raw)
        }
        Pred::In(r, negated, lits) => {
            let v = value_at(data, rec, r).and_then(|v| field_cmp(&r.field, v));
            let hit = lits
                .iter()
                .any(|l| test_compare(&r.field, v.clone(), CompareOp::Eq, l, &Literal::Null));
            hit != *negated
        }
    }
}

/// The result of running a query: the total and the rendered rows (empty for `COUNT()`).
#[derive(Clone, Debug)]
pub struct QueryOutput {
    /// The object queried.
    pub object: String,
    /// Number of matching records (after LIMIT/OFFSET).
    pub total: usize,
    /// Rendered records (JSON, with `attributes`).
    pub rows: Vec<Value>,
    /// Select paths (for CSV columns), empty for COUNT().
    pub columns: Vec<String>,
}

/// Runs a parsed query. `all` includes deleted records (queryAll).
pub fn run_query(
    schema: &Schema,
    data: &Data,
    q: &Query,
    soql: &str,
    all: bool,
    version: &str,
    today: NaiveDate,
) -> Result<QueryOutput, ApiError> {
    let Some(obj) = schema.object(&q.from) else {
        return Err(soql_error(
            "INVALID_TYPE",
            soql,
            q.from_pos.0,
            &format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                q.from
            ),
        ));
    };
    let selected: Vec<(FieldRef, Resolved)> = match &q.select {
        Select::Count => vec![],
        Select::Fields(fs) => {
            let mut out = Vec::new();
            for fr in fs {
                if out.iter().any(|(o, _): &(FieldRef, Resolved)| {
                    o.dotted().eq_ignore_ascii_case(&fr.dotted())
                }) {
                    return Err(soql_error(
                        "DUPLICATE_FIELD",
                        soql,
                        fr.pos.0,
                        &format!("duplicate field selected: {}", fr.dotted()),
                    ));
                }
                out.push((fr.clone(), resolve(schema, obj, fr, soql)?));
            }
            out
        }
    };
    let pred = q
        .where_
        .as_ref()
        .map(|c| compile(schema, obj, c, soql, today))
        .transpose()?;
    let order: Vec<(Resolved, bool, bool)> = q
        .order_by
        .iter()
        .map(|o| {
            resolve(schema, obj, &o.field, soql)
                .map(|r| (r, o.descending, o.nulls_first.unwrap_or(!o.descending)))
        })
        .collect::<Result<_, _>>()?;
    let mut matched: Vec<&Record> = data
        .table(obj)
        .filter(|r| all || !is_deleted(r))
        .filter(|r| pred.as_ref().is_none_or(|p| eval(data, r, p)))
        .collect();
    if !order.is_empty() {
        matched.sort_by(|a, b| {
            for (r, desc, nulls_first) in &order {
                let va = value_at(data, a, r).and_then(|v| field_cmp(&r.field, v));
                let vb = value_at(data, b, r).and_then(|v| field_cmp(&r.field, v));
                let ord = match (va, vb) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => {
                        if *nulls_first {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (Some(_), None) => {
                        if *nulls_first {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (Some(x), Some(y)) => {
                        let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                        if *desc {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
    let offset = q.offset.unwrap_or(0) as usize;
    let limit = q.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    let page: Vec<&Record> = matched.into_iter().skip(offset).take(limit).collect();
    if matches!(q.select, Select::Count) {
        return Ok(QueryOutput {
            object: obj.name.clone(),
            total: page.len(),
            rows: vec![],
            columns: vec![],
        });
    }
    let rows = page
        .iter()
        .map(|rec| render_row(data, obj, rec, &selected, version))
        .collect();
    let columns = selected
        .iter()
        .map(|(_, r)| {
            let mut parts: Vec<String> = r.hops.iter().map(|(n, _, _)| n.clone()).collect();
            parts.push(r.field.name.clone());
            parts.join(".")
        })
        .collect();
    Ok(QueryOutput {
        object: obj.name.clone(),
        total: page.len(),
        rows,
        columns,
    })
}

fn render_row(
    data: &Data,
    obj: &ObjectDef,
    rec: &Record,
    selected: &[(FieldRef, Resolved)],
    version: &str,
) -> Value {
    let id = rec.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut m = Map::new();
    m.insert("attributes".into(), attributes(obj, id, version));
    for (_, r) in selected {
        insert_path(data, rec, &mut m, &r.hops, &r.field, version);
    }
    Value::Object(m)
}

fn insert_path(
    data: &Data,
    rec: &Record,
    m: &mut Map<String, Value>,
    hops: &[(String, FieldDef, ObjectDef)],
    field: &FieldDef,
    version: &str,
) {
    match hops.split_first() {
        None => {
            m.insert(
                field.name.clone(),
                rec.get(&field.name).cloned().unwrap_or(Value::Null),
            );
        }
        Some(((rel, rf, target), rest)) => {
            let parent = rec
                .get(&rf.name)
                .and_then(Value::as_str)
                .and_then(|id| data.get(target, id));
            let Some(parent) = parent else {
                if !m.contains_key(rel) {
                    m.insert(rel.clone(), Value::Null);
                }
                return;
            };
            let entry = m.entry(rel.clone()).or_insert(Value::Null);
            if !entry.is_object() {
                let pid = parent.get("Id").and_then(Value::as_str).unwrap_or_default();
                let mut pm = Map::new();
                pm.insert("attributes".into(), attributes(target, pid, version));
                *entry = Value::Object(pm);
            }
            if let Value::Object(pm) = entry {
                insert_path(data, parent, pm, rest, field, version);
            }
        }
    }
}

/// Flattens a rendered row into CSV cells for `columns` (Bulk API 2.0 results).
pub fn csv_cells(row: &Value, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let mut cur = row;
            for part in c.split('.') {
                match cur.get(part) {
                    Some(v) => cur = v,
                    None => return String::new(),
                }
            }
            match cur {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        })
        .collect()
}

/// Copy `k` of a seed record: new Id, references into the copy, unique names and emails.
fn scaled_copy(
    obj: &ObjectDef,
    rec: &Record,
    k: u64,
    ids_k: &std::collections::HashMap<String, String>,
) -> Record {
    let mut out = rec.clone();
    for f in &obj.fields {
        let Some(v) = out.get_mut(&f.name) else {
            continue;
        };
        let Some(text) = v.as_str() else {
            continue;
        };
        let new = match f.ftype.as_str() {
            "id" | "reference" => ids_k.get(text).cloned(),
            "email" => text.split_once('@').map(|(local, domain)| {
                let suffix = format!("+{k}@{domain}");
                let keep = (f.length as usize).saturating_sub(suffix.len()).max(1);
                format!("{}{suffix}", truncate_chars(local, keep))
            }),
            _ if f.name == "Name" || f.name == "LastName" => {
                let suffix = format!(" {k}");
                let keep = (f.length as usize).saturating_sub(suffix.len()).max(1);
                Some(format!("{}{suffix}", truncate_chars(text, keep)))
            }
            _ => None,
        };
        if let Some(new) = new {
            *v = Value::String(new);
        }
    }
    out
}

fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
