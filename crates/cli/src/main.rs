//! `crmsync`: see `crmsync --help`.

use clap::Parser;

fn main() {
    let cli = crmsync_cli::Cli::parse();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            e.downcast_ref::<crmsync_cli::Exit>().map_or(1, |x| x.code)
        }
    };
    std::process::exit(code);
}

fn run(cli: crmsync_cli::Cli) -> anyhow::Result<()> {
    crmsync_app::clients::init_logs()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))?;
    rt.block_on(crmsync_cli::run(cli))
}
