//! `crmsync serve`: the receiver and the background worker, with graceful shutdown.

use std::time::Duration;

use anyhow::{Context, Result};
use crmsync_http::{router, AppState, PendingPolicy, ReceiverConfig};
use secrecy::ExposeSecret;

use crate::cli::ServeArgs;
use crate::context;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let config = context::config()?;
    // Monday puts the webhook's URL in `aud`: the URL `crmsync webhooks install` registered,
    // with `?token=` when MONDAY_WEBHOOK_TOKEN is set. Without --public-url, the URL the request
    // reached is expected instead.
    let audiences = match &args.public_url {
        Some(base) => {
            let mut a = vec![crate::webhooks::receiver_url(base, None).to_string()];
            if let Some(t) = &config.monday.webhook_token {
                a.push(crate::webhooks::receiver_url(base, Some(t.expose_secret())).to_string());
            }
            a
        }
        None => Vec::new(),
    };
    if config.monday.signing_secret.is_some() && audiences.is_empty() {
        // Without --public-url the expected `aud` is rebuilt from the request's Host and
        // X-Forwarded-Proto headers, which the sender controls: a JWT that the same Monday app
        // signed for another URL would then pass. Say so; the fix is one flag.
        tracing::warn!(
            "MONDAY_SIGNING_SECRET is set but --public-url is not: the JWT audience is taken from \
             the request's Host header; pass --public-url https://your-host to pin it"
        );
    }
    let mut rc = ReceiverConfig::from_config(&config, audiences);
    rc.auth = rc
        .auth
        .allow_unauthenticated(args.allow_unauthenticated_webhooks);
    rc.pending_policy = PendingPolicy::AckWhenStored;
    if !rc.auth.is_usable() {
        anyhow::bail!(
            "no webhook authentication configured: set MONDAY_SIGNING_SECRET (app webhooks) or \
             MONDAY_WEBHOOK_TOKEN (webhooks created with a personal token), or pass \
             --allow-unauthenticated-webhooks for a local experiment"
        );
    }
    let rt = context::runtime(config).await?;
    let state = AppState::new(rt.engine.clone(), rc).context("configuring the receiver")?;

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    crate::outln!(
        "crmsync: listening on http://{addr} (POST /webhooks/monday, GET /healthz, GET /status)"
    );
    tracing::info!(%addr, "receiver listening");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let engine = rt.engine.clone();
    let mut worker_rx = stop_rx.clone();
    let worker = tokio::spawn(async move {
        engine
            .run_worker(async move {
                let _ = worker_rx.wait_for(|s| *s).await;
            })
            .await;
    });
    let mut server_rx = stop_rx;
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        let _ = server_rx.wait_for(|s| *s).await;
    });
    let server = tokio::spawn(async move { server.await });

    let signal = shutdown_signal().await?;
    crate::outln!("crmsync: {signal} received, shutting down");
    tracing::info!(
        signal,
        "shutting down: finishing in-flight requests and events"
    );
    let _ = stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(30), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e).context("serving HTTP"),
        Ok(Err(e)) => return Err(e).context("the HTTP server task failed"),
        Err(_) => tracing::warn!("in-flight requests did not finish within 30 s"),
    }
    if tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .is_err()
    {
        tracing::warn!("the worker did not stop within 30 s; its claims expire with their lease");
    }
    rt.engine.alerter().flush().await;
    rt.engine.store().close().await;
    crate::outln!("crmsync: stopped");
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; returns its name.
async fn shutdown_signal() -> Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("waiting for Ctrl-C")?; Ok("Ctrl-C") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}
