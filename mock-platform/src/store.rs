//! The platform's state: plain data behind one `std::sync::Mutex`, changed only through the methods
//! here and in the API modules (so a persistent store can hook every mutation in one place).
//!
//! Why one lock: the gateway processes the calls for one order one at a time (PROTOCOL §5.0) and
//! every critical section is short and never awaits; the C4 hold and injected delays wait outside it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use protocol::{Notification, NotifyMethod, OrderId, Secret};

use crate::exchange::Exchange;
use crate::faults::GatewayFault;
use crate::model::order::{PendingNotification, method_bit};
use crate::model::{Merchant, Order, OrderState};
use crate::notify::Alteration;

/// Everything the platform knows.
#[derive(Debug, Default)]
pub struct Data {
    pub merchants: HashMap<Arc<str>, Merchant>,
    /// session → app_key.
    pub sessions: HashMap<String, Arc<str>>,
    pub orders: HashMap<i64, Order>,
    pub next_order_id: i64,
    pub exchanges: HashMap<i64, Vec<Exchange>>,
    /// (platform-clock due ms, order id) of queue heads waiting for their next attempt.
    pub due: BTreeSet<(i64, i64)>,
    /// (platform-clock ms, order id) when an unissued order auto-closes (T4).
    pub closes: BTreeSet<(i64, i64)>,
    pub gateway_faults: Vec<GatewayFault>,
    /// Notification fault id → order id, for `DELETE /admin/faults/{id}`.
    pub notification_faults: HashMap<u64, i64>,
    pub next_fault_id: u64,
    /// Exchanges not kept per order beyond [`MAX_EXCHANGES`].
    pub exchanges_dropped: HashMap<i64, u64>,
    /// Images uploaded with qrcode.upload, by `img_filename` (§5.7).
    pub qr_images: HashMap<String, bytes::Bytes>,
}

/// One attempt to make now, taken from the queue head of an order.
#[derive(Debug, Clone)]
pub struct AttemptPlan {
    pub order_id: i64,
    pub seq: u32,
    pub attempt: u8,
    pub notification: Notification,
    pub alteration: Option<Alteration>,
    pub duplicate: bool,
    pub url: String,
    pub key: Secret,
    pub charset: protocol::params::Charset,
}

/// The most exchanges kept per order.
pub const MAX_EXCHANGES: usize = 10_000;

/// The retry schedule in ms after the first attempt (index 0 is 0).
pub type Schedule<'a> = &'a [i64];

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
        if order.eticket {
            self.closes.insert((order.paid_ms.saturating_add(auto_close_ms), id));
        }
        self.orders.insert(id, order);
    }

    /// Queues a notification for an order (PROTOCOL §3.5: behind any earlier one).
    pub fn enqueue(
        &mut self,
        order_id: i64,
        notification: Notification,
        alteration: Option<Alteration>,
        duplicate: bool,
        now_ms: i64,
    ) {
        let Some(order) = self.orders.get_mut(&order_id) else { return };
        let delivery = &mut order.delivery;
        delivery.notifications += 1;
        let alteration = match alteration {
            Some(a) => Some(a),
            None if !duplicate => delivery.pending_alteration.take().map(|(id, a)| {
                self.notification_faults.remove(&id);
                a
            }),
            None => None,
        };
        delivery.queue.push_back(PendingNotification {
            seq: delivery.notifications,
            notification: Box::new(notification),
            attempts: 0,
            next_index: 0,
            first_at_ms: None,
            due_ms: now_ms,
            in_flight: false,
            alteration,
            duplicate,
        });
        if delivery.queue.len() == 1 {
            self.due.insert((now_ms, order_id));
        }
    }

    /// Attaches an alteration to the first attempt of the order's next notification: the queued one whose
    /// first attempt has not started, else the next one queued. Returns false when one is already waiting.
    pub fn attach_alteration(&mut self, order_id: i64, fault_id: u64, alteration: Alteration) -> bool {
        let Some(order) = self.orders.get_mut(&order_id) else { return false };
        if let Some(p) = order.delivery.queue.iter_mut().find(|p| p.attempts == 0 && !p.in_flight && !p.duplicate)
            && p.alteration.is_none()
        {
            p.alteration = Some(alteration);
            return true;
        }
        if order.delivery.pending_alteration.is_some() {
            return false;
        }
        order.delivery.pending_alteration = Some((fault_id, alteration));
        self.notification_faults.insert(fault_id, order_id);
        true
    }

    /// The earliest platform-clock time something is due.
    pub fn next_wake_ms(&self) -> Option<i64> {
        let a = self.due.first().map(|(t, _)| *t);
        let b = self.closes.first().map(|(t, _)| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// T4 for every order whose 2 h have passed.
    pub fn run_closes(&mut self, now_ms: i64, auto_close_ms: i64) {
        while let Some(&(t, id)) = self.closes.first() {
            if t > now_ms {
                break;
            }
            self.closes.pop_first();
            if let Some(order) = self.orders.get_mut(&id)
                && order.auto_close(now_ms, auto_close_ms)
            {
                order.delivery.awaiting_callback = None;
                tracing::info!(order_id = id, "order auto-closed (T4)");
            }
        }
    }

    /// Takes every due attempt, marking each queue head in flight.
    /// Missed attempts of one notification collapse into this one (PROTOCOL §2.4 `advance_clock`).
    pub fn take_due(&mut self, now_ms: i64, schedule: Schedule) -> Vec<AttemptPlan> {
        let mut plans = Vec::new();
        while let Some(&(t, id)) = self.due.first() {
            if t > now_ms {
                break;
            }
            self.due.pop_first();
            let Some(order) = self.orders.get_mut(&id) else { continue };
            let Some(merchant) = self.merchants.get(&order.app_key) else { continue };
            let Some(head) = order.delivery.queue.front_mut() else { continue };
            if head.in_flight {
                continue;
            }
            head.in_flight = true;
            head.attempts = head.attempts.saturating_add(1);
            let first = *head.first_at_ms.get_or_insert(now_ms);
            let mut index = usize::from(head.next_index);
            while index + 1 < schedule.len() && first.saturating_add(schedule[index + 1]) <= now_ms {
                index += 1;
            }
            head.next_index = index as u8;
            plans.push(AttemptPlan {
                order_id: id,
                seq: head.seq,
                attempt: head.attempts,
                notification: (*head.notification).clone(),
                alteration: if head.attempts == 1 { head.alteration.clone() } else { None },
                duplicate: head.duplicate,
                url: merchant.notify_url.clone(),
                key: merchant.notify_key.clone(),
                charset: merchant.notify_charset.charset(),
            });
        }
        plans
    }

    /// Records an attempt's outcome: effects of an ack (T2, tasks.get), the next retry or exhaustion.
    pub fn finish_attempt(&mut self, order_id: i64, seq: u32, acknowledged: bool, now_ms: i64, schedule: Schedule) {
        let Some(order) = self.orders.get_mut(&order_id) else { return };
        let state = order.state;
        let delivery = &mut order.delivery;
        let Some(head) = delivery.queue.front_mut().filter(|h| h.seq == seq) else { return };
        head.in_flight = false;
        let method = head.notification.method;
        let done = if acknowledged {
            delivery.acked |= method_bit(method);
            if !head.duplicate {
                delivery.exhausted = false;
                if matches!(method, NotifyMethod::Send | NotifyMethod::Resend | NotifyMethod::Modified)
                    && !matches!(state, OrderState::Closed | OrderState::Cancelled)
                {
                    delivery.awaiting_callback = Some(method);
                }
                let sub_method = head.notification.sub_method.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
                delivery.last_acked = Some((method, sub_method));
            }
            true
        } else if head.duplicate {
            true
        } else {
            let first = head.first_at_ms.unwrap_or(now_ms);
            let next = usize::from(head.next_index) + 1;
            if next < schedule.len() {
                head.next_index = next as u8;
                head.due_ms = first.saturating_add(schedule[next]);
                self.due.insert((head.due_ms, order_id));
                false
            } else {
                delivery.exhausted = true;
                tracing::info!(order_id, method = method.as_str(), "notification exhausted its retries");
                true
            }
        };
        if done {
            delivery.queue.pop_front();
            if acknowledged && method == NotifyMethod::Send {
                order.ack_send();
            }
            if let Some(next) = order.delivery.queue.front_mut() {
                next.due_ms = now_ms;
                self.due.insert((now_ms, order_id));
            }
        }
    }

    /// Records an exchange; past [`MAX_EXCHANGES`] for one order only the count grows (a runaway merchant
    /// cannot exhaust memory).
    pub fn record(&mut self, order_id: i64, exchange: Exchange) {
        let list = self.exchanges.entry(order_id).or_default();
        if list.len() < MAX_EXCHANGES {
            list.push(exchange);
        } else {
            *self.exchanges_dropped.entry(order_id).or_default() += 1;
        }
    }
}
