//! `cargo xtask bench`: builds the store example and `crmsync-bench` optimised (profile
//! `measure`), runs the store figures on each database (PostgreSQL fast, PostgreSQL durable, SQLite), then the webhook and
//! mapping benchmarks, and writes BENCHMARKS.md and docs/benchmarks.svg. Heavy work stays in the
//! test kit's binary; xtask only orchestrates processes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::pg::{self, Paths};
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask bench [--quick] [--out FILE]

Builds `crates/store/examples/store_throughput` and the test kit's `crmsync-bench` optimised
(cargo profile `measure`: release without LTO), then measures, each next to a baseline in the same run:
  - the store's receive + claim + settle against plain sqlx commits on the same database, on
    PostgreSQL (fsync off), PostgreSQL with fsync on (a throwaway durable cluster, when the
    server binaries are installed) and SQLite, with 1 and 4 workers;
  - webhook -> Salesforce through the real receiver (mocks on loopback, PostgreSQL): p50/p99 at
    several rates next to the bare mock calls, and the highest sustained rate;
  - mapping and planning throughput;
  - the migration (limits off at two record counts, then with the complexity budget on);
  - the Lambda artifact, from target/lambda/crmsync/tested.json when `cargo xtask lambda test`
    wrote it.
Writes BENCHMARKS.md, docs/benchmarks.svg and docs/benchmarks-migration.svg (or --out FILE and
the .svg files beside it).
--quick: a few seconds in all (the smoke run of `cargo xtask test`); writes under target/bench/
unless --out is given.
";

/// One store measurement: which database, how many events and workers.
struct StoreRun<'a> {
    label: &'a str,
    url: String,
    events: u32,
    workers: u32,
}

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--out" => out = Some(it.next().context("--out needs a file")?.into()),
            other => bail!("unexpected argument {other:?}\n\n{HELP}"),
        }
    }
    let bench_dir = paths.target.join("bench");
    fs::create_dir_all(&bench_dir).with_context(|| format!("creating {}", bench_dir.display()))?;
    let out = out.unwrap_or_else(|| match quick {
        true => bench_dir.join("BENCHMARKS.md"),
        false => paths.root.join("BENCHMARKS.md"),
    });
    let svg = match (quick, out.parent()) {
        (false, _) if out == paths.root.join("BENCHMARKS.md") => {
            paths.root.join("docs").join("benchmarks.svg")
        }
        (_, Some(dir)) => dir.join("benchmarks.svg"),
        (_, None) => PathBuf::from("benchmarks.svg"),
    };

    measure_build(paths)?;
    let example = measure_dir(paths).join("examples").join("store_throughput");
    let bench = measure_dir(paths).join("crmsync-bench");

    pg::clean_stale(paths)?;
    let db = pg::provision_for_tests(paths)?;
    eprintln!("xtask: PostgreSQL: {}", db.describe());
    let (events, workers): (u32, &[u32]) = if quick { (200, &[1]) } else { (2000, &[1, 4]) };
    let store_json = bench_dir.join("store.jsonl");
    let mut lines = Vec::new();
    let fast_label = match db.source {
        pg::Source::Binaries => "PostgreSQL 15, fsync off",
        _ => "PostgreSQL (as provided)",
    };
    for &w in workers {
        lines.push(store_figure(
            &example,
            &StoreRun {
                label: fast_label,
                url: db.url.clone(),
                events,
                workers: w,
            },
        )?);
    }
    if quick {
        lines.push("NOTE Quick run: PostgreSQL with fsync on and SQLite are measured by the full `cargo xtask bench`.".into());
    } else {
        match pg::durable_cluster(paths)? {
            Some(durable) => {
                for &w in workers {
                    lines.push(store_figure(
                        &example,
                        &StoreRun {
                            label: "PostgreSQL 15, fsync on (durable)",
                            url: durable.url(),
                            events: events / 4,
                            workers: w,
                        },
                    )?);
                }
            }
            None => lines.push(
                "NOTE PostgreSQL with fsync on was not measured: no server binaries (initdb, pg_ctl) \
                 to start a durable throwaway cluster."
                    .into(),
            ),
        }
        for &w in workers {
            let file = bench_dir.join(format!("store-{w}.db"));
            remove_sqlite(&file);
            lines.push(store_figure(
                &example,
                &StoreRun {
                    label: "SQLite (WAL, synchronous=NORMAL)",
                    url: format!("sqlite://{}", file.display()),
                    events,
                    workers: w,
                },
            )?);
            remove_sqlite(&file);
        }
    }
    fs::write(&store_json, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", store_json.display()))?;

    let mut cmd = Command::new(&bench);
    cmd.current_dir(&paths.root)
        .env("DATABASE_URL", &db.url)
        .arg("--store-json")
        .arg(&store_json)
        .arg("--out")
        .arg(&out)
        .arg("--svg")
        .arg(&svg)
        .args([
            "--command",
            if quick {
                "cargo xtask bench --quick"
            } else {
                "cargo xtask bench"
            },
        ]);
    if quick {
        cmd.arg("--quick");
    }
    let tested = crate::lambda_cmd::Artifact::of(paths).tested;
    if tested.is_file() {
        eprintln!("xtask: the Lambda figures come from {}", tested.display());
        cmd.arg("--lambda-json").arg(&tested);
    } else {
        eprintln!(
            "xtask: no {} (run `cargo xtask lambda build` and `cargo xtask lambda test`): the Lambda section says it was not measured",
            tested.display()
        );
    }
    let st = proc::status(&mut cmd, "crmsync-bench", Mode::Interruptible)?;
    drop(db);
    if !st.success() {
        bail!("crmsync-bench failed ({st})");
    }
    eprintln!("xtask: wrote {} and {}", out.display(), svg.display());
    Ok(())
}

/// The build profile of the benchmark and chaos binaries (see `[profile.measure]` in the root
/// Cargo.toml: optimised like release, without LTO, so it builds in minutes on 2 cores).
pub const PROFILE: &str = "measure";

/// Where `measure_build` puts its executables.
pub fn measure_dir(paths: &Paths) -> PathBuf {
    paths.target.join(PROFILE)
}

/// Builds every executable `bench` and `chaos` run, in one cargo invocation with one feature
/// resolution, so either command reuses what the other built.
pub fn measure_build(paths: &Paths) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    proc::run(
        Command::new(cargo).current_dir(&paths.root).args([
            "build",
            "--profile",
            PROFILE,
            "-p",
            "crmsync-store",
            "--example",
            "store_throughput",
            "-p",
            "crmsync-testkit",
            "--bin",
            "crmsync-bench",
            "--bin",
            "crmsync-chaos",
            "-p",
            "crmsync-cli",
            "--bin",
            "crmsync",
        ]),
        "cargo build --profile measure (store_throughput, crmsync-bench, crmsync-chaos, crmsync)",
    )
}

/// Runs the example once; its JSON line with the database's label in front.
fn store_figure(example: &Path, run: &StoreRun<'_>) -> Result<String> {
    eprintln!(
        "xtask: store: {}, {} events, {} worker(s)",
        run.label, run.events, run.workers
    );
    let out = proc::output(
        Command::new(example)
            .arg(&run.url)
            .arg(run.events.to_string())
            .arg(run.workers.to_string())
            .args(["--json", "--fresh-db"]),
        "store_throughput",
        Some(Duration::from_secs(600)),
        Mode::Interruptible,
    )?;
    if !out.status.success() {
        bail!(
            "store_throughput failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("store_throughput printed no JSON line")?;
    eprintln!("xtask:   {line}");
    let label = run.label.replace('"', "'");
    Ok(format!("{{\"cluster\":\"{label}\",{}", &line[1..]))
}

fn remove_sqlite(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = file.as_os_str().to_owned();
        p.push(suffix);
        // Absent files are fine: this only cleans up earlier runs.
        let _ = fs::remove_file(PathBuf::from(p));
    }
}
