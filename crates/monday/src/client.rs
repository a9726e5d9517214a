//! The Monday GraphQL client.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{parse_body, ErrorKind, GraphQlError, MondayError};
use crate::pacing::{
    BudgetSnapshot, Complexity, ComplexityBudget, MutationLimit, MutationPacer, RetryPolicy, Timer,
    TokioTimer,
};
use crate::types::{
    ActivityLog, Board, ChangeColumnValues, CreateItem, Item, ItemRef, ItemsPageOptions, Webhook,
    WebhookEventType,
};

/// Default API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.monday.com/v2";
/// Default `API-Version` header.
pub const DEFAULT_API_VERSION: &str = "2026-10";
/// Monday's maximum page size for `items_page` / `next_items_page`.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Monday's maximum number of ids in one `items(ids:)` query.
pub const MAX_ITEM_IDS_PER_QUERY: usize = 100;
/// Default cap on the size of one response body (64 MiB); see [`MondayConfig::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

const COMPLEXITY_SELECTION: &str = "complexity { before after query reset_in_x_seconds }";
const ITEM_FIELDS: &str = "id name group { id title } board { id } column_values { id type text value ... on BoardRelationValue { linked_item_ids } }";
/// [`ITEM_FIELDS`] with `column_values(ids: $cols)`.
const ITEM_FIELDS_OF_COLUMNS: &str = "id name group { id title } board { id } column_values(ids: $cols) { id type text value ... on BoardRelationValue { linked_item_ids } }";

fn item_fields(only_columns: bool) -> &'static str {
    if only_columns {
        ITEM_FIELDS_OF_COLUMNS
    } else {
        ITEM_FIELDS
    }
}

/// Configuration of a [`MondayClient`].
#[derive(Clone)]
pub struct MondayConfig {
    /// GraphQL endpoint (default [`DEFAULT_API_URL`]).
    pub api_url: String,
    /// API token, sent raw in `Authorization` (no `Bearer` prefix, as Monday expects).
    pub token: SecretString,
    /// `API-Version` header (default [`DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// Retry and waiting bounds.
    pub retry: RetryPolicy,
    /// Largest response body the client reads (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger
    /// one is refused with [`MondayError::Decode`] instead of being buffered in memory.
    pub max_response_bytes: usize,
    /// Mutations paced under this limit (default [`MutationLimit::monday`], 2,000 a minute);
    /// `None` sends them unpaced (a refusal is still waited out and retried).
    pub mutation_limit: Option<MutationLimit>,
}

impl fmt::Debug for MondayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MondayConfig")
            .field("api_url", &self.api_url)
            .field("token", &"[redacted]")
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("mutation_limit", &self.mutation_limit)
            .finish()
    }
}

impl MondayConfig {
    /// Defaults with the given token.
    pub fn new(token: SecretString) -> Self {
        MondayConfig {
            api_url: DEFAULT_API_URL.to_owned(),
            token,
            api_version: DEFAULT_API_VERSION.to_owned(),
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            mutation_limit: Some(MutationLimit::monday()),
        }
    }

    /// Sets the endpoint (e.g. a mock's `http://127.0.0.1:PORT/v2`).
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Sets the `API-Version` header.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Sets the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the mutation limit the client paces itself under (`None`: unpaced).
    pub fn with_mutation_limit(mut self, limit: Option<MutationLimit>) -> Self {
        self.mutation_limit = limit;
        self
    }

    /// Sets the largest response body the client reads.
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }
}

/// Monday GraphQL API client. Cheap to clone; clones share the HTTP connection pool and the
/// complexity-budget tracker.
///
/// Every call:
/// * sends `Authorization: <token>` and `API-Version`, the query as a constant document and all
///   caller data as GraphQL variables (never interpolated into the document);
/// * selects `complexity { … }`, waits before sending when the known remaining budget is below
///   the operation's last observed cost, and waits and retries on
///   `COMPLEXITY_BUDGET_EXHAUSTED` (HTTP 200 or 429, any known shape) or other rate limits,
///   honouring `retry_in_seconds` / `Retry-After`, within [`RetryPolicy::max_total_wait`];
/// * retries transient failures (network, 5xx) with jittered exponential backoff up to
///   [`RetryPolicy::max_attempts`] — but for non-idempotent mutations (`create_item`,
///   `create_webhook`, batches containing creates) only when the request certainly did not
///   reach Monday (connection failures, rate limits). A create whose response was lost is
///   returned as a `Transient` error; the caller must reconcile (e.g. look the item up by its
///   Salesforce Id column) before creating again.
#[derive(Clone)]
pub struct MondayClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    api_version: String,
    retry: RetryPolicy,
    timer: Arc<dyn Timer>,
    budget: ComplexityBudget,
    pacer: Option<MutationPacer>,
    max_response_bytes: usize,
    /// Sum of `complexity.query` of every answered request (see [`MondayClient::complexity_spent`]).
    spent: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for MondayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MondayClient")
            .field("url", &self.inner.url.as_str())
            .field("api_version", &self.inner.api_version)
            .finish_non_exhaustive()
    }
}

/// One page of items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemsPage {
    /// Cursor of the next page; `None` on the last page. Valid for 60 minutes.
    pub cursor: Option<String>,
    /// The items of this page.
    pub items: Vec<Item>,
}

/// One mutation of a batch (see [`MondayClient::batch`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// `create_item`.
    CreateItem(CreateItem),
    /// `change_multiple_column_values`.
    ChangeColumnValues(ChangeColumnValues),
    /// `delete_item`.
    DeleteItem {
        /// The item to delete.
        item_id: String,
    },
}

impl Mutation {
    fn name(&self) -> &'static str {
        match self {
            Mutation::CreateItem(_) => "create_item",
            Mutation::ChangeColumnValues(_) => "change_multiple_column_values",
            Mutation::DeleteItem { .. } => "delete_item",
        }
    }

    fn idempotent(&self) -> bool {
        !matches!(self, Mutation::CreateItem(_))
    }
}

struct Request<'a> {
    operation: &'a str,
    query: &'a str,
    variables: Value,
    /// Units for cost estimation (number of mutations in a batch, else 1).
    units: u32,
    /// Mutations the request carries (paced under the mutation limit).
    mutations: u32,
    /// Whether re-sending after an ambiguous failure (5xx, timeout) is safe.
    idempotent: bool,
    /// Whether errors whose path starts with a field name may be returned with the data
    /// (batches map them back to aliases).
    allow_field_errors: bool,
}

struct Response {
    data: Value,
    errors: Vec<GraphQlError>,
    /// `Retry-After` of the HTTP response, when present.
    retry_after: Option<Duration>,
}

impl MondayClient {
    /// Builds a client with the real timer.
    pub fn new(config: MondayConfig) -> Result<Self, MondayError> {
        Self::with_timer(config, Arc::new(TokioTimer))
    }

    /// Builds a client with an injected timer (tests use [`crate::ManualTimer`]).
    pub fn with_timer(config: MondayConfig, timer: Arc<dyn Timer>) -> Result<Self, MondayError> {
        let url = reqwest::Url::parse(&config.api_url).map_err(|e| {
            MondayError::Config(format!("invalid API URL {:?}: {e}", config.api_url))
        })?;
        let mut auth = HeaderValue::from_str(config.token.expose_secret()).map_err(|_| {
            MondayError::Config("the API token contains characters not allowed in a header".into())
        })?;
        auth.set_sensitive(true);
        let version = HeaderValue::from_str(&config.api_version).map_err(|_| {
            MondayError::Config(format!("invalid API version {:?}", config.api_version))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert("API-Version", version);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .timeout(config.retry.request_timeout)
            .user_agent(concat!("crmsync-monday/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MondayError::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(MondayClient {
            inner: Arc::new(Inner {
                http,
                url,
                headers,
                api_version: config.api_version,
                retry: config.retry,
                timer,
                budget: ComplexityBudget::default(),
                pacer: config.mutation_limit.map(MutationPacer::new),
                max_response_bytes: config.max_response_bytes,
                spent: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// What the client currently knows about the complexity budget.
    pub fn budget(&self) -> BudgetSnapshot {
        self.inner.budget.snapshot(self.inner.timer.now())
    }

    /// The complexity points this client (and its clones) spent so far: the sum of Monday's
    /// `complexity.query` over every answered request. The difference of two readings is what the
    /// calls in between cost.
    pub fn complexity_spent(&self) -> u64 {
        self.inner.spent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The id of the user the API token belongs to (`me { id }`): changes it authored are
    /// crmsync's own writes.
    pub async fn me_id(&self) -> Result<String, MondayError> {
        const OP: &str = "me";
        let query = format!("query Me {{ {COMPLEXITY_SELECTION} me {{ id }} }}");
        let data = self.query(OP, &query, json!({}), 1).await?;
        #[derive(Deserialize)]
        struct Me {
            id: String,
        }
        let me: Option<Me> = field(OP, &data, "me")?;
        me.map(|m| m.id).ok_or_else(|| MondayError::NotFound {
            operation: OP.into(),
            what: "the token's user (me)".into(),
        })
    }

    /// One page of a board's activity log (`boards(ids:) { activity_logs(from:, to:, limit:,
    /// page:) }`), newest first. `from` / `to` are ISO 8601 times (inclusive). Monday serves at
    /// most 10,000 entries of a window: page until a page is shorter than `limit`.
    pub async fn activity_logs(
        &self,
        board_id: &str,
        from: &str,
        to: &str,
        limit: u32,
        page: u32,
    ) -> Result<Vec<ActivityLog>, MondayError> {
        const OP: &str = "activity_logs";
        let query = format!(
            "query ActivityLogs($board: [ID!], $from: ISO8601DateTime, $to: ISO8601DateTime, $limit: Int, $page: Int) {{ {COMPLEXITY_SELECTION} boards(ids: $board) {{ activity_logs(from: $from, to: $to, limit: $limit, page: $page) {{ id event entity user_id created_at data }} }} }}"
        );
        let data = self
            .query(
                OP,
                &query,
                json!({ "board": [board_id], "from": from, "to": to, "limit": limit, "page": page.max(1) }),
                1,
            )
            .await?;
        #[derive(Deserialize)]
        struct B {
            activity_logs: Option<Vec<Option<ActivityLog>>>,
        }
        let boards: Option<Vec<Option<B>>> = field(OP, &data, "boards")?;
        let board = boards
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| MondayError::NotFound {
                operation: OP.into(),
                what: format!("board {board_id}"),
            })?;
        Ok(board
            .activity_logs
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect())
    }

    /// Runs an arbitrary GraphQL document with variables and returns `data`. The document should
    /// select `complexity { before after query reset_in_x_seconds }` for pacing to learn from it.
    /// Treated as non-idempotent (no re-send after an ambiguous failure) unless `idempotent`.
    pub async fn graphql(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
        idempotent: bool,
    ) -> Result<Value, MondayError> {
        let resp = self
            .run(&Request {
                operation,
                query,
                variables,
                units: 1,
                mutations: u32::from(query.trim_start().starts_with("mutation")),
                idempotent,
                allow_field_errors: false,
            })
            .await?;
        Ok(resp.data)
    }

    /// Boards with their columns (`id title type settings_str`, settings parsed) and groups.
    /// Boards that do not exist are absent from the result.
    pub async fn boards(&self, ids: &[String]) -> Result<Vec<Board>, MondayError> {
        const OP: &str = "boards";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = format!(
            "query Boards($ids: [ID!], $limit: Int) {{ {COMPLEXITY_SELECTION} boards(ids: $ids, limit: $limit) {{ id name columns {{ id title type settings_str }} groups {{ id title }} }} }}"
        );
        let data = self
            .query(
                OP,
                &query,
                json!({ "ids": ids, "limit": ids.len() }),
                ids.len() as u32,
            )
            .await?;
        let boards: Option<Vec<Option<Board>>> = field(OP, &data, "boards")?;
        Ok(boards.unwrap_or_default().into_iter().flatten().collect())
    }

    /// One board with columns and groups; [`MondayError::NotFound`] when it does not exist.
    pub async fn board(&self, id: &str) -> Result<Board, MondayError> {
        self.boards(&[id.to_owned()])
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| MondayError::NotFound {
                operation: "boards".into(),
                what: format!("board {id}"),
            })
    }

    /// Items by id, with column values (board_relation columns carry `linked_item_ids`).
    /// Queries in chunks of [`MAX_ITEM_IDS_PER_QUERY`]. Unknown ids are absent from the result.
    pub async fn items(&self, ids: &[String]) -> Result<Vec<Item>, MondayError> {
        const OP: &str = "items";
        let query = format!(
            "query Items($ids: [ID!], $limit: Int) {{ {COMPLEXITY_SELECTION} items(ids: $ids, limit: $limit) {{ {ITEM_FIELDS} }} }}"
        );
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ITEM_IDS_PER_QUERY) {
            let data = self
                .query(
                    OP,
                    &query,
                    json!({ "ids": chunk, "limit": chunk.len() }),
                    chunk.len() as u32,
                )
                .await?;
            let items: Option<Vec<Option<Item>>> = field(OP, &data, "items")?;
            out.extend(items.unwrap_or_default().into_iter().flatten());
        }
        Ok(out)
    }

    /// The first page of a board's items (`boards(ids:) { items_page(limit:) }`).
    pub async fn items_page(&self, board_id: &str, limit: u32) -> Result<ItemsPage, MondayError> {
        self.items_page_of(board_id, limit, None).await
    }

    /// The page after `cursor` (`next_items_page`).
    pub async fn next_items_page(
        &self,
        cursor: &str,
        limit: u32,
    ) -> Result<ItemsPage, MondayError> {
        self.next_items_page_of(cursor, limit, None).await
    }

    /// [`MondayClient::items_page`] reading only `columns` (None: all).
    async fn items_page_of(
        &self,
        board_id: &str,
        limit: u32,
        columns: Option<&[String]>,
    ) -> Result<ItemsPage, MondayError> {
        const OP: &str = "items_page";
        let limit = check_limit(OP, limit)?;
        let fields = item_fields(columns.is_some());
        let query = format!(
            "query ItemsPage($board: [ID!], $limit: Int!{}) {{ {COMPLEXITY_SELECTION} boards(ids: $board) {{ items_page(limit: $limit) {{ cursor items {{ {fields} }} }} }} }}",
            if columns.is_some() { ", $cols: [String!]" } else { "" }
        );
        let mut vars = json!({ "board": [board_id], "limit": limit });
        if let Some(c) = columns {
            vars["cols"] = json!(c);
        }
        let data = self.query(OP, &query, vars, 1).await?;
        #[derive(Deserialize)]
        struct B {
            items_page: ItemsPage,
        }
        let boards: Option<Vec<Option<B>>> = field(OP, &data, "boards")?;
        boards
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .next()
            .map(|b| b.items_page)
            .ok_or_else(|| MondayError::NotFound {
                operation: OP.into(),
                what: format!("board {board_id}"),
            })
    }

    /// [`MondayClient::next_items_page`] reading only `columns` (None: all).
    async fn next_items_page_of(
        &self,
        cursor: &str,
        limit: u32,
        columns: Option<&[String]>,
    ) -> Result<ItemsPage, MondayError> {
        const OP: &str = "next_items_page";
        let limit = check_limit(OP, limit)?;
        let fields = item_fields(columns.is_some());
        let query = format!(
            "query NextItemsPage($cursor: String!, $limit: Int!{}) {{ {COMPLEXITY_SELECTION} next_items_page(cursor: $cursor, limit: $limit) {{ cursor items {{ {fields} }} }} }}",
            if columns.is_some() { ", $cols: [String!]" } else { "" }
        );
        let mut vars = json!({ "cursor": cursor, "limit": limit });
        if let Some(c) = columns {
            vars["cols"] = json!(c);
        }
        let data = self.query(OP, &query, vars, 1).await?;
        field::<ItemsPage>(OP, &data, "next_items_page")
    }

    /// Items of a board whose column `column_id` has exactly one of `values`
    /// (`items_page_by_column_values`, following `next_items_page` until the end).
    ///
    /// This is how a caller reconciles a `create_item` whose response was lost: look the item up
    /// by the column holding its external (Salesforce) id before creating it again.
    pub async fn items_by_column_values(
        &self,
        board_id: &str,
        column_id: &str,
        values: &[String],
    ) -> Result<Vec<Item>, MondayError> {
        const OP: &str = "items_page_by_column_values";
        const LIMIT: u32 = 100;
        let query = format!(
            "query ItemsByColumnValues($board: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!) {{ {COMPLEXITY_SELECTION} items_page_by_column_values(board_id: $board, columns: $columns, limit: $limit) {{ cursor items {{ {ITEM_FIELDS} }} }} }}"
        );
        let vars = json!({
            "board": board_id,
            "columns": [{ "column_id": column_id, "column_values": values }],
            "limit": LIMIT,
        });
        let data = self.query(OP, &query, vars, 1).await?;
        let mut page: ItemsPage = field(OP, &data, "items_page_by_column_values")?;
        let mut out = std::mem::take(&mut page.items);
        while let Some(cursor) = page.cursor.take() {
            page = self.next_items_page(&cursor, LIMIT).await?;
            out.append(&mut page.items);
        }
        Ok(out)
    }

    /// All items of a board, page by page (`items_page`, then `next_items_page` until the cursor
    /// is null).
    ///
    /// **Expired cursors.** Monday keeps a cursor for 60 minutes. When a `next_items_page` call
    /// fails because the cursor expired, the stream restarts from the first page (at most
    /// `opts.max_restarts` times) and skips every item id it has already yielded, so a consumer
    /// never sees an item twice. Items created after the first pass may appear after a restart;
    /// items deleted meanwhile may have been yielded before the restart. The set of yielded ids is
    /// kept in memory (one id string per item) for the stream's lifetime. Other errors end the
    /// stream after being yielded once.
    pub fn items_stream(
        &self,
        board_id: &str,
        opts: ItemsPageOptions,
    ) -> BoxStream<'static, Result<Item, MondayError>> {
        let client = self.clone();
        let board = board_id.to_owned();
        Box::pin(async_stream::stream! {
            let mut seen: HashSet<String> = HashSet::new();
            let mut restarts = 0u32;
            'pass: loop {
                let mut cursor: Option<String> = None;
                loop {
                    let cols = opts.column_ids.as_deref();
                    let page = match &cursor {
                        None => client.items_page_of(&board, opts.limit, cols).await,
                        Some(c) => client.next_items_page_of(c, opts.limit, cols).await,
                    };
                    match page {
                        Ok(page) => {
                            for item in page.items {
                                if seen.insert(item.id.clone()) {
                                    yield Ok(item);
                                }
                            }
                            match page.cursor {
                                Some(next) => cursor = Some(next),
                                None => break 'pass,
                            }
                        }
                        Err(e) if cursor.is_some() && e.is_cursor_expired() && restarts < opts.max_restarts => {
                            restarts += 1;
                            tracing::warn!(board = %board, restarts, yielded = seen.len(),
                                "items_page cursor expired; restarting from the first page");
                            continue 'pass;
                        }
                        Err(e) => {
                            yield Err(e);
                            break 'pass;
                        }
                    }
                }
            }
        })
    }

    /// `create_item`. Not retried after an ambiguous failure (see the type docs).
    pub async fn create_item(&self, input: &CreateItem) -> Result<ItemRef, MondayError> {
        const OP: &str = "create_item";
        let query = format!(
            "mutation CreateItem($board: ID!, $group: String, $name: String!, $values: JSON, $labels: Boolean) {{ create_item(board_id: $board, group_id: $group, item_name: $name, column_values: $values, create_labels_if_missing: $labels) {{ id name }} {COMPLEXITY_SELECTION} }}"
        );
        let vars = json!({
            "board": input.board_id,
            "group": input.group_id,
            "name": input.item_name,
            "values": json_arg(OP, input.column_values.as_ref())?,
            "labels": input.create_labels_if_missing,
        });
        let data = self.mutate(OP, &query, vars, false).await?;
        non_null(OP, &data, "create_item")
    }

    /// `change_multiple_column_values` (idempotent: setting the same values twice is harmless).
    pub async fn change_multiple_column_values(
        &self,
        input: &ChangeColumnValues,
    ) -> Result<ItemRef, MondayError> {
        const OP: &str = "change_multiple_column_values";
        let query = format!(
            "mutation ChangeValues($board: ID!, $item: ID!, $values: JSON!, $labels: Boolean) {{ change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values, create_labels_if_missing: $labels) {{ id name }} {COMPLEXITY_SELECTION} }}"
        );
        let vars = json!({
            "board": input.board_id,
            "item": input.item_id,
            "values": json_arg(OP, Some(&input.column_values))?,
            "labels": input.create_labels_if_missing,
        });
        let data = self.mutate(OP, &query, vars, true).await?;
        non_null(OP, &data, "change_multiple_column_values")
    }

    /// `delete_item`. Returns the deleted item's id.
    pub async fn delete_item(&self, item_id: &str) -> Result<ItemRef, MondayError> {
        const OP: &str = "delete_item";
        let query = format!(
            "mutation DeleteItem($item: ID!) {{ delete_item(item_id: $item) {{ id }} {COMPLEXITY_SELECTION} }}"
        );
        let data = self
            .mutate(OP, &query, json!({ "item": item_id }), true)
            .await?;
        non_null(OP, &data, "delete_item")
    }

    /// `create_webhook`: Monday immediately POSTs `{"challenge": …}` to `url` and creates the
    /// webhook only if the endpoint echoes it. Not retried after an ambiguous failure.
    pub async fn create_webhook(
        &self,
        board_id: &str,
        url: &str,
        event: &WebhookEventType,
        config: Option<&Value>,
    ) -> Result<Webhook, MondayError> {
        const OP: &str = "create_webhook";
        let query = format!(
            "mutation CreateWebhook($board: ID!, $url: String!, $event: WebhookEventType!, $config: JSON) {{ create_webhook(board_id: $board, url: $url, event: $event, config: $config) {{ id board_id }} {COMPLEXITY_SELECTION} }}"
        );
        let vars = json!({
            "board": board_id,
            "url": url,
            "event": event.as_str(),
            "config": json_arg(OP, config)?,
        });
        let data = self.mutate(OP, &query, vars, false).await?;
        let mut hook: Webhook = non_null(OP, &data, "create_webhook")?;
        if hook.event.is_none() {
            hook.event = Some(event.as_str().to_owned());
        }
        Ok(hook)
    }

    /// `delete_webhook`.
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<Webhook, MondayError> {
        const OP: &str = "delete_webhook";
        let query = format!(
            "mutation DeleteWebhook($id: ID!) {{ delete_webhook(id: $id) {{ id board_id }} {COMPLEXITY_SELECTION} }}"
        );
        let data = self
            .mutate(OP, &query, json!({ "id": webhook_id }), true)
            .await?;
        non_null(OP, &data, "delete_webhook")
    }

    /// The webhooks of a board.
    pub async fn webhooks(&self, board_id: &str) -> Result<Vec<Webhook>, MondayError> {
        const OP: &str = "webhooks";
        let query = format!(
            "query Webhooks($board: ID!) {{ {COMPLEXITY_SELECTION} webhooks(board_id: $board) {{ id board_id event config }} }}"
        );
        let data = self
            .query(OP, &query, json!({ "board": board_id }), 1)
            .await?;
        let hooks: Option<Vec<Option<Webhook>>> = field(OP, &data, "webhooks")?;
        Ok(hooks.unwrap_or_default().into_iter().flatten().collect())
    }

    /// Runs several mutations in one request as aliases `m0`, `m1`, … (all arguments as
    /// variables `$b0`, `$n0`, …) and maps each alias's result or error back, in input order.
    ///
    /// The outer `Err` is a failure of the whole request (transport, HTTP, auth, rate limit after
    /// the bounded wait, or an error not attributable to one alias); the inner results are
    /// per mutation. A batch containing a `create_item` is not re-sent after an ambiguous
    /// failure. An empty batch makes no request.
    pub async fn batch(
        &self,
        mutations: &[Mutation],
    ) -> Result<Vec<Result<ItemRef, MondayError>>, MondayError> {
        const OP: &str = "batch";
        if mutations.is_empty() {
            return Ok(Vec::new());
        }
        let (query, variables) = build_batch(mutations)?;
        let resp = self
            .run(&Request {
                operation: OP,
                query: &query,
                variables,
                units: mutations.len() as u32,
                mutations: mutations.len() as u32,
                idempotent: mutations.iter().all(Mutation::idempotent),
                allow_field_errors: true,
            })
            .await?;
        let mut out = Vec::with_capacity(mutations.len());
        for (i, m) in mutations.iter().enumerate() {
            let alias = format!("m{i}");
            let operation = format!("batch[{alias}] {}", m.name());
            let errors: Vec<GraphQlError> = resp
                .errors
                .iter()
                .filter(|e| e.root_field() == Some(alias.as_str()))
                .cloned()
                .collect();
            if !errors.is_empty() {
                out.push(Err(MondayError::GraphQl {
                    operation,
                    http_status: 200,
                    errors,
                    partial_data: None,
                    retry_after: None,
                }));
                continue;
            }
            out.push(non_null(&operation, &resp.data, &alias));
        }
        Ok(out)
    }

    async fn query(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
        units: u32,
    ) -> Result<Value, MondayError> {
        Ok(self
            .run(&Request {
                operation,
                query,
                variables,
                units,
                mutations: 0,
                idempotent: true,
                allow_field_errors: false,
            })
            .await?
            .data)
    }

    async fn mutate(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
        idempotent: bool,
    ) -> Result<Value, MondayError> {
        Ok(self
            .run(&Request {
                operation,
                query,
                variables,
                units: 1,
                mutations: 1,
                idempotent,
                allow_field_errors: false,
            })
            .await?
            .data)
    }

    /// Sends a request with pacing and retries (see the type docs).
    async fn run(&self, req: &Request<'_>) -> Result<Response, MondayError> {
        let inner = &self.inner;
        let policy = &inner.retry;
        let mut waited = Duration::ZERO;
        let mut transient_attempts = 0u32;
        let mut concurrency_waits = 0u32;
        loop {
            // Proactive pacing: wait for the reset when the budget is known to be too small.
            if let Some(wait) =
                inner
                    .budget
                    .wait_before(inner.timer.now(), req.operation, req.units)
            {
                if waited.saturating_add(wait) <= policy.max_total_wait {
                    tracing::debug!(
                        operation = req.operation,
                        ?wait,
                        "waiting for the complexity budget to reset"
                    );
                    inner.timer.sleep(wait).await;
                    waited = waited.saturating_add(wait);
                    inner.budget.after_reset_wait();
                }
            }
            // Mutation pacing: wait until the batch fits Monday's mutations per minute.
            if let (Some(pacer), true) = (&inner.pacer, req.mutations > 0) {
                while let Some(wait) = pacer.reserve(inner.timer.now(), req.mutations) {
                    tracing::debug!(
                        operation = req.operation,
                        ?wait,
                        mutations = req.mutations,
                        "waiting for room under the mutation limit"
                    );
                    inner.timer.sleep(wait).await;
                }
            }
            let err = match self.send_once(req).await {
                Ok(resp) => {
                    if let Some(c) = resp
                        .data
                        .get("complexity")
                        .and_then(|c| Complexity::deserialize(c).ok())
                    {
                        inner
                            .budget
                            .observe(inner.timer.now(), req.operation, req.units, &c);
                        if let Some(cost) = c.query {
                            inner.spent.fetch_add(
                                cost.max(0).unsigned_abs(),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                    }
                    if resp.errors.is_empty() {
                        return Ok(resp);
                    }
                    let attributable = resp.data.is_object()
                        && resp.errors.iter().all(|e| {
                            e.root_field().is_some()
                                && !matches!(
                                    e.kind(),
                                    ErrorKind::RateLimited { .. } | ErrorKind::Auth
                                )
                        });
                    if req.allow_field_errors && attributable {
                        return Ok(resp);
                    }
                    MondayError::GraphQl {
                        operation: req.operation.to_owned(),
                        http_status: 200,
                        errors: resp.errors,
                        partial_data: Some(resp.data).filter(Value::is_object).map(Box::new),
                        retry_after: resp.retry_after,
                    }
                }
                Err(e) => e,
            };
            match err.kind() {
                ErrorKind::RateLimited { retry_after } => {
                    let now = inner.timer.now();
                    let wait = match retry_after {
                        Some(d) => d.max(Duration::from_secs(1)),
                        None if err.is_complexity_exhausted() => inner
                            .budget
                            .snapshot(now)
                            .resets_in
                            .unwrap_or(policy.default_rate_limit_wait)
                            .max(Duration::from_secs(1)),
                        // Too many concurrent requests: a short, growing backoff is enough.
                        None if err.is_concurrency_limited() => {
                            concurrency_waits += 1;
                            policy.backoff(concurrency_waits)
                        }
                        None => policy.default_rate_limit_wait,
                    };
                    let wait = if err.is_complexity_exhausted() {
                        inner.budget.exhausted(now, wait)
                    } else {
                        wait
                    };
                    if waited.saturating_add(wait) > policy.max_total_wait {
                        return Err(MondayError::RateLimitWaitExceeded {
                            operation: req.operation.to_owned(),
                            waited,
                            retry_after: Some(wait),
                            last: Box::new(err),
                        });
                    }
                    tracing::info!(operation = req.operation, ?wait, code = ?err.code(), "rate limited by Monday; waiting before retrying");
                    inner.timer.sleep(wait).await;
                    waited = waited.saturating_add(wait);
                    if err.is_complexity_exhausted() {
                        inner.budget.after_reset_wait();
                    }
                }
                ErrorKind::Transient => {
                    transient_attempts += 1;
                    let not_sent = matches!(err, MondayError::Transport { not_sent: true, .. });
                    if !req.idempotent && !not_sent {
                        return Err(err);
                    }
                    if transient_attempts >= policy.max_attempts {
                        return Err(err);
                    }
                    let wait = policy.backoff(transient_attempts);
                    if waited.saturating_add(wait) > policy.max_total_wait {
                        return Err(err);
                    }
                    tracing::info!(operation = req.operation, attempt = transient_attempts, ?wait, error = %err, "transient Monday error; retrying");
                    inner.timer.sleep(wait).await;
                    waited = waited.saturating_add(wait);
                }
                ErrorKind::Auth | ErrorKind::Permanent => return Err(err),
            }
        }
    }

    async fn send_once(&self, req: &Request<'_>) -> Result<Response, MondayError> {
        let inner = &self.inner;
        let body = json!({ "query": req.query, "variables": req.variables });
        let resp = inner
            .http
            .post(inner.url.clone())
            .headers(inner.headers.clone())
            .json(&body)
            .send()
            .await
            .map_err(|source| MondayError::Transport {
                operation: req.operation.to_owned(),
                not_sent: source.is_connect(),
                source,
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = self.read_body(req.operation, resp).await?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !(200..300).contains(&status) {
            let errors = json
                .as_ref()
                .map(|j| parse_body(j).errors)
                .unwrap_or_default();
            let body_excerpt = if json.is_none() {
                Some(excerpt(&bytes))
            } else {
                None
            };
            return Err(MondayError::Http {
                operation: req.operation.to_owned(),
                status,
                errors,
                retry_after,
                body_excerpt,
            });
        }
        let Some(json) = json else {
            return Err(MondayError::Decode {
                operation: req.operation.to_owned(),
                message: format!("HTTP {status} body is not JSON: {}", excerpt(&bytes)),
            });
        };
        let parsed = parse_body(&json);
        Ok(Response {
            data: parsed.data.unwrap_or(Value::Null),
            errors: parsed.errors,
            retry_after,
        })
    }
}

impl MondayClient {
    /// Reads a response body chunk by chunk, refusing one larger than `max_response_bytes` (by its
    /// `Content-Length` up front, or as soon as the streamed bytes pass the cap).
    async fn read_body(
        &self,
        operation: &str,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, MondayError> {
        let max = self.inner.max_response_bytes;
        let too_large = |size: String| MondayError::Decode {
            operation: operation.to_owned(),
            message: format!("response body of {size} bytes exceeds the limit of {max} bytes"),
        };
        if let Some(len) = resp.content_length() {
            if usize::try_from(len).map_or(true, |len| len > max) {
                return Err(too_large(len.to_string()));
            }
        }
        let mut bytes = Vec::new();
        loop {
            let chunk = resp
                .chunk()
                .await
                .map_err(|source| MondayError::Transport {
                    operation: operation.to_owned(),
                    not_sent: false,
                    source,
                })?;
            let Some(chunk) = chunk else {
                return Ok(bytes);
            };
            if chunk.len() > max.saturating_sub(bytes.len()) {
                return Err(too_large(format!("more than {}", bytes.len())));
            }
            bytes.extend_from_slice(&chunk);
        }
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
    s.into_owned()
}

fn check_limit(operation: &str, limit: u32) -> Result<u32, MondayError> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(MondayError::InvalidInput {
            operation: operation.to_owned(),
            message: format!("page size {limit} is outside 1..={MAX_PAGE_SIZE}"),
        });
    }
    Ok(limit)
}

/// Monday's `JSON` scalar takes a JSON-encoded string.
fn json_arg(operation: &str, value: Option<&Value>) -> Result<Value, MondayError> {
    match value {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(v @ Value::Object(_)) => Ok(Value::String(v.to_string())),
        Some(Value::String(s)) => {
            // Already encoded: accept only if it is a JSON object.
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(_)) => Ok(Value::String(s.clone())),
                _ => Err(MondayError::InvalidInput {
                    operation: operation.to_owned(),
                    message: "column values must be a JSON object".into(),
                }),
            }
        }
        Some(_) => Err(MondayError::InvalidInput {
            operation: operation.to_owned(),
            message: "column values must be a JSON object".into(),
        }),
    }
}

fn field<T: DeserializeOwned>(operation: &str, data: &Value, name: &str) -> Result<T, MondayError> {
    let v = data.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| MondayError::Decode {
        operation: operation.to_owned(),
        message: format!("field `{name}`: {e}"),
    })
}

fn non_null<T: DeserializeOwned>(
    operation: &str,
    data: &Value,
    name: &str,
) -> Result<T, MondayError> {
    match data.get(name) {
        None | Some(Value::Null) => Err(MondayError::Decode {
            operation: operation.to_owned(),
            message: format!("field `{name}` is null and no error was reported for it"),
        }),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| MondayError::Decode {
            operation: operation.to_owned(),
            message: format!("field `{name}`: {e}"),
        }),
    }
}

/// Builds the aliased batch document and its variables. Aliases and variable names are
/// generated (`m{i}`, `$b{i}` …); caller data only ever travels in `variables`.
fn build_batch(mutations: &[Mutation]) -> Result<(String, Value), MondayError> {
    let mut decls: Vec<String> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut vars = Map::new();
    for (i, m) in mutations.iter().enumerate() {
        match m {
            Mutation::CreateItem(c) => {
                decls.push(format!(
                    "$b{i}: ID!, $g{i}: String, $n{i}: String!, $v{i}: JSON, $l{i}: Boolean"
                ));
                fields.push(format!(
                    "m{i}: create_item(board_id: $b{i}, group_id: $g{i}, item_name: $n{i}, column_values: $v{i}, create_labels_if_missing: $l{i}) {{ id name }}"
                ));
                vars.insert(format!("b{i}"), json!(c.board_id));
                vars.insert(format!("g{i}"), json!(c.group_id));
                vars.insert(format!("n{i}"), json!(c.item_name));
                vars.insert(
                    format!("v{i}"),
                    json_arg("batch create_item", c.column_values.as_ref())?,
                );
                vars.insert(format!("l{i}"), json!(c.create_labels_if_missing));
            }
            Mutation::ChangeColumnValues(c) => {
                decls.push(format!(
                    "$b{i}: ID!, $i{i}: ID!, $v{i}: JSON!, $l{i}: Boolean"
                ));
                fields.push(format!(
                    "m{i}: change_multiple_column_values(board_id: $b{i}, item_id: $i{i}, column_values: $v{i}, create_labels_if_missing: $l{i}) {{ id name }}"
                ));
                vars.insert(format!("b{i}"), json!(c.board_id));
                vars.insert(format!("i{i}"), json!(c.item_id));
                vars.insert(
                    format!("v{i}"),
                    json_arg(
                        "batch change_multiple_column_values",
                        Some(&c.column_values),
                    )?,
                );
                vars.insert(format!("l{i}"), json!(c.create_labels_if_missing));
            }
            Mutation::DeleteItem { item_id } => {
                decls.push(format!("$i{i}: ID!"));
                fields.push(format!("m{i}: delete_item(item_id: $i{i}) {{ id }}"));
                vars.insert(format!("i{i}"), json!(item_id));
            }
        }
    }
    let query = format!(
        "mutation Batch({}) {{ {} {COMPLEXITY_SELECTION} }}",
        decls.join(", "),
        fields.join(" ")
    );
    Ok((query, Value::Object(vars)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_document_uses_only_variables() {
        let evil = "x\") { id } delete_item(item_id: 1) { id } #";
        let (q, vars) = build_batch(&[
            Mutation::CreateItem(CreateItem {
                board_id: "1".into(),
                group_id: None,
                item_name: evil.into(),
                column_values: Some(json!({"text": evil})),
                create_labels_if_missing: true,
            }),
            Mutation::DeleteItem {
                item_id: "42".into(),
            },
        ])
        .expect("valid batch");
        assert!(!q.contains(evil));
        assert!(q.contains("m0: create_item("));
        assert!(q.contains("m1: delete_item(item_id: $i1)"));
        assert_eq!(vars["n0"], json!(evil));
        assert_eq!(vars["v0"], json!(json!({"text": evil}).to_string()));
        assert_eq!(vars["i1"], json!("42"));
    }

    #[test]
    fn json_arg_rejects_non_objects() {
        assert!(json_arg("op", Some(&json!([1]))).is_err());
        assert!(json_arg("op", Some(&json!("[1]"))).is_err());
        assert_eq!(
            json_arg("op", Some(&json!("{\"a\":1}"))).expect("object string"),
            json!("{\"a\":1}")
        );
        assert_eq!(json_arg("op", None).expect("none"), Value::Null);
    }

    #[test]
    fn config_debug_redacts_token() {
        let c = MondayConfig::new(SecretString::from("super-secret-token".to_owned()));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("super-secret-token"));
    }
}
