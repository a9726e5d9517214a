//! Leases, fencing and per-event deadlines with more than one worker on one store (issue 10,
//! defect 1): a slow Salesforce call must never let a second worker apply the item's events while
//! the first one's write is still on its way.

use std::time::Duration;

use crmsync_sync::EngineConfig;
use crmsync_testkit::*;
use serde_json::json;

const TITLE: &str = "text_mksf27hv";

fn text_of(item: &mock_monday::ItemView, col: &str) -> Option<String> {
    item.column_values
        .iter()
        .find(|c| c.id == col)
        .and_then(|c| c.text.clone())
        .filter(|t| !t.is_empty())
}

fn short_lease(worker_id: &str) -> EngineConfig {
    EngineConfig {
        worker_id: worker_id.into(),
        lease: Duration::from_secs(1),
        event_deadline: Duration::from_millis(700),
        ..EngineConfig::for_tests()
    }
}

both_stores!(
    a_patch_slower_than_the_lease_is_applied_once_and_salesforce_ends_equal_to_monday,
    |db| async move {
        let app = spawn_app_with(Options {
            engine: short_lease("engine-a"),
            inline_budget: Duration::from_millis(300),
            ..Options::new(db)
        })
        .await;
        // A second process on the same store.
        let b = app.second_engine(short_lease("engine-b"));
        let (stop_b, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker_b = tokio::spawn({
            let b = b.clone();
            async move {
                b.run_worker(async {
                    let _ = stop_rx.await;
                })
                .await
            }
        });

        let item = app
            .create_item(LEADS, "Lease Org", json!({"text_mkry1xy1": "Lease"}))
            .await;
        app.settle().await;
        let id = app.wait_for_record("Lead", "Title", &item).await["Id"]
            .as_str()
            .unwrap()
            .to_string();
        let lead_path = format!("/sobjects/Lead/{id}");
        let patches_before = app
            .salesforce
            .handle
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&lead_path))
            .count();

        // The next PATCH of a Lead takes twice the lease.
        app.salesforce.handle.add_fault(
            serde_json::from_value(json!({"method": "PATCH",
                "path": "/services/data/*/sobjects/Lead/*", "latencyMs": 2000, "times": 1}))
            .unwrap(),
        );
        app.monday
            .admin
            .change_column_value(&item, TITLE, json!("First title"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.monday
            .admin
            .change_column_value(&item, TITLE, json!("Second title"))
            .await
            .unwrap();
        app.settle().await;
        // Let any write still in flight land before comparing.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        app.settle().await;

        let monday = text_of(&app.monday.admin.item(&item).await.unwrap(), TITLE);
        assert_eq!(monday.as_deref(), Some("Second title"));
        let rec = app.sf.record("Lead", &id).await.unwrap();
        assert_eq!(
            rec["Title"].as_str(),
            monday.as_deref(),
            "Salesforce = Monday"
        );
        let patches: Vec<_> = app
            .salesforce
            .handle
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&lead_path))
            .collect();
        let bodies: Vec<_> = patches[patches_before..].iter().map(|r| &r.body).collect();
        assert_eq!(
            bodies.len(),
            2,
            "one PATCH per event (two edits): {bodies:?}"
        );
        // The slow attempt was cut by the deadline and retried; both attempts are on record.
        let mut classes = Vec::new();
        for ev in app.store.recent_events(50).await.unwrap() {
            if ev.item_id.to_string() == item && ev.event_type == "update_column_value" {
                for a in app.store.attempts_for_event(ev.id).await.unwrap() {
                    classes.push((a.outcome, a.error_class, a.operation));
                }
            }
        }
        assert!(
            classes
                .iter()
                .any(|(o, c, op)| *o == crmsync_store::AttemptOutcome::Failed
                    && c.as_deref() == Some("DEADLINE")
                    && op.contains(&format!("update Lead {id}"))),
            "{classes:?}"
        );
        let status = app.status_json().await;
        assert!(
            status["attempts"]["failed"].as_u64() >= Some(1)
                && status["attempts"]["done"].as_u64() >= Some(3),
            "{status}"
        );
        let _ = stop_b.send(());
        worker_b.await.unwrap();
        app.stop().await;
    }
);
