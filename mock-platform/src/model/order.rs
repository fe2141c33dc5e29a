//! An order and its state machine (PROTOCOL §2.1–§2.3): every transition is a method that refuses
//! what the current state forbids, so no caller can move an order illegally.
//!
//! Kept compact (boxed strings, small Vecs, no per-order maps): the platform is meant to hold a
//! million orders.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::{Code, Notification, NotifyMethod, OrderId, Token, VerifyCodes};
use serde::{Deserialize, Serialize};

use crate::clock::format_ms;
use crate::model::alteration::Alteration;

/// PROTOCOL §2.1, with exactly those names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    Paid,
    Notified,
    Issued,
    PartlyConsumed,
    Consumed,
    Cancelled,
    Closed,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Paid => "PAID",
            OrderState::Notified => "NOTIFIED",
            OrderState::Issued => "ISSUED",
            OrderState::PartlyConsumed => "PARTLY_CONSUMED",
            OrderState::Consumed => "CONSUMED",
            OrderState::Cancelled => "CANCELLED",
            OrderState::Closed => "CLOSED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            OrderState::Paid,
            OrderState::Notified,
            OrderState::Issued,
            OrderState::PartlyConsumed,
            OrderState::Consumed,
            OrderState::Cancelled,
            OrderState::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub(crate) fn is_one_of(self, allowed: &[OrderState]) -> bool {
        allowed.contains(&self)
    }
}

/// `codes.get` status values (PROTOCOL §5.8, harness+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Usable,
    UsedUp,
    Voided,
}

impl CodeStatus {
    pub fn number(self) -> i64 {
        match self {
            CodeStatus::Usable => 1,
            CodeStatus::UsedUp => 2,
            CodeStatus::Voided => 3,
        }
    }
}

/// One code ever issued for the order, in issue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub code: Box<str>,
    /// The count it was issued with.
    pub num: u32,
    /// Units still redeemable.
    pub left: u32,
    pub status: CodeStatus,
    pub qr_image: Option<Box<str>>,
}

/// One consume, kept for reverse and oplogs.get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumeRecord {
    pub serial: Box<str>,
    pub code: Box<str>,
    pub num: u32,
    /// Platform-clock ms of the consume.
    pub op_ms: i64,
    /// The consume's place among the platform's redemption events: orders events of one millisecond.
    /// 0 in stores written before it was kept.
    #[serde(default)]
    pub op_seq: u64,
    pub posid: Option<Box<str>>,
    /// Platform-clock ms of the reverse that undid it.
    pub reversed_ms: Option<i64>,
    /// The reverse's place among the platform's redemption events (see `op_seq`).
    #[serde(default)]
    pub reverse_seq: Option<u64>,
    pub reverse_posid: Option<Box<str>>,
}

/// When a redemption event happened: the platform-clock millisecond, and a sequence number (one counter for
/// the whole platform, kept by the store) that orders the events sharing a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpTime {
    pub ms: i64,
    pub seq: u64,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("order is {state}; {action} needs {allowed}")]
    State { state: &'static str, action: &'static str, allowed: &'static str },
    /// §5.1: codes were issued already (`code-alreay-send`).
    #[error("codes were already issued")]
    AlreadySent,
    /// §5.2: nothing left to resend.
    #[error("no usable code is left to resend")]
    NothingToResend,
    /// A rule on the data (41 at the gateway), naming the param.
    #[error("{0}")]
    Invalid(&'static str),
    /// An API's own sub_code (§5.3–§5.5).
    #[error("{}", .0.sub_code())]
    Sub(protocol::SubCode),
}

/// The values of a notification that may change between its queueing and its attempts (mobile, validity,
/// counts). Every attempt carries the same params (PROTOCOL §3.5), so they are frozen when it is queued; the
/// rest of the params are fixed at payment and rebuilt from the order at each attempt. This keeps a queued
/// notification at about 100 bytes instead of a built `Notification` (about 1.2 KiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub mobile: Box<str>,
    pub valid_start: i64,
    pub valid_ends: i64,
    pub left_num: u32,
    pub cancel_num: u32,
}

/// One notification waiting to be delivered, or being delivered (PROTOCOL §3.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingNotification {
    /// The n-th notification of this order (1-based), for the exchanges.
    pub seq: u32,
    pub method: NotifyMethod,
    /// `order_modify`'s sub_method (1 validity, 2 rights claim), else 0.
    pub sub_method: u8,
    pub snapshot: Snapshot,
    /// Attempts made so far.
    pub attempts: u8,
    /// Index into the retry schedule of the next attempt.
    pub next_index: u8,
    /// Platform-clock ms of the first attempt.
    pub first_at_ms: Option<i64>,
    pub due_ms: i64,
    pub in_flight: bool,
    pub alteration: Option<Box<Alteration>>,
    /// §2.4 `duplicate`: one attempt, no retries, no effect on tasks.get.
    pub duplicate: bool,
}

/// Per-order delivery status (PROTOCOL §2.1: pending / acknowledged / exhausted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// Head first; only the head is ever in flight (one notification per order at a time).
    pub queue: VecDeque<PendingNotification>,
    /// Bit per `NotifyMethod` acknowledged at least once.
    pub acked: u8,
    /// The acknowledged notification whose callback has not yet succeeded (tasks.get type 2).
    pub awaiting_callback: Option<NotifyMethod>,
    /// The latest notification exhausted its retries (tasks.get type 1).
    pub exhausted: bool,
    /// The last acknowledged notification's method and sub_method (0 unless order_modify), for `duplicate`:
    /// it is rebuilt from the order's current data rather than kept (about 1 KiB per order saved).
    pub last_acked: Option<(NotifyMethod, u8)>,
    pub notifications: u32,
    /// An alteration waiting for the next notification queued (POST /admin/faults).
    pub pending_alteration: Option<(u64, Alteration)>,
}

pub fn method_bit(method: NotifyMethod) -> u8 {
    match method {
        NotifyMethod::Send => 1,
        NotifyMethod::Resend => 2,
        NotifyMethod::Modified => 4,
        NotifyMethod::Cancel => 8,
        NotifyMethod::OrderModify => 16,
    }
}

impl Delivery {
    pub fn has_acked(&self, method: NotifyMethod) -> bool {
        self.acked & method_bit(method) != 0
    }

    pub fn acked_methods(&self) -> Vec<&'static str> {
        NotifyMethod::ALL.into_iter().filter(|m| self.has_acked(*m)).map(NotifyMethod::as_str).collect()
    }
}

/// An order (a trade; `eticket` false makes a plain trade with no e-voucher life, FAQ 2.32).
/// Serialises whole for the SQLite store (`persist.rs`), delivery queue included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub token: Token,
    /// The merchant's app_key (shared, not copied per order; re-shared with the merchant's on load).
    #[serde(with = "arc_str")]
    pub app_key: Arc<str>,
    /// The selling shop when it is not the merchant's own account (a 码商's orders): `taobao_sid`, `seller_nick`.
    pub seller: Option<Box<(i64, Box<str>)>>,
    pub eticket: bool,
    pub state: OrderState,
    pub num: u32,
    pub cancel_num: Option<u32>,
    pub mobile: Box<str>,
    pub buyer_nick: Box<str>,
    pub item_title: Box<str>,
    pub num_iid: i64,
    pub outer_iid: Option<Box<str>>,
    pub sub_outer_iid: Option<Box<str>>,
    pub sku_properties: Option<Box<str>>,
    pub weeks: Option<Box<str>>,
    /// A custom template; the default one is rebuilt from current data for each notification.
    pub sms_template: Option<Box<str>>,
    pub send_type: u8,
    pub consume_type: u8,
    pub price: Box<str>,
    pub total_fee: Box<str>,
    /// Validity, epoch ms (GMT+8 datetimes on the wire).
    pub valid_start: i64,
    pub valid_ends: i64,
    /// Platform-clock epoch ms.
    pub created_ms: i64,
    pub paid_ms: i64,
    pub modified_ms: i64,
    pub codes: Vec<CodeRecord>,
    pub consumes: Vec<ConsumeRecord>,
    pub delivery: Delivery,
}

/// Everything `pay` needs besides ids (validated at the admin edge).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub seller: Option<(i64, String)>,
    pub num: u32,
    pub mobile: String,
    pub buyer_nick: String,
    pub item_title: String,
    pub num_iid: i64,
    pub outer_iid: Option<String>,
    pub sub_outer_iid: Option<String>,
    pub sku_properties: Option<String>,
    pub weeks: Option<String>,
    pub sms_template: Option<String>,
    pub send_type: u8,
    pub consume_type: u8,
    pub price: String,
    pub total_fee: String,
    pub valid_start: i64,
    pub valid_ends: i64,
    pub eticket: bool,
}

pub(crate) const ISSUABLE: &[OrderState] = &[OrderState::Paid, OrderState::Notified];
pub(crate) const LIVE: &[OrderState] = &[OrderState::Issued, OrderState::PartlyConsumed];

pub(crate) fn refuse(state: OrderState, action: &'static str, allowed: &'static str) -> TransitionError {
    TransitionError::State { state: state.as_str(), action, allowed }
}

impl Order {
    /// T1.
    pub fn pay(id: OrderId, token: Token, app_key: Arc<str>, new: NewOrder, now_ms: i64) -> Self {
        let b = |s: String| s.into_boxed_str();
        Order {
            id,
            token,
            app_key,
            seller: new.seller.map(|(sid, nick)| Box::new((sid, nick.into_boxed_str()))),
            eticket: new.eticket,
            state: OrderState::Paid,
            num: new.num,
            cancel_num: None,
            mobile: b(new.mobile),
            buyer_nick: b(new.buyer_nick),
            item_title: b(new.item_title),
            num_iid: new.num_iid,
            outer_iid: new.outer_iid.map(b),
            sub_outer_iid: new.sub_outer_iid.map(b),
            sku_properties: new.sku_properties.map(b),
            weeks: new.weeks.map(b),
            sms_template: new.sms_template.map(b),
            send_type: new.send_type,
            consume_type: new.consume_type,
            price: b(new.price),
            total_fee: b(new.total_fee),
            valid_start: new.valid_start,
            valid_ends: new.valid_ends,
            created_ms: now_ms,
            paid_ms: now_ms,
            modified_ms: now_ms,
            codes: Vec::new(),
            consumes: Vec::new(),
            delivery: Delivery::default(),
        }
    }

    pub fn issued(&self) -> bool {
        !self.codes.is_empty()
    }

    /// §2.3: the sum of remaining counts of usable codes; `num` before codes are issued.
    pub fn left_num(&self) -> u32 {
        if !self.issued() {
            return if ISSUABLE.contains(&self.state) { self.num } else { 0 };
        }
        self.usable().map(|c| c.left).sum()
    }

    pub fn usable(&self) -> impl Iterator<Item = &CodeRecord> {
        self.codes.iter().filter(|c| c.status == CodeStatus::Usable)
    }

    /// T2: `send` acknowledged.
    pub fn ack_send(&mut self) {
        if self.state == OrderState::Paid {
            self.state = OrderState::Notified;
        }
    }

    /// T3 (eticket.send), after the token check. Checks codes and counts (§5.1, §2.3).
    pub fn issue(&mut self, codes: &VerifyCodes, qr_images: &[&str], now_ms: i64) -> Result<(), TransitionError> {
        // Codes issued (ISSUED, PARTLY_CONSUMED, CONSUMED, or CANCELLED after issue): §5.1's code-alreay-send.
        if self.issued() {
            return Err(TransitionError::AlreadySent);
        }
        if !self.state.is_one_of(ISSUABLE) {
            return Err(refuse(self.state, "eticket.send", "PAID or NOTIFIED"));
        }
        if codes.total() != u64::from(self.num) {
            return Err(TransitionError::Invalid("verify_codes"));
        }
        if self.consume_type == 1 && codes.entries().iter().any(|(_, n)| *n != 1) {
            return Err(TransitionError::Invalid("verify_codes"));
        }
        self.codes = codes
            .entries()
            .iter()
            .enumerate()
            .map(|(i, (code, n))| CodeRecord {
                code: code.as_str().into(),
                num: *n,
                left: *n,
                status: CodeStatus::Usable,
                qr_image: qr_images.get(i).map(|s| (*s).into()),
            })
            .collect();
        self.state = OrderState::Issued;
        self.modified_ms = now_ms;
        Ok(())
    }

    /// T4: 2 h after payment without codes. Returns whether the order closed.
    pub fn auto_close(&mut self, now_ms: i64, after_ms: i64) -> bool {
        if self.eticket && self.state.is_one_of(ISSUABLE) && now_ms >= self.paid_ms.saturating_add(after_ms) {
            self.state = OrderState::Closed;
            self.modified_ms = now_ms;
            return true;
        }
        false
    }

    /// T5 (eticket.failsend).
    pub fn fail_send(&mut self, now_ms: i64) -> Result<(), TransitionError> {
        if !self.state.is_one_of(ISSUABLE) {
            return Err(refuse(self.state, "eticket.failsend", "PAID or NOTIFIED"));
        }
        self.state = OrderState::Closed;
        self.modified_ms = now_ms;
        Ok(())
    }

    /// T9/T10 precondition (suite `request_resend`, `change_mobile`).
    pub fn check_resendable(&self, action: &'static str) -> Result<(), TransitionError> {
        if self.state.is_one_of(LIVE) { Ok(()) } else { Err(refuse(self.state, action, "ISSUED or PARTLY_CONSUMED")) }
    }

    /// T10: the mobile changes at once.
    pub fn change_mobile(&mut self, mobile: &str, now_ms: i64) -> Result<(), TransitionError> {
        self.check_resendable("modify-mobile")?;
        self.mobile = mobile.into();
        self.modified_ms = now_ms;
        Ok(())
    }

    /// The resend callback (§5.2): counts sum to `left_num`; usable codes given keep their record,
    /// usable codes not given are voided, other codes must be new to the order.
    pub fn replace_codes(
        &mut self,
        codes: &VerifyCodes,
        qr_images: &[&str],
        now_ms: i64,
    ) -> Result<(), TransitionError> {
        match self.state {
            OrderState::Issued | OrderState::PartlyConsumed => {}
            OrderState::Consumed => return Err(TransitionError::NothingToResend),
            other => return Err(refuse(other, "eticket.resend", "ISSUED or PARTLY_CONSUMED")),
        }
        if codes.total() != u64::from(self.left_num()) {
            return Err(TransitionError::Invalid("verify_codes"));
        }
        for (code, _) in codes.entries() {
            let known = self.codes.iter().find(|c| &*c.code == code.as_str());
            if known.is_some_and(|c| c.status != CodeStatus::Usable) {
                return Err(TransitionError::Invalid("verify_codes"));
            }
        }
        let given =
            |c: &CodeRecord| codes.entries().iter().find(|(code, _)| code.as_str() == &*c.code).map(|(_, n)| *n);
        for record in self.codes.iter_mut().filter(|c| c.status == CodeStatus::Usable) {
            match given(record) {
                Some(n) => record.left = n,
                None => record.status = CodeStatus::Voided,
            }
        }
        for (i, (code, n)) in codes.entries().iter().enumerate() {
            if !self.codes.iter().any(|c| &*c.code == code.as_str()) {
                self.codes.push(CodeRecord {
                    code: code.as_str().into(),
                    num: *n,
                    left: *n,
                    status: CodeStatus::Usable,
                    qr_image: qr_images.get(i).map(|s| (*s).into()),
                });
            }
        }
        self.modified_ms = now_ms;
        Ok(())
    }

    /// T11: refund voids every usable unit; returns `cancel_num`.
    pub fn refund(&mut self, now_ms: i64) -> Result<u32, TransitionError> {
        if !self.state.is_one_of(&[
            OrderState::Paid,
            OrderState::Notified,
            OrderState::Issued,
            OrderState::PartlyConsumed,
        ]) {
            return Err(refuse(self.state, "refund", "PAID, NOTIFIED, ISSUED or PARTLY_CONSUMED"));
        }
        let cancel_num = self.left_num();
        for code in self.codes.iter_mut().filter(|c| c.status == CodeStatus::Usable) {
            code.status = CodeStatus::Voided;
        }
        self.cancel_num = Some(cancel_num);
        self.state = OrderState::Cancelled;
        self.modified_ms = now_ms;
        Ok(cancel_num)
    }

    /// T12: suite `change_validity`.
    pub fn change_validity(&mut self, start: i64, ends: i64, now_ms: i64) -> Result<(), TransitionError> {
        if !self.state.is_one_of(&[OrderState::Notified, OrderState::Issued, OrderState::PartlyConsumed]) {
            return Err(refuse(self.state, "extend", "NOTIFIED, ISSUED or PARTLY_CONSUMED"));
        }
        self.valid_start = start;
        self.valid_ends = ends;
        self.modified_ms = now_ms;
        Ok(())
    }

    /// T13: eticket.time.expand.
    pub fn expand(&mut self, days: i64, now_ms: i64) -> Result<(), TransitionError> {
        if !self.state.is_one_of(LIVE) {
            return Err(refuse(self.state, "eticket.time.expand", "ISSUED or PARTLY_CONSUMED"));
        }
        self.valid_ends = self.valid_ends.saturating_add(days.saturating_mul(86_400_000));
        self.modified_ms = now_ms;
        Ok(())
    }

    /// T14 precondition: suite `rights_protection` (no known effect).
    pub fn check_rights_protection(&self) -> Result<(), TransitionError> {
        if self.state.is_one_of(LIVE) {
            Ok(())
        } else {
            Err(refuse(self.state, "rights-protection", "ISSUED or PARTLY_CONSUMED"))
        }
    }

    /// T15 precondition: eticket.manage.notify.
    pub fn check_manage_notify(&self, method: NotifyMethod) -> Result<(), TransitionError> {
        let ok = match method {
            NotifyMethod::Send => self.state.is_one_of(ISSUABLE),
            NotifyMethod::Resend => self.state.is_one_of(LIVE),
            _ => false,
        };
        if ok { Ok(()) } else { Err(refuse(self.state, "eticket.manage.notify", "T15's states")) }
    }

    /// The selling shop: the order's own when set, else the merchant's account.
    pub fn seller_of(&self, merchant: &super::Merchant) -> (i64, String) {
        match &self.seller {
            Some(seller) => (seller.0, seller.1.to_string()),
            None => (merchant.taobao_sid, merchant.seller_nick.clone()),
        }
    }

    pub fn valid_start_text(&self) -> String {
        format_ms(self.valid_start)
    }

    pub fn valid_ends_text(&self) -> String {
        format_ms(self.valid_ends)
    }

    /// The default SMS template (PROTOCOL §2.4), rebuilt from current data.
    pub fn sms_template_text(&self, seller_nick: &str) -> String {
        self.sms_template_between(seller_nick, self.valid_start, self.valid_ends)
    }

    fn sms_template_between(&self, seller_nick: &str, valid_start: i64, valid_ends: i64) -> String {
        if let Some(custom) = &self.sms_template {
            return custom.to_string();
        }
        let day = |ms: i64| format_ms(ms).get(..10).unwrap_or_default().replace('-', "/");
        format!(
            "验证码$code.您已成功订购{seller_nick}提供的{},有效期{}至{},消费时请出示本短信以验证.如有疑问,请联系卖家.",
            self.item_title,
            day(valid_start),
            day(valid_ends)
        )
    }

    /// The values a notification queued now freezes (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            mobile: self.mobile.clone(),
            valid_start: self.valid_start,
            valid_ends: self.valid_ends,
            left_num: self.left_num(),
            cancel_num: self.cancel_num.unwrap_or(0),
        }
    }

    /// Builds a notification of `method` from the order's current data (PROTOCOL §3.2's table).
    pub fn notification(&self, method: NotifyMethod, taobao_sid: i64, seller_nick: &str) -> Notification {
        self.notification_from(method, 0, &self.snapshot(), taobao_sid, seller_nick)
    }

    /// `order_modify` with sub_method 1 (validity) or 2 (rights claim upheld, `data={}`).
    pub fn order_modify(&self, sub_method: u8, taobao_sid: i64, seller_nick: &str) -> Notification {
        self.notification_from(NotifyMethod::OrderModify, sub_method, &self.snapshot(), taobao_sid, seller_nick)
    }

    /// Builds a notification from the order's fixed data and a snapshot of the values that change.
    pub fn notification_from(
        &self,
        method: NotifyMethod,
        sub_method: u8,
        snap: &Snapshot,
        taobao_sid: i64,
        seller_nick: &str,
    ) -> Notification {
        let mut n = Notification::new(method, self.id, taobao_sid.to_string(), seller_nick);
        let text = format_ms;
        if method == NotifyMethod::OrderModify {
            n.sub_method = Some(sub_method.to_string());
            n.data = Some(if sub_method == 1 {
                serde_json::json!({"valid_start": text(snap.valid_start), "valid_ends": text(snap.valid_ends)})
                    .to_string()
            } else {
                "{}".into()
            });
            return n;
        }
        n.token = Some(self.token.clone());
        n.mobile = Some(snap.mobile.to_string());
        n.num = Some(self.num);
        n.item_title = Some(self.item_title.to_string());
        n.num_iid = Some(self.num_iid.to_string());
        n.outer_iid = self.outer_iid.as_deref().map(str::to_owned);
        n.sub_outer_iid = self.sub_outer_iid.as_deref().map(str::to_owned);
        n.sku_properties = self.sku_properties.as_deref().map(str::to_owned);
        n.send_type = Some(self.send_type.to_string());
        n.consume_type = Some(self.consume_type.to_string());
        n.valid_start = Some(text(snap.valid_start));
        n.valid_ends = Some(text(snap.valid_ends));
        n.r#type = Some("0".into());
        let template = || self.sms_template_between(seller_nick, snap.valid_start, snap.valid_ends);
        match method {
            NotifyMethod::Send => {
                n.sms_template = Some(template());
                n.total_fee = Some(self.total_fee.to_string());
                n.weeks = self.weeks.as_deref().map(str::to_owned);
            }
            NotifyMethod::Resend | NotifyMethod::Modified => {
                n.sms_template = Some(template());
                n.left_num = Some(snap.left_num);
            }
            NotifyMethod::Cancel => n.cancel_num = Some(snap.cancel_num),
            NotifyMethod::OrderModify => {}
        }
        n
    }

    /// Parses a code param for the later APIs (kept here so every API checks codes the same way).
    pub fn find_code(&self, code: &Code) -> Option<&CodeRecord> {
        self.codes.iter().find(|c| &*c.code == code.as_str())
    }
}

/// `Arc<str>` through serde (serde's `rc` feature is not enabled in the workspace).
mod arc_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        Ok(Arc::from(String::deserialize(d)?))
    }
}

/// Serialises platform-clock epoch ms as a GMT+8 datetime string.
pub fn ser_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ms(*ms))
}

/// A stored 2-decimal amount as cents (amounts are validated at the admin edge).
pub fn cents_of(amount: &str) -> i64 {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, "0"));
    let whole: i64 = whole.parse().unwrap_or(0);
    let frac: i64 = format!("{frac:0<2}").get(..2).and_then(|f| f.parse().ok()).unwrap_or(0);
    whole * 100 + frac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(num: u32, consume_type: u8) -> Order {
        Order::pay(
            OrderId::new(1).unwrap(),
            Token::from_bytes([7; 16]),
            Arc::from("k"),
            NewOrder {
                seller: None,
                num,
                mobile: "13800000000".into(),
                buyer_nick: "b".into(),
                item_title: "银子岩门票".into(),
                num_iid: 1,
                outer_iid: None,
                sub_outer_iid: None,
                sku_properties: None,
                weeks: None,
                sms_template: None,
                send_type: 2,
                consume_type,
                price: "1.00".into(),
                total_fee: "2.00".into(),
                valid_start: 0,
                valid_ends: 86_400_000,
                eticket: true,
            },
            0,
        )
    }

    fn codes(text: &str) -> VerifyCodes {
        VerifyCodes::parse(text).unwrap()
    }

    #[test]
    fn send_requires_counts_summing_to_num_and_refuses_a_second_issue() {
        let mut o = order(2, 0);
        assert_eq!(o.issue(&codes("A:1"), &[], 1), Err(TransitionError::Invalid("verify_codes")));
        o.issue(&codes("A:2"), &[], 1).unwrap();
        assert_eq!(o.state, OrderState::Issued);
        assert_eq!(o.issue(&codes("A:2"), &[], 1), Err(TransitionError::AlreadySent));
    }

    #[test]
    fn consume_type_one_needs_every_count_to_be_one() {
        let mut o = order(2, 1);
        assert_eq!(o.issue(&codes("A:2"), &[], 1), Err(TransitionError::Invalid("verify_codes")));
        assert!(o.issue(&codes("A:1,B:1"), &[], 1).is_ok());
    }

    #[test]
    fn resend_voids_codes_not_given_and_refuses_reused_voided_codes() {
        let mut o = order(2, 0);
        o.issue(&codes("A:1,B:1"), &[], 1).unwrap();
        o.replace_codes(&codes("A:1,C:1"), &[], 2).unwrap();
        let statuses: Vec<_> = o.codes.iter().map(|c| (&*c.code, c.status)).collect();
        assert_eq!(statuses, [("A", CodeStatus::Usable), ("B", CodeStatus::Voided), ("C", CodeStatus::Usable)]);
        assert_eq!(o.replace_codes(&codes("B:2"), &[], 3), Err(TransitionError::Invalid("verify_codes")));
    }

    #[test]
    fn refund_voids_usable_units_and_closed_orders_refuse_failsend() {
        let mut o = order(3, 0);
        assert_eq!(o.refund(1), Ok(3));
        assert_eq!(o.state, OrderState::Cancelled);
        let mut o = order(1, 0);
        assert!(o.auto_close(2 * 3_600_000, 2 * 3_600_000));
        assert!(matches!(o.fail_send(1), Err(TransitionError::State { .. })));
    }

    #[test]
    fn send_notification_carries_the_send_params_and_cancel_its_count() {
        let mut o = order(2, 0);
        let n = o.notification(NotifyMethod::Send, 5, "卖家");
        assert_eq!(n.total_fee.as_deref(), Some("2.00"));
        assert!(n.sms_template.unwrap().contains("1970/01/01至1970/01/02"));
        assert_eq!(n.left_num, None);
        o.refund(1).unwrap();
        let n = o.notification(NotifyMethod::Cancel, 5, "卖家");
        assert_eq!((n.cancel_num, n.sms_template), (Some(2), None));
    }
}
