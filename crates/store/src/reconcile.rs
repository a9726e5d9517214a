//! Reconciliation state: the values last applied per item, sweep cursors and runs, drift reports.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError};
use crate::{dispatch, from_ms, no_nul, now_ms, opt_from_ms, to_i64, to_ms, to_u64, Link, Store};

/// What crmsync last applied to Salesforce for one Monday item: a hash per mapped column (key
/// `name` for the item name) and one hash over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedValues {
    pub board_id: i64,
    pub item_id: i64,
    /// Column id (or `name`) → hash of the value applied.
    pub hashes: BTreeMap<String, String>,
    /// Hash over `hashes`.
    pub values_hash: String,
    pub applied_at: DateTime<Utc>,
}

/// How a sweep was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepTrigger {
    /// `crmsync reconcile`.
    Cli,
    /// The timer in `crmsync serve` or the Lambda's schedule.
    Schedule,
}

impl SweepTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepTrigger::Cli => "cli",
            SweepTrigger::Schedule => "schedule",
        }
    }
}

/// Id of a sweep run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SweepId(pub i64);

impl std::fmt::Display for SweepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The numbers of a sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Items whose current values were compared with what was last applied.
    pub items_checked: u64,
    /// Events stored (new rows; a dry run counts what it would store).
    pub events_stored: u64,
    /// Activity log entries read.
    pub log_entries: u64,
    /// Boards read page by page (the log could not answer).
    pub full_reads: u64,
    /// Monday complexity points spent.
    pub complexity: u64,
}

/// One sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepRun {
    pub id: SweepId,
    /// `cli` or `schedule`.
    pub trigger: String,
    pub dry_run: bool,
    /// Board ids swept, comma-separated.
    pub boards: String,
    /// Start of the window (None: everything, a full read).
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    /// `running`, `passed` or `failed`.
    pub outcome: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: SweepCounts,
    pub error: Option<String>,
}

impl SweepRun {
    /// Wall time, once finished.
    pub fn elapsed(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|f| f - self.started_at)
    }
}

/// A stored drift report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReportRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub boards: String,
    /// Number of drifted fields and unpartnered items.
    pub drifted: u64,
    /// The report as JSON.
    pub report: String,
}

#[derive(sqlx::FromRow)]
struct RawApplied {
    board_id: i64,
    item_id: i64,
    hashes: String,
    values_hash: String,
    applied_at: i64,
}

impl RawApplied {
    fn into_values(self) -> Result<AppliedValues> {
        let hashes = serde_json::from_str(&self.hashes).map_err(|_| StoreError::Corrupt {
            what: "applied_values.hashes",
            value: self.hashes.chars().take(80).collect(),
        })?;
        Ok(AppliedValues {
            board_id: self.board_id,
            item_id: self.item_id,
            hashes,
            values_hash: self.values_hash,
            applied_at: from_ms(self.applied_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawSweep {
    id: i64,
    trigger_kind: String,
    dry_run: i64,
    boards: String,
    since_ms: Option<i64>,
    until_ms: i64,
    outcome: String,
    started_at: i64,
    finished_at: Option<i64>,
    items_checked: i64,
    events_stored: i64,
    log_entries: i64,
    full_reads: i64,
    complexity: i64,
    error: Option<String>,
}

const SWEEP_COLS: &str =
    "id, trigger_kind, dry_run, boards, since_ms, until_ms, outcome, started_at, \
     finished_at, items_checked, events_stored, log_entries, full_reads, complexity, error";

impl RawSweep {
    fn into_run(self) -> Result<SweepRun> {
        Ok(SweepRun {
            id: SweepId(self.id),
            trigger: self.trigger_kind,
            dry_run: self.dry_run != 0,
            boards: self.boards,
            since: opt_from_ms(self.since_ms)?,
            until: from_ms(self.until_ms)?,
            outcome: self.outcome,
            started_at: from_ms(self.started_at)?,
            finished_at: opt_from_ms(self.finished_at)?,
            counts: SweepCounts {
                items_checked: to_u64(self.items_checked),
                events_stored: to_u64(self.events_stored),
                log_entries: to_u64(self.log_entries),
                full_reads: to_u64(self.full_reads),
                complexity: to_u64(self.complexity),
            },
            error: self.error,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawDrift {
    id: i64,
    created_at: i64,
    boards: String,
    drifted: i64,
    report: String,
}

/// The hash over a column → hash map (order-independent: the map is sorted).
pub fn values_hash(hashes: &BTreeMap<String, String>) -> String {
    // FNV-1a 64 over "key=value;" pairs: stable across processes and versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in hashes {
        for b in k.bytes().chain(*b"=").chain(v.bytes()).chain(*b";") {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl Store {
    /// The values last applied for an item, if any were recorded.
    pub async fn applied_values(
        &self,
        board_id: i64,
        item_id: i64,
    ) -> Result<Option<AppliedValues>> {
        let raw: Option<RawApplied> = dispatch!(self, p => {
            sqlx::query_as::<_, RawApplied>(
                "SELECT board_id, item_id, hashes, values_hash, applied_at FROM applied_values \
                 WHERE board_id = $1 AND item_id = $2",
            )
            .bind(board_id)
            .bind(item_id)
            .fetch_optional(p)
            .await
            .map_err(StoreError::query("applied_values", format!("item {board_id}/{item_id}")))?
        });
        raw.map(RawApplied::into_values).transpose()
    }

    /// Every item's last applied values on a board, by item id.
    pub async fn applied_values_for_board(
        &self,
        board_id: i64,
    ) -> Result<HashMap<i64, AppliedValues>> {
        let raw: Vec<RawApplied> = dispatch!(self, p => {
            sqlx::query_as::<_, RawApplied>(
                "SELECT board_id, item_id, hashes, values_hash, applied_at FROM applied_values \
                 WHERE board_id = $1",
            )
            .bind(board_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("applied_values_for_board", format!("board {board_id}")))?
        });
        raw.into_iter()
            .map(|r| r.into_values().map(|v| (v.item_id, v)))
            .collect()
    }

    /// Merges `hashes` into the item's last applied values (`replace`: replaces them all).
    /// Callers hold the item's claim, so two merges of one item never race.
    pub async fn record_applied_values(
        &self,
        board_id: i64,
        item_id: i64,
        hashes: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<AppliedValues> {
        const OP: &str = "record_applied_values";
        let mut merged = if replace {
            BTreeMap::new()
        } else {
            self.applied_values(board_id, item_id)
                .await?
                .map(|v| v.hashes)
                .unwrap_or_default()
        };
        for (k, v) in hashes {
            no_nul(OP, "hashes", k)?;
            merged.insert(k.clone(), v.clone());
        }
        let text = serde_json::to_string(&merged).map_err(|e| StoreError::InvalidInput {
            op: OP,
            field: "hashes",
            reason: e.to_string(),
        })?;
        let total = values_hash(&merged);
        let now = now_ms();
        dispatch!(self, p => {
            sqlx::query(
                "INSERT INTO applied_values (board_id, item_id, hashes, values_hash, applied_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (board_id, item_id) DO UPDATE SET hashes = excluded.hashes, \
                     values_hash = excluded.values_hash, applied_at = excluded.applied_at",
            )
            .bind(board_id)
            .bind(item_id)
            .bind(&text)
            .bind(&total)
            .bind(now)
            .execute(p)
            .await
            .map_err(StoreError::query(OP, format!("item {board_id}/{item_id}")))?
            .rows_affected()
        });
        Ok(AppliedValues {
            board_id,
            item_id,
            hashes: merged,
            values_hash: total,
            applied_at: from_ms(now)?,
        })
    }

    /// Forgets an item's last applied values (it was deleted or unlinked).
    pub async fn delete_applied_values(&self, board_id: i64, item_id: i64) -> Result<bool> {
        let n = dispatch!(self, p => {
            sqlx::query("DELETE FROM applied_values WHERE board_id = $1 AND item_id = $2")
                .bind(board_id)
                .bind(item_id)
                .execute(p)
                .await
                .map_err(StoreError::query("delete_applied_values", format!("item {board_id}/{item_id}")))?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Items of a board with an open event (pending, processing or failed): their queue will
    /// apply what they carry, so a sweep leaves them to it.
    pub async fn items_with_open_events(
        &self,
        board_id: i64,
    ) -> Result<std::collections::HashSet<i64>> {
        let ids: Vec<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "SELECT DISTINCT item_id FROM events WHERE board_id = $1 \
                 AND status IN ('pending', 'processing', 'failed')",
            )
            .bind(board_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("items_with_open_events", format!("board {board_id}")))?
        });
        Ok(ids.into_iter().collect())
    }

    /// Every link of a board's items.
    pub async fn links_for_board(&self, board_id: i64) -> Result<Vec<Link>> {
        #[derive(sqlx::FromRow)]
        struct Raw {
            monday_board_id: i64,
            monday_item_id: i64,
            sf_object: String,
            sf_id: String,
        }
        let raw: Vec<Raw> = dispatch!(self, p => {
            sqlx::query_as::<_, Raw>(
                "SELECT monday_board_id, monday_item_id, sf_object, sf_id FROM record_links \
                 WHERE monday_board_id = $1 ORDER BY monday_item_id",
            )
            .bind(board_id)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("links_for_board", format!("board {board_id}")))?
        });
        Ok(raw
            .into_iter()
            .map(|r| Link {
                monday_board_id: r.monday_board_id,
                monday_item_id: r.monday_item_id,
                sf_object: r.sf_object,
                sf_id: r.sf_id,
            })
            .collect())
    }

    /// Where the last passed sweep of a board ended.
    pub async fn sweep_cursor(&self, board_id: i64) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT swept_until FROM sweep_cursors WHERE board_id = $1")
                .bind(board_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("sweep_cursor", format!("board {board_id}")))?
        });
        opt_from_ms(ms)
    }

    /// Moves a board's sweep cursor to `until` (never backwards).
    pub async fn set_sweep_cursor(&self, board_id: i64, until: DateTime<Utc>) -> Result<()> {
        dispatch!(self, p => {
            sqlx::query(
                "INSERT INTO sweep_cursors (board_id, swept_until, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (board_id) DO UPDATE SET swept_until = excluded.swept_until, \
                     updated_at = excluded.updated_at \
                 WHERE sweep_cursors.swept_until < excluded.swept_until",
            )
            .bind(board_id)
            .bind(to_ms(until))
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(StoreError::query("set_sweep_cursor", format!("board {board_id}")))?
            .rows_affected()
        });
        Ok(())
    }

    /// Records the start of a sweep.
    pub async fn start_sweep(
        &self,
        trigger: SweepTrigger,
        dry_run: bool,
        boards: &str,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<SweepId> {
        no_nul("start_sweep", "boards", boards)?;
        let id: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO sweep_runs (trigger_kind, dry_run, boards, since_ms, until_ms, outcome, started_at) \
                 VALUES ($1, $2, $3, $4, $5, 'running', $6) RETURNING id",
            )
            .bind(trigger.as_str())
            .bind(i64::from(dry_run))
            .bind(boards)
            .bind(since.map(to_ms))
            .bind(to_ms(until))
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(StoreError::query("start_sweep", boards.to_owned()))?
        });
        Ok(SweepId(id))
    }

    /// Finishes a sweep: passed (`error` None) or failed, with its numbers.
    pub async fn finish_sweep(
        &self,
        id: SweepId,
        counts: &SweepCounts,
        error: Option<&str>,
    ) -> Result<()> {
        const OP: &str = "finish_sweep";
        let c = [
            to_i64(OP, "items_checked", counts.items_checked)?,
            to_i64(OP, "events_stored", counts.events_stored)?,
            to_i64(OP, "log_entries", counts.log_entries)?,
            to_i64(OP, "full_reads", counts.full_reads)?,
            to_i64(OP, "complexity", counts.complexity)?,
        ];
        let error = error.map(|e| e.replace('\0', " "));
        dispatch!(self, p => {
            sqlx::query(
                "UPDATE sweep_runs SET outcome = $2, finished_at = $3, items_checked = $4, \
                     events_stored = $5, log_entries = $6, full_reads = $7, complexity = $8, error = $9 \
                 WHERE id = $1",
            )
            .bind(id.0)
            .bind(if error.is_some() { "failed" } else { "passed" })
            .bind(now_ms())
            .bind(c[0]).bind(c[1]).bind(c[2]).bind(c[3]).bind(c[4])
            .bind(error.as_deref())
            .execute(p)
            .await
            .map_err(StoreError::query(OP, format!("sweep {id}")))?
            .rows_affected()
        });
        Ok(())
    }

    /// The newest sweeps first.
    pub async fn recent_sweeps(&self, limit: u32) -> Result<Vec<SweepRun>> {
        let sql = format!("SELECT {SWEEP_COLS} FROM sweep_runs ORDER BY id DESC LIMIT $1");
        let raw: Vec<RawSweep> = dispatch!(self, p => {
            sqlx::query_as::<_, RawSweep>(&sql)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(StoreError::query("recent_sweeps", String::new()))?
        });
        raw.into_iter().map(RawSweep::into_run).collect()
    }

    /// Stores a drift report; returns its id.
    pub async fn save_drift_report(&self, boards: &str, drifted: u64, report: &str) -> Result<i64> {
        const OP: &str = "save_drift_report";
        no_nul(OP, "report", report)?;
        no_nul(OP, "boards", boards)?;
        let drifted = to_i64(OP, "drifted", drifted)?;
        let id: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO drift_reports (created_at, boards, drifted, report) VALUES ($1, $2, $3, $4) \
                 RETURNING id",
            )
            .bind(now_ms())
            .bind(boards)
            .bind(drifted)
            .bind(report)
            .fetch_one(p)
            .await
            .map_err(StoreError::query(OP, boards.to_owned()))?
        });
        Ok(id)
    }

    /// The newest drift report.
    pub async fn last_drift_report(&self) -> Result<Option<DriftReportRow>> {
        let raw: Option<RawDrift> = dispatch!(self, p => {
            sqlx::query_as::<_, RawDrift>(
                "SELECT id, created_at, boards, drifted, report FROM drift_reports ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(p)
            .await
            .map_err(StoreError::query("last_drift_report", String::new()))?
        });
        raw.map(|r| {
            Ok(DriftReportRow {
                id: r.id,
                created_at: from_ms(r.created_at)?,
                boards: r.boards,
                drifted: to_u64(r.drifted),
                report: r.report,
            })
        })
        .transpose()
    }
}
