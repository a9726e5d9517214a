//! `xtask-pg-container`: a PostgreSQL container for `cargo xtask test`.
//!
//! Protocol with xtask: once the server accepts connections, print exactly one line on stdout,
//! the `postgres://…` URL; keep the container until stdin reaches end of file (xtask closes it,
//! or dies); then remove the container and exit. Diagnostics go to stderr.
//!
//! Separate from xtask so that xtask itself stays quick to compile: this crate pulls in
//! testcontainers and tokio, and is built only when a Docker daemon answers.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::ImageExt;

/// The `postgres` image tag.
const TAG: &str = "16-alpine";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
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

    // Block until xtask closes our stdin (normal end, error, signal or xtask's death).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::stdin().lock().read_to_end(&mut sink)
    })
    .await
    .context("waiting for stdin to close")?
    .context("reading stdin")?;

    container
        .rm()
        .await
        .context("removing the postgres container")?;
    Ok(())
}
