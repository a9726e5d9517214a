//! The `items_page` filter engine: `query_params` rules, groups and operators against column values.

use serde_json::Value;

use crate::columns::{self, Kind};
use crate::model::{BoardDef, ColumnDef, ItemRec, UserRec};
use crate::state::{id_json, ApiError};

use super::enums::{ItemsQueryOperator, ItemsQueryRuleOperator};
use super::inputs::{ItemsQuery, ItemsQueryGroup, ItemsQueryRule};

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

pub(super) fn matches_query(
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
