//! `cargo xtask fuzz --time N`: every cargo-fuzz target in `fuzz/` for N seconds each, from its
//! committed seed corpus. Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when missing;
//! libFuzzer needs a nightly toolchain (`-Z sanitizer`), so the targets run with `cargo +nightly`.
//! A crash leaves its input in `fuzz/artifacts/TARGET/` and fails the command; each one found
//! becomes a regression test in the crate it broke.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::pg::Paths;
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask fuzz [--time SECONDS] [TARGET...]

Runs the cargo-fuzz targets of fuzz/ (webhook_parse, jwt, transforms, mapping_parse,
soql_escape), each for SECONDS (default 60), from the seed corpus in fuzz/corpus/TARGET.
Needs the nightly toolchain (libFuzzer instrumentation); installs cargo-fuzz with
`cargo install cargo-fuzz --locked` when it is missing. Exits non-zero on a crash (the input is
kept in fuzz/artifacts/TARGET/).
";

pub const TARGETS: &[&str] = &[
    "webhook_parse",
    "jwt",
    "transforms",
    "mapping_parse",
    "soql_escape",
];

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let mut time: u64 = 60;
    let mut targets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                time = it
                    .next()
                    .context("--time needs seconds")?
                    .parse()
                    .context("--time takes a whole number of seconds")?
            }
            t if TARGETS.contains(&t) => targets.push(t.to_owned()),
            other => bail!("unexpected argument {other:?}\n\n{HELP}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_fuzz = Command::new(&cargo)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        proc::run(
            Command::new(&cargo).args(["install", "cargo-fuzz", "--locked"]),
            "cargo install cargo-fuzz --locked",
        )?;
    }
    let fuzz_dir = paths.root.join("fuzz");
    let mut crashed = Vec::new();
    for t in &targets {
        let corpus = fuzz_dir.join("corpus").join(t);
        eprintln!(
            "xtask: fuzz {t} for {time} s (seeds in {})",
            corpus.display()
        );
        let st = proc::status(
            Command::new("cargo")
                .current_dir(&paths.root)
                // rustup's proxy picks the toolchain; a target dir of its own (sanitizer builds).
                .env("CARGO_TARGET_DIR", paths.target.join("fuzz"))
                .args(["+nightly", "fuzz", "run", t])
                .arg(&corpus)
                .arg("--")
                .arg(format!("-max_total_time={time}")),
            "cargo +nightly fuzz run",
            Mode::Interruptible,
        )?;
        if !st.success() {
            crashed.push(t.clone());
        }
    }
    if !crashed.is_empty() {
        bail!(
            "fuzz targets failed: {} (inputs in fuzz/artifacts/)",
            crashed.join(", ")
        );
    }
    eprintln!(
        "xtask: fuzzing found nothing in {} target(s)",
        targets.len()
    );
    Ok(())
}
