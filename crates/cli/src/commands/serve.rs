//! `crmsync serve`: the receiver and the background worker, with graceful shutdown.

use anyhow::{Context, Result};
use crmsync_app::{clients, App, AppOptions, ServeOptions};
use crmsync_http::PendingPolicy;

use crate::cli::ServeArgs;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let config = clients::config()?;
    let options = AppOptions {
        public_url: args.public_url.clone(),
        allow_unauthenticated_webhooks: args.allow_unauthenticated_webhooks,
        pending_policy: PendingPolicy::AckWhenStored,
        migrate: true,
        ..AppOptions::for_config(&config)
    };
    let mut app = App::from_config(&config, options).await?;
    let env: std::collections::HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let queue = crmsync_cloud::sqs::QueueSettings::from_map(&env)?;
    let consumer = match &queue {
        None => None,
        Some(settings) => {
            let client = crmsync_cloud::sqs::client().await;
            let consumer = crmsync_cloud::sqs::PollConsumer::new(
                client.clone(),
                settings,
                app.engine.config().event_deadline,
            )
            .await
            .context("starting queue mode (CRMSYNC_QUEUE_URL)")?;
            crate::outln!(
                "crmsync: queue mode: events go to {} and are applied by its consumer \
                 (a message is given up after {} receives)",
                settings.url,
                consumer.max_receives()
            );
            app = app.with_queue(std::sync::Arc::new(crmsync_cloud::sqs::SqsQueue::new(
                client,
                settings.url.clone(),
            )));
            Some(crmsync_app::QueueConsumer(std::sync::Arc::new(
                move |engine, stop| {
                    let c = consumer.clone();
                    Box::pin(c.run(engine, stop))
                },
            )))
        }
    };

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    crate::outln!(
        "crmsync: listening on http://{addr} (POST /webhooks/monday, GET /healthz, GET /status)"
    );
    tracing::info!(%addr, "receiver listening");

    let signal = shutdown_signal()?;
    let shutdown = async move {
        let name = signal.await;
        crate::outln!("crmsync: {name} received, shutting down");
        tracing::info!(
            signal = name,
            "shutting down: finishing in-flight requests and events"
        );
    };
    match config.sweep_every {
        Some(every) => crate::outln!(
            "crmsync: reconciliation sweep every {} min (CRMSYNC_SWEEP_MINUTES)",
            every.as_secs() / 60
        ),
        None => crate::outln!("crmsync: reconciliation sweeps off (CRMSYNC_SWEEP_MINUTES=0)"),
    }
    let serve_options = ServeOptions {
        sweep_every: config.sweep_every,
        // Queue mode: the consumer applies events (retries come back with their message), so no
        // worker claims them in between.
        worker: consumer.is_none(),
        consumer,
        ..ServeOptions::default()
    };
    match &args.record {
        Some(dir) => {
            let recorder = crmsync_app::record::Recorder::new(
                dir,
                app.engine.clone(),
                crmsync_app::record::RecordOptions {
                    secrets: crmsync_app::record::config_secrets(&config),
                    personal_fields: args
                        .record_redact
                        .iter()
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect(),
                },
            )?;
            crate::outln!("crmsync: recording deliveries into {}", dir.display());
            crmsync_app::serve_recording(listener, app, serve_options, recorder, shutdown).await?;
        }
        None => crmsync_app::serve(listener, app, serve_options, shutdown).await?,
    }
    crate::outln!("crmsync: stopped");
    Ok(())
}

/// Installs the signal handlers now (so a failure is an error at start-up) and returns a future
/// that completes with the name of the first of Ctrl-C or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}
