//! Creates must be idempotent for real-time sync: `validate_realtime` refuses a board with neither
//! `external_id_field` nor `item_id_field` (file:line:column and what to add in Salesforce), and
//! checks `item_id_field`; the planner writes the item id there and asks the engine to look for a
//! record holding it before creating.

mod common;

use crmsync_core::{
    plan, validate, validate_realtime, FindBy, Item, Mapping, Operation, PlanContext, PlanOutcome,
    StaticLookups, WebhookEvent,
};

const BOARD: &str = "# a board without external id\n[[board]]\nname = \"Leads\"\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\nitem_name = { field = \"Company\" }\ndefaults = { LastName = \"Unknown\" }\n";

fn realtime_errors(src: &str) -> Vec<String> {
    let m = Mapping::parse(src, "mapping.toml").unwrap();
    match validate_realtime(&m, &common::schema()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_board_without_external_id_or_item_id_field_is_refused_for_real_time_sync() {
    assert_eq!(
        realtime_errors(BOARD),
        vec!["mapping.toml:2:1: board Leads (Lead): creates are not idempotent, a create whose answer is lost would be sent again and duplicate the record. Add to Lead in Salesforce a Text(40) field holding the Monday item id (Setup > Object Manager > Lead > Fields & Relationships > New, e.g. Monday_Item_Id__c), ideally marked External ID and Unique, and set `external_id_field = \"Monday_Item_Id__c\"` (or, when it cannot be an External ID, `item_id_field = \"Monday_Item_Id__c\"`)".to_string()]
    );
    // Schema validation alone (migration planning, tests) does not require it.
    let m = Mapping::parse(BOARD, "mapping.toml").unwrap();
    assert!(validate(&m, &common::schema()).is_ok());
    assert_eq!(
        realtime_errors(&format!(
            "{BOARD}external_id_field = \"Monday_Item_Id__c\"\n"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        realtime_errors(&format!("{BOARD}item_id_field = \"Monday_Item_Id__c\"\n")),
        Vec::<String>::new()
    );
}

#[test]
fn item_id_field_must_be_a_creatable_text_field() {
    assert_eq!(
        realtime_errors(&format!("{BOARD}item_id_field = \"NumberOfEmployees\"\n")),
        vec!["mapping.toml:9:17: field Lead.NumberOfEmployees cannot be `item_id_field`: its type is int, not Text (string)".to_string()]
    );
    assert_eq!(
        realtime_errors(&format!("{BOARD}item_id_field = \"Title\"\n")),
        vec!["mapping.toml:9:17: field Lead.Title cannot be `item_id_field`: its length 10 is too short for a Monday item id".to_string()]
    );
    assert_eq!(
        realtime_errors(&format!("{BOARD}item_id_field = \"Nope__c\"\n")),
        vec!["mapping.toml:9:17: field `Nope__c` does not exist on Lead".to_string()]
    );
}

#[test]
fn a_create_without_external_id_carries_the_item_id_and_finds_by_it() {
    let src = format!("{BOARD}item_id_field = \"Monday_Item_Id__c\"\n");
    let m = validate_realtime(
        &Mapping::parse(&src, "mapping.toml").unwrap(),
        &common::schema(),
    )
    .unwrap();
    let event: WebhookEvent = serde_json::from_value(serde_json::json!({
        "type": "create_pulse", "boardId": 100, "pulseId": 4242, "pulseName": "Harbor Aid"
    }))
    .unwrap();
    let item: Item = serde_json::from_value(serde_json::json!({
        "id": "4242", "name": "Harbor Aid", "column_values": []
    }))
    .unwrap();
    let lookups = StaticLookups::default();
    let ctx = PlanContext {
        lookups: &lookups,
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
    };
    let PlanOutcome::Ready(p) = plan(&event, Some(&item), &m, &ctx).unwrap() else {
        panic!("ready");
    };
    match &p.ops[0] {
        Operation::Create {
            object,
            fields,
            find_by,
        } => {
            assert_eq!(object, "Lead");
            assert_eq!(fields["Monday_Item_Id__c"], "4242");
            assert_eq!(fields["Company"], "Harbor Aid");
            assert_eq!(
                find_by,
                &Some(FindBy {
                    field: "Monday_Item_Id__c".into(),
                    value: "4242".into()
                })
            );
        }
        other => panic!("expected a create, got {other:?}"),
    }
}
