//! `cargo xtask test`: the whole suite, as `.ci/run` and CI run it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::pg::{self, Paths};
use crate::proc::{self, Mode};

/// Workflow linters, pinned so that a new release cannot change the verdict overnight.
const PY_TOOLS: &[&str] = &[
    "check-jsonschema==0.39.0",
    "zizmor==1.32.0",
    // The Lambda artifact: zig as the linker pinning glibc 2.34 (`cargo xtask lambda build`).
    "ziglang==0.17.1",
    "cargo-zigbuild==0.24.1",
    // The deploy test (`cargo xtask deploy` against moto's server mode) and the SAM template's lint.
    "moto[server]==5.2.5",
    "cfn-lint==1.58.0",
];
/// Third-party client scripts used by conformance tests live in `<dir>/<client>/`.
const CLIENTS_DIR: &str = "mock-servers/mock-crm/clients";
/// The status pages' browser test (`crates/http/tests/status_browser.rs`): playwright-core.
const BROWSER_DIR: &str = "crates/http/tests/browser";
/// Debian's chromium, installed with apt-get when missing.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Built and linted by CI, but has no tests and needs a Docker daemon: not part of the run.
const EXCLUDED: &str = "xtask-pg-container";

/// The queue-mode burst of the emulator suite inside `cargo xtask test` (items:deliveries per item;
/// 50 deliveries, about 15 s). `cargo xtask lambda test` alone runs the issue's 500 over 50 items
/// (about two minutes); `CRMSYNC_LAMBDA_QUEUE_BURST` overrides either.
const CI_QUEUE_BURST: &str = "10:5";

pub const HELP: &str = "\
cargo xtask test [-- <args for the test runner>]

Runs the whole suite, as `.ci/run` and CI do:
  1. `cargo xtask tidy`: the workspace's dependency rules (a second; fails before any build);
  2. removes throwaway clusters left by dead xtask runs (target/xtask-pg-<pid>/);
  3. creates target/xtask/venv (python3 -m venv) with check-jsonschema and zizmor, plus every
     mock-servers/mock-crm/clients/*/requirements.txt, and ziglang + cargo-zigbuild for the
     Lambda build; runs `npm ci` (or `npm install`) in every
     client directory with a package.json and in crates/http/tests/browser (playwright-core);
     finds chromium for the browser tests: CRMSYNC_TEST_CHROMIUM if set, else /usr/bin/chromium,
     else (Debian, as root) `apt-get update` + `apt-get install -y chromium`;
     (steps 3 and 4 run in a thread while step 5 builds)
  4. checks .github/workflows/*.yml offline: check-jsonschema (vendor.github-workflows) and
     `zizmor --offline`; lints the SAM template infra/template.yaml with cfn-lint;
  5. builds all test targets (with SQLX_OFFLINE=true);
  6. brings up PostgreSQL, first that applies, and says which:
       DATABASE_URL if set (must answer within 3 s), a testcontainers `postgres` container when
       `docker info` succeeds, a throwaway cluster from the installed server binaries (initdb,
       pg_ctl) in target/xtask-pg-<pid>/ on a free port (run as user postgres under root);
  7. runs the doctests, then every test of the workspace (cargo nextest when installed, else
     cargo test) with DATABASE_URL, INSTA_UPDATE=no, CI=true, CRMSYNC_TEST_PYTHON,
     CRMSYNC_TEST_NODE and CRMSYNC_TEST_CHROMIUM set (screenshots: target/status-screens/);
  8. replays every scenario under fixtures/ on that PostgreSQL (`cargo xtask replay`; skipped
     when `-p` selects packages other than crmsync-testkit);
  9. (whole workspace only) `cargo xtask lambda build` and `cargo xtask lambda test`: the Lambda
     zip built with cargo-zigbuild (glibc <= 2.34) — compiled in the background at `nice 19`
     while steps 7 and 8 run, its output in target/lambda-build.log (printed if it fails) —
     and run against the Runtime API emulator;
     then `cargo xtask deploy` and `rollback` against moto's server mode on 127.0.0.1;
 10. stops and deletes what it started, also when tests fail or on Ctrl-C / SIGTERM.

Arguments after `--` go to the test runner; `-p/--package` replaces `--workspace`, e.g.
  cargo xtask test -- -p crmsync-store
";

struct Timer {
    phases: Vec<(String, Duration)>,
    /// Phases that ran beside others (not part of the sum), with what they overlapped.
    parallel: Vec<(String, Duration, &'static str)>,
    start: Instant,
}

impl Timer {
    fn new() -> Timer {
        Timer {
            phases: Vec::new(),
            parallel: Vec::new(),
            start: Instant::now(),
        }
    }

    fn parallel(&mut self, phases: Vec<(String, Duration)>, beside: &'static str) {
        self.parallel
            .extend(phases.into_iter().map(|(n, d)| (n, d, beside)));
    }

    fn phase<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        eprintln!("xtask: == {name}");
        let t = Instant::now();
        let r = f();
        self.phases.push((name.to_string(), t.elapsed()));
        r
    }

    fn report(&self) -> String {
        let parts: Vec<String> = self
            .phases
            .iter()
            .map(|(n, d)| format!("{n} {:.1}s", d.as_secs_f64()))
            .chain(
                self.parallel
                    .iter()
                    .map(|(n, d, beside)| format!("[{n} {:.1}s, {beside}]", d.as_secs_f64())),
            )
            .collect();
        format!(
            "{} (total {:.1}s)",
            parts.join(", "),
            self.start.elapsed().as_secs_f64()
        )
    }
}

pub fn run(paths: &Paths, forwarded: &[String]) -> Result<()> {
    let mut timer = Timer::new();
    let result = run_phases(paths, forwarded, &mut timer);
    eprintln!("xtask: timings: {}", timer.report());
    result
}

fn run_phases(paths: &Paths, forwarded: &[String], timer: &mut Timer) -> Result<()> {
    // The dependency rules first: they take a second and need no build.
    timer.phase("tidy", || crate::tidy::run(&paths.root, &[]))?;
    // Fail fast, before minutes of building, when a given DATABASE_URL does not answer.
    if let Some(url) = pg::env_database_url() {
        timer.phase("DATABASE_URL check", || pg::check_reachable(&url))?;
    }
    pg::clean_stale(paths)?;

    let runner = Runner::detect();
    let whole_workspace = selected_packages(forwarded).is_empty();
    // The tools (pip, npm, apt) install while the tests build: neither needs the other, and the
    // installs mostly wait on disk and network.
    let (setup, setup_phases, built_tests) = std::thread::scope(|s| {
        let setup = s.spawn(|| {
            let mut t = Timer::new();
            let r = (|| -> Result<(PathBuf, PathBuf)> {
                let python = t.phase("python tools (target/xtask/venv)", || ensure_venv(paths))?;
                t.phase("workflow checks", || check_workflows(paths, &python))?;
                t.phase("node clients", || install_node_clients(paths))?;
                let chromium = t.phase("chromium (browser tests)", ensure_chromium)?;
                Ok((python, chromium))
            })();
            (r, t.phases)
        });
        let built = timer.phase("build tests", || {
            proc::run(
                runner
                    .build_command(paths, forwarded)
                    .env("SQLX_OFFLINE", "true"),
                "build tests",
            )
        });
        let (r, phases) = setup
            .join()
            .unwrap_or_else(|_| (Err(anyhow::anyhow!("the tool setup panicked")), Vec::new()));
        (r, phases, built)
    });
    timer.parallel(setup_phases, "during build tests");
    let (python, chromium) = setup?;
    built_tests?;
    // The build step built every workspace binary (each crate with a binary has integration
    // tests): later phases run them from target/debug/.
    let paths = &Paths {
        prebuilt_bins: whole_workspace,
        ..paths.clone()
    };

    let env = TestEnv {
        python: Some(python.clone()),
        node: proc::which("node"),
        chromium: Some(chromium),
        mock_crm: Some(paths.target.join("debug").join("mock-crm"))
            .filter(|p| paths.prebuilt_bins && p.is_file()),
    };
    // The Lambda artifact (whole-workspace runs only; `-p` selects crates' tests) compiles in
    // the background while the tests run, niced: its own profile and target directory share
    // no cargo lock with the tests' builds.
    let lambda_build = whole_workspace.then(|| {
        let python = python.clone();
        let paths = paths.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            let log = paths.target.join("lambda-build.log");
            eprintln!(
                "xtask: == lambda build (in the background, niced; log: {})",
                log.display()
            );
            let r = crate::lambda_cmd::build(
                &paths,
                &python,
                false,
                crate::lambda_cmd::Background::Niced { log },
            );
            (r, t.elapsed())
        })
    });

    let db = timer.phase("postgres", || pg::provision_for_tests(paths))?;
    eprintln!("xtask: PostgreSQL: {}", db.describe());

    let tests = timer.phase("tests", || {
        let mut doc = runner.doc_command(paths, forwarded);
        env.apply(&mut doc, &db.url);
        let doc_ok = match doc_selection_has_lib(forwarded) {
            true => proc::status(&mut doc, "doctests", Mode::Interruptible)?.success(),
            false => true,
        };
        let mut main = runner.test_command(paths, forwarded);
        env.apply(&mut main, &db.url);
        let main_ok = proc::status(&mut main, "tests", Mode::Interruptible)?.success();
        Ok(doc_ok && main_ok)
    })?;

    // Later issues extend this command here, while PostgreSQL is still up:
    // - replay of the recorded traffic in fixtures/ against the mocks (issue: replay);
    let replayed = match replay_selected(forwarded) {
        true => timer.phase("replay fixtures/", || {
            crate::replay_cmd::replay(paths, &db.url, &[])
        })?,
        false => true,
    };
    // - the Lambda artifact: build the zip, run it against the Runtime API emulator, deploy it
    //   to moto and roll back (whole-workspace runs only; `-p` selects crates' tests).
    let lambda = match lambda_build {
        Some(handle) => {
            let (built, took) =
                timer.phase("lambda build (wait for the background build)", || {
                    handle
                        .join()
                        .map_err(|_| anyhow::anyhow!("the Lambda build thread panicked"))
                })?;
            timer.parallel(
                vec![("lambda build".to_string(), took)],
                "during tests and replay",
            );
            let built = built?;
            timer.phase("lambda test (emulator)", || {
                crate::lambda_cmd::test(paths, &python, &db.url, Some(CI_QUEUE_BURST))
            })?;
            timer.phase("deploy and rollback against moto", || {
                crate::deploy_cmd::moto_phase(paths, &python)
            })?;
            Some(built)
        }
        None => {
            eprintln!("xtask: packages selected: the Lambda artifact phases do not run");
            None
        }
    };

    timer.phase("stop postgres", || {
        drop(db);
        Ok(())
    })?;
    if !tests {
        bail!("tests failed");
    }
    if !replayed {
        bail!("replay of fixtures/ failed: some scenarios differ from their expected outcome");
    }
    if let Some(b) = lambda {
        eprintln!(
            "xtask: lambda artifact tested: {} bytes, sha256 {}, {}",
            b.size, b.sha256, b.glibc
        );
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// The replay of `fixtures/` runs with the whole workspace, or when the selection has the test
/// kit (`-p crmsync-testkit`).
fn replay_selected(forwarded: &[String]) -> bool {
    let pkgs = selected_packages(forwarded);
    pkgs.is_empty() || pkgs.iter().any(|p| p == "crmsync-testkit")
}

/// Doctests need a library in the selection; `-p xtask` alone (a binary) has none.
fn doc_selection_has_lib(forwarded: &[String]) -> bool {
    let pkgs = selected_packages(forwarded);
    pkgs.is_empty() || pkgs.iter().any(|p| p != "xtask")
}

/// The values of `-p X`, `-pX`, `--package X` and `--package=X` in the forwarded args.
fn selected_packages(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "-p" || a == "--package" {
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
        } else if let Some(v) = a.strip_prefix("--package=") {
            out.push(v.to_string());
        } else if let Some(v) = a.strip_prefix("-p").filter(|v| !v.is_empty()) {
            out.push(v.to_string());
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Nextest,
    CargoTest,
}

impl Runner {
    fn detect() -> Self {
        let ok = proc::output(
            cargo().args(["nextest", "--version"]),
            "cargo nextest --version",
            Some(Duration::from_secs(30)),
            Mode::Interruptible,
        )
        .map(|o| o.status.success())
        .unwrap_or(false);
        if ok {
            eprintln!("xtask: test runner: cargo nextest");
            Runner::Nextest
        } else {
            eprintln!("xtask: test runner: cargo test (cargo-nextest is not installed)");
            Runner::CargoTest
        }
    }

    fn test_args(self, forwarded: &[String], build_only: bool) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Runner::Nextest => vec!["nextest".into(), "run".into()],
            Runner::CargoTest => vec!["test".into(), "--all-targets".into()],
        };
        if selected_packages(forwarded).is_empty() {
            args.extend(["--workspace".into(), "--exclude".into(), EXCLUDED.into()]);
        }
        if build_only {
            args.push("--no-run".into());
            // Only cargo's own selection flags make sense for a build.
            args.extend(selection_args(forwarded));
        } else {
            // Report every failure of the run, not just the first.
            args.push("--no-fail-fast".into());
            args.extend(forwarded.iter().cloned());
        }
        args
    }

    fn build_command(self, paths: &Paths, forwarded: &[String]) -> Command {
        let mut c = cargo();
        c.current_dir(&paths.root)
            .args(self.test_args(forwarded, true));
        c
    }

    fn test_command(self, paths: &Paths, forwarded: &[String]) -> Command {
        let mut c = cargo();
        c.current_dir(&paths.root)
            .args(self.test_args(forwarded, false));
        c
    }

    fn doc_command(self, paths: &Paths, forwarded: &[String]) -> Command {
        let mut c = cargo();
        c.current_dir(&paths.root).args(["test", "--doc"]);
        let pkgs = selected_packages(forwarded);
        if pkgs.is_empty() {
            c.args(["--workspace", "--exclude", EXCLUDED]);
        } else {
            for p in pkgs.iter().filter(|p| *p != "xtask") {
                c.args(["-p", p]);
            }
        }
        c
    }
}

/// The package selection part of the forwarded args, as `-p X` pairs.
fn selection_args(forwarded: &[String]) -> Vec<String> {
    selected_packages(forwarded)
        .into_iter()
        .flat_map(|p| ["-p".to_string(), p])
        .collect()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

struct TestEnv {
    python: Option<PathBuf>,
    node: Option<PathBuf>,
    chromium: Option<PathBuf>,
    /// The `mock-crm` executable the build step made (whole-workspace runs), for the CLI's
    /// rehearsal tests; without it they build it themselves (`cargo build -p mock-crm`, which
    /// resolves that package's features alone and rebuilds part of the graph).
    mock_crm: Option<PathBuf>,
}

impl TestEnv {
    fn apply(&self, cmd: &mut Command, database_url: &str) {
        cmd.env("DATABASE_URL", database_url)
            .env("SQLX_OFFLINE", "true")
            .env("INSTA_UPDATE", "no")
            .env("CI", "true");
        if let Some(p) = &self.python {
            cmd.env("CRMSYNC_TEST_PYTHON", p);
        }
        if let Some(n) = &self.node {
            cmd.env("CRMSYNC_TEST_NODE", n);
        }
        if let Some(c) = &self.chromium {
            cmd.env("CRMSYNC_TEST_CHROMIUM", c);
        }
        if let Some(m) = &self.mock_crm {
            cmd.env("CRMSYNC_TEST_MOCK_CRM", m);
        }
    }
}

fn client_dirs(paths: &Paths) -> Result<Vec<PathBuf>> {
    let base = paths.root.join(CLIENTS_DIR);
    let Ok(entries) = fs::read_dir(&base) else {
        return Ok(Vec::new());
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("listing {}", base.display()))?;
        if e.path().is_dir() {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// `target/xtask/venv` with the workflow linters and the clients' requirements installed.
/// Reinstalls only when the requested packages change (a stamp file records them).
/// Returns the venv's python.
pub fn ensure_venv(paths: &Paths) -> Result<PathBuf> {
    let venv = paths.target.join("xtask").join("venv");
    let python = venv.join("bin").join("python");
    let requirements: Vec<PathBuf> = client_dirs(paths)?
        .into_iter()
        .map(|d| d.join("requirements.txt"))
        .filter(|r| r.is_file())
        .collect();
    let mut wanted = PY_TOOLS.join("\n");
    for r in &requirements {
        let text = fs::read_to_string(r).with_context(|| format!("reading {}", r.display()))?;
        wanted.push_str(&format!("\n# {}\n{text}", r.display()));
    }
    let stamp = venv.join(".xtask-installed");
    if python.is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!("xtask: {} is up to date", venv.display());
        return Ok(python);
    }
    let python3 = proc::which("python3").context(
        "python3 is not on PATH; install Python 3 (needed for the workflow linters and the \
         Python client conformance tests)",
    )?;
    if !python.is_file() {
        proc::run(
            Command::new(python3).args(["-m", "venv"]).arg(&venv),
            "python3 -m venv target/xtask/venv",
        )?;
    }
    let _ = fs::remove_file(&stamp);
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(PY_TOOLS);
    for r in &requirements {
        pip.arg("-r").arg(r);
    }
    proc::run(&mut pip, "pip install (target/xtask/venv)")?;
    fs::write(&stamp, &wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

/// `npm ci` (or `npm install` without a lock file) in every client directory with a package.json,
/// and in the browser tests' directory.
fn install_node_clients(paths: &Paths) -> Result<()> {
    let dirs: Vec<PathBuf> = client_dirs(paths)?
        .into_iter()
        .chain([paths.root.join(BROWSER_DIR)])
        .filter(|d| d.join("package.json").is_file() || d.join("package-lock.json").is_file())
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    let npm = proc::which("npm").context(
        "npm is not on PATH; install Node.js 20 (needed for the JavaScript client conformance tests)",
    )?;
    for dir in dirs {
        let verb = if dir.join("package-lock.json").is_file() {
            "ci"
        } else {
            "install"
        };
        proc::run(
            Command::new(&npm)
                .args([verb, "--no-audit", "--no-fund"])
                .current_dir(&dir),
            &format!("npm {verb} in {}", rel(paths, &dir)),
        )?;
    }
    Ok(())
}

/// The chromium the browser tests drive: `CRMSYNC_TEST_CHROMIUM` when set, else Debian's
/// `/usr/bin/chromium`, installed (as root, on Debian) with `apt-get update` and `apt-get install -y
/// chromium` when missing; elsewhere an installed Google Chrome or `chromium-browser`. Says what
/// it does.
fn ensure_chromium() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CRMSYNC_TEST_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("CRMSYNC_TEST_CHROMIUM={} does not exist", p.display());
        }
        eprintln!("xtask: chromium: {} (CRMSYNC_TEST_CHROMIUM)", p.display());
        return Ok(p);
    }
    let chromium = PathBuf::from(CHROMIUM);
    if chromium.is_file() {
        eprintln!("xtask: chromium: {CHROMIUM} is installed");
        return Ok(chromium);
    }
    let apt = proc::which("apt-get");
    // Debian proper (Ubuntu's `chromium` is a snap wrapper that does not work in CI containers).
    let is_debian = fs::read_to_string("/etc/os-release")
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "ID=debian"));
    if !is_debian {
        // e.g. GitHub's ubuntu-latest runners, which come with Google Chrome
        if let Some(p) = ["google-chrome", "google-chrome-stable", "chromium-browser"]
            .iter()
            .find_map(|n| proc::which(n))
        {
            eprintln!(
                "xtask: chromium: {} (not Debian: using this browser)",
                p.display()
            );
            return Ok(p);
        }
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let (Some(apt), true, true) = (apt, is_debian, root) else {
        bail!(
            "chromium is needed for the status pages' browser test and {CHROMIUM} is missing: \
             install Debian's `chromium` package (`apt-get install chromium`, as root), or set \
             CRMSYNC_TEST_CHROMIUM to a Chromium or Chrome binary"
        );
    };
    eprintln!("xtask: chromium: {CHROMIUM} is missing; installing Debian's `chromium` package:");
    eprintln!("xtask:   apt-get update");
    proc::run(Command::new(&apt).arg("update"), "apt-get update")?;
    eprintln!("xtask:   apt-get install -y chromium");
    proc::run(
        Command::new(&apt)
            .args(["install", "-y", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install -y chromium",
    )?;
    if !chromium.is_file() {
        bail!("apt-get installed `chromium`, but {CHROMIUM} is still missing");
    }
    Ok(chromium)
}

/// check-jsonschema (GitHub's workflow schema, vendored in the wheel) and zizmor, both offline.
fn check_workflows(paths: &Paths, python: &Path) -> Result<()> {
    let dir = paths.root.join(".github").join("workflows");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no workflow files in {}", dir.display());
    }
    let bin = python
        .parent()
        .context("the venv python has a parent dir")?;
    proc::run(
        Command::new(bin.join("check-jsonschema"))
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(&files)
            .current_dir(&paths.root),
        "check-jsonschema --builtin-schema vendor.github-workflows",
    )?;
    proc::run(
        Command::new(bin.join("zizmor"))
            .args(["--offline", "--no-progress"])
            .arg(&dir)
            .current_dir(&paths.root),
        "zizmor --offline .github/workflows/",
    )?;
    proc::run(
        Command::new(bin.join("cfn-lint"))
            .arg("infra/template.yaml")
            .current_dir(&paths.root),
        "cfn-lint infra/template.yaml",
    )?;
    Ok(())
}

fn rel(paths: &Paths, p: &Path) -> String {
    p.strip_prefix(&paths.root)
        .unwrap_or(p)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_package_selection_in_every_spelling() {
        assert_eq!(
            selected_packages(&s(&["-p", "a", "-pb", "--package", "c", "--package=d"])),
            s(&["a", "b", "c", "d"])
        );
        assert!(selected_packages(&s(&["--no-fail-fast", "store::"])).is_empty());
        // After a second `--` the args belong to the test binary.
        assert!(selected_packages(&s(&["--", "-p", "x"])).is_empty());
    }

    #[test]
    fn whole_workspace_by_default() {
        assert_eq!(
            Runner::Nextest.test_args(&[], false),
            s(&[
                "nextest",
                "run",
                "--workspace",
                "--exclude",
                EXCLUDED,
                "--no-fail-fast"
            ])
        );
        assert_eq!(
            Runner::CargoTest.test_args(&[], true),
            s(&[
                "test",
                "--all-targets",
                "--workspace",
                "--exclude",
                EXCLUDED,
                "--no-run"
            ])
        );
    }

    #[test]
    fn package_selection_replaces_workspace_and_is_forwarded() {
        let fwd = s(&["-p", "crmsync-store", "--no-fail-fast"]);
        assert_eq!(
            Runner::Nextest.test_args(&fwd, false),
            s(&[
                "nextest",
                "run",
                "--no-fail-fast",
                "-p",
                "crmsync-store",
                "--no-fail-fast"
            ])
        );
        // The build step keeps only the selection.
        assert_eq!(
            Runner::Nextest.test_args(&fwd, true),
            s(&["nextest", "run", "--no-run", "-p", "crmsync-store"])
        );
    }

    #[test]
    fn doctests_are_skipped_only_for_a_binary_only_selection() {
        assert!(doc_selection_has_lib(&[]));
        assert!(doc_selection_has_lib(&s(&["-p", "crmsync-store"])));
        assert!(!doc_selection_has_lib(&s(&["-p", "xtask"])));
    }

    #[test]
    fn the_replay_runs_with_the_workspace_or_the_test_kit() {
        assert!(replay_selected(&[]));
        assert!(replay_selected(&s(&["-p", "crmsync-testkit"])));
        assert!(!replay_selected(&s(&["-p", "crmsync-store"])));
    }
}
