//! SOQL queries: the REST `nextRecordsUrl` stream and Bulk API 2.0 query jobs.

use std::time::Instant;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use std::collections::HashMap;

use crate::client::{Record, Req, SalesforceClient};
use crate::describe::FieldType;
use crate::error::{Result, SalesforceError};
use crate::soql::Soql;

/// How [`SalesforceClient::query_records`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryMode {
    /// Run `SELECT COUNT()` of the query first; use Bulk API 2.0 when the count (capped by the
    /// query's LIMIT) is at least [`crate::BulkConfig::threshold`], else REST.
    #[default]
    Auto,
    /// Always the REST query resource (paged by `nextRecordsUrl`).
    Rest,
    /// Always a Bulk API 2.0 query job.
    Bulk,
}

/// Options of [`SalesforceClient::query_records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryOptions {
    /// REST, Bulk or automatic selection.
    pub mode: QueryMode,
    /// Include deleted and archived records (`queryAll` / Bulk `queryAll` operation).
    pub include_deleted: bool,
    /// REST page size hint; overrides [`crate::SalesforceConfig::query_batch_size`].
    pub batch_size: Option<u32>,
}

/// Which API [`SalesforceClient::query_records`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryApi {
    /// REST query resource.
    Rest,
    /// Bulk API 2.0.
    Bulk,
}

/// A stream of records plus what was decided before it started.
pub struct QueryStream {
    /// The API used.
    pub api: QueryApi,
    /// The `COUNT()` result when [`QueryMode::Auto`] ran one.
    pub counted: Option<u64>,
    /// The records, in the same shape whichever API was used: JSON as the REST API returns it
    /// (relationships nested, `attributes` removed). Bulk CSV rows are converted: dotted
    /// columns are nested (`"Account.Name"` → `{"Account": {"Name": …}}`, a relationship
    /// whose selected fields are all empty becomes `null`), empty cells become `null`, and
    /// values are typed from the describe (booleans, integers and decimals as JSON booleans and
    /// numbers; dates, times and everything else stay strings as in REST). Fields of
    /// polymorphic relationships (e.g. `Owner.Name`) stay strings.
    pub records: BoxStream<'static, Result<Record>>,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("api", &self.api)
            .field("counted", &self.counted)
            .finish_non_exhaustive()
    }
}

/// Reads a (possibly dotted) field from a REST record (nested relationships) or a Bulk record
/// (flat dotted keys). Field names match case-insensitively, as in Salesforce.
pub fn field_value<'a>(record: &'a Record, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(v) = get_ci(record, path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = get_ci(record, parts.next()?)?;
    for p in parts {
        current = match current {
            serde_json::Value::Object(m) => get_ci(m, p)?,
            _ => return None,
        };
    }
    Some(current)
}

fn get_ci<'a>(record: &'a Record, key: &str) -> Option<&'a serde_json::Value> {
    record.get(key).or_else(|| {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Removes `attributes` from a record and from nested relationship records.
pub fn strip_attributes(record: &mut Record) {
    record.remove("attributes");
    for v in record.values_mut() {
        if let serde_json::Value::Object(m) = v {
            if let Some(serde_json::Value::Array(children)) = m.get_mut("records") {
                for c in children {
                    if let serde_json::Value::Object(cm) = c {
                        strip_attributes(cm);
                    }
                }
            } else {
                strip_attributes(m);
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage {
    #[serde(default)]
    total_size: u64,
    done: bool,
    #[serde(default)]
    next_records_url: Option<String>,
    #[serde(default)]
    records: Vec<serde_json::Value>,
}

enum Next {
    First(String),
    Link(String),
    Fail(SalesforceError),
    End,
}

struct RestState {
    client: SalesforceClient,
    resource: &'static str,
    next: Next,
    received: u64,
    batch_size: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobInfo {
    id: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error_message: Option<String>,
}

enum BulkPhase {
    Create {
        soql: String,
        operation: &'static str,
    },
    Fetch {
        job_id: String,
        locator: Option<String>,
    },
    End,
}

impl SalesforceClient {
    /// Runs a SOQL query through the REST query resource and streams its records,
    /// following `nextRecordsUrl` until a page says `done: true`. A page with `done: false`
    /// and no `nextRecordsUrl` ends the stream with [`SalesforceError::MissingNextRecordsUrl`]
    /// (after the records of that page), never silently. Records are deserialized into `T`
    /// as returned (including `attributes`).
    pub fn query<T>(&self, soql: impl Into<String>) -> BoxStream<'static, Result<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rest_stream("query", soql.into(), None)
    }

    /// Like [`SalesforceClient::query`] but through `queryAll` (includes deleted and archived
    /// records).
    pub fn query_all<T>(&self, soql: impl Into<String>) -> BoxStream<'static, Result<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rest_stream("queryAll", soql.into(), None)
    }

    fn rest_stream<T>(
        &self,
        resource: &'static str,
        soql: String,
        batch_size: Option<u32>,
    ) -> BoxStream<'static, Result<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let state = RestState {
            client: self.clone(),
            resource,
            next: Next::First(soql),
            received: 0,
            batch_size: batch_size.or(self.inner.config.query_batch_size),
        };
        stream::try_unfold(state, |mut st| async move {
            let mut req = match std::mem::replace(&mut st.next, Next::End) {
                Next::End => return Ok::<_, SalesforceError>(None),
                Next::Fail(e) => return Err(e),
                Next::First(q) => {
                    st.client.check_reserve()?;
                    Req::new(Method::GET, &[st.resource]).query("q", q)
                }
                Next::Link(url) => Req::link(&url),
            };
            if let Some(n) = st.batch_size {
                req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
            }
            let resp = st.client.send(req).await?;
            let page: QueryPage = resp.json()?;
            st.received += page.records.len() as u64;
            if !page.done {
                st.next = match page.next_records_url.filter(|u| !u.trim().is_empty()) {
                    Some(url) => Next::Link(url),
                    None => Next::Fail(SalesforceError::MissingNextRecordsUrl {
                        path: resp.path.clone(),
                        records_so_far: st.received,
                        total_size: page.total_size,
                    }),
                };
            }
            let mut out = Vec::with_capacity(page.records.len());
            for r in page.records {
                out.push(
                    serde_json::from_value::<T>(r)
                        .map_err(|e| resp.decode_error(format!("query record: {e}")))?,
                );
            }
            Ok(Some((out, st)))
        })
        .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// `SELECT COUNT()` of the query's FROM and WHERE.
    pub async fn count(&self, soql: &Soql) -> Result<u64> {
        self.check_reserve()?;
        let text = soql.to_count().build()?;
        let page: QueryPage = self
            .send_json(Req::new(Method::GET, &["query"]).query("q", text))
            .await?;
        Ok(page.total_size)
    }

    /// Runs a built query through REST or Bulk API 2.0 per `options` (see [`QueryMode`]).
    pub async fn query_records(&self, soql: &Soql, options: QueryOptions) -> Result<QueryStream> {
        let text = soql.build()?;
        let (api, counted) = match options.mode {
            QueryMode::Rest => (QueryApi::Rest, None),
            QueryMode::Bulk => (QueryApi::Bulk, None),
            QueryMode::Auto => {
                let mut n = self.count(soql).await?;
                if let Some(limit) = soql.limit_value() {
                    n = n.min(limit);
                }
                let api = if n >= self.inner.config.bulk.threshold {
                    QueryApi::Bulk
                } else {
                    QueryApi::Rest
                };
                (api, Some(n))
            }
        };
        tracing::debug!(?api, ?counted, sobject = soql.sobject(), "query");
        let records = match api {
            QueryApi::Rest => {
                let resource = if options.include_deleted {
                    "queryAll"
                } else {
                    "query"
                };
                let s: BoxStream<'static, Result<Record>> =
                    self.rest_stream(resource, text, options.batch_size);
                s.map_ok(|mut r| {
                    strip_attributes(&mut r);
                    r
                })
                .boxed()
            }
            QueryApi::Bulk => self.bulk_stream(
                text,
                options.include_deleted,
                Some(soql.sobject().to_string()),
            ),
        };
        Ok(QueryStream {
            api,
            counted,
            records,
        })
    }

    /// Runs a Bulk API 2.0 query job (`POST /jobs/query`), polls it until `JobComplete`, and
    /// streams the CSV result pages (`GET /jobs/query/{id}/results`, following
    /// `Sforce-Locator`). Records are flat with string values (see [`QueryStream::records`]).
    pub fn bulk_query(&self, soql: impl Into<String>) -> BoxStream<'static, Result<Record>> {
        self.bulk_stream(soql.into(), false, None)
    }

    fn bulk_stream(
        &self,
        soql: String,
        include_deleted: bool,
        normalize_for: Option<String>,
    ) -> BoxStream<'static, Result<Record>> {
        let client = self.clone();
        let phase = BulkPhase::Create {
            soql,
            operation: if include_deleted { "queryAll" } else { "query" },
        };
        let types: Option<HashMap<String, FieldType>> = None;
        let state = (client, phase, normalize_for, types);
        stream::try_unfold(
            state,
            |(client, phase, normalize_for, mut types)| async move {
                let (job_id, locator) = match phase {
                    BulkPhase::End => return Ok::<_, SalesforceError>(None),
                    BulkPhase::Create { soql, operation } => {
                        client.check_reserve()?;
                        let job = client.bulk_create_and_wait(&soql, operation).await?;
                        (job, None)
                    }
                    BulkPhase::Fetch { job_id, locator } => (job_id, locator),
                };
                let page_size = client.inner.config.bulk.page_size;
                let mut req = Req::new(Method::GET, &["jobs", "query", &job_id, "results"])
                    .accept("text/csv")
                    .query("maxRecords", page_size.to_string());
                if let Some(l) = &locator {
                    req = req.query("locator", l.clone());
                }
                let resp = client.send(req).await?;
                let mut records = parse_csv(&resp.body).map_err(|e| resp.decode_error(e))?;
                if let Some(sobject) = &normalize_for {
                    if types.is_none() {
                        if let Some(first) = records.first() {
                            let columns: Vec<String> = first.keys().cloned().collect();
                            types = Some(client.column_types(sobject, &columns).await?);
                        }
                    }
                    if let Some(t) = &types {
                        records = records
                            .into_iter()
                            .map(|r| normalize_bulk_record(r, t))
                            .collect();
                    }
                }
                let next = match resp.header("sforce-locator").map(str::trim) {
                    None | Some("") | Some("null") => BulkPhase::End,
                    Some(l) => BulkPhase::Fetch {
                        job_id,
                        locator: Some(l.to_string()),
                    },
                };
                Ok(Some((records, (client, next, normalize_for, types))))
            },
        )
        .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// The describe type of each (possibly dotted) column, following single-target
    /// relationships through their describes.
    async fn column_types(
        &self,
        sobject: &str,
        columns: &[String],
    ) -> Result<HashMap<String, FieldType>> {
        let mut out = HashMap::new();
        for col in columns {
            let mut object = sobject.to_string();
            let mut parts: Vec<&str> = col.split('.').collect();
            let Some(last) = parts.pop() else { continue };
            let mut resolved = true;
            for rel in parts {
                let d = self.describe(&object).await?;
                let target = d
                    .fields()
                    .iter()
                    .find(|f| {
                        f.relationship_name
                            .as_deref()
                            .is_some_and(|r| r.eq_ignore_ascii_case(rel))
                    })
                    .and_then(|f| match f.reference_to.as_slice() {
                        [one] => Some(one.clone()),
                        _ => None,
                    });
                match target {
                    Some(t) => object = t,
                    None => {
                        resolved = false;
                        break;
                    }
                }
            }
            if resolved {
                let d = self.describe(&object).await?;
                if let Some(f) = d.field(last) {
                    out.insert(col.clone(), f.field_type.clone());
                }
            }
        }
        Ok(out)
    }

    async fn bulk_create_and_wait(&self, soql: &str, operation: &str) -> Result<String> {
        let body = serde_json::json!({
            "operation": operation,
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        });
        // Creating a second job after an ambiguous failure only wastes a job; it cannot
        // duplicate data, so the request counts as retry-safe.
        let job: JobInfo = self
            .send_json(Req::new(Method::POST, &["jobs", "query"]).json(body))
            .await?;
        let cfg = &self.inner.config.bulk;
        let start = Instant::now();
        let mut state = job.state;
        loop {
            match state.as_str() {
                "JobComplete" => return Ok(job.id),
                "Failed" | "Aborted" => {
                    let info: JobInfo = self
                        .send_json(Req::new(Method::GET, &["jobs", "query", &job.id]))
                        .await?;
                    return Err(SalesforceError::BulkJobFailed {
                        job_id: job.id,
                        state: info.state,
                        message: info.error_message.unwrap_or_default(),
                    });
                }
                _ => {}
            }
            if start.elapsed() >= cfg.max_wait {
                // Best effort: stop the job so it does not keep consuming resources.
                let _ = self
                    .send(
                        Req::new(Method::PATCH, &["jobs", "query", &job.id])
                            .json(serde_json::json!({"state": "Aborted"})),
                    )
                    .await;
                return Err(SalesforceError::BulkJobTimeout {
                    job_id: job.id,
                    state,
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(cfg.poll_interval).await;
            let info: JobInfo = self
                .send_json(Req::new(Method::GET, &["jobs", "query", &job.id]))
                .await?;
            if info.state == "Failed" || info.state == "Aborted" {
                return Err(SalesforceError::BulkJobFailed {
                    job_id: job.id,
                    state: info.state,
                    message: info.error_message.unwrap_or_default(),
                });
            }
            state = info.state;
        }
    }
}

/// Converts a flat Bulk CSV record into the REST shape (see [`QueryStream::records`]).
pub(crate) fn normalize_bulk_record(flat: Record, types: &HashMap<String, FieldType>) -> Record {
    let mut out = Record::new();
    'columns: for (key, value) in flat {
        let typed = match (&value, types.get(&key)) {
            (serde_json::Value::String(s), Some(t)) => typed_value(s, t),
            _ => value,
        };
        let mut parts: Vec<&str> = key.split('.').collect();
        let Some(last) = parts.pop() else { continue };
        let mut map = &mut out;
        for p in parts {
            let entry = map
                .entry(p.to_string())
                .or_insert_with(|| serde_json::Value::Object(Record::new()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(Record::new());
            }
            let serde_json::Value::Object(m) = entry else {
                // Not reachable: the entry was made an object just above.
                continue 'columns;
            };
            map = m;
        }
        map.insert(last.to_string(), typed);
    }
    for v in out.values_mut() {
        null_empty_relationships(v);
    }
    out
}

/// `{"Name": null}` (a relationship without a related record) becomes `null`, as in REST.
fn null_empty_relationships(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(m) = v {
        for inner in m.values_mut() {
            null_empty_relationships(inner);
        }
        if m.values().all(serde_json::Value::is_null) {
            *v = serde_json::Value::Null;
        }
    }
}

fn typed_value(s: &str, t: &FieldType) -> serde_json::Value {
    use serde_json::Value;
    match t {
        FieldType::Boolean => match s {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(s.to_string()),
        },
        FieldType::Int
        | FieldType::Long
        | FieldType::Double
        | FieldType::Currency
        | FieldType::Percent => {
            // Parse as written, like a JSON number: integers stay integers.
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Value::Number(n)
            } else {
                Value::String(s.to_string())
            }
        }
        _ => Value::String(s.to_string()),
    }
}

/// Parses a Bulk API 2.0 CSV result page into flat records (empty cell → `null`).
pub(crate) fn parse_csv(body: &[u8]) -> std::result::Result<Vec<Record>, String> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Vec::new());
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("CSV header: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(|e| format!("CSV row: {e}"))?;
        let mut rec = Record::new();
        for (h, v) in headers.iter().zip(row.iter()) {
            rec.insert(
                h.clone(),
                if v.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(v.to_string())
                },
            );
        }
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_pages_parse_with_quotes_newlines_and_nulls() {
        let body =
            b"\"Id\",\"Name\",\"Account.Name\"\n\"003A\",\"O'Brien, \"\"Jr\"\"\nline2\",\"\"\n";
        let recs = parse_csv(body).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Id"], json!("003A"));
        assert_eq!(recs[0]["Name"], json!("O'Brien, \"Jr\"\nline2"));
        assert_eq!(recs[0]["Account.Name"], json!(null));
        assert!(parse_csv(b"").unwrap().is_empty());
    }

    #[test]
    fn bulk_records_are_nested_and_typed_like_rest() {
        let types: HashMap<String, FieldType> = [
            ("IsWon", FieldType::Boolean),
            ("Amount", FieldType::Currency),
            ("Probability", FieldType::Percent),
            ("NumberOfEmployees", FieldType::Int),
            ("CloseDate", FieldType::Date),
            ("Account.Name", FieldType::String),
            ("Account.Owner.Name", FieldType::String),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let flat: Record = serde_json::from_value(json!({
            "Id": "006A", "IsWon": "false", "Amount": "1500.5", "Probability": "10",
            "NumberOfEmployees": null, "CloseDate": "2024-05-01",
            "Account.Name": "Acme", "Account.Owner.Name": null, "Partner.Name": null
        }))
        .unwrap();
        let rec = normalize_bulk_record(flat, &types);
        assert_eq!(
            serde_json::Value::Object(rec),
            json!({
                "Id": "006A", "IsWon": false, "Amount": 1500.5, "Probability": 10,
                "NumberOfEmployees": null, "CloseDate": "2024-05-01",
                "Account": {"Name": "Acme", "Owner": null}, "Partner": null
            })
        );
    }

    #[test]
    fn field_value_reads_nested_and_flat_records() {
        let mut rest: Record = serde_json::from_value(json!({
            "attributes": {"type": "Contact", "url": "/x"},
            "Id": "003",
            "Account": {"attributes": {"type": "Account"}, "Name": "Acme"}
        }))
        .unwrap();
        strip_attributes(&mut rest);
        assert!(rest.get("attributes").is_none());
        assert!(rest["Account"].get("attributes").is_none());
        assert_eq!(field_value(&rest, "account.name"), Some(&json!("Acme")));
        let bulk: Record =
            serde_json::from_value(json!({"Id": "003", "Account.Name": "Acme"})).unwrap();
        assert_eq!(field_value(&bulk, "Account.Name"), Some(&json!("Acme")));
        assert_eq!(field_value(&bulk, "Missing"), None);
    }
}
