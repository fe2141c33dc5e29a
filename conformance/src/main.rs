//! `conformance`: the CLI a merchant runs before go-live (INTERFACES.md §2). A thin wrapper over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conformance::cli::{DemoArgs, demo_command, list_command, run_command};
use conformance::config::RunArgs;

#[derive(Debug, Parser)]
#[command(name = "conformance", version, about = "Certify a Taobao e-voucher merchant endpoint against the protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the plan against a merchant.
    Run(Box<RunArgs>),
    /// List every check: id, rule, title.
    List,
    /// Run the plan against the reference merchant, in-process.
    Demo(DemoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { conformance::exit::USAGE } else { conformance::exit::SUCCESS });
        }
    };
    ExitCode::from(match cli.command {
        Command::Run(args) => run_command(*args),
        Command::List => list_command(&mut std::io::stdout()),
        Command::Demo(args) => demo_command(args),
    })
}
