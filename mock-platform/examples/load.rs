//! Throughput on loopback: `cargo run --release -p mock-platform --example load -- 2000 20000`
//! (notified orders, then gateway calls). Prints notifications acknowledged per second and signed
//! `codes.get` calls answered per second (16 concurrent clients).

use std::time::Instant;

use axum::routing::post;
use chrono::Utc;
use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};

#[tokio::main]
async fn main() {
    let orders: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let calls: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let merchant = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind merchant");
    let merchant_url = format!("http://{}/notify", merchant.local_addr().expect("addr"));
    let ack = axum::Router::new().route("/notify", post(|| async { r#"{"code":200}"# }));
    tokio::spawn(async move { axum::serve(merchant, ack).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind platform");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let platform = Platform::new(PlatformConfig::default());
    tokio::spawn(mock_platform::run(listener, platform.clone(), std::future::pending()));
    let m: NewMerchant = serde_json::from_value(serde_json::json!({
        "app_key": "k", "app_secret": "s", "notify_key": "n", "notify_url": merchant_url, "session": "sess", "phase": "live", "daily_quota": 100000000,
    }))
    .expect("merchant");
    platform.add_merchant(m).expect("merchant");

    let start = Instant::now();
    let mut first = 0;
    for i in 0..orders {
        let body: NewOrderBody = serde_json::from_value(serde_json::json!({
            "app_key": "k", "num": 1, "mobile": "13800000000", "item_title": "银子岩门票",
        }))
        .expect("order");
        let view = platform.create_order(body).expect("order");
        if i == 0 {
            first = view["order_id"].as_i64().unwrap_or(0);
        }
    }
    loop {
        let done =
            platform.data().orders.values().filter(|o| o.delivery.has_acked(protocol::NotifyMethod::Send)).count();
        if done == orders {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{orders} send notifications acknowledged in {secs:.2} s: {:.0}/s", orders as f64 / secs);

    let http = reqwest::Client::new();
    let start = Instant::now();
    let per_client = calls / 16;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, base) = (http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let params = TopRequest::new(
                    "taobao.vmarket.eticket.codes.get",
                    "k",
                    "sess",
                    Gmt8Timestamp::from_utc(Utc::now()),
                    SignMethod::Md5,
                )
                .param("order_id", first.to_string())
                .signed(&Secret::new("s"));
                let body = http.post(format!("{base}/router/rest")).form(params.pairs()).send().await.expect("call");
                assert!(body.text().await.expect("body").contains("total_results"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("client");
    }
    let secs = start.elapsed().as_secs_f64();
    let total = per_client * 16;
    println!("{total} gateway calls in {secs:.2} s: {:.0}/s (each recorded on one order)", total as f64 / secs);
}
