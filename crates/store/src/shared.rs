//! State that every process sharing the store must agree on: pauses and alert windows. Both are
//! measured on the database clock.

use std::time::Duration;

use crate::error::{Result, StoreError};
use crate::{
    dispatch, duration_ms, from_ms, ms_duration, no_nul, to_u64, AlertDecision, AlertSummary,
    BeginWrite, Pause, Store,
};

/// How often `alert_window_hit` starts over when a concurrent caller opened the window first.
const WINDOW_RETRIES: usize = 10;

#[derive(sqlx::FromRow)]
struct RawPause {
    scope: String,
    paused_until: i64,
    reason: String,
    set_at: i64,
    remaining_ms: i64,
}

impl RawPause {
    fn into_pause(self) -> Result<Pause> {
        Ok(Pause {
            scope: self.scope,
            until: from_ms(self.paused_until)?,
            remaining: ms_duration(self.remaining_ms),
            reason: self.reason,
            set_at: from_ms(self.set_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawSummary {
    alert_key: String,
    opened_at: i64,
    closes_at: i64,
    suppressed: i64,
}

fn non_empty(op: &'static str, field: &'static str, v: &str) -> Result<()> {
    no_nul(op, field, v)?;
    if v.is_empty() {
        return Err(StoreError::InvalidInput {
            op,
            field,
            reason: "is empty".to_owned(),
        });
    }
    Ok(())
}

impl Store {
    /// Pauses `scope` (e.g. `"salesforce"` after `REQUEST_LIMIT_EXCEEDED`) for `duration` from the
    /// database's now, with a `reason` for the status page. Every process sees the pause
    /// ([`Store::active_pause`]); the engine checks it before claiming. A pause only ever grows here:
    /// when the scope is already paused until later, that pause (and its reason) stays. Returns the
    /// pause in force afterwards. Use [`Store::clear_pause`] to end one early.
    pub async fn set_pause(&self, scope: &str, duration: Duration, reason: &str) -> Result<Pause> {
        const OP: &str = "set_pause";
        non_empty(OP, "scope", scope)?;
        no_nul(OP, "reason", reason)?;
        let ms = duration_ms(OP, "duration", duration)?;
        let now = self.now_sql();
        let upsert = format!(
            "INSERT INTO pauses (scope, paused_until, reason, set_at) VALUES ($1, {now} + $2, $3, {now}) \
             ON CONFLICT (scope) DO UPDATE SET paused_until = excluded.paused_until, \
                 reason = excluded.reason, set_at = excluded.set_at \
             WHERE pauses.paused_until < excluded.paused_until"
        );
        let select = format!(
            "SELECT scope, paused_until, reason, set_at, paused_until - {now} AS remaining_ms \
             FROM pauses WHERE scope = $1"
        );
        let err = |e| StoreError::query(OP, format!("scope {scope}"))(e);
        let raw: RawPause = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            sqlx::query(&upsert)
                .bind(scope)
                .bind(ms)
                .bind(reason)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            let raw = sqlx::query_as::<_, RawPause>(&select)
                .bind(scope)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            raw
        });
        raw.into_pause()
    }

    /// The pause in force for `scope` on the database clock, if any; `remaining` says how long to wait.
    pub async fn active_pause(&self, scope: &str) -> Result<Option<Pause>> {
        let sql = format!(
            "SELECT scope, paused_until, reason, set_at, paused_until - {now} AS remaining_ms \
             FROM pauses WHERE scope = $1 AND paused_until > {now}",
            now = self.now_sql()
        );
        let raw: Option<RawPause> = dispatch!(self, p => {
            sqlx::query_as::<_, RawPause>(&sql)
                .bind(scope)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("active_pause", format!("scope {scope}")))?
        });
        raw.map(RawPause::into_pause).transpose()
    }

    /// Every pause in force, by scope (for the status page).
    pub async fn active_pauses(&self) -> Result<Vec<Pause>> {
        let sql = format!(
            "SELECT scope, paused_until, reason, set_at, paused_until - {now} AS remaining_ms \
             FROM pauses WHERE paused_until > {now} ORDER BY scope",
            now = self.now_sql()
        );
        let raws: Vec<RawPause> = dispatch!(self, p => {
            sqlx::query_as::<_, RawPause>(&sql)
                .fetch_all(p)
                .await
                .map_err(StoreError::query("active_pauses", "all"))?
        });
        raws.into_iter().map(RawPause::into_pause).collect()
    }

    /// Ends the pause of `scope` now. Returns whether a pause was in force.
    pub async fn clear_pause(&self, scope: &str) -> Result<bool> {
        let sql = format!(
            "DELETE FROM pauses WHERE scope = $1 RETURNING paused_until - {}",
            self.now_sql()
        );
        let remaining: Option<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(scope)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("clear_pause", format!("scope {scope}")))?
        });
        Ok(remaining.is_some_and(|ms| ms > 0))
    }

    /// Deduplicates an alert across every process on the store. The first hit of `key` opens a window
    /// of `window` (database clock) and answers [`AlertDecision::Send`]; every later hit while the
    /// window is open answers [`AlertDecision::Suppressed`] with the number suppressed so far in it,
    /// counted atomically. The first hit after the window closed opens a new one (and sends). A closed
    /// window with suppressed hits is kept until one process takes its summary with
    /// [`Store::claim_due_alert_summaries`].
    pub async fn alert_window_hit(&self, key: &str, window: Duration) -> Result<AlertDecision> {
        const OP: &str = "alert_window_hit";
        non_empty(OP, "key", key)?;
        let window_ms = duration_ms(OP, "window", window)?;
        let err = |e| StoreError::query(OP, format!("alert {key}"))(e);
        let now_sql = format!("SELECT {}", self.now_sql());
        for _ in 0..WINDOW_RETRIES {
            let decision: Option<AlertDecision> = dispatch!(self, p => {
                let mut tx = p.begin_write().await.map_err(err)?;
                let now = sqlx::query_scalar::<_, i64>(&now_sql)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(err)?;
                let suppressed = sqlx::query_scalar::<_, i64>(
                    "UPDATE alert_windows SET suppressed = suppressed + 1 \
                     WHERE alert_key = $1 AND is_current = 1 AND closes_at > $2 \
                       AND summary_claimed_at IS NULL \
                     RETURNING suppressed",
                )
                .bind(key)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
                if let Some(n) = suppressed {
                    tx.commit().await.map_err(err)?;
                    Some(AlertDecision::Suppressed { count: to_u64(n) })
                } else {
                    // Closed windows: forget those with nothing to summarize (or summarized), keep the
                    // others for their summary, then open a new window.
                    sqlx::query(
                        "DELETE FROM alert_windows WHERE alert_key = $1 \
                           AND (closes_at <= $2 OR summary_claimed_at IS NOT NULL) \
                           AND (suppressed = 0 OR summary_claimed_at IS NOT NULL)",
                    )
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                    sqlx::query(
                        "UPDATE alert_windows SET is_current = 0 \
                         WHERE alert_key = $1 AND is_current = 1 \
                           AND (closes_at <= $2 OR summary_claimed_at IS NOT NULL)",
                    )
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                    let opened = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO alert_windows (alert_key, is_current, opened_at, closes_at, suppressed) \
                         VALUES ($1, 1, $2, $3, 0) \
                         ON CONFLICT (alert_key) WHERE is_current = 1 DO NOTHING RETURNING id",
                    )
                    .bind(key)
                    .bind(now)
                    .bind(now.saturating_add(window_ms))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                    if opened.is_some() {
                        tx.commit().await.map_err(err)?;
                        Some(AlertDecision::Send)
                    } else {
                        // Another process opened the window meanwhile: count this hit in it.
                        tx.rollback().await.map_err(err)?;
                        None
                    }
                }
            });
            if let Some(d) = decision {
                return Ok(d);
            }
        }
        Err(StoreError::InvalidState {
            op: OP,
            key: format!("alert {key}"),
            reason: format!("the window kept changing; giving up after {WINDOW_RETRIES} attempts"),
        })
    }

    /// Takes (at most `limit`) closed alert windows that suppressed at least one hit and whose summary
    /// nobody has taken yet, marking them taken in the same statement: across all processes each
    /// summary is handed out exactly once. The caller sends one summary message per entry (a summary
    /// lost by a crash right after this call is not handed out again).
    pub async fn claim_due_alert_summaries(&self, limit: u32) -> Result<Vec<AlertSummary>> {
        let sql = format!(
            "UPDATE alert_windows SET summary_claimed_at = {now} \
             WHERE summary_claimed_at IS NULL AND suppressed > 0 AND closes_at <= {now} \
               AND id IN (SELECT id FROM alert_windows WHERE summary_claimed_at IS NULL \
                          AND suppressed > 0 AND closes_at <= {now} ORDER BY closes_at, id LIMIT $1) \
             RETURNING alert_key, opened_at, closes_at, suppressed",
            now = self.now_sql()
        );
        let raws: Vec<RawSummary> = dispatch!(self, p => {
            sqlx::query_as::<_, RawSummary>(&sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("claim_due_alert_summaries", format!("limit {limit}")))?
        });
        let mut out = raws
            .into_iter()
            .map(|r| {
                Ok(AlertSummary {
                    key: r.alert_key,
                    opened_at: from_ms(r.opened_at)?,
                    closed_at: from_ms(r.closes_at)?,
                    suppressed: to_u64(r.suppressed),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| (a.closed_at, &a.key).cmp(&(b.closed_at, &b.key)));
        Ok(out)
    }
}
