//! End-to-end: real router on a socket, mock Monday firing real webhooks (JWT) on "act as a user"
//! edits, mock Salesforce checked through its REST API, PostgreSQL (DATABASE_URL) and SQLite.

use crmsync_testkit::both_stores;

use std::time::Duration;

use crmsync_testkit::*;
use serde_json::json;

fn text_of(item: &mock_monday::ItemView, col: &str) -> Option<String> {
    item.column_values
        .iter()
        .find(|c| c.id == col)
        .and_then(|c| c.text.clone())
        .filter(|t| !t.is_empty())
}

both_stores!(lead_lifecycle, |db| async move {
    let app = spawn_app(db).await;
    // create
    let item = app
        .create_item(
            LEADS,
            "Riverside Food Bank",
            json!({"text_mkry13cw": "Ada", "text_mkry1xy1": "Lovelace", "color_mksj2adq": {"label": "Open - Not Contacted"}}),
        )
        .await;
    app.settle().await;
    let recs = app
        .sf
        .by_item("Lead", "Company, FirstName, LastName, Status", &item)
        .await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let id = recs[0]["Id"].as_str().unwrap().to_string();
    assert_eq!(recs[0]["Company"], "Riverside Food Bank");
    assert_eq!(recs[0]["LastName"], "Lovelace");
    assert_eq!(recs[0]["Status"], "Open - Not Contacted");
    // write-back of the Salesforce Id, and its webhook did not loop
    let view = app.monday.admin.item(&item).await.unwrap();
    assert_eq!(
        text_of(&view, "text_mkryhch5").as_deref(),
        Some(id.as_str())
    );
    // status change (mapped label)
    app.monday
        .admin
        .change_column_value(&item, "color_mksj2adq", json!({"label": "Nurturing"}))
        .await
        .unwrap();
    // rename -> Company
    app.monday
        .admin
        .rename(&item, "Riverside Community Food Bank")
        .await
        .unwrap();
    app.settle().await;
    let rec = app.sf.record("Lead", &id).await.unwrap();
    assert_eq!(rec["Status"], "Working - Contacted");
    assert_eq!(rec["Company"], "Riverside Community Food Bank");
    // delete -> closed, not destroyed (on_delete = set Status)
    app.monday.admin.delete(&item).await.unwrap();
    app.settle().await;
    let rec = app.sf.record("Lead", &id).await.unwrap();
    assert_eq!(rec["Status"], "Closed - Not Converted");
    assert_eq!(
        app.sf.by_item("Lead", "Company", &item).await.len(),
        1,
        "still exactly one Lead"
    );
    // nothing dead, no alert
    let s = app.status_json().await;
    assert_eq!(s["counts"]["dead"], 0, "{s}");
    eprintln!("lead lifecycle ({db:?}) latency: {}", s["latency"]);
    assert!(app.telegram.texts().is_empty());
    app.stop().await;
});

both_stores!(account_contact_opportunity, |db| async move {
    let app = spawn_app(db).await;
    let acct = app
        .create_item(
            ACCOUNTS,
            "Harbor Arts Collective",
            json!({"text_mkry84sc": "Oakland"}),
        )
        .await;
    app.settle().await;
    let a = app.sf.by_item("Account", "Name, BillingCity", &acct).await;
    assert_eq!(a.len(), 1);
    let acct_id = a[0]["Id"].as_str().unwrap().to_string();
    assert_eq!(a[0]["BillingCity"], "Oakland");
    // rename an account
    app.monday
        .admin
        .rename(&acct, "Harbor Arts Collective Inc")
        .await
        .unwrap();
    // contact linked to the account
    let contact = app
        .create_item(
            CONTACTS,
            "Mary Ann Smith",
            json!({"text_mks6s3rq": "Director", "board_relation_mks98dnn": {"item_ids": [acct.parse::<i64>().unwrap()]}}),
        )
        .await;
    app.settle().await;
    assert_eq!(
        app.sf.record("Account", &acct_id).await.unwrap()["Name"],
        "Harbor Arts Collective Inc"
    );
    let c = app
        .sf
        .by_item("Contact", "FirstName, LastName, Title, AccountId", &contact)
        .await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["FirstName"], "Mary Ann");
    assert_eq!(c[0]["LastName"], "Smith");
    assert_eq!(c[0]["Title"], "Director");
    assert_eq!(c[0]["AccountId"].as_str(), Some(acct_id.as_str()));
    let contact_id = c[0]["Id"].as_str().unwrap().to_string();
    // archive is ignored for contacts; delete deletes
    app.monday.admin.delete(&contact).await.unwrap();
    app.settle().await;
    assert!(
        app.sf.record("Contact", &contact_id).await.is_none(),
        "contact deleted"
    );
    // opportunity: create with amount, change stage, delete -> Closed Lost
    let opp = app
        .create_item(
            OPPORTUNITIES,
            "Spring Gala Sponsorship",
            json!({"numeric_mksjdntv": "2500"}),
        )
        .await;
    app.settle().await;
    let o = app
        .sf
        .by_item("Opportunity", "Name, Amount, StageName", &opp)
        .await;
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["Amount"].as_f64(), Some(2500.0));
    assert_eq!(o[0]["StageName"], "Prospecting");
    let opp_id = o[0]["Id"].as_str().unwrap().to_string();
    app.monday
        .admin
        .change_column_value(&opp, "color_mksj6ap4", json!({"label": "Qualification"}))
        .await
        .unwrap();
    app.settle().await;
    assert_eq!(
        app.sf.record("Opportunity", &opp_id).await.unwrap()["StageName"],
        "Qualification"
    );
    app.monday.admin.delete(&opp).await.unwrap();
    app.settle().await;
    assert_eq!(
        app.sf.record("Opportunity", &opp_id).await.unwrap()["StageName"],
        "Closed Lost"
    );
    app.stop().await;
});

both_stores!(migrated_item_links_instead_of_creating, |db| async move {
    let app = spawn_app(db).await;
    let existing = app.sf.query("SELECT Id, Name FROM Account LIMIT 1").await;
    let sf_id = existing[0]["Id"].as_str().unwrap().to_string();
    let name = existing[0]["Name"].as_str().unwrap().to_string();
    let before = app.sf.query("SELECT Id FROM Account").await.len();
    let item = app
        .create_item(ACCOUNTS, &name, json!({"text_mkrykpx4": sf_id}))
        .await;
    app.settle().await;
    assert_eq!(
        app.sf.query("SELECT Id FROM Account").await.len(),
        before,
        "no second record"
    );
    let link = app
        .store
        .find_link_by_monday(ACCOUNTS.parse().unwrap(), item.parse().unwrap())
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(link.sf_id, sf_id);
    let rec = app.sf.record("Account", &sf_id).await.unwrap();
    assert_eq!(rec["Monday_Item_Id__c"].as_str(), Some(item.as_str()));
    app.stop().await;
});

both_stores!(same_delivery_three_times_is_one_record, |db| async move {
    let app = spawn_app(db).await;
    app.monday
        .admin
        .set_faults(&mock_monday::Faults {
            webhooks: mock_monday::WebhookFaults {
                duplicate: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let item = app
        .create_item(LEADS, "Tri Delivery Org", json!({"text_mkry1xy1": "Three"}))
        .await;
    app.settle().await;
    // Replay the create delivery a third time, by hand, with a fresh JWT.
    let d = app
        .monday
        .admin
        .deliveries()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.event_type == "create_pulse")
        .unwrap();
    let jwt = jwt_for(&app.webhook_url, 300);
    let r = reqwest::Client::new()
        .post(&app.webhook_url)
        .header("Authorization", jwt)
        .json(&d.body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["duplicate"], true);
    app.settle().await;
    assert_eq!(app.sf.by_item("Lead", "Company", &item).await.len(), 1);
    let creates = app
        .store
        .recent_events(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "create_pulse" && e.item_id.to_string() == item)
        .count();
    assert_eq!(creates, 1, "one row per triggerUuid");
    app.stop().await;
});

both_stores!(twenty_concurrent_events_last_write_wins, |db| async move {
    let app = spawn_app(db).await;
    let item = app
        .create_item(LEADS, "Busy Org", json!({"text_mkry1xy1": "Busy"}))
        .await;
    app.settle().await;
    // Deliver the next 20 events in reverse order.
    app.monday
        .admin
        .set_faults(&mock_monday::Faults {
            webhooks: mock_monday::WebhookFaults {
                reverse_batch: 20,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    for n in 1..=20 {
        app.monday
            .admin
            .change_column_value(&item, "text_mksf27hv", json!(format!("Title {n}")))
            .await
            .unwrap();
    }
    app.settle().await;
    let recs = app.sf.by_item("Lead", "Title", &item).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["Title"], "Title 20", "Monday's last write wins");
    app.stop().await;
});

both_stores!(
    twenty_concurrent_deliveries_on_a_new_item_make_one_record,
    |db| async move {
        let app = spawn_app(db).await;
        // Every delivery waits 300 ms in its own task: the create and 20 updates arrive together.
        app.monday
            .admin
            .set_faults(&mock_monday::Faults {
                webhooks: mock_monday::WebhookFaults {
                    delay_ms: 300,
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let item = app
            .create_item(OPPORTUNITIES, "Concurrent Grant", json!({}))
            .await;
        for n in 1..=20 {
            app.monday
                .admin
                .change_column_value(&item, "numeric_mksjdntv", json!(format!("{}", n * 100)))
                .await
                .unwrap();
        }
        app.settle().await;
        let o = app.sf.by_item("Opportunity", "Amount", &item).await;
        assert_eq!(o.len(), 1, "one record: {o:?}");
        assert_eq!(
            o[0]["Amount"].as_f64(),
            Some(2000.0),
            "Monday's last write wins"
        );
        let events = app.store.recent_events(100).await.unwrap();
        assert!(
            events
                .iter()
                .filter(|e| e.item_id.to_string() == item)
                .count()
                >= 21
        );
        app.stop().await;
    }
);

both_stores!(
    update_before_create_and_delete_before_update_converge,
    |db| async move {
        let app = spawn_app(db).await;
        // Hold deliveries, make create + update, release them reversed (update first).
        app.monday
            .admin
            .set_faults(&mock_monday::Faults {
                webhooks: mock_monday::WebhookFaults {
                    reverse_batch: 2,
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let item = app
            .create_item(OPPORTUNITIES, "Out Of Order Grant", json!({}))
            .await;
        app.monday
            .admin
            .change_column_value(&item, "numeric_mksjdntv", json!("900"))
            .await
            .unwrap();
        app.settle().await;
        let o = app.sf.by_item("Opportunity", "Amount", &item).await;
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!(o[0]["Amount"].as_f64(), Some(900.0));
        // delete-before-update: a contact, update then delete, delivered reversed.
        let contact = app.create_item(CONTACTS, "Late Update", json!({})).await;
        app.settle().await;
        let cid = app.sf.by_item("Contact", "LastName", &contact).await[0]["Id"]
            .as_str()
            .unwrap()
            .to_string();
        app.monday
            .admin
            .set_faults(&mock_monday::Faults {
                webhooks: mock_monday::WebhookFaults {
                    reverse_batch: 2,
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        app.monday
            .admin
            .change_column_value(&contact, "text_mks6s3rq", json!("Too late"))
            .await
            .unwrap();
        app.monday.admin.delete(&contact).await.unwrap();
        app.settle().await;
        assert!(
            app.sf.record("Contact", &cid).await.is_none(),
            "deleted, not resurrected"
        );
        assert!(app
            .sf
            .by_item("Contact", "LastName", &contact)
            .await
            .is_empty());
        app.stop().await;
    }
);

both_stores!(salesforce_outage_loses_nothing, |db| async move {
    let app = spawn_app(db).await;
    // 503 and UNABLE_TO_LOCK_ROW on every sObject write for a while.
    app.salesforce.handle.add_fault(
        serde_json::from_value(json!({"method": "PATCH", "path": "/services/data/*/sobjects/*", "status": 503, "times": 12}))
            .unwrap(),
    );
    app.salesforce.handle.add_fault(
        serde_json::from_value(json!({"path": "/services/data/*/sobjects/Lead/*", "status": 400,
            "body": [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record", "fields": []}], "times": 6}))
            .unwrap(),
    );
    let mut items = Vec::new();
    for n in 0..4 {
        items.push(
            app.create_item(
                LEADS,
                &format!("Outage Org {n}"),
                json!({"text_mkry1xy1": format!("N{n}")}),
            )
            .await,
        );
    }
    app.settle().await;
    for item in &items {
        assert_eq!(
            app.sf.by_item("Lead", "Company", item).await.len(),
            1,
            "{item}"
        );
    }
    let s = app.status_json().await;
    assert_eq!(s["counts"]["dead"], 0, "{s}");
    let statuses: Vec<u16> = app
        .salesforce
        .handle
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.iter().filter(|s| **s == 503).count() >= 12,
        "the outage happened: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 400).count() >= 6,
        "the row locks happened"
    );
    // expired session: refreshed transparently
    app.salesforce.handle.expire_sessions();
    app.monday
        .admin
        .change_column_value(&items[0], "text_mksf27hv", json!("After expiry"))
        .await
        .unwrap();
    app.settle().await;
    assert_eq!(
        app.sf.by_item("Lead", "Title", &items[0]).await[0]["Title"],
        "After expiry"
    );
    app.stop().await;
});

both_stores!(
    validation_error_dead_letter_one_alert_then_replay,
    |db| async move {
        let app = spawn_app(db).await;
        // The seed mapping copies the free-text column "text_mks6c82k" into Contact.Email; people type
        // things that are not email addresses there, and Salesforce rejects them (INVALID_EMAIL_ADDRESS).
        let mut items = Vec::new();
        for n in 0..3 {
            items.push(
                app.create_item(
                    CONTACTS,
                    &format!("Pat Doe{n}"),
                    json!({"text_mks6c82k": "pat at example dot org"}),
                )
                .await,
            );
        }
        app.settle().await;
        let dls = app
            .store
            .list_dead_letters(&Default::default())
            .await
            .unwrap();
        assert_eq!(dls.len(), 3, "{dls:?}");
        for d in &dls {
            assert!(
                d.sf_error_body
                    .as_deref()
                    .unwrap_or("")
                    .contains("INVALID_EMAIL_ADDRESS"),
                "{d:?}"
            );
            assert!(d.payload.contains("create_pulse"), "full payload kept");
        }
        for item in &items {
            assert!(app.sf.by_item("Contact", "LastName", item).await.is_empty());
        }
        let texts = app.telegram.texts();
        assert_eq!(texts.len(), 1, "one alert for the storm: {texts:?}");
        assert!(
            texts[0].contains("INVALID_EMAIL_ADDRESS") && texts[0].contains("Contacts"),
            "{}",
            texts[0]
        );
        assert!(
            texts[0].contains("dead-letters replay"),
            "says what to do: {}",
            texts[0]
        );
        assert!(!texts[0].contains("mock-client-secret") && !texts[0].contains("test-bot-token"));
        let status = app.status_json().await;
        assert_eq!(status["open_dead_letters"], 3, "{status}");
        // Fix the mapping: that column only shows the email on Monday from now on.
        let fixed = std::fs::read_to_string(seed_dir().join("mapping.toml")).unwrap().replace(
        "column = \"text_mks6c82k\"\nfield = \"Email\"\ntransform = \"text\"\n",
        "column = \"text_mks6c82k\"\nfield = \"Email\"\ntransform = \"text\"\ndirection = \"to_monday\"\n",
    );
        assert!(fixed
            .contains("direction = \"to_monday\"\n\n[[board.column]]\ncolumn = \"text_mks67a8w\""));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, fixed).unwrap();
        let mapping =
            crmsync_sync::load_mapping(&path, app.engine.salesforce(), app.engine.monday())
                .await
                .unwrap();
        app.engine.set_mapping(mapping);
        for d in &dls {
            let ev = app.engine.replay_dead_letter(d.id).await.unwrap();
            assert_eq!(ev.status, crmsync_store::EventStatus::Done, "{ev:?}");
        }
        app.settle().await;
        for item in &items {
            let c = app.sf.by_item("Contact", "LastName, Email", item).await;
            assert_eq!(c.len(), 1);
            assert!(c[0]["Email"].is_null());
        }
        assert_eq!(app.store.open_dead_letter_count().await.unwrap(), 0);
        assert_eq!(app.telegram.texts().len(), 1, "no further alerts");
        app.stop().await;
    }
);

both_stores!(unknown_board_is_skipped, |db| async move {
    let app = spawn_app(db).await;
    let body = json!({"event": {"type": "create_pulse", "boardId": 1234, "pulseId": 99, "pulseName": "x", "triggerUuid": "unknown-board-1"}});
    let r = reqwest::Client::new()
        .post(&app.webhook_url)
        .header("Authorization", jwt_for(&app.webhook_url, 300))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Inline processing or the worker (whichever claims it first) settles it.
    app.settle().await;
    let ev = app.store.recent_events(10).await.unwrap();
    let e = ev
        .iter()
        .find(|e| e.trigger_uuid == "unknown-board-1")
        .unwrap();
    assert_eq!(e.status, crmsync_store::EventStatus::Skipped);
    assert!(
        e.last_error
            .as_deref()
            .unwrap_or("")
            .contains("not in the mapping"),
        "{e:?}"
    );
    app.stop().await;
});

both_stores!(
    request_limit_pauses_alerts_and_burns_no_attempt,
    |db| async move {
        let app = spawn_app(db).await;
        app.salesforce.handle.exhaust_daily_limit();
        let item = app
            .create_item(ACCOUNTS, "Limit Reached Ltd", json!({}))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while app.engine.paused_until().await.unwrap().is_none() || app.telegram.texts().is_empty()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "engine never paused and alerted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let texts = app.telegram.texts();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(
            texts[0].contains("API limit") && texts[0].contains("paused"),
            "{}",
            texts[0]
        );
        let ev = app
            .store
            .recent_events(20)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.event_type == "create_pulse" && e.item_id.to_string() == item)
            .unwrap();
        assert_eq!(ev.attempts, 0, "a rate limit does not burn an attempt");
        assert!(ev.status.is_open());
        // The limit resets; after the pause the event is applied.
        app.salesforce.handle.set_api_usage(Some(0), Some(15000));
        app.settle().await;
        assert_eq!(app.sf.by_item("Account", "Name", &item).await.len(), 1);
        assert_eq!(app.store.open_dead_letter_count().await.unwrap(), 0);
        app.stop().await;
    }
);

both_stores!(remaining_event_types_per_board, |db| async move {
    let app = spawn_app(db).await;
    let acct = app
        .create_item(ACCOUNTS, "Delta Literacy Fund", json!({}))
        .await;
    let contact = app.create_item(CONTACTS, "Jo March", json!({})).await;
    let lead = app
        .create_item(LEADS, "Archive Me Org", json!({"text_mkry1xy1": "Arch"}))
        .await;
    let opp = app
        .create_item(OPPORTUNITIES, "Old Name Grant", json!({}))
        .await;
    app.settle().await;
    let id = |v: Vec<serde_json::Value>| v[0]["Id"].as_str().unwrap().to_string();
    let acct_id = id(app.sf.by_item("Account", "Name", &acct).await);
    let contact_id = id(app.sf.by_item("Contact", "LastName", &contact).await);
    let lead_id = id(app.sf.by_item("Lead", "Status", &lead).await);
    let opp_id = id(app.sf.by_item("Opportunity", "Name", &opp).await);
    // Accounts: column change through a mapped status label; delete is ignored by the mapping.
    app.monday
        .admin
        .change_column_value(&acct, "color_mkstk7e5", json!({"label": "Nonprofit"}))
        .await
        .unwrap();
    // Contacts: rename splits into first/last name; a column change.
    app.monday
        .admin
        .rename(&contact, "Josephine March Bhaer")
        .await
        .unwrap();
    app.monday
        .admin
        .change_column_value(&contact, "text_mks6s3rq", json!("Author"))
        .await
        .unwrap();
    // Opportunities: rename.
    app.monday
        .admin
        .rename(&opp, "New Name Grant")
        .await
        .unwrap();
    app.settle().await;
    app.monday.admin.delete(&acct).await.unwrap();
    // Leads: archive is ignored by the mapping.
    app.monday.admin.archive(&lead).await.unwrap();
    app.settle().await;
    let a = app
        .sf
        .record("Account", &acct_id)
        .await
        .expect("account kept (on_delete = ignore)");
    assert_eq!(a["Industry"], "Not For Profit");
    let c = app.sf.record("Contact", &contact_id).await.unwrap();
    assert_eq!(c["FirstName"], "Josephine March");
    assert_eq!(c["LastName"], "Bhaer");
    assert_eq!(c["Title"], "Author");
    assert_eq!(
        app.sf.record("Opportunity", &opp_id).await.unwrap()["Name"],
        "New Name Grant"
    );
    let l = app
        .sf
        .record("Lead", &lead_id)
        .await
        .expect("lead kept (on_archive = ignore)");
    assert_ne!(l["Status"], "Closed - Not Converted");
    let skipped: Vec<String> = app
        .store
        .recent_events(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event_type.as_str(), "archive_pulse" | "delete_pulse"))
        .map(|e| format!("{} {:?} {:?}", e.event_type, e.status, e.last_error))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .all(|s| s.contains("Skipped") && s.contains("ignore")),
        "{skipped:?}"
    );
    app.stop().await;
});

// The engine's write-back and `install_webhooks` go through crmsync-monday's typed mutations,
// which select `complexity` on the mutation root (the client paces itself on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutations_use_the_typed_client_with_complexity() {
    let app = spawn_app(Db::Sqlite).await;
    let lead = app.create_item(LEADS, "Typed Client", json!({})).await;
    app.settle().await;
    assert_eq!(app.sf.by_item("Lead", "LastName", &lead).await.len(), 1);
    let journal = app.monday.admin.requests().await.unwrap();
    for op in ["create_webhook", "change_multiple_column_values"] {
        let sent: Vec<&str> = journal
            .iter()
            .filter_map(|e| e.query.as_deref())
            .filter(|q| q.contains(&format!("{op}(")))
            .collect();
        assert!(!sent.is_empty(), "no {op} request in the journal");
        for q in sent {
            assert!(
                q.contains("complexity"),
                "{op} sent without complexity: {q}"
            );
        }
    }
    app.stop().await;
}

// A migrated item (Salesforce Id pre-filled in its Id column) whose create_pulse never reached
// crmsync (webhooks installed after the migration) is linked by its first column change: that one
// PATCH must carry both the changed field and the external id.
both_stores!(
    migrated_item_column_change_sets_field_and_external_id,
    |db| async move {
        let app = spawn_app(db).await;
        for w in app.monday_client.webhooks(ACCOUNTS).await.unwrap() {
            if w.event.as_deref() == Some("create_item") {
                app.monday_client.delete_webhook(&w.id).await.unwrap();
            }
        }
        let existing = app
            .sf
            .query("SELECT Id, Name FROM Account WHERE Monday_Item_Id__c = null LIMIT 1")
            .await;
        let sf_id = existing[0]["Id"].as_str().unwrap().to_string();
        let name = existing[0]["Name"].as_str().unwrap().to_string();
        let item = app
            .create_item(ACCOUNTS, &name, json!({"text_mkrykpx4": sf_id}))
            .await;
        app.settle().await;
        app.monday
            .admin
            .change_column_value(&item, "text_mkry84sc", json!("Valparaiso"))
            .await
            .unwrap();
        app.settle().await;
        let rec = app.sf.record("Account", &sf_id).await.unwrap();
        assert_eq!(rec["BillingCity"].as_str(), Some("Valparaiso"), "{rec}");
        assert_eq!(
            rec["Monday_Item_Id__c"].as_str(),
            Some(item.as_str()),
            "{rec}"
        );
        let link = app
            .store
            .find_link_by_monday(ACCOUNTS.parse().unwrap(), item.parse().unwrap())
            .await
            .unwrap()
            .expect("linked");
        assert_eq!(link.sf_id, sf_id);
        app.stop().await;
    }
);

// A contact created with a board_relation to an account item that has no Salesforce record yet:
// the contact is created without AccountId, and the deferred column is applied by itself once the
// account reaches Salesforce.
both_stores!(
    deferred_relation_is_applied_once_the_account_is_synced,
    |db| async move {
        let app = spawn_app(db).await;
        app.drop_create_webhook(ACCOUNTS).await;
        let acct = app
            .create_item(
                ACCOUNTS,
                "Tidewater Mutual Aid",
                json!({"text_mkry84sc": "Norfolk"}),
            )
            .await;
        let contact = app
            .create_item(
                CONTACTS,
                "Ada Park",
                json!({"board_relation_mks98dnn": {"item_ids": [acct.parse::<i64>().unwrap()]}}),
            )
            .await;
        let c = app
            .wait_for_record("Contact", "LastName, AccountId", &contact)
            .await;
        assert_eq!(c["LastName"], "Park");
        assert!(c["AccountId"].is_null(), "{c}");
        assert!(app.sf.by_item("Account", "Name", &acct).await.is_empty());
        // The account reaches Salesforce (its first column change creates it); nobody touches the
        // contact again.
        app.monday
            .admin
            .change_column_value(&acct, "text_mkry84sc", json!("Norfolk VA"))
            .await
            .unwrap();
        app.settle().await;
        let a = app.sf.by_item("Account", "Name", &acct).await;
        assert_eq!(a.len(), 1, "{a:?}");
        let c = app
            .sf
            .by_item("Contact", "LastName, AccountId", &contact)
            .await;
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["AccountId"], a[0]["Id"], "{c:?}");
        assert!(app
            .store
            .list_dead_letters(&Default::default())
            .await
            .unwrap()
            .is_empty());
        app.stop().await;
    }
);

// When the related account never reaches Salesforce, the follow-up gives up after the bounded
// attempts: one dead letter and one alert that names the column and says what to do; replaying it
// after the account is synced sets AccountId.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deferred_relation_dead_letters_with_advice_and_replays() {
    let mut opts = Options::new(Db::Sqlite);
    opts.retry = crmsync_sync::RetrySchedule {
        base: Duration::from_millis(20),
        max: Duration::from_millis(50),
        max_attempts: 3,
    };
    let app = spawn_app_with(opts).await;
    app.drop_create_webhook(ACCOUNTS).await;
    let acct = app
        .create_item(ACCOUNTS, "Lowcountry Food Share", json!({}))
        .await;
    let contact = app
        .create_item(
            CONTACTS,
            "Ben Okafor",
            json!({"board_relation_mks98dnn": {"item_ids": [acct.parse::<i64>().unwrap()]}}),
        )
        .await;
    app.settle().await;
    let c = app
        .wait_for_record("Contact", "LastName, AccountId", &contact)
        .await;
    assert!(c["AccountId"].is_null(), "{c}");
    let dls = app
        .store
        .list_dead_letters(&Default::default())
        .await
        .unwrap();
    assert_eq!(dls.len(), 1, "{dls:?}");
    assert_eq!(dls[0].item_id.to_string(), contact);
    assert!(
        dls[0].error.contains("board_relation_mks98dnn"),
        "{}",
        dls[0].error
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let alerts = loop {
        let t = app.telegram.texts();
        if !t.is_empty() || tokio::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("board_relation_mks98dnn"),
        "{}",
        alerts[0]
    );
    assert!(
        alerts[0].contains("link the contact's account first"),
        "{}",
        alerts[0]
    );
    // Fix: the account reaches Salesforce; then replay.
    app.monday
        .admin
        .change_column_value(&acct, "text_mkry84sc", json!("Charleston"))
        .await
        .unwrap();
    app.settle().await;
    let a = app.sf.by_item("Account", "Name", &acct).await;
    assert_eq!(a.len(), 1);
    let ev = app.engine.replay_dead_letter(dls[0].id).await.unwrap();
    assert_eq!(ev.status, crmsync_store::EventStatus::Done, "{ev:?}");
    let c = app.sf.by_item("Contact", "AccountId", &contact).await;
    assert_eq!(c[0]["AccountId"], a[0]["Id"]);
    app.stop().await;
}
