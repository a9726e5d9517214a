//! Webhook → Salesforce through the real receiver: the harness's app (router + engine) on a
//! socket, both mocks on loopback, PostgreSQL. Latency of one delivery = the POST until its answer,
//! when the receiver applied the event inline (`"status":"done"`); an event left to the worker is
//! followed in the store until it is done (so every event counts, none is dropped from the figures):
//! its latency is the POST until the event's `processed_at` (the database's clock, milliseconds).
//! One [`Follower`] task does that following for all of them, with one query every 2 ms on a
//! connection of its own — never through the app's pool, which is part of what is measured (a
//! thousand senders each polling through it would starve the worker of connections).
//!
//! Alongside, in the same run and at the same rate, the **bare calls** the event needs: the exact
//! Monday GraphQL request(s) and Salesforce REST request(s) the engine made for a sample event
//! (read from the mocks' journals), replayed one after another with a plain HTTP client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::stats::Summary;
use crate::harness::{jwt_for, spawn_app_with, Db, Options, TestApp};
use crate::seed::boards::LEADS;
use crate::seed::{MOCK_SF_CLIENT_ID, MOCK_SF_CLIENT_SECRET};

/// The text column the deliveries change (Lead.FirstName in the seed mapping).
const COLUMN: &str = "text_mkry13cw";

/// What to run.
#[derive(Debug, Clone)]
pub struct WebhookBenchConfig {
    /// Items synced before measuring (deliveries go round-robin over them).
    pub items: usize,
    /// Open-loop rates (events/s) for the latency figures.
    pub rates: Vec<u32>,
    /// Seconds per rate.
    pub seconds: f64,
    /// Concurrent senders of the closed-loop (highest sustained rate) phase.
    pub concurrency: usize,
    /// Seconds of the closed-loop phase.
    pub saturate_seconds: f64,
}

/// Latency at one offered rate.
#[derive(Debug, Clone)]
pub struct RateFigures {
    /// Offered events/s.
    pub rate: u32,
    /// Events sent.
    pub sent: usize,
    /// Events answered `done` by the receiver itself (the rest finished in the worker).
    pub inline_done: usize,
    /// Webhook → Salesforce latency (ms).
    pub crmsync: Summary,
    /// The bare calls of one event, one after another (ms).
    pub bare: Summary,
}

/// The whole webhook benchmark.
#[derive(Debug, Clone)]
pub struct WebhookFigures {
    /// The calls one event makes (method + what), from the mocks' journals.
    pub calls: Vec<String>,
    /// Per offered rate.
    pub rates: Vec<RateFigures>,
    /// Closed loop: events applied per second with `concurrency` senders.
    pub sustained_per_s: f64,
    /// Senders of the closed loop.
    pub concurrency: usize,
    /// Latency during the closed loop.
    pub sustained_latency: Summary,
}

/// One HTTP request the engine made to a mock, to replay bare.
#[derive(Debug, Clone)]
struct BareCall {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    label: String,
}

/// Runs the benchmark on a fresh harness app (PostgreSQL from `DATABASE_URL`).
pub async fn run(cfg: &WebhookBenchConfig) -> Result<WebhookFigures> {
    // Monday's limits lifted on the mock: at a few hundred events/s the item reads of crmsync and
    // of the bare replay together pass Monday's 5,000 requests a minute, and the mock's 429s would
    // be measured instead of crmsync.
    let mut opts = Options::new(Db::Postgres).limits_off();
    // Measure the store, not the harness's "store down" proxy.
    opts.direct_store = true;
    opts.inline_budget = Duration::from_secs(2);
    let mut engine = crmsync_sync::EngineConfig::for_tests();
    engine.worker_id = "bench".into();
    opts.engine = engine;
    let app = spawn_app_with(opts).await;
    let result = measure(&app, cfg).await;
    app.stop().await;
    result
}

async fn measure(app: &TestApp, cfg: &WebhookBenchConfig) -> Result<WebhookFigures> {
    // Items synced the ordinary way (create_item webhooks), then no more webhooks from the mock:
    // the benchmark sends the deliveries itself, at the rate it chooses.
    let mut items = Vec::with_capacity(cfg.items);
    for i in 0..cfg.items {
        items.push(
            app.create_item(
                LEADS,
                &format!("Bench {i}"),
                json!({ COLUMN: format!("first {i}"), "text_mkry1xy1": format!("Last{i}") }),
            )
            .await,
        );
    }
    app.settle().await;
    app.drop_all_webhooks().await;
    let items = Arc::new(items);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .context("building the HTTP client")?;
    let follower = Follower::start(
        app.pg_url()
            .context("the webhook benchmark needs PostgreSQL")?,
    )
    .await?;
    let sender = Sender {
        http: http.clone(),
        url: app.webhook_url.clone(),
        jwt: jwt_for(&app.webhook_url, 3600),
        follower,
        items: items.clone(),
        run: uuid::Uuid::new_v4().simple().to_string(),
    };

    // Warm up (connections, statement caches, the OAuth token), then one sample event with
    // clean journals: the calls it makes are the bare baseline.
    for k in 0..20 {
        sender.send(k).await?;
    }
    app.monday.admin.clear_requests().await?;
    let sf_seen = app.salesforce.handle.requests().len();
    sender.send(20).await?;
    let bare_calls = bare_calls(app, &http, sf_seen).await?;
    let calls = bare_calls.iter().map(|c| c.label.clone()).collect();

    let mut next = 21usize;
    let mut rates = Vec::new();
    for &rate in &cfg.rates {
        let n = ((f64::from(rate) * cfg.seconds).round() as usize).max(1);
        let crmsync = open_loop(rate, n, {
            let sender = sender.clone();
            let base = next;
            move |i| {
                let sender = sender.clone();
                async move { sender.send(base + i).await }
            }
        })
        .await?;
        next += n;
        let inline_done = crmsync.iter().filter(|(_, inline)| *inline).count();
        eprintln!(
            "crmsync-bench: {rate} events/s: {n} sent, {inline_done} applied inline, the rest by the worker"
        );
        let bare = open_loop(rate, n, {
            let http = http.clone();
            let calls = Arc::new(bare_calls.clone());
            move |_| {
                let http = http.clone();
                let calls = calls.clone();
                async move { replay(&http, &calls).await.map(|d| (d, true)) }
            }
        })
        .await?;
        rates.push(RateFigures {
            rate,
            sent: n,
            inline_done,
            crmsync: Summary::of(crmsync.iter().map(|(d, _)| *d)),
            bare: Summary::of(bare.iter().map(|(d, _)| *d)),
        });
    }

    // Closed loop: `concurrency` senders, each sending its next event when the last one is done.
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(cfg.saturate_seconds);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(next));
    let tasks: Vec<_> = (0..cfg.concurrency)
        .map(|_| {
            let sender = sender.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < stop {
                    let k = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    lat.push(sender.send(k).await?.0);
                }
                Ok::<_, anyhow::Error>(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.context("a sender task failed")??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let sustained_per_s = lat.len() as f64 / elapsed;
    eprintln!(
        "crmsync-bench: closed loop, {} senders: {} events in {elapsed:.1} s",
        cfg.concurrency,
        lat.len()
    );

    // Every delivery sent is stored and done (nothing lost by the benchmark itself).
    let counts = app
        .store
        .event_counts_since(chrono::DateTime::UNIX_EPOCH)
        .await?;
    if counts.pending + counts.processing + counts.failed + counts.dead > 0 {
        bail!("events left open or dead after the benchmark: {counts:?}");
    }
    Ok(WebhookFigures {
        calls,
        rates,
        sustained_per_s,
        concurrency: cfg.concurrency,
        sustained_latency: Summary::of(lat.into_iter()),
    })
}

#[derive(Clone)]
struct Sender {
    http: reqwest::Client,
    url: String,
    jwt: String,
    follower: Arc<Follower>,
    items: Arc<Vec<String>>,
    run: String,
}

/// Events left to the worker, each with the wall-clock time (epoch ms) its delivery was posted and
/// who waits for its latency.
type Waiting = HashMap<i64, (i64, tokio::sync::oneshot::Sender<Result<Duration>>)>;

/// Follows events left to the worker until they settle: one task, one connection of its own, one
/// query every 2 ms that covers every event still followed. The task ends when the last handle is dropped.
struct Follower {
    waiting: Mutex<Waiting>,
}

impl Follower {
    async fn start(url: &str) -> Result<Arc<Follower>> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("connecting the benchmark's own follower to PostgreSQL")?;
        let me = Arc::new(Follower {
            waiting: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let Some(me) = weak.upgrade() else { return };
                let ids: Vec<i64> = me.lock().keys().copied().collect();
                if ids.is_empty() {
                    continue;
                }
                let rows: Result<Vec<(i64, String, Option<i64>)>, _> = sqlx::query_as(
                    "SELECT id, status, processed_at FROM events \
                     WHERE id = ANY($1) AND status IN ('done', 'skipped', 'dead')",
                )
                .bind(&ids)
                .fetch_all(&pool)
                .await;
                let rows = match rows {
                    Ok(rows) => rows,
                    Err(e) => {
                        let mut waiting = me.lock();
                        for (_, (_, tx)) in waiting.drain() {
                            let _ = tx.send(Err(anyhow::anyhow!("following events: {e}")));
                        }
                        continue;
                    }
                };
                let mut waiting = me.lock();
                for (id, status, processed_at) in rows {
                    let Some((sent_ms, tx)) = waiting.remove(&id) else {
                        continue;
                    };
                    let result = match (status.as_str(), processed_at) {
                        ("done", Some(at)) => Ok(Duration::from_millis(
                            u64::try_from(at - sent_ms).unwrap_or(0),
                        )),
                        (other, _) => Err(anyhow::anyhow!("event {id} ended {other}")),
                    };
                    let _ = tx.send(result);
                }
            }
        });
        Ok(me)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until event `id` (posted at `sent_ms`) is done: its latency from the post.
    async fn wait(&self, id: i64, sent_ms: i64) -> Result<Duration> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.lock().insert(id, (sent_ms, tx));
        rx.await.context("the follower stopped")?
    }
}

impl Sender {
    /// Sends delivery `k` (a FirstName change of item k mod items) and waits until it is applied.
    /// Returns the latency and whether the receiver applied it inline.
    async fn send(&self, k: usize) -> Result<(Duration, bool)> {
        let item = &self.items[k % self.items.len()];
        let body = json!({"event": {
            "app": "monday", "type": "update_column_value", "triggerTime": "2026-12-01T10:00:00.000Z",
            "subscriptionId": 1, "isRetry": false, "userId": 1, "originalTriggerUuid": null,
            "boardId": LEADS.parse::<i64>().unwrap_or_default(), "groupId": "topics",
            "pulseId": item.parse::<i64>().unwrap_or_default(), "pulseName": format!("Bench {k}"),
            "columnId": COLUMN, "columnType": "text", "columnTitle": "First name",
            "value": {"value": format!("first {k}")}, "previousValue": {"value": format!("was {k}")},
            "changedAt": 1_764_583_200.0, "isTopGroup": true,
            "triggerUuid": format!("bench-{}-{k}", self.run),
        }});
        let start = Instant::now();
        let sent_ms = chrono::Utc::now().timestamp_millis();
        let resp = self
            .http
            .post(&self.url)
            .header("Authorization", &self.jwt)
            .json(&body)
            .send()
            .await
            .context("posting a delivery")?;
        let status = resp.status();
        let answer: Value = resp.json().await.context("reading the receiver's answer")?;
        if !status.is_success() {
            bail!("the receiver answered {status}: {answer}");
        }
        if answer["status"] == "done" {
            return Ok((start.elapsed(), true));
        }
        // Left to the worker (or still retrying): followed in the store until it is done.
        let id = answer["event_id"]
            .as_i64()
            .with_context(|| format!("the receiver's answer has no event_id: {answer}"))?;
        Ok((self.follower.wait(id, sent_ms).await?, false))
    }
}

/// Runs `f(i)` for i in 0..n, started at `rate` per second whatever the previous ones do (open
/// loop: a slow answer does not slow the offered load). Returns each result in order.
async fn open_loop<F, Fut>(rate: u32, n: usize, f: F) -> Result<Vec<(Duration, bool)>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(Duration, bool)>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until(start + interval * i as u32).await;
        tasks.push(tokio::spawn(f(i)));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.context("a sender task failed")??);
    }
    Ok(out)
}

/// The requests the sample event made, from the mocks' journals, ready to replay.
/// `sf_seen`: Salesforce journal entries from before the sample (the journal cannot be cleared).
async fn bare_calls(
    app: &TestApp,
    http: &reqwest::Client,
    sf_seen: usize,
) -> Result<Vec<BareCall>> {
    let mut calls = Vec::new();
    for e in app.monday.admin.requests().await? {
        let mut headers = vec![("Authorization".to_owned(), app.monday.token().to_string())];
        if let Some(v) = &e.api_version {
            headers.push(("API-Version".to_owned(), v.clone()));
        }
        calls.push(BareCall {
            method: reqwest::Method::POST,
            url: app.monday.api_url(),
            headers,
            body: Some(json!({"query": e.query, "variables": e.variables})),
            label: format!(
                "Monday GraphQL {}",
                e.operation_name.as_deref().unwrap_or("(unnamed)")
            ),
        });
    }
    // An access token of the mock's OAuth client, like the one crmsync's client holds.
    let token: Value = http
        .post(format!("{}/services/oauth2/token", app.salesforce.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MOCK_SF_CLIENT_ID),
            ("client_secret", MOCK_SF_CLIENT_SECRET),
        ])
        .send()
        .await?
        .json()
        .await?;
    let access = token["access_token"]
        .as_str()
        .context("the mock's OAuth answer has no access_token")?
        .to_owned();
    let instance = token["instance_url"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| app.salesforce.base_url.clone());
    for e in app.salesforce.handle.requests().into_iter().skip(sf_seen) {
        if e.path.starts_with("/services/oauth2") {
            continue;
        }
        let url = match &e.query {
            Some(q) => format!("{instance}{}?{q}", e.path),
            None => format!("{instance}{}", e.path),
        };
        calls.push(BareCall {
            method: e.method.parse().context("a journal method")?,
            url,
            headers: vec![("Authorization".to_owned(), format!("Bearer {access}"))],
            body: (!e.body.is_null()).then(|| e.body.clone()),
            label: format!("Salesforce {} {}", e.method, e.path),
        });
    }
    if calls.is_empty() {
        bail!("the sample event made no calls to the mocks");
    }
    Ok(calls)
}

/// The bare calls one after another; the time they took.
async fn replay(http: &reqwest::Client, calls: &[BareCall]) -> Result<Duration> {
    let start = Instant::now();
    for c in calls {
        let mut req = http.request(c.method.clone(), &c.url);
        for (k, v) in &c.headers {
            req = req.header(k, v);
        }
        if let Some(b) = &c.body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("bare {}", c.label))?;
        let status = resp.status();
        let _ = resp.bytes().await;
        if !status.is_success() {
            bail!("bare {} answered {status}", c.label);
        }
    }
    Ok(start.elapsed())
}
