//! One `conformance run` from a validated config: bind, preflight, start or reach the platform, register
//! the merchant, run the plan with the reporters, and shut the in-process platform down without waiting for
//! pending retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::config::{Config, ConfigError, MANUAL_PROMPTS, PlatformTarget, host_port};
use crate::event::Summary;
use crate::exit;
use crate::plan::redeem::PosHook;
use crate::plan::{Check, Context};
use crate::platform_client::{MerchantSpec, PlatformClient, PlatformError};
use crate::report::{html::HtmlReporter, json::JsonReporter, junit::JunitReporter};
use crate::runner::{Reporters, RunLimits, run};

/// How long the preflight waits for the merchant's TCP handshake.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(3);
/// Room kept inside the run bound for setup before the plan and teardown after it.
const BOUND_MARGIN: Duration = Duration::from_secs(3);
/// Checks running at once: all of them in practice; the quiet window is the floor of the run.
const CONCURRENCY: usize = 32;
/// The seller the suite registers the merchant as.
pub const SELLER_NICK: &str = "conformance_seller";

/// Why the run stopped before its plan started (exit `USAGE`).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the merchant URL {url} refuses TCP connections: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("cannot register the merchant on the platform: {0}")]
    Register(#[source] PlatformError),
}

impl SetupError {
    pub fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

/// The exit code for a finished run: any Fail or Error → `FAILED`.
pub fn exit_code(summary: &Summary) -> u8 {
    if summary.is_success() { exit::SUCCESS } else { exit::FAILED }
}

/// Adds a reporter for each report path the config names.
pub fn file_reporters(config: &Config, reporters: &mut Reporters) {
    if let Some(path) = &config.reports.json {
        reporters.push(Box::new(JsonReporter::new(path.clone())));
    }
    if let Some(path) = &config.reports.junit {
        reporters.push(Box::new(JunitReporter::new(path.clone())));
    }
    if let Some(path) = &config.reports.html {
        reporters.push(Box::new(HtmlReporter::new(path.clone())));
    }
}

/// Checks only that something accepts a TCP connection at the merchant URL's host and port.
pub async fn preflight(url: &str) -> Result<(), SetupError> {
    let unreachable = |reason: String| SetupError::Unreachable { url: url.to_owned(), reason };
    let target = host_port(url).ok_or_else(|| unreachable("no host:port in the URL".into()))?;
    match tokio::time::timeout(PREFLIGHT_TIMEOUT, TcpStream::connect(&target)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!("no TCP handshake within {} s", PREFLIGHT_TIMEOUT.as_secs()))),
    }
}

/// Runs the whole plan. `listener`, when given, is the in-process platform's already-bound listener (the demo
/// binds it first so the merchant knows the gateway URL); otherwise `config.platform` says what to do.
pub async fn run_session(
    config: &Config,
    checks: Vec<Check>,
    listener: Option<TcpListener>,
    reporters: &mut Reporters,
) -> Result<Summary, SetupError> {
    // A manual run waits for a person at each prompt: it is not bound by the 75 s (INTERFACES §2).
    let manual = config.pos.as_ref().filter(|p| p.manual).map_or(Duration::ZERO, |p| p.deadline * MANUAL_PROMPTS);
    let limits = SessionLimits { concurrency: CONCURRENCY, bound: config.windows.run_bound + manual };
    run_session_with(config, checks, listener, reporters, limits).await
}

/// How a session schedules its checks: the plan runs them all at once within the 75 s bound; scenarios one at
/// a time (they may advance the platform clock) within a bound of their own.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub concurrency: usize,
    pub bound: Duration,
}

/// [`run_session`] with explicit scheduling.
pub async fn run_session_with(
    config: &Config,
    checks: Vec<Check>,
    listener: Option<TcpListener>,
    reporters: &mut Reporters,
    limits: SessionLimits,
) -> Result<Summary, SetupError> {
    let started = Instant::now();
    let listener = match (&config.platform, listener) {
        (_, Some(listener)) => Some(listener),
        (PlatformTarget::InProcess(addr), None) => {
            Some(TcpListener::bind(addr).await.map_err(|source| SetupError::Bind { addr: addr.to_string(), source })?)
        }
        (PlatformTarget::Remote { .. }, None) => None,
    };
    preflight(&config.merchant.url).await?;

    let mut in_process = None;
    let client = match listener {
        Some(listener) => {
            let addr = listener.local_addr().map_err(|source| SetupError::Bind { addr: "listener".into(), source })?;
            let base = format!("http://{addr}");
            let platform = mock_platform::Platform::new(mock_platform::PlatformConfig {
                gateway_base_url: Some(base.clone()),
                notify_deadline: config.windows.ack_deadline,
                c4_hold: config.windows.c4_hold,
                ..Default::default()
            });
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(mock_platform::run(listener, platform, async {
                stopped.await.ok();
            }));
            in_process = Some((stop, task));
            PlatformClient::new(&base, None)
        }
        None => match &config.platform {
            PlatformTarget::Remote { url, admin_token } => PlatformClient::new(url, admin_token.clone()),
            PlatformTarget::InProcess(_) => unreachable!("an in-process platform always has a listener"),
        },
    };

    let m = &config.merchant;
    let spec = MerchantSpec {
        app_key: m.app_key.clone(),
        app_secret: m.app_secret.clone(),
        notify_key: m.notify_key.clone(),
        notify_url: m.url.clone(),
        session: m.session.clone(),
        codemerchant_id: m.codemerchant_id,
        posids: config.pos.iter().filter_map(|pos| pos.posid.clone()).collect(),
        seller_nick: SELLER_NICK.into(),
    };
    let registered = client.create_merchant(&spec).await;
    if let Err(e) = registered {
        // A running platform may know the merchant already; anything else stops the run before the plan.
        let known = matches!(&e, PlatformError::Status { status: 409, .. });
        if !known {
            stop(in_process).await;
            return Err(SetupError::Register(e));
        }
    }

    let ctx = Arc::new(
        Context::new(client, config.merchant.clone(), config.windows, config.seed)
            .with_pos(config.pos.clone().map(PosHook::new)),
    );
    let deadline = started + limits.bound.saturating_sub(BOUND_MARGIN);
    let limits = RunLimits { concurrency: limits.concurrency, deadline };
    let summary = run(checks, &config.only, ctx, limits, reporters).await;
    stop(in_process).await;
    Ok(summary)
}

/// Stops the in-process platform at once: pending notification retries are dropped, not awaited.
async fn stop(in_process: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)>) {
    if let Some((stop, task)) = in_process {
        let _ = stop.send(());
        task.abort();
        let _ = task.await;
    }
}
