//! The state of the in-process backends (memory, SQLite): plain maps and the due/close indexes, changed only
//! through the store's operations (`store/mod.rs`), so the SQLite backend hooks every change in one place.
//!
//! With `--db`, orders and merchants live in [`Tracked`] maps that remember which entries were handed out
//! mutably; `persist.rs` writes those (and the exchanges recorded) before the lock is released.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use protocol::OrderId;

use super::tx::{Effect, GatewayTx, Ids, OrderTx, Orders, QrNames};
use crate::clock::PlatformClock;
use crate::exchange::Exchange;
use crate::faults::GatewayFault;
use crate::metrics::Unrecorded;
pub use crate::model::{AttemptPlan, Schedule};
use crate::model::{Merchant, Order};

/// A map that, when tracking, remembers every key inserted or borrowed mutably since the last
/// [`Tracked::take_dirty`]: the write-behind set of the SQLite store. Not tracking (the in-memory default),
/// it is a plain `HashMap`.
#[derive(Debug)]
pub(crate) struct Tracked<K, V> {
    map: HashMap<K, V>,
    dirty: Option<HashSet<K>>,
}

impl<K, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Self { map: HashMap::new(), dirty: None }
    }
}

impl<K: Hash + Eq + Clone, V> Tracked<K, V> {
    pub fn track(&mut self) {
        self.dirty.get_or_insert_with(HashSet::new);
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub fn get_key_value<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.map.get_key_value(key)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Marks the entry dirty (when tracking) whether or not the caller changes it.
    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        if let Some(dirty) = &mut self.dirty
            && !dirty.contains(key)
            && let Some((k, _)) = self.map.get_key_value(key)
        {
            dirty.insert(k.clone());
        }
        self.map.get_mut(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(dirty) = &mut self.dirty {
            dirty.insert(key.clone());
        }
        self.map.insert(key, value)
    }

    /// Inserts without marking (loading from the store).
    pub fn insert_clean(&mut self, key: K, value: V) {
        self.map.insert(key, value);
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// The keys marked since the last call (empty when not tracking).
    pub fn take_dirty(&mut self) -> Vec<K> {
        self.dirty.as_mut().map(|d| d.drain().collect()).unwrap_or_default()
    }

    /// Marks keys again (a failed write is retried at the next flush).
    pub fn mark(&mut self, keys: impl IntoIterator<Item = K>) {
        if let Some(dirty) = &mut self.dirty {
            dirty.extend(keys);
        }
    }

    pub fn has_dirty(&self) -> bool {
        self.dirty.as_ref().is_some_and(|d| !d.is_empty())
    }
}

impl<K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized, V> std::ops::Index<&Q> for Tracked<K, V> {
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        &self.map[key]
    }
}

/// Everything the platform knows.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub merchants: Tracked<Arc<str>, Merchant>,
    /// session → app_key.
    pub sessions: HashMap<String, Arc<str>>,
    pub orders: Tracked<i64, Order>,
    pub next_order_id: i64,
    /// The sequence number of the next consume or reverse ([`Data::op_time`]); rebuilt from the orders on load.
    pub next_op_seq: u64,
    pub exchanges: HashMap<i64, Vec<Exchange>>,
    /// (wall-clock due ms, order id) of queue heads waiting for their next attempt. Wall ms = the order's
    /// merchant-clock ms − that merchant's total offset, so one merchant's advance shifts only its own entries
    /// ([`Data::shift_timers`]) and "due?" is one comparison with the wall clock.
    pub due: BTreeSet<(i64, i64)>,
    /// (wall-clock ms, order id) when an unissued order auto-closes (T4), keyed like `due`.
    pub closes: BTreeSet<(i64, i64)>,
    /// The order clocks' offsets (INTERFACES §1), shared with [`crate::PlatformClock`]; changed only under this
    /// store's lock, with the timers they shift.
    pub offsets: crate::clock::Offsets,
    pub gateway_faults: Vec<GatewayFault>,
    /// Notification fault id → order id, for `DELETE /admin/faults/{id}`.
    pub notification_faults: HashMap<u64, i64>,
    pub next_fault_id: u64,
    /// Exchanges not kept per order ([`Data::record`]).
    pub exchanges_dropped: HashMap<i64, u64>,
    /// Images uploaded with qrcode.upload, by `img_filename` (§5.7).
    pub qr_images: HashMap<String, bytes::Bytes>,
    /// The SQLite store and what it has not written yet (`--db`); `None` keeps everything in memory.
    pub store: Option<super::persist::Store>,
    /// Auto-closes (T4) fired by this process (`/metrics`).
    pub closes_fired: u64,
}

/// The most notification attempts kept per order (the first ones).
pub const MAX_EXCHANGES: usize = 10_000;
/// The most gateway calls kept per order (the latest ones; INTERFACES §1 "Recorded exchanges").
pub const MAX_GATEWAY_CALLS: usize = 1_000;

impl Data {
    pub fn new(first_order_id: i64) -> Self {
        Self { next_order_id: first_order_id, next_fault_id: 1, ..Self::default() }
    }

    pub fn merchant_key(&self, app_key: &str) -> Option<Arc<str>> {
        self.merchants.get_key_value(app_key).map(|(k, _)| k.clone())
    }

    pub fn next_id(&mut self) -> OrderId {
        loop {
            let id = self.next_order_id;
            self.next_order_id += 1;
            if let Ok(id) = OrderId::new(id)
                && !self.orders.contains_key(&id.get())
            {
                return id;
            }
        }
    }

    pub fn insert_order(&mut self, order: Order, auto_close_ms: i64) {
        let id = order.id.get();
        if let Some(at) = order.close_due_ms(auto_close_ms) {
            self.closes.insert((at.saturating_sub(self.offsets.total_ms(&order.app_key)), id));
        }
        self.orders.insert(id, order);
    }

    /// Applies what a change asked ([`Effect`]), in the order it asked, under the same lock as the change.
    pub fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Queued { order_id, due_ms } => {
                    let Some(order) = self.orders.get(&order_id) else { continue };
                    self.due.insert((due_ms.saturating_sub(self.offsets.total_ms(&order.app_key)), order_id));
                }
                Effect::FaultUsed(fault_id) => {
                    self.notification_faults.remove(&fault_id);
                }
                Effect::FaultWaiting { fault_id, order_id } => {
                    self.notification_faults.insert(fault_id, order_id);
                }
                Effect::GatewayFault(fault) => self.gateway_faults.push(fault),
                Effect::QrImage(name, bytes) => self.put_qr_image(name, bytes),
            }
        }
    }

    /// Runs a change on order `id` (`None` when there is none) and applies what it asked.
    pub fn order_tx<R>(&mut self, id: i64, clock: &PlatformClock, f: impl FnOnce(&mut OrderTx<'_>) -> R) -> Option<R> {
        let Data { orders, merchants, next_fault_id, .. } = self;
        let app_key = orders.get(&id)?.app_key.clone();
        let merchant = merchants.get(&*app_key);
        let now_ms = clock.now_ms_for(&app_key);
        let order = orders.get_mut(&id)?;
        let mut tx = OrderTx::new(order, merchant, now_ms, Ids::Counter(next_fault_id));
        let result = f(&mut tx);
        let effects = tx.into_effects();
        self.apply(effects);
        Some(result)
    }

    /// Runs a gateway call of merchant `app_key` and applies what it asked.
    pub fn gateway_tx<R>(&mut self, app_key: &str, now_ms: i64, f: impl FnOnce(&mut GatewayTx<'_>) -> R) -> R {
        let Data { orders, merchants, next_op_seq, qr_images, .. } = self;
        let mut tx = GatewayTx::new(
            merchants.get(app_key),
            Orders::All(orders),
            Ids::Counter(next_op_seq),
            QrNames::All(qr_images),
        )
        .at(now_ms);
        let result = f(&mut tx);
        let effects = tx.into_effects();
        self.apply(effects);
        result
    }

    /// Moves the timers of the clocks an advance of `ms` moved back by `ms` of wall time: one merchant's
    /// (`Some`), or every one (`None`). Their merchant-clock times are unchanged: the clock went past them.
    pub fn shift_timers(&mut self, app_key: Option<&str>, ms: i64) {
        if ms == 0 {
            return;
        }
        let orders = &self.orders;
        let moves = |id: i64| app_key.is_none_or(|key| orders.get(&id).is_some_and(|o| &*o.app_key == key));
        let shift = |set: &BTreeSet<(i64, i64)>| -> BTreeSet<(i64, i64)> {
            set.iter().map(|&(t, id)| if moves(id) { (t.saturating_sub(ms), id) } else { (t, id) }).collect()
        };
        self.due = shift(&self.due);
        self.closes = shift(&self.closes);
    }

    /// The earliest wall-clock time something is due.
    pub fn next_wake_ms(&self) -> Option<i64> {
        let a = self.due.first().map(|(t, _)| *t);
        let b = self.closes.first().map(|(t, _)| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// T4 for every order whose 2 h have passed on its merchant's clock (`wall_ms`: the wall clock now).
    pub fn run_closes(&mut self, wall_ms: i64, auto_close_ms: i64) {
        while let Some(&(t, id)) = self.closes.first() {
            if t > wall_ms {
                break;
            }
            self.closes.pop_first();
            if let Some(order) = self.orders.get_mut(&id)
                && order.run_close(wall_ms.saturating_add(self.offsets.total_ms(&order.app_key)), auto_close_ms)
            {
                self.closes_fired += 1;
            }
        }
    }

    /// Takes every due attempt, marking each queue head in flight ([`Order::take_head`]). `wall_ms` is the wall
    /// clock now; each order's times are on its merchant's clock.
    pub fn take_due(&mut self, wall_ms: i64, schedule: Schedule) -> Vec<AttemptPlan> {
        let mut plans = Vec::new();
        while let Some(&(t, id)) = self.due.first() {
            if t > wall_ms {
                break;
            }
            self.due.pop_first();
            let Some(order) = self.orders.get_mut(&id) else { continue };
            let Some(merchant) = self.merchants.get(&order.app_key) else { continue };
            let now_ms = wall_ms.saturating_add(self.offsets.total_ms(&order.app_key));
            if let Some(plan) = order.take_head(now_ms, schedule, merchant) {
                plans.push(plan);
            }
        }
        plans
    }

    /// Records an attempt's outcome ([`Order::settle_head`]) and indexes the next due time. `wall_ms` is the wall
    /// clock now; the order's times are on its merchant's clock.
    pub fn finish_attempt(&mut self, order_id: i64, seq: u32, acknowledged: bool, wall_ms: i64, schedule: Schedule) {
        let Some(order) = self.orders.get_mut(&order_id) else { return };
        let offset_ms = self.offsets.total_ms(&order.app_key);
        if let Some(due) = order.settle_head(seq, acknowledged, wall_ms.saturating_add(offset_ms), schedule) {
            self.due.insert((due.saturating_sub(offset_ms), order_id));
        }
    }

    /// INTERFACES §1 "Recorded exchanges": a call is recorded against an order only when its app is registered
    /// and the order is that app's merchant's (a bad sign included: C9 diagnoses it). Anyone can reach the gateway
    /// and order ids are sequential: recording the rest would let any caller bloat any order's history.
    pub fn recordable(&self, app_key: &str, order_id: i64) -> Result<(), Unrecorded> {
        if !self.merchants.contains_key(app_key) {
            return Err(Unrecorded::UnknownApp);
        }
        match self.orders.get(&order_id) {
            None => Err(Unrecorded::NoSuchOrder),
            Some(order) if &*order.app_key != app_key => Err(Unrecorded::OtherMerchant),
            Some(_) => Ok(()),
        }
    }

    /// Records an exchange. An order keeps its latest [`MAX_GATEWAY_CALLS`] gateway calls (the oldest is dropped
    /// for a new one) and its first [`MAX_EXCHANGES`] notification attempts (later ones are dropped): a runaway
    /// caller cannot exhaust memory or disk. Returns whether an exchange was dropped (it is counted).
    pub fn record(&mut self, order_id: i64, exchange: Exchange) -> bool {
        let list = self.exchanges.entry(order_id).or_default();
        let dropped = if matches!(exchange, Exchange::Gateway(_)) {
            let calls = list.iter().filter(|e| matches!(e, Exchange::Gateway(_))).count();
            let oldest = (calls >= MAX_GATEWAY_CALLS)
                .then(|| list.iter().position(|e| matches!(e, Exchange::Gateway(_))))
                .flatten();
            if let Some(at) = oldest {
                list.remove(at);
                if let Some(store) = &mut self.store {
                    store.pending_trim(order_id);
                }
            }
            if let Some(store) = &mut self.store {
                store.pending_exchange(order_id, &exchange);
            }
            list.push(exchange);
            oldest.is_some()
        } else if list.len() < MAX_EXCHANGES {
            if let Some(store) = &mut self.store {
                store.pending_exchange(order_id, &exchange);
            }
            list.push(exchange);
            false
        } else {
            true
        };
        if dropped {
            let count = self.exchanges_dropped.entry(order_id).or_default();
            *count += 1;
            if let Some(store) = &mut self.store {
                store.pending_dropped(order_id, *count);
            }
        }
        dropped
    }

    /// Keeps an image uploaded with qrcode.upload.
    pub fn put_qr_image(&mut self, name: String, bytes: bytes::Bytes) {
        if let Some(store) = &mut self.store {
            store.pending_qr_image(&name, &bytes);
        }
        self.qr_images.insert(name, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tests::call;

    fn apis(data: &Data) -> Vec<String> {
        data.exchanges[&1]
            .iter()
            .filter_map(|e| match e {
                Exchange::Gateway(g) => Some(g.api.to_string()),
                Exchange::Notification(_) => None,
            })
            .collect()
    }

    #[test]
    fn an_order_keeps_its_latest_gateway_calls_and_counts_the_older_ones_dropped() {
        let mut data = Data::new(1);
        let dropped: Vec<bool> =
            (0..MAX_GATEWAY_CALLS + 3).map(|i| data.record(1, call(&format!("call {i}"), 0, i as u64))).collect();
        assert_eq!(dropped.iter().filter(|d| **d).count(), 3);
        assert!(dropped[..MAX_GATEWAY_CALLS].iter().all(|d| !d));
        let kept = apis(&data);
        assert_eq!((kept.len(), kept[0].as_str()), (MAX_GATEWAY_CALLS, "call 3"));
        assert_eq!(kept.last().map(String::as_str), Some(format!("call {}", MAX_GATEWAY_CALLS + 2).as_str()));
        assert_eq!(data.exchanges_dropped[&1], 3);
    }
}
