//! Load command: `send` notifications acknowledged per second with the durable write, next to raw
//! SQLite inserts of the same rows, measured in the same run.
//!
//! ```text
//! cargo run --release -p merchant-reference --example notify_load -- [N=5000] [REPETITIONS=3]
//! ```
//!
//! The handler is driven in-process through `tower::ServiceExt::oneshot` on the real `Router` (no
//! sockets: the figure is our work, not the loopback's): form parsing, GBK sign check, timestamp
//! check, the one transaction (notification log, order, code, outbox row) and the 12-byte answer. The
//! outbox worker is not running, so callbacks pile up unsent and cost nothing here. Every phase uses
//! `journal_mode=WAL`, `synchronous=NORMAL` (see `store.rs`), each on a fresh file in the temp dir. The three
//! phases (sequential, concurrent, raw) run interleaved, REPETITIONS times, and the ratios come with their spread.

use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::Utc;
use http_body_util::BodyExt;
use merchant_reference::{AppState, Config, app, store};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Notification, NotifyMethod, OrderId, Secret, Token, notify_sign};
use rusqlite::params;
use tower::ServiceExt;

const NOTIFY_KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";
/// Concurrent requests in the second handler phase.
const CONCURRENCY: usize = 16;

fn notification(order_id: i64) -> Notification {
    let mut n = Notification::new(NotifyMethod::Send, OrderId::new(order_id).unwrap(), "92333234", "haaron_john");
    n.token = Some(Token::parse(&format!("{order_id:032x}")).unwrap());
    n.mobile = Some("18077113872".into());
    n.num = Some(1);
    n.item_title = Some("银子岩门票".into());
    n.num_iid = Some("522071639483".into());
    n.send_type = Some("2".into());
    n.consume_type = Some("0".into());
    n.sms_template = Some("验证码$code.您已成功订购haaron_john提供的银子岩门票,消费时请出示本短信以验证.".into());
    n.valid_start = Some("2016-04-12 00:00:00".into());
    n.valid_ends = Some("2099-04-12 23:59:59".into());
    n.r#type = Some("0".into());
    n
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("merchant-load-{}-{name}.sqlite", std::process::id()));
    remove_db(&path);
    path
}

fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn state(db: &std::path::Path) -> AppState {
    let mut config = Config::new(
        "http://127.0.0.1:9/router/rest",
        "12345678",
        Secret::new("app-secret"),
        Secret::new("session"),
        Secret::new(NOTIFY_KEY),
    );
    config.db = db.to_path_buf();
    AppState::new(config).unwrap()
}

/// Signed form bodies for order ids `first..first + n`.
fn bodies(first: i64, n: usize) -> Vec<String> {
    let key = Secret::new(NOTIFY_KEY);
    (first..first + n as i64)
        .map(|id| {
            let mut params = notification(id).to_params(Gmt8Timestamp::from_utc(Utc::now()));
            let sign = notify_sign(&key, &params);
            params.set("sign", sign);
            params.to_urlencoded(Charset::Utf8)
        })
        .collect()
}

async fn post(router: axum::Router, body: String) {
    let request = Request::post("/notify")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], protocol::ack::ACK_200);
}

/// The handler, one notification at a time: acks per second.
async fn handler_sequential(n: usize) -> f64 {
    let db = temp_db("handler");
    let router = app(state(&db));
    let work = bodies(1, n);
    let start = Instant::now();
    for body in work {
        post(router.clone(), body).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let rows: i64 =
        store::open_connection(&db).unwrap().query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(rows as usize, n);
    remove_db(&db);
    rate
}

/// The handler, [`CONCURRENCY`] notifications in flight: acks per second.
async fn handler_concurrent(n: usize) -> f64 {
    let db = temp_db("handler-concurrent");
    let router = app(state(&db));
    let mut work = bodies(1, n);
    let start = Instant::now();
    let mut lanes = Vec::new();
    for lane in 0..CONCURRENCY {
        let mine: Vec<String> = work.drain(..(n / CONCURRENCY + usize::from(lane < n % CONCURRENCY))).collect();
        let router = router.clone();
        lanes.push(tokio::spawn(async move {
            for body in mine {
                post(router.clone(), body).await;
            }
        }));
    }
    for lane in lanes {
        lane.await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let rows: i64 =
        store::open_connection(&db).unwrap().query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(rows as usize, n);
    remove_db(&db);
    rate
}

/// Raw SQLite, the same four rows per notification, one transaction each: transactions per second, and the
/// connection's `synchronous` setting.
fn raw_sqlite(n: usize) -> (f64, i64) {
    let db = temp_db("raw");
    let mut conn = store::open_connection(&db).unwrap();
    let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let prepared: Vec<(String, String)> = (1..=n as i64)
        .map(|id| {
            let params = notification(id).to_params(Gmt8Timestamp::from_utc(Utc::now()));
            (serde_json::to_string(params.pairs()).unwrap(), format!("{id:012}"))
        })
        .collect();
    let start = Instant::now();
    for (i, (params_json, code)) in prepared.iter().enumerate() {
        let id = i as i64 + 1;
        let now = Gmt8Timestamp::from_utc(Utc::now()).format();
        let tx = conn.transaction().unwrap();
        tx.prepare_cached(
            "INSERT INTO orders (order_id, token, num, consume_type, mobile, item_title, valid_start, valid_ends,
                                 weeks, status, created_at)
             VALUES (?1, ?2, 1, 0, '18077113872', '银子岩门票', '2016-04-12 00:00:00', '2099-04-12 23:59:59',
                     NULL, 'issued', ?3)",
        )
        .unwrap()
        .execute(params![id, format!("{id:032x}"), now])
        .unwrap();
        tx.prepare_cached("INSERT INTO codes (code, order_id, position, issued, remaining) VALUES (?1, ?2, 0, 1, 1)")
            .unwrap()
            .execute(params![code, id])
            .unwrap();
        let ms = Utc::now().timestamp_millis();
        tx.prepare_cached(
            "INSERT INTO outbox (order_id, api, status, next_attempt_at, created_at) VALUES (?1, 'send', 'pending', ?2, ?2)",
        )
        .unwrap()
        .execute(params![id, ms])
        .unwrap();
        tx.prepare_cached(
            "INSERT INTO notifications (received_at, method, order_id, params, outcome) VALUES (?1, 'send', ?2, ?3, 'x')",
        )
        .unwrap()
        .execute(params![now, id, params_json])
        .unwrap();
        tx.commit().unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    remove_db(&db);
    (rate, synchronous)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("median {:.2} (min {lo:.2}, max {hi:.2})", median(v.to_vec()))
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let repetitions: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut synchronous = 0;
    let (mut seq_raw, mut conc_raw, mut conc_seq) = (Vec::new(), Vec::new(), Vec::new());
    // The three phases interleaved, repeated: on a shared machine a ratio is only meaningful between phases
    // measured side by side, and the spread over repetitions says how far to trust it.
    for rep in 1..=repetitions {
        let sequential = handler_sequential(n).await;
        let concurrent = handler_concurrent(n).await;
        let (raw, sync) = raw_sqlite(n);
        synchronous = sync;
        println!(
            "run {rep}: handler sequential {sequential:>7.0} acks/s, {CONCURRENCY} concurrent {concurrent:>7.0} acks/s, \
             raw SQLite {raw:>7.0} tx/s; concurrent/raw {:.2}, sequential/raw {:.2}, concurrent/sequential {:.2}",
            concurrent / raw,
            sequential / raw,
            concurrent / sequential,
        );
        seq_raw.push(sequential / raw);
        conc_raw.push(concurrent / raw);
        conc_seq.push(concurrent / sequential);
    }
    let synchronous = match synchronous {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        _ => "EXTRA",
    };
    println!(
        "{n} sends per phase, {repetitions} interleaved runs, journal_mode=WAL, synchronous={synchronous}, \
         handler driven in-process (oneshot)"
    );
    println!("concurrent/raw:        {}", spread(&conc_raw));
    println!("sequential/raw:        {}", spread(&seq_raw));
    println!("concurrent/sequential: {}", spread(&conc_seq));
}
