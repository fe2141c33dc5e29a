//! A reference merchant for the Taobao e-voucher platform (淘宝电子交易凭证平台), written to be read.
//!
//! What a merchant has to do, and where this crate does it:
//!
//! | job | file |
//! |---|---|
//! | receive a notification, verify its sign with the notify key, refuse stale ones, ack at once | `notify.rs` |
//! | decide what each of the five notifications means for our orders, in one transaction | `orders.rs` |
//! | write notifications that arrive together in one commit, ack each only once durable | `group_commit.rs` |
//! | draw codes nobody can guess | `codes.rs` |
//! | call back only after the ack has been written (C4) | `exchanges.rs` |
//! | owe the platform callbacks durably, retry the transient failures, stop on terminal ones | `outbox.rs`, `backoff.rs` |
//! | sign and send TOP calls with the app secret | `top_client.rs` |
//! | redeem and reverse codes at a POS | `pos.rs` |
//! | settle consumes whose answer was lost (crash, outage) from the platform's operation log | `reconcile.rs` |
//! | keep it all in one SQLite file that survives a crash | `store.rs`, `schema.sql` |
//! | flags, env vars and the two secrets | `config.rs` |
//! | close idle and slow connections | `connections.rs` |
//!
//! Start it in-process (this is what the conformance `demo` does):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use merchant_reference::{Config, run};
//! use protocol::Secret;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let notify_url = format!("http://{}/notify", listener.local_addr()?);
//! let mut config = Config::new(
//!     "http://127.0.0.1:4000/router/rest",
//!     "12345678",
//!     Secret::new("app-secret"),
//!     Secret::new("session-key"),
//!     Secret::new("notify-key"),
//! );
//! config.db = std::env::temp_dir().join("merchant-demo.sqlite");
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let merchant = tokio::spawn(run(listener, config, async { stopped.await.ok(); }));
//! // … register `notify_url` on the platform, run the checks …
//! stop.send(()).ok();
//! merchant.await??;
//! # Ok(()) }
//! ```
//!
//! **Invariant:** this crate depends on `protocol` and general-purpose crates only, never on the mock
//! platform or the conformance suite: it is what a merchant writes on its own.

pub mod backoff;
pub mod codes;
pub mod config;
pub mod connections;
pub mod exchanges;
pub mod group_commit;
pub mod notify;
pub mod orders;
pub mod outbox;
pub mod pos;
pub mod reconcile;
pub mod server;
pub mod store;
pub mod top_client;

pub use config::{Cli, Command, Config, ConfigError, ServeArgs};
pub use server::{AppState, RunError, app, run};
pub use store::{Store, StoreError};
