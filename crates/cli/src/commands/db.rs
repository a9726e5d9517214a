//! `crmsync db migrate`.

use anyhow::Result;

use crate::cli::DbCmd;
use crmsync_app::clients as context;

/// Runs a `db` subcommand.
pub async fn run(cmd: DbCmd) -> Result<()> {
    match cmd {
        DbCmd::Migrate => {
            let config = context::config()?;
            let store = context::migrated_store(&config).await?;
            crate::outln!(
                "database schema is up to date ({} at {})",
                store.backend(),
                config.database_url
            );
            store.close().await;
            Ok(())
        }
    }
}
