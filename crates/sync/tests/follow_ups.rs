//! Follow-ups of deferred columns (issue 10, defect 2): a create that fails permanently after a
//! relation column was deferred must not chain follow-ups forever, and replaying its dead letter
//! must re-apply the deferred column.

use std::time::Duration;

use crmsync_testkit::*;
use serde_json::{json, Value};

const RELATION: &str = "board_relation_mks98dnn";
const FOLLOW_UP_PREFIX: &str = "crmsync-deferred:";

/// Salesforce writes (create, update, upsert, delete) the mock received so far.
fn salesforce_writes(app: &TestApp) -> usize {
    app.salesforce
        .handle
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "DELETE"))
        .filter(|r| r.path.contains("/sobjects/") || r.path.contains("/composite"))
        .count()
}

async fn mock_faults(app: &TestApp, method: reqwest::Method, body: Option<Value>) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/__mock/faults", app.salesforce.base_url));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "faults: {}", r.status());
}

async fn events_of(app: &TestApp, item: &str) -> Vec<crmsync_store::Event> {
    app.store
        .recent_events(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.item_id.to_string() == item)
        .collect()
}

async fn dead_letters_of(app: &TestApp, item: &str) -> Vec<crmsync_store::DeadLetter> {
    app.store
        .list_dead_letters(&crmsync_store::DeadLetterFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.item_id.to_string() == item)
        .collect()
}

/// An account item that is not in Salesforce (its create webhook is removed), every Contact create
/// failing permanently (400 `REQUIRED_FIELD_MISSING`), and a contact item related to the account:
/// its create dead-letters and its relation column is deferred to a follow-up. Returns both item
/// ids.
async fn contact_whose_create_fails(
    app: &TestApp,
    account_name: &str,
    contact_name: &str,
) -> (String, String) {
    app.drop_create_webhook(ACCOUNTS).await;
    let acct = app.create_item(ACCOUNTS, account_name, json!({})).await;
    mock_faults(
        app,
        reqwest::Method::POST,
        Some(json!({
            "method": "PATCH",
            "path": "/services/data/*/sobjects/Contact/*",
            "status": 400,
            "body": [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Department]", "fields": ["Department"]}],
        })),
    )
    .await;
    let contact = app
        .create_item(
            CONTACTS,
            contact_name,
            json!({RELATION: {"item_ids": [acct.parse::<i64>().unwrap()]}}),
        )
        .await;
    (acct, contact)
}

// A Contact create fails permanently (400 REQUIRED_FIELD_MISSING) after its Account relation was
// deferred (the account is not in Salesforce yet). The root event dead-letters; its one follow-up
// waits for the contact's record instead of re-trying the create (before the fix it re-tried the
// create and stored a follow-up of its own, endlessly: ~830 Salesforce writes in 6 s). Once the
// follow-up's bounded wait is over it dead-letters too: one dead letter per event, one follow-up
// per root. After the fault is cleared and the account synced, replaying the root's dead letter
// creates the contact and re-opens the follow-up, and the relation is set in Salesforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permanently_failing_create_stores_one_follow_up_and_its_replay_sets_the_relation() {
    let mut opts = Options::new(Db::Sqlite);
    opts.retry = crmsync_sync::RetrySchedule {
        base: Duration::from_millis(20),
        max: Duration::from_millis(60),
        max_attempts: 5,
    };
    let app = spawn_app_with(opts).await;
    let writes_before = salesforce_writes(&app);
    let (acct, contact) =
        contact_whose_create_fails(&app, "Piedmont Tool Library", "Rosa Delgado").await;
    // The worker runs for a few seconds.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let events = events_of(&app, &contact).await;
    let follow_ups: Vec<_> = events
        .iter()
        .filter(|e| e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX))
        .collect();
    let roots: Vec<_> = events
        .iter()
        .filter(|e| !e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX))
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "one webhook event for the contact: {roots:#?}"
    );
    let root = roots[0];
    assert_eq!(
        follow_ups.len(),
        1,
        "one follow-up per root event: {follow_ups:#?}"
    );
    let fu = follow_ups[0];
    assert_eq!(
        fu.trigger_uuid,
        format!("{FOLLOW_UP_PREFIX}{}:{RELATION}", root.id),
        "the follow-up is keyed by the root event"
    );
    let dls = dead_letters_of(&app, &contact).await;
    assert!(
        dls.len() <= 2,
        "at most one dead letter per event (root and its follow-up), got {}",
        dls.len()
    );
    let root_dl = dls
        .iter()
        .find(|d| d.event_id == root.id)
        .expect("the root event is dead-lettered");
    assert!(
        root_dl.error.contains("REQUIRED_FIELD_MISSING"),
        "{}",
        root_dl.error
    );
    assert_eq!(fu.status, crmsync_store::EventStatus::Dead, "{fu:#?}");
    assert!(
        fu.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("no Salesforce record"),
        "the follow-up waited for the contact's record: {fu:#?}"
    );
    let writes = salesforce_writes(&app) - writes_before;
    assert!(
        writes <= 3,
        "the failing create is sent once (the follow-up never re-tries it); {writes} writes"
    );

    // Fix: the fault is cleared, the account reaches Salesforce, the root's dead letter replayed.
    mock_faults(&app, reqwest::Method::DELETE, None).await;
    app.monday
        .admin
        .change_column_value(&acct, "text_mkry84sc", json!("Durham"))
        .await
        .unwrap();
    let a = app.wait_for_record("Account", "Name", &acct).await;
    let ev = app.engine.replay_dead_letter(root_dl.id).await.unwrap();
    assert_eq!(ev.status, crmsync_store::EventStatus::Done, "{ev:?}");
    app.settle().await;
    let c = app
        .sf
        .by_item("Contact", "LastName, AccountId", &contact)
        .await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["AccountId"], a["Id"], "{c:?}");
    // The replay re-opened the follow-up (same key): it ran again and is done, and no dead letter
    // of the contact is left open.
    let fu_now = app.store.get_event(fu.id).await.unwrap().unwrap();
    assert_eq!(
        fu_now.status,
        crmsync_store::EventStatus::Done,
        "{fu_now:#?}"
    );
    let open: Vec<_> = dead_letters_of(&app, &contact)
        .await
        .into_iter()
        .filter(|d| d.status == crmsync_store::DeadLetterStatus::Open)
        .collect();
    assert!(open.is_empty(), "{open:#?}");
    let follow_ups = events_of(&app, &contact)
        .await
        .into_iter()
        .filter(|e| e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX))
        .count();
    assert_eq!(follow_ups, 1, "the replay stored no new follow-up");
    app.stop().await;
}

// The replay of a root whose related record is *still* missing defers the column again; the
// follow-up that had given up is re-opened by that replay (same key), waits for the account, and
// sets the relation once the account is synced — with nobody touching the contact again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_the_create_before_the_account_is_synced_re_applies_the_deferred_column_later() {
    let mut opts = Options::new(Db::Sqlite);
    opts.retry = crmsync_sync::RetrySchedule {
        base: Duration::from_millis(20),
        max: Duration::from_millis(60),
        max_attempts: 5,
    };
    let app = spawn_app_with(opts).await;
    let (acct, contact) = contact_whose_create_fails(&app, "Cape Fear Fridge", "Tomas Reyes").await;
    // Wait until both the root and its follow-up are dead.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let dls = loop {
        let d = dead_letters_of(&app, &contact).await;
        if d.len() >= 2 {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead_letters_of(&app, &contact).await.len(), 2);
    let events = events_of(&app, &contact).await;
    let root = events
        .iter()
        .find(|e| !e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX))
        .unwrap();
    let root_dl = dls.iter().find(|d| d.event_id == root.id).unwrap();
    mock_faults(&app, reqwest::Method::DELETE, None).await;
    let ev = app.engine.replay_dead_letter(root_dl.id).await.unwrap();
    assert_eq!(ev.status, crmsync_store::EventStatus::Done, "{ev:?}");
    let c = app
        .wait_for_record("Contact", "LastName, AccountId", &contact)
        .await;
    assert!(c["AccountId"].is_null(), "{c}");
    // The root's replay deferred the column again under the same key: that re-opened the
    // follow-up's dead letter (it may have given up again since: 5 short attempts).
    let fu_id = events
        .iter()
        .find(|e| e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX))
        .unwrap()
        .id;
    let fu_dl = dead_letters_of(&app, &contact)
        .await
        .into_iter()
        .find(|d| d.event_id == fu_id)
        .unwrap();
    assert_eq!(fu_dl.replay_count, 1, "{fu_dl:#?}");
    // The account reaches Salesforce; the follow-up (still waiting, or replayed once more if it
    // gave up in between) sets the relation.
    app.monday
        .admin
        .change_column_value(&acct, "text_mkry84sc", json!("Wilmington"))
        .await
        .unwrap();
    let a = app.wait_for_record("Account", "Name", &acct).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let c = app.sf.by_item("Contact", "AccountId", &contact).await;
        if c[0]["AccountId"] == a["Id"] {
            break;
        }
        let d = app.store.get_dead_letter(fu_dl.id).await.unwrap().unwrap();
        if d.status == crmsync_store::DeadLetterStatus::Open {
            app.engine.replay_dead_letter(d.id).await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "{c:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

// Once the create a follow-up waits for is itself a dead letter, the follow-up stops waiting (it
// would only hold up the item's later events — a user's fix among them — for the whole retry
// schedule): it is dead-lettered at once, and replaying the root re-opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follow_up_of_a_dead_create_stops_waiting_at_once() {
    let mut opts = Options::new(Db::Sqlite);
    // A schedule that would keep a waiting follow-up retrying for far longer than this test.
    opts.retry = crmsync_sync::RetrySchedule {
        base: Duration::from_millis(100),
        max: Duration::from_millis(200),
        max_attempts: 10_000,
    };
    let app = spawn_app_with(opts).await;
    let (_acct, contact) =
        contact_whose_create_fails(&app, "Riverbend Seed Bank", "Ines Farah").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let events = events_of(&app, &contact).await;
        let fu = events
            .iter()
            .find(|e| e.trigger_uuid.starts_with(FOLLOW_UP_PREFIX));
        if let Some(fu) = fu.filter(|f| f.status == crmsync_store::EventStatus::Dead) {
            assert!(fu.attempts <= 3, "it stopped waiting soon: {fu:#?}");
            assert!(
                fu.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("is a dead letter"),
                "{fu:#?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the follow-up still waits behind a dead create: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
