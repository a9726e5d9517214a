//! Test databases for the store suite: a SQLite file in a temp dir, or a fresh PostgreSQL database
//! created from `DATABASE_URL` (dropped again afterwards, also when the test panics).

use crmsync_store::{Backend, Store};

pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, db_name: String },
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let db = TestDb::new_unmigrated(backend).await;
        db.store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        db
    }

    /// A fresh empty database without the schema (for migration tests).
    pub async fn new_unmigrated(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("store.db").display());
                let store = connect(&url).await;
                TestDb {
                    store,
                    url,
                    backend,
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let db_name = format!("crmsync_store_test_{}", uuid::Uuid::new_v4().simple());
                admin_exec(
                    &admin_url,
                    &format!("CREATE DATABASE \"{db_name}\" TEMPLATE template0 ENCODING 'UTF8'"),
                )
                .await;
                let mut url = url::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
                url.set_path(&format!("/{db_name}"));
                let url = url.to_string();
                let store = connect(&url).await;
                TestDb {
                    store,
                    url,
                    backend,
                    cleanup: Cleanup::Postgres { admin_url, db_name },
                }
            }
        }
    }

    /// Runs raw SQL (one or more statements) on the test database through a connection of its own.
    pub async fn raw_exec(&self, sql: &str) {
        use sqlx::{Connection, Executor};
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                conn.execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                conn.execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
        }
    }

    /// A second, independent pool on the same database (stands in for another process).
    pub async fn another_store(&self) -> Store {
        Store::connect(&self.url).await.expect("second connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, db_name } = &self.cleanup {
            let admin_url = admin_url.clone();
            let sql = format!("DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)");
            // Drop cannot be async: do it on a helper thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(admin_exec(&admin_url, &sql));
            })
            .join();
        }
    }
}

async fn connect(url: &str) -> Store {
    Store::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

fn postgres_admin_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => url,
        Ok(other) => panic!(
            "the PostgreSQL variant of the store suite needs DATABASE_URL to point at PostgreSQL, \
             but it is {:?}. Run `cargo xtask test` (it provides a throwaway PostgreSQL) or set \
             DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB",
            crmsync_redact::mask_url(&other)
        ),
        Err(_) => panic!(
            "DATABASE_URL is not set: the PostgreSQL variant of the store suite needs a server. Run \
             `cargo xtask test` (it provides a throwaway PostgreSQL and exports DATABASE_URL) or set \
             DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB"
        ),
    }
}

async fn admin_exec(admin_url: &str, sql: &str) {
    use sqlx::Connection;
    let masked = crmsync_redact::mask_url(admin_url);
    let mut conn = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sqlx::PgConnection::connect(admin_url),
    )
    .await
    .unwrap_or_else(|_| panic!("cannot connect to PostgreSQL at {masked}: no answer within 10 s"))
    .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {masked}: {e}"));
    sqlx::query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}
