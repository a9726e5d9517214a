//! PostgreSQL for the tests and for developers, first that applies:
//!
//! 1. `DATABASE_URL` is set: use it after a quick reachability check.
//! 2. A Docker daemon answers: `xtask-pg-container` (testcontainers) runs a `postgres` container.
//! 3. PostgreSQL server binaries are installed: a throwaway cluster on a free port, run as the
//!    `postgres` user when xtask runs as root (initdb refuses root).
//! 4. Otherwise an error naming these three ways out.
//!
//! Whatever is started is owned by a guard whose `Drop` stops and deletes it, so a failing
//! test run, an error or a signal (see `proc`) all leave nothing behind.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use crmsync_redact::mask_url;

use crate::proc::{self, Mode};

/// How long a `DATABASE_URL` server gets to accept a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Prefix of throwaway cluster directories: `<base>/xtask-pg-<pid>`.
const THROWAWAY_PREFIX: &str = "xtask-pg-";
/// Fallback base when the `postgres` user cannot reach `target/` (root, private home dir).
const TMP_SUBDIR: &str = "crmsync-xtask";

/// A PostgreSQL that is ready for connections, plus whatever keeps it alive.
pub struct Provisioned {
    pub url: String,
    pub source: Source,
    /// Dropped last: stops and deletes what xtask started.
    _guard: Guard,
}

/// Which of the ways in produced the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    DatabaseUrl,
    Docker,
    Binaries,
}

enum Guard {
    None,
    Container(Container),
    Cluster(Cluster),
}

impl Provisioned {
    /// The throwaway cluster xtask started, if that is where the server came from.
    pub fn cluster(&self) -> Option<&Cluster> {
        match &self._guard {
            Guard::Cluster(c) => Some(c),
            _ => None,
        }
    }

    /// One line for the log: which path was taken.
    pub fn describe(&self) -> String {
        let url = mask_url(&self.url);
        match (&self.source, &self._guard) {
            (Source::DatabaseUrl, _) => format!("DATABASE_URL from the environment ({url})"),
            (Source::Docker, Guard::Container(c)) => format!(
                "testcontainers `postgres` container, kept by xtask-pg-container pid {} ({url})",
                c.child.id()
            ),
            (Source::Docker, _) => format!("testcontainers `postgres` container ({url})"),
            (Source::Binaries, Guard::Cluster(c)) => format!(
                "throwaway cluster from {} in {} ({url}{})",
                c.bins.dir.display(),
                c.dir.display(),
                if c.run_as.is_some() {
                    ", server runs as user postgres"
                } else {
                    ""
                }
            ),
            (Source::Binaries, _) => format!("throwaway cluster ({url})"),
        }
    }
}

/// Directories xtask works in.
#[derive(Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
    /// Set by `cargo xtask test` once its build step has built every workspace binary: tools
    /// then run from `target/debug/` instead of through `cargo run`, which would resolve the
    /// features of one package alone and rebuild part of the dependency graph (minutes).
    pub prebuilt_bins: bool,
}

impl Paths {
    pub fn discover() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        Paths {
            root,
            target,
            prebuilt_bins: false,
        }
    }

    /// A workspace binary, ready to take its own arguments: the executable the test build made
    /// (when [`Paths::prebuilt_bins`] is set and it exists), else `cargo run -q --locked -p
    /// <package> --bin <bin> --`.
    pub fn tool(&self, package: &str, bin: &str) -> Command {
        let built = self.target.join("debug").join(bin);
        let mut c = if self.prebuilt_bins && built.is_file() {
            Command::new(built)
        } else {
            let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            c.args(["run", "-q", "--locked", "-p", package, "--bin", bin, "--"]);
            c
        };
        c.current_dir(&self.root);
        c
    }

    /// Where throwaway clusters may live: `target/`, or a temp dir when `target/` is unusable.
    fn throwaway_bases(&self) -> [PathBuf; 2] {
        [self.target.clone(), std::env::temp_dir().join(TMP_SUBDIR)]
    }
}

// ---------------------------------------------------------------------------------------------
// Selection

/// Bring up PostgreSQL for a test run, printing which path was taken.
pub fn provision_for_tests(paths: &Paths) -> Result<Provisioned> {
    if let Some(url) = env_database_url() {
        check_reachable(&url)?;
        return Ok(Provisioned {
            url,
            source: Source::DatabaseUrl,
            _guard: Guard::None,
        });
    }
    if docker_answers() {
        let c = Container::start(paths)?;
        return Ok(Provisioned {
            url: c.url.clone(),
            source: Source::Docker,
            _guard: Guard::Container(c),
        });
    }
    if let Some(bins) = PgBins::find() {
        let c = Cluster::create_throwaway(paths, bins)?;
        return Ok(Provisioned {
            url: c.url(),
            source: Source::Binaries,
            _guard: Guard::Cluster(c),
        });
    }
    bail!("{}", no_postgres_message())
}

/// A throwaway cluster with durability **on** (`fsync`, `synchronous_commit`, `full_page_writes`),
/// for the durable figures of `cargo xtask bench`; `None` without the server binaries. Removed when
/// dropped (also by [`clean_stale`] after a kill).
pub fn durable_cluster(paths: &Paths) -> Result<Option<Cluster>> {
    let Some(bins) = PgBins::find() else {
        return Ok(None);
    };
    let run_as = run_as_user()?;
    let name = format!("{THROWAWAY_PREFIX}{}{DURABLE_SUFFIX}", std::process::id());
    let base = usable_base(paths, run_as.as_deref())?;
    let cluster = Cluster::create(base.join(name), bins, run_as, false)?;
    let conf = cluster.data().join("postgresql.conf");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .with_context(|| format!("opening {}", conf.display()))?;
    // Appended after the test settings: the last setting wins.
    writeln!(
        f,
        "# durable, for cargo xtask bench\nfsync = on\nsynchronous_commit = on\nfull_page_writes = on"
    )
    .with_context(|| format!("writing {}", conf.display()))?;
    cluster.stop()?;
    cluster.start()?;
    Ok(Some(cluster))
}

/// Name suffix of the durable bench cluster (`xtask-pg-<pid>-durable`).
const DURABLE_SUFFIX: &str = "-durable";

pub fn no_postgres_message() -> String {
    "no PostgreSQL available. Any one of these works:\n  \
     1. set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB to a server you run;\n  \
     2. start a Docker daemon (`docker info` must succeed): a `postgres` container is used;\n  \
     3. install the PostgreSQL server binaries (`initdb` and `pg_ctl` on PATH or under \
     /usr/lib/postgresql/*/bin, e.g. `apt-get install postgresql`): a throwaway cluster is \
     started in target/."
        .to_string()
}

/// `DATABASE_URL`, treating an empty value as unset.
pub fn env_database_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// DATABASE_URL

/// Where a PostgreSQL URL points.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Socket(PathBuf),
}

/// Parse the server address out of a `postgres://` / `postgresql://` URL.
pub fn parse_endpoint(url: &str) -> Result<Endpoint> {
    let masked = mask_url(url);
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| {
            anyhow!(
                "DATABASE_URL={masked} is not a PostgreSQL URL (postgres://…); `cargo xtask test` \
                 needs PostgreSQL. Unset DATABASE_URL to let xtask start one."
            )
        })?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let query = rest
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .unwrap_or("");
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("DATABASE_URL={masked}: unterminated IPv6 address"))?;
        (h.to_string(), after.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let port = match (port, param("port")) {
        ("", None) => 5432,
        ("", Some(p)) => p
            .parse()
            .with_context(|| format!("DATABASE_URL={masked}: bad port {p:?}"))?,
        (p, _) => p
            .parse()
            .with_context(|| format!("DATABASE_URL={masked}: bad port {p:?}"))?,
    };
    let host = if host.is_empty() {
        param("host").unwrap_or_default()
    } else {
        percent_decode(&host)
    };
    if host.starts_with('/') {
        return Ok(Endpoint::Socket(
            Path::new(&host).join(format!(".s.PGSQL.{port}")),
        ));
    }
    if host.is_empty() {
        // libpq's default: the local socket directory, else localhost.
        for dir in ["/var/run/postgresql", "/tmp", "/private/tmp"] {
            let sock = Path::new(dir).join(format!(".s.PGSQL.{port}"));
            if sock.exists() {
                return Ok(Endpoint::Socket(sock));
            }
        }
        return Ok(Endpoint::Tcp {
            host: "localhost".into(),
            port,
        });
    }
    Ok(Endpoint::Tcp { host, port })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Fail fast (seconds, not minutes) when the `DATABASE_URL` server does not answer like
/// PostgreSQL.
pub fn check_reachable(url: &str) -> Result<()> {
    check_reachable_within(url, CONNECT_TIMEOUT)
}

/// Connect (TCP or unix socket), send PostgreSQL's `SSLRequest` and expect its one-byte answer
/// (`S` or `N`) within `timeout`. A bare TCP connect is not enough: a proxy or another service
/// may accept the connection and then never answer.
pub fn check_reachable_within(url: &str, timeout: Duration) -> Result<()> {
    let masked = mask_url(url);
    let hint = "Start that server, or unset DATABASE_URL to let xtask start PostgreSQL itself.";
    let unreachable =
        |detail: String| anyhow!("DATABASE_URL={masked} is not reachable ({detail}). {hint}");
    match parse_endpoint(url)? {
        Endpoint::Socket(path) => {
            let stream = std::os::unix::net::UnixStream::connect(&path)
                .map_err(|e| unreachable(format!("socket {}: {e}", path.display())))?;
            stream
                .set_read_timeout(Some(timeout))
                .and_then(|()| stream.set_write_timeout(Some(timeout)))
                .map_err(|e| unreachable(format!("socket {}: {e}", path.display())))?;
            ssl_request(stream).map_err(|e| unreachable(format!("socket {}: {e}", path.display())))
        }
        Endpoint::Tcp { host, port } => {
            let addrs: Vec<_> = (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| unreachable(format!("resolving {host}: {e}")))?
                .collect();
            let mut errors = Vec::new();
            for a in &addrs {
                let attempt = TcpStream::connect_timeout(a, timeout).and_then(|s| {
                    s.set_read_timeout(Some(timeout))?;
                    s.set_write_timeout(Some(timeout))?;
                    Ok(s)
                });
                match attempt.map_err(|e| e.to_string()).and_then(ssl_request) {
                    Ok(()) => return Ok(()),
                    Err(e) => errors.push(format!("{a}: {e}")),
                }
            }
            if errors.is_empty() {
                errors.push(format!("{host} resolved to no address"));
            }
            Err(unreachable(errors.join("; ")))
        }
    }
}

/// Send an `SSLRequest` (length 8, code 80877103) and read the server's one-byte reply.
fn ssl_request<S: std::io::Read + Write>(mut stream: S) -> std::result::Result<(), String> {
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    stream
        .write_all(&SSL_REQUEST)
        .map_err(|e| format!("sending a PostgreSQL SSLRequest: {e}"))?;
    let mut reply = [0u8; 1];
    match stream.read_exact(&mut reply) {
        Ok(()) if reply[0] == b'S' || reply[0] == b'N' => Ok(()),
        Ok(()) => Err(format!(
            "connected, but the answer to an SSLRequest was {:?}, not PostgreSQL's S or N",
            reply[0] as char
        )),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err("connected, but no PostgreSQL answer within the timeout".to_string())
        }
        Err(e) => Err(format!("connected, but reading the answer failed: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Docker / testcontainers

/// Whether `docker info` succeeds within a few seconds.
pub fn docker_answers() -> bool {
    if proc::which("docker").is_none() {
        return false;
    }
    proc::output(
        Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]),
        "docker info",
        Some(Duration::from_secs(5)),
        Mode::Interruptible,
    )
    .map(|o| o.status.success())
    .unwrap_or(false)
}

/// `cargo run -p xtask-pg-container`: keeps a container alive until its stdin closes.
struct Container {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
}

impl Container {
    fn start(paths: &Paths) -> Result<Self> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("xtask: Docker answers; starting a postgres container (xtask-pg-container)");
        let mut child = proc::spawn(
            Command::new(cargo)
                .args(["run", "-q", "-p", "xtask-pg-container"])
                .current_dir(&paths.root)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
            "cargo run -p xtask-pg-container",
        )?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut container = Container {
            child,
            stdin,
            url: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        if let Some(out) = stdout {
            thread::spawn(move || {
                let mut line = String::new();
                let res = BufReader::new(out).read_line(&mut line).map(|_| line);
                let _ = tx.send(res);
            });
        }
        let start = Instant::now();
        loop {
            proc::check_interrupted()?;
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Ok(line)) if line.trim().starts_with("postgres") => {
                    container.url = line.trim().to_string();
                    return Ok(container);
                }
                Ok(Ok(line)) => bail!(
                    "xtask-pg-container exited or printed no URL (got {:?}); see its output above",
                    line.trim()
                ),
                Ok(Err(e)) => bail!("reading the URL from xtask-pg-container: {e}"),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    bail!("xtask-pg-container closed its output without a URL")
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if start.elapsed() > Duration::from_secs(900) {
                        bail!("xtask-pg-container printed no URL within 15 minutes");
                    }
                }
            }
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.url.is_empty() {
            // Still building or starting (error or signal). SIGTERM stops a build at once; a
            // starting xtask-pg-container finishes `start` (image pull included) and then
            // removes the container itself, so give it time before SIGKILL.
            eprintln!("xtask: stopping xtask-pg-container before it became ready");
            proc::stop_group(
                &mut self.child,
                signal_hook::consts::SIGTERM,
                Duration::from_secs(120),
            );
            return;
        }
        eprintln!("xtask: removing the postgres container");
        // Closing stdin tells xtask-pg-container to remove the container and exit.
        drop(self.stdin.take());
        let res = proc::wait(
            &mut self.child,
            "xtask-pg-container shutdown",
            Some(Duration::from_secs(120)),
            Mode::Uninterruptible,
        );
        if let Err(e) = res {
            eprintln!("xtask: warning: {e:#}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Local clusters from the server binaries

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct PgBins {
    pub dir: PathBuf,
}

impl PgBins {
    /// `initdb` on PATH (symlinks resolved), else the newest `/usr/lib/postgresql/*/bin`.
    pub fn find() -> Option<Self> {
        let ok = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
        if let Some(initdb) = proc::which("initdb") {
            let real = fs::canonicalize(&initdb).unwrap_or(initdb);
            if let Some(dir) = real.parent().filter(|d| ok(d)) {
                return Some(PgBins {
                    dir: dir.to_path_buf(),
                });
            }
        }
        let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                ok(&bin).then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, dir)| PgBins { dir })
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A cluster directory: `data/` (PGDATA), `postgres.log`, and the unix socket.
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    bins: PgBins,
    /// `Some("postgres")` when xtask runs as root.
    run_as: Option<String>,
    /// When true, `Drop` leaves the cluster running (`cargo xtask db up`).
    pub keep: bool,
}

/// Whether this process runs as root (`id -u` = 0).
pub fn running_as_root() -> Result<bool> {
    let out = proc::output(
        Command::new("id").arg("-u"),
        "id -u",
        Some(Duration::from_secs(10)),
        Mode::Interruptible,
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A port nobody listens on right now (bind port 0 and let the kernel choose).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr().context("reading the bound address")?.port())
}

impl Cluster {
    /// A new cluster in `<base>/xtask-pg-<pid>`, started on a free port.
    fn create_throwaway(paths: &Paths, bins: PgBins) -> Result<Self> {
        let run_as = run_as_user()?;
        let name = format!("{THROWAWAY_PREFIX}{}", std::process::id());
        let base = usable_base(paths, run_as.as_deref())?;
        Cluster::create(base.join(name), bins, run_as, false)
    }

    /// initdb + configure + start `dir`. If anything fails, the returned error has already
    /// stopped and deleted the partial cluster (the value is dropped with `keep = false`).
    pub fn create(
        dir: PathBuf,
        bins: PgBins,
        run_as: Option<String>,
        keep_on_success: bool,
    ) -> Result<Self> {
        if dir.exists() {
            bail!(
                "{} already exists; remove it or run `cargo xtask db down`",
                dir.display()
            );
        }
        let port = free_port()?;
        let mut cluster = Cluster {
            dir,
            port,
            bins,
            run_as,
            keep: false,
        };
        fs::create_dir_all(&cluster.dir)
            .with_context(|| format!("creating {}", cluster.dir.display()))?;
        eprintln!(
            "xtask: initdb {} (PostgreSQL binaries in {}{})",
            cluster.data().display(),
            cluster.bins.dir.display(),
            if cluster.run_as.is_some() {
                ", as user postgres because xtask runs as root"
            } else {
                ""
            }
        );
        if let Some(user) = &cluster.run_as {
            proc::run(
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&cluster.dir),
                "chown postgres cluster dir",
            )?;
        }
        let out = proc::output(
            cluster
                .pg_cmd("initdb")
                .arg("-D")
                .arg(cluster.data())
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]),
            "initdb",
            Some(Duration::from_secs(300)),
            Mode::Interruptible,
        )?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        cluster.write_config()?;
        cluster.start()?;
        cluster.keep = keep_on_success;
        Ok(cluster)
    }

    /// The `pg_ctl` binary of this cluster's server.
    pub fn pg_ctl(&self) -> PathBuf {
        self.bins.bin("pg_ctl")
    }

    /// The user the server runs as (`Some("postgres")` when xtask runs as root).
    pub fn run_as(&self) -> Option<&str> {
        self.run_as.as_deref()
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A server for an existing cluster dir (`db up` after `db down` was skipped, reboot…).
    pub fn existing(dir: PathBuf, port: u16, bins: PgBins, run_as: Option<String>) -> Self {
        Cluster {
            dir,
            port,
            bins,
            run_as,
            keep: true,
        }
    }

    fn pg_cmd(&self, program: &str) -> Command {
        let program = self.bins.bin(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    /// Listen on 127.0.0.1 only, trust auth (initdb -A trust), socket inside the cluster dir,
    /// durability off (test data is disposable).
    fn write_config(&self) -> Result<()> {
        let socket_dir = self.dir.display().to_string();
        // Unix socket paths are limited to ~107 bytes; beyond that use TCP only.
        let socket_setting =
            if socket_dir.len() + ".s.PGSQL.65535".len() + 1 < 100 && !socket_dir.contains('\'') {
                socket_dir
            } else {
                String::new()
            };
        let conf = self.data().join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("opening {}", conf.display()))?;
        writeln!(
            f,
            "\n# added by cargo xtask\nlisten_addresses = '127.0.0.1'\nport = {}\n\
             unix_socket_directories = '{socket_setting}'\nmax_connections = 200\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off",
            self.port
        )
        .with_context(|| format!("writing {}", conf.display()))?;
        Ok(())
    }

    /// Point the configuration at `port` (appended: the last setting wins).
    pub fn set_port(&mut self, port: u16) -> Result<()> {
        let conf = self.data().join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("opening {}", conf.display()))?;
        writeln!(f, "port = {port}").with_context(|| format!("writing {}", conf.display()))?;
        self.port = port;
        Ok(())
    }

    /// `pg_ctl start -w`; on failure shows the end of the server log.
    pub fn start(&self) -> Result<()> {
        let out = proc::output(
            self.pg_cmd("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log())
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
            Some(Duration::from_secs(90)),
            Mode::Interruptible,
        )?;
        if !out.status.success() {
            let log = fs::read_to_string(self.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            bail!(
                "pg_ctl start failed ({}): {}{}\n--- end of {} ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Whether a server is running for this cluster (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.data().join("postmaster.pid").exists()
            && proc::output(
                self.pg_cmd("pg_ctl")
                    .arg("-D")
                    .arg(self.data())
                    .arg("status"),
                "pg_ctl status",
                Some(Duration::from_secs(30)),
                Mode::Uninterruptible,
            )
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// `pg_ctl stop -m fast` (then `-m immediate`), waiting until the server has exited.
    pub fn stop(&self) -> Result<()> {
        if !self.data().join("postmaster.pid").exists() {
            return Ok(());
        }
        let mut last = String::new();
        for mode in ["fast", "immediate"] {
            let out = proc::output(
                self.pg_cmd("pg_ctl")
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", mode, "-w", "-t", "60", "stop"]),
                "pg_ctl stop",
                Some(Duration::from_secs(90)),
                Mode::Uninterruptible,
            )?;
            if out.status.success() || !self.data().join("postmaster.pid").exists() {
                return Ok(());
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        bail!(
            "pg_ctl stop failed for {}: {}",
            self.data().display(),
            last.trim()
        )
    }

    /// Stop the server and delete the directory.
    pub fn destroy(&self) -> Result<()> {
        self.stop()?;
        fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        eprintln!(
            "xtask: stopping PostgreSQL on port {} and removing {}",
            self.port,
            self.dir.display()
        );
        if let Err(e) = self.destroy() {
            eprintln!("xtask: warning: cleanup failed: {e:#}");
        }
    }
}

/// `Some("postgres")` when running as root (the server must not run as root).
pub fn run_as_user() -> Result<Option<String>> {
    if !running_as_root()? {
        return Ok(None);
    }
    let known = proc::output(
        Command::new("id").arg("postgres"),
        "id postgres",
        Some(Duration::from_secs(10)),
        Mode::Interruptible,
    )?;
    if !known.status.success() {
        bail!(
            "xtask runs as root and PostgreSQL refuses to run as root, but there is no `postgres` \
             user to run it as (create one, e.g. `useradd --system postgres`, or run as a normal user)"
        );
    }
    Ok(Some("postgres".into()))
}

/// `target/` when the server's user can reach it, else a directory under the system temp dir.
pub fn usable_base(paths: &Paths, run_as: Option<&str>) -> Result<PathBuf> {
    let [target, tmp] = paths.throwaway_bases();
    fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let Some(user) = run_as else {
        return Ok(target);
    };
    let reachable = proc::output(
        Command::new("runuser")
            .args(["-u", user, "--", "test", "-w"])
            .arg(&target)
            .arg("-o")
            .arg("-x")
            .arg(&target),
        "runuser test -x target",
        Some(Duration::from_secs(10)),
        Mode::Interruptible,
    )?
    .status
    .success();
    if reachable {
        return Ok(target);
    }
    eprintln!(
        "xtask: user {user} cannot reach {}; using {} instead",
        target.display(),
        tmp.display()
    );
    fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    Ok(tmp)
}

/// The pid in a throwaway dir name `xtask-pg-<pid>`.
pub fn throwaway_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(THROWAWAY_PREFIX)?;
    rest.strip_suffix(DURABLE_SUFFIX)
        .unwrap_or(rest)
        .parse()
        .ok()
}

/// Stop and delete throwaway clusters left by xtask runs whose process is gone
/// (e.g. after `kill -9`).
pub fn clean_stale(paths: &Paths) -> Result<()> {
    let mut run_as: Option<Option<String>> = None;
    for base in paths.throwaway_bases() {
        let Ok(entries) = fs::read_dir(&base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(throwaway_pid) else {
                continue;
            };
            if pid == std::process::id() || proc::pid_alive(pid) {
                continue;
            }
            let dir = entry.path();
            eprintln!(
                "xtask: removing stale cluster {} (xtask pid {pid} is gone)",
                dir.display()
            );
            let data = dir.join("data");
            let server_alive = fs::read_to_string(data.join("postmaster.pid"))
                .ok()
                .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
                .is_some_and(proc::pid_alive);
            if server_alive {
                let user = match &run_as {
                    Some(u) => u.clone(),
                    None => {
                        let u = run_as_user()?;
                        run_as = Some(u.clone());
                        u
                    }
                };
                match PgBins::find() {
                    Some(bins) => {
                        let c = Cluster::existing(dir.clone(), 0, bins, user);
                        if let Err(e) = c.stop() {
                            eprintln!("xtask: warning: {e:#}");
                        }
                    }
                    None => eprintln!(
                        "xtask: warning: a server still runs in {} but pg_ctl is not found",
                        data.display()
                    ),
                }
            }
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_endpoints() {
        assert_eq!(
            parse_endpoint("postgres://u:secret@127.0.0.1:1/db").unwrap(),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 1
            }
        );
        assert_eq!(
            parse_endpoint("postgresql://db.example:6543").unwrap(),
            Endpoint::Tcp {
                host: "db.example".into(),
                port: 6543
            }
        );
        assert_eq!(
            parse_endpoint("postgres://u@[::1]/db").unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 5432
            }
        );
        assert_eq!(
            parse_endpoint("postgres://u@h/db?port=7000").unwrap(),
            Endpoint::Tcp {
                host: "h".into(),
                port: 7000
            }
        );
    }

    #[test]
    fn parses_socket_endpoints() {
        assert_eq!(
            parse_endpoint("postgres:///db?host=%2Fvar%2Frun%2Fpostgresql&port=5433").unwrap(),
            Endpoint::Socket(PathBuf::from("/var/run/postgresql/.s.PGSQL.5433"))
        );
        assert_eq!(
            parse_endpoint("postgres://%2Ftmp%2Fpg/db").unwrap(),
            Endpoint::Socket(PathBuf::from("/tmp/pg/.s.PGSQL.5432"))
        );
    }

    #[test]
    fn rejects_non_postgres_urls_without_leaking_the_password() {
        let err = parse_endpoint("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let err = parse_endpoint("postgres://u:secret@h:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn unreachable_server_is_an_error_that_masks_the_password() {
        // Port 1 on loopback: nothing listens there, so the connect is refused at once.
        let err = check_reachable("postgres://u:secret@127.0.0.1:1/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://u:***@127.0.0.1:1/db"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    /// A loopback listener that reads the 8-byte SSLRequest and answers `reply` (or nothing).
    fn fake_server(reply: Option<u8>) -> (u16, thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 8];
            std::io::Read::read_exact(&mut s, &mut req).unwrap();
            assert_eq!(req, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
            match reply {
                Some(b) => s.write_all(&[b]).unwrap(),
                // Keep the connection open, silent, until the client gives up.
                None => {
                    let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
                }
            }
        });
        (port, h)
    }

    #[test]
    fn server_answering_like_postgres_passes() {
        for reply in [b'N', b'S'] {
            let (port, h) = fake_server(Some(reply));
            check_reachable(&format!("postgres://u:pw@127.0.0.1:{port}/db")).unwrap();
            h.join().unwrap();
        }
    }

    #[test]
    fn listener_that_is_not_postgres_is_rejected() {
        let (port, h) = fake_server(Some(b'H'));
        let err = check_reachable(&format!("postgres://u:pw@127.0.0.1:{port}/db"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not PostgreSQL's S or N"), "{err}");
        assert!(err.contains("u:***@"), "{err}");
        h.join().unwrap();
    }

    #[test]
    fn silent_listener_is_rejected_after_the_timeout() {
        let (port, h) = fake_server(None);
        let err = check_reachable_within(
            &format!("postgres://u:pw@127.0.0.1:{port}/db"),
            Duration::from_millis(200),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no PostgreSQL answer"), "{err}");
        h.join().unwrap();
    }

    #[test]
    fn throwaway_dir_names() {
        assert_eq!(throwaway_pid("xtask-pg-1234"), Some(1234));
        assert_eq!(throwaway_pid("xtask-pg-"), None);
        assert_eq!(throwaway_pid("xtask-pg-12a"), None);
        assert_eq!(throwaway_pid("xtask-db"), None);
        assert_eq!(throwaway_pid("debug"), None);
    }

    #[test]
    fn no_postgres_message_names_all_three_ways() {
        let m = no_postgres_message();
        assert!(m.contains("DATABASE_URL"));
        assert!(m.contains("Docker"));
        assert!(m.contains("initdb"));
    }
}
