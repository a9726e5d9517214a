//! The write-back rule: the Id column of a linked item shows the Salesforce Id of its link.
//!
//! The link in the store is the truth; the Id column is its display on Monday (and what makes a
//! `create_pulse` link instead of create). So an Id column that is empty, or holds text that is not
//! a record id, while the item is linked is *repaired* — rewritten with the link's id — by the next
//! event that reads the item. A valid record id other than the link's is a user's request to relink
//! (planned by that column's own event), never overwritten.

use serde::Serialize;

use crate::mapping::BoardMapping;
use crate::monday::Item;
use crate::plan::{Operation, RecordRef};
use crate::salesforce::is_salesforce_id;

/// What the Id column of a linked item holds, compared with the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IdColumnState {
    /// The link's id (15- or 18-character form).
    Linked,
    /// Nothing.
    Empty,
    /// Text that is not a Salesforce record id.
    NotAnId {
        /// What it holds.
        value: String,
    },
    /// Another record id: a relink request, which that column's event applies.
    OtherRecord {
        /// The id it holds.
        salesforce_id: String,
    },
}

impl IdColumnState {
    /// Whether the column is rewritten from the link.
    pub fn needs_repair(&self) -> bool {
        matches!(self, IdColumnState::Empty | IdColumnState::NotAnId { .. })
    }
}

impl std::fmt::Display for IdColumnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdColumnState::Linked => f.write_str("the Id column already holds the linked record id"),
            IdColumnState::Empty => f.write_str("the Id column is empty"),
            IdColumnState::NotAnId { value } => {
                write!(f, "the Id column holds {value:?}, which is not a record id")
            }
            IdColumnState::OtherRecord { salesforce_id } => write!(
                f,
                "the Id column holds another record id ({salesforce_id}); that edit relinks the item"
            ),
        }
    }
}

/// The text of the item's Id column (trimmed; empty when unset).
fn id_column_text(bm: &BoardMapping, item: &Item) -> String {
    item.column(&bm.salesforce_id_column)
        .and_then(|cv| {
            cv.decoded_value()
                .and_then(|v| v.as_str().map(str::to_string))
                .or_else(|| cv.text.clone())
        })
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// What the Id column of `item` holds, for an item linked to `linked`.
pub fn id_column_state(bm: &BoardMapping, item: &Item, linked: &str) -> IdColumnState {
    let text = id_column_text(bm, item);
    let key = |s: &str| s.get(..15).unwrap_or(s).to_string();
    if text.is_empty() {
        IdColumnState::Empty
    } else if !is_salesforce_id(&text) {
        IdColumnState::NotAnId { value: text }
    } else if key(&text) == key(linked) {
        IdColumnState::Linked
    } else {
        IdColumnState::OtherRecord {
            salesforce_id: text,
        }
    }
}

/// The write-back that repairs the Id column of `item` (linked to `linked`), when it needs one.
pub fn id_column_repair(
    bm: &BoardMapping,
    item_id: &str,
    item: &Item,
    linked: &str,
) -> Option<Operation> {
    id_column_state(bm, item, linked)
        .needs_repair()
        .then(|| Operation::WriteBackSalesforceId {
            board_id: bm.board_id.clone(),
            item_id: item_id.to_string(),
            column_id: bm.salesforce_id_column.clone(),
            salesforce_id: RecordRef::Id(linked.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mapping;
    use crate::monday::ColumnValue;

    const SRC: &str = "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\nitem_name = { field = \"Company\" }\n";
    const LINKED: &str = "00Q5g0000000Q0vEAE";

    fn item(sfid: Option<&str>) -> Item {
        Item {
            id: "7".into(),
            board_id: Some("100".into()),
            name: "Org".into(),
            column_values: vec![ColumnValue {
                id: "text_sfid".into(),
                text: sfid.map(str::to_string),
                value: sfid.map(|s| serde_json::Value::String(format!("\"{s}\""))),
                ..ColumnValue::default()
            }],
        }
    }

    #[test]
    fn the_id_column_is_repaired_when_empty_or_not_an_id_and_kept_otherwise() {
        let mapping = Mapping::parse(SRC, "mapping.toml").unwrap();
        let bm = mapping.board("100").unwrap();
        let state = |v: Option<&str>| id_column_state(bm, &item(v), LINKED);
        assert_eq!(state(Some(LINKED)), IdColumnState::Linked);
        assert_eq!(
            state(Some("00Q5g0000000Q0v")),
            IdColumnState::Linked,
            "15-char form"
        );
        assert_eq!(state(None), IdColumnState::Empty);
        assert_eq!(state(Some("  ")), IdColumnState::Empty);
        assert_eq!(
            state(Some("see notes")),
            IdColumnState::NotAnId {
                value: "see notes".into()
            }
        );
        assert_eq!(
            state(Some("00Q5g0000000Q0wEAE")),
            IdColumnState::OtherRecord {
                salesforce_id: "00Q5g0000000Q0wEAE".into()
            }
        );
        assert_eq!(
            id_column_repair(bm, "7", &item(None), LINKED),
            Some(Operation::WriteBackSalesforceId {
                board_id: "100".into(),
                item_id: "7".into(),
                column_id: "text_sfid".into(),
                salesforce_id: RecordRef::Id(LINKED.into()),
            })
        );
        assert_eq!(id_column_repair(bm, "7", &item(Some(LINKED)), LINKED), None);
        assert_eq!(
            id_column_repair(bm, "7", &item(Some("00Q5g0000000Q0wEAE")), LINKED),
            None,
            "another record id is a relink request, never overwritten"
        );
    }
}
