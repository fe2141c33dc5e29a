//! The conformance suite: checks, runner and reporters behind the `conformance` CLI.

pub mod cli;
pub mod config;
pub mod demo;
pub mod event;
pub mod exit;
pub mod outcome;
pub mod plan;
pub mod platform_client;
pub mod report;
pub mod runner;
pub mod session;
