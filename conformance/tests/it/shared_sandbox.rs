//! The whole plan and every shipped scenario against a shared sandbox (INTERFACES §1.2): three mock-platform
//! replicas on one PostgreSQL database behind a round-robin load balancer, the suite's admin calls and the
//! merchant's gateway calls spread over them, each replica dispatching notifications.

use std::path::PathBuf;

use conformance::config::{
    Config, DEFAULT_POS_DEADLINE, MerchantConfig, PlatformTarget, PosConfig, ReportPaths, Windows,
};
use conformance::outcome::Outcome;
use conformance::plan::{Check, all_checks};
use conformance::runner::Reporters;
use conformance::scenario;
use conformance::session::{SessionLimits, run_session, run_session_with};
use mock_platform::{Platform, PlatformConfig};
use protocol::Secret;
use testkit::balancer::Balanced;
use testkit::postgres::TestDatabase;

use crate::faulty_merchant::{Credentials, Defect};
use crate::harness::{Collect, Run, quick_windows, start_merchant};
use crate::scenarios::shipped;

/// Three replicas on a fresh database, and the balancer a merchant and the suite reach them through.
struct SharedSandbox {
    replicas: Balanced,
    /// Dropped after the replicas have stopped: dropping it drops the database under any open connection.
    _database: TestDatabase,
}

impl SharedSandbox {
    async fn start() -> Self {
        let database = testkit::postgres::database();
        let url = database.url().to_owned();
        let replicas = Balanced::start(
            3,
            |public_url| {
                let url = url.clone();
                async move {
                    // The sandbox's public address, as every replica of a real one is configured (qrcode_url).
                    let config = PlatformConfig { gateway_base_url: Some(public_url), ..PlatformConfig::default() };
                    Platform::connect(config, &url).await.unwrap()
                }
            },
            |listener, platform| tokio::spawn(mock_platform::run(listener, platform, std::future::pending())),
        )
        .await;
        Self { replicas, _database: database }
    }

    /// How the suite is pointed at it: the balancer, as `--platform-url`.
    fn target(&self) -> PlatformTarget {
        PlatformTarget::Remote { url: self.replicas.url(), admin_token: None }
    }

    /// The gateway URL the merchant is given.
    fn gateway(&self) -> String {
        format!("{}/router/rest", self.replicas.url())
    }

    /// Stops every replica (pending retries dropped), then the database goes with `self`.
    async fn stop(self) -> Vec<usize> {
        self.replicas.stop().await
    }
}

/// Runs `checks`, POS hook included, against `merchant` on `sandbox`, scheduled by `limits` (`None`: as
/// `conformance run` schedules the plan, every check at once within the 75 s bound).
async fn run_checks(
    sandbox: &SharedSandbox,
    merchant: MerchantConfig,
    checks: Vec<Check>,
    only: &[&str],
    windows: Windows,
    limits: Option<SessionLimits>,
) -> Run {
    let pos = merchant.url.replace("/notify", "/pos");
    let config = Config {
        merchant,
        platform: sandbox.target(),
        reports: ReportPaths::default(),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        seed: 11,
        windows,
        pos: Some(PosConfig { url: pos, manual: false, posid: None, deadline: DEFAULT_POS_DEADLINE }),
    };
    let collect = Collect::default();
    let mut reporters = Reporters::default();
    reporters.push(Box::new(collect.clone()));
    let summary = match limits {
        Some(limits) => run_session_with(&config, checks, None, &mut reporters, limits).await,
        None => run_session(&config, checks, None, &mut reporters).await,
    };
    let summary = summary.expect("setup succeeds");
    Run { reports: collect.reports(), summary }
}

async fn run_plan(sandbox: &SharedSandbox, merchant: MerchantConfig, windows: Windows) -> Run {
    run_checks(sandbox, merchant, all_checks(), &[], windows, None).await
}

/// `offset_seconds` of `GET /admin/clock[?app_key=K]`, through the balancer.
async fn clock_offset(sandbox: &SharedSandbox, app_key: Option<&str>) -> i64 {
    let query = app_key.map(|k| format!("?app_key={k}")).unwrap_or_default();
    let url = format!("{}/admin/clock{query}", sandbox.replicas.url());
    let clock: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    clock["offset_seconds"].as_i64().unwrap_or_else(|| panic!("{clock}"))
}

/// Every check ran and passed; an advisory check may warn (ack latency on a loaded machine), as in-process.
fn assert_every_check_passed(run: &Run, checks: usize) {
    assert_eq!(run.reports.len(), checks, "{:?}", run.summary);
    let not_passed: Vec<_> = run
        .reports
        .iter()
        .filter(|r| r.verdict.outcome != Outcome::Pass && !(r.info.advisory && r.verdict.outcome == Outcome::Warn))
        .map(|r| (r.info.id, &r.verdict))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert!(run.summary.is_success(), "{:?}", run.summary);
}

/// merchant-reference in-process (as the demo runs it), its gateway the sandbox's balancer.
struct Reference {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), merchant_reference::RunError>>,
    db: PathBuf,
}

impl Reference {
    async fn start(sandbox: &SharedSandbox, name: &str) -> (Self, MerchantConfig) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (app_key, app_secret, session, notify_key) = ("67890123", "reference-secret", "reference-session", "k");
        let db = std::env::temp_dir().join(format!("conformance-it-shared-{}-{name}.sqlite", std::process::id()));
        let mut config = merchant_reference::Config::new(
            sandbox.gateway(),
            app_key,
            Secret::new(app_secret),
            Secret::new(session),
            Secret::new(notify_key),
        );
        config.db = db.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(merchant_reference::run(listener, config, async {
            stopped.await.ok();
        }));
        let merchant = MerchantConfig {
            url: format!("{base}/notify"),
            app_key: app_key.into(),
            app_secret: Secret::new(app_secret),
            session: session.into(),
            notify_key: Secret::new(notify_key),
            codemerchant_id: None,
        };
        (Self { stop, task, db }, merchant)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.abort();
        let _ = self.task.await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_merchant_passes_the_whole_plan_on_three_replicas_behind_a_balancer() {
    let sandbox = SharedSandbox::start().await;
    let creds = Credentials {
        gateway: sandbox.gateway(),
        app_key: "56789012".into(),
        app_secret: Secret::new("shared-app-secret"),
        session: "shared-session".into(),
        notify_key: Secret::new("shared-notify-key"),
    };
    let merchant = start_merchant(Defect::None, creds).await;
    let run = run_plan(&sandbox, merchant, quick_windows()).await;
    let connections = sandbox.stop().await;
    assert_every_check_passed(&run, all_checks().len());
    assert!(connections.iter().all(|n| *n > 0), "every replica served: {connections:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reference_merchant_passes_the_whole_plan_on_three_replicas_behind_a_balancer() {
    let sandbox = SharedSandbox::start().await;
    let (reference, merchant) = Reference::start(&sandbox, "plan").await;
    let run = run_plan(&sandbox, merchant, Windows::default()).await;
    reference.stop().await;
    let connections = sandbox.stop().await;
    assert_every_check_passed(&run, all_checks().len());
    assert!(connections.iter().all(|n| *n > 0), "every replica served: {connections:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_shipped_scenario_passes_against_the_reference_merchant_on_three_replicas_behind_a_balancer() {
    let sandbox = SharedSandbox::start().await;
    let (reference, merchant) = Reference::start(&sandbox, "scenarios").await;
    let scenarios = shipped();
    let count = scenarios.len();
    // One at a time, as `conformance scenario` runs them: each may move its merchant's clock.
    let limits = SessionLimits { concurrency: 1, bound: scenario::bound(&scenarios) };
    let checks = scenarios.into_iter().map(scenario::check).collect();
    let run = run_checks(&sandbox, merchant, checks, &[], quick_windows(), Some(limits)).await;
    reference.stop().await;
    let connections = sandbox.stop().await;
    assert_every_check_passed(&run, count);
    assert!(connections.iter().all(|n| *n > 0), "every replica served: {connections:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_merchants_certify_at_once_while_a_third_plays_every_scenario_and_moves_only_its_own_clock() {
    let sandbox = SharedSandbox::start().await;
    let creds = |n: u8| Credentials {
        gateway: sandbox.gateway(),
        app_key: format!("5678901{n}"),
        app_secret: Secret::new(format!("shared-app-secret-{n}")),
        session: format!("shared-session-{n}"),
        notify_key: Secret::new(format!("shared-notify-key-{n}")),
    };
    let first = start_merchant(Defect::None, creds(1)).await;
    let (reference, second) = Reference::start(&sandbox, "together").await;
    let third = start_merchant(Defect::None, creds(3)).await;
    let scenarios = shipped();
    let count = scenarios.len();
    let limits = SessionLimits { concurrency: 1, bound: scenario::bound(&scenarios) };
    let checks = scenarios.into_iter().map(scenario::check).collect();
    let (a, b, c) = tokio::join!(
        run_plan(&sandbox, first, quick_windows()),
        run_plan(&sandbox, second, Windows::default()),
        run_checks(&sandbox, third, checks, &[], quick_windows(), Some(limits)),
    );
    let offsets = [clock_offset(&sandbox, Some("56789011")).await, clock_offset(&sandbox, Some("67890123")).await];
    let (moved, platform_wide) = (clock_offset(&sandbox, Some("56789013")).await, clock_offset(&sandbox, None).await);
    reference.stop().await;
    sandbox.stop().await;
    assert_eq!((offsets, platform_wide), ([0, 0], 0), "only the scenarios' merchant's clock moves");
    assert!(moved >= 7201, "the scenarios advanced their merchant's clock: {moved}");
    assert_every_check_passed(&a, all_checks().len());
    assert_every_check_passed(&b, all_checks().len());
    assert_every_check_passed(&c, count);
}

/// Broken merchants whose defect shows only across replicas if the shared store gets it wrong: a callback reaching
/// one replica while another holds the notification's attempt open (C4), faults armed on one replica and met on
/// another (C8, C13), duplicates and cancels queued by one and delivered by another (C5, C7), the deadline (C1).
const DEFECTS: &[(Defect, &str, &str)] = &[
    (Defect::CallbackBeforeAck, "C4.send.ack-before-callback", "before"),
    (Defect::NewCodesOnDuplicate, "C5.send.duplicate", "new codes"),
    (Defect::Code200WithNewCodes, "C6.resend.pairing", "codes unchanged"),
    (Defect::CallbacksAfterCancel, "C7.cancel.no-callback", "after the order was cancelled"),
    (Defect::NoRetry, "C8.transient.isp-timeout", "not retried"),
    (Defect::HammersAfterTerminal, "C8.terminal.no-hammering", "terminal"),
    (Defect::NotifyKeyForTop, "C9.top-call", "signed with the notify key"),
    (Defect::SlowAck, "C1.send.ack", "no complete reply"),
    (Defect::NoSignCheck, "C2.tampered-value", "was acknowledged"),
    (Defect::PosNoSerialBlindRetry, "C13.lost-answer.transient", "redeemed the code twice"),
    (Defect::PosRefusedAfterLostAnswer, "C13.lost-answer.close", "but the consume had gone through"),
    (Defect::PosHammersTerminal, "C12.refused.platform-refusal", "a terminal refusal was hammered"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_broken_merchant_fails_its_check_on_a_shared_sandbox_as_in_process() {
    let sandbox = SharedSandbox::start().await;
    let runs = DEFECTS.iter().enumerate().map(|(i, (defect, id, _))| {
        let creds = Credentials {
            gateway: sandbox.gateway(),
            app_key: format!("{}", 71_000_000 + i),
            app_secret: Secret::new(format!("broken-app-secret-{i}")),
            session: format!("broken-session-{i}"),
            notify_key: Secret::new(format!("broken-notify-key-{i}")),
        };
        let sandbox = &sandbox;
        async move {
            let merchant = start_merchant(*defect, creds).await;
            run_checks(sandbox, merchant, all_checks(), &[id], quick_windows(), None).await
        }
    });
    let runs = futures_util::future::join_all(runs).await;
    sandbox.stop().await;
    for ((defect, id, mentions), run) in DEFECTS.iter().zip(&runs) {
        let report = run.report(id);
        let text = format!("{:?}", report.verdict);
        assert_eq!(report.verdict.outcome, Outcome::Fail, "{defect:?} should fail {id}: {text}");
        assert!(text.contains(mentions), "{defect:?}: the verdict should mention {mentions:?}: {text}");
        assert_eq!(run.failed(), [*id], "{defect:?}: only the check for the defect fails");
    }
}
