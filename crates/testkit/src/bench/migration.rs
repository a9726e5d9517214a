//! The migration benchmark (`cargo xtask bench`, section "Migration"): Salesforce → Monday on the
//! scaled seed (`--scale`), optimised (cargo profile `measure`).
//!
//! * **Throughput with the limits off**: the mock Monday's complexity budget and mutation limit
//!   lifted, the client unpaced; records/s of the production run (records read, items created,
//!   relations set), then `verify` on its own.
//! * **Fraction of the budget-bound maximum** with the complexity budget on: the mock Monday
//!   meters `B` points per window of `W` seconds, as Monday does per minute. A run that spends
//!   `C` points in all needs `⌈C/B⌉` windows and cannot finish before the last of them opens:
//!   `T_min = (⌈C/B⌉ − 1)·W` (the first window's budget is there at the start). The fraction
//!   is `T_min / T` for the measured wall time `T` (1.0 = as fast as the budget allows).
//!   `B` is set so that `C/B` is a whole number and a half: with `C` an exact multiple of `B`,
//!   a few points a window could not use (the next request costs more than what is left) move
//!   the last records into one more window, and the figure would measure that boundary rather
//!   than the pacing. The fluid figure `(C − B)·W/B`, which no windowed client can reach with a
//!   half window left, is reported beside it.
//! * **Peak RSS** of the migrating process at about 5,000 and 50,000 records, and their ratio
//!   (flat memory: the ratio stays near 1).
//!
//! The mocks run in this process; the migration runs in a child process (this binary again,
//! `crmsync-bench --migrate-child …`) so that its peak RSS (`VmHWM`) is crmsync's alone, not
//! the mocks' (which hold every record and item in memory). Every run also checks its outcome —
//! one item per record, verify clean — and the figures say so; nothing here is a test assertion.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crmsync_migrate::{MigrateOptions, Migrator, RunOptions, Stage};
use crmsync_monday::{MondayClient, MondayConfig};
use crmsync_salesforce::{AuthMode, SalesforceClient, SalesforceConfig};
use crmsync_store::{MigrationStage, RunCounts, RunOutcome, Store};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::seed::{seed_dir, seed_mapping, MOCK_SF_CLIENT_ID, MOCK_SF_CLIENT_SECRET};

/// Records of the unscaled seed (Lead 450, Account 150, Contact 300, Opportunity 200).
pub const SEED_RECORDS: u64 = 1_100;

/// What to run.
#[derive(Debug, Clone)]
pub struct MigrationBenchConfig {
    /// Seed scale factors of the limits-off runs (peak RSS at each); the first is also the
    /// throughput figure.
    pub scales: Vec<u32>,
    /// Scale of the budget-on run.
    pub budget_scale: u32,
    /// Budget windows the budget-on run should take (sets `B` from the measured cost).
    pub budget_windows: u32,
    /// Window length of the budget-on run.
    pub budget_window: Duration,
}

impl MigrationBenchConfig {
    /// The full benchmark: 5,500 and 50,600 records, the budget run at 5,500 over ~6 windows.
    pub fn full() -> Self {
        MigrationBenchConfig {
            scales: vec![5, 46],
            budget_scale: 5,
            budget_windows: 6,
            budget_window: Duration::from_secs(10),
        }
    }

    /// A few seconds in all (the smoke run).
    pub fn quick() -> Self {
        MigrationBenchConfig {
            scales: vec![1],
            budget_scale: 1,
            budget_windows: 3,
            budget_window: Duration::from_secs(2),
        }
    }
}

/// What one child run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildReport {
    /// Salesforce records read.
    pub records: u64,
    /// Items created.
    pub created: u64,
    /// Records that failed.
    pub failed: u64,
    /// Wall time of the run (records and relation passes), seconds.
    pub run_seconds: f64,
    /// Wall time of `verify`, seconds.
    pub verify_seconds: f64,
    /// Differences `verify` found.
    pub differences: u64,
    /// Monday requests and mutations the run sent.
    pub monday_calls: u64,
    /// Mutations.
    pub mutations: u64,
    /// Complexity points the run spent (Monday's `complexity.query`, summed).
    pub complexity: u64,
    /// Peak resident set of the child (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
}

/// One limits-off run.
#[derive(Debug, Clone)]
pub struct ScaleFigures {
    /// Seed scale.
    pub scale: u32,
    /// The child's measurements.
    pub report: ChildReport,
}

/// The budget-on run.
#[derive(Debug, Clone)]
pub struct BudgetFigures {
    /// Seed scale.
    pub scale: u32,
    /// Budget points per window (`B`).
    pub points: u64,
    /// Window (`W`).
    pub window: Duration,
    /// The child's measurements.
    pub report: ChildReport,
    /// `T_min` in seconds.
    pub bound_seconds: f64,
    /// `(C − B)·W/B` in seconds: the bound if the budget flowed continuously.
    pub fluid_seconds: f64,
    /// `T_min / T`.
    pub fraction: f64,
}

/// The migration section.
#[derive(Debug, Clone)]
pub struct MigrationFigures {
    /// Limits-off runs, by scale.
    pub scales: Vec<ScaleFigures>,
    /// The budget-on run.
    pub budget: BudgetFigures,
}

/// How the child reaches the mocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChildArgs {
    salesforce: String,
    monday: String,
    monday_token: String,
    store_dir: String,
}

/// Runs the benchmark (mocks here, the migration in child processes of `exe`).
pub async fn run(cfg: &MigrationBenchConfig, exe: &Path) -> Result<MigrationFigures> {
    let mut scales = Vec::new();
    for &scale in &cfg.scales {
        eprintln!(
            "crmsync-bench: migration, limits off, {} records",
            SEED_RECORDS * u64::from(scale)
        );
        let report = with_mocks(exe, scale, None).await?;
        scales.push(ScaleFigures { scale, report });
    }
    // The budget-on run: B chosen so the run spends about `budget_windows` windows' worth, from
    // the cost a limits-off run at the same scale measured.
    let cost = match scales.iter().find(|s| s.scale == cfg.budget_scale) {
        Some(s) => s.report.complexity,
        None => with_mocks(exe, cfg.budget_scale, None).await?.complexity,
    };
    // C/B = windows − ½ (see the module docs).
    let points = (cost.saturating_mul(2) / (2 * u64::from(cfg.budget_windows.max(2)) - 1)).max(1);
    eprintln!(
        "crmsync-bench: migration, complexity budget on ({points} points per {:?})",
        cfg.budget_window
    );
    let report = with_mocks(exe, cfg.budget_scale, Some((points, cfg.budget_window))).await?;
    let rate = points as f64 / cfg.budget_window.as_secs_f64();
    let windows_needed = report.complexity.div_ceil(points).max(1);
    let bound_seconds = (windows_needed - 1) as f64 * cfg.budget_window.as_secs_f64();
    let fluid_seconds = (report.complexity.saturating_sub(points)) as f64 / rate;
    let fraction = if report.run_seconds > 0.0 {
        bound_seconds / report.run_seconds
    } else {
        0.0
    };
    Ok(MigrationFigures {
        scales,
        budget: BudgetFigures {
            scale: cfg.budget_scale,
            points,
            window: cfg.budget_window,
            report,
            bound_seconds,
            fluid_seconds,
            fraction,
        },
    })
}

/// Starts both mocks (Salesforce scaled `scale` times; Monday with `budget`, else the limits
/// lifted) and runs one child against them.
async fn with_mocks(
    exe: &Path,
    scale: u32,
    budget: Option<(u64, Duration)>,
) -> Result<ChildReport> {
    let salesforce = mock_salesforce::MockSalesforce::builder()
        .seed_dir(seed_dir().join("salesforce"))
        .scale(scale)
        .start()
        .await
        .context("starting the mock Salesforce")?;
    let mut monday = mock_monday::MockMonday::builder().seed_dir(seed_dir().join("monday"));
    monday = match budget {
        Some((points, window)) => monday.budget(points, window).mutations_per_window(u64::MAX),
        None => monday
            .budget(u64::MAX / 4, Duration::from_secs(60))
            .mutations_per_window(u64::MAX),
    };
    let monday = monday.start().await.context("starting the mock Monday")?;
    let dir = tempfile::tempdir().context("a directory for the child's store")?;
    let args = ChildArgs {
        salesforce: salesforce.base_url.clone(),
        monday: monday.api_url(),
        monday_token: monday.token().to_string(),
        store_dir: dir.path().display().to_string(),
    };
    let json = serde_json::to_string(&args).context("encoding the child's arguments")?;
    // `spawn` + `wait_with_output`, not `output()`: tokio's `output()` captures stderr whatever
    // was set, which hid the child's own error messages.
    let out = tokio::process::Command::new(exe)
        .args(["--migrate-child", &json])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {} --migrate-child", exe.display()))?
        .wait_with_output()
        .await
        .with_context(|| format!("waiting for {} --migrate-child", exe.display()))?;
    if !out.status.success() {
        bail!("the migration child failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the migration child printed no report")?;
    serde_json::from_str(line).with_context(|| format!("the child's report: {line}"))
}

/// `crmsync-bench --migrate-child JSON`: one production run (after a passed rehearsal recorded
/// for its plan hash) and a verify, against the mocks the parent started; prints a
/// [`ChildReport`] line.
pub async fn child(json: &str) -> Result<()> {
    let args: ChildArgs = serde_json::from_str(json).context("the child's arguments")?;
    let sf = SalesforceClient::new(SalesforceConfig::new(
        url::Url::parse(&args.salesforce).context("the mock Salesforce URL")?,
        MOCK_SF_CLIENT_ID,
        SecretString::from(MOCK_SF_CLIENT_SECRET),
        AuthMode::ClientCredentials,
    ))
    .context("the Salesforce client")?;
    // Unpaced by the mutation limit: the mocks' limit is lifted; the complexity budget paces.
    let monday = MondayClient::new(
        MondayConfig::new(SecretString::from(args.monday_token.clone()))
            .with_api_url(args.monday.clone())
            .with_mutation_limit(None),
    )
    .context("the Monday client")?;
    let store_url = format!("sqlite://{}/crmsync.db", args.store_dir);
    let store = Store::connect(&store_url).await.context("the store")?;
    store.migrate().await.context("migrating the store")?;
    let path = seed_mapping();
    let src = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let mapping = crmsync_sync::load_mapping(&path, &sf, &monday)
        .await
        .context("checking the seed mapping")?;
    let m = Migrator::new(
        store.clone(),
        sf,
        monday.clone(),
        mapping,
        &src,
        MigrateOptions::default(),
        Arc::new(|_: &crmsync_migrate::Progress| {}),
    );
    let hash = m.current_plan_hash().await?;
    let rehearsal = store.start_run(MigrationStage::Rehearsal, &hash).await?;
    store
        .finish_run(rehearsal, RunOutcome::Passed, &RunCounts::default())
        .await?;
    let spent = monday.complexity_spent();
    let t = Instant::now();
    let report = m
        .run(&RunOptions {
            stage: Stage::Production,
            resume: false,
            dry_run: false,
            since_last: false,
            objects: None,
        })
        .await?;
    let run_seconds = t.elapsed().as_secs_f64();
    let complexity = monday.complexity_spent() - spent;
    let t = Instant::now();
    let v = m.verify(None).await?;
    let verify_seconds = t.elapsed().as_secs_f64();
    let out = ChildReport {
        records: report.objects.iter().map(|o| o.read).sum(),
        created: report.objects.iter().map(|o| o.created).sum(),
        failed: report.failures.len() as u64,
        run_seconds,
        verify_seconds,
        differences: v.differences.len() as u64,
        monday_calls: report.monday_calls,
        mutations: report.mutations,
        complexity,
        peak_rss_kib: peak_rss_kib(),
    };
    store.close().await;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// `VmHWM` of this process (Linux), KiB; 0 where unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The section of BENCHMARKS.md.
pub fn markdown(f: &MigrationFigures, command: &str, svg_name: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "## Migration (Salesforce → Monday)\n");
    let _ = writeln!(
        s,
        "`{command}`, optimised build (cargo profile `measure`); the mocks in the bench process, the migration in a child \
         process (its own peak RSS). Records: the seed scaled (`--scale`), four objects. Each run \
         is a production run (records pass and relation pass) followed by `verify`.\n"
    );
    let _ = writeln!(
        s,
        "![migration throughput against record count]({svg_name})\n"
    );
    let _ = writeln!(s, "### Limits off (budget and mutation limit lifted)\n");
    let _ = writeln!(
        s,
        "| records | run s | records/s | verify s | items created | failed | verify differences | Monday calls | mutations | peak RSS MiB |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &f.scales {
        let c = &r.report;
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {:.1} |",
            c.records,
            c.run_seconds,
            c.records as f64 / c.run_seconds.max(1e-9),
            c.verify_seconds,
            c.created,
            c.failed,
            c.differences,
            c.monday_calls,
            c.mutations,
            c.peak_rss_kib as f64 / 1024.0
        );
    }
    if let (Some(small), Some(big)) = (f.scales.first(), f.scales.last()) {
        if f.scales.len() > 1 && small.report.peak_rss_kib > 0 {
            let _ = writeln!(
                s,
                "\nPeak RSS {} records / {} records: **{:.2}** (goal ≤ 1.5: memory flat in the number of records).",
                big.report.records,
                small.report.records,
                big.report.peak_rss_kib as f64 / small.report.peak_rss_kib as f64
            );
        }
    }
    let b = &f.budget;
    let _ = writeln!(s, "\n### Complexity budget on\n");
    let _ = writeln!(
        s,
        "Budget B = {} points per W = {:?} (Monday: 10,000,000 per minute; scaled so the run takes \
         several windows, C/B a whole number and a half). The run spent C = {} points \
         (C/B = {:.2}) over {} records in {:.1} s. It needs ⌈C/B⌉ windows, so the budget-bound \
         minimum is T_min = (⌈C/B⌉ − 1)·W = {:.1} s (were the budget to flow continuously, \
         (C − B)·W/B = {:.1} s: {:.2} of it).\n",
        b.points,
        b.window,
        b.report.complexity,
        b.report.complexity as f64 / b.points.max(1) as f64,
        b.report.records,
        b.report.run_seconds,
        b.bound_seconds,
        b.fluid_seconds,
        b.fluid_seconds / b.report.run_seconds.max(1e-9),
    );
    let _ = writeln!(
        s,
        "Fraction of the budget-bound maximum throughput: **{:.2}** (goal ≥ 0.9); items created {}, failed {}, verify differences {}.",
        b.fraction, b.report.created, b.report.failed, b.report.differences
    );
    s
}

/// A chart of records/s against the number of records (limits off): the run and `verify`.
pub fn svg(f: &MigrationFigures) -> String {
    use super::report::{line_chart, Chart, Line};
    let per_s = |n: u64, secs: f64| n as f64 / secs.max(1e-9);
    line_chart(&Chart {
        title: "Migration throughput against record count",
        desc: "Records per second of the migration run and of verify, limits off, at each record \
               count; the numbers are in BENCHMARKS.md.",
        x_label: "records",
        y_label: "records/s",
        xs: f.scales.iter().map(|r| r.report.records as f64).collect(),
        lines: vec![
            Line {
                name: "run records/s",
                color: "#c0392b",
                dash: "",
                ys: f
                    .scales
                    .iter()
                    .map(|r| per_s(r.report.records, r.report.run_seconds))
                    .collect(),
            },
            Line {
                name: "verify records/s",
                color: "#2471a3",
                dash: "4 3",
                ys: f
                    .scales
                    .iter()
                    .map(|r| per_s(r.report.records, r.report.verify_seconds))
                    .collect(),
            },
        ],
    })
}
