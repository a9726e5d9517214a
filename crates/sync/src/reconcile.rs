//! Reconciliation sweeps: find what changed on the mapped boards without webhooks, and store it as
//! ordinary events that the engine applies in order per item.
//!
//! Per board, a sweep covers a window `[since, now]`:
//!
//! 1. **Activity log** (`boards { activity_logs(from:, to:) }`), newest first, page by page. Entries
//!    authored by the API token's own user (`me { id }`) are crmsync's own writes (the Id
//!    write-back, migration and delta updates) and are not changes. The rest name the touched items
//!    and whether their last state change was a delete or an archive.
//! 2. **Paged read** when the log cannot answer: no window (`--since` absent and no earlier sweep),
//!    or more entries than Monday serves for one window (10,000). Every item of the board is
//!    compared, and a linked item that is no longer on the board counts as deleted.
//! 3. **Compare** each touched item's current mapped values with what crmsync last applied (a hash
//!    per mapped column and the name, [`crmsync_core::applied`]). Equal is not a change — so a
//!    change whose webhook did arrive is not applied twice, and crmsync's own writes never bounce.
//!    An item with an open event in its queue is left to the queue.
//! 4. **Store** one event per differing value, in Monday's webhook shapes (`create_pulse` for an
//!    item created while crmsync was down, `update_name`, `update_column_value`, `delete_pulse`,
//!    `archive_pulse`), under a deterministic key `crmsync-reconcile:<board>:<item>:<what>:<hash
//!    of the value>`: a second sweep of the same state stores nothing, and a later different value
//!    gets a new key. The engine reads the item fresh when it applies such an event, so it writes
//!    Monday's current value.
//!
//! Every Monday call goes through the client, which paces on the complexity budget; the sweep
//! reports the complexity it spent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crmsync_core::applied::{self, NAME_KEY, STATE_KEY};
use crmsync_core::{BoardMapping, Item};
use crmsync_monday::{ItemsPageOptions, MAX_ITEM_IDS_PER_QUERY, MAX_PAGE_SIZE};
use crmsync_store::{NewEvent, SweepCounts, SweepId, SweepTrigger};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::engine::Engine;
use crate::error::EngineError;

/// `triggerUuid` prefix of the events a sweep stores.
pub const RECONCILE_PREFIX: &str = "crmsync-reconcile:";
/// Payload key marking an event stored by a sweep (with the sweep id and the source).
pub const RECONCILE_KEY: &str = "crmsyncReconcile";
/// How far before the last sweep's end `--since last` starts (clock skew, log latency).
pub const LOOKBACK: Duration = Duration::from_secs(120);
/// Entries per activity-log page.
pub const LOG_PAGE: u32 = 500;
/// Monday serves at most this many log entries for one window; beyond, the sweep reads the board.
pub const LOG_CAP: u64 = 10_000;

/// Where a sweep's window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Where the board's last passed sweep ended (minus [`LOOKBACK`]); a board never swept is read
    /// in full.
    Last,
    /// Like [`Since::Last`], but a board never swept gets the activity log of this long ago
    /// instead of a full read (what the timer of `crmsync serve` uses: a first scheduled sweep
    /// never turns every unlinked item of a board into a create).
    LastOr(Duration),
    /// This long ago.
    Ago(Duration),
    /// No window: read every item of the board.
    Everything,
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub since: Since,
    /// Board ids (None: every mapped board).
    pub boards: Option<Vec<String>>,
    /// Compare and count, store nothing (no events, no cursor).
    pub dry_run: bool,
    pub trigger: SweepTrigger,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            since: Since::Last,
            boards: None,
            dry_run: false,
            trigger: SweepTrigger::Cli,
        }
    }
}

/// How a board's changes were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    ActivityLog,
    FullRead,
}

/// One event a sweep stored (or, dry, would store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweptEvent {
    pub board_id: String,
    pub item_id: String,
    pub event_type: String,
    /// Column id (`update_column_value`).
    pub column_id: Option<String>,
    pub key: String,
    /// False when the key was stored already (nothing new).
    pub new: bool,
}

/// One board's part of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct BoardSweep {
    pub board_id: String,
    pub source: Source,
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub log_entries: u64,
    pub own_entries: u64,
    pub items_checked: u64,
    /// Items left to their open events.
    pub items_queued: u64,
    pub events: Vec<SweptEvent>,
}

/// What a sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// The stored run (None for a dry run).
    pub run_id: Option<i64>,
    pub dry_run: bool,
    pub boards: Vec<BoardSweep>,
    pub items_checked: u64,
    /// New events (dry: the events it would store).
    pub events_stored: u64,
    pub log_entries: u64,
    pub full_reads: u64,
    pub complexity: u64,
    pub elapsed_ms: u64,
}

/// Progress of a running sweep.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A board's sweep starts.
    Board {
        board_id: String,
        source: Source,
        since: Option<DateTime<Utc>>,
    },
    /// Items compared so far on the current board.
    Checked { board_id: String, items: u64 },
}

#[derive(Default)]
struct Touched {
    /// Newest state-changing entry: `delete_pulse`, `archive_pulse`, `restore_pulse`, `create_pulse`.
    last_state: Option<String>,
}

/// Runs one sweep (see the module docs) and records it in the store (unless dry).
pub async fn sweep(
    engine: &Engine,
    opts: &SweepOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<SweepReport, EngineError> {
    let started = Instant::now();
    let store = engine.store();
    let mapping = engine.mapping();
    let until = Utc::now();
    let boards = select_boards(&mapping, opts.boards.as_deref())?;
    let board_list = boards
        .iter()
        .map(|b| b.board_id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let spent_before = engine.monday().complexity_spent();
    let window_start = match opts.since {
        Since::Ago(d) => chrono::Duration::from_std(d).ok().map(|d| until - d),
        _ => None,
    };
    let run = if opts.dry_run {
        None
    } else {
        Some(
            store
                .start_sweep(opts.trigger, false, &board_list, window_start, until)
                .await?,
        )
    };
    let result = sweep_boards(engine, opts, &boards, until, run, progress).await;
    let complexity = engine
        .monday()
        .complexity_spent()
        .saturating_sub(spent_before);
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(done) => {
            let report = SweepReport {
                run_id: run.map(|r| r.0),
                dry_run: opts.dry_run,
                items_checked: done.iter().map(|b| b.items_checked).sum(),
                events_stored: done
                    .iter()
                    .flat_map(|b| &b.events)
                    .filter(|e| e.new)
                    .count() as u64,
                log_entries: done.iter().map(|b| b.log_entries).sum(),
                full_reads: done.iter().filter(|b| b.source == Source::FullRead).count() as u64,
                complexity,
                elapsed_ms,
                boards: done,
            };
            if let Some(id) = run {
                store.finish_sweep(id, &counts(&report), None).await?;
            }
            Ok(report)
        }
        Err(e) => {
            if let Some(id) = run {
                let c = SweepCounts {
                    complexity,
                    ..SweepCounts::default()
                };
                if let Err(se) = store.finish_sweep(id, &c, Some(&e.to_string())).await {
                    tracing::warn!(sweep = %id, error = %se, "could not record the failed sweep");
                }
            }
            Err(e)
        }
    }
}

fn counts(r: &SweepReport) -> SweepCounts {
    SweepCounts {
        items_checked: r.items_checked,
        events_stored: r.events_stored,
        log_entries: r.log_entries,
        full_reads: r.full_reads,
        complexity: r.complexity,
    }
}

async fn sweep_boards(
    engine: &Engine,
    opts: &SweepOptions,
    boards: &[BoardMapping],
    until: DateTime<Utc>,
    run: Option<SweepId>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Vec<BoardSweep>, EngineError> {
    let store = engine.store();
    let me = engine.monday().me_id().await.map_err(EngineError::Monday)?;
    let mut out = Vec::new();
    for bm in boards {
        let board_n = parse(&bm.board_id)?;
        let since = match opts.since {
            Since::Everything => None,
            Since::Ago(d) => chrono::Duration::from_std(d).ok().map(|d| until - d),
            Since::Last | Since::LastOr(_) => {
                let last = store
                    .sweep_cursor(board_n)
                    .await?
                    .map(|c| c - chrono::Duration::from_std(LOOKBACK).unwrap_or_default());
                match (last, opts.since) {
                    (None, Since::LastOr(d)) => {
                        chrono::Duration::from_std(d).ok().map(|d| until - d)
                    }
                    (last, _) => last,
                }
            }
        };
        let mut sweep = BoardSweep {
            board_id: bm.board_id.clone(),
            source: Source::ActivityLog,
            since,
            until,
            log_entries: 0,
            own_entries: 0,
            items_checked: 0,
            items_queued: 0,
            events: Vec::new(),
        };
        // Which items to compare: from the log, or all of them.
        let mut touched: BTreeMap<String, Touched> = BTreeMap::new();
        let mut full = since.is_none();
        if let Some(since) = since {
            let (from, to) = (since.to_rfc3339(), until.to_rfc3339());
            let mut page = 1;
            loop {
                let logs = engine
                    .monday()
                    .activity_logs(&bm.board_id, &from, &to, LOG_PAGE, page)
                    .await
                    .map_err(EngineError::Monday)?;
                let n = logs.len();
                sweep.log_entries += n as u64;
                for entry in logs {
                    if entry.user_id == me {
                        sweep.own_entries += 1;
                        continue;
                    }
                    let Some(item) = entry.item_id() else {
                        continue;
                    };
                    let t = touched.entry(item).or_default();
                    let is_state = matches!(
                        entry.event.as_str(),
                        "delete_pulse" | "archive_pulse" | "restore_pulse" | "create_pulse"
                    );
                    if is_state && t.last_state.is_none() {
                        t.last_state = Some(entry.event.clone());
                    }
                }
                if n < LOG_PAGE as usize {
                    break;
                }
                if sweep.log_entries >= LOG_CAP {
                    tracing::warn!(board_id = %bm.board_id, entries = sweep.log_entries,
                        "more activity than Monday's log serves for one window; reading the board");
                    full = true;
                    break;
                }
                page += 1;
            }
        }
        if full {
            sweep.source = Source::FullRead;
        }
        progress(Progress::Board {
            board_id: bm.board_id.clone(),
            source: sweep.source,
            since,
        });
        let links: HashMap<i64, String> = store
            .links_for_board(board_n)
            .await?
            .into_iter()
            .map(|l| (l.monday_item_id, l.sf_id))
            .collect();
        let applied_map = store.applied_values_for_board(board_n).await?;
        let queued = store.items_with_open_events(board_n).await?;
        let mut cmp = Comparer {
            engine,
            bm,
            board_n,
            links: &links,
            applied: &applied_map,
            queued: &queued,
            dry_run: opts.dry_run,
            run,
            source: sweep.source,
            sweep: &mut sweep,
        };
        if full {
            let mut seen = BTreeSet::new();
            let mut stream = engine.monday().items_stream(
                &bm.board_id,
                ItemsPageOptions {
                    limit: MAX_PAGE_SIZE,
                    column_ids: Some(read_columns(bm)),
                    ..ItemsPageOptions::default()
                },
            );
            while let Some(item) = stream.next().await {
                let item = core_item(item.map_err(EngineError::Monday)?, &bm.board_id)?;
                seen.insert(item.id.clone());
                cmp.compare(&item).await?;
                if cmp.sweep.items_checked.is_multiple_of(500) {
                    progress(Progress::Checked {
                        board_id: bm.board_id.clone(),
                        items: cmp.sweep.items_checked,
                    });
                }
            }
            // Linked items no longer on the board were deleted while nobody listened.
            let mut gone: Vec<i64> = links
                .keys()
                .copied()
                .filter(|i| !seen.contains(&i.to_string()))
                .collect();
            gone.sort_unstable();
            for item in gone {
                cmp.removed(item, "delete_pulse").await?;
            }
        } else {
            let mut fetch = Vec::new();
            for (item, t) in &touched {
                match t.last_state.as_deref() {
                    Some(kind @ ("delete_pulse" | "archive_pulse")) => {
                        cmp.removed(parse(item)?, kind).await?;
                    }
                    _ => fetch.push(item.clone()),
                }
            }
            for chunk in fetch.chunks(MAX_ITEM_IDS_PER_QUERY) {
                let items = engine
                    .monday()
                    .items(chunk)
                    .await
                    .map_err(EngineError::Monday)?;
                let mut found = BTreeSet::new();
                for item in items {
                    let item = core_item(item, &bm.board_id)?;
                    found.insert(item.id.clone());
                    cmp.compare(&item).await?;
                }
                // Touched, then gone without a logged delete (e.g. deleted with its group).
                for id in chunk.iter().filter(|i| !found.contains(*i)) {
                    cmp.removed(parse(id)?, "delete_pulse").await?;
                }
                progress(Progress::Checked {
                    board_id: bm.board_id.clone(),
                    items: cmp.sweep.items_checked,
                });
            }
        }
        if !opts.dry_run {
            store.set_sweep_cursor(board_n, until).await?;
        }
        out.push(sweep);
    }
    Ok(out)
}

struct Comparer<'a> {
    engine: &'a Engine,
    bm: &'a BoardMapping,
    board_n: i64,
    links: &'a HashMap<i64, String>,
    applied: &'a HashMap<i64, crmsync_store::AppliedValues>,
    queued: &'a std::collections::HashSet<i64>,
    dry_run: bool,
    run: Option<SweepId>,
    source: Source,
    sweep: &'a mut BoardSweep,
}

impl Comparer<'_> {
    /// Compares a present item with what was last applied; stores an event per difference.
    async fn compare(&mut self, item: &Item) -> Result<(), EngineError> {
        let item_n = parse(&item.id)?;
        self.sweep.items_checked += 1;
        if self.queued.contains(&item_n) {
            self.sweep.items_queued += 1;
            return Ok(());
        }
        let current = applied::item_hashes(self.bm, item);
        if !self.links.contains_key(&item_n) {
            // Created while crmsync was down (or never applied): one create, keyed by its values.
            let key = format!(
                "{RECONCILE_PREFIX}{}:{}:create:{}",
                self.bm.board_id,
                item.id,
                crmsync_store::values_hash(&current)
            );
            return self
                .store(item_n, &item.id, "create_pulse", None, key)
                .await;
        }
        let recorded = self
            .applied
            .get(&item_n)
            .map(|a| a.hashes.clone())
            .unwrap_or_default();
        // The name first, then the columns in mapping order: the order Monday would have sent.
        let mut changed = applied::changed_keys(&current, &recorded);
        changed.sort_by_key(|k| (k != NAME_KEY, self.order_of(k)));
        for k in changed {
            let hash = &current[&k];
            if k == NAME_KEY {
                let key = format!(
                    "{RECONCILE_PREFIX}{}:{}:name:{hash}",
                    self.bm.board_id, item.id
                );
                self.store(item_n, &item.id, "update_name", None, key)
                    .await?;
            } else {
                let key = format!(
                    "{RECONCILE_PREFIX}{}:{}:column:{k}:{hash}",
                    self.bm.board_id, item.id
                );
                self.store(item_n, &item.id, "update_column_value", Some(&k), key)
                    .await?;
            }
        }
        Ok(())
    }

    fn order_of(&self, key: &str) -> usize {
        self.bm
            .columns
            .iter()
            .position(|c| c.column == key)
            .unwrap_or(usize::MAX)
    }

    /// An item deleted or archived (`kind`) while nobody listened: applied once, if it is linked
    /// and its removal was not applied already.
    async fn removed(&mut self, item_n: i64, kind: &str) -> Result<(), EngineError> {
        self.sweep.items_checked += 1;
        if !self.links.contains_key(&item_n) {
            return Ok(());
        }
        if self.queued.contains(&item_n) {
            self.sweep.items_queued += 1;
            return Ok(());
        }
        let state = if kind == "delete_pulse" {
            "deleted"
        } else {
            "archived"
        };
        let already = self
            .applied
            .get(&item_n)
            .and_then(|a| a.hashes.get(STATE_KEY))
            .is_some_and(|s| s == state || s == "deleted");
        if already {
            return Ok(());
        }
        let key = format!("{RECONCILE_PREFIX}{}:{item_n}:{kind}", self.bm.board_id);
        self.store(item_n, &item_n.to_string(), kind, None, key)
            .await
    }

    async fn store(
        &mut self,
        item_n: i64,
        item_id: &str,
        event_type: &str,
        column_id: Option<&str>,
        key: String,
    ) -> Result<(), EngineError> {
        let board = &self.bm.board_id;
        let mut event = json!({
            "app": "crmsync-reconcile",
            "type": event_type,
            "boardId": board,
            "triggerUuid": key,
            "triggerTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if matches!(event_type, "delete_pulse" | "archive_pulse") {
            event["itemId"] = json!(item_id);
        } else {
            event["pulseId"] = json!(item_id);
        }
        if let Some(c) = column_id {
            event["columnId"] = json!(c);
        }
        let payload = json!({
            "event": event,
            RECONCILE_KEY: { "sweep": self.run.map(|r| r.0), "source": self.source },
        });
        let new = if self.dry_run {
            true
        } else {
            matches!(
                self.engine
                    .store()
                    .insert_event_if_new(&NewEvent {
                        trigger_uuid: key.clone(),
                        board_id: self.board_n,
                        item_id: item_n,
                        event_type: event_type.to_string(),
                        payload: payload.to_string(),
                    })
                    .await?,
                crmsync_store::InsertOutcome::Inserted(_)
            )
        };
        if new {
            tracing::info!(board_id = %board, item_id, event_type, column_id, key = %key,
                dry_run = self.dry_run, "sweep: stored an event for a change no webhook brought");
        }
        self.sweep.events.push(SweptEvent {
            board_id: board.clone(),
            item_id: item_id.to_string(),
            event_type: event_type.to_string(),
            column_id: column_id.map(str::to_string),
            key,
            new,
        });
        Ok(())
    }
}

pub(crate) fn parse(id: &str) -> Result<i64, EngineError> {
    id.trim()
        .parse::<i64>()
        .map_err(|_| EngineError::Invalid(format!("{id:?} is not a Monday id")))
}

/// The client's item as the core's snapshot type.
pub(crate) fn core_item(found: crmsync_monday::Item, board_id: &str) -> Result<Item, EngineError> {
    let id = found.id.clone();
    let v = serde_json::to_value(&found)
        .map_err(|e| EngineError::Invalid(format!("item {id}: {e}")))?;
    let mut item: Item =
        serde_json::from_value(v).map_err(|e| EngineError::Invalid(format!("item {id}: {e}")))?;
    item.board_id = Some(board_id.to_string());
    Ok(item)
}

/// The columns a sweep or a drift report reads: the mapped ones and the Id column.
pub(crate) fn read_columns(bm: &BoardMapping) -> Vec<String> {
    let mut cols: Vec<String> = bm.columns.iter().map(|c| c.column.clone()).collect();
    cols.push(bm.salesforce_id_column.clone());
    cols.sort();
    cols.dedup();
    cols
}

/// The mapped boards with these ids (None: all of them); an id not in the mapping is an error
/// that lists the mapped ones.
pub(crate) fn select_boards(
    mapping: &crmsync_core::Mapping,
    ids: Option<&[String]>,
) -> Result<Vec<BoardMapping>, EngineError> {
    let Some(ids) = ids else {
        return Ok(mapping.boards.clone());
    };
    ids.iter()
        .map(|id| {
            mapping.board(id).cloned().ok_or_else(|| {
                EngineError::Mapping(format!(
                    "board {id} is not in the mapping (mapped boards: {})",
                    mapping
                        .boards
                        .iter()
                        .map(|b| b.board_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}
