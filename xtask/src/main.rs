//! `cargo xtask`: project automation in plain Rust (see `cargo xtask --help`).
//!
//! Kept quick to compile: std, anyhow, signal-hook and the std-only crmsync-redact. Argument
//! parsing and the JSON of `cargo metadata` (see `json`) are by hand.

mod bench_cmd;
mod chaos_cmd;
mod db_cmd;
mod deploy_cmd;
mod elf;
mod fuzz_cmd;
mod json;
mod lambda_cmd;
mod pg;
mod proc;
mod replay_cmd;
mod test_cmd;
mod tidy;

use anyhow::{bail, Result};

const HELP: &str = "\
cargo xtask <command>

Commands:
  demo                      the README's first command: Monday -> Salesforce, live, against the
                            in-process mocks (runs `cargo run -p crmsync-testkit --bin crmsync-demo`)
  test [-- <runner args>]   the whole suite with a real PostgreSQL (what .ci/run and CI run)
  tidy                      the dependency rules (ARCHITECTURE.md, API boundaries) on
                            `cargo metadata`; also the first step of `test`
  db up|down|url            a long-lived local PostgreSQL for development
  lambda build [--arm64]    the Lambda artifact target/lambda/crmsync/bootstrap.zip (glibc <= 2.34)
  lambda test               the built zip against the Runtime API emulator; records it as tested
  deploy --function NAME [--alias live]
                            deploy the tested zip: update code, publish a version, move the alias
  rollback --function NAME [--alias live]
                            move the alias back to the version it pointed at before
  replay [PATH...] [--update]
                            replay the scenarios under PATH (default fixtures/) through the
                            receiver and engine against the mocks and compare their outcomes
  bench [--quick]           benchmarks, each next to a same-run baseline; writes BENCHMARKS.md
  chaos [--quick]           the fault matrix (nothing lost, nothing duplicated); RELIABILITY.md
  fuzz [--time N]           the cargo-fuzz targets (nightly), N seconds each
  help [<command>]          this help, or a command's help (also `<command> --help`)

PostgreSQL, first that applies: DATABASE_URL if set; a testcontainers `postgres` container when a
Docker daemon answers; a cluster from the installed server binaries (initdb, pg_ctl) in target/.
";

fn main() {
    let code = match real_main() {
        Ok(()) => 0,
        Err(e) => {
            if let Some(proc::Interrupted(sig)) = e.downcast_ref::<proc::Interrupted>() {
                eprintln!("xtask: interrupted (signal {sig}); everything started was cleaned up");
                128 + sig
            } else {
                eprintln!("xtask: error: {e:#}");
                1
            }
        }
    };
    std::process::exit(code);
}

fn real_main() -> Result<()> {
    proc::install_signal_handlers()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = pg::Paths::discover();
    let Some((cmd, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    let wants_help = |rest: &[String]| {
        rest.first()
            .is_some_and(|a| a == "-h" || a == "--help" || a == "help")
    };
    match cmd.as_str() {
        "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        "help" => {
            match rest.first().map(String::as_str) {
                Some("test") => print!("{}", test_cmd::HELP),
                Some("db") => print!("{}", db_cmd::HELP),
                Some("tidy") => print!("{}", tidy::HELP),
                Some("lambda") => print!("{}", lambda_cmd::HELP),
                Some("deploy" | "rollback") => print!("{}", deploy_cmd::HELP),
                Some("replay") => print!("{}", replay_cmd::HELP),
                Some("bench") => print!("{}", bench_cmd::HELP),
                Some("chaos") => print!("{}", chaos_cmd::HELP),
                Some("fuzz") => print!("{}", fuzz_cmd::HELP),
                Some("demo") => print!("{DEMO_HELP}"),
                Some(other) => bail!("unknown command {other:?}\n\n{HELP}"),
                None => print!("{HELP}"),
            }
            Ok(())
        }
        "test" if wants_help(rest) => {
            print!("{}", test_cmd::HELP);
            Ok(())
        }
        "test" => {
            let forwarded = match rest.split_first() {
                None => &[][..],
                Some((first, tail)) if first == "--" => tail,
                Some((first, _)) => bail!(
                    "unexpected argument {first:?}; runner arguments go after `--`\n\n{}",
                    test_cmd::HELP
                ),
            };
            test_cmd::run(&paths, forwarded)
        }
        "db" => db_cmd::run(&paths, rest),
        "lambda" if wants_help(rest) => {
            print!("{}", lambda_cmd::HELP);
            Ok(())
        }
        "lambda" => lambda_cmd::run(&paths, rest),
        "deploy" | "rollback" if wants_help(rest) => {
            print!("{}", deploy_cmd::HELP);
            Ok(())
        }
        "deploy" => {
            let python = test_cmd::ensure_venv(&paths)?;
            deploy_cmd::deploy(&paths, &python, rest, &[])
        }
        "rollback" => deploy_cmd::rollback(&paths, rest, &[]),
        "replay" if wants_help(rest) => {
            print!("{}", replay_cmd::HELP);
            Ok(())
        }
        "replay" => replay_cmd::run(&paths, rest),
        "bench" if wants_help(rest) => {
            print!("{}", bench_cmd::HELP);
            Ok(())
        }
        "bench" => bench_cmd::run(&paths, rest),
        "chaos" if wants_help(rest) => {
            print!("{}", chaos_cmd::HELP);
            Ok(())
        }
        "chaos" => chaos_cmd::run(&paths, rest),
        "fuzz" if wants_help(rest) => {
            print!("{}", fuzz_cmd::HELP);
            Ok(())
        }
        "fuzz" => fuzz_cmd::run(&paths, rest),
        "tidy" if wants_help(rest) => {
            print!("{}", tidy::HELP);
            Ok(())
        }
        "tidy" => tidy::run(&paths.root, rest),
        "demo" if wants_help(rest) => {
            print!("{DEMO_HELP}");
            Ok(())
        }
        "demo" => {
            if let Some(extra) = rest.first() {
                bail!("unexpected argument {extra:?}\n\n{DEMO_HELP}");
            }
            demo()
        }
        other => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

const DEMO_HELP: &str = "\
cargo xtask demo

Runs the demo binary (crates/testkit, `crmsync-demo`): both mock servers in-process, an embedded
SQLite store in a temporary directory, the crmsync receiver on 127.0.0.1, webhooks registered on
the mock Monday, then a scripted series of edits on Monday items, each shown as it lands in
Salesforce (before -> after), and a summary. No credentials, no network besides loopback.
Exits 0 when every change reached Salesforce.
";

/// `cargo xtask demo`: builds and runs the demo binary (tokio and axum stay out of xtask).
fn demo() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    proc::run(
        std::process::Command::new(cargo).args([
            "run",
            "-q",
            "-p",
            "crmsync-testkit",
            "--bin",
            "crmsync-demo",
        ]),
        "cargo run -q -p crmsync-testkit --bin crmsync-demo",
    )
}
