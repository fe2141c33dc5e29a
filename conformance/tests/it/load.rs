//! `conformance load` against the test merchant: the open-model schedule shows a stall in p99, a duplicate code
//! under load fails the run, and a merchant that keeps calling after error 7 is flagged as hammering.
//! Short runs at modest rates: what is asserted is what the measurements show, never how fast anything is.

use std::time::Duration;

use conformance::config::PlatformTarget;
use conformance::load::judge::Thresholds;
use conformance::load::report::LoadReport;
use conformance::load::{LoadConfig, run_load};

use crate::faulty_merchant::Defect;
use crate::harness::{credentials, start_merchant};

struct Run {
    rate: f64,
    seconds: f64,
    drain: Duration,
    daily_quota: Option<u32>,
}

const SHORT: Run = Run { rate: 30.0, seconds: 3.0, drain: Duration::from_secs(8), daily_quota: None };

async fn load(defect: Defect, run: Run) -> LoadReport {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let merchant = start_merchant(defect, credentials(format!("http://{addr}/router/rest"))).await;
    let config = LoadConfig {
        merchant,
        platform: PlatformTarget::InProcess(addr),
        rate: run.rate,
        ramp_to: None,
        duration: Duration::from_secs_f64(run.seconds),
        find_max: false,
        num: 1,
        daily_quota: run.daily_quota,
        calls_per_second: None,
        thresholds: Thresholds::default(),
        drain: run.drain,
        json_report: None,
        html_report: None,
    };
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
