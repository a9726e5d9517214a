//! `cargo xtask fuzz --time N`: every cargo-fuzz target in `fuzz/` for N seconds each, from its
//! committed seed corpus.
//!
//! cargo-fuzz builds the targets with `-Z sanitizer=address` and other `-Z` flags, which only a
//! **nightly** rustc accepts. The command picks, before anything is built: the toolchain named in
//! `CRMSYNC_FUZZ_TOOLCHAIN`; else `nightly` when installed; else the default toolchain with
//! `RUSTC_BOOTSTRAP=1` (machines of this project's kind carry one stable toolchain and can
//! download no other; a stable release ships the same sanitizer runtimes), saying so. cargo-fuzz
//! itself builds on stable and is installed (`cargo install cargo-fuzz --locked`) when missing.
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
Needs a nightly rustc (cargo-fuzz builds with -Z sanitizer=address): the toolchain named in
CRMSYNC_FUZZ_TOOLCHAIN, else `nightly` when installed, else the default toolchain with
RUSTC_BOOTSTRAP=1 (said so when used). `rustup toolchain install nightly` where it can be had.
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
    let toolchain = choose_toolchain(std::env::var("CRMSYNC_FUZZ_TOOLCHAIN").ok())?;
    eprintln!("xtask: fuzzing with {}", toolchain.version);
    ensure_cargo_fuzz()?;
    let tc = toolchain.describe();

    let target_dir = paths.target.join("fuzz");
    let fuzz = |sub: &str| {
        let mut c = toolchain.cargo();
        c.current_dir(&paths.root)
            .args(["fuzz", sub])
            .arg("--target-dir")
            .arg(&target_dir);
        c
    };
    // One build of every target (one cargo invocation shares the dependency graph); the runs
    // below then only check that it is fresh.
    eprintln!(
        "xtask: building the fuzz targets ({tc} build) into {}",
        target_dir.display()
    );
    proc::run(&mut fuzz("build"), &format!("{tc} build"))?;

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
        let (status, stats) = run_teed(&mut cmd, &format!("{tc} run {t}"))?;
        let wall = started.elapsed().as_secs();
        results.push((t.clone(), status.success(), stats, wall));
    }

    eprintln!(
        "\nxtask: fuzz results (--time {time}; `{tc} run TARGET` via `cargo xtask fuzz`, {})\n",
        toolchain.version
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

/// The compiler the fuzz targets are built with.
#[derive(Debug)]
struct Toolchain {
    /// `cargo +NAME`; `None` is the default toolchain (the fallback without a nightly).
    name: Option<String>,
    /// `rustc --version`.
    version: String,
    /// Not a nightly: `RUSTC_BOOTSTRAP=1` lets it take cargo-fuzz's `-Z` flags.
    bootstrap: bool,
}

impl Toolchain {
    fn cargo(&self) -> Command {
        let mut c = Command::new("cargo");
        // The outer `cargo xtask` exports these; the fuzz build must pick its own rustc.
        c.env_remove("RUSTC")
            .env_remove("RUSTDOC")
            .env_remove("CARGO");
        if let Some(name) = &self.name {
            c.env_remove("RUSTUP_TOOLCHAIN").arg(format!("+{name}"));
        }
        if self.bootstrap {
            c.env("RUSTC_BOOTSTRAP", "1");
        }
        c
    }

    fn describe(&self) -> String {
        let plus = self
            .name
            .as_deref()
            .map(|n| format!("+{n} "))
            .unwrap_or_default();
        let env = if self.bootstrap {
            "RUSTC_BOOTSTRAP=1 "
        } else {
            ""
        };
        format!("{env}cargo {plus}fuzz")
    }
}

/// `rustc [+NAME] --version`, or rustup's reason (its first line) why not.
fn rustc_version(name: Option<&str>) -> std::result::Result<String, String> {
    let mut c = Command::new("rustc");
    if let Some(n) = name {
        c.arg(format!("+{n}")).env_remove("RUSTUP_TOOLCHAIN");
    }
    // Never let rustup download a toolchain behind the user's back.
    let out = c
        .arg("--version")
        .env("RUSTUP_AUTO_INSTALL", "0")
        .env_remove("RUSTC")
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        // rustup's first line says why; the rest is help and, under RUST_BACKTRACE, a trace.
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()),
        Err(e) => Err(format!("cannot run rustc: {e}")),
    }
}

/// cargo-fuzz builds with `-Z sanitizer=address` (and `-Z` flags of its own), which only a
/// nightly rustc accepts. `explicit` is `CRMSYNC_FUZZ_TOOLCHAIN`: that toolchain, which must be
/// installed. Without it: the `nightly` toolchain when installed, else the default toolchain with
/// `RUSTC_BOOTSTRAP=1` — a machine whose only toolchain is stable (where no other toolchain can
/// be downloaded) still fuzzes; its release ships the same sanitizer runtimes. An installed
/// toolchain that is not a nightly is used with `RUSTC_BOOTSTRAP=1` as well, and said so.
fn choose_toolchain(explicit: Option<String>) -> Result<Toolchain> {
    let how =
        "install a nightly (`rustup toolchain install nightly --profile minimal`) or name an \
               installed toolchain in CRMSYNC_FUZZ_TOOLCHAIN";
    let wanted = explicit.clone().unwrap_or_else(|| "nightly".to_owned());
    let (name, version) = match rustc_version(Some(&wanted)) {
        Ok(v) => (Some(wanted), v),
        Err(why) if explicit.is_some() => {
            bail!("toolchain {wanted:?} is not usable ({why}); {how}")
        }
        Err(why) => {
            let v = rustc_version(None).map_err(|e| {
                anyhow::anyhow!("no nightly toolchain ({why}) and no default rustc ({e}); {how}")
            })?;
            eprintln!("xtask: no nightly toolchain ({why}); falling back to the default one");
            (None, v)
        }
    };
    let bootstrap = !is_nightly(&version);
    if bootstrap {
        eprintln!(
            "xtask: {version} is not a nightly: building with RUSTC_BOOTSTRAP=1 so that it takes \
             the -Z flags cargo-fuzz passes (-Z sanitizer=address); {how} to use a real nightly"
        );
    }
    Ok(Toolchain {
        name,
        version,
        bootstrap,
    })
}

/// Whether `rustc --version` names a compiler that accepts `-Z` flags.
fn is_nightly(version: &str) -> bool {
    version
        .split_whitespace()
        .nth(1)
        .is_some_and(|v| v.contains("-nightly") || v.contains("-dev"))
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
    }
}
