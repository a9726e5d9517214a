//! What "the values last applied" of an item are: one hash per mapped column (Monday → Salesforce
//! direction) and one for the item name, computed from the item's Monday values. The engine
//! records them when it applies an item; a reconciliation sweep compares an item's current hashes
//! with the recorded ones to find what changed while no webhook arrived. Equal hashes mean "not a
//! change" — also for crmsync's own writes and for changes a delivered webhook already applied.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::mapping::{BoardMapping, ItemNameTarget};
use crate::monday::{ColumnValue, Item};

/// Key of the item name in the hash map.
pub const NAME_KEY: &str = "name";
/// Key recording that the item was deleted or archived (value `deleted` / `archived`).
pub const STATE_KEY: &str = "__state";

/// FNV-1a 64 of `bytes`, as 16 hex digits (stable across processes and versions).
pub fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Drops Monday's bookkeeping keys (`changed_at`, `updated_at`) from an object, recursively.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "changed_at" | "updated_at"))
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The hash of one column value: its decoded `value` without timestamps, and for relations the
/// sorted linked item ids (their `value` is null from API 2025-04). An absent column hashes like
/// an empty one.
pub fn column_hash(cv: Option<&ColumnValue>) -> String {
    let value = cv
        .and_then(ColumnValue::decoded_value)
        .map(|v| canonical(&v));
    let mut linked: Vec<String> = cv
        .and_then(|c| c.linked_item_ids.clone())
        .unwrap_or_default();
    linked.sort();
    linked.dedup();
    let doc = json!({ "v": value.unwrap_or(Value::Null), "l": linked });
    fnv_hex(doc.to_string().as_bytes())
}

/// The hash of the item name.
pub fn name_hash(name: &str) -> String {
    fnv_hex(name.trim().as_bytes())
}

/// Every key a board's items are hashed under: its Monday → Salesforce columns, and `name` when
/// the name is mapped.
pub fn hashed_keys(bm: &BoardMapping) -> Vec<String> {
    let mut keys: Vec<String> = bm
        .columns
        .iter()
        .filter(|c| c.direction.to_salesforce())
        .map(|c| c.column.clone())
        .collect();
    if bm.item_name != ItemNameTarget::None {
        keys.push(NAME_KEY.to_string());
    }
    keys
}

/// The hash of one key (`name` or a column id) of `item`.
pub fn key_hash(item: &Item, key: &str) -> String {
    if key == NAME_KEY {
        name_hash(&item.name)
    } else {
        column_hash(item.column(key))
    }
}

/// The hashes of every mapped value of `item` (see [`hashed_keys`]).
pub fn item_hashes(bm: &BoardMapping, item: &Item) -> BTreeMap<String, String> {
    hashed_keys(bm)
        .into_iter()
        .map(|k| {
            let h = key_hash(item, &k);
            (k, h)
        })
        .collect()
}

/// The keys whose current hash differs from the recorded one (a key never recorded differs).
pub fn changed_keys(
    current: &BTreeMap<String, String>,
    recorded: &BTreeMap<String, String>,
) -> Vec<String> {
    current
        .iter()
        .filter(|(k, v)| recorded.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cv(id: &str, value: Value, linked: Option<Vec<&str>>) -> ColumnValue {
        ColumnValue {
            id: id.into(),
            column_type: None,
            text: None,
            value: Some(value),
            linked_item_ids: linked.map(|l| l.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn timestamps_and_encoding_do_not_change_the_hash_but_values_do() {
        let a = cv(
            "s",
            json!("{\"index\":1,\"changed_at\":\"2026-01-01T00:00:00Z\"}"),
            None,
        );
        let b = cv(
            "s",
            json!({"index": 1, "changed_at": "2026-02-02T00:00:00Z"}),
            None,
        );
        let c = cv("s", json!({"index": 2}), None);
        assert_eq!(column_hash(Some(&a)), column_hash(Some(&b)));
        assert_ne!(column_hash(Some(&a)), column_hash(Some(&c)));
        assert_eq!(
            column_hash(None),
            column_hash(Some(&cv("s", Value::Null, None)))
        );
    }

    #[test]
    fn relations_hash_their_linked_ids_in_any_order() {
        let a = cv("r", Value::Null, Some(vec!["2", "1"]));
        let b = cv("r", Value::Null, Some(vec!["1", "2"]));
        let c = cv("r", Value::Null, Some(vec!["1"]));
        assert_eq!(column_hash(Some(&a)), column_hash(Some(&b)));
        assert_ne!(column_hash(Some(&a)), column_hash(Some(&c)));
    }

    #[test]
    fn changed_keys_are_the_differing_and_the_unrecorded_ones() {
        let cur: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let rec: BTreeMap<String, String> = [("a", "1"), ("b", "9")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        assert_eq!(changed_keys(&cur, &rec), ["b", "c"]);
        assert!(changed_keys(&cur, &cur).is_empty());
    }
}
