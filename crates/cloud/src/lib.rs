//! The AWS services crmsync's runtime uses, behind small typed APIs:
//!
//! * [`sqs`] — queue mode: [`sqs::SqsQueue`] (the producer the receiver sends stored events to:
//!   SQS FIFO, `MessageGroupId` = `board:item`, `MessageDeduplicationId` = the delivery's
//!   `triggerUuid`) and [`sqs::PollConsumer`] (the polling consumer of `crmsync serve`; the Lambda
//!   consumes through its SQS event source instead). What a consumer does with a message is
//!   `crmsync_sync::queue`, shared by both.
//! * [`s3`] — the object store of backups ([`s3::S3Location`] parses `s3://bucket/prefix`).
//! * [`backup`] — `crmsync backup` / `crmsync restore`: gzipped JSON Lines parts per table with a
//!   manifest (counts and sha256 per part), incremental, checked on restore.
//!
//! Clients come from the standard AWS configuration chain (environment credentials and region,
//! profiles, web identity); `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_SQS` / `_S3`) points them at
//! another endpoint (moto, LocalStack, MinIO), and with a custom endpoint S3 uses path-style
//! addressing, so `s3://bucket/prefix` works against a local server without DNS tricks. The HTTPS
//! client is rustls with ring (the workspace's TLS), not aws-lc.

pub mod backup;
pub mod s3;
pub mod sqs;

/// The HTTPS client of every AWS call: rustls with ring.
fn https_client() -> aws_sdk_sqs::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The shared AWS configuration from the environment (region, credentials, endpoint).
pub async fn aws_config() -> aws_config::SdkConfig {
    let https = https_client();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}

/// Whether a custom endpoint is configured for `service` (`AWS_ENDPOINT_URL_<SERVICE>` or
/// `AWS_ENDPOINT_URL`).
pub fn custom_endpoint(service: &str) -> bool {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    [specific.as_str(), "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// An SDK error with its whole chain (the SDK's `Display` says only "service error").
pub fn sdk_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

pub use aws_sdk_s3;
pub use aws_sdk_sqs;

/// An AWS configuration for a local endpoint (moto, LocalStack, MinIO) with fixed test
/// credentials and region `us-east-1`: for tests and tools that set up queues and buckets there.
pub async fn local_aws_config(endpoint: &str) -> aws_config::SdkConfig {
    let https = https_client();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "crmsync-local",
        ))
        .load()
        .await
}
