//! `crmsync backup --to s3://…` and `crmsync restore --from s3://…` with the real binary against
//! moto's S3 in server mode (path-style through AWS_ENDPOINT_URL).

mod common;

use std::time::Duration;

use common::{Db, Env, LEADS};
use crmsync_testkit::moto::Moto;
use serde_json::{json, Value};

const LAST_NAME: &str = "text_mkry1xy1";

async fn s3_env(moto: &Moto) -> Env {
    let mut env = Env::start(Db::Postgres).await;
    env.vars.extend(moto.env());
    env.vars
        .push(("CRMSYNC_SWEEP_MINUTES".to_string(), "0".to_string()));
    env
}

async fn leads_of(env: &Env, item: &str) -> Vec<Value> {
    use futures::StreamExt;
    let sf = env.sf();
    let s = sf.query::<Value>(format!(
        "SELECT Id, LastName FROM Lead WHERE Monday_Item_Id__c = '{item}'"
    ));
    s.filter_map(|r| async move { r.ok() }).collect().await
}

async fn drop_and_recreate(env: &Env) {
    // The database is lost: every table dropped, the schema applied again (empty).
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    sqlx::query("DROP SCHEMA public CASCADE")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE SCHEMA public")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    env.run(&["db", "migrate"]).await.ok();
}

// Backup → the database is lost → restore → a new edit of an already-synced item updates its
// Salesforce record instead of creating a second one. A second backup is incremental, and a
// restore refuses a store that is not empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_drop_restore_then_an_edit_updates_the_same_record() {
    let moto = Moto::start().unwrap();
    moto.bucket("crmsync-backups").await.unwrap();
    let env = s3_env(&moto).await;
    let (server, public) = env.serve_public(&[]).await;
    let item = env
        .monday
        .admin
        .create_item(LEADS, "Backup Org", None, json!({ LAST_NAME: "Before" }))
        .await
        .unwrap()
        .item
        .id
        .clone();
    let first = common::eventually("the lead in Salesforce", || async {
        leads_of(&env, &item).await.pop()
    })
    .await;
    server.terminate().await;

    let to = "s3://crmsync-backups/prod/crmsync";
    let full = env.run(&["backup", "--to", to, "--json"]).await;
    let full = full.ok().json();
    assert_eq!(full["previous"], Value::Null, "{full}");
    assert!(full["counts"]["record_links"].as_u64() >= Some(1), "{full}");
    assert!(full["counts"]["events"].as_u64() >= Some(1), "{full}");
    for p in full["parts"].as_array().unwrap() {
        assert_eq!(p["sha256"].as_str().map(str::len), Some(64), "{p}");
    }
    let second = env.run(&["backup", "--to", to, "--json"]).await;
    let second = second.ok().json();
    assert_eq!(second["previous"], full["id"], "{second}");

    drop_and_recreate(&env).await;
    let restored = env.run(&["restore", "--from", to]).await;
    let out = restored.ok().stdout.clone();
    assert!(out.contains("restored 2 backup(s)"), "{out}");
    // Not empty any more: refused without --force.
    let again = env.run(&["restore", "--from", to]).await;
    assert!(
        again.failed().stderr.contains("the store is not empty"),
        "{}",
        again.stderr
    );

    // The link is back (without it, the edit would have to find the record by its external id).
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    let (sf_id,): (String,) =
        sqlx::query_as("SELECT sf_id FROM record_links WHERE monday_item_id = $1")
            .bind(item.parse::<i64>().unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(json!(sf_id), first["Id"]);
    let journal_before = env.salesforce.handle.requests().len();
    // The same address again: Monday's webhooks point at it.
    let addr = public.trim_start_matches("http://").to_string();
    let server = env
        .serve_with(&["--addr", &addr, "--public-url", &public])
        .await;
    env.monday
        .admin
        .change_column_value(&item, LAST_NAME, json!("After"))
        .await
        .unwrap();
    let updated = common::eventually_for("the edit applied", Duration::from_secs(30), || async {
        let leads = leads_of(&env, &item).await;
        leads
            .iter()
            .any(|l| l["LastName"] == "After")
            .then_some(leads)
    })
    .await;
    assert_eq!(updated.len(), 1, "a second record was created: {updated:?}");
    assert_eq!(updated[0]["Id"], first["Id"]);
    // Applied through the restored link: an update of that record, no create or upsert.
    let writes: Vec<String> = env.salesforce.handle.requests()[journal_before..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        writes
            .iter()
            .any(|w| w.starts_with("PATCH") && w.ends_with(&sf_id)),
        "{writes:?}"
    );
    assert!(
        !writes.iter().any(|w| w.contains("Monday_Item_Id__c")
            || w.starts_with("POST") && w.contains("/sobjects/Lead")),
        "{writes:?}"
    );
    server.terminate().await;
}

// A part whose bytes do not match the manifest fails the restore with a message naming it, and
// nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupted_part_fails_the_restore_naming_it() {
    let moto = Moto::start().unwrap();
    moto.bucket("crmsync-corrupt").await.unwrap();
    let env = s3_env(&moto).await;
    let (server, _) = env.serve_public(&[]).await;
    let item = env
        .monday
        .admin
        .create_item(LEADS, "Corrupt Org", None, json!({ LAST_NAME: "X" }))
        .await
        .unwrap()
        .item
        .id
        .clone();
    common::eventually("the lead in Salesforce", || async {
        leads_of(&env, &item).await.pop()
    })
    .await;
    server.terminate().await;
    let to = "s3://crmsync-corrupt/b";
    let m = env.run(&["backup", "--to", to, "--json"]).await;
    let m = m.ok().json();
    let id = m["id"].as_str().unwrap();
    let part = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "record_links")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let key = format!("b/backups/{id}/{part}");
    moto.s3()
        .await
        .put_object()
        .bucket("crmsync-corrupt")
        .key(&key)
        .body(crmsync_cloud::aws_sdk_s3::primitives::ByteStream::from(
            b"not what was written".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    drop_and_recreate(&env).await;
    let r = env.run(&["restore", "--from", to]).await;
    let err = r.failed().stderr.clone();
    assert!(
        err.contains(&format!("backup part backups/{id}/{part} is corrupted")),
        "{err}"
    );
    let pool = sqlx::PgPool::connect(&env.database_url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(n, 0, "the failed restore wrote rows");
}
