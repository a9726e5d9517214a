//! The write-back rule: the item's Id column ends holding the linked Salesforce Id, even when the
//! write-back fails after the link was stored, and when a user clears or overwrites the column.

use crmsync_testkit::both_stores;

use std::time::Duration;

use crmsync_sync::EngineConfig;
use crmsync_testkit::*;
use serde_json::json;

const LEAD_ID_COLUMN: &str = "text_mkryhch5";

fn text_of(item: &mock_monday::ItemView, col: &str) -> Option<String> {
    item.column_values
        .iter()
        .find(|c| c.id == col)
        .and_then(|c| c.text.clone())
        .filter(|t| !t.is_empty())
}

/// Waits (up to 20 s) until the item's Id column holds `want`.
async fn wait_for_id_column(app: &TestApp, item: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let view = app.monday.admin.item(item).await.unwrap();
        let got = text_of(&view, LEAD_ID_COLUMN);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Id column of item {item} holds {got:?}, not {want} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a lead item and waits until it is synced; returns (item id, Salesforce Id).
/// The next `n` `change_multiple_column_values` requests (the Salesforce Id write-back) get a
/// Monday 500; other requests pass.
async fn fail_write_backs(app: &TestApp, n: u32) {
    app.monday
        .admin
        .set_faults(&mock_monday::Faults {
            fail_next: vec![mock_monday::CannedResponse {
                status: 500,
                body: json!({"error_message": "Internal server error"}),
                retry_after: None,
                count: n,
                query_contains: Some("change_multiple_column_values".into()),
                after: false,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Empties the item's Id column while crmsync hears nothing of it (as after a write-back that
/// never happened): the column-change webhook is removed meanwhile, then subscribed again.
async fn empty_id_column_unseen(app: &TestApp, item: &str) {
    let hooks = app.monday_client.webhooks(LEADS).await.unwrap();
    let column_hooks: Vec<_> = hooks
        .iter()
        .filter(|w| w.event.as_deref() == Some("change_column_value"))
        .collect();
    assert_eq!(column_hooks.len(), 1, "{hooks:?}");
    app.monday_client
        .delete_webhook(&column_hooks[0].id)
        .await
        .unwrap();
    app.monday
        .admin
        .change_column_value(item, LEAD_ID_COLUMN, json!(""))
        .await
        .unwrap();
    app.monday_client
        .create_webhook(
            LEADS,
            &app.webhook_url,
            &crmsync_monday::WebhookEventType::ChangeColumnValue,
            None,
        )
        .await
        .unwrap();
    let view = app.monday.admin.item(item).await.unwrap();
    assert_eq!(text_of(&view, LEAD_ID_COLUMN), None, "emptied unseen");
}

async fn synced_lead(app: &TestApp, name: &str) -> (String, String) {
    let item = app
        .create_item(LEADS, name, json!({"text_mkry1xy1": "Okafor"}))
        .await;
    app.settle().await;
    let recs = app.sf.by_item("Lead", "Company", &item).await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let id = recs[0]["Id"].as_str().unwrap().to_string();
    wait_for_id_column(app, &item, &id).await;
    (item, id)
}

both_stores!(
    write_back_failing_after_the_link_is_retried_until_the_id_column_holds_the_id,
    |db| async move {
        // A lease and a per-event deadline longer than the Monday client's retries of the
        // write-back (about 5 s), so that the create is not cut short meanwhile (that is the lease
        // rule's business, tested in leases.rs).
        let app = spawn_app_with(Options {
            engine: EngineConfig {
                lease: Duration::from_secs(60),
                event_deadline: Duration::from_secs(45),
                ..EngineConfig::for_tests()
            },
            ..Options::new(db)
        })
        .await;
        // Five 500s on the write-back mutation (other requests pass): more than the Monday
        // client's retries of one request (4 attempts).
        fail_write_backs(&app, 5).await;
        let item = app
            .create_item(
                LEADS,
                "Eastside Literacy Project",
                json!({"text_mkry1xy1": "Nwosu"}),
            )
            .await;
        app.settle().await;
        let recs = app.sf.by_item("Lead", "Company", &item).await;
        assert_eq!(recs.len(), 1, "exactly one Lead: {recs:?}");
        let sf_id = recs[0]["Id"].as_str().unwrap().to_string();
        wait_for_id_column(&app, &item, &sf_id).await;
        let reqs = app.monday.admin.requests().await.unwrap();
        // The write-back met all five 500s: four through the client's retries inside the create,
        // the fifth as its own event, until the column held the Id.
        let failed_writes = reqs
            .iter()
            .filter(|r| {
                r.status == 500
                    && r.query
                        .as_deref()
                        .is_some_and(|q| q.contains("change_multiple_column_values"))
            })
            .count();
        assert_eq!(failed_writes, 5);
        // The create ended done at its first attempt; the write-back became its own event, keyed
        // by the link (whose one attempt met the fifth 500 and the client's retry).
        let events = app.store.recent_events(100).await.unwrap();
        let of_item: Vec<_> = events
            .iter()
            .filter(|e| e.item_id.to_string() == item)
            .collect();
        let create = of_item
            .iter()
            .find(|e| e.event_type == "create_pulse")
            .expect("the create event");
        assert_eq!(
            (create.status, create.attempts),
            (crmsync_store::EventStatus::Done, 0),
            "{create:?}"
        );
        let write_back = of_item
            .iter()
            .find(|e| e.event_type == "crmsync_write_back")
            .expect("a write-back event");
        assert_eq!(
            write_back.trigger_uuid,
            format!("crmsync-write-back:{LEADS}:{item}:{sf_id}")
        );
        assert_eq!(
            (write_back.status, write_back.attempts),
            (crmsync_store::EventStatus::Done, 0),
            "{write_back:?}"
        );
        let link = app
            .store
            .find_link_by_monday(LEADS.parse().unwrap(), item.parse().unwrap())
            .await
            .unwrap()
            .expect("linked");
        assert_eq!(link.sf_id, sf_id);
        let s = app.status_json().await;
        assert_eq!(s["counts"]["dead"], 0, "{s}");
        app.stop().await;
    }
);

both_stores!(
    id_column_cleared_by_a_user_is_rewritten_and_the_link_kept,
    |db| async move {
        let app = spawn_app(db).await;
        let (item, sf_id) = synced_lead(&app, "Northgate Youth Choir").await;
        app.monday
            .admin
            .change_column_value(&item, LEAD_ID_COLUMN, json!(""))
            .await
            .unwrap();
        app.settle().await;
        wait_for_id_column(&app, &item, &sf_id).await;
        let link = app
            .store
            .find_link_by_monday(LEADS.parse().unwrap(), item.parse().unwrap())
            .await
            .unwrap()
            .expect("still linked");
        assert_eq!(link.sf_id, sf_id);
        assert_eq!(app.sf.by_item("Lead", "Company", &item).await.len(), 1);
        app.stop().await;
    }
);

both_stores!(
    id_column_overwritten_with_text_that_is_no_record_id_is_repaired,
    |db| async move {
        let app = spawn_app(db).await;
        let (item, sf_id) = synced_lead(&app, "Lakeside Tenants Union").await;
        app.monday
            .admin
            .change_column_value(&item, LEAD_ID_COLUMN, json!("see notes"))
            .await
            .unwrap();
        app.settle().await;
        wait_for_id_column(&app, &item, &sf_id).await;
        let s = app.status_json().await;
        assert_eq!(s["counts"]["dead"], 0, "a repair, not a dead letter: {s}");
        app.stop().await;
    }
);

both_stores!(
    next_event_of_a_linked_item_repairs_an_id_column_emptied_unseen,
    |db| async move {
        let app = spawn_app(db).await;
        let (item, sf_id) = synced_lead(&app, "Millbrook Seniors Network").await;
        empty_id_column_unseen(&app, &item).await;
        // The next ordinary edit of the item finds it linked with an empty Id column.
        app.monday
            .admin
            .change_column_value(&item, "text_mksf27hv", json!("Director"))
            .await
            .unwrap();
        app.settle().await;
        assert_eq!(
            app.sf.record("Lead", &sf_id).await.unwrap()["Title"],
            "Director"
        );
        wait_for_id_column(&app, &item, &sf_id).await;
        app.stop().await;
    }
);

// A repair that Monday refuses for a while (5xx beyond the client's retries) does not fail the
// ordinary edit that carried it: the edit is applied once and settled done, and the repair becomes
// a write-back event of its own (before, the whole event failed and re-sent its Salesforce PATCH).
both_stores!(
    a_failing_repair_does_not_fail_or_repeat_the_edit_that_carried_it,
    |db| async move {
        let app = spawn_app_with(Options {
            engine: EngineConfig {
                lease: Duration::from_secs(60),
                event_deadline: Duration::from_secs(45),
                ..EngineConfig::for_tests()
            },
            ..Options::new(db)
        })
        .await;
        let (item, sf_id) = synced_lead(&app, "Harborview Food Pantry").await;
        empty_id_column_unseen(&app, &item).await;
        fail_write_backs(&app, 5).await;
        let patches_before = app
            .salesforce
            .handle
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count();
        app.monday
            .admin
            .change_column_value(&item, "text_mksf27hv", json!("Treasurer"))
            .await
            .unwrap();
        app.settle().await;
        wait_for_id_column(&app, &item, &sf_id).await;
        assert_eq!(
            app.sf.record("Lead", &sf_id).await.unwrap()["Title"],
            "Treasurer"
        );
        let patches = app
            .salesforce
            .handle
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count()
            - patches_before;
        assert_eq!(patches, 1, "the edit's PATCH was sent once");
        let events = app.store.recent_events(100).await.unwrap();
        let edit = events
            .iter()
            .find(|e| {
                e.item_id.to_string() == item
                    && e.event_type == "update_column_value"
                    && e.payload.contains("text_mksf27hv")
            })
            .expect("the edit's event");
        assert_eq!(
            (edit.status, edit.attempts),
            (crmsync_store::EventStatus::Done, 0),
            "{edit:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| e.item_id.to_string() == item && e.event_type == "crmsync_write_back"),
            "the repair became a write-back event"
        );
        app.stop().await;
    }
);
