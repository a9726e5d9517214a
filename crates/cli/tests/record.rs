//! `crmsync serve --record DIR`, as a user runs it: a few edits through the mock Monday are
//! recorded into a scenario that replays green as it is, and no configured secret (nor a
//! redacted personal-data value) is anywhere in the directory.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::json;

const SIGNING_SECRET: &str = "cli-record-signing-secret";
const STATUS_TOKEN: &str = "cli-record-status-token";

async fn lead(env: &Env, item: &str, want: impl Fn(&crmsync_salesforce::Record) -> bool) {
    let sf = env.sf();
    eventually("the lead in Salesforce", || {
        let sf = sf.clone();
        let item = item.to_string();
        let want = &want;
        async move {
            let mut s = sf.query::<crmsync_salesforce::Record>(format!(
                "SELECT Id, Company, FirstName, LastName FROM Lead WHERE Monday_Item_Id__c = '{item}'"
            ));
            s.next().await.and_then(Result::ok).filter(|r| want(r))
        }
    })
    .await;
}

fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(all_files(&e.path()));
        } else {
            out.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorded_session_replays_green_and_holds_no_secret() {
    let mut env = Env::start_with(Db::Sqlite, Some(SIGNING_SECRET)).await;
    env.vars
        .push(("MONDAY_SIGNING_SECRET".into(), SIGNING_SECRET.into()));
    env.vars
        .push(("CRMSYNC_STATUS_TOKEN".into(), STATUS_TOKEN.into()));
    let record = tempfile::tempdir().unwrap();
    let dir = record.path().join("session");
    let dir_s = dir.display().to_string();
    let (server, _) = env
        .serve_public(&[
            "--record",
            &dir_s,
            // First names are personal data here: column and field.
            "--record-redact",
            "text_mkry13cw,FirstName",
        ])
        .await;

    // A few edits through the mock Monday, each waited for in Salesforce.
    let item = env
        .monday
        .admin
        .create_item(
            LEADS,
            "Recorded Robotics",
            None,
            json!({"text_mkry1xy1": "Hopper", "text_mkry13cw": "Gracielle"}),
        )
        .await
        .unwrap()
        .item
        .id;
    lead(&env, &item, |r| r["LastName"] == "Hopper").await;
    env.monday
        .admin
        .change_column_value(&item, "text_mkry1xy1", json!("Hopper-Murray"))
        .await
        .unwrap();
    lead(&env, &item, |r| r["LastName"] == "Hopper-Murray").await;
    env.monday
        .admin
        .rename(&item, "Recorded Robotics Inc")
        .await
        .unwrap();
    lead(&env, &item, |r| r["Company"] == "Recorded Robotics Inc").await;
    // Every delivery (the write-back's echo too) has been answered.
    eventually("every delivery answered", || async {
        let d = env.monday.admin.deliveries().await.unwrap();
        d.iter()
            .all(|d| matches!(d.state, mock_monday::DeliveryState::Delivered))
            .then_some(())
    })
    .await;
    let (code, out, err) = server.terminate().await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("recording deliveries into"), "{out}");

    // The directory: a scenario and the live outcome, no secret, no redacted value.
    let files = all_files(&dir);
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"scenario.json".to_string()), "{names:?}");
    assert!(names.contains(&"recorded.json".to_string()), "{names:?}");
    let monday_token = env.monday.token().to_string();
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for secret in [
            SF_CLIENT_SECRET,
            WEBHOOK_TOKEN,
            SIGNING_SECRET,
            STATUS_TOKEN,
            monday_token.as_str(),
            "Gracielle",
        ] {
            assert!(
                !text.contains(secret),
                "{} contains {secret:?}:\n{text}",
                path.display()
            );
        }
        assert!(
            !text.to_ascii_lowercase().contains("authorization"),
            "{} keeps an Authorization header:\n{text}",
            path.display()
        );
    }
    let scenario: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scenario.json")).unwrap()).unwrap();
    let steps = scenario["steps"].as_array().unwrap();
    assert!(steps.len() >= 3, "{scenario:#}");
    assert!(steps
        .iter()
        .any(|s| s["delivery"]["event"]["type"] == "create_pulse"));
    assert!(steps
        .iter()
        .any(|s| s["delivery"]["event"]["type"] == "update_name"));

    // What the replay is checked against: the live answers and the Lead's final fields.
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("recorded.json")).unwrap()).unwrap();
    let lead = recorded["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == item.as_str())
        .unwrap_or_else(|| panic!("{recorded:#}"));
    assert_eq!(lead["fields"]["LastName"], "Hopper-Murray", "{recorded:#}");
    assert_eq!(lead["fields"]["Company"], "Recorded Robotics Inc");
    assert_eq!(lead["fields"]["FirstName"], "<redacted>");
    assert_eq!(
        recorded["deliveries"].as_array().unwrap().len(),
        steps.len()
    );
    assert!(
        steps
            .iter()
            .any(|s| s["monday"][0]["set"]["text_mkry1xy1"] == "Hopper-Murray"),
        "the Monday edit is a step's change: {scenario:#}"
    );

    // Replayed as recorded: green, and not one recorded file changed.
    let config = crmsync_testkit::replay::RunConfig {
        db: Db::Sqlite,
        ..crmsync_testkit::replay::RunConfig::from_env()
    };
    let scenarios = crmsync_testkit::replay::discover(std::slice::from_ref(&dir)).unwrap();
    let reports = crmsync_testkit::replay::run_all(scenarios, &config).await;
    let table = crmsync_testkit::replay::render(&reports);
    assert_eq!(reports.len(), 1, "{table}");
    assert_eq!(
        reports[0].verdict,
        crmsync_testkit::replay::Verdict::PassRecorded,
        "{table}"
    );
    assert_eq!(all_files(&dir), files, "the replay changed recorded files");
}
