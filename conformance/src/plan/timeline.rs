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
            e.verdict = Some(match (&n.verdict, n.classify()) {
                (_, Some(reply)) if n.acked() => format!("ack ({reply:?})"),
                (_, Some(protocol::AckReply::NotAck(near))) => format!("not ack: {near}"),
                (Some(v), _) => v.clone(),
                (None, _) => "pending".into(),
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
            if let Some(ms) = g.held_ms.filter(|ms| *ms > 0) {
                e.notes.push(format!("held {ms} ms waiting for the ack (C4)"));
            }
            e.notes.extend(g.causality.iter().map(|c| format!("causality: {c}")));
            e.notes.extend(g.sign_diagnosis.iter().map(|d| format!("sign matches the {d}")));
            e
        }
    }
}
