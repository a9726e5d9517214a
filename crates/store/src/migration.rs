//! Migration runs and checkpoints.

use crate::error::{Result, StoreError};
use crate::{
    dispatch, from_ms, no_nul, now_ms, opt_from_ms, to_i64, to_u64, Checkpoint, CheckpointOutcome,
    MigrationRun, MigrationStage, RunCounts, RunId, RunOutcome, Store,
};

pub(crate) const RUN_COLS: &str =
    "id, stage, plan_hash, outcome, started_at, finished_at, records_read, \
     items_created, items_updated, records_skipped, records_failed";

#[derive(sqlx::FromRow)]
pub(crate) struct RawRun {
    id: i64,
    stage: String,
    plan_hash: String,
    outcome: String,
    started_at: i64,
    finished_at: Option<i64>,
    records_read: i64,
    items_created: i64,
    items_updated: i64,
    records_skipped: i64,
    records_failed: i64,
}

impl RawRun {
    pub(crate) fn into_run(self) -> Result<MigrationRun> {
        Ok(MigrationRun {
            id: RunId(self.id),
            stage: self.stage.parse()?,
            plan_hash: self.plan_hash,
            outcome: self.outcome.parse()?,
            started_at: from_ms(self.started_at)?,
            finished_at: opt_from_ms(self.finished_at)?,
            counts: RunCounts {
                records_read: to_u64(self.records_read),
                items_created: to_u64(self.items_created),
                items_updated: to_u64(self.items_updated),
                records_skipped: to_u64(self.records_skipped),
                records_failed: to_u64(self.records_failed),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawCheckpoint {
    run_id: i64,
    sf_object: String,
    sf_id: String,
    monday_item_id: i64,
    created_at: i64,
}

fn run_key(id: RunId) -> String {
    format!("migration run {id}")
}

struct CountBinds([i64; 5]);

impl CountBinds {
    fn new(op: &'static str, c: &RunCounts) -> Result<CountBinds> {
        Ok(CountBinds([
            to_i64(op, "records_read", c.records_read)?,
            to_i64(op, "items_created", c.items_created)?,
            to_i64(op, "items_updated", c.items_updated)?,
            to_i64(op, "records_skipped", c.records_skipped)?,
            to_i64(op, "records_failed", c.records_failed)?,
        ]))
    }
}

impl Store {
    /// Records the start of a migration run (outcome `running`).
    pub async fn start_run(&self, stage: MigrationStage, plan_hash: &str) -> Result<RunId> {
        no_nul("start_run", "plan_hash", plan_hash)?;
        let id: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO migration_runs (stage, plan_hash, outcome, started_at) \
                 VALUES ($1, $2, 'running', $3) RETURNING id",
            )
            .bind(stage.as_str())
            .bind(plan_hash)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(StoreError::query("start_run", format!("{stage} plan {plan_hash}")))?
        });
        Ok(RunId(id))
    }

    /// Saves progress counters of a running run.
    pub async fn update_run_counts(&self, id: RunId, counts: &RunCounts) -> Result<()> {
        const OP: &str = "update_run_counts";
        let c = CountBinds::new(OP, counts)?;
        let n = dispatch!(self, p => {
            sqlx::query(
                "UPDATE migration_runs SET records_read = $2, items_created = $3, items_updated = $4, \
                     records_skipped = $5, records_failed = $6 \
                 WHERE id = $1 AND outcome = 'running'",
            )
            .bind(id.0)
            .bind(c.0[0]).bind(c.0[1]).bind(c.0[2]).bind(c.0[3]).bind(c.0[4])
            .execute(p)
            .await
            .map_err(StoreError::query(OP, run_key(id)))?
            .rows_affected()
        });
        if n == 1 {
            Ok(())
        } else {
            Err(self.run_not_running(OP, id).await)
        }
    }

    /// Finishes a running run with `outcome` (not `Running`) and final counters.
    pub async fn finish_run(
        &self,
        id: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
    ) -> Result<()> {
        const OP: &str = "finish_run";
        if outcome == RunOutcome::Running {
            return Err(StoreError::InvalidInput {
                op: OP,
                field: "outcome",
                reason: "a run cannot finish as running".to_owned(),
            });
        }
        let c = CountBinds::new(OP, counts)?;
        let n = dispatch!(self, p => {
            sqlx::query(
                "UPDATE migration_runs SET outcome = $2, finished_at = $3, records_read = $4, \
                     items_created = $5, items_updated = $6, records_skipped = $7, records_failed = $8 \
                 WHERE id = $1 AND outcome = 'running'",
            )
            .bind(id.0)
            .bind(outcome.as_str())
            .bind(now_ms())
            .bind(c.0[0]).bind(c.0[1]).bind(c.0[2]).bind(c.0[3]).bind(c.0[4])
            .execute(p)
            .await
            .map_err(StoreError::query(OP, run_key(id)))?
            .rows_affected()
        });
        if n == 1 {
            Ok(())
        } else {
            Err(self.run_not_running(OP, id).await)
        }
    }

    async fn run_not_running(&self, op: &'static str, id: RunId) -> StoreError {
        match self.get_run(id).await {
            Err(e) => e,
            Ok(None) => StoreError::NotFound {
                op,
                key: run_key(id),
            },
            Ok(Some(run)) => StoreError::InvalidState {
                op,
                key: run_key(id),
                reason: format!("run already finished as {}", run.outcome),
            },
        }
    }

    /// One run by id.
    pub async fn get_run(&self, id: RunId) -> Result<Option<MigrationRun>> {
        let sql = format!("SELECT {RUN_COLS} FROM migration_runs WHERE id = $1");
        let raw: Option<RawRun> = dispatch!(self, p => {
            sqlx::query_as::<_, RawRun>(&sql)
                .bind(id.0)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("get_run", run_key(id)))?
        });
        raw.map(RawRun::into_run).transpose()
    }

    /// The most recent run of `stage` with this plan hash that `passed` (a production run requires a
    /// passed rehearsal of the same plan).
    pub async fn latest_passed_run(
        &self,
        stage: MigrationStage,
        plan_hash: &str,
    ) -> Result<Option<MigrationRun>> {
        self.latest_run_with("latest_passed_run", stage, plan_hash, RunOutcome::Passed)
            .await
    }

    /// The most recent run of `stage` with this plan hash that never finished (to `--resume` it).
    pub async fn latest_unfinished_run(
        &self,
        stage: MigrationStage,
        plan_hash: &str,
    ) -> Result<Option<MigrationRun>> {
        self.latest_run_with(
            "latest_unfinished_run",
            stage,
            plan_hash,
            RunOutcome::Running,
        )
        .await
    }

    async fn latest_run_with(
        &self,
        op: &'static str,
        stage: MigrationStage,
        plan_hash: &str,
        outcome: RunOutcome,
    ) -> Result<Option<MigrationRun>> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM migration_runs WHERE stage = $1 AND plan_hash = $2 AND outcome = $3 \
             ORDER BY id DESC LIMIT 1"
        );
        let raw: Option<RawRun> = dispatch!(self, p => {
            sqlx::query_as::<_, RawRun>(&sql)
                .bind(stage.as_str())
                .bind(plan_hash)
                .bind(outcome.as_str())
                .fetch_optional(p)
                .await
                .map_err(StoreError::query(op, format!("{stage} plan {plan_hash}")))?
        });
        raw.map(RawRun::into_run).transpose()
    }

    /// Records that, in run `run_id`, Salesforce record `sf_object`/`sf_id` became (or matched) Monday
    /// item `monday_item_id`. Idempotent; the same record with a different item is a
    /// [`StoreError::CheckpointConflict`].
    pub async fn checkpoint(
        &self,
        run_id: RunId,
        sf_object: &str,
        sf_id: &str,
        monday_item_id: i64,
    ) -> Result<CheckpointOutcome> {
        const OP: &str = "checkpoint";
        no_nul(OP, "sf_object", sf_object)?;
        no_nul(OP, "sf_id", sf_id)?;
        let key = format!("{} {sf_object} {sf_id}", run_key(run_id));
        let inserted = dispatch!(self, p => {
            sqlx::query(
                "INSERT INTO migration_checkpoints (run_id, sf_object, sf_id, monday_item_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, sf_object, sf_id) DO NOTHING",
            )
            .bind(run_id.0)
            .bind(sf_object)
            .bind(sf_id)
            .bind(monday_item_id)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(StoreError::query(OP, &key))?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(CheckpointOutcome::Recorded);
        }
        match self.find_checkpoint(run_id, sf_object, sf_id).await? {
            Some(existing) if existing == monday_item_id => Ok(CheckpointOutcome::AlreadyRecorded),
            Some(existing) => Err(StoreError::CheckpointConflict {
                run_id,
                sf_object: sf_object.to_owned(),
                sf_id: sf_id.to_owned(),
                existing_item_id: existing,
                requested_item_id: monday_item_id,
            }),
            None => Err(StoreError::NotFound { op: OP, key }),
        }
    }

    /// The Monday item checkpointed for a Salesforce record in a run, if any.
    pub async fn find_checkpoint(
        &self,
        run_id: RunId,
        sf_object: &str,
        sf_id: &str,
    ) -> Result<Option<i64>> {
        let item: Option<i64> = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(
                "SELECT monday_item_id FROM migration_checkpoints \
                 WHERE run_id = $1 AND sf_object = $2 AND sf_id = $3",
            )
            .bind(run_id.0)
            .bind(sf_object)
            .bind(sf_id)
            .fetch_optional(p)
            .await
            .map_err(StoreError::query(
                "find_checkpoint",
                format!("{} {sf_object} {sf_id}", run_key(run_id)),
            ))?
        });
        Ok(item)
    }

    /// All checkpoints of one object in a run, ordered by Salesforce Id.
    pub async fn checkpoints_for(&self, run_id: RunId, sf_object: &str) -> Result<Vec<Checkpoint>> {
        let raws: Vec<RawCheckpoint> = dispatch!(self, p => {
            sqlx::query_as::<_, RawCheckpoint>(
                "SELECT run_id, sf_object, sf_id, monday_item_id, created_at FROM migration_checkpoints \
                 WHERE run_id = $1 AND sf_object = $2 ORDER BY sf_id",
            )
            .bind(run_id.0)
            .bind(sf_object)
            .fetch_all(p)
            .await
            .map_err(StoreError::query(
                "checkpoints_for",
                format!("{} {sf_object}", run_key(run_id)),
            ))?
        });
        raws.into_iter()
            .map(|r| {
                Ok(Checkpoint {
                    run_id: RunId(r.run_id),
                    sf_object: r.sf_object,
                    sf_id: r.sf_id,
                    monday_item_id: r.monday_item_id,
                    created_at: from_ms(r.created_at)?,
                })
            })
            .collect()
    }
}
