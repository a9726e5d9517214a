//! The two Monday mutations the engine and setup send, as plain GraphQL documents.
//!
//! `crmsync-monday`'s typed `change_multiple_column_values` / `create_webhook` select
//! `complexity { … }` on the mutation root, as Monday's schema allows; the in-repo mock Monday does
//! not (yet) expose `complexity` on `Mutation` and rejects those documents. These helpers send the
//! same mutations without the `complexity` selection (through [`MondayClient::graphql`], so
//! authentication, retries and rate-limit handling are the client's).

use crmsync_monday::{MondayClient, MondayError, Webhook, WebhookEventType};
use serde_json::{json, Value};

/// `change_multiple_column_values(board_id, item_id, column_values)` (idempotent).
pub async fn change_column_values(
    monday: &MondayClient,
    board_id: &str,
    item_id: &str,
    column_values: &Value,
) -> Result<(), MondayError> {
    let values = column_values.to_string();
    monday
        .graphql(
            "change_multiple_column_values",
            "mutation ChangeValues($board: ID!, $item: ID!, $values: JSON!) { change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values) { id } }",
            json!({ "board": board_id, "item": item_id, "values": values }),
            true,
        )
        .await
        .map(|_| ())
}

/// `create_webhook(board_id, url, event)` (Monday sends the challenge to `url` first).
pub async fn create_webhook(
    monday: &MondayClient,
    board_id: &str,
    url: &str,
    event: &WebhookEventType,
) -> Result<Webhook, MondayError> {
    let data = monday
        .graphql(
            "create_webhook",
            "mutation CreateWebhook($board: ID!, $url: String!, $event: WebhookEventType!) { create_webhook(board_id: $board, url: $url, event: $event) { id board_id } }",
            json!({ "board": board_id, "url": url, "event": event.as_str() }),
            false,
        )
        .await?;
    let v = &data["create_webhook"];
    let id_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    Ok(Webhook {
        id: id_of(&v["id"]),
        board_id: id_of(&v["board_id"]),
        event: Some(event.as_str().to_string()),
        config: None,
    })
}
