//! The whole gateway on the PostgreSQL store against `pgbench` running the statements one gateway call makes, on the
//! same server in the same run (issue 13: ≥ 0.5×):
//! `cargo run --release -p mock-platform --example pg_gateway -- [clients] [seconds] [orders] [rounds]`
//! (default 4 10 1000 3).
//!
//! Replicas of the platform (`Platform::connect` + `mock_platform::run` on 127.0.0.1:0) on one `testkit` database;
//! `clients` tasks each send signed `taobao.vmarket.eticket.consume` calls (one unit of a random order's code, a
//! new serial each time) over HTTP keep-alive for `seconds`, against one replica, then spread over two. Between
//! them `pgbench -n -M prepared -c clients -j clients -T seconds` runs `pgbench_script()`: the statements the store
//! makes for one consume call (the clock reads, the merchant's quota change, the fault lookup, the order's change
//! with its document, the exchange's record), with documents of the same size as parameters. The machine is shared:
//! `rounds` rounds alternate the three, and the median ratios are the figures. The ratio is what the gateway's own
//! work (HTTP, parsing, signing, the model, serde of the documents) costs on top of the database's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use mock_platform::model::{OrderState, Phase};
use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use rand::Rng;
use serde_json::Value;

#[path = "common/pgbench.rs"]
mod pgbench;

use pgbench::{arg, median, pgbench_rate};

const APP_KEY: &str = "23456789";
const APP_SECRET: &str = "bench-app-secret-0123456789";
const SESSION: &str = "6102benchsession";
/// Units per order: enough for every consume of a run.
const UNITS: i64 = 100_000;

async fn replica(url: &str) -> (Platform, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = PlatformConfig { gateway_base_url: Some(base.clone()), ..PlatformConfig::default() };
    let platform = Platform::connect(config, url).await.expect("connect");
    tokio::spawn(mock_platform::run(listener, platform.clone(), std::future::pending()));
    (platform, base)
}

fn signed(api: &str, params: &[(&str, &str)]) -> String {
    let mut request = TopRequest::new(api, APP_KEY, SESSION, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5);
    for (name, value) in params {
        request = request.param(name, *value);
    }
    request.signed(&Secret::new(APP_SECRET)).to_urlencoded(Charset::Utf8)
}

async fn gateway(http: &reqwest::Client, base: &str, body: String) -> Value {
    let text = http
        .post(format!("{base}/router/rest"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("gateway")
        .text()
        .await
        .expect("answer");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"))
}

/// `n` orders, each send acknowledged and its one code issued with [`UNITS`] units: (id, token, code) each.
async fn issued_orders(
    platform: &Platform,
    http: &reqwest::Client,
    base: &str,
    n: usize,
) -> Vec<(i64, String, String)> {
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        let body = NewOrderBody::new(APP_KEY, UNITS, &format!("138{i:08}"), "象山景区门票");
        let view = platform.create_order(body).await.expect("order");
        let id = view["order_id"].as_i64().expect("id");
        orders.push((id, view["token"].as_str().expect("token").to_owned(), format!("B{id}")));
    }
    // Every send acknowledged first (C4 would otherwise hold the callbacks).
    loop {
        let notified = platform.store().orders(Some(APP_KEY), Some(OrderState::Notified), |_| ()).await.expect("store");
        if notified.len() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (id, token, code) in &orders {
        let codes = format!("{code}:{UNITS}");
        let params = [("order_id", id.to_string()), ("verify_codes", codes), ("token", token.clone())];
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = gateway(http, base, signed("taobao.vmarket.eticket.send", &params)).await;
        assert_eq!(answer["vmarket_eticket_send_response"]["ret_code"], 1, "{answer}");
    }
    orders
}

/// Consume calls per second from `clients` tasks spread over `bases` for `seconds`.
async fn gateway_rate(bases: &[String], orders: &Arc<Vec<(i64, String, String)>>, clients: u64, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let base = bases[i as usize % bases.len()].clone();
            let (done, orders) = (done.clone(), orders.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder().no_proxy().build().expect("client");
                while Instant::now() < until {
                    let (id, token, code) = &orders[rand::rng().random_range(0..orders.len())];
                    let serial = format!("s{}", rand::rng().random::<u64>());
                    let body = signed(
                        "taobao.vmarket.eticket.consume",
                        &[
                            ("order_id", &id.to_string()),
                            ("verify_code", code),
                            ("consume_num", "1"),
                            ("token", token),
                            ("serial_num", &serial),
                        ],
                    );
                    let answer = gateway(&http, &base, body).await;
                    assert_eq!(answer["vmarket_eticket_consume_response"]["ret_code"], 1, "{answer}");
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

/// The statements the PostgreSQL store makes for one consume call, in order, as the store writes them (its SQL
/// text; `:doc`, `:merchant` and `:exchange` documents of the real size as parameters). Keep in step with
/// `store/shared.rs` and `postgres/`.
fn pgbench_script() -> String {
    let app = APP_KEY;
    format!(
        "\\set id random(:first, :last)\n\
         SELECT clock_now_ms('{app}'), (SELECT doc FROM merchants WHERE app_key = '{app}');\n\
         BEGIN;\n\
         SELECT doc, clock_now_ms(app_key) FROM merchants WHERE app_key = '{app}' FOR UPDATE;\n\
         UPDATE merchants SET doc = :merchant WHERE app_key = '{app}';\n\
         COMMIT;\n\
         SELECT id FROM gateway_faults WHERE times_left > 0 AND method = 'taobao.vmarket.eticket.consume' AND (app_key IS NULL OR app_key = '{app}') AND (order_id IS NULL OR order_id = :id) LIMIT 1;\n\
         SELECT nextval('op_seqs') FROM generate_series(1, 1::int8);\n\
         BEGIN;\n\
         SELECT o.doc, o.app_key, clock_now_ms(o.app_key), o.close_at <= clock_timestamp(), m.doc FROM orders o LEFT JOIN merchants m ON m.app_key = o.app_key WHERE o.id = :id AND hold_clocks() FOR UPDATE OF o;\n\
         UPDATE orders SET doc = :doc, state = coalesce('ISSUED'::text, state), close_at = CASE WHEN NOT true THEN close_at WHEN NULL::int8 IS NULL THEN NULL ELSE clock_wall(app_key, NULL::int8) END WHERE id = :id;\n\
         COMMIT;\n\
         WITH ok AS (SELECT 1 FROM orders WHERE id = :id AND app_key = '{app}'), c AS (INSERT INTO exchange_counts (order_id, gateway_seen) SELECT :id, 1 FROM ok ON CONFLICT (order_id) DO UPDATE SET gateway_seen = exchange_counts.gateway_seen + 1 RETURNING gateway_seen), i AS (INSERT INTO exchanges (order_id, kind, doc) SELECT :id, 'g', :exchange FROM c), d AS (DELETE FROM exchanges WHERE (SELECT gateway_seen FROM c) > 1000 AND seq = (SELECT min(seq) FROM exchanges WHERE order_id = :id AND kind = 'g')) SELECT gateway_seen::int8 FROM c;\n"
    )
}

/// One row's document as the database holds it.
async fn stored(database: &testkit::postgres::TestDatabase, sql: &str) -> String {
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

#[tokio::main]
async fn main() {
    let clients = arg(1, 4);
    let seconds = arg(2, 10);
    let orders = arg(3, 1000) as usize;
    let rounds = arg(4, 3).max(1);
    let database = testkit::postgres::database();
    let (one, base_one) = replica(database.url()).await;
    let mut merchant = NewMerchant::new(APP_KEY, APP_SECRET, "bench-notify-key-0123456789", "http://127.0.0.1:9/n");
    merchant.session = Some(SESSION.to_owned());
    merchant.phase = Some(Phase::Live);
    merchant.daily_quota = Some(u32::MAX);
    // Nobody listens on the notify URL: the sends below are acknowledged by a merchant this example runs.
    let ack = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    merchant.notify_url = format!("http://{}/notify", ack.local_addr().expect("addr"));
    let app = axum::Router::new().route("/notify", axum::routing::post(|| async { r#"{"code":200}"# }));
    tokio::spawn(async move { axum::serve(ack, app).await });
    one.add_merchant(merchant).await.expect("merchant");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    // pgbench writes one document to every order it picks: it gets orders of its own, made the same way.
    let mut issued = issued_orders(&one, &http, &base_one, 2 * orders).await;
    let theirs = issued.split_off(orders);
    let (first, last) = (theirs[0].0, theirs[theirs.len() - 1].0);
    let issued = Arc::new(issued);
    let (_two, base_two) = replica(database.url()).await;
    // A consume first, so that the documents pgbench writes are the size the gateway's are.
    gateway_rate(std::slice::from_ref(&base_one), &issued, 1, 1).await;
    let order_of = format!("SELECT doc::text FROM orders WHERE id = {}", issued[0].0);
    let order_doc = stored(&database, &order_of).await;
    let merchant_doc = stored(&database, &format!("SELECT doc::text FROM merchants WHERE app_key = '{APP_KEY}'")).await;
    let exchange_doc = stored(&database, "SELECT doc::text FROM exchanges ORDER BY seq DESC LIMIT 1").await;
    println!(
        "{orders} orders (document {} B, merchant {} B, exchange {} B), {clients} clients, {seconds} s each",
        order_doc.len(),
        merchant_doc.len(),
        exchange_doc.len()
    );
    let (mut ones, mut twos) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let single = gateway_rate(std::slice::from_ref(&base_one), &issued, clients, seconds).await;
        // An order's document grows with its consumes: pgbench writes one as large as the gateway's are now.
        let order_doc = stored(&database, &order_of).await;
        let docs = (order_doc.as_str(), merchant_doc.as_str(), exchange_doc.as_str());
        let (order, merchant, exchange) = docs;
        let variables = [
            ("first", first.to_string()),
            ("last", last.to_string()),
            ("doc", order.to_owned()),
            ("merchant", merchant.to_owned()),
            ("exchange", exchange.to_owned()),
        ];
        let bench = pgbench_rate(&database, clients, seconds, &pgbench_script(), &variables);
        let double = gateway_rate(&[base_one.clone(), base_two.clone()], &issued, clients, seconds).await;
        println!(
            "round {round}: gateway on one replica {single:6.0} calls/s, pgbench {bench:6.0} tps, on two replicas \
             {double:6.0} calls/s; ratios {:.2} and {:.2}",
            single / bench,
            double / bench
        );
        ones.push(single / bench);
        twos.push(double / bench);
    }
    println!(
        "median ratio to pgbench over {rounds} rounds: one replica {:.2} (target >= 0.5), two replicas {:.2}",
        median(&mut ones),
        median(&mut twos)
    );
}
