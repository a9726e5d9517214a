//! `cargo xtask bench` (binary `crmsync-bench`): the webhook → Salesforce benchmark through the real
//! receiver, mapping/planning throughput, and BENCHMARKS.md with its SVG plot. The store figures
//! come from `crates/store/examples/store_throughput` (run by xtask on each database) and are
//! passed in as JSON lines.
//!
//! Every figure stands next to a baseline measured in the same run (ratios), because the machine
//! this runs on is shared and absolute figures are noisy. Nothing here is a test assertion.

pub mod mapping;
pub mod migration;
pub mod report;
pub mod stats;
pub mod webhook;
