//! `crmsync-chaos`: the fault matrix behind `cargo xtask chaos` (see `crmsync_testkit::chaos`).
//!
//! ```text
//! crmsync-chaos [--quick] [--only SUBSTRING] [--out RELIABILITY.md] [--command TEXT]
//! ```
//! Needs `DATABASE_URL` (a PostgreSQL server). The process rows need `CRMSYNC_CHAOS_BIN` (the
//! `crmsync` binary), queue mode also `CRMSYNC_TEST_PYTHON` (a venv with moto[server]), the
//! Lambda row `CRMSYNC_CHAOS_BOOTSTRAP` (the unpacked artifact); without them a row says it was
//! not run and why. Exits 1 when any row lost or duplicated anything,
//! or left Salesforce different from Monday.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use crmsync_testkit::bench::report::RunInfo;
use crmsync_testkit::chaos::{self, PgControl, Size};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut out = PathBuf::from("RELIABILITY.md");
    let mut command = "cargo xtask chaos".to_owned();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(value("--only")?),
            "--out" => out = value("--out")?.into(),
            "--command" => command = value("--command")?,
            "-h" | "--help" => {
                println!(
                    "crmsync-chaos [--quick] [--only SUBSTRING] [--out FILE] [--command TEXT]"
                );
                return Ok(());
            }
            other => bail!("unexpected argument {other:?} (see --help)"),
        }
    }
    let info = RunInfo::here(&command);
    let size = if quick {
        Size { items: 3, edits: 2 }
    } else {
        Size {
            items: 12,
            edits: 4,
        }
    };
    let pg = PgControl::from_env();
    let mut rows = chaos::run(size, only.as_deref(), pg.as_ref()).await;
    let bin = chaos::crmsync_bin_from_env();
    rows.extend(chaos::run_process_rows(size, only.as_deref(), bin.as_deref()).await);
    let bootstrap = chaos::bootstrap_from_env();
    rows.extend(
        chaos::run_artifact_rows(size, only.as_deref(), bin.as_deref(), bootstrap.as_deref()).await,
    );
    let md = chaos::markdown(&rows, &info.command, &info.machine, &info.date);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    print!("{md}");
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.passed() || r.note.starts_with("FAILED"))
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("rows that did not hold: {}", failed.join(", "));
    }
    Ok(())
}
