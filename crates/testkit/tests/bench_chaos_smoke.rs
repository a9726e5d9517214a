//! Smoke runs of `cargo xtask bench` and `cargo xtask chaos` (a few seconds each, inside
//! `cargo xtask test`): the runners work end to end and count every event. No timing is asserted —
//! figures are only produced by the full commands.

use crmsync_testkit::bench::{mapping, report, webhook};
use crmsync_testkit::chaos::{self, Size};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bench_smoke_measures_every_event_and_writes_a_report() {
    let cfg = webhook::WebhookBenchConfig {
        items: 4,
        rates: vec![20],
        seconds: 0.5,
        concurrency: 2,
        saturate_seconds: 0.3,
    };
    let w = webhook::run(&cfg)
        .await
        .expect("the webhook benchmark runs");
    assert_eq!(w.rates.len(), 1);
    assert_eq!(w.rates[0].sent, 10);
    assert_eq!(w.rates[0].crmsync.n, 10, "every delivery is measured");
    assert_eq!(w.rates[0].bare.n, 10);
    assert!(
        w.calls.iter().any(|c| c.starts_with("Monday GraphQL"))
            && w.calls.iter().any(|c| c.starts_with("Salesforce PATCH")),
        "an update reads the item from Monday and patches the record: {:?}",
        w.calls
    );
    let m = mapping::run(true).expect("the mapping loops run");
    assert_eq!(m.len(), 4);
    let fig = report::Figures {
        info: report::RunInfo::here("smoke"),
        store: vec![],
        store_notes: vec![],
        webhook: Some(w.clone()),
        mapping: m,
        lambda: None,
    };
    let md = report::markdown(&fig, "b.svg");
    assert!(md.contains("| 20 | 10 |"), "{md}");
    assert!(
        md.contains("## Lambda artifact") && md.contains("Not measured in this run"),
        "{md}"
    );
    // With the file `cargo xtask lambda test` writes, its figures are the section's row.
    let dir = tempfile::tempdir().unwrap();
    let tested = dir.path().join("tested.json");
    std::fs::write(
        &tested,
        r#"{"sha256": "ab12", "zip_bytes": 7340032, "glibc": "GLIBC_2.34",
            "emulator": {"init_ms": 62.0, "peak_rss_kib": 17868, "rss_after_first_kib": 15360,
                         "invocations": 31, "slowest_invocation_ms": 4039.0,
                         "checks": ["a", "b"]}}"#,
    )
    .unwrap();
    let lambda = report::read_lambda(&tested).expect("tested.json parses");
    let section = report::lambda_markdown(Some(&lambda));
    assert!(
        section.contains(
            "| 7.00 MiB (7340032 bytes) | GLIBC_2.34 | 62.0 ms | 15.0 MiB | 17.4 MiB | 4039 ms |"
        ) && section.contains("sha256 `ab12`")
            && section.contains("31 invocations over 2 checks"),
        "{section}"
    );
    let svg = report::svg(&w);
    assert!(
        svg.starts_with("<svg") && svg.contains("crmsync p99"),
        "{svg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_smoke_loses_and_duplicates_nothing_under_salesforce_503s() {
    let rows = chaos::run(Size { items: 2, edits: 1 }, Some("503"), None).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert!(r.ran && r.note.is_empty(), "{r:?}");
    assert!(r.sent >= 4, "two creates and two edits at least: {r:?}");
    assert_eq!((r.lost, r.duplicated), (0, 0), "{r:?}");
    assert_eq!(r.consistent, r.items, "{r:?}");
    assert!(r.passed());
    let md = chaos::markdown(&rows, "smoke", "here", "now");
    assert!(
        md.contains("Salesforce 503 at 20 %") && !md.contains("not built yet"),
        "{md}"
    );
}
