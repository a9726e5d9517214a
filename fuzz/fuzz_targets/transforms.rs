//! Column-value transforms both ways: the first byte picks the column type, the rest is a JSON
//! value (Monday → Salesforce as a webhook value and as a column value; Salesforce → Monday as a
//! record field). Errors are fine; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;

use crmsync_core::{
    to_monday, to_salesforce, ColumnMapping, ColumnValue, MondayInput, StaticLookups, Transform,
};
use serde_json::{Map, Value};

const TRANSFORMS: [Transform; 16] = [
    Transform::Text,
    Transform::LongText,
    Transform::Numbers,
    Transform::Status,
    Transform::Dropdown,
    Transform::Date,
    Transform::DateTime,
    Transform::Email,
    Transform::Phone,
    Transform::Link,
    Transform::Checkbox,
    Transform::Country,
    Transform::People,
    Transform::BoardRelation,
    Transform::Timeline,
    Transform::Rating,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let transform = TRANSFORMS[usize::from(pick) % TRANSFORMS.len()];
    let Ok(value) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let cm = ColumnMapping::new("col_fuzz", "Field__c", transform);
    let lookups = StaticLookups::default();
    let _ = to_salesforce(&cm, MondayInput::Webhook(Some(&value)), &lookups);
    let column = ColumnValue {
        id: "col_fuzz".into(),
        text: value.as_str().map(str::to_owned),
        value: Some(value.clone()),
        ..ColumnValue::default()
    };
    let _ = to_salesforce(&cm, MondayInput::Column(&column), &lookups);
    let mut record = Map::new();
    record.insert("Field__c".into(), value);
    let _ = to_monday(&cm, &record, &lookups);
});
