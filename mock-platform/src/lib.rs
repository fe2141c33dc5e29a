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
pub mod metrics;
pub mod model;
pub mod notify;
pub mod persist;
pub mod postgres;
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
}

impl Platform {
    /// A platform with an empty in-memory store. Nothing runs until [`run`] or [`Platform::spawn_dispatcher`].
    pub fn new(config: PlatformConfig) -> Self {
        let data = Data::new(config.first_order_id);
        Self::with_data(config, data, 0)
    }

    /// A platform kept in the SQLite file at `path` (created if missing): everything in it is loaded, its
    /// pending deliveries and auto-close timers resume once [`run`] starts, and every change is written
    /// when the store's lock is released (`persist.rs`).
    pub fn open(config: PlatformConfig, path: &Path) -> Result<Self, persist::StoreError> {
        let (data, offset_ms) = persist::open(path, config.first_order_id, config.auto_close_ms())?;
        Ok(Self::with_data(config, data, offset_ms))
    }

    fn with_data(config: PlatformConfig, data: Data, offset_ms: i64) -> Self {
        let clock = PlatformClock::new(config.wall.clone());
        clock.restore_offset_ms(offset_ms);
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
        DataGuard { guard: self.inner.data.lock().unwrap_or_else(|e| e.into_inner()), clock: &self.inner.clock }
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

    /// Moves the platform clock forward; auto-closes fire before this returns, due retries right after.
    pub fn advance_clock(&self, seconds: u64) -> chrono::DateTime<chrono::Utc> {
        let now = self.clock().advance(seconds);
        self.data().run_closes(now.timestamp_millis(), self.config().auto_close_ms());
        self.wake();
        now
    }

    /// Starts the notification dispatcher (done by [`run`]; for users of [`app`] alone).
    pub fn spawn_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(notify::dispatcher(self.clone()))
    }
}

/// The locked store; derefs to [`Data`]. Dropping it writes the changes to the SQLite store, if any,
/// before the lock is released, so no other task sees a change that is not yet on disk.
#[derive(Debug)]
pub struct DataGuard<'a> {
    guard: MutexGuard<'a, Data>,
    clock: &'a PlatformClock,
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
            let offset = self.clock.offset_ms();
            self.guard.flush(offset);
        }
    }
}

/// The whole HTTP surface: gateway, container, admin, console, metrics.
pub fn app(platform: Platform) -> Router {
    Router::new()
        .merge(gateway::routes())
        .merge(admin::routes(platform.clone()))
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
    let result = serve::serve(listener, app(platform), timeout, shutdown).await;
    dispatcher.abort();
    result
}
