//! Crash safety: `crmsync migrate run` killed with SIGKILL at five points (while reading,
//! mid-batch, between a batch of creates and its checkpoints, during the relation pass, during
//! verify), then resumed: exactly one item per record, nothing missing, verify clean.

mod common;

use common::*;
use crmsync_testkit::{ACCOUNTS, CONTACTS};
use futures::StreamExt;

const OBJECTS: &str = "Account,Contact";

async fn killed_then_resumed(point: &str, n: u32) {
    let mut env = Env::start_unmetered(Db::Sqlite).await;
    // The production stage needs a passed rehearsal of this plan: recorded directly (the
    // rehearsal itself, and the refusal without it, are tested in migrate.rs).
    let hash = refused_hash(&env.run(&["migrate", "run", "--stage", "production"]).await);
    env.record_passed_rehearsal(&hash).await;
    env.vars
        .push(("CRMSYNC_MIGRATE_KILL_AT".into(), format!("{point}:{n}")));
    let production = [
        "migrate",
        "run",
        "--stage",
        "production",
        "--objects",
        OBJECTS,
    ];
    let killed = if point == "verify" {
        env.run(&production).await.ok();
        env.run(&["migrate", "verify", "--objects", OBJECTS]).await
    } else {
        env.run(&production).await
    };
    // Killed by the signal: no exit code.
    assert_eq!(killed.code, None, "expected SIGKILL at {point}:\n{killed}");
    assert!(
        killed.stderr.contains(&format!("SIGKILL at {point}")),
        "{killed}"
    );
    env.vars.retain(|(k, _)| k != "CRMSYNC_MIGRATE_KILL_AT");

    let mut resumed = production.to_vec();
    resumed.push("--resume");
    env.run(&resumed).await.ok();
    let records = env.sf();
    for (board, object, column) in [
        (ACCOUNTS, "Account", "text_mkrykpx4"),
        (CONTACTS, "Contact", "text_mks6ner3"),
    ] {
        let mut ids: Vec<String> = records
            .query_all::<serde_json::Value>(format!("SELECT Id FROM {object}"))
            .map(|r| r.unwrap()["Id"].as_str().unwrap().to_string())
            .collect()
            .await;
        ids.sort();
        // One item per record (no duplicate), every record (no gap).
        assert_eq!(
            env.column_texts(board, column).await,
            ids,
            "{object} after {point}"
        );
    }
    let verify = env.run(&["migrate", "verify", "--objects", OBJECTS]).await;
    verify.ok();
    assert!(verify.stdout.contains(" 0 difference(s)"), "{verify}");
}

#[tokio::test]
async fn killed_while_reading() {
    killed_then_resumed("reading", 3).await;
}

#[tokio::test]
async fn killed_mid_batch() {
    killed_then_resumed("mid_batch", 4).await;
}

#[tokio::test]
async fn killed_between_create_and_checkpoint() {
    killed_then_resumed("after_create", 5).await;
}

#[tokio::test]
async fn killed_during_relations() {
    killed_then_resumed("relations", 2).await;
}

#[tokio::test]
async fn killed_during_verify() {
    killed_then_resumed("verify", 2).await;
}
