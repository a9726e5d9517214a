//! Rows for backups (`crmsync backup` / `restore`, format and S3 in `crmsync-cloud`): which tables
//! hold the sync state, their rows as JSON objects (column → value; every column is an integer or
//! text on both backends, so a row reads the same from SQLite and PostgreSQL), and upserts of such
//! rows back.
//!
//! Tables are either **incremental** (rows carry a change time: a backup holds the rows changed
//! since a watermark; restoring applies every backup of the chain in order, later rows winning)
//! or **snapshot** (small tables, and links, whose rows may also be deleted: every backup holds
//! all rows; restoring applies the latest). Leases and locks are not state worth keeping: a
//! restored event that was being processed comes back pending.

use crate::{dispatch, Result, Store, StoreError};

/// One table of the sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupTable {
    /// Table name.
    pub name: &'static str,
    /// Primary key columns (the upsert's conflict target).
    pub key: &'static [&'static str],
    /// The change-time column (ms) of an incremental table; `None` for a snapshot table.
    pub changed: Option<&'static str>,
    /// Whether `id` is an identity column (PostgreSQL: restored with `OVERRIDING SYSTEM VALUE`,
    /// and its sequence moved past the restored ids).
    pub identity: bool,
}

impl BackupTable {
    /// Whether rows are paged by `id` (a single `id` key).
    fn by_id(&self) -> bool {
        self.key == ["id"]
    }
}

/// The tables a backup holds, in restore order (referenced tables first).
pub const BACKUP_TABLES: &[BackupTable] = &[
    BackupTable {
        name: "events",
        key: &["id"],
        changed: Some("updated_at"),
        identity: true,
    },
    BackupTable {
        name: "dead_letters",
        key: &["id"],
        changed: Some("updated_at"),
        identity: true,
    },
    BackupTable {
        name: "record_links",
        key: &["id"],
        changed: None,
        identity: true,
    },
    BackupTable {
        name: "migration_plans",
        key: &["plan_hash"],
        changed: None,
        identity: false,
    },
    BackupTable {
        name: "migration_runs",
        key: &["id"],
        changed: None,
        identity: true,
    },
    BackupTable {
        name: "migration_checkpoints",
        key: &["run_id", "sf_object", "sf_id"],
        changed: Some("created_at"),
        identity: false,
    },
    BackupTable {
        name: "migration_intents",
        key: &["run_id", "sf_object", "sf_id"],
        changed: None,
        identity: false,
    },
    BackupTable {
        name: "migration_cursors",
        key: &["plan_hash", "sf_object"],
        changed: None,
        identity: false,
    },
    BackupTable {
        name: "applied_values",
        key: &["board_id", "item_id"],
        changed: Some("applied_at"),
        identity: false,
    },
    BackupTable {
        name: "sweep_cursors",
        key: &["board_id"],
        changed: None,
        identity: false,
    },
];

/// The table called `name`, if it is one of [`BACKUP_TABLES`].
pub fn backup_table(name: &str) -> Option<&'static BackupTable> {
    BACKUP_TABLES.iter().find(|t| t.name == name)
}

fn quoted(c: &str) -> String {
    format!("\"{}\"", c.replace('"', "\"\""))
}

impl Store {
    /// The table's columns, in table order.
    pub async fn table_columns(&self, table: &BackupTable) -> Result<Vec<String>> {
        const OP: &str = "table_columns";
        let cols: Vec<String> = match &self.pool {
            crate::Pool::Sqlite(p) => sqlx::query_scalar::<_, String>(
                "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            )
            .bind(table.name)
            .fetch_all(p)
            .await
            .map_err(StoreError::query(OP, table.name))?,
            crate::Pool::Postgres(p) => sqlx::query_scalar::<_, String>(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table.name)
            .fetch_all(p)
            .await
            .map_err(StoreError::query(OP, table.name))?,
        };
        if cols.is_empty() {
            return Err(StoreError::NotFound {
                op: OP,
                key: format!("table {}", table.name),
            });
        }
        Ok(cols)
    }

    /// Rows of `table` as JSON object texts, oldest key first: for an incremental table those
    /// changed after `since_ms` (all with `None`); for a table keyed by `id`, at most `limit` rows
    /// with an id above `after_id` (page on with the last id); other tables in one read.
    pub async fn export_rows(
        &self,
        table: &BackupTable,
        since_ms: Option<i64>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        const OP: &str = "export_rows";
        let mut conds = vec!["1 = 1".to_string()];
        let mut binds: Vec<i64> = Vec::new();
        if let (Some(c), Some(since)) = (table.changed, since_ms) {
            binds.push(since);
            conds.push(format!("{} > ${}", quoted(c), binds.len()));
        }
        let (page, order) = if table.by_id() {
            binds.push(after_id);
            conds.push(format!("id > ${}", binds.len()));
            binds.push(limit);
            (format!("LIMIT ${}", binds.len()), "id".to_string())
        } else {
            (
                String::new(),
                table
                    .key
                    .iter()
                    .map(|k| quoted(k))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        let filter = conds.join(" AND ");
        let inner = format!(
            "SELECT * FROM {} WHERE {filter} ORDER BY {order} {page}",
            table.name
        );
        let sql = match &self.pool {
            crate::Pool::Postgres(_) => format!("SELECT row_to_json(t)::text FROM ({inner}) t"),
            crate::Pool::Sqlite(_) => {
                let cols = self.table_columns(table).await?;
                let pairs: Vec<String> = cols
                    .iter()
                    .map(|c| format!("'{}', t.{}", c.replace('\'', "''"), quoted(c)))
                    .collect();
                format!("SELECT json_object({}) FROM ({inner}) t", pairs.join(", "))
            }
        };
        let rows: Vec<String> = dispatch!(self, p => {
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_all(p).await.map_err(StoreError::query(OP, table.name))?
        });
        Ok(rows)
    }

    /// Upserts `rows` (JSON objects as [`Store::export_rows`] gives them) into `table`, in one
    /// statement: an existing row with the same key is replaced. Returns the rows written.
    pub async fn import_rows(
        &self,
        table: &BackupTable,
        rows: &[serde_json::Value],
    ) -> Result<u64> {
        const OP: &str = "import_rows";
        if rows.is_empty() {
            return Ok(0);
        }
        let cols = self.table_columns(table).await?;
        let key: Vec<String> = table.key.iter().map(|k| quoted(k)).collect();
        let non_key: Vec<&String> = cols
            .iter()
            .filter(|c| !table.key.contains(&c.as_str()))
            .collect();
        let update = if non_key.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!(
                "DO UPDATE SET {}",
                non_key
                    .iter()
                    .map(|c| format!("{0} = excluded.{0}", quoted(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let array = serde_json::Value::Array(rows.to_vec()).to_string();
        let col_list = cols
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = match &self.pool {
            crate::Pool::Postgres(_) => format!(
                "INSERT INTO {t} ({col_list}) {ov} SELECT {col_list} FROM \
                 json_populate_recordset(NULL::{t}, $1::json) ON CONFLICT ({k}) {update}",
                t = table.name,
                ov = if table.identity {
                    "OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                },
                k = key.join(", "),
            ),
            crate::Pool::Sqlite(_) => {
                let values: Vec<String> = cols
                    .iter()
                    .map(|c| format!("json_extract(value, '$.\"{}\"')", c.replace('\'', "''")))
                    .collect();
                format!(
                    "INSERT INTO {t} ({col_list}) SELECT {v} FROM json_each($1) WHERE true \
                     ON CONFLICT ({k}) {update}",
                    t = table.name,
                    v = values.join(", "),
                    k = key.join(", "),
                )
            }
        };
        let n = dispatch!(self, p => {
            sqlx::query(&sql)
                .bind(&array)
                .execute(p)
                .await
                .map_err(StoreError::query(OP, table.name))?
                .rows_affected()
        });
        Ok(n)
    }

    /// Rows in the tables a restore refuses to overwrite (events, links, dead letters, migration
    /// runs): 0 for an empty store.
    pub async fn restore_target_rows(&self) -> Result<u64> {
        let sql = "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM record_links) \
                   + (SELECT COUNT(*) FROM dead_letters) + (SELECT COUNT(*) FROM migration_runs)";
        let n: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(p)
                .await
                .map_err(StoreError::query("restore_target_rows", "store"))?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// After a restore: events that were being processed when the backup was taken come back
    /// pending (their leases are gone), and on PostgreSQL every identity sequence moves past the
    /// restored ids.
    pub async fn finish_restore(&self) -> Result<()> {
        const OP: &str = "finish_restore";
        let release =
            "UPDATE events SET status = 'pending', lease_token = NULL, claimed_by = NULL, \
                       lease_expires_at = NULL WHERE status = 'processing'";
        dispatch!(self, p => {
            sqlx::query(release)
                .execute(p)
                .await
                .map_err(StoreError::query(OP, "events"))?;
        });
        if let crate::Pool::Postgres(p) = &self.pool {
            for t in BACKUP_TABLES.iter().filter(|t| t.identity) {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                    t.name
                );
                sqlx::query(&sql)
                    .execute(p)
                    .await
                    .map_err(StoreError::query(OP, t.name))?;
            }
        }
        Ok(())
    }
}
