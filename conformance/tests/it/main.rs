//! Integration tests of the conformance suite: it catches each deliberately broken merchant on the right
//! check, certifies the reference merchant, and keeps its CLI contract (exit codes, `list`).

mod cli;
mod defects;
mod faulty_merchant;
mod harness;
mod reference;
