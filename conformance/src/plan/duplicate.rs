//! C5: a repeated `send` (same order, same token) is acknowledged again and yields no new codes.

use std::sync::Arc;

use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{
    ETICKET_RESEND, ETICKET_SEND, acked_message, attempts, await_attempt, await_issued, code_set, judge_ack, show_set,
};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::Exchange;

pub async fn duplicate_send(p: Arc<Probe>) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    let issued = match await_issued(&p, order.order_id).await? {
        Ok(call) => call,
        Err(verdict) => return Ok(verdict),
    };
    let issued_set = code_set(&issued).unwrap_or_default();
    let before = attempts(&p.exchanges(order.order_id).await?, NotifyMethod::Send).len();
    p.note(Some(order.order_id), "suite: duplicate the acknowledged send (§2.4)");
    p.platform().duplicate(order.order_id).await?;
    let Some((at, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::Send, before).await? else {
        return Ok(Verdict::error("the platform recorded no duplicate send attempt"));
    };
    let reply = match judge_ack(&attempt, NotifyMethod::Send, p.windows().ack_deadline) {
        Ok(reply) => reply,
        Err(verdict) => {
            return Ok(verdict.hint(
                "a repeated send (same order_id and token) must be acknowledged again, then ignored (FAQ 2.26)",
            ));
        }
    };
    let quiet = p.windows().quiet;
    let changed = p
        .wait_for(order.order_id, quiet, |ex| {
            ex.iter().skip(at + 1).find_map(|e| match e {
                Exchange::Gateway(g) if g.method == ETICKET_RESEND => Some(format!("{} called", g.method)),
                Exchange::Gateway(g) if g.method == ETICKET_SEND => {
                    let set = code_set(g).unwrap_or_default();
                    (set != issued_set).then(|| format!("eticket.send with {}", show_set(&set)))
                }
                _ => None,
            })
        })
        .await?;
    Ok(match changed {
        Some(what) => Verdict::fail("the repeated send produced new codes")
            .expected(format!("no callback, or eticket.send with the same codes {}", show_set(&issued_set)))
            .actual(what)
            .hint("recognise a repeated send by order_id and token and do not issue again (FAQ 2.26; PROTOCOL C5)"),
        None => Verdict::pass(format!(
            "{}; no new codes within {} s",
            acked_message(NotifyMethod::Send, &attempt, &reply),
            quiet.as_secs_f64()
        )),
    })
}
