//! C10: `order_modify` (validity changed, rights claim upheld) is acknowledged with `{"code":200}`.

use std::sync::Arc;

use chrono::{Days, Utc};
use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{acked_message, await_attempt, await_issued, judge_ack};
use crate::plan::{CheckResult, Probe};

pub async fn validity(p: Arc<Probe>) -> CheckResult {
    order_modify(p, SubMethod::Validity).await
}

pub async fn rights(p: Arc<Probe>) -> CheckResult {
    order_modify(p, SubMethod::Rights).await
}

#[derive(Debug, Clone, Copy)]
enum SubMethod {
    Validity,
    Rights,
}

async fn order_modify(p: Arc<Probe>, sub: SubMethod) -> CheckResult {
    let order = p.buy(p.order_spec()).await?;
    if let Err(verdict) = await_issued(&p, order.order_id).await? {
        return Ok(verdict);
    }
    match sub {
        SubMethod::Validity => {
            let ends = Utc::now().with_timezone(&protocol::time::gmt8()) + Days::new(60);
            let ends = format!("{} 23:59:59", ends.format("%Y-%m-%d"));
            p.note(Some(order.order_id), format!("suite: extend validity to {ends}"));
            p.platform().extend(order.order_id, &ends).await?;
        }
        SubMethod::Rights => {
            p.note(Some(order.order_id), "suite: rights claim upheld");
            p.platform().rights_protection(order.order_id).await?;
        }
    }
    let Some((_, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::OrderModify, 0).await? else {
        return Ok(Verdict::error("the platform recorded no order_modify attempt"));
    };
    Ok(match judge_ack(&attempt, NotifyMethod::OrderModify, p.windows().ack_deadline) {
        Ok(reply) => Verdict::pass(acked_message(NotifyMethod::OrderModify, &attempt, &reply)),
        Err(verdict) => verdict.hint(
            "order_modify is answered {\"code\":200} like every notification; it needs no callback (PROTOCOL C10)",
        ),
    })
}
