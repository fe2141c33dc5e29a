//! The conformance suite as a library: the command line, its exit codes and the signing tool.
//!
//! `main.rs` only parses arguments; everything it runs lives here so tests can drive it directly.

pub mod cli;
pub mod exit;
pub mod sign;
