//! The protocol crate's one integration-test binary: known-answer vectors, signing properties, envelope snapshots.

mod envelopes;
mod properties;
mod samples;
mod vectors;
