//! History as data: one row per attempt to apply an event, and one per refused webhook delivery.

use chrono::{DateTime, Utc};

use crate::error::{event_key, Result, StoreError};
use crate::{
    dispatch, duration_ms, from_ms, to_ms, to_u64, Attempt, AttemptCounts, AttemptId,
    AttemptOutcome, EventId, NewAttempt, NewRejectedDelivery, RejectedDelivery, RejectedDeliveryId,
    Store,
};

/// How many bytes of a rejected delivery's body are kept (64 KiB); the rest is dropped and the row
/// flagged `body_truncated`.
pub const REJECTED_BODY_CAP: usize = 64 * 1024;

/// How many bytes of an attempt's error text are kept (16 KiB).
pub const ATTEMPT_ERROR_CAP: usize = 16 * 1024;

/// How many bytes of a rejected delivery's detail are kept.
const DETAIL_CAP: usize = 4 * 1024;

/// How often `record_attempt` retries when a concurrent insert took the same attempt number.
const NUMBER_RETRIES: usize = 20;

const ATTEMPT_COLS: &str = "id, event_id, attempt, started_at, finished_at, worker, operation, \
     outcome, error_class, error, http_status";

const REJECTED_COLS: &str =
    "id, received_at, reason, http_status, detail, headers, body, body_len, body_truncated";

/// Text any backend can store: NUL becomes U+FFFD, and at most `cap` bytes (cut on a character
/// boundary, marked with `…`).
fn storable(s: &str, cap: usize) -> String {
    let mut s = s.replace('\0', "\u{fffd}");
    if s.len() > cap {
        let mut end = cap.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[derive(sqlx::FromRow)]
struct RawAttempt {
    id: i64,
    event_id: i64,
    attempt: i64,
    started_at: i64,
    finished_at: i64,
    worker: String,
    operation: String,
    outcome: String,
    error_class: Option<String>,
    error: Option<String>,
    http_status: Option<i64>,
}

impl RawAttempt {
    fn into_attempt(self) -> Result<Attempt> {
        Ok(Attempt {
            id: AttemptId(self.id),
            event_id: EventId(self.event_id),
            attempt: u32::try_from(self.attempt).unwrap_or(u32::MAX),
            started_at: from_ms(self.started_at)?,
            finished_at: from_ms(self.finished_at)?,
            worker: self.worker,
            operation: self.operation,
            outcome: self.outcome.parse()?,
            error_class: self.error_class,
            error: self.error,
            http_status: self.http_status.and_then(|s| u16::try_from(s).ok()),
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawRejected {
    id: i64,
    received_at: i64,
    reason: String,
    http_status: i64,
    detail: Option<String>,
    headers: String,
    body: Vec<u8>,
    body_len: i64,
    body_truncated: i64,
}

impl RawRejected {
    fn into_rejected(self) -> Result<RejectedDelivery> {
        let headers: Vec<(String, String)> =
            serde_json::from_str(&self.headers).map_err(|_| StoreError::Corrupt {
                what: "rejected delivery headers",
                value: self.headers.clone(),
            })?;
        Ok(RejectedDelivery {
            id: RejectedDeliveryId(self.id),
            received_at: from_ms(self.received_at)?,
            reason: self.reason.parse()?,
            http_status: u16::try_from(self.http_status).unwrap_or(0),
            detail: self.detail,
            headers,
            body: self.body,
            body_len: to_u64(self.body_len),
            body_truncated: self.body_truncated != 0,
        })
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

impl Store {
    /// Records one attempt to apply an event and returns it as stored, with its number (1, 2, 3… per
    /// event) and its times on the database clock. Not fenced: a worker that lost its lease records
    /// its `lease_lost` attempt too. [`StoreError::NotFound`] when the event does not exist.
    pub async fn record_attempt(&self, attempt: &NewAttempt) -> Result<Attempt> {
        const OP: &str = "record_attempt";
        let elapsed = duration_ms(OP, "elapsed", attempt.elapsed)?;
        let worker = storable(&attempt.worker, 1024);
        let operation = storable(&attempt.operation, 4096);
        let error_class = attempt.error_class.as_deref().map(|c| storable(c, 1024));
        let error = attempt
            .error
            .as_deref()
            .map(|e| storable(e, ATTEMPT_ERROR_CAP));
        let now = self.now_sql();
        let sql = format!(
            "INSERT INTO attempts (event_id, attempt, started_at, finished_at, worker, operation, \
                 outcome, error_class, error, http_status) \
             SELECT $1, COALESCE(MAX(attempt), 0) + 1, {now} - $2, {now}, $3, $4, $5, $6, $7, $8 \
             FROM attempts WHERE event_id = $1 \
             RETURNING {ATTEMPT_COLS}"
        );
        let key = event_key(attempt.event_id);
        let mut tries = 0;
        loop {
            tries += 1;
            let res: std::result::Result<RawAttempt, sqlx::Error> = dispatch!(self, p => {
                sqlx::query_as::<_, RawAttempt>(&sql)
                    .bind(attempt.event_id.0)
                    .bind(elapsed)
                    .bind(&worker)
                    .bind(&operation)
                    .bind(attempt.outcome.as_str())
                    .bind(&error_class)
                    .bind(&error)
                    .bind(attempt.http_status.map(i64::from))
                    .fetch_one(p)
                    .await
            });
            match res {
                Ok(raw) => return raw.into_attempt(),
                Err(e) if is_unique_violation(&e) && tries < NUMBER_RETRIES => continue,
                Err(e) if is_foreign_key_violation(&e) => {
                    return Err(StoreError::NotFound { op: OP, key })
                }
                Err(e) => return Err(StoreError::query(OP, &key)(e)),
            }
        }
    }

    /// Every attempt of an event, oldest first.
    pub async fn attempts_for_event(&self, event_id: EventId) -> Result<Vec<Attempt>> {
        let sql =
            format!("SELECT {ATTEMPT_COLS} FROM attempts WHERE event_id = $1 ORDER BY attempt");
        let raws: Vec<RawAttempt> = dispatch!(self, p => {
            sqlx::query_as::<_, RawAttempt>(&sql)
                .bind(event_id.0)
                .fetch_all(p)
                .await
                .map_err(StoreError::query("attempts_for_event", event_key(event_id)))?
        });
        raws.into_iter().map(RawAttempt::into_attempt).collect()
    }

    /// The `limit` most recently recorded attempts (of any event), newest first.
    pub async fn recent_attempts(&self, limit: u32) -> Result<Vec<Attempt>> {
        let sql = format!("SELECT {ATTEMPT_COLS} FROM attempts ORDER BY id DESC LIMIT $1");
        let raws: Vec<RawAttempt> = dispatch!(self, p => {
            sqlx::query_as::<_, RawAttempt>(&sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("recent_attempts", format!("limit {limit}")))?
        });
        raws.into_iter().map(RawAttempt::into_attempt).collect()
    }

    /// Number of attempts that finished since `since`, per outcome.
    pub async fn attempt_counts_since(&self, since: DateTime<Utc>) -> Result<AttemptCounts> {
        let rows: Vec<(String, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT outcome, COUNT(*) FROM attempts WHERE finished_at >= $1 GROUP BY outcome",
            )
            .bind(to_ms(since))
            .fetch_all(p)
            .await
            .map_err(StoreError::query("attempt_counts_since", since))?
        });
        let mut counts = AttemptCounts::default();
        for (outcome, n) in rows {
            *counts.slot(outcome.parse::<AttemptOutcome>()?) += to_u64(n);
        }
        Ok(counts)
    }

    /// Records a refused webhook delivery (received now, database clock). The body is kept byte for
    /// byte up to [`REJECTED_BODY_CAP`] (stored as `bytea`/`BLOB`, so NUL and invalid UTF-8 survive);
    /// headers as a JSON array of `[name, value]` pairs. Never fails on content.
    pub async fn record_rejected_delivery(
        &self,
        delivery: &NewRejectedDelivery,
    ) -> Result<RejectedDeliveryId> {
        const OP: &str = "record_rejected_delivery";
        let body = &delivery.body[..delivery.body.len().min(REJECTED_BODY_CAP)];
        let full_len = delivery
            .body_len
            .unwrap_or(delivery.body.len() as u64)
            .max(delivery.body.len() as u64);
        let truncated = (body.len() as u64) < full_len;
        let headers =
            serde_json::to_string(&delivery.headers).map_err(|e| StoreError::InvalidInput {
                op: OP,
                field: "headers",
                reason: e.to_string(),
            })?;
        let detail = delivery.detail.as_deref().map(|d| storable(d, DETAIL_CAP));
        let sql = format!(
            "INSERT INTO rejected_deliveries (received_at, reason, http_status, detail, headers, body, \
                 body_len, body_truncated) \
             VALUES ({}, $1, $2, $3, $4, $5, $6, $7) RETURNING id",
            self.now_sql()
        );
        let id: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(delivery.reason.as_str())
                .bind(i64::from(delivery.http_status))
                .bind(&detail)
                .bind(&headers)
                .bind(body)
                .bind(i64::try_from(full_len).unwrap_or(i64::MAX))
                .bind(i64::from(truncated))
                .fetch_one(p)
                .await
                .map_err(StoreError::query(OP, delivery.reason))?
        });
        Ok(RejectedDeliveryId(id))
    }

    /// The `limit` most recent rejected deliveries, newest first.
    pub async fn list_rejected_deliveries(&self, limit: u32) -> Result<Vec<RejectedDelivery>> {
        let sql =
            format!("SELECT {REJECTED_COLS} FROM rejected_deliveries ORDER BY id DESC LIMIT $1");
        let raws: Vec<RawRejected> = dispatch!(self, p => {
            sqlx::query_as::<_, RawRejected>(&sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("list_rejected_deliveries", format!("limit {limit}")))?
        });
        raws.into_iter().map(RawRejected::into_rejected).collect()
    }

    /// One rejected delivery by id.
    pub async fn get_rejected_delivery(
        &self,
        id: RejectedDeliveryId,
    ) -> Result<Option<RejectedDelivery>> {
        let sql = format!("SELECT {REJECTED_COLS} FROM rejected_deliveries WHERE id = $1");
        let raw: Option<RawRejected> = dispatch!(self, p => {
            sqlx::query_as::<_, RawRejected>(&sql)
                .bind(id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("get_rejected_delivery", format!("rejected delivery {id}")))?
        });
        raw.map(RawRejected::into_rejected).transpose()
    }

    /// Number of deliveries rejected since `since` (e.g. the last 24 h for `/status`).
    pub async fn rejected_delivery_count_since(&self, since: DateTime<Utc>) -> Result<u64> {
        let n: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM rejected_deliveries WHERE received_at >= $1",
            )
            .bind(to_ms(since))
            .fetch_one(p)
            .await
            .map_err(StoreError::query("rejected_delivery_count_since", since))?
        });
        Ok(to_u64(n))
    }

    /// Deletes rejected deliveries received before `before` (retention: junk traffic must not grow
    /// the database without bound). Returns how many were deleted.
    pub async fn prune_rejected_deliveries(&self, before: DateTime<Utc>) -> Result<u64> {
        let n = dispatch!(self, p => {
            sqlx::query("DELETE FROM rejected_deliveries WHERE received_at < $1")
                .bind(to_ms(before))
                .execute(p)
                .await
                .map_err(StoreError::query("prune_rejected_deliveries", before))?
                .rows_affected()
        });
        Ok(n)
    }
}
