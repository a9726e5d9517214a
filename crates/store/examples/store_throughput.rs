//! Throughput of the event-log hot path (receive → claim → settle) next to a bare sqlx baseline
//! doing the same kind of commits on the same database, in the same run.
//!
//! `cargo run --release -p crmsync-store --example store_throughput -- DATABASE_URL [EVENTS] [WORKERS] [--json] [--fresh-db]`
//!
//! Use a throwaway database: the example applies the migrations, writes events into it and creates
//! (then drops) a table `crmsync_bench_baseline`. With `--fresh-db` (PostgreSQL) it creates a new
//! database on that server for the run and drops it afterwards, so runs never see each other's rows.
//!
//! Both sides run two phases with `WORKERS` concurrent tasks: first `EVENTS` receipts (store:
//! `insert_event_if_new`; baseline: one `INSERT` commit), then `EVENTS` settlements (store:
//! `claim_next` + `mark_done`, two commits; baseline: one `UPDATE` commit of the row) — the pgbench
//! script of the issue (an insert and an update) as plain sqlx. The ratio is store events/s over
//! baseline events/s for both phases together. Absolute figures depend on the machine and its load;
//! the ratio is what to compare.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crmsync_store::{Backend, NewEvent, Store};
use std::str::FromStr;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Executor;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut json = false;
    let mut fresh = false;
    let mut positional = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--json" => json = true,
            "--fresh-db" => fresh = true,
            _ => positional.push(a),
        }
    }
    let mut args = positional.into_iter();
    let url = args
        .next()
        .ok_or("usage: store_throughput DATABASE_URL [EVENTS] [WORKERS] [--json] [--fresh-db]")?;
    let fresh_db = match fresh && url.starts_with("postgres") {
        true => Some(FreshDb::create(&url).await?),
        false => None,
    };
    let url = fresh_db.as_ref().map(|d| d.url.clone()).unwrap_or(url);
    let events: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let workers: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(4)
        .max(1);

    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let backend = store.backend();
    let (store_insert, store_settle) = run_store(&store, events, workers).await?;
    store.close().await;
    let (base_insert, base_update) = run_baseline(&url, backend, events, workers).await?;
    if let Some(db) = fresh_db {
        db.drop().await?;
    }

    let rate = |secs: f64| events as f64 / secs;
    let store_total = rate(store_insert + store_settle);
    let base_total = rate(base_insert + base_update);
    let ratio = store_total / base_total;
    if json {
        println!(
            "{{\"backend\":\"{backend}\",\"events\":{events},\"workers\":{workers},\
             \"store_insert_per_s\":{:.1},\"store_claim_settle_per_s\":{:.1},\"store_per_s\":{store_total:.1},\
             \"baseline_insert_per_s\":{:.1},\"baseline_update_per_s\":{:.1},\"baseline_per_s\":{base_total:.1},\
             \"ratio\":{ratio:.3}}}",
            rate(store_insert),
            rate(store_settle),
            rate(base_insert),
            rate(base_update),
        );
    } else {
        println!(
            "{events} events, {workers} workers, {backend}: store insert {:.0}/s, claim+settle {:.0}/s, \
             receive+claim+settle {store_total:.0}/s; baseline insert {:.0}/s, update {:.0}/s, both {base_total:.0}/s; \
             ratio {ratio:.3}",
            rate(store_insert),
            rate(store_settle),
            rate(base_insert),
            rate(base_update),
        );
    }
    Ok(())
}

/// A database of its own on the server of the given URL, for one run.
struct FreshDb {
    admin: String,
    name: String,
    url: String,
}

impl FreshDb {
    async fn create(admin: &str) -> Result<FreshDb, BoxError> {
        use sqlx::Connection;
        let name = format!("crmsync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin).await?;
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await?;
        conn.close().await?;
        let mut u = url::Url::parse(admin)?;
        u.set_path(&format!("/{name}"));
        Ok(FreshDb {
            admin: admin.to_owned(),
            name,
            url: u.to_string(),
        })
    }

    async fn drop(self) -> Result<(), BoxError> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
        conn.execute(format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name).as_str())
            .await?;
        conn.close().await?;
        Ok(())
    }
}

/// Runs `f(i)` for i in 0..n on `workers` tasks; returns the wall time in seconds.
async fn parallel<F, Fut>(n: usize, workers: usize, f: F) -> Result<f64, BoxError>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let next = next.clone();
            let f = f.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<(), BoxError>(());
                    }
                    f(i).await?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The store: receipts, then claims settled as done. Returns (insert secs, claim+settle secs).
async fn run_store(store: &Store, events: usize, workers: usize) -> Result<(f64, f64), BoxError> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let s = store.clone();
    let insert = parallel(events, workers, move |i| {
        let s = s.clone();
        let run = run.clone();
        async move {
            s.insert_event_if_new(&NewEvent {
                trigger_uuid: format!("{run}-{i}"),
                board_id: 1,
                item_id: (i % 50) as i64 + 1,
                event_type: "update_column_value".into(),
                payload: format!("{{\"event\":{{\"n\":{i}}}}}"),
            })
            .await?;
            Ok(())
        }
    })
    .await?;

    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let name = format!("bench-{w}");
                while done.load(Ordering::Relaxed) < events {
                    match store.claim_next(&name, Duration::from_secs(30)).await? {
                        Some(c) => {
                            store.mark_done(&c.claim).await?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        None => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
                Ok::<(), BoxError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok((insert, start.elapsed().as_secs_f64()))
}

/// The bare baseline on the same database: one INSERT commit per event, then one UPDATE commit of
/// each row, with plain sqlx and a pool of the store's default size and connection settings (SQLite:
/// WAL, `synchronous = NORMAL`). Returns (insert secs, update secs).
async fn run_baseline(
    url: &str,
    backend: Backend,
    events: usize,
    workers: usize,
) -> Result<(f64, f64), BoxError> {
    // The same statements on either backend's concrete pool.
    macro_rules! baseline {
        ($pool:expr, $id_col:expr) => {{
            let pool = $pool;
            pool.execute("DROP TABLE IF EXISTS crmsync_bench_baseline").await?;
            pool.execute(
                format!(
                    "CREATE TABLE crmsync_bench_baseline ({}, status TEXT NOT NULL, payload TEXT NOT NULL)",
                    $id_col
                )
                .as_str(),
            )
            .await?;
            let p = pool.clone();
            let insert = parallel(events, workers, move |i| {
                let p = p.clone();
                async move {
                    sqlx::query(
                        "INSERT INTO crmsync_bench_baseline (id, status, payload) VALUES ($1, 'pending', $2)",
                    )
                    .bind(i as i64)
                    .bind(format!("{{\"event\":{{\"n\":{i}}}}}"))
                    .execute(&p)
                    .await?;
                    Ok(())
                }
            })
            .await?;
            let p = pool.clone();
            let update = parallel(events, workers, move |i| {
                let p = p.clone();
                async move {
                    sqlx::query("UPDATE crmsync_bench_baseline SET status = 'done' WHERE id = $1")
                        .bind(i as i64)
                        .execute(&p)
                        .await?;
                    Ok(())
                }
            })
            .await?;
            pool.execute("DROP TABLE crmsync_bench_baseline").await?;
            pool.close().await;
            Ok((insert, update))
        }};
    }
    match backend {
        Backend::Sqlite => {
            let opts = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(10)
                .connect_with(opts)
                .await?;
            baseline!(pool, "id INTEGER PRIMARY KEY")
        }
        Backend::Postgres => {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await?;
            baseline!(pool, "id BIGINT PRIMARY KEY")
        }
    }
}
