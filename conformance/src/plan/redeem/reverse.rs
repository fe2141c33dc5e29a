//! C14: reverse (冲正) names the consume it undoes: the code, the consumed count, the consume's serial.

use std::sync::Arc;
use std::time::Duration;

use crate::outcome::Verdict;
use crate::plan::judge::calls;
use crate::plan::{CheckResult, Probe};

use super::{CONSUME, HookAnswer, REVERSE, Ticket, applied, c9, code_merchant_params, settle, show_calls, ticket};

/// Units redeemed, then reversed.
const NUM: u32 = 2;
/// A margin for the reverse to be recorded after a 2xx.
const GRACE: Duration = Duration::from_secs(2);

/// Redeems `NUM` units and answers the serial; `Err(verdict)` is a skip naming C11.
async fn redeemed(p: &Probe) -> Result<Result<(Ticket, String), Verdict>, crate::platform_client::PlatformError> {
    let t = match ticket(p, 4, 4).await? {
        Ok(t) => t,
        Err(skip) => return Ok(Err(skip)),
    };
    match t.consume(p, NUM).await {
        HookAnswer::Redeemed { serial } => {
            settle(p, t.order_id, CONSUME, 1, GRACE).await?;
            Ok(Ok((t, serial)))
        }
        other => Ok(Err(Verdict::skip(format!(
            "precondition not met: the redemption to reverse failed ({}; see C11.redeem.first)",
            other.describe()
        )))),
    }
}

/// Asked to reverse a redemption by its serial: one successful reverse naming it; the units usable again.
pub async fn by_serial(p: Arc<Probe>) -> CheckResult {
    let (t, serial) = match redeemed(&p).await? {
        Ok(found) => found,
        Err(skip) => return Ok(skip),
    };
    let answer = t.reverse(&p, &serial).await;
    let ex = match answer {
        HookAnswer::Redeemed { .. } => settle(&p, t.order_id, REVERSE, 1, GRACE).await?,
        _ => p.exchanges(t.order_id).await?,
    };
    if let Some(v) = c9(&p, &t, &ex) {
        return Ok(v);
    }
    let all = calls(&ex, REVERSE);
    let shown = show_calls(&all);
    let hint = "reverse with reverse_code = the code, reverse_num = the count that consume redeemed and \
                consume_secial_num = its serial (PROTOCOL §5.5)";
    let done = applied(&ex, REVERSE);
    let Some(call) = done.first() else {
        let refused = all.last();
        let message = match (answer.is_2xx(), refused) {
            (true, None) => "hook answered 2xx to a reverse but no reverse reached the platform".to_owned(),
            (_, Some(r)) => {
                let wrong_num = r.param("reverse_num").filter(|n| *n != NUM.to_string());
                match wrong_num {
                    Some(n) => format!("reverse_num {n}, the consume redeemed {NUM}: the platform refused the reverse"),
                    None => format!("the platform refused the reverse: {}", r.seen_by_merchant()),
                }
            }
            (false, None) => format!("the reverse was not made: the hook answered {}", answer.describe()),
        };
        return Ok(Verdict::fail(message)
            .expected("one successful eticket.reverse and a 2xx hook answer")
            .actual(format!("hook {}; gateway: {shown}", answer.describe()))
            .hint(hint));
    };
    if done.len() > 1 {
        return Ok(Verdict::fail(format!("{} successful reverses for one request", done.len()))
            .actual(shown)
            .hint(hint));
    }
    let expect =
        [("reverse_code", t.code.clone()), ("reverse_num", NUM.to_string()), ("consume_secial_num", serial.clone())];
    for (name, wanted) in expect {
        if call.param(name) != Some(wanted.as_str()) {
            return Ok(Verdict::fail(format!(
                "the reverse named {name}={}, not {wanted}",
                call.param(name).unwrap_or("(absent)")
            ))
            .actual(shown)
            .hint(hint));
        }
    }
    if let Some(v) = code_merchant_params(&p, &t, call) {
        return Ok(v);
    }
    if !answer.is_2xx() {
        return Ok(Verdict::fail(format!(
            "the platform reversed the consume but the hook answered {}",
            answer.describe()
        ))
        .expected("2xx")
        .actual(shown)
        .hint("tell the clerk what the platform did (INTERFACES §4)"));
    }
    let left = t.left(&p).await?;
    if left != t.units {
        return Ok(Verdict::fail(format!("after the reverse the code holds {left}, not {}", t.units))
            .actual(shown)
            .hint(hint));
    }
    Ok(Verdict::pass(format!("reversed serial_num {serial} ({NUM} unit(s)) in one call; the code holds {left} again")))
}

/// Asked to reverse an unknown serial, or one already reversed: refused, and nothing reversed.
pub async fn refused(p: Arc<Probe>) -> CheckResult {
    let (t, serial) = match redeemed(&p).await? {
        Ok(found) => found,
        Err(skip) => return Ok(skip),
    };
    let unknown = format!("conformance_unknown_{}", t.order_id);
    let to_unknown = t.reverse(&p, &unknown).await;
    let first = t.reverse(&p, &serial).await;
    if !first.is_2xx() {
        return Ok(Verdict::skip(format!(
            "precondition not met: the first reverse failed ({}; see C14.reverse.by-serial)",
            first.describe()
        )));
    }
    let again = t.reverse(&p, &serial).await;
    let ex = p.exchanges(t.order_id).await?;
    if let Some(v) = c9(&p, &t, &ex) {
        return Ok(v);
    }
    let done = applied(&ex, REVERSE);
    let shown = show_calls(&calls(&ex, REVERSE));
    let hint = "a reverse names a consume that was made and not yet reversed; refuse anything else (PROTOCOL §5.5)";
    if done.len() > 1 {
        return Ok(Verdict::fail(format!("{} successful reverses of one consume", done.len()))
            .actual(shown)
            .hint(hint));
    }
    for (what, answer) in [("an unknown serial", &to_unknown), ("a serial already reversed", &again)] {
        if !matches!(answer, HookAnswer::Refused { .. }) {
            return Ok(Verdict::fail(format!("asked to reverse {what}, the hook answered {}", answer.describe()))
                .expected("a refusal: non-2xx")
                .actual(shown)
                .hint(hint));
        }
    }
    Ok(Verdict::pass(format!(
        "an unknown serial and a serial already reversed were refused ({} / {}); one reverse in all",
        to_unknown.describe(),
        again.describe()
    )))
}
