//! `cargo xtask chaos`: builds the test kit's `crmsync-chaos` optimised (profile `measure`) and runs the fault matrix
//! against a PostgreSQL of its own (so the "PostgreSQL restarted" row may restart it), loopback
//! only, bounded in time; writes RELIABILITY.md.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::pg::{self, Paths};
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask chaos [--quick] [--only SUBSTRING] [--out FILE]

The reliability suite: for each fault (Salesforce 503s, UNABLE_TO_LOCK_ROW, timeouts, responses
lost after the write, session-expiry storms, the daily limit; Monday complexity exhaustion and
5xx on reads and write-backs; duplicate, reordered and delayed deliveries; the store cut off and
PostgreSQL restarted mid-run; the real `crmsync` process killed with SIGKILL and restarted; two
`crmsync` processes on one PostgreSQL; queue mode on moto's SQS with the consumer killed; the
migration killed twice and resumed; the Lambda artifact behind the Runtime API emulator, when
target/lambda/crmsync/unpacked/bootstrap exists) a fresh app and mocks on loopback, real edits on the mock Monday,
and counts: sent, applied, dead-lettered, lost (must be 0), duplicated (must be 0), Salesforce =
Monday per touched item. Writes RELIABILITY.md (--quick: target/chaos/RELIABILITY.md, a few
small rows, the smoke run of `cargo xtask test`). Exits non-zero when any row fails.
PostgreSQL: like `test`; the restart row runs only on the throwaway cluster xtask starts itself.
";

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(it.next().context("--only needs a value")?.clone()),
            "--out" => out = Some(it.next().context("--out needs a file")?.into()),
            other => bail!("unexpected argument {other:?}\n\n{HELP}"),
        }
    }
    let out = out.unwrap_or_else(|| match quick {
        true => paths.target.join("chaos").join("RELIABILITY.md"),
        false => paths.root.join("RELIABILITY.md"),
    });
    crate::bench_cmd::measure_build(paths)?;
    let bin_dir = crate::bench_cmd::measure_dir(paths);
    // Queue mode runs against moto's server mode, from the venv `cargo xtask test` also uses
    // (made before the database, which would wait for a first pip install otherwise; only when
    // that row is selected). Without it the queue-mode row says it was not run and why.
    let queue_row = match &only {
        Some(o) => "SQS queue mode".contains(o.as_str()),
        None => !quick,
    };
    let python = queue_row.then(|| crate::test_cmd::ensure_venv(paths));
    pg::clean_stale(paths)?;
    let db = pg::provision_for_tests(paths)?;
    eprintln!("xtask: PostgreSQL: {}", db.describe());
    let mut cmd = Command::new(bin_dir.join("crmsync-chaos"));
    cmd.current_dir(&paths.root)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "off")
        .env("CRMSYNC_CHAOS_BIN", bin_dir.join("crmsync"))
        .arg("--out")
        .arg(&out)
        .args([
            "--command",
            if quick {
                "cargo xtask chaos --quick"
            } else {
                "cargo xtask chaos"
            },
        ]);
    if quick {
        // A few seconds: the control row and one fault of each mock.
        cmd.args(["--quick", "--only", only.as_deref().unwrap_or("503")]);
    } else if let Some(o) = &only {
        cmd.args(["--only", o]);
    }
    match &python {
        Some(Ok(p)) => {
            cmd.env("CRMSYNC_TEST_PYTHON", p);
        }
        Some(Err(e)) => {
            eprintln!("xtask: queue-mode row not run: no venv with moto[server] ({e:#})")
        }
        None => {}
    }
    // The Lambda row runs the artifact when it was built and unpacked (`lambda build` + `test`).
    let bootstrap = crate::lambda_cmd::Artifact::of(paths)
        .dir
        .join("unpacked")
        .join("bootstrap");
    if bootstrap.is_file() {
        eprintln!("xtask: Lambda row: {}", bootstrap.display());
        cmd.env("CRMSYNC_CHAOS_BOOTSTRAP", &bootstrap);
    } else {
        eprintln!(
            "xtask: Lambda row not run: no {} (cargo xtask lambda build && cargo xtask lambda test)",
            bootstrap.display()
        );
    }
    if let Some(c) = db.cluster() {
        cmd.env("CRMSYNC_CHAOS_PG_CTL", c.pg_ctl())
            .env("CRMSYNC_CHAOS_PG_DATA", c.data());
        if let Some(u) = c.run_as() {
            cmd.env("CRMSYNC_CHAOS_PG_USER", u);
        }
    }
    let st = proc::status(&mut cmd, "crmsync-chaos", Mode::Interruptible)?;
    drop(db);
    if !st.success() {
        bail!("the reliability suite failed ({st}); see {}", out.display());
    }
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}
