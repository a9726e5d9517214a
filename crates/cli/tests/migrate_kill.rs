//! Crash safety: `crmsync migrate run` killed with SIGKILL at five points (while reading,
//! mid-batch, between a batch of creates and its checkpoints, during the relation pass, during
//! verify), then resumed: exactly one item per record, nothing missing, verify clean.

mod common;

use common::*;
use crmsync_testkit::{ACCOUNTS, CONTACTS};
use futures::StreamExt;

const LIFTED: &str = "--monday-budget-points 1000000000000";

async fn id_column_values(env: &Env, board: &str, column: &str) -> Vec<String> {
    let c = crmsync_monday::MondayClient::new(
        crmsync_monday::MondayConfig::new(secrecy::SecretString::from(
            env.monday.token().to_string(),
        ))
        .with_api_url(env.monday.api_url()),
    )
    .unwrap();
    let mut s = c.items_stream(board, crmsync_monday::ItemsPageOptions::default());
    let mut out = Vec::new();
    while let Some(i) = s.next().await {
        let i = i.unwrap();
        if let Some(t) = i
            .column_values
            .iter()
            .find(|c| c.id == column)
            .and_then(|c| c.text.clone())
            .filter(|t| !t.is_empty())
        {
            out.push(t);
        }
    }
    out.sort();
    out
}

async fn killed_then_resumed(point: &str, n: u32) {
    let mut env = Env::start_unmetered(Db::Sqlite).await;
    env.vars
        .push(("CRMSYNC_MOCK_CRM".into(), mock_crm().display().to_string()));
    env.vars
        .push(("CRMSYNC_MOCK_CRM_ARGS".into(), LIFTED.into()));
    let dir = env.dir.path().display().to_string();
    env.vars.push(("TMPDIR".into(), dir));
    // A passing rehearsal of this plan (the hash covers every board; one object is enough here).
    env.run(&[
        "migrate",
        "run",
        "--stage",
        "rehearsal",
        "--objects",
        "Account",
    ])
    .await
    .ok();
    let objects = "Account,Contact";
    env.vars
        .push(("CRMSYNC_MIGRATE_KILL_AT".into(), format!("{point}:{n}")));
    let killed = if point == "verify" {
        env.run(&[
            "migrate",
            "run",
            "--stage",
            "production",
            "--objects",
            objects,
        ])
        .await
        .ok();
        env.run(&["migrate", "verify", "--objects", objects]).await
    } else {
        env.run(&[
            "migrate",
            "run",
            "--stage",
            "production",
            "--objects",
            objects,
        ])
        .await
    };
    // Killed by the signal: no exit code.
    assert_eq!(killed.code, None, "expected SIGKILL at {point}:\n{killed}");
    assert!(
        killed.stderr.contains(&format!("SIGKILL at {point}")),
        "{killed}"
    );
    env.vars.retain(|(k, _)| k != "CRMSYNC_MIGRATE_KILL_AT");

    let resumed = env
        .run(&[
            "migrate",
            "run",
            "--stage",
            "production",
            "--resume",
            "--objects",
            objects,
        ])
        .await;
    resumed.ok();
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
            id_column_values(&env, board, column).await,
            ids,
            "{object} after {point}"
        );
    }
    let verify = env.run(&["migrate", "verify", "--objects", objects]).await;
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
