//! The PostgreSQL backend's cost of one gateway call against `pgbench` running the same statements on the same
//! server in the same run (issue 13: ≥ 0.5×):
//! `cargo run --release -p mock-platform --example pg_gateway_call -- [clients] [seconds] [orders] [rounds]`
//! (default 4 10 1000 3).
//!
//! One `taobao.vmarket.eticket.consume` call's transactions through `mock_platform::postgres`: read the merchant
//! (sign check), then `with_order` on a random order (`SELECT … FOR UPDATE`, the ~3 KiB document written back, one
//! gateway exchange recorded under its cap), from `clients` tasks for `seconds`; on one `PgStore` (one replica),
//! and on two (two pools, the tasks split); between them `pgbench -n -M prepared -f <script> -c clients -j clients -T
//! seconds` with the layer's statements (its SQL text, the documents as parameters) on the same `testkit` server.
//! The machine is shared, so `rounds` rounds alternate the three and the median ratios are the figures.
//! HTTP, signing and the model's rules are not in it: this measures the storage layer against the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mock_platform::postgres::{ExchangeKind, PgOptions, PgStore, Tx};
use rand::Rng;
use serde_json::{Value, json};

#[path = "common/pgbench.rs"]
mod pgbench;

use pgbench::{arg, median, pgbench_rate};

const APP_KEY: &str = "bench";

/// An order document shaped like `model::Order`'s serde (codes, consumes, a delivery queue), ~3 KiB.
fn order_doc(id: i64) -> Value {
    let codes: Vec<Value> = (0..8)
        .map(|i| {
            json!({"code": format!("{:012}", id * 10 + i), "num": 2, "left": 2, "status": "issued",
                   "issued_ms": 1_767_225_600_000_i64, "qr": null, "posid": null, "failsend": false})
        })
        .collect();
    let consumes: Vec<Value> = (0..6)
        .map(|i| {
            json!({"code": format!("{:012}", id * 10), "num": 1, "posid": format!("pos-{i}"), "serial": format!("s-{id}-{i}"),
                   "at_ms": 1_767_225_700_000_i64 + i, "mobile_last4": "1234", "reversed": false})
        })
        .collect();
    let queue: Vec<Value> = (0..3)
        .map(|seq| {
            json!({"seq": seq, "method": "send", "sub_method": null, "attempts": 1, "acknowledged": true,
                   "due_ms": 1_767_225_600_000_i64, "last_reply": "{\"code\":200}", "alteration": null})
        })
        .collect();
    json!({
        "id": id, "token": "b3c1f0e2d4a5968778695a4b3c2d1e0f", "app_key": APP_KEY, "seller": null, "eticket": true,
        "state": "paid", "num": 8, "cancel_num": null, "mobile": "13800001234", "buyer_nick": "买家测试账号",
        "item_title": "测试商品 电子凭证 双人套餐 周末通用", "num_iid": 520_000_000_001_i64, "outer_iid": "outer-1",
        "sub_outer_iid": null, "sku_properties": "套餐:双人", "weeks": null, "sms_template": null, "send_type": 1,
        "consume_type": 0, "price": "99.00", "total_fee": "792.00", "valid_start": 1_767_225_600_000_i64,
        "valid_ends": 1_798_761_600_000_i64, "created_ms": 1_767_225_600_000_i64, "paid_ms": 1_767_225_600_500_i64,
        "modified_ms": 1_767_225_600_500_i64, "consumed": 0, "codes": codes, "consumes": consumes,
        "delivery": {"queue": queue, "next_seq": 3}
    })
}

/// A gateway exchange shaped like `exchange::GatewayExchange`'s serde (~0.6 KiB).
fn exchange_doc(id: i64) -> Value {
    json!({"gateway": {"api": "taobao.vmarket.eticket.consume", "http_method": "POST",
        "params": [["method", "taobao.vmarket.eticket.consume"], ["app_key", APP_KEY], ["session", "bench-session"],
                   ["timestamp", "2026-01-01 08:00:00"], ["v", "2.0"], ["format", "json"], ["sign_method", "md5"],
                   ["order_id", id.to_string()], ["verify_code", format!("{:012}", id * 10)], ["token", "b3c1f0e2d4a5968778695a4b3c2d1e0f"],
                   ["consume_num", "1"], ["serial_num", "s-1"], ["sign", "0123456789ABCDEF0123456789ABCDEF"]],
        "started_at_ms": 1_767_225_600_000_i64, "started_seq": 1, "finished_at_ms": 1_767_225_600_002_i64,
        "latency_ms": 2, "held_ms": 0, "status": 200,
        "response": "{\"vmarket_eticket_consume_response\":{\"ret_code\":1,\"item_title\":\"测试商品\",\"left_num\":7}}"}})
}

/// One gateway call's transactions through the layer.
async fn call(store: &PgStore, id: i64, exchange: &Value) {
    let merchant: Option<Value> = store.merchant(APP_KEY).await.expect("merchant");
    assert!(merchant.is_some());
    store
        .with_order(id, |doc: &mut Value, tx: &mut Tx| {
            let consumed = doc["consumed"].as_i64().unwrap_or(0);
            doc["consumed"] = json!(consumed + 1);
            doc["modified_ms"] = json!(tx.now_ms);
            tx.record(ExchangeKind::Gateway, exchange.clone());
        })
        .await
        .expect("with_order")
        .expect("the order exists");
}

/// Calls per second from `clients` tasks spread over `stores` for `seconds`.
async fn layer_rate(stores: &[PgStore], clients: u64, seconds: u64, orders: i64, first: i64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let store = stores[i as usize % stores.len()].clone();
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < until {
                    let id = first + rand::rng().random_range(0..orders);
                    call(&store, id, &exchange_doc(id)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task panicked");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The pgbench script: the layer's statements, with `:id`, and the documents as `:doc` and `:exchange` (set with
/// `-D`, so that, as from the layer, each reaches the server as a parameter to parse, not a constant parsed once at
/// `PREPARE`).
fn pgbench_script() -> String {
    format!(
        "\\set id random(:first, :last)\n\
         SELECT doc FROM merchants WHERE app_key = '{APP_KEY}';\n\
         BEGIN;\n\
         SELECT doc, app_key, clock_now_ms(app_key), close_at <= clock_timestamp() FROM orders WHERE id = :id AND hold_clocks() FOR UPDATE;\n\
         UPDATE orders SET doc = :doc, state = coalesce(NULL::text, state), close_at = CASE WHEN NOT false THEN close_at WHEN NULL::int8 IS NULL THEN NULL ELSE clock_wall(app_key, NULL::int8) END WHERE id = :id;\n\
         WITH c AS (INSERT INTO exchange_counts (order_id, gateway_seen) VALUES (:id, 1) ON CONFLICT (order_id) DO UPDATE SET gateway_seen = exchange_counts.gateway_seen + 1 RETURNING gateway_seen), i AS (INSERT INTO exchanges (order_id, kind, doc) SELECT :id, 'g', :exchange FROM c) DELETE FROM exchanges WHERE (SELECT gateway_seen FROM c) > 1000 AND seq = (SELECT min(seq) FROM exchanges WHERE order_id = :id AND kind = 'g');\n\
         COMMIT;\n"
    )
}

#[tokio::main]
async fn main() {
    let clients = arg(1, 4);
    let seconds = arg(2, 10);
    let orders = arg(3, 1000) as i64;
    let rounds = arg(4, 3).max(1);
    let database = testkit::postgres::database();
    let options = PgOptions { pool_size: clients as usize, ..PgOptions::new("bench-a", Duration::from_secs(60)) };
    let store = PgStore::connect(database.url(), options.clone()).await.expect("connect");
    store
        .put_merchant(APP_KEY, "bench-session", &json!({"app_key": APP_KEY, "secret": "s", "quota_used": 0}))
        .await
        .unwrap();
    let mut first = None;
    for _ in 0..orders {
        let (id, _) = store
            .new_order(APP_KEY, |id, tx: &mut Tx| {
                tx.state("paid");
                order_doc(id)
            })
            .await
            .unwrap();
        first.get_or_insert(id);
    }
    let first = first.expect("at least one order");
    let size = order_doc(first).to_string().len();
    println!("{orders} orders of {size} bytes, {clients} clients, {seconds} s each");

    // The machine is shared: rounds alternate the layer and pgbench, and the median ratio is the figure.
    let second = PgStore::connect(database.url(), PgOptions { replica_id: "bench-b".into(), ..options }).await.unwrap();
    let (mut ones, mut twos) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let one = layer_rate(std::slice::from_ref(&store), clients, seconds, orders, first).await;
        let variables = [
            ("first", first.to_string()),
            ("last", (first + orders - 1).to_string()),
            ("doc", order_doc(first).to_string()),
            ("exchange", exchange_doc(first).to_string()),
        ];
        let bench = pgbench_rate(&database, clients, seconds, &pgbench_script(), &variables);
        let two = layer_rate(&[store.clone(), second.clone()], clients, seconds, orders, first).await;
        println!(
            "round {round}: layer one replica {one:6.0} calls/s, pgbench {bench:6.0} tps, layer two replicas {two:6.0} \
             calls/s; ratios {:.2} and {:.2}",
            one / bench,
            two / bench
        );
        ones.push(one / bench);
        twos.push(two / bench);
    }
    println!(
        "median ratio to pgbench over {rounds} rounds: one replica {:.2} (target >= 0.5), two replicas {:.2}",
        median(&mut ones),
        median(&mut twos)
    );
}
