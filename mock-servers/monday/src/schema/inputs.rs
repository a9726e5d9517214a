//! Input objects of `items_page` and `items_page_by_column_values`.

use async_graphql::{InputObject, ID};

use super::enums::{ItemsOrderByDirection, ItemsQueryOperator, ItemsQueryRuleOperator};
use super::scalars::CompareValue;

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
