//! The planning decisions the engine used to make itself, now pure functions of core: event kinds,
//! skip reasons in words, fresh reads (`freshen`), related item ids, user-directory needs, and
//! follow-ups of deferred columns (payloads old and new, keys, `follow_up_plan`).

mod common;

use chrono::NaiveDate;
use crmsync_core::{
    follow_up_plan, freshen, needs_user_directory, plan, related_item_ids, DeferredColumn,
    EventKind, FollowUp, Item, Mapping, PlanContext, PlanOutcome, SkipReason, StaticLookups,
    WebhookEvent,
};
use serde_json::{json, Value};

const CONTACTS: &str = "9429890440";
const ACCOUNTS: &str = "9378000326";
const LEADS: &str = "9378000505";
const RELATION: &str = "board_relation_mks98dnn";

fn item(v: Value) -> Item {
    serde_json::from_value(v).expect("item")
}

fn event(v: Value) -> WebhookEvent {
    serde_json::from_value(v).expect("event")
}

fn contact_item(account_item: &str) -> Item {
    item(json!({
        "id": "501", "board_id": CONTACTS, "name": "Rosa Delgado",
        "column_values": [
            {"id": RELATION, "type": "board_relation", "text": "Piedmont Tool Library", "value": null,
             "linked_item_ids": [account_item]},
            {"id": "text_mks6s3rq", "type": "text", "text": "Director", "value": "\"Director\""},
        ]
    }))
}

fn follow_up() -> FollowUp {
    FollowUp {
        root_event: 41,
        board_id: CONTACTS.into(),
        item_id: "501".into(),
        column_id: RELATION.into(),
        reason: "column `board_relation_mks98dnn` links Monday item 601, which has no Salesforce record yet".into(),
    }
}

#[test]
fn event_kinds_round_trip_and_keep_unknown_types_raw() {
    let names = [
        "create_pulse",
        "update_column_value",
        "update_name",
        "delete_pulse",
        "archive_pulse",
        "restore_pulse",
        "move_pulse_into_group",
        "create_update",
        "change_subitem_name",
        "",
    ];
    let rows: Vec<Value> = names
        .iter()
        .map(|n| {
            let k = EventKind::parse(n);
            assert_eq!(k.as_str(), *n, "round trip");
            let e = event(json!({"type": n, "boardId": 1}));
            assert_eq!(e.event_type, k, "deserialised like parse");
            assert_eq!(
                serde_json::to_value(&e).expect("ser")["type"],
                json!(n),
                "serialised as Monday's name"
            );
            json!({
                "name": n,
                "kind": format!("{k:?}"),
                "changes_item": k.changes_item(),
                "removes_item": k.removes_item(),
            })
        })
        .collect();
    assert_eq!(
        event(json!({"boardId": 1})).event_type,
        EventKind::Other(String::new())
    );
    insta::assert_yaml_snapshot!(rows);
}

#[test]
fn skip_reasons_in_plain_words() {
    let reasons = vec![
        SkipReason::UnknownBoard {
            board_id: "1234".into(),
        },
        SkipReason::Subitem,
        SkipReason::UnmappedColumn {
            column_id: "text9".into(),
        },
        SkipReason::ToMondayOnly {
            column_id: "text_mks61cq2".into(),
        },
        SkipReason::NameNotMapped,
        SkipReason::NoChange,
        SkipReason::AlreadyLinked {
            salesforce_id: "003000000000001AAA".into(),
        },
        SkipReason::NotLinked,
        SkipReason::PolicyIgnore {
            event_type: "archive_pulse".into(),
        },
        SkipReason::NothingToWrite {
            column_id: "person".into(),
        },
        SkipReason::IdColumnCleared,
        SkipReason::UnsupportedEvent {
            event_type: "create_update".into(),
        },
    ];
    let rows: Vec<Value> = reasons
        .iter()
        .map(|r| json!({"reason": r, "text": r.to_string()}))
        .collect();
    insta::assert_yaml_snapshot!(rows);
}

#[test]
fn freshen_overrides_the_event_values_with_the_items_current_ones() {
    let mapping = common::seed_mapping();
    let bm = mapping.board(CONTACTS).expect("contacts");
    let lookups = StaticLookups::default().link("501", "003000000000001AAA");
    let ctx = PlanContext {
        lookups: &lookups,
        today: NaiveDate::from_ymd_opt(2026, 11, 27).expect("date"),
    };
    // The webhook says "Manager"; Monday holds "Director" by now (a later edit).
    let title = event(json!({
        "type": "update_column_value", "boardId": CONTACTS, "pulseId": 501,
        "columnId": "text_mks6s3rq", "columnType": "text",
        "value": {"value": "Manager"}, "previousValue": {"value": "Analyst"},
    }));
    let rename = event(json!({
        "type": "update_name", "boardId": CONTACTS, "pulseId": 501,
        "value": {"name": "Rosa Delgado"}, "previousValue": {"name": "Rosa Delgado-Smith"},
    }));
    let fresh = item(json!({
        "id": "501", "name": "Rosa M. Delgado",
        "column_values": [{"id": "text_mks6s3rq", "type": "text", "text": "Director", "value": "\"Director\""}]
    }));
    let missing = item(json!({"id": "501", "name": "Rosa M. Delgado", "column_values": []}));
    let mut out = Vec::new();
    for (what, ev, snapshot) in [
        ("column change", &title, &fresh),
        ("rename", &rename, &fresh),
        ("column missing from the snapshot", &title, &missing),
    ] {
        let PlanOutcome::Ready(mut p) = plan(ev, None, &mapping, &ctx).expect("plan") else {
            panic!("{what}: the payload is enough");
        };
        let before = serde_json::to_value(&p).expect("ser");
        freshen(&mut p, ev, bm, snapshot, &lookups).expect("freshen");
        out.push(json!({"case": what, "planned": before, "freshened": p}));
    }
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn related_item_ids_read_webhook_values_and_snapshots() {
    let ev = event(json!({
        "type": "update_column_value", "boardId": CONTACTS, "pulseId": 501, "columnId": RELATION,
        "value": {"linkedPulseIds": [{"linkedPulseId": 601}, {"linkedPulseId": "602"}]},
        "previousValue": {"linkedPulseIds": [{"linkedPulseId": 600}]},
    }));
    let snapshot = item(json!({
        "id": "501", "name": "x",
        "column_values": [
            {"id": RELATION, "type": "board_relation", "value": null, "linked_item_ids": ["603"]},
            // GraphQL before 2025-04: the value is a JSON-encoded string.
            {"id": "board_relation_old", "type": "board_relation",
             "value": "{\"linkedPulseIds\":[{\"linkedPulseId\":604}]}"},
            {"id": "text_mks6s3rq", "type": "text", "value": "\"linkedPulseId is only text\""},
        ]
    }));
    insta::assert_yaml_snapshot!(json!({
        "event": related_item_ids(Some(&ev), None),
        "item": related_item_ids(None, Some(&snapshot)),
        "both": related_item_ids(Some(&ev), Some(&snapshot)),
        "neither": related_item_ids(None, None),
    }));
}

#[test]
fn user_directories_are_needed_only_where_a_people_column_is_planned() {
    let mapping = common::seed_mapping();
    let ev = |board: &str, ty: &str, column: Option<&str>| {
        event(json!({"type": ty, "boardId": board, "pulseId": 1, "columnId": column}))
    };
    let cases = [
        (LEADS, "update_column_value", Some("person")),
        (LEADS, "update_column_value", Some("text_mkry13cw")),
        (LEADS, "create_pulse", None),
        (LEADS, "update_name", None),
        (LEADS, "delete_pulse", None),
        (ACCOUNTS, "create_pulse", None),
    ];
    let rows: Vec<Value> = cases
        .iter()
        .map(|(board, ty, column)| {
            let bm = mapping.board(board).expect("board");
            json!({
                "board": bm.name, "type": ty, "column": column,
                "needs_users": needs_user_directory(bm, &ev(board, ty, *column)),
            })
        })
        .collect();
    insta::assert_yaml_snapshot!(rows);
}

#[test]
fn follow_ups_are_keyed_by_their_root_event_and_read_both_payload_formats() {
    let deferred = [DeferredColumn {
        column_id: RELATION.into(),
        reason: follow_up().reason,
    }];
    let fus = FollowUp::for_deferred(41, CONTACTS, "501", &deferred);
    assert_eq!(fus, vec![follow_up()]);
    let fu = &fus[0];
    let payload = fu.to_payload();
    assert_eq!(FollowUp::from_payload(&payload).as_ref(), Some(fu));
    assert!(FollowUp::is_follow_up_key(&fu.key()));
    let mapping = common::seed_mapping();
    assert!(!fu.needs_user_directory(&mapping), "a relation column");
    let owner = FollowUp {
        column_id: "person".into(),
        board_id: LEADS.into(),
        ..follow_up()
    };
    assert!(owner.needs_user_directory(&mapping), "a people column");
    assert!(fu.key().starts_with(&FollowUp::key_prefix_of_root(41)));
    assert!(!fu.key().starts_with(&FollowUp::key_prefix_of_root(4)));
    // Stored before this version: a forged `update_column_value` delivery with the marker.
    let legacy = json!({
        "event": {"type": "update_column_value", "boardId": CONTACTS, "pulseId": "501",
                  "columnId": RELATION, "triggerUuid": format!("crmsync-deferred:41:{RELATION}")},
        "crmsyncFollowUp": {"ofEvent": 41, "column": RELATION, "reason": fu.reason},
    })
    .to_string();
    assert_eq!(FollowUp::from_payload(&legacy).as_ref(), Some(fu));
    // A Monday delivery is not a follow-up.
    let delivery = json!({"event": {"type": "update_column_value", "boardId": 1, "pulseId": 2}});
    assert_eq!(FollowUp::from_payload(&delivery.to_string()), None);
    assert_eq!(FollowUp::from_payload("not json"), None);
    insta::assert_yaml_snapshot!(json!({
        "key": fu.key(),
        "payload": serde_json::from_str::<Value>(&payload).expect("json"),
        "parsed_legacy": FollowUp::from_payload(&legacy),
    }));
}

#[test]
fn follow_up_plans_write_the_column_wait_for_an_unlinked_item_and_never_create() {
    let mapping = common::seed_mapping();
    let fu = follow_up();
    let fresh = contact_item("601");
    let both = StaticLookups::default()
        .link("501", "003000000000001AAA")
        .link("601", "001000000000001AAA");
    let unlinked_item = StaticLookups::default().link("601", "001000000000001AAA");
    let unlinked_account = StaticLookups::default().link("501", "003000000000001AAA");
    let cleared = item(
        json!({"id": "501", "name": "Rosa Delgado", "column_values": [
        {"id": RELATION, "type": "board_relation", "value": null, "linked_item_ids": []}]}),
    );
    let other_column = FollowUp {
        column_id: "text9".into(),
        ..follow_up()
    };
    let to_monday = FollowUp {
        column_id: "text_mks61cq2".into(),
        ..follow_up()
    };
    let gone_board = FollowUp {
        board_id: "1234".into(),
        ..follow_up()
    };
    let show = |fu: &FollowUp, m: &Mapping, item: &Item, l: &StaticLookups| match follow_up_plan(
        fu, m, item, l,
    ) {
        Ok(o) => serde_json::to_value(o).expect("ser"),
        Err(e) => json!({"error": e.to_string(), "retryable": e.is_retryable()}),
    };
    let out = json!({
        "linked, account synced": show(&fu, &mapping, &fresh, &both),
        "item not linked (its create failed)": show(&fu, &mapping, &fresh, &unlinked_item),
        "account not synced yet": show(&fu, &mapping, &fresh, &unlinked_account),
        "relation cleared since": show(&fu, &mapping, &cleared, &both),
        "column no longer mapped": show(&other_column, &mapping, &fresh, &both),
        "column now to_monday only": show(&to_monday, &mapping, &fresh, &both),
        "board no longer mapped": show(&gone_board, &mapping, &fresh, &both),
    });
    // Whatever the state, a follow-up's plan is never a create or an upsert.
    let text = out.to_string();
    assert!(
        !text.contains("\"create\"") && !text.contains("\"upsert\""),
        "{text}"
    );
    insta::assert_yaml_snapshot!(out);
}
