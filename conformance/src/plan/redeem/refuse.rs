//! C12: the platform decides. A redemption the platform refuses (or would refuse) is reported to the clerk as
//! refused, never redeemed beyond what the platform allowed, and a terminal refusal is not hammered.

use std::sync::Arc;

use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{await_attempt, calls};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{FaultAnswer, GatewayFault, PlatformError};

use super::once::short_sub;
use super::{CONSUME, HookAnswer, Ticket, c9, is_terminal, show_calls, ticket};

/// (a) a used-up code: redeem all 4 units, then 1 more.
pub async fn used_up(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let all = t.consume(&p, t.units).await;
    if !all.is_2xx() {
        return Ok(Verdict::skip(format!(
            "precondition not met: redeeming the whole code failed ({}; see C11.redeem.uses-up)",
            all.describe()
        )));
    }
    let before = calls(&p.exchanges(t.order_id).await?, CONSUME).len();
    let answer = t.consume(&p, 1).await;
    judge(&p, &t, &[answer], before, 0, "a used-up code").await
}

/// (b) a code voided by a refund whose `cancel` the merchant acknowledged.
pub async fn refunded(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    p.platform().refund(t.order_id).await?;
    p.note(Some(t.order_id), "suite: refunded the order (cancel)");
    let acked = await_attempt(&p, t.order_id, NotifyMethod::Cancel, 0).await?.is_some_and(|(_, a)| a.acked());
    if !acked {
        return Ok(Verdict::skip("precondition not met: cancel was not acknowledged (see C7.cancel.no-callback)"));
    }
    let answer = t.consume(&p, 1).await;
    judge(&p, &t, &[answer], 0, 0, "a code voided by a refund").await
}

/// (c) more units than the code has left.
pub async fn overflow(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let answer = t.consume(&p, t.units + 1).await;
    judge(&p, &t, &[answer], 0, 0, "more units than the code has left").await
}

/// How many times (d) injects the refusal: enough that no retry can succeed (PROTOCOL §6.1: ≥ 5).
const REFUSALS: u32 = 8;

/// (d) an injected terminal refusal on `consume` while the merchant's own records say the code is usable.
pub async fn platform_refusal(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let sub = protocol::SubCode::CodeNotAvailable;
    let fault = GatewayFault {
        method: CONSUME.into(),
        times: REFUSALS,
        answer: FaultAnswer {
            code: 15,
            msg: "Remote service error".into(),
            sub_code: Some(sub.sub_code().into()),
            sub_msg: Some(sub.sub_msg().into()),
        },
    };
    let fault_id = p.platform().gateway_fault(t.order_id, &fault).await?;
    p.note(Some(t.order_id), format!("suite: armed {} on every consume of the order", sub.sub_code()));
    let answer = t.consume(&p, 2).await;
    let verdict = judge(&p, &t, &[answer], 0, 0, "an injected code-not-available").await;
    let _ = p.platform().delete_fault(&fault_id).await;
    let verdict = verdict?;
    // The merchant's records say usable: refusing without asking the platform is not what (d) is about.
    let asked = !calls(&p.exchanges(t.order_id).await?, CONSUME).is_empty();
    Ok(match (verdict.outcome, asked) {
        (crate::outcome::Outcome::Pass, false) => {
            Verdict::fail("the hook refused a code its own records say is usable, without calling the platform")
                .hint("a code the merchant holds as usable is redeemed through eticket.consume (FAQ 2.8)")
        }
        _ => verdict,
    })
}

/// (e) two concurrent redemptions of a code's last unit: exactly one is redeemed.
pub async fn last_unit_race(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 1, 1).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let (a, b) = tokio::join!(t.consume(&p, 1), t.consume(&p, 1));
    let answers = [a, b];
    if !answers.iter().any(HookAnswer::is_2xx) {
        return Ok(Verdict::fail(format!(
            "neither of two concurrent redemptions of the last unit was redeemed: {} / {}",
            answers[0].describe(),
            answers[1].describe()
        ))
        .hint("one of them must win: the platform decides which (FAQ 2.8)"));
    }
    judge(&p, &t, &answers, 0, 1, "two concurrent redemptions of the last unit").await
}

/// Judges hook `answers` given on the ticket's order since `calls_before` consume calls, where the platform
/// may have redeemed `may_redeem` of them: the rest must be refused (not `outcome_unknown`), nothing redeemed
/// beyond, and at most one more consume per refused request after a terminal answer (within the quiet window).
async fn judge(
    p: &Probe,
    t: &Ticket,
    answers: &[HookAnswer],
    calls_before: usize,
    may_redeem: usize,
    case: &str,
) -> Result<crate::outcome::Verdict, PlatformError> {
    let refused = answers.len() - may_redeem;
    let quiet = p.windows().quiet;
    // Waits out the quiet window, ending early once the verdict can only be a failure.
    let early = p
        .wait_for(t.order_id, quiet, |ex| {
            let new: Vec<_> = calls(ex, CONSUME).into_iter().skip(calls_before).collect();
            (new.iter().filter(|c| c.succeeded()).count() > may_redeem || hammered(&new) > refused).then(|| ex.to_vec())
        })
        .await?;
    let ex = match early {
        Some(ex) => ex,
        None => p.exchanges(t.order_id).await?,
    };
    if let Some(v) = c9(p, t, &ex) {
        return Ok(v);
    }
    let new: Vec<_> = calls(&ex, CONSUME).into_iter().skip(calls_before).collect();
    let redeemed_new = new.iter().filter(|c| c.succeeded()).count();
    let shown = show_calls(&new);
    let told: Vec<String> = answers.iter().map(HookAnswer::describe).collect();
    if redeemed_new > may_redeem {
        return Ok(Verdict::fail(format!("{case}: {redeemed_new} unit(s) redeemed beyond what the platform allowed"))
            .expected(format!("at most {may_redeem} successful consume(s)"))
            .actual(shown)
            .hint("the platform decides; never redeem again to settle a doubt (FAQ 2.8)"));
    }
    let extra = hammered(&new);
    if extra > refused {
        let first = new.iter().find(|c| is_terminal(c)).and_then(|c| c.sub_code()).map(short_sub).unwrap_or("refusal");
        return Ok(Verdict::fail(format!(
            "{case}: {extra} more consume calls after a terminal {first}: a terminal refusal was hammered"
        ))
        .expected(format!("at most {refused} more call(s) after a terminal sub_code"))
        .actual(shown)
        .hint("a terminal sub_code is the platform's decision: tell the clerk it was refused (PROTOCOL §6.1 C12)"));
    }
    let said_redeemed = answers.iter().filter(|a| a.is_2xx()).count();
    if said_redeemed > redeemed_new {
        let refusal = new.iter().rev().find(|c| c.error_code.is_some()).and_then(|c| c.sub_code());
        let message = match (new.is_empty(), refusal) {
            (true, _) => {
                format!("{case}: hook answered 2xx but no consume reached the platform: redeemed from local records")
            }
            (false, Some(sub)) => format!("{case}: hook answered 2xx but the platform refused with {}", short_sub(sub)),
            (false, None) => format!("{case}: hook answered 2xx for more redemptions than the platform made"),
        };
        return Ok(Verdict::fail(message)
            .expected(format!("{refused} refusal(s): a non-2xx answer"))
            .actual(format!("hook: {}; gateway: {shown}", told.join(" / ")))
            .hint("complete the transaction according to the platform's answer, not local records (FAQ 2.8)"));
    }
    if let Some(bad) = answers.iter().find(|a| !a.is_2xx() && !matches!(a, HookAnswer::Refused { .. })) {
        let message = match bad {
            HookAnswer::OutcomeUnknown { .. } => {
                format!("{case}: hook answered outcome_unknown to a refusal the platform stated (or would state)")
            }
            other => format!("{case}: {}", other.describe()),
        };
        return Ok(Verdict::fail(message)
            .expected("a plain refusal: non-2xx, kind other than outcome_unknown")
            .actual(format!("hook: {}; gateway: {shown}", told.join(" / ")))
            .hint("outcome_unknown is only for a lost answer; a stated refusal is final (INTERFACES §4)"));
    }
    let left = t.left(p).await?;
    Ok(Verdict::pass(format!("{case}: hook {}; gateway: {shown}; {left} unit(s) left on the code", told.join(" / "))))
}

/// Consume calls after the first terminal refusal among `new`.
fn hammered(new: &[&crate::platform_client::GatewayCall]) -> usize {
    new.iter().position(|c| is_terminal(c)).map_or(0, |i| new.len() - i - 1)
}
