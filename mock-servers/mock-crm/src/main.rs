//! `mock-crm`: serves the mock Salesforce REST API and the mock Monday GraphQL API.
//!
//! Prints one JSON line on stdout once both listen:
//! `{"salesforce":"http://127.0.0.1:PORT","monday":"http://127.0.0.1:PORT"}`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "mock-crm", version, about = "Mock Salesforce REST and Monday GraphQL servers for tests and demos")]
struct Cli {
    /// Address for the mock Salesforce server (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    salesforce_addr: String,
    /// Address for the mock Monday server (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    monday_addr: String,
    /// Seed directory holding `salesforce/` and `monday/` sub-directories.
    #[arg(long, default_value = "fixtures/seed")]
    fixtures: PathBuf,
    #[command(flatten)]
    salesforce: mock_salesforce::Args,
    #[command(flatten)]
    monday: mock_monday::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();

    let sf_router = mock_salesforce::app(&cli.salesforce, &cli.fixtures.join("salesforce"))
        .await
        .context("building the mock Salesforce server")?;
    let monday_router = mock_monday::app(&cli.monday, &cli.fixtures.join("monday"))
        .await
        .context("building the mock Monday server")?;

    let sf_listener = tokio::net::TcpListener::bind(&cli.salesforce_addr)
        .await
        .with_context(|| format!("binding --salesforce-addr {}", cli.salesforce_addr))?;
    let monday_listener = tokio::net::TcpListener::bind(&cli.monday_addr)
        .await
        .with_context(|| format!("binding --monday-addr {}", cli.monday_addr))?;

    let ready = serde_json::json!({
        "salesforce": format!("http://{}", sf_listener.local_addr()?),
        "monday": format!("http://{}", monday_listener.local_addr()?),
    });
    println!("{ready}");

    let sf = tokio::spawn(async move { axum::serve(sf_listener, sf_router).await });
    let monday = tokio::spawn(async move { axum::serve(monday_listener, monday_router).await });
    tokio::select! {
        r = sf => r.context("salesforce server task")?.context("salesforce server")?,
        r = monday => r.context("monday server task")?.context("monday server")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
