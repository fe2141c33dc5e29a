//! testkit's integration tests: the PostgreSQL harness against a real server, the refusing port.

mod postgres;
mod refusing;
