//! Runs jsforce (npm, v3) against the built `mock-crm` binary and checks what it saw. jsforce gets
//! its token through its own login flows at a custom `loginUrl` (OAuth 2.0 password grant via
//! `conn.login`, client credentials via `conn.authorize`), then creates, reads, updates, upserts,
//! deletes, pages through a query, uses sObject Collections (including `retrieve([ids])`), and
//! raises its own errors.
//!
//! Needs `node` (or `CRMSYNC_TEST_NODE`) and `npm ci` in `mock-servers/mock-crm/clients/salesforce-js`
//! (`cargo xtask test` does it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

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

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/salesforce-js")
}

fn start_mock_crm() -> (KillOnDrop, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-crm"))
        .args([
            "--salesforce-addr",
            "127.0.0.1:0",
            "--monday-addr",
            "127.0.0.1:0",
            "--fixtures",
        ])
        .arg(workspace_root().join("fixtures/seed"))
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

/// The seed's User records (the people of the Monday seed, same emails).
fn seed_user_id(email: &str) -> String {
    let path = workspace_root().join("fixtures/seed/salesforce/records/User.json");
    let users: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read User.json"))
            .expect("parse User.json");
    users
        .iter()
        .find(|u| u["Email"] == email)
        .and_then(|u| u["Id"].as_str())
        .unwrap_or_else(|| panic!("no seed user with email {email}"))
        .to_string()
}

fn seed_count(object: &str) -> usize {
    let path = workspace_root().join(format!("fixtures/seed/salesforce/records/{object}.json"));
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read seed records"))
            .expect("parse seed records");
    records.len()
}

#[test]
fn jsforce_works_against_the_mock() {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/jsforce/package.json").is_file(),
        "node_modules missing in {}: run `cargo xtask test` (it runs `npm ci` there) or `npm ci` in that directory",
        dir.display()
    );
    let node = std::env::var("CRMSYNC_TEST_NODE").unwrap_or_else(|_| "node".to_string());
    let (_mock, ready) = start_mock_crm();
    let base = ready["salesforce"]
        .as_str()
        .expect("salesforce url")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let user = "maya.thompson@ctn-example.org";
    let out = Command::new(&node)
        .arg(dir.join("jsforce_client.mjs"))
        .args([
            base.as_str(),
            "mock-client-id",
            "mock-client-secret",
            user,
            "mock-password",
        ])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running {node} (set CRMSYNC_TEST_NODE to a node binary): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    // Token through jsforce's own flows: the password grant logs in as the seeded user with
    // that Username; client credentials run as the org's integration user.
    let maya = seed_user_id(user);
    let integration = seed_user_id("integrations@ctn-example.org");
    assert_eq!(r["login"]["userId"], maya.as_str());
    assert_eq!(r["login"]["organizationId"], "00D5g0000001ctnEAA");
    assert_eq!(r["login"]["instanceUrl"], base.as_str());
    assert_eq!(r["login"]["hasAccessToken"], true);
    assert_eq!(r["client_credentials"]["userId"], integration.as_str());
    assert_eq!(r["identity"]["username"], user);
    assert_eq!(r["identity"]["user_id"], maya.as_str());

    // CRUD
    let id = r["create"]["id"].as_str().expect("created id");
    assert!(id.starts_with("00Q") && id.len() == 18, "{id}");
    assert_eq!(r["create"]["success"], true);
    assert_eq!(
        r["read"],
        json!({"Id": id, "Name": "Amara Mensah", "Title": "Volunteer Coordinator", "type": "Lead",
               "Status": "Open - Not Contacted"})
    );
    assert_eq!(
        r["update"],
        json!({"id": id, "success": true, "errors": []})
    );
    assert_eq!(r["read_after_update"], "Program Director");
    assert_eq!(
        r["delete"],
        json!({"id": id, "success": true, "errors": []})
    );
    assert_eq!(r["read_deleted"]["raised"], true);
    assert_eq!(r["read_deleted"]["class"], "HttpApiError");
    assert_eq!(r["read_deleted"]["errorCode"], "NOT_FOUND");

    // Upsert: 201 created, then 200 updated, same record
    let up = &r["upsert"];
    assert_eq!(up["first"]["created"], true);
    assert_eq!(up["second"]["created"], false);
    assert_eq!(up["first"]["id"], up["second"]["id"]);
    assert_eq!(up["sameRecord"], true);
    assert_eq!(up["matching"], 1);
    assert_eq!(up["title"], "Executive Director");

    // Query: seeded leads + the upserted one (the created one was deleted), 200 per page
    let leads = seed_count("Lead") + 1;
    let pages = leads.div_ceil(200);
    assert!(pages > 2, "the seed must need more than two pages");
    let manual = &r["query_manual"];
    assert_eq!(manual["totalSize"], leads);
    assert_eq!(manual["distinctIds"], leads);
    let sizes: Vec<usize> = (0..pages).map(|p| (leads - p * 200).min(200)).collect();
    assert_eq!(manual["pageSizes"], json!(sizes));
    let next_urls = manual["nextUrls"].as_array().expect("nextUrls");
    assert_eq!(next_urls.len(), pages - 1);
    for (i, u) in next_urls.iter().enumerate() {
        let u = u.as_str().expect("url");
        assert!(
            u.starts_with(&format!("{base}/services/data/v"))
                && u.ends_with(&format!("-{}", (i + 1) * 200)),
            "{u}"
        );
    }
    let auto = &r["query_autofetch"];
    assert_eq!(auto["totalSize"], leads);
    assert_eq!(auto["records"], leads);
    assert_eq!(auto["distinctIds"], leads);
    assert_eq!(auto["requests"], pages);
    assert_eq!(auto["followedNextRecordsUrl"], true);
    assert_eq!(r["query_all_deleted"], json!([true]));

    // sObject Collections
    assert_eq!(
        r["collections"],
        json!([
            {"success": true, "codes": []},
            {"success": false, "codes": ["REQUIRED_FIELD_MISSING"]},
            {"success": true, "codes": []},
        ])
    );
    assert_eq!(
        r["collections_all_or_none"],
        json!({"raised": false, "results": [
            {"success": false, "codes": ["ALL_OR_NONE_OPERATION_ROLLED_BACK"]},
            {"success": false, "codes": ["REQUIRED_FIELD_MISSING"]},
        ]})
    );
    assert_eq!(r["collections_all_or_none_persisted"], 0);
    assert_eq!(r["collections_update"], json!([true, true]));
    // retrieve([ids]): sObject Collections retrieve, records in the order of the ids, null for the
    // deleted lead.
    let retrieve = &r["collections_retrieve"];
    let (a, b) = (&retrieve["ids"][0], &retrieve["ids"][1]);
    assert_eq!(
        retrieve["allFields"],
        json!([
            {"Id": a, "LastName": "Adeyemi", "Title": "Board Member", "Company": "jsforce collections test", "type": "Lead"},
            {"Id": b, "LastName": "Baptiste", "Title": "Board Member", "Company": "jsforce collections test", "type": "Lead"},
        ]),
        "{retrieve}"
    );
    let keys = json!(["Id", "LastName", "Title", "attributes"]);
    assert_eq!(
        retrieve["someFields"],
        json!([
            {"Id": b, "LastName": "Baptiste", "Title": "Board Member", "keys": keys},
            null,
            {"Id": a, "LastName": "Adeyemi", "Title": "Board Member", "keys": keys},
        ]),
        "{retrieve}"
    );
    let requests = retrieve["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{retrieve}");
    for line in requests {
        let line = line.as_str().unwrap();
        assert!(
            line.starts_with("POST /services/data/v")
                && line.ends_with("/composite/sobjects/Lead 200"),
            "{line}"
        );
    }
    assert_eq!(r["collections_delete"], json!([true, true]));
    assert_eq!(r["collections_left"], 0);

    // jsforce's own errors
    let missing = &r["missing_required"];
    assert_eq!(missing["class"], "HttpApiError");
    assert_eq!(missing["name"], "REQUIRED_FIELD_MISSING");
    assert_eq!(missing["errorCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(missing["fields"], json!(["LastName", "Company"]));
    for key in ["invalid_field", "invalid_field_in_query"] {
        assert_eq!(r[key]["class"], "HttpApiError", "{key}");
        assert_eq!(r[key]["errorCode"], "INVALID_FIELD", "{key}");
        assert!(
            r[key]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("Not_A_Field__c"),
            "{key}: {}",
            r[key]
        );
    }

    // Expired session, logged in with username/password: jsforce logs in again and retries.
    let relogin = &r["expired_password_connection"];
    assert_eq!(relogin["raised"], false);
    assert_eq!(relogin["name"], "Okoye");
    assert_eq!(relogin["refreshEvents"], 1);
    assert_eq!(relogin["newToken"], true);
    let upserted = up["first"]["id"].as_str().expect("upserted id");
    assert_eq!(
        relogin["requests"],
        json!([
            format!("GET /services/data/v50.0/sobjects/Lead/{upserted} 401"),
            "POST /services/oauth2/token 200",
            format!("GET /services/data/v50.0/sobjects/Lead/{upserted} 200"),
        ])
    );
    // Only an access token: nothing to refresh with, jsforce raises the API's error.
    assert_eq!(
        r["expired_no_refresh"],
        json!({"raised": true, "class": "HttpApiError", "name": "INVALID_SESSION_ID",
               "errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid", "fields": null})
    );
    // OAuth client but no refresh token, or a refresh token the server rejects: jsforce's
    // refresh fails and it says why (the second message is the token endpoint's
    // error_description for invalid_grant).
    assert_eq!(r["expired_without_refresh_token"]["raised"], true);
    assert_eq!(
        r["expired_without_refresh_token"]["message"],
        "Unable to refresh session due to: No refresh token found in the connection"
    );
    assert_eq!(r["expired_bad_refresh_token"]["raised"], true);
    assert_eq!(
        r["expired_bad_refresh_token"]["message"],
        "Unable to refresh session due to: expired access/refresh token"
    );
    // A valid refresh token: refresh_token grant, retry, success.
    let refreshed = &r["expired_with_refresh_token"];
    assert_eq!(refreshed["raised"], false);
    assert_eq!(refreshed["refreshed"], true);
    assert_eq!(refreshed["title"], "Executive Director");
    assert_eq!(
        refreshed["requests"],
        json!([
            "GET /services/data/v50.0/query 401",
            "POST /services/oauth2/token 200",
            "GET /services/data/v50.0/query 200",
        ])
    );
}
