//! `crmsync-deploy`: the AWS calls of a deployment, run by `cargo xtask deploy` and
//! `cargo xtask rollback` (which check first that the zip passed `cargo xtask lambda test`).
//!
//! ```text
//! crmsync-deploy deploy   --function NAME --alias ALIAS --zip PATH --sha256 HEX
//! crmsync-deploy rollback --function NAME --alias ALIAS
//! ```
//!
//! `deploy` uploads the zip as the function's code, waits for the update, publishes a version
//! pinned to the zip's sha256 (Lambda refuses to publish other code), and points the alias at it;
//! the alias's description remembers the version it pointed at before (`previous=N`).
//! `rollback` points the alias back at that version (and remembers the one it leaves, so a second
//! rollback rolls forward). Credentials, region and endpoint come from the standard AWS chain
//! (environment, profile, web identity for GitHub's OIDC role); `AWS_ENDPOINT_URL` points it at
//! another endpoint (moto in the tests). Prints one JSON line with the result.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LastUpdateStatus;
use aws_sdk_lambda::Client;
use base64::Engine;
use serde_json::json;

const USAGE: &str = "usage:
  crmsync-deploy deploy   --function NAME --alias ALIAS --zip PATH --sha256 HEX
  crmsync-deploy rollback --function NAME --alias ALIAS";

#[derive(Debug, Default)]
struct Args {
    function: Option<String>,
    alias: Option<String>,
    zip: Option<String>,
    sha256: Option<String>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--function" => &mut out.function,
            "--alias" => &mut out.alias,
            "--zip" => &mut out.zip,
            "--sha256" => &mut out.sha256,
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        };
        *slot = Some(
            it.next()
                .with_context(|| format!("{a} needs a value"))?
                .clone(),
        );
    }
    Ok(out)
}

/// The description an alias carries: the version it pointed at before, and the zip's sha256.
fn alias_description(previous: Option<&str>, sha256: Option<&str>) -> String {
    let mut d = format!("previous={}", previous.unwrap_or("none"));
    if let Some(s) = sha256 {
        d.push_str(&format!("; sha256={s}"));
    }
    d
}

/// `previous=N` from an alias description.
fn previous_of(description: &str) -> Option<String> {
    description
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("previous="))
        .filter(|v| !v.is_empty() && *v != "none")
        .map(str::to_owned)
}

/// Lambda's `CodeSha256`: the base64 of the digest (not the hex).
fn code_sha256(hex: &str) -> Result<String> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--sha256 must be 64 hex digits, got {hex:?}");
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .context("--sha256 is not hex")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

async fn client() -> Client {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await;
    Client::new(&config)
}

async fn current_alias_version(
    c: &Client,
    function: &str,
    alias: &str,
) -> Result<Option<(String, String)>> {
    match c
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
    {
        Ok(a) => Ok(Some((
            a.function_version().unwrap_or_default().to_owned(),
            a.description().unwrap_or_default().to_owned(),
        ))),
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_resource_not_found_exception()) {
                Ok(None)
            } else {
                Err(anyhow::Error::new(e.into_service_error()))
                    .with_context(|| format!("reading alias {alias} of {function}"))
            }
        }
    }
}

async fn deploy(c: &Client, function: &str, alias: &str, zip: &str, sha256: &str) -> Result<()> {
    let code = code_sha256(sha256)?;
    let bytes = std::fs::read(zip).with_context(|| format!("reading {zip}"))?;
    let before = current_alias_version(c, function, alias).await?;
    let updated = c
        .update_function_code()
        .function_name(function)
        .zip_file(Blob::new(bytes))
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.into_service_error()))
        .with_context(|| format!("updating the code of {function}"))?;
    if updated.code_sha256() != Some(code.as_str()) {
        bail!(
            "Lambda stored code with CodeSha256 {:?}, not the zip's {code}",
            updated.code_sha256()
        );
    }
    // The update is asynchronous on AWS: wait until it is through before publishing.
    for _ in 0..120 {
        let cfg = c
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.into_service_error()))
            .with_context(|| format!("reading the configuration of {function}"))?;
        match cfg.last_update_status() {
            None | Some(LastUpdateStatus::Successful) => break,
            Some(LastUpdateStatus::Failed) => bail!(
                "the code update of {function} failed: {}",
                cfg.last_update_status_reason().unwrap_or("no reason given")
            ),
            Some(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    let published = c
        .publish_version()
        .function_name(function)
        .code_sha256(&code)
        .description(format!("crmsync bootstrap.zip sha256 {sha256}"))
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.into_service_error()))
        .with_context(|| format!("publishing a version of {function}"))?;
    let version = published
        .version()
        .context("PublishVersion returned no version")?
        .to_owned();
    let previous = before.as_ref().map(|(v, _)| v.as_str());
    let description = alias_description(previous, Some(sha256));
    if before.is_some() {
        c.update_alias()
            .function_name(function)
            .name(alias)
            .function_version(&version)
            .description(description)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.into_service_error()))
            .with_context(|| format!("moving alias {alias} to version {version}"))?;
    } else {
        c.create_alias()
            .function_name(function)
            .name(alias)
            .function_version(&version)
            .description(description)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.into_service_error()))
            .with_context(|| format!("creating alias {alias} at version {version}"))?;
    }
    println!(
        "{}",
        json!({"action": "deploy", "function": function, "alias": alias,
               "version": version, "previous": previous, "sha256": sha256})
    );
    Ok(())
}

async fn rollback(c: &Client, function: &str, alias: &str) -> Result<()> {
    let (current, description) = current_alias_version(c, function, alias)
        .await?
        .with_context(|| format!("{function} has no alias {alias}: nothing to roll back"))?;
    let previous = previous_of(&description).with_context(|| {
        format!(
            "alias {alias} of {function} (version {current}) does not record a previous version \
             (description {description:?}): nothing to roll back to"
        )
    })?;
    c.update_alias()
        .function_name(function)
        .name(alias)
        .function_version(&previous)
        .description(alias_description(Some(&current), None))
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.into_service_error()))
        .with_context(|| format!("moving alias {alias} back to version {previous}"))?;
    println!(
        "{}",
        json!({"action": "rollback", "function": function, "alias": alias,
               "version": previous, "previous": current})
    );
    Ok(())
}

async fn real_main(args: Vec<String>) -> Result<()> {
    let Some((cmd, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let a = parse(rest)?;
    let function = a.function.as_deref().context("--function is required")?;
    let alias = a.alias.as_deref().unwrap_or("live");
    match cmd.as_str() {
        "deploy" => {
            let zip = a.zip.as_deref().context("--zip is required")?;
            let sha = a.sha256.as_deref().context("--sha256 is required")?;
            deploy(&client().await, function, alias, zip, sha).await
        }
        "rollback" => rollback(&client().await, function, alias).await,
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match real_main(std::env::args().skip(1).collect()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crmsync-deploy: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_version_round_trips_through_the_description() {
        let d = alias_description(Some("7"), Some("ab"));
        assert_eq!(d, "previous=7; sha256=ab");
        assert_eq!(previous_of(&d).as_deref(), Some("7"));
        assert_eq!(previous_of(&alias_description(None, None)), None);
        assert_eq!(previous_of("deployed by hand"), None);
    }

    #[test]
    fn code_sha256_is_the_base64_of_the_digest() {
        // sha256 of the empty string.
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            code_sha256(hex).unwrap(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert!(code_sha256("abc").is_err());
        assert!(code_sha256(&"z".repeat(64)).is_err());
    }

    #[test]
    fn arguments_are_parsed_and_checked() {
        let a = parse(&[
            "--function".into(),
            "f".into(),
            "--alias".into(),
            "live".into(),
        ])
        .unwrap();
        assert_eq!(a.function.as_deref(), Some("f"));
        assert!(parse(&["--function".into()]).is_err());
        assert!(parse(&["--nope".into()]).is_err());
    }
}
