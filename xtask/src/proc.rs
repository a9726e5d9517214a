//! Child processes that can be interrupted: every command xtask runs goes through here.
//!
//! SIGINT, SIGTERM and SIGHUP only set a flag (see [`install_signal_handlers`]); the
//! polling wait loop below notices it, forwards the signal to the child's process group,
//! and returns an [`Interrupted`] error. That error unwinds `main` normally, so the `Drop`
//! guards in `pg` stop and delete whatever PostgreSQL was started.
//!
//! Each child runs in its own process group, so a Ctrl-C in the terminal reaches xtask only
//! and xtask decides what to forward (a `postgres` server must be stopped with `pg_ctl`, not
//! killed by the terminal's signal).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

static SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// The run was interrupted by a signal; `main` exits with `128 + signal`.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Route SIGINT, SIGTERM and SIGHUP into a flag instead of terminating the process.
pub fn install_signal_handlers() -> Result<()> {
    let flag = SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let value = usize::try_from(sig).context("signal numbers are positive")?;
        signal_hook::flag::register_usize(sig, Arc::clone(flag), value)
            .with_context(|| format!("registering a handler for signal {sig}"))?;
    }
    Ok(())
}

/// The signal received so far, if any.
pub fn interrupted() -> Option<i32> {
    let sig = SIGNAL.get()?.load(Ordering::SeqCst);
    (sig != 0).then(|| i32::try_from(sig).unwrap_or(signal_hook::consts::SIGTERM))
}

/// Fail with [`Interrupted`] if a signal has arrived.
pub fn check_interrupted() -> Result<()> {
    match interrupted() {
        Some(sig) => Err(Interrupted(sig).into()),
        None => Ok(()),
    }
}

/// Whether waiting reacts to signals (normal work) or ignores them (cleanup after a signal).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interruptible,
    Uninterruptible,
}

/// Spawn `cmd` in its own process group.
pub fn spawn(cmd: &mut Command, what: &str) -> Result<Child> {
    cmd.process_group(0)
        .spawn()
        .with_context(|| format!("starting `{what}`"))
}

/// Run `cmd` with inherited stdout/stderr and wait for it.
pub fn status(cmd: &mut Command, what: &str, mode: Mode) -> Result<ExitStatus> {
    let mut child = spawn(cmd.stdin(Stdio::null()), what)?;
    wait(&mut child, what, None, mode)
}

/// Run `cmd` and fail unless it exits successfully.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let st = status(cmd, what, Mode::Interruptible)?;
    if !st.success() {
        bail!("`{what}` failed ({st})");
    }
    Ok(())
}

/// Run `cmd` (capturing, killed after `timeout`) and return its trimmed stdout; fails with its
/// stderr when it exits unsuccessfully.
pub fn stdout_text(cmd: &mut Command, what: &str, timeout: Option<Duration>) -> Result<String> {
    let out = output(cmd, what, timeout, Mode::Interruptible)?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Run `cmd` capturing stdout and stderr, killing it after `timeout`.
pub fn output(
    cmd: &mut Command,
    what: &str,
    timeout: Option<Duration>,
    mode: Mode,
) -> Result<Output> {
    let mut child = spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        what,
    )?;
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let status = wait(&mut child, what, timeout, mode)?;
    let collect = |h: Option<thread::JoinHandle<Vec<u8>>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    Ok(Output {
        status,
        stdout: collect(out),
        stderr: collect(err),
    })
}

fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error only truncates diagnostic output.
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Wait for `child`, polling for signals (in [`Mode::Interruptible`]) and for the timeout.
pub fn wait(
    child: &mut Child,
    what: &str,
    timeout: Option<Duration>,
    mode: Mode,
) -> Result<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child
            .try_wait()
            .with_context(|| format!("waiting for `{what}`"))?
        {
            return Ok(st);
        }
        if mode == Mode::Interruptible {
            if let Some(sig) = interrupted() {
                eprintln!("xtask: signal {sig} received, stopping `{what}`");
                stop_group(child, sig, Duration::from_secs(15));
                return Err(Interrupted(sig).into());
            }
        }
        if let Some(limit) = timeout {
            if start.elapsed() > limit {
                stop_group(child, signal_hook::consts::SIGKILL, Duration::from_secs(5));
                bail!("`{what}` did not finish within {}s", limit.as_secs());
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Send `sig` to the child's process group, wait up to `grace`, then SIGKILL the group.
pub fn stop_group(child: &mut Child, sig: i32, grace: Duration) {
    let pgid = child.id();
    signal_group(pgid, sig);
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; make sure nothing else of its group lingers.
            signal_group(pgid, signal_hook::consts::SIGKILL);
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    signal_group(pgid, signal_hook::consts::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// `kill -s SIG -- -PGID` (std has no safe process-group kill, and xtask forbids unsafe code).
fn signal_group(pgid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Find `name` on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
