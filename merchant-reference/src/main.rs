//! The `merchant-reference` binary: flags to [`Config`], then [`merchant_reference::run`] until Ctrl-C.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use merchant_reference::{Cli, Command, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colour only for a person at a terminal: piped into a file or a log collector, escape codes are noise.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve(args) = Cli::parse().command;
    let (addr, config): (_, Config) = args.into_config()?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    // The one line on stdout: scripts (and the crash tests) read the bound address from it.
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        tokio::signal::ctrl_c().await.ok();
    };
    merchant_reference::run(listener, config, shutdown).await.context("running the merchant")?;
    Ok(())
}
