//! Resident memory per order in the in-memory store:
//! `cargo run --release -p mock-platform --example orders_memory -- [orders]` (default 1000000).
//!
//! Runs itself twice, one process per case, and prints both: `queued`, each order keeping its undelivered
//! `send` (the worst case), and `acked`, each `send` marked acknowledged right after the purchase, as once
//! delivered (the steady state). Orders are bought through the library with no dispatcher; RSS is read
//! from `/proc/self/statm` before and after. Exchanges are not counted.
//!
//! `-- [orders] postgres` measures a replica of the shared platform instead (INTERFACES §1.2: its memory must not
//! grow with the orders): one replica serving with its dispatcher on a `testkit` database, a merchant in the same
//! process acknowledging every `send`; RSS after each quarter of the orders, every send acknowledged.

use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};

/// Resident bytes of this process (`/proc/self/statm`, second field, in pages).
fn rss_bytes() -> u64 {
    let pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

/// The page size, from the kernel's own mapping granularity (`/proc/self/smaps` `KernelPageSize`).
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("KernelPageSize:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(4096, |kib| kib * 1024)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    match std::env::args().nth(2).as_deref() {
        Some("queued") => measure(n, false),
        Some("acked") => measure(n, true),
        Some("postgres") => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
            runtime.block_on(replica(n));
        }
        _ => {
            // One process per case: a case measured after the other would reuse its freed memory.
            let exe = std::env::current_exe().expect("own path");
            for case in ["queued", "acked"] {
                let status = std::process::Command::new(&exe).arg(n.to_string()).arg(case).status().expect("run");
                assert!(status.success(), "{case}: {status}");
            }
        }
    }
}

fn measure(n: usize, acked: bool) {
    // The store's operations are async (a PostgreSQL backend awaits); in memory they never wait, so a
    // current-thread runtime runs them without a thread of its own.
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(measure_in(n, acked));
}

async fn measure_in(n: usize, acked: bool) {
    let platform = Platform::new(PlatformConfig::default());
    let mut merchant = NewMerchant::new("k", "s", "n", "http://127.0.0.1:9/notify");
    merchant.phase = Some(mock_platform::model::Phase::Live);
    platform.add_merchant(merchant).await.expect("merchant");
    let schedule = platform.config().schedule_ms();
    let before = rss_bytes();
    for i in 0..n {
        platform.create_order(NewOrderBody::new("k", 2, &format!("138{i:08}"), "银子岩门票")).await.expect("order");
        if acked {
            let now = platform.clock().wall_now().timestamp_millis();
            let (plans, _) = platform.store().lease_due(now, &schedule).await.expect("in-memory store");
            for plan in plans {
                platform.store().settle(&plan, None, true, now, &schedule).await.expect("in-memory store");
            }
        }
    }
    let after = rss_bytes();
    println!(
        "{n} orders, send {}: RSS +{} KiB, {} B per order (size_of::<Order>() = {} B)",
        if acked { "acknowledged" } else { "queued" },
        (after - before) / 1024,
        (after - before) / n as u64,
        std::mem::size_of::<mock_platform::model::Order>(),
    );
}

/// A PostgreSQL replica's RSS as the orders grow.
async fn replica(n: usize) {
    let database = testkit::postgres::database();
    let ack = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let notify_url = format!("http://{}/notify", ack.local_addr().expect("addr"));
    let app = axum::Router::new().route("/notify", axum::routing::post(|| async { r#"{"code":200}"# }));
    tokio::spawn(async move { axum::serve(ack, app).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = PlatformConfig {
        gateway_base_url: Some(format!("http://{}", listener.local_addr().expect("addr"))),
        ..PlatformConfig::default()
    };
    let platform = Platform::connect(config, database.url()).await.expect("connect");
    tokio::spawn(mock_platform::run(listener, platform.clone(), std::future::pending()));
    let mut merchant = NewMerchant::new("k", "s", "n", &notify_url);
    merchant.phase = Some(mock_platform::model::Phase::Live);
    platform.add_merchant(merchant).await.expect("merchant");
    println!("replica on PostgreSQL: RSS {} KiB with no order", rss_bytes() / 1024);
    let quarter = (n / 4).max(1);
    for i in 0..n {
        platform.create_order(NewOrderBody::new("k", 2, &format!("138{i:08}"), "银子岩门票")).await.expect("order");
        if (i + 1) % quarter == 0 {
            // Every send acknowledged, so the RSS is the steady state's, not a backlog's (counted in the database:
            // reading the orders back would itself take memory).
            while platform.store().queued_notifications().await.expect("store") > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            println!("replica on PostgreSQL: RSS {} KiB after {} orders", rss_bytes() / 1024, i + 1);
        }
    }
}
