//! `cargo xtask chaos` (binary `crmsync-chaos`): the fault matrix. Each row starts a fresh app
//! (router + worker on a socket, both mocks on loopback, PostgreSQL), injects one kind of fault
//! through the mocks' admin API (or cuts/restarts the store), performs real user edits on the
//! mock Monday (whose webhooks deliver to the receiver and redeliver on a non-200), lifts the
//! fault, waits until everything settled, and then counts from the outside:
//!
//! * **sent** — distinct deliveries the mock Monday made (and POST attempts in total);
//! * **applied** — of those, events the store shows done or skipped (skipped: a no-op, e.g. the
//!   echo of crmsync's own write-back); **dead** — dead-lettered;
//! * **lost** — deliveries whose `triggerUuid` is not in the event log, plus events still open at
//!   the end, plus touched items with no Salesforce record and no dead letter (must be 0);
//! * **duplicated** — Salesforce records beyond one per touched item (must be 0);
//! * **final SF = final Monday** — touched items whose Salesforce fields equal the item's final
//!   values on Monday (FirstName and Company), out of all touched items.
//!
//! Bounded in time: every wait has a deadline and a row that misses it fails with what was left.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::harness::{spawn_app_with, Db, Options, TestApp};
use crate::pg::pg_url;
use crate::seed::boards::LEADS;

mod lambda;
mod migration;
mod queue;

pub use lambda::bootstrap_from_env;

/// Lead.FirstName on the seed Leads board.
const FIRST_NAME: &str = "text_mkry13cw";

/// One row of the matrix.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// What was injected, in words.
    pub fault: String,
    pub items: usize,
    pub sent: usize,
    pub attempts: usize,
    pub applied: usize,
    pub dead: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub consistent: usize,
    /// Answers of the mocks that were errors (HTTP status >= 400): the faults that actually hit.
    pub fault_answers: usize,
    pub seconds: f64,
    /// Anything worth knowing about the row (e.g. why it is not run).
    pub note: String,
    /// `false` for rows that could not run here (the note says why).
    pub ran: bool,
}

impl Row {
    /// Whether the row holds the guarantees: nothing lost, nothing duplicated, Salesforce = Monday.
    pub fn passed(&self) -> bool {
        !self.ran || (self.lost == 0 && self.duplicated == 0 && self.consistent == self.items)
    }
}

/// How big each row's workload is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Items created per row.
    pub items: usize,
    /// Edits of each item after its creation.
    pub edits: usize,
}

/// The store server to restart for the "PostgreSQL restarted" row: `pg_ctl` and its data dir
/// (given by xtask for the throwaway cluster it started), run as `run_as` when set.
#[derive(Debug, Clone)]
pub struct PgControl {
    pub pg_ctl: String,
    pub data_dir: String,
    pub run_as: Option<String>,
}

impl PgControl {
    /// From `CRMSYNC_CHAOS_PG_CTL`, `CRMSYNC_CHAOS_PG_DATA` and `CRMSYNC_CHAOS_PG_USER`.
    pub fn from_env() -> Option<PgControl> {
        Some(PgControl {
            pg_ctl: std::env::var("CRMSYNC_CHAOS_PG_CTL").ok()?,
            data_dir: std::env::var("CRMSYNC_CHAOS_PG_DATA").ok()?,
            run_as: std::env::var("CRMSYNC_CHAOS_PG_USER").ok(),
        })
    }

    fn restart(&self) -> Result<()> {
        let mut cmd = match &self.run_as {
            Some(u) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", u, "--", &self.pg_ctl]);
                c
            }
            None => std::process::Command::new(&self.pg_ctl),
        };
        // The restarted server must log to a file: with pg_ctl's stdout it would hold our pipe open.
        let log = std::env::var("CRMSYNC_CHAOS_PG_LOG").unwrap_or_else(|_| {
            std::path::Path::new(&self.data_dir)
                .parent()
                .unwrap_or(std::path::Path::new("/tmp"))
                .join("postgres.log")
                .display()
                .to_string()
        });
        let st = cmd
            .args([
                "-D",
                &self.data_dir,
                "-l",
                &log,
                "-m",
                "fast",
                "-w",
                "restart",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running pg_ctl restart")?;
        if !st.success() {
            bail!("pg_ctl restart failed ({st}); see {log}");
        }
        Ok(())
    }
}

/// What a row does to the system while the workload runs.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Sf503,
    LockRow,
    SfTimeout,
    LostResponse,
    SessionStorm,
    DailyLimit,
    MondayComplexity,
    Monday5xxReads,
    Monday5xxWriteBacks,
    Duplicates,
    Reordered,
    Delayed,
    StoreCut,
    PgRestart,
}

struct Spec {
    name: &'static str,
    fault: Fault,
    words: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "no fault (control)",
        fault: Fault::None,
        words: "nothing",
    },
    Spec {
        name: "Salesforce 503 at 20 %",
        fault: Fault::Sf503,
        words: "every Salesforce data call answers 503 with probability 0.2",
    },
    Spec {
        name: "UNABLE_TO_LOCK_ROW bursts",
        fault: Fault::LockRow,
        words: "bursts of 8 writes answered 400 UNABLE_TO_LOCK_ROW, three bursts",
    },
    Spec {
        name: "Salesforce timeouts",
        fault: Fault::SfTimeout,
        words: "20 % of writes answered after 1.5 s (client timeout 1 s), applied first",
    },
    Spec {
        name: "response lost after the write was applied",
        fault: Fault::LostResponse,
        words: "20 % of writes applied, then answered 502",
    },
    Spec {
        name: "session-expiry storm",
        fault: Fault::SessionStorm,
        words: "every session expired every 100 ms while the edits run",
    },
    Spec {
        name: "daily API limit exhausted, then restored",
        fault: Fault::DailyLimit,
        words: "REQUEST_LIMIT_EXCEEDED until 2 s into the edits, then usage reset",
    },
    Spec {
        name: "Monday complexity budget exhausted",
        fault: Fault::MondayComplexity,
        words: "budget 0 at the start, 1,000,000 points per 2 s window",
    },
    Spec {
        name: "Monday 5xx on reads",
        fault: Fault::Monday5xxReads,
        words: "the next 15 item reads answered 500",
    },
    Spec {
        name: "Monday 5xx on write-backs",
        fault: Fault::Monday5xxWriteBacks,
        words: "the next 15 column writes answered 500",
    },
    Spec {
        name: "duplicate deliveries",
        fault: Fault::Duplicates,
        words: "every delivery sent twice (same triggerUuid)",
    },
    Spec {
        name: "reordered deliveries",
        fault: Fault::Reordered,
        words: "the first deliveries (as many as the items, at most 10) sent in reverse order",
    },
    Spec {
        name: "delayed deliveries",
        fault: Fault::Delayed,
        words: "each delivery delayed 300 ms (later ones overtake)",
    },
    Spec {
        name: "store connection cut mid-run",
        fault: Fault::StoreCut,
        words: "the TCP path to PostgreSQL refused for 1.5 s in the middle of the edits",
    },
    Spec {
        name: "PostgreSQL restarted mid-run",
        fault: Fault::PgRestart,
        words: "pg_ctl restart -m fast in the middle of the edits",
    },
];

/// Runs every row; `only` filters by a substring of the row name.
pub async fn run(size: Size, only: Option<&str>, pg: Option<&PgControl>) -> Vec<Row> {
    let mut rows = Vec::new();
    for spec in SPECS {
        if only.is_some_and(|o| !spec.name.contains(o)) {
            continue;
        }
        eprintln!("crmsync-chaos: {}", spec.name);
        let start = std::time::Instant::now();
        let mut row = match (spec.fault, pg) {
            (Fault::PgRestart, None) => not_run(
                spec.name,
                spec.words,
                "not run: no PostgreSQL server of its own to restart (CRMSYNC_CHAOS_PG_CTL/\
                 CRMSYNC_CHAOS_PG_DATA unset; `cargo xtask chaos` sets them for the cluster it starts)"
                    .into(),
            ),
            _ => outcome(spec.name, spec.words, run_row(spec, size, pg).await),
        };
        row.seconds = start.elapsed().as_secs_f64();
        eprintln!("crmsync-chaos:   {row:?}");
        rows.push(row);
    }
    rows
}

/// A row that could not run here, with the reason.
fn not_run(name: &str, words: &str, why: String) -> Row {
    Row {
        name: name.into(),
        fault: words.into(),
        note: why,
        ran: false,
        ..empty_row()
    }
}

/// The row a run produced, or a failed row (lost unknown) saying what went wrong.
fn outcome(name: &str, words: &str, ran: Result<Row>) -> Row {
    ran.unwrap_or_else(|e| Row {
        name: name.into(),
        fault: words.into(),
        note: format!("FAILED to complete: {e:#}"),
        ran: true,
        lost: usize::MAX,
        ..empty_row()
    })
}

fn empty_row() -> Row {
    Row {
        name: String::new(),
        fault: String::new(),
        items: 0,
        sent: 0,
        attempts: 0,
        applied: 0,
        dead: 0,
        lost: 0,
        duplicated: 0,
        consistent: 0,
        fault_answers: 0,
        seconds: 0.0,
        note: String::new(),
        ran: true,
    }
}

async fn run_row(spec: &Spec, size: Size, pg: Option<&PgControl>) -> Result<Row> {
    let mut opts = Options::new(Db::Postgres);
    opts.sf_request_timeout = Some(Duration::from_secs(1));
    if matches!(spec.fault, Fault::MondayComplexity) {
        opts.monday_budget = Some((1_000_000, Duration::from_secs(2)));
    }
    // The store restart needs the real server address (the proxy would hide nothing, but the
    // restart is of the server itself).
    let mut engine = crmsync_sync::EngineConfig::for_tests();
    engine.worker_id = "chaos".into();
    engine.event_deadline = Duration::from_secs(4);
    opts.engine = engine;
    let app = spawn_app_with(opts).await;
    let result = drive(&app, spec, size, pg).await;
    let counted = match result {
        Ok(()) => count(&app, spec).await,
        Err(e) => Err(e),
    };
    app.stop().await;
    counted
}

fn sf_admin(app: &TestApp) -> String {
    format!("{}/__mock/faults", app.salesforce.base_url)
}

async fn post_json(url: &str, body: &Value) -> Result<()> {
    let r = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    if !r.status().is_success() {
        bail!("POST {url} answered {}", r.status());
    }
    Ok(())
}

async fn clear_sf_faults(app: &TestApp) -> Result<()> {
    let r = reqwest::Client::new()
        .delete(sf_admin(app))
        .send()
        .await
        .context("DELETE faults")?;
    if !r.status().is_success() {
        bail!("DELETE faults answered {}", r.status());
    }
    Ok(())
}

async fn monday_faults(app: &TestApp, faults: Value) -> Result<()> {
    let faults: mock_monday::Faults =
        serde_json::from_value(faults).context("a Monday fault description")?;
    app.monday.admin.set_faults(&faults).await?;
    Ok(())
}

/// Injects the fault, runs the edits (with the fault's mid-run actions), lifts the fault.
async fn drive(app: &TestApp, spec: &Spec, size: Size, pg: Option<&PgControl>) -> Result<()> {
    let data = "/services/data/*";
    match spec.fault {
        Fault::Sf503 => {
            post_json(&sf_admin(app), &json!({"path": data, "status": 503, "probability": 0.2})).await?
        }
        Fault::LockRow => {
            post_json(
                &sf_admin(app),
                &json!({"method": "PATCH", "path": data, "status": 400, "times": 8,
                        "body": [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record or 1 records", "fields": []}]}),
            )
            .await?
        }
        Fault::SfTimeout => {
            post_json(
                &sf_admin(app),
                &json!({"method": "PATCH", "path": data, "latencyMs": 1500, "probability": 0.2, "after": true}),
            )
            .await?
        }
        Fault::LostResponse => {
            post_json(
                &sf_admin(app),
                &json!({"method": "PATCH", "path": data, "status": 502, "probability": 0.2, "after": true}),
            )
            .await?
        }
        Fault::DailyLimit => app.salesforce.handle.exhaust_daily_limit(),
        Fault::MondayComplexity => app.monday.admin.set_budget_remaining(0).await?,
        Fault::Monday5xxReads => {
            monday_faults(
                app,
                json!({"latency_ms": 0, "fail_next": [{"status": 500, "body": {"error_message": "Internal server error"}, "count": 15, "query_contains": "items(ids:"}],
                       "budget_error_mode": null, "webhooks": {"duplicate": false, "reverse_batch": 0, "delay_ms": 0, "hold": false}}),
            )
            .await?
        }
        Fault::Monday5xxWriteBacks => {
            monday_faults(
                app,
                json!({"latency_ms": 0, "fail_next": [{"status": 500, "body": {"error_message": "Internal server error"}, "count": 15, "query_contains": "change_multiple_column_values"}],
                       "budget_error_mode": null, "webhooks": {"duplicate": false, "reverse_batch": 0, "delay_ms": 0, "hold": false}}),
            )
            .await?
        }
        Fault::Duplicates | Fault::Reordered | Fault::Delayed => {
            let (dup, rev, delay) = match spec.fault {
                Fault::Duplicates => (true, 0, 0),
                // One batch (the mock then clears the fault): small enough that the creates fill it.
                Fault::Reordered => (false, size.items.clamp(1, 10), 0),
                _ => (false, 0, 300),
            };
            monday_faults(
                app,
                json!({"latency_ms": 0, "fail_next": [], "budget_error_mode": null,
                       "webhooks": {"duplicate": dup, "reverse_batch": rev, "delay_ms": delay, "hold": false}}),
            )
            .await?
        }
        Fault::None | Fault::SessionStorm | Fault::StoreCut | Fault::PgRestart => {}
    }

    // The workload, with the fault's actions at its middle.
    let items = create_items(app, size.items).await?;
    let storm = matches!(spec.fault, Fault::SessionStorm).then(|| {
        let handle = app.salesforce.handle.clone();
        tokio::spawn(async move {
            loop {
                handle.expire_sessions();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    for round in 1..=size.edits {
        if round == size.edits.div_ceil(2) {
            match spec.fault {
                Fault::StoreCut => {
                    if let Some(p) = &app.proxy {
                        p.set_down(true);
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        p.set_down(false);
                    }
                }
                Fault::PgRestart => {
                    if let Some(pg) = pg {
                        let pg = pg.clone();
                        tokio::task::spawn_blocking(move || pg.restart())
                            .await
                            .context("the restart task")??;
                    }
                }
                Fault::DailyLimit => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    app.salesforce.handle.set_api_usage(Some(0), None);
                }
                Fault::LockRow => {
                    // Two more bursts.
                    for _ in 0..2 {
                        post_json(
                            &sf_admin(app),
                            &json!({"method": "PATCH", "path": data, "status": 400, "times": 8,
                                    "body": [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record or 1 records", "fields": []}]}),
                        )
                        .await?;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
                _ => {}
            }
        }
        for (i, item) in items.iter().enumerate() {
            app.monday
                .admin
                .change_column_value(item, FIRST_NAME, json!(format!("F{i} r{round}")))
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(s) = storm {
        s.abort();
    }
    if matches!(spec.fault, Fault::DailyLimit) {
        app.salesforce.handle.set_api_usage(Some(0), None);
    }
    // Lift the fault; what failed meanwhile is retried by the engine or redelivered by Monday.
    clear_sf_faults(app).await?;
    app.monday.admin.clear_faults().await?;
    app.monday.admin.release_held().await?;
    Ok(())
}

async fn create_items(app: &TestApp, n: usize) -> Result<Vec<String>> {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let r = app
            .monday
            .admin
            .create_item(
                LEADS,
                &format!("Chaos Co {i}"),
                None,
                json!({ FIRST_NAME: format!("F{i} r0"), "text_mkry1xy1": format!("Last{i}") }),
            )
            .await?;
        items.push(r.item.id.clone());
    }
    Ok(items)
}

async fn count(app: &TestApp, spec: &Spec) -> Result<Row> {
    // Long enough for Monday's redeliveries (300 ms apart in the harness) and the engine's retries.
    app.settled_within(Duration::from_secs(60)).await?;
    let name = app.pg_db_name().context("chaos runs on PostgreSQL")?;
    let mut url = url::Url::parse(&pg_url()).context("DATABASE_URL")?;
    url.set_path(&format!("/{name}"));
    let db = sqlx::PgPool::connect(url.as_str())
        .await
        .context("reading the event log")?;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT trigger_uuid, status FROM events")
        .fetch_all(&db)
        .await?;
    db.close().await;
    let status: BTreeMap<String, String> = rows.into_iter().collect();

    let deliveries = app.monday.admin.deliveries().await?;
    let triggers: BTreeSet<&str> = deliveries.iter().map(|d| d.trigger_uuid.as_str()).collect();
    let attempts = deliveries.iter().map(|d| d.attempts.len()).sum();
    let mut applied = 0;
    let mut dead = 0;
    let mut lost = 0;
    let mut why_lost = Vec::new();
    for t in &triggers {
        match status.get(*t).map(String::as_str) {
            Some("done" | "skipped") => applied += 1,
            Some("dead") => dead += 1,
            // stored but never settled, or never stored
            other => {
                lost += 1;
                if let Some(d) = deliveries.iter().find(|d| d.trigger_uuid == *t) {
                    let answers: Vec<String> = d
                        .attempts
                        .iter()
                        .map(|a| match (a.status, &a.error) {
                            (Some(s), _) => s.to_string(),
                            (None, Some(e)) => format!("no answer ({e})"),
                            (None, None) => "no answer".into(),
                        })
                        .collect();
                    why_lost.push(format!(
                        "{} of item {}: event {}, delivery {:?} after {} attempts [{}]",
                        d.event_type,
                        d.body["event"]["pulseId"],
                        other.unwrap_or("never stored"),
                        d.state,
                        d.attempts.len(),
                        answers.join(", ")
                    ));
                }
            }
        }
    }

    // Items touched: every item on the Leads board whose name the workload gave it.
    let mut touched = Vec::new();
    for d in &deliveries {
        if let Some(id) = d.body["event"]["pulseId"].as_i64() {
            let id = id.to_string();
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
    }
    let mut duplicated = 0;
    let mut consistent = 0;
    for item in &touched {
        let monday = app.monday.admin.item(item).await?;
        let first = monday
            .column_values
            .iter()
            .find(|c| c.id == FIRST_NAME)
            .and_then(|c| c.text.clone())
            .unwrap_or_default();
        let records = app.sf.by_item("Lead", "FirstName,Company", item).await;
        duplicated += records.len().saturating_sub(1);
        match records.first() {
            Some(r) if r["FirstName"] == json!(first) && r["Company"] == json!(monday.name) => {
                consistent += 1
            }
            Some(_) => {}
            None => {
                // No record: lost unless a dead letter holds the item's create.
                let dead_for_item = deliveries.iter().any(|d| {
                    d.body["event"]["pulseId"].as_i64().map(|i| i.to_string()) == Some(item.clone())
                        && status.get(&d.trigger_uuid).map(String::as_str) == Some("dead")
                });
                if !dead_for_item {
                    lost += 1;
                }
            }
        }
    }
    let fault_answers = app
        .salesforce
        .handle
        .requests()
        .iter()
        .filter(|e| e.status >= 400)
        .count()
        + app
            .monday
            .admin
            .requests()
            .await?
            .iter()
            .filter(|e| e.status >= 400 || e.response.get("errors").is_some())
            .count();
    Ok(Row {
        name: spec.name.into(),
        fault: spec.words.into(),
        fault_answers,
        items: touched.len(),
        sent: triggers.len(),
        attempts,
        applied,
        dead,
        lost,
        duplicated,
        consistent,
        seconds: 0.0,
        note: match why_lost.is_empty() {
            true => String::new(),
            false => format!("lost: {}", why_lost.join("; ")),
        },
        ran: true,
    })
}

/// RELIABILITY.md from the rows of one run.
pub fn markdown(rows: &[Row], command: &str, machine: &str, date: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Reliability\n\nWritten by `{command}` on {date} — machine: {machine}.\n\n\
         Each row: a fresh crmsync app (the real router and worker on a socket, the test kit's \
         harness), both mocks on loopback, PostgreSQL; the fault injected through the mocks' \
         admin API (`/__mock/faults`, session/limit controls) or on the store; real user edits on \
         the mock Monday, whose webhooks deliver to the receiver and redeliver on any non-200; the \
         fault lifted; then everything is counted from the outside once settled. **sent**: \
         distinct deliveries (POST attempts in brackets); **applied**: their events done or skipped \
         (a skip is a no-op such as the echo of crmsync's own write-back); **lost**: deliveries not \
         in the event log or never settled, plus touched items with no Salesforce record and no \
         dead letter; **duplicated**: Salesforce records beyond one per item; **SF = Monday**: \
         touched items whose Salesforce FirstName and Company equal the item's final values on \
         Monday; **error answers**: answers of the mocks with an HTTP status of 400 or more (or \
         GraphQL errors) — the injected faults that actually hit (a timeout or a delay is not an \
         error answer). Times are wall clock on a shared machine (noisy).\n"
    );
    s.push_str("| fault | what was injected | error answers | items | sent (attempts) | applied | dead-lettered | lost | duplicated | SF = Monday | seconds | result |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        if !r.ran {
            let _ = writeln!(
                s,
                "| {} | {} | – | – | – | – | – | – | – | – | – | {} |",
                r.name, r.fault, r.note
            );
            continue;
        }
        let lost = if r.lost == usize::MAX {
            "?".to_owned()
        } else {
            r.lost.to_string()
        };
        let result = if !r.note.is_empty() {
            r.note.clone()
        } else if r.passed() {
            "pass".to_owned()
        } else {
            "**FAIL**".to_owned()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} ({}) | {} | {} | **{}** | **{}** | {}/{} | {:.1} | {} |",
            r.name,
            r.fault,
            r.fault_answers,
            r.items,
            r.sent,
            r.attempts,
            r.applied,
            r.dead,
            lost,
            r.duplicated,
            r.consistent,
            r.items,
            r.seconds,
            result
        );
    }
    s.push_str(
        "\nThe two process rows run the real `crmsync serve` binary (built optimised, \
         profile `measure`, by `cargo xtask chaos`) against the same mocks and database, with leases of 4 s so a killed \
         process's item is taken over quickly. A lost delivery is described in the result column \
         (its event's state, Monday's delivery state and every answer it got); a row that does not \
         settle within 60 s lists each event still open (status, attempts, due time, lease, last \
         error).\n\n\
         **SQS queue mode** runs `crmsync serve` (same build) with `CRMSYNC_QUEUE_URL` on a FIFO \
         queue of moto's server mode; it is counted like the other rows, and messages left in the \
         queue or moved to its DLQ are named in the result column. **Migration killed and \
         resumed** counts records, not deliveries: *items* and *sent* are the Salesforce records of \
         the migrated objects, *attempts* the `migrate run` processes (two killed, one to the \
         end), *applied* the records with an item on their board (by the board's Salesforce Id \
         column), *lost* the records without one, *duplicated* items beyond one per record (and \
         items naming no record), *SF = Monday* the records with exactly one item and no \
         difference in `migrate verify`; the production stage's rehearsal gate is passed by \
         recording a passed rehearsal of the plan in the store (the rehearsal has tests of its \
         own). **Lambda artifact** runs the built `bootstrap` (unpacked from the zip that \
         `cargo xtask lambda build` makes) as a process behind the Runtime API emulator; a \
         loopback Function URL turns each of Monday's deliveries into an invocation and returns \
         the function's answer, and the EventBridge schedule's drain is invoked every second.\n",
    );
    s
}

/// The real `crmsync` binary for the process rows (`CRMSYNC_CHAOS_BIN`, set by xtask).
pub fn crmsync_bin_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os("CRMSYNC_CHAOS_BIN").map(std::path::PathBuf::from)
}

const NO_BIN: &str =
    "not run: no crmsync binary (CRMSYNC_CHAOS_BIN unset; `cargo xtask chaos` sets it)";

/// `crmsync serve` as a child process against the harness's mocks and store.
struct Serve {
    child: tokio::process::Child,
}

/// The database URL of the harness's PostgreSQL database, for a child process.
fn app_db_url(app: &TestApp) -> Result<String> {
    let name = app.pg_db_name().context("process rows run on PostgreSQL")?;
    let mut db = url::Url::parse(&pg_url()).context("DATABASE_URL")?;
    db.set_path(&format!("/{name}"));
    Ok(db.to_string())
}

/// `crmsync ARGS` with exactly the environment that points it at the harness's mocks and store
/// (nothing inherited but `PATH`).
fn crmsync_command(
    bin: &std::path::Path,
    app: &TestApp,
    args: &[&str],
) -> Result<tokio::process::Command> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", app_db_url(app)?)
        .env(
            "CRMSYNC_MAPPING",
            crate::seed::seed_dir().join("mapping.toml"),
        )
        .env("SALESFORCE_LOGIN_URL", &app.salesforce.base_url)
        .env("SALESFORCE_CLIENT_ID", crate::seed::MOCK_SF_CLIENT_ID)
        .env(
            "SALESFORCE_CLIENT_SECRET",
            crate::seed::MOCK_SF_CLIENT_SECRET,
        )
        .env("MONDAY_API_URL", app.monday.api_url())
        .env("MONDAY_API_TOKEN", app.monday.token())
        .env("MONDAY_SIGNING_SECRET", crate::harness::SIGNING_SECRET)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    Ok(cmd)
}

impl Serve {
    /// `crmsync serve` on `port`, with `extra` variables on top of the harness's.
    async fn start(
        bin: &std::path::Path,
        app: &TestApp,
        port: u16,
        extra: &[(String, String)],
    ) -> Result<Serve> {
        use tokio::io::AsyncBufReadExt;
        let addr = format!("127.0.0.1:{port}");
        let public = format!("http://127.0.0.1:{port}");
        let mut cmd = crmsync_command(
            bin,
            app,
            &["serve", "--addr", &addr, "--public-url", &public],
        )?;
        // Short leases: a killed process's item is taken over within seconds.
        cmd.env("CRMSYNC_LEASE_SECS", "4")
            .env("CRMSYNC_EVENT_DEADLINE_SECS", "3")
            .env("CRMSYNC_INLINE_BUDGET_MS", "1500")
            .envs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting crmsync serve")?;
        let stdout = child.stdout.take().context("crmsync's stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("crmsync serve did not listen within 30 s")?
            .context("reading crmsync's stdout")?;
        if first.is_none() {
            bail!("crmsync serve exited before listening");
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Serve { child })
    }

    /// SIGKILL: no shutdown, no drain, leases left behind.
    async fn kill9(&mut self) -> Result<()> {
        self.child.start_kill().context("SIGKILL crmsync")?;
        let _ = self.child.wait().await;
        Ok(())
    }
}

/// Installs the mapped boards' webhooks at `hook`. The mock Monday checks the URL with a
/// challenge; on a loaded machine a freshly started receiver may miss it, so a refusal is tried
/// again (install keeps the webhooks already made) for up to 30 s, as a user would re-run it.
async fn install_hooks(app: &TestApp, hook: &url::Url) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match crmsync_app::webhooks::install(&app.monday_client, &app.engine.mapping(), hook).await
        {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e.context("installing the webhooks (tried for 30 s)"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The harness for rows whose crmsync is a child process: its worker off, the store direct.
fn process_options() -> Options {
    let mut opts = Options::new(Db::Postgres);
    opts.worker = false;
    opts.direct_store = true;
    opts
}

/// `crmsync serve` (with `extra` variables) on a free port, the mapped boards' webhooks pointing
/// at it instead of at the harness; its port and the process.
async fn serve_receiving(
    bin: &std::path::Path,
    app: &TestApp,
    extra: &[(String, String)],
) -> Result<(u16, Serve)> {
    app.drop_all_webhooks().await;
    let port = free_port()?;
    let serve = Serve::start(bin, app, port, extra).await?;
    let hook = url::Url::parse(&format!("http://127.0.0.1:{port}/webhooks/monday"))
        .context("the webhook URL")?;
    install_hooks(app, &hook).await?;
    Ok((port, serve))
}

/// How a process row restarts the process it kills: the same binary, port and variables.
struct Restart<'a> {
    bin: &'a std::path::Path,
    port: u16,
    env: &'a [(String, String)],
}

/// The edits of a process row: `size.edits` rounds of a FirstName change on every item. With
/// `restart`, `receiving` is killed -9 in the middle (mid-event: deliveries are in flight and
/// being applied right now) and started again 1 s later.
async fn edit_rounds(
    app: &TestApp,
    items: &[String],
    size: Size,
    restart: Option<Restart<'_>>,
    receiving: &mut Serve,
) -> Result<()> {
    for round in 1..=size.edits {
        for (i, item) in items.iter().enumerate() {
            app.monday
                .admin
                .change_column_value(item, FIRST_NAME, json!(format!("F{i} r{round}")))
                .await?;
            if let Some(r) = restart
                .as_ref()
                .filter(|_| round == size.edits.div_ceil(2) && i == items.len() / 2)
            {
                receiving.kill9().await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
                *receiving = Serve::start(r.bin, app, r.port, r.env).await?;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(l.local_addr().context("the bound address")?.port())
}

/// Which process row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProcessRow {
    KilledAndRestarted,
    TwoProcesses,
}

/// The rows that run the real `crmsync` binary: Monday delivers to the process(es), not to the
/// harness's in-process app (whose worker is off). `only` filters by a substring of the row name.
pub async fn run_process_rows(
    size: Size,
    only: Option<&str>,
    bin: Option<&std::path::Path>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (which, name, words) in [
        (
            ProcessRow::KilledAndRestarted,
            "crmsync killed with SIGKILL mid-event and restarted",
            "`crmsync serve` receiving the deliveries killed -9 in the middle of the edits, restarted 1 s later on the same port",
        ),
        (
            ProcessRow::TwoProcesses,
            "two crmsync processes on one PostgreSQL",
            "two `crmsync serve` processes on one database: one receives (and applies inline), both workers claim",
        ),
    ] {
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        eprintln!("crmsync-chaos: {name}");
        let start = std::time::Instant::now();
        let mut row = match bin {
            None => not_run(name, words, NO_BIN.into()),
            Some(bin) => outcome(
                name,
                words,
                process_row(which, name, words, size, bin).await,
            ),
        };
        row.seconds = start.elapsed().as_secs_f64();
        eprintln!("crmsync-chaos:   {row:?}");
        rows.push(row);
    }
    rows
}

async fn process_row(
    which: ProcessRow,
    name: &'static str,
    words: &'static str,
    size: Size,
    bin: &std::path::Path,
) -> Result<Row> {
    let app = spawn_app_with(process_options()).await;
    let result = async {
        let (port, first) = serve_receiving(bin, &app, &[]).await?;
        let mut serving = vec![first];
        if which == ProcessRow::TwoProcesses {
            serving.push(Serve::start(bin, &app, free_port()?, &[]).await?);
        }
        let items = create_items(&app, size.items).await?;
        let restart = (which == ProcessRow::KilledAndRestarted).then_some(Restart {
            bin,
            port,
            env: &[],
        });
        edit_rounds(&app, &items, size, restart, &mut serving[0]).await?;
        let row = count(
            &app,
            &Spec {
                name,
                fault: Fault::None,
                words,
            },
        )
        .await;
        for mut s in serving {
            s.kill9().await?;
        }
        row
    }
    .await;
    app.stop().await;
    result
}

/// The rows of the other ways crmsync runs: queue mode (the real `crmsync serve` on moto's SQS),
/// the migration killed and resumed (the real `crmsync migrate`), and the Lambda artifact (the
/// built `bootstrap`, when given). A row that cannot run here says why. `only` filters by a
/// substring of the row name.
pub async fn run_artifact_rows(
    size: Size,
    only: Option<&str>,
    bin: Option<&std::path::Path>,
    bootstrap: Option<&std::path::Path>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, words) in [
        (queue::NAME, queue::WORDS),
        (migration::NAME, migration::WORDS),
        (lambda::NAME, lambda::WORDS),
    ] {
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        eprintln!("crmsync-chaos: {name}");
        let start = std::time::Instant::now();
        let ran = match name {
            queue::NAME => match (bin, queue::unavailable()) {
                (None, _) => Err(NO_BIN.to_owned()),
                (_, Some(why)) => Err(why),
                (Some(bin), None) => Ok(queue::row(size, bin).await),
            },
            migration::NAME => match bin {
                None => Err(NO_BIN.to_owned()),
                Some(bin) => Ok(migration::row(bin).await),
            },
            _ => match bootstrap {
                None => Err(lambda::NOT_GIVEN.to_owned()),
                Some(b) => Ok(lambda::row(size, b).await),
            },
        };
        let mut row = match ran {
            Err(why) => not_run(name, words, why),
            Ok(r) => outcome(name, words, r),
        };
        row.seconds = start.elapsed().as_secs_f64();
        eprintln!("crmsync-chaos:   {row:?}");
        rows.push(row);
    }
    rows
}
