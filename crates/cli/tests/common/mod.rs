//! Helpers for driving the built `crmsync` binary like a user would: in-process mocks, a fresh
//! store (SQLite temp file or a fresh PostgreSQL database on the server of `DATABASE_URL`), the
//! environment the binary reads, and `crmsync serve` as a child process.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SF_CLIENT_ID: &str = "cli-test-client";
pub const SF_CLIENT_SECRET: &str = "cli-test-secret-do-not-print";
pub const WEBHOOK_TOKEN: &str = "cli-test-webhook-token";
pub use crmsync_testkit::{seed_dir, seed_mapping, Db, CONTACTS, LEADS};

/// Both mocks in this process plus a store and a working directory for the binary.
pub struct Env {
    pub salesforce: mock_salesforce::RunningMock,
    pub monday: mock_monday::RunningMock,
    pub database_url: String,
    pub mapping: PathBuf,
    /// Working directory of every `crmsync` run (no stray `.env`).
    pub dir: tempfile::TempDir,
    /// Extra or overriding variables.
    pub vars: Vec<(String, String)>,
    /// Variables removed from the default environment.
    pub removed: Vec<String>,
    /// This test's PostgreSQL database, dropped with the `Env` (also when the test panics).
    pub pg: Option<crmsync_testkit::PgDatabase>,
}

impl Env {
    pub async fn start(db: Db) -> Env {
        Env::start_with(db, None).await
    }

    /// With `signing_secret`, the mock Monday signs deliveries (app webhooks, JWT).
    pub async fn start_with(db: Db, signing_secret: Option<&str>) -> Env {
        Env::start_full(db, signing_secret, None).await
    }

    /// With the mock Monday's complexity budget and mutation limit lifted and `crmsync`'s Monday
    /// client unpaced (the migration tests: limits off).
    pub async fn start_unmetered(db: Db) -> Env {
        let mut env = Env::start_full(db, None, Some(1_000_000_000_000)).await;
        env.vars
            .push(("MONDAY_MUTATIONS_PER_MINUTE".into(), "0".into()));
        env
    }

    async fn start_full(db: Db, signing_secret: Option<&str>, budget: Option<u64>) -> Env {
        let salesforce = mock_salesforce::MockSalesforce::builder()
            .client_credentials(SF_CLIENT_ID, SF_CLIENT_SECRET)
            .start()
            .await
            .unwrap();
        let mut builder = mock_monday::MockMonday::builder()
            .seed_dir(seed_dir().join("monday"))
            .webhook_retries(Duration::from_millis(300), 60);
        if let Some(secret) = signing_secret {
            builder = builder.signing_secret(secret);
        }
        if let Some(points) = budget {
            // Limits off: the budget and the mutation limit lifted; the binary runs unpaced
            // (`MONDAY_MUTATIONS_PER_MINUTE=0`, see `start_unmetered`).
            builder = builder
                .budget(points, Duration::from_secs(60))
                .mutations_per_window(u64::MAX);
        }
        let monday = builder.start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pg = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(crmsync_testkit::PgDatabase::create("crmsync_cli").await),
        };
        let database_url = match &pg {
            None => format!("sqlite://{}", dir.path().join("crmsync.db").display()),
            Some(pg) => pg.url.clone(),
        };
        Env {
            salesforce,
            monday,
            database_url,
            mapping: seed_mapping(),
            dir,
            vars: Vec::new(),
            removed: Vec::new(),
            pg,
        }
    }

    /// The environment `crmsync` runs with.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = [
            ("DATABASE_URL", self.database_url.clone()),
            ("CRMSYNC_MAPPING", self.mapping.display().to_string()),
            ("SALESFORCE_LOGIN_URL", self.salesforce.base_url.clone()),
            ("SALESFORCE_CLIENT_ID", SF_CLIENT_ID.to_owned()),
            ("SALESFORCE_CLIENT_SECRET", SF_CLIENT_SECRET.to_owned()),
            ("MONDAY_API_URL", self.monday.api_url()),
            ("MONDAY_API_TOKEN", self.monday.token().to_owned()),
            ("MONDAY_WEBHOOK_TOKEN", WEBHOOK_TOKEN.to_owned()),
            ("RUST_LOG", "info,sqlx=warn".to_owned()),
        ]
        .into_iter()
        .filter(|(k, _)| !self.removed.iter().any(|r| r == k))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, val) in &self.vars {
            v.retain(|(kk, _)| kk != k);
            v.push((k.clone(), val.clone()));
        }
        v
    }

    pub fn command(&self, args: &[&str]) -> Command {
        command(self.dir.path(), &self.env(), args)
    }

    /// Runs `crmsync ARGS` to completion.
    pub async fn run(&self, args: &[&str]) -> Run {
        run(self.command(args)).await
    }

    /// Starts `crmsync serve --addr 127.0.0.1:0` and waits until it listens.
    pub async fn serve(&self) -> Server {
        Server::start(self.command(&["serve", "--addr", "127.0.0.1:0"])).await
    }

    /// Starts `crmsync serve ARGS` and waits until it listens.
    pub async fn serve_with(&self, args: &[&str]) -> Server {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        Server::start(self.command(&all)).await
    }

    /// Starts `crmsync serve --addr 127.0.0.1:PORT --public-url http://127.0.0.1:PORT EXTRA` on a
    /// free port (the public URL must be known before it starts: it is the JWT audience), installs
    /// the webhooks there, and returns the server and its public URL.
    pub async fn serve_public(&self, extra: &[&str]) -> (Server, String) {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let public = format!("http://127.0.0.1:{port}");
        let addr = format!("127.0.0.1:{port}");
        let mut args = vec!["--addr", addr.as_str(), "--public-url", public.as_str()];
        args.extend_from_slice(extra);
        let server = self.serve_with(&args).await;
        self.run(&["webhooks", "install", "--url", &public])
            .await
            .ok();
        (server, public)
    }

    /// Reads the mock Salesforce through its REST API with crmsync's client.
    pub fn sf(&self) -> crmsync_salesforce::SalesforceClient {
        crmsync_salesforce::SalesforceClient::new(crmsync_salesforce::SalesforceConfig::new(
            url::Url::parse(&self.salesforce.base_url).unwrap(),
            SF_CLIENT_ID,
            secrecy::SecretString::from(SF_CLIENT_SECRET),
            crmsync_salesforce::AuthMode::ClientCredentials,
        ))
        .unwrap()
    }
}

/// `crmsync ARGS` with exactly `env` (plus PATH and HOME), in `dir`.
pub fn command(dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crmsync"));
    c.args(args).current_dir(dir).env_clear();
    for k in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(k) {
            c.env(k, v);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::null()).kill_on_drop(true);
    c
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, Some(0), "expected success:\n{self}");
        self
    }
    pub fn failed(&self) -> &Run {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a failure:\n{self}"
        );
        self
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub async fn run(mut c: Command) -> Run {
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).output(),
    )
    .await
    .expect("crmsync did not finish within 300 s")
    .expect("running crmsync");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `crmsync serve` running as a child process.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    async fn start(mut c: Command) -> Server {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting crmsync serve");
        let stderr: Arc<Mutex<String>> = Arc::default();
        let mut err = child.stderr.take().unwrap();
        let e = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                e.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "crmsync serve did not listen within 60 s; stderr:\n{}",
                    stderr.lock().unwrap()
                )
            })
            .unwrap();
        let Some(first) = first else {
            let status = child.wait().await;
            panic!(
                "crmsync serve exited ({status:?}) before listening; stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        let base_url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_owned();
        let stdout = Arc::new(Mutex::new(format!("{first}\n")));
        let o = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                o.lock().unwrap().push_str(&format!("{l}\n"));
            }
        });
        Server {
            child,
            base_url,
            stdout,
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the exit code (at most 30 s).
    pub async fn terminate(mut self) -> (Option<i32>, String, String) {
        let pid = self.child.id().expect("server pid");
        let st = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(st.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("crmsync serve did not stop within 30 s of SIGTERM")
            .unwrap();
        // Let the readers drain.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status.code(), out, err)
    }
}

/// Polls `f` until it returns `Some` (at most 30 s).
pub async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_for(what, Duration::from_secs(30), f).await
}

/// Polls `f` until it returns `Some` (at most `limit`).
pub async fn eventually_for<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `mock-crm` binary (built on first use into this test's target directory: `crmsync`'s
/// tests start it as the rehearsal's mocks, as a user's `crmsync` finds it next to itself).
pub fn mock_crm() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // `cargo xtask test` built it with the workspace and says where.
            if let Some(p) = std::env::var_os("CRMSYNC_TEST_MOCK_CRM").map(PathBuf::from) {
                assert!(
                    p.is_file(),
                    "CRMSYNC_TEST_MOCK_CRM={} does not exist",
                    p.display()
                );
                return p;
            }
            let status = std::process::Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "mock-crm", "--bin", "mock-crm"])
                .status()
                .expect("running cargo build -p mock-crm");
            assert!(status.success(), "cargo build -p mock-crm failed");
            let path = Path::new(env!("CARGO_BIN_EXE_crmsync")).with_file_name("mock-crm");
            assert!(path.exists(), "{} was not built", path.display());
            path
        })
        .clone()
}

/// `mock-crm` arguments that lift the mock Monday's complexity budget and mutation limit (the
/// migration tests run with the limits off; the limits have tests of their own).
pub const LIFTED: &str =
    "--monday-budget-points 1000000000000 --monday-mutations-per-window 1000000000";

impl Env {
    /// A Monday client on this environment's mock Monday.
    pub fn monday_client(&self) -> crmsync_monday::MondayClient {
        crmsync_monday::MondayClient::new(
            crmsync_monday::MondayConfig::new(secrecy::SecretString::from(
                self.monday.token().to_string(),
            ))
            .with_api_url(self.monday.api_url()),
        )
        .unwrap()
    }

    /// Every item of a board.
    pub async fn board_items(&self, board: &str) -> Vec<crmsync_monday::Item> {
        use futures::StreamExt;
        let c = self.monday_client();
        let mut s = c.items_stream(board, crmsync_monday::ItemsPageOptions::default());
        let mut out = Vec::new();
        while let Some(i) = s.next().await {
            out.push(i.unwrap());
        }
        out
    }

    /// The non-empty texts of one column over a board's items, sorted.
    pub async fn column_texts(&self, board: &str, column: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .board_items(board)
            .await
            .iter()
            .filter_map(|i| {
                i.column_values
                    .iter()
                    .find(|c| c.id == column)
                    .and_then(|c| c.text.clone())
                    .filter(|t| !t.is_empty())
            })
            .collect();
        out.sort();
        out
    }

    /// Records in the configured store that a rehearsal of `plan_hash` passed: the setup of
    /// tests about the production stage (the gate itself is tested through the binary in
    /// `migrate.rs`, with a real rehearsal).
    pub async fn record_passed_rehearsal(&self, plan_hash: &str) {
        let store = crmsync_store::Store::connect(&self.database_url)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let run = store
            .start_run(crmsync_store::MigrationStage::Rehearsal, plan_hash)
            .await
            .unwrap();
        store
            .finish_run(
                run,
                crmsync_store::RunOutcome::Passed,
                &crmsync_store::RunCounts::default(),
            )
            .await
            .unwrap();
        store.close().await;
    }
}

/// The plan hash named in a refusal of the production stage (exit 2).
pub fn refused_hash(r: &Run) -> String {
    assert_eq!(r.code, Some(2), "expected the refusal (exit 2):\n{r}");
    assert!(
        r.stderr.contains("crmsync migrate run --stage rehearsal"),
        "{r}"
    );
    let at = r.stderr.find("plan ").expect("names the plan") + 5;
    r.stderr[at..at + 16].to_string()
}
