//! `cargo xtask fuzz --time N`: every cargo-fuzz target in `fuzz/` for N seconds each, from its
//! committed seed corpus.
//!
//! cargo-fuzz builds the targets with `-Z sanitizer=address` and the sanitizer-coverage `-C llvm-args`
//! libFuzzer needs, and `-Z` flags only work on a **nightly** rustc: the command checks that the
//! toolchain (`nightly`, or `CRMSYNC_FUZZ_TOOLCHAIN`) is installed and is a nightly before
//! anything is built, and runs `cargo +TOOLCHAIN fuzz`. cargo-fuzz itself builds on stable and is
//! installed (`cargo install cargo-fuzz --locked`) when missing.
//!
//! Build output goes to `$CARGO_TARGET_DIR/fuzz` (default `target/fuzz`), never into `fuzz/`. The
//! committed seeds in `fuzz/corpus/TARGET` are only read: libFuzzer writes what it finds into
//! the first corpus directory it is given, which is a working corpus at
//! `$CARGO_TARGET_DIR/fuzz/corpus/TARGET` (kept between runs). A crash leaves its input in
//! `fuzz/artifacts/TARGET/` (git-ignored) and fails the command; each one found becomes a
//! regression test in the crate it broke. At the end a table of libFuzzer's own figures per
//! target (executions, seconds, corpus size, crashes) is printed, for `fuzz/README.md`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::pg::Paths;
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask fuzz [--time SECONDS] [TARGET...]

Runs the cargo-fuzz targets of fuzz/ (webhook_parse, jwt, transforms, mapping_parse,
soql_escape), each for SECONDS (default 60), from the seed corpus in fuzz/corpus/TARGET.
Needs a nightly toolchain (cargo-fuzz builds with -Z sanitizer=address, a nightly-only flag):
`rustup toolchain install nightly`, or name another nightly in CRMSYNC_FUZZ_TOOLCHAIN.
Installs cargo-fuzz with `cargo install cargo-fuzz --locked` when it is missing. Builds into
$CARGO_TARGET_DIR/fuzz (default target/fuzz); new corpus entries go to
$CARGO_TARGET_DIR/fuzz/corpus/TARGET, the committed seeds are only read. Exits non-zero on a
crash (the input is kept in fuzz/artifacts/TARGET/). Prints libFuzzer's figures per target.
";

pub const TARGETS: &[&str] = &[
    "webhook_parse",
    "jwt",
    "transforms",
    "mapping_parse",
    "soql_escape",
];

/// libFuzzer's own figures for one run of one target.
#[derive(Debug, Default, PartialEq)]
pub struct RunStats {
    /// `stat::number_of_executed_units` (or the count of the last `#N` status line).
    pub execs: Option<u64>,
    /// From `Done N runs in S second(s)`.
    pub seconds: Option<u64>,
    /// Inputs in the corpus at the end (`corp: N/SIZE` of the last status line).
    pub corpus: Option<u64>,
    /// Crash, leak, timeout and OOM inputs written (`Test unit written to …`).
    pub crashes: u64,
    /// `stat::peak_rss_mb`.
    pub peak_rss_mb: Option<u64>,
}

impl RunStats {
    /// Takes in one line of libFuzzer's stderr.
    pub fn observe(&mut self, line: &str) {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            self.execs = v.trim().parse().ok().or(self.execs);
        } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            self.peak_rss_mb = v.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("Done ") {
            // "Done 123456 runs in 61 second(s)"
            let mut words = rest.split_whitespace();
            if let (Some(n), Some("runs"), Some("in"), Some(s)) =
                (words.next(), words.next(), words.next(), words.next())
            {
                self.execs = n.parse().ok().or(self.execs);
                self.seconds = s.parse().ok();
            }
        } else if line.contains("Test unit written to ") {
            self.crashes += 1;
        } else if let Some(rest) = line.strip_prefix('#') {
            // "#4096\tpulse  cov: 1234 ft: 2345 corp: 56/1200b lim: 4 exec/s: 2048 rss: 40Mb"
            let mut words = rest.split_whitespace();
            let Some(Ok(n)) = words.next().map(str::parse::<u64>) else {
                return;
            };
            self.execs = Some(self.execs.map_or(n, |e| e.max(n)));
            let mut words = rest.split_whitespace();
            while let Some(w) = words.next() {
                if w == "corp:" {
                    if let Some(c) = words.next().and_then(|v| v.split('/').next()) {
                        self.corpus = c.parse().ok().or(self.corpus);
                    }
                }
            }
        }
    }
}

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
    let fuzz_dir = paths.root.join("fuzz");
    for t in &targets {
        let seeds = fuzz_dir.join("corpus").join(t);
        if !seeds.is_dir() {
            bail!(
                "no seed corpus at {} (a fresh clone has one per target)",
                seeds.display()
            );
        }
    }
    let toolchain = std::env::var("CRMSYNC_FUZZ_TOOLCHAIN").unwrap_or_else(|_| "nightly".into());
    check_nightly(&toolchain)?;
    ensure_cargo_fuzz()?;

    let target_dir = paths.target.join("fuzz");
    let fuzz = |sub: &str| {
        let mut c = Command::new("cargo");
        c.current_dir(&paths.root)
            // The outer `cargo xtask` (stable) exports these; the nightly cargo must pick its
            // own rustc, not inherit the stable one.
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTDOC")
            .env_remove("CARGO")
            .arg(format!("+{toolchain}"))
            .args(["fuzz", sub])
            .arg("--target-dir")
            .arg(&target_dir);
        c
    };
    // One build of every target (one cargo invocation shares the dependency graph); the runs
    // below then only check that it is fresh.
    eprintln!(
        "xtask: building the fuzz targets with {toolchain} into {}",
        target_dir.display()
    );
    proc::run(
        &mut fuzz("build"),
        &format!("cargo +{toolchain} fuzz build"),
    )?;

    let mut results = Vec::new();
    for t in &targets {
        let seeds = fuzz_dir.join("corpus").join(t);
        let work = target_dir.join("corpus").join(t);
        std::fs::create_dir_all(&work)
            .with_context(|| format!("creating the working corpus {}", work.display()))?;
        eprintln!(
            "xtask: fuzz {t} for {time} s (seeds in {}, new inputs to {})",
            seeds.display(),
            work.display()
        );
        let mut cmd = fuzz("run");
        cmd.arg(t)
            .arg(&work)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={time}"))
            // A single input that takes this long is a finding (a hang), not a slow machine.
            .arg("-timeout=10")
            .arg("-print_final_stats=1");
        let started = Instant::now();
        let (status, stats) = run_teed(&mut cmd, &format!("cargo +{toolchain} fuzz run {t}"))?;
        let wall = started.elapsed().as_secs();
        results.push((t.clone(), status.success(), stats, wall));
    }

    eprintln!(
        "\nxtask: fuzz results (--time {time}; `cargo +{toolchain} fuzz run TARGET` via `cargo xtask fuzz`)\n"
    );
    eprintln!("| target | executions | seconds | corpus after | crashes | peak RSS MB |");
    eprintln!("|---|---:|---:|---:|---:|---:|");
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    for (t, _ok, s, wall) in &results {
        eprintln!(
            "| {t} | {} | {} | {} | {} | {} |",
            show(s.execs),
            s.seconds
                .map_or_else(|| format!("{wall} (wall)"), |v| v.to_string()),
            show(s.corpus),
            s.crashes,
            show(s.peak_rss_mb),
        );
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, ok, s, _)| !ok || s.crashes > 0)
        .map(|(t, ..)| t.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "fuzz targets failed: {} (inputs in fuzz/artifacts/)",
            failed.join(", ")
        );
    }
    eprintln!(
        "xtask: fuzzing found nothing in {} target(s)",
        targets.len()
    );
    Ok(())
}

/// Fails with what to do when `toolchain` is not installed or is not a nightly.
fn check_nightly(toolchain: &str) -> Result<()> {
    let install = if is_nightly_name(toolchain) {
        toolchain
    } else {
        "nightly"
    };
    let how = format!(
        "cargo-fuzz builds with -Z sanitizer=address, which only a nightly rustc accepts: \
         `rustup toolchain install {install} --profile minimal` (or set CRMSYNC_FUZZ_TOOLCHAIN \
         to an installed nightly)"
    );
    let out = Command::new("rustc")
        .arg(format!("+{toolchain}"))
        .arg("--version")
        // Never let rustup download a toolchain behind the user's back.
        .env("RUSTUP_AUTO_INSTALL", "0")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .output();
    let version = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => bail!(
            "toolchain {toolchain:?} is not usable ({}); {how}",
            // rustup's first line says why; the rest is help and, under RUST_BACKTRACE, a trace.
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        ),
        Err(e) => bail!("cannot run `rustc +{toolchain}` ({e}; is rustup installed?); {how}"),
    };
    if !is_nightly(&version) {
        bail!("toolchain {toolchain:?} is {version:?}, not a nightly; {how}");
    }
    eprintln!("xtask: fuzzing with {version}");
    Ok(())
}

/// Whether `rustc --version` names a compiler that accepts `-Z` flags.
fn is_nightly(version: &str) -> bool {
    version
        .split_whitespace()
        .nth(1)
        .is_some_and(|v| v.contains("-nightly") || v.contains("-dev"))
}

/// Whether a toolchain name (`nightly`, `nightly-2026-05-19`, `nightly-x86_64-…`) is a nightly.
fn is_nightly_name(name: &str) -> bool {
    name == "nightly" || name.starts_with("nightly-")
}

fn ensure_cargo_fuzz() -> Result<()> {
    let has_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        proc::run(
            Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]),
            "cargo install cargo-fuzz --locked",
        )?;
    }
    Ok(())
}

/// Runs `cmd` with its stderr copied to ours line by line, and libFuzzer's figures read from it.
fn run_teed(cmd: &mut Command, what: &str) -> Result<(std::process::ExitStatus, RunStats)> {
    let mut child = proc::spawn(cmd.stdin(Stdio::null()).stderr(Stdio::piped()), what)?;
    let err = child.stderr.take().context("the child's stderr")?;
    let reader = thread::spawn(move || {
        let mut stats = RunStats::default();
        let mut out = std::io::stderr();
        for line in BufReader::new(err).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line);
            // Copying is best effort: a closed terminal only loses the echo.
            let _ = writeln!(out, "{line}");
            stats.observe(&line);
        }
        stats
    });
    let status = proc::wait(&mut child, what, None, Mode::Interruptible)?;
    let stats = reader.join().unwrap_or_default();
    Ok((status, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(text: &str) -> RunStats {
        let mut s = RunStats::default();
        for l in text.lines() {
            s.observe(l);
        }
        s
    }

    #[test]
    fn reads_libfuzzer_final_figures() {
        let s = stats(
            "INFO: seed corpus: files: 19 min: 69b max: 664b total: 8955b rss: 40Mb\n\
             #20\tINITED cov: 900 ft: 1500 corp: 18/8000b exec/s: 0 rss: 42Mb\n\
             #65536\tpulse  cov: 1000 ft: 1700 corp: 120/30Kb lim: 680 exec/s: 2184 rss: 60Mb\n\
             #131072\tDONE   cov: 1010 ft: 1750 corp: 131/33Kb lim: 680 exec/s: 2148 rss: 61Mb\n\
             Done 131072 runs in 61 second(s)\n\
             stat::number_of_executed_units: 131090\n\
             stat::average_exec_per_sec:     2148\n\
             stat::new_units_added:          113\n\
             stat::slowest_unit_time_sec:    0\n\
             stat::peak_rss_mb:              61\n",
        );
        assert_eq!(
            s,
            RunStats {
                execs: Some(131090),
                seconds: Some(61),
                corpus: Some(131),
                crashes: 0,
                peak_rss_mb: Some(61),
            }
        );
    }

    #[test]
    fn counts_crash_artifacts() {
        let s = stats(
            "#1000\tNEW    cov: 10 ft: 10 corp: 5/100b lim: 4 exec/s: 0 rss: 30Mb L: 3/3 MS: 1\n\
             ==123== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='fuzz/artifacts/jwt/'; Test unit written to fuzz/artifacts/jwt/crash-ab\n",
        );
        assert_eq!(s.crashes, 1);
        assert_eq!(s.execs, Some(1000));
        assert_eq!(s.corpus, Some(5));
        assert_eq!(s.seconds, None);
    }

    #[test]
    fn only_a_nightly_accepts_z_flags() {
        assert!(is_nightly("rustc 1.97.0-nightly (e50aa6fba 2026-05-19)"));
        assert!(is_nightly("rustc 1.98.0-dev"));
        assert!(!is_nightly("rustc 1.95.0 (59807616e 2026-04-14)"));
        assert!(!is_nightly("rustc 1.96.0-beta.3 (abc 2026-05-01)"));
        assert!(!is_nightly(""));
        assert!(is_nightly_name("nightly-2026-05-19"));
        assert!(!is_nightly_name("stable"));
    }
}
