//! API usage tracking from the `Sforce-Limit-Info` response header.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The org's daily API request usage as last reported by Salesforce
/// (`Sforce-Limit-Info: api-usage=USED/MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    /// Requests used in the rolling 24-hour window.
    pub used: u64,
    /// The allocation.
    pub max: u64,
}

impl ApiUsage {
    /// Requests left (`max - used`, never negative).
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

/// Parses a `Sforce-Limit-Info` header value such as
/// `api-usage=18/5000` or `api-usage=25/15000, per-app-api-usage=17/250(appName=sample-app)`.
/// Returns `None` when it holds no well-formed `api-usage` entry.
pub fn parse_limit_info(value: &str) -> Option<ApiUsage> {
    value.split(',').find_map(|part| {
        let (key, rest) = part.trim().split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("api-usage") {
            return None;
        }
        let (used, max) = rest.trim().split_once('/')?;
        let max = max.trim();
        let max_digits: String = max.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(ApiUsage {
            used: used.trim().parse().ok()?,
            max: max_digits.parse().ok()?,
        })
    })
}

/// One entry of `GET /limits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitValue {
    /// Allocation.
    #[serde(rename = "Max")]
    pub max: i64,
    /// What is left.
    #[serde(rename = "Remaining")]
    pub remaining: i64,
}

/// The typed `GET /services/data/vXX.X/limits` response: limit name → allocation and
/// remainder (per-connected-app sub-entries are ignored).
pub type OrgLimits = BTreeMap<String, LimitValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_forms() {
        assert_eq!(
            parse_limit_info("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=sample-app), api-usage=25/15000"),
            Some(ApiUsage {
                used: 25,
                max: 15000
            })
        );
        assert_eq!(parse_limit_info("api-usage=abc/5000"), None);
        assert_eq!(parse_limit_info(""), None);
        assert_eq!(parse_limit_info("api-usage=5"), None);
        assert_eq!(
            ApiUsage {
                used: 6000,
                max: 5000
            }
            .remaining(),
            0
        );
    }

    #[test]
    fn recorded_limits_response_parses() {
        let path = "/work/shared/reference/salesforce/recorded/limits_v50_devorg_mohan-chinnappan-n_cli-dx.json";
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("reference file {path} is required by this test but could not be read: {e}")
        });
        let limits: OrgLimits = serde_json::from_str(&text).unwrap();
        let daily = &limits["DailyApiRequests"];
        assert_eq!(daily.max, 15000);
        assert_eq!(daily.remaining, 14988);
    }
}
