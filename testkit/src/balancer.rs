//! A round-robin TCP load balancer on `127.0.0.1:0`, as a shared sandbox's replicas sit behind one (INTERFACES
//! §1.2: any replica answers any request): each accepted connection is piped, bytes unchanged, to the next backend in
//! turn. Working at the connection level (like a load balancer in TCP mode) it keeps what the platform does to a
//! connection — a `lost_answer` fault's close without a byte reaches the client as a close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};

/// A running balancer; dropping it stops accepting (connections already piped run to their end).
#[derive(Debug)]
pub struct Balancer {
    addr: SocketAddr,
    served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Balancer {
    /// Starts a balancer over `backends` (`host:port` each), connections handed out in turn.
    ///
    /// # Panics
    /// When no loopback port can be bound, or `backends` is empty.
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        assert!(!backends.is_empty(), "a balancer needs a backend");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the balancer on 127.0.0.1:0");
        let addr = listener.local_addr().expect("the balancer's address");
        let served: Arc<Vec<AtomicUsize>> = Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let counts = served.clone();
        let task = tokio::spawn(async move {
            let mut next = 0;
            while let Ok((client, _)) = listener.accept().await {
                let index = next % backends.len();
                next += 1;
                counts[index].fetch_add(1, Ordering::Relaxed);
                tokio::spawn(pipe(client, backends[index]));
            }
        });
        Self { addr, served, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections each backend was given so far, in the order the backends were given.
    pub fn connections(&self) -> Vec<usize> {
        self.served.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }
}

/// Copies both ways until either side closes; a backend that refuses closes the client's connection.
async fn pipe(mut client: TcpStream, backend: SocketAddr) {
    let Ok(mut upstream) = TcpStream::connect(backend).await else { return };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
