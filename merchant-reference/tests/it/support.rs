//! Test harness: a fake TOP gateway, the merchant in-process or as a child process, signed
//! notifications, and read-only looks into the merchant's database.

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use merchant_reference::{Config, RunError};
use protocol::envelope::response_root;
use protocol::params::Charset;
use protocol::{
    Gmt8Timestamp, Notification, NotifyMethod, OrderId, Params, ResponseFormat, Secret, Token, TopError, notify_sign,
    verify_top,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const APP_KEY: &str = "12345678";
pub const APP_SECRET: &str = "app-secret-for-tests-0123456789";
pub const SESSION: &str = "session-for-tests";
pub const NOTIFY_KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";

/// How long a test waits for something that should happen; generous for a loaded CI machine.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn notify_key() -> Secret {
    Secret::new(NOTIFY_KEY)
}

/// A database path no other test uses; the files are removed when the value drops.
#[derive(Debug)]
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("merchant-it-{}-{name}-{n}.sqlite", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Self(path)
    }

    /// A read-only look at the merchant's data (WAL lets it read while the merchant writes).
    pub fn conn(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// `code:count` pairs of an order, in issue order, with the issued counts.
    pub fn codes(&self, order_id: i64) -> Vec<(String, i64)> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT code, issued FROM codes WHERE order_id = ?1 ORDER BY position").unwrap();
        stmt.query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    pub fn scalar(&self, sql: &str, order_id: i64) -> i64 {
        self.conn().query_row(sql, [order_id], |r| r.get(0)).unwrap()
    }

    pub fn text(&self, sql: &str, order_id: i64) -> Option<String> {
        self.conn().query_row(sql, [order_id], |r| r.get(0)).unwrap()
    }

    /// `(api, status)` of every outbox row of an order, oldest first.
    pub fn outbox(&self, order_id: i64) -> Vec<(String, String)> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT api, status FROM outbox WHERE order_id = ?1 ORDER BY id").unwrap();
        stmt.query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    /// Row counts of every table: "nothing changed" is this being equal before and after.
    pub fn counts(&self) -> Vec<i64> {
        let conn = self.conn();
        ["notifications", "orders", "codes", "outbox", "consumes"]
            .iter()
            .map(|t| conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).unwrap())
            .collect()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

pub fn config(gateway: &str, db: &Path) -> Config {
    let mut config =
        Config::new(gateway, APP_KEY, Secret::new(APP_SECRET), Secret::new(SESSION), Secret::new(NOTIFY_KEY));
    config.db = db.to_path_buf();
    config
}

// ---------------------------------------------------------------------------------------------
// The fake gateway.

/// One call the fake gateway received.
#[derive(Debug, Clone)]
pub struct Call {
    pub api: String,
    pub params: Params,
    /// Whether the sign verified with the app secret.
    pub sign_ok: bool,
}

impl Call {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// `verify_codes` as sorted `(code, count)` pairs.
    pub fn verify_codes(&self) -> Vec<(String, i64)> {
        let mut pairs: Vec<(String, i64)> = self
            .get("verify_codes")
            .unwrap_or("")
            .split(',')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (code, count) = e.split_once(':').unwrap();
                (code.to_owned(), count.parse().unwrap())
            })
            .collect();
        pairs.sort();
        pairs
    }
}

/// What the fake gateway answers to one call.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A success envelope with these fields (plus `request_id`).
    Success(Value),
    Error(TopError),
    /// A bare HTTP status with an empty body.
    Http(u16),
    /// Accept the call and never answer.
    Hold,
    /// Accept the call and answer a plain success once the gate is opened: a callback held in flight.
    Gated(Gate),
}

/// A gate for [`Answer::Gated`]; opening it before the call arrives lets the call through at once.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<tokio::sync::Notify>);

impl Gate {
    /// Lets one held call (or the next one to arrive) through.
    pub fn open(&self) {
        self.0.notify_one();
    }
}

#[derive(Debug, Default)]
struct GatewayInner {
    calls: Mutex<Vec<Call>>,
    /// Answers per API, used front first; when empty, a plain success.
    script: Mutex<HashMap<String, VecDeque<Answer>>>,
}

/// A TOP gateway on 127.0.0.1:0 that checks signs, records calls and answers as scripted.
#[derive(Debug, Clone)]
pub struct FakeGateway {
    pub url: String,
    inner: Arc<GatewayInner>,
}

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/router/rest", listener.local_addr().unwrap());
        let inner = Arc::new(GatewayInner::default());
        let app = axum::Router::new().route("/router/rest", axum::routing::post(handle)).with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, inner }
    }

    pub fn script(&self, api: &str, answers: impl IntoIterator<Item = Answer>) {
        self.inner.script.lock().unwrap().entry(api.to_owned()).or_default().extend(answers);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, api: &str, order_id: i64) -> Vec<Call> {
        let order = order_id.to_string();
        self.calls().into_iter().filter(|c| c.api == api && c.get("order_id") == Some(order.as_str())).collect()
    }

    /// Waits until `n` calls of `api` for the order have arrived.
    pub async fn wait_for(&self, api: &str, order_id: i64, n: usize) -> Vec<Call> {
        eventually(|| {
            let calls = self.calls_to(api, order_id);
            (calls.len() >= n).then_some(calls)
        })
        .await
    }
}

async fn handle(
    State(inner): State<Arc<GatewayInner>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let params = Params::from_request(query.as_deref(), content_type, body).unwrap();
    let sign_ok = verify_top(&Secret::new(APP_SECRET), &params).is_ok();
    let api = params.get("method").unwrap_or_default().to_owned();
    inner.calls.lock().unwrap().push(Call { api: api.clone(), params, sign_ok });
    let answer = inner.script.lock().unwrap().get_mut(&api).and_then(VecDeque::pop_front);
    match answer.unwrap_or_else(|| Answer::Success(json!({ "ret_code": 1 }))) {
        Answer::Success(mut fields) => {
            fields["request_id"] = json!("testrequest1");
            let body = json!({ response_root(&api): fields }).to_string();
            ([(header::CONTENT_TYPE, ResponseFormat::Json.content_type())], body).into_response()
        }
        Answer::Error(e) => {
            let body = e.render(ResponseFormat::Json, "testrequest1");
            ([(header::CONTENT_TYPE, ResponseFormat::Json.content_type())], body).into_response()
        }
        Answer::Http(status) => axum::http::StatusCode::from_u16(status).unwrap().into_response(),
        Answer::Hold => std::future::pending().await,
        Answer::Gated(gate) => {
            gate.0.notified().await;
            let body = json!({ response_root(&api): { "ret_code": 1, "request_id": "testrequest1" } }).to_string();
            ([(header::CONTENT_TYPE, ResponseFormat::Json.content_type())], body).into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The merchant.

/// The merchant running in this test's runtime.
#[derive(Debug)]
pub struct Running {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Running {
    pub async fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(merchant_reference::run(listener, config, async {
            stopped.await.ok();
        }));
        // The listener is bound, but the database is opened inside `run`: one answered request means
        // both are ready.
        reqwest::get(format!("{base}/healthz")).await.unwrap();
        Self { base, stop: Some(stop), task }
    }

    pub fn notify_url(&self) -> String {
        format!("{}/notify", self.base)
    }

    pub async fn stop(mut self) {
        self.stop.take().map(|s| s.send(()));
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// The `merchant-reference` binary as a child process, for the crash tests: `kill` is SIGKILL.
#[derive(Debug)]
pub struct Process {
    child: std::process::Child,
    pub base: String,
}

impl Process {
    pub fn spawn(gateway: &str, db: &Path) -> Self {
        Self::launch(gateway, db, "warn", std::process::Stdio::null())
    }

    /// Spawns it logging at `info` (colour settings from the environment removed); returns its stderr.
    pub fn spawn_logging(gateway: &str, db: &Path) -> (Self, std::process::ChildStderr) {
        let mut process = Self::launch(gateway, db, "info", std::process::Stdio::piped());
        let logs = process.child.stderr.take().unwrap();
        (process, logs)
    }

    fn launch(gateway: &str, db: &Path, log_level: &str, logs: std::process::Stdio) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_merchant-reference"))
            .args(["serve", "--listen", "127.0.0.1:0", "--gateway", gateway, "--app-key", APP_KEY])
            .arg("--db")
            .arg(db)
            .env("MERCHANT_APP_SECRET", APP_SECRET)
            .env("MERCHANT_SESSION", SESSION)
            .env("MERCHANT_NOTIFY_KEY", NOTIFY_KEY)
            .env("RUST_LOG", log_level)
            .env_remove("NO_COLOR")
            .stdout(std::process::Stdio::piped())
            .stderr(logs)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
        Self { child, base }
    }

    pub fn notify_url(&self) -> String {
        format!("{}/notify", self.base)
    }

    /// Kills the process at once, the way a crash or `kill -9` would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications.

pub fn token_of(order_id: i64) -> Token {
    Token::parse(&format!("{order_id:032x}")).unwrap()
}

/// A notification of `method` for `order_id` with the fields the mock sends for it.
pub fn notification(method: NotifyMethod, order_id: i64, num: u32) -> Notification {
    let mut n = Notification::new(method, OrderId::new(order_id).unwrap(), "92333234", "haaron_john");
    if method != NotifyMethod::OrderModify {
        n.token = Some(token_of(order_id));
        n.mobile = Some("18077113872".into());
        n.num = Some(num);
        n.item_title = Some("银子岩门票".into());
        n.num_iid = Some("522071639483".into());
        n.send_type = Some("2".into());
        n.consume_type = Some("0".into());
        n.valid_start = Some("2016-01-01 00:00:00".into());
        n.valid_ends = Some("2099-12-31 23:59:59".into());
        n.r#type = Some("0".into());
    }
    match method {
        NotifyMethod::Send => n.sms_template = Some("验证码$code.您已成功订购银子岩门票".into()),
        NotifyMethod::Resend | NotifyMethod::Modified => n.left_num = Some(num),
        NotifyMethod::Cancel => n.cancel_num = Some(num),
        NotifyMethod::OrderModify => {
            n.sub_method = Some("1".into());
            n.data = Some(r#"{"valid_start":"2016-04-12 00:00:00","valid_ends":"2099-05-12 23:59:59"}"#.into());
        }
    }
    n
}

/// The params of `n` timestamped now and signed with `key`.
pub fn signed(n: &Notification, key: &Secret) -> Params {
    let mut params = n.to_params(Gmt8Timestamp::from_utc(Utc::now()));
    let sign = notify_sign(key, &params);
    params.set("sign", sign);
    params
}

/// POSTs params as a UTF-8 form; returns the status and the exact body bytes.
pub async fn post_params(url: &str, params: &Params) -> (u16, Vec<u8>) {
    post_raw(url, "application/x-www-form-urlencoded; charset=utf-8", params.to_urlencoded(Charset::Utf8)).await
}

pub async fn post_raw(url: &str, content_type: &str, body: String) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

/// Signs and POSTs a notification; returns the exact body bytes.
pub async fn deliver(url: &str, n: &Notification) -> Vec<u8> {
    post_params(url, &signed(n, &notify_key())).await.1
}

/// Polls `check` until it yields a value, failing the test after [`PATIENCE`].
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub const ACK: &[u8] = br#"{"code":200}"#;
pub const REJECT: &[u8] = br#"{"code":501}"#;
