//! The redemption half (PROTOCOL §6.1, C11–C14): the suite plays the clerk through the merchant's POS hook
//! (`hook.rs`), watches the merchant's consume/reverse calls on the gateway, and compares what the clerk was
//! told with what the platform did. One module per rule; what they share is here.

use std::time::Duration;

use crate::outcome::Verdict;
use crate::plan::Probe;
use crate::plan::issue::judge_call;
use crate::plan::judge::{await_issued, calls};
use crate::platform_client::{Exchange, GatewayCall, PlatformError};

mod advisory;
mod hook;
pub mod lost;
pub mod manual;
pub mod once;
pub mod refuse;
pub mod reverse;

pub use advisory::beforeconsume;
pub use hook::{HookAnswer, PosHook};

pub const CONSUME: &str = "taobao.vmarket.eticket.consume";
pub const BEFORECONSUME: &str = "taobao.vmarket.eticket.beforeconsume";
pub const REVERSE: &str = "taobao.vmarket.eticket.reverse";

/// The skip of every redemption check when the run has no POS hook.
pub const NO_HOOK: &str = "no POS hook: pass --pos-url (INTERFACES §4) to certify the redemption half";

/// An issued order and the code the checks redeem.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub hook: PosHook,
    pub order_id: i64,
    pub token: String,
    pub code: String,
    /// Units on the code when it was issued.
    pub units: u32,
}

/// Buys an order of `num` units (`consume_type` 0, so one code may hold several) and waits for its codes.
/// `Err(verdict)` is a skip: no hook, or no code holding `need` units (naming the check that judges why).
pub async fn ticket(p: &Probe, num: u32, need: u32) -> Result<Result<Ticket, Verdict>, PlatformError> {
    let Some(hook) = p.ctx.pos.clone() else { return Ok(Err(Verdict::skip(NO_HOOK))) };
    let mut spec = p.order_spec();
    spec.num = num;
    spec.consume_type = 0;
    let bought = p.buy(spec).await?;
    if let Err(skip) = await_issued(p, bought.order_id).await? {
        return Ok(Err(skip));
    }
    let order = p.order(bought.order_id).await?;
    let Some(code) = order.codes.iter().max_by_key(|c| c.left).filter(|c| c.left >= need) else {
        return Ok(Err(Verdict::skip(format!(
            "precondition not met: no code of a {num}-unit consume_type 0 order holds {need} units (see C3.send.callback)"
        ))));
    };
    Ok(Ok(Ticket { hook, order_id: bought.order_id, token: bought.token, code: code.code.clone(), units: code.left }))
}

impl Ticket {
    /// Units left on the code, as the platform holds it.
    pub async fn left(&self, p: &Probe) -> Result<u32, PlatformError> {
        let order = p.order(self.order_id).await?;
        Ok(order.codes.iter().find(|c| c.code == self.code).map_or(0, |c| c.left))
    }

    pub async fn consume(&self, p: &Probe, num: u32) -> HookAnswer {
        self.hook.consume(p, self.order_id, &self.code, num).await
    }

    pub async fn reverse(&self, p: &Probe, serial: &str) -> HookAnswer {
        self.hook.reverse(p, self.order_id, serial).await
    }
}

/// Calls of `api` applied by the platform (a lost answer included: it was applied).
pub fn applied<'a>(ex: &'a [Exchange], api: &str) -> Vec<&'a GatewayCall> {
    calls(ex, api).into_iter().filter(|c| c.succeeded()).collect()
}

/// Transient answers (PROTOCOL §6 C8): B0 sub_codes, any `isp.*`, code 7. Anything else refuses for good.
pub fn is_terminal(call: &GatewayCall) -> bool {
    let Some(code) = call.error_code else { return false };
    let sub = call.sub_code().unwrap_or_default();
    code != 7 && !sub.starts_with("isp.") && !sub.starts_with("isv.eticket-service-unavailable")
}

/// C9 on every redemption call of the ticket's order (PROTOCOL §6.1: "C9 applies to every call").
pub fn c9(p: &Probe, ticket: &Ticket, ex: &[Exchange]) -> Option<Verdict> {
    let redemption = [CONSUME, BEFORECONSUME, REVERSE];
    calls_of(ex, &redemption).into_iter().find_map(|call| {
        let mut verdict = judge_call(p, call, &ticket.token)?;
        verdict.message = format!("C9 (every redemption call): {}", verdict.message);
        Some(verdict)
    })
}

/// A 码商's consume or reverse carries its `codemerchant_id` and the bound `posid` (§5.3, §5.5).
pub fn code_merchant_params(p: &Probe, ticket: &Ticket, call: &GatewayCall) -> Option<Verdict> {
    let id = p.ctx.merchant.codemerchant_id?;
    let wanted_id = id.to_string();
    if call.param("codemerchant_id") != Some(wanted_id.as_str()) {
        return Some(
            Verdict::fail(format!("{} without this 码商's codemerchant_id", call.method))
                .expected(format!("codemerchant_id={id}"))
                .actual(format!("codemerchant_id={}", call.param("codemerchant_id").unwrap_or("(absent)")))
                .hint("a 码商 sends codemerchant_id and posid on every redemption call (PROTOCOL §5.3)"),
        );
    }
    let posid = ticket.hook.config.posid.as_deref();
    if posid.is_some() && call.param("posid") != posid {
        return Some(
            Verdict::fail(format!("{} without the terminal's posid", call.method))
                .expected(format!("posid={}", posid.unwrap_or_default()))
                .actual(format!("posid={}", call.param("posid").unwrap_or("(absent)")))
                .hint("send the posid of the terminal that scanned the code (PROTOCOL §5.3, B5, B6)"),
        );
    }
    None
}

/// Calls of any of `apis`, in order.
pub fn calls_of<'a>(ex: &'a [Exchange], apis: &[&str]) -> Vec<&'a GatewayCall> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Gateway(g) if apis.contains(&g.method.as_str()) => Some(g),
            _ => None,
        })
        .collect()
}

/// `consume(2) → ok; consume(2) → 15 … (isv.…)`: the calls a verdict shows.
pub fn show_calls(calls: &[&GatewayCall]) -> String {
    if calls.is_empty() {
        return "no call".into();
    }
    calls
        .iter()
        .map(|c| {
            let short = c.method.rsplit('.').next().unwrap_or(&c.method);
            let num = c.param("consume_num").or(c.param("reverse_num")).unwrap_or("");
            let serial = c.param("serial_num").or(c.param("consume_secial_num")).unwrap_or("no serial");
            format!("{short}({num}, {serial}) → {}", c.seen_by_merchant())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until the order has `count` applied calls of `api`, or `within` passes; answers the exchanges.
pub async fn settle(
    p: &Probe,
    order_id: i64,
    api: &str,
    count: usize,
    within: Duration,
) -> Result<Vec<Exchange>, PlatformError> {
    let found = p.wait_for(order_id, within, |ex| (applied(ex, api).len() >= count).then(|| ex.to_vec())).await?;
    match found {
        Some(ex) => Ok(ex),
        None => p.exchanges(order_id).await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::outcome::Outcome;
    use crate::plan::all_checks;

    #[tokio::test]
    async fn without_a_pos_hook_every_redemption_check_skips_naming_pos_url_before_buying_anything() {
        // Nothing listens there: a check that bought an order would end in an error, not a skip.
        let ctx = crate::runner::tests::context();
        let redemption = all_checks().into_iter().filter(|c| {
            ["C11 ", "C12 ", "C13 ", "C14 "].iter().any(|r| c.info.rule.starts_with(r))
                || c.info.id == "X.beforeconsume"
        });
        let mut seen = 0;
        for check in redemption {
            let verdict = check.run(Arc::new(Probe::new(ctx.clone()))).await.unwrap();
            assert_eq!((verdict.outcome, verdict.message.as_str()), (Outcome::Skip, NO_HOOK), "{}", check.info.id);
            seen += 1;
        }
        assert_eq!(seen, 12);
    }
}
