//! Fuzz target: `mock_platform::fuzzing::admin` (its doc says what is sent and which properties are asserted).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mock_platform::fuzzing::admin(data));
