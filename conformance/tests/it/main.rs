//! The conformance crate's one integration-test binary: the real `conformance` executable (signing tool, CLI
//! contract), each deliberately broken merchant caught by the right check, and the reference merchant certified;
//! the sign vectors checked by the example verifiers in Python and Node.

mod cli;
mod defects;
mod faq_traceability;
mod faulty_merchant;
mod faulty_pos;
mod fuzz_corpus;
mod harness;
mod load;
mod reference;
mod remote;
mod replay;
mod scenarios;
mod shared_sandbox;
mod sign;
mod vectors;
