//! The GraphQL schema: a faithful subset of Monday's API 2026-10 schema (same type, field and
//! argument names, argument types and nullability).

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, Enum, Error, ErrorExtensions, InputObject, InputValueError,
    InputValueResult, Interface, Object, Scalar, ScalarType, Schema, SimpleObject, ID,
};
use serde_json::{Map, Value};

use crate::columns::{self, Kind};
use crate::mock::Mock;
use crate::model::{BoardDef, ColumnDef, GroupDef, ItemRec, UserRec};
use crate::state::{id_json, parse_column_values, parse_json_arg, ApiError, CursorRec, WebhookRec};

/// The schema type served at `/v2`.
pub type MondaySchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema (introspection enabled).
pub fn build_schema() -> MondaySchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .register_output_type::<ColumnValue>()
        .finish()
}

/// Per-request information the HTTP layer passes to resolvers.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// API version as `YYYYMM` (e.g. 202610).
    pub api_version: u32,
    /// Complexity accounting for `complexity { ... }`.
    pub complexity: ComplexityInfo,
}

/// Complexity numbers of the current request.
#[derive(Clone, Copy, Debug, Default)]
pub struct ComplexityInfo {
    /// Budget left before the query.
    pub before: u64,
    /// Cost of the query.
    pub query: u64,
    /// Budget left after the query.
    pub after: u64,
    /// Seconds until the budget resets.
    pub reset_in_x_seconds: u64,
}

/// Converts an [`ApiError`] into a GraphQL error with Monday's extensions.
pub fn api_err(e: ApiError) -> Error {
    let data =
        async_graphql::Value::from_json(e.error_data()).unwrap_or(async_graphql::Value::Null);
    Error::new(e.to_string()).extend_with(|_, ext| {
        ext.set("code", e.code());
        ext.set("status_code", 200);
        ext.set("error_data", data.clone());
        ext.set("service", "monolith");
    })
}

fn mock<'a>(ctx: &Context<'a>) -> &'a Arc<Mock> {
    // The HTTP layer always attaches the mock; a schema executed without it is a programming error
    // in this crate, reported as a GraphQL error rather than a panic.
    ctx.data_unchecked::<Arc<Mock>>()
}

fn api_version(ctx: &Context<'_>) -> u32 {
    ctx.data_opt::<RequestInfo>()
        .map(|r| r.api_version)
        .unwrap_or(202610)
}

// ---------------------------------------------------------------------------------------------
// Scalars

/// Monday's `JSON` scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub Value);

#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::from_json(self.0.clone()).unwrap_or(async_graphql::Value::Null)
    }
}

/// Monday's `Date` scalar (a string).
#[derive(Clone, Debug, PartialEq)]
pub struct Date(pub String);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        match value {
            async_graphql::Value::String(s) => Ok(Date(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.clone())
    }
}

/// Monday's `ISO8601DateTime` scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Iso8601DateTime(pub String);

#[Scalar(name = "ISO8601DateTime")]
impl ScalarType for Iso8601DateTime {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        match value {
            async_graphql::Value::String(s) => Ok(Iso8601DateTime(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.clone())
    }
}

/// Monday's `CompareValue` scalar (any JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct CompareValue(pub Value);

#[Scalar(name = "CompareValue")]
impl ScalarType for CompareValue {
    fn parse(value: async_graphql::Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(CompareValue)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }
    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::from_json(self.0.clone()).unwrap_or(async_graphql::Value::Null)
    }
}

// ---------------------------------------------------------------------------------------------
// Enums

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
    fn from_name(s: &str) -> State {
        match s {
            "archived" => State::Archived,
            "deleted" => State::Deleted,
            _ => State::Active,
        }
    }
    fn admits(self, s: &str) -> bool {
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
    fn from_name(s: &str) -> Option<WebhookEventType> {
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

// ---------------------------------------------------------------------------------------------
// Inputs

/// `ItemsQueryRule`.
#[derive(InputObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsQueryRule {
    /// Column to compare.
    pub column_id: ID,
    /// Values to compare with.
    pub compare_value: CompareValue,
    /// Attribute to compare.
    pub compare_attribute: Option<String>,
    /// Operator.
    #[graphql(default_with = "Some(ItemsQueryRuleOperator::AnyOf)")]
    pub operator: Option<ItemsQueryRuleOperator>,
}

/// `ItemsQueryGroup`.
#[derive(InputObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsQueryGroup {
    /// Rules.
    pub rules: Option<Vec<ItemsQueryRule>>,
    /// Nested groups.
    pub groups: Option<Vec<ItemsQueryGroup>>,
    /// How rules combine.
    #[graphql(default_with = "Some(ItemsQueryOperator::And)")]
    pub operator: Option<ItemsQueryOperator>,
}

/// `ItemsQueryOrderBy`.
#[derive(InputObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsQueryOrderBy {
    /// Column to sort by.
    pub column_id: String,
    /// Direction.
    #[graphql(default_with = "Some(ItemsOrderByDirection::Asc)")]
    pub direction: Option<ItemsOrderByDirection>,
}

/// `ItemsQuery`.
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsQuery {
    /// Nested rule groups.
    pub groups: Option<Vec<ItemsQueryGroup>>,
    /// Only these item ids.
    pub ids: Option<Vec<ID>>,
    /// How rules combine.
    #[graphql(default_with = "Some(ItemsQueryOperator::And)")]
    pub operator: Option<ItemsQueryOperator>,
    /// Sorting.
    pub order_by: Option<Vec<ItemsQueryOrderBy>>,
    /// Rules.
    pub rules: Option<Vec<ItemsQueryRule>>,
}

/// `ItemsPageByColumnValuesQuery`.
#[derive(InputObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsPageByColumnValuesQuery {
    /// Column id.
    pub column_id: String,
    /// Values (any of).
    pub column_values: Vec<Option<String>>,
}

// ---------------------------------------------------------------------------------------------
// Objects

/// `Account`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct Account {
    /// Account id.
    pub id: ID,
    /// Account name.
    pub name: String,
    /// Account slug.
    pub slug: String,
    /// Plan tier.
    pub tier: Option<String>,
    /// Country code.
    pub country_code: Option<String>,
}

fn account(m: &Mock) -> Account {
    Account {
        id: ID(m.config.account_id.to_string()),
        name: "CTN (mock)".into(),
        slug: "ctn-mock".into(),
        tier: Some("pro".into()),
        country_code: Some("US".into()),
    }
}

/// `User`.
#[derive(Clone, Debug)]
pub struct User(pub UserRec);

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> String {
        self.0.name.clone()
    }
    async fn email(&self) -> String {
        self.0.email.clone()
    }
    async fn title(&self) -> String {
        String::new()
    }
    async fn url(&self) -> String {
        format!("https://ctn-mock.monday.com/users/{}", self.0.id)
    }
    async fn kind(&self) -> String {
        "member".into()
    }
    async fn is_deleted(&self) -> bool {
        false
    }
    async fn status(&self) -> UserStatus {
        UserStatus::Active
    }
    async fn created_at(&self) -> Iso8601DateTime {
        Iso8601DateTime("2024-01-15T09:00:00Z".into())
    }
    async fn account_id(&self, ctx: &Context<'_>) -> ID {
        ID(mock(ctx).config.account_id.to_string())
    }
    async fn account(&self, ctx: &Context<'_>) -> Account {
        account(mock(ctx))
    }
}

/// `Column`.
#[derive(Clone, Debug)]
pub struct Column(pub ColumnDef);

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl Column {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn title(&self) -> String {
        self.0.title.clone()
    }
    async fn description(&self) -> Option<String> {
        self.0.description.clone()
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> ColumnType {
        ColumnType::from_name(&self.0.kind)
    }
    async fn width(&self) -> Option<i32> {
        None
    }
    async fn archived(&self) -> bool {
        self.0.archived
    }
    async fn settings(&self) -> Option<Json> {
        Some(Json(self.0.settings()))
    }
    #[graphql(
        deprecation = "From version 2025-10, use settings instead. Will be removed in a future version."
    )]
    async fn settings_str(&self) -> String {
        self.0.settings_str.clone()
    }
    async fn revision(&self) -> String {
        format!("{:x}", fnv(&self.0.settings_str))
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `Group`.
#[derive(Clone, Debug)]
pub struct Group {
    board_id: String,
    position: usize,
    def: GroupDef,
}

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl Group {
    async fn id(&self) -> ID {
        ID(self.def.id.clone())
    }
    async fn title(&self) -> String {
        self.def.title.clone()
    }
    async fn color(&self) -> String {
        self.def.color.clone()
    }
    async fn archived(&self) -> Option<bool> {
        Some(self.def.archived)
    }
    async fn deleted(&self) -> Option<bool> {
        Some(self.def.deleted)
    }
    async fn position(&self) -> String {
        format!("{}.0", 65536 * (self.position + 1))
    }
    async fn items_page(
        &self,
        ctx: &Context<'_>,
        cursor: Option<String>,
        hierarchy_scope_config: Option<String>,
        #[graphql(default = 25)] limit: i32,
        query_params: Option<ItemsQuery>,
    ) -> async_graphql::Result<ItemsResponse> {
        let _ = hierarchy_scope_config;
        items_page(
            ctx,
            &self.board_id,
            Some(&self.def.id),
            cursor,
            limit,
            query_params,
        )
    }
}

/// `Board`.
#[derive(Clone, Debug)]
pub struct Board(pub BoardDef);

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl Board {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> String {
        self.0.name.clone()
    }
    async fn description(&self) -> Option<String> {
        self.0.description.clone()
    }
    async fn board_kind(&self) -> BoardKind {
        match self.0.board_kind.as_str() {
            "private" => BoardKind::Private,
            "share" => BoardKind::Share,
            _ => BoardKind::Public,
        }
    }
    async fn state(&self) -> State {
        State::from_name(&self.0.state)
    }
    async fn permissions(&self) -> String {
        "everyone".into()
    }
    async fn url(&self) -> String {
        format!("https://ctn-mock.monday.com/boards/{}", self.0.id)
    }
    async fn workspace_id(&self) -> Option<ID> {
        None
    }
    async fn item_terminology(&self) -> Option<String> {
        Some("item".into())
    }
    async fn items_count(&self, ctx: &Context<'_>) -> Option<i32> {
        let st = mock(ctx).lock_state();
        Some(
            st.items
                .values()
                .filter(|i| i.board_id == self.0.id && i.state == "active")
                .count() as i32,
        )
    }
    async fn columns(
        &self,
        ids: Option<Vec<Option<String>>>,
        types: Option<Vec<ColumnType>>,
    ) -> Option<Vec<Option<Column>>> {
        let ids: Option<Vec<String>> = ids.map(|v| v.into_iter().flatten().collect());
        Some(
            self.0
                .columns
                .iter()
                .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                .filter(|c| {
                    types
                        .as_ref()
                        .is_none_or(|t| t.contains(&ColumnType::from_name(&c.kind)))
                })
                .map(|c| Some(Column(c.clone())))
                .collect(),
        )
    }
    async fn groups(&self, ids: Option<Vec<Option<String>>>) -> Option<Vec<Option<Group>>> {
        let ids: Option<Vec<String>> = ids.map(|v| v.into_iter().flatten().collect());
        Some(
            self.0
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| ids.as_ref().is_none_or(|ids| ids.contains(&g.id)))
                .map(|(n, g)| {
                    Some(Group {
                        board_id: self.0.id.clone(),
                        position: n,
                        def: g.clone(),
                    })
                })
                .collect(),
        )
    }
    async fn top_group(&self) -> Group {
        Group {
            board_id: self.0.id.clone(),
            position: 0,
            def: self.0.groups[0].clone(),
        }
    }
    async fn creator(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let st = mock(ctx).lock_state();
        st.me()
            .cloned()
            .map(User)
            .ok_or_else(|| Error::new("board has no creator"))
    }
    async fn owners(&self, ctx: &Context<'_>) -> Vec<Option<User>> {
        let st = mock(ctx).lock_state();
        st.me().cloned().map(User).into_iter().map(Some).collect()
    }
    async fn items_page(
        &self,
        ctx: &Context<'_>,
        cursor: Option<String>,
        hierarchy_scope_config: Option<String>,
        #[graphql(default = 25)] limit: i32,
        query_params: Option<ItemsQuery>,
    ) -> async_graphql::Result<ItemsResponse> {
        let _ = hierarchy_scope_config;
        items_page(ctx, &self.0.id, None, cursor, limit, query_params)
    }
}

/// `ItemsResponse`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct ItemsResponse {
    /// Cursor for `next_items_page` (null on the last page).
    pub cursor: Option<String>,
    /// The items of this page.
    pub items: Vec<Item>,
}

/// `Complexity`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(rename_fields = "snake_case")]
pub struct Complexity {
    /// Budget after the query.
    pub after: i32,
    /// Budget before the query.
    pub before: i32,
    /// Cost of the query.
    pub query: i32,
    /// Seconds until the budget resets.
    pub reset_in_x_seconds: i32,
}

/// `Webhook`.
#[derive(Clone, Debug)]
pub struct Webhook(pub WebhookRec);

#[Object(rename_fields = "snake_case")]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn board_id(&self) -> ID {
        ID(self.0.board_id.clone())
    }
    async fn event(&self) -> WebhookEventType {
        WebhookEventType::from_name(&self.0.event).unwrap_or(WebhookEventType::ChangeColumnValue)
    }
    async fn config(&self) -> Option<String> {
        self.0.config.as_ref().map(|c| c.to_string())
    }
}

/// `Item`.
#[derive(Clone, Debug)]
pub struct Item(pub ItemRec);

#[Object(rename_fields = "snake_case", rename_args = "snake_case")]
impl Item {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> String {
        self.0.name.clone()
    }
    async fn state(&self) -> Option<State> {
        Some(State::from_name(&self.0.state))
    }
    async fn created_at(&self) -> Option<Date> {
        self.0.created_at.clone().map(Date)
    }
    async fn updated_at(&self) -> Option<Date> {
        self.0
            .updated_at
            .clone()
            .or_else(|| self.0.created_at.clone())
            .map(Date)
    }
    async fn creator_id(&self) -> String {
        self.0.creator_id.clone().unwrap_or_default()
    }
    async fn creator(&self, ctx: &Context<'_>) -> Option<User> {
        let st = mock(ctx).lock_state();
        let id = self.0.creator_id.clone()?;
        st.users.iter().find(|u| u.id == id).cloned().map(User)
    }
    async fn email(&self) -> String {
        format!("pulse-{}@ctn-mock.monday.com", self.0.id)
    }
    async fn url(&self) -> String {
        format!(
            "https://ctn-mock.monday.com/boards/{}/pulses/{}",
            self.0.board_id, self.0.id
        )
    }
    async fn relative_link(&self) -> Option<String> {
        Some(format!("/boards/{}/pulses/{}", self.0.board_id, self.0.id))
    }
    async fn board(&self, ctx: &Context<'_>) -> Option<Board> {
        let st = mock(ctx).lock_state();
        st.board(&self.0.board_id).ok().cloned().map(Board)
    }
    async fn group(&self, ctx: &Context<'_>) -> Option<Group> {
        let st = mock(ctx).lock_state();
        let board = st.board(&self.0.board_id).ok()?;
        let position = board.groups.iter().position(|g| g.id == self.0.group_id)?;
        Some(Group {
            board_id: board.id.clone(),
            position,
            def: board.groups[position].clone(),
        })
    }
    async fn parent_item(&self) -> Option<Item> {
        None
    }
    async fn subitems(&self) -> Option<Vec<Option<Item>>> {
        Some(Vec::new())
    }
    async fn subscribers(&self, ctx: &Context<'_>) -> Vec<Option<User>> {
        let st = mock(ctx).lock_state();
        let id = self.0.creator_id.clone().unwrap_or_default();
        st.users
            .iter()
            .filter(|u| u.id == id)
            .cloned()
            .map(|u| Some(User(u)))
            .collect()
    }
    async fn column_values(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<String>>,
        types: Option<Vec<ColumnType>>,
    ) -> async_graphql::Result<Vec<ColumnValue>> {
        let version = api_version(ctx);
        let st = mock(ctx).lock_state();
        let board = st.board(&self.0.board_id).map_err(api_err)?;
        // Read the live item so values are current even on an item returned by an earlier mutation.
        let item = self
            .0
            .id
            .parse::<u64>()
            .ok()
            .and_then(|k| st.items.get(&k))
            .cloned()
            .unwrap_or_else(|| self.0.clone());
        Ok(board
            .columns
            .iter()
            .filter(|c| Kind::of(&c.kind) != Kind::Name)
            .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
            .filter(|c| {
                types
                    .as_ref()
                    .is_none_or(|t| t.contains(&ColumnType::from_name(&c.kind)))
            })
            .map(|c| column_value(c, &item, &st.users, version))
            .collect())
    }
    async fn linked_items(
        &self,
        ctx: &Context<'_>,
        link_to_item_column_id: String,
        linked_board_id: ID,
    ) -> Vec<Item> {
        let st = mock(ctx).lock_state();
        let live = self
            .0
            .id
            .parse::<u64>()
            .ok()
            .and_then(|k| st.items.get(&k))
            .cloned()
            .unwrap_or_else(|| self.0.clone());
        columns::linked_item_ids(live.column_values.get(&link_to_item_column_id))
            .into_iter()
            .filter_map(|id| st.items.get(&id))
            .filter(|i| i.board_id == linked_board_id.0 && i.state != "deleted")
            .cloned()
            .map(Item)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Column values

/// Data shared by every `ColumnValue` implementation.
#[derive(Clone, Debug)]
pub struct Cv {
    col: ColumnDef,
    stored: Option<Value>,
    text: Option<String>,
    api_version: u32,
}

impl Cv {
    fn value(&self) -> Option<Json> {
        if Kind::of(&self.col.kind) == Kind::BoardRelation && self.api_version >= 202504 {
            return None;
        }
        self.stored
            .as_ref()
            .map(|v| Json(Value::String(v.to_string())))
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.stored
            .as_ref()
            .and_then(|v| v.get(key))
            .filter(|v| !v.is_null())
    }
    fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(Value::as_str).map(str::to_string)
    }
    fn updated_at(&self) -> Option<Date> {
        self.get_str("changed_at").map(Date)
    }
}

macro_rules! column_value_type {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Cv);

        #[Object(rename_fields = "snake_case", rename_args = "snake_case")]
        impl $name {
            async fn column(&self) -> Column {
                Column(self.0.col.clone())
            }
            async fn id(&self) -> ID {
                ID(self.0.col.id.clone())
            }
            async fn is_leaf(&self) -> bool {
                true
            }
            async fn text(&self) -> Option<String> {
                self.0.text.clone()
            }
            #[graphql(name = "type")]
            async fn kind(&self) -> ColumnType {
                ColumnType::from_name(&self.0.col.kind)
            }
            async fn value(&self) -> Option<Json> {
                self.0.value()
            }
            $($extra)*
        }
    };
}

/// `StatusLabelStyle`.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusLabelStyle {
    /// Border colour.
    pub border: String,
    /// Fill colour.
    pub color: String,
}

/// `DropdownValueOption`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DropdownValueOption {
    /// Label id.
    pub id: ID,
    /// Label text.
    pub label: String,
}

/// `PeopleEntity`.
#[derive(SimpleObject, Clone, Debug)]
pub struct PeopleEntity {
    /// User or team id.
    pub id: ID,
    /// `person` or `team`.
    pub kind: Option<Kind_>,
}

/// `Country`.
#[derive(SimpleObject, Clone, Debug)]
pub struct Country {
    /// ISO alpha-2 code.
    pub code: String,
    /// Country name.
    pub name: String,
}

column_value_type!(
    /// `TextValue`.
    TextValue {}
);
column_value_type!(
    /// `LongTextValue`.
    LongTextValue {
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `NumbersValue`.
    NumbersValue {
        async fn number(&self) -> Option<f64> {
            self.0.stored.as_ref().and_then(Value::as_str).and_then(|s| s.parse().ok())
        }
        async fn symbol(&self) -> Option<String> {
            self.0.col.settings()["unit"]["symbol"].as_str().map(str::to_string)
        }
        async fn direction(&self) -> Option<NumberValueUnitDirection> {
            match self.0.col.settings()["unit"]["direction"].as_str() {
                Some("left") => Some(NumberValueUnitDirection::Left),
                Some("right") => Some(NumberValueUnitDirection::Right),
                _ => None,
            }
        }
    }
);
column_value_type!(
    /// `StatusValue`.
    StatusValue {
        async fn index(&self) -> Option<i32> { self.0.get("index").and_then(Value::as_i64).map(|i| i as i32) }
        async fn label(&self) -> Option<String> { self.0.text.clone() }
        async fn is_done(&self) -> Option<bool> {
            let idx = self.0.get("index").and_then(Value::as_i64)?;
            Some(self.0.col.settings()["done_colors"].as_array().is_some_and(|d| d.iter().any(|x| x.as_i64() == Some(idx))))
        }
        async fn label_style(&self) -> Option<StatusLabelStyle> {
            let idx = self.0.get("index").and_then(Value::as_i64)?;
            let s = self.0.col.settings();
            let c = &s["labels_colors"][idx.to_string()];
            Some(StatusLabelStyle { border: c["border"].as_str()?.to_string(), color: c["color"].as_str()?.to_string() })
        }
        async fn update_id(&self) -> Option<ID> { None }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `DropdownValue`.
    DropdownValue {
        async fn values(&self) -> Vec<DropdownValueOption> {
            let labels = columns::dropdown_labels(&self.0.col);
            self.0.get("ids").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_i64)
                .filter_map(|id| labels.iter().find(|(i, _)| *i == id))
                .map(|(i, n)| DropdownValueOption { id: ID(i.to_string()), label: n.clone() }).collect()).unwrap_or_default()
        }
    }
);
column_value_type!(
    /// `DateValue`.
    DateValue {
        async fn date(&self) -> Option<String> { self.0.get_str("date") }
        async fn time(&self) -> Option<String> { self.0.get_str("time") }
        async fn icon(&self) -> Option<String> { self.0.get_str("icon") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `EmailValue`.
    EmailValue {
        async fn email(&self) -> Option<String> { self.0.get_str("email") }
        async fn label(&self) -> Option<String> { self.0.get_str("text") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `PhoneValue`.
    PhoneValue {
        async fn phone(&self) -> Option<String> { self.0.get_str("phone") }
        async fn country_short_name(&self) -> Option<String> { self.0.get_str("countryShortName") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `LinkValue`.
    LinkValue {
        async fn url(&self) -> Option<String> { self.0.get_str("url") }
        async fn url_text(&self) -> Option<String> { self.0.get_str("text") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `CheckboxValue`.
    CheckboxValue {
        async fn checked(&self) -> Option<bool> { Some(self.0.get("checked").and_then(Value::as_bool).unwrap_or(false)) }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `CountryValue`.
    CountryValue {
        async fn country(&self) -> Option<Country> {
            Some(Country { code: self.0.get_str("countryCode")?, name: self.0.get_str("countryName")? })
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `PeopleValue`.
    PeopleValue {
        async fn persons_and_teams(&self) -> Option<Vec<PeopleEntity>> {
            let list = self.0.get("personsAndTeams")?.as_array()?;
            Some(list.iter().map(|p| PeopleEntity {
                id: ID(match &p["id"] { Value::String(s) => s.clone(), other => other.to_string() }),
                kind: Some(if p["kind"] == "team" { Kind_::Team } else { Kind_::Person }),
            }).collect())
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `BoardRelationValue`.
    BoardRelationValue {
        async fn linked_item_ids(&self) -> Vec<ID> {
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter().map(|i| ID(i.to_string())).collect()
        }
        async fn linked_items(&self, ctx: &Context<'_>) -> Vec<Item> {
            let st = mock(ctx).lock_state();
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter()
                .filter_map(|id| st.items.get(&id)).filter(|i| i.state != "deleted").cloned().map(Item).collect()
        }
        async fn display_value(&self, ctx: &Context<'_>) -> String {
            let st = mock(ctx).lock_state();
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter()
                .filter_map(|id| st.items.get(&id)).filter(|i| i.state != "deleted").map(|i| i.name.clone())
                .collect::<Vec<_>>().join(", ")
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `TimelineValue`.
    TimelineValue {
        async fn from(&self) -> Option<Date> { self.0.get_str("from").map(Date) }
        async fn to(&self) -> Option<Date> { self.0.get_str("to").map(Date) }
        async fn visualization_type(&self) -> Option<String> { self.0.get_str("visualization_type") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `RatingValue`.
    RatingValue {
        async fn rating(&self) -> Option<i32> { self.0.get("rating").and_then(Value::as_i64).map(|r| r as i32) }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);

/// The `ColumnValue` interface.
#[allow(missing_docs)]
#[derive(Interface, Clone, Debug)]
#[graphql(
    rename_fields = "snake_case",
    field(name = "column", ty = "Column"),
    field(name = "id", ty = "ID"),
    field(name = "is_leaf", ty = "bool"),
    field(name = "text", ty = "Option<String>"),
    field(name = "type", method = "kind", ty = "ColumnType"),
    field(name = "value", ty = "Option<Json>")
)]
pub enum ColumnValue {
    TextValue(TextValue),
    LongTextValue(LongTextValue),
    NumbersValue(NumbersValue),
    StatusValue(StatusValue),
    DropdownValue(DropdownValue),
    DateValue(DateValue),
    EmailValue(EmailValue),
    PhoneValue(PhoneValue),
    LinkValue(LinkValue),
    CheckboxValue(CheckboxValue),
    CountryValue(CountryValue),
    PeopleValue(PeopleValue),
    BoardRelationValue(BoardRelationValue),
    TimelineValue(TimelineValue),
    RatingValue(RatingValue),
}

fn column_value(
    col: &ColumnDef,
    item: &ItemRec,
    users: &[UserRec],
    api_version: u32,
) -> ColumnValue {
    let stored = item
        .column_values
        .get(&col.id)
        .cloned()
        .filter(|v| !v.is_null());
    let text = columns::render_text(col, stored.as_ref(), users);
    let cv = Cv {
        col: col.clone(),
        stored,
        text,
        api_version,
    };
    match Kind::of(&col.kind) {
        Kind::Text | Kind::Name | Kind::Other => ColumnValue::TextValue(TextValue(cv)),
        Kind::LongText => ColumnValue::LongTextValue(LongTextValue(cv)),
        Kind::Numbers => ColumnValue::NumbersValue(NumbersValue(cv)),
        Kind::Status => ColumnValue::StatusValue(StatusValue(cv)),
        Kind::Dropdown => ColumnValue::DropdownValue(DropdownValue(cv)),
        Kind::Date => ColumnValue::DateValue(DateValue(cv)),
        Kind::Email => ColumnValue::EmailValue(EmailValue(cv)),
        Kind::Phone => ColumnValue::PhoneValue(PhoneValue(cv)),
        Kind::Link => ColumnValue::LinkValue(LinkValue(cv)),
        Kind::Checkbox => ColumnValue::CheckboxValue(CheckboxValue(cv)),
        Kind::Country => ColumnValue::CountryValue(CountryValue(cv)),
        Kind::People => ColumnValue::PeopleValue(PeopleValue(cv)),
        Kind::BoardRelation => ColumnValue::BoardRelationValue(BoardRelationValue(cv)),
        Kind::Timeline => ColumnValue::TimelineValue(TimelineValue(cv)),
        Kind::Rating => ColumnValue::RatingValue(RatingValue(cv)),
    }
}

// ---------------------------------------------------------------------------------------------
// items_page and filtering

const MAX_PAGE: i32 = 500;

fn check_limit(limit: i32) -> Result<usize, ApiError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidArgument(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    Ok(limit as usize)
}

fn encode_cursor(board_id: &str, token: &str, offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("1,{board_id},{token},13,{offset},|"))
}

fn decode_cursor(cursor: &str) -> Option<(String, usize)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() < 5 || parts[0] != "1" {
        return None;
    }
    Some((parts[2].to_string(), parts[4].parse().ok()?))
}

fn items_page(
    ctx: &Context<'_>,
    board_id: &str,
    group_id: Option<&str>,
    cursor: Option<String>,
    limit: i32,
    query: Option<ItemsQuery>,
) -> async_graphql::Result<ItemsResponse> {
    if let Some(c) = cursor {
        return next_page(ctx, &c, limit);
    }
    let limit = check_limit(limit).map_err(api_err)?;
    let m = mock(ctx);
    let mut st = m.lock_state();
    let board = st.board(board_id).map_err(api_err)?.clone();
    let query = query.unwrap_or_default();
    let mut ids: Vec<u64> = Vec::new();
    for (id, item) in st.items.iter() {
        if item.board_id != board.id || item.state != "active" {
            continue;
        }
        if group_id.is_some_and(|g| item.group_id != g) {
            continue;
        }
        if let Some(only) = &query.ids {
            if !only.iter().any(|i| i.0 == item.id) {
                continue;
            }
        }
        if !matches_query(&board, item, &st.users, &query).map_err(api_err)? {
            continue;
        }
        ids.push(*id);
    }
    if let Some(order) = &query.order_by {
        for o in order.iter().rev() {
            let col = board.column(&o.column_id).cloned();
            let key = |id: &u64| -> String {
                let item = &st.items[id];
                match &col {
                    Some(c) if c.kind == "name" => item.name.clone(),
                    Some(c) => columns::render_text(c, item.column_values.get(&c.id), &st.users)
                        .unwrap_or_default(),
                    None => item.created_at.clone().unwrap_or_default(),
                }
            };
            ids.sort_by_key(key);
            if o.direction == Some(ItemsOrderByDirection::Desc) {
                ids.reverse();
            }
        }
    }
    let page: Vec<Item> = ids
        .iter()
        .take(limit)
        .filter_map(|id| st.items.get(id))
        .cloned()
        .map(Item)
        .collect();
    let cursor = if ids.len() > limit {
        let token = uuid::Uuid::new_v4().simple().to_string()[..20].to_string();
        st.cursors.insert(
            token.clone(),
            CursorRec {
                remaining: ids,
                issued: std::time::Instant::now(),
            },
        );
        Some(encode_cursor(&board.id, &token, limit))
    } else {
        None
    };
    Ok(ItemsResponse {
        cursor,
        items: page,
    })
}

fn next_page(ctx: &Context<'_>, cursor: &str, limit: i32) -> async_graphql::Result<ItemsResponse> {
    let limit = check_limit(limit).map_err(api_err)?;
    let m = mock(ctx);
    let ttl = m.config.cursor_ttl;
    let mut st = m.lock_state();
    let (token, offset) = decode_cursor(cursor)
        .ok_or_else(|| api_err(ApiError::InvalidCursor(cursor.to_string())))?;
    let rec = st
        .cursors
        .get(&token)
        .cloned()
        .ok_or_else(|| api_err(ApiError::InvalidCursor(cursor.to_string())))?;
    if rec.issued.elapsed() > ttl {
        return Err(api_err(ApiError::CursorExpired));
    }
    let ids: Vec<u64> = rec.remaining.iter().skip(offset).copied().collect();
    let page: Vec<Item> = ids
        .iter()
        .filter_map(|id| st.items.get(id))
        .filter(|i| i.state == "active")
        .take(limit)
        .cloned()
        .map(Item)
        .collect();
    let consumed = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| st.items.get(id).is_some_and(|i| i.state == "active"))
        .nth(limit.saturating_sub(1))
        .map(|(n, _)| n + 1)
        .unwrap_or(ids.len());
    let new_offset = offset + consumed;
    let board_id = page
        .first()
        .map(|i| i.0.board_id.clone())
        .unwrap_or_default();
    let more = rec
        .remaining
        .iter()
        .skip(new_offset)
        .any(|id| st.items.get(id).is_some_and(|i| i.state == "active"));
    let next = if more {
        Some(encode_cursor(&board_id, &token, new_offset))
    } else {
        None
    };
    if !more {
        st.cursors.remove(&token);
        // Keep an expired marker so that reusing a finished cursor is reported like Monday does.
        st.cursors.insert(
            token,
            CursorRec {
                remaining: Vec::new(),
                issued: rec.issued,
            },
        );
    }
    Ok(ItemsResponse {
        cursor: next,
        items: page,
    })
}

fn json_id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare_values(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn value_matches(col: &ColumnDef, stored: Option<&Value>, text: &str, candidate: &Value) -> bool {
    let as_str = match candidate {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match Kind::of(&col.kind) {
        Kind::Status => {
            let idx = stored.and_then(|v| v.get("index")).and_then(Value::as_i64);
            idx.is_some_and(|i| i.to_string() == as_str) || text == as_str
        }
        Kind::Dropdown => {
            let ids: Vec<String> = stored
                .and_then(|v| v["ids"].as_array())
                .map(|a| a.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default();
            ids.contains(&as_str) || text.split(", ").any(|t| t == as_str)
        }
        Kind::People => stored
            .and_then(|v| v["personsAndTeams"].as_array())
            .is_some_and(|a| a.iter().any(|p| json_id_string(&p["id"]) == as_str)),
        Kind::BoardRelation => columns::linked_item_ids(stored)
            .iter()
            .any(|i| i.to_string() == as_str),
        Kind::Checkbox => {
            stored
                .and_then(|v| v["checked"].as_bool())
                .unwrap_or(false)
                .to_string()
                == as_str
        }
        _ => text == as_str,
    }
}

fn rule_matches(
    board: &BoardDef,
    item: &ItemRec,
    users: &[UserRec],
    rule: &ItemsQueryRule,
) -> Result<bool, ApiError> {
    let op = rule.operator.unwrap_or(ItemsQueryRuleOperator::AnyOf);
    let (text, stored, col) = if rule.column_id.0 == "name" {
        (item.name.clone(), None, None)
    } else {
        let col = board
            .column(&rule.column_id.0)
            .ok_or_else(|| ApiError::InvalidColumnId {
                column_id: rule.column_id.0.clone(),
                board_id: id_json(&board.id),
            })?;
        let stored = item.column_values.get(&col.id);
        (
            columns::render_text(col, stored, users).unwrap_or_default(),
            stored,
            Some(col),
        )
    };
    let cands = compare_values(&rule.compare_value.0);
    let any = |c: &Value| match col {
        Some(col) => value_matches(col, stored, &text, c),
        None => c.as_str() == Some(text.as_str()),
    };
    let num = |c: &Value| -> Option<f64> {
        c.as_f64()
            .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
    };
    let mine: Option<f64> = text.parse().ok();
    let first = cands.first().cloned().unwrap_or(Value::Null);
    let first_str = first
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| first.to_string());
    Ok(match op {
        ItemsQueryRuleOperator::AnyOf => cands.iter().any(any),
        ItemsQueryRuleOperator::NotAnyOf => !cands.iter().any(any),
        ItemsQueryRuleOperator::IsEmpty => text.is_empty() && stored.is_none(),
        ItemsQueryRuleOperator::IsNotEmpty => !(text.is_empty() && stored.is_none()),
        ItemsQueryRuleOperator::ContainsText => {
            text.to_lowercase().contains(&first_str.to_lowercase())
        }
        ItemsQueryRuleOperator::NotContainsText => {
            !text.to_lowercase().contains(&first_str.to_lowercase())
        }
        ItemsQueryRuleOperator::StartsWith => text.starts_with(&first_str),
        ItemsQueryRuleOperator::EndsWith => text.ends_with(&first_str),
        ItemsQueryRuleOperator::GreaterThan => {
            matches!((mine, num(&first)), (Some(a), Some(b)) if a > b)
        }
        ItemsQueryRuleOperator::GreaterThanOrEquals => {
            matches!((mine, num(&first)), (Some(a), Some(b)) if a >= b)
        }
        ItemsQueryRuleOperator::LowerThan => {
            matches!((mine, num(&first)), (Some(a), Some(b)) if a < b)
        }
        ItemsQueryRuleOperator::LowerThanOrEqual => {
            matches!((mine, num(&first)), (Some(a), Some(b)) if a <= b)
        }
        other => {
            return Err(ApiError::InvalidArgument(format!(
                "operator {} is not supported by the mock",
                async_graphql::Value::from(other)
            )))
        }
    })
}

fn group_matches(
    board: &BoardDef,
    item: &ItemRec,
    users: &[UserRec],
    rules: &[ItemsQueryRule],
    groups: &[ItemsQueryGroup],
    op: ItemsQueryOperator,
) -> Result<bool, ApiError> {
    let mut results = Vec::new();
    for r in rules {
        results.push(rule_matches(board, item, users, r)?);
    }
    for g in groups {
        results.push(group_matches(
            board,
            item,
            users,
            g.rules.as_deref().unwrap_or_default(),
            g.groups.as_deref().unwrap_or_default(),
            g.operator.unwrap_or(ItemsQueryOperator::And),
        )?);
    }
    if results.is_empty() {
        return Ok(true);
    }
    Ok(match op {
        ItemsQueryOperator::And => results.iter().all(|r| *r),
        ItemsQueryOperator::Or => results.iter().any(|r| *r),
    })
}

fn matches_query(
    board: &BoardDef,
    item: &ItemRec,
    users: &[UserRec],
    q: &ItemsQuery,
) -> Result<bool, ApiError> {
    group_matches(
        board,
        item,
        users,
        q.rules.as_deref().unwrap_or_default(),
        q.groups.as_deref().unwrap_or_default(),
        q.operator.unwrap_or(ItemsQueryOperator::And),
    )
}

// ---------------------------------------------------------------------------------------------
// Roots

/// The query root.
pub struct QueryRoot;

#[Object(
    name = "Query",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl QueryRoot {
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        mock(ctx).lock_state().me().cloned().map(User)
    }

    async fn account(&self, ctx: &Context<'_>) -> Option<Account> {
        Some(account(mock(ctx)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        name: Option<String>,
        emails: Option<Vec<String>>,
        #[graphql(default_with = "Some(200)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        non_active: Option<bool>,
        newest_first: Option<bool>,
    ) -> Option<Vec<User>> {
        let _ = (non_active, newest_first);
        let st = mock(ctx).lock_state();
        let limit = limit.unwrap_or(200).max(0) as usize;
        let page = page.unwrap_or(1).max(1) as usize;
        Some(
            st.users
                .iter()
                .filter(|u| {
                    ids.as_ref()
                        .is_none_or(|ids| ids.iter().any(|i| i.0 == u.id))
                })
                .filter(|u| emails.as_ref().is_none_or(|e| e.contains(&u.email)))
                .filter(|u| {
                    name.as_ref()
                        .is_none_or(|n| u.name.to_lowercase().contains(&n.to_lowercase()))
                })
                .skip((page - 1) * limit)
                .take(limit)
                .cloned()
                .map(User)
                .collect(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn boards(
        &self,
        ctx: &Context<'_>,
        board_kind: Option<BoardKind>,
        ids: Option<Vec<ID>>,
        latest: Option<bool>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        #[graphql(default_with = "Some(State::Active)")] state: Option<State>,
        workspace_ids: Option<Vec<Option<ID>>>,
    ) -> Option<Vec<Option<Board>>> {
        let _ = (latest, workspace_ids);
        let st = mock(ctx).lock_state();
        let limit = limit.unwrap_or(25).max(0) as usize;
        let page = page.unwrap_or(1).max(1) as usize;
        let state = state.unwrap_or(State::Active);
        Some(
            st.boards
                .iter()
                .filter(|b| {
                    ids.as_ref()
                        .is_none_or(|ids| ids.iter().any(|i| i.0.trim() == b.id))
                })
                .filter(|b| state.admits(&b.state))
                .filter(|b| {
                    board_kind.is_none_or(|k| {
                        let name = async_graphql::Value::from(k).to_string();
                        name == b.board_kind
                    })
                })
                .skip((page - 1) * limit)
                .take(limit)
                .cloned()
                .map(|b| Some(Board(b)))
                .collect(),
        )
    }

    async fn items(
        &self,
        ctx: &Context<'_>,
        exclude_nonactive: Option<bool>,
        ids: Option<Vec<ID>>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        newest_first: Option<bool>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Option<Vec<Option<Item>>> {
        let st = mock(ctx).lock_state();
        let limit = limit.unwrap_or(25).max(0) as usize;
        let page = page.unwrap_or(1).max(1) as usize;
        let mut list: Vec<&ItemRec> = match &ids {
            Some(ids) => ids
                .iter()
                .filter_map(|i| i.0.trim().parse::<u64>().ok())
                .filter_map(|i| st.items.get(&i))
                .collect(),
            None => st.items.values().collect(),
        };
        list.retain(|i| i.state != "deleted");
        if exclude_nonactive == Some(true) {
            list.retain(|i| i.state == "active");
        }
        if newest_first == Some(true) {
            list.reverse();
        }
        Some(
            list.into_iter()
                .skip((page - 1) * limit)
                .take(limit)
                .cloned()
                .map(|i| Some(Item(i)))
                .collect(),
        )
    }

    async fn next_items_page(
        &self,
        ctx: &Context<'_>,
        cursor: String,
        #[graphql(default = 25)] limit: i32,
    ) -> async_graphql::Result<ItemsResponse> {
        next_page(ctx, &cursor, limit)
    }

    async fn items_page_by_column_values(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        columns: Option<Vec<ItemsPageByColumnValuesQuery>>,
        cursor: Option<String>,
        hierarchy_scope_config: Option<String>,
        #[graphql(default = 25)] limit: i32,
    ) -> async_graphql::Result<ItemsResponse> {
        let _ = hierarchy_scope_config;
        if let Some(c) = cursor {
            return next_page(ctx, &c, limit);
        }
        let rules: Vec<ItemsQueryRule> = columns
            .unwrap_or_default()
            .into_iter()
            .map(|c| ItemsQueryRule {
                column_id: ID(c.column_id),
                compare_value: CompareValue(Value::Array(
                    c.column_values
                        .into_iter()
                        .flatten()
                        .map(Value::String)
                        .collect(),
                )),
                compare_attribute: None,
                operator: Some(ItemsQueryRuleOperator::AnyOf),
            })
            .collect();
        let q = ItemsQuery {
            rules: Some(rules),
            operator: Some(ItemsQueryOperator::And),
            ..Default::default()
        };
        items_page(ctx, &board_id.0, None, None, limit, Some(q))
    }

    async fn complexity(&self, ctx: &Context<'_>) -> Option<Complexity> {
        complexity(ctx)
    }

    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        app_webhooks_only: Option<bool>,
        board_id: ID,
    ) -> async_graphql::Result<Option<Vec<Option<Webhook>>>> {
        let st = mock(ctx).lock_state();
        st.board(&board_id.0).map_err(api_err)?;
        Ok(Some(
            st.webhooks
                .iter()
                .filter(|w| w.board_id == board_id.0.trim())
                .filter(|w| app_webhooks_only != Some(true) || w.app_webhook)
                .cloned()
                .map(|w| Some(Webhook(w)))
                .collect(),
        ))
    }
}

fn complexity(ctx: &Context<'_>) -> Option<Complexity> {
    let c = ctx.data_opt::<RequestInfo>()?.complexity;
    let clamp = |n: u64| n.min(i32::MAX as u64) as i32;
    Some(Complexity {
        after: clamp(c.after),
        before: clamp(c.before),
        query: clamp(c.query),
        reset_in_x_seconds: clamp(c.reset_in_x_seconds),
    })
}

/// The mutation root.
pub struct MutationRoot;

fn single(column_id: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(column_id.to_string(), v);
    m
}

fn required_item(item_id: Option<ID>) -> Result<String, ApiError> {
    item_id
        .map(|i| i.0)
        .ok_or(ApiError::InvalidItemId(Value::Null))
}

#[Object(
    name = "Mutation",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl MutationRoot {
    /// The complexity of this request (Monday serves it on the mutation root too).
    async fn complexity(&self, ctx: &Context<'_>) -> Option<Complexity> {
        complexity(ctx)
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_item(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        column_values: Option<Json>,
        create_labels_if_missing: Option<bool>,
        group_id: Option<String>,
        item_name: String,
        position_relative_method: Option<PositionRelative>,
        relative_to: Option<ID>,
    ) -> async_graphql::Result<Option<Item>> {
        let _ = (position_relative_method, relative_to);
        let m = mock(ctx);
        let values = parse_column_values(column_values.as_ref().map(|j| &j.0)).map_err(api_err)?;
        let (item, events) = {
            let mut st = m.lock_state();
            let me = st.me().map(|u| u.id.clone()).unwrap_or_default();
            st.create_item(
                &board_id.0,
                &item_name,
                group_id.as_deref(),
                &values,
                create_labels_if_missing.unwrap_or(false),
                &me,
            )
            .map_err(api_err)?
        };
        m.emit(events);
        Ok(Some(Item(item)))
    }

    async fn change_multiple_column_values(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        column_values: Json,
        create_labels_if_missing: Option<bool>,
        item_id: Option<ID>,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let values = parse_column_values(Some(&column_values.0)).map_err(api_err)?;
        change(
            m,
            &board_id.0,
            &item_id,
            &values,
            create_labels_if_missing.unwrap_or(false),
        )
    }

    async fn change_column_value(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        column_id: String,
        create_labels_if_missing: Option<bool>,
        item_id: Option<ID>,
        value: Json,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let parsed = parse_json_arg(&value.0).map_err(api_err)?;
        change(
            m,
            &board_id.0,
            &item_id,
            &single(&column_id, parsed),
            create_labels_if_missing.unwrap_or(false),
        )
    }

    async fn change_simple_column_value(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        column_id: String,
        create_labels_if_missing: Option<bool>,
        item_id: Option<ID>,
        value: Option<String>,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let v = value.map(Value::String).unwrap_or(Value::Null);
        change(
            m,
            &board_id.0,
            &item_id,
            &single(&column_id, v),
            create_labels_if_missing.unwrap_or(false),
        )
    }

    async fn delete_item(
        &self,
        ctx: &Context<'_>,
        item_id: Option<ID>,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let (item, events) = {
            let mut st = m.lock_state();
            let me = st.me().map(|u| u.id.clone()).unwrap_or_default();
            st.delete_item(&item_id, &me).map_err(api_err)?
        };
        m.emit(events);
        Ok(Some(Item(item)))
    }

    async fn archive_item(
        &self,
        ctx: &Context<'_>,
        item_id: Option<ID>,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let (item, events) = {
            let mut st = m.lock_state();
            let me = st.me().map(|u| u.id.clone()).unwrap_or_default();
            st.archive_item(&item_id, &me).map_err(api_err)?
        };
        m.emit(events);
        Ok(Some(Item(item)))
    }

    async fn move_item_to_group(
        &self,
        ctx: &Context<'_>,
        group_id: String,
        item_id: Option<ID>,
    ) -> async_graphql::Result<Option<Item>> {
        let m = mock(ctx);
        let item_id = required_item(item_id).map_err(api_err)?;
        let (item, events) = {
            let mut st = m.lock_state();
            let me = st.me().map(|u| u.id.clone()).unwrap_or_default();
            st.move_item(&item_id, &group_id, &me).map_err(api_err)?
        };
        m.emit(events);
        Ok(Some(Item(item)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        group_color: Option<String>,
        group_name: String,
        position: Option<String>,
        position_relative_method: Option<PositionRelative>,
        relative_to: Option<String>,
    ) -> async_graphql::Result<Option<Group>> {
        let _ = (position, position_relative_method, relative_to);
        let m = mock(ctx);
        let mut st = m.lock_state();
        let g = st
            .create_group(&board_id.0, &group_name, group_color.as_deref())
            .map_err(api_err)?;
        Ok(Some(Group {
            board_id: board_id.0.trim().to_string(),
            position: 0,
            def: g,
        }))
    }

    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        config: Option<Json>,
        event: WebhookEventType,
        url: String,
    ) -> async_graphql::Result<Option<Webhook>> {
        let m = mock(ctx);
        {
            let st = m.lock_state();
            st.board(&board_id.0).map_err(api_err)?;
        }
        let config = match config {
            Some(c) => Some(parse_json_arg(&c.0).map_err(api_err)?),
            None => None,
        };
        let app_webhook = m.config.signing_secret.is_some();
        m.challenge(&url, app_webhook).await.map_err(api_err)?;
        let mut st = m.lock_state();
        let w = st
            .add_webhook(&board_id.0, &url, &event.name(), config, app_webhook)
            .map_err(api_err)?;
        Ok(Some(Webhook(w)))
    }

    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Webhook>> {
        let m = mock(ctx);
        let mut st = m.lock_state();
        let w = st.delete_webhook(&id.0).map_err(api_err)?;
        Ok(Some(Webhook(w)))
    }
}

fn change(
    m: &Arc<Mock>,
    board_id: &str,
    item_id: &str,
    values: &Map<String, Value>,
    create_labels: bool,
) -> async_graphql::Result<Option<Item>> {
    let (item, events) = {
        let mut st = m.lock_state();
        let me = st.me().map(|u| u.id.clone()).unwrap_or_default();
        st.change_values(board_id, item_id, values, create_labels, &me)
            .map_err(api_err)?
    };
    m.emit(events);
    Ok(Some(Item(item)))
}
