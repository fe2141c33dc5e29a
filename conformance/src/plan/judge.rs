//! Shared judgements: finding attempts and calls in an order's exchanges, and reading an acknowledgement.

use std::time::Duration;

use protocol::{AckReply, NearMiss, NotifyMethod, VerifyCodes};

use crate::outcome::Verdict;
use crate::plan::Probe;
use crate::platform_client::{Exchange, GatewayCall, NotificationAttempt, PlatformError};

pub const ETICKET_SEND: &str = "taobao.vmarket.eticket.send";
pub const ETICKET_RESEND: &str = "taobao.vmarket.eticket.resend";

/// The notification attempts of `method`, in order.
pub fn attempts(ex: &[Exchange], method: NotifyMethod) -> Vec<&NotificationAttempt> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Notification(n) if n.method == method.as_str() => Some(n),
            _ => None,
        })
        .collect()
}

/// The gateway calls of `api`, in order.
pub fn calls<'a>(ex: &'a [Exchange], api: &str) -> Vec<&'a GatewayCall> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Gateway(g) if g.method == api => Some(g),
            _ => None,
        })
        .collect()
}

/// Every gateway call, whatever the API.
pub fn all_calls(ex: &[Exchange]) -> Vec<&GatewayCall> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Gateway(g) => Some(g),
            _ => None,
        })
        .collect()
}

/// Position in `ex` of the first finished attempt of `method` after the first `skip` ones.
pub fn finished_attempt(ex: &[Exchange], method: NotifyMethod, skip: usize) -> Option<(usize, NotificationAttempt)> {
    ex.iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Exchange::Notification(n) if n.method == method.as_str() => Some((i, n)),
            _ => None,
        })
        .nth(skip)
        .filter(|(_, n)| n.finished())
        .map(|(i, n)| (i, n.clone()))
}

/// Waits for the first finished attempt of `method` after `skip` earlier ones (the deadline plus a margin).
pub async fn await_attempt(
    p: &Probe,
    order_id: i64,
    method: NotifyMethod,
    skip: usize,
) -> Result<Option<(usize, NotificationAttempt)>, PlatformError> {
    let within = p.windows().ack_deadline + Duration::from_secs(2);
    p.wait_for(order_id, within, |ex| finished_attempt(ex, method, skip)).await
}

/// Judges one attempt's reply as an acknowledgement of `method` (C1): `Ok` when it acknowledges.
pub fn judge_ack(attempt: &NotificationAttempt, method: NotifyMethod, deadline: Duration) -> Result<AckReply, Verdict> {
    let expected = if method.allows_code_300() {
        r#"{"code":200} or {"code":300}, exactly, with a 2xx status"#
    } else {
        r#"exactly {"code":200} with a 2xx status"#
    };
    let Some(reply) = attempt.classify().filter(|_| attempt.error.is_none() || attempt.status.is_some()) else {
        let why = attempt.error.clone().or_else(|| attempt.verdict.clone()).unwrap_or_else(|| "no reply".into());
        return Err(Verdict::fail(format!("{method} got no complete reply: {why}"))
            .expected(format!("{expected} within {} s", deadline.as_secs_f64()))
            .actual(why)
            .hint("answer the notification at once, before any slow work or callback (FAQ 2.26, 2.27)"));
    };
    if reply.acknowledges(method) {
        return Ok(reply);
    }
    let body = attempt.reply.clone().unwrap_or_default();
    let actual = format!("HTTP {} {}", attempt.status.unwrap_or(0), crate::quote::quoted(&body));
    let (message, hint) = match &reply {
        AckReply::Code300 => (
            format!("{method} answered {{\"code\":300}}, which only resend and modified may use"),
            "answer {\"code\":200}; {\"code\":300} means codes were regenerated (FAQ 2.26)".to_owned(),
        ),
        AckReply::NotAck(NearMiss::OtherCode(code)) => (
            format!("{method} was rejected with code {code}, although it was genuine and validly signed"),
            "check the notify key, and sign the GBK bytes of every received param, unknown ones included, \
             sorted by name, the key in front only (FAQ 2.25, 2.14)"
                .to_owned(),
        ),
        AckReply::NotAck(near) => (format!("{method} was not acknowledged: {near}"), near_miss_hint(near)),
        AckReply::Code200 => unreachable!("code 200 acknowledges every method"),
    };
    Err(Verdict::fail(message).expected(expected).actual(actual).hint(hint))
}

fn near_miss_hint(near: &NearMiss) -> String {
    match near {
        NearMiss::Whitespace | NearMiss::Bom | NearMiss::Spacing | NearMiss::StringCode => {
            format!("{near}; write the 12 bytes {{\"code\":200}} and nothing else (FAQ 2.26: 不要有其他字符)")
        }
        NearMiss::Html => {
            "the notify URL served a page: check the route and the framework's error handler (FAQ 2.31)".into()
        }
        NearMiss::Status(_) => "answer with a 2xx status (FAQ 2.26)".into(),
        _ => "answer exactly {\"code\":200} (FAQ 2.26)".into(),
    }
}

/// A pass message for an acknowledgement, with its latency.
pub fn acked_message(method: NotifyMethod, attempt: &NotificationAttempt, reply: &AckReply) -> String {
    let code = match reply {
        AckReply::Code300 => "{\"code\":300}",
        _ => "{\"code\":200}",
    };
    match attempt.duration_ms {
        Some(ms) => format!("{method} acknowledged with {code} in {ms} ms"),
        None => format!("{method} acknowledged with {code}"),
    }
}

/// Waits for the order's `send` to be acknowledged and codes to be issued (a successful `eticket.send`):
/// the precondition of C5, C6, C7, C10. `Err(verdict)` is a skip naming the check that judges the cause.
pub async fn await_issued(p: &Probe, order_id: i64) -> Result<Result<GatewayCall, Verdict>, PlatformError> {
    let Some((_, attempt)) = await_attempt(p, order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Err(Verdict::error("the platform recorded no send attempt")));
    };
    if !attempt.acked() {
        return Ok(Err(Verdict::skip("precondition not met: send was not acknowledged (see C1.send.ack)")));
    }
    let issued = p
        .wait_for(order_id, p.windows().callback, |ex| {
            calls(ex, ETICKET_SEND).into_iter().find(|c| c.succeeded()).cloned()
        })
        .await?;
    Ok(issued.ok_or_else(|| Verdict::skip("precondition not met: no codes were issued (see C3.send.callback)")))
}

/// `verify_codes` of a call as sorted `code:count` pairs.
pub fn code_set(call: &GatewayCall) -> Option<Vec<(String, u32)>> {
    let codes = VerifyCodes::parse(call.param("verify_codes")?).ok()?;
    Some(codes.as_sorted_set().into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect())
}

/// `a:1,b:2` for a report.
pub fn show_set(set: &[(String, u32)]) -> String {
    set.iter().map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>().join(",")
}

/// One line per call: `api → ok` or `api → 15 isv.…`.
pub fn describe_calls(calls: &[&GatewayCall]) -> String {
    if calls.is_empty() {
        return "no call".into();
    }
    calls
        .iter()
        .map(|c| match c.error_text() {
            None => format!("{} → ok", c.method),
            Some(e) => format!("{} → {e}", c.method),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn attempt(status: Option<u16>, body: &str, acknowledged: bool, error: Option<&str>) -> NotificationAttempt {
        NotificationAttempt {
            method: "send".into(),
            notification: 1,
            attempt: 1,
            at: None,
            params: Vec::new(),
            alteration: None,
            duplicate: false,
            status,
            reply: status.map(|_| body.to_owned()),
            verdict: Some(if acknowledged { "ack_200" } else { "not_ack" }.into()),
            acknowledged,
            error: error.map(str::to_owned),
            duration_ms: Some(3),
        }
    }

    /// Judges one reply to `method` and returns (acknowledged, the verdict's text).
    fn check(method: NotifyMethod, status: Option<u16>, body: &str, error: Option<&str>) -> (bool, String) {
        let acknowledged = status.is_some_and(|s| AckReply::classify(s, body.as_bytes()).acknowledges(method));
        match judge_ack(&attempt(status, body, acknowledged, error), method, Duration::from_secs(5)) {
            Ok(_) => (true, String::new()),
            Err(v) => {
                assert_eq!(v.outcome, Outcome::Fail);
                assert!(v.expected.is_some() && v.actual.is_some() && v.hint.is_some(), "{v:?}");
                (false, format!("{v:?}"))
            }
        }
    }

    #[test]
    fn exact_acks_pass_and_every_near_miss_is_named_with_a_hint() {
        let send = NotifyMethod::Send;
        assert!(check(send, Some(200), r#"{"code":200}"#, None).0);
        assert!(check(NotifyMethod::Resend, Some(200), r#"{"code":300}"#, None).0);
        // (status, body, transport error, what the verdict must mention), all replies to `send`.
        type Case<'a> = (Option<u16>, &'a str, Option<&'a str>, &'a str);
        let cases: [Case; 7] = [
            (Some(200), "{\"code\":200}\n", None, "FAQ 2.26: 不要有其他字符"),
            (Some(200), r#"{"code":"200"}"#, None, "must be the number 200"),
            (Some(200), r#"{"code": 200}"#, None, "compares bytes"),
            (Some(500), r#"{"code":200}"#, None, "2xx status"),
            (Some(200), r#"{"code":501}"#, None, "GBK bytes of every received param"),
            (Some(200), r#"{"code":300}"#, None, "only resend and modified"),
            (None, "", Some("timeout"), "no complete reply"),
        ];
        for (status, body, error, mentions) in cases {
            let (acked, text) = check(send, status, body, error);
            assert!(!acked, "{body:?}");
            assert!(text.contains(mentions), "{body:?} should mention {mentions:?}: {text}");
        }
    }

    #[test]
    fn code_sets_compare_regardless_of_order() {
        let call = |codes: &str| GatewayCall {
            method: ETICKET_SEND.into(),
            at: None,
            params: vec![("verify_codes".into(), codes.into())],
            response: String::new(),
            error_code: None,
            sub_code: None,
            fault: None,
            held_ms: None,
            causality: None,
            sign_diagnosis: None,
            duration_ms: None,
            answer_lost: None,
        };
        assert_eq!(code_set(&call("b:1,a:2")), code_set(&call("a:2,b:1")));
        assert_ne!(code_set(&call("a:1,b:2")), code_set(&call("a:2,b:1")));
        assert_eq!(code_set(&call("a：1")), None, "full-width punctuation is not well-formed");
        assert_eq!(show_set(&code_set(&call("b:1,a:2")).unwrap()), "a:2,b:1");
    }
}
