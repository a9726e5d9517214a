//! Mock Monday.com GraphQL API (API version 2026-10) for tests and demos.
//!
//! An independent reimplementation of Monday's documented behaviour — it shares no code with
//! crmsync's Monday client:
//!
//! - `POST /v2`: GraphQL with the raw token in `Authorization`, `API-Version` validation,
//!   `extensions.request_id`, transport errors with real statuses (400, 401, 429 + `Retry-After`),
//!   application errors as HTTP 200 in the 2025-01+ shape; a faithful subset of the 2026-10 schema
//!   with introspection.
//! - Column values per type (`value` JSON + `text`), `ColumnValueException` /
//!   `InvalidColumnIdException`, expiring cursors, complexity budget, request and concurrency limits.
//! - Webhooks with the challenge handshake, Monday's payload shapes, app-webhook JWTs, retries every
//!   interval for N attempts, and delivery faults.
//! - The admin API under `/__mock/` (see [`server`] and [`AdminClient`]).
//!
//! Use it in-process with [`MockMonday::builder`], or through the `mock-crm` binary ([`Args`], [`app`]).

#![warn(missing_docs)]

pub mod activity;
pub mod client;
pub mod columns;
pub mod complexity;
pub mod config;
pub mod mock;
pub mod model;
pub mod schema;
pub mod server;
pub mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub use client::{AdminClient, AdminError};
pub use config::{BudgetErrorMode, Config};
pub use mock::{CannedResponse, Faults, JournalEntry, Mock};
pub use model::{BoardDef, ColumnDef, GroupDef, ItemRec, Seed, UserRec};
pub use state::{ColumnValueView, ItemView};
pub use webhooks::{Attempt, Delivery, DeliveryState, JwtClaims, WebhookFaults};

/// Command-line flags of the mock Monday server (flattened into `mock-crm`).
#[derive(clap::Args, Debug, Clone)]
#[group(id = "mock_monday")]
pub struct Args {
    /// API token clients must send raw in `Authorization` (no `Bearer`).
    #[arg(
        long = "monday-token",
        env = "MOCK_MONDAY_TOKEN",
        default_value = "mock-monday-token"
    )]
    pub monday_token: String,
    /// Signing secret for app-webhook JWTs (HS256, `aud` = webhook URL). Unset: deliveries carry no JWT.
    #[arg(long = "monday-signing-secret", env = "MOCK_MONDAY_SIGNING_SECRET")]
    pub monday_signing_secret: Option<String>,
    /// Send the `create_webhook` challenge without the JWT (event deliveries stay signed).
    #[arg(
        long = "monday-unsigned-challenge",
        env = "MOCK_MONDAY_UNSIGNED_CHALLENGE",
        default_value_t = false
    )]
    pub monday_unsigned_challenge: bool,
    /// Complexity budget per window (Monday: 10,000,000 per minute).
    #[arg(long = "monday-budget-points", default_value_t = 10_000_000)]
    pub monday_budget_points: u64,
    /// Length of the budget / request-limit window in seconds (fractions allowed; Monday: 60).
    #[arg(long = "monday-budget-window-secs", default_value_t = 60.0)]
    pub monday_budget_window_secs: f64,
    /// Maximum complexity of one query (Monday: 5,000,000).
    #[arg(long = "monday-query-cap", default_value_t = 5_000_000)]
    pub monday_query_cap: u64,
    /// Requests allowed per window (Monday's per-minute request limit).
    #[arg(long = "monday-requests-per-window", default_value_t = 5_000)]
    pub monday_requests_per_window: u64,
    /// Mutations allowed per window (Monday: 2,000 per minute).
    #[arg(long = "monday-mutations-per-window", default_value_t = 2_000)]
    pub monday_mutations_per_window: u64,
    /// Concurrent requests allowed.
    #[arg(long = "monday-max-concurrency", default_value_t = 250)]
    pub monday_max_concurrency: u64,
    /// How an exhausted budget is answered: 429, 200 (error in the body), or alternate.
    #[arg(long = "monday-budget-error", value_enum, default_value = "429")]
    pub monday_budget_error: BudgetErrorMode,
    /// Multiplies every other time constant: cursor lifetime (60 min) and webhook retry interval
    /// (60 s). E.g. 0.001 makes retries come every 60 ms.
    #[arg(long = "monday-time-scale", default_value_t = 1.0)]
    pub monday_time_scale: f64,
    /// Webhook retries after a failed delivery (Monday: 30, once a minute).
    #[arg(long = "monday-webhook-retries", default_value_t = 30)]
    pub monday_webhook_retries: u32,
}

impl Default for Args {
    fn default() -> Self {
        let c = Config::default();
        Args {
            monday_token: c.token,
            monday_signing_secret: None,
            monday_unsigned_challenge: !c.sign_challenge,
            monday_budget_points: c.budget_points,
            monday_budget_window_secs: 60.0,
            monday_query_cap: c.per_query_cap,
            monday_requests_per_window: c.requests_per_window,
            monday_mutations_per_window: c.mutations_per_window,
            monday_max_concurrency: c.max_concurrency,
            monday_budget_error: c.budget_error_mode,
            monday_time_scale: 1.0,
            monday_webhook_retries: c.webhook_retry_attempts,
        }
    }
}

fn secs(f: f64) -> Duration {
    if f.is_finite() && f > 0.0 {
        Duration::from_secs_f64(f)
    } else {
        Duration::from_millis(1)
    }
}

impl Args {
    /// The configuration these flags describe.
    pub fn config(&self) -> Config {
        let scale = if self.monday_time_scale.is_finite() && self.monday_time_scale > 0.0 {
            self.monday_time_scale
        } else {
            1.0
        };
        Config {
            token: self.monday_token.clone(),
            signing_secret: self.monday_signing_secret.clone(),
            sign_challenge: !self.monday_unsigned_challenge,
            budget_points: self.monday_budget_points,
            budget_window: secs(self.monday_budget_window_secs),
            per_query_cap: self.monday_query_cap,
            requests_per_window: self.monday_requests_per_window,
            mutations_per_window: self.monday_mutations_per_window,
            max_concurrency: self.monday_max_concurrency,
            cursor_ttl: secs(3600.0 * scale),
            webhook_retry_interval: secs(60.0 * scale),
            webhook_retry_attempts: self.monday_webhook_retries,
            webhook_timeout: Duration::from_secs(10),
            budget_error_mode: self.monday_budget_error,
            account_id: Config::default().account_id,
        }
    }
}

/// Builds the mock's router from flags and the seed directory (`fixtures/seed/monday`).
pub async fn app(args: &Args, seed_dir: &Path) -> anyhow::Result<axum::Router> {
    let seed = Seed::load(seed_dir)
        .with_context(|| format!("loading the Monday seed from {}", seed_dir.display()))?;
    let mock = Mock::start(args.config(), seed);
    Ok(server::router(mock))
}

/// Builder of an in-process mock listening on 127.0.0.1:0.
#[derive(Debug, Clone, Default)]
pub struct MockMondayBuilder {
    seed_dir: Option<PathBuf>,
    seed: Option<Seed>,
    config: Config,
}

/// Entry point of the in-process API.
pub struct MockMonday;

impl MockMonday {
    /// A builder with Monday's defaults and the token `mock-monday-token`.
    pub fn builder() -> MockMondayBuilder {
        MockMondayBuilder::default()
    }
}

impl MockMondayBuilder {
    /// Seeds from a directory with `boards.json`, `items.json`, `users.json`.
    pub fn seed_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.seed_dir = Some(dir.into());
        self
    }
    /// Seeds from an in-memory seed.
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }
    /// The API token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = token.into();
        self
    }
    /// The app signing secret (deliveries then carry an HS256 JWT).
    pub fn signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.config.signing_secret = Some(secret.into());
        self
    }
    /// Whether the `create_webhook` challenge carries the JWT (default true); `false` sends it
    /// unsigned while event deliveries stay signed (Monday documents the JWT only for deliveries).
    pub fn sign_challenge(mut self, sign: bool) -> Self {
        self.config.sign_challenge = sign;
        self
    }
    /// Complexity budget points per window and the window length.
    pub fn budget(mut self, points: u64, window: Duration) -> Self {
        self.config.budget_points = points;
        self.config.budget_window = window;
        self
    }
    /// Mutations allowed per window (the window is the budget's; Monday: 2,000 per minute).
    pub fn mutations_per_window(mut self, n: u64) -> Self {
        self.config.mutations_per_window = n;
        self
    }
    /// Requests allowed per window (the window is the budget's; Monday: 5,000 per minute).
    pub fn requests_per_window(mut self, n: u64) -> Self {
        self.config.requests_per_window = n;
        self
    }
    /// Maximum complexity of one query.
    pub fn per_query_cap(mut self, cap: u64) -> Self {
        self.config.per_query_cap = cap;
        self
    }
    /// Requests per window and concurrent requests allowed.
    pub fn request_limits(mut self, per_window: u64, concurrency: u64) -> Self {
        self.config.requests_per_window = per_window;
        self.config.max_concurrency = concurrency;
        self
    }
    /// Lifetime of `items_page` cursors.
    pub fn cursor_ttl(mut self, ttl: Duration) -> Self {
        self.config.cursor_ttl = ttl;
        self
    }
    /// Webhook retry interval and number of retries.
    pub fn webhook_retries(mut self, interval: Duration, attempts: u32) -> Self {
        self.config.webhook_retry_interval = interval;
        self.config.webhook_retry_attempts = attempts;
        self
    }
    /// How budget exhaustion is answered.
    pub fn budget_error_mode(mut self, mode: BudgetErrorMode) -> Self {
        self.config.budget_error_mode = mode;
        self
    }
    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Starts the server in a tokio task on 127.0.0.1:0.
    pub async fn start(self) -> anyhow::Result<RunningMock> {
        let seed = match (self.seed, self.seed_dir) {
            (Some(s), _) => s,
            (None, Some(dir)) => Seed::load(&dir)
                .with_context(|| format!("loading the Monday seed from {}", dir.display()))?,
            (None, None) => Seed::default(),
        };
        let mock = Mock::start(self.config, seed);
        let router = server::router(Arc::clone(&mock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "mock Monday server stopped");
            }
        });
        let base_url = format!("http://{addr}");
        Ok(RunningMock {
            admin: AdminClient::new(&base_url),
            base_url,
            addr,
            mock,
            task,
        })
    }
}

/// A mock running in this process.
pub struct RunningMock {
    /// `http://127.0.0.1:PORT` (the GraphQL endpoint is `{base_url}/v2`).
    pub base_url: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// Typed client of the admin API.
    pub admin: AdminClient,
    /// Direct access to the mock (state, journal, deliveries).
    pub mock: Arc<Mock>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningMock {
    /// The GraphQL endpoint (`{base_url}/v2`).
    pub fn api_url(&self) -> String {
        format!("{}/v2", self.base_url)
    }
    /// The API token clients must send.
    pub fn token(&self) -> &str {
        &self.mock.config.token
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        monday: Args,
    }

    #[test]
    fn flags_and_time_scale() {
        let cli = Cli::try_parse_from([
            "x",
            "--monday-token",
            "t",
            "--monday-budget-points",
            "50000",
            "--monday-budget-window-secs",
            "0.5",
            "--monday-time-scale",
            "0.001",
            "--monday-budget-error",
            "alternate",
        ])
        .unwrap();
        let c = cli.monday.config();
        assert_eq!(c.token, "t");
        assert_eq!(c.budget_points, 50_000);
        assert_eq!(c.budget_window, Duration::from_millis(500));
        assert_eq!(c.webhook_retry_interval, Duration::from_millis(60));
        assert_eq!(c.cursor_ttl, Duration::from_secs_f64(3.6));
        assert_eq!(c.budget_error_mode, BudgetErrorMode::Alternate);
        let d = Cli::try_parse_from(["x"]).unwrap().monday.config();
        assert_eq!(d.budget_points, 10_000_000);
        assert_eq!(d.mutations_per_window, 2_000);
        assert_eq!(d.budget_window, Duration::from_secs(60));
        assert_eq!(d.webhook_retry_attempts, 30);
        assert_eq!(d.cursor_ttl, Duration::from_secs(3600));
    }
}
