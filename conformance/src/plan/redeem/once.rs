//! C11: asked to redeem `num` units of a usable code, the merchant redeems them through the platform, once,
//! with a serial, and tells the clerk that serial.

use std::sync::Arc;
use std::time::Duration;

use crate::outcome::Verdict;
use crate::plan::judge::calls;
use crate::plan::{CheckResult, Probe};
use crate::platform_client::PlatformError;

use super::{CONSUME, HookAnswer, Ticket, c9, code_merchant_params, settle, show_calls, ticket};

/// How long after a 2xx the suite still looks for the consume (a merchant may answer before its call is
/// recorded; the platform records a call before it answers it, so this is only a margin).
const GRACE: Duration = Duration::from_secs(2);

/// C11's first redemption: 2 units of a code holding 4, so a merchant sending `consume_num` 1 is seen.
pub async fn first(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let answer = t.consume(&p, 2).await;
    judge(&p, &t, 2, &answer, 0, t.units).await
}

/// C11's second redemption: the rest of the code after a first one (`PARTLY_CONSUMED` → `CONSUMED`).
pub async fn uses_up(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let first = t.consume(&p, 2).await;
    if !first.is_2xx() {
        return Ok(Verdict::skip(format!(
            "precondition not met: the first redemption was not made ({}; see C11.redeem.first)",
            first.describe()
        )));
    }
    let ex = settle(&p, t.order_id, CONSUME, 1, GRACE).await?;
    let before = calls(&ex, CONSUME).len();
    let left = t.left(&p).await?;
    let answer = t.consume(&p, left).await;
    let verdict = judge(&p, &t, left, &answer, before, left).await?;
    if verdict.outcome != crate::outcome::Outcome::Pass {
        return Ok(verdict);
    }
    let state = p.order(t.order_id).await?.state;
    Ok(if state == "CONSUMED" {
        Verdict::pass(format!("{} — the code is used up and the order CONSUMED", verdict.message))
    } else {
        Verdict::fail(format!("the code was redeemed to 0 but the order is {state}, not CONSUMED"))
    })
}

/// Judges one redemption of `num` units asked when the code held `left_before` and the order had
/// `calls_before` consume calls: exactly one applied consume with the right params, the hook's serial, the
/// count down by `num`.
pub async fn judge(
    p: &Probe,
    t: &Ticket,
    num: u32,
    answer: &HookAnswer,
    calls_before: usize,
    left_before: u32,
) -> Result<Verdict, PlatformError> {
    let ex = match answer {
        HookAnswer::Redeemed { .. } => settle(p, t.order_id, CONSUME, 1, GRACE).await?,
        _ => p.exchanges(t.order_id).await?,
    };
    if let Some(v) = c9(p, t, &ex) {
        return Ok(v);
    }
    let all = calls(&ex, CONSUME);
    let new: Vec<_> = all.iter().skip(calls_before).copied().collect();
    let applied: Vec<_> = new.iter().copied().filter(|c| c.succeeded()).collect();
    let shown = show_calls(&new);
    let hint_once = "redeem through eticket.consume once, with a serial_num drawn and stored before the call; \
                     a retry reuses it (FAQ 2.8, PROTOCOL §6.1 C11)";
    let call = match applied.as_slice() {
        [] => {
            let (message, hint) = match (answer.is_2xx(), new.last()) {
                (true, None) => (
                    "hook answered 2xx but no consume reached the platform: redeemed from local records".to_owned(),
                    "the platform decides: call eticket.consume and answer from its reply (FAQ 2.8)",
                ),
                (true, Some(refused)) => (
                    format!(
                        "hook answered 2xx but the platform refused with {}",
                        refused.sub_code().map(short_sub).unwrap_or("an error")
                    ),
                    "complete the transaction according to the platform's answer (FAQ 2.8)",
                ),
                (false, _) => {
                    (format!("a usable code was not redeemed: the hook answered {}", answer.describe()), hint_once)
                }
            };
            return Ok(Verdict::fail(message)
                .expected(format!("one successful eticket.consume of {num} unit(s) and a 2xx hook answer"))
                .actual(format!("hook {}; gateway: {shown}", answer.describe()))
                .hint(hint));
        }
        [one] => *one,
        several => {
            let serials: std::collections::BTreeSet<_> = several.iter().map(|c| c.param("serial_num")).collect();
            let message = if serials.len() > 1 {
                "a second consume with a new serial redeemed the code twice".to_owned()
            } else {
                format!("{} successful consumes for one redemption", several.len())
            };
            return Ok(Verdict::fail(message)
                .expected("exactly one successful eticket.consume per redemption")
                .actual(shown)
                .hint(hint_once));
        }
    };
    let fail = |what: String, expected: String, actual: String| {
        Verdict::fail(what).expected(expected).actual(actual).hint(hint_once)
    };
    if call.param("verify_code") != Some(t.code.as_str()) {
        return Ok(fail(
            "the consume named another code".into(),
            format!("verify_code={}", t.code),
            format!("verify_code={}", call.param("verify_code").unwrap_or("(absent)")),
        ));
    }
    let sent_num = call.param("consume_num").unwrap_or("(absent)");
    if sent_num != num.to_string() {
        return Ok(fail(format!("consume_num {sent_num}, asked {num}"), format!("consume_num={num}"), shown));
    }
    let Some(serial) = call.param("serial_num") else {
        return Ok(fail(
            "the consume carried no serial_num: a retry after a lost answer could redeem twice".into(),
            "a serial_num drawn before the call".into(),
            shown,
        ));
    };
    if let Some(v) = code_merchant_params(p, t, call) {
        return Ok(v);
    }
    match answer {
        HookAnswer::Redeemed { serial: told } if told == serial => {}
        HookAnswer::Redeemed { serial: told } => {
            return Ok(fail(
                format!("hook answered serial_num {told}, but the platform redeemed serial_num {serial}"),
                format!("{{\"serial_num\": \"{serial}\"}}"),
                answer.describe(),
            ));
        }
        other => {
            return Ok(Verdict::fail(format!(
                "the platform redeemed {num} unit(s) (serial_num {serial}) but the hook answered {}",
                other.describe()
            ))
            .expected(format!("2xx {{\"serial_num\": \"{serial}\"}}"))
            .actual(other.describe())
            .hint(
                "tell the clerk what the platform did: 2xx with the serial once the consume succeeded (INTERFACES §4)",
            ));
        }
    }
    let left = t.left(p).await?;
    if left_before.checked_sub(num) != Some(left) {
        return Ok(fail(
            format!("the code's count went from {left_before} to {left}, asked {num}"),
            format!("{} left", left_before.saturating_sub(num)),
            format!("{left} left"),
        ));
    }
    Ok(Verdict::pass(format!(
        "redeemed {num} of {left_before} unit(s) in one consume with serial_num {serial}; the hook answered 2xx with it"
    )))
}

/// `code-not-available` for `isv.eticket-consume-error:code-not-available`.
pub fn short_sub(sub: &str) -> &str {
    sub.rsplit(':').next().unwrap_or(sub)
}
