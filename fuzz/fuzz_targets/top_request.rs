//! Fuzz target: `protocol::fuzzing::top_request` (its doc says what is parsed and which properties are asserted).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::top_request(data));
