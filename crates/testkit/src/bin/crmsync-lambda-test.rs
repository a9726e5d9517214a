//! `crmsync-lambda-test --bootstrap PATH [--report FILE]`: the built Lambda `bootstrap` against
//! the Runtime API emulator, the mocks and PostgreSQL (`DATABASE_URL`). Run by
//! `cargo xtask lambda test`; see `crmsync_testkit::lambda_suite`.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match crmsync_testkit::lambda_suite::main_with_args(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda: FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
