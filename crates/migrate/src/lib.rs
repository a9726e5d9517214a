//! The Salesforce → Monday migration (`crmsync migrate …`).
//!
//! * [`Migrator::plan`] — per object: the SOQL, the record count, the target board, how many
//!   items exist already (matched by the Salesforce Id column, then by the mapping's natural key),
//!   how many would be created / updated / unchanged, the labels the boards lack, an estimate of
//!   the Monday calls; stored in the store under its [`plan_hash`].
//! * [`Migrator::run`] — reads with query paging, writes batched aliased mutations (the Monday
//!   client paces them on the complexity budget), one batch at a time per board; records an
//!   intent before each batch of creates and a checkpoint after, so a killed run resumes without
//!   duplicates; sets relations in a second pass from the link table; bad records are reported
//!   and the others go on.
//! * [`Migrator::verify`] — compares every mapped field and relation of both sides.
//!
//! The crate emits [`Progress`] events to a caller-supplied sink and does no terminal I/O; the
//! CLI draws the bars and tables.

mod error;
mod hash;
mod run;
mod snapshot;
mod users;
mod verify;

use std::sync::Arc;

use crmsync_core::{BoardMapping, Mapping, Transform};
use crmsync_monday::MondayClient;
use crmsync_salesforce::{Cond, SalesforceClient, Soql};
use crmsync_store::Store;
use serde::Serialize;

pub use error::MigrateError;
pub use hash::plan_hash;
pub use run::{Change, Failure, ObjectReport, RunOptions, RunReport, Stage};
pub use snapshot::{fake, fake_id, SnapshotReport};
pub use users::UnmatchedUser;
pub use verify::{Difference, VerifyReport};

/// Result of the crate's operations.
pub type Result<T, E = MigrateError> = std::result::Result<T, E>;

/// A point of a run where tests may kill the process (see [`Progress::Point`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// A page of records was read.
    Reading,
    /// The intent of a batch of creates is recorded; the batch is not sent yet.
    MidBatch,
    /// A batch of creates was answered; its checkpoints are not written yet.
    AfterCreate,
    /// A batch of the relation pass was sent.
    Relations,
    /// A batch of records was verified.
    Verify,
}

impl Point {
    /// The point's name (`reading`, `mid_batch`, `after_create`, `relations`, `verify`).
    pub fn name(self) -> &'static str {
        match self {
            Point::Reading => "reading",
            Point::MidBatch => "mid_batch",
            Point::AfterCreate => "after_create",
            Point::Relations => "relations",
            Point::Verify => "verify",
        }
    }
}

/// What a run reports while it works.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// An object's pass starts (`total` when counted).
    Started {
        /// Salesforce object.
        object: String,
        /// Which pass (`records`, `relations`, `verify`).
        pass: &'static str,
        /// Records expected.
        total: Option<u64>,
    },
    /// Records processed so far in the pass.
    Advanced {
        /// Salesforce object.
        object: String,
        /// Which pass.
        pass: &'static str,
        /// Records done.
        done: u64,
    },
    /// The pass of an object finished.
    Finished {
        /// Salesforce object.
        object: String,
        /// Which pass.
        pass: &'static str,
        /// Records done.
        done: u64,
    },
    /// A kill point was reached (the `n`-th time).
    Point {
        /// Which point.
        point: Point,
        /// How many times it was reached in this process.
        n: u64,
    },
}

/// Where progress goes. Must be cheap: it is called for every batch.
pub type ProgressSink = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Tuning of a [`Migrator`].
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Mutations per GraphQL request (aliased).
    pub batch_size: usize,
    /// Lookback of `--since last` (records modified this long before the cursor are read again).
    pub lookback: chrono::Duration,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            batch_size: 25,
            lookback: chrono::Duration::minutes(5),
        }
    }
}

/// The migration over one store, one Salesforce and one Monday, with a validated mapping.
#[derive(Clone)]
pub struct Migrator {
    pub(crate) store: Store,
    pub(crate) sf: SalesforceClient,
    pub(crate) monday: MondayClient,
    pub(crate) mapping: Arc<Mapping>,
    pub(crate) mapping_src: Arc<str>,
    pub(crate) options: MigrateOptions,
    pub(crate) sink: ProgressSink,
    /// How many times each [`Point`] was reached.
    pub(crate) points: Arc<[std::sync::atomic::AtomicU64; 5]>,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("mapping", &self.mapping.file)
            .finish_non_exhaustive()
    }
}

/// One object of a [`PlanReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectPlan {
    /// Salesforce object.
    pub object: String,
    /// Target board.
    pub board_id: String,
    /// Board name (mapping name, else id).
    pub board: String,
    /// The SOQL the run executes.
    pub soql: String,
    /// Records it selects.
    pub records: u64,
    /// Items already on the board for these records (by Id column or natural key).
    pub existing: u64,
    /// Of those, matched by the natural key (adopted).
    pub adopted: u64,
    /// Items to create.
    pub create: u64,
    /// Items to update.
    pub update: u64,
    /// Items already equal.
    pub unchanged: u64,
    /// Records that cannot be migrated, with the reason.
    pub problems: Vec<Failure>,
    /// Labels the data needs that the board lacks: `column: label`.
    pub missing_labels: Vec<String>,
    /// Owners with no Monday user of the same email (their records' people column stays empty).
    pub unmatched_users: Vec<UnmatchedUser>,
    /// Monday requests estimated (lookups, mutation batches, relation pass).
    pub estimated_calls: u64,
    /// Complexity points estimated.
    pub estimated_complexity: u64,
}

/// What `plan` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    /// The plan hash (mapping + queries + the boards' column ids and types).
    pub plan_hash: String,
    /// Per object.
    pub objects: Vec<ObjectPlan>,
    /// Estimated duration under Monday's budget (10M points per minute), in seconds.
    pub estimated_seconds: u64,
}

/// Complexity of one `create_item` / `change_multiple_column_values` as Monday charges it
/// (about 30,000 points; measured against the mock, which follows Monday's published costs).
pub const COMPLEXITY_PER_MUTATION: u64 = 30_000;
/// Complexity of one items lookup page.
pub const COMPLEXITY_PER_LOOKUP: u64 = 10_000;
/// Monday's complexity budget per minute.
pub const BUDGET_PER_MINUTE: u64 = 10_000_000;

impl Migrator {
    /// A migrator over validated parts; `mapping_src` is the mapping file's text (part of the plan
    /// hash). Progress goes to `sink`.
    pub fn new(
        store: Store,
        sf: SalesforceClient,
        monday: MondayClient,
        mapping: Mapping,
        mapping_src: &str,
        options: MigrateOptions,
        sink: ProgressSink,
    ) -> Migrator {
        Migrator {
            store,
            sf,
            monday,
            mapping: Arc::new(mapping),
            mapping_src: Arc::from(mapping_src),
            options,
            sink,
            points: Arc::new(Default::default()),
        }
    }

    /// The mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn emit(&self, p: Progress) {
        (self.sink)(&p);
    }

    /// The boards to migrate, in an order where relation targets come first (Accounts before
    /// Contacts before Opportunities), restricted to `objects` when given.
    pub(crate) fn boards(&self, objects: Option<&[String]>) -> Result<Vec<&BoardMapping>> {
        let mut out: Vec<&BoardMapping> = self.mapping.boards.iter().collect();
        if let Some(objs) = objects {
            for o in objs {
                if !out.iter().any(|b| b.object.eq_ignore_ascii_case(o)) {
                    return Err(MigrateError::Mapping(format!(
                        "object {o} is not mapped to any board (mapped: {})",
                        out.iter()
                            .map(|b| b.object.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            out.retain(|b| objs.iter().any(|o| o.eq_ignore_ascii_case(&b.object)));
        }
        let depth = |b: &BoardMapping| {
            b.columns
                .iter()
                .filter(|c| c.transform == Transform::BoardRelation)
                .count()
        };
        out.sort_by_key(|b| depth(b));
        Ok(out)
    }

    /// The SOQL of a board (without the delta condition).
    pub(crate) fn soql(&self, bm: &BoardMapping) -> Soql {
        let mut fields = bm.salesforce_fields();
        for f in ["SystemModstamp"] {
            if !fields.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                fields.push(f.to_string());
            }
        }
        if let Some(m) = &bm.migration.match_on {
            if !fields.iter().any(|x| x.eq_ignore_ascii_case(&m.field)) {
                fields.push(m.field.clone());
            }
        }
        let mut q = Soql::from(bm.object.clone()).select(fields);
        if let Some(w) = &bm.migration.where_clause {
            q = q.filter(Cond::Raw(w.clone()));
        }
        q.order_by("Id", crmsync_salesforce::soql::Order::Asc)
    }

    pub(crate) fn soql_text(bm: &BoardMapping, q: &Soql) -> Result<String> {
        q.build().map_err(|source| MigrateError::Soql {
            object: bm.object.clone(),
            source,
        })
    }

    /// The plan hash of the current mapping and boards (what `run` checks the rehearsal of).
    pub async fn current_plan_hash(&self) -> Result<String> {
        let boards = self.board_columns().await?;
        let mut queries = Vec::new();
        for bm in &self.mapping.boards {
            queries.push(Self::soql_text(bm, &self.soql(bm))?);
        }
        Ok(plan_hash(&self.mapping_src, &queries, &boards))
    }

    /// `(board id, column id, column type)` of every mapped board.
    async fn board_columns(&self) -> Result<Vec<(String, String, String)>> {
        let ids: Vec<String> = self
            .mapping
            .boards
            .iter()
            .map(|b| b.board_id.clone())
            .collect();
        let mut out = Vec::new();
        for b in self.monday.boards(&ids).await? {
            for c in &b.columns {
                out.push((b.id.clone(), c.id.clone(), c.column_type.clone()));
            }
        }
        Ok(out)
    }

    /// `crmsync migrate plan`: computes (and stores) the plan without writing to Monday.
    pub async fn plan(&self, objects: Option<&[String]>) -> Result<PlanReport> {
        let plan_hash = self.current_plan_hash().await?;
        let mut out = Vec::new();
        let boards = self.boards(objects)?;
        let users = Arc::new(self.user_lookups(&boards).await?);
        for bm in boards {
            let q = self.soql(bm);
            let soql = Self::soql_text(bm, &q)?;
            let mut tally = run::Tally {
                users: users.clone(),
                ..run::Tally::default()
            };
            self.pass_records(bm, &q, None, &mut tally, true).await?;
            let mut missing: Vec<String> = tally
                .missing_labels
                .iter()
                .map(|(c, l)| format!("{c}: {l}"))
                .collect();
            missing.sort();
            missing.dedup();
            let batch = self.options.batch_size.max(1) as u64;
            let mutations = tally.created + tally.updated;
            let lookups = tally.read.div_ceil(batch) * 2;
            let relation_batches = if bm
                .columns
                .iter()
                .any(|c| c.transform == Transform::BoardRelation)
            {
                tally.read.div_ceil(batch) * 2
            } else {
                0
            };
            out.push(ObjectPlan {
                object: bm.object.clone(),
                board_id: bm.board_id.clone(),
                board: self.mapping.board_label(&bm.board_id),
                soql,
                records: tally.read,
                existing: tally.updated + tally.unchanged,
                adopted: tally.adopted,
                create: tally.created,
                update: tally.updated,
                unchanged: tally.unchanged,
                problems: tally.failures,
                missing_labels: missing,
                unmatched_users: tally.unmatched.report(&bm.object, &users),
                estimated_calls: mutations.div_ceil(batch) + lookups + relation_batches,
                estimated_complexity: mutations * COMPLEXITY_PER_MUTATION
                    + (lookups + relation_batches) * COMPLEXITY_PER_LOOKUP,
            });
        }
        let total: u64 = out.iter().map(|o| o.estimated_complexity).sum();
        let report = PlanReport {
            plan_hash: plan_hash.clone(),
            objects: out,
            estimated_seconds: (total * 60).div_ceil(BUDGET_PER_MINUTE),
        };
        let json = serde_json::to_string(&report)
            .map_err(|e| MigrateError::Data(format!("serialising the plan: {e}")))?;
        self.store.save_plan(&plan_hash, &json).await?;
        Ok(report)
    }

    /// `crmsync migrate status`: the most recent runs, newest first.
    pub async fn status(&self, limit: u32) -> Result<Vec<crmsync_store::MigrationRun>> {
        Ok(self.store.list_runs(limit).await?)
    }
}

/// Converts a Monday client item into the planner's item.
pub(crate) fn core_item(item: &crmsync_monday::Item, board_id: &str) -> Result<crmsync_core::Item> {
    let v = serde_json::to_value(item)
        .map_err(|e| MigrateError::Data(format!("item {}: {e}", item.id)))?;
    let mut out: crmsync_core::Item = serde_json::from_value(v)
        .map_err(|e| MigrateError::Data(format!("item {}: {e}", item.id)))?;
    out.board_id = Some(board_id.to_string());
    Ok(out)
}

/// The text of an item's column (the Id column, the natural key), trimmed.
pub(crate) fn column_text(item: &crmsync_core::Item, column: &str) -> Option<String> {
    let cv = item.column(column)?;
    let from_value = cv.decoded_value().and_then(|v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Object(o) => o
            .get("email")
            .or_else(|| o.get("text"))
            .and_then(|x| x.as_str())
            .map(str::to_string),
        _ => None,
    });
    from_value
        .or_else(|| cv.text.clone())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A record's field as text (case-insensitive name).
pub(crate) fn record_text(
    record: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Option<String> {
    record
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field))
        .and_then(|(_, v)| match v {
            serde_json::Value::String(s) => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
}

/// Mapping of a board restricted to some columns (the first pass leaves relations out, the
/// relation pass keeps only them).
pub(crate) fn restricted(bm: &BoardMapping, relations: bool) -> BoardMapping {
    let mut out = bm.clone();
    out.columns.retain(|c| {
        let is_rel = c.transform == Transform::BoardRelation;
        if relations {
            is_rel && c.direction.to_monday() && bm.migration.sets_relation(&c.column)
        } else {
            !is_rel
        }
    });
    out
}

/// Board id as the store keeps it.
pub(crate) fn board_num(board_id: &str) -> Result<i64> {
    board_id
        .parse()
        .map_err(|_| MigrateError::Data(format!("board id {board_id:?} is not a number")))
}
