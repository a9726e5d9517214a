//! `cargo xtask tidy` on the real workspace and on deliberately bad ones, generated into a temp
//! directory (path dependencies only, so `cargo metadata` needs no network). Stand-ins named
//! like the real crates (`tokio`, `aws-sdk-s3`, `async-graphql`) are empty libraries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A workspace in a temp directory, deleted on drop. `pkgs` are (directory, package name,
/// dependencies as (section, dependency name, directory)); directories are relative to the
/// workspace root (`../outside/x` lies outside it, so it is no member).
struct Fixture {
    dir: PathBuf,
}

type Dep<'a> = (&'a str, &'a str, &'a str);

impl Fixture {
    fn new(case: &str, pkgs: &[(&str, &str, &[Dep])]) -> Fixture {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}-{case}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ws = dir.join("ws");
        let members: Vec<String> = pkgs
            .iter()
            .filter(|(d, _, _)| !d.starts_with(".."))
            .map(|(d, _, _)| format!("{d:?}"))
            .collect();
        write(
            &ws.join("Cargo.toml"),
            &format!(
                "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
                members.join(", ")
            ),
        );
        for (pkg_dir, name, deps) in pkgs {
            let mut manifest =
                format!("[package]\nname = {name:?}\nversion = \"0.1.0\"\nedition = \"2021\"\n");
            for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                let lines: Vec<String> = deps
                    .iter()
                    .filter(|(s, _, _)| *s == section)
                    .map(|(_, dep, path)| format!("{dep} = {{ path = {:?} }}", ws.join(path)))
                    .collect();
                if !lines.is_empty() {
                    manifest.push_str(&format!("\n[{section}]\n{}\n", lines.join("\n")));
                }
            }
            let p = ws.join(pkg_dir);
            write(&p.join("Cargo.toml"), &manifest);
            write(&p.join("src/lib.rs"), "");
        }
        Fixture { dir }
    }

    fn tidy(&self) -> (bool, String) {
        tidy(&[
            "--manifest-path",
            &self.dir.join("ws/Cargo.toml").to_string_lossy(),
        ])
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// Runs `xtask tidy ARGS`: (success, stderr).
fn tidy(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("tidy")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const NORMAL: &str = "dependencies";
const DEV: &str = "dev-dependencies";
const BUILD: &str = "build-dependencies";

#[test]
fn the_real_workspace_follows_the_rules() {
    let (ok, stderr) = tidy(&[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("follow the dependency rules"), "{stderr}");
}

#[test]
fn a_product_crate_depending_on_a_mock_fails_naming_crate_dependency_and_rule() {
    let f = Fixture::new(
        "mock-normal",
        &[
            (
                "crates/app",
                "crmsync-app",
                &[(NORMAL, "mock-thing", "mock-servers/thing")],
            ),
            ("mock-servers/thing", "mock-thing", &[]),
        ],
    );
    let (ok, stderr) = f.tidy();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "crmsync-app (crates/app) depends on mock-thing (mock-servers/thing) in [dependencies]."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "rule: a crate under crates/ depends on the mocks (mock-servers/) only in \
             [dev-dependencies]"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 dependency rule violation(s)"),
        "{stderr}"
    );
}

#[test]
fn a_mock_as_build_dependency_fails_and_as_dev_dependency_passes() {
    let build = Fixture::new(
        "mock-build",
        &[
            (
                "crates/app",
                "crmsync-app",
                &[(BUILD, "mock-thing", "mock-servers/thing")],
            ),
            ("mock-servers/thing", "mock-thing", &[]),
        ],
    );
    let (ok, stderr) = build.tidy();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("crmsync-app (crates/app) depends on mock-thing (mock-servers/thing) in [build-dependencies]."),
        "{stderr}"
    );

    let dev = Fixture::new(
        "mock-dev",
        &[
            (
                "crates/app",
                "crmsync-app",
                &[(DEV, "mock-thing", "mock-servers/thing")],
            ),
            // The test kit may link the mocks.
            (
                "crates/testkit",
                "crmsync-testkit",
                &[(NORMAL, "mock-thing", "mock-servers/thing")],
            ),
            ("mock-servers/thing", "mock-thing", &[]),
        ],
    );
    let (ok, stderr) = dev.tidy();
    assert!(ok, "{stderr}");
}

#[test]
fn core_may_depend_only_on_its_allow_list_directly_and_on_no_io_crate_transitively() {
    let f = Fixture::new(
        "core",
        &[
            (
                "crates/core",
                "crmsync-core",
                &[
                    (NORMAL, "serde", "../outside/serde"),
                    (NORMAL, "tokio", "../outside/tokio"),
                    (DEV, "insta", "../outside/insta"),
                ],
            ),
            // An allowed crate that (in this fixture) pulls in an async runtime.
            (
                "../outside/serde",
                "serde",
                &[(NORMAL, "mio", "../outside/mio")],
            ),
            ("../outside/tokio", "tokio", &[]),
            ("../outside/mio", "mio", &[]),
            ("../outside/insta", "insta", &[]),
        ],
    );
    let (ok, stderr) = f.tidy();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("crmsync-core (crates/core) depends on tokio in [dependencies]."),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "rule: crmsync-core is pure (no I/O, no async, no clock) and may depend only on: \
             serde, serde_json, toml, chrono, thiserror."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("crmsync-core links mio through crmsync-core -> serde -> mio."),
        "{stderr}"
    );
    assert!(
        !stderr.contains("insta"),
        "dev-dependencies are free: {stderr}"
    );
}

#[test]
fn heavy_dependencies_only_in_the_crates_allowed_them() {
    let f = Fixture::new(
        "heavy",
        &[
            (
                "crates/http",
                "crmsync-http",
                &[(NORMAL, "aws-sdk-s3", "../outside/aws-sdk-s3")],
            ),
            (
                "crates/lambda",
                "crmsync-lambda",
                &[(NORMAL, "aws-sdk-s3", "../outside/aws-sdk-s3")],
            ),
            (
                "crates/testkit",
                "crmsync-testkit",
                &[
                    (DEV, "aws-sdk-s3", "../outside/aws-sdk-s3"),
                    (NORMAL, "lambda_http", "../outside/lambda_http"),
                ],
            ),
            (
                "mock-servers/monday",
                "mock-monday",
                &[(NORMAL, "async-graphql", "../outside/async-graphql")],
            ),
            (
                "mock-servers/salesforce",
                "mock-salesforce",
                &[(NORMAL, "async-graphql", "../outside/async-graphql")],
            ),
            ("../outside/aws-sdk-s3", "aws-sdk-s3", &[]),
            ("../outside/lambda_http", "lambda_http", &[]),
            ("../outside/async-graphql", "async-graphql", &[]),
        ],
    );
    let (ok, stderr) = f.tidy();
    assert!(!ok, "{stderr}");
    for bad in [
        "crmsync-http (crates/http) depends on aws-sdk-s3 in [dependencies].\n  rule: an AWS SDK or \
         Lambda runtime crate (aws-*, lambda_*) is allowed only in: crmsync-lambda, crmsync-aws, \
         crmsync-cloud, crmsync-testkit (dev-dependencies).",
        "crmsync-testkit (crates/testkit) depends on lambda_http in [dependencies].",
        "mock-salesforce (mock-servers/salesforce) depends on async-graphql in [dependencies].\n  \
         rule: the GraphQL server (async-graphql*) is allowed only in: mock-monday.",
    ] {
        assert!(stderr.contains(bad), "missing {bad:?} in:\n{stderr}");
    }
    assert!(
        stderr.contains("3 dependency rule violation(s)"),
        "{stderr}"
    );
}

#[test]
fn the_crmsync_binary_links_no_mock_and_no_graphql_even_transitively() {
    let f = Fixture::new(
        "closure",
        &[
            (
                "crates/cli",
                "crmsync-cli",
                &[
                    (NORMAL, "helper", "../outside/helper"),
                    // Dev-only paths do not count.
                    (DEV, "mock-monday", "mock-servers/monday"),
                ],
            ),
            (
                "../outside/helper",
                "helper",
                &[(NORMAL, "async-graphql", "../outside/async-graphql")],
            ),
            (
                "mock-servers/monday",
                "mock-monday",
                &[(NORMAL, "async-graphql", "../outside/async-graphql")],
            ),
            ("../outside/async-graphql", "async-graphql", &[]),
        ],
    );
    let (ok, stderr) = f.tidy();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "crmsync-cli links async-graphql through crmsync-cli -> helper -> async-graphql \
             (normal dependencies).\n  rule: crmsync-cli builds the `crmsync` binary"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 dependency rule violation(s)"),
        "{stderr}"
    );
}

#[test]
fn the_cli_linking_a_mock_fails_now_that_the_demo_lives_in_the_test_kit() {
    let with_kit: &[(&str, &str, &[Dep])] = &[
        (
            "crates/cli",
            "crmsync-cli",
            &[(NORMAL, "mock-monday", "mock-servers/monday")],
        ),
        ("mock-servers/monday", "mock-monday", &[]),
        ("crates/testkit", "crmsync-testkit", &[]),
    ];
    let f = Fixture::new("cli-links-a-mock", with_kit);
    let (ok, stderr) = f.tidy();
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("crmsync-cli (crates/cli) depends on mock-monday (mock-servers/monday) in [dependencies]."),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("crmsync-cli links mock-monday through crmsync-cli -> mock-monday (normal")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_bad_argument_or_manifest_is_an_error() {
    let (ok, stderr) = tidy(&["--bogus"]);
    assert!(
        !ok && stderr.contains("unexpected argument \"--bogus\""),
        "{stderr}"
    );
    let (ok, stderr) = tidy(&["--manifest-path", "/nonexistent/Cargo.toml"]);
    assert!(!ok && stderr.contains("cargo metadata"), "{stderr}");
}
