//! The "migration killed and resumed" row: `crmsync migrate run --stage production` (the real
//! binary) against the mocks' seed records, killed with SIGKILL between a batch of creates and its
//! checkpoints, resumed and killed again in the relation pass, resumed to the end, then
//! `crmsync migrate verify`. Counted from the outside: every Salesforce record against the items
//! on its board (by the board's Salesforce Id column).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde_json::Value;

use super::{crmsync_command, empty_row, process_options, Row};
use crate::harness::{spawn_app_with, TestApp};
use crate::seed::boards::{ACCOUNTS, CONTACTS};

pub(super) const NAME: &str = "migration killed and resumed";
pub(super) const WORDS: &str =
    "`crmsync migrate run --stage production --objects Account,Contact` \
    killed -9 between a batch of creates and its checkpoints (3rd batch), `--resume` killed -9 in \
    the relation pass, `--resume` to the end, then `migrate verify`";

/// The objects migrated, with their board and the board's Salesforce Id column (seed mapping).
const OBJECTS: [(&str, &str, &str); 2] = [
    ("Account", ACCOUNTS, "text_mkrykpx4"),
    ("Contact", CONTACTS, "text_mks6ner3"),
];

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn crmsync(
    bin: &std::path::Path,
    app: &TestApp,
    dir: &std::path::Path,
    args: &[&str],
    kill_at: Option<&str>,
) -> Result<Ran> {
    let mut cmd = crmsync_command(bin, app, args)?;
    // Its own working directory: `migrate run` writes migration-report.json there.
    cmd.current_dir(dir);
    // Limits off on both sides (the harness's mock Monday has them lifted): the row is about
    // crash safety, not pacing.
    cmd.env("MONDAY_MUTATIONS_PER_MINUTE", "0");
    if let Some(k) = kill_at {
        cmd.env("CRMSYNC_MIGRATE_KILL_AT", k);
    }
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output(),
    )
    .await
    .with_context(|| format!("crmsync {} did not finish within 300 s", args.join(" ")))?
    .with_context(|| format!("running crmsync {}", args.join(" ")))?;
    Ok(Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

pub(super) async fn row(bin: &std::path::Path) -> Result<Row> {
    let mut opts = process_options().limits_off();
    opts.install_webhooks = false;
    let app = spawn_app_with(opts).await;
    let dir = tempfile::tempdir().context("a working directory for crmsync")?;
    let result = run(&app, bin, dir.path()).await;
    app.stop().await;
    result
}

async fn run(app: &TestApp, bin: &std::path::Path, dir: &std::path::Path) -> Result<Row> {
    let objects = OBJECTS.map(|(o, _, _)| o).join(",");
    let production = [
        "migrate",
        "run",
        "--stage",
        "production",
        "--objects",
        objects.as_str(),
    ];
    // The rehearsal gate: production refuses (exit 2) naming the plan hash. The rehearsal itself
    // is tested through the binary in crates/cli/tests/migrate.rs; here a passed rehearsal of that
    // plan is recorded in the store, as the crash-safety tests do.
    let refused = crmsync(bin, app, dir, &production, None).await?;
    if refused.code != Some(2) {
        bail!(
            "expected the rehearsal gate's refusal (exit 2), got {:?}: {}",
            refused.code,
            tail(&refused.stderr)
        );
    }
    let at = refused
        .stderr
        .find("plan ")
        .context("the refusal names no plan")?
        + 5;
    let hash = refused
        .stderr
        .get(at..at + 16)
        .context("the refusal's plan hash")?
        .to_owned();
    let run = app
        .store
        .start_run(crmsync_store::MigrationStage::Rehearsal, &hash)
        .await?;
    app.store
        .finish_run(
            run,
            crmsync_store::RunOutcome::Passed,
            &crmsync_store::RunCounts::default(),
        )
        .await?;

    let mut resumed = production.to_vec();
    resumed.push("--resume");
    let mut runs = 0;
    for (args, kill) in [
        (&production[..], "after_create:3"),
        (&resumed[..], "relations:1"),
    ] {
        runs += 1;
        let killed = crmsync(bin, app, dir, args, Some(kill)).await?;
        let point = kill.split(':').next().unwrap_or(kill);
        if killed.code.is_some() || !killed.stderr.contains(&format!("SIGKILL at {point}")) {
            bail!(
                "run {runs} was not killed at {kill} (exit {:?}): {}",
                killed.code,
                tail(&killed.stderr)
            );
        }
    }
    runs += 1;
    let done = crmsync(bin, app, dir, &resumed, None).await?;
    if done.code != Some(0) {
        bail!(
            "the resumed run ended with {:?}: {}",
            done.code,
            tail(&done.stderr)
        );
    }
    let verify = crmsync(
        bin,
        app,
        dir,
        &["migrate", "verify", "--objects", objects.as_str(), "--json"],
        None,
    )
    .await?;
    let report: Value = serde_json::from_str(&verify.stdout).with_context(|| {
        format!(
            "verify printed no JSON (exit {:?}): {}",
            verify.code,
            tail(&verify.stderr)
        )
    })?;
    let differing: BTreeSet<String> = report["differences"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|d| d["sf_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

    // From the outside: every record against the items carrying its Id.
    let (mut records, mut applied, mut lost, mut duplicated, mut consistent) = (0, 0, 0, 0, 0);
    for (object, board, column) in OBJECTS {
        let ids: Vec<String> = app
            .sf
            .query(&format!("SELECT Id FROM {object}"))
            .await
            .iter()
            .filter_map(|r| r["Id"].as_str().map(str::to_owned))
            .collect();
        let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut stream = app
            .monday_client
            .items_stream(board, crmsync_monday::ItemsPageOptions::default());
        while let Some(item) = stream.next().await {
            let item = item.with_context(|| format!("reading the items of board {board}"))?;
            if let Some(id) = item
                .column_values
                .iter()
                .find(|c| c.id == column)
                .and_then(|c| c.text.clone())
                .filter(|t| !t.is_empty())
            {
                *per_id.entry(id).or_default() += 1;
            }
        }
        records += ids.len();
        for id in &ids {
            match per_id.get(id).copied().unwrap_or(0) {
                0 => lost += 1,
                n => {
                    applied += 1;
                    duplicated += n - 1;
                    if n == 1 && !differing.contains(id) {
                        consistent += 1;
                    }
                }
            }
        }
        // Items naming a record that does not exist would be duplicates of nothing: count them.
        duplicated += per_id
            .iter()
            .filter(|(id, _)| !ids.contains(id))
            .map(|(_, n)| n)
            .sum::<usize>();
    }
    let mut note = Vec::new();
    if !differing.is_empty() {
        note.push(format!(
            "verify: {} difference(s) on {} record(s)",
            report["differences"].as_array().map_or(0, Vec::len),
            differing.len()
        ));
    }
    if verify.code != Some(0) {
        note.push(format!("verify exited {:?}", verify.code));
    }
    Ok(Row {
        name: NAME.into(),
        fault: WORDS.into(),
        items: records,
        sent: records,
        attempts: runs,
        applied,
        dead: 0,
        lost,
        duplicated,
        consistent,
        note: note.join("; "),
        ..empty_row()
    })
}
