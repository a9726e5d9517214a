//! `cargo xtask replay [PATH…] [--update]`: replays the scenarios under PATH (default
//! `fixtures/`) with a PostgreSQL from the usual provisioning, by running the testkit's
//! `crmsync-replay` binary (tokio, axum and the mocks stay out of xtask).

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
    let ok = replay(paths, &db.url, args)?;
    drop(db);
    if !ok {
        bail!("replay: some scenarios differ from their expected outcome (see above)");
    }
    Ok(())
}

/// Runs `crmsync-replay` with `args` against `database_url` (the executable of `cargo xtask
/// test`'s build step there, else through `cargo run`: see [`Paths::tool`]); whether every
/// scenario passed.
pub fn replay(paths: &Paths, database_url: &str, args: &[String]) -> Result<bool> {
    let mut cmd = paths.tool("crmsync-testkit", "crmsync-replay");
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("SQLX_OFFLINE", "true");
    Ok(proc::status(&mut cmd, "crmsync-replay", Mode::Interruptible)?.success())
}
