//! Read-only queries for the status page.

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError};
use crate::events::{RawEvent, EVENT_COLS};
use crate::{dispatch, to_ms, to_u64, Event, EventStatus, LatencyStats, StatusCounts, Store};

impl Store {
    /// Number of events received since `since`, per current status.
    pub async fn event_counts_since(&self, since: DateTime<Utc>) -> Result<StatusCounts> {
        let rows: Vec<(String, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT status, COUNT(*) FROM events WHERE received_at >= $1 GROUP BY status",
            )
            .bind(to_ms(since))
            .fetch_all(p)
            .await
            .map_err(StoreError::query("event_counts_since", since))?
        });
        let mut counts = StatusCounts::default();
        for (status, n) in rows {
            *counts.slot(status.parse::<EventStatus>()?) += to_u64(n);
        }
        Ok(counts)
    }

    /// Receipt → done latency of events received since `since` that are done; `None` when there are
    /// none. Percentiles are nearest-rank, computed in the database (no rows are loaded).
    pub async fn latency_since(&self, since: DateTime<Utc>) -> Result<Option<LatencyStats>> {
        const OP: &str = "latency_since";
        let since_ms = to_ms(since);
        let filter =
            "FROM events WHERE status = 'done' AND processed_at IS NOT NULL AND received_at >= $1";
        let agg_sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(processed_at - received_at), 0) AS BIGINT), \
                 CAST(COALESCE(MAX(processed_at - received_at), 0) AS BIGINT) {filter}"
        );
        let (count, sum, max): (i64, i64, i64) = dispatch!(self, p => {
            sqlx::query_as::<_, (i64, i64, i64)>(&agg_sql)
                .bind(since_ms)
                .fetch_one(p)
                .await
                .map_err(StoreError::query(OP, since))?
        });
        if count <= 0 {
            return Ok(None);
        }
        let rank_sql = format!(
            "SELECT CAST(processed_at - received_at AS BIGINT) AS ms {filter} ORDER BY ms LIMIT 1 OFFSET $2"
        );
        let percentile = |pct: i64| {
            // nearest rank: ceil(pct/100 * n), 1-based
            let rank = ((pct * count) + 99) / 100;
            let offset = (rank - 1).clamp(0, count - 1);
            let sql = rank_sql.clone();
            async move {
                let v: i64 = dispatch!(self, p => {
                    sqlx::query_scalar::<_, i64>(&sql)
                        .bind(since_ms)
                        .bind(offset)
                        .fetch_one(p)
                        .await
                        .map_err(StoreError::query(OP, since))?
                });
                Ok::<i64, StoreError>(v)
            }
        };
        let p50 = percentile(50).await?;
        let p95 = percentile(95).await?;
        let p99 = percentile(99).await?;
        Ok(Some(LatencyStats {
            count: to_u64(count),
            avg_ms: sum / count,
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
            max_ms: max,
        }))
    }

    /// The earliest instant at which some item's next event becomes claimable: for the oldest open
    /// event of each item, its due time (pending or failed) or its lease expiry (processing), but not
    /// before the item's lease expires. A worker can sleep until then. `None` when no event is open;
    /// the instant may be in the past (work is available now). The instant is on the database clock:
    /// to wait for it, prefer [`Store::next_due_in`].
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let (due, _) = self.next_due().await?;
        crate::opt_from_ms(due)
    }

    /// How long until some item's next event becomes claimable (see [`Store::next_due_at`]), measured
    /// on the database clock so a process with a skewed clock sleeps the right time. `Some(ZERO)` when
    /// work is available now, `None` when no event is open.
    pub async fn next_due_in(&self) -> Result<Option<std::time::Duration>> {
        let (due, now) = self.next_due().await?;
        Ok(due.map(|d| crate::ms_duration(d.saturating_sub(now))))
    }

    async fn next_due(&self) -> Result<(Option<i64>, i64)> {
        let sql = format!(
            "SELECT (SELECT MIN(CASE WHEN l.lease_expires_at > q.due_at THEN l.lease_expires_at \
                                 ELSE q.due_at END) \
                     FROM queue_heads q \
                     LEFT JOIN item_locks l ON l.board_id = q.board_id AND l.item_id = q.item_id), \
                    {now}",
            now = self.now_sql()
        );
        let row: (Option<i64>, i64) = dispatch!(self, p => {
            sqlx::query_as::<_, (Option<i64>, i64)>(&sql)
                .fetch_one(p)
                .await
                .map_err(StoreError::query("next_due_at", "open events"))?
        });
        Ok(row)
    }

    /// The `limit` most recently updated events that carry an error (failed, dead, skipped, or done
    /// after earlier failures), newest first.
    pub async fn recent_failures(&self, limit: u32) -> Result<Vec<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM events WHERE last_error IS NOT NULL \
             ORDER BY updated_at DESC, id DESC LIMIT $1"
        );
        self.events_query("recent_failures", &sql, limit).await
    }

    /// The `limit` most recently received events, newest first.
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<Event>> {
        let sql = format!("SELECT {EVENT_COLS} FROM events ORDER BY id DESC LIMIT $1");
        self.events_query("recent_events", &sql, limit).await
    }

    async fn events_query(&self, op: &'static str, sql: &str, limit: u32) -> Result<Vec<Event>> {
        let raws: Vec<RawEvent> = dispatch!(self, p => {
            sqlx::query_as::<_, RawEvent>(sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query(op, format!("limit {limit}")))?
        });
        raws.into_iter().map(RawEvent::into_event).collect()
    }
}
