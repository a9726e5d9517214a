//! sObject Collections: create, update, upsert, delete and retrieve of up to 200 records.

use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::http::{json_body, method_not_allowed, Req, Resp};
use super::{Ctx, MockHandle, Mutable};
use crate::error::ApiError;
use crate::ids;
use crate::store::{self, Data};

impl MockHandle {
    pub(super) fn collections(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        upsert: Option<(&str, &str)>,
    ) -> Result<Resp, ApiError> {
        let meth = req.method.clone();
        if meth == Method::DELETE && upsert.is_none() {
            let ids_param = req.param("ids").unwrap_or("");
            let all_or_none = req
                .param("allOrNone")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let list: Vec<String> = ids_param
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            check_count(list.len())?;
            let snapshot = m.data.clone();
            let mut results = Vec::new();
            for id in &list {
                let r = (|| {
                    let (obj, _) = m.data.get_any(&self.0.schema, id).ok_or_else(|| {
                        ApiError::bad("MALFORMED_ID", format!("malformed id {id}"), vec![])
                    })?;
                    let obj = obj.clone();
                    Self::check_lock(m, id)?;
                    m.data.delete(&obj, id, &ctx.write())?;
                    Ok::<_, ApiError>(ids::to_18(id).unwrap_or_default())
                })();
                results.push(
                    r.map(|id| json!({"id": id, "success": true, "errors": []}))
                        .map_err(|e| (id.clone(), e)),
                );
            }
            return Ok(Resp::json(
                StatusCode::OK,
                finish_collection(m, snapshot, results, all_or_none, true),
            ));
        }
        let expected = match upsert {
            Some(_) => Method::PATCH,
            None if meth == Method::POST || meth == Method::PATCH => meth.clone(),
            None => return Err(method_not_allowed(&meth, "GET,POST,PATCH,DELETE")),
        };
        if meth != expected {
            return Err(method_not_allowed(&meth, "PATCH"));
        }
        let body = json_body(req)?;
        let all_or_none = body
            .get("allOrNone")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let records = body
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "Cannot deserialize instance of records: expected a JSON array",
                )
            })?;
        check_count(records.len())?;
        let upsert_target = match upsert {
            Some((o, f)) => {
                let obj = self.object(o)?;
                let field = obj.field(f).filter(|fd| fd.external_id || fd.id_lookup).ok_or_else(|| {
                    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("Provided external ID field does not exist or is not accessible: {f}"))
                })?;
                Some((obj.clone(), field.clone()))
            }
            None => None,
        };
        let snapshot = m.data.clone();
        let mut results = Vec::new();
        for rec in records {
            let r = (|| -> Result<Value, ApiError> {
                let map = rec.as_object().ok_or_else(|| {
                    ApiError::bad("JSON_PARSER_ERROR", "record is not an object", vec![])
                })?;
                let type_name = map
                    .get("attributes")
                    .and_then(|a| a.get("type"))
                    .and_then(Value::as_str);
                let Some(type_name) =
                    type_name.or(upsert_target.as_ref().map(|(o, _)| o.name.as_str()))
                else {
                    return Err(ApiError::bad(
                        "INVALID_TYPE",
                        "Must send a concrete entity type.",
                        vec![],
                    ));
                };
                let obj = self.0.schema.object(type_name).ok_or_else(|| {
                    ApiError::bad(
                        "INVALID_TYPE",
                        format!("sObject type '{type_name}' is not supported."),
                        vec![],
                    )
                })?;
                if let Some((uo, field)) = &upsert_target {
                    if uo.name != obj.name {
                        return Err(ApiError::bad(
                            "INVALID_TYPE",
                            format!("The record type {} does not match {}", obj.name, uo.name),
                            vec![],
                        ));
                    }
                    let key = map
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&field.name))
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Null);
                    if field.name == "Id" && key.is_null() {
                        let id = m.data.create(&self.0.schema, obj, map, &ctx.write())?;
                        return Ok(
                            json!({"id": id, "success": true, "errors": [], "created": true}),
                        );
                    }
                    let key = match key {
                        Value::String(s) => s,
                        Value::Null => {
                            return Err(ApiError::bad(
                                "MISSING_ARGUMENT",
                                format!("{} not specified", field.name),
                                vec![],
                            ))
                        }
                        other => other.to_string(),
                    };
                    let matches = m.data.find_by(obj, field, &key);
                    if matches.len() > 1 {
                        return Err(ApiError::bad(
                            "DUPLICATE_EXTERNAL_ID",
                            format!(
                                "{}: more than one record found for external id field: {}",
                                field.name,
                                matches.join(", ")
                            ),
                            vec![field.name.clone()],
                        ));
                    }
                    let (_, v, _) =
                        self.upsert_one(m, ctx, obj, &field.name, &key, map, &matches, false)?;
                    return Ok(v);
                }
                if expected == Method::POST {
                    if id_field(map).is_some_and(|v| !v.is_null()) {
                        return Err(ApiError::bad(
                            "INVALID_FIELD",
                            "cannot specify Id in an insert call",
                            vec!["Id".into()],
                        ));
                    }
                    let id = m.data.create(&self.0.schema, obj, map, &ctx.write())?;
                    Ok(json!({"id": id, "success": true, "errors": []}))
                } else {
                    let id = id_field(map).and_then(Value::as_str).ok_or_else(|| {
                        ApiError::bad(
                            "MISSING_ARGUMENT",
                            "Id not specified in an update call",
                            vec![],
                        )
                    })?;
                    let id18 = ids::to_18(id).ok_or_else(|| {
                        ApiError::bad(
                            "MALFORMED_ID",
                            format!("{} ID: id value of incorrect type: {id}", obj.label),
                            vec!["Id".into()],
                        )
                    })?;
                    if m.data.get(obj, &id18).is_none() {
                        return Err(ApiError::bad(
                            "INVALID_CROSS_REFERENCE_KEY",
                            "invalid cross reference id",
                            vec![],
                        ));
                    }
                    Self::check_lock(m, &id18)?;
                    m.data
                        .update(&self.0.schema, obj, &id18, map, &ctx.write())?;
                    Ok(json!({"id": id18, "success": true, "errors": []}))
                }
            })();
            let id_hint = rec
                .as_object()
                .and_then(id_field)
                .and_then(Value::as_str)
                .and_then(ids::to_18)
                .unwrap_or_default();
            results.push(r.map_err(|e| (id_hint, e)));
            if all_or_none && results.last().is_some_and(Result::is_err) {
                // keep going to report every record's own error, like Salesforce does
            }
        }
        Ok(Resp::json(
            StatusCode::OK,
            finish_collection(
                m,
                snapshot,
                results,
                all_or_none,
                expected != Method::POST && upsert.is_none(),
            ),
        ))
    }

    pub(super) fn collections_retrieve(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        o: &str,
    ) -> Result<Resp, ApiError> {
        let obj = self.object(o)?;
        let list: Vec<&str> = req
            .param("ids")
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        check_count(list.len())?;
        let fields_param = req.param("fields").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MISSING_ARGUMENT",
                "fields parameter is required",
            )
        })?;
        let mut fields = Vec::new();
        for name in fields_param.split(',').map(str::trim) {
            fields.push(obj.field(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", obj.name),
                )
            })?);
        }
        let out: Vec<Value> = list
            .iter()
            .map(|id| {
                m.data
                    .get(obj, id)
                    .filter(|r| !store::is_deleted(r))
                    .map(|r| store::render(obj, r, Some(&fields), &ctx.version))
                    .unwrap_or(Value::Null)
            })
            .collect();
        Ok(Resp::json(StatusCode::OK, Value::Array(out)))
    }
}

fn check_count(n: usize) -> Result<(), ApiError> {
    if n > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok(())
}

/// Per-record results; with allOrNone and any failure, rolls back and marks the others.
fn finish_collection(
    m: &mut Mutable,
    snapshot: Data,
    results: Vec<Result<Value, (String, ApiError)>>,
    all_or_none: bool,
    include_id_on_error: bool,
) -> Value {
    let any_failed = results.iter().any(Result::is_err);
    if all_or_none && any_failed {
        m.data = snapshot;
    }
    Value::Array(
        results
            .into_iter()
            .map(|r| match r {
                Ok(v) if all_or_none && any_failed => {
                    let mut o = Map::new();
                    if let Some(id) = v.get("id").filter(|_| include_id_on_error) {
                        o.insert("id".into(), id.clone());
                    }
                    o.insert("success".into(), json!(false));
                    o.insert(
                        "errors".into(),
                        json!([{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []}]),
                    );
                    Value::Object(o)
                }
                Ok(v) => v,
                Err((id, e)) => {
                    let mut o = Map::new();
                    if include_id_on_error && !id.is_empty() {
                        o.insert("id".into(), json!(id));
                    }
                    o.insert("success".into(), json!(false));
                    o.insert("errors".into(), e.collection_errors());
                    Value::Object(o)
                }
            })
            .collect(),
    )
}

/// The record's `Id` in a request body; field names are case-insensitive, as on Salesforce
/// (jsforce 3 sends `"id"` in sObject Collections updates).
fn id_field(map: &serde_json::Map<String, Value>) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
        .map(|(_, v)| v)
}
