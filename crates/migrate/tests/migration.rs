//! The migration against both mocks on the default seed, on both store backends: one item per
//! record with the Salesforce Id, relations set, verify clean, a second run that sends no
//! mutation, items adopted by the natural key, and no Salesforce record created by the
//! migration's own items while the real-time receiver is live.

mod common;

use common::{app, items, migrator, opts, sf_ids, text};
use crmsync_migrate::Stage;
use crmsync_testkit::{both_stores, Db, ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use serde_json::json;

const BOARDS: [(&str, &str, &str); 4] = [
    (LEADS, "Lead", "text_mkryhch5"),
    (ACCOUNTS, "Account", "text_mkrykpx4"),
    (CONTACTS, "Contact", "text_mks6ner3"),
    (OPPORTUNITIES, "Opportunity", "text_mkry20c9"),
];

both_stores!(full_run_then_nothing_to_do, |db: Db| async move {
    let app = app(db).await;
    let before: Vec<usize> = {
        let mut v = Vec::new();
        for (_, object, _) in BOARDS {
            v.push(sf_ids(&app, object).await.len());
        }
        v
    };
    let existing_before: Vec<usize> = {
        let mut v = Vec::new();
        for (board, _, _) in BOARDS {
            v.push(items(&app, board).await.len());
        }
        v
    };
    // An item a user made by hand for a lead that is in Salesforce, without the Id: adopted.
    // (Made while the board's create webhook is off, so the receiver does not create a lead.)
    app.drop_create_webhook(LEADS).await;
    let leads = app
        .sf
        .query("SELECT Id, Email FROM Lead ORDER BY Id LIMIT 1")
        .await;
    let (adopt_id, adopt_email) = (
        leads[0]["Id"].as_str().unwrap().to_string(),
        leads[0]["Email"].as_str().unwrap().to_string(),
    );
    let hand_made = app
        .create_item(
            LEADS,
            "Typed by hand",
            json!({"email_mksx3vtp": {"email": adopt_email, "text": adopt_email}}),
        )
        .await;
    let hook = url::Url::parse(&app.webhook_url).unwrap();
    crmsync_app::webhooks::install(&app.monday_client, &app.engine.mapping(), &hook)
        .await
        .unwrap();

    let (m, events) = migrator(&app);
    let t = std::time::Instant::now();
    let report = m.run(&opts(Stage::Rehearsal)).await.unwrap();
    eprintln!(
        "first run: {:?} ({} Monday calls)",
        t.elapsed(),
        report.monday_calls
    );
    assert_eq!(report.failures, vec![], "{report:#?}");
    assert_eq!(report.outcome, "passed");
    assert_eq!(report.verify_differences, Some(0));
    let total: u64 = report.objects.iter().map(|o| o.read).sum();
    assert_eq!(total, 1_100);
    let lead = report.objects.iter().find(|o| o.object == "Lead").unwrap();
    assert_eq!(lead.adopted, 1);
    assert_eq!(lead.created, 449);
    assert!(
        report.objects.iter().any(|o| o.relations_set > 0),
        "{report:#?}"
    );
    assert!(events.lock().unwrap().len() > 10);

    for (i, (board, object, id_col)) in BOARDS.into_iter().enumerate() {
        let ids = sf_ids(&app, object).await;
        let all = items(&app, board).await;
        let mut carried: Vec<String> = all
            .iter()
            .map(|it| text(it, id_col))
            .filter(|t| !t.is_empty())
            .collect();
        carried.sort();
        // Exactly one item per record, each carrying its record's Id.
        assert_eq!(carried, ids, "{object}");
        // Items that were there without a Salesforce Id stay, untouched; the hand-made lead
        // item was adopted (it holds the Id now), so no second item exists for its record.
        let untouched = all.iter().filter(|it| text(it, id_col).is_empty()).count();
        assert_eq!(untouched, existing_before[i], "{object}: untouched items");
        assert_eq!(all.len(), existing_before[i] + ids.len(), "{object}: items");
    }
    let adopted_item = items(&app, LEADS)
        .await
        .into_iter()
        .find(|it| it.id == hand_made)
        .unwrap();
    assert_eq!(text(&adopted_item, "text_mkryhch5"), adopt_id);

    // A contact's relation to its account, read from linked_item_ids.
    let contact = app
        .sf
        .query("SELECT Id, AccountId FROM Contact WHERE AccountId != null ORDER BY Id LIMIT 1")
        .await;
    let (cid, aid) = (
        contact[0]["Id"].as_str().unwrap(),
        contact[0]["AccountId"].as_str().unwrap(),
    );
    let c_link = app
        .store
        .find_link_by_salesforce("Contact", cid)
        .await
        .unwrap()
        .unwrap();
    let a_link = app
        .store
        .find_link_by_salesforce("Account", aid)
        .await
        .unwrap()
        .unwrap();
    let c_item = app
        .monday_client
        .items(&[c_link.monday_item_id.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let rel = c_item
        .column_values
        .iter()
        .find(|c| c.id == "board_relation_mks98dnn")
        .unwrap();
    assert_eq!(
        rel.linked_item_ids.clone().unwrap_or_default(),
        vec![a_link.monday_item_id.to_string()]
    );

    // The receiver saw every create webhook: it linked, it created no Salesforce record.
    let t = std::time::Instant::now();
    app.settle_within(std::time::Duration::from_secs(300)).await;
    eprintln!("settled in {:?}", t.elapsed());
    for (i, (_, object, _)) in BOARDS.into_iter().enumerate() {
        assert_eq!(
            sf_ids(&app, object).await.len(),
            before[i],
            "{object} records"
        );
    }

    // A second run: nothing to create or update, and no mutation sent.
    let t = std::time::Instant::now();
    let again = m.run(&opts(Stage::Rehearsal)).await.unwrap();
    eprintln!("second run: {:?}", t.elapsed());
    assert_eq!(again.outcome, "passed");
    assert_eq!(again.mutations, 0, "{again:#?}");
    for o in &again.objects {
        assert_eq!((o.created, o.updated, o.failed), (0, 0, 0), "{o:?}");
    }
    let v = m.verify(None).await.unwrap();
    assert_eq!(v.differences, vec![]);
    assert_eq!(v.records, 1_100);
    app.stop().await;
});

/// `--since last` with the real-time receiver live: the delta run carries a Salesforce edit
/// across (one update), the webhook its update fires writes nothing back that would look like a
/// change, and the next delta run updates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delta_runs_do_not_ping_pong() {
    let app = app(Db::Sqlite).await;
    let (m, _) = migrator(&app);
    let full = m.run(&opts(Stage::Rehearsal)).await.unwrap();
    assert_eq!(full.outcome, "passed", "{full:#?}");
    app.settle_within(std::time::Duration::from_secs(300)).await;

    let lead = app
        .sf
        .query("SELECT Id FROM Lead ORDER BY Id LIMIT 1")
        .await;
    let id = lead[0]["Id"].as_str().unwrap().to_string();
    let mut fields = serde_json::Map::new();
    fields.insert("Title".into(), json!("Head of Delta Runs"));
    app.engine
        .salesforce()
        .update("Lead", &id, &fields)
        .await
        .unwrap();

    let mut delta = opts(Stage::Production);
    delta.since_last = true;
    let first = m.run(&delta).await.unwrap();
    assert_eq!(first.outcome, "passed", "{first:#?}");
    let updated: u64 = first.objects.iter().map(|o| o.updated).sum();
    let created: u64 = first.objects.iter().map(|o| o.created).sum();
    assert_eq!((created, updated), (0, 1), "{first:#?}");
    let read: u64 = first.objects.iter().map(|o| o.read).sum();
    assert!(read < 1_100, "the delta reads only recent records: {read}");
    let link = app
        .store
        .find_link_by_salesforce("Lead", &id)
        .await
        .unwrap()
        .unwrap();
    let item = app
        .monday_client
        .items(&[link.monday_item_id.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(text(&item, "text_mksf27hv"), "Head of Delta Runs");

    // The update's webhook reaches the receiver, which finds Salesforce holding the value.
    app.settle_within(std::time::Duration::from_secs(120)).await;
    let second = m.run(&delta).await.unwrap();
    let updated: u64 = second.objects.iter().map(|o| o.updated).sum();
    assert_eq!(updated, 0, "{second:#?}");
    assert_eq!(second.mutations, 0, "{second:#?}");
    app.stop().await;
}
