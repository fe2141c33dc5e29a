//! The process exit codes of every `conformance` subcommand, in one place (INTERFACES.md §2).
//!
//! Scripts depend on these numbers: change them only deliberately.

/// `run`: no check Failed or Errored (Warn and Skip allowed). `sign …`: computed, or the sign matches.
pub const SUCCESS: u8 = 0;

/// `run`: some check Failed or Errored. `sign verify …`: the sign does not match.
pub const FAILED: u8 = 1;

/// Bad flags, config or input, before any work starts (clap also exits with 2 on bad flags).
pub const USAGE: u8 = 2;
