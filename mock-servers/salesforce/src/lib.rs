//! Mock Salesforce REST API (independent of crmsync's client).
//!
//! An axum server that behaves like the documented Salesforce REST API closely enough for
//! third-party clients (simple-salesforce, jsforce) to work against it unchanged: OAuth 2.0 token
//! endpoint (client credentials, password, refresh token with optional rotation, JWT bearer),
//! REST resources for API versions 46.0–66.0 (describe, CRUD, upsert, query/queryAll paging,
//! sObject Collections including retrieve by ids — `GET ?ids=&fields=` (414 past a 16 KiB URI) and
//! `POST {"ids","fields"}` (up to 2,000) —, `/composite`, Bulk API 2.0 query jobs), data rules of a real org, daily
//! API limits and an admin API under `/__mock/` for tests (reset, state dump, request journal,
//! fault injection, session expiry, limit exhaustion, row locks).
//!
//! Entry points: [`app`] (router for the `mock-crm` binary) and [`MockSalesforce::builder`]
//! (in-process server on `127.0.0.1:0` for tests). [`soql`] is a standalone SOQL parser/printer.
//!
//! Admin API (no authentication, not journaled, not counted against limits):
//! - `POST /__mock/reset` — restore seed records; clear journal, faults, locks, query cursors, jobs
//!   and API usage (access and refresh tokens stay valid).
//! - `GET /__mock/state[?object=Lead]` — every record (including deleted ones), API usage, session count.
//! - `GET|DELETE /__mock/requests` — the request journal ([`JournalEntry`]; OAuth secrets redacted).
//! - `GET|POST|DELETE /__mock/faults` — [`Fault`]s as JSON (one or an array):
//!   `{"method":"PATCH","path":"/services/data/*/sobjects/Lead/*","status":503,"body":[…],"latencyMs":200,"times":2}`
//!   or `"probability":0.3`; without `status` only latency is added. `"after":true` applies the
//!   request for real first (records written, usage counted), then waits `latencyMs` and answers
//!   the fault's `status`/`body` instead of the real answer (no `status`: the real answer, late).
//! - `POST /__mock/sessions/expire` — every access token now answers `401 INVALID_SESSION_ID`.
//! - `POST /__mock/limits/exhaust`, `POST /__mock/limits {"used":N,"max":M}` — daily allocation.
//! - `POST|DELETE /__mock/locks {"ids":[…]}` — writes to those records fail with `UNABLE_TO_LOCK_ROW`.
//! - `POST /__mock/refresh-tokens` — mint a refresh token for the integration user.
//!
//! Defaults: client id `mock-client-id`, secret `mock-client-secret`, password `mock-password`
//! (for any seeded User's `Username`), refresh token `mock-refresh-token`, tokens valid 7200 s,
//! 15,000 API requests per day, 10 MiB bodies.

pub mod error;
pub mod ids;
pub mod schema;
pub mod soql;
pub mod store;

mod oauth;
mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use server::{Fault, JournalEntry, MockHandle, MAX_OPEN_CURSORS};

/// Oldest API version served.
pub const MIN_VERSION: u32 = 46;
/// Newest ("current") API version served.
pub const CURRENT_VERSION: u32 = 66;

/// Errors building or starting the mock.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Reading a seed file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A seed file is not valid JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The seed is inconsistent.
    #[error("invalid seed: {0}")]
    Seed(String),
    /// The JWT public key could not be read or parsed.
    #[error("JWT public key {path}: {message}")]
    JwtKey {
        /// Where the key came from.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Binding the listener failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Command-line flags of the mock Salesforce server (flattened into `mock-crm`).
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// OAuth client id (connected app consumer key) accepted by the token endpoint.
    #[arg(
        long = "sf-client-id",
        env = "MOCK_SF_CLIENT_ID",
        default_value = "mock-client-id"
    )]
    pub client_id: String,
    /// OAuth client secret accepted by the token endpoint.
    #[arg(
        long = "sf-client-secret",
        env = "MOCK_SF_CLIENT_SECRET",
        default_value = "mock-client-secret"
    )]
    pub client_secret: String,
    /// Password for the `password` grant (any seeded User's Username; a security token may be appended).
    #[arg(long = "sf-password", default_value = "mock-password")]
    pub password: String,
    /// A refresh token valid at start (for the `refresh_token` grant), issued to the integration user.
    #[arg(long = "sf-refresh-token", default_value = "mock-refresh-token")]
    pub refresh_token: String,
    /// Rotate refresh tokens: a used refresh token stops working and a new one is returned.
    #[arg(long = "sf-rotate-refresh-tokens", default_value_t = false)]
    pub rotate_refresh_tokens: bool,
    /// Access token lifetime in seconds.
    #[arg(long = "sf-token-ttl-secs", default_value_t = 7200)]
    pub token_ttl_secs: u64,
    /// Daily API request allocation (`DailyApiRequests.Max`).
    #[arg(long = "sf-daily-limit", default_value_t = 15000)]
    pub daily_limit: u64,
    /// PEM file with the RSA public key that verifies JWT bearer assertions (grant disabled without it).
    #[arg(long = "sf-jwt-public-key")]
    pub jwt_public_key: Option<PathBuf>,
    /// Maximum request body size in bytes; larger bodies get 413.
    #[arg(long = "sf-max-body-bytes", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Serve the mock Salesforce over https with a self-signed certificate written (PEM) to PATH.
    #[arg(long = "tls", value_name = "PATH")]
    pub tls: Option<PathBuf>,
    /// Multiply the seed N times (deterministic): every record except Users N times, with
    /// unique names and emails, each copy's references pointing at the same copy's records.
    #[arg(long = "scale", value_name = "N", default_value_t = 1)]
    pub scale: u32,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            client_id: "mock-client-id".into(),
            client_secret: "mock-client-secret".into(),
            password: "mock-password".into(),
            refresh_token: "mock-refresh-token".into(),
            rotate_refresh_tokens: false,
            token_ttl_secs: 7200,
            daily_limit: 15000,
            jwt_public_key: None,
            max_body_bytes: 10 * 1024 * 1024,
            tls: None,
            scale: 1,
        }
    }
}

/// Builds the router of the mock Salesforce server from flags and a seed directory
/// (`sobjects/*.describe.json`, `records/*.json`, optional `org.json`).
pub async fn app(args: &Args, seed_dir: &Path) -> anyhow::Result<axum::Router> {
    let jwt_pem = match &args.jwt_public_key {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| MockError::JwtKey {
            path: p.display().to_string(),
            message: e.to_string(),
        })?),
        None => None,
    };
    let handle = MockHandle::new(args, jwt_pem.as_deref(), seed_dir)?;
    Ok(server::router(handle))
}

/// The seed shipped in the repository (`fixtures/seed/salesforce`).
pub fn default_seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/salesforce")
}

/// In-process mock for tests: `MockSalesforce::builder().start().await`.
pub struct MockSalesforce;

impl MockSalesforce {
    /// A builder with the default flags and the repository seed.
    pub fn builder() -> MockSalesforceBuilder {
        MockSalesforceBuilder {
            args: Args::default(),
            seed_dir: default_seed_dir(),
            jwt_public_key_pem: None,
        }
    }
}

/// Configures an in-process mock.
#[derive(Clone, Debug)]
pub struct MockSalesforceBuilder {
    args: Args,
    seed_dir: PathBuf,
    jwt_public_key_pem: Option<String>,
}

impl MockSalesforceBuilder {
    /// Seed directory (default: the repository's `fixtures/seed/salesforce`).
    pub fn seed_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.seed_dir = dir.into();
        self
    }
    /// Client id and secret accepted by the token endpoint.
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.args.client_id = id.into();
        self.args.client_secret = secret.into();
        self
    }
    /// Password for the `password` grant.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.args.password = password.into();
        self
    }
    /// Initially valid refresh token.
    pub fn refresh_token(mut self, token: impl Into<String>) -> Self {
        self.args.refresh_token = token.into();
        self
    }
    /// Rotate refresh tokens on use.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.args.rotate_refresh_tokens = rotate;
        self
    }
    /// Access token lifetime.
    pub fn token_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.args.token_ttl_secs = ttl.as_secs();
        self
    }
    /// Daily API request allocation.
    pub fn daily_limit(mut self, max: u64) -> Self {
        self.args.daily_limit = max;
        self
    }
    /// Maximum request body size.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.args.max_body_bytes = max;
        self
    }
    /// Multiplies the seed `n` times (see [`Args::scale`]; default 1 = the seed as it is).
    pub fn scale(mut self, n: u32) -> Self {
        self.args.scale = n;
        self
    }
    /// RSA public key (PEM) that verifies JWT bearer assertions.
    pub fn jwt_public_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.jwt_public_key_pem = Some(pem.into());
        self
    }

    /// Builds the router and admin handle without listening (for `tower::ServiceExt::oneshot`).
    pub fn build(self) -> Result<(axum::Router, MockHandle), MockError> {
        let handle = MockHandle::new(
            &self.args,
            self.jwt_public_key_pem.as_deref(),
            &self.seed_dir,
        )?;
        Ok((server::router(handle.clone()), handle))
    }

    /// Serves on `127.0.0.1:0` in a tokio task (stopped when the [`RunningMock`] is dropped).
    pub async fn start(self) -> Result<RunningMock, MockError> {
        let (router, handle) = self.build()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| MockError::Bind {
                addr: "127.0.0.1:0".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "mock salesforce server stopped");
            }
        });
        Ok(RunningMock {
            base_url: format!("http://{addr}"),
            addr,
            handle,
            task,
        })
    }
}

/// A mock serving in the background.
pub struct RunningMock {
    /// `http://127.0.0.1:PORT` (login URL and instance URL alike).
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// In-process admin API (same operations as `/__mock/…`).
    pub handle: MockHandle,
    task: tokio::task::JoinHandle<()>,
}

impl RunningMock {
    /// `base_url` + `/services/data/v66.0`.
    pub fn data_url(&self) -> String {
        format!("{}/services/data/v{CURRENT_VERSION}.0", self.base_url)
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Shared pointer type used by the server.
pub(crate) type Shared = Arc<server::Inner>;
