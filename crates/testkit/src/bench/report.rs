//! BENCHMARKS.md and its SVG plot from the figures of one run.

use std::fmt::Write as _;

use serde::Deserialize;

use super::mapping::Throughput;
use super::webhook::WebhookFigures;

/// One line of `store_throughput --json`, with the cluster it ran on (added by xtask).
#[derive(Debug, Clone, Deserialize)]
pub struct StoreFigures {
    /// Which database: e.g. `postgres (fsync off)`, `postgres (fsync on)`, `sqlite`.
    pub cluster: String,
    pub backend: String,
    pub events: u64,
    pub workers: u64,
    pub store_insert_per_s: f64,
    pub store_claim_settle_per_s: f64,
    pub store_per_s: f64,
    pub baseline_insert_per_s: f64,
    pub baseline_update_per_s: f64,
    pub baseline_per_s: f64,
    pub ratio: f64,
}

/// Where and when the figures were measured.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub machine: String,
    pub command: String,
    pub date: String,
}

impl RunInfo {
    /// This machine (CPU model, cores, load) and now.
    pub fn here(command: &str) -> RunInfo {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned());
        RunInfo {
            machine: format!(
                "{cpu}, {cores} cores, {} (load average {load} at the start)",
                std::env::consts::OS
            ),
            command: command.to_owned(),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub info: RunInfo,
    pub store: Vec<StoreFigures>,
    /// Why the durable cluster was not measured, when it was not.
    pub store_notes: Vec<String>,
    pub webhook: Option<WebhookFigures>,
    pub mapping: Vec<Throughput>,
}

fn f0(v: f64) -> String {
    format!("{v:.0}")
}

/// The BENCHMARKS.md text.
pub fn markdown(fig: &Figures, svg_name: &str) -> String {
    let i = &fig.info;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks\n\nWritten by `{}` on {} — machine: {}.\n",
        i.command, i.date, i.machine
    );
    s.push_str(
        "Every figure below was measured in that one run. This machine is shared (2 cores, other \
         builds running), so absolute figures are noisy; each one therefore stands next to a \
         **baseline measured in the same run** on the same machine, and the **ratio** is the figure \
         to compare across runs. Benchmarks are never timed assertions in tests; `cargo xtask test` \
         only runs a few-second smoke of this command to prove it works.\n\n",
    );

    s.push_str("## Store: receive + claim + settle\n\n");
    s.push_str(
        "`crates/store/examples/store_throughput`: EVENTS receipts (`insert_event_if_new`), then \
         EVENTS claims settled done (`claim_next` + `mark_done`), with WORKERS concurrent tasks. \
         Baseline: plain sqlx on the same database and pool size, one `INSERT` commit per event \
         and then one `UPDATE` commit per row (the issue's pgbench script of an insert and an \
         update). The store does three commits per event (receipt, claim, settlement) where the \
         baseline does two, so 0.67 is the ceiling of a commit-bound store.\n\n",
    );
    s.push_str("| database | workers | events | store insert/s | claim+settle/s | store events/s | baseline insert/s | baseline update/s | baseline events/s | ratio |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &fig.store {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | **{:.2}** |",
            r.cluster,
            r.workers,
            r.events,
            f0(r.store_insert_per_s),
            f0(r.store_claim_settle_per_s),
            f0(r.store_per_s),
            f0(r.baseline_insert_per_s),
            f0(r.baseline_update_per_s),
            f0(r.baseline_per_s),
            r.ratio
        );
    }
    s.push_str(
        "\nWhere the store's time goes (round trips, planning, the candidate scan), what was tried \
         and what would reach half of the baseline: [docs/store-hot-path.md](docs/store-hot-path.md).\n",
    );
    for n in &fig.store_notes {
        let _ = writeln!(s, "\n{n}");
    }
    s.push('\n');

    s.push_str("## Webhook → Salesforce\n\n");
    match &fig.webhook {
        None => s.push_str("Not measured in this run.\n\n"),
        Some(w) => {
            s.push_str(
                "The real receiver and engine (the test kit's app: router + worker on a socket), \
                 both mocks on loopback, PostgreSQL (fsync off, no proxy). Each delivery is an \
                 `update_column_value` of a linked Lead, signed like Monday's app webhooks, POSTed \
                 at a fixed rate (open loop); latency is the POST until the event is applied (the \
                 receiver's inline answer `done`, or — when it was left to the worker — until the \
                 store shows it done). **Bare calls**: the exact requests the engine made to the \
                 mocks for a sample event, read from the mocks' journals and replayed one after \
                 another with a plain HTTP client at the same rate: ",
            );
            s.push_str(&w.calls.join("; "));
            s.push_str(".\n\n| rate (events/s) | events | applied inline | p50 ms | p99 ms | bare p50 ms | bare p99 ms | overhead p50 | overhead p99 |\n|---|---|---|---|---|---|---|---|---|\n");
            for r in &w.rates {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | **{:.1}×** | **{:.1}×** |",
                    r.rate,
                    r.sent,
                    r.inline_done,
                    r.crmsync.p50,
                    r.crmsync.p99,
                    r.bare.p50,
                    r.bare.p99,
                    r.crmsync.p50 / r.bare.p50.max(1e-6),
                    r.crmsync.p99 / r.bare.p99.max(1e-6)
                );
            }
            let _ = writeln!(
                s,
                "\nHighest sustained rate (closed loop, {} concurrent senders, each sending its next \
                 delivery when the last one is applied): **{:.0} events/s**, latency p50 {:.2} ms, \
                 p99 {:.2} ms ({} events). The load generator, both mocks, PostgreSQL and crmsync \
                 share the machine's cores.\n\n![latency against rate]({svg_name})\n",
                w.concurrency,
                w.sustained_per_s,
                w.sustained_latency.p50,
                w.sustained_latency.p99,
                w.sustained_latency.n
            );
        }
    }

    s.push_str("## Mapping and planning (`crmsync-core`)\n\nA measured loop: the median of several batches.\n\n| operation | per second | µs each |\n|---|---|---|\n");
    for t in &fig.mapping {
        let _ = writeln!(s, "| {} | {} | {:.2} |", t.what, f0(t.per_s), t.us_per_op);
    }
    s.push_str(
        "\n## Not built yet\n\n\
         These parts do not exist in this tree yet, so nothing is measured for them (no figure is \
         invented); the runner has a place for each:\n\n\
         - **Migration** (Salesforce → Monday): records/s with limits off, fraction of the \
           complexity-budget bound, peak RSS at 5k and 50k records — not built yet.\n\
         - **Lambda artifact**: zip size, init time, peak RSS per invocation — not built yet.\n\
         - **SQS queue mode** — not built yet.\n",
    );
    s
}

/// One line of the chart: name, colour, dash pattern, and the value it plots.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&super::webhook::RateFigures) -> f64,
);

/// A line chart of p50/p99 latency against the offered rate, crmsync and the bare calls.
pub fn svg(w: &WebhookFigures) -> String {
    let (width, height, left, right, top, bottom) = (640.0, 360.0, 60.0, 150.0, 30.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max_rate = w.rates.iter().map(|r| r.rate).max().unwrap_or(1).max(1) as f64;
    let max_ms = w
        .rates
        .iter()
        .flat_map(|r| [r.crmsync.p99, r.bare.p99])
        .fold(1.0_f64, f64::max);
    // A round top for the y axis.
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        .into_iter()
        .find(|s| max_ms / s <= 5.0)
        .unwrap_or(1000.0);
    let y_top = (max_ms / step).ceil() * step;
    let x = |rate: f64| left + rate / max_rate * plot_w;
    let y = |ms: f64| top + plot_h - ms / y_top * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title>Webhook to Salesforce latency against offered rate</title>\n\
         <desc>p50 and p99 latency of crmsync and of the bare mock calls, in milliseconds, at each \
         offered rate in events per second; the numbers are in BENCHMARKS.md.</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let mut t = 0.0;
    while t <= y_top + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{t}</text>",
            left + plot_w,
            y(t),
            y(t),
            left - 6.0,
            y(t) + 4.0
        );
        t += step;
    }
    for r in &w.rates {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(f64::from(r.rate)),
            top + plot_h + 18.0,
            r.rate
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">offered rate (events/s)</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">latency (ms)</text>",
        left + plot_w / 2.0,
        height - 10.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    let series: [Series; 4] = [
        ("crmsync p99", "#c0392b", "", |r| r.crmsync.p99),
        ("crmsync p50", "#c0392b", "4 3", |r| r.crmsync.p50),
        ("bare calls p99", "#2471a3", "", |r| r.bare.p99),
        ("bare calls p50", "#2471a3", "4 3", |r| r.bare.p50),
    ];
    for (i, (name, color, dash, val)) in series.iter().enumerate() {
        let points: Vec<String> = w
            .rates
            .iter()
            .map(|r| format!("{:.1},{:.1}", x(f64::from(r.rate)), y(val(r))))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>",
            points.join(" ")
        );
        for p in &points {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                s,
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{color}\"/>"
            );
        }
        let ly = top + 10.0 + i as f64 * 18.0;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            width - right + 10.0,
            width - right + 34.0,
            width - right + 40.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
