//! Durable store (SQLite or PostgreSQL): event log, record links, dead letters, migration checkpoints.
//!
//! One API, two backends, chosen by the scheme of `DATABASE_URL`:
//! - `sqlite://PATH` (or `sqlite:PATH`): embedded file, created if missing, WAL journal;
//!   `sqlite::memory:` for a throwaway in-memory database (one connection, gone when the store is dropped);
//! - `postgres://…` / `postgresql://…`: a PostgreSQL server.
//!
//! Queries are runtime-checked (`sqlx::query` with binds, never the `query!` macros), so the crate builds
//! with no database running and without committed offline query data; the suite in `tests/` runs every
//! query against both backends instead. Schema migrations are embedded at compile time from
//! `migrations/sqlite` and `migrations/postgres` and applied by [`Store::migrate`].
//!
//! Timestamps are stored as Unix epoch milliseconds (`BIGINT`) on both backends and exposed as
//! `chrono::DateTime<Utc>`.
//!
//! ## Database time
//! Every instant the event log, leases, pauses, alert windows, attempts and rejected deliveries compare
//! or store is taken from the **database's clock** (PostgreSQL: `crmsync_now_ms()`, i.e.
//! `statement_timestamp()`; SQLite: `strftime('%s'/'%f', 'now')`), never from the clock of the process
//! that calls the store, so processes whose clocks disagree still agree on who holds a lease. Durations
//! (lease length, retry delay, pause length, alert window) are passed as [`Duration`]s and added to the
//! database's "now" in SQL; answers that a process acts on by waiting come back as durations relative to
//! the database's now too ([`Store::next_due_in`], [`Store::check_fence`], [`Pause::remaining`]).
//! [`Store::db_now`] reads the clock. (Links and migration runs keep the process clock: they are
//! informational.)
//!
//! ## Per-item serialization
//! Events of one Monday item are applied one at a time and in order of receipt. A worker claims an event
//! with [`Store::claim_next`] or [`Store::claim_for_item`]; the claim takes a lease on the *item* (a row in
//! `item_locks`, acquired with an `INSERT … ON CONFLICT DO UPDATE … WHERE lease expired`, inside a write
//! transaction: `BEGIN IMMEDIATE` on SQLite, row locks on PostgreSQL), so across processes at most one
//! unexpired lease exists per item. Only the oldest open event of the item is handed out, and only once
//! it is due. `claim_next` finds due items in `queue_heads` (migration 0009: one row per item with open
//! events, its head and when that head is claimable, kept in step by triggers on `events`; on
//! PostgreSQL every writer of a queue takes its advisory lock `crmsync_queue_key` first). A worker settles its claim with `mark_done` / `mark_skipped` / `mark_failed` / `mark_dead`,
//! which release the item; a claim whose lease expired and was taken over is rejected with
//! [`StoreError::LeaseLost`] (the token is a fencing token).
//!
//! ## Leases and fencing
//! A worker that holds a claim renews it ([`Store::renew_lease`], a heartbeat) while it works, and calls
//! [`Store::check_fence`] right before each external write: it fails with [`StoreError::LeaseLost`]
//! unless the claim still holds the item *and* its lease has not expired on the database clock, and
//! otherwise returns how long the lease still runs, so the caller can bound the write by it. Renewing
//! or settling an expired lease that nobody took over is allowed (nobody else can have touched the
//! item); once another worker has claimed the item, every call with the old claim is `LeaseLost`.
//!
//! ## Events without an item id
//! A delivery without an item id is stored with `item_id` = −(its event id): a queue of its own, so
//! such events neither wait for each other nor share one "item 0" lease ([`Event::monday_item_id`]
//! is `None` for them). Pass `item_id` 0 in [`NewEvent`] for such a delivery.

pub mod backup;
mod dead_letters;
mod error;
mod events;
mod history;
mod links;
mod lookup;
mod migration;
mod migration_state;
mod reconcile;
mod shared;
mod status;
mod types;

use crmsync_redact::mask_url;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

pub use error::{Result, StoreError};
pub use history::{ATTEMPT_ERROR_CAP, REJECTED_BODY_CAP};
pub use lookup::{BoardCounts, EventTiming, ItemHit};
pub use migration_state::{DeltaCursor, OpenIntent};
pub use reconcile::{
    values_hash, AppliedValues, DriftReportRow, SweepCounts, SweepId, SweepRun, SweepTrigger,
};
pub use types::*;

/// A pooled PostgreSQL connection idle for this long is pinged before it is handed out (a broken
/// one is replaced); a busier one was tested when it was last released.
const PG_PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Tuning for [`Store::connect_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum time to establish the first connection. An unreachable server fails after this, instead of
    /// hanging. Default 5 s.
    pub connect_timeout: Duration,
    /// Maximum time to wait for a free pooled connection under load. Default 30 s.
    pub acquire_timeout: Duration,
    /// Pool size. Default 10.
    pub max_connections: u32,
    /// How long SQLite waits for the write lock before giving up. Default 30 s.
    pub sqlite_busy_timeout: Duration,
    /// Cache prepared statements per PostgreSQL connection (sqlx's named statements). Default
    /// `true`; the Lambda turns it off, because RDS Proxy pins a client that prepares named
    /// statements to one database connection. Off, every query is an unnamed statement.
    pub pg_statement_cache: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
            max_connections: 10,
            sqlite_busy_timeout: Duration::from_secs(30),
            pg_statement_cache: true,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle to the database: a connection pool. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    masked_url: String,
}

/// Runs `$body` with `$p` bound to the concrete pool of either backend. The body is compiled once per
/// backend, so the same runtime-checked SQL and the same decoding code serve both.
macro_rules! dispatch {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use dispatch;

/// Opening a write transaction, per backend: SQLite takes the database write lock up front
/// (`BEGIN IMMEDIATE`), so a transaction that reads then writes never fails to upgrade its lock.
///
/// **Cancel-safe.** sqlx 0.8's `begin` is not: a future dropped while the `BEGIN` round trip is in
/// flight (a heartbeat task aborted when its attempt ends, an event deadline, a request whose
/// client went away) returns the connection to the pool still inside that transaction, with
/// nothing to end it (transact-rs/sqlx#4393). Every later statement on the connection — a webhook
/// receipt that is then acknowledged — runs inside it, invisible to other processes, and is lost
/// when the process dies. So the `BEGIN` runs in a task of its own that always finishes: when the
/// caller is gone, the finished transaction is dropped there and sqlx rolls it back as usual.
/// Every transaction of the store is opened here.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

/// Runs `begin` to completion whatever happens to the caller (see [`BeginWrite`]).
async fn begin_detached<DB: sqlx::Database>(
    begin: impl std::future::Future<
            Output = std::result::Result<sqlx::Transaction<'static, DB>, sqlx::Error>,
        > + Send
        + 'static,
) -> std::result::Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    match tokio::spawn(begin).await {
        Ok(r) => r,
        Err(e) => Err(sqlx::Error::Io(std::io::Error::other(format!(
            "the task opening a transaction failed: {e}"
        )))),
    }
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        let pool = self.clone();
        begin_detached(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(
        &self,
    ) -> std::result::Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let pool = self.clone();
        begin_detached(async move { pool.begin().await }).await
    }
}

impl Store {
    /// Connects with default [`StoreOptions`]. Does not apply migrations; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`). A SQLite file is created if missing and put in
    /// WAL mode. Fails within `options.connect_timeout` when a server does not answer; errors show the URL
    /// with its password masked.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store> {
        let masked_url = mask_url(url);
        match backend_of(url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StoreError::InvalidUrl {
                        url: masked_url.clone(),
                        reason: e.to_string(),
                    })?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(options.sqlite_busy_timeout)
                    .disable_statement_logging();
                // An in-memory database lives only as long as a connection to it: keep exactly one.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool_options = if in_memory {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    SqlitePoolOptions::new().max_connections(options.max_connections.max(1))
                };
                let pool = pool_options
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|source| StoreError::Connect {
                        url: masked_url.clone(),
                        source,
                    })?;
                Ok(Store {
                    pool: Pool::Sqlite(pool),
                    masked_url,
                })
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::InvalidUrl {
                        url: masked_url.clone(),
                        reason: e.to_string(),
                    })?
                    .disable_statement_logging()
                    .statement_cache_capacity(if options.pg_statement_cache { 100 } else { 0 });
                // One direct attempt first: the pool retries refused connections until its acquire
                // timeout and then reports only "timed out"; this surfaces the real cause quickly.
                match tokio::time::timeout(
                    options.connect_timeout,
                    PgConnection::connect_with(&opts),
                )
                .await
                {
                    Err(_) => {
                        return Err(StoreError::ConnectTimeout {
                            url: masked_url,
                            timeout: options.connect_timeout,
                        })
                    }
                    Ok(Err(source)) => {
                        return Err(StoreError::Connect {
                            url: masked_url,
                            source,
                        })
                    }
                    Ok(Ok(conn)) => {
                        // Closing is a courtesy; a failure here changes nothing.
                        let _ = conn.close().await;
                    }
                }
                // sqlx pings a connection on every release (a round trip, off the caller's
                // path) and, by default, again on every checkout (a round trip before every
                // statement: a tenth of the webhook path's CPU and a round trip per store call,
                // measured in issue #16). The checkout ping is kept only for connections that sat
                // idle (a server restarted meanwhile); one just released was tested then.
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PG_PING_IF_IDLE_FOR {
                                use sqlx::Connection;
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_lazy_with(opts);
                Ok(Store {
                    pool: Pool::Postgres(pool),
                    masked_url,
                })
            }
        }
    }

    /// Applies the embedded schema migrations for this backend (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        let res = match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
            Pool::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
        };
        res.map_err(|source| StoreError::Migrate {
            url: self.masked_url.clone(),
            source,
        })
    }

    /// Round-trips a trivial query (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, p => {
            sqlx::query("SELECT 1")
                .execute(p)
                .await
                .map_err(StoreError::query("ping", &self.masked_url))?;
        });
        Ok(())
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database URL with its password masked, for logs.
    pub fn masked_url(&self) -> &str {
        &self.masked_url
    }

    /// Closes every pooled connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        dispatch!(self, p => p.close().await)
    }
}

/// The backend a `DATABASE_URL` selects, or [`StoreError::InvalidUrl`].
pub fn backend_of(url: &str) -> Result<Backend> {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::InvalidUrl {
            url: mask_url(url),
            reason: "unknown scheme".to_owned(),
        })
    }
}

/// SQLite's clock in epoch milliseconds (one value per statement step).
const SQLITE_NOW_MS: &str = "(CAST(strftime('%s','now') AS INTEGER) * 1000 \
     + CAST(substr(strftime('%f','now'), 4) AS INTEGER))";

/// PostgreSQL's clock in epoch milliseconds (a function created by the migrations).
const POSTGRES_NOW_MS: &str = "crmsync_now_ms()";

impl Store {
    /// SQL expression for the database's "now" in epoch milliseconds, for this backend.
    pub(crate) fn now_sql(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => SQLITE_NOW_MS,
            Pool::Postgres(_) => POSTGRES_NOW_MS,
        }
    }

    /// The database's current time (millisecond precision): the clock every lease, due time, pause
    /// and alert window is measured against.
    pub async fn db_now(&self) -> Result<DateTime<Utc>> {
        let sql = format!("SELECT {}", self.now_sql());
        let ms: i64 = dispatch!(self, p => {
            sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(p)
                .await
                .map_err(StoreError::query("db_now", &self.masked_url))?
        });
        from_ms(ms)
    }
}

/// Milliseconds (possibly negative) as a non-negative [`Duration`].
pub(crate) fn ms_duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        what: "timestamp",
        value: ms.to_string(),
    })
}

pub(crate) fn opt_from_ms(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(from_ms).transpose()
}

pub(crate) fn duration_ms(op: &'static str, field: &'static str, d: Duration) -> Result<i64> {
    i64::try_from(d.as_millis()).map_err(|_| StoreError::InvalidInput {
        op,
        field,
        reason: format!("{d:?} is too long"),
    })
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn to_i64(op: &'static str, field: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::InvalidInput {
        op,
        field,
        reason: format!("{v} is too large"),
    })
}

pub(crate) fn no_nul(op: &'static str, field: &'static str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(StoreError::InvalidInput {
            op,
            field,
            reason: "contains a NUL character, which PostgreSQL text cannot store".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_scheme() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("postgresql://h/db").unwrap(), Backend::Postgres);
        let err = backend_of("mysql://u:hunter2@h/db").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("mysql://u:***@h/db"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn status_strings_round_trip() {
        for s in EventStatus::ALL {
            assert_eq!(s.as_str().parse::<EventStatus>().unwrap(), *s);
        }
        assert!(matches!(
            "bogus".parse::<EventStatus>(),
            Err(StoreError::Corrupt { .. })
        ));
        for s in RunOutcome::ALL {
            assert_eq!(s.as_str().parse::<RunOutcome>().unwrap(), *s);
        }
        for s in AttemptOutcome::ALL {
            assert_eq!(s.as_str().parse::<AttemptOutcome>().unwrap(), *s);
        }
        for s in RejectReason::ALL {
            assert_eq!(s.as_str().parse::<RejectReason>().unwrap(), *s);
        }
    }
}
