//! The integration tests of merchant-reference: the real server on 127.0.0.1:0 against a fake gateway.

mod connections;
mod crash;
mod logs;
mod notify;
mod outbox;
mod pos;
mod reconcile;
mod resend;
mod shared_platform;
mod support;
