//! `cargo xtask db up|down|url`: a developer's long-lived local PostgreSQL.
//!
//! Same mechanism as the tests, minus `DATABASE_URL` (this is how you get one): a Docker
//! container when a Docker daemon answers, else a cluster from the server binaries in
//! `target/xtask-db/`. What was started is recorded in `target/xtask-db.state`
//! (`key=value` lines) so `url` and `down` find it again.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::pg::{self, Cluster, Paths, PgBins};
use crate::proc::{self, Mode};

pub const HELP: &str = "\
cargo xtask db up|down|url

A long-lived local PostgreSQL for development:
  up     start it (a `postgres` container when `docker info` succeeds, else a cluster from the
         installed server binaries in target/xtask-db/ on a free port, run as user postgres
         under root); if it exists but is stopped (e.g. after a reboot), start it again.
         Prints the DATABASE_URL.
  down   stop it and delete its data.
  url    print its DATABASE_URL, e.g. `export DATABASE_URL=$(cargo xtask db url)`.
";

const CONTAINER_NAME: &str = "crmsync-xtask-db";
const IMAGE: &str = "postgres:16-alpine";

/// What `db up` started, as stored in the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Cluster {
        dir: PathBuf,
        port: u16,
        bin_dir: PathBuf,
        run_as: Option<String>,
    },
    Docker {
        container: String,
        port: u16,
    },
}

impl State {
    fn url(&self) -> String {
        match self {
            State::Cluster { port, .. } => {
                format!("postgres://postgres@127.0.0.1:{port}/postgres")
            }
            State::Docker { port, .. } => {
                format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres")
            }
        }
    }

    fn render(&self) -> String {
        match self {
            State::Cluster {
                dir,
                port,
                bin_dir,
                run_as,
            } => format!(
                "kind=cluster\ndir={}\nport={port}\nbin_dir={}\nrun_as={}\n",
                dir.display(),
                bin_dir.display(),
                run_as.as_deref().unwrap_or("")
            ),
            State::Docker { container, port } => {
                format!("kind=docker\ncontainer={container}\nport={port}\n")
            }
        }
    }

    fn parse(text: &str) -> Result<Self> {
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
                .with_context(|| format!("state file has no `{key}=` line"))
        };
        let port = get("port")?;
        let port: u16 = port
            .parse()
            .with_context(|| format!("state file: bad port {port:?}"))?;
        match get("kind")?.as_str() {
            "cluster" => Ok(State::Cluster {
                dir: get("dir")?.into(),
                port,
                bin_dir: get("bin_dir")?.into(),
                run_as: Some(get("run_as")?).filter(|u| !u.is_empty()),
            }),
            "docker" => Ok(State::Docker {
                container: get("container")?,
                port,
            }),
            other => bail!("state file: unknown kind {other:?}"),
        }
    }
}

fn state_path(paths: &Paths) -> PathBuf {
    paths.target.join("xtask-db.state")
}

fn load(paths: &Paths) -> Result<Option<State>> {
    let p = state_path(paths);
    match fs::read_to_string(&p) {
        Ok(text) => State::parse(&text)
            .with_context(|| format!("reading {}", p.display()))
            .map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

fn save(paths: &Paths, state: &State) -> Result<()> {
    let p = state_path(paths);
    fs::create_dir_all(&paths.target)
        .with_context(|| format!("creating {}", paths.target.display()))?;
    fs::write(&p, state.render()).with_context(|| format!("writing {}", p.display()))
}

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("up") => up(paths),
        Some("down") => down(paths),
        Some("url") => url(paths),
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown db command {other:?}\n\n{HELP}"),
        None => bail!("missing db command\n\n{HELP}"),
    }
}

fn url(paths: &Paths) -> Result<()> {
    match load(paths)? {
        Some(state) => {
            println!("{}", state.url());
            Ok(())
        }
        None => bail!("no local database; run `cargo xtask db up` first"),
    }
}

fn up(paths: &Paths) -> Result<()> {
    pg::clean_stale(paths)?;
    if let Some(state) = load(paths)? {
        match &state {
            State::Cluster {
                dir,
                port,
                bin_dir,
                run_as,
            } => {
                let mut c = Cluster::existing(
                    dir.clone(),
                    *port,
                    PgBins {
                        dir: bin_dir.clone(),
                    },
                    run_as.clone(),
                );
                if !c.is_running() {
                    if std::net::TcpListener::bind(("127.0.0.1", *port)).is_err() {
                        c.set_port(pg::free_port()?)?;
                    }
                    eprintln!("xtask: starting the existing cluster in {}", dir.display());
                    c.start()?;
                    let state = State::Cluster {
                        dir: dir.clone(),
                        port: c.port,
                        bin_dir: bin_dir.clone(),
                        run_as: run_as.clone(),
                    };
                    save(paths, &state)?;
                    println!("{}", state.url());
                    return Ok(());
                }
            }
            State::Docker { container, .. } => {
                proc::run(
                    Command::new("docker").args(["start", container]),
                    "docker start",
                )?;
                wait_container_ready(container)?;
            }
        }
        eprintln!("xtask: the local database is up");
        println!("{}", state.url());
        return Ok(());
    }

    let state = if pg::docker_answers() {
        eprintln!("xtask: Docker answers; starting container {CONTAINER_NAME} ({IMAGE})");
        start_container()?
    } else if let Some(bins) = PgBins::find() {
        let run_as = pg::run_as_user()?;
        let base = pg::usable_base(paths, run_as.as_deref())?;
        let c = Cluster::create(base.join("xtask-db"), bins.clone(), run_as.clone(), true)?;
        State::Cluster {
            dir: c.dir.clone(),
            port: c.port,
            bin_dir: bins.dir,
            run_as,
        }
    } else {
        bail!(
            "cannot start a local PostgreSQL. Either start a Docker daemon (`docker info` must \
             succeed) or install the PostgreSQL server binaries (`initdb` and `pg_ctl` on PATH or \
             under /usr/lib/postgresql/*/bin). Or point DATABASE_URL at a server you run."
        );
    };
    save(paths, &state)?;
    eprintln!("xtask: the local database is up; `cargo xtask db down` removes it");
    println!("{}", state.url());
    Ok(())
}

fn down(paths: &Paths) -> Result<()> {
    let Some(state) = load(paths)? else {
        eprintln!("xtask: no local database is up");
        return Ok(());
    };
    match &state {
        State::Cluster {
            dir,
            port,
            bin_dir,
            run_as,
        } => {
            let c = Cluster::existing(
                dir.clone(),
                *port,
                PgBins {
                    dir: bin_dir.clone(),
                },
                run_as.clone(),
            );
            eprintln!("xtask: stopping PostgreSQL and removing {}", dir.display());
            c.destroy()?;
        }
        State::Docker { container, .. } => {
            eprintln!("xtask: removing container {container}");
            proc::run(
                Command::new("docker").args(["rm", "-f", "-v", container]),
                "docker rm",
            )?;
        }
    }
    let p = state_path(paths);
    fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))
}

fn start_container() -> Result<State> {
    proc::run(
        Command::new("docker").args([
            "run",
            "-d",
            "--name",
            CONTAINER_NAME,
            "-e",
            "POSTGRES_PASSWORD=postgres",
            "-p",
            "127.0.0.1::5432",
            IMAGE,
        ]),
        "docker run postgres",
    )?;
    let out = proc::output(
        Command::new("docker").args(["port", CONTAINER_NAME, "5432/tcp"]),
        "docker port",
        Some(Duration::from_secs(30)),
        Mode::Interruptible,
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let port = text
        .lines()
        .find_map(|l| l.trim().rsplit_once(':')?.1.parse::<u16>().ok())
        .with_context(|| format!("`docker port {CONTAINER_NAME} 5432/tcp` printed {text:?}"))?;
    wait_container_ready(CONTAINER_NAME)?;
    Ok(State::Docker {
        container: CONTAINER_NAME.into(),
        port,
    })
}

/// `pg_isready -h 127.0.0.1` inside the container: the image's init phase listens on the
/// socket only, so a TCP answer means the real server is up.
fn wait_container_ready(container: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        proc::check_interrupted()?;
        let ready = proc::output(
            Command::new("docker").args([
                "exec",
                container,
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ]),
            "docker exec pg_isready",
            Some(Duration::from_secs(30)),
            Mode::Interruptible,
        )?
        .status
        .success();
        if ready {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("container {container} is not ready after 120s (see `docker logs {container}`)");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        for state in [
            State::Cluster {
                dir: "/w/target/xtask-db".into(),
                port: 40123,
                bin_dir: "/usr/lib/postgresql/15/bin".into(),
                run_as: Some("postgres".into()),
            },
            State::Cluster {
                dir: "/w/target/xtask-db".into(),
                port: 5432,
                bin_dir: "/opt/pg/bin".into(),
                run_as: None,
            },
            State::Docker {
                container: CONTAINER_NAME.into(),
                port: 49153,
            },
        ] {
            assert_eq!(State::parse(&state.render()).unwrap(), state);
        }
    }

    #[test]
    fn bad_state_files_are_errors() {
        assert!(State::parse("").is_err());
        assert!(State::parse("kind=cluster\nport=x\n").is_err());
        assert!(State::parse("kind=vm\nport=1\n").is_err());
    }

    #[test]
    fn urls_point_at_loopback() {
        let c = State::Cluster {
            dir: "/d".into(),
            port: 40123,
            bin_dir: "/b".into(),
            run_as: None,
        };
        assert_eq!(c.url(), "postgres://postgres@127.0.0.1:40123/postgres");
        let d = State::Docker {
            container: "c".into(),
            port: 7,
        };
        assert_eq!(d.url(), "postgres://postgres:postgres@127.0.0.1:7/postgres");
    }
}
