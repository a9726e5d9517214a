//! `spawn_app()` for end-to-end tests (zero2prod style): the real router on 127.0.0.1:0, the
//! engine's worker, both mocks in-process, a fresh store (SQLite temp file, or a fresh PostgreSQL
//! database on the server of `DATABASE_URL`, reached through a TCP proxy that can be switched off
//! to simulate "store down"), the seed mapping validated against the mocks, a fake Telegram, and
//! webhooks registered on the mock Monday pointing at the router.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crmsync_http::{router, AppState, PendingPolicy, ReceiverConfig, WebhookAuth};
use crmsync_monday::{MondayClient, MondayConfig};
use crmsync_salesforce::{AuthMode, RetryPolicy, SalesforceClient, SalesforceConfig};
use crmsync_store::{Store, StoreOptions};
use crmsync_sync::{
    install_webhooks, load_mapping, AlertConfig, Alerter, Engine, EngineConfig, RetrySchedule,
    TelegramConfig,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const SIGNING_SECRET: &str = "test-signing-secret";
pub const STATUS_TOKEN: &str = "test-status-token";
pub const LEADS: &str = "9378000505";
pub const ACCOUNTS: &str = "9378000326";
pub const CONTACTS: &str = "9429890440";
pub const OPPORTUNITIES: &str = "9378000036";

pub fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A TCP proxy in front of PostgreSQL; `set_down(true)` drops every connection and refuses new ones.
#[derive(Clone)]
pub struct Proxy {
    down: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub port: u16,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
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
                me.conns.lock().unwrap().push(h);
            }
        });
        p
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            for h in self.conns.lock().unwrap().drain(..) {
                h.abort();
            }
        }
    }
}

/// Fake Telegram Bot API: records every `sendMessage` body.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub messages: Arc<Mutex<Vec<Value>>>,
    pub url: String,
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        use axum::routing::post;
        let messages: Arc<Mutex<Vec<Value>>> = Arc::default();
        let m = messages.clone();
        let app = axum::Router::new().route(
            "/{bot}/sendMessage",
            post(move |axum::Json(v): axum::Json<Value>| {
                let m = m.clone();
                async move {
                    m.lock().unwrap().push(v);
                    axum::Json(json!({"ok": true, "result": {}}))
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { messages, url }
    }

    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// Reads the mock Salesforce through its REST API (OAuth client credentials, SOQL), independently
/// of crmsync's client.
#[derive(Clone)]
pub struct SfRest {
    base: String,
    http: reqwest::Client,
    token: Arc<Mutex<Option<String>>>,
}

impl SfRest {
    async fn token(&self) -> String {
        if let Some(t) = self.token.lock().unwrap().clone() {
            return t;
        }
        let v: Value = self
            .http
            .post(format!("{}/services/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "mock-client-id"),
                ("client_secret", "mock-client-secret"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["access_token"].as_str().unwrap().to_string();
        *self.token.lock().unwrap() = Some(t.clone());
        t
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        for _ in 0..2 {
            let t = self.token().await;
            let r = self
                .http
                .get(format!("{}/services/data/v62.0{path}", self.base))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 401 {
                *self.token.lock().unwrap() = None;
                continue;
            }
            let body = r.json().await.unwrap_or(Value::Null);
            return (status, body);
        }
        panic!("mock Salesforce keeps refusing the test's token");
    }

    /// Records of a SOQL query.
    pub async fn query(&self, soql: &str) -> Vec<Value> {
        let q = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>();
        let (status, v) = self.get(&format!("/query?q={q}")).await;
        assert_eq!(status, 200, "query {soql}: {v}");
        v["records"].as_array().cloned().unwrap_or_default()
    }

    /// Records whose `Monday_Item_Id__c` is `item_id`.
    pub async fn by_item(&self, object: &str, fields: &str, item_id: &str) -> Vec<Value> {
        self.query(&format!(
            "SELECT Id, {fields} FROM {object} WHERE Monday_Item_Id__c = '{item_id}'"
        ))
        .await
    }

    /// One record by id, `None` when it does not exist (deleted).
    pub async fn record(&self, object: &str, id: &str) -> Option<Value> {
        let (status, v) = self.get(&format!("/sobjects/{object}/{id}")).await;
        (status == 200).then_some(v)
    }
}

pub struct TestApp {
    pub base_url: String,
    pub webhook_url: String,
    pub store: Store,
    pub engine: Engine,
    pub salesforce: mock_salesforce::RunningMock,
    pub monday: mock_monday::RunningMock,
    pub monday_client: MondayClient,
    pub sf: SfRest,
    pub telegram: FakeTelegram,
    pub proxy: Option<Proxy>,
    pub db: Db,
    pg_db: Option<PgDbGuard>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    worker: Option<JoinHandle<()>>,
    _server: JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Options {
    pub db: Db,
    pub worker: bool,
    pub pending_policy: PendingPolicy,
    pub mapping_path: PathBuf,
    pub alert_window: Duration,
    pub retry: RetrySchedule,
}

impl Options {
    pub fn new(db: Db) -> Options {
        Options {
            db,
            worker: true,
            pending_policy: PendingPolicy::AckWhenStored,
            mapping_path: seed_dir().join("mapping.toml"),
            alert_window: Duration::from_secs(600),
            retry: RetrySchedule {
                base: Duration::from_millis(50),
                max: Duration::from_millis(400),
                max_attempts: 30,
            },
        }
    }
}

/// `DATABASE_URL` of a PostgreSQL server, or a failing test that says how to get one.
pub fn pg_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => u,
        _ => panic!(
            "DATABASE_URL is not set to a PostgreSQL URL: the PostgreSQL end-to-end tests need one. \
             Run `cargo xtask test` (it provides PostgreSQL), or set DATABASE_URL=postgres://…"
        ),
    }
}

async fn fresh_pg() -> (String, Proxy, String) {
    use sqlx::Connection;
    let admin = pg_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to DATABASE_URL: {e}"));
    let name = format!("crmsync_e2e_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut u = url::Url::parse(&admin).unwrap();
    let target = format!(
        "{}:{}",
        u.host_str().unwrap_or("127.0.0.1"),
        u.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(target).await;
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(proxy.port)).unwrap();
    u.set_path(&format!("/{name}"));
    (u.to_string(), proxy, name)
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(Options::new(db)).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let (url, proxy, dir, pg_db) = match opts.db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("crmsync.db").display());
            (url, None, Some(dir), None)
        }
        Db::Postgres => {
            let (u, p, name) = fresh_pg().await;
            (u, Some(p), None, Some(PgDbGuard { name }))
        }
    };
    let store = Store::connect_with(
        &url,
        &StoreOptions {
            connect_timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(2),
            max_connections: 10,
            sqlite_busy_timeout: Duration::from_secs(10),
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();

    let salesforce = mock_salesforce::MockSalesforce::builder()
        .start()
        .await
        .unwrap();
    let monday = mock_monday::MockMonday::builder()
        .seed_dir(seed_dir().join("monday"))
        .signing_secret(SIGNING_SECRET)
        .webhook_retries(Duration::from_millis(300), 60)
        .start()
        .await
        .unwrap();
    let sf_config = SalesforceConfig::new(
        url::Url::parse(&salesforce.base_url).unwrap(),
        "mock-client-id",
        SecretString::from("mock-client-secret"),
        AuthMode::ClientCredentials,
    )
    .with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(1),
    });
    let sf_client = SalesforceClient::new(sf_config).unwrap();
    let monday_client = MondayClient::new(
        MondayConfig::new(SecretString::from(monday.token().to_string()))
            .with_api_url(monday.api_url()),
    )
    .unwrap();
    let mapping = load_mapping(&opts.mapping_path, &sf_client, &monday_client)
        .await
        .unwrap();
    let telegram = FakeTelegram::start().await;
    let alerter = Alerter::new(AlertConfig {
        telegram: Some(TelegramConfig {
            api_url: telegram.url.clone(),
            bot_token: SecretString::from("123456:test-bot-token"),
            chat_id: "4242".into(),
        }),
        window: opts.alert_window,
        ..AlertConfig::default()
    });
    let engine = Engine::new(
        store.clone(),
        mapping.clone(),
        sf_client,
        monday_client.clone(),
        alerter,
        EngineConfig {
            worker_id: "e2e".into(),
            lease: Duration::from_secs(5),
            retry: opts.retry.clone(),
            poll_interval: Duration::from_millis(25),
            rate_limit_pause: Duration::from_secs(1),
            fresh_reads: true,
            concurrency: 2,
            user_cache_ttl: Duration::from_secs(600),
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base_url = format!("http://{addr}");
    let webhook_url = format!("{base_url}/webhooks/monday");
    let mut rc = ReceiverConfig::new(WebhookAuth::new().with_signing_secret(
        SecretString::from(SIGNING_SECRET),
        vec![webhook_url.clone()],
    ));
    rc.inline_budget = Duration::from_secs(2);
    rc.pending_policy = opts.pending_policy;
    rc.status_token = Some(SecretString::from(STATUS_TOKEN));
    let state = AppState::new(engine.clone(), rc).unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = if opts.worker {
        let e = engine.clone();
        Some(tokio::spawn(async move {
            e.run_worker(async {
                let _ = rx.await;
            })
            .await
        }))
    } else {
        None
    };
    install_webhooks(&monday_client, &mapping, &webhook_url)
        .await
        .unwrap();
    TestApp {
        base_url,
        webhook_url,
        store,
        engine,
        sf: SfRest {
            base: salesforce.base_url.clone(),
            http: reqwest::Client::new(),
            token: Arc::default(),
        },
        salesforce,
        monday,
        monday_client,
        telegram,
        proxy,
        db: opts.db,
        pg_db,
        shutdown: Some(tx),
        worker,
        _server: server,
        _dir: dir,
    }
}

impl TestApp {
    /// Waits until Monday delivered every webhook and the event log has no open event.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let deliveries = self.monday.admin.deliveries().await.unwrap();
            let pending = deliveries
                .iter()
                .filter(|d| {
                    !matches!(
                        d.state,
                        mock_monday::DeliveryState::Delivered | mock_monday::DeliveryState::Failed
                    )
                })
                .count();
            let open = match self
                .store
                .event_counts_since(chrono::DateTime::UNIX_EPOCH)
                .await
            {
                Ok(c) => c.pending + c.processing + c.failed,
                Err(_) => 1,
            };
            if pending == 0 && open == 0 {
                // Write-backs fire webhooks of their own: settle twice in a row.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let again = self.monday.admin.deliveries().await.unwrap();
                if again.len() == deliveries.len() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not settled after 30 s: {pending} deliveries pending, {open} events open"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates an item as a user; returns its id.
    pub async fn create_item(&self, board: &str, name: &str, values: Value) -> String {
        self.monday
            .admin
            .create_item(board, name, None, values)
            .await
            .unwrap()
            .item
            .id
            .clone()
    }

    /// Removes the `create_item` webhook of `board`: items created there afterwards do not reach
    /// crmsync until something else about them changes.
    pub async fn drop_create_webhook(&self, board: &str) {
        for w in self.monday_client.webhooks(board).await.unwrap() {
            if w.event.as_deref() == Some("create_item") {
                self.monday_client.delete_webhook(&w.id).await.unwrap();
            }
        }
    }

    /// Waits (up to 20 s) until a record of `object` carries `Monday_Item_Id__c = item_id`.
    pub async fn wait_for_record(&self, object: &str, fields: &str, item_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(r) = self.sf.by_item(object, fields, item_id).await.pop() {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {object} for item {item_id} after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The status report as JSON.
    pub async fn status_json(&self) -> Value {
        reqwest::Client::new()
            .get(format!("{}/status?format=json", self.base_url))
            .bearer_auth(STATUS_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
        // Drop the per-test PostgreSQL database (the guard does it too when a test panics).
        if let Some(guard) = self.pg_db.take() {
            self.store.close().await;
            drop(guard);
        }
    }

    /// Name of this test's PostgreSQL database (`None` on SQLite).
    pub fn pg_db_name(&self) -> Option<&str> {
        self.pg_db.as_ref().map(|g| g.name.as_str())
    }
}

/// Drops a test's `crmsync_e2e_*` database when dropped — at the end of `stop()`, and also while
/// a failing test unwinds, so no database is left behind. Drop cannot be async: the `DROP
/// DATABASE … WITH (FORCE)` runs on a helper thread with its own runtime.
struct PgDbGuard {
    name: String,
}

impl Drop for PgDbGuard {
    fn drop(&mut self) {
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
    let mut conn = sqlx::PgConnection::connect(&pg_url()).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n > 0
}

/// Both store variants of one async test body.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                ($body)(Db::Postgres).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                ($body)(Db::Sqlite).await
            }
        }
    };
}
