//! A mock of Taobao's e-voucher platform (淘宝电子交易凭证平台), PROTOCOL.md §1–§6.
//!
//! One listener serves the TOP gateway (`/router/rest`), session login (`/container`), the admin API
//! (`/admin/*`, INTERFACES.md §1.1) and a console. A dispatcher task delivers signed notifications
//! with retries. Use it as a library: build a [`Platform`], then [`run`] it on a listener.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let platform = mock_platform::Platform::new(mock_platform::PlatformConfig {
//!     gateway_base_url: Some(format!("http://{addr}")),
//!     ..Default::default()
//! });
//! mock_platform::run(listener, platform, std::future::pending()).await
//! # }
//! ```

pub mod admin;
pub mod case;
pub mod clock;
pub mod config;
pub mod console;
pub mod exchange;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod health;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod persist;
pub mod postgres;
pub mod replica;
pub mod serve;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

pub use admin::ApiError;
pub use admin::merchants::NewMerchant;
pub use admin::orders::NewOrderBody;
pub use clock::{PlatformClock, WallClock};
pub use config::{ConfigError, PlatformConfig};
pub use store::Data;

/// The platform: shared state behind an `Arc`, cheap to clone into handlers and tasks.
#[derive(Clone, Debug)]
pub struct Platform {
    inner: Arc<Inner>,
}

/// A notification attempt whose request is out and whose reply has not been read (PROTOCOL §6 C4).
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub method: protocol::NotifyMethod,
    /// Turns true when the attempt's outcome has been recorded.
    pub done: watch::Receiver<bool>,
}

#[derive(Debug)]
struct Inner {
    config: PlatformConfig,
    clock: PlatformClock,
    data: Mutex<Data>,
    http: reqwest::Client,
    /// Wakes the dispatcher: a notification was queued or the clock moved.
    wake: Notify,
    /// Open notification attempts by order id. A separate lock: the gateway reads it before taking `data`.
    inflight: Mutex<HashMap<i64, InFlight>>,
    /// Bounds concurrent notification attempts (`PlatformConfig::max_concurrent_attempts`).
    attempts: Arc<tokio::sync::Semaphore>,
    /// The start sequence of exchanges ([`Platform::exchange_started`]). Restarting at 0 after a restart is
    /// harmless: it only orders exchanges that started in the same millisecond.
    exchange_seq: AtomicU64,
    metrics: metrics::Metrics,
    /// This process's replica id ([`replica::new_id`]), carried by every log line of [`run`].
    replica: String,
}

impl Platform {
    /// A platform with an empty in-memory store. Nothing runs until [`run`] or [`Platform::spawn_dispatcher`].
    pub fn new(config: PlatformConfig) -> Self {
        let data = Data::new(config.first_order_id);
        Self::with_data(config, data)
    }

    /// A platform kept in the SQLite file at `path` (created if missing): everything in it is loaded, its
    /// pending deliveries and auto-close timers resume once [`run`] starts, and every change is written
    /// when the store's lock is released (`persist.rs`).
    pub fn open(config: PlatformConfig, path: &Path) -> Result<Self, persist::StoreError> {
        let data = persist::open(path, config.first_order_id, config.auto_close_ms())?;
        Ok(Self::with_data(config, data))
    }

    fn with_data(config: PlatformConfig, data: Data) -> Self {
        let clock = PlatformClock::with_offsets(config.wall.clone(), data.offsets.clone());
        let http = reqwest::Client::builder()
            // A new connection per attempt (PROTOCOL §3.1): nothing pooled the merchant may have closed.
            .pool_max_idle_per_host(0)
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let attempts = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_attempts.max(1)));
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                data: Mutex::new(data),
                http,
                wake: Notify::new(),
                inflight: Mutex::new(HashMap::new()),
                attempts,
                exchange_seq: AtomicU64::new(0),
                metrics: metrics::Metrics::default(),
                replica: replica::new_id(),
            }),
        }
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &PlatformClock {
        &self.inner.clock
    }

    /// Locks the store. A poisoned lock is taken over: every mutation leaves the data consistent.
    /// With a SQLite store, what changed is written when the guard is dropped.
    pub fn data(&self) -> DataGuard<'_> {
        DataGuard { guard: self.inner.data.lock().unwrap_or_else(|e| e.into_inner()) }
    }

    /// `hostname:pid:<4 hex>`: which process logged a line.
    pub fn replica_id(&self) -> &str {
        &self.inner.replica
    }

    /// The span around the serve loop and the dispatcher: every log line they and their tasks write carries the
    /// replica id.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("replica", id = %self.inner.replica)
    }

    /// The counters served at `GET /metrics`.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn inflight(&self) -> MutexGuard<'_, HashMap<i64, InFlight>> {
        self.inner.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An exchange starts now: its wall-clock ms and its start sequence (exchanges are shown by both).
    pub(crate) fn exchange_started(&self) -> (i64, u64) {
        let seq = self.inner.exchange_seq.fetch_add(1, Ordering::Relaxed) + 1;
        (self.clock().wall_now().timestamp_millis(), seq)
    }

    /// Wakes the dispatcher to look at due attempts again.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Moves the platform-wide clock (every merchant's) forward; auto-closes fire before this returns, due
    /// retries right after. Returns the platform-wide order time.
    pub fn advance_clock(&self, seconds: u64) -> chrono::DateTime<chrono::Utc> {
        self.advance(None, seconds);
        self.clock().now()
    }

    /// Moves one merchant's clock forward (INTERFACES §1): only its orders' timers move; its auto-closes fire
    /// before this returns, its due retries right after. `None` when no such merchant.
    pub fn advance_merchant_clock(&self, app_key: &str, seconds: u64) -> Option<chrono::DateTime<chrono::Utc>> {
        let key = self.data().merchant_key(app_key)?;
        self.advance(Some(&key), seconds);
        chrono::DateTime::from_timestamp_millis(self.clock().now_ms_for(&key))
    }

    /// The offset and the timers it shifts change under the store's lock, so the dispatcher never sees one
    /// without the other.
    fn advance(&self, app_key: Option<&Arc<str>>, seconds: u64) {
        {
            let mut data = self.data();
            let applied = data.offsets.advance(app_key, clock::seconds_to_ms(seconds));
            data.shift_timers(app_key.map(|k| &**k), applied);
            let wall_ms = self.clock().wall_now().timestamp_millis();
            data.run_closes(wall_ms, self.config().auto_close_ms());
        }
        self.wake();
    }

    /// Starts the notification dispatcher (done by [`run`]; for users of [`app`] alone).
    pub fn spawn_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(notify::dispatcher(self.clone()).instrument(self.span()))
    }
}

/// The locked store; derefs to [`Data`]. Dropping it writes the changes to the SQLite store, if any,
/// before the lock is released, so no other task sees a change that is not yet on disk.
#[derive(Debug)]
pub struct DataGuard<'a> {
    guard: MutexGuard<'a, Data>,
}

impl Deref for DataGuard<'_> {
    type Target = Data;

    fn deref(&self) -> &Data {
        &self.guard
    }
}

impl DerefMut for DataGuard<'_> {
    fn deref_mut(&mut self) -> &mut Data {
        &mut self.guard
    }
}

impl Drop for DataGuard<'_> {
    fn drop(&mut self) {
        if self.guard.store.is_some() {
            self.guard.flush();
        }
    }
}

/// The whole HTTP surface: gateway, container, admin, console, health and metrics.
pub fn app(platform: Platform) -> Router {
    Router::new()
        .merge(gateway::routes())
        .merge(admin::routes(platform.clone()))
        .route("/healthz", axum::routing::get(health::serve))
        .route("/metrics", axum::routing::get(metrics::serve))
        .fallback(admin::not_found)
        .with_state(platform)
}

/// Serves `platform` on `listener` with its dispatcher until `shutdown` completes (connections time out after
/// `PlatformConfig::connection_timeout`, `serve.rs`).
pub async fn run(
    listener: tokio::net::TcpListener,
    platform: Platform,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let dispatcher = platform.spawn_dispatcher();
    let timeout = platform.config().connection_timeout;
    let span = platform.span();
    let result = serve::serve(listener, app(platform), timeout, shutdown).instrument(span).await;
    dispatcher.abort();
    result
}
