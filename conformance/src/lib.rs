//! The conformance suite as a library: the command line, its exit codes, the signing tool, and the
//! certification suite (plan of checks, runner, reporters).
//!
//! `main.rs` only parses arguments; everything it runs lives here so tests can drive it directly.
//! The runner emits events ([`event::Event`]); reporters ([`report`]) only consume them.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod event;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod load;
pub mod outcome;
pub mod plan;
pub mod platform_client;
pub mod quote;
pub mod replay;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scopes;
pub mod session;
pub mod sign;
pub mod vectors;
