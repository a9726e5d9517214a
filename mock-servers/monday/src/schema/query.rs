//! The query root (`Query`).

use async_graphql::{Context, Object, ID};
use serde_json::Value;

use crate::model::ItemRec;

use super::enums::{BoardKind, ItemsQueryOperator, ItemsQueryRuleOperator, State};
use super::inputs::{ItemsPageByColumnValuesQuery, ItemsQuery, ItemsQueryRule};
use super::items_page::{items_page, next_page};
use super::objects::{account, Account, Board, Complexity, Item, ItemsResponse, User, Webhook};
use super::scalars::CompareValue;
use super::{api_err, mock, RequestInfo};

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

pub(super) fn complexity(ctx: &Context<'_>) -> Option<Complexity> {
    let c = ctx.data_opt::<RequestInfo>()?.complexity;
    let clamp = |n: u64| n.min(i32::MAX as u64) as i32;
    Some(Complexity {
        after: clamp(c.after),
        before: clamp(c.before),
        query: clamp(c.query),
        reset_in_x_seconds: clamp(c.reset_in_x_seconds),
    })
}
