//! The in-memory backend (the default): every map behind one `std::sync::Mutex`, plus the open notification
//! attempts the gateway's C4 hold waits on.
//!
//! Why one lock: the gateway processes the calls for one order one at a time (PROTOCOL §5.0) and every critical
//! section is short and never awaits; the C4 hold and injected delays wait outside it.

use std::collections::HashMap;
use std::sync::Mutex;

use protocol::NotifyMethod;
use tokio::sync::watch;

use super::Data;

/// A notification attempt whose request is out and whose reply has not been read (PROTOCOL §6 C4).
#[derive(Debug, Clone)]
struct InFlight {
    method: NotifyMethod,
    /// Turns true when the attempt's outcome has been recorded.
    done: watch::Receiver<bool>,
}

#[derive(Debug)]
pub struct Store {
    data: Mutex<Data>,
    /// Open notification attempts by order id. A separate lock: the gateway reads it before taking `data`.
    inflight: Mutex<HashMap<i64, InFlight>>,
}

impl Store {
    pub(super) fn new(data: Data) -> Self {
        Self { data: Mutex::new(data), inflight: Mutex::new(HashMap::new()) }
    }

    /// Runs `f` on the locked data. A poisoned lock is taken over: every change leaves the data consistent.
    pub(super) fn locked<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<i64, InFlight>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn attempt_started(&self, order_id: i64, method: NotifyMethod) -> watch::Sender<bool> {
        let (done_tx, done) = watch::channel(false);
        self.inflight().insert(order_id, InFlight { method, done });
        done_tx
    }

    pub(super) fn attempt_ended(&self, order_id: i64) {
        self.inflight().remove(&order_id);
    }

    pub(super) fn attempts_open(&self) -> u64 {
        self.inflight().len() as u64
    }

    pub(super) fn attempt_open(&self, order_id: i64, causes: &[NotifyMethod]) -> Option<watch::Receiver<bool>> {
        self.inflight().get(&order_id).filter(|f| causes.contains(&f.method)).map(|f| f.done.clone())
    }
}
