//! Scenario files: every shipped scenario passes against merchant-reference, and broken merchants fail the
//! scenario for their defect at the step that shows it.

use std::path::PathBuf;
use std::time::Duration;

use conformance::config::{Config, DEFAULT_POS_DEADLINE, MerchantConfig, PlatformTarget, PosConfig, ReportPaths};
use conformance::event::{CheckReport, Summary};
use conformance::outcome::Outcome;
use conformance::plan::Check;
use conformance::runner::Reporters;
use conformance::scenario::{self, LoadedScenario};
use conformance::session::{SessionLimits, run_session_with};
use protocol::Secret;

use crate::faulty_merchant::Defect;
use crate::harness::{Collect, credentials, quick_windows, start_merchant};

pub fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios")
}

pub fn shipped() -> Vec<LoadedScenario> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    scenario::load_all(&files).unwrap()
}

fn named(names: &[&str]) -> Vec<LoadedScenario> {
    let files: Vec<PathBuf> = names.iter().map(|n| scenario_dir().join(format!("{n}.toml"))).collect();
    scenario::load_all(&files).unwrap()
}

/// Runs `checks` one at a time against `merchant`, the platform in-process on `listener`.
pub async fn play_checks(
    checks: Vec<Check>,
    bound: Duration,
    merchant: MerchantConfig,
    listener: tokio::net::TcpListener,
) -> (Vec<CheckReport>, Summary) {
    // Both merchants serve their POS hook beside /notify.
    let pos = PosConfig {
        url: merchant.url.replace("/notify", "/pos"),
        manual: false,
        posid: None,
        deadline: DEFAULT_POS_DEADLINE,
    };
    let config = Config {
        platform: PlatformTarget::InProcess(listener.local_addr().unwrap()),
        merchant,
        reports: ReportPaths::default(),
        only: Vec::new(),
        seed: 3,
        windows: quick_windows(),
        pos: Some(pos),
    };
    let collect = Collect::default();
    let mut reporters = Reporters::default();
    reporters.push(Box::new(collect.clone()));
    let limits = SessionLimits { concurrency: 1, bound };
    let summary = run_session_with(&config, checks, Some(listener), &mut reporters, limits).await.expect("setup");
    (collect.reports(), summary)
}

/// Plays `scenarios` against the faulty merchant with `defect`.
async fn against_defect(defect: Defect, scenarios: Vec<LoadedScenario>) -> (Vec<CheckReport>, Summary) {
    let bound = scenario::bound(&scenarios);
    let checks = scenarios.into_iter().map(scenario::check).collect();
    checks_against_defect(defect, checks, bound).await
}

/// Runs `checks` against the faulty merchant with `defect`.
pub async fn checks_against_defect(defect: Defect, checks: Vec<Check>, bound: Duration) -> (Vec<CheckReport>, Summary) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/router/rest", listener.local_addr().unwrap());
    let merchant = start_merchant(defect, credentials(gateway)).await;
    play_checks(checks, bound, merchant, listener).await
}

async fn against_reference(scenarios: Vec<LoadedScenario>) -> (Vec<CheckReport>, Summary) {
    let bound = scenario::bound(&scenarios);
    let checks = scenarios.into_iter().map(scenario::check).collect();
    checks_against_reference(checks, bound).await
}

/// Starts merchant-reference in-process (as the demo does) and runs `checks` against it.
pub async fn checks_against_reference(checks: Vec<Check>, bound: Duration) -> (Vec<CheckReport>, Summary) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/router/rest", listener.local_addr().unwrap());
    let merchant_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", merchant_listener.local_addr().unwrap());
    let (app_key, app_secret, session, notify_key) = ("34567890", "ref-app-secret", "ref-session", "ref-notify-key");
    let db = std::env::temp_dir().join(format!("conformance-it-scenario-{}-{}.sqlite", std::process::id(), rand_id()));
    let mut config = merchant_reference::Config::new(
        gateway.as_str(),
        app_key,
        Secret::new(app_secret),
        Secret::new(session),
        Secret::new(notify_key),
    );
    config.db = db.clone();
    let task = tokio::spawn(merchant_reference::run(merchant_listener, config, std::future::pending()));
    let merchant = MerchantConfig {
        url,
        app_key: app_key.into(),
        app_secret: Secret::new(app_secret),
        session: session.into(),
        notify_key: Secret::new(notify_key),
        codemerchant_id: None,
    };
    let result = play_checks(checks, bound, merchant, listener).await;
    task.abort();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    result
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn report<'a>(reports: &'a [CheckReport], id: &str) -> &'a CheckReport {
    reports.iter().find(|r| r.info.id == id).unwrap_or_else(|| panic!("no report {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_scenario_passes_against_the_reference_merchant() {
    let scenarios = shipped();
    assert!(scenarios.len() >= 12, "the FAQ situations are shipped");
    let (reports, summary) = against_reference(scenarios).await;
    let failed: Vec<_> =
        reports.iter().filter(|r| r.verdict.outcome != Outcome::Pass).map(|r| (r.info.id, &r.verdict)).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(summary.is_success() && summary.total >= 9);
    let closed = report(&reports, "scenario.faq-2.9-close-without-send");
    assert_eq!(closed.info.rule, "scenario · FAQ 2.9");
    assert!(!closed.timeline.is_empty(), "a scenario reports its exchanges like a check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_newline_fails_the_refund_scenario_at_the_send_acknowledgement() {
    let (reports, summary) = against_defect(Defect::TrailingNewline, named(&["faq-2.22-refund-notification"])).await;
    let r = report(&reports, "scenario.faq-2.22-refund-notification");
    assert_eq!(r.verdict.outcome, Outcome::Fail, "{:#?}", r.verdict);
    assert!(r.verdict.message.starts_with("step 2/6 `expect_ack`"), "{}", r.verdict.message);
    assert!(r.verdict.actual.as_deref().unwrap_or("").contains("\\n"), "{:?}", r.verdict.actual);
    assert!(!summary.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_codes_under_code_200_fail_the_resend_scenario_at_its_callback() {
    let (reports, _) = against_defect(Defect::Code200WithNewCodes, named(&["faq-2.26-resend"])).await;
    let r = report(&reports, "scenario.faq-2.26-resend");
    assert_eq!(r.verdict.outcome, Outcome::Fail, "{:#?}", r.verdict);
    assert!(r.verdict.message.starts_with("step 5/5 `expect_callback`"), "{}", r.verdict.message);
    assert!(r.verdict.expected.as_deref().unwrap_or("").contains("not the codes issued before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_forgetting_cancels_fails_the_refund_voids_codes_scenario_after_the_late_resend() {
    let (reports, _) = against_defect(Defect::CallbacksAfterCancel, named(&["faq-2.23-refund-voids-codes"])).await;
    let r = report(&reports, "scenario.faq-2.23-refund-voids-codes");
    assert_eq!(r.verdict.outcome, Outcome::Fail, "{:#?}", r.verdict);
    assert!(r.verdict.message.starts_with("step 8/8 `expect_no_callback`"), "{}", r.verdict.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_telling_refused_after_a_lost_answer_fails_the_lost_answer_scenario_at_the_redemption() {
    let (reports, _) = against_defect(Defect::PosRefusedAfterLostAnswer, named(&["faq-2.8-lost-answer"])).await;
    let r = report(&reports, "scenario.faq-2.8-lost-answer");
    assert_eq!(r.verdict.outcome, Outcome::Fail, "{:#?}", r.verdict);
    assert!(r.verdict.message.starts_with("step 4/7 `redeem`: the POS hook answered refused"), "{}", r.verdict.message);
}
