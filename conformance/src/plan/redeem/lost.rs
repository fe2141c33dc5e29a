//! C13: never twice. The platform applies a consume and loses its answer (`lost_answer`, INTERFACES §1.1):
//! the units are not redeemed again, and the clerk is not told "refused".

use std::sync::Arc;

use crate::outcome::Verdict;
use crate::plan::judge::calls;
use crate::plan::{CheckResult, Probe};

use super::{CONSUME, HookAnswer, applied, c9, show_calls, ticket};

/// Units redeemed; the code holds at least twice as many, so a second redemption would show (PROTOCOL §6.1).
const NUM: u32 = 2;

/// The answer lost as `form`: `close` (no HTTP response) or `transient` (15 isp.top-remote-connection-timeout).
pub async fn lost_answer(p: Arc<Probe>, form: &'static str) -> CheckResult {
    let t = match ticket(&p, 2 * NUM, 2 * NUM).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let fault_id = p.platform().lost_answer(t.order_id, CONSUME, form, 1).await?;
    p.note(Some(t.order_id), format!("suite: armed lost_answer {form} on the order's next consume"));
    let answer = t.consume(&p, NUM).await;
    let twice =
        p.wait_for(t.order_id, p.windows().quiet, |ex| (applied(ex, CONSUME).len() > 1).then(|| ex.to_vec())).await?;
    let _ = p.platform().delete_fault(&fault_id).await;
    let ex = match twice {
        Some(ex) => ex,
        None => p.exchanges(t.order_id).await?,
    };
    if let Some(v) = c9(&p, &t, &ex) {
        return Ok(v);
    }
    let all = calls(&ex, CONSUME);
    let shown = show_calls(&all);
    let hint = "draw the serial_num before the call and retry with the same one: duplicate-consume-serial-num \
                then means it went through; if still unsure, answer outcome_unknown and settle from oplogs.get \
                (PROTOCOL §6.1 C13)";
    let Some(lost) = all.iter().find(|c| c.answer_lost.is_some()) else {
        return Ok(Verdict::fail(format!("no consume reached the platform: the hook answered {}", answer.describe()))
            .expected(format!("an eticket.consume of {NUM} unit(s)"))
            .actual(shown)
            .hint("redeem through eticket.consume (FAQ 2.8)"));
    };
    let redeemed = applied(&ex, CONSUME);
    if redeemed.len() > 1 {
        let first_serial = lost.param("serial_num");
        let message = if first_serial.is_none() {
            "a blind retry without serial_num redeemed the code twice"
        } else if redeemed.iter().any(|c| c.param("serial_num") != first_serial) {
            "a second consume with a new serial redeemed the code twice"
        } else {
            "the code was redeemed twice"
        };
        return Ok(Verdict::fail(format!("after a lost answer ({form}), {message}"))
            .expected(format!("the code's count down by exactly {NUM}"))
            .actual(shown)
            .hint(hint));
    }
    let left = t.left(&p).await?;
    if left + NUM != t.units {
        return Ok(Verdict::fail(format!(
            "after a lost answer ({form}) the code's count went from {} to {left}, asked {NUM}",
            t.units
        ))
        .actual(shown)
        .hint(hint));
    }
    match &answer {
        HookAnswer::Redeemed { .. } | HookAnswer::OutcomeUnknown { .. } => Ok(Verdict::pass(format!(
            "the answer to a consume was lost ({form}); redeemed once ({shown}); the hook answered {}",
            answer.describe()
        ))),
        HookAnswer::Refused { .. } => Ok(Verdict::fail(format!(
            "the hook answered \"refused\" after a lost answer ({form}), but the consume had gone through"
        ))
        .expected("2xx with the serial, or outcome_unknown with it")
        .actual(format!("hook {}; gateway: {shown}", answer.describe()))
        .hint(hint)),
        HookAnswer::Broken(why) => Ok(Verdict::fail(format!("after a lost answer ({form}) the hook gave {why}"))
            .expected("2xx with the serial, or outcome_unknown with it, within the POS deadline")
            .actual(shown)
            .hint(hint)),
    }
}
