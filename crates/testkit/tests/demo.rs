//! The demo binary behind `cargo xtask demo`, run as a user would.

#[tokio::test]
async fn demo_runs_every_scripted_edit_and_exits_0() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_crmsync-demo"))
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The migration first: every seed record onto its board, relations set, verify clean,
    // with progress lines per object and pass.
    assert!(
        stdout.contains("Lead         records       450 done"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1100 records read, 1100 items created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("both sides read back: 0 differences"),
        "{stdout}"
    );
    let migrated = stdout.find("Migrated ").unwrap_or(usize::MAX);
    let webhooks = stdout.find("registered on Monday").unwrap_or(0);
    assert!(
        migrated < webhooks,
        "the migration comes before the real-time part:\n{stdout}"
    );
    // Webhooks registered through the install logic, challenge and all.
    assert!(
        stdout.contains("20 registered on Monday, each confirmed by Monday's challenge"),
        "{stdout}"
    );
    // 1. the lead's company and status, as read back from Salesforce
    let section = |n: &str| {
        let start = stdout
            .find(n)
            .unwrap_or_else(|| panic!("no step {n}:\n{stdout}"));
        let rest = &stdout[start..];
        let end = rest[3..].find("\n\n").map(|e| e + 3).unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let s1 = section("1. Create a lead");
    assert!(s1.contains("In Salesforce Lead 00Q"), "{s1}");
    assert!(
        s1.lines().any(|l| l.contains("Company")
            && l.contains("(no record)")
            && l.ends_with("Riverside Food Bank")),
        "{s1}"
    );
    assert!(
        s1.lines()
            .any(|l| l.contains("Status") && l.ends_with("Open - Not Contacted")),
        "{s1}"
    );
    let s2 = section("2. Change the lead's status");
    assert!(
        s2.lines().any(|l| l.contains("Status")
            && l.contains("Open - Not Contacted")
            && l.ends_with("Working - Contacted")),
        "{s2}"
    );
    let s3 = section("3. Rename an account");
    assert!(
        s3.lines().any(|l| l.contains("Account name")
            && l.contains("Harbor Arts Collective ")
            && l.ends_with("Harbor Arts Collective of Oakland")),
        "{s3}"
    );
    let s4 = section("4. Link a contact to an account");
    assert!(
        s4.lines()
            .any(|l| l.contains("Account") && l.contains("(empty)") && l.contains("→  001")),
        "{s4}"
    );
    let s5 = section("5. Delete an opportunity");
    assert!(
        s5.lines().any(|l| l.contains("Stage")
            && l.contains("Prospecting")
            && l.ends_with("Closed Lost")),
        "{s5}"
    );
    let summary = section("Summary");
    let count = |label: &str| -> u64 {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
            .unwrap_or_else(|| panic!("no {label} in:\n{summary}"))
    };
    assert!(count("Webhook events received") >= 8, "{summary}");
    assert!(count("Applied to Salesforce") >= 8, "{summary}");
    assert_eq!(count("Failed"), 0, "{summary}");
    assert_eq!(count("Dead letters"), 0, "{summary}");
    assert!(stderr.trim().is_empty(), "no log noise:\n{stderr}");
}
