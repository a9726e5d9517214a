//! Seed and state records, in the shapes of `fixtures/seed/monday/*.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A column of a board, as `boards { columns { id title type settings_str } }` returns it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ColumnDef {
    /// Column id (`text_mkryhch5`, `color_mksj2adq`, `name`, ...).
    pub id: String,
    /// Column title shown in the UI.
    pub title: String,
    /// Column type as API 2023-10+ names it (`status`, `dropdown`, `board_relation`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Column settings, JSON-encoded like Monday's `settings_str`.
    #[serde(default = "empty_settings")]
    pub settings_str: String,
    /// Optional column description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the column is archived.
    #[serde(default)]
    pub archived: bool,
}

fn empty_settings() -> String {
    "{}".to_string()
}

impl ColumnDef {
    /// `settings_str` parsed as JSON (an empty object when it is not valid JSON).
    pub fn settings(&self) -> Value {
        serde_json::from_str(&self.settings_str).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

/// A group of a board.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GroupDef {
    /// Group id (`topics`, `group_mksj8w2n`, ...).
    pub id: String,
    /// Group title.
    pub title: String,
    /// Group colour (`#579bfc`).
    #[serde(default = "default_group_color")]
    pub color: String,
    /// Whether the group is archived.
    #[serde(default)]
    pub archived: bool,
    /// Whether the group is deleted.
    #[serde(default)]
    pub deleted: bool,
}

fn default_group_color() -> String {
    "#579bfc".to_string()
}

/// A board with its columns and groups.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BoardDef {
    /// Board id (numeric string).
    pub id: String,
    /// Board name.
    pub name: String,
    /// `public`, `private` or `share`.
    #[serde(default = "default_board_kind")]
    pub board_kind: String,
    /// `active`, `archived` or `deleted`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Board description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Columns in display order (the first is the `name` column).
    pub columns: Vec<ColumnDef>,
    /// Groups in display order (the first is the top group).
    pub groups: Vec<GroupDef>,
}

fn default_board_kind() -> String {
    "public".to_string()
}
fn default_state() -> String {
    "active".to_string()
}

impl BoardDef {
    /// The column with this id.
    pub fn column(&self, id: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.id == id)
    }
    /// The group with this id.
    pub fn group(&self, id: &str) -> Option<&GroupDef> {
        self.groups.iter().find(|g| g.id == id)
    }
}

/// An item: its stored column values are the value JSON as Monday stores it (not string-encoded).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ItemRec {
    /// Item id (numeric string).
    pub id: String,
    /// Board id.
    pub board_id: String,
    /// Group id.
    pub group_id: String,
    /// Item name.
    pub name: String,
    /// Stored values by column id; absent = empty.
    #[serde(default)]
    pub column_values: Map<String, Value>,
    /// `active`, `archived` or `deleted`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last update time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Id of the user who created the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<String>,
}

/// A user of the account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserRec {
    /// User id (numeric string).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// The seed: boards, items and users.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Seed {
    /// Boards from `boards.json`.
    pub boards: Vec<BoardDef>,
    /// Items from `items.json`.
    pub items: Vec<ItemRec>,
    /// Users from `users.json`.
    pub users: Vec<UserRec>,
}

/// Errors loading the seed directory.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A seed file could not be read.
    #[error("reading Monday seed file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A seed file is not valid JSON of the expected shape.
    #[error("parsing Monday seed file {path}: {source}")]
    Parse {
        /// File path.
        path: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// The seed is inconsistent.
    #[error("invalid Monday seed: {0}")]
    Invalid(String),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SeedError::Parse {
        path: path.display().to_string(),
        source,
    })
}

impl Seed {
    /// Loads `boards.json`, `items.json` (optional) and `users.json` (optional) from `dir`.
    pub fn load(dir: &Path) -> Result<Seed, SeedError> {
        let boards: Vec<BoardDef> = read_json(&dir.join("boards.json"))?;
        let items_path = dir.join("items.json");
        let items: Vec<ItemRec> = if items_path.exists() {
            read_json(&items_path)?
        } else {
            Vec::new()
        };
        let users_path = dir.join("users.json");
        let users: Vec<UserRec> = if users_path.exists() {
            read_json(&users_path)?
        } else {
            Vec::new()
        };
        let seed = Seed {
            boards,
            items,
            users,
        };
        seed.check()?;
        Ok(seed)
    }

    fn check(&self) -> Result<(), SeedError> {
        for b in &self.boards {
            if b.id.parse::<u64>().is_err() {
                return Err(SeedError::Invalid(format!(
                    "board id {:?} is not numeric",
                    b.id
                )));
            }
            if b.groups.is_empty() {
                return Err(SeedError::Invalid(format!("board {} has no groups", b.id)));
            }
        }
        for i in &self.items {
            if i.id.parse::<u64>().is_err() {
                return Err(SeedError::Invalid(format!(
                    "item id {:?} is not numeric",
                    i.id
                )));
            }
            let board = self
                .boards
                .iter()
                .find(|b| b.id == i.board_id)
                .ok_or_else(|| {
                    SeedError::Invalid(format!("item {} names unknown board {}", i.id, i.board_id))
                })?;
            if board.group(&i.group_id).is_none() {
                return Err(SeedError::Invalid(format!(
                    "item {} names unknown group {}",
                    i.id, i.group_id
                )));
            }
            for col in i.column_values.keys() {
                if board.column(col).is_none() {
                    return Err(SeedError::Invalid(format!(
                        "item {} has a value for unknown column {} of board {}",
                        i.id, col, board.id
                    )));
                }
            }
        }
        Ok(())
    }
}
