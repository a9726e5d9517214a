//! `xtask-pg-container`: a PostgreSQL container for `cargo xtask test`.
//!
//! Protocol with xtask: once the server accepts connections, print exactly one line on stdout,
//! the `postgres://…` URL; keep the container until stdin reaches end of file (xtask closes it,
//! or dies) or SIGINT/SIGTERM arrives; then remove the container and exit. Diagnostics go to
//! stderr.
//!
//! Separate from xtask so that xtask itself stays quick to compile: this crate pulls in
//! testcontainers and tokio, and is built only when a Docker daemon answers.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::ImageExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

/// The `postgres` image tag.
const TAG: &str = "16-alpine";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    // Register the handlers first, so a signal that arrives while the container starts is kept
    // and acted on once `start` has returned a handle we can remove (interrupting `start`
    // itself could leave a container nobody removes).
    let mut sigterm = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;

    let container = Postgres::default()
        .with_tag(TAG)
        .start()
        .await
        .with_context(|| format!("starting a postgres:{TAG} container"))?;
    let host = container
        .get_host()
        .await
        .context("reading the container's host")?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .context("reading the container's mapped port 5432")?;
    // The module's defaults: user, password and database are all `postgres`.
    let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}").context("writing the URL to stdout")?;
        out.flush().context("flushing stdout")?;
    }

    // A plain thread (not spawn_blocking) so that exiting never waits for the blocked read.
    let (closed_tx, closed_rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let result = std::io::stdin().lock().read_to_end(&mut sink);
        let _ = closed_tx.send(result);
    });
    tokio::select! {
        result = closed_rx => {
            if let Ok(Err(e)) = result {
                eprintln!("xtask-pg-container: reading stdin failed ({e}); removing the container");
            }
        }
        _ = sigterm.recv() => eprintln!("xtask-pg-container: SIGTERM; removing the container"),
        _ = sigint.recv() => eprintln!("xtask-pg-container: SIGINT; removing the container"),
    }

    container
        .rm()
        .await
        .context("removing the postgres container")?;
    Ok(())
}
