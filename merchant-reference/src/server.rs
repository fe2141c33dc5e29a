//! The HTTP surface and the process lifecycle: [`app`] builds the router, [`run`] serves it with the
//! outbox worker and the consume reconciler beside it until shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::exchanges::OpenExchanges;
use crate::group_commit::Committer;
use crate::store::{Store, StoreError};
use crate::top_client::TopClient;
use crate::{Config, connections, notify, outbox, pos, reconcile};

/// Everything a handler or the worker needs; cheap to clone (all `Arc`s inside).
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Writes notifications, several in one transaction when they arrive together (`group_commit.rs`).
    pub commits: Committer,
    pub exchanges: OpenExchanges,
    pub top: Arc<TopClient>,
}

impl AppState {
    /// Opens the database named by `config.db` and builds the gateway client.
    pub fn new(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.db)?;
        let top = Arc::new(TopClient::new(&config));
        let commits = Committer::start(store.clone());
        Ok(Self { config: Arc::new(config), store, commits, exchanges: OpenExchanges::default(), top })
    }
}

/// The routes. Without a running worker ([`outbox::spawn`]) notifications are still recorded and
/// acknowledged, and their callbacks wait in the outbox: that is how tests and the benchmark drive it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/notify", post(notify::notify).fallback(notify::wrong_method))
        .route("/pos/consume", post(pos::consume))
        .route("/pos/reverse", post(pos::reverse))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// Why the merchant could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("opening the database: {0}")]
    Store(#[from] StoreError),
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the merchant on `listener` until `shutdown` completes (idle and slow connections are closed after
/// `config.connection_timeout`, `connections.rs`), with the outbox worker and the
/// reconciler of pending consumes running (its first pass settles what a previous run left pending).
///
/// Callbacks still in flight at shutdown are abandoned, not lost: their rows stay pending and the
/// next start calls them again.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    config.validate()?;
    let state = AppState::new(config)?;
    let _worker = outbox::spawn(state.clone());
    let _reconciler = reconcile::spawn(state.clone());
    let timeout = state.config.connection_timeout;
    connections::serve(listener, app(state), timeout, shutdown).await?;
    Ok(())
}
