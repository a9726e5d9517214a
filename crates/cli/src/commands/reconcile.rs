//! `crmsync reconcile` and `crmsync drift`.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use crmsync_app::clients as context;
use crmsync_store::SweepTrigger;
use crmsync_sync::reconcile::{sweep, Progress, Since, Source, SweepOptions};

use crate::cli::{DriftArgs, ReconcileArgs};
use crate::output::{ellipsize, Table};

/// Parses `--since`: `last`, `all`, or a duration (`90s`, `15m`, `6h`, `3d`, `1w`).
pub fn parse_since(s: &str) -> Result<Since> {
    let s = s.trim();
    match s {
        "last" => return Ok(Since::Last),
        "all" => return Ok(Since::Everything),
        _ => {}
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().with_context(|| {
        format!("--since {s:?}: expected `last`, `all` or a duration such as 90m, 6h, 3d")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("--since {s:?}: the unit must be s, m, h, d or w (e.g. 6h)"),
    };
    if n == 0 {
        bail!("--since {s:?}: the duration must be more than zero");
    }
    Ok(Since::Ago(Duration::from_secs(n.saturating_mul(secs))))
}

/// Runs `crmsync reconcile`.
pub async fn run(args: ReconcileArgs) -> Result<()> {
    let since = parse_since(&args.since)?;
    let config = context::config()?;
    let engine = context::engine(&config, true, context::engine_config(&config)).await?;
    let opts = SweepOptions {
        since,
        boards: (!args.boards.is_empty()).then(|| args.boards.clone()),
        dry_run: args.dry_run,
        trigger: SweepTrigger::Cli,
    };
    let quiet = args.json;
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        match p {
            Progress::Board {
                board_id,
                source,
                since,
            } => eprintln!(
                "board {board_id}: {}",
                match (source, since) {
                    (Source::ActivityLog, Some(t)) =>
                        format!("activity log since {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
                    (Source::ActivityLog, None) => "activity log".to_string(),
                    (Source::FullRead, _) => "reading every item".to_string(),
                }
            ),
            Progress::Checked { board_id, items } => {
                eprintln!("board {board_id}: {items} items checked")
            }
        }
    };
    let report = sweep(&engine, &opts, &progress)
        .await
        .context("the reconciliation sweep failed")?;
    // Apply what was stored, in order per item, like the worker of `crmsync serve` would.
    let applied = if args.dry_run || args.no_apply || report.events_stored == 0 {
        0
    } else {
        engine
            .drain()
            .await
            .context("applying the sweep's events")?
    };
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["events_applied"] = serde_json::json!(applied);
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut t = Table::new(&["BOARD", "SOURCE", "LOG ENTRIES", "OWN", "CHECKED", "EVENTS"]);
    for b in &report.boards {
        t.row(vec![
            b.board_id.clone(),
            match b.source {
                Source::ActivityLog => "activity log".into(),
                Source::FullRead => "full read".into(),
            },
            b.log_entries.to_string(),
            b.own_entries.to_string(),
            b.items_checked.to_string(),
            b.events.iter().filter(|e| e.new).count().to_string(),
        ]);
    }
    crate::out!("{}", t.render());
    let shown: Vec<_> = report.boards.iter().flat_map(|b| &b.events).collect();
    if !shown.is_empty() {
        let mut e = Table::new(&["ITEM", "EVENT", "COLUMN", "NEW"]);
        for ev in shown {
            e.row(vec![
                ev.item_id.clone(),
                ev.event_type.clone(),
                ev.column_id.clone().unwrap_or_default(),
                if ev.new { "yes" } else { "already stored" }.into(),
            ]);
        }
        crate::out!("{}", e.render());
    }
    crate::outln!(
        "{}{} items checked, {} events {}, {} applied, {:.1} s, {} complexity points{}",
        if report.dry_run { "dry run: " } else { "" },
        report.items_checked,
        report.events_stored,
        if report.dry_run {
            "would be stored"
        } else {
            "stored"
        },
        applied,
        report.elapsed_ms as f64 / 1000.0,
        report.complexity,
        report
            .run_id
            .map(|id| format!(" (sweep {id})"))
            .unwrap_or_default(),
    );
    Ok(())
}

/// Runs `crmsync drift`; fails (exit 1) when anything drifts.
pub async fn drift(args: DriftArgs) -> Result<()> {
    let config = context::config()?;
    let engine = context::engine(&config, true, context::engine_config(&config)).await?;
    let boards = (!args.boards.is_empty()).then_some(args.boards.as_slice());
    let report = crmsync_sync::drift::drift(&engine, boards)
        .await
        .context("building the drift report")?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for b in &report.boards {
            crate::outln!(
                "board {} ({}) -> {}: {} items, {} linked, {} fields differ, {} without a partner",
                b.board_id,
                b.board_name.as_deref().unwrap_or("unnamed"),
                b.object,
                b.items,
                b.linked,
                b.fields.len(),
                b.unpartnered.len()
            );
            if !b.fields.is_empty() {
                let mut t = Table::new(&[
                    "ITEM",
                    "SALESFORCE ID",
                    "FIELD",
                    "MONDAY",
                    "SALESFORCE",
                    "FIX",
                ]);
                for f in &b.fields {
                    t.row(vec![
                        f.item_id.clone(),
                        f.salesforce_id.clone(),
                        f.field.clone(),
                        ellipsize(&f.monday.to_string(), 40),
                        ellipsize(&f.salesforce.to_string(), 40),
                        f.fix.clone(),
                    ]);
                }
                crate::out!("{}", t.render());
            }
            if !b.unpartnered.is_empty() {
                let mut t = Table::new(&["ITEM", "SALESFORCE ID", "WHY", "FIX"]);
                for u in &b.unpartnered {
                    t.row(vec![
                        u.item_id.clone().unwrap_or_else(|| "-".into()),
                        u.salesforce_id.clone().unwrap_or_else(|| "-".into()),
                        u.reason.clone(),
                        u.fix.clone(),
                    ]);
                }
                crate::out!("{}", t.render());
            }
        }
    }
    if report.drifted > 0 {
        bail!(
            "{} drifted (report {} stored; the status page links it)",
            report.drifted,
            report.id.unwrap_or_default()
        );
    }
    if !args.json {
        crate::outln!("no drift: Salesforce and Monday agree on every mapped field");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_last_all_and_durations_and_refuses_the_rest() {
        assert_eq!(parse_since("last").unwrap(), Since::Last);
        assert_eq!(parse_since("all").unwrap(), Since::Everything);
        assert_eq!(
            parse_since("90m").unwrap(),
            Since::Ago(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_since("3d").unwrap(),
            Since::Ago(Duration::from_secs(3 * 86_400))
        );
        for bad in ["", "6", "6y", "h", "0h", "-1h"] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }
}
