//! Serving the router on a listener: HTTP/1 connections with timeouts, graceful shutdown, and hyper's own
//! parse-error answers put in our shapes (`answers.rs`).
//!
//! Why not `axum::serve`: it has no timeouts, so idle keep-alive connections and clients that trickle their
//! headers or body held a file handle each forever (INTERFACES §1 "Connections"). Here hyper's
//! `header_read_timeout` closes a connection that has not sent a complete request head within the timeout —
//! hyper arms it whenever it waits for a head, so it also closes idle keep-alive connections — and
//! [`DeadlineBody`] fails a request body that has not fully arrived within the timeout of the request's start,
//! after which hyper closes the connection (the handler did not read the body to its end).

mod answers;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;
use tracing::Instrument;

pub use answers::ParseErrorAnswers;

/// Serves `router` on `listener` until `shutdown` completes, then waits for open requests to finish (idle
/// connections are closed at once). `timeout` bounds an idle connection, a request head and a request body.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let request = request.map(|body| Body::new(DeadlineBody::new(body, timeout)));
            router.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(ParseErrorAnswers::new(stream)), service);
        let connection = graceful.watch(connection);
        // In the caller's span (the replica's, `lib.rs`): a spawned task does not inherit it by itself.
        tokio::spawn(
            async move {
                // A connection error (reset, timeout) concerns that client only.
                let _ = connection.await;
            }
            .in_current_span(),
        );
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors are mostly per-connection (the client went away) or a full file table: either way the
/// listener lives on; the pause keeps a full file table from spinning the loop.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::warn!("accepting a connection failed: {error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request body that must have fully arrived by a deadline (the request's start plus the timeout): a client
/// sending slower than about `max_body_bytes / timeout` is cut off. The timer is only made if a read has to
/// wait, so a body already in the buffer costs nothing.
#[derive(Debug)]
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    pub fn new(inner: Incoming, timeout: Duration) -> Self {
        Self { inner, deadline: Instant::now() + timeout, sleep: None }
    }
}

/// The error of a body that missed its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the connection timeout")]
pub struct BodyTimedOut;

impl hyper::body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
