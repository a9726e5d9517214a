//! Pictures drawn on the server as inline SVG: changes per hour by outcome, and the change →
//! Salesforce time (p50/p95) per hour. Each chart has a `<title>`/`<desc>` and a data table
//! behind it for screen readers and for exact numbers.

use chrono::{DateTime, Duration, DurationRound, Utc};
use crmsync_store::{EventStatus, EventTiming};
use serde::Serialize;

use super::{duration_ms, esc};

/// One hour of the last 24.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct HourBucket {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// Changes received in that hour, by current outcome.
    pub done: u64,
    pub skipped: u64,
    /// Waiting, being applied, or retrying.
    pub open: u64,
    pub dead: u64,
    /// Change → Salesforce time of the changes applied, median and 95th percentile (ms).
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// The 24 hourly buckets ending with the current hour.
pub(crate) fn buckets(timings: &[EventTiming], now: DateTime<Utc>) -> Vec<HourBucket> {
    let this_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let first = this_hour - Duration::hours(23);
    let mut out: Vec<HourBucket> = (0..24)
        .map(|i| HourBucket {
            hour: first + Duration::hours(i),
            done: 0,
            skipped: 0,
            open: 0,
            dead: 0,
            p50_ms: None,
            p95_ms: None,
        })
        .collect();
    let mut lat: Vec<Vec<i64>> = vec![Vec::new(); 24];
    for t in timings {
        if t.received_at < first {
            continue;
        }
        let i = ((t.received_at - first).num_hours()).clamp(0, 23) as usize;
        let b = &mut out[i];
        match t.status {
            EventStatus::Done => {
                b.done += 1;
                if let Some(p) = t.processed_at {
                    lat[i].push((p - t.received_at).num_milliseconds().max(0));
                }
            }
            EventStatus::Skipped => b.skipped += 1,
            EventStatus::Dead => b.dead += 1,
            EventStatus::Pending | EventStatus::Processing | EventStatus::Failed => b.open += 1,
        }
    }
    for (b, mut l) in out.iter_mut().zip(lat) {
        l.sort_unstable();
        b.p50_ms = percentile(&l, 50);
        b.p95_ms = percentile(&l, 95);
    }
    out
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// Colours with at least 4.5:1 contrast on white (legend text uses the page colour).
const C_DONE: &str = "#1b6e2d";
const C_SKIPPED: &str = "#6b6b6b";
const C_OPEN: &str = "#b35c00";
const C_DEAD: &str = "#a4161a";
const C_P95: &str = "#8fb3e8";
const C_P50: &str = "#0b3d91";

/// A round upper bound for an axis with 4 gridlines: 4 × a step of 1, 2, (2.5 from 25 up) or 5
/// × 10ⁿ, at least `min_step` (whole-number labels stay whole).
fn nice_max(v: f64, min_step: f64) -> f64 {
    let raw = (v / 4.0).max(min_step);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .filter(|m| *m != 2.5 || mag >= 10.0)
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    4.0 * step
}

fn frame(s: &mut String, max: f64, label: impl Fn(f64) -> String, buckets: &[HourBucket]) {
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d0d0d0\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            esc(&label(v))
        ));
    }
    let slot = (W - LEFT - RIGHT) / buckets.len() as f64;
    for (i, b) in buckets.iter().enumerate() {
        if i % 3 == 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">{}</text>",
                LEFT + slot * (i as f64 + 0.5),
                H - 10.0,
                b.hour.format("%H:00")
            ));
        }
    }
}

fn svg_open(id: &str, title: &str, desc: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        esc(title),
        esc(desc)
    )
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut s = String::from("<ul class=\"legend\">");
    for (colour, label) in items {
        s.push_str(&format!(
            "<li><span class=\"sw\" style=\"background:{colour}\" aria-hidden=\"true\"></span>{}</li>",
            esc(label)
        ));
    }
    s.push_str("</ul>");
    s
}

/// Stacked bars: changes received per hour, by outcome, with a data table.
pub(crate) fn changes_chart(buckets: &[HourBucket]) -> String {
    let total: u64 = buckets
        .iter()
        .map(|b| b.done + b.skipped + b.open + b.dead)
        .sum();
    let peak = buckets
        .iter()
        .map(|b| b.done + b.skipped + b.open + b.dead)
        .max()
        .unwrap_or(0);
    let max = nice_max(peak as f64, 1.0);
    let desc = format!(
        "{total} changes in the last 24 hours; busiest hour {peak}. Exact numbers in the table below."
    );
    let mut s = svg_open("chg", "Changes per hour, last 24 hours, by outcome", &desc);
    frame(&mut s, max, |v| format!("{v:.0}"), buckets);
    let plot_h = H - TOP - BOTTOM;
    let slot = (W - LEFT - RIGHT) / buckets.len() as f64;
    for (i, b) in buckets.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let mut y = TOP + plot_h;
        for (n, colour, what) in [
            (b.done, C_DONE, "copied"),
            (b.skipped, C_SKIPPED, "skipped"),
            (b.open, C_OPEN, "waiting or retrying"),
            (b.dead, C_DEAD, "failed"),
        ] {
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / max;
            y -= h;
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{} UTC: {n} {what}</title></rect>",
                slot * 0.7,
                b.hour.format("%H:00")
            ));
        }
    }
    s.push_str("</svg>");
    let mut table = String::from(
        "<details><summary>Show the numbers</summary><div class=\"table-wrap\"><table>\
         <caption class=\"muted\">Changes per hour (UTC)</caption>\
         <tr><th scope=\"col\">Hour</th><th scope=\"col\" class=\"num\">Copied</th>\
         <th scope=\"col\" class=\"num\">Skipped</th><th scope=\"col\" class=\"num\">Waiting or retrying</th>\
         <th scope=\"col\" class=\"num\">Failed</th></tr>",
    );
    for b in buckets {
        table.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            b.hour.format("%Y-%m-%d %H:00"),
            b.done,
            b.skipped,
            b.open,
            b.dead
        ));
    }
    table.push_str("</table></div></details>");
    format!(
        "<figure>{s}<figcaption>Changes received from Monday per hour (UTC hours), coloured by what happened to them.</figcaption>{}{table}</figure>",
        legend(&[
            (C_DONE, "Copied to Salesforce"),
            (C_SKIPPED, "Nothing to copy"),
            (C_OPEN, "Waiting or retrying"),
            (C_DEAD, "Failed, needs a fix"),
        ])
    )
}

/// Bars of the change → Salesforce time per hour: p95 (light) behind p50 (dark).
pub(crate) fn latency_chart(buckets: &[HourBucket]) -> String {
    let peak = buckets.iter().filter_map(|b| b.p95_ms).max().unwrap_or(0);
    let measured = buckets.iter().filter(|b| b.p50_ms.is_some()).count();
    let max = nice_max(peak as f64, 25.0);
    let desc = if measured == 0 {
        "No change was copied in the last 24 hours.".to_owned()
    } else {
        format!(
            "Median and 95th percentile per hour; slowest hour's 95th percentile {}. Exact numbers in the table below.",
            duration_ms(peak)
        )
    };
    let mut s = svg_open(
        "lat",
        "Time from a change on Monday to Salesforce, per hour",
        &desc,
    );
    frame(&mut s, max, |v| duration_ms(v as i64), buckets);
    let plot_h = H - TOP - BOTTOM;
    let slot = (W - LEFT - RIGHT) / buckets.len() as f64;
    for (i, b) in buckets.iter().enumerate() {
        let (Some(p50), Some(p95)) = (b.p50_ms, b.p95_ms) else {
            continue;
        };
        let x = LEFT + slot * i as f64;
        for (v, colour, inset, what) in [(p95, C_P95, 0.15, "95 %"), (p50, C_P50, 0.3, "median")] {
            let h = (plot_h * v as f64 / max).max(1.5);
            s.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{} UTC: {what} {}</title></rect>",
                x + slot * inset,
                TOP + plot_h - h,
                slot * (1.0 - 2.0 * inset),
                b.hour.format("%H:00"),
                duration_ms(v)
            ));
        }
    }
    if measured == 0 {
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" fill=\"#444\">No change copied in the last 24 hours</text>",
            (W + LEFT) / 2.0,
            H / 2.0
        ));
    }
    s.push_str("</svg>");
    let mut table = String::from(
        "<details><summary>Show the numbers</summary><div class=\"table-wrap\"><table>\
         <caption class=\"muted\">Change → Salesforce time per hour (UTC)</caption>\
         <tr><th scope=\"col\">Hour</th><th scope=\"col\" class=\"num\">Median</th><th scope=\"col\" class=\"num\">95 %</th></tr>",
    );
    for b in buckets.iter().filter(|b| b.p50_ms.is_some()) {
        table.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            b.hour.format("%Y-%m-%d %H:00"),
            duration_ms(b.p50_ms.unwrap_or(0)),
            duration_ms(b.p95_ms.unwrap_or(0))
        ));
    }
    table.push_str("</table></div></details>");
    format!(
        "<figure>{s}<figcaption>How long a change took to reach Salesforce, per hour it arrived in (UTC hours).</figcaption>{}{table}</figure>",
        legend(&[(C_P50, "Median (half were faster)"), (C_P95, "95 % were faster than this")])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        status: EventStatus,
        ago_min: i64,
        took_ms: Option<i64>,
        now: DateTime<Utc>,
    ) -> EventTiming {
        let r = now - Duration::minutes(ago_min);
        EventTiming {
            board_id: 1,
            status,
            received_at: r,
            processed_at: took_ms.map(|ms| r + Duration::milliseconds(ms)),
        }
    }

    #[test]
    fn buckets_count_by_outcome_and_measure_percentiles() {
        let now = "2026-12-01T10:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let ts = vec![
            t(EventStatus::Done, 5, Some(100), now),
            t(EventStatus::Done, 6, Some(300), now),
            t(EventStatus::Dead, 7, None, now),
            t(EventStatus::Failed, 70, None, now),
            t(EventStatus::Skipped, 60 * 30, None, now),
        ];
        let b = buckets(&ts, now);
        assert_eq!(b.len(), 24);
        assert_eq!(b[23].hour.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert_eq!(
            (b[23].done, b[23].dead, b[23].p50_ms, b[23].p95_ms),
            (2, 1, Some(100), Some(300))
        );
        assert_eq!(b[22].open, 1);
        assert_eq!(
            b.iter().map(|x| x.skipped).sum::<u64>(),
            0,
            "older than 24 h"
        );
        let svg = changes_chart(&b);
        assert!(svg.contains("role=\"img\"") && svg.contains("<title id=\"chg-t\">"));
        assert!(svg.contains("10:00 UTC: 2 copied"), "{svg}");
        let lat = latency_chart(&b);
        assert!(
            lat.contains("median 100 ms") && lat.contains("95 % 300 ms"),
            "{lat}"
        );
        assert!(latency_chart(&buckets(&[], now)).contains("No change copied"));
        assert_eq!(nice_max(3.0, 1.0), 4.0);
        assert_eq!(nice_max(9.0, 1.0), 20.0);
        assert_eq!(nice_max(0.0, 25.0), 100.0);
        assert_eq!(nice_max(1300.0, 25.0), 2000.0);
    }
}
