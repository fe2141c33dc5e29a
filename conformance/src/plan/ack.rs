//! C1: every genuine notification is acknowledged with the exact bytes, in time, extra params included.

use std::sync::Arc;

use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{acked_message, await_attempt, judge_ack};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{Alteration, OrderSpec};

/// The latency above which an ack, though in time, is worth a warning.
const BRISK_MS: u64 = 1000;

async fn first_send_ack(p: &Probe, spec: OrderSpec) -> CheckResult {
    let order = p.buy(spec).await?;
    let Some((_, attempt)) = await_attempt(p, order.order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Verdict::error("the platform recorded no send attempt"));
    };
    Ok(match judge_ack(&attempt, NotifyMethod::Send, p.windows().ack_deadline) {
        Ok(reply) => Verdict::pass(acked_message(NotifyMethod::Send, &attempt, &reply)),
        Err(verdict) => verdict,
    })
}

pub async fn send_ack(p: Arc<Probe>) -> CheckResult {
    let spec = p.order_spec();
    first_send_ack(&p, spec).await
}

/// Real notifications carried params outside §3.2 (`sub_method=1` on send, `md5_mobile`, `id_card`); a
/// merchant that signs only the params it knows rejects them (FAQ 2.14).
pub async fn send_extra_params(p: Arc<Probe>) -> CheckResult {
    let mut spec = p.order_spec();
    spec.alteration = Some(Alteration::ExtraParams(vec![
        ("sub_method".into(), "1".into()),
        ("md5_mobile".into(), "8f14e45fceea167a5a36dedd4bea2543".into()),
        ("id_card".into(), "身份证未提供".into()),
    ]));
    let verdict = first_send_ack(&p, spec).await?;
    Ok(match verdict.outcome {
        crate::outcome::Outcome::Fail => verdict.hint(
            "sign every received param, including ones you do not know (sub_method, md5_mobile, id_card…) (FAQ 2.14)",
        ),
        _ => verdict,
    })
}

/// Advisory: an ack that takes most of the deadline risks a retry under load.
pub async fn latency(p: Arc<Probe>) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    let Some((_, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Verdict::error("the platform recorded no send attempt"));
    };
    if judge_ack(&attempt, NotifyMethod::Send, p.windows().ack_deadline).is_err() {
        return Ok(Verdict::skip("send was not acknowledged (see C1.send.ack)"));
    }
    Ok(match attempt.duration_ms {
        Some(ms) if ms > BRISK_MS => Verdict::warn(format!("send took {ms} ms to acknowledge"))
            .expected(format!("an ack within {BRISK_MS} ms"))
            .actual(format!("{ms} ms"))
            .hint("acknowledge first and do the work after the reply (FAQ 2.26, 2.27)"),
        Some(ms) => Verdict::pass(format!("send acknowledged in {ms} ms")),
        None => Verdict::skip("the platform did not record the reply time"),
    })
}

/// Advisory (PROTOCOL §3.1: certifying runs use UTF-8, a GBK run is reported only): a merchant on the legacy
/// GBK option must decode the body as GBK before verifying the sign.
pub async fn gbk_body(p: Arc<Probe>) -> CheckResult {
    let mut spec = p.order_spec();
    spec.alteration = Some(Alteration::GbkBody);
    let verdict = first_send_ack(&p, spec).await?;
    Ok(match verdict.outcome {
        crate::outcome::Outcome::Fail => verdict.hint(
            "decode the body in the charset its Content-Type names (charset=gbk) before verifying the sign (PROTOCOL §3.1)",
        ),
        _ => verdict,
    })
}
