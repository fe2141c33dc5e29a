//! Three replicas on one PostgreSQL database are one platform (INTERFACES §1.2): every notification is delivered
//! once, a dead replica's lease passes to another, a clock advance fires each auto-close once, and a merchant
//! behind a round-robin load balancer sees one platform.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::Utc;
use mock_platform::model::{OrderState, Phase};
use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Params, Secret, SignMethod, TopRequest};
use serde_json::Value;
use testkit::balancer::Balancer;
use tokio::sync::{Notify, mpsc};

use crate::support::{APP_KEY, APP_SECRET, NOTIFY_KEY, SESSION};

/// How long a test waits for what the replicas must get done.
const PATIENCE: Duration = Duration::from_secs(60);

/// One replica: a platform on the shared database, served on its own loopback port.
struct Replica {
    platform: Platform,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Replica {
    /// Connects to `url` and serves; with `dispatch`, its dispatcher runs too (`mock_platform::run`).
    async fn start(url: &str, config: PlatformConfig, dispatch: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = PlatformConfig { gateway_base_url: Some(format!("http://{addr}")), ..config };
        let platform = Platform::connect(config, url).await.unwrap();
        let server = if dispatch {
            tokio::spawn(mock_platform::run(listener, platform.clone(), std::future::pending()))
        } else {
            let app = mock_platform::app(platform.clone());
            let timeout = platform.config().connection_timeout;
            tokio::spawn(mock_platform::serve::serve(listener, app, timeout, std::future::pending()))
        };
        Self { platform, addr, server }
    }

    /// `GET /metrics`, one sample's value.
    async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.addr)).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} not in {text}"))
    }
}

/// A merchant that records every notification it receives and acknowledges it, holding the first `send` of the
/// orders in `hold` until released.
#[derive(Clone, Default)]
struct Merchant {
    received: Arc<Mutex<Vec<(i64, String)>>>,
    hold: Arc<Mutex<HashMap<i64, Arc<Notify>>>>,
    /// `(order id, method)` of each notification, as it arrives.
    arrivals: Option<mpsc::UnboundedSender<(i64, String)>>,
}

impl Merchant {
    async fn start(mut self) -> (Self, String, mpsc::UnboundedReceiver<(i64, String)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.arrivals = Some(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/notify", post(notified)).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (self, url, rx)
    }

    /// How many notifications of `method` each order received.
    fn counts(&self, method: &str) -> HashMap<i64, usize> {
        let mut counts = HashMap::new();
        for (id, m) in self.received.lock().unwrap().iter() {
            if m == method {
                *counts.entry(*id).or_default() += 1;
            }
        }
        counts
    }
}

async fn notified(State(merchant): State<Merchant>, headers: HeaderMap, body: Bytes) -> &'static str {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut params = Params::new();
    let _ = params.extend_urlencoded(&body, Charset::from_content_type(content_type.as_deref()));
    let id: i64 = params.get("order_id").unwrap_or_default().parse().unwrap_or_default();
    let method = params.get("method").unwrap_or_default().to_owned();
    merchant.received.lock().unwrap().push((id, method.clone()));
    if let Some(tx) = &merchant.arrivals {
        let _ = tx.send((id, method));
    }
    let held = merchant.hold.lock().unwrap().remove(&id);
    if let Some(release) = held {
        release.notified().await;
    }
    r#"{"code":200}"#
}

fn merchant_body(notify_url: &str) -> NewMerchant {
    let mut new = NewMerchant::new(APP_KEY, APP_SECRET, NOTIFY_KEY, notify_url);
    new.session = Some(SESSION.to_owned());
    new.phase = Some(Phase::Live);
    new
}

async fn buy(platform: &Platform, i: usize) -> i64 {
    let view =
        platform.create_order(NewOrderBody::new(APP_KEY, 1, &format!("138{i:08}"), "象山景区门票")).await.unwrap();
    view["order_id"].as_i64().unwrap()
}

/// Polls `check` until it holds, failing after [`PATIENCE`] with `what`.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "not within {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn states(platform: &Platform) -> Vec<OrderState> {
    platform.store().orders(Some(APP_KEY), None, |o| o.state).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_deliver_every_notification_of_300_orders_exactly_once() {
    let database = testkit::postgres::database();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(database.url(), PlatformConfig::default(), true).await);
    }
    let (merchant, url, _arrivals) = Merchant::default().start().await;
    replicas[0].platform.add_merchant(merchant_body(&url)).await.unwrap();
    // Orders bought through every replica in turn, as a load balancer would spread the admin calls.
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(buy(&replicas[i % 3].platform, i).await);
    }
    eventually("every send acknowledged", async || {
        states(&replicas[1].platform).await.iter().filter(|s| **s == OrderState::Notified).count() == 300
    })
    .await;
    let sends = merchant.counts("send");
    assert_eq!(sends.len(), 300, "every order's send arrived");
    let twice: Vec<_> = sends.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "sends made more than once: {twice:?}");
    assert!(ids.iter().all(|id| sends.contains_key(id)));
    // Each attempt is recorded once, whichever replica made it.
    for id in ids.iter().step_by(37) {
        let exchanges = replicas[2].platform.exchanges_json(*id).await.unwrap();
        assert_eq!(exchanges["exchanges"].as_array().unwrap().len(), 1, "{exchanges}");
    }
    let mut lost = 0;
    for replica in &replicas {
        lost += replica.metric("mock_platform_leases_lost_total").await;
    }
    assert_eq!(lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_replicas_lease_expires_and_another_delivers_while_its_late_outcome_changes_nothing() {
    let database = testkit::postgres::database();
    // A lease shorter than the attempt's deadline: the held attempt outlives its lease.
    let config = PlatformConfig { lease: Some(Duration::from_secs(1)), ..PlatformConfig::default() };
    let a = Replica::start(database.url(), config.clone(), true).await;
    let (merchant, url, mut arrivals) = Merchant::default().start().await;
    a.platform.add_merchant(merchant_body(&url)).await.unwrap();
    let release = Arc::new(Notify::new());
    // Order ids come from the database's sequence: the first one this database hands out.
    let first_id = PlatformConfig::default().first_order_id;
    merchant.hold.lock().unwrap().insert(first_id, release.clone());
    let id = buy(&a.platform, 0).await;
    assert_eq!(id, first_id);
    assert_eq!(arrivals.recv().await, Some((id, "send".to_owned())), "replica A's attempt, held by the merchant");

    // Replica A dies: it serves and dispatches no more; its attempt is still out, held.
    a.server.abort();
    let b = Replica::start(database.url(), config, true).await;
    let (again, method) = tokio::time::timeout(PATIENCE, arrivals.recv()).await.unwrap().unwrap();
    assert_eq!((again, method.as_str()), (id, "send"), "replica B makes the attempt once A's lease expired");
    eventually("B's acknowledgement recorded", async || {
        b.platform.order_json(id).await.unwrap()["state"] == "NOTIFIED"
    })
    .await;
    let before = b.platform.exchanges_json(id).await.unwrap();
    let attempts: Vec<&Value> = before["exchanges"].as_array().unwrap().iter().collect();
    assert_eq!(attempts.len(), 1, "{before}");
    assert_eq!(attempts[0]["attempt"], 1, "the same attempt again: A's left no record");

    // A's merchant answer comes back late: A's settle finds its lease gone and writes nothing.
    release.notify_one();
    // A serves no more: its counters read in process.
    let lost = || a.platform.metrics().render(Default::default()).contains("\nmock_platform_leases_lost_total 1\n");
    eventually("A counts its lost lease", async || lost()).await;
    assert_eq!(b.platform.exchanges_json(id).await.unwrap(), before);
    assert_eq!(merchant.counts("send")[&id], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clock_advance_on_one_replica_fires_each_auto_close_once_across_the_replicas() {
    let database = testkit::postgres::database();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(database.url(), PlatformConfig::default(), true).await);
    }
    let (_merchant, url, _arrivals) = Merchant::default().start().await;
    replicas[0].platform.add_merchant(merchant_body(&url)).await.unwrap();
    for i in 0..40 {
        buy(&replicas[i % 3].platform, i).await;
    }
    // The sends are acknowledged and no codes come: every order waits for its 2 h.
    eventually("every send acknowledged", async || {
        states(&replicas[0].platform).await.iter().all(|s| *s == OrderState::Notified)
    })
    .await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("http://{}/admin/clock", replicas[1].addr))
        .json(&serde_json::json!({"advance_seconds": 7201, "app_key": APP_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The advance answers once its auto-closes fired; the other replicas' dispatchers race it for them.
    assert!(states(&replicas[2].platform).await.iter().all(|s| *s == OrderState::Closed));
    let mut fired = Vec::new();
    for replica in &replicas {
        fired.push(replica.metric("mock_platform_auto_closes_total").await);
    }
    assert_eq!(fired.iter().sum::<u64>(), 40, "each order closed once, whichever replica fired it: {fired:?}");
}

/// A signed JSON gateway call through `base`.
async fn call(http: &reqwest::Client, base: &str, api: &str, params: &[(&str, &str)]) -> Value {
    let mut request = TopRequest::new(api, APP_KEY, SESSION, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5);
    for (name, value) in params {
        request = request.param(name, *value);
    }
    let signed = request.signed(&Secret::new(APP_SECRET));
    let body = http
        .post(format!("{base}/router/rest"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(signed.to_urlencoded(Charset::Utf8))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_behind_a_round_robin_balancer_sees_one_platform() {
    let database = testkit::postgres::database();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(database.url(), PlatformConfig::default(), true).await);
    }
    let balancer = Balancer::start(replicas.iter().map(|r| r.addr).collect()).await;
    let base = balancer.url();
    let (merchant, url, mut arrivals) = Merchant::default().start().await;
    // Registered and bought through the balancer, the admin API on whichever replica it picks.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let body = serde_json::json!({"app_key": APP_KEY, "app_secret": APP_SECRET, "notify_key": NOTIFY_KEY,
        "notify_url": url, "session": SESSION, "phase": "live"});
    assert_eq!(http.post(format!("{base}/admin/merchants")).json(&body).send().await.unwrap().status(), 201);
    let orders = 12;
    for i in 0..orders {
        let order = serde_json::json!({"app_key": APP_KEY, "num": 2, "mobile": format!("139{i:08}"),
            "item_title": "漓江游船"});
        assert_eq!(http.post(format!("{base}/admin/orders")).json(&order).send().await.unwrap().status(), 201);
    }
    // The merchant issues codes for each send it acknowledged, each call on a new connection (another replica).
    let mut issued = 0;
    while issued < orders {
        let (id, method) = tokio::time::timeout(PATIENCE, arrivals.recv()).await.unwrap().unwrap();
        assert_eq!(method, "send");
        let order: Value = http.get(format!("{base}/admin/orders/{id}")).send().await.unwrap().json().await.unwrap();
        let token = order["token"].as_str().unwrap().to_owned();
        let codes = format!("RR{id}:2");
        let answer = call(
            &http,
            &base,
            "taobao.vmarket.eticket.send",
            &[("order_id", &id.to_string()), ("verify_codes", &codes), ("token", &token)],
        )
        .await;
        assert_eq!(answer["vmarket_eticket_send_response"]["ret_code"], 1, "{answer}");
        issued += 1;
    }
    for replica in &replicas {
        let states = states(&replica.platform).await;
        assert_eq!(states.len(), orders);
        assert!(states.iter().all(|s| *s == OrderState::Issued), "{states:?}");
    }
    // One send per order, whichever replica dispatched it; every replica served connections.
    assert!(merchant.counts("send").values().all(|n| *n == 1));
    assert!(balancer.connections().iter().all(|n| *n > 0), "{:?}", balancer.connections());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_database_goes_away_every_interface_answers_in_its_own_format() {
    let database = testkit::postgres::database();
    let replica = Replica::start(database.url(), PlatformConfig::default(), true).await;
    let (_merchant, url, _arrivals) = Merchant::default().start().await;
    replica.platform.add_merchant(merchant_body(&url)).await.unwrap();
    let id = buy(&replica.platform, 0).await;
    let base = format!("http://{}", replica.addr);
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);

    // The database is dropped under the replica (its connections are terminated).
    drop(database);
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    let admin = http.get(format!("{base}/admin/orders/{id}")).send().await.unwrap();
    assert_eq!(admin.status(), 503);
    let body: Value = admin.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("store"), "{body}");
    // The gateway answers a TOP envelope with a transient error: the merchant retries.
    let answer = call(
        &http,
        &base,
        "taobao.vmarket.eticket.send",
        &[("order_id", &id.to_string()), ("verify_codes", "GONE1:1"), ("token", "whatever")],
    )
    .await;
    assert_eq!(answer["error_response"]["sub_code"], "isp.top-remote-connection-timeout", "{answer}");
    // The metrics still answer (the store's gauges left out).
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("mock_platform_gateway_calls_total"), "{text}");
    assert!(!text.contains("mock_platform_notifications_queued "), "{text}");
}
