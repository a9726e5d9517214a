//! Any bytes as a webhook body: the delivery parser never panics, and whatever it accepts as an
//! event the planner's own delivery type accepts too (or rejects with an error, never a panic).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = crmsync_monday::webhook::parse_body(data);
    let _ = serde_json::from_slice::<crmsync_core::WebhookDelivery>(data);
});
