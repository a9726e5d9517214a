//! Monday.com GraphQL client, webhook payload types and webhook authentication.
//!
//! * [`MondayClient`] — typed GraphQL operations (boards and columns with parsed
//!   `settings_str`, items by id, the `items_page` stream, item mutations, webhooks, batched
//!   aliased mutations) with complexity-budget pacing and bounded retries.
//! * [`MondayError`] / [`ErrorKind`] — every Monday error shape, classified for the sync engine.
//! * [`webhook`] — delivery parsing (challenge, typed events, unknown types kept raw) and
//!   authentication (HS256 JWT with `exp`/`aud`, or a shared URL token).
//!
//! ```no_run
//! use crmsync_monday::{CreateItem, ItemsPageOptions, MondayClient, MondayConfig};
//! use futures::StreamExt;
//! use secrecy::SecretString;
//!
//! # async fn demo() -> Result<(), crmsync_monday::MondayError> {
//! let client = MondayClient::new(
//!     MondayConfig::new(SecretString::from("token".to_owned()))
//!         .with_api_url("http://127.0.0.1:4000/v2"),
//! )?;
//! let board = client.board("9378000505").await?;
//! let mut items = client.items_stream(&board.id, ItemsPageOptions::default());
//! while let Some(item) = items.next().await {
//!     let item = item?;
//!     println!("{} {}", item.id, item.name);
//! }
//! let created = client
//!     .create_item(&CreateItem {
//!         board_id: board.id.clone(),
//!         group_id: None,
//!         item_name: "Acme".into(),
//!         column_values: Some(serde_json::json!({"text_mkryhch5": "001XX0000001"})),
//!         create_labels_if_missing: false,
//!     })
//!     .await?;
//! println!("created {}", created.id);
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod pacing;
mod types;
pub mod webhook;

pub use client::{
    ItemsPage, MondayClient, MondayConfig, Mutation, DEFAULT_API_URL, DEFAULT_API_VERSION,
    DEFAULT_MAX_RESPONSE_BYTES, MAX_ITEM_IDS_PER_QUERY, MAX_PAGE_SIZE,
};
pub use error::{parse_body as parse_error_body, ErrorKind, GraphQlError, MondayError, ParsedBody};
pub use pacing::{
    BudgetSnapshot, Complexity, ComplexityBudget, ManualTimer, MutationLimit, MutationPacer,
    RetryPolicy, Timer, TokioTimer, MAX_RESET_WAIT, MONDAY_MUTATIONS_PER_MINUTE,
};
pub use types::{
    ActivityLog, Board, BoardRef, ChangeColumnValues, Column, ColumnSettings, ColumnValue,
    CreateItem, DropdownLabel, Group, GroupRef, Item, ItemRef, ItemsPageOptions, StatusLabel,
    Webhook, WebhookEventType,
};
