//! Migration state beyond runs and checkpoints: stored plans, create intents and delta cursors
//! (schema migration 0004).

use crate::error::{Result, StoreError};
use crate::{dispatch, no_nul, now_ms, BeginWrite, RunId, Store};

/// A create whose outcome is unknown: its intent was recorded, no checkpoint followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntent {
    /// The run that recorded it.
    pub run_id: RunId,
    /// Salesforce object.
    pub sf_object: String,
    /// Salesforce record Id.
    pub sf_id: String,
    /// Target board.
    pub board_id: i64,
}

/// The delta cursor of one object: the last record `(SystemModstamp, Id)` a successful run read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaCursor {
    /// `SystemModstamp` as Salesforce writes it.
    pub modstamp: String,
    /// The record Id (the tie-breaker within one `SystemModstamp`).
    pub last_id: String,
}

#[derive(sqlx::FromRow)]
struct RawIntent {
    run_id: i64,
    sf_object: String,
    sf_id: String,
    board_id: i64,
}

impl Store {
    /// Stores a plan (JSON) under its hash; storing the same hash again replaces it.
    pub async fn save_plan(&self, plan_hash: &str, plan_json: &str) -> Result<()> {
        const OP: &str = "save_plan";
        no_nul(OP, "plan_hash", plan_hash)?;
        no_nul(OP, "plan_json", plan_json)?;
        dispatch!(self, p => {
            sqlx::query(
                "INSERT INTO migration_plans (plan_hash, plan_json, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (plan_hash) DO UPDATE SET plan_json = excluded.plan_json, created_at = excluded.created_at",
            )
            .bind(plan_hash)
            .bind(plan_json)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(StoreError::query(OP, format!("plan {plan_hash}")))?;
        });
        Ok(())
    }

    /// The plan stored under `plan_hash`, if any.
    pub async fn get_plan(&self, plan_hash: &str) -> Result<Option<String>> {
        let v: Option<String> = dispatch!(self, p => {
            sqlx::query_scalar::<_, String>("SELECT plan_json FROM migration_plans WHERE plan_hash = $1")
                .bind(plan_hash)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("get_plan", format!("plan {plan_hash}")))?
        });
        Ok(v)
    }

    /// Records the intent to create items for these records in run `run_id` (before the batch is
    /// sent). Idempotent.
    pub async fn record_intents(
        &self,
        run_id: RunId,
        sf_object: &str,
        board_id: i64,
        sf_ids: &[String],
    ) -> Result<()> {
        const OP: &str = "record_intents";
        no_nul(OP, "sf_object", sf_object)?;
        for id in sf_ids {
            no_nul(OP, "sf_id", id)?;
        }
        let key = format!("migration run {run_id} {sf_object}");
        let now = now_ms();
        dispatch!(self, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(OP, &key))?;
            for id in sf_ids {
                sqlx::query(
                    "INSERT INTO migration_intents (run_id, sf_object, sf_id, board_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, sf_object, sf_id) DO NOTHING",
                )
                .bind(run_id.0)
                .bind(sf_object)
                .bind(id)
                .bind(board_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP, &key))?;
            }
            tx.commit().await.map_err(StoreError::query(OP, &key))?;
        });
        Ok(())
    }

    /// Intents of runs with this plan hash that no checkpoint of the same run answers.
    pub async fn open_intents(&self, plan_hash: &str) -> Result<Vec<OpenIntent>> {
        let raws: Vec<RawIntent> = dispatch!(self, p => {
            sqlx::query_as::<_, RawIntent>(
                "SELECT i.run_id, i.sf_object, i.sf_id, i.board_id FROM migration_intents i \
                 JOIN migration_runs r ON r.id = i.run_id \
                 LEFT JOIN migration_checkpoints c \
                   ON c.run_id = i.run_id AND c.sf_object = i.sf_object AND c.sf_id = i.sf_id \
                 WHERE r.plan_hash = $1 AND c.sf_id IS NULL ORDER BY i.run_id, i.sf_object, i.sf_id",
            )
            .bind(plan_hash)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("open_intents", format!("plan {plan_hash}")))?
        });
        Ok(raws
            .into_iter()
            .map(|r| OpenIntent {
                run_id: RunId(r.run_id),
                sf_object: r.sf_object,
                sf_id: r.sf_id,
                board_id: r.board_id,
            })
            .collect())
    }

    /// Removes an intent once it is reconciled (the record has no item: nothing was created).
    pub async fn drop_intent(&self, run_id: RunId, sf_object: &str, sf_id: &str) -> Result<()> {
        dispatch!(self, p => {
            sqlx::query("DELETE FROM migration_intents WHERE run_id = $1 AND sf_object = $2 AND sf_id = $3")
                .bind(run_id.0)
                .bind(sf_object)
                .bind(sf_id)
                .execute(p)
                .await
                .map_err(StoreError::query("drop_intent", format!("migration run {run_id} {sf_object} {sf_id}")))?;
        });
        Ok(())
    }

    /// The delta cursor of `sf_object` under this plan hash.
    pub async fn delta_cursor(
        &self,
        plan_hash: &str,
        sf_object: &str,
    ) -> Result<Option<DeltaCursor>> {
        let row: Option<(String, String)> = dispatch!(self, p => {
            sqlx::query_as::<_, (String, String)>(
                "SELECT modstamp, last_id FROM migration_cursors WHERE plan_hash = $1 AND sf_object = $2",
            )
            .bind(plan_hash)
            .bind(sf_object)
            .fetch_optional(p)
            .await
            .map_err(StoreError::query("delta_cursor", format!("plan {plan_hash} {sf_object}")))?
        });
        Ok(row.map(|(modstamp, last_id)| DeltaCursor { modstamp, last_id }))
    }

    /// Saves the delta cursor of `sf_object` (call only when the run succeeded).
    pub async fn save_delta_cursor(
        &self,
        plan_hash: &str,
        sf_object: &str,
        cursor: &DeltaCursor,
    ) -> Result<()> {
        const OP: &str = "save_delta_cursor";
        no_nul(OP, "plan_hash", plan_hash)?;
        no_nul(OP, "modstamp", &cursor.modstamp)?;
        no_nul(OP, "last_id", &cursor.last_id)?;
        dispatch!(self, p => {
            sqlx::query(
                "INSERT INTO migration_cursors (plan_hash, sf_object, modstamp, last_id, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_hash, sf_object) DO UPDATE SET \
                 modstamp = excluded.modstamp, last_id = excluded.last_id, updated_at = excluded.updated_at",
            )
            .bind(plan_hash)
            .bind(sf_object)
            .bind(&cursor.modstamp)
            .bind(&cursor.last_id)
            .bind(now_ms())
            .execute(p)
            .await
            .map_err(StoreError::query(OP, format!("plan {plan_hash} {sf_object}")))?;
        });
        Ok(())
    }
}
