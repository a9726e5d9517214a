//! Event log: idempotent receipt, per-item serialized claiming, settling claims.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{event_key, Result, StoreError};
use crate::{
    dispatch, duration_ms, from_ms, ms_duration, no_nul, opt_from_ms, to_ms, BeginWrite, Claim,
    ClaimedEvent, DeadLetterId, Event, EventId, EventStatus, InsertOutcome, NewEvent, Store,
};

/// Columns of `events`, in the order of [`RawEvent`].
pub(crate) const EVENT_COLS: &str = "id, trigger_uuid, board_id, item_id, item_seq, event_type, payload, \
     status, attempts, last_error, next_attempt_at, received_at, updated_at, processed_at, claimed_by, \
     lease_expires_at";

/// How many candidate items one `claim_next` call tries before reporting "nothing claimable".
const CLAIM_CANDIDATES: i64 = 16;

/// A heartbeat's second statement: the claimed event's lease follows the item's.
const RENEW_EVENT_SQL: &str = "UPDATE events SET lease_expires_at = $1 \
     WHERE id = $2 AND lease_token = $3 AND status = 'processing'";

/// How often `insert_event_if_new` retries when a concurrent insert for the same item took the same
/// sequence number (PostgreSQL only; SQLite serializes writers).
const SEQ_RETRIES: usize = 50;

#[derive(sqlx::FromRow)]
pub(crate) struct RawEvent {
    id: i64,
    trigger_uuid: String,
    board_id: i64,
    item_id: i64,
    item_seq: i64,
    event_type: String,
    payload: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: i64,
    received_at: i64,
    updated_at: i64,
    processed_at: Option<i64>,
    claimed_by: Option<String>,
    lease_expires_at: Option<i64>,
}

impl RawEvent {
    pub(crate) fn into_event(self) -> Result<Event> {
        Ok(Event {
            id: EventId(self.id),
            trigger_uuid: self.trigger_uuid,
            board_id: self.board_id,
            item_id: self.item_id,
            item_seq: self.item_seq,
            event_type: self.event_type,
            payload: self.payload,
            status: self.status.parse()?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            next_attempt_at: from_ms(self.next_attempt_at)?,
            received_at: from_ms(self.received_at)?,
            updated_at: from_ms(self.updated_at)?,
            processed_at: opt_from_ms(self.processed_at)?,
            claimed_by: self.claimed_by,
            lease_expires_at: opt_from_ms(self.lease_expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct Head {
    id: i64,
    status: String,
    next_attempt_at: i64,
    lease_expires_at: Option<i64>,
}

/// What a claim settles into.
enum Settle<'a> {
    Done,
    Skipped(&'a str),
    Failed {
        error: &'a str,
        retry: Retry,
    },
    Dead {
        error: &'a str,
        sf_error_body: Option<&'a str>,
    },
}

/// When a failed event becomes due again.
#[derive(Clone, Copy)]
enum Retry {
    /// At this instant (epoch ms).
    At(i64),
    /// This many milliseconds after the database's now.
    After(i64),
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Records a webhook delivery unless its `trigger_uuid` is already stored. Safe under concurrency:
    /// any number of concurrent deliveries of one key leave exactly one row, and every caller learns its
    /// id. The event gets the next per-item sequence number and is immediately due.
    pub async fn insert_event_if_new(&self, event: &NewEvent) -> Result<InsertOutcome> {
        const OP: &str = "insert_event_if_new";
        no_nul(OP, "trigger_uuid", &event.trigger_uuid)?;
        no_nul(OP, "event_type", &event.event_type)?;
        no_nul(OP, "payload", &event.payload)?;
        if event.trigger_uuid.is_empty() {
            return Err(StoreError::InvalidInput {
                op: OP,
                field: "trigger_uuid",
                reason: "is empty".to_owned(),
            });
        }
        let key = format!("triggerUuid {}", event.trigger_uuid);
        if event.item_id <= 0 {
            if let Some(id) = self.insert_event_without_item(event, &key).await? {
                return Ok(InsertOutcome::Inserted(id));
            }
        } else {
            let now = self.now_sql();
            let insert = format!(
                "INSERT INTO events (trigger_uuid, board_id, item_id, item_seq, event_type, payload, \
                     status, attempts, next_attempt_at, received_at, updated_at) \
                 SELECT $1, $2, $3, COALESCE(MAX(item_seq), 0) + 1, $4, $5, 'pending', 0, {now}, {now}, {now} \
                 FROM events WHERE board_id = $2 AND item_id = $3 \
                 ON CONFLICT (trigger_uuid) DO NOTHING \
                 RETURNING id"
            );
            let mut attempt = 0;
            loop {
                attempt += 1;
                let inserted: std::result::Result<Option<i64>, sqlx::Error> = dispatch!(self, p => {
                    sqlx::query_scalar::<_, i64>(&insert)
                        .bind(&event.trigger_uuid)
                        .bind(event.board_id)
                        .bind(event.item_id)
                        .bind(&event.event_type)
                        .bind(&event.payload)
                        .fetch_optional(p)
                        .await
                });
                match inserted {
                    Ok(Some(id)) => return Ok(InsertOutcome::Inserted(EventId(id))),
                    Ok(None) => break,
                    // Another event of the same item took this sequence number first: retry with the next.
                    Err(e) if is_unique_violation(&e) && attempt < SEQ_RETRIES => continue,
                    Err(e) => return Err(StoreError::query(OP, &key)(e)),
                }
            }
        }
        let existing: Option<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM events WHERE trigger_uuid = $1")
                .bind(&event.trigger_uuid)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query(OP, &key))?
        });
        match existing {
            Some(id) => Ok(InsertOutcome::Duplicate(EventId(id))),
            None => Err(StoreError::NotFound { op: OP, key }),
        }
    }

    /// Inserts a delivery without an item id into a queue of its own: `item_id` = −(event id), sequence
    /// 1, in one transaction (the placeholder key never shows). `None` when the key is a duplicate.
    async fn insert_event_without_item(
        &self,
        event: &NewEvent,
        key: &str,
    ) -> Result<Option<EventId>> {
        const OP: &str = "insert_event_if_new";
        let err = |e| StoreError::query(OP, key)(e);
        let now = self.now_sql();
        let insert = format!(
            "INSERT INTO events (trigger_uuid, board_id, item_id, item_seq, event_type, payload, \
                 status, attempts, next_attempt_at, received_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, 'pending', 0, {now}, {now}, {now}) \
             ON CONFLICT (trigger_uuid) DO NOTHING \
             RETURNING id"
        );
        // A transient key far below any -id, random so concurrent inserts never wait for each other.
        let placeholder = i64::MIN / 2 - i64::from(uuid::Uuid::new_v4().as_u64_pair().0 as u32);
        let id: Option<i64> = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            let id = sqlx::query_scalar::<_, i64>(&insert)
                .bind(&event.trigger_uuid)
                .bind(event.board_id)
                .bind(placeholder)
                .bind(&event.event_type)
                .bind(&event.payload)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            match id {
                Some(id) => {
                    sqlx::query("UPDATE events SET item_id = -id WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)?;
                    Some(id)
                }
                None => {
                    tx.rollback().await.map_err(err)?;
                    None
                }
            }
        });
        Ok(id.map(EventId))
    }

    /// One event by id.
    pub async fn get_event(&self, id: EventId) -> Result<Option<Event>> {
        let sql = format!("SELECT {EVENT_COLS} FROM events WHERE id = $1");
        let raw: Option<RawEvent> = dispatch!(self, p => {
            sqlx::query_as::<_, RawEvent>(&sql)
                .bind(id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("get_event", event_key(id)))?
        });
        raw.map(RawEvent::into_event).transpose()
    }

    /// Claims the next due event of any item that nobody holds: the oldest open event of that item,
    /// when it is pending or failed and due, or processing under an expired lease. The item is leased
    /// to `worker` for `lease`. `None` when nothing is claimable now.
    pub async fn claim_next(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedEvent>> {
        self.claim(None, worker, lease).await
    }

    /// Like [`Store::claim_next`], restricted to one Monday item (e.g. to process an event right after
    /// receiving it). `None` when the item is held by another worker or its oldest open event is not due.
    pub async fn claim_for_item(
        &self,
        board_id: i64,
        item_id: i64,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedEvent>> {
        self.claim(Some((board_id, item_id)), worker, lease).await
    }

    /// Like [`Store::claim_for_item`] for the queue (item) that event `event_id` belongs to — also for
    /// an event without an item id, whose queue is its own. Hands out that queue's oldest open event,
    /// which may be an older event than `event_id`. `None` when the queue is held, its head is not
    /// due, or the event does not exist.
    pub async fn claim_for_event(
        &self,
        event_id: EventId,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedEvent>> {
        if let crate::Pool::Postgres(p) = &self.pool {
            let key = format!("{}, worker {worker}", event_key(event_id));
            let lease_ms = duration_ms("claim", "lease", lease)?;
            no_nul("claim", "worker", worker)?;
            return claim_pg(p, (None, None, Some(event_id.0)), worker, lease_ms, &key).await;
        }
        let queue: Option<(i64, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (i64, i64)>("SELECT board_id, item_id FROM events WHERE id = $1")
                .bind(event_id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("claim_for_event", event_key(event_id)))?
        });
        match queue {
            Some(bi) => self.claim(Some(bi), worker, lease).await,
            None => Ok(None),
        }
    }

    async fn claim(
        &self,
        item: Option<(i64, i64)>,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedEvent>> {
        const OP: &str = "claim";
        let lease_ms = duration_ms(OP, "lease", lease)?;
        no_nul(OP, "worker", worker)?;
        let key = match item {
            Some((b, i)) => format!("item {b}/{i}, worker {worker}"),
            None => format!("worker {worker}"),
        };
        if let crate::Pool::Postgres(p) = &self.pool {
            let queue = match item {
                Some((b, i)) => (Some(b), Some(i), None),
                None => (None, None, None),
            };
            return claim_pg(p, queue, worker, lease_ms, &key).await;
        }
        let candidates: Vec<(i64, i64)> = match item {
            Some(bi) => vec![bi],
            None => {
                let now = self.now_sql();
                // The queues whose head is due (kept by migration 0009's triggers), in due order.
                let sql = format!(
                    "SELECT q.board_id, q.item_id FROM queue_heads q \
                    WHERE q.due_at <= {now} \
                      AND NOT EXISTS (SELECT 1 FROM item_locks l WHERE l.board_id = q.board_id \
                           AND l.item_id = q.item_id AND l.lease_expires_at > {now}) \
                    ORDER BY q.due_at, q.head_id LIMIT $1"
                );
                dispatch!(self, p => {
                    sqlx::query_as::<_, (i64, i64)>(&sql)
                        .bind(CLAIM_CANDIDATES)
                        .fetch_all(p)
                        .await
                        .map_err(StoreError::query(OP, &key))?
                })
            }
        };
        for (board_id, item_id) in candidates {
            if let Some(claimed) = self
                .try_claim_item(board_id, item_id, worker, lease_ms, &key)
                .await?
            {
                return Ok(Some(claimed));
            }
        }
        Ok(None)
    }

    /// In one write transaction: take the item's lease (unless someone holds an unexpired one), then
    /// hand out the item's oldest open event if it is claimable; otherwise roll back.
    async fn try_claim_item(
        &self,
        board_id: i64,
        item_id: i64,
        worker: &str,
        lease_ms: i64,
        key: &str,
    ) -> Result<Option<ClaimedEvent>> {
        const OP: &str = "claim";
        let token = uuid::Uuid::new_v4().to_string();
        let err = |e| StoreError::query(OP, key)(e);
        let lock_sql = "INSERT INTO item_locks (board_id, item_id, token, worker, lease_expires_at, acquired_at) \
                        VALUES ($1, $2, $3, $4, $5, $6) \
                        ON CONFLICT (board_id, item_id) DO UPDATE SET token = excluded.token, \
                            worker = excluded.worker, lease_expires_at = excluded.lease_expires_at, \
                            acquired_at = excluded.acquired_at \
                        WHERE item_locks.lease_expires_at <= $6 \
                        RETURNING token";
        let head_sql = "SELECT id, status, next_attempt_at, lease_expires_at FROM events \
                        WHERE board_id = $1 AND item_id = $2 \
                          AND status IN ('pending', 'failed', 'processing') \
                        ORDER BY item_seq LIMIT 1";
        let claim_sql = format!(
            "UPDATE events SET status = 'processing', lease_token = $1, claimed_by = $2, \
                 lease_expires_at = $3, updated_at = $4 \
             WHERE id = $5 RETURNING {EVENT_COLS}"
        );
        let now_sql = format!("SELECT {}", self.now_sql());
        let raw: Option<RawEvent> = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            let now = sqlx::query_scalar::<_, i64>(&now_sql)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
            let expires = now.saturating_add(lease_ms);
            let acquired = sqlx::query_scalar::<_, String>(lock_sql)
                .bind(board_id)
                .bind(item_id)
                .bind(&token)
                .bind(worker)
                .bind(expires)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            if acquired.is_none() {
                tx.rollback().await.map_err(err)?;
                None
            } else {
                let head = sqlx::query_as::<_, Head>(head_sql)
                    .bind(board_id)
                    .bind(item_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                let claimable = match &head {
                    None => false,
                    Some(h) => match h.status.parse::<EventStatus>()? {
                        EventStatus::Pending | EventStatus::Failed => h.next_attempt_at <= now,
                        // We hold the item's lease, so the previous holder's lease expired.
                        EventStatus::Processing => h.lease_expires_at.is_none_or(|t| t <= now),
                        _ => false,
                    },
                };
                match head {
                    Some(h) if claimable => {
                        let raw = sqlx::query_as::<_, RawEvent>(&claim_sql)
                            .bind(&token)
                            .bind(worker)
                            .bind(expires)
                            .bind(now)
                            .bind(h.id)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(err)?;
                        tx.commit().await.map_err(err)?;
                        Some(raw)
                    }
                    _ => {
                        tx.rollback().await.map_err(err)?;
                        None
                    }
                }
            }
        });
        raw.map(|raw| claimed(raw, token, worker)).transpose()
    }

    /// Pushes the lease of a claim further out: it now expires `lease` after the database's now.
    /// Returns the updated claim. Same rule as [`Store::renew_lease`] (which it is).
    pub async fn extend_lease(&self, claim: &Claim, lease: Duration) -> Result<Claim> {
        let expires = self.renew("extend_lease", claim, lease).await?;
        Ok(Claim {
            lease_expires_at: expires,
            ..claim.clone()
        })
    }

    /// Heartbeat: the claim's lease now expires `lease` after the database's now (also when that is
    /// sooner than before). Returns the new expiry (database time). Fails with
    /// [`StoreError::LeaseLost`], writing nothing, when the claim no longer holds its item: it was
    /// settled, or its lease expired and another worker claimed the item. A lease that expired but that
    /// nobody took over is renewed (nobody else can have touched the item in between).
    pub async fn renew_lease(&self, claim: &Claim, lease: Duration) -> Result<DateTime<Utc>> {
        self.renew("renew_lease", claim, lease).await
    }

    async fn renew(
        &self,
        op: &'static str,
        claim: &Claim,
        lease: Duration,
    ) -> Result<DateTime<Utc>> {
        let lease_ms = duration_ms(op, "lease", lease)?;
        let err = |e| StoreError::query(op, event_key(claim.event_id))(e);
        let lock_sql = format!(
            "UPDATE item_locks SET lease_expires_at = {} + $1 \
             WHERE board_id = $2 AND item_id = $3 AND token = $4 RETURNING lease_expires_at",
            self.now_sql()
        );
        let postgres = matches!(self.pool, crate::Pool::Postgres(_));
        let expires: Option<i64> = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            if postgres {
                // The queue's advisory lock first, the lock order of crmsync_claim/crmsync_settle
                // (migration 0009), so a heartbeat never deadlocks with a claim of the same item.
                sqlx::query("SELECT pg_advisory_xact_lock(crmsync_queue_key($1, $2))")
                    .bind(claim.board_id)
                    .bind(claim.item_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
            let expires = sqlx::query_scalar::<_, i64>(&lock_sql)
                .bind(lease_ms)
                .bind(claim.board_id)
                .bind(claim.item_id)
                .bind(&claim.token)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            let evented = match expires {
                None => 0,
                Some(expires) => sqlx::query(RENEW_EVENT_SQL)
                .bind(expires)
                .bind(claim.event_id.0)
                .bind(&claim.token)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected(),
            };
            if evented == 1 {
                tx.commit().await.map_err(err)?;
                expires
            } else {
                tx.rollback().await.map_err(err)?;
                None
            }
        });
        match expires {
            Some(ms) => from_ms(ms),
            None => Err(lease_lost(op, claim)),
        }
    }

    /// The fence, checked right before an external write: `Ok(remaining)` when the claim still holds
    /// its item and its lease runs for `remaining` more on the database clock (always > 0); otherwise
    /// [`StoreError::LeaseLost`] — also for an expired lease nobody has taken over yet, because another
    /// worker may take it at any moment. One read, no write.
    pub async fn check_fence(&self, claim: &Claim) -> Result<Duration> {
        const OP: &str = "check_fence";
        let sql = format!(
            "SELECT l.lease_expires_at - {} FROM item_locks l \
             JOIN events e ON e.id = $4 AND e.lease_token = l.token AND e.status = 'processing' \
             WHERE l.board_id = $1 AND l.item_id = $2 AND l.token = $3",
            self.now_sql()
        );
        let remaining: Option<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(claim.board_id)
                .bind(claim.item_id)
                .bind(&claim.token)
                .bind(claim.event_id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query(OP, event_key(claim.event_id)))?
        });
        match remaining {
            Some(ms) if ms > 0 => Ok(ms_duration(ms)),
            _ => Err(lease_lost(OP, claim)),
        }
    }

    /// Makes an event that waits for its next attempt (pending or failed, not held) due now, so
    /// that a claim can take it at once (queue mode's last receive gives up on it). `false` when
    /// the event is not waiting (done, dead, being processed, or unknown).
    pub async fn make_due_now(&self, id: EventId) -> Result<bool> {
        let sql = format!(
            "UPDATE events SET next_attempt_at = {} WHERE id = $1 AND status IN ('pending', 'failed')",
            self.now_sql()
        );
        let n = dispatch!(self, p => {
            sqlx::query(&sql)
                .bind(id.0)
                .execute(p)
                .await
                .map_err(StoreError::query("make_due_now", event_key(id)))?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// The event was applied: status `done`, item released.
    pub async fn mark_done(&self, claim: &Claim) -> Result<()> {
        self.settle("mark_done", claim, Settle::Done)
            .await
            .map(|_| ())
    }

    /// The event needs no action (e.g. unmapped board): status `skipped` with `reason`, item released.
    pub async fn mark_skipped(&self, claim: &Claim, reason: &str) -> Result<()> {
        no_nul("mark_skipped", "reason", reason)?;
        self.settle("mark_skipped", claim, Settle::Skipped(reason))
            .await
            .map(|_| ())
    }

    /// A transient failure: attempts + 1, `last_error` = `error`, status `failed` (claimable again from
    /// `retry_at`, still blocking later events of the item so order is kept), item released.
    /// Returns the new attempt count.
    pub async fn mark_failed(
        &self,
        claim: &Claim,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<u32> {
        no_nul("mark_failed", "error", error)?;
        self.settle(
            "mark_failed",
            claim,
            Settle::Failed {
                error,
                retry: Retry::At(to_ms(retry_at)),
            },
        )
        .await
        .map(|(attempts, _)| attempts)
    }

    /// Like [`Store::mark_failed`], with the retry `delay` after the database's now (so a skewed
    /// process clock cannot schedule it too early or too late). Returns the new attempt count.
    pub async fn mark_failed_after(
        &self,
        claim: &Claim,
        error: &str,
        delay: Duration,
    ) -> Result<u32> {
        const OP: &str = "mark_failed_after";
        no_nul(OP, "error", error)?;
        let delay = duration_ms(OP, "delay", delay)?;
        self.settle(
            OP,
            claim,
            Settle::Failed {
                error,
                retry: Retry::After(delay),
            },
        )
        .await
        .map(|(attempts, _)| attempts)
    }

    /// A permanent failure: attempts + 1, status `dead`, and — in the same transaction — a dead letter
    /// holding the payload byte for byte, `error` and Salesforce's response body. An event that dies
    /// again after a replay reopens its existing dead letter. Item released.
    pub async fn mark_dead(
        &self,
        claim: &Claim,
        error: &str,
        sf_error_body: Option<&str>,
    ) -> Result<DeadLetterId> {
        const OP: &str = "mark_dead";
        no_nul(OP, "error", error)?;
        if let Some(body) = sf_error_body {
            no_nul(OP, "sf_error_body", body)?;
        }
        let (_, dl) = self
            .settle(
                OP,
                claim,
                Settle::Dead {
                    error,
                    sf_error_body,
                },
            )
            .await?;
        dl.ok_or_else(|| StoreError::NotFound {
            op: OP,
            key: format!("dead letter for {}", event_key(claim.event_id)),
        })
    }

    /// Releases the item lease and moves the claimed event to its final (or retry) state, atomically.
    /// Rejects with `LeaseLost` (writing nothing) unless the claim's token still holds the item.
    async fn settle(
        &self,
        op: &'static str,
        claim: &Claim,
        outcome: Settle<'_>,
    ) -> Result<(u32, Option<DeadLetterId>)> {
        let err = |e| StoreError::query(op, event_key(claim.event_id))(e);
        let now_sql = format!("SELECT {}", self.now_sql());
        // Lock row first, event row second: the same order as claiming, so no deadlock.
        let release_sql =
            "DELETE FROM item_locks WHERE board_id = $1 AND item_id = $2 AND token = $3";
        let clear =
            "lease_token = NULL, claimed_by = NULL, lease_expires_at = NULL, updated_at = $1";
        let guard =
            "WHERE id = $2 AND lease_token = $3 AND status = 'processing' RETURNING attempts";
        let (update_sql, error, retry): (String, Option<&str>, Option<Retry>) = match &outcome {
            Settle::Done => (
                format!("UPDATE events SET status = 'done', processed_at = $1, {clear} {guard}"),
                None,
                None,
            ),
            Settle::Skipped(reason) => (
                format!(
                    "UPDATE events SET status = 'skipped', processed_at = $1, last_error = $4, \
                     {clear} {guard}"
                ),
                Some(reason),
                None,
            ),
            Settle::Failed { error, retry } => (
                format!(
                    "UPDATE events SET status = 'failed', attempts = attempts + 1, last_error = $4, \
                     next_attempt_at = $5, {clear} {guard}"
                ),
                Some(error),
                Some(*retry),
            ),
            Settle::Dead { error, .. } => (
                format!(
                    "UPDATE events SET status = 'dead', attempts = attempts + 1, last_error = $4, \
                     processed_at = $1, {clear} {guard}"
                ),
                Some(error),
                None,
            ),
        };
        let dead_letter_sql = "INSERT INTO dead_letters (event_id, payload, error, sf_error_body, status, \
                                   replay_count, created_at, updated_at) \
                               SELECT id, payload, $2, $3, 'open', 0, $4, $4 FROM events WHERE id = $1 \
                               ON CONFLICT (event_id) DO UPDATE SET payload = excluded.payload, \
                                   error = excluded.error, sf_error_body = excluded.sf_error_body, \
                                   status = 'open', updated_at = excluded.updated_at \
                               RETURNING id";
        if let crate::Pool::Postgres(p) = &self.pool {
            let (status, retry_at, retry_after, sf_error_body) = match &outcome {
                Settle::Done => ("done", None, None, None),
                Settle::Skipped(_) => ("skipped", None, None, None),
                Settle::Failed {
                    retry: Retry::At(at),
                    ..
                } => ("failed", Some(*at), None, None),
                Settle::Failed {
                    retry: Retry::After(delay),
                    ..
                } => ("failed", None, Some(*delay), None),
                Settle::Dead { sf_error_body, .. } => ("dead", None, None, *sf_error_body),
            };
            // One statement: the same lock-row-then-event-row settlement, on the server.
            let settled: Option<(i64, Option<i64>)> = sqlx::query_as(
                "SELECT attempts, dead_letter_id FROM crmsync_settle($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(claim.board_id)
            .bind(claim.item_id)
            .bind(&claim.token)
            .bind(claim.event_id.0)
            .bind(status)
            .bind(error)
            .bind(retry_at)
            .bind(retry_after)
            .bind(sf_error_body)
            .fetch_optional(p)
            .await
            .map_err(err)?;
            return match settled {
                None => Err(lease_lost(op, claim)),
                Some((attempts, dl)) => Ok((
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    dl.map(DeadLetterId),
                )),
            };
        }
        let settled: Option<(i64, Option<i64>)> = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            let now = sqlx::query_scalar::<_, i64>(&now_sql)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
            let released = sqlx::query(release_sql)
                .bind(claim.board_id)
                .bind(claim.item_id)
                .bind(&claim.token)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected();
            let mut q = sqlx::query_scalar::<_, i64>(&update_sql)
                .bind(now)
                .bind(claim.event_id.0)
                .bind(&claim.token);
            if let Some(error) = error {
                q = q.bind(error);
            }
            match retry {
                Some(Retry::At(at)) => q = q.bind(at),
                Some(Retry::After(delay)) => q = q.bind(now.saturating_add(delay)),
                None => {}
            }
            let attempts = if released == 1 {
                q.fetch_optional(&mut *tx).await.map_err(err)?
            } else {
                None
            };
            match attempts {
                None => {
                    tx.rollback().await.map_err(err)?;
                    None
                }
                Some(attempts) => {
                    let dl = if let Settle::Dead { error, sf_error_body } = &outcome {
                        Some(
                            sqlx::query_scalar::<_, i64>(dead_letter_sql)
                                .bind(claim.event_id.0)
                                .bind(*error)
                                .bind(*sf_error_body)
                                .bind(now)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(err)?,
                        )
                    } else {
                        None
                    };
                    tx.commit().await.map_err(err)?;
                    Some((attempts, dl))
                }
            }
        });
        match settled {
            None => Err(lease_lost(op, claim)),
            Some((attempts, dl)) => Ok((
                u32::try_from(attempts).unwrap_or(u32::MAX),
                dl.map(DeadLetterId),
            )),
        }
    }
}

/// A claimed event row and the lease token it was claimed with, as a [`ClaimedEvent`].
fn claimed(raw: RawEvent, token: String, worker: &str) -> Result<ClaimedEvent> {
    let event = raw.into_event()?;
    let claim = Claim {
        event_id: event.id,
        board_id: event.board_id,
        item_id: event.item_id,
        token,
        worker: worker.to_owned(),
        lease_expires_at: event.lease_expires_at.unwrap_or_else(Utc::now),
    };
    Ok(ClaimedEvent { event, claim })
}

/// A claim on PostgreSQL in one round trip: `crmsync_claim` (migration 0007) runs the candidate scan,
/// the item lease, the head read and the event update on the server. `queue` is (board, item, event):
/// one item, the queue of one event, or all three `None` for any due queue.
async fn claim_pg(
    p: &sqlx::PgPool,
    queue: (Option<i64>, Option<i64>, Option<i64>),
    worker: &str,
    lease_ms: i64,
    key: &str,
) -> Result<Option<ClaimedEvent>> {
    let token = uuid::Uuid::new_v4().to_string();
    let sql = format!("SELECT {EVENT_COLS} FROM crmsync_claim($1, $2, $3, $4, $5, $6, $7)");
    let raw = sqlx::query_as::<_, RawEvent>(&sql)
        .bind(queue.0)
        .bind(queue.1)
        .bind(queue.2)
        .bind(&token)
        .bind(worker)
        .bind(lease_ms)
        .bind(CLAIM_CANDIDATES)
        .fetch_optional(p)
        .await
        .map_err(StoreError::query("claim", key))?;
    raw.map(|raw| claimed(raw, token, worker)).transpose()
}

pub(crate) fn lease_lost(op: &'static str, claim: &Claim) -> StoreError {
    StoreError::LeaseLost {
        op,
        event_id: claim.event_id,
        board_id: claim.board_id,
        item_id: claim.item_id,
        token: claim.token.clone(),
    }
}
