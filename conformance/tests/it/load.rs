//! `conformance load` against the test merchant: the open-model schedule shows a stall in p99, a duplicate code
//! under load fails the run, and a merchant that keeps calling after error 7 is flagged as hammering.
//! Short runs at modest rates: what is asserted is what the measurements show, never how fast anything is.

use std::time::Duration;

use conformance::config::{MerchantConfig, PlatformTarget};
use conformance::load::judge::Thresholds;
use conformance::load::report::LoadReport;
use conformance::load::{LoadConfig, LoadSetupError, run_load};
use serde_json::{Value, json};

use crate::faulty_merchant::Defect;
use crate::harness::{RunningPlatform, credentials, start_merchant};

struct Run {
    rate: f64,
    seconds: f64,
    drain: Duration,
    daily_quota: Option<u32>,
}

const SHORT: Run = Run { rate: 30.0, seconds: 3.0, drain: Duration::from_secs(8), daily_quota: None };

fn config(merchant: MerchantConfig, platform: PlatformTarget, run: Run) -> LoadConfig {
    LoadConfig {
        merchant,
        platform,
        rate: run.rate,
        ramp_to: None,
        duration: Duration::from_secs_f64(run.seconds),
        find_max: false,
        find_max_step: Duration::from_secs(1),
        num: 1,
        daily_quota: run.daily_quota,
        calls_per_second: None,
        thresholds: Thresholds::default(),
        drain: run.drain,
        json_report: None,
        html_report: None,
    }
}

async fn load(defect: Defect, run: Run) -> LoadReport {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let merchant = start_merchant(defect, credentials(format!("http://{addr}/router/rest"))).await;
    let config = config(merchant, PlatformTarget::InProcess(addr), run);
    run_load(&config, Some(listener)).await.expect("the run starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_merchant_passes_with_every_order_issued_and_measured() {
    let report = load(Defect::None, SHORT).await;
    let step = &report.steps[0];
    assert!(report.passed, "{step:#?}");
    assert_eq!((step.scheduled, step.bought, step.issued), (90, 90, 90));
    assert_eq!((step.ack_ms.count, step.callback_lag_ms.count, step.end_to_end_ms.count), (90, 90, 90));
    assert_eq!(step.time_series.iter().map(|s| s.scheduled).sum::<u64>(), 90);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], "conformance-load/1");
    let html = conformance::load::html::render(&report);
    assert!(html.contains("<svg") && !html.contains("<script"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_that_stalls_for_two_seconds_once_shows_in_the_ack_p99() {
    let report = load(Defect::StallsOnce, SHORT).await;
    let step = &report.steps[0];
    // Orders kept arriving on schedule during the stall, and each is measured from its scheduled time: the
    // whole stall shows, not one slow request (a closed loop would have waited and hidden it).
    assert!(step.ack_ms.p99.unwrap() >= 1500, "{:?}", step.ack_ms);
    let slow_seconds = step.time_series.iter().filter(|s| s.ack_p99_ms.is_some_and(|ms| ms >= 1000)).count();
    assert!(slow_seconds >= 2, "{:?}", step.time_series);
    assert!(step.integrity.held, "{:?}", step.integrity);
    assert!(!report.passed && !step.thresholds[0].held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_issuing_a_duplicate_code_under_load_fails_the_run() {
    let report = load(Defect::DuplicateCodeUnderLoad, SHORT).await;
    let step = &report.steps[0];
    assert!(!step.integrity.held && !report.passed);
    assert!(!step.integrity.shared_codes.is_empty());
    assert!(step.integrity.shared_codes.iter().all(|c| c.order_ids.len() == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_quota_answers_7_and_a_merchant_retrying_at_once_is_flagged_as_hammering() {
    let run = Run { rate: 20.0, seconds: 2.0, drain: Duration::from_secs(3), daily_quota: Some(10) };
    let report = load(Defect::None, run).await;
    let step = &report.steps[0];
    let flow = &step.flow_control;
    assert!(flow.limited_calls > 0, "{flow:?}");
    assert!(flow.hammering, "{flow:?}");
    assert!(flow.calls_per_s_after.unwrap() >= flow.calls_per_s_before.unwrap() * 0.5);
    // Ten calls were allowed: ten orders issued, the other thirty left without codes by the quota.
    assert_eq!(step.issued, 10);
    assert_eq!(flow.left_without_codes.count, 30);
    assert!(step.integrity.held && !report.passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_platform_the_run_judges_only_its_own_orders_and_never_moves_the_clock() {
    let running = RunningPlatform::start().await;
    let (base, platform) = (running.base.clone(), &running.platform);
    let merchant = start_merchant(Defect::None, credentials(format!("{base}/router/rest"))).await;
    // The app was registered before and sold an order of its own: that order must not count in this run.
    let mut earlier = mock_platform::NewMerchant::new(
        &merchant.app_key,
        merchant.app_secret.expose(),
        merchant.notify_key.expose(),
        &merchant.url,
    );
    earlier.session = Some(merchant.session.clone());
    platform.add_merchant(earlier).await.unwrap();
    platform
        .create_order(mock_platform::NewOrderBody::new(&merchant.app_key, 1, "13800000000", "other"))
        .await
        .unwrap();
    let remote = running.target();
    let run = Run { rate: 20.0, seconds: 1.0, ..SHORT };

    // The app is registered already, so its limits cannot be set for this run: said before any order.
    let limited = config(merchant.clone(), remote.clone(), Run { daily_quota: Some(5), ..run });
    assert!(matches!(run_load(&limited, None).await, Err(LoadSetupError::Register(_))));

    let report = run_load(&config(merchant, remote, run), None).await.expect("the run starts");
    let step = &report.steps[0];
    assert_eq!(report.platform, base);
    assert_eq!((step.scheduled, step.issued), (20, 20));
    assert!(step.integrity.held, "{:?}", step.integrity);
    let clock: Value = reqwest::get(format!("{base}/admin/clock")).await.unwrap().json().await.unwrap();
    assert_eq!(clock["offset_seconds"], json!(0));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_max_steps_the_rate_up_until_a_merchant_that_queues_breaks_the_ack_threshold() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let merchant = start_merchant(Defect::Serial50Ms, credentials(format!("http://{addr}/router/rest"))).await;
    let mut config = config(merchant, PlatformTarget::InProcess(addr), Run { rate: 8.0, ..SHORT });
    config.find_max = true;
    config.thresholds.max_ack_p99_ms = 200;
    let report = run_load(&config, Some(listener)).await.expect("the run starts");
    let fm = report.find_max.as_ref().expect("a find-max outcome");
    // The merchant serves about 20 orders a second: some step at or above that must break, on the ack p99.
    let broke = fm.broke_rate.expect("a step broke");
    assert!(broke <= 8.0 * 1.5f64.powi(6), "{fm:?}");
    assert!(fm.broke.iter().any(|b| b.starts_with("ack_p99_ms")), "{fm:?}");
    if let Some(held) = fm.held_rate {
        assert!((broke / held - 1.5).abs() < 1e-9, "the first rate that broke is one step above the last that held");
    }
    let rates: Vec<f64> = report.steps.iter().map(|s| s.rate_from).collect();
    assert!(rates.windows(2).all(|w| (w[1] / w[0] - 1.5).abs() < 1e-9), "{rates:?}");
    assert!(report.steps.iter().all(|s| s.integrity.held));
    assert!(report.passed, "find-max passes when integrity held in every step");
}

#[test]
fn bad_load_flags_and_an_unreachable_merchant_exit_2_before_any_order() {
    let conformance = || std::process::Command::new(env!("CARGO_BIN_EXE_conformance"));
    let credentials = ["--app-key", "12345678", "--app-secret", "s", "--session", "sess", "--notify-key", "k"];
    let refusing = testkit::RefusingPort::new();
    let url = refusing.url("/notify");
    for (extra, said) in [
        (vec!["--rate", "0"], "--rate"),
        (vec!["--find-max", "--ramp-to", "9"], "exclusive"),
        (vec!["--calls-per-second", "0"], "--calls-per-second"),
        (vec![], "refuses TCP connections"),
    ] {
        let out = conformance()
            .args(["load", "--merchant-url", &url, "--gateway-listen", "127.0.0.1:0", "--duration", "1"])
            .args(credentials)
            .args(&extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(said), "{extra:?}: {stderr}");
    }
}
