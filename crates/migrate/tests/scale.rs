//! The migration on the seed scaled five times (5,500 Salesforce records over Lead, Account,
//! Contact and Opportunity; the mock Monday's complexity budget lifted): exactly one item per
//! record carrying its Id, relations into the scaled copies, verify clean, and a second run that
//! creates and updates nothing and sends no mutation. One store backend (SQLite) to keep CI time
//! low; both backends run the same code on the default seed in `migration.rs`.

mod common;

use common::{items, migrator, opts, sf_ids, text};
use crmsync_migrate::Stage;
use crmsync_testkit::{spawn_app_with, Db, Options, ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};

const SCALE: u32 = 5;

const BOARDS: [(&str, &str, &str); 4] = [
    (LEADS, "Lead", "text_mkryhch5"),
    (ACCOUNTS, "Account", "text_mkrykpx4"),
    (CONTACTS, "Contact", "text_mks6ner3"),
    (OPPORTUNITIES, "Opportunity", "text_mkry20c9"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scaled_seed_one_item_per_record_verify_clean_second_run_sends_nothing() {
    let app = spawn_app_with(Options {
        monday_budget: Some((1_000_000_000_000, std::time::Duration::from_secs(60))),
        salesforce_scale: SCALE,
        // The receiver is not under test here (migration.rs covers it live); without the
        // webhooks the mock Monday does not deliver 5,500 create events.
        install_webhooks: false,
        ..Options::new(Db::Sqlite)
    })
    .await;
    let mut existing_before = Vec::new();
    let mut records = Vec::new();
    for (board, object, _) in BOARDS {
        existing_before.push(items(&app, board).await.len());
        records.push(sf_ids(&app, object).await);
    }
    let total: usize = records.iter().map(Vec::len).sum();
    assert_eq!(total, 5 * 1_100);

    let (m, _events) = migrator(&app);
    let t = std::time::Instant::now();
    let report = m.run(&opts(Stage::Rehearsal)).await.unwrap();
    eprintln!(
        "first run over {total} records: {:?} ({} Monday calls, {} mutations)",
        t.elapsed(),
        report.monday_calls,
        report.mutations
    );
    assert_eq!(report.failures, vec![], "{report:#?}");
    assert_eq!(report.outcome, "passed");
    assert_eq!(report.verify_differences, Some(0));
    for (i, (_, object, _)) in BOARDS.into_iter().enumerate() {
        let o = report.objects.iter().find(|o| o.object == object).unwrap();
        assert_eq!(o.read as usize, records[i].len(), "{object}");
        assert_eq!(o.created as usize, records[i].len(), "{object}: {o:?}");
    }

    for (i, (board, object, id_col)) in BOARDS.into_iter().enumerate() {
        let all = items(&app, board).await;
        let mut carried: Vec<String> = all
            .iter()
            .map(|it| text(it, id_col))
            .filter(|t| !t.is_empty())
            .collect();
        carried.sort();
        // Exactly one item per record, each with its record's Id; the items that were on the
        // board without an Id are still there.
        assert_eq!(carried, records[i], "{object}");
        assert_eq!(all.len(), existing_before[i] + records[i].len(), "{object}");
    }

    // A contact of the fifth copy is related to the fifth copy of its account.
    let contact = app
        .sf
        .query(
            "SELECT Id, AccountId, Account.Name FROM Contact \
             WHERE AccountId != null AND LastName LIKE '% 5' ORDER BY Id LIMIT 1",
        )
        .await;
    let (cid, aid) = (
        contact[0]["Id"].as_str().unwrap(),
        contact[0]["AccountId"].as_str().unwrap(),
    );
    assert!(contact[0]["Account"]["Name"]
        .as_str()
        .unwrap()
        .ends_with(" 5"));
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

    let t = std::time::Instant::now();
    let again = m.run(&opts(Stage::Rehearsal)).await.unwrap();
    eprintln!("second run: {:?}", t.elapsed());
    assert_eq!(again.outcome, "passed");
    assert_eq!(again.mutations, 0, "{again:#?}");
    assert_eq!(again.verify_differences, Some(0));
    for o in &again.objects {
        assert_eq!((o.created, o.updated, o.failed), (0, 0, 0), "{o:?}");
    }
    app.stop().await;
}
