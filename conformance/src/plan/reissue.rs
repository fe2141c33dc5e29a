//! C6: `resend` and `modified`: the ack and the `eticket.resend` that follows must pair up: `{"code":200}`
//! with exactly the usable codes, unchanged; `{"code":300}` with a different set summing to `left_num`.

use std::sync::Arc;

use protocol::{AckReply, NotifyMethod};

use crate::outcome::Verdict;
use crate::plan::judge::{
    ETICKET_RESEND, acked_message, attempts, await_attempt, await_issued, code_set, judge_ack, show_set,
};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::Exchange;

pub async fn resend(p: Arc<Probe>) -> CheckResult {
    pairing(p, NotifyMethod::Resend).await
}

pub async fn modified(p: Arc<Probe>) -> CheckResult {
    pairing(p, NotifyMethod::Modified).await
}

async fn pairing(p: Arc<Probe>, method: NotifyMethod) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    if let Err(verdict) = await_issued(&p, order.order_id).await? {
        return Ok(verdict);
    }
    let view = p.order(order.order_id).await?;
    let usable = view.usable_set();
    let before = attempts(&p.exchanges(order.order_id).await?, method).len();
    p.note(Some(order.order_id), format!("suite: buyer asks for {method}"));
    match method {
        NotifyMethod::Modified => p.platform().modify_mobile(order.order_id, "13900000000").await?,
        _ => p.platform().resend(order.order_id).await?,
    }
    let Some((at, attempt)) = await_attempt(&p, order.order_id, method, before).await? else {
        return Ok(Verdict::error(format!("the platform recorded no {method} attempt")));
    };
    let reply = match judge_ack(&attempt, method, p.windows().ack_deadline) {
        Ok(reply) => reply,
        Err(verdict) => return Ok(verdict),
    };
    let window = p.windows().callback;
    let call = p
        .wait_for(order.order_id, window, |ex| {
            ex.iter().skip(at + 1).find_map(|e| match e {
                Exchange::Gateway(g) if g.method == ETICKET_RESEND && g.succeeded() => Some(g.clone()),
                _ => None,
            })
        })
        .await?;
    let Some(call) = call else {
        return Ok(Verdict::fail(format!(
            "no successful eticket.resend within {} s of acknowledging {method}",
            window.as_secs_f64()
        ))
        .expected("taobao.vmarket.eticket.resend with all usable codes")
        .actual(crate::plan::judge::describe_calls(&crate::plan::judge::calls(
            &p.exchanges(order.order_id).await?,
            ETICKET_RESEND,
        )))
        .hint("after acknowledging resend or modified, call eticket.resend, then send the SMS (FAQ 2.27)"));
    };
    let sent = code_set(&call).unwrap_or_default();
    let left: u64 = usable.iter().map(|(_, n)| u64::from(*n)).sum();
    let sum: u64 = sent.iter().map(|(_, n)| u64::from(*n)).sum();
    Ok(match reply {
        AckReply::Code300 if sent == usable => Verdict::fail(format!("{method} answered {{\"code\":300}} (codes regenerated) but re-sent the same codes"))
            .expected("a different set of codes summing to left_num")
            .actual(show_set(&sent))
            .hint("answer {\"code\":200} when the codes are unchanged, {\"code\":300} only when new ones were generated (FAQ 2.26)"),
        AckReply::Code300 if sum != left => Verdict::fail("the new codes do not add up to left_num")
            .expected(format!("counts summing to {left}"))
            .actual(format!("{} (sum {sum})", show_set(&sent)))
            .hint("eticket.resend must carry all usable codes (需要包含此订单所有可用的码)"),
        AckReply::Code300 => Verdict::pass(format!("{}; eticket.resend with new codes {}", acked_message(method, &attempt, &reply), show_set(&sent))),
        _ if sent != usable => Verdict::fail(format!("{method} answered {{\"code\":200}} (codes unchanged) but reported different codes"))
            .expected(show_set(&usable))
            .actual(show_set(&sent))
            .hint("after {\"code\":200} re-send exactly the usable codes and counts; if you regenerate them answer {\"code\":300} (FAQ 2.26)"),
        _ => Verdict::pass(format!("{}; eticket.resend with the same codes {}", acked_message(method, &attempt, &reply), show_set(&sent))),
    })
}
