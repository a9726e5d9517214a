//! `crmsync-replay [PATH…] [--update] [--db sqlite|postgres] [--jobs N] [--mapping FILE]` (run by
//! `cargo xtask replay`): replays the scenarios under PATH (default `fixtures/`) through the real
//! receiver and engine against the mocks, prints a table, and exits 1 when any outcome differs
//! from its `expected.snap` (or has none). `--update` writes pending `expected.snap.new` files
//! for review (`cargo insta review`) instead of failing on them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use crmsync_testkit::replay::{self, RunConfig};
use crmsync_testkit::Db;

const HELP: &str = "\
crmsync-replay [PATH...] [--update] [--db sqlite|postgres] [--jobs N] [--mapping FILE]

Replays each scenario (a directory with scenario.json) under PATH (default: fixtures/) through
crmsync's HTTP receiver and engine against the mock Salesforce and Monday, and compares the
outcome with the scenario's expected.snap. Exit 1 on any difference, with the differing fields.

  --update        write expected.snap.new for new or changed outcomes (review: cargo insta review)
  --db BACKEND    sqlite or postgres (default: postgres when DATABASE_URL is set, else sqlite)
  --jobs N        scenarios at once (default 4)
  --mapping FILE  mapping for scenarios that name none (default fixtures/seed/mapping.toml)
";

fn main() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "off".to_owned());
    let _ = crmsync_testkit::demo::init_logs(&filter);
    let code = match run() {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("crmsync-replay: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run() -> Result<bool> {
    let mut config = RunConfig::from_env();
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(true);
            }
            "--update" => config.update = true,
            "--db" => {
                config.db = match args.next().as_deref() {
                    Some("sqlite") => Db::Sqlite,
                    Some("postgres") => Db::Postgres,
                    other => bail!("--db takes sqlite or postgres, not {other:?}"),
                }
            }
            "--jobs" => {
                let n = args.next().context("--jobs needs a number")?;
                config.jobs = n
                    .parse()
                    .with_context(|| format!("--jobs takes a number, not {n:?}"))?;
            }
            "--mapping" => {
                config.mapping = Some(PathBuf::from(
                    args.next().context("--mapping needs a file")?,
                ))
            }
            flag if flag.starts_with('-') => bail!("unknown flag {flag}\n\n{HELP}"),
            path => paths.push(PathBuf::from(path)),
        }
    }
    if config.db == Db::Postgres && std::env::var_os("DATABASE_URL").is_none() {
        bail!("--db postgres needs DATABASE_URL (or run `cargo xtask replay`, which provides one)");
    }
    if paths.is_empty() {
        paths.push(replay::fixtures_dir());
    }
    let scenarios = replay::discover(&paths)?;
    if scenarios.is_empty() {
        bail!("no scenario (scenario.json) under {paths:?}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let reports = rt.block_on(replay::run_all(scenarios, &config));
    print!("{}", replay::render(&reports));
    Ok(reports.iter().all(|r| r.verdict.is_ok()))
}
