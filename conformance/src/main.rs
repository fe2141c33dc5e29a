//! The `conformance` binary: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

/// A load run allocates per order on every side (platform, HTTP, bookkeeping): mimalloc costs less per call than
/// glibc's malloc there (conformance/README.md, Figures).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Bad flags make clap exit with 2, which is `conformance::exit::USAGE`.
    let cli = conformance::cli::Cli::parse();
    ExitCode::from(conformance::cli::run(cli))
}
