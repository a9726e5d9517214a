//! The store suite, written once and run against both backends: every case below becomes
//! `sqlite::<case>` (temp file) and `postgres::<case>` (fresh database from `DATABASE_URL`; fails when
//! `DATABASE_URL` is unset — run `cargo xtask test`).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::TestDb;
use crmsync_store::{
    Backend, CheckpointOutcome, DeadLetterFilter, DeadLetterStatus, EventStatus, InsertOutcome,
    Link, LinkOutcome, MigrationStage, RunCounts, RunOutcome, Store, StoreError,
};

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::new(crmsync_store::Backend::Sqlite).await;
                    super::$case(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::new(crmsync_store::Backend::Postgres).await;
                    super::$case(&db).await;
                }
            )*
        }
    };
}

suite!(
    connect_migrate_ping,
    duplicate_event_keys_from_concurrent_connections_leave_one_row,
    concurrent_events_of_one_item_get_consecutive_sequence_numbers,
    payload_with_nul_is_rejected_with_field_name,
    links_are_unique_both_ways,
    concurrent_links_to_one_salesforce_record_create_exactly_one,
    claims_hand_out_oldest_due_event_and_block_the_item,
    concurrent_workers_never_hold_one_item_twice_and_keep_order,
    receipts_racing_settlements_never_strand_an_event,
    a_cancelled_heartbeat_never_swallows_the_next_receipt,
    expired_lease_is_reclaimable_and_old_claim_is_fenced,
    dead_letter_round_trips_payload_byte_for_byte,
    replay_puts_the_event_back,
    migration_runs_and_plan_hash_lookups,
    checkpoints_are_idempotent_and_scoped_to_a_run,
    status_queries,
    renewed_lease_outlives_its_first_expiry_and_blocks_a_second_worker,
    lost_lease_fails_renew_check_fence_and_settling,
    expired_lease_nobody_took_fails_the_fence_but_can_be_renewed,
    leases_and_due_times_follow_the_database_clock,
    events_without_item_id_get_a_queue_each,
    old_item_zero_events_get_a_queue_each_after_migrating,
    nul_in_trigger_uuid_or_type_is_invalid_input,
    pause_set_by_one_process_is_honoured_by_another,
    alert_window_sends_once_across_processes_and_its_summary_is_claimed_once,
    a_closed_window_keeps_its_summary_when_a_new_window_opens,
    attempts_are_rows_numbered_per_event,
    rejected_deliveries_keep_headers_and_body_bytes,
    status_page_lookups_find_items_and_take_any_text,
    reconcile_state_applied_values_cursors_sweeps_and_drift,
);

const LONG: Duration = Duration::from_secs(60);

fn new_event(uuid: &str, board: i64, item: i64, payload: &str) -> crmsync_store::NewEvent {
    crmsync_store::NewEvent {
        trigger_uuid: uuid.to_owned(),
        board_id: board,
        item_id: item,
        event_type: "update_column_value".to_owned(),
        payload: payload.to_owned(),
    }
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

async fn total_events(store: &Store) -> u64 {
    store.event_counts_since(epoch()).await.unwrap().total()
}

async fn connect_migrate_ping(db: &TestDb) {
    let s = &db.store;
    s.ping().await.unwrap();
    assert_eq!(s.next_due_at().await.unwrap(), None);
    // migrations are idempotent
    s.migrate().await.unwrap();
    let expected = if db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(s.backend(), expected);
    assert_eq!(total_events(s).await, 0);
}

async fn duplicate_event_keys_from_concurrent_connections_leave_one_row(db: &TestDb) {
    let stores = [db.store.clone(), db.another_store().await];
    for round in 0..5 {
        let uuid = format!("dup-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(24));
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let store = stores[i % 2].clone();
                let barrier = barrier.clone();
                let ev = new_event(&uuid, 10, 100 + round, "{}");
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.insert_event_if_new(&ev).await.unwrap()
                })
            })
            .collect();
        let outcomes: Vec<InsertOutcome> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let inserted: Vec<_> = outcomes
            .iter()
            .filter(|o| matches!(o, InsertOutcome::Inserted(_)))
            .collect();
        assert_eq!(inserted.len(), 1, "{outcomes:?}");
        let id = inserted[0].event_id();
        assert!(outcomes.iter().all(|o| o.event_id() == id), "{outcomes:?}");
    }
    assert_eq!(total_events(&db.store).await, 5);
    // a redelivery later is still a duplicate and leaves the stored payload untouched
    let again = db
        .store
        .insert_event_if_new(&new_event("dup-0", 10, 100, "{\"changed\":true}"))
        .await
        .unwrap();
    let InsertOutcome::Duplicate(id) = again else {
        panic!("expected duplicate, got {again:?}")
    };
    assert_eq!(db.store.get_event(id).await.unwrap().unwrap().payload, "{}");
}

async fn concurrent_events_of_one_item_get_consecutive_sequence_numbers(db: &TestDb) {
    let stores = [db.store.clone(), db.another_store().await];
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                store
                    .insert_event_if_new(&new_event(&format!("seq-{i}"), 1, 7, "{}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in futures::future::join_all(tasks).await {
        let InsertOutcome::Inserted(id) = t.unwrap() else {
            panic!("all keys are distinct")
        };
        seqs.push(db.store.get_event(id).await.unwrap().unwrap().item_seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>());
}

async fn payload_with_nul_is_rejected_with_field_name(db: &TestDb) {
    let err = db
        .store
        .insert_event_if_new(&new_event("nul", 1, 1, "{\"a\":\"x\0y\"}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidInput {
                field: "payload",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("payload"), "{err}");
    assert_eq!(total_events(&db.store).await, 0);
}

fn link(board: i64, item: i64, object: &str, id: &str) -> Link {
    Link {
        monday_board_id: board,
        monday_item_id: item,
        sf_object: object.to_owned(),
        sf_id: id.to_owned(),
    }
}

async fn links_are_unique_both_ways(db: &TestDb) {
    let s = &db.store;
    let a = link(1, 100, "Lead", "00Q000000000001AAA");
    assert_eq!(s.upsert_link(&a).await.unwrap(), LinkOutcome::Created);
    assert_eq!(s.upsert_link(&a).await.unwrap(), LinkOutcome::AlreadyLinked);
    assert_eq!(
        s.find_link_by_monday(1, 100).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.find_link_by_salesforce("Lead", "00Q000000000001AAA")
            .await
            .unwrap(),
        Some(a.clone())
    );

    // same Salesforce record, another item: conflict naming the existing link
    let other_item = link(1, 101, "Lead", "00Q000000000001AAA");
    match s.upsert_link(&other_item).await {
        Err(StoreError::LinkConflict {
            requested,
            existing,
        }) => {
            assert_eq!(*requested, other_item);
            assert_eq!(*existing, a);
        }
        other => panic!("expected LinkConflict, got {other:?}"),
    }
    // same item, another Salesforce record: conflict too
    let other_record = link(1, 100, "Lead", "00Q000000000002AAA");
    assert!(matches!(
        s.upsert_link(&other_record).await,
        Err(StoreError::LinkConflict { .. })
    ));
    // nothing was overwritten
    assert_eq!(
        s.find_link_by_monday(1, 100).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.find_link_by_monday(1, 101).await.unwrap(), None);
    assert_eq!(
        s.find_link_by_salesforce("Lead", "00Q000000000002AAA")
            .await
            .unwrap(),
        None
    );

    // same item id on another board is another item
    let b = link(2, 100, "Account", "001000000000001AAA");
    assert_eq!(s.upsert_link(&b).await.unwrap(), LinkOutcome::Created);

    // relinking works after deleting
    assert_eq!(
        s.delete_link_by_monday(1, 100).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.delete_link_by_monday(1, 100).await.unwrap(), None);
    assert_eq!(
        s.upsert_link(&other_item).await.unwrap(),
        LinkOutcome::Created
    );
    assert_eq!(
        s.delete_link_by_salesforce("Lead", "00Q000000000001AAA")
            .await
            .unwrap(),
        Some(other_item)
    );
    assert_eq!(s.find_link_by_monday(1, 101).await.unwrap(), None);
}

async fn concurrent_links_to_one_salesforce_record_create_exactly_one(db: &TestDb) {
    let stores = [db.store.clone(), db.another_store().await];
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = stores[i % 2].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .upsert_link(&link(5, 500 + i as i64, "Contact", "003000000000009AAA"))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for t in futures::future::join_all(tasks).await {
        match t.unwrap() {
            Ok(LinkOutcome::Created) => created += 1,
            Err(StoreError::LinkConflict { .. }) => conflicts += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created, conflicts), (1, 15));
    let winner = db
        .store
        .find_link_by_salesforce("Contact", "003000000000009AAA")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.store
            .find_link_by_monday(5, winner.monday_item_id)
            .await
            .unwrap(),
        Some(winner)
    );
}

async fn claims_hand_out_oldest_due_event_and_block_the_item(db: &TestDb) {
    let s = &db.store;
    for i in 1..=3 {
        s.insert_event_if_new(&new_event(
            &format!("a{i}"),
            1,
            10,
            &format!("{{\"n\":{i}}}"),
        ))
        .await
        .unwrap();
    }
    s.insert_event_if_new(&new_event("b1", 1, 20, "{}"))
        .await
        .unwrap();

    let first = s.claim_for_item(1, 10, "w1", LONG).await.unwrap().unwrap();
    assert_eq!(first.event.trigger_uuid, "a1");
    assert_eq!(first.event.status, EventStatus::Processing);
    assert_eq!(first.event.claimed_by.as_deref(), Some("w1"));
    // the item is held: nothing more from it, neither by item nor by claim_next
    assert!(s.claim_for_item(1, 10, "w2", LONG).await.unwrap().is_none());
    let other = s.claim_next("w2", LONG).await.unwrap().unwrap();
    assert_eq!(other.event.trigger_uuid, "b1");
    assert!(s.claim_next("w3", LONG).await.unwrap().is_none());

    // a failure with a retry in the future keeps the head, and blocks the later events of the item
    let attempts = s
        .mark_failed(
            &first.claim,
            "503 from Salesforce",
            Utc::now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(attempts, 1);
    let failed = s.get_event(first.event.id).await.unwrap().unwrap();
    assert_eq!(failed.status, EventStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("503 from Salesforce"));
    assert!(s.claim_for_item(1, 10, "w2", LONG).await.unwrap().is_none());
    assert!(s.claim_next("w2", LONG).await.unwrap().is_none());
    // the next wake-up is the lease of b1 (60 s) — earlier than the retry of a1 (1 h)
    let wake = s.next_due_at().await.unwrap().unwrap();
    assert_eq!(
        Some(wake),
        s.get_event(other.event.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at
    );

    // the settled claim cannot be used again
    assert!(matches!(
        s.mark_done(&first.claim).await,
        Err(StoreError::LeaseLost { .. })
    ));
    // neither can a forged token
    let mut forged = other.claim.clone();
    forged.token = "not-the-token".to_owned();
    assert!(matches!(
        s.mark_done(&forged).await,
        Err(StoreError::LeaseLost { .. })
    ));
    s.mark_skipped(&other.claim, "board not mapped")
        .await
        .unwrap();
    let skipped = s.get_event(other.event.id).await.unwrap().unwrap();
    assert_eq!(skipped.status, EventStatus::Skipped);
    assert!(skipped.processed_at.is_some());
}

/// Many workers on two independent pools hammer a few items; every claim records the item as busy
/// and checks nobody else has it. Some first attempts fail and are retried, which must not let a
/// later event of the item overtake.
async fn concurrent_workers_never_hold_one_item_twice_and_keep_order(db: &TestDb) {
    const ITEMS: i64 = 6;
    const PER_ITEM: i64 = 12;
    const WORKERS: usize = 12;
    let stores = [db.store.clone(), db.another_store().await];
    for seq in 1..=PER_ITEM {
        for item in 1..=ITEMS {
            stores[0]
                .insert_event_if_new(&new_event(&format!("i{item}-s{seq}"), 3, item, "{}"))
                .await
                .unwrap();
        }
    }
    let total = (ITEMS * PER_ITEM) as usize;
    let done = Arc::new(AtomicUsize::new(0));
    let busy: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    let overlaps: Arc<Mutex<Vec<String>>> = Arc::default();
    let applied: Arc<Mutex<HashMap<i64, Vec<i64>>>> = Arc::default();
    let failed_once: Arc<Mutex<HashSet<i64>>> = Arc::default();

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let store = stores[w % 2].clone();
            let (done, busy, overlaps, applied, failed_once) = (
                done.clone(),
                busy.clone(),
                overlaps.clone(),
                applied.clone(),
                failed_once.clone(),
            );
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                let mut turn = 0u64;
                while done.load(Ordering::SeqCst) < total {
                    turn += 1;
                    let claimed = if w % 3 == 0 {
                        let item = (turn as i64 % ITEMS) + 1;
                        store.claim_for_item(3, item, &name, LONG).await.unwrap()
                    } else {
                        store.claim_next(&name, LONG).await.unwrap()
                    };
                    let Some(c) = claimed else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    let item = c.event.item_id;
                    if let Some(holder) = busy.lock().unwrap().insert(item, name.clone()) {
                        overlaps
                            .lock()
                            .unwrap()
                            .push(format!("item {item}: {name} while {holder}"));
                    }
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    busy.lock().unwrap().remove(&item);
                    let fail = c.event.item_seq % 4 == 2
                        && failed_once.lock().unwrap().insert(c.event.id.0);
                    if fail {
                        store
                            .mark_failed(&c.claim, "transient", Utc::now())
                            .await
                            .unwrap();
                    } else {
                        applied
                            .lock()
                            .unwrap()
                            .entry(item)
                            .or_default()
                            .push(c.event.item_seq);
                        store.mark_done(&c.claim).await.unwrap();
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(300), futures::future::join_all(workers))
        .await
        .expect("workers finished")
        .into_iter()
        .for_each(|r| r.unwrap());

    assert_eq!(*overlaps.lock().unwrap(), Vec::<String>::new());
    let applied = applied.lock().unwrap().clone();
    for item in 1..=ITEMS {
        assert_eq!(
            applied.get(&item).cloned().unwrap_or_default(),
            (1..=PER_ITEM).collect::<Vec<_>>(),
            "order of item {item}"
        );
    }
    let counts = db.store.event_counts_since(epoch()).await.unwrap();
    assert_eq!(counts.done, total as u64);
    assert_eq!(counts.total(), total as u64);
}

/// `claim_next` finds work through the queue heads (migration 0009): a receipt that lands while
/// the item's previous event is being settled must still leave a head for it, or the event would
/// stay open for good. Receipts and settlements of the same two items race on two connections
/// pools; every event must be claimed by `claim_next` alone, in order.
async fn receipts_racing_settlements_never_strand_an_event(db: &TestDb) {
    const PER_ITEM: i64 = 40;
    let stores = [db.store.clone(), db.another_store().await];
    let total = (2 * PER_ITEM) as usize;
    let receiver = {
        let store = stores[1].clone();
        tokio::spawn(async move {
            for seq in 1..=PER_ITEM {
                for item in [1, 2] {
                    store
                        .insert_event_if_new(&new_event(&format!("r{item}-{seq}"), 5, item, "{}"))
                        .await
                        .unwrap();
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let applied: Arc<Mutex<HashMap<i64, Vec<i64>>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = stores[w % 2].clone();
            let (applied, done) = (applied.clone(), done.clone());
            tokio::spawn(async move {
                let name = format!("worker-{w}");
                while done.load(Ordering::SeqCst) < total {
                    match store.claim_next(&name, LONG).await.unwrap() {
                        Some(c) => {
                            applied
                                .lock()
                                .unwrap()
                                .entry(c.event.item_id)
                                .or_default()
                                .push(c.event.item_seq);
                            store.mark_done(&c.claim).await.unwrap();
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        None => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
            })
        })
        .collect();
    receiver.await.unwrap();
    let finished =
        tokio::time::timeout(Duration::from_secs(120), futures::future::join_all(workers)).await;
    let counts = db.store.event_counts_since(epoch()).await.unwrap();
    assert!(
        finished.is_ok(),
        "claim_next stopped finding open events: {counts:?}, next due {:?}",
        db.store.next_due_in().await
    );
    let applied = applied.lock().unwrap().clone();
    for item in [1, 2] {
        assert_eq!(
            applied.get(&item).cloned().unwrap_or_default(),
            (1..=PER_ITEM).collect::<Vec<_>>(),
            "order of item {item}"
        );
    }
    assert_eq!(counts.done, total as u64);
    assert_eq!(db.store.next_due_in().await.unwrap(), None);
}

/// A heartbeat cancelled mid-flight (the engine aborts its heartbeat task when an attempt ends;
/// an event deadline cancels whatever store call is running) must not leave its pooled connection
/// inside a transaction. sqlx 0.8's `Pool::begin` on PostgreSQL is not cancel-safe
/// (transact-rs/sqlx#4393): cut during the `BEGIN` round trip, the session stays in a transaction
/// nothing ends, and the next statements on that connection — a webhook receipt, say — run inside
/// it: acknowledged to Monday, invisible to every other process, and gone when the process dies
/// (the chaos suite's SIGKILL row lost deliveries answered 200 this way). One connection, so every
/// receipt reuses the connection of the cut heartbeat.
async fn a_cancelled_heartbeat_never_swallows_the_next_receipt(db: &TestDb) {
    let one = Store::connect_with(
        &db.url,
        &crmsync_store::StoreOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let other = db.another_store().await;
    one.insert_event_if_new(&new_event("hb-0", 9, 1, "{}"))
        .await
        .unwrap();
    let c = one.claim_next("w", LONG).await.unwrap().unwrap();
    for i in 0..400u64 {
        let cut = Duration::from_micros(i * 7 % 1500);
        let _ = tokio::time::timeout(cut, one.renew_lease(&c.claim, LONG)).await;
        let id = match one
            .insert_event_if_new(&new_event(&format!("hb-{}", i + 1), 9, 2, "{}"))
            .await
            .unwrap()
        {
            InsertOutcome::Inserted(id) => id,
            dup => panic!("a new key is inserted: {dup:?}"),
        };
        assert!(
            other.get_event(id).await.unwrap().is_some(),
            "receipt {i}, stored after a heartbeat cut after {cut:?}, is invisible to another \
             connection (it ran inside a transaction the cut left open)"
        );
    }
    one.close().await;
}

async fn expired_lease_is_reclaimable_and_old_claim_is_fenced(db: &TestDb) {
    let s = &db.store;
    let other = db.another_store().await;
    s.insert_event_if_new(&new_event("lease-1", 1, 1, "{}"))
        .await
        .unwrap();
    s.insert_event_if_new(&new_event("lease-2", 1, 1, "{}"))
        .await
        .unwrap();
    let a = s
        .claim_next("slow-worker", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.event.trigger_uuid, "lease-1");
    // wait well past the lease
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = other.claim_next("rescuer", LONG).await.unwrap().unwrap();
    assert_eq!(
        b.event.id, a.event.id,
        "the expired head is handed out again, not the next event"
    );
    assert_ne!(b.claim.token, a.claim.token);
    assert_eq!(b.event.claimed_by.as_deref(), Some("rescuer"));
    // the slow worker's late writes are refused
    assert!(matches!(
        s.extend_lease(&a.claim, LONG).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        s.mark_done(&a.claim).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        s.mark_dead(&a.claim, "late", None).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert_eq!(
        s.get_event(a.event.id).await.unwrap().unwrap().status,
        EventStatus::Processing
    );
    // the rescuer can extend and finish
    let extended = other.extend_lease(&b.claim, LONG).await.unwrap();
    assert!(extended.lease_expires_at >= b.claim.lease_expires_at);
    other.mark_done(&extended).await.unwrap();
    let next = s.claim_next("w", LONG).await.unwrap().unwrap();
    assert_eq!(next.event.trigger_uuid, "lease-2");
}

/// Odd but valid payload text: BOM, CRLF, tabs, trailing spaces, escapes, emoji, combining marks,
/// right-to-left text, zero-width joiners, a lone escaped NUL and non-BMP characters.
const ODD_PAYLOAD: &str =
    "\u{feff}{\"event\":{\"value\":\"caf\u{e9} / cafe\u{301} \u{1f980}\u{200d}\u{1f525} \
\u{5e9}\u{5dc}\u{5d5}\u{5dd}\",\r\n\t\"escaped\":\"\\u0000 \\\" \\\\ \\n \\ud83e\\udd80\",\
\"spaces\":\"  \u{a0}\u{2003} \",\"big\":12345678901234567890.000000000000001}}  \r\n\t ";

async fn dead_letter_round_trips_payload_byte_for_byte(db: &TestDb) {
    let s = &db.store;
    let id = s
        .insert_event_if_new(&new_event("odd", 9, 99, ODD_PAYLOAD))
        .await
        .unwrap()
        .event_id();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    assert_eq!(c.event.payload.as_bytes(), ODD_PAYLOAD.as_bytes());
    let sf_body = "[{\"message\":\"Champ obligatoire manquant : [LastName] \u{2014} \u{1f6ab}\",\
                   \"errorCode\":\"REQUIRED_FIELD_MISSING\",\"fields\":[\"LastName\"]}]";
    let dl_id = s
        .mark_dead(
            &c.claim,
            "Salesforce rejected the Lead: REQUIRED_FIELD_MISSING",
            Some(sf_body),
        )
        .await
        .unwrap();

    let dl = s.get_dead_letter(dl_id).await.unwrap().unwrap();
    assert_eq!(dl.payload.as_bytes(), ODD_PAYLOAD.as_bytes());
    assert_eq!(dl.sf_error_body.as_deref(), Some(sf_body));
    assert_eq!(dl.event_id, id);
    assert_eq!(dl.trigger_uuid, "odd");
    assert_eq!((dl.board_id, dl.item_id), (9, 99));
    assert_eq!(dl.status, DeadLetterStatus::Open);
    assert_eq!(dl.replay_count, 0);
    assert!(dl.replayed_at.is_none());

    let event = s.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Dead);
    assert_eq!(event.attempts, 1);
    assert_eq!(event.payload.as_bytes(), ODD_PAYLOAD.as_bytes());

    let listed = s
        .list_dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![dl.clone()]);
    let other_board = DeadLetterFilter {
        board_id: Some(8),
        ..DeadLetterFilter::default()
    };
    assert!(s.list_dead_letters(&other_board).await.unwrap().is_empty());
    assert_eq!(s.open_dead_letter_count().await.unwrap(), 1);
}

async fn replay_puts_the_event_back(db: &TestDb) {
    let s = &db.store;
    let id = s
        .insert_event_if_new(&new_event("r1", 1, 1, "{\"x\":1}"))
        .await
        .unwrap()
        .event_id();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_failed(&c.claim, "timeout", Utc::now())
        .await
        .unwrap();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    let dl_id = s.mark_dead(&c.claim, "INVALID_FIELD", None).await.unwrap();
    assert_eq!(s.get_event(id).await.unwrap().unwrap().attempts, 2);
    assert!(
        s.claim_next("w", LONG).await.unwrap().is_none(),
        "dead events are not claimable"
    );

    assert_eq!(s.requeue_dead_letter(dl_id).await.unwrap(), id);
    let event = s.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Pending);
    assert_eq!(event.attempts, 0);
    assert!(event.processed_at.is_none());
    let dl = s.get_dead_letter(dl_id).await.unwrap().unwrap();
    assert_eq!(dl.status, DeadLetterStatus::Replayed);
    assert_eq!(dl.replay_count, 1);
    assert!(dl.replayed_at.is_some());
    assert_eq!(s.open_dead_letter_count().await.unwrap(), 0);
    let open_only = DeadLetterFilter {
        status: Some(DeadLetterStatus::Open),
        ..DeadLetterFilter::default()
    };
    assert!(s.list_dead_letters(&open_only).await.unwrap().is_empty());

    // replaying twice is refused
    assert!(matches!(
        s.requeue_dead_letter(dl_id).await,
        Err(StoreError::InvalidState { .. })
    ));
    assert!(matches!(
        s.requeue_dead_letter(crmsync_store::DeadLetterId(dl_id.0 + 1000))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // it dies again: the same dead letter reopens, keeping its replay count
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    assert_eq!(c.event.id, id);
    let again = s
        .mark_dead(&c.claim, "INVALID_FIELD again", Some("[]"))
        .await
        .unwrap();
    assert_eq!(again, dl_id);
    let dl = s.get_dead_letter(dl_id).await.unwrap().unwrap();
    assert_eq!(dl.status, DeadLetterStatus::Open);
    assert_eq!(dl.error, "INVALID_FIELD again");
    assert_eq!(dl.replay_count, 1);
    s.requeue_dead_letter(dl_id).await.unwrap();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_done(&c.claim).await.unwrap();
    assert_eq!(
        s.get_dead_letter(dl_id)
            .await
            .unwrap()
            .unwrap()
            .replay_count,
        2
    );
    assert_eq!(
        s.get_event(id).await.unwrap().unwrap().status,
        EventStatus::Done
    );
}

async fn migration_runs_and_plan_hash_lookups(db: &TestDb) {
    let s = &db.store;
    assert!(s
        .latest_passed_run(MigrationStage::Rehearsal, "h1")
        .await
        .unwrap()
        .is_none());
    let failed = s.start_run(MigrationStage::Rehearsal, "h1").await.unwrap();
    s.finish_run(failed, RunOutcome::Failed, &RunCounts::default())
        .await
        .unwrap();
    let r1 = s.start_run(MigrationStage::Rehearsal, "h1").await.unwrap();
    assert_eq!(
        s.latest_unfinished_run(MigrationStage::Rehearsal, "h1")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(r1)
    );
    let progress = RunCounts {
        records_read: 10,
        ..RunCounts::default()
    };
    s.update_run_counts(r1, &progress).await.unwrap();
    assert_eq!(s.get_run(r1).await.unwrap().unwrap().counts, progress);
    let counts = RunCounts {
        records_read: 120,
        items_created: 100,
        items_updated: 15,
        records_skipped: 4,
        records_failed: 1,
    };
    s.finish_run(r1, RunOutcome::Passed, &counts).await.unwrap();

    let passed = s
        .latest_passed_run(MigrationStage::Rehearsal, "h1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(passed.id, r1);
    assert_eq!(passed.stage, MigrationStage::Rehearsal);
    assert_eq!(passed.plan_hash, "h1");
    assert_eq!(passed.outcome, RunOutcome::Passed);
    assert_eq!(passed.counts, counts);
    assert!(passed.finished_at.is_some());
    assert!(s
        .latest_unfinished_run(MigrationStage::Rehearsal, "h1")
        .await
        .unwrap()
        .is_none());
    // another plan or another stage does not count
    assert!(s
        .latest_passed_run(MigrationStage::Rehearsal, "h2")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .latest_passed_run(MigrationStage::Production, "h1")
        .await
        .unwrap()
        .is_none());
    // a finished run cannot finish again, and nothing finishes as running
    assert!(matches!(
        s.finish_run(r1, RunOutcome::Failed, &counts).await,
        Err(StoreError::InvalidState { .. })
    ));
    let r2 = s.start_run(MigrationStage::Production, "h1").await.unwrap();
    assert!(matches!(
        s.finish_run(r2, RunOutcome::Running, &counts).await,
        Err(StoreError::InvalidInput {
            field: "outcome",
            ..
        })
    ));
    assert!(matches!(
        s.finish_run(
            crmsync_store::RunId(r2.0 + 1000),
            RunOutcome::Passed,
            &counts
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    // the most recent passed run wins
    let r3 = s.start_run(MigrationStage::Rehearsal, "h1").await.unwrap();
    s.finish_run(r3, RunOutcome::Passed, &counts).await.unwrap();
    assert_eq!(
        s.latest_passed_run(MigrationStage::Rehearsal, "h1")
            .await
            .unwrap()
            .unwrap()
            .id,
        r3
    );
}

async fn checkpoints_are_idempotent_and_scoped_to_a_run(db: &TestDb) {
    let s = &db.store;
    let run = s.start_run(MigrationStage::Rehearsal, "h").await.unwrap();
    let other_run = s.start_run(MigrationStage::Rehearsal, "h").await.unwrap();
    assert_eq!(
        s.checkpoint(run, "Account", "001B", 2002).await.unwrap(),
        CheckpointOutcome::Recorded
    );
    assert_eq!(
        s.checkpoint(run, "Account", "001A", 2001).await.unwrap(),
        CheckpointOutcome::Recorded
    );
    assert_eq!(
        s.checkpoint(run, "Account", "001A", 2001).await.unwrap(),
        CheckpointOutcome::AlreadyRecorded
    );
    match s.checkpoint(run, "Account", "001A", 9999).await {
        Err(StoreError::CheckpointConflict {
            existing_item_id,
            requested_item_id,
            ..
        }) => assert_eq!((existing_item_id, requested_item_id), (2001, 9999)),
        other => panic!("expected CheckpointConflict, got {other:?}"),
    }
    assert_eq!(
        s.find_checkpoint(run, "Account", "001A").await.unwrap(),
        Some(2001)
    );
    assert_eq!(
        s.find_checkpoint(run, "Contact", "001A").await.unwrap(),
        None
    );
    assert_eq!(
        s.find_checkpoint(other_run, "Account", "001A")
            .await
            .unwrap(),
        None
    );
    let all: Vec<(String, i64)> = s
        .checkpoints_for(run, "Account")
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.sf_id, c.monday_item_id))
        .collect();
    assert_eq!(
        all,
        vec![("001A".to_owned(), 2001), ("001B".to_owned(), 2002)]
    );
    assert!(s
        .checkpoints_for(other_run, "Account")
        .await
        .unwrap()
        .is_empty());
}

async fn status_queries(db: &TestDb) {
    let s = &db.store;
    let start = Utc::now() - chrono::Duration::seconds(1);
    for i in 0..6 {
        s.insert_event_if_new(&new_event(&format!("st{i}"), 4, 40 + i, "{}"))
            .await
            .unwrap();
    }
    // 3 done, 1 failed (retry later), 1 dead, 1 left pending
    for _ in 0..3 {
        let c = s.claim_next("w", LONG).await.unwrap().unwrap();
        s.mark_done(&c.claim).await.unwrap();
    }
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_failed(
        &c.claim,
        "HTTP 503",
        Utc::now() + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let failed_id = c.event.id;
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_dead(&c.claim, "INVALID_FIELD: Foo__c", None)
        .await
        .unwrap();
    let dead_id = c.event.id;

    let counts = s.event_counts_since(start).await.unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.processing,
            counts.failed,
            counts.done,
            counts.dead,
            counts.skipped
        ),
        (1, 0, 1, 3, 1, 0)
    );
    assert_eq!(counts.get(EventStatus::Done), 3);
    assert_eq!(
        s.event_counts_since(Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap()
            .total(),
        0
    );

    let lat = s.latency_since(start).await.unwrap().unwrap();
    assert_eq!(lat.count, 3);
    assert!(lat.p50_ms <= lat.p95_ms && lat.p95_ms <= lat.p99_ms && lat.p99_ms <= lat.max_ms);
    assert!(lat.avg_ms >= 0 && lat.avg_ms <= lat.max_ms);
    assert!(s
        .latency_since(Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap()
        .is_none());

    let failures: Vec<_> = s
        .recent_failures(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(failures, vec![dead_id, failed_id]);
    assert_eq!(s.recent_failures(1).await.unwrap().len(), 1);
    let recent = s.recent_events(2).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|e| e.trigger_uuid.as_str())
            .collect::<Vec<_>>(),
        vec!["st5", "st4"]
    );
    assert_eq!(s.open_dead_letter_count().await.unwrap(), 1);
    assert!(s
        .get_event(crmsync_store::EventId(-1))
        .await
        .unwrap()
        .is_none());
}

async fn status_page_lookups_find_items_and_take_any_text(db: &TestDb) {
    let s = &db.store;
    let start = Utc::now() - chrono::Duration::seconds(1);
    let harbor = r#"{"event":{"type":"create_pulse","pulseId":501,"pulseName":"Harbor \"Arts\" 50%","columnValues":{"email":{"text":"ops@harbor.example"}}}}"#;
    s.insert_event_if_new(&new_event("lk1", 7, 501, harbor))
        .await
        .unwrap();
    s.insert_event_if_new(&new_event(
        "lk2",
        7,
        501,
        r#"{"event":{"type":"update_name"}}"#,
    ))
    .await
    .unwrap();
    s.insert_event_if_new(&new_event(
        "lk3",
        8,
        502,
        r#"{"event":{"pulseName":"Other_Co"}}"#,
    ))
    .await
    .unwrap();
    s.upsert_link(&link(7, 501, "Lead", "00Q000000000001AAA"))
        .await
        .unwrap();
    s.upsert_link(&link(9, 777, "Account", "001000000000002AAA"))
        .await
        .unwrap();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_done(&c.claim).await.unwrap();
    let c = s.claim_next("w", LONG).await.unwrap().unwrap();
    s.mark_dead(&c.claim, "INVALID_EMAIL_ADDRESS: Email", Some("[]"))
        .await
        .unwrap();

    let found = |hits: Vec<crmsync_store::ItemHit>| -> Vec<(i64, i64)> {
        hits.into_iter().map(|h| (h.board_id, h.item_id)).collect()
    };
    // by name (case-insensitive, with quotes as typed), email, item id, both Salesforce Id forms
    assert_eq!(
        found(s.search_items("harbor \"arts\"", 10).await.unwrap()),
        vec![(7, 501)]
    );
    assert_eq!(
        found(s.search_items("OPS@harbor", 10).await.unwrap()),
        vec![(7, 501)]
    );
    assert_eq!(
        found(s.search_items(" 501 ", 10).await.unwrap()),
        vec![(7, 501)]
    );
    assert_eq!(
        found(s.search_items("00Q000000000001AAA", 10).await.unwrap()),
        vec![(7, 501)]
    );
    assert_eq!(
        found(s.search_items("00Q000000000001", 10).await.unwrap()),
        vec![(7, 501)]
    );
    // an item known only by its link
    let only_link = s.search_items("001000000000002AAA", 10).await.unwrap();
    assert_eq!(found(only_link.clone()), vec![(9, 777)]);
    assert_eq!(only_link[0].events, 0);
    // LIKE wildcards are literal; odd input is just no match
    assert_eq!(
        found(s.search_items("50%", 10).await.unwrap()),
        vec![(7, 501)]
    );
    assert!(s.search_items("100%", 10).await.unwrap().is_empty());
    assert_eq!(
        found(s.search_items("other_co", 10).await.unwrap()),
        vec![(8, 502)]
    );
    assert!(s.search_items("other%co", 10).await.unwrap().is_empty());
    for odd in [
        "",
        "   ",
        "'; DROP TABLE events; --",
        "a\0b",
        "\\",
        "\u{fffd}\u{1F600}",
        &"x".repeat(5000),
    ] {
        assert!(s.search_items(odd, 10).await.unwrap().is_empty(), "{odd:?}");
    }

    let history = s.events_for_item(7, 501, 10).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.trigger_uuid.as_str(), e.status))
            .collect::<Vec<_>>(),
        vec![("lk2", EventStatus::Dead), ("lk1", EventStatus::Done)]
    );
    let dls = s.dead_letters_for_item(7, 501).await.unwrap();
    assert_eq!(dls.len(), 1);
    assert_eq!(dls[0].error, "INVALID_EMAIL_ADDRESS: Email");
    assert!(s.dead_letters_for_item(8, 502).await.unwrap().is_empty());
    assert_eq!(s.boards_of_item(501).await.unwrap(), vec![7]);
    assert_eq!(s.boards_of_item(777).await.unwrap(), vec![9]);
    assert!(s.boards_of_item(123).await.unwrap().is_empty());

    let by_board = s.event_counts_by_board_since(start).await.unwrap();
    assert_eq!(by_board.len(), 2);
    assert_eq!(
        (
            by_board[0].board_id,
            by_board[0].counts.done,
            by_board[0].counts.dead
        ),
        (7, 1, 1)
    );
    assert_eq!((by_board[1].board_id, by_board[1].counts.pending), (8, 1));
    assert_eq!(s.open_dead_letters_by_board().await.unwrap(), vec![(7, 1)]);
    let applied = s.last_applied_by_board().await.unwrap();
    assert_eq!(applied.iter().map(|(b, _)| *b).collect::<Vec<_>>(), vec![7]);
    assert!(applied[0].1 >= start);

    let timings = s.event_timings_since(start, 100).await.unwrap();
    assert_eq!(timings.len(), 3);
    assert!(timings.iter().all(|t| t.received_at >= start));
    assert_eq!(
        timings.iter().filter(|t| t.processed_at.is_some()).count(),
        2
    );
    assert_eq!(s.event_timings_since(start, 1).await.unwrap().len(), 1);

    assert!(s.list_runs(10).await.unwrap().is_empty());
    let r1 = s
        .start_run(MigrationStage::Rehearsal, "hash-1")
        .await
        .unwrap();
    let r2 = s
        .start_run(MigrationStage::Production, "hash-1")
        .await
        .unwrap();
    s.checkpoint(r1, "Account", "001000000000002AAA", 777)
        .await
        .unwrap();
    let runs = s.list_runs(10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2, r1]);
    assert_eq!(s.checkpoint_count(r1).await.unwrap(), 1);
    assert_eq!(s.checkpoint_count(r2).await.unwrap(), 0);
}

// ---- connection failures (backend-specific, not part of the generic suite) ----

#[tokio::test]
async fn unreachable_postgres_fails_fast_with_masked_password() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // listener dropped: the port is closed
    let url = format!("postgres://crm:s3cr3t-pw@127.0.0.1:{port}/crmsync");
    // the timeout only guards against a hang; it does not measure anything
    let res = tokio::time::timeout(Duration::from_secs(60), Store::connect(&url))
        .await
        .expect("connect must fail, not hang");
    let err = res.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
    assert!(
        msg.contains(&format!("postgres://crm:***@127.0.0.1:{port}/crmsync")),
        "{msg}"
    );
    assert!(!msg.contains("s3cr3t-pw"), "{msg}");
    assert!(!format!("{err:?}").contains("s3cr3t-pw"));
}

#[tokio::test]
async fn unanswering_postgres_times_out_with_masked_password() {
    // A listener that accepts TCP but never speaks: the connect timeout must fire.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let url = format!("postgres://crm:s3cr3t-pw@127.0.0.1:{port}/crmsync");
    let options = crmsync_store::StoreOptions {
        connect_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let res = tokio::time::timeout(Duration::from_secs(60), Store::connect_with(&url, &options))
        .await
        .expect("connect must time out, not hang");
    let err = res.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::ConnectTimeout { .. }), "{msg}");
    assert!(msg.contains("crm:***@127.0.0.1"), "{msg}");
    assert!(!msg.contains("s3cr3t-pw"), "{msg}");
}

#[tokio::test]
async fn sqlite_in_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/no/such/dir/x.db", dir.path().display());
    let err = Store::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/dir/x.db"), "{err}");
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(path.exists());
    store.close().await;
    let mut conn = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unknown_scheme_is_rejected() {
    let err = Store::connect("mysql://u:pw1234@h/db").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err}");
    assert!(!err.to_string().contains("pw1234"), "{err}");
}

#[tokio::test]
async fn sqlite_in_memory_store_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let id = store
        .insert_event_if_new(&new_event("mem", 1, 1, "{}"))
        .await
        .unwrap()
        .event_id();
    let c = store.claim_next("w", LONG).await.unwrap().unwrap();
    assert_eq!(c.event.id, id);
    store.mark_done(&c.claim).await.unwrap();
    assert_eq!(
        store.get_event(id).await.unwrap().unwrap().status,
        EventStatus::Done
    );
}

/// A pooled connection the server closed while it sat idle (a restart, an idle-session timeout) is
/// replaced before it is handed out: the next call succeeds instead of failing on a dead socket.
#[tokio::test]
async fn postgres_connection_killed_while_idle_is_replaced() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = Store::connect(&db.url).await.unwrap();
    store.ping().await.unwrap();
    let name = url::Url::parse(&db.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    db.raw_exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    store
        .ping()
        .await
        .expect("the killed connection was handed out instead of replaced");
    assert_eq!(
        store
            .event_counts_since(DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .pending,
        0
    );
}

/// `Debug` of a connected store and its masked URL never show the password. Uses `DATABASE_URL`; when
/// it carries no password (trust authentication), one is added, which trust authentication ignores.
#[tokio::test]
async fn postgres_store_debug_hides_the_password() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let password = match url.password() {
        Some(p) => p.to_owned(),
        None => {
            url.set_password(Some("debug-leak-check")).unwrap();
            "debug-leak-check".to_owned()
        }
    };
    let store = Store::connect(url.as_str()).await.unwrap();
    store.ping().await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains(&password), "{debug}");
    assert!(!store.masked_url().contains(&password));
    assert!(
        store.masked_url().contains(":***@"),
        "{}",
        store.masked_url()
    );
}

// ---- leases on database time, heartbeat and fence ----

fn lease_lost<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::LeaseLost { .. }))
}

async fn renewed_lease_outlives_its_first_expiry_and_blocks_a_second_worker(db: &TestDb) {
    let s = &db.store;
    let other = db.another_store().await;
    s.insert_event_if_new(&new_event("hb-1", 1, 1, "{}"))
        .await
        .unwrap();
    let a = s
        .claim_next("slow", Duration::from_millis(400))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let renewed = s
        .renew_lease(&a.claim, Duration::from_secs(3))
        .await
        .unwrap();
    assert!(
        renewed > a.claim.lease_expires_at,
        "{renewed} vs {}",
        a.claim.lease_expires_at
    );
    assert_eq!(
        s.get_event(a.event.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        Some(renewed)
    );
    // well past the first expiry: the item is still held
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(other.claim_next("rescuer", LONG).await.unwrap().is_none());
    assert!(other
        .claim_for_item(1, 1, "rescuer", LONG)
        .await
        .unwrap()
        .is_none());
    assert!(other
        .claim_for_event(a.event.id, "rescuer", LONG)
        .await
        .unwrap()
        .is_none());
    let remaining = s.check_fence(&a.claim).await.unwrap();
    assert!(
        remaining > Duration::ZERO && remaining <= Duration::from_secs(3),
        "{remaining:?}"
    );
    s.mark_done(&a.claim).await.unwrap();
    assert!(lease_lost(s.check_fence(&a.claim).await));
    assert!(lease_lost(s.renew_lease(&a.claim, LONG).await));
}

async fn lost_lease_fails_renew_check_fence_and_settling(db: &TestDb) {
    let s = &db.store;
    let other = db.another_store().await;
    s.insert_event_if_new(&new_event("lost-1", 1, 1, "{}"))
        .await
        .unwrap();
    let a = s
        .claim_next("slow", Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = other.claim_next("rescuer", LONG).await.unwrap().unwrap();
    assert_eq!(b.event.id, a.event.id);
    for r in [
        s.renew_lease(&a.claim, LONG).await.map(|_| ()),
        s.check_fence(&a.claim).await.map(|_| ()),
        s.mark_failed_after(&a.claim, "late", Duration::ZERO)
            .await
            .map(|_| ()),
        s.mark_skipped(&a.claim, "late").await,
        s.mark_done(&a.claim).await,
    ] {
        let err = r.unwrap_err();
        assert!(err.is_lease_lost(), "{err}");
    }
    // the rescuer's claim is untouched and valid
    let ev = s.get_event(b.event.id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Processing);
    assert_eq!(ev.claimed_by.as_deref(), Some("rescuer"));
    assert!(other.check_fence(&b.claim).await.unwrap() > Duration::from_secs(50));
    other.renew_lease(&b.claim, LONG).await.unwrap();
    other.mark_done(&b.claim).await.unwrap();
}

async fn expired_lease_nobody_took_fails_the_fence_but_can_be_renewed(db: &TestDb) {
    let s = &db.store;
    s.insert_event_if_new(&new_event("stale-1", 1, 1, "{}"))
        .await
        .unwrap();
    let a = s
        .claim_next("w", Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    // expired: another worker may take it at any moment, so no external write
    assert!(lease_lost(s.check_fence(&a.claim).await));
    // but nobody did, so the heartbeat revives it
    s.renew_lease(&a.claim, LONG).await.unwrap();
    assert!(s.check_fence(&a.claim).await.unwrap() > Duration::from_secs(50));
    assert!(s.claim_next("other", LONG).await.unwrap().is_none());
    s.mark_done(&a.claim).await.unwrap();
}

/// On PostgreSQL the database clock is made to run an hour ahead of the process clock (the
/// migrations define it as the function `crmsync_now_ms()`); every lease, due time and retry must
/// follow it. SQLite runs in the process, so there the two clocks are one; the same assertions hold.
async fn leases_and_due_times_follow_the_database_clock(db: &TestDb) {
    let skew = match db.backend {
        Backend::Postgres => {
            db.raw_exec(
                "CREATE OR REPLACE FUNCTION crmsync_now_ms() RETURNS BIGINT LANGUAGE sql STABLE AS \
                 $$ SELECT CAST(floor(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT) \
                    + 3600000 $$",
            )
            .await;
            chrono::Duration::hours(1)
        }
        Backend::Sqlite => chrono::Duration::zero(),
    };
    // fresh pools (two "processes") after the clock change
    let a_store = db.another_store().await;
    let b_store = db.another_store().await;
    let db_now = a_store.db_now().await.unwrap();
    let offset = db_now - Utc::now();
    assert!(
        (offset - skew).abs() < chrono::Duration::seconds(5),
        "db clock is {offset} off the process clock, expected {skew}"
    );

    let id = a_store
        .insert_event_if_new(&new_event("clock-1", 1, 1, "{}"))
        .await
        .unwrap()
        .event_id();
    let ev = a_store.get_event(id).await.unwrap().unwrap();
    assert!(
        (ev.received_at - db_now).abs() < chrono::Duration::seconds(5),
        "received_at {} is not database time {db_now}",
        ev.received_at
    );
    let before = a_store.db_now().await.unwrap();
    let a = a_store
        .claim_next("a", Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap();
    let after = a_store.db_now().await.unwrap();
    let lease_until = a.claim.lease_expires_at;
    assert!(
        lease_until >= before + chrono::Duration::seconds(2)
            && lease_until <= after + chrono::Duration::seconds(2),
        "lease until {lease_until} is not 2 s after database now ({before} .. {after})"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // 1 s later the lease is live for every process, whatever their clocks say
    assert!(b_store.claim_next("b", LONG).await.unwrap().is_none());
    let remaining = a_store.check_fence(&a.claim).await.unwrap();
    assert!(remaining <= Duration::from_millis(1100), "{remaining:?}");
    let due_in = b_store.next_due_in().await.unwrap().unwrap();
    assert!(
        due_in > Duration::ZERO && due_in <= Duration::from_millis(1100),
        "{due_in:?}"
    );
    // once it has expired on the database clock, another worker takes it
    tokio::time::sleep(remaining + Duration::from_millis(100)).await;
    assert_eq!(b_store.next_due_in().await.unwrap(), Some(Duration::ZERO));
    let b = b_store.claim_next("b", LONG).await.unwrap().unwrap();
    assert_eq!(b.event.id, id);
    // a retry delay counts from the database's now
    b_store
        .mark_failed_after(&b.claim, "503", Duration::from_secs(3600))
        .await
        .unwrap();
    let due_in = b_store.next_due_in().await.unwrap().unwrap();
    assert!(
        due_in > Duration::from_secs(3590) && due_in <= Duration::from_secs(3600),
        "{due_in:?}"
    );
    let ev = b_store.get_event(id).await.unwrap().unwrap();
    let db_now = b_store.db_now().await.unwrap();
    assert!(
        (ev.next_attempt_at - (db_now + chrono::Duration::hours(1))).abs()
            < chrono::Duration::seconds(5)
    );
    assert!(a_store.claim_next("a", LONG).await.unwrap().is_none());
}

// ---- events without an item id ----

async fn events_without_item_id_get_a_queue_each(db: &TestDb) {
    let s = &db.store;
    let stores = [db.store.clone(), db.another_store().await];
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                store
                    .insert_event_if_new(&new_event(
                        &format!("noitem-{i}"),
                        1,
                        crmsync_store::NewEvent::NO_ITEM,
                        "{}",
                    ))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in futures::future::join_all(tasks).await {
        let InsertOutcome::Inserted(id) = t.unwrap() else {
            panic!("all keys are distinct")
        };
        ids.push(id);
    }
    for id in &ids {
        let ev = s.get_event(*id).await.unwrap().unwrap();
        assert_eq!(ev.item_id, -id.0, "own queue");
        assert_eq!(ev.item_seq, 1);
        assert_eq!(ev.monday_item_id(), None);
    }
    // a redelivery is still a duplicate
    assert_eq!(
        s.insert_event_if_new(&new_event("noitem-3", 1, 0, "{\"again\":1}"))
            .await
            .unwrap(),
        InsertOutcome::Duplicate(ids[3])
    );
    let with_item = s
        .insert_event_if_new(&new_event("item-5", 1, 5, "{}"))
        .await
        .unwrap()
        .event_id();
    assert_eq!(
        s.get_event(with_item)
            .await
            .unwrap()
            .unwrap()
            .monday_item_id(),
        Some(5)
    );
    // none of them waits for another: all 21 are held at once by 21 claims
    let mut held = Vec::new();
    let first = s
        .claim_for_event(ids[7], "inline", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.event.id, ids[7]);
    assert_eq!(first.claim.monday_item_id(), None);
    held.push(first);
    while let Some(c) = stores[held.len() % 2]
        .claim_next(&format!("w{}", held.len()), LONG)
        .await
        .unwrap()
    {
        held.push(c);
    }
    assert_eq!(held.len(), 21);
    let distinct: HashSet<_> = held.iter().map(|c| c.event.id).collect();
    assert_eq!(distinct.len(), 21);
    for c in &held {
        s.mark_done(&c.claim).await.unwrap();
    }
    assert_eq!(s.event_counts_since(epoch()).await.unwrap().done, 21);
    assert!(s
        .claim_for_event(crmsync_store::EventId(-5), "w", LONG)
        .await
        .unwrap()
        .is_none());
}

/// Events stored before this version with the placeholder item id 0 shared one queue; migrating
/// gives each its own, and a lease held on "item 0" still settles.
async fn old_item_zero_events_get_a_queue_each_after_migrating(_db: &TestDb) {
    let backend = _db.backend;
    let db = TestDb::new_unmigrated(backend).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        });
    let mut old = sqlx::migrate::Migrator::new(dir).await.unwrap();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version < 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            old.run(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            old.run(&pool).await.unwrap();
            pool.close().await;
        }
    }
    db.raw_exec(
        "INSERT INTO events (trigger_uuid, board_id, item_id, item_seq, event_type, payload, status, \
             attempts, next_attempt_at, received_at, updated_at) VALUES \
         ('old-a', 1, 0, 1, 'x', '{}', 'pending', 0, 0, 0, 0), \
         ('old-b', 1, 0, 2, 'x', '{}', 'pending', 0, 0, 0, 0), \
         ('old-c', 1, 9, 1, 'x', '{}', 'pending', 0, 0, 0, 0)",
    )
    .await;
    db.store.migrate().await.unwrap();
    let s = &db.store;
    let mut claimed = Vec::new();
    while let Some(c) = s.claim_next("w", LONG).await.unwrap() {
        claimed.push(c);
    }
    let mut keys: Vec<(String, Option<i64>, bool)> = claimed
        .iter()
        .map(|c| {
            (
                c.event.trigger_uuid.clone(),
                c.event.monday_item_id(),
                c.event.item_id == -c.event.id.0,
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            ("old-a".to_owned(), None, true),
            ("old-b".to_owned(), None, true),
            ("old-c".to_owned(), Some(9), false),
        ]
    );
}

async fn nul_in_trigger_uuid_or_type_is_invalid_input(db: &TestDb) {
    let s = &db.store;
    for item in [7, crmsync_store::NewEvent::NO_ITEM] {
        let mut bad_key = new_event("trig\0ger", 1, item, "{}");
        let err = s.insert_event_if_new(&bad_key).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidInput {
                    field: "trigger_uuid",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_invalid_input());
        bad_key.trigger_uuid = "fine".to_owned();
        bad_key.event_type = "update_column_value\0".to_owned();
        let err = s.insert_event_if_new(&bad_key).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidInput {
                    field: "event_type",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.is_invalid_input());
    }
    assert_eq!(total_events(s).await, 0);
    // an unrelated store failure is not the caller's fault
    let other = db.another_store().await;
    other.close().await;
    let err = other
        .insert_event_if_new(&new_event("ok", 1, 1, "{}"))
        .await
        .unwrap_err();
    assert!(!err.is_invalid_input(), "{err}");
}

// ---- shared pause and alert windows ----

async fn pause_set_by_one_process_is_honoured_by_another(db: &TestDb) {
    let a = &db.store;
    let b = db.another_store().await;
    assert_eq!(b.active_pause("salesforce").await.unwrap(), None);
    let p = a
        .set_pause(
            "salesforce",
            Duration::from_secs(2),
            "REQUEST_LIMIT_EXCEEDED",
        )
        .await
        .unwrap();
    assert!(
        p.remaining > Duration::from_millis(1500) && p.remaining <= Duration::from_secs(2),
        "{p:?}"
    );
    let seen = b.active_pause("salesforce").await.unwrap().unwrap();
    assert_eq!(
        (seen.scope.as_str(), seen.until, seen.reason.as_str()),
        ("salesforce", p.until, "REQUEST_LIMIT_EXCEEDED")
    );
    assert!(seen.remaining <= p.remaining);
    assert_eq!(b.active_pause("monday").await.unwrap(), None);
    // a shorter pause does not cut the longer one short; a longer one extends it
    let kept = b
        .set_pause("salesforce", Duration::from_millis(100), "other")
        .await
        .unwrap();
    assert_eq!(
        (kept.until, kept.reason.as_str()),
        (p.until, "REQUEST_LIMIT_EXCEEDED")
    );
    let longer = b
        .set_pause("salesforce", Duration::from_secs(5), "still limited")
        .await
        .unwrap();
    assert!(longer.until > p.until);
    assert_eq!(
        a.active_pause("salesforce").await.unwrap().unwrap().reason,
        "still limited"
    );
    let all = a.active_pauses().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].scope, "salesforce");
    // cleared by one process, gone for all
    assert!(b.clear_pause("salesforce").await.unwrap());
    assert_eq!(a.active_pause("salesforce").await.unwrap(), None);
    assert!(!a.clear_pause("salesforce").await.unwrap());
    // a pause ends by itself on the database clock
    a.set_pause("monday", Duration::from_millis(200), "complexity budget")
        .await
        .unwrap();
    assert!(b.active_pause("monday").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.active_pause("monday").await.unwrap(), None);
    assert!(a.active_pauses().await.unwrap().is_empty());
    assert!(!a.clear_pause("monday").await.unwrap(), "it had ended");
    // a new pause after an ended one starts from now
    let again = a
        .set_pause("monday", Duration::from_secs(1), "again")
        .await
        .unwrap();
    assert!(again.remaining > Duration::from_millis(500), "{again:?}");
    assert!(a
        .set_pause("", Duration::from_secs(1), "x")
        .await
        .unwrap_err()
        .is_invalid_input());
}

async fn alert_window_sends_once_across_processes_and_its_summary_is_claimed_once(db: &TestDb) {
    const HITS: usize = 40;
    let window = Duration::from_secs(3);
    let stores = [db.store.clone(), db.another_store().await];
    let opened = db.store.db_now().await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(HITS));
    let tasks: Vec<_> = (0..HITS)
        .map(|i| {
            let store = stores[i % 2].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .alert_window_hit("dead_letter:INVALID_FIELD", window)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let decisions: Vec<crmsync_store::AlertDecision> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let elapsed = db.store.db_now().await.unwrap() - opened;
    assert!(
        elapsed < chrono::Duration::from_std(window).unwrap(),
        "the hits took {elapsed}, longer than the window: the test proves nothing"
    );
    let sends = decisions
        .iter()
        .filter(|d| **d == crmsync_store::AlertDecision::Send)
        .count();
    assert_eq!(sends, 1, "{decisions:?}");
    let mut counts: Vec<u64> = decisions
        .iter()
        .filter_map(|d| match d {
            crmsync_store::AlertDecision::Suppressed { count } => Some(*count),
            crmsync_store::AlertDecision::Send => None,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..HITS as u64).collect::<Vec<_>>());
    // another key has its own window, and sends nothing to summarize
    assert_eq!(
        stores[1].alert_window_hit("paused", window).await.unwrap(),
        crmsync_store::AlertDecision::Send
    );
    // nothing to summarize while the window is open
    assert!(stores[0]
        .claim_due_alert_summaries(10)
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    // many concurrent claimers in both processes: the summary is handed out exactly once
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move { store.claim_due_alert_summaries(10).await.unwrap() })
        })
        .collect();
    let summaries: Vec<crmsync_store::AlertSummary> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let sum = &summaries[0];
    assert_eq!(sum.key, "dead_letter:INVALID_FIELD");
    assert_eq!(sum.suppressed, HITS as u64 - 1);
    assert_eq!(
        sum.closed_at - sum.opened_at,
        chrono::Duration::from_std(window).unwrap()
    );
    assert!(stores[1]
        .claim_due_alert_summaries(10)
        .await
        .unwrap()
        .is_empty());
    // the next hit opens a new window and sends again
    assert_eq!(
        stores[1]
            .alert_window_hit("dead_letter:INVALID_FIELD", window)
            .await
            .unwrap(),
        crmsync_store::AlertDecision::Send
    );
}

async fn a_closed_window_keeps_its_summary_when_a_new_window_opens(db: &TestDb) {
    use crmsync_store::AlertDecision::{Send, Suppressed};
    let s = &db.store;
    let w = Duration::from_millis(300);
    assert_eq!(s.alert_window_hit("k", w).await.unwrap(), Send);
    assert_eq!(
        s.alert_window_hit("k", w).await.unwrap(),
        Suppressed { count: 1 }
    );
    assert_eq!(
        s.alert_window_hit("k", w).await.unwrap(),
        Suppressed { count: 2 }
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    // the window closed unsummarized: a new one opens (and sends) without losing the old count
    assert_eq!(s.alert_window_hit("k", w).await.unwrap(), Send);
    assert_eq!(
        s.alert_window_hit("k", w).await.unwrap(),
        Suppressed { count: 1 }
    );
    let due = s.claim_due_alert_summaries(10).await.unwrap();
    assert_eq!(
        due.iter()
            .map(|d| (d.key.as_str(), d.suppressed))
            .collect::<Vec<_>>(),
        vec![("k", 2)]
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let due = s.claim_due_alert_summaries(10).await.unwrap();
    assert_eq!(
        due.iter()
            .map(|d| (d.key.as_str(), d.suppressed))
            .collect::<Vec<_>>(),
        vec![("k", 1)]
    );
    assert!(s.claim_due_alert_summaries(10).await.unwrap().is_empty());
    assert!(s
        .alert_window_hit("", w)
        .await
        .unwrap_err()
        .is_invalid_input());
}

// ---- history as data ----

fn attempt(
    event_id: crmsync_store::EventId,
    outcome: crmsync_store::AttemptOutcome,
) -> crmsync_store::NewAttempt {
    crmsync_store::NewAttempt {
        event_id,
        worker: "worker-1".to_owned(),
        operation: "salesforce PATCH Lead/00Q5g00000AbCdEAAV".to_owned(),
        outcome,
        error_class: None,
        error: None,
        http_status: None,
        elapsed: Duration::from_millis(1234),
    }
}

async fn attempts_are_rows_numbered_per_event(db: &TestDb) {
    use crmsync_store::AttemptOutcome as O;
    let s = &db.store;
    let start = s.db_now().await.unwrap();
    let id = s
        .insert_event_if_new(&new_event("att-1", 1, 1, "{}"))
        .await
        .unwrap()
        .event_id();
    let other = s
        .insert_event_if_new(&new_event("att-2", 1, 2, "{}"))
        .await
        .unwrap()
        .event_id();
    let long_error = format!("HTTP 503 \0 {}", "é".repeat(20_000));
    let first = s
        .record_attempt(&crmsync_store::NewAttempt {
            error_class: Some("transient".to_owned()),
            error: Some(long_error),
            http_status: Some(503),
            ..attempt(id, O::Failed)
        })
        .await
        .unwrap();
    assert_eq!(first.attempt, 1);
    assert_eq!(first.event_id, id);
    assert_eq!(first.http_status, Some(503));
    assert_eq!(first.error_class.as_deref(), Some("transient"));
    assert_eq!(
        first.finished_at - first.started_at,
        chrono::Duration::milliseconds(1234)
    );
    assert!(first.finished_at >= start);
    let err = first.error.clone().unwrap();
    assert!(err.starts_with("HTTP 503 \u{fffd} é"), "{}", &err[..20]);
    assert!(err.len() <= crmsync_store::ATTEMPT_ERROR_CAP && err.ends_with('…'));
    for outcome in [O::Paused, O::LeaseLost, O::Done] {
        s.record_attempt(&attempt(id, outcome)).await.unwrap();
    }
    s.record_attempt(&attempt(other, O::Dead)).await.unwrap();
    let all = s.attempts_for_event(id).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|a| (a.attempt, a.outcome))
            .collect::<Vec<_>>(),
        vec![
            (1, O::Failed),
            (2, O::Paused),
            (3, O::LeaseLost),
            (4, O::Done)
        ]
    );
    assert_eq!(all[0], first);
    assert_eq!(all[3].operation, "salesforce PATCH Lead/00Q5g00000AbCdEAAV");
    assert_eq!(all[3].worker, "worker-1");
    assert_eq!((all[3].error.as_deref(), all[3].http_status), (None, None));

    // concurrent recorders in two processes: distinct consecutive numbers
    let third = s
        .insert_event_if_new(&new_event("att-3", 1, 3, "{}"))
        .await
        .unwrap()
        .event_id();
    let stores = [db.store.clone(), db.another_store().await];
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                store
                    .record_attempt(&attempt(third, O::Failed))
                    .await
                    .unwrap()
                    .attempt
            })
        })
        .collect();
    let mut numbers: Vec<u32> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());

    let counts = s.attempt_counts_since(epoch()).await.unwrap();
    assert_eq!(
        (
            counts.done,
            counts.skipped,
            counts.failed,
            counts.dead,
            counts.paused,
            counts.lease_lost
        ),
        (1, 0, 21, 1, 1, 1)
    );
    assert_eq!(counts.total(), 25);
    assert_eq!(counts.get(O::Failed), 21);
    assert_eq!(
        s.attempt_counts_since(Utc::now() + chrono::Duration::hours(2))
            .await
            .unwrap()
            .total(),
        0
    );
    let recent = s.recent_attempts(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert!(recent.iter().all(|a| a.event_id == third));
    assert!(matches!(
        s.record_attempt(&attempt(crmsync_store::EventId(id.0 + 1000), O::Done))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn rejected_deliveries_keep_headers_and_body_bytes(db: &TestDb) {
    use crmsync_store::{NewRejectedDelivery, RejectReason, REJECTED_BODY_CAP};
    let s = &db.store;
    let start = s.db_now().await.unwrap();
    // a raw NUL byte, the JSON escape \u0000 as text, invalid UTF-8 and a lone surrogate's bytes
    let mut body = b"{\"event\":{\"triggerUuid\":\"a\x00b\",\"type\":\"x\\u0000y\"}} ".to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0x00, 0xed, 0xa0, 0x80, 0xc3]);
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-odd".to_owned(), "nul\0 \"quoted\" é".to_owned()),
        ("x-odd".to_owned(), "second value".to_owned()),
    ];
    let first = s
        .record_rejected_delivery(&NewRejectedDelivery {
            reason: RejectReason::InvalidField,
            http_status: 400,
            detail: Some("triggerUuid contains NUL \0".to_owned()),
            headers: headers.clone(),
            body: body.clone(),
            body_len: None,
        })
        .await
        .unwrap();
    let got = s.get_rejected_delivery(first).await.unwrap().unwrap();
    assert_eq!(got.body, body, "body byte for byte");
    assert_eq!(got.headers, headers);
    assert_eq!(got.reason, RejectReason::InvalidField);
    assert_eq!(got.http_status, 400);
    assert_eq!(
        got.detail.as_deref(),
        Some("triggerUuid contains NUL \u{fffd}")
    );
    assert_eq!(got.body_len, body.len() as u64);
    assert!(!got.body_truncated);
    assert!(got.received_at >= start);
    assert!(got.body_text().contains("x\\u0000y"));

    // a large body is cut at the cap and flagged
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let second = s
        .record_rejected_delivery(&NewRejectedDelivery {
            reason: RejectReason::TooLarge,
            http_status: 413,
            detail: None,
            headers: vec![],
            body: big.clone(),
            body_len: None,
        })
        .await
        .unwrap();
    let got = s.get_rejected_delivery(second).await.unwrap().unwrap();
    assert_eq!(got.body, big[..REJECTED_BODY_CAP].to_vec());
    assert_eq!((got.body_len, got.body_truncated), (100_000, true));
    // a caller that only read a prefix says how long the body was
    let third = s
        .record_rejected_delivery(&NewRejectedDelivery {
            reason: RejectReason::TooLarge,
            http_status: 413,
            detail: None,
            headers: vec![],
            body: big[..10].to_vec(),
            body_len: Some(10_000_000),
        })
        .await
        .unwrap();
    let got = s.get_rejected_delivery(third).await.unwrap().unwrap();
    assert_eq!(
        (got.body.len(), got.body_len, got.body_truncated),
        (10, 10_000_000, true)
    );
    s.record_rejected_delivery(&NewRejectedDelivery {
        reason: RejectReason::BadSignature,
        http_status: 401,
        detail: None,
        headers: vec![],
        body: vec![],
        body_len: None,
    })
    .await
    .unwrap();

    let listed = s.list_rejected_deliveries(3).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.reason).collect::<Vec<_>>(),
        vec![
            RejectReason::BadSignature,
            RejectReason::TooLarge,
            RejectReason::TooLarge
        ]
    );
    assert_eq!(
        s.rejected_delivery_count_since(start - chrono::Duration::seconds(1))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        s.rejected_delivery_count_since(Utc::now() + chrono::Duration::hours(2))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.prune_rejected_deliveries(Utc::now() + chrono::Duration::hours(2))
            .await
            .unwrap(),
        4
    );
    assert!(s.list_rejected_deliveries(10).await.unwrap().is_empty());
    assert!(s
        .get_rejected_delivery(crmsync_store::RejectedDeliveryId(first.0))
        .await
        .unwrap()
        .is_none());
}

async fn reconcile_state_applied_values_cursors_sweeps_and_drift(db: &TestDb) {
    use crmsync_store::{SweepCounts, SweepTrigger};
    use std::collections::BTreeMap;
    let store = &db.store;
    let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(store.applied_values(1, 10).await.unwrap(), None);
    let first = store
        .record_applied_values(1, 10, &m(&[("name", "a"), ("text", "b")]), true)
        .await
        .unwrap();
    // A merge keeps the other columns and changes the overall hash.
    let merged = store
        .record_applied_values(1, 10, &m(&[("text", "c")]), false)
        .await
        .unwrap();
    assert_eq!(merged.hashes, m(&[("name", "a"), ("text", "c")]));
    assert_ne!(merged.values_hash, first.values_hash);
    assert_eq!(
        store.applied_values(1, 10).await.unwrap().unwrap().hashes,
        merged.hashes
    );
    // Replace drops what is not given; the overall hash only depends on the map.
    let replaced = store
        .record_applied_values(1, 10, &m(&[("name", "a"), ("text", "b")]), true)
        .await
        .unwrap();
    assert_eq!(replaced.values_hash, first.values_hash);
    store
        .record_applied_values(1, 11, &m(&[("name", "z")]), true)
        .await
        .unwrap();
    store
        .record_applied_values(2, 10, &m(&[("name", "other board")]), true)
        .await
        .unwrap();
    let board = store.applied_values_for_board(1).await.unwrap();
    assert_eq!(board.len(), 2);
    assert_eq!(board[&11].hashes, m(&[("name", "z")]));
    assert!(store.delete_applied_values(1, 11).await.unwrap());
    assert!(!store.delete_applied_values(1, 11).await.unwrap());

    for (item, sf) in [(10, "00Q000000000001AAA"), (12, "00Q000000000002AAA")] {
        store
            .upsert_link(&Link {
                monday_board_id: 1,
                monday_item_id: item,
                sf_object: "Lead".into(),
                sf_id: sf.into(),
            })
            .await
            .unwrap();
    }
    let links = store.links_for_board(1).await.unwrap();
    assert_eq!(
        links.iter().map(|l| l.monday_item_id).collect::<Vec<_>>(),
        [10, 12]
    );
    assert!(store.links_for_board(2).await.unwrap().is_empty());

    assert_eq!(store.sweep_cursor(1).await.unwrap(), None);
    let t1 = DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    let t0 = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
    store.set_sweep_cursor(1, t1).await.unwrap();
    store.set_sweep_cursor(1, t0).await.unwrap();
    assert_eq!(
        store.sweep_cursor(1).await.unwrap(),
        Some(t1),
        "never backwards"
    );

    let id = store
        .start_sweep(SweepTrigger::Cli, false, "1,2", Some(t0), t1)
        .await
        .unwrap();
    let running = store.recent_sweeps(5).await.unwrap();
    assert_eq!(running[0].outcome, "running");
    let counts = SweepCounts {
        items_checked: 7,
        events_stored: 3,
        log_entries: 9,
        full_reads: 1,
        complexity: 12345,
    };
    store.finish_sweep(id, &counts, None).await.unwrap();
    let failed = store
        .start_sweep(SweepTrigger::Schedule, true, "1", None, t1)
        .await
        .unwrap();
    store
        .finish_sweep(failed, &SweepCounts::default(), Some("Monday said no"))
        .await
        .unwrap();
    let runs = store.recent_sweeps(5).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, failed);
    assert_eq!(runs[0].outcome, "failed");
    assert_eq!(runs[0].error.as_deref(), Some("Monday said no"));
    assert!(runs[0].dry_run);
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(runs[1].counts, counts);
    assert_eq!(runs[1].since, Some(t0));
    assert_eq!(runs[1].until, t1);
    assert!(runs[1].elapsed().is_some());

    assert_eq!(store.last_drift_report().await.unwrap(), None);
    store.save_drift_report("1", 0, "{}").await.unwrap();
    let id = store
        .save_drift_report("1,2", 2, r#"{"drifts":[1,2]}"#)
        .await
        .unwrap();
    let last = store.last_drift_report().await.unwrap().unwrap();
    assert_eq!(
        (last.id, last.drifted, last.boards.as_str()),
        (id, 2, "1,2")
    );
    assert_eq!(last.report, r#"{"drifts":[1,2]}"#);
}
