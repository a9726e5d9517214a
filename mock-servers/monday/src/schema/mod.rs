//! The GraphQL schema: a faithful subset of Monday's API 2026-10 schema (same type, field and
//! argument names, argument types and nullability).
//!
//! One module per part of the schema; the filter engine of `items_page` is the `filter` module.

mod column_values;
mod enums;
mod filter;
mod inputs;
mod items_page;
mod mutation;
mod objects;
mod query;
mod scalars;

pub use self::column_values::{
    ColumnValue, Country, Cv, DropdownValueOption, PeopleEntity, StatusLabelStyle,
};
pub use self::enums::{
    BoardKind, ColumnType, ItemsOrderByDirection, ItemsQueryOperator, ItemsQueryRuleOperator,
    Kind_, NumberValueUnitDirection, PositionRelative, State, UserStatus, WebhookEventType,
};
pub use self::inputs::{
    ItemsPageByColumnValuesQuery, ItemsQuery, ItemsQueryGroup, ItemsQueryOrderBy, ItemsQueryRule,
};
pub use self::mutation::MutationRoot;
pub use self::objects::{
    Account, Board, Column, Complexity, Group, Item, ItemsResponse, User, Webhook,
};
pub use self::query::QueryRoot;
pub use self::scalars::{CompareValue, Date, Iso8601DateTime, Json};

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Error, ErrorExtensions, Schema};

use crate::mock::Mock;
use crate::state::ApiError;

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
