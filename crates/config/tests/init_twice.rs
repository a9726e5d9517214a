//! `init_telemetry` installs a process-global subscriber, so it is tested in its own test binary.

use crmsync_config::{init_telemetry, LogFormat, TelemetryError};

#[test]
fn init_telemetry_twice_returns_an_error_instead_of_panicking() {
    init_telemetry(LogFormat::Json).expect("first initialisation");
    tracing::info!("logged through the installed subscriber");
    for format in [LogFormat::Json, LogFormat::Human] {
        match init_telemetry(format) {
            Err(TelemetryError::AlreadyInitialized(_)) => {}
            other => panic!("expected AlreadyInitialized, got {other:?}"),
        }
    }
}
