//! Shared setup of the migration tests: a migrator over the harness's store and the mocks.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use crmsync_migrate::{MigrateOptions, Migrator, Progress, RunOptions, Stage};
use crmsync_testkit::{seed_mapping, spawn_app_with, Db, Options, TestApp};
use futures::StreamExt;

/// A migrator on the app's store and clients, with the seed mapping as the app validated it.
/// Progress events are collected into the returned vector.
pub fn migrator(app: &TestApp) -> (Migrator, Arc<Mutex<Vec<Progress>>>) {
    let src = std::fs::read_to_string(seed_mapping()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = events.clone();
    let m = Migrator::new(
        app.store.clone(),
        app.engine.salesforce().clone(),
        app.monday_client.clone(),
        (*app.engine.mapping()).clone(),
        &src,
        MigrateOptions::default(),
        Arc::new(move |p: &Progress| sink_events.lock().unwrap().push(p.clone())),
    );
    (m, events)
}

pub fn opts(stage: Stage) -> RunOptions {
    RunOptions {
        stage,
        resume: false,
        dry_run: false,
        since_last: false,
        objects: None,
    }
}

/// Every item of a board.
pub async fn items(app: &TestApp, board: &str) -> Vec<crmsync_monday::Item> {
    let mut s = app
        .monday_client
        .items_stream(board, crmsync_monday::ItemsPageOptions::default());
    let mut out = Vec::new();
    while let Some(i) = s.next().await {
        out.push(i.unwrap());
    }
    out
}

/// The text of one column of an item.
pub fn text(item: &crmsync_monday::Item, column: &str) -> String {
    item.column_values
        .iter()
        .find(|c| c.id == column)
        .and_then(|c| c.text.clone())
        .unwrap_or_default()
}

/// Salesforce Ids of an object.
pub async fn sf_ids(app: &TestApp, object: &str) -> Vec<String> {
    app.sf
        .query(&format!("SELECT Id FROM {object} ORDER BY Id"))
        .await
        .iter()
        .filter_map(|r| r["Id"].as_str().map(str::to_string))
        .collect()
}

/// The harness with the mock Monday's complexity budget and mutation limit lifted ("limits
/// off").
pub async fn app(db: Db) -> TestApp {
    spawn_app_with(Options::new(db).limits_off()).await
}
