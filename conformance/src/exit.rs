//! Exit codes of every `conformance` command (INTERFACES.md §2), in one place.

/// No check failed or errored; for `sign verify`, the sign matches.
pub const SUCCESS: u8 = 0;
/// Some check failed or errored; for `sign verify`, a mismatch.
pub const FAILED: u8 = 1;
/// Bad flags or config, address in use, merchant unreachable: only before the plan starts.
pub const USAGE: u8 = 2;
