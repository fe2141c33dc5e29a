//! The in-memory backend (the default): every map behind one `std::sync::Mutex`, plus the open notification
//! attempts the gateway's C4 hold waits on.
//!
//! Why one lock: the gateway processes the calls for one order one at a time (PROTOCOL §5.0) and every critical
//! section is short and never awaits; the C4 hold and injected delays wait outside it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use protocol::NotifyMethod;
use tokio::sync::watch;

use super::Data;
use crate::clock::{PlatformClock, system_wall_clock};

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
    /// The platform's clock over this store's offsets, set once by the platform that owns the store: merchant
    /// clocks are read through the store (a PostgreSQL store reads the database's).
    clock: OnceLock<PlatformClock>,
}

impl Store {
    pub(super) fn new(data: Data) -> Self {
        Self { data: Mutex::new(data), inflight: Mutex::new(HashMap::new()), clock: OnceLock::new() }
    }

    /// Runs `f` on the locked data. A poisoned lock is taken over: every change leaves the data consistent.
    pub(super) fn locked<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(super) fn use_clock(&self, clock: PlatformClock) {
        // Set once, by the platform that owns the store; a second platform on the same store is not a thing.
        let _ = self.clock.set(clock);
    }

    /// The platform's clock (the system wall clock until a platform sets its own).
    pub(super) fn clock(&self) -> &PlatformClock {
        self.clock.get_or_init(|| {
            let offsets = self.locked(|data| data.offsets.clone());
            PlatformClock::with_offsets(system_wall_clock(), offsets)
        })
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
