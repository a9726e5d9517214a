//! Replay of recorded scenarios (`cargo xtask replay`, binary `crmsync-replay`): each scenario's
//! starting state seeds both mocks, its deliveries go through the real HTTP receiver and engine
//! (the app as `crmsync serve` runs it, on a fresh store), and the outcome — final Salesforce
//! records of the touched objects, event-log outcomes, dead letters, refused deliveries, alerts,
//! Monday write-backs — is compared with the scenario's insta snapshot (`expected.snap`).
//!
//! The format is documented in `fixtures/README.md`.

pub mod outcome;
pub mod scenario;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::harness::{jwt_for, spawn_app_with, Db, Options, TestApp};
use crate::seed::seed_dir;
use crmsync_sync::RetrySchedule;
pub use scenario::{discover, Loaded, Scenario, Step, EXPECTED_FILE, SCENARIO_FILE};
pub use snapshot::Difference;

/// How to run scenarios.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Store backend.
    pub db: Db,
    /// Write pending snapshots (`expected.snap.new`) for new or changed outcomes instead of
    /// failing on them.
    pub update: bool,
    /// Scenarios run at once.
    pub jobs: usize,
    /// Mapping for scenarios that name none (default `fixtures/seed/mapping.toml`).
    pub mapping: Option<PathBuf>,
}

impl RunConfig {
    /// PostgreSQL when `DATABASE_URL` is set, else SQLite; no update; four at once.
    pub fn from_env() -> RunConfig {
        RunConfig {
            db: if std::env::var_os("DATABASE_URL").is_some() {
                Db::Postgres
            } else {
                Db::Sqlite
            },
            update: false,
            jobs: 4,
            mapping: None,
        }
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The outcome matches `expected.snap`.
    Pass,
    /// It differs, field by field.
    Mismatch(Vec<Difference>),
    /// No `expected.snap` yet, but the replay reproduces the live outcome of a recorded session
    /// (`recorded.json`).
    PassRecorded,
    /// No `expected.snap` yet.
    New,
    /// `--update`: a pending `expected.snap.new` was written.
    Pending,
    /// The run itself failed.
    Error(String),
}

impl Verdict {
    /// Whether the run counts as green.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Verdict::Pass | Verdict::PassRecorded | Verdict::Pending
        )
    }
    fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "ok",
            Verdict::PassRecorded => "ok (as recorded)",
            Verdict::Mismatch(_) => "MISMATCH",
            Verdict::New => "NEW (no expected.snap)",
            Verdict::Pending => "pending (review)",
            Verdict::Error(_) => "ERROR",
        }
    }
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct Report {
    /// Scenario name (its directory).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Deliveries sent (duplicates included).
    pub deliveries: usize,
    /// Verdict.
    pub verdict: Verdict,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs every scenario (at most `config.jobs` at once) and returns the reports in name order.
pub async fn run_all(scenarios: Vec<Loaded>, config: &RunConfig) -> Vec<Report> {
    let jobs = config.jobs.max(1);
    let mut reports: Vec<Report> = futures::stream::iter(scenarios)
        .map(|s| async move { run_one(&s, config).await })
        .buffer_unordered(jobs)
        .collect()
        .await;
    reports.sort_by(|a, b| a.name.cmp(&b.name).then(a.dir.cmp(&b.dir)));
    reports
}

/// Runs one scenario and compares (or, with `update`, writes) its expectation.
pub async fn run_one(s: &Loaded, config: &RunConfig) -> Report {
    let started = Instant::now();
    let (deliveries, verdict) = match replay(s, config).await {
        Ok((n, outcome, recorded)) => (n, judge(s, &outcome, recorded, config.update)),
        Err(e) => (0, Verdict::Error(format!("{e:#}"))),
    };
    Report {
        name: s.name.clone(),
        dir: s.dir.clone(),
        deliveries,
        verdict,
        elapsed: started.elapsed(),
    }
}

fn judge(s: &Loaded, outcome: &Value, recorded: Option<Vec<Difference>>, update: bool) -> Verdict {
    let text = match serde_json::to_string_pretty(outcome) {
        Ok(t) => t,
        Err(e) => return Verdict::Error(format!("rendering the outcome: {e}")),
    };
    let path = s.dir.join(EXPECTED_FILE);
    let pending = s.dir.join(format!("{EXPECTED_FILE}.new"));
    let expected = match snapshot::read_contents(&path) {
        Ok(e) => e,
        Err(e) => return Verdict::Error(format!("{e:#}")),
    };
    let verdict = match &expected {
        Some(e) if e.trim_end() == text.trim_end() => Verdict::Pass,
        Some(e) => {
            let diffs = match serde_json::from_str::<Value>(e) {
                Ok(ev) => snapshot::diff(&ev, outcome),
                Err(err) => vec![Difference {
                    path: "(whole outcome)".into(),
                    expected: Some(format!("JSON ({err})")),
                    actual: Some("a different outcome".into()),
                }],
            };
            if diffs.is_empty() {
                // Same values, other formatting: still a pass.
                Verdict::Pass
            } else {
                Verdict::Mismatch(diffs)
            }
        }
        None => match recorded {
            Some(d) if d.is_empty() => Verdict::PassRecorded,
            Some(d) => Verdict::Mismatch(d),
            None => Verdict::New,
        },
    };
    match (&verdict, update) {
        (Verdict::PassRecorded, false) => Verdict::PassRecorded,
        (Verdict::Pass, _) => {
            let _ = std::fs::remove_file(&pending);
            Verdict::Pass
        }
        (_, true) => match snapshot::write(&pending, &s.name, &text) {
            Ok(()) => Verdict::Pending,
            Err(e) => Verdict::Error(format!("{e:#}")),
        },
        (v, false) => v.clone(),
    }
}

/// The table printed after a run, and the diffs of the scenarios that failed.
pub fn render(reports: &[Report]) -> String {
    let w = reports
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:<w$}  {:>10}  {:<22}  {:>8}\n",
        "scenario", "deliveries", "outcome", "time"
    );
    for r in reports {
        out.push_str(&format!(
            "{:<w$}  {:>10}  {:<22}  {:>7.2}s\n",
            r.name,
            r.deliveries,
            r.verdict.label(),
            r.elapsed.as_secs_f64()
        ));
    }
    let passed = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Pass)
        .count();
    let pending = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Pending)
        .count();
    out.push_str(&format!(
        "\n{} scenarios: {passed} ok, {pending} pending review, {} failed\n",
        reports.len(),
        reports.iter().filter(|r| !r.verdict.is_ok()).count()
    ));
    for r in reports {
        match &r.verdict {
            Verdict::Mismatch(diffs) => {
                out.push_str(&format!(
                    "\n{} ({}): the outcome differs from {EXPECTED_FILE}:\n",
                    r.name,
                    r.dir.display()
                ));
                for d in diffs {
                    out.push_str(&format!("  {d}\n"));
                }
                out.push_str(
                    "  (if this change is intended: `cargo xtask replay <dir> --update`, then `cargo insta review`)\n",
                );
            }
            Verdict::New => out.push_str(&format!(
                "\n{}: no {EXPECTED_FILE} yet; run with --update and review the pending snapshot\n",
                r.name
            )),
            Verdict::Error(e) => out.push_str(&format!("\n{}: {e}\n", r.name)),
            Verdict::Pass | Verdict::PassRecorded | Verdict::Pending => {}
        }
    }
    if pending > 0 {
        out.push_str(
            "\npending snapshots written next to each scenario (expected.snap.new): review with `cargo insta review` (or rename them)\n",
        );
    }
    out
}

/// Replays a scenario and returns (deliveries sent, redacted outcome, and — for a recorded
/// scenario without `expected.snap` — how the replay differs from `recorded.json`).
pub async fn replay(
    s: &Loaded,
    config: &RunConfig,
) -> Result<(usize, Value, Option<Vec<Difference>>)> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let seed = tmp.path().join("seed");
    scenario::build_seed(&seed_dir(), &s.scenario.seed, &seed)
        .with_context(|| format!("{}: building the starting state", s.name))?;
    let mapping = match (&s.scenario.mapping, &config.mapping) {
        (Some(m), _) => s.dir.join(m),
        (None, Some(m)) => m.clone(),
        (None, None) => seed_dir().join("mapping.toml"),
    };
    if !mapping.is_file() {
        bail!("{}: mapping {} not found", s.name, mapping.display());
    }
    let mut opts = Options::new(config.db);
    opts.seed_dir = seed;
    opts.mapping_path = mapping;
    opts.install_webhooks = false;
    // Quick retries, few enough that a scenario whose event must die gets there in seconds.
    opts.retry = RetrySchedule {
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: 6,
    };
    opts.engine.retry = opts.retry.clone();
    opts.engine.concurrency = 1;
    let app = spawn_app_with(opts).await;
    for l in &s.scenario.seed.links {
        let link = crmsync_store::Link {
            monday_board_id: l.board.parse().context("seed.links: board")?,
            monday_item_id: l.item.parse().context("seed.links: item")?,
            sf_object: l.object.clone(),
            sf_id: l.salesforce_id.clone(),
        };
        app.store.upsert_link(&link).await?;
    }
    let before = outcome::Before::capture(&app);
    let result = drive(s, &app).await;
    let out = match result {
        Ok(responses) => {
            let n = responses.len();
            let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
            match outcome::collect(&app, &before, responses).await {
                Ok(o) => match recorded_check(s, &app, &statuses).await {
                    Ok(check) => Ok((n, o, check)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    app.stop().await;
    out
}

/// What the receiver answered one delivery.
#[derive(Debug, Clone)]
pub struct Response {
    /// Step (1-based) and copy (0 = the original, 1.. = duplicates).
    pub step: usize,
    /// Copy number.
    pub copy: u32,
    /// HTTP status.
    pub status: u16,
    /// Body (kept for non-2xx answers and challenge echoes).
    pub body: String,
}

async fn drive(s: &Loaded, app: &TestApp) -> Result<Vec<Response>> {
    let steps = &s.scenario.steps;
    let http = reqwest::Client::new();
    let mut responses = Vec::new();
    for i in 0..steps.len() {
        let step = &steps[i];
        let at = || format!("{}: step {}", s.name, i + 1);
        if step.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.delay_ms)).await;
        }
        // Monday changes happen in step order; only the delivery of a held step waits.
        for change in &step.monday {
            apply_monday(app, change)
                .await
                .with_context(|| format!("{}: Monday change on item {}", at(), change.item))?;
        }
        inject_faults(app, &step.faults)
            .await
            .with_context(|| format!("{}: injecting faults", at()))?;
        if let Some(action) = step.action {
            match action {
                scenario::Action::ReplayDeadLetters => replay_dead_letters(app).await?,
            }
        }
        let mut send_now: Vec<usize> = Vec::new();
        if step.deliver_after.is_none() {
            send_now.push(i);
        }
        send_now.extend(
            steps
                .iter()
                .enumerate()
                .filter(|(_, held)| held.deliver_after == Some(i + 1))
                .map(|(j, _)| j),
        );
        // Each delivery settles before the next is sent: what a delivery makes the engine store
        // (a follow-up, a write-back event) comes before the next delivery in the event log
        // whether or not inline processing finished within the receiver's budget (under load it
        // may not, and a held delivery then overtook the follow-up in the log).
        for j in send_now {
            let sent = send(&http, app, s, j).await?;
            responses.extend(sent);
            settle(app)
                .await
                .with_context(|| format!("{}: waiting for the engine", at()))?;
        }
        settle(app)
            .await
            .with_context(|| format!("{}: waiting for the engine", at()))?;
        clear_faults(app).await?;
    }
    Ok(responses)
}

/// Sends step `j`'s delivery (and its duplicates) through the receiver.
async fn send(
    http: &reqwest::Client,
    app: &TestApp,
    s: &Loaded,
    j: usize,
) -> Result<Vec<Response>> {
    let step = &s.scenario.steps[j];
    let at = || format!("{}: step {}", s.name, j + 1);
    let mut out = Vec::new();
    let Some(body) = step.body(&s.dir).with_context(at)? else {
        return Ok(out);
    };
    for copy in 0..=step.duplicate {
        let mut req = http.post(&app.webhook_url).body(body.clone());
        let mut has_type = false;
        for (k, v) in &step.headers {
            let lk = k.to_ascii_lowercase();
            if matches!(
                lk.as_str(),
                "authorization"
                    | "host"
                    | "content-length"
                    | "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "te"
                    | "trailer"
                    | "upgrade"
                    | "expect"
            ) {
                continue;
            }
            has_type |= lk == "content-type";
            req = req.header(k.as_str(), v.as_str());
        }
        if !has_type {
            req = req.header("content-type", "application/json");
        }
        if let Some(token) = auth_header(step.auth, &app.webhook_url) {
            req = req.header("authorization", token);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{}: sending the delivery", at()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        out.push(Response {
            step: j + 1,
            copy,
            status,
            body: text,
        });
    }
    Ok(out)
}

fn auth_header(auth: scenario::Auth, url: &str) -> Option<String> {
    use scenario::Auth;
    match auth {
        Auth::Jwt => Some(jwt_for(url, 300)),
        Auth::ExpiredJwt => Some(jwt_for(url, -600)),
        Auth::WrongAudience => Some(jwt_for("https://elsewhere.example/webhooks/monday", 300)),
        Auth::ForgedJwt => {
            let now = chrono::Utc::now().timestamp();
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &json!({"accountId": 1, "userId": 1, "aud": url, "exp": now + 300, "iat": now}),
                &jsonwebtoken::EncodingKey::from_secret(b"not-the-signing-secret"),
            )
            .ok()
        }
        Auth::None => None,
    }
}

async fn apply_monday(app: &TestApp, c: &scenario::MondayChange) -> Result<()> {
    let admin = &app.monday.admin;
    if let Some(set) = &c.set {
        let id: u64 = c
            .item
            .parse()
            .with_context(|| format!("item id {:?}", c.item))?;
        let mut state = app.monday.mock.lock_state();
        let item = state
            .items
            .get_mut(&id)
            .with_context(|| format!("no item {id} on the mock Monday"))?;
        for (k, v) in set {
            if v.is_null() {
                item.column_values.remove(k);
            } else {
                item.column_values.insert(k.clone(), v.clone());
            }
        }
    }
    let mut values = c.values.clone().unwrap_or_default();
    if let Some(name) = &c.name {
        values.insert("name".into(), Value::String(name.clone()));
    }
    if !values.is_empty() {
        admin
            .change_column_values(&c.item, Value::Object(values))
            .await
            .map_err(|e| anyhow!("{e}"))?;
    }
    if c.archive {
        admin.archive(&c.item).await.map_err(|e| anyhow!("{e}"))?;
    }
    if c.delete {
        admin.delete(&c.item).await.map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

async fn inject_faults(app: &TestApp, f: &scenario::StepFaults) -> Result<()> {
    for v in &f.salesforce {
        let fault: mock_salesforce::Fault =
            serde_json::from_value(v.clone()).with_context(|| format!("a Salesforce fault {v}"))?;
        app.salesforce.handle.add_fault(fault);
    }
    if !f.monday.is_empty() {
        let canned = f
            .monday
            .iter()
            .map(|v| {
                serde_json::from_value::<mock_monday::CannedResponse>(v.clone())
                    .with_context(|| format!("a Monday canned answer {v}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let faults = mock_monday::Faults {
            fail_next: canned,
            ..Default::default()
        };
        app.monday
            .admin
            .set_faults(&faults)
            .await
            .map_err(|e| anyhow!("{e}"))?;
    }
    if f.expire_salesforce_sessions {
        app.salesforce.handle.expire_sessions();
    }
    Ok(())
}

async fn clear_faults(app: &TestApp) -> Result<()> {
    app.salesforce.handle.clear_faults();
    app.monday
        .admin
        .clear_faults()
        .await
        .map_err(|e| anyhow!("clearing the Monday faults: {e}"))
}

async fn replay_dead_letters(app: &TestApp) -> Result<()> {
    let open = app
        .store
        .list_dead_letters(&crmsync_store::DeadLetterFilter {
            status: Some(crmsync_store::DeadLetterStatus::Open),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    // Oldest first, as `crmsync dead-letters replay` does.
    let mut ids: Vec<_> = open.iter().map(|d| d.id).collect();
    ids.sort();
    for id in ids {
        // Replaying a root event's dead letter also requeues its follow-ups' letters.
        let still_open = app
            .store
            .get_dead_letter(id)
            .await?
            .is_some_and(|d| d.status == crmsync_store::DeadLetterStatus::Open);
        if !still_open {
            continue;
        }
        app.engine
            .replay_dead_letter(id)
            .await
            .with_context(|| format!("replaying dead letter {id}"))?;
    }
    Ok(())
}

/// Waits until the event log has no open event (twice, 100 ms apart: write-back events and
/// follow-ups are stored while others settle). Fails after 30 s.
async fn settle(app: &TestApp) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet = 0;
    loop {
        let c = app
            .store
            .event_counts_since(chrono::DateTime::UNIX_EPOCH)
            .await?;
        let open = c.pending + c.processing + c.failed;
        if open == 0 {
            quiet += 1;
            if quiet >= 2 {
                return Ok(());
            }
        } else {
            quiet = 0;
        }
        if Instant::now() >= deadline {
            bail!("{open} events still open after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// For a recorded scenario without `expected.snap`: how the replay differs from the live
/// session's `recorded.json` (the answers, and every recorded Salesforce field of each touched
/// item's linked record). `None` when there is nothing recorded to check against.
async fn recorded_check(
    s: &Loaded,
    app: &TestApp,
    statuses: &[u16],
) -> Result<Option<Vec<Difference>>> {
    let path = s.dir.join("recorded.json");
    if s.dir.join(EXPECTED_FILE).exists() || !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let recorded: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut diffs = snapshot::diff(&recorded["deliveries"], &json!(statuses));
    for d in &mut diffs {
        d.path = format!("deliveries{}", d.path);
    }
    for item in recorded["items"].as_array().into_iter().flatten() {
        let board = item["board"].as_str().unwrap_or_default();
        let id = item["item"].as_str().unwrap_or_default();
        let at = format!("items.{board}/{id}");
        let link = match (board.parse::<i64>(), id.parse::<i64>()) {
            (Ok(b), Ok(i)) => app.store.find_link_by_monday(b, i).await?,
            _ => None,
        };
        let Some(fields) = item["fields"].as_object() else {
            if link.is_some() {
                diffs.push(Difference {
                    path: at,
                    expected: Some("no Salesforce record".into()),
                    actual: Some("a linked record".into()),
                });
            }
            continue;
        };
        let Some(link) = link else {
            diffs.push(Difference {
                path: at,
                expected: Some("a linked record".into()),
                actual: Some("no link".into()),
            });
            continue;
        };
        let record = app
            .salesforce
            .handle
            .record(&link.sf_object, &link.sf_id)
            .unwrap_or_default();
        for (field, want) in fields {
            let got = record.get(field).cloned().unwrap_or(Value::Null);
            if &got != want {
                diffs.push(Difference {
                    path: format!("{at}.{}.{field}", link.sf_object),
                    expected: Some(want.to_string()),
                    actual: Some(got.to_string()),
                });
            }
        }
    }
    Ok(Some(diffs))
}

/// Where the repository's `fixtures/` is.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
