//! C8: transient gateway errors are retried until success; a terminal sub_code is not retried more than once.

use std::sync::Arc;

use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{ETICKET_SEND, await_attempt, calls, describe_calls};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{FaultAnswer, GatewayFault};

/// How many transient errors in a row the suite injects (PROTOCOL §6 C8 default).
const TRANSIENT_TIMES: u32 = 2;

/// The transient errors the suite injects.
#[derive(Debug, Clone, Copy)]
pub enum Transient {
    IspTimeout,
    FlowControl,
    ServiceUnavailable,
}

impl Transient {
    fn answer(self) -> FaultAnswer {
        let (code, msg, sub_code, sub_msg) = match self {
            Transient::IspTimeout => {
                (15, "Remote service error", "isp.top-remote-connection-timeout", "isp.top-remote-connection-timeout")
            }
            Transient::FlowControl => (
                7,
                "App Call Limited",
                "accesscontrol.limited-by-api-access-count",
                "This ban will last for 1 more seconds",
            ),
            Transient::ServiceUnavailable => (
                15,
                "Remote service error",
                "isv.eticket-service-unavailable:order-is-processing",
                "订单并发操作并发限制",
            ),
        };
        FaultAnswer { code, msg: msg.into(), sub_code: Some(sub_code.into()), sub_msg: Some(sub_msg.into()) }
    }
}

pub async fn transient(p: Arc<Probe>, kind: Transient) -> CheckResult {
    let mut spec = p.order_spec();
    spec.gateway_fault =
        Some(GatewayFault { method: ETICKET_SEND.into(), times: TRANSIENT_TIMES, answer: kind.answer() });
    let order = p.buy(spec).await?;
    let Some((_, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Verdict::error("the platform recorded no send attempt"));
    };
    if !attempt.acked() {
        return Ok(Verdict::skip("send was not acknowledged, so no callback was due (see C1.send.ack)"));
    }
    let window = p.windows().callback;
    let done = p
        .wait_for(order.order_id, window, |ex| calls(ex, ETICKET_SEND).iter().any(|c| c.succeeded()).then_some(()))
        .await?;
    let ex = p.exchanges(order.order_id).await?;
    let made = calls(&ex, ETICKET_SEND);
    let sub = kind.answer().sub_code.unwrap_or_default();
    Ok(match (done, made.len()) {
        (Some(()), n) => Verdict::pass(format!("retried through {TRANSIENT_TIMES} × {sub}: {n} calls, the last one succeeded")),
        (None, 0) => Verdict::skip("the merchant made no eticket.send call to judge (see C3.send.callback)"),
        (None, _) => Verdict::fail(format!("eticket.send was not retried to success after {sub}"))
            .expected(format!("the call repeated until it succeeds, within {} s", window.as_secs_f64()))
            .actual(describe_calls(&made))
            .hint("isp.*, code 7 and isv.eticket-service-unavailable are transient: retry with a short backoff until success (PROTOCOL C8)"),
    })
}

pub async fn terminal(p: Arc<Probe>) -> CheckResult {
    let mut spec = p.order_spec();
    let answer = FaultAnswer {
        code: 15,
        msg: "Remote service error".into(),
        sub_code: Some("isv.eticket-order-status-error:invalid-order-status".into()),
        sub_msg: Some("此状态的订单不允许进行核销码操作".into()),
    };
    // Enough for a merchant that retries a few times to keep meeting the terminal answer.
    spec.gateway_fault = Some(GatewayFault { method: ETICKET_SEND.into(), times: 5, answer });
    let order = p.buy(spec).await?;
    let window = p.windows().ack_deadline + p.windows().callback;
    let first = p.wait_for(order.order_id, window, |ex| (!calls(ex, ETICKET_SEND).is_empty()).then_some(())).await?;
    if first.is_none() {
        return Ok(Verdict::skip("the merchant made no eticket.send call to judge (see C3.send.callback)"));
    }
    let quiet = p.windows().quiet;
    let hammering = p.wait_for(order.order_id, quiet, |ex| (calls(ex, ETICKET_SEND).len() > 2).then_some(())).await?;
    let ex = p.exchanges(order.order_id).await?;
    let made = calls(&ex, ETICKET_SEND);
    Ok(match hammering {
        Some(()) => Verdict::fail(format!(
            "{} eticket.send calls after a terminal invalid-order-status",
            made.len() - 1
        ))
        .expected("at most one more identical call after a terminal sub_code")
        .actual(describe_calls(&made))
        .hint("isv.eticket-order-status-error:invalid-order-status is terminal: stop and alert a person (PROTOCOL C8)"),
        None => {
            Verdict::pass(format!("{} call(s) in {} s after the terminal answer", made.len() - 1, quiet.as_secs_f64()))
        }
    })
}
