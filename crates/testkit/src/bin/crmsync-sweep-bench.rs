//! `crmsync-sweep-bench [N…]`: how long a reconciliation sweep takes for a board of N items
//! (default 1000 and 10000), against the in-process mocks with Monday's real complexity budget
//! (10 M points a minute) and an SQLite store in a temporary directory.
//!
//! Per N: the mock Monday's Accounts board is seeded with N items; every item is linked and its
//! applied values recorded (the steady state after a sync). Then it measures
//! 1. a **full read** (`--since all`): every item paged in (500 a page) and compared, nothing to store;
//! 2. an **activity-log sweep** after 100 edits made as a user while "down" (`--since 10m`):
//!    100 events stored.
//!
//! Prints one line per measurement: items, mode, wall time, items checked, events stored,
//! complexity spent. Run: `cargo run --release -p crmsync-testkit --bin crmsync-sweep-bench`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crmsync_core::applied::item_hashes;
use crmsync_core::Item;
use crmsync_monday::{ItemsPageOptions, MondayClient, MondayConfig, MAX_PAGE_SIZE};
use crmsync_salesforce::{AuthMode, SalesforceClient, SalesforceConfig};
use crmsync_store::{Link, Store, SweepTrigger};
use crmsync_sync::reconcile::{sweep, Since, SweepOptions};
use crmsync_sync::{load_mapping, Alerter, Engine, EngineConfig};
use crmsync_testkit::seed::{seed_dir, MOCK_SF_CLIENT_ID, MOCK_SF_CLIENT_SECRET};
use crmsync_testkit::ACCOUNTS;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::json;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starting the async runtime: {e}");
            std::process::exit(1);
        }
    };
    for n in sizes {
        if let Err(e) = rt.block_on(bench(n)) {
            eprintln!("sweep bench with {n} items failed: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn bench(n: usize) -> Result<()> {
    let mut seed =
        mock_monday::Seed::load(&seed_dir().join("monday")).context("loading the seed")?;
    seed.items.retain(|i| i.board_id != ACCOUNTS);
    for k in 0..n {
        seed.items.push(mock_monday::ItemRec {
            id: (9_500_000_000u64 + k as u64).to_string(),
            board_id: ACCOUNTS.to_string(),
            group_id: "topics".to_string(),
            name: format!("Bench Fund {k}"),
            column_values: serde_json::from_value(json!({
                "text_mkry84sc": format!("City {}", k % 97),
                "text_mkrynkny": format!("www.bench{k}.example.org"),
            }))?,
            state: "active".into(),
            created_at: None,
            updated_at: None,
            creator_id: None,
        });
    }
    let monday = mock_monday::MockMonday::builder()
        .seed(seed)
        .start()
        .await
        .context("starting the mock Monday")?;
    let salesforce = mock_salesforce::MockSalesforce::builder()
        .start()
        .await
        .context("starting the mock Salesforce")?;
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await?;
    store.migrate().await?;
    let sf = SalesforceClient::new(SalesforceConfig::new(
        url::Url::parse(&salesforce.base_url)?,
        MOCK_SF_CLIENT_ID,
        SecretString::from(MOCK_SF_CLIENT_SECRET),
        AuthMode::ClientCredentials,
    ))?;
    let client = MondayClient::new(
        MondayConfig::new(SecretString::from(monday.token().to_string()))
            .with_api_url(monday.api_url()),
    )?;
    let mapping = load_mapping(&crmsync_testkit::seed_mapping(), &sf, &client).await?;
    let bm = mapping
        .board(ACCOUNTS)
        .cloned()
        .context("the Accounts board is mapped")?;
    let engine = Engine::new(
        store.clone(),
        mapping,
        sf,
        client.clone(),
        Alerter::new(Default::default()),
        EngineConfig::default(),
    );
    // Steady state: every item linked, its applied values recorded.
    let board_n: i64 = ACCOUNTS.parse()?;
    let mut items = client.items_stream(
        ACCOUNTS,
        ItemsPageOptions {
            limit: MAX_PAGE_SIZE,
            ..ItemsPageOptions::default()
        },
    );
    let mut ids = Vec::new();
    while let Some(item) = items.next().await {
        let item = item?;
        let mut core: Item = serde_json::from_value(serde_json::to_value(&item)?)?;
        core.board_id = Some(ACCOUNTS.to_string());
        let item_n: i64 = core.id.parse()?;
        store
            .upsert_link(&Link {
                monday_board_id: board_n,
                monday_item_id: item_n,
                sf_object: "Account".into(),
                sf_id: format!("001{:015}", item_n),
            })
            .await?;
        store
            .record_applied_values(board_n, item_n, &item_hashes(&bm, &core), true)
            .await?;
        ids.push(core.id);
    }
    let opts = |since| SweepOptions {
        since,
        boards: Some(vec![ACCOUNTS.to_string()]),
        dry_run: false,
        trigger: SweepTrigger::Cli,
    };
    let t = Instant::now();
    let full = sweep(&engine, &opts(Since::Everything), &|_| {}).await?;
    print(n, "full read (nothing changed)", t.elapsed(), &full);
    for (k, id) in ids.iter().take(100).enumerate() {
        monday
            .admin
            .change_column_value(id, "text_mkry84sc", json!(format!("Moved {k}")))
            .await?;
    }
    let t = Instant::now();
    let logged = sweep(
        &engine,
        &opts(Since::Ago(Duration::from_secs(600))),
        &|_| {},
    )
    .await?;
    print(n, "activity log (100 edits)", t.elapsed(), &logged);
    Ok(())
}

fn print(n: usize, mode: &str, took: Duration, r: &crmsync_sync::reconcile::SweepReport) {
    println!(
        "{n:>6} items  {mode:<28} {:>8.2} s  checked {:>6}  events stored {:>4}  complexity {:>9}",
        took.as_secs_f64(),
        r.items_checked,
        r.events_stored,
        r.complexity
    );
}
