//! Object types: `Account`, `User`, `Column`, `Group`, `Board`, `ItemsResponse`, `Complexity`,
//! `Webhook`, `Item`.

use async_graphql::{Context, Error, Object, SimpleObject, ID};

use crate::columns::{self, Kind};
use crate::mock::Mock;
use crate::model::{BoardDef, ColumnDef, GroupDef, ItemRec, UserRec};
use crate::state::WebhookRec;

use super::column_values::{column_value, ColumnValue};
use super::enums::{BoardKind, ColumnType, State, UserStatus, WebhookEventType};
use super::inputs::ItemsQuery;
use super::items_page::items_page;
use super::scalars::{Date, Iso8601DateTime, Json};
use super::{api_err, api_version, mock};

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

pub(super) fn account(m: &Mock) -> Account {
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
    pub(super) board_id: String,
    pub(super) position: usize,
    pub(super) def: GroupDef,
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
    /// The board log events (newest first).
    #[allow(clippy::too_many_arguments)]
    async fn activity_logs(
        &self,
        ctx: &Context<'_>,
        column_ids: Option<Vec<Option<String>>>,
        from: Option<Iso8601DateTime>,
        group_ids: Option<Vec<Option<String>>>,
        item_ids: Option<Vec<ID>>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        to: Option<Iso8601DateTime>,
        user_ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<Option<Vec<Option<ActivityLogType>>>> {
        let time = |name: &str, t: Option<Iso8601DateTime>| -> async_graphql::Result<_> {
            t.map(|t| {
                chrono::DateTime::parse_from_rfc3339(&t.0)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        api_err(crate::state::ApiError::InvalidArgument(format!(
                            "Invalid ISO8601DateTime for {name}: {:?}",
                            t.0
                        )))
                    })
            })
            .transpose()
        };
        let strings = |v: Option<Vec<Option<String>>>| v.map(|v| v.into_iter().flatten().collect());
        let ids = |v: Option<Vec<ID>>| v.map(|v| v.into_iter().map(|i| i.0).collect());
        let filter = crate::activity::Filter {
            from: time("from", from)?,
            to: time("to", to)?,
            item_ids: ids(item_ids),
            column_ids: strings(column_ids),
            group_ids: strings(group_ids),
            user_ids: ids(user_ids),
            limit: limit.unwrap_or(25).max(1) as usize,
            page: page.unwrap_or(1).max(1) as usize,
        };
        Ok(Some(
            mock(ctx)
                .activity_logs(&self.0.id, &filter)
                .into_iter()
                .map(|e| Some(ActivityLogType(e)))
                .collect(),
        ))
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

/// `ActivityLogType`: one board log event.
#[derive(Clone, Debug)]
pub struct ActivityLogType(pub crate::activity::ActivityRec);

#[Object(rename_fields = "snake_case")]
impl ActivityLogType {
    async fn account_id(&self) -> String {
        self.0.account_id.clone()
    }
    async fn created_at(&self) -> String {
        self.0.created_at()
    }
    /// The item's column values in string form.
    async fn data(&self) -> String {
        self.0.data.clone()
    }
    async fn entity(&self) -> String {
        "pulse".into()
    }
    async fn event(&self) -> String {
        self.0.event.clone()
    }
    async fn id(&self) -> String {
        self.0.id.clone()
    }
    async fn user_id(&self) -> String {
        self.0.user_id.clone()
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
