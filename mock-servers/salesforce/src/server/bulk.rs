//! Bulk API 2.0 query jobs.

use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{json, Value};

use super::http::{json_body, method_not_allowed, Req, Resp, RespBody};
use super::{Ctx, Job, MockHandle, Mutable};
use crate::error::ApiError;
use crate::ids;
use crate::store;

impl MockHandle {
    pub(super) fn job_create_or_list(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        match req.method {
            Method::GET => {
                let records: Vec<Value> = m
                    .jobs
                    .values()
                    .map(|j| Value::Object(j.info.clone()))
                    .collect();
                Ok(Resp::json(
                    StatusCode::OK,
                    json!({"done": true, "records": records, "nextRecordsUrl": null}),
                ))
            }
            Method::POST => {
                let body = json_body(req)?;
                let op = body.get("operation").and_then(Value::as_str).unwrap_or("");
                if op != "query" && op != "queryAll" {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOB",
                        format!(
                            "Invalid operation: '{op}'. Valid operations are query and queryAll."
                        ),
                    ));
                }
                let soql_text = body.get("query").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOB",
                        "The query field is required.",
                    )
                })?;
                let parsed =
                    crate::soql::parse(soql_text).map_err(|e| store::malformed(soql_text, &e))?;
                let out = store::run_query(
                    &self.0.schema,
                    &m.data,
                    &parsed,
                    soql_text,
                    op == "queryAll",
                    &ctx.version,
                    Utc::now().date_naive(),
                )?;
                m.seq += 1;
                let id = ids::make_id("750", m.seq);
                let now = store::sf_datetime(Utc::now());
                let info = json!({
                    "id": id, "operation": op, "object": out.object, "createdById": ctx.user_id,
                    "createdDate": now, "systemModstamp": now, "state": "UploadComplete",
                    "concurrencyMode": "Parallel", "contentType": "CSV",
                    "apiVersion": ctx.version.parse::<f64>().unwrap_or(66.0), "lineEnding": "LF", "columnDelimiter": "COMMA",
                });
                let Value::Object(info) = info else {
                    return Err(ApiError::not_found());
                };
                let total = out.total;
                m.jobs.insert(
                    id.clone(),
                    Job {
                        info: info.clone(),
                        columns: out.columns,
                        rows: out.rows,
                    },
                );
                let mut done = info.clone();
                done.insert("state".into(), json!("JobComplete"));
                done.insert("numberRecordsProcessed".into(), json!(total));
                done.insert("retries".into(), json!(0));
                done.insert("totalProcessingTime".into(), json!(1));
                if let Some(j) = m.jobs.get_mut(&id) {
                    j.info = done;
                }
                Ok(Resp::json(StatusCode::OK, Value::Object(info)))
            }
            _ => Err(method_not_allowed(&req.method, "GET,POST")),
        }
    }

    pub(super) fn job_op(
        &self,
        m: &mut Mutable,
        _ctx: &Ctx,
        req: &Req,
        id: &str,
    ) -> Result<Resp, ApiError> {
        let id18 = ids::to_18(id).unwrap_or_default();
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        };
        match req.method {
            Method::GET => m
                .jobs
                .get(&id18)
                .map(|j| Resp::json(StatusCode::OK, Value::Object(j.info.clone())))
                .ok_or_else(not_found),
            Method::PATCH => {
                let body = json_body(req)?;
                let job = m.jobs.get_mut(&id18).ok_or_else(not_found)?;
                if body.get("state").and_then(Value::as_str) != Some("Aborted") {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOBSTATE",
                        "Invalid state transition",
                    ));
                }
                if job.info.get("state").and_then(Value::as_str) == Some("JobComplete") {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "INVALIDJOBSTATE",
                        "Job is already complete",
                    ));
                }
                job.info.insert("state".into(), json!("Aborted"));
                Ok(Resp::json(StatusCode::OK, Value::Object(job.info.clone())))
            }
            Method::DELETE => m
                .jobs
                .shift_remove(&id18)
                .map(|_| Resp::empty(StatusCode::NO_CONTENT))
                .ok_or_else(not_found),
            _ => Err(method_not_allowed(&req.method, "GET,PATCH,DELETE")),
        }
    }

    pub(super) fn job_results(
        &self,
        m: &mut Mutable,
        req: &Req,
        id: &str,
    ) -> Result<Resp, ApiError> {
        let id18 = ids::to_18(id).unwrap_or_default();
        let job = m.jobs.get(&id18).ok_or_else(ApiError::not_found)?;
        let start: usize = match req.param("locator") {
            Some(l) if !l.is_empty() && l != "null" => decode_locator(l).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALIDLOCATOR",
                    format!("Invalid locator: {l}"),
                )
            })?,
            _ => 0,
        };
        let max: usize = req
            .param("maxRecords")
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(10_000);
        let end = (start + max).min(job.rows.len());
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let header_row = if job.columns.is_empty() {
            vec!["expr0".to_string()]
        } else {
            job.columns.clone()
        };
        let _ = w.write_record(&header_row);
        for row in job.rows.get(start..end).unwrap_or(&[]) {
            let _ = w.write_record(store::csv_cells(row, &job.columns));
        }
        let text = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        let locator = if end < job.rows.len() {
            encode_locator(end)
        } else {
            "null".to_string()
        };
        Ok(Resp {
            status: StatusCode::OK,
            body: RespBody::Csv(text),
            headers: vec![],
        }
        .header("Sforce-Locator", locator)
        .header("Sforce-NumberOfRecords", (end - start).to_string()))
    }
}

fn encode_locator(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{n}"))
}

fn decode_locator(s: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}
