//! moto's server mode (PyPI `moto[server]`, installed in xtask's venv) on loopback, for the
//! queue-mode and backup tests: a FIFO queue with its dead-letter queue, buckets, and the
//! environment that points crmsync's AWS clients at it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crmsync_cloud::aws_sdk_sqs::types::QueueAttributeName;
use crmsync_cloud::{aws_sdk_s3, aws_sdk_sqs};

/// A running `moto_server` on 127.0.0.1 (killed on drop).
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A FIFO queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct FifoQueue {
    /// The queue's URL.
    pub url: String,
    /// The DLQ's URL.
    pub dlq_url: String,
    /// The DLQ's ARN.
    pub dlq_arn: String,
    /// The queue's ARN.
    pub arn: String,
}

/// `moto_server`: `CRMSYNC_TEST_MOTO_SERVER`, or next to `CRMSYNC_TEST_PYTHON` (the venv's
/// python, which `cargo xtask test` exports).
pub fn moto_server() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CRMSYNC_TEST_MOTO_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let python = std::env::var("CRMSYNC_TEST_PYTHON").context(
        "the queue and backup tests need moto's server mode: set CRMSYNC_TEST_PYTHON to the \
         python of a venv with moto[server] (cargo xtask test does), or CRMSYNC_TEST_MOTO_SERVER",
    )?;
    let bin = PathBuf::from(python)
        .parent()
        .context("CRMSYNC_TEST_PYTHON has no directory")?
        .join("moto_server");
    if !bin.exists() {
        bail!(
            "{} does not exist (is moto[server] installed in that venv?)",
            bin.display()
        );
    }
    Ok(bin)
}

impl Moto {
    /// Starts moto on a free loopback port and waits (≤ 30 s) until it answers.
    pub fn start() -> Result<Moto> {
        let bin = moto_server()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for moto")?
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("moto_server did not listen on {} within 30 s", moto.url);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// The variables that point crmsync's AWS clients at this moto (test credentials).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An SQS client for this moto.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&crmsync_cloud::local_aws_config(&self.url).await)
    }

    /// An S3 client for this moto (path-style).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let shared = crmsync_cloud::local_aws_config(&self.url).await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(true)
                .build(),
        )
    }

    /// Creates `name.fifo` with a DLQ `name-dlq.fifo` (redrive after `max_receives` receives)
    /// and the given visibility timeout.
    pub async fn fifo_queue(
        &self,
        name: &str,
        max_receives: u32,
        visibility_s: u32,
    ) -> Result<FifoQueue> {
        let sqs = self.sqs().await;
        let dlq = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .context("creating the DLQ")?;
        let dlq_url = dlq.queue_url().context("no DLQ URL")?.to_string();
        let dlq_arn = self.arn_of(&sqs, &dlq_url).await?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives.to_string(),
        });
        let q = sqs
            .create_queue()
            .queue_name(format!("{name}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_s.to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
            .send()
            .await
            .context("creating the queue")?;
        let url = q.queue_url().context("no queue URL")?.to_string();
        let arn = self.arn_of(&sqs, &url).await?;
        Ok(FifoQueue {
            url,
            dlq_url,
            dlq_arn,
            arn,
        })
    }

    async fn arn_of(&self, sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
        let a = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context("reading a queue's ARN")?;
        a.attributes()
            .and_then(|m| m.get(&QueueAttributeName::QueueArn))
            .cloned()
            .context("no QueueArn")
    }

    /// Messages in `url` (visible + in flight), as SQS reports them.
    pub async fn depth(&self, url: &str) -> Result<(u64, u64)> {
        let sqs = self.sqs().await;
        let a = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .context("reading a queue's depth")?;
        let get = |k: QueueAttributeName| {
            a.attributes()
                .and_then(|m| m.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Creates bucket `name`.
    pub async fn bucket(&self, name: &str) -> Result<()> {
        self.s3()
            .await
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .context("creating a bucket")?;
        Ok(())
    }
}
