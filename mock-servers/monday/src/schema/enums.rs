//! Enums (`ColumnType`, `State`, `WebhookEventType`, the `items_page` operators, ...).

use async_graphql::Enum;

/// `ColumnType`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum ColumnType {
    AutoNumber,
    BoardRelation,
    Button,
    Checkbox,
    ColorPicker,
    Country,
    CreationLog,
    Date,
    Dependency,
    Doc,
    Dropdown,
    Email,
    File,
    Formula,
    Group,
    Hour,
    Integration,
    ItemAssignees,
    ItemId,
    LastUpdated,
    Link,
    Location,
    LongText,
    Mirror,
    Numbers,
    People,
    Phone,
    Progress,
    Rating,
    Status,
    Tags,
    Team,
    Text,
    Timeline,
    TimeTracking,
    Vote,
    Week,
    WorldClock,
    Unsupported,
    Name,
    Person,
    DirectDoc,
    Subtasks,
}

impl ColumnType {
    /// The enum value for a type name (unknown names map to `unsupported`).
    pub fn from_name(s: &str) -> ColumnType {
        use ColumnType::*;
        match s {
            "auto_number" => AutoNumber,
            "board_relation" => BoardRelation,
            "button" => Button,
            "checkbox" => Checkbox,
            "color_picker" => ColorPicker,
            "country" => Country,
            "creation_log" => CreationLog,
            "date" => Date,
            "dependency" => Dependency,
            "doc" => Doc,
            "dropdown" => Dropdown,
            "email" => Email,
            "file" => File,
            "formula" => Formula,
            "group" => Group,
            "hour" => Hour,
            "integration" => Integration,
            "item_assignees" => ItemAssignees,
            "item_id" => ItemId,
            "last_updated" => LastUpdated,
            "link" => Link,
            "location" => Location,
            "long_text" => LongText,
            "mirror" => Mirror,
            "numbers" => Numbers,
            "people" => People,
            "phone" => Phone,
            "progress" => Progress,
            "rating" => Rating,
            "status" => Status,
            "tags" => Tags,
            "team" => Team,
            "text" => Text,
            "timeline" => Timeline,
            "time_tracking" => TimeTracking,
            "vote" => Vote,
            "week" => Week,
            "world_clock" => WorldClock,
            "name" => Name,
            "person" => Person,
            "direct_doc" => DirectDoc,
            "subtasks" => Subtasks,
            _ => Unsupported,
        }
    }
}

/// `State`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum State {
    Active,
    All,
    Archived,
    Deleted,
}

impl State {
    pub(super) fn from_name(s: &str) -> State {
        match s {
            "archived" => State::Archived,
            "deleted" => State::Deleted,
            _ => State::Active,
        }
    }
    pub(super) fn admits(self, s: &str) -> bool {
        match self {
            State::All => true,
            State::Active => s == "active",
            State::Archived => s == "archived",
            State::Deleted => s == "deleted",
        }
    }
}

/// `BoardKind`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum BoardKind {
    Private,
    Public,
    Share,
}

/// `WebhookEventType`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum WebhookEventType {
    ChangeColumnValue,
    ChangeName,
    ChangeSpecificColumnValue,
    ChangeStatusColumnValue,
    ChangeSubitemColumnValue,
    ChangeSubitemName,
    CreateColumn,
    CreateItem,
    CreateSubitem,
    CreateSubitemUpdate,
    CreateUpdate,
    DeleteUpdate,
    EditUpdate,
    ItemArchived,
    ItemDeleted,
    ItemMovedToAnyGroup,
    ItemMovedToSpecificGroup,
    ItemRestored,
    MoveSubitem,
    SubitemArchived,
    SubitemDeleted,
}

impl WebhookEventType {
    /// The snake_case name.
    pub fn name(self) -> String {
        async_graphql::Value::from(self).to_string()
    }
    pub(super) fn from_name(s: &str) -> Option<WebhookEventType> {
        use WebhookEventType::*;
        [
            ChangeColumnValue,
            ChangeName,
            ChangeSpecificColumnValue,
            ChangeStatusColumnValue,
            ChangeSubitemColumnValue,
            ChangeSubitemName,
            CreateColumn,
            CreateItem,
            CreateSubitem,
            CreateSubitemUpdate,
            CreateUpdate,
            DeleteUpdate,
            EditUpdate,
            ItemArchived,
            ItemDeleted,
            ItemMovedToAnyGroup,
            ItemMovedToSpecificGroup,
            ItemRestored,
            MoveSubitem,
            SubitemArchived,
            SubitemDeleted,
        ]
        .into_iter()
        .find(|e| e.name() == s)
    }
}

/// `Kind` (of a person or team).
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "Kind", rename_items = "snake_case")]
pub enum Kind_ {
    Agent,
    Person,
    Team,
}

/// `UserStatus`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "UPPERCASE")]
pub enum UserStatus {
    Active,
    Inactive,
    Pending,
}

/// `ItemsQueryOperator`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum ItemsQueryOperator {
    Or,
    And,
}

/// `ItemsQueryRuleOperator`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum ItemsQueryRuleOperator {
    AnyOf,
    NotAnyOf,
    IsEmpty,
    IsNotEmpty,
    GreaterThan,
    GreaterThanOrEquals,
    LowerThan,
    LowerThanOrEqual,
    Between,
    NotContainsText,
    ContainsText,
    ContainsTerms,
    StartsWith,
    EndsWith,
    WithinTheNext,
    WithinTheLast,
}

/// `ItemsOrderByDirection`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum ItemsOrderByDirection {
    Asc,
    Desc,
}

/// `PositionRelative`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum PositionRelative {
    AfterAt,
    BeforeAt,
}

/// `NumberValueUnitDirection`.
#[allow(missing_docs)]
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "snake_case")]
pub enum NumberValueUnitDirection {
    Left,
    Right,
}
