//! sObject rows: get, update, delete and upsert of one record.

use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::http::{json_body, method_not_allowed, object_body, Req, Resp};
use super::{Ctx, MockHandle, Mutable};
use crate::error::ApiError;
use crate::schema::ObjectDef;
use crate::store;

impl MockHandle {
    pub(super) fn record_op(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
        obj: &ObjectDef,
        id: &str,
    ) -> Result<Resp, ApiError> {
        let meth = &req.method;
        match *meth {
            Method::GET => {
                let rec = m
                    .data
                    .get(obj, id)
                    .filter(|r| !store::is_deleted(r))
                    .ok_or_else(ApiError::not_found)?;
                let fields = match req.param("fields") {
                    Some(list) => {
                        let mut out = Vec::new();
                        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                            out.push(obj.field(name).ok_or_else(|| {
                                ApiError::new(
                                    StatusCode::BAD_REQUEST,
                                    "INVALID_FIELD",
                                    format!(
                                        "No such column '{name}' on sobject of type {}",
                                        obj.name
                                    ),
                                )
                            })?);
                        }
                        Some(out)
                    }
                    None => None,
                };
                Ok(Resp::json(
                    StatusCode::OK,
                    store::render(obj, rec, fields.as_deref(), &ctx.version),
                ))
            }
            Method::PATCH => {
                let body = json_body(req)?;
                let body = object_body(&body)?;
                if m.data.get(obj, id).is_none() {
                    return Err(ApiError::not_found());
                }
                Self::check_lock(m, id)?;
                m.data.update(&self.0.schema, obj, id, body, &ctx.write())?;
                Ok(Resp::empty(StatusCode::NO_CONTENT))
            }
            Method::DELETE => {
                if m.data.get(obj, id).is_none() {
                    return Err(ApiError::not_found());
                }
                Self::check_lock(m, id)?;
                m.data.delete(obj, id, &ctx.write())?;
                Ok(Resp::empty(StatusCode::NO_CONTENT))
            }
            _ => Err(method_not_allowed(meth, "GET,HEAD,PATCH,DELETE")),
        }
    }

    /// Upsert of one record: (status, body, id).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn upsert_one(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        obj: &ObjectDef,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        matches: &[String],
        update_only: bool,
    ) -> Result<(StatusCode, Value, String), ApiError> {
        let mut body = body.clone();
        body.retain(|k, _| !k.eq_ignore_ascii_case(field));
        match matches {
            [] if update_only || field == "Id" => Err(ApiError::not_found()),
            [] => {
                body.insert(field.to_string(), Value::String(value.to_string()));
                let id = m.data.create(&self.0.schema, obj, &body, &ctx.write())?;
                Ok((
                    StatusCode::CREATED,
                    json!({"id": id, "success": true, "errors": [], "created": true}),
                    id,
                ))
            }
            [one] => {
                Self::check_lock(m, one)?;
                m.data
                    .update(&self.0.schema, obj, one, &body, &ctx.write())?;
                if ctx.major() < 46 {
                    Ok((StatusCode::NO_CONTENT, Value::Null, one.clone()))
                } else {
                    Ok((
                        StatusCode::OK,
                        json!({"id": one, "success": true, "errors": [], "created": false}),
                        one.clone(),
                    ))
                }
            }
            many => Ok((
                StatusCode::MULTIPLE_CHOICES,
                multiple(ctx, obj, many),
                String::new(),
            )),
        }
    }
}

pub(super) fn multiple(ctx: &Ctx, obj: &ObjectDef, ids_: &[String]) -> Value {
    Value::Array(
        ids_.iter()
            .map(|id| {
                json!(format!(
                    "/services/data/v{}/sobjects/{}/{id}",
                    ctx.version, obj.name
                ))
            })
            .collect(),
    )
}
