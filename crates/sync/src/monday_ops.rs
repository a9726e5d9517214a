//! **Deprecated** thin wrappers over `crmsync-monday`'s typed mutations, kept only so existing
//! callers keep compiling: call [`MondayClient::change_multiple_column_values`] and
//! [`MondayClient::create_webhook`] directly instead. (They once sent the mutations as raw GraphQL
//! without the `complexity` selection, which the mock Monday now serves.) This module will be
//! removed once no caller uses it.

use crmsync_monday::{ChangeColumnValues, MondayClient, MondayError, Webhook, WebhookEventType};
use serde_json::Value;

/// Deprecated: use [`MondayClient::change_multiple_column_values`]. Sets `column_values` on
/// the item (idempotent; no new labels are created).
pub async fn change_column_values(
    monday: &MondayClient,
    board_id: &str,
    item_id: &str,
    column_values: &Value,
) -> Result<(), MondayError> {
    monday
        .change_multiple_column_values(&ChangeColumnValues {
            board_id: board_id.to_string(),
            item_id: item_id.to_string(),
            column_values: column_values.clone(),
            create_labels_if_missing: false,
        })
        .await
        .map(|_| ())
}

/// Deprecated: use [`MondayClient::create_webhook`] (with `config: None`).
pub async fn create_webhook(
    monday: &MondayClient,
    board_id: &str,
    url: &str,
    event: &WebhookEventType,
) -> Result<Webhook, MondayError> {
    monday.create_webhook(board_id, url, event, None).await
}
