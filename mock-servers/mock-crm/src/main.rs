//! `mock-crm`: serves the mock Salesforce REST API and the mock Monday GraphQL API.
//!
//! Prints one JSON line on stdout once both listen:
//! `{"salesforce":"http://127.0.0.1:PORT","monday":"http://127.0.0.1:PORT"}`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "mock-crm",
    version,
    about = "Mock Salesforce REST and Monday GraphQL servers for tests and demos"
)]
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

    // Optional https for the mock Salesforce (simple-salesforce and others insist on https):
    // a self-signed certificate for localhost/127.0.0.1, written to `--tls PATH` for clients to trust.
    let sf_tls = match &cli.salesforce.tls {
        Some(path) => Some(self_signed_tls(path).await?),
        None => None,
    };
    let sf_scheme = if sf_tls.is_some() { "https" } else { "http" };
    let ready = serde_json::json!({
        "salesforce": format!("{sf_scheme}://{}", sf_listener.local_addr()?),
        "monday": format!("http://{}", monday_listener.local_addr()?),
    });
    println!("{ready}");

    let sf = match sf_tls {
        Some(tls) => {
            let std_listener = sf_listener
                .into_std()
                .context("converting the salesforce listener")?;
            tokio::spawn(async move {
                axum_server::from_tcp_rustls(std_listener, tls)
                    .serve(sf_router.into_make_service())
                    .await
            })
        }
        None => tokio::spawn(async move { axum::serve(sf_listener, sf_router).await }),
    };
    let monday = tokio::spawn(async move { axum::serve(monday_listener, monday_router).await });
    tokio::select! {
        r = sf => r.context("salesforce server task")?.context("salesforce server")?,
        r = monday => r.context("monday server task")?.context("monday server")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Generates a throwaway CA and a certificate for `localhost`/`127.0.0.1` signed by it, writes the
/// CA certificate (PEM) to `path` for clients to trust, and returns the rustls configuration.
async fn self_signed_tls(
    path: &std::path::Path,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    // Both ring (reqwest) and aws-lc-rs (axum-server) are linked: choose one explicitly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mock-crm throwaway CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params
        .self_signed(&ca_key)
        .context("self-signing the CA")?;
    let leaf_key = KeyPair::generate().context("generating the server key")?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .context("server certificate parameters")?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .context("signing the server certificate")?;
    std::fs::write(path, ca.pem())
        .with_context(|| format!("writing the certificate to --tls {}", path.display()))?;
    let chain = format!("{}{}", leaf.pem(), ca.pem());
    axum_server::tls_rustls::RustlsConfig::from_pem(
        chain.into_bytes(),
        leaf_key.serialize_pem().into_bytes(),
    )
    .await
    .context("loading the generated certificate")
}
