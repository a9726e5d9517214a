//! Date-only fields (`CloseDate`, `Birthdate`) never shift by a day: whatever the column's time
//! zone setting and whatever day of the year (daylight saving switches included), the date the
//! migration writes to Monday is the record's date, and reading the item back gives the same
//! Salesforce value — so `verify` and a second run see no difference.

use chrono::{Duration, FixedOffset, NaiveDate};
use crmsync_core::plan::{plan_item, ItemOperation};
use crmsync_core::{
    to_monday, to_salesforce, ColumnMapping, ColumnValue, Converted, Item, MondayInput,
    MondayWrite, StaticLookups, Transform,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn date_column(field: &str, offset_minutes: i32) -> ColumnMapping {
    let mut cm = ColumnMapping::new("date_col", field, Transform::Date);
    cm.timezone = FixedOffset::east_opt(offset_minutes * 60);
    cm
}

proptest! {
    #[test]
    fn date_only_fields_keep_their_day(
        days in 0i64..(365 * 200),
        offset_minutes in -(14 * 60)..=(14 * 60),
        field in prop::sample::select(vec!["CloseDate", "Birthdate"]),
    ) {
        let date = NaiveDate::from_ymd_opt(1901, 1, 1).unwrap() + Duration::days(days);
        let text = date.format("%Y-%m-%d").to_string();
        let cm = date_column(field, offset_minutes);
        let mut record = Map::new();
        record.insert("Id".into(), json!("0065g00000000G9AAI"));
        record.insert(field.into(), Value::String(text.clone()));
        let lookups = StaticLookups::default();

        // Salesforce -> Monday: the same calendar day.
        let MondayWrite::Value(written) = to_monday(&cm, &record, &lookups).unwrap() else {
            panic!("a date is never deferred");
        };
        prop_assert_eq!(&written["date"], &json!(text));
        prop_assert!(written.get("time").is_none(), "a date-only field has no time: {written}");

        // Monday (as stored) -> Salesforce: the same value, so nothing differs.
        let cv = ColumnValue {
            id: "date_col".into(),
            value: Some(json!({"date": text, "changed_at": "2026-03-29T01:30:00Z"})),
            text: Some(text.clone()),
            ..ColumnValue::default()
        };
        let Converted::Fields(back) = to_salesforce(&cm, MondayInput::Column(&cv), &lookups).unwrap() else {
            panic!("a date column converts");
        };
        prop_assert_eq!(back, vec![(field.to_string(), Value::String(text.clone()))]);

        // And the planner sees the item as unchanged.
        let item = Item {
            id: "1".into(),
            board_id: Some("9378000036".into()),
            name: String::new(),
            column_values: vec![cv, ColumnValue {
                id: "text_id".into(),
                text: Some("0065g00000000G9AAI".into()),
                value: Some(json!("0065g00000000G9AAI")),
                ..ColumnValue::default()
            }],
        };
        let mut bm = crmsync_core::Mapping::parse(
            "[[board]]\nboard_id = \"9378000036\"\nobject = \"Opportunity\"\nsalesforce_id_column = \"text_id\"\n",
            "m.toml",
        )
        .unwrap()
        .boards
        .remove(0);
        bm.columns.push(cm);
        let op = plan_item(&record, Some(&item), &bm, &lookups).unwrap();
        prop_assert!(matches!(op, ItemOperation::Unchanged { .. }), "{op:?}");
    }
}
