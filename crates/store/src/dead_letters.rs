//! Dead letters: list, inspect, replay.

use crate::error::{dl_key, Result, StoreError};
use crate::{
    dispatch, from_ms, opt_from_ms, to_u64, BeginWrite, DeadLetter, DeadLetterFilter, DeadLetterId,
    DeadLetterStatus, EventId, Store,
};

pub(crate) const DL_SELECT: &str =
    "SELECT d.id, d.event_id, e.trigger_uuid, e.board_id, e.item_id, e.event_type, \
        d.payload, d.error, d.sf_error_body, d.status, d.replay_count, d.created_at, d.updated_at, \
        d.replayed_at \
     FROM dead_letters d JOIN events e ON e.id = d.event_id";

#[derive(sqlx::FromRow)]
pub(crate) struct RawDeadLetter {
    id: i64,
    event_id: i64,
    trigger_uuid: String,
    board_id: i64,
    item_id: i64,
    event_type: String,
    payload: String,
    error: String,
    sf_error_body: Option<String>,
    status: String,
    replay_count: i64,
    created_at: i64,
    updated_at: i64,
    replayed_at: Option<i64>,
}

impl RawDeadLetter {
    pub(crate) fn into_dead_letter(self) -> Result<DeadLetter> {
        Ok(DeadLetter {
            id: DeadLetterId(self.id),
            event_id: EventId(self.event_id),
            trigger_uuid: self.trigger_uuid,
            board_id: self.board_id,
            item_id: self.item_id,
            event_type: self.event_type,
            payload: self.payload,
            error: self.error,
            sf_error_body: self.sf_error_body,
            status: self.status.parse()?,
            replay_count: u32::try_from(self.replay_count).unwrap_or(u32::MAX),
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
            replayed_at: opt_from_ms(self.replayed_at)?,
        })
    }
}

impl Store {
    /// Dead letters matching `filter`, newest first.
    pub async fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<DeadLetter>> {
        let sql = format!(
            "{DL_SELECT} WHERE ($1 IS NULL OR d.status = $1) AND ($2 IS NULL OR e.board_id = $2) \
             AND ($3 IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4"
        );
        let status = filter.status.map(|s| s.as_str().to_owned());
        let raws: Vec<RawDeadLetter> = dispatch!(self, p => {
            sqlx::query_as::<_, RawDeadLetter>(&sql)
                .bind(&status)
                .bind(filter.board_id)
                .bind(filter.before.map(|d| d.0))
                .bind(i64::from(filter.limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("list_dead_letters", format!("{filter:?}")))?
        });
        raws.into_iter()
            .map(RawDeadLetter::into_dead_letter)
            .collect()
    }

    /// One dead letter by id.
    pub async fn get_dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>> {
        let sql = format!("{DL_SELECT} WHERE d.id = $1");
        let raw: Option<RawDeadLetter> = dispatch!(self, p => {
            sqlx::query_as::<_, RawDeadLetter>(&sql)
                .bind(id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("get_dead_letter", dl_key(id)))?
        });
        raw.map(RawDeadLetter::into_dead_letter).transpose()
    }

    /// Number of dead letters still open (not replayed).
    pub async fn open_dead_letter_count(&self) -> Result<u64> {
        let n: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dead_letters WHERE status = 'open'")
                .fetch_one(p)
                .await
                .map_err(StoreError::query("open_dead_letter_count", "all"))?
        });
        Ok(to_u64(n))
    }

    /// Replays an open dead letter: its event goes back to `pending`, due now, with attempts reset to 0;
    /// the dead letter becomes `replayed` (replay count + 1, `replayed_at` = now). If the event dies
    /// again, `mark_dead` reopens this same dead letter. Returns the event's id.
    ///
    /// Errors: [`StoreError::NotFound`] for an unknown id, [`StoreError::InvalidState`] when the dead
    /// letter is not open (already replayed) or its event is not dead.
    pub async fn requeue_dead_letter(&self, id: DeadLetterId) -> Result<EventId> {
        const OP: &str = "requeue_dead_letter";
        let err = |e| StoreError::query(OP, dl_key(id))(e);
        let now_sql = format!("SELECT {}", self.now_sql());
        enum Out {
            Requeued(i64),
            Missing,
            NotOpen(String),
            EventNotDead(i64),
        }
        let out = dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(err)?;
            let now = sqlx::query_scalar::<_, i64>(&now_sql)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
            let event_id = sqlx::query_scalar::<_, i64>(
                "UPDATE dead_letters SET status = 'replayed', replay_count = replay_count + 1, \
                     replayed_at = $2, updated_at = $2 \
                 WHERE id = $1 AND status = 'open' RETURNING event_id",
            )
            .bind(id.0)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            match event_id {
                None => {
                    let status = sqlx::query_scalar::<_, String>(
                        "SELECT status FROM dead_letters WHERE id = $1",
                    )
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                    tx.rollback().await.map_err(err)?;
                    match status {
                        None => Out::Missing,
                        Some(s) => Out::NotOpen(s),
                    }
                }
                Some(event_id) => {
                    let updated = sqlx::query(
                        "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = $2, \
                             updated_at = $2, processed_at = NULL \
                         WHERE id = $1 AND status = 'dead'",
                    )
                    .bind(event_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                    if updated == 1 {
                        tx.commit().await.map_err(err)?;
                        Out::Requeued(event_id)
                    } else {
                        tx.rollback().await.map_err(err)?;
                        Out::EventNotDead(event_id)
                    }
                }
            }
        });
        match out {
            Out::Requeued(event_id) => Ok(EventId(event_id)),
            Out::Missing => Err(StoreError::NotFound {
                op: OP,
                key: dl_key(id),
            }),
            Out::NotOpen(status) => Err(StoreError::InvalidState {
                op: OP,
                key: dl_key(id),
                reason: format!(
                    "dead letter is {status}, only {} ones can be replayed",
                    DeadLetterStatus::Open
                ),
            }),
            Out::EventNotDead(event_id) => Err(StoreError::InvalidState {
                op: OP,
                key: dl_key(id),
                reason: format!("its event {event_id} is not dead"),
            }),
        }
    }
}
