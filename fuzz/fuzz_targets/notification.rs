//! Fuzz target: `protocol::fuzzing::notification` (its doc says what is parsed and which properties are asserted).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::notification(data));
