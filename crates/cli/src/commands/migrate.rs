//! `crmsync migrate snapshot|plan|run|verify|status`: the migration of `crmsync-migrate`, with
//! progress bars (indicatif) on a terminal, plain periodic lines otherwise, and tables.
//!
//! **Rehearsal without linking the mocks.** `run --stage rehearsal` starts the `mock-crm` binary
//! as a child process on loopback (`--mock-crm PATH`, `CRMSYNC_MOCK_CRM`, or the `mock-crm` next
//! to this executable), seeded from the snapshot directory, reads the one JSON line it prints with
//! its URLs, runs the migration and `verify` against it, and stops it. The product binary never
//! links the mocks (`cargo xtask tidy` checks it). Extra arguments for the mocks (e.g. lifting the
//! complexity budget in tests) come from `CRMSYNC_MOCK_CRM_ARGS` (space-separated).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use crmsync_migrate::{MigrateError, Migrator, Point, Progress, RunOptions, RunReport, Stage};
use crmsync_monday::{MondayClient, MondayConfig};
use crmsync_salesforce::{AuthMode, SalesforceClient, SalesforceConfig};
use crmsync_store::Store;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use secrecy::SecretString;
use tokio::io::AsyncBufReadExt;

use crate::cli::{MigrateCmd, StageArg};
use crate::output::{ellipsize, Table};
use crate::Exit;
use crmsync_app::clients as context;

/// Test hook: `CRMSYNC_MIGRATE_KILL_AT=<point>:<n>` sends SIGKILL to this process the `n`-th time
/// the run reaches `<point>` (`reading`, `mid_batch`, `after_create`, `relations`, `verify`).
/// Used by the crash-safety tests only.
const KILL_AT: &str = "CRMSYNC_MIGRATE_KILL_AT";

/// Runs a `migrate` subcommand.
pub async fn run(cmd: MigrateCmd) -> Result<()> {
    let config = context::config()?;
    let store = context::migrated_store(&config).await?;
    let result = dispatch(cmd, &config, store.clone()).await;
    store.close().await;
    result
}

async fn dispatch(cmd: MigrateCmd, config: &crmsync_config::Config, store: Store) -> Result<()> {
    let sink = progress_sink();
    let configured = || -> Result<(SalesforceClient, MondayClient)> {
        Ok((context::salesforce(config)?, context::monday(config)?))
    };
    match cmd {
        MigrateCmd::Status { json } => {
            let runs = store
                .list_runs(50)
                .await
                .context("reading migration runs")?;
            if json {
                let v: Vec<_> = runs
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id.0, "stage": r.stage.to_string(), "plan_hash": r.plan_hash,
                            "outcome": r.outcome.to_string(), "started_at": r.started_at,
                            "finished_at": r.finished_at, "records_read": r.counts.records_read,
                            "items_created": r.counts.items_created, "items_updated": r.counts.items_updated,
                            "unchanged": r.counts.records_skipped, "failed": r.counts.records_failed,
                        })
                    })
                    .collect();
                crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut t = Table::new(&[
                    "RUN",
                    "STAGE",
                    "PLAN",
                    "OUTCOME",
                    "STARTED",
                    "READ",
                    "CREATED",
                    "UPDATED",
                    "UNCHANGED",
                    "FAILED",
                ]);
                for r in &runs {
                    t.row(vec![
                        r.id.0.to_string(),
                        r.stage.to_string(),
                        r.plan_hash.clone(),
                        r.outcome.to_string(),
                        r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.counts.records_read.to_string(),
                        r.counts.items_created.to_string(),
                        r.counts.items_updated.to_string(),
                        r.counts.records_skipped.to_string(),
                        r.counts.records_failed.to_string(),
                    ]);
                }
                crate::out!("{}", t.render());
            }
            Ok(())
        }
        MigrateCmd::Snapshot { out, redact } => {
            let (sf, monday) = configured()?;
            let m = context::migrator(&config.mapping_path, store, sf, monday, sink).await?;
            let r = m
                .snapshot(&out, redact)
                .await
                .with_context(|| format!("writing the snapshot to {}", out.display()))?;
            let mut t = Table::new(&["WHAT", "COUNT"]);
            for (o, n) in &r.records {
                t.row(vec![format!("{o} records"), n.to_string()]);
            }
            for (b, n) in &r.items {
                t.row(vec![format!("board {b} items"), n.to_string()]);
            }
            crate::out!("{}", t.render());
            crate::outln!(
                "snapshot written to {}{}",
                out.display(),
                if redact {
                    " (personal data redacted)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        MigrateCmd::Plan { objects, json } => {
            let (sf, monday) = configured()?;
            let m = context::migrator(&config.mapping_path, store, sf, monday, sink).await?;
            let plan = m.plan(objects.as_deref()).await.map_err(refusal)?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&plan)?);
                return Ok(());
            }
            let mut t = Table::new(&[
                "OBJECT",
                "BOARD",
                "RECORDS",
                "EXISTING",
                "ADOPTED",
                "CREATE",
                "UPDATE",
                "UNCHANGED",
                "PROBLEMS",
                "CALLS",
                "COMPLEXITY",
            ]);
            for o in &plan.objects {
                t.row(vec![
                    o.object.clone(),
                    format!("{} ({})", o.board, o.board_id),
                    o.records.to_string(),
                    o.existing.to_string(),
                    o.adopted.to_string(),
                    o.create.to_string(),
                    o.update.to_string(),
                    o.unchanged.to_string(),
                    o.problems.len().to_string(),
                    o.estimated_calls.to_string(),
                    o.estimated_complexity.to_string(),
                ]);
            }
            crate::out!("{}", t.render());
            for o in &plan.objects {
                crate::outln!("{}: {}", o.object, o.soql);
                for l in &o.missing_labels {
                    crate::outln!("  label to create on {}: {l}", o.board);
                }
                for p in o.problems.iter().take(20) {
                    crate::outln!("  problem: {} {}: {}", p.object, p.sf_id, p.reason);
                }
                for u in &o.unmatched_users {
                    crate::outln!("  {}", unmatched_line(u));
                }
            }
            crate::outln!(
                "plan {} stored; estimated {} s under Monday's complexity budget",
                plan.plan_hash,
                plan.estimated_seconds
            );
            Ok(())
        }
        MigrateCmd::Verify {
            objects,
            report,
            json,
        } => {
            let (sf, monday) = configured()?;
            let m = context::migrator(&config.mapping_path, store, sf, monday, sink).await?;
            let v = m.verify(objects.as_deref()).await.map_err(refusal)?;
            if let Some(path) = &report {
                std::fs::write(path, serde_json::to_string_pretty(&v)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut t =
                    Table::new(&["OBJECT", "RECORD", "ITEM", "FIELD", "SALESFORCE", "MONDAY"]);
                for d in v.differences.iter().take(200) {
                    t.row(vec![
                        d.object.clone(),
                        d.sf_id.clone(),
                        d.item_id.clone(),
                        d.field.clone(),
                        ellipsize(&d.salesforce, 40),
                        ellipsize(&d.monday, 40),
                    ]);
                }
                if !t.is_empty() {
                    crate::out!("{}", t.render());
                }
                crate::outln!(
                    "verified {} records against {} items: {} difference(s)",
                    v.records,
                    v.items,
                    v.differences.len()
                );
            }
            if v.differences.is_empty() {
                Ok(())
            } else {
                Err(Exit {
                    code: 1,
                    message: format!("verify found {} difference(s)", v.differences.len()),
                }
                .into())
            }
        }
        MigrateCmd::Run {
            stage,
            snapshot,
            resume,
            dry_run,
            since,
            objects,
            report,
            mock_crm,
            json,
        } => {
            let since_last = match since.as_deref() {
                None => false,
                Some("last") => true,
                Some(other) => bail!("--since takes `last` (got {other:?})"),
            };
            let opts = RunOptions {
                stage: match stage {
                    StageArg::Rehearsal => Stage::Rehearsal,
                    StageArg::Production => Stage::Production,
                },
                resume,
                dry_run,
                since_last,
                objects,
            };
            let r = match stage {
                StageArg::Production => {
                    let (sf, monday) = configured()?;
                    let m =
                        context::migrator(&config.mapping_path, store, sf, monday, sink).await?;
                    m.run(&opts).await.map_err(refusal)?
                }
                StageArg::Rehearsal => {
                    rehearse(config, store, snapshot, mock_crm, &opts, sink).await?
                }
            };
            print_run(&r, &report, json)?;
            if r.failures.is_empty() && r.outcome != "failed" {
                Ok(())
            } else {
                Err(Exit {
                    code: 1,
                    message: format!(
                        "the migration finished with {} failed record(s){}; the report is in {}",
                        r.failures.len(),
                        r.verify_differences
                            .filter(|d| *d > 0)
                            .map(|d| format!(" and {d} verify difference(s)"))
                            .unwrap_or_default(),
                        report.display()
                    ),
                }
                .into())
            }
        }
    }
}

/// A refused production run exits 2; other failures stay errors (exit 1).
fn refusal(e: MigrateError) -> anyhow::Error {
    match e {
        MigrateError::NotRehearsed { .. } => Exit {
            code: 2,
            message: e.to_string(),
        }
        .into(),
        other => anyhow::Error::new(other),
    }
}

fn print_run(r: &RunReport, report: &Path, json: bool) -> Result<()> {
    let text = serde_json::to_string_pretty(r)?;
    std::fs::write(report, &text).with_context(|| format!("writing {}", report.display()))?;
    if json {
        crate::outln!("{text}");
        return Ok(());
    }
    let mut t = Table::new(&[
        "OBJECT",
        "BOARD",
        "READ",
        "CREATED",
        "UPDATED",
        "UNCHANGED",
        "ADOPTED",
        "FAILED",
        "RELATIONS",
    ]);
    for o in &r.objects {
        t.row(vec![
            o.object.clone(),
            o.board_id.clone(),
            o.read.to_string(),
            o.created.to_string(),
            o.updated.to_string(),
            o.unchanged.to_string(),
            o.adopted.to_string(),
            o.failed.to_string(),
            o.relations_set.to_string(),
        ]);
    }
    crate::out!("{}", t.render());
    for c in r.changes.iter().take(500) {
        crate::outln!(
            "would {} {} {}{}: {}",
            c.op,
            c.object,
            c.sf_id,
            c.item_id
                .as_deref()
                .map(|i| format!(" (item {i})"))
                .unwrap_or_default(),
            c.columns.join(", ")
        );
    }
    for f in r.failures.iter().take(200) {
        crate::outln!("failed: {} {}: {}", f.object, f.sf_id, f.reason);
    }
    for u in &r.unmatched_users {
        crate::outln!("{}", unmatched_line(u));
    }
    crate::outln!(
        "{} run{} of plan {}: {} in {:.1} s, {} Monday calls, {} mutations; report: {}",
        match r.stage {
            Stage::Rehearsal => "rehearsal",
            Stage::Production => "production",
        },
        r.run_id.map(|i| format!(" {i}")).unwrap_or_default(),
        r.plan_hash,
        r.outcome,
        r.duration_ms as f64 / 1000.0,
        r.monday_calls,
        r.mutations,
        report.display()
    );
    Ok(())
}

/// The rehearsal: snapshot (unless given), `mock-crm` seeded from it, the run and verify there.
async fn rehearse(
    config: &crmsync_config::Config,
    store: Store,
    snapshot: Option<PathBuf>,
    mock_crm: Option<PathBuf>,
    opts: &RunOptions,
    sink: crmsync_migrate::ProgressSink,
) -> Result<RunReport> {
    let dir = match snapshot {
        Some(d) => d,
        None => {
            let dir = std::env::temp_dir().join(format!("crmsync-snapshot-{}", std::process::id()));
            let sf = context::salesforce(config)?;
            let monday = context::monday(config)?;
            let m = context::migrator(
                &config.mapping_path,
                store.clone(),
                sf,
                monday,
                sink.clone(),
            )
            .await?;
            m.snapshot(&dir, false)
                .await
                .context("taking the snapshot for the rehearsal")?;
            dir
        }
    };
    let binary = match mock_crm {
        Some(p) => p,
        None => std::env::current_exe()
            .context("finding this executable")?
            .with_file_name(format!("mock-crm{}", std::env::consts::EXE_SUFFIX)),
    };
    let client_secret = format!("rehearsal-{}", uuid_like());
    let token = format!("rehearsal-{}", uuid_like());
    let mut cmd = tokio::process::Command::new(&binary);
    cmd.args([
        "--salesforce-addr",
        "127.0.0.1:0",
        "--monday-addr",
        "127.0.0.1:0",
    ])
    .arg("--fixtures")
    .arg(&dir)
    .args(["--sf-client-id", "crmsync-rehearsal", "--sf-client-secret"])
    .arg(&client_secret)
    .arg("--monday-token")
    .arg(&token)
    .env_remove("MOCK_MONDAY_TOKEN")
    .env_remove("MOCK_SF_CLIENT_ID")
    .env_remove("MOCK_SF_CLIENT_SECRET")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::inherit())
    .kill_on_drop(true);
    if let Ok(extra) = std::env::var("CRMSYNC_MOCK_CRM_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "starting the mocks for the rehearsal ({}); pass --mock-crm PATH or set CRMSYNC_MOCK_CRM",
            binary.display()
        )
    })?;
    let stdout = child.stdout.take().context("reading mock-crm's output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("mock-crm did not start within 60 s")?
        .context("reading mock-crm's output")?
        .context("mock-crm exited before listening (see its message above)")?;
    let urls: serde_json::Value =
        serde_json::from_str(&line).with_context(|| format!("mock-crm printed {line:?}"))?;
    let sf_url = urls["salesforce"]
        .as_str()
        .context("mock-crm gave no salesforce URL")?;
    let monday_url = urls["monday"]
        .as_str()
        .context("mock-crm gave no monday URL")?;
    let sf = SalesforceClient::new(SalesforceConfig::new(
        url::Url::parse(sf_url).context("mock-crm's salesforce URL")?,
        "crmsync-rehearsal",
        SecretString::from(client_secret),
        AuthMode::ClientCredentials,
    ))
    .context("configuring the Salesforce client for the rehearsal")?;
    let monday = MondayClient::new(
        MondayConfig::new(SecretString::from(token))
            .with_api_url(format!("{monday_url}/v2"))
            .with_mutation_limit(context::mutation_limit(config)),
    )
    .context("configuring the Monday client for the rehearsal")?;
    // The rehearsal's own state (links, checkpoints, intents, delta cursors) lives in a
    // throwaway store next to its throwaway mocks: the mocks' item ids must never reach the
    // configured store, whose links would then tie real Salesforce records to items that exist
    // only in the rehearsal (and refuse the production run's links). The configured store gets
    // the outcome only: a rehearsal run of this plan hash, passed or failed, with its counts.
    let scratch_dir = std::env::temp_dir().join(format!("crmsync-rehearsal-{}", uuid_like()));
    std::fs::create_dir_all(&scratch_dir)
        .with_context(|| format!("creating {}", scratch_dir.display()))?;
    let result = async {
        let url = format!("sqlite://{}/rehearsal.db", scratch_dir.display());
        let scratch = Store::connect(&url)
            .await
            .context("opening the rehearsal's own store")?;
        scratch
            .migrate()
            .await
            .context("preparing the rehearsal's own store")?;
        let m: Migrator =
            context::migrator(&config.mapping_path, scratch.clone(), sf, monday, sink).await?;
        let r = m.run(opts).await.map_err(refusal)?;
        if let Some(id) = r.run_id {
            let run = scratch
                .get_run(crmsync_store::RunId(id))
                .await?
                .context("the rehearsal's run is missing from its store")?;
            let recorded = store
                .start_run(crmsync_store::MigrationStage::Rehearsal, &r.plan_hash)
                .await?;
            store.finish_run(recorded, run.outcome, &run.counts).await?;
        }
        scratch.close().await;
        anyhow::Ok(r)
    }
    .await;
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&scratch_dir);
    result
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", t, std::process::id())
}

/// Bars on a terminal (stderr), plain lines every few seconds otherwise; and the kill hook.
fn progress_sink() -> crmsync_migrate::ProgressSink {
    let kill_at: Option<(String, u64)> = std::env::var(KILL_AT).ok().and_then(|v| {
        let (p, n) = v.split_once(':')?;
        Some((p.to_string(), n.parse().ok()?))
    });
    let terminal = std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let bars: Mutex<HashMap<(String, &'static str), ProgressBar>> = Mutex::new(HashMap::new());
    let last_line = Mutex::new(std::time::Instant::now());
    Arc::new(move |p: &Progress| {
        if let (Progress::Point { point, n }, Some((want, at))) = (p, &kill_at) {
            if point.name() == want && n == at {
                kill_self(*point);
            }
        }
        match p {
            Progress::Started {
                object,
                pass,
                total,
            } if terminal => {
                let bar = match total {
                    Some(t) => ProgressBar::new(*t),
                    None => ProgressBar::new_spinner(),
                };
                let style = ProgressStyle::with_template(
                    "{prefix:>24} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                let bar = multi.add(bar.with_style(style));
                bar.set_prefix(format!("{object} {pass}"));
                if let Ok(mut b) = bars.lock() {
                    b.insert((object.clone(), pass), bar);
                }
            }
            Progress::Advanced { object, pass, done } => {
                if terminal {
                    if let Ok(b) = bars.lock() {
                        if let Some(bar) = b.get(&(object.clone(), *pass)) {
                            bar.set_position(*done);
                        }
                    }
                } else if let Ok(mut last) = last_line.lock() {
                    if last.elapsed() >= Duration::from_secs(2) {
                        *last = std::time::Instant::now();
                        eprintln!("migrate: {object} {pass}: {done} records");
                    }
                }
            }
            Progress::Finished { object, pass, done } => {
                if terminal {
                    if let Ok(b) = bars.lock() {
                        if let Some(bar) = b.get(&(object.clone(), *pass)) {
                            bar.set_position(*done);
                            bar.finish();
                        }
                    }
                } else {
                    eprintln!("migrate: {object} {pass}: {done} records, done");
                }
            }
            _ => {}
        }
    })
}

fn kill_self(point: Point) {
    eprintln!("migrate: {KILL_AT}: SIGKILL at {}", point.name());
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    // The signal is on its way; never go on past the point.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One owner whose records' people column stays empty (no Monday user has the owner's email).
fn unmatched_line(u: &crmsync_migrate::UnmatchedUser) -> String {
    format!(
        "unmatched owner: {} record(s) of {} owned by Salesforce user {}{} keep column {} empty: \
         no Monday user has that email",
        u.records,
        u.object,
        u.user_id,
        u.email
            .as_deref()
            .map(|e| format!(" <{e}>"))
            .unwrap_or_else(|| " (no email)".into()),
        u.column
    )
}
