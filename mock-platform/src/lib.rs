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
pub mod db_url;
pub mod exchange;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod health;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod postgres;
pub mod replica;
pub mod serve;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use tokio::sync::Notify;
use tracing::Instrument;

pub use admin::ApiError;
pub use admin::merchants::NewMerchant;
pub use admin::orders::NewOrderBody;
pub use clock::{PlatformClock, WallClock};
pub use config::{ConfigError, PlatformConfig};
pub use store::{Store, StoreError, Unavailable};

/// The platform: shared state behind an `Arc`, cheap to clone into handlers and tasks.
#[derive(Clone, Debug)]
pub struct Platform {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PlatformConfig,
    clock: PlatformClock,
    store: Store,
    http: reqwest::Client,
    /// Wakes the dispatcher: a notification was queued or the clock moved.
    wake: Notify,
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
        let store = Store::memory(config.first_order_id);
        Self::with_store(config, store)
    }

    /// A platform kept in the SQLite file at `path` (created if missing): everything in it is loaded, its
    /// pending deliveries and auto-close timers resume once [`run`] starts, and every change is written
    /// before the store's lock is released (`store/sqlite.rs`).
    pub fn open(config: PlatformConfig, path: &Path) -> Result<Self, StoreError> {
        let store = Store::open_sqlite(path, config.first_order_id, config.auto_close_ms())?;
        Ok(Self::with_store(config, store))
    }

    /// A replica of the shared platform in the PostgreSQL database at `url` (`postgres://…` or
    /// `postgresql://…`, INTERFACES §1.2): the schema is migrated first (under a lock: replicas starting together
    /// migrate once). Every replica on the database is the same platform; nothing of its state lives only here.
    ///
    /// # Errors
    /// A bad URL, an unreachable database, a failed migration, or a database migrated by a newer binary.
    pub async fn connect(config: PlatformConfig, url: &str) -> Result<Self, postgres::PgError> {
        let replica = replica::new_id();
        let store = Store::connect_postgres(
            url,
            &replica,
            config.lease_duration(),
            config.first_order_id,
            config.auto_close_ms(),
        )
        .await?;
        Ok(Self::with_store_as(config, store, replica))
    }

    fn with_store(config: PlatformConfig, store: Store) -> Self {
        Self::with_store_as(config, store, replica::new_id())
    }

    fn with_store_as(config: PlatformConfig, store: Store, replica: String) -> Self {
        let clock = PlatformClock::with_offsets(config.wall.clone(), store.offsets());
        store.use_clock(clock.clone());
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
                store,
                http,
                wake: Notify::new(),
                attempts,
                exchange_seq: AtomicU64::new(0),
                metrics: metrics::Metrics::default(),
                replica,
            }),
        }
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &PlatformClock {
        &self.inner.clock
    }

    /// The platform's state: every read and change goes through it.
    pub fn store(&self) -> &Store {
        &self.inner.store
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
    /// retries right after. Returns the platform-wide order time (read through the store, to the millisecond).
    ///
    /// # Errors
    /// The store did not answer (a shared store's database).
    pub async fn advance_clock(&self, seconds: u64) -> Result<chrono::DateTime<chrono::Utc>, store::Unavailable> {
        self.advance(None, seconds).await?;
        let now_ms = self.store().now_ms(None).await?;
        Ok(chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_else(|| self.clock().now()))
    }

    /// Moves one merchant's clock forward (INTERFACES §1): only its orders' timers move; its auto-closes fire
    /// before this returns, its due retries right after. `None` when no such merchant.
    ///
    /// # Errors
    /// The store did not answer (a shared store's database).
    pub async fn advance_merchant_clock(
        &self,
        app_key: &str,
        seconds: u64,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, store::Unavailable> {
        if !self.advance(Some(app_key), seconds).await? {
            return Ok(None);
        }
        Ok(chrono::DateTime::from_timestamp_millis(self.store().now_ms(Some(app_key)).await?))
    }

    /// The offset and the timers it shifts change in one store operation, so the dispatcher never sees one
    /// without the other. False when there is no such merchant.
    async fn advance(&self, app_key: Option<&str>, seconds: u64) -> Result<bool, store::Unavailable> {
        let wall_ms = self.clock().wall_now().timestamp_millis();
        let ms = clock::seconds_to_ms(seconds);
        if !self.store().advance_clock(app_key, ms, wall_ms, self.config().auto_close_ms()).await? {
            return Ok(false);
        }
        self.wake();
        Ok(true)
    }

    /// Starts the notification dispatcher (done by [`run`]; for users of [`app`] alone).
    pub fn spawn_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(notify::dispatcher(self.clone()).instrument(self.span()))
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
    // Stopped with the server, also when this future is dropped (a replica's task aborted): a platform that no
    // longer serves must not go on leasing deliveries.
    let _dispatcher = AbortOnDrop(platform.spawn_dispatcher());
    let timeout = platform.config().connection_timeout;
    let span = platform.span();
    serve::serve(listener, app(platform), timeout, shutdown).instrument(span).await
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
