//! Drift: where Salesforce and Monday disagree on a linked item. [`expected_fields`] is what the
//! mapping would write to Salesforce from the item's current Monday values; [`compare`] names
//! every field whose Salesforce value differs ([`same_value`] treats `""` as empty, numbers by
//! value and multi-select picklists in any order).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::lookups::Lookups;
use crate::mapping::BoardMapping;
use crate::monday::Item;
use crate::plan::{name_fields, PlanError};
use crate::transform::{to_salesforce, Converted, MondayInput};

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDrift {
    /// Salesforce field.
    pub field: String,
    /// The Monday column it comes from (`None`: the item name).
    pub monday_column: Option<String>,
    /// What the mapping writes from Monday's current value.
    pub monday: Value,
    /// What Salesforce holds.
    pub salesforce: Value,
}

/// The fields the mapping writes from `item` (Monday → Salesforce columns and the name), each
/// with the column it comes from. Columns whose value needs more than the snapshot are left out.
pub fn expected_fields(
    bm: &BoardMapping,
    item: &Item,
    lookups: &dyn Lookups,
) -> Result<Vec<(String, Option<String>, Value)>, PlanError> {
    let mut out: Vec<(String, Option<String>, Value)> = name_fields(bm, &item.name)?
        .into_iter()
        .map(|(f, v)| (f, None, v))
        .collect();
    for cm in bm.columns.iter().filter(|c| c.direction.to_salesforce()) {
        let cv = item
            .column(&cm.column)
            .cloned()
            .unwrap_or_else(|| crate::monday::ColumnValue {
                id: cm.column.clone(),
                ..Default::default()
            });
        match to_salesforce(cm, MondayInput::Column(&cv), lookups)? {
            Converted::Fields(fs) => {
                out.extend(fs.into_iter().map(|(f, v)| (f, Some(cm.column.clone()), v)))
            }
            Converted::NeedsItem(_) => {}
        }
    }
    Ok(out)
}

/// Whether two field values mean the same.
pub fn same_value(a: &Value, b: &Value) -> bool {
    let empty = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
    match (a, b) {
        _ if empty(a) && empty(b) => true,
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Number(x), Value::String(s)) | (Value::String(s), Value::Number(x)) => {
            s.trim().parse::<f64>().ok() == x.as_f64()
        }
        (Value::String(x), Value::String(y)) => {
            if x.contains(';') || y.contains(';') {
                let mut xs: Vec<&str> = x.split(';').map(str::trim).collect();
                let mut ys: Vec<&str> = y.split(';').map(str::trim).collect();
                xs.sort_unstable();
                ys.sort_unstable();
                xs == ys
            } else {
                x.trim() == y.trim()
            }
        }
        _ => a == b,
    }
}

/// The fields of `expected` whose value in `record` differs (a field absent from the record
/// counts as empty).
pub fn compare(
    expected: &[(String, Option<String>, Value)],
    record: &Map<String, Value>,
) -> Vec<FieldDrift> {
    expected
        .iter()
        .filter_map(|(field, column, want)| {
            let have = record
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            (!same_value(want, &have)).then(|| FieldDrift {
                field: field.clone(),
                monday_column: column.clone(),
                monday: want.clone(),
                salesforce: have,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_that_mean_the_same_are_not_drift() {
        assert!(same_value(&json!(null), &json!("")));
        assert!(same_value(&json!(2500), &json!(2500.0)));
        assert!(same_value(&json!("2500"), &json!(2500)));
        assert!(same_value(&json!("a;b"), &json!("b;a")));
        assert!(!same_value(&json!("Reno"), &json!("Reno NV")));
        assert!(!same_value(&json!(true), &json!(false)));
    }

    #[test]
    fn compare_names_the_field_the_column_and_both_values() {
        let expected = vec![
            ("Name".to_string(), None, json!("North Fund")),
            (
                "BillingCity".to_string(),
                Some("text_x".to_string()),
                json!("Reno"),
            ),
        ];
        let record: Map<String, Value> =
            json!({"Id": "001", "Name": "North Fund", "BillingCity": "Las Vegas"})
                .as_object()
                .cloned()
                .unwrap_or_default();
        assert_eq!(
            compare(&expected, &record),
            vec![FieldDrift {
                field: "BillingCity".into(),
                monday_column: Some("text_x".into()),
                monday: json!("Reno"),
                salesforce: json!("Las Vegas"),
            }]
        );
    }
}
