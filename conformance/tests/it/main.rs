//! The conformance crate's one integration-test binary: runs the real `conformance` executable.

mod sign;
