//! Monday.com GraphQL client, webhook payload types and webhook authentication.
//!
//! * [`MondayClient`] — typed GraphQL operations (boards and columns with parsed
//!   `settings_str`, items by id, the `items_page` stream, item mutations, webhooks, batched
//!   aliased mutations) with complexity-budget pacing and bounded retries.
//! * [`MondayError`] / [`ErrorKind`] — every Monday error shape, classified for the sync engine.
//! * [`webhook`] — delivery parsing (challenge, typed events, unknown types kept raw) and
//!   authentication (HS256 JWT with `exp`/`aud`, or a shared URL token).

mod client;
mod error;
mod pacing;
mod types;
pub mod webhook;

pub use client::{
    ItemsPage, MondayClient, MondayConfig, Mutation, DEFAULT_API_URL, DEFAULT_API_VERSION,
    MAX_ITEM_IDS_PER_QUERY, MAX_PAGE_SIZE,
};
pub use error::{parse_body as parse_error_body, ErrorKind, GraphQlError, MondayError, ParsedBody};
pub use pacing::{
    BudgetSnapshot, Complexity, ComplexityBudget, ManualTimer, RetryPolicy, Timer, TokioTimer,
};
pub use types::{
    Board, BoardRef, ChangeColumnValues, Column, ColumnSettings, ColumnValue, CreateItem,
    DropdownLabel, Group, GroupRef, Item, ItemRef, ItemsPageOptions, StatusLabel, Webhook,
    WebhookEventType,
};
