//! `crmsync-deploy` as a process: the argument errors it answers before any AWS call. (The
//! calls themselves run against moto's server mode in `cargo xtask test`: deploy, refusal of an
//! untested zip, rollback.)

use std::process::{Command, Output};

fn deploy_tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crmsync-deploy"))
        .args(args)
        // Nothing here may reach AWS, whatever the machine's configuration.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("running crmsync-deploy")
}

fn fails_saying(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "stderr does not say {needle:?}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "printed a result: {:?}", out.stdout);
}

#[test]
fn without_a_command_it_prints_the_usage() {
    let out = deploy_tool(&[]);
    fails_saying(&out, "crmsync-deploy deploy   --function NAME");
    fails_saying(&out, "crmsync-deploy rollback --function NAME");
}

#[test]
fn an_unknown_command_or_flag_is_named() {
    fails_saying(
        &deploy_tool(&["promote", "--function", "f"]),
        "unknown command \"promote\"",
    );
    fails_saying(
        &deploy_tool(&["deploy", "--function", "f", "--force"]),
        "unexpected argument \"--force\"",
    );
    fails_saying(
        &deploy_tool(&["deploy", "--function"]),
        "--function needs a value",
    );
}

#[test]
fn deploy_needs_the_function_the_zip_and_its_sha256() {
    fails_saying(&deploy_tool(&["deploy"]), "--function is required");
    fails_saying(
        &deploy_tool(&["deploy", "--function", "crmsync"]),
        "--zip is required",
    );
    fails_saying(
        &deploy_tool(&["deploy", "--function", "crmsync", "--zip", "bootstrap.zip"]),
        "--sha256 is required",
    );
    fails_saying(&deploy_tool(&["rollback"]), "--function is required");
}

#[test]
fn a_bad_sha256_or_a_missing_zip_stops_before_any_aws_call() {
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    fails_saying(
        &deploy_tool(&[
            "deploy",
            "--function",
            "f",
            "--zip",
            "z.zip",
            "--sha256",
            "abc",
        ]),
        "--sha256 must be 64 hex digits",
    );
    fails_saying(
        &deploy_tool(&[
            "deploy",
            "--function",
            "f",
            "--zip",
            "/nonexistent/bootstrap.zip",
            "--sha256",
            hex,
        ]),
        "reading /nonexistent/bootstrap.zip",
    );
}
