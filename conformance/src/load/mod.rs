//! `conformance load` (FAQ 2.24, PROTOCOL §6.2, INTERFACES §2): buys orders on an open-model schedule, measures
//! every order from its scheduled time, judges integrity, thresholds and the reaction to error 7, and reports.
//!
//! `driver.rs` keeps the schedule, `live.rs` shows progress, `target.rs` reaches the platform, `measure.rs`
//! reads one order, `judge.rs` judges a step, `report.rs` and `html.rs` write what was found.

pub mod driver;
pub mod html;
pub mod judge;
pub mod live;
pub mod measure;
pub mod report;
pub mod schedule;
pub mod stats;
pub mod target;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;

use crate::config::{MerchantConfig, PlatformTarget, TargetArgs};
use crate::exit;
use crate::platform_client::PlatformClient;
use crate::session::{SELLER_NICK, preflight};
use driver::{Buy, Order};
use judge::{StepReport, StepShape, Thresholds};
use live::Live;
use measure::OrderMeasure;
use report::{FindMax, LoadReport};
use schedule::{FIND_MAX_STEP, FIND_MAX_STEPS, Stage, find_max_rate};
use target::Target;

/// `conformance load` flags (INTERFACES §2).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The merchant and platform flags are `run`'s (a running platform's clock is never moved).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Orders per second (the arrival rate; with --find-max, the first step's).
    #[arg(long, value_name = "R", default_value_t = 50.0)]
    pub rate: f64,
    /// Seconds of buying.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub duration: f64,
    /// Ramp linearly from --rate to R2 over the duration.
    #[arg(long, value_name = "R2")]
    pub ramp_to: Option<f64>,
    /// Step the rate up (×1.5 every 10 s) until a threshold breaks; report the highest rate that held.
    #[arg(long)]
    pub find_max: bool,
    /// Units per order.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub num: u32,
    /// The app's daily TOP call quota during the run (error 7 beyond it).
    #[arg(long, value_name = "N")]
    pub daily_quota: Option<u32>,
    /// The app's TOP calls per second during the run (error 7 beyond it).
    #[arg(long, value_name = "N")]
    pub calls_per_second: Option<u32>,
    /// Threshold: p99 of the `send` ack latency, from the scheduled time.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub max_ack_p99: u64,
    /// Threshold: p99 of the callback lag, from the ack to the first successful `eticket.send`.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_callback_p99: u64,
    /// Threshold: purchases refused plus `send` notifications not acknowledged at the first attempt, in %.
    #[arg(long, value_name = "PCT", default_value_t = 0.1)]
    pub max_error_rate: f64,
    /// Seconds after the last purchase for every order to be issued (the callback window).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub callback_window: f64,
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub html_report: Option<PathBuf>,
}

/// A validated load configuration.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub merchant: MerchantConfig,
    pub platform: PlatformTarget,
    pub rate: f64,
    pub ramp_to: Option<f64>,
    pub duration: Duration,
    pub find_max: bool,
    /// How long each `--find-max` step buys ([`FIND_MAX_STEP`], 10 s; tests shorten it).
    pub find_max_step: Duration,
    pub num: u32,
    pub daily_quota: Option<u32>,
    pub calls_per_second: Option<u32>,
    pub thresholds: Thresholds,
    pub drain: Duration,
    pub json_report: Option<PathBuf>,
    pub html_report: Option<PathBuf>,
}

/// Why the run stopped before buying (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadSetupError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Setup(#[from] crate::session::SetupError),
    #[error("cannot register the merchant: {0}")]
    Register(String),
}

fn positive(name: &str, value: f64) -> Result<f64, LoadSetupError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(LoadSetupError::Config(format!("invalid {name}: {value} must be a number above 0")))
    }
}

impl LoadArgs {
    pub fn into_config(self) -> Result<LoadConfig, LoadSetupError> {
        // The merchant and platform flags are `run`'s: validated the same way.
        let (merchant, platform) = self.target.validate().map_err(|e| LoadSetupError::Config(e.to_string()))?;
        let rate = positive("--rate", self.rate)?;
        let ramp_to = self.ramp_to.map(|r| positive("--ramp-to", r)).transpose()?;
        if self.find_max && ramp_to.is_some() {
            return Err(LoadSetupError::Config(
                "--find-max and --ramp-to are exclusive: find-max sets the rates".into(),
            ));
        }
        let duration = Duration::from_secs_f64(positive("--duration", self.duration)?);
        let drain = Duration::from_secs_f64(positive("--callback-window", self.callback_window)?);
        if self.num == 0 || self.num > 100_000 {
            return Err(LoadSetupError::Config("invalid --num: from 1 to 100000".into()));
        }
        if self.calls_per_second == Some(0) {
            return Err(LoadSetupError::Config("invalid --calls-per-second: at least 1".into()));
        }
        if !(self.max_error_rate.is_finite() && (0.0..=100.0).contains(&self.max_error_rate)) {
            return Err(LoadSetupError::Config("invalid --max-error-rate: a percentage from 0 to 100".into()));
        }
        Ok(LoadConfig {
            merchant,
            platform,
            rate,
            ramp_to,
            duration,
            find_max: self.find_max,
            find_max_step: FIND_MAX_STEP,
            num: self.num,
            daily_quota: self.daily_quota,
            calls_per_second: self.calls_per_second,
            thresholds: Thresholds {
                max_ack_p99_ms: self.max_ack_p99,
                max_callback_p99_ms: self.max_callback_p99,
                max_error_rate_pct: self.max_error_rate,
            },
            drain,
            json_report: self.json_report,
            html_report: self.html_report,
        })
    }
}

/// A daily quota a load run cannot reach: without `--daily-quota` the run must measure the merchant, not the
/// default 5000 calls a day.
const UNLIMITED_QUOTA: u32 = u32::MAX / 2;

/// Where a new in-process platform starts its order ids: later for every run (100 ids per millisecond of the
/// wall clock, 16 digits like real trade ids), so a merchant whose database outlives one run never meets an
/// order id again with another token — it would rightly refuse it.
fn first_order_id() -> i64 {
    2_000_000_000_000_000 + driver::wall_ms() * 100
}

/// The platform of a run, and how to stop it if it runs in this process.
struct Platform {
    target: Target,
    stop: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)>,
    name: String,
}

async fn start_platform(config: &LoadConfig, listener: Option<TcpListener>) -> Result<Platform, LoadSetupError> {
    use crate::session::SetupError;
    let listener = match (&config.platform, listener) {
        (_, Some(l)) => Some(l),
        (PlatformTarget::InProcess(addr), None) => {
            Some(TcpListener::bind(addr).await.map_err(|source| SetupError::Bind { addr: addr.to_string(), source })?)
        }
        (PlatformTarget::Remote { .. }, None) => None,
    };
    match (listener, &config.platform) {
        (Some(listener), _) => {
            let addr = listener.local_addr().map_err(|source| SetupError::Bind { addr: "listener".into(), source })?;
            let platform = mock_platform::Platform::new(mock_platform::PlatformConfig {
                gateway_base_url: Some(format!("http://{addr}")),
                first_order_id: first_order_id(),
                ..Default::default()
            });
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(mock_platform::run(listener, platform.clone(), async {
                stopped.await.ok();
            }));
            Ok(Platform { target: Target::InProcess(platform), stop: Some((stop, task)), name: "in-process".into() })
        }
        (None, PlatformTarget::Remote { url, admin_token }) => Ok(Platform {
            target: Target::Remote(PlatformClient::new(url, admin_token.clone())),
            stop: None,
            name: url.clone(),
        }),
        (None, PlatformTarget::InProcess(_)) => unreachable!("an in-process platform always has a listener"),
    }
}

/// Runs a whole load: setup, the steps, the reports. `listener`: an already bound in-process platform listener.
pub async fn run_load(config: &LoadConfig, listener: Option<TcpListener>) -> Result<LoadReport, LoadSetupError> {
    let platform = start_platform(config, listener).await?;
    let result = run_on(config, &platform).await;
    if let Some((stop, mut task)) = platform.stop {
        // Let `mock_platform::run` end by itself: it stops the platform's dispatcher as it returns. Aborting it
        // at once skipped that, and the dispatcher kept the platform — every order of the run — alive for as
        // long as the process (a leak per run for a library user such as `load_bench` or the tests).
        let _ = stop.send(());
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
    result
}

/// How long the in-process platform gets to finish the requests still open when a run ends.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn run_on(config: &LoadConfig, platform: &Platform) -> Result<LoadReport, LoadSetupError> {
    preflight(&config.merchant.url).await?;
    let m = &config.merchant;
    let mut body = json!({
        "app_key": m.app_key,
        "app_secret": m.app_secret.expose(),
        "notify_key": m.notify_key.expose(),
        "notify_url": m.url,
        "session": m.session,
        "phase": "live",
        "seller_nick": SELLER_NICK,
        "daily_quota": config.daily_quota.unwrap_or(UNLIMITED_QUOTA),
    });
    if let Some(id) = m.codemerchant_id {
        body["codemerchant_id"] = json!(id);
    }
    if let Some(n) = config.calls_per_second {
        body["calls_per_second"] = json!(n);
    }
    let target = &platform.target;
    let fresh = target.register(body).await.map_err(LoadSetupError::Register)?;
    if !fresh && (config.daily_quota.is_some() || config.calls_per_second.is_some()) {
        // A running platform that knows the app keeps its limits; measuring flow control needs them set.
        return Err(LoadSetupError::Register(format!(
            "app_key {} is already registered on the platform, so --daily-quota/--calls-per-second cannot be set \
             for this run: use an app_key of its own",
            m.app_key
        )));
    }

    let started_at = chrono::Utc::now().to_rfc3339();
    let live = Arc::new(Live::default());
    let display = live::spawn_display(live.clone(), target.clone());
    let order = Order { app_key: m.app_key.clone(), num: config.num };
    let limits_set = config.daily_quota.is_some() || config.calls_per_second.is_some();
    let mut steps = Vec::new();
    let mut find_max = None;
    if config.find_max {
        let mut held_rate = None;
        let mut outcome = FindMax { held_rate: None, broke_rate: None, broke: Vec::new() };
        for k in 0..FIND_MAX_STEPS {
            let rate = find_max_rate(config.rate, k);
            let stage = Stage { from_rate: rate, to_rate: rate, duration: config.find_max_step };
            let step = run_step(config, target, &live, &order, k, stage, limits_set).await;
            let held = step.held;
            let broke = report::broken(&step);
            steps.push(step);
            if held {
                held_rate = Some(rate);
            } else {
                outcome.broke_rate = Some(rate);
                outcome.broke = broke;
                break;
            }
        }
        outcome.held_rate = held_rate;
        find_max = Some(outcome);
    } else {
        let stage =
            Stage { from_rate: config.rate, to_rate: config.ramp_to.unwrap_or(config.rate), duration: config.duration };
        steps.push(run_step(config, target, &live, &order, 0, stage, limits_set).await);
    }
    display.abort();
    // Find-max always ends on a broken step by design: it passes when integrity held in every step, except that
    // the step that broke may leave orders late (overload), never wrong.
    let passed = if config.find_max {
        let last = steps.len().saturating_sub(1);
        steps.iter().enumerate().all(|(i, s)| {
            let integrity = if i == last { s.integrity.held_but_for_late_orders() } else { s.integrity.held };
            integrity && !s.flow_control.hammering
        })
    } else {
        steps.iter().all(|s| s.held)
    };
    Ok(LoadReport {
        schema: report::SCHEMA,
        merchant_url: m.url.clone(),
        platform: platform.name.clone(),
        app_key: m.app_key.clone(),
        started_at,
        rate: config.rate,
        ramp_to: config.ramp_to,
        duration_s: if config.find_max {
            steps.len() as f64 * config.find_max_step.as_secs_f64()
        } else {
            config.duration.as_secs_f64()
        },
        num: config.num,
        drain_window_s: config.drain.as_secs_f64(),
        daily_quota: config.daily_quota,
        calls_per_second: config.calls_per_second,
        thresholds: config.thresholds,
        find_max,
        steps,
        passed,
    })
}

/// One step: buy on schedule, drain, read every order once, judge.
async fn run_step(
    config: &LoadConfig,
    target: &Target,
    live: &Arc<Live>,
    order: &Order,
    index: usize,
    stage: Stage,
    limits_set: bool,
) -> StepReport {
    let buys: Vec<Buy> = driver::drive(target, index, stage, order, live).await;
    let ids: Vec<i64> = buys.iter().filter_map(|b| b.result.as_ref().ok().copied()).collect();
    drain(target, &order.app_key, &ids, config.drain).await;
    let scheduled: HashMap<i64, i64> =
        buys.iter().filter_map(|b| Some((*b.result.as_ref().ok()?, b.scheduled_ms))).collect();
    let measures: Vec<OrderMeasure> = target.measure_all(&ids, &scheduled).await;
    let shape = StepShape {
        step: index,
        rate_from: stage.from_rate,
        rate_to: stage.to_rate,
        duration_s: stage.duration.as_secs_f64(),
    };
    judge::judge(shape, &buys, &measures, config.thresholds, limits_set)
}

/// How often the drain looks whether every order is issued.
const DRAIN_POLL: Duration = Duration::from_millis(250);

/// Waits until every bought order is `ISSUED`, or the drain window has passed since the last purchase.
async fn drain(target: &Target, app_key: &str, ids: &[i64], window: Duration) {
    let deadline = Instant::now() + window;
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    while Instant::now() < deadline {
        if target.issued(app_key, &wanted).await.is_ok_and(|n| n >= wanted.len()) {
            return;
        }
        tokio::time::sleep(DRAIN_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// `conformance load`: exit 0 when every threshold and integrity held, 1 otherwise, 2 before the run.
pub fn load_command(args: LoadArgs) -> u8 {
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("conformance load: {e}");
            return exit::USAGE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts");
    let report = match runtime.block_on(run_load(&config, None)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("conformance load: {e}");
            return exit::USAGE;
        }
    };
    let _ = report::print_summary(&mut std::io::stdout().lock(), &report);
    write_reports(&config, &report);
    if report.passed { exit::SUCCESS } else { exit::FAILED }
}

/// Writes the JSON and HTML reports the config names; a failure is said, not fatal.
pub fn write_reports(config: &LoadConfig, report: &LoadReport) {
    if let Some(path) = &config.json_report
        && let Err(e) = report::write_json(path, report)
    {
        eprintln!("conformance load: cannot write {}: {e}", path.display());
    }
    if let Some(path) = &config.html_report
        && let Err(e) = report::write_file(path, html::render(report).as_bytes())
    {
        eprintln!("conformance load: cannot write {}: {e}", path.display());
    }
}
