//! One order's measurements, read from its exchanges (PROTOCOL §6.2): `send` ack latency from the order's
//! scheduled time, callback lag from the ack, end to end, attempts beyond the first and why, near misses, the
//! merchant's gateway calls (for flow control) and what integrity needs (state, codes, successful sends, C4).

use serde::Deserialize;
use serde_json::Value;

const SEND_API: &str = "taobao.vmarket.eticket.send";

/// One exchange as the admin API renders it; only the fields a load run reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ex {
    kind: String,
    method: String,
    attempt: u32,
    started_at_ms: i64,
    finished_at_ms: i64,
    acknowledged: bool,
    near_miss: Option<String>,
    error: Option<String>,
    error_code: Option<i64>,
    sub_code: Option<String>,
    causality: Option<String>,
    duplicate: bool,
}

/// What one order showed.
#[derive(Debug, Clone, Default)]
pub struct OrderMeasure {
    pub order_id: i64,
    /// Epoch ms at which the order was scheduled to be bought.
    pub scheduled_ms: i64,
    /// Scheduled → the acknowledging reply of `send` read by the platform.
    pub ack_ms: Option<i64>,
    /// Ack → the first successful `eticket.send` reaching the gateway (0 when it came in the C4 race).
    pub callback_lag_ms: Option<i64>,
    /// Scheduled → the first successful `eticket.send` answered (the order `ISSUED`).
    pub end_to_end_ms: Option<i64>,
    /// Epoch ms of the acknowledging reply and of the first successful callback.
    pub acked_at_ms: Option<i64>,
    pub issued_at_ms: Option<i64>,
    /// The first `send` attempt was not an acknowledgement.
    pub first_attempt_failed: bool,
    /// For each `send` attempt beyond the first: why the one before it failed.
    pub retry_reasons: Vec<String>,
    /// Near misses of every attempt (`whitespace`, `status`, `no_reply`, …).
    pub near_misses: Vec<String>,
    /// `eticket.send` calls answered with success.
    pub successful_sends: u32,
    /// Callbacks the gateway found made before their cause's ack, or with no cause (C4).
    pub c4_violations: u32,
    /// Start times (epoch ms) of every gateway call the merchant made for this order, and of those answered 7.
    pub calls_ms: Vec<i64>,
    pub limited_ms: Vec<i64>,
    /// Last sub_code / code of a failed `eticket.send`, for the report.
    pub last_send_error: Option<String>,
    /// The order's state and codes as the platform holds them at the end.
    pub state: Option<String>,
    pub num: Option<u32>,
    pub codes: Vec<(String, u32)>,
}

impl OrderMeasure {
    /// Reads one order; `scheduled_ms` comes from the driver.
    pub fn read(order_id: i64, scheduled_ms: i64, order: Option<&Value>, exchanges: &[Value]) -> Self {
        let mut m = OrderMeasure { order_id, scheduled_ms, ..Default::default() };
        // Deserialised from the borrowed values: cloning every exchange's JSON first was a copy per field.
        let exchanges: Vec<Ex> = exchanges.iter().filter_map(|e| Ex::deserialize(e).ok()).collect();
        let mut previous_failure: Option<String> = None;
        for e in exchanges.iter().filter(|e| e.kind == "notification" && e.method == "send" && !e.duplicate) {
            if let Some(miss) = &e.near_miss {
                m.near_misses.push(miss.clone());
            }
            if e.attempt > 1 {
                m.retry_reasons.push(previous_failure.clone().unwrap_or_else(|| "unknown".into()));
            }
            if e.acknowledged {
                if m.acked_at_ms.is_none() {
                    m.acked_at_ms = Some(e.finished_at_ms);
                }
            } else {
                if e.attempt <= 1 {
                    m.first_attempt_failed = true;
                }
                previous_failure =
                    Some(e.near_miss.clone().or_else(|| e.error.clone()).unwrap_or_else(|| "not_ack".into()));
            }
        }
        for e in exchanges.iter().filter(|e| e.kind == "gateway") {
            m.calls_ms.push(e.started_at_ms);
            if e.error_code == Some(7) {
                m.limited_ms.push(e.started_at_ms);
            }
            if matches!(e.causality.as_deref(), Some("before_ack" | "no_cause")) {
                m.c4_violations += 1;
            }
            if e.method != SEND_API {
                continue;
            }
            if e.error_code.is_none() {
                m.successful_sends += 1;
                if m.issued_at_ms.is_none() {
                    m.issued_at_ms = Some(e.finished_at_ms);
                    if let Some(acked) = m.acked_at_ms {
                        m.callback_lag_ms = Some((e.started_at_ms - acked).max(0));
                    }
                }
            } else {
                let code = e.error_code.unwrap_or_default();
                m.last_send_error = Some(match &e.sub_code {
                    Some(sub) => format!("{code} {sub}"),
                    None => code.to_string(),
                });
            }
        }
        m.ack_ms = m.acked_at_ms.map(|t| t - scheduled_ms);
        m.end_to_end_ms = m.issued_at_ms.map(|t| t - scheduled_ms);
        if let Some(order) = order {
            m.state = order.get("state").and_then(Value::as_str).map(str::to_owned);
            m.num = order.get("num").and_then(Value::as_u64).map(|n| n as u32);
            m.codes = order
                .get("codes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c.get("code")?.as_str()?.to_owned(), c.get("num")?.as_u64()? as u32)))
                .collect();
        }
        m
    }

    pub fn issued(&self) -> bool {
        self.state.as_deref() == Some("ISSUED")
    }

    /// An order still without codes whose merchant met error 7 on it: left without codes by the quota.
    pub fn blocked_by_flow_control(&self) -> bool {
        !self.issued() && !self.limited_ms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn latencies_run_from_the_schedule_and_retries_name_the_failure_before_them() {
        let exchanges = [
            json!({"kind":"notification","method":"send","attempt":1,"started_at_ms":1010,"finished_at_ms":1500,
                   "acknowledged":false,"near_miss":"whitespace"}),
            json!({"kind":"notification","method":"send","attempt":2,"started_at_ms":16000,"finished_at_ms":16010,
                   "acknowledged":true}),
            json!({"kind":"gateway","method":"taobao.vmarket.eticket.send","started_at_ms":16005,
                   "finished_at_ms":16020,"causality":"ok"}),
            json!({"kind":"gateway","method":"taobao.vmarket.eticket.send","started_at_ms":16100,
                   "finished_at_ms":16110,"error_code":15,"sub_code":"isv.eticket-send-error:code-alreay-send"}),
        ];
        let order = json!({"state":"ISSUED","num":2,"codes":[{"code":"a","num":2,"left":2}]});
        let m = OrderMeasure::read(7, 1000, Some(&order), &exchanges);
        assert_eq!((m.ack_ms, m.callback_lag_ms, m.end_to_end_ms), (Some(15010), Some(0), Some(15020)));
        assert!(m.first_attempt_failed);
        assert_eq!(m.retry_reasons, ["whitespace"]);
        assert_eq!(m.near_misses, ["whitespace"]);
        assert_eq!((m.successful_sends, m.c4_violations), (1, 0));
        assert_eq!(m.codes, [("a".to_owned(), 2)]);
        assert!(m.issued() && !m.blocked_by_flow_control());
    }

    #[test]
    fn error_7_on_an_order_without_codes_means_flow_control_left_it_so() {
        let exchanges = [
            json!({"kind":"notification","method":"send","attempt":1,"finished_at_ms":10,"acknowledged":true}),
            json!({"kind":"gateway","method":"taobao.vmarket.eticket.send","started_at_ms":20,"error_code":7,
                   "sub_code":"accesscontrol.limited-by-api-access-count","causality":"before_ack"}),
        ];
        let m = OrderMeasure::read(1, 0, Some(&json!({"state":"NOTIFIED","num":1,"codes":[]})), &exchanges);
        assert!(m.blocked_by_flow_control());
        assert_eq!((m.c4_violations, m.limited_ms.len(), m.callback_lag_ms), (1, 1, None));
    }
}
