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

/// Most selections (fields, fragment spreads, inline fragments; a fragment counted each time it is
/// spread) the estimator visits for one query. Fragments that spread each other repeatedly expand
/// exponentially; past this many visits the query is refused as over the per-query cap instead of
/// being walked (or executed) to the end.
pub const MAX_VISITED_SELECTIONS: u64 = 100_000;

/// What [`estimate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimate {
    /// The query's estimated complexity, within the cap.
    Cost(u64),
    /// The complexity passed the per-query cap; the walk stopped there. `at_least` is the cost
    /// counted so far (above the cap).
    OverCap {
        /// Cost counted when the walk stopped.
        at_least: u64,
    },
    /// The query expands to more than [`MAX_VISITED_SELECTIONS`] selections (a fragment bomb);
    /// the walk stopped there and the query counts as over the cap. `at_least` is the cost counted
    /// so far, which may be below the cap (e.g. only free introspection fields).
    TooManySelections {
        /// Cost counted when the walk stopped.
        at_least: u64,
    },
}

impl Estimate {
    /// The cost to report and record: the full estimate, or the lower bound counted so far.
    pub fn cost(self) -> u64 {
        match self {
            Estimate::Cost(c)
            | Estimate::OverCap { at_least: c }
            | Estimate::TooManySelections { at_least: c } => c,
        }
    }
}

/// Estimated complexity of the operation `operation_name` in `doc` with `variables`, checked
/// against the per-query `cap`.
///
/// Every field costs 1 point times the product of the page sizes of the lists it is nested in
/// (`boards` → `limit` or `ids`, `items_page` → `limit`, `column_values` → ~20 columns, ...);
/// every mutation field costs [`MUTATION_COST`] plus its selection. Introspection is free.
/// The work is bounded: the walk stops as soon as the cost passes `cap` or it has visited
/// [`MAX_VISITED_SELECTIONS`] selections, so its time does not depend on how far fragments expand.
pub fn estimate(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Value,
    cap: u64,
) -> Estimate {
    let fragments: HashMap<String, &Positioned<FragmentDefinition>> = doc
        .fragments
        .iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let Some(op) = operation(doc, operation_name) else {
        return Estimate::Cost(0);
    };
    let is_mutation = op.node.ty == async_graphql_parser::types::OperationType::Mutation;
    let mut c = Calc {
        fragments,
        variables,
        cap,
        cost: 0,
        visited: 0,
    };
    match c.selection_set(&op.node.selection_set.node, 1, is_mutation, 0) {
        Ok(()) => Estimate::Cost(c.cost.max(1)),
        Err(Stop::OverCap) => Estimate::OverCap { at_least: c.cost },
        Err(Stop::TooManySelections) => Estimate::TooManySelections { at_least: c.cost },
    }
}

/// Why the walk stopped early.
enum Stop {
    OverCap,
    TooManySelections,
}

struct Calc<'a> {
    fragments: HashMap<String, &'a Positioned<FragmentDefinition>>,
    variables: &'a Value,
    cap: u64,
    /// Cost counted so far (the sum of every visited field's own cost).
    cost: u64,
    /// Selections visited so far.
    visited: u64,
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
            "activity_logs" => limit(25),
            "users" => ids_len().unwrap_or_else(|| limit(200)),
            "column_values" => ids_len().unwrap_or(20),
            "columns" => ids_len().unwrap_or(20),
            "groups" => ids_len().unwrap_or(5),
            "linked_items" | "subitems" | "webhooks" | "owners" | "subscribers" => 10,
            _ => 1,
        }
    }

    fn selection_set(
        &mut self,
        set: &SelectionSet,
        mult: u64,
        top_mutation: bool,
        depth: u32,
    ) -> Result<(), Stop> {
        if depth > 32 {
            return Ok(());
        }
        for sel in &set.items {
            self.visited += 1;
            if self.visited > MAX_VISITED_SELECTIONS {
                return Err(Stop::TooManySelections);
            }
            match &sel.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name.starts_with("__") || name == "complexity" {
                        continue;
                    }
                    let own = if top_mutation { MUTATION_COST } else { mult };
                    self.cost = self.cost.saturating_add(own);
                    if self.cost > self.cap {
                        return Err(Stop::OverCap);
                    }
                    let inner = mult.saturating_mul(self.multiplier(name, &f.node));
                    self.selection_set(&f.node.selection_set.node, inner, false, depth + 1)?;
                }
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = self.fragments.get(s.node.fragment_name.node.as_str()) {
                        let frag = *frag;
                        self.selection_set(
                            &frag.node.selection_set.node,
                            mult,
                            top_mutation,
                            depth + 1,
                        )?;
                    }
                }
                Selection::InlineFragment(i) => {
                    self.selection_set(&i.node.selection_set.node, mult, top_mutation, depth + 1)?
                }
            }
        }
        Ok(())
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

/// The operation `operation_name` of `doc` (the first one when no name is given).
fn operation<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<async_graphql_parser::types::OperationDefinition>> {
    match &doc.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(&Name::new(name)),
            None => ops.values().next(),
        },
    }
}

/// The root fields of the operation when it is a mutation (one entry per field, aliases
/// counted separately; `complexity` and `__typename` are not mutations). Empty for queries.
pub fn mutation_fields(doc: &ExecutableDocument, operation_name: Option<&str>) -> Vec<String> {
    let Some(op) = operation(doc, operation_name) else {
        return Vec::new();
    };
    if op.node.ty != async_graphql_parser::types::OperationType::Mutation {
        return Vec::new();
    }
    op.node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
        .filter(|n| n != "complexity" && n != "__typename")
        .collect()
}

/// The name Monday's "Call limit exceeded for …" errors give a mutation (`create_item` →
/// `CreateItem`).
pub fn call_name(field: &str) -> String {
    field
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(q: &str, vars: Value) -> u64 {
        let doc = async_graphql_parser::parse_query(q).expect("valid query");
        match estimate(&doc, None, &vars, u64::MAX) {
            Estimate::Cost(c) => c,
            other => panic!("{q}: {other:?}"),
        }
    }

    fn estimate_with_cap(q: &str, cap: u64) -> Estimate {
        let doc = async_graphql_parser::parse_query(q).expect("valid query");
        estimate(&doc, None, &Value::Null, cap)
    }

    /// `levels` fragments, each spreading the previous one twice: 2^levels copies of `leaf`.
    fn fragment_bomb(levels: u32, leaf: &str) -> String {
        let mut q = format!("query {{ ...F{levels} }} fragment F0 on Query {{ {leaf} }} ");
        for i in 1..=levels {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }} ",
                p = i - 1
            ));
        }
        q
    }

    #[test]
    fn fragment_bombs_stop_at_the_cap_or_the_selection_limit() {
        // 2^30 copies of `me { id }` (cost 2 each): the walk stops once the cost passes the cap.
        let bomb = fragment_bomb(30, "me { id }");
        assert_eq!(
            estimate_with_cap(&bomb, 1000),
            Estimate::OverCap { at_least: 1001 }
        );
        // With a cap too high to reach first, the selection limit stops it.
        match estimate_with_cap(&bomb, u64::MAX) {
            Estimate::TooManySelections { at_least } => {
                assert!(
                    at_least > 0 && at_least <= MAX_VISITED_SELECTIONS,
                    "{at_least}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Free fields only (cost 0): still stopped by the selection limit.
        assert_eq!(
            estimate_with_cap(&fragment_bomb(30, "__typename"), 5_000_000),
            Estimate::TooManySelections { at_least: 0 }
        );
        // A small fragment tree is estimated exactly: 2^3 copies of `me { id }`.
        assert_eq!(
            estimate_with_cap(&fragment_bomb(3, "me { id }"), 5_000_000),
            Estimate::Cost(16)
        );
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
