//! `crmsync-bench`: the benchmarks behind `cargo xtask bench` (see `crmsync_testkit::bench`).
//!
//! ```text
//! crmsync-bench [--quick] [--migration-only | --budget-only | --webhook-only] [--rates 50,200] [--seconds S]
//!               [--store-json FILE] [--lambda-json FILE] [--out BENCHMARKS.md]
//!               [--svg docs/benchmarks.svg] [--command TEXT]
//! ```
//! Needs `DATABASE_URL` (a PostgreSQL server) for the webhook benchmark. `--migration-only`
//! runs just the migration section (`bench::migration`; no database needed); `--budget-only`
//! just its complexity-budget run and `--webhook-only` just the webhook section (both printed,
//! nothing written). `--rates` and `--seconds` change the
//! webhook section's offered rates and seconds per rate.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use crmsync_testkit::bench::report::{self, Figures, RunInfo, StoreFigures};
use crmsync_testkit::bench::{mapping, migration, webhook};

struct Args {
    quick: bool,
    migration_only: bool,
    budget_only: bool,
    webhook_only: bool,
    rates: Option<Vec<u32>>,
    seconds: Option<f64>,
    store_json: Option<PathBuf>,
    lambda_json: Option<PathBuf>,
    out: PathBuf,
    svg: PathBuf,
    command: String,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        quick: false,
        migration_only: false,
        budget_only: false,
        webhook_only: false,
        rates: None,
        seconds: None,
        store_json: None,
        lambda_json: None,
        out: PathBuf::from("BENCHMARKS.md"),
        svg: PathBuf::from("docs/benchmarks.svg"),
        command: "cargo xtask bench".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--migration-only" => a.migration_only = true,
            "--budget-only" => a.budget_only = true,
            "--webhook-only" => a.webhook_only = true,
            "--rates" => {
                let v = value("--rates")?;
                let rates = v
                    .split(',')
                    .map(|r| r.trim().parse::<u32>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| {
                        format!("--rates {v:?}: a comma-separated list of events/s")
                    })?;
                a.rates = Some(rates);
            }
            "--seconds" => {
                let v = value("--seconds")?;
                a.seconds = Some(v.parse().with_context(|| format!("--seconds {v:?}"))?);
            }
            "--store-json" => a.store_json = Some(value("--store-json")?.into()),
            "--lambda-json" => a.lambda_json = Some(value("--lambda-json")?.into()),
            "--out" => a.out = value("--out")?.into(),
            "--svg" => a.svg = value("--svg")?.into(),
            "--command" => a.command = value("--command")?,
            "-h" | "--help" => {
                println!("crmsync-bench [--quick] [--migration-only | --budget-only | --webhook-only] [--rates 50,200] [--seconds S] [--store-json FILE] [--lambda-json FILE] [--out FILE] [--svg FILE] [--command TEXT]");
                std::process::exit(0);
            }
            other => bail!("unexpected argument {other:?} (see --help)"),
        }
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    // The migration benchmark's child process (see `bench::migration`).
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--migrate-child") {
        return migration::child(argv.get(2).map_or("", String::as_str)).await;
    }
    let args = parse_args()?;
    let migration_cfg = match args.quick {
        true => migration::MigrationBenchConfig::quick(),
        false => migration::MigrationBenchConfig::full(),
    };
    let exe = std::env::current_exe().context("locating crmsync-bench for the migration child")?;
    if args.migration_only {
        // Only the migration section (the store and webhook figures need PostgreSQL and take
        // minutes): printed, and written to --out.
        let migration = migration::run(&migration_cfg, &exe).await?;
        let (svg_path, svg_name) = migration_svg(&args);
        write_file(&svg_path, &migration::svg(&migration))?;
        let md = migration::markdown(&migration, &args.command, &svg_name);
        std::fs::write(&args.out, &md)
            .with_context(|| format!("writing {}", args.out.display()))?;
        print!("{md}");
        return Ok(());
    }
    if args.budget_only {
        // Only the complexity-budget run (and the limits-off run that sizes its budget): the
        // figures printed, nothing written. For tuning the client's pacing.
        let cfg = migration::MigrationBenchConfig {
            scales: Vec::new(),
            ..migration_cfg
        };
        let migration = migration::run(&cfg, &exe).await?;
        println!("{:#?}", migration.budget);
        return Ok(());
    }
    if args.webhook_only {
        let web = webhook::run(&webhook_config(&args)).await?;
        println!("{web:#?}");
        return Ok(());
    }
    let info = RunInfo::here(&args.command);
    let mut store = Vec::new();
    let mut store_notes = Vec::new();
    if let Some(path) = &args.store_json {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(note) = line.strip_prefix("NOTE ") {
                store_notes.push(note.to_owned());
                continue;
            }
            let f: StoreFigures = serde_json::from_str(line)
                .with_context(|| format!("a store figure line in {}: {line}", path.display()))?;
            store.push(f);
        }
    }
    eprintln!("crmsync-bench: mapping and planning loops");
    let mapping = mapping::run(args.quick)?;
    eprintln!("crmsync-bench: webhook → Salesforce through the receiver");
    let web = webhook::run(&webhook_config(&args)).await?;
    eprintln!("crmsync-bench: migration Salesforce → Monday");
    let migration = migration::run(&migration_cfg, &exe).await?;
    let fig = Figures {
        info,
        store,
        store_notes,
        webhook: Some(web),
        mapping,
        lambda: args
            .lambda_json
            .as_deref()
            .map(report::read_lambda)
            .transpose()?,
    };
    let svg_name = args
        .svg
        .strip_prefix(args.out.parent().unwrap_or(std::path::Path::new("")))
        .unwrap_or(&args.svg)
        .display()
        .to_string();
    let mut md = report::markdown(&fig, &svg_name);
    md.push('\n');
    let (migration_svg_path, migration_svg_name) = migration_svg(&args);
    md.push_str(&migration::markdown(
        &migration,
        &args.command,
        &migration_svg_name,
    ));
    if let Some(dir) = args.svg.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Some(w) = &fig.webhook {
        write_file(&args.svg, &report::svg(w))?;
    }
    write_file(&migration_svg_path, &migration::svg(&migration))?;
    std::fs::write(&args.out, &md).with_context(|| format!("writing {}", args.out.display()))?;
    print!("{md}");
    Ok(())
}

/// The webhook section's configuration: `--quick` or the full one, with `--rates`/`--seconds`.
fn webhook_config(args: &Args) -> webhook::WebhookBenchConfig {
    let mut cfg = if args.quick {
        webhook::WebhookBenchConfig {
            items: 20,
            rates: vec![50],
            seconds: 0.5,
            concurrency: 4,
            saturate_seconds: 0.5,
        }
    } else {
        webhook::WebhookBenchConfig {
            items: 300,
            rates: vec![50, 100, 200, 300],
            seconds: 6.0,
            concurrency: 16,
            saturate_seconds: 8.0,
        }
    };
    if let Some(rates) = &args.rates {
        cfg.rates = rates.clone();
    }
    if let Some(seconds) = args.seconds {
        cfg.seconds = seconds;
    }
    cfg
}

/// The migration chart beside `--svg`: its path, and its name relative to `--out`'s directory.
fn migration_svg(args: &Args) -> (PathBuf, String) {
    let path = args.svg.with_file_name("benchmarks-migration.svg");
    let name = path
        .strip_prefix(args.out.parent().unwrap_or(std::path::Path::new("")))
        .unwrap_or(&path)
        .display()
        .to_string();
    (path, name)
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
