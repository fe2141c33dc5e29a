//! Proof that checks can fail: each deliberately broken merchant fails exactly the check for its defect.

use conformance::outcome::Outcome;

use crate::faulty_merchant::Defect;
use crate::harness::run_against;

/// Runs the checks matching `only` against a merchant with `defect`; `expected` must fail, and its verdict
/// must mention `mentions`.
async fn check(defect: Defect, only: &[&str], expected: &str, mentions: &str) {
    let run = run_against(defect, only).await;
    let report = run.report(expected);
    assert_eq!(report.verdict.outcome, Outcome::Fail, "{defect:?} should fail {expected}: {:#?}", report.verdict);
    let text = format!("{:?}", report.verdict);
    assert!(text.contains(mentions), "{defect:?}: verdict should mention {mentions:?}: {text}");
    assert_eq!(run.failed(), [expected], "only the check for the defect fails");
    assert!(!run.summary.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_merchant_passes_every_certifying_check() {
    let run = run_against(Defect::None, &[]).await;
    // Advisory checks may warn on a loaded machine (ack latency); every certifying check must pass, both halves.
    let not_passed: Vec<_> = run
        .reports
        .iter()
        .filter(|r| r.verdict.outcome != Outcome::Pass && !(r.info.advisory && r.verdict.outcome == Outcome::Warn))
        .map(|r| (r.info.id, &r.verdict))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert!(run.summary.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_that_never_checks_the_sign_fails_c2() {
    check(Defect::NoSignCheck, &["C2.tampered-value"], "C2.tampered-value", "was acknowledged").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_signing_utf8_bytes_rejects_genuine_chinese_notifications() {
    check(Defect::Utf8Signing, &["C1.send.ack"], "C1.send.ack", "rejected with code 501").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_signing_only_known_params_fails_the_extra_params_variant() {
    check(Defect::SignsKnownParamsOnly, &["C1.send.extra-params"], "C1.send.extra-params", "FAQ 2.14").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_ignoring_timestamps_accepts_stale_notifications() {
    check(Defect::NoTimestampCheck, &["C2.stale-past"], "C2.stale-past", "11 minutes in the past").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_newline_in_the_ack_is_named() {
    check(Defect::TrailingNewline, &["C1.send.ack"], "C1.send.ack", "whitespace or a newline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_code_ack_is_named() {
    check(Defect::StringCode, &["C1.send.ack"], "C1.send.ack", "the code is a string").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_the_token_fails_c3() {
    check(Defect::TokenNotEchoed, &["C3.send.callback"], "C3.send.callback", "token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_before_the_ack_fails_c4() {
    check(Defect::CallbackBeforeAck, &["C4.send.ack-before-callback"], "C4.send.ack-before-callback", "before").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_codes_on_a_duplicate_send_fail_c5() {
    check(Defect::NewCodesOnDuplicate, &["C5.send.duplicate"], "C5.send.duplicate", "new codes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_200_with_regenerated_codes_fails_c6() {
    check(Defect::Code200WithNewCodes, &["C6.resend.pairing"], "C6.resend.pairing", "codes unchanged").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_after_cancel_fail_c7() {
    check(
        Defect::CallbacksAfterCancel,
        &["C7.cancel.no-callback"],
        "C7.cancel.no-callback",
        "after the order was cancelled",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_on_transient_errors_fails_c8() {
    check(Defect::NoRetry, &["C8.transient.isp-timeout"], "C8.transient.isp-timeout", "not retried").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hammering_after_a_terminal_error_fails_c8() {
    check(Defect::HammersAfterTerminal, &["C8.terminal.no-hammering"], "C8.terminal.no-hammering", "terminal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_top_calls_with_the_notify_key_is_diagnosed_by_c9() {
    check(Defect::NotifyKeyForTop, &["C9.top-call"], "C9.top-call", "signed with the notify key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_that_never_calls_back_fails_c3_within_the_window() {
    check(Defect::NeverCallsBack, &["C3.send.callback"], "C3.send.callback", "no taobao.vmarket.eticket.send").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_300_on_order_modify_fails_c10() {
    check(Defect::Code300OnOrderModify, &["C10.order-modify.rights"], "C10.order-modify.rights", "300").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_after_the_deadline_fails_c1() {
    check(Defect::SlowAck, &["C1.send.ack"], "C1.send.ack", "no complete reply").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_top_calls_like_notifications_is_diagnosed_by_c9() {
    check(Defect::NotificationSchemeForTop, &["C9.top-call"], "C9.top-call", "computing the notification sign").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_300_with_the_same_codes_fails_c6() {
    check(Defect::Code300WithSameCodes, &["C6.modified"], "C6.modified.pairing", "re-sent the same codes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_300_with_new_codes_is_the_other_legal_answer_and_passes_c6() {
    let run = run_against(Defect::Code300WithNewCodes, &["C6"]).await;
    for id in ["C6.resend.pairing", "C6.modified.pairing"] {
        let report = run.report(id);
        assert_eq!(report.verdict.outcome, Outcome::Pass, "{id}: {:#?}", report.verdict);
        assert!(report.verdict.message.contains("new codes"), "{}", report.verdict.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_never_show_the_secrets_or_the_session_key() {
    let run = run_against(Defect::NotifyKeyForTop, &["C9", "C3.send.callback", "C7"]).await;
    let json = serde_json::to_string(&run.reports).unwrap();
    assert!(json.contains("taobao.vmarket.eticket.send"), "the timeline is there");
    for secret in [crate::harness::APP_SECRET, crate::harness::NOTIFY_KEY, crate::harness::SESSION] {
        assert!(!json.contains(secret), "{secret} leaked into a report");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_plan_ends_within_the_run_bound_with_the_default_windows_when_the_merchant_never_calls_back() {
    let windows = conformance::config::Windows::default();
    let run = crate::harness::run_with_windows(Defect::NeverCallsBack, &[], windows).await;
    assert!(run.summary.duration < windows.run_bound, "{:?}", run.summary.duration);
    assert_eq!(run.summary.error, 0, "every check ended on its own, none at the bound");
    assert!(run.failed().contains(&"C3.send.callback"));
    assert_eq!(run.summary.total, conformance::plan::all_checks().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_a_bad_sign_but_issuing_anyway_fails_c2() {
    check(Defect::RejectsButProcesses, &["C2.wrong-key"], "C2.wrong-key", "still caused a TOP call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_serial_on_a_retry_after_a_lost_answer_fails_c13() {
    let (id, mentions) = ("C13.lost-answer.close", "a second consume with a new serial redeemed the code twice");
    check(Defect::PosNewSerialOnRetry, &[id], id, mentions).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consume_without_a_serial_fails_c11() {
    check(Defect::PosNoSerialBlindRetry, &["C11.redeem.first"], "C11.redeem.first", "no serial_num").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_retry_without_a_serial_after_a_lost_answer_fails_c13() {
    let id = "C13.lost-answer.transient";
    check(Defect::PosNoSerialBlindRetry, &[id], id, "a blind retry without serial_num redeemed the code twice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telling_the_clerk_refused_after_a_lost_answer_fails_c13() {
    let id = "C13.lost-answer.close";
    check(
        Defect::PosRefusedAfterLostAnswer,
        &[id],
        id,
        "after a lost answer (close), but the consume had gone through",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeeming_from_local_records_without_the_platform_fails_c12() {
    let id = "C12.refused.platform-refusal";
    check(Defect::PosFromLocalRecords, &[id], id, "no consume reached the platform: redeemed from local records").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_2xx_although_the_platform_refused_fails_c12() {
    let id = "C12.refused.platform-refusal";
    check(Defect::Pos2xxOnRefusal, &[id], id, "hook answered 2xx but the platform refused with code-not-available")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hammering_a_terminal_refusal_fails_c12() {
    let id = "C12.refused.platform-refusal";
    check(Defect::PosHammersTerminal, &[id], id, "a terminal refusal was hammered").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverse_with_the_wrong_count_fails_c14() {
    let id = "C14.reverse.by-serial";
    check(Defect::PosReverseWrongCount, &[id], id, "reverse_num 1, the consume redeemed 2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_consume_num_fails_c11() {
    check(Defect::PosWrongConsumeNum, &["C11.redeem.first"], "C11.redeem.first", "consume_num 1, asked 2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_reads_in_the_verdict_as_the_bytes_the_merchant_sent() {
    let run = run_against(Defect::None, &["C2.tampered-value"]).await;
    let verdict = &run.report("C2.tampered-value").verdict;
    assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:#?}");
    assert!(verdict.message.starts_with(r#"rejected ("{"code":501}") and no TOP call"#), "{}", verdict.message);
}
