//! The status pages in a real browser: Debian's `chromium` driven by `playwright-core` (npm)
//! through `tests/browser/status_pages.mjs`, against the whole app on a socket (test kit, mocks).
//! It signs in (a wrong token first), searches for a synced item, opens it (history, Salesforce
//! link), opens a dead-lettered item (error and advice), a board, a 404, odd searches, signs
//! out, and signs in and reads the item page once more with JavaScript off. Screenshots of each
//! page go to `target/status-screens/`.
//!
//! Needs `CRMSYNC_TEST_NODE`, `CRMSYNC_TEST_CHROMIUM` and `npm ci` in `tests/browser`: `cargo
//! xtask test` sets all three up. Without them this test fails (it does not skip).

use std::path::PathBuf;
use std::process::Command;

use crmsync_testkit::*;
use serde_json::{json, Value};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn screens_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/status-screens")
}

fn required_env(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "{name} is not set: run `cargo xtask test` (it installs chromium and playwright-core and \
             exports CRMSYNC_TEST_NODE and CRMSYNC_TEST_CHROMIUM), or set them by hand after \
             `npm ci` in {}",
            browser_dir().display()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_pages_work_in_chromium() {
    let node = required_env("CRMSYNC_TEST_NODE");
    let chromium = required_env("CRMSYNC_TEST_CHROMIUM");
    assert!(
        browser_dir()
            .join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in {}: run `cargo xtask test` (it runs `npm ci` there)",
        browser_dir().display()
    );
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "CRMSYNC_TEST_CHROMIUM={chromium} does not exist: run `cargo xtask test`"
    );

    let app = spawn_app(Db::Sqlite).await;
    let lead = app.create_item(LEADS, "Harbor Arts", json!({})).await;
    // Contact.Email takes a free-text column; Salesforce refuses this value (INVALID_EMAIL_ADDRESS).
    app.create_item(
        CONTACTS,
        "Pat Doe",
        json!({"text_mks6c82k": "pat at example dot org"}),
    )
    .await;
    app.settle().await;
    let sf = app.wait_for_record("Lead", "LastName", &lead).await;
    let lightning = format!(
        "{}/lightning/r/Lead/{}/view",
        app.salesforce.base_url.trim_end_matches('/'),
        sf["Id"].as_str().unwrap()
    );
    let contacts = app
        .engine
        .mapping()
        .board(CONTACTS)
        .and_then(|b| b.name.clone())
        .unwrap();
    let scenario = json!({
        "synced": {"search": "harbor", "name": "Harbor Arts", "lightning": lightning,
                   "page": format!("/status/items/{LEADS}/{lead}")},
        "dead": {"search": "Pat Doe", "name": "Pat Doe", "board": contacts},
    });
    let dir = tempfile::tempdir().unwrap();
    let scenario_file = dir.path().join("scenario.json");
    std::fs::write(&scenario_file, scenario.to_string()).unwrap();
    let screens = screens_dir();
    let _ = std::fs::remove_dir_all(&screens);

    let mut cmd = Command::new(&node);
    cmd.arg(browser_dir().join("status_pages.mjs"))
        .arg(&app.base_url)
        .arg(&scenario_file)
        .arg(&screens)
        .current_dir(browser_dir())
        .env("CRMSYNC_BROWSER_STATUS_TOKEN", STATUS_TOKEN)
        .env("CRMSYNC_TEST_CHROMIUM", &chromium);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("running {node} (CRMSYNC_TEST_NODE): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result from the browser script:\n{stdout}\n{stderr}"));
    assert!(
        out.status.success() && result["ok"] == true,
        "browser checks failed (screenshots in {}):\n{result:#}\n{stderr}",
        screens.display()
    );
    for name in [
        "sign-in",
        "sign-in-refused",
        "overview",
        "search",
        "item",
        "item-phone",
        "dead-letter",
        "board",
        "not-found",
        "item-no-javascript",
    ] {
        assert!(
            screens.join(format!("{name}.png")).is_file(),
            "screenshot {name}.png in {}",
            screens.display()
        );
    }
    app.stop().await;
}
