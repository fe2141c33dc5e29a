//! What a change run through the store may touch: one order ([`OrderTx`], admin actions, faults, new orders),
//! or what a gateway API call reads and changes ([`GatewayTx`]).
//!
//! Both are backend-neutral: they hold the documents the change works on (the order, its merchant; for a gateway
//! call, the orders it may read) and a buffer of [`Effect`]s — what the change asks of the store's indexes and side
//! tables (a due time to index, a fault armed, an image kept). The backend applies the effects, in order, in the
//! same atomic change: the in-process backends under their lock after the closure returns
//! ([`Data::apply`](super::Data::apply)), PostgreSQL inside its transaction.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use protocol::NotifyMethod;

use super::data::Tracked;
use crate::exchange::Exchange;
use crate::faults::{FaultSpec, GatewayFault};
use crate::model::{Alteration, Merchant, OpTime, Order};

/// What a change asks of the store besides its documents, applied in the order asked.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Order `order_id`'s queue got a head due at `due_ms` (merchant clock): index it.
    Queued { order_id: i64, due_ms: i64 },
    /// A notification fault's alteration was taken by a notification: no longer waiting.
    FaultUsed(u64),
    /// A notification fault's alteration now waits on order `order_id`.
    FaultWaiting { fault_id: u64, order_id: i64 },
    /// A gateway fault armed (its id already taken).
    GatewayFault(GatewayFault),
    /// An image uploaded with qrcode.upload.
    QrImage(String, bytes::Bytes),
}

/// Where ids come from: a counter the backend's lock guards (in process), or ids reserved before the change
/// (PostgreSQL: a sequence read before the transaction's closure, which never awaits; the caller says how many the
/// change may take).
#[derive(Debug)]
pub(crate) enum Ids<'a> {
    Counter(&'a mut u64),
    Reserved(VecDeque<u64>),
}

impl Ids<'_> {
    fn next(&mut self) -> u64 {
        match self {
            Ids::Counter(next) => {
                let id = **next;
                **next += 1;
                id
            }
            // The caller reserves as many as the change can take; past them (a bug), an id no sequence hands out:
            // the row it names is refused by its primary key and the change fails, rather than the process.
            Ids::Reserved(ids) => ids.pop_front().unwrap_or(u64::MAX),
        }
    }

    /// The next operation sequence number (the counter holds the last one handed out).
    fn next_op(&mut self) -> u64 {
        match self {
            Ids::Counter(last) => {
                **last += 1;
                **last
            }
            // A stamp only orders events within one millisecond: past the reserved ones (a bug), 0 costs that order.
            Ids::Reserved(ids) => ids.pop_front().unwrap_or_default(),
        }
    }
}

/// Queues a notification on `order` and says what it asks of the indexes (PROTOCOL §3.5: behind any earlier one).
fn enqueue(
    effects: &mut Vec<Effect>,
    order: &mut Order,
    method: (NotifyMethod, u8),
    alteration: Option<Alteration>,
    duplicate: bool,
    now_ms: i64,
) {
    let queued = order.enqueue(method, alteration, duplicate, now_ms);
    if let Some(fault_id) = queued.fault_used {
        effects.push(Effect::FaultUsed(fault_id));
    }
    if let Some(due_ms) = queued.due_ms {
        effects.push(Effect::Queued { order_id: order.id.get(), due_ms });
    }
}

/// A change on one order (it exists: the store checked before handing this out).
#[derive(Debug)]
pub struct OrderTx<'a> {
    order: &'a mut Order,
    merchant: Option<&'a Merchant>,
    now_ms: i64,
    fault_ids: Ids<'a>,
    effects: Vec<Effect>,
}

impl<'a> OrderTx<'a> {
    pub(crate) fn new(order: &'a mut Order, merchant: Option<&'a Merchant>, now_ms: i64, fault_ids: Ids<'a>) -> Self {
        Self { order, merchant, now_ms, fault_ids, effects: Vec::new() }
    }

    /// Now on the order's merchant clock (epoch ms), read with the order locked (on PostgreSQL, the database's
    /// clock).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// What the change asked, for the backend to apply.
    pub(crate) fn into_effects(self) -> Vec<Effect> {
        self.effects
    }

    pub fn id(&self) -> i64 {
        self.order.id.get()
    }

    pub fn order(&self) -> &Order {
        self.order
    }

    pub fn order_mut(&mut self) -> &mut Order {
        self.order
    }

    /// The order's merchant.
    pub fn merchant(&self) -> Option<&Merchant> {
        self.merchant
    }

    /// Queues a notification (PROTOCOL §3.5: behind any earlier one).
    pub fn enqueue(
        &mut self,
        method: (NotifyMethod, u8),
        alteration: Option<Alteration>,
        duplicate: bool,
        now_ms: i64,
    ) {
        enqueue(&mut self.effects, self.order, method, alteration, duplicate, now_ms);
    }

    /// Attaches a notification fault's alteration ([`Order::attach_alteration`]).
    pub fn attach_alteration(&mut self, fault_id: u64, alteration: Alteration) -> bool {
        let attached = self.order.attach_alteration(fault_id, alteration);
        if self.order.delivery.pending_alteration.as_ref().is_some_and(|(id, _)| *id == fault_id) {
            self.effects.push(Effect::FaultWaiting { fault_id, order_id: self.id() });
        }
        attached
    }

    /// Takes the next fault id.
    pub fn next_fault_id(&mut self) -> u64 {
        self.fault_ids.next()
    }

    /// Arms a gateway fault for this order (POST /admin/orders `gateway_faults`).
    pub fn arm_gateway_fault(&mut self, spec: FaultSpec) -> u64 {
        let mut armed = Vec::with_capacity(1);
        let mut next = self.fault_ids.next();
        let id = crate::faults::arm(&mut armed, &mut next, spec, Some(self.id()));
        self.effects.extend(armed.into_iter().map(Effect::GatewayFault));
        id
    }
}

/// The orders a gateway call may read and change.
#[derive(Debug)]
pub(crate) enum Orders<'a> {
    /// In process: every order (the lock covers them all).
    All(&'a mut Tracked<i64, Order>),
    /// One order locked for the call (the one it names, if any), and a snapshot of the caller's orders for the
    /// APIs that read across orders (oplogs.get, tasks.get).
    One { order: Option<&'a mut Order>, merchant_orders: &'a [Order] },
}

/// The images a gateway call may look up: every one (in process), or the names the call could ask about.
#[derive(Debug)]
pub(crate) enum QrNames<'a> {
    All(&'a HashMap<String, bytes::Bytes>),
    Known(HashSet<String>),
}

/// A gateway API call (PROTOCOL §4.9 step 13): reads the caller's merchant and orders, changes one order.
#[derive(Debug)]
pub struct GatewayTx<'a> {
    /// Now on the caller's merchant clock (epoch ms), read when the call's order was locked.
    now_ms: i64,
    merchant: Option<&'a Merchant>,
    orders: Orders<'a>,
    op_seqs: Ids<'a>,
    qr: QrNames<'a>,
    effects: Vec<Effect>,
}

impl<'a> GatewayTx<'a> {
    pub(crate) fn new(merchant: Option<&'a Merchant>, orders: Orders<'a>, op_seqs: Ids<'a>, qr: QrNames<'a>) -> Self {
        Self { now_ms: 0, merchant, orders, op_seqs, qr, effects: Vec::new() }
    }

    /// The call's now on the caller's merchant clock (on PostgreSQL the database's, read with the order locked).
    pub(crate) fn at(mut self, now_ms: i64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Now on the caller's merchant clock (epoch ms), as the store read it for this call.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// What the call asked, for the backend to apply.
    pub(crate) fn into_effects(self) -> Vec<Effect> {
        self.effects
    }

    /// The caller's merchant (`app_key` is the caller's: no call reads another merchant).
    pub fn merchant(&self, app_key: &str) -> Option<&Merchant> {
        self.merchant.filter(|m| m.app_key == app_key)
    }

    pub fn order(&self, id: i64) -> Option<&Order> {
        match &self.orders {
            Orders::All(orders) => orders.get(&id),
            Orders::One { order, .. } => order.as_deref().filter(|o| o.id.get() == id),
        }
    }

    pub fn order_mut(&mut self, id: i64) -> Option<&mut Order> {
        match &mut self.orders {
            Orders::All(orders) => orders.get_mut(&id),
            Orders::One { order, .. } => order.as_deref_mut().filter(|o| o.id.get() == id),
        }
    }

    /// Every order of `app_key`, in no order (oplogs.get, tasks.get: the two APIs that read across orders).
    pub fn orders_of<'s>(&'s self, app_key: &'s Arc<str>) -> Box<dyn Iterator<Item = &'s Order> + 's> {
        match &self.orders {
            Orders::All(orders) => Box::new(orders.values().filter(move |o| o.app_key == *app_key)),
            Orders::One { merchant_orders, .. } => {
                Box::new(merchant_orders.iter().filter(move |o| o.app_key == *app_key))
            }
        }
    }

    /// Stamps a consume or reverse happening now: events in one millisecond keep the order they happened in
    /// (oplogs.get sorts by this, not by the millisecond alone).
    pub fn op_time(&mut self, now_ms: i64) -> OpTime {
        OpTime { ms: now_ms, seq: self.op_seqs.next_op() }
    }

    /// Queues a notification for order `id`.
    pub fn enqueue(&mut self, id: i64, method: (NotifyMethod, u8), alteration: Option<Alteration>, now_ms: i64) {
        let order = match &mut self.orders {
            Orders::All(orders) => orders.get_mut(&id),
            Orders::One { order, .. } => order.as_deref_mut().filter(|o| o.id.get() == id),
        };
        if let Some(order) = order {
            enqueue(&mut self.effects, order, method, alteration, false, now_ms);
        }
    }

    pub fn has_qr_image(&self, name: &str) -> bool {
        let uploaded_now = self.effects.iter().any(|e| matches!(e, Effect::QrImage(n, _) if n == name));
        uploaded_now
            || match &self.qr {
                QrNames::All(images) => images.contains_key(name),
                QrNames::Known(names) => names.contains(name),
            }
    }

    /// Keeps an image uploaded with qrcode.upload.
    pub fn put_qr_image(&mut self, name: String, bytes: bytes::Bytes) {
        self.effects.push(Effect::QrImage(name, bytes));
    }
}

/// An order with everything recorded about it, for reading.
#[derive(Debug, Clone, Copy)]
pub struct OrderRecord<'a> {
    /// Now on the order's merchant clock (epoch ms).
    pub now_ms: i64,
    pub order: &'a Order,
    pub merchant: Option<&'a Merchant>,
    pub exchanges: &'a [Exchange],
    /// Exchanges not kept ([`super::MAX_EXCHANGES`], [`super::MAX_GATEWAY_CALLS`]).
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::consume::tests::issued;

    /// Runs the same gateway-call steps on a transaction and returns what they saw and asked.
    fn steps(tx: &mut GatewayTx<'_>) -> (Vec<String>, u64, bool, bool) {
        let key: Arc<str> = Arc::from("k");
        let seen = tx.orders_of(&key).map(|o| o.id.get().to_string()).collect();
        tx.enqueue(1, (NotifyMethod::Send, 0), None, 5);
        // Another merchant's order is not there to change.
        tx.enqueue(2, (NotifyMethod::Send, 0), None, 5);
        let seq = tx.op_time(5).seq;
        tx.put_qr_image("new.png".into(), bytes::Bytes::from_static(b"x"));
        (seen, seq, tx.has_qr_image("old.png"), tx.has_qr_image("new.png"))
    }

    fn summary(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Queued { order_id, due_ms } => format!("queued {order_id} {due_ms}"),
                Effect::QrImage(name, _) => format!("image {name}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_gateway_call_on_one_locked_order_sees_and_asks_what_it_does_on_every_order_in_process() {
        // In process: every order, ids from the counter, every image.
        let mut orders = Tracked::default();
        orders.insert(1, issued("A:1"));
        let mut last_op = 40;
        let images = HashMap::from([("old.png".to_owned(), bytes::Bytes::from_static(b"o"))]);
        let mut all = GatewayTx::new(None, Orders::All(&mut orders), Ids::Counter(&mut last_op), QrNames::All(&images));
        let in_process = steps(&mut all);
        let in_process_effects = summary(&all.into_effects());

        // PostgreSQL's shape: the one order locked, a snapshot of the caller's orders, ids reserved, the names known.
        let mut locked = issued("A:1");
        let snapshot = [issued("A:1")];
        let one = Orders::One { order: Some(&mut locked), merchant_orders: &snapshot };
        let known = QrNames::Known(HashSet::from(["old.png".to_owned()]));
        let mut shared = GatewayTx::new(None, one, Ids::Reserved(VecDeque::from([41])), known);
        let on_one = steps(&mut shared);
        let on_one_effects = summary(&shared.into_effects());

        assert_eq!(in_process, (vec!["1".to_owned()], 41, true, true));
        assert_eq!(on_one, in_process);
        assert_eq!(on_one_effects, in_process_effects);
        assert_eq!(in_process_effects, ["queued 1 5", "image new.png"]);
        assert_eq!(locked.delivery.queue.len(), orders.get(&1).map_or(0, |o| o.delivery.queue.len()));
    }
}
