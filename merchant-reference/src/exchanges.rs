//! Open notification exchanges: how the merchant guarantees "acknowledge first, call back after" (C4).
//!
//! The platform says: answer at once, *then* call back (FAQ 2.26, 2.27). The callback work is committed
//! to the outbox before the answer is written (it must be: a crash right after answering must not lose
//! it), so something has to stop the outbox worker from picking that row up in the microseconds between
//! the commit and the answer leaving the socket.
//!
//! The rule: while a notification for an order is being answered, that order is *open*, and the worker
//! skips open orders. The handler opens the order before its transaction and hands the
//! [`ExchangeGuard`] to the response body; hyper drops the body once it has written the last byte of
//! the acknowledgement to the connection, the guard closes the order and wakes the worker. So a callback
//! can only start after the acknowledgement has been handed to the socket; the network then delivers
//! the answer's few bytes well before a new TCP connection to the gateway can be set up.
//!
//! Alternatives rejected: a fixed delay before calling back (slows every order and still races), or a
//! second "ready" write after the answer (one more fsync per notification, and a crash between the two
//! writes strands the row). The open set lives in memory on purpose: after a crash nothing is open, and
//! every committed row is due, which is exactly right.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The orders whose notification is being answered right now, and the worker's wake-up bell.
#[derive(Debug, Clone, Default)]
pub struct OpenExchanges {
    /// Order id → how many of its notifications are being answered (a platform retry can overlap a
    /// slow first attempt). `std::sync::Mutex`: held for a map update, never across an `.await`.
    open: Arc<Mutex<HashMap<i64, usize>>>,
    /// Rung when an order closes and when new work may be due. `Notify` keeps one permit when nobody
    /// waits, so a ring between two worker passes is not lost.
    bell: Arc<Notify>,
}

impl OpenExchanges {
    /// Marks `order_id` open until the guard is dropped.
    pub fn open(&self, order_id: i64) -> ExchangeGuard {
        *self.lock().entry(order_id).or_insert(0) += 1;
        ExchangeGuard { exchanges: self.clone(), order_id }
    }

    pub fn is_open(&self, order_id: i64) -> bool {
        self.lock().contains_key(&order_id)
    }

    /// Wakes the outbox worker.
    pub fn ring(&self) {
        self.bell.notify_one();
    }

    /// Waits for the next [`ring`](Self::ring) (or one that happened since the last wait).
    pub async fn rung(&self) {
        self.bell.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Keeps one order open; dropping it closes the order and wakes the worker.
#[derive(Debug)]
pub struct ExchangeGuard {
    exchanges: OpenExchanges,
    order_id: i64,
}

impl Drop for ExchangeGuard {
    fn drop(&mut self) {
        {
            let mut open = self.exchanges.lock();
            if let Some(count) = open.get_mut(&self.order_id) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.order_id);
                }
            }
        }
        self.exchanges.ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_stays_open_until_its_last_guard_drops() {
        let exchanges = OpenExchanges::default();
        let first = exchanges.open(7);
        let second = exchanges.open(7);
        drop(first);
        assert!(exchanges.is_open(7));
        drop(second);
        assert!(!exchanges.is_open(7));
        assert!(!exchanges.is_open(8));
    }
}
