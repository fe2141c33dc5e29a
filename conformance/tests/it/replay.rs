//! Replay of an exported case file: the reference merchant behaves as recorded, a broken one shows the
//! differing notification and bytes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance::outcome::Outcome;
use conformance::replay;

use crate::faulty_merchant::Defect;
use crate::scenarios::{checks_against_defect, checks_against_reference};

fn case() -> replay::Case {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases/send-resend-refund.json");
    replay::load_case(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exported_case_replayed_against_the_reference_merchant_shows_no_difference() {
    let table = Arc::new(Mutex::new(String::new()));
    let check = replay::check("replay.send-resend-refund".into(), case(), true, table.clone());
    let (reports, summary) = checks_against_reference(vec![check], Duration::from_secs(90)).await;
    let table = table.lock().unwrap().clone();
    assert_eq!(reports[0].verdict.outcome, Outcome::Pass, "{:#?}\n{table}", reports[0].verdict);
    assert!(summary.is_success());
    assert!(table.contains("notification 3 cancel · attempt 1") && table.contains("callback 2"), "{table}");
    assert!(!table.contains('≠'), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_newline_is_shown_as_a_difference_naming_the_notification_and_the_bytes() {
    let table = Arc::new(Mutex::new(String::new()));
    let check = replay::check("replay.send-resend-refund".into(), case(), true, table.clone());
    let (reports, summary) = checks_against_defect(Defect::TrailingNewline, vec![check], Duration::from_secs(90)).await;
    let verdict = &reports[0].verdict;
    let table = table.lock().unwrap().clone();
    println!("{table}");
    assert!(table.lines().any(|l| l.starts_with('≠') && l.contains("notification 1 send")), "{table}");
    assert_eq!(verdict.outcome, Outcome::Fail, "{verdict:#?}");
    assert!(verdict.message.contains("notification 1 send · attempt 1"), "{}", verdict.message);
    // The reply as sent, quoted once: only the newline escaped.
    assert!(verdict.message.contains(r#""{"code":200}\n""#), "{}", verdict.message);
    assert!(!summary.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_recorded_from_a_broken_merchant_replayed_against_the_reference_shows_the_fixes() {
    // Recorded: the unsigned first attempt answered "sign missing", then eticket.send signed with the notify
    // key (25) before a good one. The reference answers the unsigned attempt otherwise and calls once.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases/retry-and-notify-key-sign.json");
    let table = Arc::new(Mutex::new(String::new()));
    let check = replay::check("replay.retry".into(), replay::load_case(&path).unwrap(), true, table.clone());
    let (reports, _) = checks_against_reference(vec![check], Duration::from_secs(90)).await;
    let table = table.lock().unwrap().clone();
    println!("{table}");
    assert_eq!(reports[0].verdict.outcome, Outcome::Fail, "{:#?}", reports[0].verdict);
    let differing: Vec<&str> = table.lines().filter(|l| l.starts_with('≠')).collect();
    assert!(differing.iter().any(|l| l.contains("callback 1") && l.contains("25")), "{table}");
    // The retried attempt (recorded 10 ms later in real time, 15 s on the platform clock) was replayed.
    assert!(table.lines().any(|l| l.contains("send · attempt 2") && !l.contains("(none)")), "{table}");
}
