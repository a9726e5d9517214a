//! `crmsync webhooks install|list|remove`.

use anyhow::{bail, Result};
use secrecy::ExposeSecret;

use crate::cli::WebhooksCmd;
use crate::output::Table;
use crmsync_app::clients as context;
use crmsync_app::webhooks as hooks;

/// Runs a `webhooks` subcommand.
pub async fn run(cmd: WebhooksCmd) -> Result<()> {
    let config = context::config()?;
    let monday = context::monday(&config)?;
    let mapping = crmsync_sync::read_mapping(&config.mapping_path).map_err(|e| {
        anyhow::anyhow!(
            "reading the mapping {} (CRMSYNC_MAPPING): {e}",
            config.mapping_path.display()
        )
    })?;
    match cmd {
        WebhooksCmd::Install { url } => {
            let token = config
                .monday
                .webhook_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned());
            let target = hooks::receiver_url(&url, token.as_deref());
            crate::outln!("receiver: {}", hooks::shown_url(&target));
            let rows = hooks::install(&monday, &mapping, &target).await?;
            let mut t = Table::new(&["BOARD", "BOARD ID", "EVENT", "WEBHOOK ID", "ACTION"]);
            for r in &rows {
                t.row(vec![
                    r.board.clone(),
                    r.board_id.clone(),
                    r.event.clone(),
                    r.webhook_id.clone(),
                    r.action.to_owned(),
                ]);
            }
            crate::out!("{}", t.render());
            let created = rows.iter().filter(|r| r.action == "created").count();
            crate::outln!(
                "{created} created, {} already present",
                rows.len() - created
            );
            Ok(())
        }
        WebhooksCmd::List { json } => {
            let listed = hooks::list(&monday, &mapping).await?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                let mut t = Table::new(&["BOARD", "BOARD ID", "EVENT", "WEBHOOK ID"]);
                for w in &listed {
                    t.row(vec![
                        w.board.clone(),
                        w.board_id.clone(),
                        w.event.clone(),
                        w.webhook_id.clone(),
                    ]);
                }
                crate::out!("{}", t.render());
                crate::outln!(
                    "{} webhook{}",
                    listed.len(),
                    if listed.len() == 1 { "" } else { "s" }
                );
            }
            Ok(())
        }
        WebhooksCmd::Remove { all, ids } => {
            let ids: Vec<String> = if all {
                hooks::list(&monday, &mapping)
                    .await?
                    .into_iter()
                    .map(|w| w.webhook_id)
                    .collect()
            } else {
                ids
            };
            if ids.is_empty() {
                crate::outln!("no webhooks to remove");
                return Ok(());
            }
            let mut failed = 0usize;
            for id in &ids {
                match hooks::delete(&monday, id).await {
                    Ok(()) => crate::outln!("removed webhook {id}"),
                    Err(e) => {
                        failed += 1;
                        crate::outln!("FAILED to remove webhook {id}: {e:#}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} webhooks could not be removed", ids.len());
            }
            crate::outln!("{} removed", ids.len());
            Ok(())
        }
    }
}
