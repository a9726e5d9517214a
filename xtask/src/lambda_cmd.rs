//! `cargo xtask lambda build [--arm64]` and `cargo xtask lambda test`: the Lambda artifact
//! (`target/lambda/crmsync/bootstrap.zip`, the cargo-lambda layout) and the check that the very
//! zip that will be deployed works, recorded in `target/lambda/crmsync/tested.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::pg::{self, Paths};
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask lambda build [--arm64]
cargo xtask lambda test
cargo xtask lambda moto

build: compiles the `bootstrap` binary (crates/lambda) with the `lambda` profile for
  x86_64 (or, with --arm64, aarch64) Linux against glibc 2.34 — the glibc of Lambda's
  provided.al2023 runtime — with cargo-zigbuild and zig (both from PyPI, installed into
  target/xtask/venv), checks that no symbol needs a GLIBC_ version above 2.34, and writes
  target/lambda/crmsync/bootstrap.zip (one executable entry `bootstrap`, fixed timestamps, so
  the same binary gives the same zip). Prints its size, sha256 and the highest GLIBC_ version.
test: unpacks that zip and runs the `bootstrap` inside it as a process against the in-repo
  Lambda Runtime API emulator (crates/testkit, binary crmsync-lambda-test), with both mocks and
  PostgreSQL (DATABASE_URL, or one xtask starts), feeding recorded API Gateway events, then
  a second process of it in queue mode against moto's SQS (the suite plays the SQS event
  source: batches, batchItemFailures, redrive to the DLQ, a burst of 500 deliveries over 50
  items — CRMSYNC_LAMBDA_QUEUE_BURST=ITEMS:DELIVERIES, 10:5 inside `cargo xtask test`); prints
  init time and peak RSS and records the zip's sha256 in target/lambda/crmsync/tested.json,
  which `cargo xtask deploy` requires.
moto: starts moto's server mode on 127.0.0.1, creates a function there, deploys the tested zip
  with `cargo xtask deploy`, checks version and alias, checks that an untested zip is refused,
  rolls back and checks the alias again (also a phase of `cargo xtask test`).
";

/// The highest glibc the Lambda runtime `provided.al2023` has.
const MAX_GLIBC: [u32; 2] = [2, 34];
const PROFILE: &str = "lambda";

/// Where the artifact lives.
pub struct Artifact {
    pub dir: PathBuf,
    pub zip: PathBuf,
    pub tested: PathBuf,
}

impl Artifact {
    pub fn of(paths: &Paths) -> Artifact {
        let dir = paths.target.join("lambda").join("crmsync");
        Artifact {
            zip: dir.join("bootstrap.zip"),
            tested: dir.join("tested.json"),
            dir,
        }
    }
}

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    match args.split_first() {
        Some((cmd, rest)) if cmd == "build" => {
            let arm64 = match rest {
                [] => false,
                [a] if a == "--arm64" => true,
                [other, ..] => bail!("unexpected argument {other:?}\n\n{HELP}"),
            };
            let python = crate::test_cmd::ensure_venv(paths)?;
            build(paths, &python, arm64, Background::No).map(|_| ())
        }
        Some((cmd, rest)) if cmd == "test" => {
            if let Some(extra) = rest.first() {
                bail!("unexpected argument {extra:?}\n\n{HELP}");
            }
            let python = crate::test_cmd::ensure_venv(paths)?;
            let db = pg::provision_for_tests(paths)?;
            eprintln!("xtask: PostgreSQL: {}", db.describe());
            test(paths, &python, &db.url, None)
        }
        Some((cmd, rest)) if cmd == "moto" => {
            if let Some(extra) = rest.first() {
                bail!("unexpected argument {extra:?}\n\n{HELP}");
            }
            let python = crate::test_cmd::ensure_venv(paths)?;
            crate::deploy_cmd::moto_phase(paths, &python)
        }
        Some((cmd, _)) if cmd == "-h" || cmd == "--help" => {
            print!("{HELP}");
            Ok(())
        }
        _ => bail!("expected `lambda build`, `lambda test` or `lambda moto`\n\n{HELP}"),
    }
}

/// What `build` produced.
pub struct Built {
    pub sha256: String,
    pub size: u64,
    pub glibc: String,
}

/// How the compile runs: in the foreground (its output on the terminal), or in the background
/// of `cargo xtask test` — at the lowest CPU priority (`nice`), so the tests running meanwhile
/// keep the cores they ask for, with its output in a log printed only when it fails.
pub enum Background {
    No,
    Niced { log: PathBuf },
}

/// Builds `bootstrap` and zips it; fails when it needs a glibc above 2.34.
pub fn build(paths: &Paths, python: &Path, arm64: bool, how: Background) -> Result<Built> {
    let triple = if arm64 {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    require_rust_target(triple)?;
    let venv_bin = python
        .parent()
        .context("the venv's python has no directory")?
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(venv_bin.clone()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .context("building PATH")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let what = "cargo zigbuild -p crmsync-lambda --bin bootstrap";
    let mut cmd = match &how {
        Background::No => Command::new(&cargo),
        Background::Niced { .. } => {
            let mut c = Command::new("nice");
            c.args(["-n", "19"]).arg(&cargo);
            c
        }
    };
    cmd.args(["zigbuild", "--locked", "--profile", PROFILE])
        .args(["-p", "crmsync-lambda", "--bin", "bootstrap", "--target"])
        .arg(format!("{triple}.{}.{}", MAX_GLIBC[0], MAX_GLIBC[1]))
        .current_dir(&paths.root)
        .env("PATH", &path);
    match &how {
        Background::No => proc::run(&mut cmd, what)?,
        Background::Niced { log } => {
            let file =
                fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
            let err = file
                .try_clone()
                .with_context(|| format!("opening {}", log.display()))?;
            cmd.stdout(file).stderr(err);
            let st = proc::status(&mut cmd, what, Mode::Interruptible)?;
            if !st.success() {
                let text = fs::read_to_string(log).unwrap_or_default();
                eprintln!("{text}");
                bail!(
                    "`{what}` failed ({st}); its output is above and in {}",
                    log.display()
                );
            }
        }
    }
    let compile_secs = started.elapsed().as_secs_f64();
    let binary = paths.target.join(triple).join(PROFILE).join("bootstrap");
    let bytes = fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let glibc = check_glibc(&bytes).with_context(|| format!("checking {}", binary.display()))?;

    let art = Artifact::of(paths);
    fs::create_dir_all(&art.dir).with_context(|| format!("creating {}", art.dir.display()))?;
    // A new zip has not been tested.
    let _ = fs::remove_file(&art.tested);
    python_run(
        python,
        ZIP_PY,
        &[binary.as_os_str(), art.zip.as_os_str()],
        "zipping bootstrap",
    )?;
    let sha256 = sha256_of(python, &art.zip)?;
    let size = fs::metadata(&art.zip)
        .with_context(|| format!("reading {}", art.zip.display()))?
        .len();
    println!(
        "xtask: lambda artifact {}\n  size    {} bytes ({:.2} MiB; binary {:.2} MiB)\n  sha256  {sha256}\n  glibc   needs at most {glibc} (limit GLIBC_{}.{})\n  built in {compile_secs:.0}s",
        rel(paths, &art.zip),
        size,
        size as f64 / 1048576.0,
        bytes.len() as f64 / 1048576.0,
        MAX_GLIBC[0],
        MAX_GLIBC[1],
    );
    Ok(Built {
        sha256,
        size,
        glibc,
    })
}

/// The highest `GLIBC_` version the binary needs; an error above [`MAX_GLIBC`].
pub fn check_glibc(bytes: &[u8]) -> Result<String> {
    let names = crate::elf::needed_versions(bytes)?;
    let Some((name, version)) = crate::elf::highest_glibc(&names) else {
        return Ok("no GLIBC_ version".into());
    };
    if version.as_slice() > MAX_GLIBC.as_slice() {
        bail!(
            "the binary needs {name}, but Lambda's provided.al2023 has glibc {}.{}: build with \
             `cargo xtask lambda build` (cargo-zigbuild pins the glibc)",
            MAX_GLIBC[0],
            MAX_GLIBC[1]
        );
    }
    Ok(name)
}

fn require_rust_target(triple: &str) -> Result<()> {
    let out = proc::output(
        Command::new("rustc").args(["--print", "sysroot"]),
        "rustc --print sysroot",
        None,
        Mode::Interruptible,
    )?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib").join(triple).is_dir() {
        bail!(
            "the Rust standard library for {triple} is not installed (`rustup target add \
             {triple}`); it is needed to build the Lambda for that architecture"
        );
    }
    Ok(())
}

/// Zips argv[1] as the single entry `bootstrap` (mode 0755, fixed timestamp) into argv[2].
const ZIP_PY: &str = r#"
import sys, zipfile
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.create_system = 3
info.compress_type = zipfile.ZIP_DEFLATED
with open(sys.argv[1], "rb") as f:
    data = f.read()
tmp = sys.argv[2] + ".tmp"
with zipfile.ZipFile(tmp, "w") as z:
    z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
import os
os.replace(tmp, sys.argv[2])
"#;

/// Unpacks the zip argv[1] into the directory argv[2]; fails unless it holds exactly an
/// executable `bootstrap`.
const UNZIP_PY: &str = r#"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    if names != ["bootstrap"]:
        sys.exit(f"the zip must hold exactly one entry 'bootstrap', it holds {names}")
    info = z.getinfo("bootstrap")
    mode = (info.external_attr >> 16) & 0o777
    if mode & 0o111 != 0o111:
        sys.exit(f"'bootstrap' in the zip is not executable (mode {oct(mode)}); Lambda would refuse it")
    os.makedirs(sys.argv[2], exist_ok=True)
    out = os.path.join(sys.argv[2], "bootstrap")
    with open(out, "wb") as f:
        f.write(z.read("bootstrap"))
    os.chmod(out, mode)
"#;

const SHA256_PY: &str = r#"
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
"#;

pub fn python_run(
    python: &Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    what: &str,
) -> Result<String> {
    proc::stdout_text(
        Command::new(python).arg("-c").arg(script).args(args),
        what,
        None,
    )
}

pub fn sha256_of(python: &Path, file: &Path) -> Result<String> {
    python_run(python, SHA256_PY, &[file.as_os_str()], "sha256 of the zip")
}

/// Runs the emulator suite against the built zip and records its sha256 as tested.
/// `burst`: the queue-mode burst (`ITEMS:DELIVERIES`) when `CRMSYNC_LAMBDA_QUEUE_BURST` is not
/// set; `None` leaves the suite's default (50:10).
pub fn test(paths: &Paths, python: &Path, database_url: &str, burst: Option<&str>) -> Result<()> {
    let art = Artifact::of(paths);
    if !art.zip.is_file() {
        bail!(
            "{} does not exist: run `cargo xtask lambda build` first",
            rel(paths, &art.zip)
        );
    }
    let _ = fs::remove_file(&art.tested);
    let sha256 = sha256_of(python, &art.zip)?;
    let unpacked = art.dir.join("unpacked");
    let _ = fs::remove_dir_all(&unpacked);
    python_run(
        python,
        UNZIP_PY,
        &[art.zip.as_os_str(), unpacked.as_os_str()],
        "unpacking bootstrap.zip",
    )?;
    let bootstrap = unpacked.join("bootstrap");
    let glibc = check_glibc(
        &fs::read(&bootstrap).with_context(|| format!("reading {}", bootstrap.display()))?,
    )?;
    let report = art.dir.join("emulator-report.json");
    let _ = fs::remove_file(&report);
    let mut suite = paths.tool("crmsync-testkit", "crmsync-lambda-test");
    if let (Some(b), Err(_)) = (burst, std::env::var("CRMSYNC_LAMBDA_QUEUE_BURST")) {
        suite.env("CRMSYNC_LAMBDA_QUEUE_BURST", b);
    }
    proc::run(
        suite
            .arg("--bootstrap")
            .arg(&bootstrap)
            .arg("--report")
            .arg(&report)
            .current_dir(&paths.root)
            .env("DATABASE_URL", database_url)
            // moto's server mode for the queue-mode cases (the venv has moto[server]).
            .env("CRMSYNC_TEST_PYTHON", python)
            .env("SQLX_OFFLINE", "true"),
        "crmsync-lambda-test (the built bootstrap against the Runtime API emulator)",
    )?;
    let figures =
        fs::read_to_string(&report).with_context(|| format!("reading {}", report.display()))?;
    let size = fs::metadata(&art.zip)
        .with_context(|| format!("reading {}", art.zip.display()))?
        .len();
    let tested = format!(
        "{{\n  \"sha256\": \"{sha256}\",\n  \"zip_bytes\": {size},\n  \"glibc\": \"{glibc}\",\n  \"emulator\": {}\n}}\n",
        figures.trim()
    );
    fs::write(&art.tested, tested).with_context(|| format!("writing {}", art.tested.display()))?;
    println!(
        "xtask: lambda test passed for sha256 {sha256}; recorded in {}",
        rel(paths, &art.tested)
    );
    Ok(())
}

fn rel(paths: &Paths, p: &Path) -> String {
    p.strip_prefix(&paths.root)
        .unwrap_or(p)
        .display()
        .to_string()
}
