//! The shared backend (`--db postgres://…`, INTERFACES §1.2): the store's operations over [`PgStore`], so that
//! several replicas on one database are one platform.
//!
//! Everything of the platform's state is in the database; what this replica keeps in memory is only what is its
//! own: the leases it holds (to settle them), its open attempts (a C4 hold on this replica waits on them without
//! a round trip) and its clock for the wire (wire timestamps are wall time, PROTOCOL §2.2). Order clocks are read
//! on the database's clock, in the same statement as the row they apply to.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use protocol::{NotifyMethod, OrderId};
use tokio::sync::watch;

use super::merchant_row::MerchantRow;
use super::tx::{Effect, GatewayTx, Ids, OrderTx, Orders, QrNames};
use super::{CallScope, ClockReading, MerchantConflict, OrderRecord, Settlement, Unavailable};
use crate::clock::{MAX_OFFSET_MS, PlatformClock, system_wall_clock};
use crate::exchange::Exchange;
use crate::faults::{FaultAction, FaultSpec, GatewayFault};
use crate::metrics::Unrecorded;
use crate::model::{AttemptPlan, Merchant, Order, OrderState, Schedule};
use crate::postgres::{ExchangeKind, Lease, PgStore, Settled, Tx};

/// How many due heads one dispatcher round leases.
const LEASE_BATCH: i64 = 32;

/// How often a C4 hold on an attempt out on another replica looks at its lease again, in case the `settled`
/// notification was lost (the listener reconnecting).
const HOLD_RECHECK: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct Store {
    db: PgStore,
    auto_close_ms: i64,
    /// The platform's clock, for wall time only: order clocks are the database's.
    clock: OnceLock<PlatformClock>,
    /// Attempts this replica has out: their lease, their method, and a watch turned true once settled.
    open: Mutex<HashMap<i64, OpenAttempt>>,
    /// Auto-closes (T4) this replica fired.
    closes_fired: AtomicU64,
}

#[derive(Debug)]
struct OpenAttempt {
    lease: Lease,
    method: Option<NotifyMethod>,
    done: Option<watch::Receiver<bool>>,
}

/// Whether a key from a request can name a stored row: PostgreSQL's text cannot hold U+0000, and no merchant, order
/// or image is registered with one (the admin API refuses control characters), so a key with one names nothing —
/// answered as the in-process stores answer an unknown key, not as a database error.
fn can_name_a_row(key: &str) -> bool {
    !key.contains('\0')
}

fn unavailable(error: crate::postgres::PgError) -> Unavailable {
    Unavailable(error.to_string())
}

fn merchant_of(doc: Option<serde_json::Value>) -> Option<Merchant> {
    doc.and_then(|d| serde_json::from_value::<MerchantRow>(d).ok()).map(MerchantRow::into_merchant)
}

/// What every change of an order writes beside its document: its state column and auto-close timer.
fn index(order: &Order, tx: &mut Tx, auto_close_ms: i64) {
    tx.state(order.state.as_str());
    tx.close_at(order.close_due_ms(auto_close_ms));
}

/// Maps the seam's effects onto the transaction of the change that asked them.
fn apply(effects: Vec<Effect>, tx: &mut Tx) {
    for effect in effects {
        match effect {
            Effect::Queued { due_ms, .. } => tx.enqueue(due_ms),
            Effect::FaultUsed(id) => tx.notification_fault_used(id as i64),
            Effect::FaultWaiting { fault_id, .. } => tx.notification_fault_waiting(fault_id as i64),
            Effect::GatewayFault(fault) => tx.arm_gateway_fault(
                fault.id as i64,
                fault.method,
                fault.app_key,
                fault.times_left as i32,
                serde_json::to_value(&fault.action).unwrap_or_default(),
            ),
            Effect::QrImage(name, bytes) => tx.put_qr_image(name, bytes.to_vec()),
        }
    }
}

fn ids(reserved: Vec<i64>) -> Ids<'static> {
    Ids::Reserved(reserved.into_iter().map(|id| id as u64).collect::<VecDeque<u64>>())
}

impl Store {
    /// Connects to the database at `url` (migrating it), as replica `replica_id`.
    pub(super) async fn connect(
        url: &str,
        replica_id: &str,
        lease: Duration,
        first_order_id: i64,
        auto_close_ms: i64,
    ) -> Result<Self, crate::postgres::PgError> {
        let mut options = crate::postgres::PgOptions::new(replica_id, lease);
        options.first_order_id = first_order_id;
        let db = PgStore::connect(url, options).await?;
        Ok(Self {
            db,
            auto_close_ms,
            clock: OnceLock::new(),
            open: Mutex::new(HashMap::new()),
            closes_fired: AtomicU64::new(0),
        })
    }

    pub(super) fn db(&self) -> &PgStore {
        &self.db
    }

    pub(super) fn use_clock(&self, clock: PlatformClock) {
        let _ = self.clock.set(clock);
    }

    pub(super) fn wall_ms(&self) -> i64 {
        self.clock.get_or_init(|| PlatformClock::new(system_wall_clock())).wall_now().timestamp_millis()
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<i64, OpenAttempt>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// T4 for a locked order whose auto-close timer is due (whoever holds the row fires it, so it fires once),
    /// counted for `/metrics`.
    fn fire_due_close(&self, order: &mut Order, tx: &Tx) {
        if tx.close_due && order.run_close(tx.now_ms, self.auto_close_ms) {
            self.closes_fired.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn closes_fired(&self) -> u64 {
        self.closes_fired.load(Ordering::Relaxed)
    }

    pub(super) async fn ready(&self) -> Result<(), Unavailable> {
        self.db.ready().await.map_err(unavailable)
    }

    pub(super) async fn queued_notifications(&self) -> Result<u64, Unavailable> {
        Ok(self.db.queued_notifications().await.map_err(unavailable)?.max(0) as u64)
    }

    pub(super) async fn attempts_open(&self) -> Result<u64, Unavailable> {
        Ok(self.db.leases_open().await.map_err(unavailable)?.max(0) as u64)
    }

    // Clocks.

    pub(super) async fn now_ms(&self, app_key: Option<&str>) -> Result<i64, Unavailable> {
        // An app that cannot exist reads the platform-wide clock, as an unknown one does.
        let app_key = app_key.filter(|k| can_name_a_row(k));
        Ok(self.db.clock(app_key).await.map_err(unavailable)?.now_ms)
    }

    pub(super) async fn clock(&self, app_key: Option<&str>) -> Result<ClockReading, Unavailable> {
        let app_key = app_key.filter(|k| can_name_a_row(k));
        let clock = self.db.clock(app_key).await.map_err(unavailable)?;
        let (platform_ms, own_ms) = self.db.offsets(app_key).await.map_err(unavailable)?;
        let headroom_ms = (MAX_OFFSET_MS - platform_ms.saturating_add(own_ms)).max(0);
        Ok(ClockReading {
            now_ms: clock.now_ms,
            offset_ms: clock.offset_ms,
            headroom_seconds: (headroom_ms / 1000) as u64,
        })
    }

    pub(super) async fn advance_clock(&self, app_key: Option<&str>, ms: i64) -> Result<bool, Unavailable> {
        if let Some(key) = app_key
            && (!can_name_a_row(key) || !self.db.has_merchant(key).await.map_err(unavailable)?)
        {
            return Ok(false);
        }
        let (platform_ms, own_ms) = self.db.offsets(app_key).await.map_err(unavailable)?;
        let applied = ms.clamp(0, (MAX_OFFSET_MS - platform_ms.saturating_add(own_ms)).max(0));
        self.db.advance_clock(app_key, applied).await.map_err(unavailable)?;
        // Before answering, every close the advance made due has fired, here or on a replica racing us for it.
        self.closes(true).await?;
        Ok(true)
    }

    // Merchants.

    pub(super) async fn clock_and_merchant(&self, app_key: &str) -> Result<(i64, Option<Merchant>), Unavailable> {
        if !can_name_a_row(app_key) {
            return Ok((self.now_ms(None).await?, None));
        }
        let (now_ms, row) = self.db.clock_and_merchant::<MerchantRow>(app_key).await.map_err(unavailable)?;
        Ok((now_ms, row.map(MerchantRow::into_merchant)))
    }

    pub(super) async fn merchant(&self, app_key: &str) -> Result<Option<Merchant>, Unavailable> {
        if !can_name_a_row(app_key) {
            return Ok(None);
        }
        let row = self.db.merchant::<MerchantRow>(app_key).await.map_err(unavailable)?;
        Ok(row.map(MerchantRow::into_merchant))
    }

    pub(super) async fn merchants(&self) -> Result<Vec<Merchant>, Unavailable> {
        let rows = self.db.merchants::<MerchantRow>().await.map_err(unavailable)?;
        Ok(rows.into_iter().map(MerchantRow::into_merchant).collect())
    }

    pub(super) async fn put_merchant(&self, merchant: Merchant) -> Result<Result<(), MerchantConflict>, Unavailable> {
        let row = MerchantRow::of(&merchant);
        let inserted =
            self.db.insert_merchant(&merchant.app_key, merchant.session.expose(), &row).await.map_err(unavailable)?;
        if inserted {
            return Ok(Ok(()));
        }
        // Nothing was written: say which of the two was taken.
        let taken = self.db.has_merchant(&merchant.app_key).await.map_err(unavailable)?;
        Ok(Err(if taken { MerchantConflict::AppKey } else { MerchantConflict::Session }))
    }

    pub(super) async fn with_merchant<R>(
        &self,
        app_key: &str,
        f: impl FnOnce(Option<(&Arc<str>, &mut Merchant)>) -> R,
    ) -> Result<R, Unavailable> {
        if !can_name_a_row(app_key) {
            return Ok(f(None));
        }
        let mut f = Some(f);
        let key: Arc<str> = Arc::from(app_key);
        let changed = self
            .db
            .with_merchant(app_key, |row: &mut MerchantRow, _now_ms| {
                let mut merchant = row.clone().into_merchant();
                let out = f.take().map(|f| f(Some((&key, &mut merchant))));
                *row = MerchantRow::of(&merchant);
                out
            })
            .await
            .map_err(unavailable)?;
        match (changed.flatten(), f) {
            (Some(out), _) => Ok(out),
            (None, Some(f)) => Ok(f(None)),
            (None, None) => Err(Unavailable("the merchant's change did not run".into())),
        }
    }

    // Orders.

    pub(super) async fn new_order<P, R, E>(
        &self,
        app_key: &str,
        fault_ids: usize,
        check: impl FnOnce(&Arc<str>, &Merchant) -> Result<P, E>,
        create: impl FnOnce(OrderId, P) -> Order,
        then: impl FnOnce(&mut OrderTx<'_>) -> R,
    ) -> Result<Option<Result<R, E>>, Unavailable> {
        let Some(merchant) = self.merchant(app_key).await? else { return Ok(None) };
        let key: Arc<str> = Arc::from(merchant.app_key.as_str());
        let checked = match check(&key, &merchant) {
            Ok(p) => p,
            Err(e) => return Ok(Some(Err(e))),
        };
        let reserved = self.reserve_fault_ids(fault_ids).await?;
        let auto_close_ms = self.auto_close_ms;
        let mut out = None;
        self.db
            .new_order(app_key, |id, tx| {
                // The sequence never hands out an id below 1 (its minimum; a lower first id fails the migration).
                let order_id = OrderId::new(id).unwrap_or_else(|_| unreachable!("order_ids starts at 1 or above"));
                let mut order = create(order_id, checked);
                let mut order_tx = OrderTx::new(&mut order, Some(&merchant), tx.now_ms, ids(reserved));
                out = Some(then(&mut order_tx));
                let effects = order_tx.into_effects();
                index(&order, tx, auto_close_ms);
                apply(effects, tx);
                order
            })
            .await
            .map_err(unavailable)?;
        match out {
            Some(out) => Ok(Some(Ok(out))),
            None => Err(Unavailable("the order's creation did not run".into())),
        }
    }

    async fn reserve_fault_ids(&self, n: usize) -> Result<Vec<i64>, Unavailable> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.db.reserve_fault_ids(n as i64).await.map_err(unavailable)
    }

    pub(super) async fn with_order<R>(
        &self,
        id: i64,
        fault_ids: usize,
        f: impl FnOnce(&mut OrderTx<'_>) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let reserved = self.reserve_fault_ids(fault_ids).await?;
        let auto_close_ms = self.auto_close_ms;
        self.db
            .with_order(id, |order: &mut Order, tx: &mut Tx| {
                self.fire_due_close(order, tx);
                let merchant = merchant_of(tx.merchant.take());
                let mut order_tx = OrderTx::new(order, merchant.as_ref(), tx.now_ms, ids(reserved));
                let out = f(&mut order_tx);
                let effects = order_tx.into_effects();
                index(order, tx, auto_close_ms);
                apply(effects, tx);
                out
            })
            .await
            .map_err(unavailable)
    }

    pub(super) async fn order(&self, id: i64) -> Result<Option<Order>, Unavailable> {
        self.db.order::<Order>(id).await.map_err(unavailable)
    }

    pub(super) async fn orders(
        &self,
        app_key: Option<&str>,
        state: Option<OrderState>,
    ) -> Result<Vec<Order>, Unavailable> {
        if app_key.is_some_and(|k| !can_name_a_row(k)) {
            return Ok(Vec::new());
        }
        let rows = self.db.orders::<Order>(app_key, state.map(OrderState::as_str)).await.map_err(unavailable)?;
        Ok(rows.into_iter().map(|(_, order)| order).collect())
    }

    pub(super) async fn order_record<R>(
        &self,
        id: i64,
        f: impl FnOnce(OrderRecord<'_>) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let Some(order) = self.order(id).await? else { return Ok(None) };
        let merchant = self.merchant(&order.app_key).await?;
        let now_ms = self.now_ms(Some(&order.app_key)).await?;
        let (list, dropped) = self.db.exchanges::<Exchange>(id).await.map_err(unavailable)?;
        let exchanges: Vec<Exchange> = list.into_iter().map(|(_, e)| e).collect();
        Ok(Some(f(OrderRecord { now_ms, order: &order, merchant: merchant.as_ref(), exchanges: &exchanges, dropped })))
    }

    pub(super) async fn record_gateway_exchange(
        &self,
        app_key: &str,
        order_id: i64,
        exchange: Exchange,
    ) -> Result<Result<bool, Unrecorded>, Unavailable> {
        if !can_name_a_row(app_key) {
            return Ok(Err(Unrecorded::UnknownApp));
        }
        let doc = serde_json::to_value(&exchange).map_err(|e| Unavailable(e.to_string()))?;
        if let Some(dropped) = self.db.record_own_gateway_call(app_key, order_id, doc).await.map_err(unavailable)? {
            return Ok(Ok(dropped));
        }
        // Not recorded: say why (a refused call; rare).
        let (known, owner) = self.db.merchant_and_order_owner(app_key, order_id).await.map_err(unavailable)?;
        if !known {
            return Ok(Err(Unrecorded::UnknownApp));
        }
        match owner {
            None => Ok(Err(Unrecorded::NoSuchOrder)),
            Some(owner) if owner != app_key => Ok(Err(Unrecorded::OtherMerchant)),
            // Created between the two reads: there was no such order when the call was recorded.
            Some(_) => Ok(Err(Unrecorded::NoSuchOrder)),
        }
    }

    pub(super) async fn gateway_call<R>(
        &self,
        app_key: &str,
        scope: &CallScope,
        f: impl FnOnce(&mut GatewayTx<'_>) -> R,
    ) -> Result<R, Unavailable> {
        // No global auto-close round first (in process there is one): the order the call locks fires its own due
        // close below, and the dispatchers fire the others within their poll interval.
        // What the call may read beyond its one order, read before that order is locked.
        let merchant_orders =
            if scope.reads_merchant_orders { self.orders(Some(app_key), None).await? } else { Vec::new() };
        let names: Vec<String> = scope.qr_names.iter().filter(|n| can_name_a_row(n)).cloned().collect();
        let known: HashSet<String> = if names.is_empty() {
            HashSet::new()
        } else {
            self.db.qr_names(&names).await.map_err(unavailable)?.into_iter().collect()
        };
        let op_seqs = if scope.op_seqs == 0 {
            Vec::new()
        } else {
            self.db.reserve_op_seqs(scope.op_seqs as i64).await.map_err(unavailable)?
        };
        let mut f = Some(f);
        let mut pieces = Some((known, op_seqs));
        let auto_close_ms = self.auto_close_ms;
        if let Some(id) = scope.order_id {
            // The locking query joins the order's merchant: the caller's, unless the call names another merchant's
            // order — then the caller's is read first and the order locked again (a refused call, and rare).
            let mut caller: Option<Option<Merchant>> = None;
            for _ in 0..2 {
                let out = self
                    .db
                    .with_order(id, |order: &mut Order, tx: &mut Tx| {
                        self.fire_due_close(order, tx);
                        let merchant = match &caller {
                            Some(known) => known.clone(),
                            None => match merchant_of(tx.merchant.take()) {
                                Some(m) if m.app_key == app_key => Some(m),
                                _ => {
                                    // Written back as is (with its close, if one fired).
                                    index(order, tx, auto_close_ms);
                                    return Err(());
                                }
                            },
                        };
                        let (known, op_seqs) = pieces.take().unwrap_or_default();
                        let Some(f) = f.take() else { return Ok(None) };
                        let orders = Orders::One { order: Some(order), merchant_orders: &merchant_orders };
                        let mut call = GatewayTx::new(merchant.as_ref(), orders, ids(op_seqs), QrNames::Known(known))
                            .at(tx.now_ms);
                        let out = f(&mut call);
                        let effects = call.into_effects();
                        // The call's order is the locked one: effects name no other.
                        index(order, tx, auto_close_ms);
                        apply(effects, tx);
                        Ok(Some(out))
                    })
                    .await
                    .map_err(unavailable)?;
                match out {
                    Some(Ok(Some(out))) => return Ok(out),
                    Some(Err(())) => caller = Some(self.merchant(app_key).await?),
                    // No such order (or, never, the call already ran): the call runs on no order below.
                    None | Some(Ok(None)) => break,
                }
            }
        }
        // No order named, or none with that id: the call runs on no order (it answers "no such order").
        let merchant = self.merchant(app_key).await?;
        let (known, op_seqs) = pieces.take().unwrap_or_default();
        let Some(f) = f.take() else { return Err(Unavailable("the gateway call did not run".into())) };
        let orders = Orders::One { order: None, merchant_orders: &merchant_orders };
        let now_ms = self.now_ms(Some(app_key)).await?;
        let mut call = GatewayTx::new(merchant.as_ref(), orders, ids(op_seqs), QrNames::Known(known)).at(now_ms);
        let out = f(&mut call);
        // With no order there is nothing to queue; an uploaded image is the one effect left.
        for effect in call.into_effects() {
            if let Effect::QrImage(name, bytes) = effect {
                self.db.put_qr_image(&name, &bytes).await.map_err(unavailable)?;
            }
        }
        Ok(out)
    }

    // Faults.

    pub(super) async fn take_gateway_fault(
        &self,
        api: &str,
        app_key: &str,
        order_id: Option<i64>,
    ) -> Result<Option<FaultAction>, Unavailable> {
        if !can_name_a_row(app_key) || !can_name_a_row(api) {
            return Ok(None);
        }
        self.db.take_gateway_fault::<FaultAction>(api, app_key, order_id).await.map_err(unavailable)
    }

    pub(super) async fn add_gateway_fault(
        &self,
        spec: FaultSpec,
        order_id: Option<i64>,
    ) -> Result<Option<u64>, Unavailable> {
        if let Some(id) = order_id
            && self.db.order_app_key(id).await.map_err(unavailable)?.is_none()
        {
            return Ok(None);
        }
        let times = i32::try_from(spec.times).unwrap_or(i32::MAX);
        let id = self
            .db
            .add_gateway_fault(&spec.method, spec.app_key.as_deref(), order_id, times, &spec.action)
            .await
            .map_err(unavailable)?;
        Ok(Some(id as u64))
    }

    pub(super) async fn faults(&self) -> Result<(Vec<GatewayFault>, Vec<(u64, i64)>), Unavailable> {
        let rows = self.db.gateway_faults::<FaultAction>().await.map_err(unavailable)?;
        let gateway = rows
            .into_iter()
            .map(|r| GatewayFault {
                id: r.id as u64,
                method: r.method,
                app_key: r.app_key,
                order_id: r.order_id,
                times_left: r.times_left.max(0) as u32,
                action: r.action,
            })
            .collect();
        let notification = self.db.notification_faults().await.map_err(unavailable)?;
        Ok((gateway, notification.into_iter().map(|(id, order)| (id as u64, order)).collect()))
    }

    pub(super) async fn remove_fault(&self, id: u64) -> Result<bool, Unavailable> {
        let id = id as i64;
        if self.db.delete_gateway_fault(id).await.map_err(unavailable)? {
            return Ok(true);
        }
        let Some(order_id) = self.db.delete_notification_fault(id).await.map_err(unavailable)? else {
            return Ok(false);
        };
        self.with_order(order_id, 0, |tx| {
            let order = tx.order_mut();
            if order.delivery.pending_alteration.as_ref().is_some_and(|(fid, _)| *fid == id as u64) {
                order.delivery.pending_alteration = None;
            }
        })
        .await?;
        Ok(true)
    }

    pub(super) async fn qr_image(&self, name: &str) -> Result<Option<bytes::Bytes>, Unavailable> {
        if !can_name_a_row(name) {
            return Ok(None);
        }
        Ok(self.db.qr_image(name).await.map_err(unavailable)?.map(bytes::Bytes::from))
    }

    // Deliveries.

    pub(super) async fn run_closes(&self) -> Result<(), Unavailable> {
        self.closes(false).await
    }

    /// Fires the due auto-closes; `wait`: also those another transaction holds, once it lets go.
    async fn closes(&self, wait: bool) -> Result<(), Unavailable> {
        let auto_close_ms = self.auto_close_ms;
        let fire = |_, order: &mut Order, tx: &mut Tx| {
            self.fire_due_close(order, tx);
            index(order, tx, auto_close_ms);
        };
        let fired = if wait { self.db.run_closes_waiting(fire).await } else { self.db.run_closes(fire).await };
        fired.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn lease_due(
        &self,
        schedule: Schedule<'_>,
    ) -> Result<(Vec<AttemptPlan>, Option<i64>), Unavailable> {
        let auto_close_ms = self.auto_close_ms;
        let leased = self
            .db
            .lease_due(LEASE_BATCH, |order: &mut Order, tx: &mut Tx, abandoned| {
                if abandoned {
                    // Its holder died mid-attempt: the same attempt again (INTERFACES §1.2).
                    order.reopen_abandoned_head();
                }
                let merchant = merchant_of(tx.merchant.take());
                let plan = merchant.as_ref().and_then(|m| order.take_head(tx.now_ms, schedule, m));
                if plan.is_none() {
                    tx.next_due(order.delivery.queue.front().map(|h| h.due_ms));
                }
                index(order, tx, auto_close_ms);
                plan
            })
            .await
            .map_err(unavailable)?;
        let mut plans = Vec::with_capacity(leased.len());
        {
            let mut open = self.open();
            for (lease, plan) in leased {
                open.insert(plan.order_id, OpenAttempt { lease, method: None, done: None });
                plans.push(plan);
            }
        }
        let next = self.db.next_wake().await.map_err(unavailable)?;
        let wall_ms = self.wall_ms();
        Ok((plans, next.map(|d| wall_ms.saturating_add(d.as_millis() as i64))))
    }

    pub(super) async fn settle(
        &self,
        plan: &AttemptPlan,
        exchange: Option<Exchange>,
        acknowledged: bool,
        schedule: Schedule<'_>,
    ) -> Result<Settlement, Unavailable> {
        let lease = self.open().get(&plan.order_id).map(|o| o.lease.clone());
        let Some(lease) = lease else { return Ok(Settlement::Lost) };
        let doc = match &exchange {
            Some(e) => Some(serde_json::to_value(e).map_err(|e| Unavailable(e.to_string()))?),
            None => None,
        };
        let auto_close_ms = self.auto_close_ms;
        let settled = self
            .db
            .settle(&lease, |order: &mut Order, tx: &mut Tx| {
                if let Some(doc) = doc {
                    tx.record(ExchangeKind::Attempt, doc);
                }
                let next = order.settle_head(plan.seq, acknowledged, tx.now_ms, schedule);
                tx.next_due(next.or_else(|| order.delivery.queue.front().map(|h| h.due_ms)));
                index(order, tx, auto_close_ms);
            })
            .await
            .map_err(unavailable)?;
        Ok(match settled {
            Settled::Done(()) => Settlement::Done { dropped: false },
            Settled::Lost => Settlement::Lost,
        })
    }

    pub(super) fn attempt_started(&self, order_id: i64, method: NotifyMethod) -> watch::Sender<bool> {
        let (done_tx, done) = watch::channel(false);
        if let Some(open) = self.open().get_mut(&order_id) {
            open.method = Some(method);
            open.done = Some(done);
        }
        done_tx
    }

    pub(super) fn attempt_ended(&self, order_id: i64) {
        self.open().remove(&order_id);
    }

    /// The C4 hold across replicas: this replica's own attempt is watched directly; one out on another replica
    /// (an unexpired lease) is waited on through `settled` notifications, looking at the lease again every
    /// [`HOLD_RECHECK`] in case a notification was lost.
    pub(super) async fn attempt_open(&self, order_id: i64, causes: &[NotifyMethod]) -> Option<watch::Receiver<bool>> {
        if let Some(open) = self.open().get(&order_id) {
            return open.done.clone().filter(|_| open.method.is_some_and(|m| causes.contains(&m)));
        }
        let mut settled = self.db.wakeups().settled();
        match self.db.attempt_open(order_id).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!(order_id, "C4 hold: could not read the lease: {e}");
                return None;
            }
        }
        // The attempt out is the head's: hold only if its method is one of the causes.
        let order = self.order(order_id).await.ok().flatten()?;
        let head = order.delivery.queue.front().filter(|h| h.in_flight)?;
        if !causes.contains(&head.method) {
            return None;
        }
        let (done_tx, done) = watch::channel(false);
        let db = self.db.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = done_tx.closed() => return,
                    got = settled.recv() => match got {
                        Ok(id) if id == order_id => break,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                    },
                    () = tokio::time::sleep(HOLD_RECHECK) => {}
                }
                if !db.attempt_open(order_id).await.unwrap_or(false) {
                    break;
                }
            }
            done_tx.send_replace(true);
        });
        Some(done)
    }
}
