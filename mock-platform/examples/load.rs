//! Throughput, each figure measured against its baseline in the same run (the machine is shared, so absolute
//! figures drift): `cargo run --release -p mock-platform --example load -- [seconds] [orders]` (default 5 20000);
//! `LOAD_BACKEND=sqlite` keeps the measured platforms in SQLite files (the store's write-behind), else in memory.
//!
//! 1. Gateway: signed `taobao.vmarket.eticket.send` form POSTs per second over loopback at 64 keep-alive
//!    connections (each sending its requests one after another), for orders whose codes are already issued:
//!    every call goes through the whole pipeline (system checks, sign, session, quota, param checks, the
//!    order and its token, the C4 causality check, the exchange record) and answers
//!    `isv.eticket-send-error:code-alreay-send`. Baseline: `/bench/static`, a route added to the same router
//!    here (not in the product) that reads the same POST and answers a static body without parsing it.
//! 2. Notifications: signed `send` notifications per second delivered to a local acknowledger answering
//!    `{"code":200}`, 64 attempts open at once. Baseline: a bare reqwest loop posting the identical
//!    pre-signed bodies, 64 in flight. Both open a new connection per request: PROTOCOL §3.1 makes the
//!    dispatcher send `Connection: close`, so a pooled baseline would measure something else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::header::{CONNECTION, CONTENT_TYPE, HOST};
use axum::routing::post;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, NotifyMethod, Secret, SignMethod, TopRequest, VerifyCodes};

const CONNECTIONS: usize = 64;
const APP_KEY: &str = "bench";
const APP_SECRET: &str = "bench-secret";
const NOTIFY_KEY: &str = "bench-notify-key";
const SESSION: &str = "bench-session";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// What the static route answers: the gateway's answer to these calls, minus its request_id.
const STATIC_BODY: &str = r#"{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.eticket-send-error:code-alreay-send","sub_msg":"订单已经发码，不能重复发码","request_id":"000000000000"}}"#;
const ACK: &str = r#"{"code":200}"#;

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let seconds = arg(1, 5) as u64;
    let orders = arg(2, 20_000);
    // A third argument, `gateway` or `notifications`, runs one part only (for profiling).
    let only = std::env::args().nth(3);
    if only.as_deref() != Some("notifications") {
        let (gateway, fixed) = gateway(seconds, orders).await;
        println!(
            "gateway: {gateway:.0} eticket.send calls/s vs {fixed:.0} static answers/s: ratio {:.2}",
            gateway / fixed
        );
    }
    if only.as_deref() != Some("gateway") {
        let (dispatched, bare) = notifications(orders).await;
        println!(
            "notifications: {dispatched:.0} delivered and acknowledged/s vs {bare:.0} bare POSTs/s: ratio {:.2}",
            dispatched / bare
        );
    }
    for path in DATABASES.lock().expect("lock").iter() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

/// SQLite files made for `LOAD_BACKEND=sqlite`, removed at the end.
static DATABASES: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A platform with one live merchant and a quota that never runs out; kept in a fresh SQLite file under the temp
/// dir when `LOAD_BACKEND=sqlite`.
async fn platform(notify_url: &str) -> Platform {
    let config = PlatformConfig { max_concurrent_attempts: CONNECTIONS, ..PlatformConfig::default() };
    let platform = if std::env::var("LOAD_BACKEND").as_deref() == Ok("sqlite") {
        let mut databases = DATABASES.lock().expect("lock");
        let path =
            std::env::temp_dir().join(format!("mock-platform-load-{}-{}.db", std::process::id(), databases.len()));
        databases.push(path.clone());
        Platform::open(config, &path).expect("database")
    } else {
        Platform::new(config)
    };
    let mut merchant = NewMerchant::new(APP_KEY, APP_SECRET, NOTIFY_KEY, notify_url);
    merchant.phase = Some(mock_platform::model::Phase::Live);
    merchant.daily_quota = Some(u32::MAX);
    merchant.session = Some(SESSION.into());
    platform.add_merchant(merchant).await.expect("merchant");
    platform
}

/// Returns (gateway calls/s, static answers/s).
async fn gateway(seconds: u64, orders: usize) -> (f64, f64) {
    // No dispatcher: the sends are acknowledged by hand below.
    let platform = platform("http://127.0.0.1:9/notify").await;
    let schedule = platform.config().schedule_ms();
    let mut bodies = Vec::with_capacity(orders);
    for i in 0..orders {
        let view =
            platform.create_order(NewOrderBody::new(APP_KEY, 1, "13800000000", "银子岩门票")).await.expect("order");
        let id = view["order_id"].as_i64().expect("order_id");
        let codes = format!("C{i:08}:1");
        // No clock was advanced: the wall clock (the store's timers) is the merchant's clock.
        let now = platform.clock().wall_now().timestamp_millis();
        {
            let (plans, _) = platform.store().lease_due(now, &schedule).await.expect("in-memory store");
            for plan in plans {
                platform.store().settle(&plan, None, true, now, &schedule).await.expect("in-memory store");
            }
            let verify = VerifyCodes::parse(&codes).expect("codes");
            platform
                .store()
                .with_order(id, 0, |tx| tx.order_mut().issue(&verify, &[], now))
                .await
                .expect("in-memory store")
                .expect("order")
                .expect("issue");
        }
        let request = TopRequest::new(
            "taobao.vmarket.eticket.send",
            APP_KEY,
            SESSION,
            Gmt8Timestamp::from_utc(Utc::now()),
            SignMethod::Md5,
        )
        .param("order_id", id.to_string())
        .param("verify_codes", codes)
        .param("token", view["token"].as_str().expect("token").to_owned());
        bodies.push(Bytes::from(request.signed(&Secret::new(APP_SECRET)).to_urlencoded(Charset::Utf8)));
    }
    let app = mock_platform::app(platform.clone()).route(
        "/bench/static",
        post(|_body: Bytes| async { ([(CONTENT_TYPE, "application/json;charset=UTF-8")], STATIC_BODY) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Served as `mock_platform::run` serves (connection timeouts, hyper's parse-error answers), both routes alike.
    let timeout = platform.config().connection_timeout;
    tokio::spawn(mock_platform::serve::serve(listener, app, timeout, std::future::pending()));
    let bodies = Arc::new(bodies);
    let fixed = keep_alive_load(addr, "/bench/static", bodies.clone(), seconds, "code-alreay-send").await;
    let gateway = keep_alive_load(addr, "/router/rest", bodies, seconds, "code-alreay-send").await;
    (gateway, fixed)
}

/// Requests per second from 64 keep-alive connections, each sending `bodies` in turn for `seconds`.
async fn keep_alive_load(
    addr: SocketAddr,
    path: &'static str,
    bodies: Arc<Vec<Bytes>>,
    seconds: u64,
    expect: &str,
) -> f64 {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (bodies, expect) = (bodies.clone(), expect.to_owned());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
            tokio::spawn(conn);
            let (mut done, mut i) = (0usize, c);
            while Instant::now() < deadline {
                let request = hyper::Request::post(path)
                    .header(HOST, "127.0.0.1")
                    .header(CONTENT_TYPE, FORM)
                    .body(Full::new(bodies[i % bodies.len()].clone()))
                    .expect("request");
                let response = sender.send_request(request).await.expect("send");
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.expect("body").to_bytes();
                if done == 0 {
                    assert!(String::from_utf8_lossy(&body).contains(&expect), "{body:?}");
                }
                done += 1;
                i += CONNECTIONS;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("client");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Returns (notifications acknowledged/s by the dispatcher, bare POSTs/s).
async fn notifications(orders: usize) -> (f64, f64) {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let ack = axum::Router::new().route(
        "/notify",
        post(move |_body: Bytes| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { ACK }
        }),
    );
    let merchant = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/notify", merchant.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(merchant, ack).await });
    // Orders bought with no dispatcher running: their sends wait, due now.
    let platform = platform(&url).await;
    for _ in 0..orders {
        platform.create_order(NewOrderBody::new(APP_KEY, 1, "13800000000", "银子岩门票")).await.expect("order");
    }
    let key = Secret::new(NOTIFY_KEY);
    let bodies: Vec<Bytes> = {
        let merchant =
            platform.store().merchant(APP_KEY, Clone::clone).await.expect("in-memory store").expect("merchant");
        platform
            .store()
            .orders(None, None, |o| {
                let (sid, nick) = o.seller_of(&merchant);
                let n = o.notification(NotifyMethod::Send, sid, &nick);
                let wire = mock_platform::notify::alteration::build(&n, &key, Charset::Utf8, Utc::now(), None);
                Bytes::from(wire.body)
            })
            .await
            .expect("in-memory store")
    };

    let bare = bare_loop(&url, Arc::new(bodies)).await;

    received.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let dispatcher = platform.spawn_dispatcher();
    while received.load(Ordering::Relaxed) < orders {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    loop {
        let acked = platform
            .store()
            .orders(None, None, |o| o.delivery.has_acked(NotifyMethod::Send))
            .await
            .expect("in-memory store")
            .into_iter()
            .filter(|acked| *acked)
            .count();
        if acked == orders {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let dispatched = orders as f64 / start.elapsed().as_secs_f64();
    dispatcher.abort();
    (dispatched, bare)
}

/// POSTs every body once, 64 in flight, each on a new connection with `Connection: close`.
async fn bare_loop(url: &str, bodies: Arc<Vec<Bytes>>) -> f64 {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).http1_only().no_proxy().build().expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, url, bodies, next) = (http.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let response = http
                    .post(&url)
                    .header(CONTENT_TYPE, FORM)
                    .header(CONNECTION, "close")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post");
                assert_eq!(response.bytes().await.expect("reply"), ACK.as_bytes());
            }
        }));
    }
    for task in tasks {
        task.await.expect("poster");
    }
    bodies.len() as f64 / start.elapsed().as_secs_f64()
}
