//! Percentiles of measured durations.

use std::time::Duration;

/// Median, 99th percentile and count of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// Median (ms).
    pub p50: f64,
    /// 99th percentile (ms), nearest rank.
    pub p99: f64,
    /// Largest (ms).
    pub max: f64,
}

impl Summary {
    /// The summary of `samples` (all zero when there are none).
    pub fn of(samples: impl Iterator<Item = Duration>) -> Summary {
        let mut ms: Vec<f64> = samples.map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        Summary {
            n: ms.len(),
            p50: percentile(&ms, 0.50),
            p99: percentile(&ms, 0.99),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median of unsorted values (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::of((1..=100).map(Duration::from_millis));
        assert_eq!(s.n, 100);
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
        assert_eq!(Summary::of(std::iter::empty()).p99, 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}
