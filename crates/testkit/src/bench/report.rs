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
    /// The Lambda artifact's figures (`target/lambda/crmsync/tested.json`), when it was tested.
    pub lambda: Option<LambdaFigures>,
}

/// What `cargo xtask lambda test` recorded for the zip it tested (`tested.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct LambdaFigures {
    pub sha256: String,
    pub zip_bytes: u64,
    pub glibc: String,
    pub emulator: crate::lambda_suite::Figures,
    /// When the file was written (its modification time), filled in by the reader.
    #[serde(skip)]
    pub tested_at: String,
}

/// Reads `tested.json`.
pub fn read_lambda(path: &std::path::Path) -> anyhow::Result<LambdaFigures> {
    use anyhow::Context as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut f: LambdaFigures =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    f.tested_at = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| "an unknown time".into());
    Ok(f)
}

/// The "Lambda artifact" section.
pub fn lambda_markdown(l: Option<&LambdaFigures>) -> String {
    let mut s = String::from("\n## Lambda artifact\n\n");
    let Some(l) = l else {
        s.push_str(
            "Not measured in this run: no `target/lambda/crmsync/tested.json`. `cargo xtask lambda \
             build` and `cargo xtask lambda test` (both part of `cargo xtask test`) write it; \
             `cargo xtask bench` then reports it here.\n",
        );
        return s;
    };
    let e = &l.emulator;
    let _ = writeln!(
        s,
        "The zip `cargo xtask lambda test` tested at {} (sha256 `{}`), run as a process against \
         the Runtime API emulator: {} invocations over {} checks (HTTP API, REST API, Function \
         URL, scheduled drains, the sweep, queue mode).\n",
        l.tested_at,
        l.sha256,
        e.invocations,
        e.checks.len()
    );
    s.push_str("| zip size | highest GLIBC_ symbol | init (start → first /next) | RSS after the first invocation | peak RSS over the suite | slowest invocation |\n|---:|---|---:|---:|---:|---:|\n");
    let _ = writeln!(
        s,
        "| {:.2} MiB ({} bytes) | {} | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.0} ms |",
        l.zip_bytes as f64 / 1_048_576.0,
        l.zip_bytes,
        l.glibc,
        e.init_ms,
        e.rss_after_first_kib as f64 / 1024.0,
        e.peak_rss_kib as f64 / 1024.0,
        e.slowest_invocation_ms
    );
    s.push_str(
        "\nThe slowest invocation is one that waits on purpose (an outage answered 503 at the \
         inline budget, or a drain retrying a failing write), not a typical one.\n",
    );
    s
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
        "Every figure below was measured in that one run. Its 2 cores are shared by the load \
         generator, the mocks, PostgreSQL, crmsync and whatever else runs (see the load average \
         above), so absolute figures are noisy; each one therefore stands next to a \
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
                 both mocks on loopback, PostgreSQL (fsync off, no proxy), the mock Monday's \
                 limits lifted (at these rates the item reads of crmsync and of the bare replay \
                 together pass Monday's 5,000 requests a minute, and its 429s would be measured \
                 instead). Each delivery is an \
                 `update_column_value` of a linked Lead, signed like Monday's app webhooks, POSTed \
                 at a fixed rate (open loop); latency is the POST until the event is applied (the \
                 receiver's inline answer `done`, or — when it was left to the worker — until the \
                 event's `processed_at` in the store, to the database clock's millisecond, \
                 followed by one task on a connection of its own, outside the app's pool). \
                 An offered rate above what crmsync sustains shows as latency that grows over the \
                 run: the deliveries wait in the store for the worker. **Bare calls**: the exact requests the engine made to the \
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
    s.push_str(&lambda_markdown(fig.lambda.as_ref()));
    s
}

/// One line of a chart: name, colour, dash pattern, and its y value at each x.
pub struct Line {
    pub name: &'static str,
    pub color: &'static str,
    pub dash: &'static str,
    pub ys: Vec<f64>,
}

/// A line chart: x positions proportional to `xs` (each one labelled), a round y axis from 0.
pub struct Chart<'a> {
    pub title: &'a str,
    pub desc: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub xs: Vec<f64>,
    pub lines: Vec<Line>,
}

/// A line chart of p50/p99 latency against the offered rate, crmsync and the bare calls.
pub fn svg(w: &WebhookFigures) -> String {
    let ys = |f: fn(&super::webhook::RateFigures) -> f64| w.rates.iter().map(f).collect();
    line_chart(&Chart {
        title: "Webhook to Salesforce latency against offered rate",
        desc:
            "p50 and p99 latency of crmsync and of the bare mock calls, in milliseconds, at each \
               offered rate in events per second; the numbers are in BENCHMARKS.md.",
        x_label: "offered rate (events/s)",
        y_label: "latency (ms)",
        xs: w.rates.iter().map(|r| f64::from(r.rate)).collect(),
        lines: vec![
            Line {
                name: "crmsync p99",
                color: "#c0392b",
                dash: "",
                ys: ys(|r| r.crmsync.p99),
            },
            Line {
                name: "crmsync p50",
                color: "#c0392b",
                dash: "4 3",
                ys: ys(|r| r.crmsync.p50),
            },
            Line {
                name: "bare calls p99",
                color: "#2471a3",
                dash: "",
                ys: ys(|r| r.bare.p99),
            },
            Line {
                name: "bare calls p50",
                color: "#2471a3",
                dash: "4 3",
                ys: ys(|r| r.bare.p50),
            },
        ],
    })
}

/// The SVG text of `c`.
pub fn line_chart(c: &Chart<'_>) -> String {
    let (width, height, left, right, top, bottom) = (640.0, 360.0, 60.0, 150.0, 30.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max_x = c.xs.iter().copied().fold(1.0_f64, f64::max);
    let max_y = c
        .lines
        .iter()
        .flat_map(|l| l.ys.iter().copied())
        .fold(1.0_f64, f64::max);
    // A round top for the y axis.
    let step = [
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
    ]
    .into_iter()
    .find(|s| max_y / s <= 5.0)
    .unwrap_or(10_000.0);
    let y_top = (max_y / step).ceil() * step;
    let x = |v: f64| left + v / max_x * plot_w;
    let y = |v: f64| top + plot_h - v / y_top * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title>{}</title>\n<desc>{}</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        c.title, c.desc
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
    for v in &c.xs {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v}</text>",
            x(*v),
            top + plot_h + 18.0,
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">{}</text>",
        left + plot_w / 2.0,
        height - 10.0,
        c.x_label,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        c.y_label
    );
    for (i, l) in c.lines.iter().enumerate() {
        let points: Vec<(f64, f64)> =
            c.xs.iter()
                .zip(&l.ys)
                .map(|(a, b)| (x(*a), y(*b)))
                .collect();
        let text: Vec<String> = points
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\" points=\"{}\"/>",
            l.color,
            l.dash,
            text.join(" ")
        );
        for (px, py) in &points {
            let _ = writeln!(
                s,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{}\"/>",
                l.color
            );
        }
        let ly = top + 10.0 + i as f64 * 18.0;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            width - right + 10.0,
            width - right + 34.0,
            l.color,
            l.dash,
            width - right + 40.0,
            ly + 4.0,
            l.name
        );
    }
    s.push_str("</svg>\n");
    s
}
