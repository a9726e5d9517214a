//! Any bytes as a webhook body, to the delivery parser and to the planner's own delivery type:
//! neither panics (an error is a fine answer). Whether the two agree is not checked here.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = crmsync_monday::webhook::parse_body(data);
    let _ = serde_json::from_slice::<crmsync_core::WebhookDelivery>(data);
});
