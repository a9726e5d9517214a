//! `crmsync-demo` (run by `cargo xtask demo`): Monday → Salesforce, live, against in-process mocks.

fn main() {
    // Readable output: only real warnings and errors in the log, unless RUST_LOG says otherwise
    // (the demo has no Telegram and no status page on purpose: those two notices are quiet).
    let filter = std::env::var("RUST_LOG")
        .unwrap_or_else(|_| "warn,crmsync_sync::alerts=error,crmsync_http=error".to_owned());
    let code = match run(&filter) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(filter: &str) -> anyhow::Result<()> {
    crmsync_testkit::demo::init_logs(filter)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))?;
    rt.block_on(crmsync_testkit::demo::run(&mut std::io::stdout()))
}
