//! `spawn_app()` for end-to-end tests (zero2prod style): the app built by `crmsync-app` on
//! 127.0.0.1:0 (router + the engine's worker, through [`crmsync_app::serve`]), both mocks
//! in-process, a fresh store (SQLite temp file, or a fresh PostgreSQL database on the server of
//! `DATABASE_URL` — dropped afterwards — reached through a TCP proxy that can be switched off to
//! simulate "store down"), the seed mapping validated against the mocks, a fake Telegram, and
//! webhooks registered on the mock Monday pointing at the router.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use crmsync_app::{App, ServeOptions};
use crmsync_http::{PendingPolicy, ReceiverConfig, WebhookAuth};
use crmsync_monday::{MondayClient, MondayConfig, RetryPolicy as MondayRetryPolicy};
use crmsync_salesforce::{AuthMode, RetryPolicy, SalesforceClient, SalesforceConfig};
use crmsync_store::{Store, StoreOptions};
use crmsync_sync::{
    load_mapping, AlertConfig, Alerter, Engine, EngineConfig, RetrySchedule, TelegramConfig,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::pg::{PgDatabase, Proxy};
use crate::seed::boards::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use crate::seed::{seed_dir, MOCK_SF_CLIENT_ID, MOCK_SF_CLIENT_SECRET};
use crate::sf_rest::SfRest;
use crate::telegram::FakeTelegram;

/// The mock Monday's signing secret (app webhooks, JWT) in the harness.
pub const SIGNING_SECRET: &str = "test-signing-secret";
/// `CRMSYNC_STATUS_TOKEN` of the harness's receiver.
pub const STATUS_TOKEN: &str = "test-status-token";

/// Which store backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// SQLite in a temporary file.
    Sqlite,
    /// A fresh database on the `DATABASE_URL` server.
    Postgres,
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
    /// The alert window of the app's alerter (and of [`TestApp::second_engine`]'s).
    pub alert_window: Duration,
    pg_db: Option<PgDatabase>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<Served>,
    receiver: ReceiverConfig,
    worker: bool,
    sweep_every: Option<Duration>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Options {
    pub db: Db,
    pub worker: bool,
    pub pending_policy: PendingPolicy,
    pub mapping_path: PathBuf,
    pub alert_window: Duration,
    pub retry: RetrySchedule,
    /// Engine tuning (defaults: [`EngineConfig::for_tests`] with `retry`).
    pub engine: EngineConfig,
    /// How long a webhook request waits for inline processing (default 2 s).
    pub inline_budget: Duration,
    /// Inline processing at once (default: the receiver's default).
    pub inline_concurrency: Option<usize>,
    /// Whether the mock Monday signs the webhook challenge (default `true`; Monday documents the
    /// JWT only for event deliveries, so `false` is the case to be ready for).
    pub sign_challenge: bool,
    /// Seed directory of both mocks (`monday/`, `salesforce/`; default `fixtures/seed`). The
    /// replay runner points it at a scenario's starting state.
    pub seed_dir: PathBuf,
    /// Register the mapped boards' webhooks on the mock Monday (default `true`). Without them
    /// edits through the mock fire nothing: the replay runner sends recorded deliveries instead.
    pub install_webhooks: bool,
    /// PostgreSQL without the "store down" proxy in between (benchmarks; default `false`). Then
    /// [`TestApp::proxy`] is `None`.
    pub direct_store: bool,
    /// The Salesforce client's per-request timeout (default: the client's own).
    pub sf_request_timeout: Option<Duration>,
    /// The mock Monday's complexity budget: points per window (default: the mock's).
    pub monday_budget: Option<(u64, Duration)>,
    /// The mock Monday's mutations per window (the budget's window), and the Monday client's
    /// pacing to match (default: Monday's 2,000 a minute on both; `u64::MAX`: unlimited and
    /// unpaced).
    pub monday_mutations: Option<u64>,
    /// The mock Monday's requests per window (its minute rate limit; default 5,000).
    pub monday_requests: Option<u64>,
    /// The mock Monday's webhook redelivery schedule: interval and number of retries after a
    /// failed delivery (default 300 ms × 60; Monday's is 1 min × 30).
    pub webhook_retries: (Duration, u32),
    /// The app's reconciliation timer (`CRMSYNC_SWEEP_MINUTES` of `crmsync serve`; default off).
    pub sweep_every: Option<Duration>,
    /// The mock Salesforce's seed multiplied this many times (`mock-crm --scale`; default 1).
    pub salesforce_scale: u32,
}

impl Options {
    /// The mock Monday's complexity budget and mutation limit lifted and the client unpaced
    /// ("limits off": the migration tests and benchmarks that measure crmsync, not the limits).
    pub fn limits_off(mut self) -> Options {
        self.monday_budget = Some((1_000_000_000_000, Duration::from_secs(60)));
        self.monday_mutations = Some(u64::MAX);
        self.monday_requests = Some(u64::MAX);
        self
    }

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
            engine: EngineConfig::for_tests(),
            inline_budget: Duration::from_secs(2),
            inline_concurrency: None,
            sign_challenge: true,
            seed_dir: seed_dir(),
            install_webhooks: true,
            direct_store: false,
            sf_request_timeout: None,
            monday_budget: None,
            monday_mutations: None,
            monday_requests: None,
            webhook_retries: (Duration::from_millis(300), 60),
            sweep_every: None,
            salesforce_scale: 1,
        }
    }
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
            let db = PgDatabase::create("crmsync_e2e").await;
            if opts.direct_store {
                (db.url.clone(), None, None, Some(db))
            } else {
                let proxy = Proxy::start(db.server_addr()).await;
                (db.url_through(&proxy), Some(proxy), None, Some(db))
            }
        }
    };
    let store = Store::connect_with(
        &url,
        &StoreOptions {
            connect_timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(2),
            max_connections: 10,
            sqlite_busy_timeout: Duration::from_secs(10),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();

    let salesforce = mock_salesforce::MockSalesforce::builder()
        .seed_dir(opts.seed_dir.join("salesforce"))
        .scale(opts.salesforce_scale)
        .start()
        .await
        .unwrap();
    let mut monday = mock_monday::MockMonday::builder();
    if let Some((points, window)) = opts.monday_budget {
        monday = monday.budget(points, window);
    }
    if let Some(n) = opts.monday_mutations {
        monday = monday.mutations_per_window(n);
    }
    if let Some(n) = opts.monday_requests {
        monday = monday.requests_per_window(n);
    }
    let monday = monday
        .seed_dir(opts.seed_dir.join("monday"))
        .signing_secret(SIGNING_SECRET)
        .sign_challenge(opts.sign_challenge)
        .webhook_retries(opts.webhook_retries.0, opts.webhook_retries.1)
        .start()
        .await
        .unwrap();
    let sf_config = SalesforceConfig::new(
        url::Url::parse(&salesforce.base_url).unwrap(),
        MOCK_SF_CLIENT_ID,
        SecretString::from(MOCK_SF_CLIENT_SECRET),
        AuthMode::ClientCredentials,
    )
    .with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(1),
    });
    let sf_config = match opts.sf_request_timeout {
        Some(t) => sf_config.with_request_timeout(t),
        None => sf_config,
    };
    let sf_client = SalesforceClient::new(sf_config).unwrap();
    let mutation_limit = match opts.monday_mutations {
        None => Some(crmsync_monday::MutationLimit::monday()),
        Some(n) => u32::try_from(n)
            .ok()
            .map(|per_window| crmsync_monday::MutationLimit {
                per_window,
                window: opts
                    .monday_budget
                    .map_or(Duration::from_secs(60), |(_, w)| w),
            }),
    };
    let monday_client = MondayClient::new(
        MondayConfig::new(SecretString::from(monday.token().to_string()))
            .with_api_url(monday.api_url())
            .with_mutation_limit(mutation_limit)
            .with_retry_policy(monday_retry_policy()),
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
            retry: opts.retry.clone(),
            ..opts.engine.clone()
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
    rc.inline_budget = opts.inline_budget;
    if let Some(n) = opts.inline_concurrency {
        rc.inline_concurrency = n;
    }
    rc.pending_policy = opts.pending_policy;
    rc.status_token = Some(SecretString::from(STATUS_TOKEN));
    let (tx, served) = serve_on(listener, &engine, rc.clone(), opts.worker, opts.sweep_every);
    let hook_url = url::Url::parse(&webhook_url).unwrap();
    if opts.install_webhooks {
        crmsync_app::webhooks::install(&monday_client, &mapping, &hook_url)
            .await
            .unwrap();
    }
    TestApp {
        base_url,
        webhook_url,
        store,
        engine,
        sf: SfRest::new(&salesforce.base_url),
        salesforce,
        monday,
        monday_client,
        telegram,
        proxy,
        db: opts.db,
        alert_window: opts.alert_window,
        pg_db,
        shutdown: Some(tx),
        served: Some(served),
        receiver: rc,
        worker: opts.worker,
        sweep_every: opts.sweep_every,
        _dir: dir,
    }
}

type Served = JoinHandle<anyhow::Result<()>>;

fn serve_on(
    listener: TcpListener,
    engine: &Engine,
    rc: ReceiverConfig,
    worker: bool,
    sweep_every: Option<Duration>,
) -> (tokio::sync::oneshot::Sender<()>, Served) {
    let app = App::from_parts(engine.clone(), rc);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crmsync_app::serve(
        listener,
        app,
        ServeOptions {
            worker,
            drain_timeout: Duration::from_secs(10),
            close_store: false,
            sweep_every,
            consumer: None,
        },
        async {
            let _ = rx.await;
        },
    ));
    (tx, served)
}

impl TestApp {
    /// A second engine on the same store, mapping and clients (another worker process, as far as
    /// the store can tell), with its own alerter (same fake Telegram, same window) and `config`
    /// (give it its own `worker_id`).
    pub fn second_engine(&self, config: EngineConfig) -> Engine {
        Engine::new(
            self.store.clone(),
            (*self.engine.mapping()).clone(),
            self.engine.salesforce().clone(),
            self.engine.monday().clone(),
            Alerter::new(AlertConfig {
                telegram: Some(TelegramConfig {
                    api_url: self.telegram.url.clone(),
                    bot_token: SecretString::from("123456:test-bot-token"),
                    chat_id: "4242".into(),
                }),
                window: self.alert_window,
                ..AlertConfig::default()
            }),
            config,
        )
    }

    /// Waits until Monday delivered every webhook and the event log has no open event.
    pub async fn settle(&self) {
        self.settle_within(Duration::from_secs(30)).await
    }

    /// [`TestApp::settle`] with another deadline (a migration fires a webhook per item).
    pub async fn settle_within(&self, limit: Duration) {
        if let Err(e) = self.settled_within(limit).await {
            panic!("{e:#}");
        }
    }

    /// What is still in flight: Monday deliveries not yet delivered (or given up) and open events
    /// (pending, processing or failed) in the event log, each described for a report.
    pub async fn open_work(&self) -> anyhow::Result<OpenWork> {
        use anyhow::Context as _;
        let deliveries = self
            .monday
            .admin
            .deliveries()
            .await
            .context("reading Monday's deliveries")?;
        let pending = deliveries
            .iter()
            .filter(|d| {
                !matches!(
                    d.state,
                    mock_monday::DeliveryState::Delivered | mock_monday::DeliveryState::Failed
                )
            })
            .count();
        let counts = self
            .store
            .event_counts_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .context("counting open events")?;
        let open = counts.pending + counts.processing + counts.failed;
        let mut open_events = Vec::new();
        if open > 0 {
            let now = chrono::Utc::now();
            for e in self
                .store
                .recent_events(10_000)
                .await
                .context("reading the event log")?
                .into_iter()
                .filter(|e| {
                    matches!(
                        e.status,
                        crmsync_store::EventStatus::Pending
                            | crmsync_store::EventStatus::Processing
                            | crmsync_store::EventStatus::Failed
                    )
                })
            {
                open_events.push(format!(
                    "event {} ({} of item {}/{} #{}) {:?}, {} attempts, due in {} ms, lease {}, last error {:?}",
                    e.id,
                    e.event_type,
                    e.board_id,
                    e.item_id,
                    e.item_seq,
                    e.status,
                    e.attempts,
                    (e.next_attempt_at - now).num_milliseconds(),
                    e.lease_expires_at
                        .map(|t| format!("ends in {} ms", (t - now).num_milliseconds()))
                        .unwrap_or_else(|| "none".into()),
                    e.last_error.as_deref().unwrap_or(""),
                ));
            }
        }
        Ok(OpenWork {
            deliveries: deliveries.len(),
            pending_deliveries: pending,
            open_events: open as usize,
            described: open_events,
        })
    }

    /// Waits (bounded by `limit`) until Monday has nothing left to deliver and the event log has
    /// nothing open — twice in a row, since write-backs fire webhooks of their own. On timeout the
    /// error lists what is still open.
    pub async fn settled_within(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // A store that is briefly unreachable (a chaos row cuts it) counts as not settled.
            let work = self.open_work().await;
            if let Ok(w) = &work {
                if w.is_idle() {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    if let Ok(again) = self.open_work().await {
                        if again.is_idle() && again.deliveries == w.deliveries {
                            return Ok(());
                        }
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return match work {
                    Ok(w) => Err(anyhow::anyhow!(
                        "not settled after {limit:?}: {} deliveries pending, {} events open{}",
                        w.pending_deliveries,
                        w.open_events,
                        w.described
                            .iter()
                            .map(|d| format!("; {d}"))
                            .collect::<String>()
                    )),
                    Err(e) => Err(e.context(format!("not settled after {limit:?}"))),
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes every webhook of every mapped board: items created afterwards fire nothing, so a
    /// test can send deliveries of its own.
    pub async fn drop_all_webhooks(&self) {
        for board in [LEADS, ACCOUNTS, CONTACTS, OPPORTUNITIES] {
            for w in self.monday_client.webhooks(board).await.unwrap() {
                self.monday_client.delete_webhook(&w.id).await.unwrap();
            }
        }
    }

    /// Posts a delivery body to the receiver, signed like Monday's app webhooks.
    pub async fn post_signed(&self, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(&self.webhook_url)
            .header("Authorization", jwt_for(&self.webhook_url, 300))
            .json(body)
            .send()
            .await
            .unwrap()
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

    /// Shuts the app down as SIGTERM would (`crmsync_app::serve` returns: in-flight requests,
    /// inline processing and the worker finished), keeping the store and the mocks for checks.
    pub async fn stop_serving(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            match served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the app failed while stopping: {e:#}"),
                Err(e) => panic!("the app's task failed: {e}"),
            }
        }
    }

    /// Starts the app again on the same address after [`TestApp::stop_serving`] (crmsync back up
    /// after an outage: the mock's webhooks point at the same URL).
    pub async fn start_serving(&mut self) {
        assert!(self.served.is_none(), "the app is still serving");
        let addr = self.base_url.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind(&addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr} again: {e}"));
        let (tx, served) = serve_on(
            listener,
            &self.engine,
            self.receiver.clone(),
            self.worker,
            self.sweep_every,
        );
        self.shutdown = Some(tx);
        self.served = Some(served);
    }

    /// Stops the app and drops the test's PostgreSQL database.
    pub async fn stop(mut self) {
        self.stop_serving().await;
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

    /// URL of this test's PostgreSQL database, straight to the server (`None` on SQLite).
    pub fn pg_url(&self) -> Option<&str> {
        self.pg_db.as_ref().map(|g| g.url.as_str())
    }
}

/// Both store variants of one async test body.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                ($body)($crate::Db::Postgres).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                ($body)($crate::Db::Sqlite).await
            }
        }
    };
}

/// A JWT like Monday's for app webhooks, signed with [`SIGNING_SECRET`], for audience `aud`,
/// expiring `exp_in` seconds from now (negative: already expired).
pub fn jwt_for(aud: &str, exp_in: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"accountId": 1, "userId": 1, "aud": aud, "exp": now + exp_in, "iat": now}),
        &jsonwebtoken::EncodingKey::from_secret(SIGNING_SECRET.as_bytes()),
    )
    .unwrap()
}

/// What a [`TestApp`] still has in flight ([`TestApp::open_work`]).
#[derive(Clone, Debug)]
pub struct OpenWork {
    /// Every delivery Monday has made or is making.
    pub deliveries: usize,
    /// Deliveries neither delivered nor given up yet.
    pub pending_deliveries: usize,
    /// Events pending, processing or failed (due again later).
    pub open_events: usize,
    /// One line per open event: status, attempts, when it is due, its lease, its last error.
    pub described: Vec<String>,
}

impl OpenWork {
    /// Nothing to deliver, nothing open.
    pub fn is_idle(&self) -> bool {
        self.pending_deliveries == 0 && self.open_events == 0
    }
}

/// The Monday client's retries in tests: quick transient backoff, like Salesforce's. The
/// production backoff (0.5 s doubling, ±50 % jitter) can outlast the tests' 4 s event deadline,
/// which made an outcome depend on the jitter (the deadline cut an event's retries, or did not).
pub fn monday_retry_policy() -> MondayRetryPolicy {
    MondayRetryPolicy {
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..MondayRetryPolicy::default()
    }
}

#[cfg(test)]
mod retry_fits_deadline {
    use super::*;

    /// The longest a client call can spend backing off between transient failures (every
    /// jitter at its +50 % bound).
    fn worst_case_backoff(p: &MondayRetryPolicy) -> Duration {
        (1..p.max_attempts)
            .map(|a| {
                let exp = p.base_backoff.saturating_mul(2u32.saturating_pow(a - 1));
                exp.min(p.max_backoff).mul_f64(1.5).min(p.max_backoff)
            })
            .sum()
    }

    #[test]
    fn monday_retries_fit_well_inside_the_test_event_deadline() {
        let p = monday_retry_policy();
        let worst = worst_case_backoff(&p);
        let deadline = EngineConfig::for_tests().event_deadline;
        assert!(
            worst * 4 < deadline,
            "worst-case Monday backoff {worst:?} is not well inside the {deadline:?} event deadline"
        );
    }
}
