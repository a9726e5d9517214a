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
    };
    let md = report::markdown(&fig, "b.svg");
    assert!(md.contains("| 20 | 10 |"), "{md}");
    assert!(md.contains("not built yet"), "{md}");
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
