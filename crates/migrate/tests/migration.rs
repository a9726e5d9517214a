//! The migration against both mocks on the default seed, on both store backends: one item per
//! record with the Salesforce Id, relations set, verify clean, a second run that sends no
//! mutation, items adopted by the natural key, no Salesforce record created by the migration's
//! own items while the real-time receiver is live, and two `--since last` delta runs in a row
//! with the receiver live: the first carries one edit across, the second updates nothing. One
//! mock setup per backend carries the whole sequence (a full run costs most of the time).

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

both_stores!(
    full_run_then_nothing_to_do_then_deltas_without_ping_pong,
    |db: Db| async move {
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

        // `--since last` with the receiver still live: a delta run carries a Salesforce edit across
        // (one update), the webhook its update fires writes nothing back that would look like a
        // change, and the next delta run updates nothing.
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
);

/// People columns and the mutation limit, on one mock setup. A Lead's owner (`OwnerId`, a
/// Salesforce User) becomes the Monday user with the same email in the `person` column; an owner
/// whose email no Monday user has is reported by `plan` and by the run (the records are still
/// migrated, their people column left empty) — never dropped silently. The mock Monday enforces
/// a mutation limit (200 per 1-second window, the same counting as Monday's 2,000 a minute) and
/// the client paces itself under it: 450 creates and not one refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_by_email_unmatched_owners_reported_and_mutations_paced() {
    let app = crmsync_testkit::spawn_app_with(crmsync_testkit::Options {
        monday_budget: Some((1_000_000_000_000, std::time::Duration::from_secs(1))),
        monday_mutations: Some(200),
        install_webhooks: false,
        ..crmsync_testkit::Options::new(Db::Sqlite)
    })
    .await;
    // Luis Herrera's Salesforce email changes to one no Monday user has.
    let luis = "0055g00000000GDAAY";
    let mut fields = serde_json::Map::new();
    fields.insert("Email".into(), json!("luis.h@elsewhere.example"));
    app.engine
        .salesforce()
        .update("User", luis, &fields)
        .await
        .unwrap();
    let owned_by_luis = app
        .sf
        .query(&format!("SELECT Id FROM Lead WHERE OwnerId = '{luis}'"))
        .await
        .len() as u64;
    assert!(owned_by_luis > 0);
    let (m, _) = migrator(&app);
    let leads = Some(vec!["Lead".to_string()]);

    let plan = m.plan(leads.as_deref()).await.unwrap();
    let unmatched = crmsync_migrate::UnmatchedUser {
        object: "Lead".into(),
        column: "person".into(),
        user_id: luis.into(),
        email: Some("luis.h@elsewhere.example".into()),
        records: owned_by_luis,
    };
    assert_eq!(plan.objects[0].unmatched_users, vec![unmatched.clone()]);

    let report = m
        .run(&crmsync_migrate::RunOptions {
            objects: leads.clone(),
            ..opts(Stage::Rehearsal)
        })
        .await
        .unwrap();
    assert_eq!(report.outcome, "passed", "{report:#?}");
    assert_eq!(report.failures, vec![]);
    assert_eq!(report.verify_differences, Some(0));
    assert_eq!(report.unmatched_users, vec![unmatched]);
    let lead = &report.objects[0];
    assert_eq!(
        lead.created + lead.updated + lead.unchanged,
        450,
        "{lead:?}"
    );

    // Owners with a Monday user of the same email: the person column names that user.
    let monday_user_by_email: std::collections::HashMap<String, String> = app
        .monday_client
        .graphql(
            "Users",
            "query { users(limit: 100) { id email } complexity { before after query reset_in_x_seconds } }",
            json!({}),
            true,
        )
        .await
        .unwrap()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().to_lowercase(),
                u["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let sf_user_email: std::collections::HashMap<String, String> = app
        .sf
        .query("SELECT Id, Email FROM User")
        .await
        .iter()
        .map(|u| {
            (
                u["Id"].as_str().unwrap().to_string(),
                u["Email"].as_str().unwrap().to_lowercase(),
            )
        })
        .collect();
    let owners = app
        .sf
        .query("SELECT Id, OwnerId FROM Lead ORDER BY Id")
        .await;
    let by_item: std::collections::HashMap<String, crmsync_monday::Item> = items(&app, LEADS)
        .await
        .into_iter()
        .map(|i| (text(&i, "text_mkryhch5"), i))
        .collect();
    let (mut with_person, mut without) = (0, 0);
    for r in &owners {
        let item = &by_item[r["Id"].as_str().unwrap()];
        let person = item
            .column_values
            .iter()
            .find(|c| c.id == "person")
            .and_then(|c| c.value.clone())
            .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
            .and_then(|v| v["personsAndTeams"][0]["id"].as_u64())
            .map(|id| id.to_string());
        if r["OwnerId"] == luis {
            assert_eq!(person, None, "{item:?}");
            without += 1;
        } else {
            let email = &sf_user_email[r["OwnerId"].as_str().unwrap()];
            assert_eq!(person.as_ref(), monday_user_by_email.get(email), "{item:?}");
            with_person += 1;
        }
    }
    assert_eq!((with_person + without, without), (450, owned_by_luis));

    // Paced: the mock never had to refuse a mutation.
    let refused = app
        .monday
        .mock
        .journal()
        .iter()
        .filter(|j| j.status == 429)
        .count();
    assert_eq!(refused, 0, "the paced client was refused {refused} time(s)");

    redacted_snapshot_keeps_relations_and_hides_personal_data(&app, &m).await;
    app.stop().await;
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every file of a snapshot (but the describes, which hold no data) as text.
fn snapshot_text(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["salesforce/records", "monday", "salesforce"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// `snapshot --redact` (after the Leads were migrated, so items carry Salesforce Ids): stable
/// (the same bytes twice), nothing personal of the originals left (names, emails, phones,
/// URLs, Salesforce Ids), and every relation still holds through the fakes — references between
/// records, the items' Salesforce Id column, owners to users, and the users' emails on both
/// sides (people columns still match).
async fn redacted_snapshot_keeps_relations_and_hides_personal_data(
    app: &crmsync_testkit::TestApp,
    m: &crmsync_migrate::Migrator,
) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    m.snapshot(&a, true).await.unwrap();
    m.snapshot(&b, true).await.unwrap();
    let text_a = snapshot_text(&a);
    let text_b: Vec<(String, String)> = snapshot_text(&b)
        .into_iter()
        .map(|(p, t)| (p.replacen("/b/", "/a/", 1), t))
        .collect();
    assert_eq!(text_a, text_b, "a redacted snapshot is stable");

    // What must not survive: every original Id, email, phone, URL and name of the records, the
    // items' emails and links, and Monday's user emails.
    let mut originals = std::collections::BTreeSet::new();
    for object in ["Lead", "Account", "Contact", "Opportunity", "User"] {
        let seed = crmsync_testkit::seed_dir().join(format!("salesforce/records/{object}.json"));
        for r in read_json(&seed).as_array().unwrap() {
            for (k, v) in r.as_object().unwrap() {
                let Some(v) = v.as_str() else { continue };
                let personal = [
                    "Id",
                    "Email",
                    "Phone",
                    "MobilePhone",
                    "Website",
                    "LastName",
                    "FirstName",
                    "Name",
                    "OwnerId",
                    "AccountId",
                ];
                if personal.contains(&k.as_str()) && v.len() > 4 {
                    originals.insert(v.to_string());
                }
            }
        }
    }
    for it in items(app, LEADS)
        .await
        .iter()
        .chain(items(app, ACCOUNTS).await.iter())
    {
        for cv in &it.column_values {
            if let Some(v) = cv
                .value
                .as_deref()
                .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            {
                for k in ["email", "url", "phone"] {
                    if let Some(s) = v.get(k).and_then(|s| s.as_str()).filter(|s| s.len() > 4) {
                        originals.insert(s.to_string());
                    }
                }
            }
        }
    }
    assert!(originals.len() > 1_000, "{}", originals.len());
    for (path, text) in &text_a {
        let leaked: Vec<&String> = originals
            .iter()
            .filter(|o| text.contains(o.as_str()))
            .take(5)
            .collect();
        assert!(leaked.is_empty(), "{path} still holds {leaked:?}");
    }

    // Relations hold through the fakes.
    let records = |object: &str| -> Vec<serde_json::Value> {
        read_json(&a.join(format!("salesforce/records/{object}.json")))
            .as_array()
            .unwrap()
            .clone()
    };
    let ids = |object: &str| -> std::collections::HashSet<String> {
        records(object)
            .iter()
            .map(|r| r["Id"].as_str().unwrap().to_string())
            .collect()
    };
    let (accounts, users, leads) = (ids("Account"), ids("User"), ids("Lead"));
    let contacts = records("Contact");
    let related = contacts
        .iter()
        .filter(|c| c["AccountId"].is_string())
        .count();
    assert!(related > 100, "{related}");
    for c in &contacts {
        if let Some(acc) = c["AccountId"].as_str() {
            assert!(
                accounts.contains(acc),
                "contact {} -> missing account {acc}",
                c["Id"]
            );
        }
        assert!(users.contains(c["OwnerId"].as_str().unwrap()));
    }
    for acc in records("Account") {
        if let Some(site) = acc["Website"].as_str() {
            assert!(site.ends_with(".example.invalid/"), "{site}");
        }
    }
    let snapshot_items = read_json(&a.join("monday/items.json"));
    let linked: Vec<&str> = snapshot_items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["board_id"] == LEADS)
        .filter_map(|i| i["column_values"]["text_mkryhch5"].as_str())
        .collect();
    assert_eq!(
        linked.len(),
        450,
        "every migrated lead item keeps its (fake) record Id"
    );
    assert!(linked.iter().all(|id| leads.contains(*id)));
    // People still match by email: as many Salesforce users share an email with a Monday user
    // as before (all but the one whose email was changed above).
    let monday_emails: std::collections::HashSet<String> = read_json(&a.join("monday/users.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    let matched = records("User")
        .iter()
        .filter(|u| {
            u["Email"]
                .as_str()
                .is_some_and(|e| monday_emails.contains(e))
        })
        .count();
    assert_eq!(matched, 5);
}
