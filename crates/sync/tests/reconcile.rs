//! Reconciliation sweeps end to end: crmsync is down while 20 edits happen on Monday and the mock's
//! redeliveries run out; after the restart a sweep stores what was lost and the engine applies it.

use std::time::Duration;

use crmsync_store::SweepTrigger;
use crmsync_sync::reconcile::{sweep, Since, SweepOptions, SweepReport};
use crmsync_testkit::*;
use serde_json::{json, Value};

fn opts(since: Since) -> SweepOptions {
    SweepOptions {
        since,
        boards: None,
        dry_run: false,
        trigger: SweepTrigger::Cli,
    }
}

async fn run(app: &TestApp, since: Since) -> SweepReport {
    sweep(&app.engine, &opts(since), &|_| {})
        .await
        .expect("the sweep runs")
}

/// Waits until every delivery attempt Monday will make has been made (all failed or delivered).
async fn redeliveries_run_out(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ds = app.monday.admin.deliveries().await.unwrap();
        let open = ds
            .iter()
            .filter(|d| {
                !matches!(
                    d.state,
                    mock_monday::DeliveryState::Failed | mock_monday::DeliveryState::Delivered
                )
            })
            .count();
        if open == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} deliveries still retrying"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn one(app: &TestApp, object: &str, fields: &str, item: &str) -> Value {
    let rs = app.sf.by_item(object, fields, item).await;
    assert_eq!(rs.len(), 1, "exactly one {object} for item {item}: {rs:?}");
    rs[0].clone()
}

fn id_of(v: &Value) -> String {
    v["Id"].as_str().unwrap().to_string()
}

both_stores!(
    twenty_edits_while_down_are_applied_once_by_a_sweep,
    |db| async move {
        let mut app = spawn_app_with(Options {
            // Monday retries every minute for 30 minutes; the mock does the same, faster.
            webhook_retries: (Duration::from_millis(40), 5),
            ..Options::new(db)
        })
        .await;
        let admin = app.monday.admin.clone();
        let l1 = app
            .create_item(
                LEADS,
                "Oak Clinic",
                json!({"text_mkry1xy1": "Oak", "text_mkry13cw": "Ann"}),
            )
            .await;
        let l2 = app
            .create_item(LEADS, "Pine School", json!({"text_mkry1xy1": "Pine"}))
            .await;
        let l3 = app
            .create_item(LEADS, "Elm Shelter", json!({"text_mkry1xy1": "Elm"}))
            .await;
        let a1 = app
            .create_item(ACCOUNTS, "North Fund", json!({"text_mkry84sc": "Reno"}))
            .await;
        let a2 = app
            .create_item(ACCOUNTS, "South Fund", json!({"text_mkry84sc": "Yuma"}))
            .await;
        app.settle().await;
        let c1 = app
            .create_item(
                CONTACTS,
                "Kim Lee",
                json!({"board_relation_mks98dnn": {"item_ids": [a1.parse::<i64>().unwrap()]}}),
            )
            .await;
        let c2 = app.create_item(CONTACTS, "Bo Diaz", json!({})).await;
        app.settle().await;
        let a2_sf = id_of(&one(&app, "Account", "Name", &a2).await);
        let c2_sf = id_of(&one(&app, "Contact", "LastName", &c2).await);
        let before = app
            .store
            .event_counts_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap();

        // crmsync goes down.
        app.stop_serving().await;
        // 20 edits: 3 creates, 9 column changes, 5 renames, 2 deletes, 1 relation change.
        let l4 = app
            .create_item(LEADS, "Down Co", json!({"text_mkry1xy1": "Down"}))
            .await; // 1
        let a3 = app
            .create_item(ACCOUNTS, "East Fund", json!({"text_mkry84sc": "Troy"}))
            .await; // 2
        let c3 = app.create_item(CONTACTS, "Sam Novak", json!({})).await; // 3
        admin
            .change_column_value(&l1, "text_mkry13cw", json!("Anna"))
            .await
            .unwrap(); // 4
        admin
            .change_column_value(&l1, "color_mksj2adq", json!({"label": "Nurturing"}))
            .await
            .unwrap(); // 5
        admin
            .change_column_value(&l3, "text_mkrym6fa", json!("Boise"))
            .await
            .unwrap(); // 6
        admin
            .change_column_value(&l4, "text_mks821t", json!("down.example.org"))
            .await
            .unwrap(); // 7
        admin
            .change_column_value(&l3, "text_mksf27hv", json!("Director"))
            .await
            .unwrap(); // 8
        admin
            .change_column_value(&a1, "text_mkry84sc", json!("Reno NV"))
            .await
            .unwrap(); // 9
        admin
            .change_column_value(&a2, "text_mkry84sc", json!("Yuma AZ"))
            .await
            .unwrap(); // 10
        admin
            .change_column_value(&l4, "text_mkrym6fa", json!("Dover"))
            .await
            .unwrap(); // 11
        admin
            .change_column_value(&l1, "text_mkry13cw", json!("Annie"))
            .await
            .unwrap(); // 12
        admin.rename(&l1, "Oak Clinic West").await.unwrap(); // 13
        admin.rename(&a2, "South Fund Trust").await.unwrap(); // 14
        admin.rename(&c2, "Bo Diaz Ruiz").await.unwrap(); // 15
        admin.rename(&l4, "Down Co Ltd").await.unwrap(); // 16
        admin.rename(&a3, "East Fund II").await.unwrap(); // 17
        admin.delete(&l2).await.unwrap(); // 18 (Leads: Status = Closed - Not Converted)
        admin.delete(&c2).await.unwrap(); // 19 (Contacts: deleted)
        admin
            .change_column_value(
                &c1,
                "board_relation_mks98dnn",
                json!({"item_ids": [a2.parse::<i64>().unwrap()]}),
            )
            .await
            .unwrap(); // 20
        redeliveries_run_out(&app).await;
        let failed = app
            .monday
            .admin
            .deliveries()
            .await
            .unwrap()
            .iter()
            .filter(|d| d.state == mock_monday::DeliveryState::Failed)
            .count();
        assert!(
            failed >= 20,
            "every edit's webhook was lost: {failed} failed deliveries"
        );
        let after_outage = app
            .store
            .event_counts_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(
            after_outage.total(),
            before.total(),
            "nothing reached crmsync"
        );

        // crmsync is back; the sweep finds what the webhooks could not bring.
        app.start_serving().await;
        let report = run(&app, Since::Ago(Duration::from_secs(3600))).await;
        assert!(report.events_stored > 0, "{report:#?}");
        assert!(report.complexity > 0, "the sweep's complexity is reported");
        assert_eq!(report.full_reads, 0, "the activity log answered");
        app.settle().await;

        let l1r = one(&app, "Lead", "FirstName, Status, Company", &l1).await;
        assert_eq!(l1r["FirstName"], "Annie");
        assert_eq!(l1r["Status"], "Working - Contacted");
        assert_eq!(l1r["Company"], "Oak Clinic West");
        let l2r = one(&app, "Lead", "Status", &l2).await;
        assert_eq!(
            l2r["Status"], "Closed - Not Converted",
            "the delete was applied"
        );
        let l3r = one(&app, "Lead", "Title, City", &l3).await;
        assert_eq!(
            (l3r["Title"].as_str(), l3r["City"].as_str()),
            (Some("Director"), Some("Boise"))
        );
        let l4r = one(&app, "Lead", "Company, City, Website", &l4).await;
        assert_eq!(l4r["Company"], "Down Co Ltd");
        assert_eq!(l4r["City"], "Dover");
        assert_eq!(l4r["Website"], "down.example.org");
        assert_eq!(
            one(&app, "Account", "BillingCity", &a1).await["BillingCity"],
            "Reno NV"
        );
        let a2r = one(&app, "Account", "Name, BillingCity", &a2).await;
        assert_eq!(
            (a2r["Name"].as_str(), a2r["BillingCity"].as_str()),
            (Some("South Fund Trust"), Some("Yuma AZ"))
        );
        let a3r = one(&app, "Account", "Name, BillingCity", &a3).await;
        assert_eq!(a3r["Name"], "East Fund II");
        assert_eq!(a3r["BillingCity"], "Troy");
        let c3r = one(&app, "Contact", "FirstName, LastName", &c3).await;
        assert_eq!(
            (c3r["FirstName"].as_str(), c3r["LastName"].as_str()),
            (Some("Sam"), Some("Novak"))
        );
        assert!(
            app.sf.record("Contact", &c2_sf).await.is_none(),
            "the deleted contact is gone"
        );
        let c1r = one(&app, "Contact", "AccountId", &c1).await;
        assert_eq!(
            c1r["AccountId"].as_str(),
            Some(a2_sf.as_str()),
            "the relation change"
        );
        // The created items got their Salesforce Id written back (an own write, below).
        let l4_item = app.monday.admin.item(&l4).await.unwrap();
        assert_eq!(
            l4_item.column("text_mkryhch5").and_then(|c| c.text.clone()),
            Some(id_of(&l4r))
        );
        let dead = app
            .store
            .list_dead_letters(&crmsync_store::DeadLetterFilter::default())
            .await
            .unwrap();
        assert!(dead.is_empty(), "nothing failed: {dead:?}");

        // A second sweep over the same window stores nothing: the write-backs crmsync made are
        // its own (the token's user), and every other value equals what was applied.
        let again = run(&app, Since::Ago(Duration::from_secs(3600))).await;
        assert_eq!(again.events_stored, 0, "{again:#?}");
        assert!(
            again.boards.iter().map(|b| b.own_entries).sum::<u64>() > 0,
            "the Id write-backs are in the log as the token's own writes"
        );
        // `--since last` too.
        assert_eq!(run(&app, Since::Last).await.events_stored, 0);

        // A webhook that did arrive and a sweep covering the same change: applied once.
        admin
            .change_column_value(&l3, "text_mksf27hv", json!("Chair"))
            .await
            .unwrap();
        app.settle().await;
        assert_eq!(one(&app, "Lead", "Title", &l3).await["Title"], "Chair");
        let third = run(&app, Since::Ago(Duration::from_secs(3600))).await;
        assert_eq!(
            third.events_stored, 0,
            "the delivered change is not stored again: {third:#?}"
        );
        let history = app
            .store
            .events_for_item(LEADS.parse().unwrap(), l3.parse().unwrap(), 100)
            .await
            .unwrap();
        let title_changes = history
            .iter()
            .filter(|e| {
                e.event_type == "update_column_value" && e.payload.contains("text_mksf27hv")
            })
            .count();
        assert_eq!(title_changes, 2, "one event per title change (Director by the sweep, Chair by the webhook): {history:#?}");
        app.stop().await;
    }
);

both_stores!(
    a_board_never_swept_is_read_in_full_and_a_dry_run_stores_nothing,
    |db| async move {
        let mut app = spawn_app_with(Options {
            webhook_retries: (Duration::from_millis(40), 2),
            ..Options::new(db)
        })
        .await;
        let linked = app.create_item(ACCOUNTS, "Kept Fund", json!({})).await;
        app.settle().await;
        app.stop_serving().await;
        let new = app.create_item(ACCOUNTS, "Missed Fund", json!({})).await;
        redeliveries_run_out(&app).await;
        app.start_serving().await;
        let dry = sweep(
            &app.engine,
            &SweepOptions {
                boards: Some(vec![ACCOUNTS.to_string()]),
                dry_run: true,
                ..opts(Since::Last)
            },
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!(
            dry.full_reads, 1,
            "no earlier sweep: the board is read page by page"
        );
        assert!(dry.run_id.is_none());
        let would: Vec<_> = dry.boards[0]
            .events
            .iter()
            .map(|e| (e.item_id.as_str(), e.event_type.as_str()))
            .collect();
        assert!(would.contains(&(new.as_str(), "create_pulse")), "{would:?}");
        assert!(
            !would.iter().any(|(i, _)| *i == linked),
            "the synced item is unchanged: {would:?}"
        );
        assert!(
            app.sf.by_item("Account", "Name", &new).await.is_empty(),
            "dry: nothing applied"
        );
        assert!(
            app.store.recent_sweeps(5).await.unwrap().is_empty(),
            "dry: no run recorded"
        );

        let real = sweep(
            &app.engine,
            &SweepOptions {
                boards: Some(vec![ACCOUNTS.to_string()]),
                ..opts(Since::Last)
            },
            &|_| {},
        )
        .await
        .unwrap();
        assert!(real.events_stored >= 1);
        app.settle().await;
        assert_eq!(
            one(&app, "Account", "Name", &new).await["Name"],
            "Missed Fund"
        );
        let runs = app.store.recent_sweeps(5).await.unwrap();
        assert_eq!(runs[0].outcome, "passed");
        assert_eq!(runs[0].counts.events_stored, real.events_stored);
        assert!(app
            .store
            .sweep_cursor(ACCOUNTS.parse().unwrap())
            .await
            .unwrap()
            .is_some());
        let unknown = sweep(
            &app.engine,
            &SweepOptions {
                boards: Some(vec!["123".into()]),
                ..opts(Since::Last)
            },
            &|_| {},
        )
        .await;
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("board 123 is not in the mapping"));
        app.stop().await;
    }
);

// The timer of `crmsync serve`: a change whose webhook never comes is applied by the next
// scheduled sweep, recorded as a `schedule` run with its complexity.
both_stores!(
    scheduled_sweeps_apply_what_no_webhook_brought,
    |db| async move {
        let app = spawn_app_with(Options {
            sweep_every: Some(Duration::from_millis(1000)),
            ..Options::new(db)
        })
        .await;
        app.drop_create_webhook(ACCOUNTS).await;
        let item = app.create_item(ACCOUNTS, "Timer Fund", json!({})).await;
        let rec = app.wait_for_record("Account", "Name", &item).await;
        assert_eq!(rec["Name"], "Timer Fund");
        // The run is recorded once the sweep ends (its events may be applied before that).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let runs = app.store.recent_sweeps(10).await.unwrap();
            let found = runs.iter().any(|r| {
                r.trigger == "schedule"
                    && r.outcome == "passed"
                    && r.counts.events_stored >= 1
                    && r.counts.complexity > 0
            });
            if found {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no passed scheduled sweep that stored the event: {runs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        app.stop().await;
    }
);
