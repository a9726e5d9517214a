//! `run`: the two passes (records, then relations), crash safety and the report.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crmsync_core::plan::{plan_item, ItemOperation};
use crmsync_core::{BoardMapping, Lookups, StaticLookups, Transform};
use crmsync_monday::{ChangeColumnValues, CreateItem, Mutation, MAX_ITEM_IDS_PER_QUERY};
use crmsync_salesforce::{Cond, QueryOptions, Record, Soql, SoqlValue};
use crmsync_store::{DeltaCursor, Link, MigrationStage, RunCounts, RunId, RunOutcome};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{
    board_num, column_text, core_item, record_text, restricted, MigrateError, Migrator, Point,
    Progress, Result,
};

/// Which systems a run writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Mocks seeded from a snapshot.
    Rehearsal,
    /// The configured Salesforce and Monday.
    Production,
}

impl Stage {
    fn store(self) -> MigrationStage {
        match self {
            Stage::Rehearsal => MigrationStage::Rehearsal,
            Stage::Production => MigrationStage::Production,
        }
    }
}

/// Options of [`Migrator::run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stage.
    pub stage: Stage,
    /// Continue the latest unfinished run of this plan (instead of starting a new one).
    pub resume: bool,
    /// Compute and report the changes; write nothing.
    pub dry_run: bool,
    /// Only records modified since the last successful run of this plan.
    pub since_last: bool,
    /// Only these objects.
    pub objects: Option<Vec<String>>,
}

/// A record that was not migrated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Salesforce object.
    pub object: String,
    /// Record Id.
    pub sf_id: String,
    /// Why.
    pub reason: String,
}

/// A change a dry run would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Salesforce object.
    pub object: String,
    /// Record Id.
    pub sf_id: String,
    /// `create` or `update`.
    pub op: &'static str,
    /// The item, for an update.
    pub item_id: Option<String>,
    /// Columns written.
    pub columns: Vec<String>,
}

/// One object of a [`RunReport`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    /// Salesforce object.
    pub object: String,
    /// Board.
    pub board_id: String,
    /// Records read.
    pub read: u64,
    /// Items created.
    pub created: u64,
    /// Items updated.
    pub updated: u64,
    /// Items already equal.
    pub unchanged: u64,
    /// Of the updated/unchanged, items adopted by the natural key.
    pub adopted: u64,
    /// Records that failed.
    pub failed: u64,
    /// Items whose relations the second pass set.
    pub relations_set: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The run (none for a dry run).
    pub run_id: Option<i64>,
    /// Stage.
    pub stage: Stage,
    /// Plan hash.
    pub plan_hash: String,
    /// `passed` or `failed` (`dry_run` for a dry run).
    pub outcome: String,
    /// Per object.
    pub objects: Vec<ObjectReport>,
    /// Failed records with reasons.
    pub failures: Vec<Failure>,
    /// Owners with no Monday user of the same email: their records' people columns stay empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmatched_users: Vec<crate::UnmatchedUser>,
    /// What a dry run would change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Differences `verify` found after a rehearsal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_differences: Option<u64>,
    /// Wall time.
    pub duration_ms: u64,
    /// Monday requests sent.
    pub monday_calls: u64,
    /// Mutations sent.
    pub mutations: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub adopted: u64,
    pub relations_set: u64,
    pub failures: Vec<Failure>,
    pub missing_labels: Vec<(String, String)>,
    pub changes: Vec<Change>,
    pub collect_changes: bool,
    pub last: Option<(chrono::DateTime<chrono::Utc>, String, String)>,
    pub calls: u64,
    pub mutations: u64,
    /// Both user directories (people columns), shared by the boards of one operation.
    pub users: std::sync::Arc<StaticLookups>,
    /// Records whose owner has no Monday user of the same email.
    pub unmatched: crate::users::Unmatched,
}

impl Tally {
    fn fail(&mut self, object: &str, sf_id: &str, reason: impl Into<String>) {
        self.failures.push(Failure {
            object: object.to_string(),
            sf_id: sf_id.to_string(),
            reason: reason.into(),
        });
    }
}

struct Planned {
    sf_id: String,
    op: ItemOperation,
    adopted: bool,
}

impl Migrator {
    pub(crate) fn point(&self, point: Point) {
        let i = point as usize;
        let n = self.points[i].fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.emit(Progress::Point { point, n });
    }

    /// `crmsync migrate run`.
    pub async fn run(&self, opts: &RunOptions) -> Result<RunReport> {
        let started = Instant::now();
        let plan_hash = self.current_plan_hash().await?;
        if opts.stage == Stage::Production
            && self
                .store
                .latest_passed_run(MigrationStage::Rehearsal, &plan_hash)
                .await?
                .is_none()
        {
            return Err(MigrateError::NotRehearsed { plan_hash });
        }
        let boards: Vec<BoardMapping> = self
            .boards(opts.objects.as_deref())?
            .into_iter()
            .cloned()
            .collect();
        let run_id = if opts.dry_run {
            None
        } else {
            let resumed = if opts.resume {
                self.store
                    .latest_unfinished_run(opts.stage.store(), &plan_hash)
                    .await?
            } else {
                None
            };
            Some(match resumed {
                Some(r) => r.id,
                None => self.store.start_run(opts.stage.store(), &plan_hash).await?,
            })
        };
        let mut calls = 0u64;
        if run_id.is_some() {
            calls += self.reconcile_intents(&plan_hash).await?;
        }
        let mut reports = Vec::new();
        let mut failures = Vec::new();
        let mut changes = Vec::new();
        let mut mutations = 0u64;
        let mut cursors = Vec::new();
        let mut tallies = Vec::new();
        let mut unmatched_users = Vec::new();
        let users = std::sync::Arc::new(
            self.user_lookups(&boards.iter().collect::<Vec<_>>())
                .await?,
        );
        for bm in &boards {
            let mut q = self.soql(bm);
            if opts.since_last {
                if let Some(c) = self.store.delta_cursor(&plan_hash, &bm.object).await? {
                    q = q.filter(self.delta_condition(&c));
                }
            }
            let mut tally = Tally {
                collect_changes: opts.dry_run,
                users: users.clone(),
                ..Tally::default()
            };
            self.pass_records(bm, &q, run_id, &mut tally, opts.dry_run)
                .await?;
            tallies.push((bm, q, tally));
        }
        // Second pass: relations, once every board's items exist.
        for (bm, q, tally) in &mut tallies {
            if !opts.dry_run {
                self.pass_relations(bm, q, tally).await?;
            }
        }
        for (bm, _, tally) in tallies {
            calls += tally.calls;
            mutations += tally.mutations;
            if let Some((_, modstamp, id)) = &tally.last {
                cursors.push((bm.object.clone(), modstamp.clone(), id.clone()));
            }
            reports.push(ObjectReport {
                object: bm.object.clone(),
                board_id: bm.board_id.clone(),
                read: tally.read,
                created: tally.created,
                updated: tally.updated,
                unchanged: tally.unchanged,
                adopted: tally.adopted,
                failed: tally.failures.len() as u64,
                relations_set: tally.relations_set,
            });
            failures.extend(tally.failures);
            changes.extend(tally.changes);
            unmatched_users.extend(tally.unmatched.report(&bm.object, &users));
        }
        let mut verify_differences = None;
        let outcome = match run_id {
            None => "dry_run".to_string(),
            Some(id) => {
                let mut ok = failures.is_empty();
                if opts.stage == Stage::Rehearsal {
                    let v = self.verify(opts.objects.as_deref()).await?;
                    verify_differences = Some(v.differences.len() as u64);
                    ok &= v.differences.is_empty();
                }
                let counts = RunCounts {
                    records_read: reports.iter().map(|r| r.read).sum(),
                    items_created: reports.iter().map(|r| r.created).sum(),
                    items_updated: reports.iter().map(|r| r.updated).sum(),
                    records_skipped: reports.iter().map(|r| r.unchanged).sum(),
                    records_failed: failures.len() as u64,
                };
                let outcome = if ok {
                    RunOutcome::Passed
                } else {
                    RunOutcome::Failed
                };
                if ok {
                    for (object, modstamp, last_id) in &cursors {
                        self.store
                            .save_delta_cursor(
                                &plan_hash,
                                object,
                                &DeltaCursor {
                                    modstamp: modstamp.clone(),
                                    last_id: last_id.clone(),
                                },
                            )
                            .await?;
                    }
                }
                self.store.finish_run(id, outcome, &counts).await?;
                outcome.as_str().to_string()
            }
        };
        Ok(RunReport {
            run_id: run_id.map(|r| r.0),
            stage: opts.stage,
            plan_hash,
            outcome,
            objects: reports,
            failures,
            unmatched_users,
            changes,
            verify_differences,
            duration_ms: started.elapsed().as_millis() as u64,
            monday_calls: calls,
            mutations,
        })
    }

    /// `SystemModstamp > X OR (SystemModstamp = X AND Id > last)`, X = the cursor minus the
    /// lookback.
    fn delta_condition(&self, c: &DeltaCursor) -> Cond {
        match crmsync_core::parse_sf_datetime(&c.modstamp) {
            Some(at) => {
                let x = at - self.options.lookback;
                Cond::gt("SystemModstamp", SoqlValue::DateTime(x)).or(Cond::eq(
                    "SystemModstamp",
                    SoqlValue::DateTime(x),
                )
                .and(Cond::gt("Id", c.last_id.as_str())))
            }
            // An unreadable cursor selects everything (safe: the run is idempotent).
            None => Cond::Raw("Id != null".into()),
        }
    }

    /// Intents without a checkpoint (a run killed between sending creates and checkpointing
    /// them): look the items up by the Salesforce Id column and checkpoint what exists.
    async fn reconcile_intents(&self, plan_hash: &str) -> Result<u64> {
        let open = self.store.open_intents(plan_hash).await?;
        let mut calls = 0;
        let mut by_board: BTreeMap<(i64, String, RunId), Vec<String>> = BTreeMap::new();
        for i in open {
            by_board
                .entry((i.board_id, i.sf_object.clone(), i.run_id))
                .or_default()
                .push(i.sf_id);
        }
        for ((board, object, run), ids) in by_board {
            let Some(bm) = self.mapping.board(&board.to_string()) else {
                continue;
            };
            for chunk in ids.chunks(MAX_ITEM_IDS_PER_QUERY) {
                calls += 1;
                let items = self
                    .monday
                    .items_by_column_values(&bm.board_id, &bm.salesforce_id_column, chunk)
                    .await?;
                let mut found: HashMap<String, i64> = HashMap::new();
                for it in &items {
                    let ci = core_item(it, &bm.board_id)?;
                    if let (Some(sf), Ok(n)) =
                        (column_text(&ci, &bm.salesforce_id_column), it.id.parse())
                    {
                        found.entry(sf).or_insert(n);
                    }
                }
                for id in chunk {
                    match found.get(id) {
                        Some(item) => {
                            self.link_and_checkpoint(run, bm, &object, id, *item)
                                .await?;
                        }
                        None => self.store.drop_intent(run, &object, id).await?,
                    }
                }
            }
        }
        Ok(calls)
    }

    async fn link_and_checkpoint(
        &self,
        run: RunId,
        bm: &BoardMapping,
        object: &str,
        sf_id: &str,
        item: i64,
    ) -> Result<()> {
        self.store
            .upsert_link(&Link {
                monday_board_id: board_num(&bm.board_id)?,
                monday_item_id: item,
                sf_object: object.to_string(),
                sf_id: sf_id.to_string(),
            })
            .await?;
        self.store.checkpoint(run, object, sf_id, item).await?;
        Ok(())
    }

    /// First pass of one board: every selected record becomes a create, an update or nothing.
    /// With `plan_only`, only counts (and, for a dry run, the changes) are collected.
    pub(crate) async fn pass_records(
        &self,
        bm: &BoardMapping,
        q: &Soql,
        run: Option<RunId>,
        tally: &mut Tally,
        plan_only: bool,
    ) -> Result<()> {
        let first = restricted(bm, false);
        let stream = self.sf.query_records(q, QueryOptions::default()).await?;
        self.emit(Progress::Started {
            object: bm.object.clone(),
            pass: "records",
            total: stream.counted,
        });
        let mut records = stream.records;
        let batch_size = self.options.batch_size.max(1);
        let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
        loop {
            let next = records.next().await;
            let end = next.is_none();
            if let Some(r) = next {
                let r = r?;
                tally.read += 1;
                if let (Some(ms), Some(id)) =
                    (record_text(&r, "SystemModstamp"), record_text(&r, "Id"))
                {
                    if let Some(at) = crmsync_core::parse_sf_datetime(&ms) {
                        let newer = tally
                            .last
                            .as_ref()
                            .is_none_or(|(t, _, l)| (at, id.as_str()) > (*t, l.as_str()));
                        if newer {
                            tally.last = Some((at, ms, id));
                        }
                    }
                }
                batch.push(r);
            }
            if batch.len() >= batch_size || (end && !batch.is_empty()) {
                self.point(Point::Reading);
                let records = std::mem::take(&mut batch);
                self.records_batch(bm, &first, records, run, tally, plan_only)
                    .await?;
                self.emit(Progress::Advanced {
                    object: bm.object.clone(),
                    pass: "records",
                    done: tally.read,
                });
            }
            if end {
                break;
            }
        }
        self.emit(Progress::Finished {
            object: bm.object.clone(),
            pass: "records",
            done: tally.read,
        });
        Ok(())
    }

    /// Items of the board for these records: by the Salesforce Id column, then (for the rest) by
    /// the natural key among items without an Id. `(sf id -> (item, adopted))`.
    async fn existing_items(
        &self,
        bm: &BoardMapping,
        records: &[Record],
        tally: &mut Tally,
    ) -> Result<HashMap<String, (crmsync_core::Item, bool)>> {
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| record_text(r, "Id"))
            .collect();
        let mut out = HashMap::new();
        tally.calls += 1;
        for it in self
            .monday
            .items_by_column_values(&bm.board_id, &bm.salesforce_id_column, &ids)
            .await?
        {
            let ci = core_item(&it, &bm.board_id)?;
            if let Some(sf) = column_text(&ci, &bm.salesforce_id_column) {
                out.entry(sf).or_insert((ci, false));
            }
        }
        if let Some(m) = &bm.migration.match_on {
            let mut wanted: HashMap<String, String> = HashMap::new();
            for r in records {
                if let (Some(id), Some(key)) = (record_text(r, "Id"), record_text(r, &m.field)) {
                    if !out.contains_key(&id) {
                        wanted.entry(key.to_lowercase()).or_insert(id);
                    }
                }
            }
            if !wanted.is_empty() {
                let mut values: Vec<String> = Vec::new();
                for r in records {
                    if let Some(key) = record_text(r, &m.field) {
                        if wanted.contains_key(&key.to_lowercase()) {
                            values.push(key);
                        }
                    }
                }
                tally.calls += 1;
                for it in self
                    .monday
                    .items_by_column_values(&bm.board_id, &m.column, &values)
                    .await?
                {
                    let ci = core_item(&it, &bm.board_id)?;
                    if column_text(&ci, &bm.salesforce_id_column).is_some() {
                        continue; // linked to another record: never adopted
                    }
                    let Some(key) = column_text(&ci, &m.column) else {
                        continue;
                    };
                    if let Some(sf) = wanted.remove(&key.to_lowercase()) {
                        out.insert(sf, (ci, true));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn records_batch(
        &self,
        bm: &BoardMapping,
        first: &BoardMapping,
        records: Vec<Record>,
        run: Option<RunId>,
        tally: &mut Tally,
        plan_only: bool,
    ) -> Result<()> {
        let mut existing = self.existing_items(bm, &records, tally).await?;
        // The user directories (people columns); relations are left to the second pass.
        let lookups = tally.users.clone();
        let mut planned = Vec::new();
        for r in &records {
            let Some(sf_id) = record_text(r, "Id") else {
                tally.fail(&bm.object, "", "record has no Id");
                continue;
            };
            let found = existing.remove(&sf_id);
            let adopted = found.as_ref().is_some_and(|(_, a)| *a);
            match plan_item(r, found.as_ref().map(|(i, _)| i), first, &*lookups) {
                Err(e) => tally.fail(&bm.object, &sf_id, e.to_string()),
                Ok(op) => {
                    let deferred = match &op {
                        ItemOperation::Create { deferred, .. }
                        | ItemOperation::Update { deferred, .. }
                        | ItemOperation::Unchanged { deferred, .. } => deferred,
                    };
                    tally.unmatched.note(first, r, deferred);
                    let labels = match &op {
                        ItemOperation::Create { new_labels, .. }
                        | ItemOperation::Update { new_labels, .. } => new_labels.clone(),
                        ItemOperation::Unchanged { .. } => Vec::new(),
                    };
                    if let Some(strict) =
                        labels.iter().find(|l| bm.migration.is_strict(&l.column_id))
                    {
                        tally.fail(
                            &bm.object,
                            &sf_id,
                            format!(
                                "label `{}` is not on column `{}`, which the mapping marks strict",
                                strict.label, strict.column_id
                            ),
                        );
                        continue;
                    }
                    for l in labels {
                        tally.missing_labels.push((l.column_id, l.label));
                    }
                    planned.push(Planned { sf_id, op, adopted });
                }
            }
        }
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for p in planned {
            match &p.op {
                ItemOperation::Create { .. } => creates.push(p),
                ItemOperation::Update { .. } => updates.push(p),
                ItemOperation::Unchanged { item_id, .. } => {
                    tally.unchanged += 1;
                    if p.adopted {
                        tally.adopted += 1;
                    }
                    if let (Some(run), false) = (run, plan_only) {
                        let item = item_num(item_id)?;
                        if let Err(e) = self
                            .link_and_checkpoint(run, bm, &bm.object, &p.sf_id, item)
                            .await
                        {
                            tally.unchanged -= 1;
                            tally.fail(&bm.object, &p.sf_id, e.to_string());
                        }
                    }
                }
            }
        }
        if plan_only {
            for p in creates.iter().chain(updates.iter()) {
                if let ItemOperation::Create { .. } = p.op {
                    tally.created += 1;
                } else {
                    tally.updated += 1;
                    if p.adopted {
                        tally.adopted += 1;
                    }
                }
                if tally.collect_changes {
                    tally.changes.push(change_of(&bm.object, p));
                }
            }
            return Ok(());
        }
        let Some(run) = run else {
            return Ok(());
        };
        if !creates.is_empty() {
            self.send_creates(bm, run, creates, tally).await?;
        }
        if !updates.is_empty() {
            self.send_updates(bm, run, updates, tally).await?;
        }
        Ok(())
    }

    async fn send_creates(
        &self,
        bm: &BoardMapping,
        run: RunId,
        creates: Vec<Planned>,
        tally: &mut Tally,
    ) -> Result<()> {
        let ids: Vec<String> = creates.iter().map(|p| p.sf_id.clone()).collect();
        self.store
            .record_intents(run, &bm.object, board_num(&bm.board_id)?, &ids)
            .await?;
        self.point(Point::MidBatch);
        let mutations: Vec<Mutation> = creates
            .iter()
            .filter_map(|p| match &p.op {
                ItemOperation::Create {
                    board_id,
                    item_name,
                    column_values,
                    new_labels,
                    ..
                } => Some(Mutation::CreateItem(CreateItem {
                    board_id: board_id.clone(),
                    group_id: None,
                    item_name: item_name.clone(),
                    column_values: Some(json!(column_values)),
                    create_labels_if_missing: !new_labels.is_empty(),
                })),
                _ => None,
            })
            .collect();
        tally.calls += 1;
        tally.mutations += mutations.len() as u64;
        let results = self.monday.batch(&mutations).await;
        self.point(Point::AfterCreate);
        match results {
            Ok(results) => {
                for (p, r) in creates.iter().zip(results) {
                    match r.map_err(MigrateError::from).and_then(|r| item_num(&r.id)) {
                        Ok(item) => {
                            self.link_and_checkpoint(run, bm, &bm.object, &p.sf_id, item)
                                .await?;
                            tally.created += 1;
                        }
                        Err(e) => {
                            // Nothing was created for this alias: the intent is answered.
                            self.store.drop_intent(run, &bm.object, &p.sf_id).await?;
                            tally.fail(
                                &bm.object,
                                &p.sf_id,
                                format!("Monday refused the item: {e}"),
                            );
                        }
                    }
                }
            }
            Err(e) => {
                // The request failed as a whole: some items may exist. Look them up by the Id
                // column before anything is created again.
                tracing::warn!(error = %e, board = %bm.board_id, "a batch of creates failed; reconciling");
                tally.calls += 1;
                let items = self
                    .monday
                    .items_by_column_values(&bm.board_id, &bm.salesforce_id_column, &ids)
                    .await?;
                let mut found: HashMap<String, i64> = HashMap::new();
                for it in &items {
                    let ci = core_item(it, &bm.board_id)?;
                    if let Some(sf) = column_text(&ci, &bm.salesforce_id_column) {
                        found.entry(sf).or_insert(item_num(&it.id)?);
                    }
                }
                for p in &creates {
                    match found.get(&p.sf_id) {
                        Some(item) => {
                            self.link_and_checkpoint(run, bm, &bm.object, &p.sf_id, *item)
                                .await?;
                            tally.created += 1;
                        }
                        None => {
                            self.store.drop_intent(run, &bm.object, &p.sf_id).await?;
                            tally.fail(
                                &bm.object,
                                &p.sf_id,
                                format!("Monday failed the batch: {e}"),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_updates(
        &self,
        bm: &BoardMapping,
        run: RunId,
        updates: Vec<Planned>,
        tally: &mut Tally,
    ) -> Result<()> {
        let mutations: Vec<Mutation> = updates
            .iter()
            .filter_map(|p| update_mutation(&p.op))
            .collect();
        tally.calls += 1;
        tally.mutations += mutations.len() as u64;
        let results = self.monday.batch(&mutations).await?;
        for (p, r) in updates.iter().zip(results) {
            let ItemOperation::Update { item_id, .. } = &p.op else {
                continue;
            };
            match r {
                Ok(_) => {
                    self.link_and_checkpoint(run, bm, &bm.object, &p.sf_id, item_num(item_id)?)
                        .await?;
                    tally.updated += 1;
                    if p.adopted {
                        tally.adopted += 1;
                    }
                }
                Err(e) => tally.fail(
                    &bm.object,
                    &p.sf_id,
                    format!("Monday refused the update: {e}"),
                ),
            }
        }
        Ok(())
    }

    /// Lookups for the relation columns of `records`: the items they should point at (from the
    /// link table) and the records the items' current `linked_item_ids` stand for.
    pub(crate) async fn relation_lookups(
        &self,
        bm: &BoardMapping,
        records: &[Record],
        items: &HashMap<String, crmsync_core::Item>,
    ) -> Result<StaticLookups> {
        let mut lookups = StaticLookups::default();
        for c in bm
            .columns
            .iter()
            .filter(|c| c.transform == Transform::BoardRelation)
        {
            let Some(target) = c
                .target_board
                .as_deref()
                .and_then(|t| self.mapping.board(t))
            else {
                continue;
            };
            for r in records {
                if let Some(reference) = record_text(r, &c.field) {
                    if let Some(link) = self
                        .store
                        .find_link_by_salesforce(&target.object, &reference)
                        .await?
                    {
                        lookups
                            .links
                            .insert(link.monday_item_id.to_string(), link.sf_id);
                    }
                }
            }
            for item in items.values() {
                let Some(cv) = item.column(&c.column) else {
                    continue;
                };
                for linked in cv.linked_item_ids.clone().unwrap_or_default() {
                    if lookups.salesforce_id_for_item(&linked).is_some() {
                        continue;
                    }
                    if let Ok(n) = linked.parse::<i64>() {
                        if let Some(link) = self
                            .store
                            .find_link_by_monday(board_num(&target.board_id)?, n)
                            .await?
                        {
                            lookups.links.insert(linked, link.sf_id);
                        }
                    }
                }
            }
        }
        Ok(lookups)
    }

    /// The items linked to `records` (by the link table), read from Monday.
    pub(crate) async fn linked_items(
        &self,
        bm: &BoardMapping,
        records: &[Record],
        tally_calls: &mut u64,
    ) -> Result<HashMap<String, crmsync_core::Item>> {
        let mut by_item: HashMap<String, String> = HashMap::new();
        for r in records {
            if let Some(id) = record_text(r, "Id") {
                if let Some(l) = self.store.find_link_by_salesforce(&bm.object, &id).await? {
                    by_item.insert(l.monday_item_id.to_string(), id);
                }
            }
        }
        let ids: Vec<String> = by_item.keys().cloned().collect();
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_ITEM_IDS_PER_QUERY) {
            *tally_calls += 1;
            for it in self.monday.items(chunk).await? {
                if let Some(sf) = by_item.get(&it.id) {
                    out.insert(sf.clone(), core_item(&it, &bm.board_id)?);
                }
            }
        }
        Ok(out)
    }

    /// Second pass of one board: relation columns, from the link table.
    async fn pass_relations(&self, bm: &BoardMapping, q: &Soql, tally: &mut Tally) -> Result<()> {
        let rel = restricted(bm, true);
        if rel.columns.is_empty() {
            return Ok(());
        }
        let stream = self.sf.query_records(q, QueryOptions::default()).await?;
        self.emit(Progress::Started {
            object: bm.object.clone(),
            pass: "relations",
            total: stream.counted,
        });
        let mut records = stream.records;
        let batch_size = self.options.batch_size.max(1);
        let mut done = 0u64;
        loop {
            let mut batch = Vec::with_capacity(batch_size);
            while batch.len() < batch_size {
                match records.next().await {
                    Some(r) => batch.push(r?),
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            done += batch.len() as u64;
            let items = self.linked_items(bm, &batch, &mut tally.calls).await?;
            let lookups = self.relation_lookups(&rel, &batch, &items).await?;
            let mut mutations = Vec::new();
            let mut who = Vec::new();
            for r in &batch {
                let Some(sf_id) = record_text(r, "Id") else {
                    continue;
                };
                let Some(item) = items.get(&sf_id) else {
                    continue; // failed in the first pass: reported there
                };
                match plan_item(r, Some(item), &rel, &lookups) {
                    Ok(op @ ItemOperation::Update { .. }) => {
                        if let Some(m) = update_mutation(&op) {
                            mutations.push(m);
                            who.push(sf_id);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tally.fail(&bm.object, &sf_id, format!("relations: {e}")),
                }
            }
            if !mutations.is_empty() {
                tally.calls += 1;
                tally.mutations += mutations.len() as u64;
                let results = self.monday.batch(&mutations).await?;
                for (sf_id, r) in who.iter().zip(results) {
                    match r {
                        Ok(_) => tally.relations_set += 1,
                        Err(e) => tally.fail(
                            &bm.object,
                            sf_id,
                            format!("Monday refused the relations: {e}"),
                        ),
                    }
                }
            }
            self.point(Point::Relations);
            self.emit(Progress::Advanced {
                object: bm.object.clone(),
                pass: "relations",
                done,
            });
        }
        self.emit(Progress::Finished {
            object: bm.object.clone(),
            pass: "relations",
            done,
        });
        Ok(())
    }
}

fn item_num(id: &str) -> Result<i64> {
    id.parse()
        .map_err(|_| MigrateError::Data(format!("Monday item id {id:?} is not a number")))
}

fn update_mutation(op: &ItemOperation) -> Option<Mutation> {
    let ItemOperation::Update {
        board_id,
        item_id,
        item_name,
        column_values,
        new_labels,
        ..
    } = op
    else {
        return None;
    };
    let mut values = serde_json::Map::new();
    for (k, v) in column_values {
        values.insert(k.clone(), v.clone());
    }
    if let Some(n) = item_name {
        values.insert("name".into(), Value::String(n.clone()));
    }
    Some(Mutation::ChangeColumnValues(ChangeColumnValues {
        board_id: board_id.clone(),
        item_id: item_id.clone(),
        column_values: Value::Object(values),
        create_labels_if_missing: !new_labels.is_empty(),
    }))
}

fn change_of(object: &str, p: &Planned) -> Change {
    match &p.op {
        ItemOperation::Create { column_values, .. } => Change {
            object: object.to_string(),
            sf_id: p.sf_id.clone(),
            op: "create",
            item_id: None,
            columns: column_values.keys().cloned().collect(),
        },
        ItemOperation::Update {
            item_id,
            column_values,
            item_name,
            ..
        } => {
            let mut columns: Vec<String> = column_values.keys().cloned().collect();
            if item_name.is_some() {
                columns.push("name".into());
            }
            Change {
                object: object.to_string(),
                sf_id: p.sf_id.clone(),
                op: "update",
                item_id: Some(item_id.clone()),
                columns,
            }
        }
        ItemOperation::Unchanged { item_id, .. } => Change {
            object: object.to_string(),
            sf_id: p.sf_id.clone(),
            op: "unchanged",
            item_id: Some(item_id.clone()),
            columns: Vec::new(),
        },
    }
}
