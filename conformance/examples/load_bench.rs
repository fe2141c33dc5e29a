//! "The tool is never the bottleneck" (issue 12): `conformance load`'s achieved order rate against a minimal
//! merchant that acknowledges and calls back at once, next to a bare loop that only POSTs the same signed `send`
//! notifications with the same connection policy (a new connection per attempt, `Connection: close`,
//! PROTOCOL §3.1). Also the RSS of the process at the start and the end of each load run, and the CPU per order
//! against the CPU per bare ack (the figure other processes on a shared machine disturb least).
//!
//! The minimal merchant is as light as it can be, so that the figures measure the platform and the tool: it reads
//! only the three params its callback names and calls back over plain hyper keep-alive connections. The bare loop
//! and the platform post notifications with the same reqwest client policy.
//!
//! `cargo run --release -p conformance --example load_bench -- [SECONDS=5] [CONCURRENCY=64] [REPETITIONS=3]
//! [FRACTIONS=1,0.5,0.25]`: each repetition measures the bare loop, then a load run at each fraction of its rate.
//! `LOAD_BENCH_CALLBACKS=0`: the minimal merchant does not call back (the notification path alone; every order
//! then stays unissued and the runs "break", which is expected).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use conformance::config::{MerchantConfig, PlatformTarget};
use conformance::load::judge::Thresholds;
use conformance::load::{LoadConfig, run_load};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use protocol::{Gmt8Timestamp, Params, Secret, SignMethod, TopRequest};

/// The `conformance` binary's allocator (`--no-default-features`: glibc's, to compare).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP_KEY: &str = "12340000";
const APP_SECRET: &str = "bench-app-secret";
const SESSION: &str = "bench-session";
const NOTIFY_KEY: &str = "bench-notify-key";

/// The minimal merchant: acks at once; when `callbacks` is on, reports one fresh code with `eticket.send`.
struct Stub {
    gateway: Gateway,
    callbacks: AtomicBool,
    next_code: AtomicU64,
}

/// The stub's way to the TOP gateway: keep-alive connections used one call at a time, as a pooled HTTP client
/// does, on plain hyper. The merchant's side of the benchmark is kept as light as it can be, so what the figures
/// measure is the platform and the tool, not a client library's layers in the stub.
struct Gateway {
    addr: std::net::SocketAddr,
    idle: std::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Gateway {
    fn new(addr: std::net::SocketAddr) -> Self {
        Self { addr, idle: std::sync::Mutex::new(Vec::new()) }
    }

    /// POSTs one form to `/router/rest` and reads the answer to its end; `None` when the gateway is unreachable.
    async fn call(&self, form: Vec<u8>) -> Option<()> {
        let mut sender = self.idle_connection().await?;
        let request = hyper::Request::post("/router/rest")
            .header(hyper::header::HOST, self.addr.to_string())
            .header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .ok()?;
        let answer = sender.send_request(request).await.ok()?;
        answer.into_body().collect().await.ok()?;
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(sender);
        Some(())
    }

    /// An idle connection that is still open, else a new one.
    async fn idle_connection(&self) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
            match idle {
                Some(mut sender) => {
                    if sender.ready().await.is_ok() {
                        return Some(sender);
                    }
                }
                None => break,
            }
        }
        let stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        Some(sender)
    }
}

/// The value of `name` in a form body, as sent: the three the stub reads (digits and hex) are never escaped.
fn form_value<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    body.split(|b| *b == b'&')
        .find_map(|pair| pair.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
        .and_then(|v| std::str::from_utf8(v).ok())
}

async fn notify(State(stub): State<Arc<Stub>>, body: Bytes) -> &'static str {
    // Minimal: it reads only what its callback names (no sign check, no other param), in place.
    if stub.callbacks.load(Ordering::Relaxed)
        && let (Some(order_id), Some(token)) = (form_value(&body, "order_id"), form_value(&body, "token"))
    {
        let order_id = order_id.to_owned();
        let token = token.to_owned();
        let num = form_value(&body, "num").unwrap_or("1").to_owned();
        let stub = stub.clone();
        tokio::spawn(async move {
            let code = stub.next_code.fetch_add(1, Ordering::Relaxed);
            let now = Gmt8Timestamp::from_utc(chrono::Utc::now());
            let form = TopRequest::new("taobao.vmarket.eticket.send", APP_KEY, SESSION, now, SignMethod::Md5)
                .param("order_id", order_id)
                .param("token", token)
                .param("verify_codes", format!("{code}:{num}"))
                .signed(&Secret::new(APP_SECRET));
            // The answer is read to its end, as a merchant must to know its codes were taken (and as keep-alive
            // needs: a connection with an unread answer cannot carry the next call).
            let _ = stub.gateway.call(form.to_urlencoded(protocol::params::Charset::Utf8).into_bytes()).await;
        });
    }
    r#"{"code":200}"#
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat` (clock ticks of 10 ms): on a
/// shared machine, CPU per order is the figure other processes disturb least.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A signed `send` notification body like the platform's (the bare loop's payload).
fn send_body(i: u64) -> String {
    let ts = Gmt8Timestamp::from_utc(chrono::Utc::now()).format();
    let order_id = (2_600_000_000_000_001 + i).to_string();
    let mut params = Params::from_pairs([
        ("method", "send"),
        ("timestamp", ts.as_str()),
        ("order_id", order_id.as_str()),
        ("taobao_sid", "123456789"),
        ("seller_nick", "conformance_seller"),
        ("token", "0123456789abcdef0123456789abcdef"),
        ("mobile", "13800000000"),
        ("num", "1"),
        ("item_title", "聚划算 flash sale ticket"),
        ("num_iid", "1"),
        ("send_type", "2"),
        ("consume_type", "0"),
        ("sms_template", "验证码$code"),
        ("valid_start", "2026-01-01 00:00:00"),
        ("valid_ends", "2026-12-31 23:59:59"),
        ("type", "0"),
    ]);
    let sign = protocol::notify_sign(&Secret::new(NOTIFY_KEY), params.iter()).to_string();
    params.set("sign", sign);
    params.to_urlencoded(protocol::params::Charset::Utf8)
}

/// POSTs as fast as `concurrency` workers can for `seconds`, one connection per attempt; acks per second and
/// CPU µs per ack.
async fn bare_loop(url: &str, seconds: f64, concurrency: usize) -> (f64, f64) {
    let cpu_start = cpu_s();
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).http1_only().no_proxy().build().unwrap();
    let acks = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, acks, counter) = (http.clone(), url.to_owned(), acks.clone(), counter.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let body = send_body(counter.fetch_add(1, Ordering::Relaxed));
                    let reply = http
                        .post(&url)
                        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
                        .header("Connection", "close")
                        .body(body)
                        .send()
                        .await;
                    if let Ok(r) = reply
                        && r.bytes().await.is_ok_and(|b| &b[..] == br#"{"code":200}"#)
                    {
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let acks = acks.load(Ordering::Relaxed) as f64;
    (acks / started.elapsed().as_secs_f64(), (cpu_s() - cpu_start) * 1e6 / acks.max(1.0))
}

/// Starts a minimal merchant calling back to `gateway` (when `callbacks`); its notify URL.
async fn start_stub(gateway: std::net::SocketAddr, callbacks: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let stub = Arc::new(Stub {
        gateway: Gateway::new(gateway),
        callbacks: AtomicBool::new(callbacks),
        next_code: AtomicU64::new(100_000_000_000),
    });
    let app = axum::Router::new().route("/notify", post(notify)).with_state(stub);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// What one load run showed.
struct LoadRun {
    bought: f64,
    held: bool,
    /// CPU µs per order over the whole run (buying, the drain and reading every order at the end).
    cpu_us: f64,
}

/// One load run at `rate` for `seconds` on a fresh in-process platform and merchant.
async fn load_at(rate: f64, seconds: f64, callbacks: bool) -> LoadRun {
    let platform_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let platform_addr = platform_listener.local_addr().unwrap();
    let url = start_stub(platform_addr, callbacks).await;
    let merchant = MerchantConfig {
        url,
        app_key: APP_KEY.into(),
        app_secret: Secret::new(APP_SECRET),
        session: SESSION.into(),
        notify_key: Secret::new(NOTIFY_KEY),
        codemerchant_id: None,
    };
    let config = LoadConfig {
        merchant,
        platform: PlatformTarget::InProcess(platform_addr),
        rate,
        ramp_to: None,
        duration: Duration::from_secs_f64(seconds),
        find_max: false,
        find_max_step: Duration::from_secs(10),
        num: 1,
        daily_quota: None,
        calls_per_second: None,
        thresholds: Thresholds::default(),
        drain: Duration::from_secs(if callbacks { 20 } else { 1 }),
        json_report: None,
        html_report: None,
    };
    let rss_start = rss_kib();
    let cpu_start = cpu_s();
    let report = run_load(&config, Some(platform_listener)).await.expect("the load run starts");
    let rss_end = rss_kib();
    let step = &report.steps[0];
    let cpu_us = (cpu_s() - cpu_start) * 1e6 / (step.scheduled as f64).max(1.0);
    println!(
        "  load at {rate:>6.0}/s: bought {:>6.0}/s (start lag p99 {:>3.0} ms, max {:>4.0} ms{}), {}/{} issued; \
         ack p50 {} p99 {} ms, callback p99 {} ms; thresholds {}; {cpu_us:.0} µs CPU/order; \
         RSS {rss_start} -> {rss_end} KiB",
        step.achieved_rate,
        step.schedule.p99_start_lag_ms,
        step.schedule.max_start_lag_ms,
        if step.schedule.behind { ", behind" } else { "" },
        step.issued,
        step.scheduled,
        ms(step.ack_ms.p50),
        ms(step.ack_ms.p99),
        ms(step.callback_lag_ms.p99),
        if step.held { "held" } else { "broke" },
    );
    LoadRun { bought: step.achieved_rate, held: step.held, cpu_us }
}

fn ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let repetitions: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let fractions: Vec<f64> = args
        .get(3)
        .map(|s| s.split(',').filter_map(|f| f.parse().ok()).collect())
        .unwrap_or_else(|| vec![1.0, 0.5, 0.25]);
    let callbacks = std::env::var("LOAD_BENCH_CALLBACKS").map_or(true, |v| v != "0");

    // The bare loop posts to a merchant that does not call back (the notifications name no real order).
    let url = start_stub(([127, 0, 0, 1], 9).into(), false).await;
    let mut held_ratios = Vec::new();
    // Interleaved and repeated: the machine is shared, so each load run is compared with the bare loop measured
    // just before it, and the spread over repetitions says how far the ratio can be trusted.
    for rep in 1..=repetitions {
        let (bare, bare_cpu) = bare_loop(&url, seconds, concurrency).await;
        println!(
            "run {rep}: bare loop {bare:.0} acks/s, {bare_cpu:.0} µs CPU/ack \
             ({concurrency} workers, a connection per POST, {seconds} s)"
        );
        let mut best_held = 0.0f64;
        for &fraction in &fractions {
            let run = load_at(bare * fraction, seconds, callbacks).await;
            println!(
                "  {fraction:.2}x: bought/bare {:.2}, CPU per order / per bare ack {:.2}",
                run.bought / bare,
                run.cpu_us / bare_cpu
            );
            if run.held {
                best_held = best_held.max(fraction);
            }
        }
        println!("run {rep}: highest rate that held {:.2}x the bare loop", best_held);
        held_ratios.push(best_held);
    }
    println!("highest rate that held, per run: {held_ratios:?}");
}
