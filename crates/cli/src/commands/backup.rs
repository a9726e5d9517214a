//! `crmsync backup --to s3://…` and `crmsync restore --from s3://…` (format and checks in
//! `crmsync_cloud::backup`).

use anyhow::{Context, Result};
use crmsync_app::clients as context;
use crmsync_cloud::backup::{self, Payloads};
use crmsync_cloud::s3::{self, Objects, S3Location};

use crate::cli::{BackupArgs, RestoreArgs};

async fn objects(url: &str) -> Result<Objects> {
    let location: S3Location = url.parse()?;
    Ok(Objects::new(s3::client().await, location))
}

/// `crmsync backup`.
pub async fn backup(args: BackupArgs) -> Result<()> {
    let config = context::config()?;
    let payloads: Payloads = std::env::var("CRMSYNC_BACKUP_PAYLOADS")
        .unwrap_or_default()
        .parse()
        .map_err(anyhow::Error::msg)?;
    let store = context::migrated_store(&config).await?;
    let objects = objects(&args.to).await?;
    let report = backup::backup(&store, &objects, payloads)
        .await
        .with_context(|| format!("backing up to {}", args.to))?;
    store.close().await;
    let m = &report.manifest;
    if args.json {
        crate::outln!("{}", serde_json::to_string(m)?);
        return Ok(());
    }
    crate::outln!(
        "backup {} written to {} ({}; payloads {:?})",
        m.id,
        report.location,
        match &m.previous {
            Some(p) => format!("incremental after {p}"),
            None => "full".to_string(),
        },
        m.payloads
    );
    for (table, n) in &m.counts {
        crate::outln!("  {table:<22} {n:>8} rows");
    }
    crate::outln!("  {} parts", m.parts.len());
    Ok(())
}

/// `crmsync restore`.
pub async fn restore(args: RestoreArgs) -> Result<()> {
    let config = context::config()?;
    let store = context::migrated_store(&config).await?;
    let objects = objects(&args.from).await?;
    let report = backup::restore(&store, &objects, args.force)
        .await
        .with_context(|| format!("restoring from {}", args.from))?;
    store.close().await;
    crate::outln!(
        "restored {} backup(s) from {} ({} … {})",
        report.backups.len(),
        args.from,
        report.backups.first().map(String::as_str).unwrap_or("-"),
        report.backups.last().map(String::as_str).unwrap_or("-")
    );
    for (table, n) in &report.rows {
        crate::outln!("  {table:<22} {n:>8} rows");
    }
    Ok(())
}
