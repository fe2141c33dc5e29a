//! The signing tool (`conformance sign …`): compute both signs, verify a received one, and say which common mistake
//! produced a wrong one.

pub mod args;
pub mod command;
pub mod diagnose;
pub mod hash;
pub mod input;
