//! Idempotent webhook installation, shared by `crmsync webhooks install`, the demo and the tests.

use anyhow::{Context, Result};
use crmsync_core::Mapping;
use crmsync_monday::{MondayClient, Webhook, WebhookEventType};
use serde::Serialize;

/// What `install` did for one (board, event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallRow {
    /// Board name from the mapping (or its id).
    pub board: String,
    /// Monday board id.
    pub board_id: String,
    /// Monday webhook event (`create_item`, …).
    pub event: String,
    /// Webhook id.
    pub webhook_id: String,
    /// `created` or `kept`.
    pub action: &'static str,
}

/// The receiver URL for a public base URL: `BASE/webhooks/monday`, plus `?token=TOKEN` when a
/// shared webhook token is used. The result contains the token: never print it (see [`shown_url`]).
pub fn receiver_url(base: &url::Url, token: Option<&str>) -> url::Url {
    let mut u = base.clone();
    let path = format!("{}/webhooks/monday", u.path().trim_end_matches('/'));
    u.set_path(&path);
    u.set_query(None);
    if let Some(t) = token {
        u.query_pairs_mut().append_pair("token", t);
    }
    u
}

/// The receiver URL with any `token` query value masked, for display.
pub fn shown_url(url: &url::Url) -> String {
    crmsync_redact::mask_url(url.as_str())
}

/// Which required events a board is missing, given its existing webhooks.
pub fn missing_events(
    existing: &[Webhook],
    required: &[WebhookEventType],
) -> Vec<WebhookEventType> {
    required
        .iter()
        .filter(|ev| {
            !existing
                .iter()
                .any(|w| w.event.as_deref() == Some(ev.as_str()))
        })
        .cloned()
        .collect()
}

/// Registers every webhook of [`crmsync_sync::required_webhook_events`] on every mapped board,
/// pointing at `url`; subscriptions of an event that already exist on a board are kept (Monday does
/// not list a webhook's URL, so an existing subscription to the same event counts as ours).
/// Monday sends a challenge to `url` before creating each webhook, so the receiver must be up.
pub async fn install(
    monday: &MondayClient,
    mapping: &Mapping,
    url: &url::Url,
) -> Result<Vec<InstallRow>> {
    let required = crmsync_sync::required_webhook_events();
    let mut rows = Vec::new();
    for b in &mapping.boards {
        let board = mapping.board_label(&b.board_id);
        let existing = monday
            .webhooks(&b.board_id)
            .await
            .with_context(|| format!("listing the webhooks of board {board} ({})", b.board_id))?;
        for ev in &required {
            if let Some(w) = existing
                .iter()
                .find(|w| w.event.as_deref() == Some(ev.as_str()))
            {
                rows.push(InstallRow {
                    board: board.clone(),
                    board_id: b.board_id.clone(),
                    event: ev.as_str().to_owned(),
                    webhook_id: w.id.clone(),
                    action: "kept",
                });
            }
        }
        for ev in missing_events(&existing, &required) {
            let hook = monday
                .create_webhook(&b.board_id, url.as_str(), &ev, None)
                .await
                .with_context(|| {
                    format!(
                        "creating the {} webhook on board {board} ({}) pointing at {} \
                         (is the receiver running and reachable from Monday?)",
                        ev.as_str(),
                        b.board_id,
                        shown_url(url)
                    )
                })?;
            rows.push(InstallRow {
                board: board.clone(),
                board_id: b.board_id.clone(),
                event: ev.as_str().to_owned(),
                webhook_id: hook.id,
                action: "created",
            });
        }
    }
    Ok(rows)
}

/// One listed webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedWebhook {
    /// Board name from the mapping (or its id).
    pub board: String,
    /// Monday board id.
    pub board_id: String,
    /// Subscribed event.
    pub event: String,
    /// Webhook id.
    pub webhook_id: String,
}

/// The webhooks of every mapped board.
pub async fn list(monday: &MondayClient, mapping: &Mapping) -> Result<Vec<ListedWebhook>> {
    let mut out = Vec::new();
    for b in &mapping.boards {
        let board = mapping.board_label(&b.board_id);
        let hooks = monday
            .webhooks(&b.board_id)
            .await
            .with_context(|| format!("listing the webhooks of board {board} ({})", b.board_id))?;
        for w in hooks {
            out.push(ListedWebhook {
                board: board.clone(),
                board_id: b.board_id.clone(),
                event: w.event.unwrap_or_default(),
                webhook_id: w.id,
            });
        }
    }
    Ok(out)
}

/// Deletes one webhook.
pub async fn delete(monday: &MondayClient, webhook_id: &str) -> Result<()> {
    monday
        .delete_webhook(webhook_id)
        .await
        .with_context(|| format!("deleting webhook {webhook_id}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(id: &str, event: &str) -> Webhook {
        Webhook {
            id: id.into(),
            board_id: "1".into(),
            event: Some(event.into()),
            config: None,
        }
    }

    #[test]
    fn receiver_url_appends_path_and_token() {
        let base = url::Url::parse("https://sync.example.org/base/").unwrap();
        assert_eq!(
            receiver_url(&base, None).as_str(),
            "https://sync.example.org/base/webhooks/monday"
        );
        let u = receiver_url(&base, Some("s3cr&t"));
        assert_eq!(
            u.as_str(),
            "https://sync.example.org/base/webhooks/monday?token=s3cr%26t"
        );
        assert_eq!(
            shown_url(&u),
            "https://sync.example.org/base/webhooks/monday?token=***"
        );
        assert!(!shown_url(&u).contains("s3cr"));
    }

    #[test]
    fn only_missing_events_are_created() {
        let required = crmsync_sync::required_webhook_events();
        let all: Vec<Webhook> = required.iter().map(|e| hook("9", e.as_str())).collect();
        assert!(missing_events(&all, &required).is_empty());
        let some = vec![
            hook("1", "create_item"),
            hook("2", "item_moved_to_any_group"),
        ];
        let missing: Vec<String> = missing_events(&some, &required)
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect();
        assert_eq!(missing.len(), required.len() - 1);
        assert!(!missing.contains(&"create_item".to_owned()));
    }
}
