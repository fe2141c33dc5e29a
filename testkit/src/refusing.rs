//! A loopback address where nothing listens, kept that way for as long as a test needs it.
//!
//! The usual trick — bind `127.0.0.1:0`, note the port, drop the listener — leaves the port free for the next
//! `bind(0)` of any test running at the same time: a "dead" gateway could then turn into another test's live server
//! and answer a call the test expected to fail. This module binds the port without listening instead: a connection
//! to it is refused (the kernel answers RST, as for a closed port) and no other socket can take it until the guard
//! is dropped.

use std::net::SocketAddr;

/// A bound, never listening loopback port: connecting to [`RefusingPort::addr`] fails with "connection refused".
#[derive(Debug)]
pub struct RefusingPort {
    // Held, not read: dropping it frees the port.
    _socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl RefusingPort {
    /// Binds a free loopback port without listening on it.
    ///
    /// # Panics
    /// When the machine has no free loopback port (a test cannot go on then).
    #[must_use]
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.bind(([127, 0, 0, 1], 0).into()).expect("a free loopback port");
        let addr = socket.local_addr().expect("the bound address");
        Self { _socket: socket, addr }
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Default for RefusingPort {
    fn default() -> Self {
        Self::new()
    }
}
