//! SOQL `query` / `queryAll` and their cursors (`nextRecordsUrl`).

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::http::Resp;
use super::{Ctx, Cursor, MockHandle, Mutable, MAX_OPEN_CURSORS};
use crate::error::ApiError;
use crate::ids;
use crate::store;

impl MockHandle {
    pub(super) fn query(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        soql_text: &str,
        all: bool,
        batch: usize,
    ) -> Result<Resp, ApiError> {
        let parsed = crate::soql::parse(soql_text).map_err(|e| store::malformed(soql_text, &e))?;
        let out = store::run_query(
            &self.0.schema,
            &m.data,
            &parsed,
            soql_text,
            all,
            &ctx.version,
            Utc::now().date_naive(),
        )?;
        if matches!(parsed.select, crate::soql::Select::Count) {
            return Ok(Resp::json(
                StatusCode::OK,
                json!({"totalSize": out.total, "done": true, "records": []}),
            ));
        }
        let rows = Arc::new(out.rows);
        let total = out.total;
        Ok(Resp::json(
            StatusCode::OK,
            self.page(
                m,
                ctx,
                if all { "queryAll" } else { "query" },
                None,
                Cursor { rows, total, batch },
                0,
            ),
        ))
    }

    /// One page of a result set; opens (or keeps using) a cursor when more rows remain.
    /// Like Salesforce, at most [`MAX_OPEN_CURSORS`] cursors stay open; opening another closes the
    /// oldest (its `nextRecordsUrl` then answers `INVALID_QUERY_LOCATOR`).
    fn page(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        kind: &str,
        cursor_id: Option<&str>,
        cursor: Cursor,
        start: usize,
    ) -> Value {
        let rows = cursor.rows.clone();
        let end = (start + cursor.batch).min(rows.len());
        let records: Vec<Value> = rows.get(start..end).unwrap_or(&[]).to_vec();
        let mut out = Map::new();
        out.insert("totalSize".into(), json!(cursor.total));
        out.insert("done".into(), json!(end >= rows.len()));
        if end < rows.len() {
            let id = match cursor_id {
                Some(id) => id.to_string(),
                None => {
                    m.seq += 1;
                    let id = ids::make_id("01g", m.seq);
                    if m.cursors.len() >= MAX_OPEN_CURSORS {
                        m.cursors.shift_remove_index(0);
                    }
                    m.cursors.insert(id.clone(), cursor);
                    id
                }
            };
            out.insert(
                "nextRecordsUrl".into(),
                json!(format!("/services/data/v{}/{kind}/{id}-{end}", ctx.version)),
            );
        }
        out.insert("records".into(), Value::Array(records));
        Value::Object(out)
    }

    pub(super) fn query_more(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        kind: &str,
        loc: &str,
    ) -> Result<Resp, ApiError> {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY_LOCATOR",
                "invalid query locator",
            )
        };
        let (cid, off) = loc.split_once('-').ok_or_else(invalid)?;
        let off: usize = off.parse().map_err(|_| invalid())?;
        let cursor = m.cursors.get(cid).cloned().ok_or_else(invalid)?;
        if off > cursor.rows.len() {
            return Err(invalid());
        }
        Ok(Resp::json(
            StatusCode::OK,
            self.page(m, ctx, kind, Some(cid), cursor, off),
        ))
    }
}

pub(super) fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| {
            s.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
        })
        .map(|n| n.clamp(200, 2000))
        .unwrap_or(2000)
}
