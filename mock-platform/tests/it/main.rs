//! Integration tests of the mock platform over real sockets on 127.0.0.1:0.

mod acks;
mod admin;
mod admin_input;
mod c4;
mod case;
mod cdp;
mod clocks;
mod connections;
mod console;
mod exchanges;
mod faults;
mod fuzz;
mod fuzz_corpus;
mod gateway_errors;
mod lifecycle;
mod logs;
mod lost_answer;
mod ops;
mod persist;
mod postgres;
mod redemption;
mod replicas;
mod schemathesis;
mod support;
