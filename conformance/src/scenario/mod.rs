//! Scenarios: declarative TOML files (`fixtures/scenarios/`) that play one FAQ situation step by step against
//! the merchant. Each scenario becomes a check (`scenario.<file stem>`) run by the ordinary runner, one at a
//! time, so results flow through the same events and reporters as the plan.

pub mod play;
pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::json;

use crate::config::RunArgs;
use crate::exit;
use crate::outcome::Verdict;
use crate::plan::{Check, Probe};
use crate::report::terminal::TerminalReporter;
use crate::runner::Reporters;
use crate::session::{SessionLimits, exit_code, file_reporters, run_session_with};

pub use schema::{LoadedScenario, Scenario, ScenarioError, Step, load, parse};

/// Time a scenario gets beyond its own waits (callback windows, quiet windows).
const PER_SCENARIO: Duration = Duration::from_secs(90);

/// `conformance scenario` flags: the files, then the same merchant and platform options as `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// Scenario files (TOML, see fixtures/scenarios/).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A scenario as a check: id `scenario.<stem>`, title, rule `scenario · FAQ x`.
pub fn check(loaded: LoadedScenario) -> Check {
    // Ids and titles are `'static` in the plan; a scenario's live as long as the process, which is one run.
    let id: &'static str = Box::leak(loaded.id.into_boxed_str());
    let title: &'static str = Box::leak(loaded.scenario.title.clone().into_boxed_str());
    let rule = match &loaded.scenario.faq {
        Some(faq) => format!("scenario · FAQ {faq}"),
        None => "scenario".to_owned(),
    };
    let rule: &'static str = Box::leak(rule.into_boxed_str());
    let scenario = Arc::new(loaded.scenario);
    Check::new(id, title, rule, move |p: Arc<Probe>| {
        let scenario = scenario.clone();
        async move {
            let app_key = match &scenario.merchant {
                Some(settings) => match register_variant(&p, settings).await {
                    Ok(key) => key,
                    Err(e) => return Ok(Verdict::error(format!("cannot register the [merchant] variant: {e}"))),
                },
                None => p.ctx.merchant.app_key.clone(),
            };
            play::play(&p, &scenario, app_key).await
        }
    })
}

/// Registers the merchant once more with the scenario's `[merchant]` settings (same notify URL and keys, its
/// own app_key and session, since both are unique on a platform); answers the new app_key.
async fn register_variant(
    p: &Probe,
    settings: &schema::MerchantSettings,
) -> Result<String, crate::platform_client::PlatformError> {
    let m = &p.ctx.merchant;
    let suffix: u32 = rand::rng().random_range(1000..10_000);
    let app_key = format!("{}{suffix}", m.app_key);
    let body = json!({
        "app_key": app_key,
        "app_secret": m.app_secret.expose(),
        "notify_key": m.notify_key.expose(),
        "notify_url": m.url,
        "session": format!("{}-{suffix}", m.session),
        "phase": settings.phase.as_deref().unwrap_or("live"),
        "test_mobiles": settings.test_mobiles,
        "seller_nick": crate::session::SELLER_NICK,
    });
    p.platform().admin(reqwest::Method::POST, "/admin/merchants", Some(body)).await?;
    p.note(None, format!("suite: registered the merchant as {app_key} with the scenario's [merchant] settings"));
    Ok(app_key)
}

/// The bound of a scenario run: each scenario's time plus its explicit waits and clock-free windows.
pub fn bound(scenarios: &[LoadedScenario]) -> Duration {
    let waits: f64 = scenarios
        .iter()
        .flat_map(|s| &s.scenario.steps)
        .map(|step| match step {
            Step::Wait { seconds } => *seconds,
            Step::ExpectAck { within, .. }
            | Step::ExpectNoNotification { within }
            | Step::ExpectCallback { within, .. }
            | Step::ExpectNoCallback { within, .. }
            | Step::ExpectState { within, .. } => within.unwrap_or(0.0),
            _ => 0.0,
        })
        .sum();
    PER_SCENARIO * u32::try_from(scenarios.len()).unwrap_or(u32::MAX) + Duration::from_secs_f64(waits.max(0.0))
}

/// Loads every file, or names the first that cannot be read.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<LoadedScenario>, ScenarioError> {
    files.iter().map(|f| load(f)).collect()
}

/// `conformance scenario FILE… <run options>`.
pub fn scenario_command(args: ScenarioArgs) -> u8 {
    let scenarios = match load_all(&args.files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conformance scenario: {e}");
            return exit::USAGE;
        }
    };
    let config = match args.run.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("conformance scenario: {e}");
            return exit::USAGE;
        }
    };
    let mut reporters = Reporters::default();
    reporters.push(Box::new(TerminalReporter::stdout()));
    file_reporters(&config, &mut reporters);
    let limits = SessionLimits { concurrency: 1, bound: bound(&scenarios) };
    let checks = scenarios.into_iter().map(check).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts");
    let result = runtime.block_on(run_session_with(&config, checks, None, &mut reporters, limits));
    for e in &reporters.errors {
        eprintln!("conformance: a report could not be written: {e}");
    }
    match result {
        Ok(summary) => exit_code(&summary),
        Err(e) => {
            eprintln!("conformance scenario: {e}");
            e.exit_code()
        }
    }
}
