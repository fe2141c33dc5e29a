//! `mock-platform serve`: the mock e-voucher platform as a standalone server (INTERFACES.md §1).

use std::io::IsTerminal;
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
        /// Keep everything in this SQLite file (created if missing) instead of in memory: merchants, orders,
        /// codes, consumes, exchanges, queued notifications, faults and the clock offsets survive a restart;
        /// pending notifications and auto-closes resume. Or a PostgreSQL URL (postgres://user:pass@host/db):
        /// a shared platform, every `serve` on that database one platform (README "Run a shared sandbox").
        #[arg(long, env = "MOCK_PLATFORM_DB", value_name = "PATH|URL", hide_env_values = true)]
        db: Option<String>,
        /// Bearer token required by /admin/* and /console (Authorization: Bearer TOKEN). Without it the admin API
        /// is open, which is only allowed on a loopback address.
        #[arg(long, env = "MOCK_PLATFORM_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// The base URL merchants reach this platform at (e.g. a load balancer's in front of several replicas),
        /// used in the URLs the platform hands out (QR images in codes.get). Default: http://ADDR of --listen.
        #[arg(long, env = "MOCK_PLATFORM_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
    },
    /// Export one order's case file (README "Case files") from a running platform or its --db file.
    Export(mock_platform::case::ExportArgs),
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
    let result = match cli.command {
        Command::Serve { listen, db, admin_token, public_url } => {
            runtime.block_on(serve(listen, db, admin_token, public_url))
        }
        Command::Export(args) => runtime.block_on(mock_platform::case::export(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-platform: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(
    listen: SocketAddr,
    db: Option<String>,
    admin_token: Option<String>,
    public_url: Option<String>,
) -> anyhow::Result<()> {
    // Colour only for a person at a terminal: piped into a file or a log collector, escape codes are noise.
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "mock_platform=info".into()),
        )
        .init();
    if !listen.ip().is_loopback() && admin_token.as_deref().is_none_or(str::is_empty) {
        bail!("refusing to serve the admin API on non-loopback address {listen} without --admin-token");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let config = PlatformConfig {
        gateway_base_url: Some(match public_url.filter(|u| !u.is_empty()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        }),
        admin_token: admin_token.filter(|t| !t.is_empty()).map(protocol::Secret::new),
        ..PlatformConfig::default()
    };
    config.validate().context("invalid configuration")?;
    let shown = db.as_deref().map(mock_platform::db_url::redacted);
    let platform = match db.as_deref() {
        Some(url) if mock_platform::db_url::is_postgres(url) => Platform::connect(config, url)
            .await
            .with_context(|| format!("connecting to {}", mock_platform::db_url::redacted(url)))?,
        Some(path) => Platform::open(config, std::path::Path::new(path)).with_context(|| format!("opening {path}"))?,
        None => Platform::new(config),
    };
    let public = platform.config().gateway_base_url.clone().unwrap_or_default();
    platform.span().in_scope(|| tracing::info!(%addr, %public, db = ?shown, "mock-platform listening"));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    mock_platform::run(listener, platform, shutdown).await.context("serving")?;
    Ok(())
}
