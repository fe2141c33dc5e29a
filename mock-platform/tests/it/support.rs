//! The test harness: a platform served on 127.0.0.1:0, an in-test merchant that records notifications
//! and answers them with a pluggable responder, and signed gateway calls.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use mock_platform::{Platform, PlatformConfig};
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Params, Secret, SignMethod, TopRequest};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const APP_KEY: &str = "12345678";
pub const APP_SECRET: &str = "app-secret-0123456789abcdef";
pub const NOTIFY_KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";
pub const SESSION: &str = "6102session0001";

/// A notification as the merchant received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub params: Params,
    pub content_type: String,
}

impl Received {
    pub fn get(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }
}

pub type Responder = Arc<dyn Fn(Params) -> Pin<Box<dyn Future<Output = (u16, Vec<u8>)> + Send>> + Send + Sync>;

/// A responder answering every notification with `status` and `body`.
pub fn answer(status: u16, body: &'static [u8]) -> Responder {
    Arc::new(move |_| Box::pin(async move { (status, body.to_vec()) }))
}

#[derive(Clone)]
struct MerchantState {
    tx: mpsc::UnboundedSender<Received>,
    responder: Arc<Mutex<Responder>>,
}

async fn notify(State(state): State<MerchantState>, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut params = Params::new();
    let _ = params.extend_urlencoded(&body, Charset::from_content_type(Some(&content_type)));
    let _ = state.tx.send(Received { params: params.clone(), content_type });
    let responder = state.responder.lock().unwrap().clone();
    let (status, body) = responder(params).await;
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

/// Where a test platform keeps its state: every backend the store has (docs/shared-sandbox.md). A test that
/// loops over [`backends`] runs on each; adding a backend is one line here and one in [`serve_platform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    /// A fresh database on the test PostgreSQL server (`testkit::postgres`), one replica on it.
    Postgres,
}

/// Every backend, for tests that must behave the same on each.
pub fn backends() -> [Backend; 3] {
    [Backend::Memory, Backend::Sqlite, Backend::Postgres]
}

/// A fresh database path under the system temp dir, removed (with its WAL files) on drop.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("mock-platform-{name}-{}-{nanos}-{n}.db", std::process::id())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// A running platform plus one registered merchant.
pub struct Harness {
    pub platform: Platform,
    pub base: String,
    pub http: reqwest::Client,
    pub merchant_url: String,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    responder: Arc<Mutex<Responder>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    config: PlatformConfig,
    /// The SQLite path or PostgreSQL URL the platform keeps its state in.
    db: Option<String>,
    /// The database of a [`Backend::Sqlite`] harness, removed with it.
    _temp: Option<TempDb>,
    /// The database of a [`Backend::Postgres`] harness, dropped with it.
    _pg: Option<testkit::postgres::TestDatabase>,
}

/// Serves a platform (kept in `db` when given) on a fresh loopback port until the sender is dropped.
pub async fn serve_platform(
    config: PlatformConfig,
    db: Option<&str>,
) -> (Platform, String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = PlatformConfig { gateway_base_url: Some(base.clone()), ..config };
    let platform = match db {
        Some(url) if mock_platform::db_url::is_postgres(url) => Platform::connect(config, url).await.unwrap(),
        Some(path) => Platform::open(config, std::path::Path::new(path)).unwrap(),
        None => Platform::new(config),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mock_platform::run(listener, platform.clone(), async move {
        let _ = stopped.await;
    }));
    (platform, base, stop)
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(PlatformConfig::default()).await
    }

    pub async fn with_config(config: PlatformConfig) -> Self {
        Self::launch(config, None).await
    }

    /// A platform on `backend` (a fresh temp database for SQLite); the backend is printed, so a failure names it.
    pub async fn start_on(backend: Backend) -> Self {
        Self::with_config_on(PlatformConfig::default(), backend).await
    }

    pub async fn with_config_on(config: PlatformConfig, backend: Backend) -> Self {
        println!("backend: {backend:?}");
        match backend {
            Backend::Memory => Self::launch(config, None).await,
            Backend::Sqlite => {
                let temp = TempDb::new("backend");
                let mut harness = Self::launch(config, Some(temp.0.display().to_string())).await;
                harness._temp = Some(temp);
                harness
            }
            Backend::Postgres => {
                let database = testkit::postgres::database();
                let mut harness = Self::launch(config, Some(database.url().to_owned())).await;
                harness._pg = Some(database);
                harness
            }
        }
    }

    /// A platform kept in the SQLite file `db` (see [`Harness::restart`]).
    pub async fn with_db(db: &std::path::Path) -> Self {
        Self::launch(PlatformConfig::default(), Some(db.display().to_string())).await
    }

    /// Stops the platform and starts a new one on the same database and a new port; the in-test
    /// merchant stays, so notifications still reach it.
    pub async fn restart(&mut self) {
        let (placeholder, _) = tokio::sync::oneshot::channel();
        drop(std::mem::replace(&mut self._shutdown, placeholder));
        let (platform, base, stop) = serve_platform(self.config.clone(), self.db.as_deref()).await;
        self.platform = platform;
        self.base = base;
        self._shutdown = stop;
        self.http = reqwest::Client::new();
    }

    async fn launch(config: PlatformConfig, db: Option<String>) -> Self {
        let (platform, base, stop) = serve_platform(config.clone(), db.as_deref()).await;
        let (tx, rx) = mpsc::unbounded_channel();
        let responder = Arc::new(Mutex::new(answer(200, br#"{"code":200}"#)));
        let state = MerchantState { tx, responder: responder.clone() };
        let merchant = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let merchant_url = format!("http://{}/notify", merchant.local_addr().unwrap());
        let router = axum::Router::new().route("/notify", post(notify)).with_state(state);
        tokio::spawn(async move { axum::serve(merchant, router).await });
        let harness = Self {
            platform,
            base,
            http: reqwest::Client::new(),
            merchant_url,
            rx: tokio::sync::Mutex::new(rx),
            responder,
            _shutdown: stop,
            config,
            db,
            _temp: None,
            _pg: None,
        };
        let (status, body) = harness.register(json!({})).await;
        assert_eq!(status, 201, "{body}");
        harness
    }

    /// Registers the standard merchant, with `extra` fields overriding.
    pub async fn register(&self, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "app_key": APP_KEY, "app_secret": APP_SECRET, "notify_key": NOTIFY_KEY,
            "notify_url": self.merchant_url, "session": SESSION, "phase": "live", "seller_nick": "haaron_john",
        });
        merge(&mut body, extra);
        self.post("/admin/merchants", body).await
    }

    pub fn respond_with(&self, responder: Responder) {
        *self.responder.lock().unwrap() = responder;
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Buys an order (defaults: 2 units of 银子岩门票) and returns its JSON.
    pub async fn buy(&self, extra: Value) -> Value {
        let mut body = json!({"app_key": APP_KEY, "num": 2, "mobile": "13800000000", "item_title": "银子岩门票"});
        merge(&mut body, extra);
        let (status, order) = self.post("/admin/orders", body).await;
        assert_eq!(status, 201, "{order}");
        order
    }

    /// Buys an order as [`Harness::buy`], takes its `send` and waits until the ack is recorded (`NOTIFIED`); the
    /// order's JSON as bought.
    pub async fn notified(&self, extra: Value) -> Value {
        let order = self.buy(extra).await;
        self.next_notification().await;
        self.wait_order(id_of(&order), "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
        order
    }

    pub async fn order(&self, id: i64) -> Value {
        let (status, order) = self.get(&format!("/admin/orders/{id}")).await;
        assert_eq!(status, 200, "{order}");
        order
    }

    pub async fn exchanges(&self, id: i64) -> Vec<Value> {
        let (status, body) = self.get(&format!("/admin/orders/{id}/exchanges")).await;
        assert_eq!(status, 200, "{body}");
        body["exchanges"].as_array().cloned().unwrap_or_default()
    }

    /// The next notification the merchant receives (10 s at most).
    pub async fn next_notification(&self) -> Received {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a notification within 10 s").unwrap()
    }

    /// Whether a notification arrives within `ms`.
    pub async fn notification_within(&self, ms: u64) -> Option<Received> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(Duration::from_millis(ms), rx.recv()).await.ok().flatten()
    }

    /// Polls `GET /admin/orders/{id}` until `pred` holds (10 s at most).
    pub async fn wait_order(&self, id: i64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(what, || async { Some(self.order(id).await).filter(|o| pred(o)) }).await
    }

    /// Polls the exchanges of an order until `pred` holds (10 s at most).
    pub async fn wait_exchanges(&self, id: i64, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        self.wait_for(what, || async { Some(self.exchanges(id).await).filter(|e| pred(e)) }).await
    }

    async fn wait_for<T, F: Future<Output = Option<T>>>(&self, what: &str, mut probe: impl FnMut() -> F) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A signed JSON call of `api` with the standard credentials.
    pub async fn call(&self, api: &str, params: &[(&str, &str)]) -> Value {
        self.call_as(APP_KEY, SESSION, api, params).await
    }

    /// `eticket.send` or `eticket.resend` (`api`) of `codes` (`CODE:COUNT,…`) for order `id`, with its token.
    pub async fn codes(&self, api: &str, id: i64, codes: &str, token: &str) -> Value {
        self.call(api, &[("order_id", &id.to_string()), ("verify_codes", codes), ("token", token)]).await
    }

    /// A signed JSON call as another registered app (same secret).
    pub async fn call_as(&self, app_key: &str, session: &str, api: &str, params: &[(&str, &str)]) -> Value {
        let mut request = TopRequest::new(api, app_key, session, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5);
        for (name, value) in params {
            request = request.param(name, *value);
        }
        let signed = request.signed(&Secret::new(APP_SECRET));
        serde_json::from_str(&self.send_form(&signed).await).unwrap()
    }

    /// POSTs params as an urlencoded body; returns the body text.
    pub async fn send_form(&self, params: &Params) -> String {
        let response = self
            .http
            .post(format!("{}/router/rest", self.base))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(params.to_urlencoded(Charset::Utf8))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

/// The order id of an order JSON.
pub fn id_of(order: &Value) -> i64 {
    order["order_id"].as_i64().unwrap()
}

pub fn token_of(order: &Value) -> String {
    order["token"].as_str().unwrap().to_owned()
}

/// The `error_response` object of a JSON answer, or Null.
pub fn error_of(answer: &Value) -> &Value {
    &answer["error_response"]
}
