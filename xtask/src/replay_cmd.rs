//! `cargo xtask replay [PATH…] [--update]`: replays the scenarios under PATH (default
//! `fixtures/`) with a PostgreSQL from the usual provisioning, by running the testkit's
//! `crmsync-replay` binary (tokio, axum and the mocks stay out of xtask).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use crate::pg::{self, Paths};
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask replay [PATH...] [--update]

Replays each scenario (a directory with scenario.json; format in fixtures/README.md) under PATH
(default: fixtures/) through crmsync's HTTP receiver and engine against the mocks, on a
PostgreSQL (DATABASE_URL, a testcontainers container, or a throwaway cluster, like `test`), and
compares the outcome with the scenario's expected.snap. Prints a table (scenario, deliveries,
outcome, time); on a mismatch lists the differing fields and exits 1.

  --update   write expected.snap.new for new or changed outcomes, to review with
             `cargo insta review` (or rename to expected.snap)

Runs `cargo run -p crmsync-testkit --bin crmsync-replay -- [PATH...] [--update]`.
";

/// Parses the arguments and runs the replay with a provisioned PostgreSQL.
pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    for a in args {
        if a.starts_with('-') && a != "--update" {
            bail!("unknown flag {a:?}\n\n{HELP}");
        }
    }
    pg::clean_stale(paths)?;
    let db = pg::provision_for_tests(paths)?;
    eprintln!("xtask: PostgreSQL: {}", db.describe());
    let ok = replay(&paths.root, &db.url, args)?;
    drop(db);
    if !ok {
        bail!("replay: some scenarios differ from their expected outcome (see above)");
    }
    Ok(())
}

/// Runs `crmsync-replay` with `args` against `database_url`; whether every scenario passed.
pub fn replay(root: &Path, database_url: &str, args: &[String]) -> Result<bool> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "run",
            "-q",
            "-p",
            "crmsync-testkit",
            "--bin",
            "crmsync-replay",
            "--",
        ])
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SQLX_OFFLINE", "true");
    Ok(proc::status(&mut cmd, "crmsync-replay", Mode::Interruptible)?.success())
}

/// The `crmsync-replay` that `cargo xtask test`'s build step made (integration tests of the test
/// kit build its binaries, with the test build's features), if present.
fn built_binary(root: &Path) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    Some(target.join("debug").join("crmsync-replay")).filter(|p| p.is_file())
}

/// For `cargo xtask test`: runs the binary its build step made (a `cargo run` would rebuild the
/// dependency graph with other features, minutes on 2 cores), else falls back to [`replay`].
pub fn replay_built(root: &Path, database_url: &str, args: &[String]) -> Result<bool> {
    let Some(bin) = built_binary(root) else {
        return replay(root, database_url, args);
    };
    let mut cmd = Command::new(&bin);
    cmd.current_dir(root)
        .args(args)
        .env("DATABASE_URL", database_url);
    Ok(proc::status(&mut cmd, "crmsync-replay", Mode::Interruptible)?.success())
}
