//! `X.beforeconsume` (advisory): a redemption asks `beforeconsume` (验码前置确认) before `consume`.

use std::sync::Arc;

use crate::outcome::Verdict;
use crate::plan::{CheckResult, Probe};

use super::{BEFORECONSUME, CONSUME, calls_of, ticket};

pub async fn beforeconsume(p: Arc<Probe>) -> CheckResult {
    let t = match ticket(&p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(skip),
    };
    let answer = t.consume(&p, 1).await;
    let ex = p.exchanges(t.order_id).await?;
    let order: Vec<&str> = calls_of(&ex, &[BEFORECONSUME, CONSUME]).iter().map(|c| c.method.as_str()).collect();
    let first_consume = order.iter().position(|m| *m == CONSUME);
    Ok(match first_consume {
        None => Verdict::skip(format!("no consume to judge: the hook answered {}", answer.describe())),
        Some(i) if order[..i].contains(&BEFORECONSUME) => Verdict::pass("beforeconsume asked before consume"),
        Some(_) => Verdict::warn("consume without a beforeconsume first").hint(
            "ask beforeconsume (验码前置确认) before consume: the platform says whether the code may be used (FAQ 2.8)",
        ),
    })
}
