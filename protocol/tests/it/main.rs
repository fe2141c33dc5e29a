//! The protocol crate's one integration-test binary: known-answer vectors, signing properties, envelope snapshots.

mod envelopes;
mod fuzz_corpus;
mod properties;
mod samples;
mod vectors;
