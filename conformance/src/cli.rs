//! The command line: one `Command` variant per subcommand, and `run`, which dispatches and returns an exit code.
//!
//! A new subcommand (`run`, `list`, `demo`, …) is one more variant of [`Command`] and one more arm in [`run`].

use std::io;

use clap::{Parser, Subcommand};

use crate::commands::{DemoArgs, demo_command, list_command, run_command};
use crate::config::RunArgs;
use crate::sign::args::SignArgs;

/// Both secrets a merchant holds, explained once for every help screen (FAQ 2.29).
pub const TWO_SECRETS: &str = "A merchant holds two secrets that are never interchangeable (FAQ 2.14, FAQ 2.29).

The notify key (通知密钥), issued by the e-voucher platform at onboarding, signs the NOTIFICATIONS the platform \
POSTs to the merchant: MD5 over the GBK bytes of key + name1value1name2value2…, key in front only (PROTOCOL §3.3). \
Give it to `sign notify --key` and `sign verify notify --key`.

The app secret of the merchant's TOP application, issued by the open platform, signs the merchant's TOP CALLS to \
/router/rest: md5 with the secret at both ends, or HMAC keyed with it, over UTF-8 (PROTOCOL §4.4). Give it to \
`sign top --secret` and `sign verify top --secret`.";

#[derive(Debug, Parser)]
#[command(
    name = "conformance",
    version,
    about = "Certify a merchant's Taobao e-voucher endpoint, and compute or check its signs",
    after_long_help = TWO_SECRETS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute or check a notification sign (notify key) or a TOP call sign (app secret).
    Sign(SignArgs),
    /// Certify a merchant: run the plan of checks C1–C10 against its notify URL.
    Run(Box<RunArgs>),
    /// List every check: id, the PROTOCOL rule and FAQ section it enforces, title.
    List,
    /// Run the whole plan against the reference merchant, in-process, and write the reports.
    Demo(DemoArgs),
    /// Play scenario files (FAQ situations, step by step) against a merchant, one at a time.
    Scenario(Box<crate::scenario::ScenarioArgs>),
    /// Replay an exported case file (eticket-case/1) against a merchant and show what differs.
    Replay(Box<crate::replay::ReplayArgs>),
    /// Print random, reproducible sign vectors (JSON Lines) for a merchant's own tests in any language.
    Vectors(crate::vectors::VectorsArgs),
    /// Flash-sale load (FAQ 2.24): buy orders at a fixed rate and measure acks, callbacks and integrity.
    Load(Box<crate::load::LoadArgs>),
}

/// Runs a parsed command line on the process's stdin, stdout and stderr; returns the exit code (see [`crate::exit`]).
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Sign(args) => crate::sign::command::run(
            &args,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            &mut io::stderr().lock(),
        ),
        Command::Run(args) => run_command(*args),
        Command::List => list_command(&mut io::stdout().lock()),
        Command::Demo(args) => demo_command(args),
        Command::Scenario(args) => crate::scenario::scenario_command(*args),
        Command::Replay(args) => crate::replay::replay_command(*args),
        Command::Vectors(args) => {
            crate::vectors::vectors_command(&args, &mut io::stdout().lock(), &mut io::stderr().lock())
        }
        Command::Load(args) => crate::load::load_command(*args),
    }
}
