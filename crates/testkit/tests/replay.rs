//! The replay runner as a specification: the corpus is complete, a changed mapping line fails
//! exactly the scenarios that depend on it with a diff naming the field, and `--update` writes
//! pending snapshots for review instead of touching the accepted ones.

use std::path::PathBuf;

use crmsync_testkit::replay::{self, RunConfig, Verdict, EXPECTED_FILE};

fn scenarios_dir() -> PathBuf {
    replay::fixtures_dir().join("scenarios")
}

#[test]
fn the_corpus_has_thirty_named_scenarios_each_with_an_accepted_outcome() {
    let all = replay::discover(&[replay::fixtures_dir()]).unwrap();
    assert!(all.len() >= 30, "only {} scenarios", all.len());
    for s in &all {
        assert!(
            s.dir.join(EXPECTED_FILE).is_file(),
            "{} has no {EXPECTED_FILE}",
            s.name
        );
        assert!(
            !s.dir.join(format!("{EXPECTED_FILE}.new")).exists(),
            "{} has an unreviewed {EXPECTED_FILE}.new",
            s.name
        );
        assert!(
            s.name.contains('_') && !s.scenario.description.trim().is_empty(),
            "{} needs a behaviour name and a description",
            s.name
        );
    }
    // Every event type on every mapped board, and the real deliveries' shapes.
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    for board in ["leads", "accounts", "contacts", "opportunities"] {
        for what in ["create_pulse", "rename", "delete"] {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with(board) && n.contains(what)),
                "no {what} scenario for {board}"
            );
        }
    }
    assert!(names.iter().any(|n| n.starts_with("real_captured_2025")));
}

/// Copies a scenario into a temporary directory (so `--update` cannot touch the real one).
fn copy_scenario(name: &str, to: &std::path::Path) -> PathBuf {
    let from = scenarios_dir().join(name);
    let dest = to.join(name);
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
    dest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_one_mapping_line_fails_the_scenarios_that_use_it_naming_the_field() {
    // Billing City goes to ShippingCity instead of BillingCity: one line of the example mapping.
    let mapping =
        std::fs::read_to_string(replay::fixtures_dir().join("seed/mapping.toml")).unwrap();
    let line = "column = \"text_mkry84sc\"\nfield = \"BillingCity\"";
    assert!(mapping.contains(line));
    let changed = mapping.replace(line, "column = \"text_mkry84sc\"\nfield = \"ShippingCity\"");
    let tmp = tempfile::tempdir().unwrap();
    let mapping_path = tmp.path().join("mapping.toml");
    std::fs::write(&mapping_path, changed).unwrap();

    let affected = [
        "accounts_billing_city_change_updates_account",
        "accounts_out_of_order_deliveries_converge_to_mondays_state",
    ];
    let unaffected = [
        "contacts_title_change_updates_contact",
        "leads_rename_updates_company",
    ];
    let dirs: Vec<PathBuf> = affected
        .iter()
        .chain(unaffected.iter())
        .map(|n| copy_scenario(n, tmp.path()))
        .collect();
    let config = RunConfig {
        mapping: Some(mapping_path),
        ..RunConfig::from_env()
    };
    let reports = replay::run_all(replay::discover(&dirs).unwrap(), &config).await;
    let table = replay::render(&reports);
    for r in &reports {
        if affected.contains(&r.name.as_str()) {
            let Verdict::Mismatch(diffs) = &r.verdict else {
                panic!("{} should fail with the changed mapping:\n{table}", r.name);
            };
            let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
            assert!(
                paths
                    .iter()
                    .any(|p| p.starts_with("salesforce.Account.") && p.ends_with(".BillingCity")),
                "{}: no diff names BillingCity: {paths:?}",
                r.name
            );
            assert!(
                paths.iter().any(|p| p.ends_with(".ShippingCity")),
                "{}: no diff names ShippingCity: {paths:?}",
                r.name
            );
            assert!(table.contains("BillingCity: expected"), "{table}");
        } else {
            assert_eq!(r.verdict, Verdict::Pass, "{}:\n{table}", r.name);
        }
    }
    assert!(table.contains("MISMATCH"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_writes_a_pending_snapshot_and_leaves_the_accepted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenario("accounts_rename_updates_name", tmp.path());
    // An expectation that no longer holds: the rename is said to write another name.
    let expected = dir.join(EXPECTED_FILE);
    let accepted = std::fs::read_to_string(&expected).unwrap();
    let stale = accepted.replace(
        "Bright Futures Alliance of Sacramento",
        "Bright Futures Alliance of Fresno",
    );
    assert_ne!(stale, accepted);
    std::fs::write(&expected, &stale).unwrap();

    let config = RunConfig {
        update: true,
        ..RunConfig::from_env()
    };
    let reports = replay::run_all(
        replay::discover(std::slice::from_ref(&dir)).unwrap(),
        &config,
    )
    .await;
    assert_eq!(reports[0].verdict, Verdict::Pending, "{:?}", reports[0]);
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), stale);
    let pending = std::fs::read_to_string(dir.join(format!("{EXPECTED_FILE}.new"))).unwrap();
    assert_eq!(pending, accepted, "the pending snapshot is today's outcome");

    // Accepting it (what `cargo insta review` does) makes the scenario pass again.
    std::fs::rename(dir.join(format!("{EXPECTED_FILE}.new")), &expected).unwrap();
    let again = replay::run_all(replay::discover(&[dir]).unwrap(), &RunConfig::from_env()).await;
    assert_eq!(again[0].verdict, Verdict::Pass);
}
