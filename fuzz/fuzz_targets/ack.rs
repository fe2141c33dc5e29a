//! Fuzz target: `protocol::fuzzing::ack` (its doc says what is parsed and which properties are asserted).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::ack(data));
