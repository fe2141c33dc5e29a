//! The store: the one interface through which the gateway, admin API, dispatcher, console and case export read
//! and change the platform's state (docs/shared-sandbox.md "Step 2: the seam").
//!
//! An enum over the backends, not `dyn Store`: operations take closures generic in their result (not
//! object-safe), and static dispatch keeps the in-memory path as fast as a plain lock. The operations are `async`
//! (a PostgreSQL backend awaits its database; in process they never wait); the closures are sync: model code runs
//! while the order (or merchant) is locked and never awaits, so a backend whose operations await (PostgreSQL:
//! `SELECT … FOR UPDATE`, run the closure, write back) can implement the same operations. What a closure asks
//! besides changing its documents goes through [`OrderTx`]/[`GatewayTx`] as effects (`tx.rs`).
//!
//! - [`Store::Memory`]: every map behind one `std::sync::Mutex` (`memory.rs`, `data.rs`).
//! - [`Store::Sqlite`]: the same, plus a write-behind to a SQLite file: each operation's changes are written
//!   before the lock is released (`sqlite.rs`).
//! - [`Store::Postgres`]: rows in a PostgreSQL database that several replicas share (`shared.rs` over
//!   [`crate::postgres`]). Its operations can fail ([`Unavailable`]): the in-process ones never do.

mod data;
mod memory;
mod merchant_row;
mod persist;
mod shared;
mod sqlite;
mod tx;

use std::sync::Arc;

use protocol::{NotifyMethod, OrderId};
use tokio::sync::watch;

pub(crate) use data::Data;
pub use data::{MAX_EXCHANGES, MAX_GATEWAY_CALLS};
pub use sqlite::StoreError;
pub use tx::{GatewayTx, OrderRecord, OrderTx};

use crate::clock::Offsets;
use crate::exchange::Exchange;
use crate::faults::{FaultAction, FaultSpec, GatewayFault};
use crate::metrics::Unrecorded;
use crate::model::{AttemptPlan, Merchant, Order, OrderState, Schedule};

/// The platform's state, in one of its backends.
#[derive(Debug)]
pub enum Store {
    Memory(memory::Store),
    Sqlite(sqlite::Store),
    Postgres(shared::Store),
}

/// In process (memory, SQLite: one lock over [`Data`]) or shared (PostgreSQL).
enum Backend<'a> {
    InProcess(&'a memory::Store),
    Shared(&'a shared::Store),
}

/// The store did not answer (only the PostgreSQL backend can fail: the database is down or refused a statement).
/// The gateway answers it with a TOP error, the admin API with 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store did not answer: {0}")]
pub struct Unavailable(pub String);

/// What became of an attempt's outcome ([`Store::settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Written; `dropped` when an older exchange was dropped for it.
    Done { dropped: bool },
    /// The lease had expired or was taken by another replica: nothing was written (INTERFACES §1.2).
    Lost,
}

/// What a gateway call may read besides the one order it names, known before step 13 so that a shared store can
/// read it before locking that order.
#[derive(Debug, Clone, Default)]
pub struct CallScope {
    /// The order the call names (`order_id` or `tid`), locked for the call.
    pub order_id: Option<i64>,
    /// oplogs.get and tasks.get read across the caller's orders.
    pub reads_merchant_orders: bool,
    /// Image names the call may look up (send/resend's `qr_images`).
    pub qr_names: Vec<String>,
    /// Operation stamps the call may take (consume, reverse).
    pub op_seqs: usize,
}

/// An order clock read at one instant ([`Store::clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// Now on that clock, epoch ms.
    pub now_ms: i64,
    /// Its offset from the wall clock (platform-wide plus the merchant's own), ms.
    pub offset_ms: i64,
    /// Seconds it may still be advanced before a total offset reaches `clock::MAX_OFFSET_MS`.
    pub headroom_seconds: u64,
}

/// Why a merchant could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantConflict {
    AppKey,
    Session,
}

impl Store {
    /// An empty in-memory store.
    pub fn memory(first_order_id: i64) -> Self {
        Store::Memory(memory::Store::new(Data::new(first_order_id)))
    }

    /// The SQLite store at `path` (created if missing), everything in it loaded, the clock offsets included.
    pub fn open_sqlite(path: &std::path::Path, first_order_id: i64, auto_close_ms: i64) -> Result<Self, StoreError> {
        sqlite::Store::open(path, first_order_id, auto_close_ms).map(Store::Sqlite)
    }

    /// The PostgreSQL store at `url`, migrated, as replica `replica_id` holding its leases for `lease`.
    ///
    /// # Errors
    /// A bad URL, an unreachable database, a failed migration, or a database newer than this binary.
    pub async fn connect_postgres(
        url: &str,
        replica_id: &str,
        lease: std::time::Duration,
        first_order_id: i64,
        auto_close_ms: i64,
    ) -> Result<Self, crate::postgres::PgError> {
        shared::Store::connect(url, replica_id, lease, first_order_id, auto_close_ms).await.map(Store::Postgres)
    }

    /// Whether replicas share this store (PostgreSQL): the dispatcher then also wakes on the database's
    /// notifications and polls.
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    fn backend(&self) -> Backend<'_> {
        match self {
            Store::Memory(m) => Backend::InProcess(m),
            Store::Sqlite(s) => Backend::InProcess(s.memory()),
            Store::Postgres(p) => Backend::Shared(p),
        }
    }

    /// The in-process state; `None` for the shared store.
    fn memory_part(&self) -> Option<&memory::Store> {
        match self.backend() {
            Backend::InProcess(m) => Some(m),
            Backend::Shared(_) => None,
        }
    }

    /// Runs `f` on the locked state; with SQLite, its changes are written before the lock is released.
    fn locked<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        match self {
            Store::Memory(m) => m.locked(f),
            Store::Sqlite(s) => s.locked(f),
            // Every operation answers for the shared store before it would lock in-process state.
            Store::Postgres(_) => unreachable!("the shared store has no in-process state"),
        }
    }

    /// Runs `f` on the locked state for reading.
    fn read<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        match self {
            Store::Memory(m) => m.locked(|data| f(data)),
            Store::Sqlite(s) => s.memory().locked(|data| f(data)),
            // Every operation answers for the shared store before it would lock in-process state.
            Store::Postgres(_) => unreachable!("the shared store has no in-process state"),
        }
    }

    /// Whether an in-process store answers (`GET /healthz`): in memory it always does; SQLite runs a trivial
    /// query on its connection, under the store's lock like every access. Blocking: call it off the runtime.
    pub fn ready_blocking(&self) -> Result<(), Unavailable> {
        match self {
            Store::Memory(_) | Store::Postgres(_) => Ok(()),
            Store::Sqlite(s) => s
                .memory()
                .locked(|data| data.store.as_ref().map_or(Ok(()), |db| db.ping()))
                .map_err(|e| Unavailable(e.to_string())),
        }
    }

    /// Whether the shared store's database answers `SELECT 1` within a second (always, in process).
    pub async fn ready(&self) -> Result<(), Unavailable> {
        match self {
            Store::Postgres(p) => p.ready().await,
            _ => Ok(()),
        }
    }

    /// Notifications queued on orders, not yet acknowledged or given up (the ones being attempted included): a
    /// scan at scrape time (`GET /metrics`), so the hot paths keep no gauge.
    pub async fn queued_notifications(&self) -> Result<u64, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.queued_notifications().await;
        }
        Ok(self.read(|data| data.orders.values().map(|o| o.delivery.queue.len() as u64).sum()))
    }

    /// Auto-closes (T4) this process fired (on a shared store, this replica: the replicas' sum is every close).
    pub fn closes_fired(&self) -> u64 {
        match self {
            Store::Postgres(p) => p.closes_fired(),
            _ => self.read(|data| data.closes_fired),
        }
    }

    /// Notification attempts whose request is out and whose outcome is not recorded yet (on every replica).
    pub async fn attempts_open(&self) -> Result<u64, Unavailable> {
        match self.memory_part() {
            Some(m) => Ok(m.attempts_open()),
            None => match self {
                Store::Postgres(p) => p.attempts_open().await,
                _ => Ok(0),
            },
        }
    }

    // Clocks.

    /// Sets the platform's clock (over this store's [`Store::offsets`]): the order clocks the store reads.
    pub fn use_clock(&self, clock: crate::PlatformClock) {
        match self {
            Store::Postgres(p) => p.use_clock(clock),
            _ => self.memory_part().into_iter().for_each(|m| m.use_clock(clock.clone())),
        }
    }

    /// Now on merchant `app_key`'s order clock (the platform-wide one when `None`), in epoch ms. Every order-clock
    /// read goes through the store: a shared store keeps the offsets every replica moves.
    pub async fn now_ms(&self, app_key: Option<&str>) -> Result<i64, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.now_ms(app_key).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        Ok(match app_key {
            Some(key) => clock.now_ms_for(key),
            None => clock.now_ms(),
        })
    }

    /// Merchant `app_key`'s order clock (the platform-wide one when `None`) read at one instant: `GET` and
    /// `POST /admin/clock`.
    pub async fn clock(&self, app_key: Option<&str>) -> Result<ClockReading, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.clock(app_key).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        let (offset_ms, headroom_seconds) = match app_key {
            Some(key) => (clock.offset_ms_for(key), clock.headroom_seconds_for(key)),
            None => (clock.offset_ms(), clock.headroom_seconds()),
        };
        let now_ms = clock.wall_now().timestamp_millis().saturating_add(offset_ms);
        Ok(ClockReading { now_ms, offset_ms, headroom_seconds })
    }

    /// The order clocks' offsets, shared with the [`crate::PlatformClock`] that reads them (in process); the shared
    /// store keeps its offsets in the database, and the platform's clock there reads wall time only.
    pub fn offsets(&self) -> Offsets {
        match self {
            Store::Postgres(_) => Offsets::default(),
            _ => self.read(|data| data.offsets.clone()),
        }
    }

    /// Moves an order clock by `ms`: merchant `app_key`'s (false when there is no such merchant), or the
    /// platform-wide one (every merchant's). The timers it moves shift in the same change (they are kept in wall
    /// ms), and the auto-closes it made due fire before this returns (`wall_ms`: the wall clock now).
    pub async fn advance_clock(
        &self,
        app_key: Option<&str>,
        ms: i64,
        wall_ms: i64,
        auto_close_ms: i64,
    ) -> Result<bool, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.advance_clock(app_key, ms).await;
        }
        Ok(self.locked(|data| {
            let key = match app_key {
                Some(k) => match data.merchant_key(k) {
                    Some(key) => Some(key),
                    None => return false,
                },
                None => None,
            };
            let applied = data.offsets.advance(key.as_ref(), ms);
            data.shift_timers(app_key, applied);
            data.run_closes(wall_ms, auto_close_ms);
            true
        }))
    }

    // Merchants.

    /// Now on merchant `app_key`'s order clock (the platform-wide one for an unknown app) and what `f` reads of
    /// the merchant, read together (a gateway call's first step).
    pub async fn clock_and_merchant<R>(
        &self,
        app_key: &str,
        f: impl FnOnce(&Merchant) -> R,
    ) -> Result<(i64, Option<R>), Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => {
                let (now_ms, merchant) = p.clock_and_merchant(app_key).await?;
                return Ok((now_ms, merchant.as_ref().map(f)));
            }
            Backend::InProcess(m) => m,
        };
        let now_ms = m.clock().now_ms_for(app_key);
        Ok((now_ms, self.read(|data| data.merchants.get(app_key).map(f))))
    }

    /// Reads merchant `app_key`.
    pub async fn merchant<R>(&self, app_key: &str, f: impl FnOnce(&Merchant) -> R) -> Result<Option<R>, Unavailable> {
        if let Store::Postgres(p) = self {
            return Ok(p.merchant(app_key).await?.as_ref().map(f));
        }
        Ok(self.read(|data| data.merchants.get(app_key).map(f)))
    }

    /// Reads every merchant, in no order.
    pub async fn merchants<R>(&self, f: impl FnMut(&Merchant) -> R) -> Result<Vec<R>, Unavailable> {
        if let Store::Postgres(p) = self {
            return Ok(p.merchants().await?.iter().map(f).collect());
        }
        Ok(self.read(|data| data.merchants.values().map(f).collect()))
    }

    /// Registers a merchant; its `app_key` and its session must be new.
    pub async fn put_merchant(&self, merchant: Merchant) -> Result<Result<(), MerchantConflict>, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.put_merchant(merchant).await;
        }
        Ok(self.locked(|data| {
            if data.merchants.contains_key(merchant.app_key.as_str()) {
                return Err(MerchantConflict::AppKey);
            }
            if data.sessions.contains_key(merchant.session.expose()) {
                return Err(MerchantConflict::Session);
            }
            let key: Arc<str> = Arc::from(merchant.app_key.as_str());
            data.sessions.insert(merchant.session.expose().to_owned(), key.clone());
            data.merchants.insert(key, merchant);
            Ok(())
        }))
    }

    /// Changes merchant `app_key` (the gateway's session and quota steps); `f` gets `None` when there is none.
    pub async fn with_merchant<R>(
        &self,
        app_key: &str,
        f: impl FnOnce(Option<(&Arc<str>, &mut Merchant)>) -> R,
    ) -> Result<R, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.with_merchant(app_key, f).await;
        }
        Ok(self.locked(|data| match data.merchant_key(app_key) {
            Some(key) => {
                let merchant = data.merchants.get_mut(&key);
                f(merchant.map(|m| (&key, m)))
            }
            None => f(None),
        }))
    }

    // Orders.

    /// Creates an order of merchant `app_key`: `check` runs on the merchant (an error takes no order id), `create`
    /// builds the order under a new id, `then` runs on it in the same change (queue its `send`, arm its faults,
    /// taking at most `fault_ids` fault ids). `None` when there is no such merchant.
    pub async fn new_order<P, R, E>(
        &self,
        app_key: &str,
        auto_close_ms: i64,
        fault_ids: usize,
        check: impl FnOnce(&Arc<str>, &Merchant) -> Result<P, E>,
        create: impl FnOnce(OrderId, P) -> Order,
        then: impl FnOnce(&mut OrderTx<'_>) -> R,
    ) -> Result<Option<Result<R, E>>, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.new_order(app_key, fault_ids, check, create, then).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        Ok(self.locked(|data| {
            let key = data.merchant_key(app_key)?;
            let checked = match check(&key, &data.merchants[&key]) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            let id = data.next_id();
            data.insert_order(create(id, checked), auto_close_ms);
            data.order_tx(id.get(), clock, then).map(Ok)
        }))
    }

    /// Runs a change on order `id` atomically, taking at most `fault_ids` fault ids; `None` when there is no such
    /// order.
    pub async fn with_order<R>(
        &self,
        id: i64,
        fault_ids: usize,
        f: impl FnOnce(&mut OrderTx<'_>) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.with_order(id, fault_ids, f).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        Ok(self.locked(|data| data.order_tx(id, clock, f)))
    }

    /// Reads order `id`.
    pub async fn order<R>(&self, id: i64, f: impl FnOnce(&Order) -> R) -> Result<Option<R>, Unavailable> {
        if let Store::Postgres(p) = self {
            return Ok(p.order(id).await?.as_ref().map(f));
        }
        Ok(self.read(|data| data.orders.get(&id).map(f)))
    }

    /// Reads the orders of `app_key` (all when `None`) in `state` (any when `None`), by ascending id.
    pub async fn orders<R>(
        &self,
        app_key: Option<&str>,
        state: Option<OrderState>,
        mut f: impl FnMut(&Order) -> R,
    ) -> Result<Vec<R>, Unavailable> {
        if let Store::Postgres(p) = self {
            return Ok(p.orders(app_key, state).await?.iter().map(f).collect());
        }
        Ok(self.read(|data| {
            let mut orders: Vec<&Order> = data
                .orders
                .values()
                .filter(|o| app_key.is_none_or(|k| *o.app_key == *k))
                .filter(|o| state.is_none_or(|s| o.state == s))
                .collect();
            orders.sort_by_key(|o| o.id);
            orders.into_iter().map(&mut f).collect()
        }))
    }

    /// Reads order `id` with its merchant and exchanges (admin exchanges, the case file).
    pub async fn order_record<R>(
        &self,
        id: i64,
        f: impl FnOnce(OrderRecord<'_>) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.order_record(id, f).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        Ok(self.read(|data| {
            let order = data.orders.get(&id)?;
            Some(f(OrderRecord {
                now_ms: clock.now_ms_for(&order.app_key),
                order,
                merchant: data.merchants.get(&*order.app_key),
                exchanges: data.exchanges.get(&id).map(Vec::as_slice).unwrap_or_default(),
                dropped: data.exchanges_dropped.get(&id).copied().unwrap_or(0),
            }))
        }))
    }

    /// Records a gateway call on order `order_id` if INTERFACES §1 "Recorded exchanges" allows it; `Ok(true)`
    /// when an older exchange was dropped for it.
    pub async fn record_gateway_exchange(
        &self,
        app_key: &str,
        order_id: i64,
        exchange: Exchange,
    ) -> Result<Result<bool, Unrecorded>, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.record_gateway_exchange(app_key, order_id, exchange).await;
        }
        Ok(self.locked(|data| {
            data.recordable(app_key, order_id)?;
            Ok(data.record(order_id, exchange))
        }))
    }

    /// One gateway API call (PROTOCOL §4.9 step 13): auto-closes due at `wall_ms` fire first, then `f` runs with
    /// the order it names locked (calls for one order are processed one at a time); `scope` says what else the
    /// call may read.
    pub async fn gateway_call<R>(
        &self,
        app_key: &str,
        scope: &CallScope,
        wall_ms: i64,
        auto_close_ms: i64,
        f: impl FnOnce(&mut GatewayTx<'_>) -> R,
    ) -> Result<R, Unavailable> {
        let m = match self.backend() {
            Backend::Shared(p) => return p.gateway_call(app_key, scope, f).await,
            Backend::InProcess(m) => m,
        };
        let clock = m.clock();
        Ok(self.locked(|data| {
            data.run_closes(wall_ms, auto_close_ms);
            data.gateway_tx(app_key, clock.now_ms_for(app_key), f)
        }))
    }

    // Faults.

    /// Takes one use of the first gateway fault matching a call (B0).
    pub async fn take_gateway_fault(
        &self,
        api: &str,
        app_key: &str,
        order_id: Option<i64>,
    ) -> Result<Option<FaultAction>, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.take_gateway_fault(api, app_key, order_id).await;
        }
        Ok(self.locked(|data| {
            if data.gateway_faults.is_empty() {
                return None;
            }
            crate::faults::take(&mut data.gateway_faults, api, app_key, order_id)
        }))
    }

    /// Arms a gateway fault (for `order_id` when given); `None` when that order does not exist.
    pub async fn add_gateway_fault(&self, spec: FaultSpec, order_id: Option<i64>) -> Result<Option<u64>, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.add_gateway_fault(spec, order_id).await;
        }
        Ok(self.locked(|data| {
            if order_id.is_some_and(|id| !data.orders.contains_key(&id)) {
                return None;
            }
            Some(crate::faults::arm(&mut data.gateway_faults, &mut data.next_fault_id, spec, order_id))
        }))
    }

    /// Reads the pending faults: gateway faults, and notification fault id → order id.
    pub async fn faults<R>(
        &self,
        f: impl FnOnce(&[GatewayFault], &mut dyn Iterator<Item = (u64, i64)>) -> R,
    ) -> Result<R, Unavailable> {
        if let Store::Postgres(p) = self {
            let (gateway, notification) = p.faults().await?;
            return Ok(f(&gateway, &mut notification.into_iter()));
        }
        Ok(self.read(|data| f(&data.gateway_faults, &mut data.notification_faults.iter().map(|(id, o)| (*id, *o)))))
    }

    /// Removes a pending fault of either kind; false when there is none with that id.
    pub async fn remove_fault(&self, id: u64) -> Result<bool, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.remove_fault(id).await;
        }
        Ok(self.locked(|data| {
            let before = data.gateway_faults.len();
            data.gateway_faults.retain(|f| f.id != id);
            if data.gateway_faults.len() != before {
                return true;
            }
            let Some(order_id) = data.notification_faults.remove(&id) else { return false };
            if let Some(order) = data.orders.get_mut(&order_id)
                && order.delivery.pending_alteration.as_ref().is_some_and(|(fid, _)| *fid == id)
            {
                order.delivery.pending_alteration = None;
            }
            true
        }))
    }

    /// An image uploaded with qrcode.upload (§5.7).
    pub async fn qr_image(&self, name: &str) -> Result<Option<bytes::Bytes>, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.qr_image(name).await;
        }
        Ok(self.read(|data| data.qr_images.get(name).cloned()))
    }

    // Deliveries.

    // Times below are wall-clock ms: the in-process stores keep their timers in wall ms and read each order's
    // merchant clock themselves (INTERFACES §1 per-merchant clocks); the shared store compares on the database's
    // clock and ignores `wall_ms`.

    /// T4 for every order whose 2 h have passed on its merchant's clock.
    pub async fn run_closes(&self, wall_ms: i64, auto_close_ms: i64) -> Result<(), Unavailable> {
        if let Store::Postgres(p) = self {
            return p.run_closes().await;
        }
        self.locked(|data| data.run_closes(wall_ms, auto_close_ms));
        Ok(())
    }

    /// Leases every due attempt (marks each queue head in flight), and tells when to look again (wall ms).
    pub async fn lease_due(
        &self,
        wall_ms: i64,
        schedule: Schedule<'_>,
    ) -> Result<(Vec<AttemptPlan>, Option<i64>), Unavailable> {
        if let Store::Postgres(p) = self {
            return p.lease_due(schedule).await;
        }
        Ok(self.locked(|data| (data.take_due(wall_ms, schedule), data.next_wake_ms())))
    }

    /// Settles an attempt: records its exchange (if any), then its outcome — only while its lease holds.
    pub async fn settle(
        &self,
        plan: &AttemptPlan,
        exchange: Option<Exchange>,
        acknowledged: bool,
        wall_ms: i64,
        schedule: Schedule<'_>,
    ) -> Result<Settlement, Unavailable> {
        if let Store::Postgres(p) = self {
            return p.settle(plan, exchange, acknowledged, schedule).await;
        }
        Ok(self.locked(|data| {
            let dropped = exchange.is_some_and(|e| data.record(plan.order_id, e));
            data.finish_attempt(plan.order_id, plan.seq, acknowledged, wall_ms, schedule);
            Settlement::Done { dropped }
        }))
    }

    /// An attempt of `method` on `order_id` is out (PROTOCOL §6 C4); send `true` on the answer once settled.
    pub async fn attempt_started(&self, order_id: i64, method: NotifyMethod) -> watch::Sender<bool> {
        match self {
            Store::Postgres(p) => p.attempt_started(order_id, method),
            _ => self
                .memory_part()
                .map(|m| m.attempt_started(order_id, method))
                .unwrap_or_else(|| watch::channel(false).0),
        }
    }

    /// The attempt on `order_id` has settled.
    pub async fn attempt_ended(&self, order_id: i64) {
        match self {
            Store::Postgres(p) => p.attempt_ended(order_id),
            _ => self.memory_part().into_iter().for_each(|m| m.attempt_ended(order_id)),
        }
    }

    /// The open attempt on `order_id` if its method is one of `causes`: a receiver that turns true once it settles.
    /// On a shared store the attempt may be out on another replica.
    pub async fn attempt_open(&self, order_id: i64, causes: &[NotifyMethod]) -> Option<watch::Receiver<bool>> {
        match self {
            Store::Postgres(p) => p.attempt_open(order_id, causes).await,
            _ => self.memory_part().and_then(|m| m.attempt_open(order_id, causes)),
        }
    }

    /// Resolves when another replica may have made something due (a shared store's `NOTIFY wake`); never in
    /// process, where every change wakes the dispatcher itself.
    pub async fn woken(&self) {
        match self {
            Store::Postgres(p) => p.db().wakeups().wake().await,
            _ => std::future::pending().await,
        }
    }
}
