//! The artifact suite behind `cargo xtask lambda test` (binary `crmsync-lambda-test`): the
//! *built* `bootstrap`, unpacked from the zip, runs as a real process against the Runtime API
//! [`Emulator`], both mocks, a fake Telegram and a fresh PostgreSQL database (migrated first, as
//! the deploy's `crmsync db migrate` step does). It is fed the API Gateway envelopes of
//! `fixtures/lambda/` around recorded Monday deliveries from `fixtures/events/`, checks every
//! answer and what Salesforce holds afterwards, and measures init time (process start → first
//! `/next`) and peak RSS (`VmHWM`). Then a second process of the same `bootstrap` runs in queue
//! mode against moto's SQS (see [`queue`]): the suite plays the SQS event source mapping.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use crmsync_store::{DeadLetterFilter, EventStatus, Store};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::{jwt_for, SIGNING_SECRET, STATUS_TOKEN};
use crate::lambda_emulator::{Emulator, Outcome};
use crate::pg::PgDatabase;
use crate::seed::boards::LEADS;
use crate::seed::{seed_dir, MOCK_SF_CLIENT_ID, MOCK_SF_CLIENT_SECRET};
use crate::sf_rest::SfRest;
use crate::telegram::FakeTelegram;

mod queue;

/// The function's public URL in the emulated deployment (API Gateway, stage `prod`).
pub const PUBLIC_URL: &str = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod";
/// Function timeout of the emulated function.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The receiver's body limit (the router's default).
const MAX_BODY: usize = crmsync_http::DEFAULT_MAX_BODY_BYTES;

/// What the suite measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Process start → first `GET /next`, in milliseconds.
    pub init_ms: f64,
    /// Peak resident memory of the process over the whole suite (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Resident memory after the first invocation (`VmRSS`), KiB.
    pub rss_after_first_kib: u64,
    /// Invocations made.
    pub invocations: usize,
    /// Slowest invocation (answer time), milliseconds.
    pub slowest_invocation_ms: f64,
    /// Checks that passed.
    pub checks: Vec<String>,
}

/// The front door an HTTP event came through.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Front {
    /// API Gateway HTTP API, payload 2.0, stage `prod`.
    HttpApi,
    /// API Gateway REST API, payload 1.0, stage `prod`.
    RestApi,
    /// A Lambda Function URL (payload 2.0, no stage).
    FunctionUrl,
}

pub(crate) fn fixture(rel: &str) -> Result<Value> {
    let path = seed_dir().join("..").join(rel);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// An HTTP invocation event: the recorded envelope of `front` with this request in it.
pub(crate) fn http_event(
    front: Front,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: &[u8],
    base64: bool,
) -> Result<Value> {
    use base64::Engine;
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let body_text = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).context("a text body")?
    };
    let mut ev = match front {
        Front::HttpApi => fixture("lambda/apigw-http-v2.json")?,
        Front::RestApi => fixture("lambda/apigw-rest-v1.json")?,
        Front::FunctionUrl => fixture("lambda/function-url.json")?,
    };
    let map = ev["headers"].as_object_mut().context("headers")?;
    map.insert("content-length".into(), json!(body.len().to_string()));
    for (k, v) in headers {
        map.insert(k.to_ascii_lowercase(), json!(v));
    }
    match front {
        Front::HttpApi | Front::FunctionUrl => {
            let full = match front {
                Front::HttpApi => format!("/prod{path}"),
                _ => path.to_owned(),
            };
            ev["rawPath"] = json!(full);
            ev["rawQueryString"] = json!(query);
            ev["requestContext"]["http"]["path"] = json!(full);
            ev["requestContext"]["http"]["method"] = json!(method);
            ev["routeKey"] = json!(match front {
                Front::HttpApi => format!("{method} {path}"),
                _ => "$default".to_owned(),
            });
        }
        Front::RestApi => {
            ev["path"] = json!(path);
            ev["resource"] = json!(path);
            ev["httpMethod"] = json!(method);
            ev["requestContext"]["httpMethod"] = json!(method);
            ev["requestContext"]["path"] = json!(format!("/prod{path}"));
            ev["requestContext"]["resourcePath"] = json!(path);
            if !query.is_empty() {
                let pairs: serde_json::Map<String, Value> =
                    url::form_urlencoded::parse(query.as_bytes())
                        .map(|(k, v)| (k.into_owned(), json!(v.into_owned())))
                        .collect();
                let multi: serde_json::Map<String, Value> =
                    pairs.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
                ev["queryStringParameters"] = Value::Object(pairs);
                ev["multiValueQueryStringParameters"] = Value::Object(multi);
            }
        }
    }
    ev["body"] = json!(body_text);
    ev["isBase64Encoded"] = json!(base64);
    Ok(ev)
}

/// A recorded Monday delivery from `fixtures/events/leads/<name>.json` for item `item`.
fn delivery(name: &str, item: &str, item_name: &str, trigger: &str) -> Result<Value> {
    let mut d = fixture(&format!("events/leads/{name}.json"))?["delivery"].clone();
    let ev = d["event"]
        .as_object_mut()
        .context("a delivery with an event")?;
    ev.insert("pulseId".into(), json!(item.parse::<i64>()?));
    ev.insert("pulseName".into(), json!(item_name));
    ev.insert("triggerUuid".into(), json!(trigger));
    ev.insert(
        "triggerTime".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    Ok(d)
}

/// An HTTP answer as the function returned it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

pub(crate) fn answer(outcome: &Outcome) -> Result<Answer> {
    use base64::Engine;
    let Outcome::Response(r) = outcome else {
        bail!("the invocation failed: {outcome:?}");
    };
    let status = r["statusCode"]
        .as_u64()
        .with_context(|| format!("no statusCode in {r}"))? as u16;
    let raw = r["body"].as_str().unwrap_or_default();
    let bytes = if r["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(raw)?
    } else {
        raw.as_bytes().to_vec()
    };
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer { status, body })
}

struct Suite {
    emulator: Emulator,
    store: Store,
    sf: SfRest,
    salesforce: mock_salesforce::RunningMock,
    monday: mock_monday::RunningMock,
    telegram: FakeTelegram,
    pid: u32,
    rss_after_first: u64,
    checks: Vec<String>,
    invocations: usize,
    slowest: Duration,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Suite {
    fn pass(&mut self, name: &str) {
        println!("lambda: ok    {name}");
        self.checks.push(name.to_owned());
    }

    async fn invoke(&mut self, event: Value) -> Result<Outcome> {
        let f = self.emulator.invoke(event).await?;
        self.invocations += 1;
        self.slowest = self.slowest.max(f.elapsed);
        Ok(f.outcome)
    }

    async fn http(&mut self, event: Value) -> Result<Answer> {
        let outcome = self.invoke(event).await?;
        answer(&outcome)
    }

    async fn webhook(&mut self, front: Front, body: &Value, jwt: Option<String>) -> Result<Answer> {
        let mut headers = vec![];
        if let Some(j) = jwt {
            headers.push(("authorization", j));
        }
        let bytes = serde_json::to_vec(body)?;
        let base64 = matches!(front, Front::RestApi);
        self.http(http_event(
            front,
            "POST",
            "/webhooks/monday",
            &headers,
            &bytes,
            base64,
        )?)
        .await
    }

    async fn signed(&mut self, front: Front, body: &Value) -> Result<Answer> {
        let aud = format!("{PUBLIC_URL}/webhooks/monday");
        self.webhook(front, body, Some(jwt_for(&aud, 300))).await
    }

    async fn new_lead(&self, name: &str, last_name: &str) -> Result<String> {
        Ok(self
            .monday
            .admin
            .create_item(LEADS, name, None, json!({"text_mkry1xy1": last_name}))
            .await
            .map_err(|e| anyhow::anyhow!("creating a Monday item: {e:?}"))?
            .item
            .id
            .clone())
    }

    async fn lead_of(&self, item: &str) -> Result<Option<Value>> {
        Ok(self
            .sf
            .by_item("Lead", "Company, LastName, Title, Status", item)
            .await
            .pop())
    }

    async fn event_status(&self, trigger: &str) -> Result<EventStatus> {
        let events = self.store.recent_events(200).await?;
        events
            .iter()
            .find(|e| e.trigger_uuid == trigger)
            .map(|e| e.status)
            .with_context(|| format!("no stored event {trigger}"))
    }

    /// The dead letters whose payload is the delivery `trigger`.
    async fn dead_letters_for(&self, trigger: &str) -> Result<Vec<crmsync_store::DeadLetter>> {
        let all = self
            .store
            .list_dead_letters(&DeadLetterFilter {
                status: None,
                board_id: None,
                before: None,
                limit: 50,
            })
            .await?;
        Ok(all
            .into_iter()
            .filter(|d| d.payload.contains(trigger))
            .collect())
    }

    fn fault(&self, fault: Value) -> Result<()> {
        self.salesforce
            .handle
            .add_fault(serde_json::from_value(fault).context("a mock Salesforce fault")?);
        Ok(())
    }
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The configuration the function gets (what the SAM template sets, pointed at the mocks).
pub(crate) fn function_env(
    database_url: &str,
    salesforce: &str,
    monday: &mock_monday::RunningMock,
    telegram: &str,
) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_owned()),
        (
            "CRMSYNC_MAPPING",
            seed_dir().join("mapping.toml").display().to_string(),
        ),
        ("SALESFORCE_LOGIN_URL", salesforce.to_owned()),
        ("SALESFORCE_CLIENT_ID", MOCK_SF_CLIENT_ID.to_owned()),
        ("SALESFORCE_CLIENT_SECRET", MOCK_SF_CLIENT_SECRET.to_owned()),
        ("MONDAY_API_URL", monday.api_url()),
        ("MONDAY_API_TOKEN", monday.token().to_string()),
        ("MONDAY_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
        (
            "TELEGRAM_BOT_TOKEN",
            "123456:lambda-test-bot-token".to_owned(),
        ),
        ("TELEGRAM_CHAT_ID", "4242".to_owned()),
        ("TELEGRAM_API_URL", telegram.to_owned()),
        ("CRMSYNC_STATUS_TOKEN", STATUS_TOKEN.to_owned()),
        ("CRMSYNC_PUBLIC_URL", PUBLIC_URL.to_owned()),
        ("CRMSYNC_FUNCTION_TIMEOUT_SECS", "30".to_owned()),
        ("CRMSYNC_LEASE_SECS", "60".to_owned()),
        ("CRMSYNC_EVENT_DEADLINE_SECS", "20".to_owned()),
        ("CRMSYNC_INLINE_BUDGET_MS", "3000".to_owned()),
        ("CRMSYNC_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub(crate) fn spawn(
    bootstrap: &Path,
    env: &[(String, String)],
    logs: Arc<Mutex<Vec<String>>>,
) -> Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(bootstrap);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(bootstrap.parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let logs = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                logs.lock().unwrap_or_else(|e| e.into_inner()).push(l);
            }
        });
    }
    Ok(child)
}

/// Runs the whole suite against `bootstrap` (needs `DATABASE_URL`).
pub async fn run(bootstrap: &Path) -> Result<Figures> {
    let bootstrap = std::fs::canonicalize(bootstrap)
        .with_context(|| format!("finding {}", bootstrap.display()))?;
    let db = PgDatabase::create("crmsync_lambda").await;
    // The deploy step (`crmsync db migrate`): the function itself never migrates.
    let store = Store::connect(&db.url).await?;
    store.migrate().await?;

    let salesforce = mock_salesforce::MockSalesforce::builder().start().await?;
    let monday = mock_monday::MockMonday::builder()
        .seed_dir(seed_dir().join("monday"))
        .signing_secret(SIGNING_SECRET)
        .start()
        .await?;
    let telegram = FakeTelegram::start().await;

    // An init error first: the SQLite default is refused with a clear message.
    init_error_case(&bootstrap).await?;

    let emulator = Emulator::start(FUNCTION_TIMEOUT).await?;
    let mut env = emulator.lambda_env();
    env.extend(function_env(
        &db.url,
        &salesforce.base_url,
        &monday,
        &telegram.url,
    ));
    let logs: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let mut child = spawn(&bootstrap, &env, logs.clone())?;
    let pid = child.id().context("the process has no pid")?;
    let init = wait_for_init(&emulator, &mut child, &logs, started).await?;
    let mut suite = Suite {
        emulator,
        store,
        sf: SfRest::new(&salesforce.base_url),
        salesforce,
        monday,
        telegram,
        pid,
        rss_after_first: 0,
        checks: vec!["init error: the SQLite default is refused".into()],
        invocations: 0,
        slowest: Duration::ZERO,
        logs,
    };
    let mut result = cases(&mut suite).await;
    if result.is_ok() {
        result = queue::cases(&mut suite, &bootstrap, &db.url).await;
    }
    let peak = proc_status_kib(suite.pid, "VmHWM:");
    let figures = Figures {
        init_ms: init.as_secs_f64() * 1000.0,
        peak_rss_kib: peak,
        rss_after_first_kib: suite.rss_after_first,
        invocations: suite.invocations,
        slowest_invocation_ms: suite.slowest.as_secs_f64() * 1000.0,
        checks: suite.checks.clone(),
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    if let Err(e) = result {
        let log = suite
            .logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n");
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(e.context(format!(
            "the function's last log lines:\n{}",
            tail.join("\n")
        )));
    }
    suite.store.close().await;
    drop(db);
    Ok(figures)
}

/// Waits until the function asks for its first invocation (init done); the time since `started`.
async fn wait_for_init(
    emulator: &Emulator,
    child: &mut tokio::process::Child,
    logs: &Mutex<Vec<String>>,
    started: Instant,
) -> Result<Duration> {
    loop {
        if let Some(t) = emulator.first_next() {
            return Ok(t.duration_since(started));
        }
        if let Some(st) = child.try_wait()? {
            bail!(
                "bootstrap exited during init ({st}); init error: {:?}; log:\n{}",
                emulator.init_error(),
                logs.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
            );
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "bootstrap did not ask for an invocation within 30 s"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

async fn init_error_case(bootstrap: &Path) -> Result<()> {
    let emulator = Emulator::start(FUNCTION_TIMEOUT).await?;
    let mut env = emulator.lambda_env();
    env.push(("MONDAY_WEBHOOK_TOKEN".into(), "a-shared-token".into()));
    env.push(("CRMSYNC_LOG_FORMAT".into(), "json".into()));
    let logs: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut child = spawn(bootstrap, &env, logs.clone())?;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .context("bootstrap with the SQLite default did not exit")??;
    ensure!(!status.success(), "bootstrap with SQLite exited {status}");
    let (body, kind) = emulator
        .init_error()
        .context("no /runtime/init/error was reported")?;
    let message = body["errorMessage"].as_str().unwrap_or_default();
    ensure!(
        message.contains("SQLite cannot be used on AWS Lambda")
            && message.contains("crmsync db migrate"),
        "unclear init error: {body}"
    );
    ensure!(kind == "Runtime.ConfigError", "error type {kind}");
    ensure!(
        emulator.first_next().is_none(),
        "asked for an invocation despite the init error"
    );
    println!("lambda: ok    init error: the SQLite default is refused ({message})");
    Ok(())
}

async fn cases(s: &mut Suite) -> Result<()> {
    // GET /healthz through a Function URL.
    let a = s
        .http(http_event(
            Front::FunctionUrl,
            "GET",
            "/healthz",
            &[],
            b"",
            false,
        )?)
        .await?;
    ensure!(
        a.status == 200 && a.body["status"] == "ok",
        "healthz: {a:?}"
    );
    s.rss_after_first = proc_status_kib(s.pid, "VmRSS:");
    s.pass("GET /healthz (Function URL) answers 200");

    // The challenge (HTTP API, stage prefix), unauthenticated like Monday's.
    let challenge = json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdrrWcnrUJ"});
    let a = s.webhook(Front::HttpApi, &challenge, None).await?;
    ensure!(a.status == 200 && a.body == challenge, "challenge: {a:?}");
    s.pass("challenge echoed (HTTP API v2, stage /prod)");

    // create_pulse → a Lead.
    let item = s.new_lead("Lambda Harbor Trust", "Okafor").await?;
    let create = delivery(
        "create_pulse",
        &item,
        "Lambda Harbor Trust",
        "lambda-create-1",
    )?;
    let a = s.signed(Front::HttpApi, &create).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "done" && a.body["duplicate"] == false,
        "create_pulse: {a:?}"
    );
    let lead = s
        .lead_of(&item)
        .await?
        .context("no Lead after create_pulse")?;
    ensure!(
        lead["Company"] == "Lambda Harbor Trust" && lead["LastName"] == "Okafor",
        "lead {lead}"
    );
    let lead_id = lead["Id"].as_str().context("a Lead Id")?.to_owned();
    s.pass("create_pulse → 200 done, Lead created in Salesforce");

    // A Salesforce slower than the inline budget (3 s): the answer is 503 (Monday redelivers),
    // and the invocation returns only once the event settled — nothing is left running in a
    // container that Lambda may freeze.
    let slow_item = s.new_lead("Lambda Slow Water Board", "Tanaka").await?;
    s.fault(json!({"path": "/services/data/*/sobjects/Lead/*", "latencyMs": 4000, "times": 1}))?;
    let slow = delivery(
        "create_pulse",
        &slow_item,
        "Lambda Slow Water Board",
        "lambda-slow-1",
    )?;
    let a = s.signed(Front::HttpApi, &slow).await?;
    ensure!(a.status == 503, "slow Salesforce: {a:?}");
    let settled = s.event_status("lambda-slow-1").await?;
    ensure!(
        settled == EventStatus::Done,
        "the invocation returned while its event was {settled:?}"
    );
    ensure!(
        s.lead_of(&slow_item).await?.is_some(),
        "no Lead after the slow create"
    );
    let a = s.signed(Front::HttpApi, &slow).await?;
    ensure!(
        a.status == 200 && a.body["duplicate"] == true && a.body["status"] == "done",
        "the redelivery after a slow create: {a:?}"
    );
    s.salesforce.handle.clear_faults();
    s.pass(
        "slower than the budget → 503, processing awaited inside the invocation, redelivery 200",
    );

    // The same delivery again: a duplicate, still one Lead.
    let a = s.signed(Front::HttpApi, &create).await?;
    ensure!(
        a.status == 200 && a.body["duplicate"] == true,
        "duplicate: {a:?}"
    );
    let leads = s.sf.by_item("Lead", "Company", &item).await;
    ensure!(leads.len() == 1, "{} Leads after a duplicate", leads.len());
    s.pass("duplicate delivery → 200 duplicate, no second Lead");

    // update_column_value through the REST API (v1), body base64-encoded.
    s.monday
        .admin
        .change_column_value(&item, "text_mksf27hv", json!("Program Director"))
        .await
        .map_err(|e| anyhow::anyhow!("changing a column: {e:?}"))?;
    let update = delivery(
        "update_column_value_text",
        &item,
        "Lambda Harbor Trust",
        "lambda-update-1",
    )?;
    let a = s.signed(Front::RestApi, &update).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "done",
        "update_column_value: {a:?}"
    );
    let lead = s.sf.record("Lead", &lead_id).await.context("the Lead")?;
    ensure!(
        lead["Title"] == "Program Director",
        "title not updated: {lead}"
    );
    s.pass("update_column_value (REST API v1, base64 body) → Title updated");

    // update_column_value of a status column through the Function URL.
    s.monday
        .admin
        .change_column_value(
            &item,
            "color_mksj2adq",
            json!({"label": "Working - Contacted"}),
        )
        .await
        .map_err(|e| anyhow::anyhow!("changing a status: {e:?}"))?;
    let status = delivery(
        "update_column_value_status",
        &item,
        "Lambda Harbor Trust",
        "lambda-status-1",
    )?;
    let a = s.signed(Front::FunctionUrl, &status).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "done",
        "status change: {a:?}"
    );
    let lead = s.sf.record("Lead", &lead_id).await.context("the Lead")?;
    ensure!(
        lead["Status"] == "Working - Contacted",
        "status not updated: {lead}"
    );
    s.pass("update_column_value of a status (Function URL) → Status updated");

    // update_name → Company.
    s.monday
        .admin
        .rename(&item, "Lambda Harbour Trust")
        .await
        .map_err(|e| anyhow::anyhow!("renaming: {e:?}"))?;
    let rename = delivery(
        "update_name",
        &item,
        "Lambda Harbour Trust",
        "lambda-name-1",
    )?;
    let a = s.signed(Front::HttpApi, &rename).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "done",
        "update_name: {a:?}"
    );
    let lead = s.sf.record("Lead", &lead_id).await.context("the Lead")?;
    ensure!(
        lead["Company"] == "Lambda Harbour Trust",
        "not renamed: {lead}"
    );
    s.pass("update_name → Company renamed");

    // A status-less event kind that carries nothing to sync → skipped.
    let mut other = fixture("events/other/move_pulse_into_group.json")?["delivery"].clone();
    other["event"]["pulseId"] = json!(item.parse::<i64>()?);
    other["event"]["triggerUuid"] = json!("lambda-move-1");
    let a = s.signed(Front::HttpApi, &other).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "skipped",
        "move_pulse_into_group: {a:?}"
    );
    s.pass("move_pulse_into_group → 200 skipped");

    // A board that is not in the mapping → skipped, nothing written.
    let writes_before = sf_writes(s);
    let mut unknown = fixture("events/other/unknown_board.json")?["delivery"].clone();
    unknown["event"]["triggerUuid"] = json!("lambda-unknown-board-1");
    let a = s.signed(Front::HttpApi, &unknown).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "skipped",
        "unknown board: {a:?}"
    );
    ensure!(
        sf_writes(s) == writes_before,
        "an unknown board wrote to Salesforce"
    );
    s.pass("unknown board → 200 skipped, no Salesforce write");

    // Forged and expired JWTs → 401, nothing stored.
    let forged = {
        let now = chrono::Utc::now().timestamp();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"aud": format!("{PUBLIC_URL}/webhooks/monday"), "exp": now + 300}),
            &jsonwebtoken::EncodingKey::from_secret(b"not-the-signing-secret"),
        )?
    };
    let forged_body = delivery("update_name", &item, "Forged", "lambda-forged-1")?;
    let a = s
        .webhook(Front::HttpApi, &forged_body, Some(forged))
        .await?;
    ensure!(a.status == 401, "forged JWT: {a:?}");
    let expired = jwt_for(&format!("{PUBLIC_URL}/webhooks/monday"), -120);
    let expired_body = delivery("update_name", &item, "Expired", "lambda-expired-1")?;
    let a = s
        .webhook(Front::HttpApi, &expired_body, Some(expired))
        .await?;
    ensure!(a.status == 401, "expired JWT: {a:?}");
    let wrong_aud = jwt_for("https://elsewhere.example.org/webhooks/monday", 300);
    let a = s
        .webhook(Front::HttpApi, &expired_body, Some(wrong_aud))
        .await?;
    ensure!(a.status == 401, "JWT for another URL: {a:?}");
    let missing = s.webhook(Front::HttpApi, &expired_body, None).await?;
    ensure!(missing.status == 401, "no JWT: {missing:?}");
    for t in ["lambda-forged-1", "lambda-expired-1"] {
        ensure!(s.event_status(t).await.is_err(), "{t} was stored");
    }
    let lead = s.sf.record("Lead", &lead_id).await.context("the Lead")?;
    ensure!(
        lead["Company"] == "Lambda Harbour Trust",
        "changed by a refused delivery"
    );
    s.pass("forged, expired, wrong-audience and missing JWT → 401, nothing stored");

    // Malformed and oversized bodies.
    let aud = format!("{PUBLIC_URL}/webhooks/monday");
    let a = s
        .http(http_event(
            Front::HttpApi,
            "POST",
            "/webhooks/monday",
            &[("authorization", jwt_for(&aud, 300))],
            b"{\"event\": {\"type\": ",
            false,
        )?)
        .await?;
    ensure!(a.status == 400, "malformed body: {a:?}");
    let big = format!(
        "{{\"event\":{{\"type\":\"update_name\",\"pad\":\"{}\"}}}}",
        "x".repeat(MAX_BODY + 1)
    );
    let a = s
        .http(http_event(
            Front::HttpApi,
            "POST",
            "/webhooks/monday",
            &[("authorization", jwt_for(&aud, 300))],
            big.as_bytes(),
            true,
        )?)
        .await?;
    ensure!(a.status == 413, "oversized body: {a:?}");
    s.pass("malformed body → 400, oversized body → 413");

    // delete_pulse → the Leads board's on_delete policy (Status = Closed - Not Converted).
    s.monday
        .admin
        .delete(&item)
        .await
        .map_err(|e| anyhow::anyhow!("deleting the item: {e:?}"))?;
    let delete = delivery(
        "delete_pulse",
        &item,
        "Lambda Harbour Trust",
        "lambda-delete-1",
    )?;
    let a = s.signed(Front::HttpApi, &delete).await?;
    ensure!(
        a.status == 200 && a.body["status"] == "done",
        "delete_pulse: {a:?}"
    );
    let lead = s.sf.record("Lead", &lead_id).await.context("the Lead")?;
    ensure!(
        lead["Status"] == "Closed - Not Converted",
        "on_delete not applied: {lead}"
    );
    s.pass("delete_pulse → the board's on_delete policy applied");

    // An invocation that is neither HTTP nor a schedule → an invocation error, not a crash.
    let outcome = s
        .invoke(json!({"Records": [{"eventSource": "aws:s3"}]}))
        .await?;
    let Outcome::Error { body, .. } = &outcome else {
        bail!("an unknown event was answered: {outcome:?}");
    };
    ensure!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("scheduled drain")),
        "unclear error: {body}"
    );
    s.pass("unknown invocation → /error naming what is expected");

    // The status page through API Gateway (Bearer token).
    let a = s
        .http(http_event(
            Front::HttpApi,
            "GET",
            "/status?format=json",
            &[("authorization", format!("Bearer {STATUS_TOKEN}"))],
            b"",
            false,
        )?)
        .await?;
    ensure!(a.status == 200 && a.body.is_object(), "status: {a:?}");
    s.pass("GET /status?format=json with the token → 200");

    drain_cases(s).await?;
    reconcile_case(s).await?;

    // JSON logs carrying the request id.
    let logs = s.logs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let with_id = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("8f3c2a10-"))
        })
        .count();
    ensure!(with_id > 0, "no JSON log line carries the request id");
    let joined = logs.join("\n");
    for secret in [
        SIGNING_SECRET,
        MOCK_SF_CLIENT_SECRET,
        "lambda-test-bot-token",
    ] {
        ensure!(!joined.contains(secret), "a secret reached the log");
    }
    s.pass("JSON logs carry the request id, no secret in them");
    Ok(())
}

/// A change no webhook brought (the item was created on Monday and nothing was delivered): the
/// scheduled sweep finds it in Monday's activity log, stores it and drains it into Salesforce; a
/// second sweep stores nothing.
async fn reconcile_case(s: &mut Suite) -> Result<()> {
    let item = s.new_lead("Lambda Swept Cooperative", "Okafor").await?;
    ensure!(
        s.lead_of(&item).await?.is_none(),
        "a Lead exists before the sweep"
    );
    let outcome = s.invoke(json!({"crmsync": "reconcile"})).await?;
    let Outcome::Response(r) = &outcome else {
        bail!("reconcile failed: {outcome:?}");
    };
    ensure!(
        r["sweep"]["events_stored"].as_u64().unwrap_or(0) >= 1,
        "the sweep stored nothing: {r}"
    );
    let lead = s
        .lead_of(&item)
        .await?
        .context("no Lead after the scheduled sweep")?;
    ensure!(
        lead["Company"] == "Lambda Swept Cooperative" && lead["LastName"] == "Okafor",
        "the swept Lead: {lead}"
    );
    let again = s.invoke(json!({"crmsync": "reconcile"})).await?;
    let Outcome::Response(r) = &again else {
        bail!("second reconcile failed: {again:?}");
    };
    ensure!(
        r["sweep"]["events_stored"] == 0,
        "a second sweep stored events: {r}"
    );
    ensure!(
        s.sf.by_item("Lead", "Company", &item).await.len() == 1,
        "not exactly one Lead for the swept item"
    );
    s.pass("{\"crmsync\":\"reconcile\"} → the sweep applies a change no webhook brought, once");
    Ok(())
}

fn sf_writes(s: &Suite) -> usize {
    s.salesforce
        .handle
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/oauth2/"))
        .count()
}

/// Salesforce fails longer than Monday redelivers; the scheduled drain applies the event. A
/// permanent failure found by the drain ends as a dead letter with exactly one alert.
async fn drain_cases(s: &mut Suite) -> Result<()> {
    let drain_event = fixture("lambda/eventbridge-schedule.json")?;
    // Nothing due: the drain does nothing.
    let outcome = s.invoke(drain_event.clone()).await?;
    let Outcome::Response(r) = &outcome else {
        bail!("drain failed: {outcome:?}");
    };
    ensure!(r["processed"] == 0, "an idle drain processed: {r}");

    // Every Lead write fails with 503 while "Monday" delivers and redelivers.
    let item = s.new_lead("Lambda Outage Cooperative", "Mbeki").await?;
    let lead_path = "/services/data/*/sobjects/Lead/*";
    s.fault(json!({"path": lead_path, "status": 503,
        "body": [{"errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}]}))?;
    let create = delivery(
        "create_pulse",
        &item,
        "Lambda Outage Cooperative",
        "lambda-outage-1",
    )?;
    for attempt in 1..=2 {
        let a = s.signed(Front::HttpApi, &create).await?;
        ensure!(
            a.status == 503,
            "delivery {attempt} during the outage: {a:?} (Monday must redeliver)"
        );
        // The next redelivery comes when the retry is due (Monday: every minute).
        tokio::time::sleep(Duration::from_millis(2200 * attempt)).await;
    }
    ensure!(
        s.lead_of(&item).await?.is_none(),
        "a Lead exists during the outage"
    );
    ensure!(
        s.event_status("lambda-outage-1").await? == EventStatus::Failed,
        "not waiting for a retry"
    );
    // Monday has given up; Salesforce is back; the schedule fires.
    s.salesforce.handle.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let outcome = s.invoke(drain_event.clone()).await?;
        let Outcome::Response(r) = &outcome else {
            bail!("drain failed: {outcome:?}");
        };
        if r["outcomes"]["done"].as_u64().unwrap_or(0) > 0
            || s.event_status("lambda-outage-1").await? == EventStatus::Done
        {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the drain never applied the event: {r}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let lead = s.lead_of(&item).await?.context("no Lead after the drain")?;
    ensure!(
        lead["Company"] == "Lambda Outage Cooperative",
        "lead {lead}"
    );
    s.pass("Salesforce down past the redeliveries → 503s, then the scheduled drain applies it");

    // A transient failure that turns permanent: the drain dead-letters it, one alert.
    let alerts_before = s.telegram.texts().len();
    let item = s.new_lead("Lambda Validation Society", "Ivanova").await?;
    s.fault(json!({"path": lead_path, "status": 503,
        "body": [{"errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}]}))?;
    let create = delivery(
        "create_pulse",
        &item,
        "Lambda Validation Society",
        "lambda-permanent-1",
    )?;
    let a = s.signed(Front::HttpApi, &create).await?;
    ensure!(a.status == 503, "delivery during the outage: {a:?}");
    s.salesforce.handle.clear_faults();
    s.fault(json!({"path": lead_path, "status": 400,
        "body": [{"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                  "message": "Leads need a phone number", "fields": []}]}))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let outcome = s.invoke(drain_event.clone()).await?;
        ensure!(
            matches!(outcome, Outcome::Response(_)),
            "drain failed: {outcome:?}"
        );
        if s.event_status("lambda-permanent-1").await? == EventStatus::Dead {
            break;
        }
        ensure!(Instant::now() < deadline, "never dead-lettered");
    }
    s.salesforce.handle.clear_faults();
    ensure!(
        s.dead_letters_for("lambda-permanent-1").await?.len() == 1,
        "not exactly one dead letter"
    );
    // A further drain sends nothing more about it.
    let _ = s.invoke(drain_event.clone()).await?;
    let alerts: Vec<String> = s.telegram.texts()[alerts_before..].to_vec();
    ensure!(
        alerts.len() == 1 && alerts[0].contains("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        "expected exactly one alert, got {alerts:?}"
    );
    ensure!(
        s.lead_of(&item).await?.is_none(),
        "a Lead despite the validation error"
    );
    s.pass("permanent failure found by the drain → one dead letter, exactly one alert");
    Ok(())
}

/// `crmsync-lambda-test --bootstrap PATH [--report FILE]`.
pub async fn main_with_args(args: &[String]) -> Result<()> {
    let mut bootstrap: Option<PathBuf> = None;
    let mut report: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bootstrap" => bootstrap = it.next().map(PathBuf::from),
            "--report" => report = it.next().map(PathBuf::from),
            other => bail!("unexpected argument {other:?}; usage: crmsync-lambda-test --bootstrap PATH [--report FILE]"),
        }
    }
    let bootstrap = bootstrap.context("--bootstrap PATH is required")?;
    let figures = run(&bootstrap).await?;
    println!(
        "lambda: {} passed, 0 failed; init {:.1} ms, peak RSS {} KiB ({:.1} MiB), {} invocations, slowest {:.0} ms",
        figures.checks.len(),
        figures.init_ms,
        figures.peak_rss_kib,
        figures.peak_rss_kib as f64 / 1024.0,
        figures.invocations,
        figures.slowest_invocation_ms
    );
    if let Some(path) = report {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
