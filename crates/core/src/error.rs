//! Errors about the mapping file: where (file, line, column) and what is wrong.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// A 1-based position in the mapping file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl Location {
    /// The location of byte offset `offset` in `src`.
    pub fn of_offset(src: &str, offset: usize) -> Location {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before
            .get(line_start..)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        Location { line, column }
    }
}

/// One problem in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{file}:{}:{}: {kind}", .location.line, .location.column)]
pub struct MappingError {
    /// The mapping file's name as given to [`crate::Mapping::parse`].
    pub file: String,
    /// Where in the file.
    pub location: Location,
    /// What is wrong.
    pub kind: MappingErrorKind,
}

/// Every problem found in a mapping file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
pub struct MappingErrors(pub Vec<MappingError>);

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the mapping",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// What is wrong with a mapping entry.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MappingErrorKind {
    /// The file is not valid TOML or does not have the mapping's shape.
    #[error("{message}")]
    Toml {
        /// The TOML parser's message.
        message: String,
    },
    /// `transform = "..."` names no known transform.
    #[error("unknown transform `{transform}` for column `{column}` (expected one of: {expected})")]
    UnknownTransform {
        /// Column id.
        column: String,
        /// What was written.
        transform: String,
        /// Known transforms.
        expected: String,
    },
    /// A setting has a value it cannot take.
    #[error("invalid {setting} `{value}`: {reason}")]
    InvalidSetting {
        /// Setting name (`direction`, `timezone`, `on_delete`, ...).
        setting: String,
        /// What was written.
        value: String,
        /// Why it is wrong.
        reason: String,
    },
    /// Two `[[board]]` entries for one board.
    #[error("board {board_id} is mapped twice")]
    DuplicateBoard {
        /// Board id.
        board_id: String,
    },
    /// Two entries for one column, or two sources for one field.
    #[error("{what} is mapped twice on board {board_id}")]
    Duplicate {
        /// Board id.
        board_id: String,
        /// e.g. "column `text_x`" or "field `Email`".
        what: String,
    },
    /// The Salesforce object has no describe.
    #[error("Salesforce object `{object}` does not exist (no describe for it)")]
    UnknownObject {
        /// Object API name.
        object: String,
    },
    /// The Monday board is not among the boards given.
    #[error("Monday board {board_id} does not exist")]
    UnknownBoard {
        /// Board id.
        board_id: String,
    },
    /// A field missing from the object's describe.
    #[error("field `{field}` does not exist on {object}")]
    FieldMissing {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A field whose Salesforce type the transform cannot write.
    #[error("field {object}.{field} is of type `{field_type}`, which transform `{transform}` cannot write (expected {expected})")]
    IncompatibleFieldType {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// Its describe type.
        field_type: String,
        /// The transform.
        transform: String,
        /// Acceptable types.
        expected: String,
    },
    /// A field that can be neither created nor updated (e.g. `Id`, formulas).
    #[error("field {object}.{field} cannot be written (createable and updateable are both false)")]
    FieldNotWritable {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A column missing from the board.
    #[error("column `{column}` does not exist on board {board_id} ({board_name})")]
    ColumnMissing {
        /// Board id.
        board_id: String,
        /// Board name.
        board_name: String,
        /// Column id.
        column: String,
    },
    /// A column of another type than the transform reads.
    #[error("column `{column}` is of type `{actual}`, but transform `{transform}` reads `{expected}` columns")]
    ColumnTypeMismatch {
        /// Column id.
        column: String,
        /// Transform.
        transform: String,
        /// Column type the transform reads.
        expected: String,
        /// The board column's type.
        actual: String,
    },
    /// A column type no transform supports.
    #[error("unsupported column type `{column_type}` for column `{column}`")]
    UnsupportedColumnType {
        /// Column id.
        column: String,
        /// Its type.
        column_type: String,
    },
    /// A value map or default names a picklist value the field does not have.
    #[error("picklist value `{value}` does not exist on {object}.{field}")]
    PicklistValueMissing {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// The value.
        value: String,
    },
    /// A value map names a status/dropdown label the column does not have.
    #[error("label `{label}` does not exist on column `{column}`")]
    LabelMissing {
        /// Column id.
        column: String,
        /// Label.
        label: String,
    },
    /// A field required on create with no column, item name or default feeding it.
    #[error("field {object}.{field} is required on create (createable, not nillable, no default) but has no source column and no default")]
    RequiredFieldUnmapped {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A relation whose lookup field cannot point at the target board's object.
    #[error("relation column `{column}` targets board {target_board} ({target_object}) but {object}.{field} references {reference_to}")]
    RelationTargetMismatch {
        /// Column id.
        column: String,
        /// Object.
        object: String,
        /// Lookup field.
        field: String,
        /// Target board.
        target_board: String,
        /// Object mapped from the target board.
        target_object: String,
        /// What the field references.
        reference_to: String,
    },
    /// The board_relation column connects other boards than `target_board`.
    #[error("relation column `{column}` connects board(s) {connects} on Monday, not target board {target_board}")]
    RelationBoardMismatch {
        /// Column id.
        column: String,
        /// `target_board` in the mapping.
        target_board: String,
        /// Boards the column connects (`settings_str.boardIds`).
        connects: String,
    },
    /// `target_board` names a board that is not in this mapping.
    #[error(
        "relation column `{column}` targets board {target_board}, which this mapping does not map"
    )]
    UnmappedTargetBoard {
        /// Column id.
        column: String,
        /// Board id.
        target_board: String,
    },
    /// The record type id is not one of the object's record types.
    #[error("record type `{record_type_id}` does not exist on {object}")]
    RecordTypeMissing {
        /// Object.
        object: String,
        /// Record type id.
        record_type_id: String,
    },
    /// `external_id_field` is not an external id.
    #[error("field {object}.{field} is not an external id field (externalId is false)")]
    NotExternalId {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A board with neither `external_id_field` nor `item_id_field`: a create whose answer is
    /// lost (timeout, crash) would be sent again and duplicate the record.
    #[error(
        "board {board} ({object}): creates are not idempotent, a create whose answer is lost would be sent again and duplicate the record. \
         Add to {object} in Salesforce a Text(40) field holding the Monday item id (Setup > Object Manager > {object} > Fields & Relationships > New, \
         e.g. Monday_Item_Id__c), ideally marked External ID and Unique, and set `external_id_field = \"Monday_Item_Id__c\"` \
         (or, when it cannot be an External ID, `item_id_field = \"Monday_Item_Id__c\"`)"
    )]
    CreateNotIdempotent {
        /// Board (name or id).
        board: String,
        /// Object.
        object: String,
    },
    /// `item_id_field` cannot hold and find the item id (not a text field, not filterable on
    /// create, ...).
    #[error("field {object}.{field} cannot be `item_id_field`: {reason}")]
    BadItemIdField {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// Why.
        reason: String,
    },
}
