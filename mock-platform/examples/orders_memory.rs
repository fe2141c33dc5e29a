//! Measures the resident memory per order:
//! `cargo run --release -p mock-platform --example orders_memory -- 100000 acked` (or `queued`).
//!
//! Orders are bought through the library with no dispatcher. `queued`: each keeps its undelivered `send`
//! (the worst case). `acked`: each `send` is marked acknowledged right after the purchase, as once
//! delivered (the steady state). Exchanges are not counted.

use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let acked = std::env::args().nth(2).as_deref() != Some("queued");
    let platform = Platform::new(PlatformConfig::default());
    let merchant: NewMerchant = serde_json::from_value(serde_json::json!({
        "app_key": "k", "app_secret": "s", "notify_key": "n", "notify_url": "http://127.0.0.1:9/notify", "phase": "live",
    }))
    .expect("merchant body");
    platform.add_merchant(merchant).expect("merchant");
    let schedule = platform.config().schedule_ms();
    let before = rss_kib();
    for i in 0..n {
        let body: NewOrderBody = serde_json::from_value(serde_json::json!({
            "app_key": "k", "num": 2, "mobile": format!("138{i:08}"), "item_title": "银子岩门票",
        }))
        .expect("order body");
        platform.create_order(body).expect("order");
        if acked {
            let now = platform.clock().now_ms();
            let mut data = platform.data();
            for plan in data.take_due(now, &schedule) {
                data.finish_attempt(plan.order_id, plan.seq, true, now, &schedule);
            }
        }
    }
    let after = rss_kib();
    println!(
        "{n} orders ({}): size_of::<Order>() = {} B, RSS +{} KiB, {} B per order",
        if acked { "send acknowledged" } else { "send queued" },
        std::mem::size_of::<mock_platform::model::Order>(),
        after - before,
        (after - before) * 1024 / n as u64
    );
}
