//! The `run`, `list` and `demo` subcommands: build a runtime, call the library, map the result to an exit code
//! from `exit.rs`.

use std::io::Write;
use std::path::PathBuf;

use crate::config::RunArgs;
use crate::demo::{DEFAULT_REPORT_DIR, run_demo};
use crate::exit;
use crate::plan::all_checks;
use crate::report::terminal::TerminalReporter;
use crate::runner::Reporters;
use crate::session::{exit_code, file_reporters, run_session};

/// `conformance demo` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where report.json, junit.xml and report.html go.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_REPORT_DIR)]
    pub report_dir: PathBuf,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts")
}

fn report_errors(reporters: &Reporters) {
    for e in &reporters.errors {
        eprintln!("conformance: a report could not be written: {e}");
    }
}

/// `conformance run`.
pub fn run_command(args: RunArgs) -> u8 {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("conformance run: {e}");
            return exit::USAGE;
        }
    };
    let mut reporters = Reporters::default();
    reporters.push(Box::new(TerminalReporter::stdout()));
    file_reporters(&config, &mut reporters);
    let result = runtime().block_on(run_session(&config, all_checks(), None, &mut reporters));
    report_errors(&reporters);
    match result {
        Ok(summary) => exit_code(&summary),
        Err(e) => {
            eprintln!("conformance run: {e}");
            e.exit_code()
        }
    }
}

/// `conformance list`: every check with its id, rule and title.
pub fn list_command(out: &mut dyn Write) -> u8 {
    for check in all_checks() {
        let advisory = if check.info.advisory { " (advisory: at most a warning)" } else { "" };
        if writeln!(out, "{:<34} {:<36} {}{advisory}", check.info.id, check.info.rule, check.info.title).is_err() {
            return exit::FAILED;
        }
    }
    exit::SUCCESS
}

/// `conformance demo`.
pub fn demo_command(args: DemoArgs) -> u8 {
    let mut reporters = Reporters::default();
    reporters.push(Box::new(TerminalReporter::stdout()));
    let result = runtime().block_on(run_demo(&args.report_dir, reporters));
    match result {
        Ok((summary, paths)) => {
            println!();
            for path in [paths.json, paths.junit, paths.html].into_iter().flatten() {
                println!("report: {}", path.display());
            }
            exit_code(&summary)
        }
        Err(e) => {
            eprintln!("conformance demo: {e}");
            e.exit_code()
        }
    }
}
