//! Every board x every webhook event type, planned against the example mapping.
//!
//! Fixtures: `fixtures/events/<board>/<event>.json` = `{ description, delivery: {"event": ...} (the real
//! delivery shape), item?: the item snapshot (GraphQL shape) the engine would fetch, links?: item id ->
//! Salesforce id, users?: {monday: id -> email, salesforce: id -> email} }`.
//! The planner first sees the payload alone; when it asks for the item and the fixture has one, it is
//! planned again with the snapshot, as the engine does.

mod common;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use crmsync_core::{
    plan, Item, PlanContext, PlanError, PlanOutcome, StaticLookups, WebhookDelivery,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    description: String,
    delivery: WebhookDelivery,
    item: Option<Item>,
    #[serde(default)]
    links: BTreeMap<String, String>,
    #[serde(default)]
    users: Users,
}

#[derive(Deserialize, Default)]
struct Users {
    #[serde(default)]
    monday: BTreeMap<String, String>,
    #[serde(default)]
    salesforce: BTreeMap<String, String>,
}

fn show(r: &Result<PlanOutcome, PlanError>) -> Value {
    match r {
        Ok(o) => serde_json::to_value(o).expect("serialize"),
        Err(e) => json!({"error": e.to_string(), "retryable": e.is_retryable()}),
    }
}

#[test]
fn webhook_events() {
    let mapping = common::seed_mapping();
    let today = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
    insta::glob!("../../../fixtures/events", "*/*.json", |path| {
        let fixture: Fixture = serde_json::from_str(&common::read(path))
            .unwrap_or_else(|e| panic!("{} is not an event fixture: {e}", path.display()));
        let lookups = StaticLookups {
            links: fixture.links.clone(),
            monday_users: fixture.users.monday.clone(),
            salesforce_users: fixture.users.salesforce.clone(),
        };
        let ctx = PlanContext {
            lookups: &lookups,
            today,
        };
        let event = &fixture.delivery.event;
        let first = plan(event, None, &mapping, &ctx);
        let with_item = match (&first, &fixture.item) {
            (Ok(PlanOutcome::NeedsItem { .. }), Some(item)) => {
                Some(show(&plan(event, Some(item), &mapping, &ctx)))
            }
            (Ok(PlanOutcome::NeedsItem { .. }), None) => panic!(
                "{}: the planner needs the item but the fixture has none",
                path.display()
            ),
            _ => None,
        };
        insta::assert_yaml_snapshot!(json!({
            "description": fixture.description,
            "event": format!("{} on board {}", event.event_type, event.board_id.as_deref().unwrap_or("?")),
            "plan": show(&first),
            "plan_with_item": with_item,
        }));
    });
}

/// The fixture matrix stays complete: every mapped board has every event type.
#[test]
fn every_board_has_every_event_type() {
    let mapping = common::seed_mapping();
    let root = common::seed().join("../events");
    for board in &mapping.boards {
        let dir = root.join(board.name.as_deref().unwrap_or_default().to_lowercase());
        let has = |name: &str| dir.join(format!("{name}.json")).exists();
        let mut wanted = vec![
            "create_pulse",
            "create_pulse_migrated",
            "create_pulse_redelivered",
            "update_column_value_unlinked",
            "update_column_value_unlinked_migrated",
            "update_column_value_id_column",
            "update_name",
            "update_name_unchanged",
            "delete_pulse",
            "delete_pulse_unlinked",
            "archive_pulse",
        ];
        if board
            .columns
            .iter()
            .any(|c| c.transform == crmsync_core::Transform::BoardRelation)
        {
            wanted.extend([
                "board_relation_link",
                "board_relation_unlink",
                "board_relation_unsynced_target",
            ]);
        }
        for name in wanted {
            assert!(has(name), "{}: missing {name}.json", dir.display());
        }
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert!(
            files.iter().any(|f| f.ends_with("_cleared.json")),
            "{}: no cleared-column event",
            dir.display()
        );
        assert!(
            files
                .iter()
                .any(|f| f.ends_with("_unchanged.json") && f.starts_with("update_column_value")),
            "{}: no unchanged-value event",
            dir.display()
        );
    }
    for name in [
        "unknown_board",
        "create_update",
        "move_pulse_into_group",
        "restore_pulse",
        "subitem_create_pulse",
    ] {
        assert!(
            root.join("other").join(format!("{name}.json")).exists(),
            "other/{name}.json"
        );
    }
}
