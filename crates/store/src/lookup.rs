//! Read-only lookups for the status pages: find an item, an item's history, per-board counts,
//! hourly timings, migration runs. Every query takes any text (a NUL is dropped, `%`/`_` are
//! literal), so a search box can pass what a person typed.

use chrono::{DateTime, Utc};

use crate::dead_letters::{RawDeadLetter, DL_SELECT};
use crate::error::{Result, StoreError};
use crate::events::{RawEvent, EVENT_COLS};
use crate::migration::{RawRun, RUN_COLS};
use crate::{
    dispatch, from_ms, opt_from_ms, to_ms, to_u64, DeadLetter, Event, EventStatus, Link,
    MigrationRun, StatusCounts, Store,
};

/// A Monday item found by [`Store::search_items`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemHit {
    pub board_id: i64,
    pub item_id: i64,
    /// When its latest event arrived (`None` for an item known only by its link).
    pub last_received_at: Option<DateTime<Utc>>,
    /// Events stored for it.
    pub events: u64,
}

/// When one event arrived and when it was settled (see [`Store::event_timings_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTiming {
    pub board_id: i64,
    pub status: EventStatus,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// Counts of one board's events (see [`Store::event_counts_by_board_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardCounts {
    pub board_id: i64,
    pub counts: StatusCounts,
}

/// `text` as a case-insensitive `LIKE … ESCAPE '!'` pattern matching it anywhere: `%`, `_` and
/// `!` are literal.
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            p.push('!');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[derive(sqlx::FromRow)]
struct RawHit {
    board_id: i64,
    item_id: i64,
    last_received_at: i64,
    events: i64,
}

#[derive(sqlx::FromRow)]
struct RawTiming {
    board_id: i64,
    status: String,
    received_at: i64,
    processed_at: Option<i64>,
}

impl Store {
    /// Monday items whose id is `text`, whose linked Salesforce Id is `text` (18 characters, or
    /// the 15-character form), or whose stored webhook payloads contain `text` (an item name, an
    /// email, any column value; case-insensitive for ASCII), most recently active first.
    pub async fn search_items(&self, text: &str, limit: u32) -> Result<Vec<ItemHit>> {
        const OP: &str = "search_items";
        let text: String = text.trim().chars().filter(|c| *c != '\0').collect();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let item_id: i64 = text.parse().ok().filter(|n| *n > 0).unwrap_or(0);
        // Payloads are JSON: search for the text as JSON spells it (quotes and backslashes escaped).
        let json_text = serde_json::to_string(&text).unwrap_or_default();
        let json_text = &json_text[1..json_text.len().saturating_sub(1).max(1)];
        let pattern = contains_pattern(json_text);
        let sf15: String = text.chars().take(15).collect();
        let sql = "SELECT e.board_id, e.item_id, MAX(e.received_at) AS last_received_at, \
                 COUNT(*) AS events FROM events e \
             WHERE e.item_id > 0 AND (e.item_id = $1 OR LOWER(e.payload) LIKE $2 ESCAPE '!' \
                 OR EXISTS (SELECT 1 FROM record_links l WHERE l.monday_board_id = e.board_id \
                     AND l.monday_item_id = e.item_id AND (l.sf_id = $3 OR SUBSTR(l.sf_id, 1, 15) = $4))) \
             GROUP BY e.board_id, e.item_id ORDER BY MAX(e.received_at) DESC, e.item_id LIMIT $5";
        let raws: Vec<RawHit> = dispatch!(self, p => {
            sqlx::query_as::<_, RawHit>(sql)
                .bind(item_id)
                .bind(&pattern)
                .bind(&text)
                .bind(if text.chars().count() == 15 { &sf15 } else { "" })
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query(OP, "search"))?
        });
        let mut hits = raws
            .into_iter()
            .map(|r| {
                Ok(ItemHit {
                    board_id: r.board_id,
                    item_id: r.item_id,
                    last_received_at: Some(from_ms(r.last_received_at)?),
                    events: to_u64(r.events),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Items known only by a link (created by the migration, never changed since).
        if hits.len() < limit as usize {
            let links: Vec<(i64, i64)> = dispatch!(self, p => {
                sqlx::query_as::<_, (i64, i64)>(
                    "SELECT monday_board_id, monday_item_id FROM record_links \
                     WHERE monday_item_id = $1 OR sf_id = $2 OR SUBSTR(sf_id, 1, 15) = $3 \
                     ORDER BY monday_item_id LIMIT $4",
                )
                .bind(item_id)
                .bind(&text)
                .bind(if text.chars().count() == 15 { &sf15 } else { "" })
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query(OP, "search links"))?
            });
            for (board_id, item_id) in links {
                if hits.len() < limit as usize
                    && !hits
                        .iter()
                        .any(|h| h.board_id == board_id && h.item_id == item_id)
                {
                    hits.push(ItemHit {
                        board_id,
                        item_id,
                        last_received_at: None,
                        events: 0,
                    });
                }
            }
        }
        Ok(hits)
    }

    /// The boards holding Monday item `item_id` (in the event log or the links).
    pub async fn boards_of_item(&self, item_id: i64) -> Result<Vec<i64>> {
        let boards: Vec<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "SELECT board_id FROM events WHERE item_id = $1 \
                 UNION SELECT monday_board_id FROM record_links WHERE monday_item_id = $1 ORDER BY 1",
            )
            .bind(item_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("boards_of_item", format!("item {item_id}")))?
        });
        Ok(boards)
    }

    /// The newest `limit` events of one item, newest first.
    pub async fn events_for_item(
        &self,
        board_id: i64,
        item_id: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM events WHERE board_id = $1 AND item_id = $2 \
             ORDER BY item_seq DESC LIMIT $3"
        );
        let raws: Vec<RawEvent> = dispatch!(self, p => {
            sqlx::query_as::<_, RawEvent>(&sql)
                .bind(board_id)
                .bind(item_id)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("events_for_item", format!("item {board_id}/{item_id}")))?
        });
        raws.into_iter().map(RawEvent::into_event).collect()
    }

    /// Every dead letter (open or replayed) of one item, newest first.
    pub async fn dead_letters_for_item(
        &self,
        board_id: i64,
        item_id: i64,
    ) -> Result<Vec<DeadLetter>> {
        let sql = format!(
            "{DL_SELECT} WHERE e.board_id = $1 AND e.item_id = $2 ORDER BY d.id DESC LIMIT 200"
        );
        let raws: Vec<RawDeadLetter> = dispatch!(self, p => {
            sqlx::query_as::<_, RawDeadLetter>(&sql)
                .bind(board_id)
                .bind(item_id)
                .fetch_all(p)
                .await
                .map_err(StoreError::query("dead_letters_for_item", format!("item {board_id}/{item_id}")))?
        });
        raws.into_iter()
            .map(RawDeadLetter::into_dead_letter)
            .collect()
    }

    /// The link of a Monday item, if any (same as [`Store::find_link_by_monday`]).
    pub async fn link_of_item(&self, board_id: i64, item_id: i64) -> Result<Option<Link>> {
        self.find_link_by_monday(board_id, item_id).await
    }

    /// Counts of events received since `since`, per board (boards with none are left out).
    pub async fn event_counts_by_board_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<BoardCounts>> {
        let rows: Vec<(i64, String, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (i64, String, i64)>(
                "SELECT board_id, status, COUNT(*) FROM events WHERE received_at >= $1 \
                 GROUP BY board_id, status ORDER BY board_id",
            )
            .bind(to_ms(since))
            .fetch_all(p)
            .await
            .map_err(StoreError::query("event_counts_by_board_since", since))?
        });
        let mut out: Vec<BoardCounts> = Vec::new();
        for (board_id, status, n) in rows {
            if out.last().map(|b| b.board_id) != Some(board_id) {
                out.push(BoardCounts {
                    board_id,
                    counts: StatusCounts::default(),
                });
            }
            let last = out.last_mut().expect("pushed above");
            *last.counts.slot(status.parse::<EventStatus>()?) += to_u64(n);
        }
        Ok(out)
    }

    /// Open dead letters per board (boards with none are left out).
    pub async fn open_dead_letters_by_board(&self) -> Result<Vec<(i64, u64)>> {
        let rows: Vec<(i64, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT e.board_id, COUNT(*) FROM dead_letters d JOIN events e ON e.id = d.event_id \
                 WHERE d.status = 'open' GROUP BY e.board_id ORDER BY e.board_id",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::query("open_dead_letters_by_board", "all boards"))?
        });
        Ok(rows.into_iter().map(|(b, n)| (b, to_u64(n))).collect())
    }

    /// When a change of each board was last applied to Salesforce (boards never applied are
    /// left out).
    pub async fn last_applied_by_board(&self) -> Result<Vec<(i64, DateTime<Utc>)>> {
        let rows: Vec<(i64, i64)> = dispatch!(self, p => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT board_id, MAX(processed_at) FROM events \
                 WHERE status = 'done' AND processed_at IS NOT NULL GROUP BY board_id ORDER BY board_id",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::query("last_applied_by_board", "all boards"))?
        });
        rows.into_iter()
            .map(|(b, t)| Ok((b, from_ms(t)?)))
            .collect()
    }

    /// Arrival and settlement times of the (at most `limit`) newest events received since
    /// `since`, for per-hour pictures.
    pub async fn event_timings_since(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EventTiming>> {
        let raws: Vec<RawTiming> = dispatch!(self, p => {
            sqlx::query_as::<_, RawTiming>(
                "SELECT board_id, status, received_at, processed_at FROM events \
                 WHERE received_at >= $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(to_ms(since))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await
            .map_err(StoreError::query("event_timings_since", since))?
        });
        raws.into_iter()
            .map(|r| {
                Ok(EventTiming {
                    board_id: r.board_id,
                    status: r.status.parse()?,
                    received_at: from_ms(r.received_at)?,
                    processed_at: opt_from_ms(r.processed_at)?,
                })
            })
            .collect()
    }

    /// The newest `limit` migration runs, newest first.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<MigrationRun>> {
        let sql = format!("SELECT {RUN_COLS} FROM migration_runs ORDER BY id DESC LIMIT $1");
        let raws: Vec<RawRun> = dispatch!(self, p => {
            sqlx::query_as::<_, RawRun>(&sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("list_runs", format!("limit {limit}")))?
        });
        raws.into_iter().map(RawRun::into_run).collect()
    }

    /// Number of checkpoints (migrated records) of a run.
    pub async fn checkpoint_count(&self, run_id: crate::RunId) -> Result<u64> {
        let n: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM migration_checkpoints WHERE run_id = $1",
            )
            .bind(run_id.0)
            .fetch_one(p)
            .await
            .map_err(StoreError::query("checkpoint_count", format!("migration run {run_id}")))?
        });
        Ok(to_u64(n))
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains_pattern("50%_a!B"), "%50!%!_a!!b%");
    }
}
