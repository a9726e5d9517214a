//! `crmsync migrate` as a user runs it: the real binary against the in-process mocks standing in
//! for "the real systems", and, for the rehearsal, a separate `mock-crm` process that `crmsync`
//! starts itself from a snapshot.

mod common;

use common::*;
use crmsync_testkit::{ACCOUNTS, OPPORTUNITIES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_rehearsal_production_verify() {
    let mut env = Env::start_unmetered(Db::Sqlite).await;
    env.vars
        .push(("CRMSYNC_MOCK_CRM".into(), mock_crm().display().to_string()));
    env.vars
        .push(("CRMSYNC_MOCK_CRM_ARGS".into(), LIFTED.into()));
    let accounts_before = env.board_items(ACCOUNTS).await.len();

    // Production before any rehearsal: refused, naming the hash and the rehearsal command.
    let hash = refused_hash(&env.run(&["migrate", "run", "--stage", "production"]).await);

    // The plan: counts per object, stored with the same hash.
    let plan = env.run(&["migrate", "plan", "--json"]).await;
    plan.ok();
    let plan = plan.json();
    assert_eq!(plan["plan_hash"], hash.as_str());
    let records: u64 = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["records"].as_u64().unwrap())
        .sum();
    assert_eq!(records, 1_100);
    assert!(plan["objects"][0]["soql"]
        .as_str()
        .unwrap()
        .starts_with("SELECT Id"));

    // Snapshot of "production", rehearsal against a mock-crm seeded from it.
    let snap = env.dir.path().join("snap");
    let snap_arg = snap.display().to_string();
    env.run(&["migrate", "snapshot", "--out", &snap_arg, "--redact"])
        .await
        .ok();
    assert!(snap.join("salesforce/records/Lead.json").exists());
    assert!(snap.join("monday/items.json").exists());
    let leads = std::fs::read_to_string(snap.join("salesforce/records/Lead.json")).unwrap();
    assert!(
        leads.contains("@example.invalid")
            && !leads.contains("andre.kim0@harborhousingcoalition.org")
    );

    let rehearsal = env
        .run(&[
            "migrate",
            "run",
            "--stage",
            "rehearsal",
            "--snapshot",
            &snap_arg,
            "--json",
        ])
        .await;
    rehearsal.ok();
    let r = rehearsal.json();
    assert_eq!(r["outcome"], "passed", "{rehearsal}");
    assert_eq!(r["plan_hash"], hash.as_str());
    assert_eq!(r["verify_differences"], 0);
    // The rehearsal wrote to its own mocks only, and kept its links, checkpoints and intents in
    // its own store: the configured store holds the passed rehearsal run and nothing that points
    // at a rehearsal item.
    assert_eq!(env.board_items(ACCOUNTS).await.len(), accounts_before);
    let store = crmsync_store::Store::connect(&env.database_url)
        .await
        .unwrap();
    for table in ["record_links", "migration_checkpoints", "migration_intents"] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&sqlx::SqlitePool::connect(&env.database_url).await.unwrap())
            .await
            .unwrap();
        assert_eq!(
            rows, 0,
            "the rehearsal left rows in the configured store's {table}"
        );
    }
    let runs = store.list_runs(10).await.unwrap();
    assert!(
        runs.iter()
            .any(|r| r.plan_hash == hash && r.stage == crmsync_store::MigrationStage::Rehearsal),
        "no rehearsal run recorded in the configured store: {runs:?}"
    );
    store.close().await;

    // Now production is accepted, and migrates everything once.
    let prod = env
        .run(&["migrate", "run", "--stage", "production", "--json"])
        .await;
    prod.ok();
    let p = prod.json();
    let created: u64 = p["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["created"].as_u64().unwrap())
        .sum();
    assert_eq!(created, 1_100, "{prod}");
    assert_eq!(env.column_texts(ACCOUNTS, "text_mkrykpx4").await.len(), 150);
    assert_eq!(
        env.column_texts(OPPORTUNITIES, "text_mkry20c9").await.len(),
        200
    );
    assert!(env.dir.path().join("migration-report.json").exists());

    let verify = env
        .run(&["migrate", "verify", "--report", "verify.json"])
        .await;
    verify.ok();
    assert!(verify.stdout.contains("0 difference(s)"), "{verify}");

    // A repeated production run of the same plan is accepted and changes nothing.
    let again = env
        .run(&["migrate", "run", "--stage", "production", "--json"])
        .await;
    again.ok();
    assert_eq!(again.json()["mutations"], 0, "{again}");

    let status = env.run(&["migrate", "status", "--json"]).await;
    status.ok();
    let runs = status.json();
    assert_eq!(runs.as_array().unwrap().len(), 3);
    assert!(runs
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["plan_hash"] == hash.as_str() && r["outcome"] == "passed"));

    // One mapping line changed: a new hash, refused again.
    let edited = env.dir.path().join("mapping.toml");
    let src = std::fs::read_to_string(seed_mapping()).unwrap();
    std::fs::write(
        &edited,
        src.replace(
            "where = \"IsDeleted = false\"",
            "where = \"IsDeleted = false AND IsConverted = false\"",
        ),
    )
    .unwrap();
    env.mapping = edited;
    let other = refused_hash(&env.run(&["migrate", "run", "--stage", "production"]).await);
    assert_ne!(other, hash);
    let dry = env
        .run(&["migrate", "run", "--stage", "production", "--dry-run"])
        .await;
    assert_eq!(refused_hash(&dry), other);
}

#[tokio::test]
async fn bad_records_are_reported_and_the_others_migrated() {
    // The Accounts board's Type column marked strict: accounts whose Type has no label on the
    // board (the seed has "Government") fail with the reason; everything else is migrated.
    let mut env = Env::start_unmetered(Db::Sqlite).await;
    let edited = env.dir.path().join("mapping.toml");
    let src = std::fs::read_to_string(seed_mapping()).unwrap();
    let anchor = "# --------------------------------------------------------------------------------------- Contacts";
    assert!(src.contains(anchor));
    std::fs::write(
        &edited,
        src.replace(
            anchor,
            &format!("[board.migration]\nstrict = [\"dropdown_mksjv0b6\"]\n\n{anchor}"),
        ),
    )
    .unwrap();
    env.mapping = edited;
    let dir = env.dir.path().display().to_string();
    // No snapshot given: crmsync takes one of the configured systems first.
    env.vars
        .push(("CRMSYNC_MOCK_CRM".into(), mock_crm().display().to_string()));
    env.vars
        .push(("CRMSYNC_MOCK_CRM_ARGS".into(), LIFTED.into()));
    env.vars.push(("TMPDIR".into(), dir));
    let r = env
        .run(&[
            "migrate",
            "run",
            "--stage",
            "rehearsal",
            "--objects",
            "Account",
        ])
        .await;
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stdout.contains("which the mapping marks strict"), "{r}");
    assert!(r.stderr.contains("failed record(s)"), "{r}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("migration-report.json")).unwrap(),
    )
    .unwrap();
    let acc = &report["objects"][0];
    let failed = acc["failed"].as_u64().unwrap();
    assert!(failed > 0);
    assert_eq!(acc["created"].as_u64().unwrap() + failed, 150, "{report}");
    assert!(report["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("dropdown_mksjv0b6"));
}
