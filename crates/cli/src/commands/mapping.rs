//! `crmsync mapping check`.

use anyhow::{bail, Context, Result};

use crate::cli::MappingCmd;
use crate::output::Table;
use crmsync_app::clients as context;

/// Runs a `mapping` subcommand.
pub async fn run(cmd: MappingCmd) -> Result<()> {
    match cmd {
        MappingCmd::Check => check().await,
    }
}

async fn check() -> Result<()> {
    let config = context::config()?;
    let path = &config.mapping_path;
    let src = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the mapping file {} (CRMSYNC_MAPPING)",
            path.display()
        )
    })?;
    let file = path.display().to_string();
    let mapping = match crmsync_core::Mapping::parse(&src, &file) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors.0 {
                crate::outln!("{e}");
            }
            bail!("mapping check failed: {errors}");
        }
    };
    let sf = context::salesforce(&config)?;
    let monday = context::monday(&config)?;
    let schema = crmsync_sync::fetch_schema(&mapping, &sf, &monday)
        .await
        .context("reading the Salesforce describes and Monday boards the mapping refers to")?;
    match crmsync_core::validate_realtime(&mapping, &schema) {
        Ok(valid) => {
            let mut t = Table::new(&["CHECK", "BOARD", "BOARD ID", "OBJECT", "COLUMNS"]);
            for b in &valid.boards {
                let name = b.name.clone().or_else(|| {
                    schema
                        .boards
                        .iter()
                        .find(|x| x.id == b.board_id)
                        .map(|x| x.name.clone())
                });
                t.row(vec![
                    "OK".into(),
                    name.unwrap_or_default(),
                    b.board_id.clone(),
                    b.object.clone(),
                    format!("{} mapped", b.columns.len()),
                ]);
            }
            crate::out!("{}", t.render());
            crate::outln!(
                "{file}: {} board{} checked against Salesforce and Monday: no problems",
                valid.boards.len(),
                if valid.boards.len() == 1 { "" } else { "s" }
            );
            Ok(())
        }
        Err(errors) => {
            for e in &errors.0 {
                crate::outln!("{e}");
            }
            bail!("mapping check failed: {errors}");
        }
    }
}
