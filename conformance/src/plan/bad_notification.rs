//! C2: a notification with a bad or missing sign, or a stale or missing timestamp, is neither acknowledged
//! nor followed by any TOP call for its order within the quiet window (before the genuine retry at 15 s).

use std::sync::Arc;

use protocol::NotifyMethod;

use crate::outcome::Verdict;
use crate::plan::judge::{all_calls, await_attempt, describe_calls};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{Alteration, BadNotification};
use crate::quote::quoted;

fn what(kind: BadNotification) -> (&'static str, &'static str) {
    match kind {
        BadNotification::Tamper => (
            "a value changed after signing",
            "recompute the sign over every received param and compare it with the one received (FAQ 2.25: 否则，该通知存在不安全性)",
        ),
        BadNotification::WrongKey => (
            "a sign made with another key",
            "verify with your own notify key (通知密钥), never accept any sign (FAQ 2.25, 2.29)",
        ),
        BadNotification::DropSign => {
            ("no sign param", "a notification without sign is not from the platform: reject it (FAQ 2.25)")
        }
        BadNotification::Utf8Sign => (
            "a sign computed over UTF-8 bytes",
            "the platform signs the GBK bytes; a UTF-8-computed sign over Chinese values must not match (FAQ 2.25)",
        ),
        BadNotification::StaleTimestamp => (
            "a timestamp 11 minutes in the past",
            "reject notifications whose timestamp is more than 10 minutes from your clock (replays)",
        ),
        BadNotification::FutureTimestamp => (
            "a timestamp 11 minutes in the future",
            "reject notifications whose timestamp is more than 10 minutes from your clock, either way",
        ),
        BadNotification::DropTimestamp => {
            ("no timestamp param", "a missing timestamp counts as stale (PROTOCOL §3.5): reject it")
        }
        BadNotification::MalformedTimestamp => (
            "a malformed timestamp",
            "a timestamp not in yyyy-MM-dd HH:mm:ss counts as stale (PROTOCOL §3.5): reject it",
        ),
    }
}

pub async fn rejected(p: Arc<Probe>, kind: BadNotification) -> CheckResult {
    let (flaw, hint) = what(kind);
    let mut spec = p.order_spec();
    spec.alteration = Some(Alteration::Bad(kind));
    let order = p.buy(spec).await?;
    let Some((_, attempt)) = await_attempt(&p, order.order_id, NotifyMethod::Send, 0).await? else {
        return Ok(Verdict::error("the platform recorded no send attempt"));
    };
    if attempt.acked() {
        return Ok(Verdict::fail(format!("a send notification with {flaw} was acknowledged"))
            .expected("no acknowledgement (any other answer, e.g. {\"code\":501})")
            .actual(format!(
                "HTTP {} {}",
                attempt.status.unwrap_or(0),
                quoted(attempt.reply.as_deref().unwrap_or_default())
            ))
            .hint(hint));
    }
    // The genuine retry comes 15 s after the first attempt; any call before the quiet window ends was caused
    // by the bad notification.
    let quiet = p.windows().quiet;
    let seen = p
        .wait_for(order.order_id, quiet, |ex| {
            let only_first_attempt = crate::plan::judge::attempts(ex, NotifyMethod::Send).len() <= 1;
            let calls = all_calls(ex);
            (only_first_attempt && !calls.is_empty()).then(|| describe_calls(&calls))
        })
        .await?;
    Ok(match seen {
        Some(calls) => {
            Verdict::fail(format!("a send notification with {flaw} was not acknowledged but still caused a TOP call"))
                .expected(format!("no TOP call for the order within the {} s quiet window", quiet.as_secs_f64()))
                .actual(calls)
                .hint(hint)
        }
        None => Verdict::pass(format!(
            "rejected ({}) and no TOP call within {} s",
            quoted(attempt.reply.as_deref().unwrap_or_default()),
            quiet.as_secs_f64()
        )),
    })
}
