//! Setup shared by `crmsync serve`, `crmsync mapping check`, `crmsync webhooks …` and the tests:
//! loading and validating the mapping against the live APIs, and the webhooks every board needs
//! (installed by `crmsync_app::webhooks`).

use std::path::Path;

use crmsync_core::{validate_realtime, Mapping, Schema};
use crmsync_monday::{MondayClient, WebhookEventType};
use crmsync_salesforce::SalesforceClient;

use crate::error::EngineError;

/// Parses a mapping file (`file` names it in error messages).
pub fn parse_mapping(src: &str, file: &str) -> Result<Mapping, EngineError> {
    Mapping::parse(src, file).map_err(|e| EngineError::Mapping(e.to_string()))
}

/// Reads and parses the mapping file at `path`.
pub fn read_mapping(path: &Path) -> Result<Mapping, EngineError> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| EngineError::Mapping(format!("reading {}: {e}", path.display())))?;
    parse_mapping(&src, &path.display().to_string())
}

/// The schema a mapping is validated against, fetched live: the describe of every mapped object
/// and the columns of every mapped board.
pub async fn fetch_schema(
    mapping: &Mapping,
    salesforce: &SalesforceClient,
    monday: &MondayClient,
) -> Result<Schema, EngineError> {
    let mut describes = Vec::new();
    let mut objects: Vec<&str> = mapping.boards.iter().map(|b| b.object.as_str()).collect();
    objects.sort_unstable();
    objects.dedup();
    for o in objects {
        let d = salesforce.describe(o).await?;
        let typed = serde_json::from_value(d.raw.clone())
            .map_err(|e| EngineError::Mapping(format!("describe of {o}: {e}")))?;
        describes.push(typed);
    }
    let ids: Vec<String> = mapping.boards.iter().map(|b| b.board_id.clone()).collect();
    let mut boards = Vec::new();
    for b in monday.boards(&ids).await? {
        boards.push(crmsync_core::Board {
            id: b.id.clone(),
            name: b.name.clone(),
            columns: b
                .columns
                .iter()
                .map(|c| crmsync_core::BoardColumn {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    column_type: c.column_type.clone(),
                    settings_str: Some(c.settings_str.clone()),
                })
                .collect(),
        });
    }
    Ok(Schema { describes, boards })
}

/// Reads, parses and validates the mapping at `path` against the live Salesforce describes and
/// Monday boards; returns the enriched mapping the engine needs (labels, field lengths).
pub async fn load_mapping(
    path: &Path,
    salesforce: &SalesforceClient,
    monday: &MondayClient,
) -> Result<Mapping, EngineError> {
    let m = read_mapping(path)?;
    validate_live(&m, salesforce, monday).await
}

/// Validates a parsed mapping against the live APIs for real-time sync (see [`load_mapping`] and
/// [`crmsync_core::validate_realtime`]: every board's creates must be idempotent).
pub async fn validate_live(
    mapping: &Mapping,
    salesforce: &SalesforceClient,
    monday: &MondayClient,
) -> Result<Mapping, EngineError> {
    let schema = fetch_schema(mapping, salesforce, monday).await?;
    validate_realtime(mapping, &schema).map_err(|e| EngineError::Mapping(e.to_string()))
}

/// The webhook subscriptions every mapped board needs.
pub fn required_webhook_events() -> Vec<WebhookEventType> {
    vec![
        WebhookEventType::CreateItem,
        WebhookEventType::ChangeColumnValue,
        WebhookEventType::ChangeName,
        WebhookEventType::ItemDeleted,
        WebhookEventType::ItemArchived,
    ]
}
