//! PROTOCOL §6 C4: callbacks that arrive before their cause is acknowledged are held and judged.

use std::sync::Arc;
use std::time::Duration;

use mock_platform::PlatformConfig;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use serde_json::json;

use crate::support::{APP_KEY, APP_SECRET, Harness, SESSION, backends, id_of, token_of};

fn fast() -> PlatformConfig {
    PlatformConfig {
        c4_hold: Duration::from_millis(500),
        notify_deadline: Duration::from_secs(3),
        ..Default::default()
    }
}

/// A merchant that calls eticket.send back before answering the notification.
fn call_back_first(base: String, ack_after: Option<Duration>) -> crate::support::Responder {
    Arc::new(move |params| {
        let base = base.clone();
        Box::pin(async move {
            let order_id = params.get("order_id").unwrap_or_default().to_owned();
            let token = params.get("token").unwrap_or_default().to_owned();
            let request = TopRequest::new(
                "taobao.vmarket.eticket.send",
                APP_KEY,
                SESSION,
                Gmt8Timestamp::from_utc(chrono::Utc::now()),
                SignMethod::HmacSha256,
            )
            .param("order_id", order_id)
            .param("verify_codes", "X1:2")
            .param("token", token)
            .signed(&Secret::new(APP_SECRET));
            let call = reqwest::Client::new().post(format!("{base}/router/rest")).form(&params_vec(&request)).send();
            match ack_after {
                // Waits for its own callback before answering: the hold ends first.
                None => {
                    let _ = call.await;
                }
                // Fires the callback and answers shortly after: a harmless loopback race.
                Some(delay) => {
                    tokio::spawn(call);
                    tokio::time::sleep(delay).await;
                }
            }
            (200, br#"{"code":200}"#.to_vec())
        })
    })
}

fn params_vec(p: &protocol::Params) -> Vec<(String, String)> {
    p.pairs().to_vec()
}

#[tokio::test]
async fn a_callback_made_while_waiting_to_answer_is_held_and_judged_before_ack() {
    for backend in backends() {
        let h = Harness::with_config_on(fast(), backend).await;
        h.respond_with(call_back_first(h.base.clone(), None));
        let id = id_of(&h.buy(json!({})).await);
        let e = h.wait_exchanges(id, "callback and attempt", |e| e.len() == 2).await;
        let gateway = e.iter().find(|x| x["kind"] == "gateway").unwrap();
        assert_eq!(gateway["causality"], "before_ack", "{gateway}");
        assert_eq!(gateway["cause_acked"], false);
        assert!(gateway["held_ms"].as_i64().unwrap() >= 450, "{gateway}");
    }
}

#[tokio::test]
async fn a_callback_racing_its_ack_is_held_until_the_ack_and_passes() {
    for backend in backends() {
        let h = Harness::with_config_on(fast(), backend).await;
        h.respond_with(call_back_first(h.base.clone(), Some(Duration::from_millis(100))));
        let id = id_of(&h.buy(json!({})).await);
        let e = h.wait_exchanges(id, "callback and attempt", |e| e.len() == 2).await;
        let gateway = e.iter().find(|x| x["kind"] == "gateway").unwrap();
        assert_eq!(gateway["causality"], "ok", "{gateway}");
        assert_eq!(gateway["cause_acked"], true);
        assert_eq!(h.order(id).await["state"], "ISSUED");
    }
}

#[tokio::test]
async fn a_callback_without_any_acknowledged_send_is_no_cause() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.respond_with(crate::support::answer(200, br#"{"code":501}"#));
        let order = h.buy(json!({})).await;
        let id = id_of(&order);
        h.wait_exchanges(id, "the rejected attempt", |e| e.len() == 1).await;
        let token = token_of(&order);
        h.codes("taobao.vmarket.eticket.send", id, "A:2", &token).await;
        let e = h.exchanges(id).await;
        assert_eq!(e[1]["causality"], "no_cause");
        assert_eq!(e[1]["held_ms"], 0);
    }
}
