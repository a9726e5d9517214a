//! Runs simple-salesforce (PyPI) against the built `mock-crm` binary over https and checks what it saw.
//!
//! Python comes from `CRMSYNC_TEST_PYTHON` (set by `cargo xtask test`, which installs
//! `clients/salesforce/requirements.txt` into `target/xtask/venv`), else from that venv directly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let python = std::env::var_os("CRMSYNC_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/xtask/venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import simple_salesforce"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "simple-salesforce is not installed for {} — run `cargo xtask test` (it installs \
         mock-servers/mock-crm/clients/salesforce/requirements.txt into target/xtask/venv and sets \
         CRMSYNC_TEST_PYTHON)",
        python.display()
    );
    python
}

fn start_mock_crm(cert: &Path) -> (KillOnDrop, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-crm"))
        .args([
            "--salesforce-addr",
            "127.0.0.1:0",
            "--monday-addr",
            "127.0.0.1:0",
            "--fixtures",
        ])
        .arg(workspace_root().join("fixtures/seed"))
        .arg("--tls")
        .arg(cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn mock-crm");
    let stdout = child.stdout.take().expect("stdout");
    let guard = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the ready line");
    let ready: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
    (guard, ready)
}

#[test]
fn simple_salesforce_works_against_the_mock() {
    let python = python();
    let dir = std::env::temp_dir().join(format!("mock-crm-sf-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("salesforce-cert.pem");
    let (_mock, ready) = start_mock_crm(&cert);
    let base = ready["salesforce"]
        .as_str()
        .expect("salesforce url")
        .to_string();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert!(std::fs::read_to_string(&cert)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/salesforce/sf_client.py");
    let out = Command::new(python)
        .arg(&script)
        .args([
            &base,
            cert.to_str().unwrap(),
            "mock-client-id",
            "mock-client-secret",
        ])
        .output()
        .expect("run the simple-salesforce script");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    assert_eq!(r["token"]["status"], 200);
    assert_eq!(r["token"]["token_type"], "Bearer");
    assert_eq!(
        r["token"]["instance_url"],
        Value::String(base.clone()),
        "instance_url follows the Host the request came to"
    );
    assert_eq!(r["token"]["has_access_token"], true);

    assert_eq!(r["create"]["success"], true);
    let id = r["create"]["id"].as_str().unwrap();
    assert!(id.starts_with("00Q") && id.len() == 18);
    assert_eq!(r["read"]["Id"], r["create"]["id"]);
    assert_eq!(r["read"]["Name"], "Amara Mensah");
    assert_eq!(r["read"]["type"], "Lead");
    assert_eq!(r["update_status"], 204);
    assert_eq!(r["read_after_update"], "Program Director");
    assert_eq!(r["upsert_new_status"], 201);
    assert_eq!(r["upsert_existing_status"], 200);
    assert_eq!(r["upsert_read"], "Executive Director");
    assert_eq!(r["delete_status"], 204);
    assert_eq!(r["read_deleted"], "SalesforceResourceNotFound");

    // 450 seeded leads + 1 upserted (the created one was deleted), in pages of 200
    assert_eq!(r["query"]["pages"], 3);
    assert_eq!(r["query"]["records"], r["query"]["totalSize"]);
    assert_eq!(r["query"]["totalSize"], 451);
    assert_eq!(r["query_all_records"], 451);

    assert_eq!(
        r["collections"][0],
        serde_json::json!({"success": true, "codes": []})
    );
    assert_eq!(
        r["collections"][1],
        serde_json::json!({"success": false, "codes": ["REQUIRED_FIELD_MISSING"]})
    );
    assert_eq!(
        r["collections_all_or_none"],
        serde_json::json!([
            ["ALL_OR_NONE_OPERATION_ROLLED_BACK"],
            ["REQUIRED_FIELD_MISSING"]
        ])
    );
    assert_eq!(r["bulk2_rows"], 12);
    assert_eq!(r["multiple"], "SalesforceMoreThanOneRecord");

    assert_eq!(
        r["missing_required"]["exception"],
        "SalesforceMalformedRequest"
    );
    assert_eq!(r["missing_required"]["errorCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(
        r["missing_required"]["fields"],
        serde_json::json!(["LastName", "Company"])
    );
    assert_eq!(
        r["invalid_field"]["exception"],
        "SalesforceMalformedRequest"
    );
    assert_eq!(r["invalid_field"]["errorCode"], "INVALID_FIELD");
    assert_eq!(
        r["expired_session"]["exception"],
        "SalesforceExpiredSession"
    );
    assert_eq!(r["expired_session"]["errorCode"], "INVALID_SESSION_ID");
}
