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
    let mut merchant = NewMerchant::new("k", "s", "n", "http://127.0.0.1:9/notify");
    merchant.phase = Some(mock_platform::model::Phase::Live);
    platform.add_merchant(merchant).expect("merchant");
    let schedule = platform.config().schedule_ms();
    let before = rss_kib();
    for i in 0..n {
        platform.create_order(NewOrderBody::new("k", 2, &format!("138{i:08}"), "银子岩门票")).expect("order");
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
