//! PostgreSQL for tests: fresh databases on the server of `DATABASE_URL` that are dropped
//! afterwards (also when the test panics), and a TCP proxy that can simulate "store down".

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// `DATABASE_URL` of a PostgreSQL server, or a failing test that says how to get one.
pub fn pg_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => u,
        _ => panic!(
            "DATABASE_URL is not set to a PostgreSQL URL: the PostgreSQL tests need one. \
             Run `cargo xtask test` (it provides PostgreSQL), or set \
             DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB"
        ),
    }
}

/// A fresh, empty database on the `DATABASE_URL` server, dropped (`WITH (FORCE)`) when this guard
/// is dropped — at the end of a test and while a failing test unwinds.
#[derive(Debug)]
pub struct PgDatabase {
    /// The database's name (`<prefix>_<uuid>`).
    pub name: String,
    /// Its URL (on the `DATABASE_URL` server).
    pub url: String,
}

impl PgDatabase {
    /// Creates `<prefix>_<uuid>`.
    pub async fn create(prefix: &str) -> PgDatabase {
        use sqlx::Connection;
        let admin = pg_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connecting to DATABASE_URL: {e}"));
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let mut u = url::Url::parse(&admin).expect("DATABASE_URL is a URL");
        u.set_path(&format!("/{name}"));
        PgDatabase {
            name,
            url: u.to_string(),
        }
    }

    /// The URL of this database through `proxy` (host 127.0.0.1, the proxy's port).
    pub fn url_through(&self, proxy: &Proxy) -> String {
        let mut u = url::Url::parse(&self.url).expect("a URL");
        u.set_host(Some("127.0.0.1")).expect("a host");
        u.set_port(Some(proxy.port)).expect("a port");
        u.to_string()
    }

    /// `host:port` of the server, for a [`Proxy`].
    pub fn server_addr(&self) -> String {
        let u = url::Url::parse(&self.url).expect("a URL");
        format!(
            "{}:{}",
            u.host_str().unwrap_or("127.0.0.1"),
            u.port().unwrap_or(5432)
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop cannot be async: the DROP runs on a helper thread with its own runtime.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let Ok(admin) = std::env::var("DATABASE_URL") else {
            return;
        };
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                eprintln!("could not drop test database {name}: no runtime");
                return;
            };
            rt.block_on(async {
                match sqlx::PgConnection::connect(&admin).await {
                    Ok(mut conn) => {
                        if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
                            eprintln!("could not drop test database {name}: {e}");
                        }
                    }
                    Err(e) => eprintln!("could not drop test database {name}: {e}"),
                }
            });
        })
        .join();
    }
}

/// Whether a database of this name exists on the `DATABASE_URL` server.
pub async fn pg_database_exists(name: &str) -> bool {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg_url())
        .await
        .expect("connecting to DATABASE_URL");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("querying pg_database");
    n > 0
}

/// A TCP proxy in front of PostgreSQL; `set_down(true)` drops every connection and refuses new ones.
#[derive(Clone)]
pub struct Proxy {
    down: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// The proxy's port on 127.0.0.1.
    pub port: u16,
}

impl Proxy {
    /// A proxy on 127.0.0.1:0 forwarding to `target` (`host:port`).
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let port = listener.local_addr().expect("an address").port();
        let p = Proxy {
            down: Arc::default(),
            conns: Arc::default(),
            port,
        };
        let me = p.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if me.down.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                me.conns.lock().unwrap_or_else(|e| e.into_inner()).push(h);
            }
        });
        p
    }

    /// Takes the store "down" (drops every connection, refuses new ones) or back up.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            for h in self
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
            {
                h.abort();
            }
        }
    }
}
