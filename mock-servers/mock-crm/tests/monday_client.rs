//! The official Monday client (`@mondaydotcomorg/api`, npm) runs unchanged against the mock Monday
//! server of the built `mock-crm` binary: boards and columns, items with values of every column
//! type, changes, paging through `items_page`, and the complexity-budget error as the client
//! reports it.
//!
//! Needs `node` (or `CRMSYNC_TEST_NODE`) and `npm ci` in `mock-servers/mock-crm/clients/monday`
//! (`cargo xtask test` does it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const TOKEN: &str = "client-test-token";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn official_monday_client_works_against_the_mock() {
    let client_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/monday");
    assert!(
        client_dir.join("node_modules/@mondaydotcomorg/api").exists(),
        "node_modules missing in {}: run `cargo xtask test` (it runs `npm ci` there) or `npm ci` in that directory",
        client_dir.display()
    );
    let node = std::env::var("CRMSYNC_TEST_NODE").unwrap_or_else(|_| "node".to_string());

    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-crm"))
        .args([
            "--salesforce-addr",
            "127.0.0.1:0",
            "--monday-addr",
            "127.0.0.1:0",
            "--monday-token",
            TOKEN,
        ])
        .arg("--fixtures")
        .arg(repo_root().join("fixtures/seed"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mock-crm starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let ready: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("ready line {line:?} is not JSON: {e}"));
    let base = ready["monday"]
        .as_str()
        .expect("monday URL in the ready line")
        .to_string();

    let output = Command::new(&node)
        .arg("check.mjs")
        .current_dir(&client_dir)
        .env("MONDAY_API_URL", format!("{base}/v2"))
        .env("MONDAY_TOKEN", TOKEN)
        .env("MOCK_ADMIN_URL", &base)
        .output()
        .unwrap_or_else(|e| panic!("running {node} (set CRMSYNC_TEST_NODE to a node binary): {e}"));
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "check.mjs failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let out: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("check.mjs output is not JSON ({e}):\n{stdout}\n{stderr}"));

    // Reads.
    assert_eq!(out["me"]["id"], "58200001");
    assert_eq!(out["lead_groups"][0], "topics");
    let boards = out["boards"].as_array().expect("boards");
    assert_eq!(boards.len(), 4);
    assert_eq!(boards[0]["name"], "Leads");
    for t in [
        "board_relation",
        "checkbox",
        "country",
        "date",
        "dropdown",
        "email",
        "link",
        "long_text",
        "name",
        "numbers",
        "people",
        "phone",
        "rating",
        "status",
        "text",
        "timeline",
    ] {
        assert!(
            out["lead_column_types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == t),
            "Leads has a {t} column"
        );
    }
    assert_eq!(out["status_labels"]["6"], "Nurturing");

    // Writes of every column type, read back as Monday renders them.
    let text = &out["created"]["text"];
    assert_eq!(text["text_mkry13cw"], "Grace");
    assert_eq!(text["long_text_mksfhq35"], "Board turnover is high.");
    assert_eq!(text["numeric_mkt1e5c2"], "125");
    assert_eq!(text["color_mksj2adq"], "Working - Contacted");
    assert_eq!(text["dropdown_mkt48t9a"], "Education, Housing");
    assert_eq!(text["date_mkt1f0l1"], "2026-04-15 10:30");
    assert_eq!(text["email_mksx3vtp"], "grace@example.org");
    assert_eq!(text["phone_mkt1q2w3"], "14155550100");
    assert_eq!(text["link_mkt1r8s2"], "Profile - https://example.org/grace");
    assert_eq!(text["check_mkt1x9k4"], "v");
    assert_eq!(text["country_mkt1c0un"], "United States");
    assert_eq!(text["person"], "Priya Raman");
    assert_eq!(text["board_relation_mks9cjfs"], Value::Null);
    assert_eq!(text["timerange_mkt1t1m3"], "2026-05-01 - 2026-06-30");
    assert_eq!(text["rating_mkt1r4t5"], "4");
    let value = &out["created"]["value"];
    let status: Value =
        serde_json::from_str(value["color_mksj2adq"].as_str().expect("status value")).unwrap();
    assert_eq!(status["index"], 1);
    assert_eq!(value["numeric_mkt1e5c2"], "\"125\"");
    assert_eq!(
        value["board_relation_mks9cjfs"],
        Value::Null,
        "from API 2025-04 board_relation value is null"
    );
    assert_eq!(out["created"]["linked"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["sdk_created"], "Created by createItemOp");

    // Changes.
    assert_eq!(out["changed_name"], "Hopper Foundation (renamed)");
    assert_eq!(out["after"]["color_mksj2adq"], "Closed - Converted");
    assert_eq!(out["after"]["numeric_mkt1e5c2"], "130.5");
    assert_eq!(out["after"]["dropdown_mkt48t9a"], "Education");
    assert_eq!(out["after"]["text_mkryhch5"], "00Q5e00000ABCDEFGH");
    assert_eq!(out["bad_value"]["kind"], "ClientError");
    assert_eq!(out["bad_value"]["code"], "ColumnValueException");

    // Paging: 64 seeded leads + 2 created, 20 per page.
    assert!(out["pages"].as_u64().unwrap() > 2, "{out}");
    assert_eq!(out["items_seen"], 66);
    assert_eq!(out["items_unique"], 66);

    // The complexity budget as the client reports it.
    let errs = out["budget_errors"].as_array().expect("budget errors");
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["kind"], "ClientError");
    assert_eq!(errs[0]["status"], 429);
    assert_eq!(errs[0]["code"], "COMPLEXITY_BUDGET_EXHAUSTED");
    assert!(errs[0]["retry_in_seconds"].as_u64().unwrap() >= 1);
    assert_eq!(errs[1]["status"], 200);
    assert_eq!(errs[1]["code"], "COMPLEXITY_BUDGET_EXHAUSTED");
}
