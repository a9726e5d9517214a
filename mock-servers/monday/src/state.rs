//! In-memory state and the operations on it. Every change returns the [`Event`]s a real board
//! would emit, so that API mutations and "act as a user" edits fire the same webhooks.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::columns::{self, ColumnValueError, Kind, WriteCtx};
use crate::model::{BoardDef, ItemRec, Seed, UserRec};

/// An application-level error, answered as HTTP 200 with `errors[].extensions.code`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Unknown board.
    #[error("The board does not exist. Please check your board ID and try again")]
    InvalidBoardId(Value),
    /// Unknown item.
    #[error("Item not found")]
    InvalidItemId(Value),
    /// Unknown column on the board.
    #[error("This column ID doesn't exist for the board")]
    InvalidColumnId {
        /// Column id as given.
        column_id: String,
        /// Board id.
        board_id: Value,
    },
    /// Unknown group on the board.
    #[error("Group not found")]
    InvalidGroupId {
        /// Group id as given.
        group_id: String,
        /// Board id.
        board_id: Value,
    },
    /// A rejected column value.
    #[error("{0}")]
    ColumnValue(ColumnValueError),
    /// `column_values` / `value` is not valid JSON.
    #[error("809: unexpected token at '{0}'")]
    JsonParse(String),
    /// Cursor expired or unknown.
    #[error("CursorExpiredError: The cursor provided for pagination has expired. Please refresh your query and obtain a new cursor to continue fetching items")]
    CursorExpired,
    /// Cursor that the mock never issued.
    #[error("Invalid cursor: {0}")]
    InvalidCursor(String),
    /// Webhook URL did not answer the challenge.
    #[error("Failed to communicate with URL provided.")]
    WebhookChallenge {
        /// What went wrong.
        reason: String,
    },
    /// Unknown webhook.
    #[error("Webhook not found")]
    InvalidWebhookId(Value),
    /// A bad argument value.
    #[error("{0}")]
    InvalidArgument(String),
}

impl ApiError {
    /// `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidBoardId(_) => "InvalidBoardIdException",
            ApiError::InvalidItemId(_) => "InvalidItemIdException",
            ApiError::InvalidColumnId { .. } => "InvalidColumnIdException",
            ApiError::InvalidGroupId { .. } => "InvalidGroupIdException",
            ApiError::ColumnValue(_) => "ColumnValueException",
            ApiError::JsonParse(_) => "JsonParseException",
            ApiError::CursorExpired | ApiError::InvalidCursor(_) => "CursorException",
            ApiError::WebhookChallenge { .. } => "InvalidUrlException",
            ApiError::InvalidWebhookId(_) => "ResourceNotFoundException",
            ApiError::InvalidArgument(_) => "InvalidArgumentException",
        }
    }

    /// `extensions.error_data`.
    pub fn error_data(&self) -> Value {
        match self {
            ApiError::InvalidBoardId(id) => json!({ "board_id": id }),
            ApiError::InvalidItemId(id) => json!({ "item_id": id }),
            ApiError::InvalidColumnId {
                column_id,
                board_id,
            } => json!({
                "column_id": column_id, "board_id": board_id,
                "error_reason": "store.monday.automation.error.missing_column"
            }),
            ApiError::InvalidGroupId { group_id, board_id } => {
                json!({ "group_id": group_id, "board_id": board_id })
            }
            ApiError::ColumnValue(e) => e.error_data.clone(),
            ApiError::WebhookChallenge { reason } => json!({ "reason": reason }),
            ApiError::InvalidWebhookId(id) => json!({ "webhook_id": id }),
            _ => json!({}),
        }
    }
}

/// Converts an id argument to the JSON Monday echoes in `error_data` (a number when numeric).
pub fn id_json(id: &str) -> Value {
    id.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(id.to_string()))
}

/// A webhook subscription.
#[derive(Clone, Debug, Serialize)]
pub struct WebhookRec {
    /// Subscription id.
    pub id: u64,
    /// Board id.
    pub board_id: String,
    /// URL deliveries go to.
    pub url: String,
    /// Subscribed event (`create_item`, `change_column_value`, ...).
    pub event: String,
    /// Config JSON as given (`{"columnId":"..."}` for specific-column subscriptions).
    pub config: Option<Value>,
    /// Whether the webhook was created with an app token (deliveries carry a JWT).
    pub app_webhook: bool,
}

/// What changed on a board (one webhook delivery per matching subscription).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// An item was created.
    Created {
        /// Stored column values set at creation.
        column_values: Map<String, Value>,
    },
    /// One column changed.
    ColumnChanged {
        /// Column id.
        column_id: String,
        /// Stored value before (None = empty).
        previous: Option<Value>,
        /// Stored value after (None = empty).
        value: Option<Value>,
    },
    /// The item was renamed.
    Renamed {
        /// Old name.
        previous: String,
        /// New name.
        name: String,
    },
    /// The item was deleted.
    Deleted,
    /// The item was archived.
    Archived,
    /// The item was restored from archive or trash.
    Restored {
        /// State before (`archived` or `deleted`).
        previous_state: String,
    },
    /// The item moved to another group.
    Moved {
        /// Group before.
        from_group: String,
    },
}

/// A board event with the item as it was right after the change.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// The change.
    pub change: Change,
    /// The item after the change (for deletes: as it was).
    pub item: ItemRec,
    /// Acting user id.
    pub user_id: String,
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An `items_page` cursor.
#[derive(Clone, Debug)]
pub struct CursorRec {
    /// Remaining item ids to serve.
    pub remaining: Vec<u64>,
    /// When the cursor was first issued.
    pub issued: Instant,
}

/// The whole in-memory account.
#[derive(Clone, Debug)]
pub struct State {
    /// Boards in creation order.
    pub boards: Vec<BoardDef>,
    /// Items by id (id order = creation order).
    pub items: BTreeMap<u64, ItemRec>,
    /// Users.
    pub users: Vec<UserRec>,
    /// Webhook subscriptions.
    pub webhooks: Vec<WebhookRec>,
    /// Live cursors by token.
    pub cursors: HashMap<String, CursorRec>,
    next_item_id: u64,
    next_webhook_id: u64,
    next_group_n: u64,
}

/// Monday's timestamp format for `changed_at` and `triggerTime`.
pub fn ts(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl State {
    /// Fresh state from the seed.
    pub fn from_seed(seed: &Seed) -> State {
        let items: BTreeMap<u64, ItemRec> = seed
            .items
            .iter()
            .filter_map(|i| Some((i.id.parse::<u64>().ok()?, i.clone())))
            .collect();
        let max_id = items.keys().max().copied().unwrap_or(9_000_000_000);
        State {
            boards: seed.boards.clone(),
            items,
            users: seed.users.clone(),
            webhooks: Vec::new(),
            cursors: HashMap::new(),
            next_item_id: max_id + 1000,
            next_webhook_id: 466_700_001,
            next_group_n: 1,
        }
    }

    /// The board with this id.
    pub fn board(&self, id: &str) -> Result<&BoardDef, ApiError> {
        self.boards
            .iter()
            .find(|b| b.id == id.trim())
            .ok_or_else(|| ApiError::InvalidBoardId(id_json(id)))
    }

    fn board_index(&self, id: &str) -> Result<usize, ApiError> {
        self.boards
            .iter()
            .position(|b| b.id == id.trim())
            .ok_or_else(|| ApiError::InvalidBoardId(id_json(id)))
    }

    /// The item with this id (any state but deleted).
    pub fn item(&self, id: &str) -> Result<&ItemRec, ApiError> {
        id.trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| self.items.get(&n))
            .filter(|i| i.state != "deleted")
            .ok_or_else(|| ApiError::InvalidItemId(id_json(id)))
    }

    /// The user who owns the API token (the first seeded user).
    pub fn me(&self) -> Option<&UserRec> {
        self.users.first()
    }

    /// Applies `values` (column id → simple or structured write) to a copy of the item's values,
    /// validating all of them first. Returns per-column (previous, new) for the ones that changed.
    #[allow(clippy::type_complexity)]
    fn apply_values(
        &mut self,
        board_idx: usize,
        current: &Map<String, Value>,
        values: &Map<String, Value>,
        create_labels_if_missing: bool,
        at: &str,
    ) -> Result<
        (
            Map<String, Value>,
            Option<String>,
            Vec<(String, Option<Value>, Option<Value>)>,
        ),
        ApiError,
    > {
        let users = self.users.clone();
        let items = &self.items;
        let item_board = |id: u64| {
            items
                .get(&id)
                .filter(|i| i.state != "deleted")
                .map(|i| i.board_id.clone())
        };
        let mut board = self.boards[board_idx].clone();
        let mut next = current.clone();
        let mut new_name = None;
        let mut changes = Vec::new();
        for (col_id, input) in values {
            let Some(col_pos) = board.columns.iter().position(|c| &c.id == col_id) else {
                return Err(ApiError::InvalidColumnId {
                    column_id: col_id.clone(),
                    board_id: id_json(&board.id),
                });
            };
            let col = &mut board.columns[col_pos];
            if Kind::of(&col.kind) == Kind::Name {
                let name = match input {
                    Value::String(s) if !s.trim().is_empty() => s.clone(),
                    Value::Object(o) => match o.get("name").and_then(Value::as_str) {
                        Some(s) if !s.trim().is_empty() => s.to_string(),
                        _ => return Err(ApiError::ColumnValue(name_error(input))),
                    },
                    _ => return Err(ApiError::ColumnValue(name_error(input))),
                };
                new_name = Some(name);
                continue;
            }
            let ctx = WriteCtx {
                users: &users,
                item_board: &item_board,
                create_labels_if_missing,
                changed_at: at.to_string(),
            };
            let stored = columns::parse_write(col, input, &ctx).map_err(ApiError::ColumnValue)?;
            let previous = next.get(col_id).cloned();
            let same = match (&previous, &stored) {
                (Some(a), Some(b)) => {
                    columns::without_changed_at(a) == columns::without_changed_at(b)
                }
                (None, None) => true,
                _ => false,
            };
            match &stored {
                Some(v) => next.insert(col_id.clone(), v.clone()),
                None => next.remove(col_id),
            };
            if !same {
                changes.push((col_id.clone(), previous, stored));
            }
        }
        self.boards[board_idx] = board;
        Ok((next, new_name, changes))
    }

    /// `create_item`.
    pub fn create_item(
        &mut self,
        board_id: &str,
        name: &str,
        group_id: Option<&str>,
        values: &Map<String, Value>,
        create_labels_if_missing: bool,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        let now = chrono::Utc::now();
        let at = ts(now);
        let board_idx = self.board_index(board_id)?;
        let group = match group_id {
            Some(g) => {
                let board = &self.boards[board_idx];
                board
                    .group(g)
                    .ok_or_else(|| ApiError::InvalidGroupId {
                        group_id: g.to_string(),
                        board_id: id_json(&board.id),
                    })?
                    .id
                    .clone()
            }
            None => self.boards[board_idx].groups[0].id.clone(),
        };
        let (vals, new_name, _) = self.apply_values(
            board_idx,
            &Map::new(),
            values,
            create_labels_if_missing,
            &at,
        )?;
        let id = self.next_item_id;
        self.next_item_id += 1 + (id % 7) * 13;
        let item = ItemRec {
            id: id.to_string(),
            board_id: self.boards[board_idx].id.clone(),
            group_id: group,
            name: new_name.unwrap_or_else(|| name.to_string()),
            column_values: vals.clone(),
            state: "active".into(),
            created_at: Some(now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            updated_at: Some(now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            creator_id: Some(user_id.to_string()),
        };
        self.items.insert(id, item.clone());
        let ev = Event {
            change: Change::Created {
                column_values: vals,
            },
            item: item.clone(),
            user_id: user_id.into(),
            at: now,
        };
        Ok((item, vec![ev]))
    }

    /// `change_multiple_column_values` / `change_column_value` / `change_simple_column_value`
    /// (a `name` key renames the item).
    pub fn change_values(
        &mut self,
        board_id: &str,
        item_id: &str,
        values: &Map<String, Value>,
        create_labels_if_missing: bool,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        let now = chrono::Utc::now();
        let at = ts(now);
        let board_idx = self.board_index(board_id)?;
        let item = self.item(item_id)?.clone();
        if item.board_id != self.boards[board_idx].id {
            return Err(ApiError::InvalidItemId(id_json(item_id)));
        }
        let (vals, new_name, changes) = self.apply_values(
            board_idx,
            &item.column_values,
            values,
            create_labels_if_missing,
            &at,
        )?;
        let mut updated = item.clone();
        updated.column_values = vals;
        let mut events = Vec::new();
        if let Some(name) = new_name.filter(|n| *n != item.name) {
            updated.name = name.clone();
            events.push(Change::Renamed {
                previous: item.name.clone(),
                name,
            });
        }
        for (column_id, previous, value) in changes {
            events.push(Change::ColumnChanged {
                column_id,
                previous,
                value,
            });
        }
        if !events.is_empty() {
            updated.updated_at = Some(now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        let key = updated
            .id
            .parse::<u64>()
            .map_err(|_| ApiError::InvalidItemId(id_json(item_id)))?;
        self.items.insert(key, updated.clone());
        let events = events
            .into_iter()
            .map(|change| Event {
                change,
                item: updated.clone(),
                user_id: user_id.into(),
                at: now,
            })
            .collect();
        Ok((updated, events))
    }

    fn set_state(
        &mut self,
        item_id: &str,
        state: &str,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        let now = chrono::Utc::now();
        let key = item_id
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError::InvalidItemId(id_json(item_id)))?;
        let item = self
            .items
            .get_mut(&key)
            .ok_or_else(|| ApiError::InvalidItemId(id_json(item_id)))?;
        let previous_state = item.state.clone();
        let change = match (previous_state.as_str(), state) {
            ("deleted", "deleted") | ("archived", "archived") | ("active", "active") => {
                if previous_state == "deleted" {
                    return Err(ApiError::InvalidItemId(id_json(item_id)));
                }
                None
            }
            (_, "deleted") => Some(Change::Deleted),
            (_, "archived") => Some(Change::Archived),
            (_, _) => Some(Change::Restored {
                previous_state: previous_state.clone(),
            }),
        };
        item.state = state.to_string();
        let item = item.clone();
        let events = change
            .map(|change| {
                vec![Event {
                    change,
                    item: item.clone(),
                    user_id: user_id.into(),
                    at: now,
                }]
            })
            .unwrap_or_default();
        Ok((item, events))
    }

    /// `delete_item`.
    pub fn delete_item(
        &mut self,
        item_id: &str,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        self.set_state(item_id, "deleted", user_id)
    }

    /// `archive_item`.
    pub fn archive_item(
        &mut self,
        item_id: &str,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        self.item(item_id)?;
        self.set_state(item_id, "archived", user_id)
    }

    /// Restores an archived or deleted item (UI only; there is no API mutation).
    pub fn restore_item(
        &mut self,
        item_id: &str,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        self.set_state(item_id, "active", user_id)
    }

    /// `move_item_to_group`.
    pub fn move_item(
        &mut self,
        item_id: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<(ItemRec, Vec<Event>), ApiError> {
        let now = chrono::Utc::now();
        let item = self.item(item_id)?.clone();
        let board = self.board(&item.board_id)?;
        if board.group(group_id).is_none() {
            return Err(ApiError::InvalidGroupId {
                group_id: group_id.into(),
                board_id: id_json(&board.id),
            });
        }
        if item.group_id == group_id {
            return Ok((item, Vec::new()));
        }
        let mut updated = item.clone();
        updated.group_id = group_id.to_string();
        let key = updated
            .id
            .parse::<u64>()
            .map_err(|_| ApiError::InvalidItemId(id_json(item_id)))?;
        self.items.insert(key, updated.clone());
        let ev = Event {
            change: Change::Moved {
                from_group: item.group_id,
            },
            item: updated.clone(),
            user_id: user_id.into(),
            at: now,
        };
        Ok((updated, vec![ev]))
    }

    /// `create_group`.
    pub fn create_group(
        &mut self,
        board_id: &str,
        name: &str,
        color: Option<&str>,
    ) -> Result<crate::model::GroupDef, ApiError> {
        let idx = self.board_index(board_id)?;
        let id = format!("group_mkmock{:02}", self.next_group_n);
        self.next_group_n += 1;
        let group = crate::model::GroupDef {
            id,
            title: name.to_string(),
            color: color.unwrap_or("#a25ddc").to_string(),
            archived: false,
            deleted: false,
        };
        self.boards[idx].groups.insert(0, group.clone());
        Ok(group)
    }

    /// Registers a webhook (after its challenge succeeded).
    pub fn add_webhook(
        &mut self,
        board_id: &str,
        url: &str,
        event: &str,
        config: Option<Value>,
        app_webhook: bool,
    ) -> Result<WebhookRec, ApiError> {
        let board = self.board(board_id)?.id.clone();
        let w = WebhookRec {
            id: self.next_webhook_id,
            board_id: board,
            url: url.into(),
            event: event.into(),
            config,
            app_webhook,
        };
        self.next_webhook_id += 1;
        self.webhooks.push(w.clone());
        Ok(w)
    }

    /// Removes a webhook.
    pub fn delete_webhook(&mut self, id: &str) -> Result<WebhookRec, ApiError> {
        let pos = self
            .webhooks
            .iter()
            .position(|w| w.id.to_string() == id.trim())
            .ok_or_else(|| ApiError::InvalidWebhookId(id_json(id)))?;
        Ok(self.webhooks.remove(pos))
    }
}

fn name_error(input: &Value) -> ColumnValueError {
    ColumnValueError {
        message: "Item name can't be empty".to_string(),
        error_data: json!({ "column_value": input.to_string(), "column_type": "NameColumn" }),
    }
}

/// Parses a `column_values` / `value` JSON argument: a JSON-encoded string or an object.
pub fn parse_json_arg(v: &Value) -> Result<Value, ApiError> {
    match v {
        Value::String(s) => serde_json::from_str(s).map_err(|_| ApiError::JsonParse(s.clone())),
        other => Ok(other.clone()),
    }
}

/// Parses `column_values`: must be an object (or a string encoding one).
pub fn parse_column_values(v: Option<&Value>) -> Result<Map<String, Value>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(v) => match parse_json_arg(v)? {
            Value::Object(m) => Ok(m),
            Value::Null => Ok(Map::new()),
            other => Err(ApiError::JsonParse(other.to_string())),
        },
    }
}

/// One column value as the API would render it (`value` JSON-encoded, `text`).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ColumnValueView {
    /// Column id.
    pub id: String,
    /// Column type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Rendered text.
    pub text: Option<String>,
    /// JSON-encoded stored value (as `column_values { value }` returns it before API 2025-04).
    pub value: Option<String>,
}

/// An item with rendered column values (admin API).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ItemView {
    /// Item id.
    pub id: String,
    /// Board id.
    pub board_id: String,
    /// Group id.
    pub group_id: String,
    /// Item name.
    pub name: String,
    /// `active`, `archived` or `deleted`.
    pub state: String,
    /// Every column of the board except `name`, in board order.
    pub column_values: Vec<ColumnValueView>,
}

impl ItemView {
    /// Renders `item` with the board's columns.
    pub fn of(st: &State, item: &ItemRec) -> Result<ItemView, ApiError> {
        let board = st.board(&item.board_id)?;
        let column_values = board
            .columns
            .iter()
            .filter(|c| Kind::of(&c.kind) != Kind::Name)
            .map(|c| {
                let stored = item.column_values.get(&c.id).filter(|v| !v.is_null());
                ColumnValueView {
                    id: c.id.clone(),
                    kind: c.kind.clone(),
                    text: columns::render_text(c, stored, &st.users),
                    value: stored.map(|v| v.to_string()),
                }
            })
            .collect();
        Ok(ItemView {
            id: item.id.clone(),
            board_id: item.board_id.clone(),
            group_id: item.group_id.clone(),
            name: item.name.clone(),
            state: item.state.clone(),
            column_values,
        })
    }

    /// The column value with this id.
    pub fn column(&self, id: &str) -> Option<&ColumnValueView> {
        self.column_values.iter().find(|c| c.id == id)
    }
}
