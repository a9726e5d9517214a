//! The mutation root (`Mutation`).

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use serde_json::{Map, Value};

use crate::mock::Mock;
use crate::state::{parse_column_values, parse_json_arg, ApiError};

use super::enums::{PositionRelative, WebhookEventType};
use super::objects::{Complexity, Group, Item, Webhook};
use super::query::complexity;
use super::scalars::Json;
use super::{api_err, mock};

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
