//! `Context` (what every check shares) and `Probe` (one check's handle): buying orders, polling the
//! platform's exchanges, posting notifications the suite signed itself, and remembering what to report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use protocol::params::Charset;
use protocol::{Gmt8Timestamp, Params, notify_sign};

use crate::config::{MerchantConfig, Windows};
use crate::event::{EntryKind, TimelineEntry};
use crate::plan::redeem::PosHook;
use crate::platform_client::{Bought, Exchange, OrderSpec, OrderView, PlatformClient, PlatformError};

/// How often the suite reads an order's exchanges while it waits for something to happen.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What every check of a run shares.
#[derive(Debug)]
pub struct Context {
    pub platform: PlatformClient,
    pub merchant: MerchantConfig,
    pub windows: Windows,
    pub seed: u64,
    /// For notifications the suite posts itself: no pooled connections, as the platform does (§3.1).
    http: reqwest::Client,
    /// Makes every order's mobile distinct within a run.
    orders_bought: AtomicU64,
    /// The merchant's POS hook, when given (C11–C14).
    pub pos: Option<PosHook>,
}

impl Context {
    pub fn new(platform: PlatformClient, merchant: MerchantConfig, windows: Windows, seed: u64) -> Self {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(windows.ack_deadline)
            .build()
            .expect("a client without TLS always builds");
        Self { platform, merchant, windows, seed, http, orders_bought: AtomicU64::new(0), pos: None }
    }

    /// Adds the merchant's POS hook (INTERFACES §4).
    pub fn with_pos(mut self, pos: Option<PosHook>) -> Self {
        self.pos = pos;
        self
    }

    fn next_mobile(&self) -> String {
        let n = self.orders_bought.fetch_add(1, Ordering::Relaxed);
        // 11 digits starting 13x, varied by the seed so two suites sharing a platform do not collide.
        format!("13{}{:08}", self.seed % 10, (self.seed.wrapping_mul(7919) + n) % 100_000_000)
    }
}

/// What a check can do, and what it leaves for the report: the orders it bought and the suite's own actions.
#[derive(Debug)]
pub struct Probe {
    pub ctx: Arc<Context>,
    orders: Mutex<Vec<i64>>,
    entries: Mutex<Vec<TimelineEntry>>,
}

/// The reply to a notification the suite posted itself.
#[derive(Debug, Clone)]
pub struct PostedReply {
    /// `None` when no complete reply came within the deadline or the connection failed.
    pub status: Option<u16>,
    pub body: Vec<u8>,
    pub error: Option<String>,
}

impl Probe {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx, orders: Mutex::new(Vec::new()), entries: Mutex::new(Vec::new()) }
    }

    pub fn windows(&self) -> Windows {
        self.ctx.windows
    }

    pub fn platform(&self) -> &PlatformClient {
        &self.ctx.platform
    }

    /// The orders this check bought, in order.
    pub fn orders(&self) -> Vec<i64> {
        self.orders.lock().expect("not poisoned").clone()
    }

    /// Adds an order bought outside [`Probe::buy`] to the check's report.
    pub fn remember_order(&self, order_id: i64) {
        let mut orders = self.orders.lock().expect("not poisoned");
        if !orders.contains(&order_id) {
            orders.push(order_id);
        }
    }

    /// The suite's own timeline entries.
    pub fn entries(&self) -> Vec<TimelineEntry> {
        self.entries.lock().expect("not poisoned").clone()
    }

    pub fn record(&self, entry: TimelineEntry) {
        self.entries.lock().expect("not poisoned").push(entry);
    }

    /// A note of something the suite did, for the timeline.
    pub fn note(&self, order_id: Option<i64>, title: impl Into<String>) {
        let mut entry = TimelineEntry::new(EntryKind::Suite, title);
        entry.order_id = order_id;
        entry.at = Some(now_text());
        self.record(entry);
    }

    /// A plain order: 3 units, Chinese title, SKU and SMS template so that a merchant signing UTF-8 bytes
    /// instead of GBK fails on the very first notification (FAQ 2.25).
    pub fn order_spec(&self) -> OrderSpec {
        OrderSpec {
            num: 3,
            mobile: self.ctx.next_mobile(),
            item_title: "银子岩门票 成人票".into(),
            consume_type: 0,
            sku_properties: Some("门票种类:成人票;门票类型:电子票".into()),
            sms_template: None,
            outer_iid: Some("conformance-item".into()),
            alteration: None,
            gateway_fault: None,
            extra: Vec::new(),
        }
    }

    /// Buys an order and remembers it for the report. `spec.gateway_fault` is armed by the platform with the
    /// order, before its `send` notification goes out, so the merchant's first callback meets it (C8).
    pub async fn buy(&self, spec: OrderSpec) -> Result<Bought, PlatformError> {
        let bought = self.ctx.platform.buy(&self.ctx.merchant.app_key, &spec).await?;
        self.orders.lock().expect("not poisoned").push(bought.order_id);
        for fault_id in &bought.gateway_fault_ids {
            self.note(Some(bought.order_id), format!("suite: armed gateway fault {fault_id} with the order"));
        }
        Ok(bought)
    }

    pub async fn order(&self, order_id: i64) -> Result<OrderView, PlatformError> {
        self.ctx.platform.order(order_id).await
    }

    pub async fn exchanges(&self, order_id: i64) -> Result<Vec<Exchange>, PlatformError> {
        self.ctx.platform.exchanges(order_id).await
    }

    /// Polls the order's exchanges until `found` returns something or `within` has passed.
    ///
    /// Waiting out a window is what the protocol asks (a callback window, a quiet window); polling rather
    /// than sleeping lets a check end as soon as the answer is known.
    pub async fn wait_for<T>(
        &self,
        order_id: i64,
        within: Duration,
        mut found: impl FnMut(&[Exchange]) -> Option<T>,
    ) -> Result<Option<T>, PlatformError> {
        let until = Instant::now() + within;
        loop {
            let exchanges = self.exchanges(order_id).await?;
            if let Some(t) = found(&exchanges) {
                return Ok(Some(t));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(None);
            }
            tokio::time::sleep(POLL_INTERVAL.min(until - now)).await;
        }
    }

    /// Signs `params` with the notify key (fresh `timestamp`) and POSTs them to the merchant's notify URL,
    /// as the platform would (FAQ 2.31: "post data yourself").
    pub async fn post_notification(&self, order_id: i64, mut params: Params, title: &str) -> PostedReply {
        params.remove("sign");
        params.set("timestamp", Gmt8Timestamp::from_utc(Utc::now()).format());
        let sign = notify_sign(&self.ctx.merchant.notify_key, &params);
        params.set("sign", sign);
        let started = Instant::now();
        let result = self
            .ctx
            .http
            .post(&self.ctx.merchant.url)
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .header("Connection", "close")
            .body(params.to_urlencoded(Charset::Utf8))
            .send()
            .await;
        let reply = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => PostedReply { status: Some(status), body: body.to_vec(), error: None },
                    Err(e) => PostedReply { status: None, body: Vec::new(), error: Some(e.to_string()) },
                }
            }
            Err(e) => PostedReply { status: None, body: Vec::new(), error: Some(e.to_string()) },
        };
        let mut entry = TimelineEntry::new(EntryKind::Suite, title);
        entry.order_id = Some(order_id);
        entry.at = Some(now_text());
        entry.params = params.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        entry.reply = reply.status.map(|_| String::from_utf8_lossy(&reply.body).into_owned());
        entry.verdict = Some(match (reply.status, &reply.error) {
            (Some(status), _) => {
                let read = protocol::AckReply::classify(status, &reply.body);
                let acknowledged =
                    params.get("method").and_then(|m| m.parse().ok()).is_some_and(|m| read.acknowledges(m));
                crate::plan::timeline::describe_reply(&read, acknowledged)
            }
            (None, Some(e)) => format!("no reply: {e}"),
            (None, None) => "no reply".into(),
        });
        entry.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        self.record(entry);
        reply
    }
}

/// The suite's clock written as the platform writes exchange times (RFC 3339 UTC with ms), so that one
/// timeline sorts by text.
pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
