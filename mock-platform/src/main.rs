//! `mock-platform serve`: the mock e-voucher platform as a standalone server (INTERFACES.md §1).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use mock_platform::{Platform, PlatformConfig};

#[derive(Debug, Parser)]
#[command(name = "mock-platform", version, about = "A mock of Taobao's e-voucher platform (淘宝电子交易凭证平台)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the TOP gateway (/router/rest), /container, the admin API (/admin/*) and /console on one listener.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080. A non-loopback address needs --admin-token.
        #[arg(long, env = "MOCK_PLATFORM_LISTEN")]
        listen: SocketAddr,
        /// Bearer token required by /admin/* and /console (Authorization: Bearer TOKEN). Without it the admin API
        /// is open, which is only allowed on a loopback address.
        #[arg(long, env = "MOCK_PLATFORM_ADMIN_TOKEN")]
        admin_token: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mock-platform: starting the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-platform: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "mock_platform=info".into()),
        )
        .init();
    let Command::Serve { listen, admin_token } = cli.command;
    if !listen.ip().is_loopback() && admin_token.as_deref().is_none_or(str::is_empty) {
        bail!("refusing to serve the admin API on non-loopback address {listen} without --admin-token");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let config = PlatformConfig {
        gateway_base_url: Some(format!("http://{addr}")),
        admin_token: admin_token.filter(|t| !t.is_empty()).map(protocol::Secret::new),
        ..PlatformConfig::default()
    };
    config.validate().context("invalid configuration")?;
    tracing::info!(%addr, "mock-platform listening");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    mock_platform::run(listener, Platform::new(config), shutdown).await.context("serving")?;
    Ok(())
}
