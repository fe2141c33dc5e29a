//! C7: `cancel` is acknowledged, and nothing after it (not even a late `resend` notification) causes a
//! `send` or `resend` callback for the order.

use std::sync::Arc;

use protocol::{NotifyMethod, Params};

use crate::outcome::Verdict;
use crate::plan::judge::{
    ETICKET_RESEND, ETICKET_SEND, acked_message, attempts, await_attempt, await_issued, judge_ack,
};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::Exchange;

pub async fn no_callback_after_cancel(p: Arc<Probe>) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    if let Err(verdict) = await_issued(&p, order.order_id).await? {
        return Ok(verdict);
    }
    let ex = p.exchanges(order.order_id).await?;
    let send_params = attempts(&ex, NotifyMethod::Send).first().map(|a| a.params.clone()).unwrap_or_default();
    p.note(Some(order.order_id), "suite: refund the order");
    p.platform().refund(order.order_id).await?;
    let Some((at, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::Cancel, 0).await? else {
        return Ok(Verdict::error("the platform recorded no cancel attempt"));
    };
    let reply = match judge_ack(&attempt, NotifyMethod::Cancel, p.windows().ack_deadline) {
        Ok(reply) => reply,
        Err(verdict) => return Ok(verdict),
    };
    // A late resend for the cancelled order, signed like the platform's: a merchant that does not remember
    // the cancel would issue codes for a refunded order.
    let late = late_resend(send_params, order.order_id, &order.token);
    p.post_notification(order.order_id, late, "suite: late resend after the cancel (signed with the notify key)").await;
    let quiet = p.windows().quiet;
    let callback = p
        .wait_for(order.order_id, quiet, |ex| {
            ex.iter().skip(at + 1).find_map(|e| match e {
                Exchange::Gateway(g) if g.method == ETICKET_SEND || g.method == ETICKET_RESEND => {
                    Some(g.method.clone())
                }
                _ => None,
            })
        })
        .await?;
    Ok(match callback {
        Some(api) => Verdict::fail(format!("{api} was called after the order was cancelled"))
            .expected("no send or resend callback after cancel")
            .actual(format!("{api} called"))
            .hint(
                "on cancel void every remaining code and never issue or resend for that order again (FAQ 2.22, 2.23)",
            ),
        None => Verdict::pass(format!(
            "{}; no callback within {} s, even after a late resend",
            acked_message(NotifyMethod::Cancel, &attempt, &reply),
            quiet.as_secs_f64()
        )),
    })
}

/// The order's `send` params turned into a `resend` (fresh timestamp and sign are added when posting).
fn late_resend(send_params: Vec<(String, String)>, order_id: i64, token: &str) -> Params {
    let mut params = Params::from_pairs(send_params);
    if params.is_empty() {
        params.set("order_id", order_id.to_string());
        params.set("token", token);
        params.set("num", "3");
    }
    params.set("method", "resend");
    let num = params.get("num").unwrap_or("1").to_owned();
    params.set("left_num", num);
    params.remove("total_fee");
    params.remove("weeks");
    params
}
