//! Rough throughput of the event-log hot path (insert → claim → mark_done) on one backend.
//!
//! `cargo run --release -p crmsync-store --example store_throughput -- DATABASE_URL [EVENTS] [WORKERS]`
//!
//! Use a throwaway database: the example applies the migrations and writes events into it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crmsync_store::{NewEvent, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: store_throughput DATABASE_URL [EVENTS] [WORKERS]")?;
    let events: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let workers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(4);
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let run = uuid::Uuid::new_v4().simple().to_string();

    let start = Instant::now();
    for i in 0..events {
        store
            .insert_event_if_new(&NewEvent {
                trigger_uuid: format!("{run}-{i}"),
                board_id: 1,
                item_id: (i % 50) as i64,
                event_type: "update_column_value".into(),
                payload: format!("{{\"event\":{{\"n\":{i}}}}}"),
            })
            .await?;
    }
    let insert_secs = start.elapsed().as_secs_f64();

    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let name = format!("bench-{w}");
                while done.load(Ordering::Relaxed) < events {
                    match store.claim_next(&name, Duration::from_secs(30)).await {
                        Ok(Some(c)) => {
                            store.mark_done(&c.claim).await?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) => tokio::time::sleep(Duration::from_millis(1)).await,
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let process_secs = start.elapsed().as_secs_f64();
    println!(
        "{} events, {workers} workers, {}: insert {:.0}/s (sequential), claim+done {:.0}/s",
        events,
        store.backend(),
        events as f64 / insert_secs,
        events as f64 / process_secs
    );
    Ok(())
}
