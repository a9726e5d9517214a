//! Any text as the `Authorization` header: verification never panics and never accepts a token
//! that was not signed with the secret (the fuzzer cannot forge an HS256 signature).
#![no_main]
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let v = crmsync_monday::webhook::WebhookVerifier::new(
        SecretString::from("fuzz-signing-secret"),
        vec!["https://example.org/webhooks/monday".to_owned()],
    );
    if let Ok(claims) = v.verify_authorization(Some(header)) {
        panic!("accepted a token the fuzzer made up: {claims:?}");
    }
});
