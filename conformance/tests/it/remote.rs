//! `--platform-url`: the suite drives an already running platform through its admin API only.

use conformance::config::{Config, ReportPaths};
use conformance::outcome::Outcome;
use conformance::plan::all_checks;
use conformance::runner::Reporters;
use conformance::scenario;
use conformance::session::{SessionLimits, run_session, run_session_with};
use protocol::Secret;
use serde_json::{Value, json};

use crate::faulty_merchant::{Credentials, Defect};
use crate::harness::{RunningPlatform, quick_windows, start_merchant};
use crate::scenarios::scenario_dir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_platform_is_driven_through_its_admin_api_faults_included() {
    let platform = RunningPlatform::start().await;
    let creds = Credentials {
        gateway: format!("{}/router/rest", platform.base),
        app_key: "34567890".into(),
        app_secret: Secret::new("remote-app-secret"),
        session: "remote-session".into(),
        notify_key: Secret::new("remote-notify-key"),
    };
    let config = Config {
        merchant: start_merchant(Defect::None, creds).await,
        platform: platform.target(),
        reports: ReportPaths::default(),
        only: vec!["C1.send.ack".into(), "C8.transient.isp-timeout".into(), "C6.resend".into()],
        seed: 3,
        windows: quick_windows(),
        pos: None,
    };
    let summary = run_session(&config, all_checks(), None, &mut Reporters::default()).await.expect("setup");
    assert_eq!(summary.pass, 3, "{summary:?}");
    assert_eq!(summary.count(Outcome::Skip), all_checks().len() - 3);
    assert!(summary.is_success());
    platform.stop().await;
}

/// `offset_seconds` of `GET /admin/clock[?app_key=K]`.
async fn clock_offset(http: &reqwest::Client, base: &str, app_key: Option<&str>) -> i64 {
    let query = app_key.map(|k| format!("?app_key={k}")).unwrap_or_default();
    let clock: Value = http.get(format!("{base}/admin/clock{query}")).send().await.unwrap().json().await.unwrap();
    clock["offset_seconds"].as_i64().unwrap_or_else(|| panic!("{clock}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_on_a_shared_platform_moves_only_its_own_merchants_clock() {
    let platform = RunningPlatform::start().await;
    let base = platform.base.clone();
    // Another merchant certifying on the same platform.
    let http = reqwest::Client::new();
    let other = json!({"app_key": "45678901", "app_secret": "s", "notify_key": "k",
        "notify_url": "http://127.0.0.1:1/notify", "session": "other-session"});
    let created = http.post(format!("{base}/admin/merchants")).json(&other).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let creds = Credentials {
        gateway: format!("{base}/router/rest"),
        app_key: "34567891".into(),
        app_secret: Secret::new("remote-app-secret"),
        session: "remote-session-2".into(),
        notify_key: Secret::new("remote-notify-key"),
    };
    let config = Config {
        merchant: start_merchant(Defect::None, creds).await,
        platform: platform.target(),
        reports: ReportPaths::default(),
        only: Vec::new(),
        seed: 3,
        windows: quick_windows(),
        pos: None,
    };
    // The scenario advances the clock by 7201 s to close its order.
    let scenarios = scenario::load_all(&[scenario_dir().join("faq-2.9-close-without-send.toml")]).unwrap();
    let limits = SessionLimits { concurrency: 1, bound: scenario::bound(&scenarios) };
    let checks = scenarios.into_iter().map(scenario::check).collect();
    let summary = run_session_with(&config, checks, None, &mut Reporters::default(), limits).await.expect("setup");
    assert_eq!(summary.pass, 1, "{summary:?}");
    assert_eq!(clock_offset(&http, &base, Some("34567891")).await, 7201);
    assert_eq!(clock_offset(&http, &base, Some("45678901")).await, 0, "the other merchant's clock moved");
    assert_eq!(clock_offset(&http, &base, None).await, 0, "the platform-wide clock moved");
    platform.stop().await;
}
