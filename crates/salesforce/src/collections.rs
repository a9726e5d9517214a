//! sObject Collections: create, update, upsert and delete up to 200 records per request,
//! with per-record results mapped back to the caller's inputs.

use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{
    to_object, validate_name, validate_record_id, Record, Req, SalesforceClient, SaveResult,
};
use crate::error::{classify_codes, ApiErrorDetail, ErrorKind, Result, SalesforceError};

/// Records per sObject Collections request (the API's maximum).
pub const COLLECTION_CHUNK: usize = 200;

/// A record the collection call saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSaved {
    /// Record id (for deletes: the deleted id).
    pub id: String,
    /// For upserts: whether the record was created. `None` for other operations.
    pub created: Option<bool>,
}

/// Why one record of a collection call was not saved.
#[derive(Debug, Clone)]
pub enum RecordFailure {
    /// Salesforce processed the record and rejected it (`success: false`).
    Rejected(Vec<ApiErrorDetail>),
    /// The request carrying this record failed as a whole. `sent` is `false` for records of
    /// later chunks that were not attempted after an earlier chunk failed.
    Request {
        /// The request-level error (shared by the records of the chunk).
        error: Arc<SalesforceError>,
        /// Whether this record's chunk was sent.
        sent: bool,
    },
}

impl RecordFailure {
    /// Classification, as for [`SalesforceError::kind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            RecordFailure::Rejected(errors) => {
                classify_codes(None, errors.iter().map(|e| e.error_code.as_str()))
            }
            RecordFailure::Request { error, .. } => error.kind(),
        }
    }

    /// The per-record error entries (empty for request failures).
    pub fn errors(&self) -> &[ApiErrorDetail] {
        match self {
            RecordFailure::Rejected(e) => e,
            RecordFailure::Request { error, .. } => error.api_errors(),
        }
    }
}

/// The outcome for one input record; the returned `Vec` has one per input, in input order.
pub type RecordOutcome = std::result::Result<RecordSaved, RecordFailure>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Upsert,
    Delete,
}

impl SalesforceClient {
    /// Creates records of one sObject type: `POST /composite/sobjects`, 200 per request.
    ///
    /// With `all_or_none = false` each record succeeds or fails on its own. Creates are not
    /// idempotent: a chunk is retried only after failures where Salesforce certainly did not
    /// process it; prefer [`SalesforceClient::upsert_many`] with an external id.
    pub async fn create_many<R: Serialize>(
        &self,
        sobject: &str,
        records: &[R],
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        validate_name("sObject name", sobject)?;
        let bodies = records
            .iter()
            .map(|r| Ok(with_type(sobject, to_object(r)?)))
            .collect::<Result<Vec<_>>>()?;
        self.run_chunks(Op::Create, sobject, None, bodies, all_or_none)
            .await
    }

    /// Updates records: `PATCH /composite/sobjects`; every record must carry its `Id`.
    pub async fn update_many<R: Serialize>(
        &self,
        sobject: &str,
        records: &[R],
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        validate_name("sObject name", sobject)?;
        let mut bodies = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let obj = to_object(r)?;
            let id = obj
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("id"))
                .and_then(|(_, v)| v.as_str())
                .ok_or(SalesforceError::InvalidInput {
                    what: "record for update",
                    value: format!("input #{i}"),
                    reason: "has no string Id field",
                })?;
            validate_record_id(id)?;
            bodies.push(with_type(sobject, obj));
        }
        self.run_chunks(Op::Update, sobject, None, bodies, all_or_none)
            .await
    }

    /// Upserts records by external id: `PATCH /composite/sobjects/{sobject}/{field}`; each
    /// record carries its external id value in `external_id_field`. Idempotent, so retried
    /// after any transient failure. Results carry `created`.
    pub async fn upsert_many<R: Serialize>(
        &self,
        sobject: &str,
        external_id_field: &str,
        records: &[R],
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        validate_name("sObject name", sobject)?;
        validate_name("external id field", external_id_field)?;
        let mut bodies = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let obj = to_object(r)?;
            if !obj.contains_key(external_id_field) {
                return Err(SalesforceError::InvalidInput {
                    what: "record for upsert",
                    value: format!("input #{i}"),
                    reason: "lacks the external id field",
                });
            }
            bodies.push(with_type(sobject, obj));
        }
        self.run_chunks(
            Op::Upsert,
            sobject,
            Some(external_id_field),
            bodies,
            all_or_none,
        )
        .await
    }

    /// Deletes records by id: `DELETE /composite/sobjects?ids=...`, 200 per request.
    pub async fn delete_many(
        &self,
        ids: &[impl AsRef<str>],
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        let mut bodies = Vec::with_capacity(ids.len());
        for id in ids {
            validate_record_id(id.as_ref())?;
            let mut m = Record::new();
            m.insert("Id".into(), serde_json::Value::String(id.as_ref().into()));
            bodies.push(m);
        }
        self.run_chunks(Op::Delete, "", None, bodies, all_or_none)
            .await
    }

    async fn run_chunks(
        &self,
        op: Op,
        sobject: &str,
        ext_field: Option<&str>,
        bodies: Vec<Record>,
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        self.check_reserve()?;
        let mut out: Vec<RecordOutcome> = Vec::with_capacity(bodies.len());
        let mut stopped: Option<Arc<SalesforceError>> = None;
        for chunk in bodies.chunks(COLLECTION_CHUNK) {
            if let Some(err) = &stopped {
                out.extend(chunk.iter().map(|_| {
                    Err(RecordFailure::Request {
                        error: err.clone(),
                        sent: false,
                    })
                }));
                continue;
            }
            match self
                .send_chunk(op, sobject, ext_field, chunk, all_or_none)
                .await
            {
                Ok(results) => {
                    let results = self
                        .resend_transient_rejections(
                            op,
                            sobject,
                            ext_field,
                            chunk,
                            results,
                            all_or_none,
                        )
                        .await;
                    out.extend(results)
                }
                Err(e) => {
                    let e = Arc::new(e);
                    out.extend(chunk.iter().map(|_| {
                        Err(RecordFailure::Request {
                            error: e.clone(),
                            sent: true,
                        })
                    }));
                    stopped = Some(e);
                }
            }
        }
        Ok(out)
    }

    /// Records that Salesforce rejected with a transient code (`UNABLE_TO_LOCK_ROW`) were not
    /// saved, so re-sending just those is safe for every operation, creates included. Only with
    /// `all_or_none = false` (otherwise the whole chunk was rolled back and is reported as is).
    async fn resend_transient_rejections(
        &self,
        op: Op,
        sobject: &str,
        ext_field: Option<&str>,
        chunk: &[Record],
        mut results: Vec<RecordOutcome>,
        all_or_none: bool,
    ) -> Vec<RecordOutcome> {
        if all_or_none {
            return results;
        }
        let policy = &self.inner.config.retry;
        let start = Instant::now();
        let mut attempt = 1u32;
        loop {
            let pending: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    matches!(r, Err(f @ RecordFailure::Rejected(_)) if f.kind() == ErrorKind::Transient)
                })
                .map(|(i, _)| i)
                .collect();
            if pending.is_empty() {
                return results;
            }
            let delay = policy.backoff(attempt);
            if attempt >= policy.max_attempts
                || start.elapsed().saturating_add(delay) > policy.max_elapsed
            {
                return results;
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
            tracing::warn!(
                records = pending.len(),
                attempt,
                "re-sending records rejected with a transient error"
            );
            let subset: Vec<Record> = pending.iter().map(|&i| chunk[i].clone()).collect();
            match self
                .send_chunk(op, sobject, ext_field, &subset, false)
                .await
            {
                Ok(again) => {
                    for (i, r) in pending.into_iter().zip(again) {
                        results[i] = r;
                    }
                }
                // Keep the per-record transient failures; the caller decides.
                Err(_) => return results,
            }
        }
    }

    async fn send_chunk(
        &self,
        op: Op,
        sobject: &str,
        ext_field: Option<&str>,
        chunk: &[Record],
        all_or_none: bool,
    ) -> Result<Vec<RecordOutcome>> {
        let records_json = || {
            serde_json::json!({
                "allOrNone": all_or_none,
                "records": chunk,
            })
        };
        let req = match op {
            Op::Create => Req::new(Method::POST, &["composite", "sobjects"])
                .json(records_json())
                .not_retry_safe(),
            Op::Update => Req::new(Method::PATCH, &["composite", "sobjects"]).json(records_json()),
            Op::Upsert => Req::new(
                Method::PATCH,
                &["composite", "sobjects", sobject, ext_field.unwrap_or("Id")],
            )
            .json(records_json()),
            Op::Delete => {
                let ids: Vec<&str> = chunk
                    .iter()
                    .filter_map(|r| r.get("Id").and_then(|v| v.as_str()))
                    .collect();
                Req::new(Method::DELETE, &["composite", "sobjects"])
                    .query("ids", ids.join(","))
                    .query("allOrNone", all_or_none.to_string())
            }
        };
        let resp = self.send(req).await?;
        let items: Vec<SaveResult> = resp.json()?;
        if items.len() != chunk.len() {
            return Err(resp.decode_error(format!(
                "sObject Collections answered {} results for {} records",
                items.len(),
                chunk.len()
            )));
        }
        Ok(items
            .into_iter()
            .zip(chunk)
            .map(|(item, input)| {
                if item.success {
                    let id = item
                        .id
                        .or_else(|| input.get("Id").and_then(|v| v.as_str()).map(str::to_string));
                    match id {
                        Some(id) => Ok(RecordSaved {
                            id,
                            created: if op == Op::Upsert { item.created } else { None },
                        }),
                        None => Err(RecordFailure::Rejected(vec![ApiErrorDetail {
                            error_code: "MISSING_ID".into(),
                            message: "success without an id in the response".into(),
                            fields: Vec::new(),
                        }])),
                    }
                } else {
                    Err(RecordFailure::Rejected(item.errors))
                }
            })
            .collect())
    }
}

fn with_type(sobject: &str, mut obj: Record) -> Record {
    obj.insert("attributes".into(), serde_json::json!({ "type": sobject }));
    obj
}
