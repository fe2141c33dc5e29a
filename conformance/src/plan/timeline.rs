//! Turns an order's recorded exchanges into report timeline entries (the session key masked).

use protocol::Secret;

use crate::event::{EntryKind, TimelineEntry};
use crate::platform_client::Exchange;

/// Timeline entries for one order's exchanges, in the platform's order.
pub fn entries(order_id: i64, exchanges: &[Exchange], session: &str) -> Vec<TimelineEntry> {
    exchanges.iter().map(|e| entry(order_id, e, session)).collect()
}

fn entry(order_id: i64, exchange: &Exchange, session: &str) -> TimelineEntry {
    match exchange {
        Exchange::Notification(n) => {
            let mut e = TimelineEntry::new(EntryKind::Notification, format!("{} · attempt {}", n.method, n.attempt));
            e.order_id = Some(order_id);
            e.at = n.at.clone();
            e.params = n.params.clone();
            e.reply = n.reply.clone();
            e.verdict = Some(match n.classify() {
                Some(reply) => describe_reply(&reply, n.acked()),
                None => format!("no reply: {}", n.error.as_deref().unwrap_or("none")),
            });
            e.duration_ms = n.duration_ms;
            e.notes.extend(n.alteration.iter().map(|a| format!("alteration: {a}")));
            if n.duplicate {
                e.notes.push("duplicate delivery (§2.4)".into());
            }
            e.notes.extend(n.error.iter().map(|a| format!("error: {a}")));
            e
        }
        Exchange::Gateway(g) => {
            let mut e = TimelineEntry::new(EntryKind::Gateway, g.method.clone());
            e.order_id = Some(order_id);
            e.at = g.at.clone();
            e.params = g
                .params
                .iter()
                .map(|(n, v)| {
                    let masked = n == "session" && v == session;
                    (n.clone(), if masked { Secret::new(v.clone()).masked() } else { v.clone() })
                })
                .collect();
            e.reply = Some(g.response.clone());
            e.verdict = Some(g.error_text().unwrap_or_else(|| "ok".into()));
            e.duration_ms = g.duration_ms;
            if g.injected() {
                e.notes.push("answer injected by the suite".into());
            }
            if let Some(form) = &g.answer_lost {
                e.notes
                    .push(format!("lost_answer {form}: applied as shown; the merchant got {}", g.seen_by_merchant()));
            }
            if let Some(ms) = g.held_ms.filter(|ms| *ms > 0) {
                e.notes.push(format!("held {ms} ms waiting for the ack (C4)"));
            }
            e.notes.extend(g.causality.iter().map(|c| format!("causality: {c}")));
            e.notes.extend(g.sign_diagnosis.iter().map(|d| format!("sign matches the {d}")));
            e
        }
    }
}

/// How a reply reads in a timeline: `ack {"code":200}`, or `not ack: ` and the near miss.
pub fn describe_reply(reply: &protocol::AckReply, acknowledged: bool) -> String {
    use protocol::AckReply;
    match reply {
        AckReply::Code200 => r#"ack {"code":200}"#.into(),
        AckReply::Code300 if acknowledged => r#"ack {"code":300}"#.into(),
        AckReply::Code300 => r#"not ack: {"code":300} acknowledges only resend and modified"#.into(),
        AckReply::NotAck(near) => format!("not ack: {near}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform_client::GatewayCall;

    #[test]
    fn a_call_whose_answer_was_lost_shows_what_was_applied_and_what_the_merchant_got() {
        let call = GatewayCall {
            method: "taobao.vmarket.eticket.consume".into(),
            at: None,
            params: vec![("session".into(), "sess-key".into())],
            response: "{}".into(),
            error_code: None,
            sub_code: None,
            fault: Some("lost_answer".into()),
            held_ms: None,
            causality: None,
            sign_diagnosis: None,
            duration_ms: None,
            answer_lost: Some("close".into()),
        };
        let [e] = &entries(1, &[Exchange::Gateway(call)], "sess-key")[..] else { panic!("one entry") };
        assert_eq!(e.verdict.as_deref(), Some("ok"), "applied");
        assert!(
            e.notes.iter().any(|n| n.starts_with("lost_answer close") && n.contains("no HTTP response")),
            "{:?}",
            e.notes
        );
        assert_ne!(e.params[0].1, "sess-key", "the session key is masked");
    }
}
