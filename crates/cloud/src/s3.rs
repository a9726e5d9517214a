//! S3 for backups: `s3://bucket/prefix` locations and the few object calls a backup needs.

use aws_sdk_s3::primitives::ByteStream;

use crate::sdk_error;

/// `s3://bucket/prefix` (the prefix without leading or trailing `/`; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket.
    pub bucket: String,
    /// Key prefix.
    pub prefix: String,
}

/// Why an S3 call or location failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// Not an `s3://bucket/prefix` URL.
    #[error("{0:?} is not an s3://bucket/prefix location")]
    BadLocation(String),
    /// A call failed.
    #[error("S3 {op} s3://{bucket}/{key}: {message}")]
    Call {
        /// The operation.
        op: &'static str,
        /// Bucket.
        bucket: String,
        /// Key (or prefix).
        key: String,
        /// The SDK's error chain.
        message: String,
    },
}

impl std::str::FromStr for S3Location {
    type Err = S3Error;

    fn from_str(s: &str) -> Result<S3Location, S3Error> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| S3Error::BadLocation(s.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(S3Error::BadLocation(s.to_string()));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl S3Location {
    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        match self.prefix.is_empty() {
            true => name.to_string(),
            false => format!("{}/{name}", self.prefix),
        }
    }
}

/// The S3 client of the environment; path-style addressing when a custom endpoint is set
/// (`AWS_ENDPOINT_URL[_S3]`: moto, LocalStack, MinIO).
pub async fn client() -> aws_sdk_s3::Client {
    let shared = crate::aws_config().await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(crate::custom_endpoint("s3"))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Objects under one location.
#[derive(Debug, Clone)]
pub struct Objects {
    client: aws_sdk_s3::Client,
    /// Where.
    pub location: S3Location,
}

impl Objects {
    /// Objects under `location`.
    pub fn new(client: aws_sdk_s3::Client, location: S3Location) -> Objects {
        Objects { client, location }
    }

    fn call_error(
        &self,
        op: &'static str,
        key: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> S3Error {
        S3Error::Call {
            op,
            bucket: self.location.bucket.clone(),
            key: key.to_string(),
            message: sdk_error(e),
        }
    }

    /// Writes `name` (under the prefix).
    pub async fn put(&self, name: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), S3Error> {
        let key = self.location.key(name);
        self.client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.call_error("PutObject", &key, &e))?;
        Ok(())
    }

    /// Reads `name`; `None` when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let key = self.location.key(name);
        let out = match self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    return Ok(None);
                }
                return Err(self.call_error("GetObject", &key, &e));
            }
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.call_error("GetObject (body)", &key, &e))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// Names (relative to the prefix) of the objects under `sub` (a folder under the prefix).
    pub async fn list(&self, sub: &str) -> Result<Vec<String>, S3Error> {
        let base = self.location.key(sub);
        let base = format!("{}/", base.trim_end_matches('/'));
        let strip = match self.location.prefix.is_empty() {
            true => String::new(),
            false => format!("{}/", self.location.prefix),
        };
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.location.bucket)
                .prefix(&base)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| self.call_error("ListObjectsV2", &base, &e))?;
            for o in out.contents() {
                if let Some(k) = o.key() {
                    names.push(k.strip_prefix(&strip).unwrap_or(k).to_string());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let l: S3Location = "s3://crmsync-backups/prod/daily/".parse().unwrap();
        assert_eq!(l.bucket, "crmsync-backups");
        assert_eq!(l.prefix, "prod/daily");
        assert_eq!(l.key("manifest.json"), "prod/daily/manifest.json");
        let bare: S3Location = "s3://bucket".parse().unwrap();
        assert_eq!(bare.key("x"), "x");
        for bad in ["bucket/prefix", "s3://", "s3://UPPER/x", "https://b/p"] {
            assert!(bad.parse::<S3Location>().is_err(), "{bad}");
        }
    }
}
