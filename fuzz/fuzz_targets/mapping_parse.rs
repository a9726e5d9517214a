//! Any text as mapping.toml: the parser answers a mapping or errors with locations, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = crmsync_core::Mapping::parse(src, "mapping.toml") {
        // Rendering the errors (with their source spans) must not panic either.
        let _ = errors.to_string();
    }
});
