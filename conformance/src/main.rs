//! The `conformance` binary: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Bad flags make clap exit with 2, which is `conformance::exit::USAGE`.
    let cli = conformance::cli::Cli::parse();
    ExitCode::from(conformance::cli::run(cli))
}
