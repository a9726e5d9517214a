//! `bootstrap`: crmsync on AWS Lambda (`provided.al2023`). See the crate docs (`lib.rs`).
//!
//! Init builds everything once through the composition root — configuration, the Lambda checks,
//! store (no migrations: `crmsync db migrate` is a deploy step), both clients, the mapping
//! validated live, the router — and then polls the Runtime API. A configuration that cannot work
//! is reported to `/runtime/init/error` with a message naming the variable, and the process exits 1.
// The SDK clients built in `init` make its future deep (the layout query needs more than 128).
#![recursion_limit = "256"]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use crmsync_app::{clients, App, AppOptions};
use crmsync_http::PendingPolicy;
use crmsync_lambda::handler::Handler;
use crmsync_lambda::settings::LambdaSettings;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde_json::Value;

fn main() -> ExitCode {
    // One invocation at a time per container: a single-threaded runtime is enough and starts
    // faster with less memory.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootstrap: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let handler = match Box::pin(init()).await {
        Ok(h) => Arc::new(h),
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "init failed");
            eprintln!("bootstrap: init failed: {message}");
            report_init_error(&message).await;
            return ExitCode::FAILURE;
        }
    };
    let service = service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.invoke(event).await }
    });
    match lambda_runtime::run(service).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<Handler> {
    clients::init_logs()?;
    let config = clients::config()?;
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = LambdaSettings::from_map(&env).context("reading the Lambda settings")?;
    settings
        .check(&config)
        .context("checking the configuration for AWS Lambda")?;
    let options = AppOptions {
        public_url: settings.public_url.clone(),
        pending_policy: PendingPolicy::RedeliverUntilApplied,
        migrate: false,
        engine: settings.engine_config(&config),
        store: settings.store_options(),
        ..AppOptions::for_config(&config)
    };
    let mut app = App::from_config(&config, options).await?;
    let queue =
        crmsync_cloud::sqs::QueueSettings::from_map(&env).context("reading the queue settings")?;
    if let Some(q) = &queue {
        let client = crmsync_cloud::sqs::client().await;
        app = app.with_queue(Arc::new(crmsync_cloud::sqs::SqsQueue::new(
            client,
            q.url.clone(),
        )));
        tracing::info!(queue = %q.url, max_receives = q.max_receives, "queue mode");
    }
    tracing::info!(
        function_timeout_s = settings.function_timeout.as_secs(),
        lease_s = config.processing.lease.as_secs(),
        "bootstrap ready"
    );
    let handler = Handler::new(&app, config.mapping_path.clone())?;
    Ok(match &queue {
        Some(q) => handler.with_max_receives(q.max_receives),
        None => handler,
    })
}

/// Tells Lambda why init failed (`POST /2018-06-01/runtime/init/error`); best effort.
async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let body = serde_json::json!({ "errorMessage": message, "errorType": "Runtime.ConfigError" });
    let sent = reqwest::Client::new()
        .post(&url)
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        eprintln!("bootstrap: could not report the init error to the Runtime API: {e}");
    }
}
