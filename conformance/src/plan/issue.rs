//! C3, C4, C9: after acknowledging `send`, the merchant reports its codes with `eticket.send`: after the ack,
//! with the token, unique codes summing to `num`, signed with the app secret and the right system params.

use std::sync::Arc;

use chrono::Utc;
use protocol::{NotifyMethod, SignMethod, VerifyCodes};

use crate::outcome::Verdict;
use crate::plan::judge::{ETICKET_SEND, all_calls, await_attempt, calls, describe_calls};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{Bought, GatewayCall, OrderSpec};

/// Buys `spec`, waits for the ack of `send`, then for a successful `eticket.send` within the callback window.
/// `Err` is the verdict when there is nothing to judge.
async fn issued(
    p: &Probe,
    spec: OrderSpec,
) -> Result<Result<(Bought, Vec<GatewayCall>), Verdict>, crate::platform_client::PlatformError> {
    let order = p.buy(spec).await?;
    let Some((_, attempt)) = await_attempt(p, order.order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Err(Verdict::error("the platform recorded no send attempt")));
    };
    if !attempt.acked() {
        return Ok(Err(Verdict::skip("send was not acknowledged, so no callback was due (see C1.send.ack)")));
    }
    let window = p.windows().callback;
    let done = p
        .wait_for(order.order_id, window, |ex| {
            let sends = calls(ex, ETICKET_SEND);
            sends.iter().any(|c| c.succeeded()).then(|| sends.into_iter().cloned().collect::<Vec<_>>())
        })
        .await?;
    match done {
        Some(calls) => Ok(Ok((order, calls))),
        None => {
            let ex = p.exchanges(order.order_id).await?;
            let made = calls(&ex, ETICKET_SEND);
            let window_s = window.as_secs_f64();
            let verdict = match made.last().filter(|c| !c.succeeded()) {
                None => Verdict::fail(format!("no taobao.vmarket.eticket.send within {window_s} s of the ack"))
                    .expected("a successful eticket.send reporting the codes")
                    .actual("no call")
                    .hint("after acknowledging send, generate the codes and call taobao.vmarket.eticket.send (FAQ 2.9: unreported orders close after 2 h)"),
                Some(last) => {
                    let code = last.error_code.unwrap_or_default();
                    let sub = last.sub_code.clone().unwrap_or_default();
                    let hint = if sub.contains("invalid-token") {
                        "echo the notification's token param unchanged in every e-voucher call (PROTOCOL §1.2)"
                    } else if code == 41 {
                        "verify_codes is code:count pairs, half-width, unique codes, counts summing to num (all 1 when consume_type=1)"
                    } else if code == 25 {
                        "sign TOP calls with the app secret, not the notify key (FAQ 2.29); see C9.top-call"
                    } else {
                        "see the gateway's answer in the timeline"
                    };
                    Verdict::fail(format!("eticket.send never succeeded within {window_s} s of the ack"))
                        .expected("a successful eticket.send reporting the codes")
                        .actual(describe_calls(&made))
                        .hint(hint)
                }
            };
            Ok(Err(verdict))
        }
    }
}

/// Judges the successful call's `verify_codes` and token (the mock checks them too; the suite says why).
fn judge_codes(call: &GatewayCall, order: &Bought, num: u32, consume_type_one: bool) -> Verdict {
    if call.param("token") != Some(order.token.as_str()) {
        return Verdict::fail("eticket.send did not echo the order's token")
            .expected(format!("token={}", order.token))
            .actual(format!("token={}", call.param("token").unwrap_or("(absent)")))
            .hint("echo the notification's token param unchanged (PROTOCOL §1.2)");
    }
    let raw = call.param("verify_codes").unwrap_or("");
    let codes = match VerifyCodes::parse(raw) {
        Ok(codes) => codes,
        Err(e) => {
            return Verdict::fail("verify_codes is not well-formed")
                .expected("code:count,code:count with half-width punctuation and unique codes")
                .actual(format!("{raw:?}: {e}"))
                .hint("all characters half-width (英文半角); codes 1-64 printable ASCII without : , or spaces");
        }
    };
    if codes.total() != u64::from(num) {
        return Verdict::fail("the counts in verify_codes do not add up to num")
            .expected(format!("counts summing to {num}"))
            .actual(format!("{raw} (sum {})", codes.total()))
            .hint("report codes for every unit bought (PROTOCOL §2.3)");
    }
    if consume_type_one && codes.entries().iter().any(|(_, n)| *n != 1) {
        return Verdict::fail("consume_type=1 (一码一刷) but a code counts more than 1")
            .expected("one code per unit, each count 1")
            .actual(raw.to_owned())
            .hint("with consume_type=1 issue num codes of count 1 (PROTOCOL §2.3)");
    }
    Verdict::pass(format!("eticket.send reported {} code(s) summing to {num}: {raw}", codes.entries().len()))
}

pub async fn callback(p: Arc<Probe>) -> CheckResult {
    let spec = p.order_spec();
    let num = spec.num;
    Ok(match issued(&p, spec).await? {
        Err(verdict) => verdict,
        Ok((order, calls)) => {
            let ok = calls.iter().find(|c| c.succeeded()).expect("issued() found a successful call");
            judge_codes(ok, &order, num, false)
        }
    })
}

pub async fn consume_type_one(p: Arc<Probe>) -> CheckResult {
    let mut spec = p.order_spec();
    spec.consume_type = 1;
    let num = spec.num;
    Ok(match issued(&p, spec).await? {
        Err(verdict) => verdict,
        Ok((order, calls)) => {
            let ok = calls.iter().find(|c| c.succeeded()).expect("issued() found a successful call");
            judge_codes(ok, &order, num, true)
        }
    })
}

/// C4, from the platform's causality annotation of each gateway call.
pub async fn ack_before_callback(p: Arc<Probe>) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    let window = p.windows().ack_deadline + p.windows().callback;
    let first = p.wait_for(order.order_id, window, |ex| all_calls(ex).first().map(|c| (*c).clone())).await?;
    let Some(_) = first else {
        return Ok(Verdict::skip("the merchant made no callback to judge (see C3.send.callback)"));
    };
    let ex = p.exchanges(order.order_id).await?;
    let bad: Vec<&GatewayCall> = all_calls(&ex)
        .into_iter()
        .filter(|c| matches!(c.causality.as_deref(), Some("before_ack" | "no_cause")))
        .collect();
    Ok(match bad.first() {
        None => Verdict::pass(format!("{} callback(s), each after the ack of its notification", all_calls(&ex).len())),
        Some(call) if call.causality.as_deref() == Some("no_cause") => {
            Verdict::fail(format!("{} was called with no acknowledged notification causing it", call.method))
                .expected("a callback only after acknowledging the notification that causes it")
                .actual("callback with no acknowledged send")
                .hint("answer {\"code\":200} first, then call back (FAQ 2.27: 返回…然后回调)")
        }
        Some(call) => Verdict::fail(format!("{} was called before the send notification was acknowledged", call.method))
            .expected("the ack first, then the callback")
            .actual(format!(
                "the callback was held {} ms and the ack came only after it was answered",
                call.held_ms.unwrap_or(0)
            ))
            .hint("reply to the notification before calling the gateway; never wait for your own callback inside the notification handler (FAQ 2.27)"),
    })
}

/// C9: every gateway call of an order.
pub async fn top_call(p: Arc<Probe>) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    let window = p.windows().ack_deadline + p.windows().callback;
    let first = p.wait_for(order.order_id, window, |ex| all_calls(ex).first().map(|c| (*c).clone())).await?;
    if first.is_none() {
        return Ok(Verdict::skip("the merchant made no TOP call to judge (see C3.send.callback)"));
    }
    // Let a retried call land too, up to the first success (bounded by the callback window already spent).
    let ex = p
        .wait_for(order.order_id, p.windows().ack_deadline, |ex| {
            all_calls(ex).iter().any(|c| c.succeeded()).then(|| ex.to_vec())
        })
        .await?;
    let ex = match ex {
        Some(ex) => ex,
        None => p.exchanges(order.order_id).await?,
    };
    for call in all_calls(&ex) {
        if let Some(verdict) = judge_call(&p, call, &order.token) {
            return Ok(verdict);
        }
    }
    Ok(Verdict::pass(format!("{} TOP call(s), each correctly signed and parameterised", all_calls(&ex).len())))
}

/// C9 on one TOP call of an order whose token is `token`; also applied to every redemption call (§6.1).
pub(crate) fn judge_call(p: &Probe, call: &GatewayCall, token: &str) -> Option<Verdict> {
    let m = &p.ctx.merchant;
    let fail = |what: String, expected: String, actual: String, hint: &str| {
        Some(Verdict::fail(format!("{}: {what}", call.method)).expected(expected).actual(actual).hint(hint))
    };
    if call.error_code == Some(25) {
        let why = sign_diagnosis(p, call);
        return fail(
            format!("the gateway answered 25 Invalid signature ({why})"),
            "a sign computed with the app secret (§4.4)".into(),
            why,
            "sign TOP calls with the app secret; the notify key only verifies notifications (FAQ 2.14, 2.29, 2.13)",
        );
    }
    if call.param("app_key") != Some(m.app_key.as_str()) {
        return fail(
            "wrong app_key".into(),
            format!("app_key={}", m.app_key),
            format!("app_key={}", call.param("app_key").unwrap_or("(absent)")),
            "use the app granted the e-voucher APIs (FAQ 2.15, 2.19)",
        );
    }
    // The platform shows sessions masked (INTERFACES §1 "Secrets in answers"); a mask can match another session of
    // the same length and first characters, but the gateway refused that one: 26 missing, 27 not this app's.
    let session = Some(m.session.as_str());
    let masked = protocol::Secret::new(m.session.clone()).masked();
    let sent = call.param("session");
    if (sent != session && sent != Some(masked.as_str())) || matches!(call.error_code, Some(26 | 27)) {
        return fail(
            "missing or wrong session".into(),
            "the merchant's session key".into(),
            if call.param("session").is_some() { "another session".into() } else { "(absent)".into() },
            "pass the SessionKey (top_session) on every e-voucher call (FAQ 2.5, 2.6)",
        );
    }
    if call.param("v") != Some("2.0") {
        return fail(
            "wrong v".into(),
            "v=2.0".into(),
            format!("v={}", call.param("v").unwrap_or("(absent)")),
            "TOP calls carry v=2.0 (FAQ 2.13)",
        );
    }
    let fresh = protocol::time::check_timestamp_param(call.param("timestamp"), Utc::now());
    if let Err(e) = fresh {
        return fail(
            "timestamp not fresh".into(),
            "a timestamp within 10 minutes of the platform's clock, GMT+8".into(),
            e.to_string(),
            "send the current time as yyyy-MM-dd HH:mm:ss in GMT+8 (FAQ 2.13)",
        );
    }
    // The APIs that take `token` (PROTOCOL §5.0 B4).
    let token_apis = ["send", "resend", "consume", "beforeconsume", "reverse"];
    let takes_token = token_apis.iter().any(|api| call.method == format!("taobao.vmarket.eticket.{api}"));
    if takes_token && call.param("token") != Some(token) {
        return fail(
            "token not echoed".into(),
            format!("token={token}"),
            format!("token={}", call.param("token").unwrap_or("(absent)")),
            "echo the notification's token param unchanged (PROTOCOL §1.2)",
        );
    }
    if let Some(code) = call.error_code
        && !call.injected()
        && code != 15
        && code != 7
    {
        let text = call.error_text().unwrap_or_default();
        return fail(
            format!("the gateway refused the call: {text}"),
            "a call passing the gateway's system checks (§4.9)".into(),
            text,
            "see PROTOCOL §4.8 for the code",
        );
    }
    None
}

/// Why a sign did not match: the notify key in place of the app secret (the platform's own diagnosis, C9),
/// or another common mistake the signing tool's diagnosis reproduces (`sign::diagnose`).
fn sign_diagnosis(p: &Probe, call: &GatewayCall) -> String {
    let m = &p.ctx.merchant;
    if call.sign_diagnosis.as_deref() == Some("notify_key") {
        return "signed with the notify key instead of the app secret".into();
    }
    let Some(sent) = call.param("sign") else { return "no sign param".into() };
    // The platform shows the session masked (INTERFACES §1); the sign was computed over the merchant's own.
    let masked = protocol::Secret::new(m.session.clone()).masked();
    let params: Vec<(&str, &str)> = call
        .params
        .iter()
        .filter(|(n, _)| n != "sign")
        .map(|(n, v)| (n.as_str(), if n == "session" && *v == masked { m.session.as_str() } else { v.as_str() }))
        .collect();
    let declared = SignMethod::of_params(params.iter().copied()).unwrap_or(SignMethod::Md5);
    match crate::sign::diagnose::diagnose_top(&m.app_secret, Some(&m.notify_key), declared, &params, sent) {
        Some(d) if d.contains(crate::sign::diagnose::Mistake::NotifyKeyAsAppSecret) => {
            format!("signed with the notify key instead of the app secret; {d}")
        }
        Some(d) => d.to_string(),
        None => "the sign matches no common mistake with the app secret or the notify key".into(),
    }
}
