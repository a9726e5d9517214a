//! Complexity cost of a query (documented approximations of Monday's calculation), the
//! per-minute budget, and the per-minute request window.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_graphql::Name;
use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql_parser::Positioned;
use serde_json::Value;

/// Flat cost of each mutation (Monday documents `create_item` at roughly 10,000 points).
pub const MUTATION_COST: u64 = 10_000;

/// Estimated complexity of the operation `operation_name` in `doc` with `variables`.
///
/// Every field costs 1 point times the product of the page sizes of the lists it is nested in
/// (`boards` → `limit` or `ids`, `items_page` → `limit`, `column_values` → ~20 columns, ...);
/// every mutation field costs [`MUTATION_COST`] plus its selection. Introspection is free.
pub fn estimate(doc: &ExecutableDocument, operation_name: Option<&str>, variables: &Value) -> u64 {
    let fragments: HashMap<String, &Positioned<FragmentDefinition>> = doc
        .fragments
        .iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let op = match &doc.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(&Name::new(name)),
            None => ops.values().next(),
        },
    };
    let Some(op) = op else { return 0 };
    let is_mutation = op.node.ty == async_graphql_parser::types::OperationType::Mutation;
    let c = Calc {
        fragments,
        variables,
        depth_guard: 0,
    };
    c.selection_set(&op.node.selection_set.node, 1, is_mutation, 0)
        .max(1)
}

struct Calc<'a> {
    fragments: HashMap<String, &'a Positioned<FragmentDefinition>>,
    variables: &'a Value,
    #[allow(dead_code)]
    depth_guard: u32,
}

impl Calc<'_> {
    fn arg(&self, field: &Field, name: &str) -> Option<Value> {
        let v = &field.get_argument(name)?.node;
        let shown = v.to_string();
        if let Some(var) = shown.strip_prefix('$') {
            return self.variables.get(var).cloned();
        }
        v.clone().into_const()?.into_json().ok()
    }

    fn multiplier(&self, name: &str, args: &Field) -> u64 {
        let limit = |default: u64| -> u64 {
            self.arg(args, "limit")
                .and_then(|v| v.as_u64())
                .unwrap_or(default)
                .max(1)
        };
        let ids_len = || {
            self.arg(args, "ids")
                .and_then(|v| v.as_array().map(|a| a.len() as u64))
        };
        match name {
            "boards" => ids_len().unwrap_or_else(|| limit(25)),
            "items" => ids_len().unwrap_or_else(|| limit(25)),
            "items_page" | "next_items_page" | "items_page_by_column_values" => limit(25),
            "users" => ids_len().unwrap_or_else(|| limit(200)),
            "column_values" => ids_len().unwrap_or(20),
            "columns" => ids_len().unwrap_or(20),
            "groups" => ids_len().unwrap_or(5),
            "linked_items" | "subitems" | "webhooks" | "owners" | "subscribers" => 10,
            _ => 1,
        }
    }

    fn selection_set(&self, set: &SelectionSet, mult: u64, top_mutation: bool, depth: u32) -> u64 {
        if depth > 32 {
            return 0;
        }
        let mut total: u64 = 0;
        for sel in &set.items {
            total = total.saturating_add(match &sel.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name.starts_with("__") || name == "complexity" {
                        continue;
                    }
                    let own = if top_mutation { MUTATION_COST } else { mult };
                    let inner = mult.saturating_mul(self.multiplier(name, &f.node));
                    own.saturating_add(self.selection_set(
                        &f.node.selection_set.node,
                        inner,
                        false,
                        depth + 1,
                    ))
                }
                Selection::FragmentSpread(s) => {
                    match self.fragments.get(s.node.fragment_name.node.as_str()) {
                        Some(frag) => self.selection_set(
                            &frag.node.selection_set.node,
                            mult,
                            top_mutation,
                            depth + 1,
                        ),
                        None => 0,
                    }
                }
                Selection::InlineFragment(i) => {
                    self.selection_set(&i.node.selection_set.node, mult, top_mutation, depth + 1)
                }
            });
        }
        total
    }
}

/// A fixed window counter (budget points or requests).
#[derive(Debug, Clone)]
pub struct Window {
    start: Instant,
    used: u64,
}

/// Result of charging a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Charged: (remaining before, remaining after, seconds until reset).
    Ok {
        /// Remaining before.
        before: u64,
        /// Remaining after.
        after: u64,
        /// Seconds until the window resets (rounded up).
        reset_in: u64,
    },
    /// Not enough left: (remaining, seconds until reset).
    Exhausted {
        /// Remaining.
        left: u64,
        /// Seconds until reset (rounded up, at least 1).
        retry_in: u64,
    },
}

impl Default for Window {
    fn default() -> Self {
        Window {
            start: Instant::now(),
            used: 0,
        }
    }
}

impl Window {
    fn roll(&mut self, window: Duration, now: Instant) {
        if now.duration_since(self.start) >= window {
            self.start = now;
            self.used = 0;
        }
    }

    fn reset_in(&self, window: Duration, now: Instant) -> u64 {
        let left = window.saturating_sub(now.duration_since(self.start));
        let secs = left.as_secs_f64().ceil() as u64;
        secs.max(1)
    }

    /// Charges `cost` against `limit` per `window`.
    pub fn charge(&mut self, cost: u64, limit: u64, window: Duration, now: Instant) -> Charge {
        self.roll(window, now);
        let left = limit.saturating_sub(self.used);
        if cost > left {
            return Charge::Exhausted {
                left,
                retry_in: self.reset_in(window, now),
            };
        }
        self.used += cost;
        Charge::Ok {
            before: left,
            after: left - cost,
            reset_in: self.reset_in(window, now),
        }
    }

    /// Remaining in the current window.
    pub fn remaining(&mut self, limit: u64, window: Duration, now: Instant) -> u64 {
        self.roll(window, now);
        limit.saturating_sub(self.used)
    }

    /// Forces the remaining amount (admin API).
    pub fn set_remaining(&mut self, remaining: u64, limit: u64, now: Instant) {
        self.start = now;
        self.used = limit.saturating_sub(remaining);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(q: &str, vars: Value) -> u64 {
        let doc = async_graphql_parser::parse_query(q).expect("valid query");
        estimate(&doc, None, &vars)
    }

    #[test]
    fn mutations_cost_ten_thousand_each() {
        let one = cost(
            "mutation { create_item(board_id: 1, item_name: \"a\") { id } }",
            Value::Null,
        );
        let two = cost("mutation { a: create_item(board_id: 1, item_name: \"a\") { id } b: create_item(board_id: 1, item_name: \"b\") { id } }", Value::Null);
        assert_eq!(one, MUTATION_COST + 1);
        assert_eq!(two, 2 * (MUTATION_COST + 1));
    }

    #[test]
    fn nested_lists_multiply_by_page_size() {
        let small = cost(
            "query { boards(ids: [1]) { items_page(limit: 10) { items { id name } } } }",
            Value::Null,
        );
        let big = cost(
            "query ($l: Int!) { boards(ids: [1]) { items_page(limit: $l) { items { id name } } } }",
            serde_json::json!({"l": 100}),
        );
        assert!(big > small * 5, "{big} vs {small}");
    }

    #[test]
    fn window_exhausts_and_resets() {
        let mut w = Window::default();
        let t0 = Instant::now();
        let win = Duration::from_secs(1);
        assert!(matches!(
            w.charge(60, 100, win, t0),
            Charge::Ok {
                before: 100,
                after: 40,
                ..
            }
        ));
        assert!(matches!(
            w.charge(60, 100, win, t0),
            Charge::Exhausted {
                left: 40,
                retry_in: 1
            }
        ));
        assert!(matches!(
            w.charge(60, 100, win, t0 + win),
            Charge::Ok { before: 100, .. }
        ));
    }
}
