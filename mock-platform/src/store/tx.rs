//! What a change run through the store may touch: one order ([`OrderTx`], admin actions, faults, new orders),
//! or what a gateway API call reads and changes ([`GatewayTx`]). Each is handed to a closure while the state is
//! locked; its effects (queueing, exchanges, images) keep the store's indexes right.

use std::sync::Arc;

use protocol::NotifyMethod;

use super::Data;
use crate::exchange::Exchange;
use crate::faults::FaultSpec;
use crate::model::{Alteration, Merchant, OpTime, Order};

/// A change on one order (it exists: the store checked before handing this out).
#[derive(Debug)]
pub struct OrderTx<'a> {
    data: &'a mut Data,
    id: i64,
}

impl<'a> OrderTx<'a> {
    pub(super) fn new(data: &'a mut Data, id: i64) -> Self {
        Self { data, id }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn order(&self) -> &Order {
        &self.data.orders[&self.id]
    }

    pub fn order_mut(&mut self) -> &mut Order {
        self.data.orders.get_mut(&self.id).expect("the order exists for the whole change")
    }

    /// The order's merchant.
    pub fn merchant(&self) -> Option<&Merchant> {
        self.data.merchants.get(&*self.order().app_key)
    }

    /// Queues a notification (PROTOCOL §3.5: behind any earlier one).
    pub fn enqueue(
        &mut self,
        method: (NotifyMethod, u8),
        alteration: Option<Alteration>,
        duplicate: bool,
        now_ms: i64,
    ) {
        self.data.enqueue(self.id, method, alteration, duplicate, now_ms);
    }

    /// Attaches a notification fault's alteration ([`Order::attach_alteration`]).
    pub fn attach_alteration(&mut self, fault_id: u64, alteration: Alteration) -> bool {
        self.data.attach_alteration(self.id, fault_id, alteration)
    }

    /// Takes the next fault id.
    pub fn next_fault_id(&mut self) -> u64 {
        let id = self.data.next_fault_id;
        self.data.next_fault_id += 1;
        id
    }

    /// Arms a gateway fault for this order (POST /admin/orders `gateway_faults`).
    pub fn arm_gateway_fault(&mut self, spec: FaultSpec) -> u64 {
        let data = &mut *self.data;
        crate::faults::arm(&mut data.gateway_faults, &mut data.next_fault_id, spec, Some(self.id))
    }

    /// Records an exchange on this order; true when one was dropped (see [`Data::record`]).
    pub fn record(&mut self, exchange: Exchange) -> bool {
        self.data.record(self.id, exchange)
    }
}

/// A gateway API call (PROTOCOL §4.9 step 13): reads the caller's merchant and orders, changes one order.
#[derive(Debug)]
pub struct GatewayTx<'a> {
    data: &'a mut Data,
}

impl<'a> GatewayTx<'a> {
    pub(crate) fn new(data: &'a mut Data) -> Self {
        Self { data }
    }

    pub fn merchant(&self, app_key: &str) -> Option<&Merchant> {
        self.data.merchants.get(app_key)
    }

    pub fn order(&self, id: i64) -> Option<&Order> {
        self.data.orders.get(&id)
    }

    pub fn order_mut(&mut self, id: i64) -> Option<&mut Order> {
        self.data.orders.get_mut(&id)
    }

    /// Every order of `app_key`, in no order (oplogs.get, tasks.get: the two APIs that read across orders).
    pub fn orders_of<'s>(&'s self, app_key: &'s Arc<str>) -> impl Iterator<Item = &'s Order> + 's {
        self.data.orders.values().filter(move |o| o.app_key == *app_key)
    }

    /// Stamps a consume or reverse happening now ([`Data::op_time`]).
    pub fn op_time(&mut self, now_ms: i64) -> OpTime {
        self.data.op_time(now_ms)
    }

    /// Queues a notification for order `id`.
    pub fn enqueue(&mut self, id: i64, method: (NotifyMethod, u8), alteration: Option<Alteration>, now_ms: i64) {
        self.data.enqueue(id, method, alteration, false, now_ms);
    }

    pub fn has_qr_image(&self, name: &str) -> bool {
        self.data.qr_images.contains_key(name)
    }

    /// Keeps an image uploaded with qrcode.upload.
    pub fn put_qr_image(&mut self, name: String, bytes: bytes::Bytes) {
        self.data.put_qr_image(name, bytes);
    }
}

/// An order with everything recorded about it, for reading.
#[derive(Debug, Clone, Copy)]
pub struct OrderRecord<'a> {
    pub order: &'a Order,
    pub merchant: Option<&'a Merchant>,
    pub exchanges: &'a [Exchange],
    /// Exchanges not kept ([`super::MAX_EXCHANGES`], [`super::MAX_GATEWAY_CALLS`]).
    pub dropped: u64,
}
