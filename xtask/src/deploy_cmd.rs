//! `cargo xtask deploy --function NAME [--alias live]` and `cargo xtask rollback --function NAME
//! [--alias live]`: the gate (only a zip whose sha256 passed `cargo xtask lambda test`) in xtask,
//! the AWS calls in the `crmsync-deploy` binary (crates/aws), so that the AWS SDK stays out of
//! xtask. Also the suite phase that deploys to moto (PyPI `moto[server]`) on loopback.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::lambda_cmd::{python_run, sha256_of, Artifact};
use crate::pg::Paths;
use crate::proc;

pub const HELP: &str = "\
cargo xtask deploy --function NAME [--alias live]
cargo xtask rollback --function NAME [--alias live]

deploy: refuses unless target/lambda/crmsync/bootstrap.zip has the sha256 recorded by a passing
  `cargo xtask lambda test` (target/lambda/crmsync/tested.json); then (crmsync-deploy, AWS SDK)
  updates the function's code with that zip, publishes a version pinned to its sha256 and points
  the alias at it (remembering the version it pointed at before).
rollback: points the alias back at that previous version.
AWS credentials and region come from the usual chain (environment, profile, web identity);
AWS_ENDPOINT_URL points the calls at another endpoint (moto in `cargo xtask test`).
";

struct Target {
    function: String,
    alias: String,
}

fn parse(args: &[String]) -> Result<Target> {
    let mut function = None;
    let mut alias = "live".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--function" => function = it.next().cloned(),
            "--alias" => alias = it.next().cloned().context("--alias needs a value")?,
            other => bail!("unexpected argument {other:?}\n\n{HELP}"),
        }
    }
    let function = function.context("--function NAME is required")?;
    Ok(Target { function, alias })
}

/// The sha256 recorded in tested.json (`"sha256": "…"`), if any.
fn tested_sha(tested_json: &str) -> Option<String> {
    let at = tested_json.find("\"sha256\"")?;
    let rest = &tested_json[at + 8..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_owned())
}

/// Refuses a zip whose sha256 did not pass `cargo xtask lambda test`.
pub fn gate(zip_sha: &str, tested: Option<&str>) -> Result<()> {
    match tested.and_then(tested_sha) {
        Some(t) if t == zip_sha => Ok(()),
        Some(t) => bail!(
            "refusing to deploy: bootstrap.zip has sha256 {zip_sha}, but the zip that passed \
             `cargo xtask lambda test` had {t}; run `cargo xtask lambda test` on this zip first"
        ),
        None => bail!(
            "refusing to deploy: bootstrap.zip (sha256 {zip_sha}) has not passed `cargo xtask \
             lambda test` (no target/lambda/crmsync/tested.json); run it first"
        ),
    }
}

fn deploy_tool(paths: &Paths) -> Command {
    paths.tool("crmsync-aws", "crmsync-deploy")
}

/// `cargo xtask deploy`.
pub fn deploy(paths: &Paths, python: &Path, args: &[String], env: &[(&str, String)]) -> Result<()> {
    let t = parse(args)?;
    let art = Artifact::of(paths);
    if !art.zip.is_file() {
        bail!(
            "{} does not exist: run `cargo xtask lambda build` and `cargo xtask lambda test`",
            art.zip.display()
        );
    }
    let sha = sha256_of(python, &art.zip)?;
    gate(&sha, fs::read_to_string(&art.tested).ok().as_deref())?;
    let mut c = deploy_tool(paths);
    c.args([
        "deploy",
        "--function",
        &t.function,
        "--alias",
        &t.alias,
        "--sha256",
        &sha,
    ])
    .arg("--zip")
    .arg(&art.zip)
    .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    proc::run(&mut c, "crmsync-deploy deploy")
}

/// `cargo xtask rollback`.
pub fn rollback(paths: &Paths, args: &[String], env: &[(&str, String)]) -> Result<()> {
    let t = parse(args)?;
    let mut c = deploy_tool(paths);
    c.args(["rollback", "--function", &t.function, "--alias", &t.alias])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    proc::run(&mut c, "crmsync-deploy rollback")
}

/// A moto server on 127.0.0.1, stopped (its process group) on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        proc::stop_group(
            &mut self.child,
            signal_hook::consts::SIGTERM,
            Duration::from_secs(5),
        );
    }
}

fn start_moto(python: &Path) -> Result<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port for moto")?
        .port();
    let bin = python
        .parent()
        .context("the venv's bin")?
        .join("moto_server");
    let child = proc::spawn(
        Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "moto_server",
    )?;
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("moto_server did not listen on {} within 30 s", moto.url);
        }
        proc::check_interrupted()?;
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(moto)
}

/// Creates the function in moto (as the SAM stack would) with version 1 behind alias `live`.
const MOTO_SETUP_PY: &str = r##"
import json, sys, boto3
name = sys.argv[1]
iam = boto3.client("iam")
role = iam.create_role(RoleName="crmsync-lambda", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
lam = boto3.client("lambda")
# Version 1 stands for the release that was live before: a small stand-in zip.
import io, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\necho previous release\n")
fn = lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                         Handler="bootstrap", Code={"ZipFile": buf.getvalue()}, Publish=True)
lam.create_alias(FunctionName=name, Name="live", FunctionVersion=fn["Version"],
                 Description="previous=none")
print(fn["Version"])
"##;

/// Prints the version alias `live` points at and that version's CodeSha256.
const MOTO_ALIAS_PY: &str = r#"
import sys, boto3
lam = boto3.client("lambda")
a = lam.get_alias(FunctionName=sys.argv[1], Name="live")
v = lam.get_function(FunctionName=sys.argv[1], Qualifier=a["FunctionVersion"])
print(a["FunctionVersion"], v["Configuration"]["CodeSha256"])
"#;

/// The suite phase: deploys the tested zip to moto, checks the alias, refuses an untested zip,
/// rolls back and checks again.
pub fn moto_phase(paths: &Paths, python: &Path) -> Result<()> {
    let moto = start_moto(python)?;
    let env: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL", moto.url.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_DEFAULT_REGION", "eu-west-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ];
    let py = |script: &str, args: &[&str], what: &str| -> Result<String> {
        let mut c = Command::new(python);
        c.arg("-c").arg(script).args(args);
        for (k, v) in &env {
            c.env(k, v);
        }
        proc::stdout_text(&mut c, what, Some(Duration::from_secs(60)))
    };
    let name = "crmsync-moto";
    let art = Artifact::of(paths);
    let v1 = py(MOTO_SETUP_PY, &[name], "creating the function in moto")?;
    let args: Vec<String> = ["--function", name, "--alias", "live"]
        .iter()
        .map(|s| s.to_string())
        .collect();

    // An untested zip is refused before any AWS call.
    let sha = sha256_of(python, &art.zip)?;
    let other = "0".repeat(64);
    let tested = fs::read_to_string(&art.tested).ok();
    let refused = gate(&other, tested.as_deref()).err().map(|e| e.to_string());
    match refused {
        Some(m) if m.contains("refusing to deploy") && m.contains(&sha) => {}
        other => bail!("an untested zip was not refused clearly: {other:?}"),
    }

    let started = Instant::now();
    deploy(paths, python, &args, &env)?;
    eprintln!(
        "xtask: deploy to moto took {:.1}s (including building crmsync-deploy when needed)",
        started.elapsed().as_secs_f64()
    );
    let after = py(MOTO_ALIAS_PY, &[name], "reading the alias")?;
    let (version, code) = after.split_once(' ').context("alias output")?;
    let want = python_run(
        python,
        "import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())",
        &[std::ffi::OsStr::new(&sha)],
        "base64 of the sha256",
    )?;
    if version == v1 || code != want {
        bail!("after deploy, alias live -> version {version} with CodeSha256 {code}; expected a new version with {want}");
    }
    rollback(paths, &args, &env)?;
    let back = py(MOTO_ALIAS_PY, &[name], "reading the alias")?;
    if back.split(' ').next() != Some(v1.as_str()) {
        bail!("after rollback, alias live -> {back}; expected version {v1}");
    }
    eprintln!(
        "xtask: moto: deploy published version {version} (CodeSha256 {code}) behind alias live; rollback moved it back to {v1}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn the_tested_zip_passes_the_gate() {
        let tested = format!("{{\n  \"sha256\": \"{SHA}\",\n  \"zip_bytes\": 1\n}}\n");
        assert!(gate(SHA, Some(&tested)).is_ok());
    }

    #[test]
    fn another_zip_is_refused_naming_both_hashes() {
        let tested = format!("{{\"sha256\": \"{SHA}\"}}");
        let e = gate(&"a".repeat(64), Some(&tested))
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing to deploy"), "{e}");
        assert!(e.contains(SHA) && e.contains(&"a".repeat(64)), "{e}");
    }

    #[test]
    fn an_untested_zip_is_refused() {
        let e = gate(SHA, None).unwrap_err().to_string();
        assert!(e.contains("has not passed"), "{e}");
        let e = gate(SHA, Some("{}")).unwrap_err().to_string();
        assert!(e.contains("has not passed"), "{e}");
    }

    #[test]
    fn arguments_default_the_alias() {
        let t = parse(&["--function".into(), "f".into()]).unwrap();
        assert_eq!((t.function.as_str(), t.alias.as_str()), ("f", "live"));
        assert!(parse(&[]).is_err());
        assert!(parse(&["--what".into()]).is_err());
    }
}
