//! A round-robin TCP load balancer on `127.0.0.1:0`, as a shared sandbox's replicas sit behind one (INTERFACES
//! §1.2: any replica answers any request): each accepted connection is piped, bytes unchanged, to the next backend in
//! turn. Working at the connection level (like a load balancer in TCP mode) it keeps what the platform does to a
//! connection — a `lost_answer` fault's close without a byte reaches the client as a close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

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

/// Servers started behind a fresh balancer, as a shared sandbox's replicas: `n` loopback listeners are bound first,
/// the balancer over them, then for each a server is built by `build(balancer_url)` (the balancer's URL is what every
/// replica of a real sandbox is told is its public address) and served on its listener by `serve`. The servers'
/// tasks are aborted when this is dropped.
#[derive(Debug)]
pub struct Balanced {
    balancer: Balancer,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Balanced {
    /// Binds `n` listeners, starts the balancer, then `serve(listener, build(balancer_url).await)` for each.
    ///
    /// # Panics
    /// When no loopback port can be bound, or `n` is 0.
    pub async fn start<T, B, Fut, S>(n: usize, mut build: B, mut serve: S) -> Self
    where
        B: FnMut(String) -> Fut,
        Fut: Future<Output = T>,
        S: FnMut(TcpListener, T) -> JoinHandle<std::io::Result<()>>,
    {
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("binding a server on 127.0.0.1:0"));
        }
        let addrs = listeners.iter().map(|l| l.local_addr().expect("a server's address")).collect();
        let balancer = Balancer::start(addrs).await;
        let mut servers = Vec::new();
        for listener in listeners {
            let server = build(balancer.url()).await;
            servers.push(serve(listener, server));
        }
        Self { balancer, servers }
    }

    /// The balancer's `http://127.0.0.1:PORT`: the one address clients are given.
    pub fn url(&self) -> String {
        self.balancer.url()
    }

    /// How many connections each server was given so far.
    pub fn connections(&self) -> Vec<usize> {
        self.balancer.connections()
    }

    /// Stops every server and waits until each has stopped; the connections each was given.
    pub async fn stop(mut self) -> Vec<usize> {
        let connections = self.connections();
        for server in std::mem::take(&mut self.servers) {
            server.abort();
            let _ = server.await;
        }
        connections
    }
}

impl Drop for Balanced {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

/// Copies both ways until either side closes; a backend that refuses closes the client's connection.
async fn pipe(mut client: TcpStream, backend: SocketAddr) {
    let Ok(mut upstream) = TcpStream::connect(backend).await else { return };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
