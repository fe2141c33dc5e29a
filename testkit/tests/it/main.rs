//! testkit's integration tests: the PostgreSQL harness against a real server.

mod postgres;
