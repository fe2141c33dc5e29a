//! The APIs behind `/router/rest`: one module per API, each a param table (§5 order), a step-12 check
//! and a `run` over the store. Adding an API is one module plus one line in `ALL`. What several APIs share
//! lives in `code_callback` (send, resend) and `redemption` (consume, beforeconsume, reverse).

mod beforeconsume;
mod code_callback;
mod codes_get;
mod consume;
mod failsend;
mod manage_notify;
mod oplogs_get;
mod qrcode_upload;
mod redemption;
mod resend;
mod reverse;
mod send;
mod tasks_get;
mod time_expand;
mod trade_fullinfo_get;

use std::sync::Arc;

use protocol::{Fields, NotifyMethod, Params, SubCode, TopError};

use crate::model::TransitionError;
use crate::store::GatewayTx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Number,
    String,
    /// A multipart file part (`img_bytes`): not signed, required-checked as a file.
    File,
}

/// One API param as the TOP metadata declares it.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
}

pub const fn num(name: &'static str, required: bool) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Number, required }
}

pub const fn text(name: &'static str, required: bool) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::String, required }
}

pub const fn file(name: &'static str, required: bool) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::File, required }
}

/// What one call may touch: the store's view of a call (locked), the caller's app, the order clock.
#[derive(Debug)]
pub struct Ctx<'a, 'd> {
    pub tx: &'a mut GatewayTx<'d>,
    pub app_key: Arc<str>,
    pub now_ms: i64,
    pub gateway_base_url: Option<&'a str>,
    /// Set when a notification was queued: the dispatcher is woken once the lock is released.
    pub queued: bool,
}

/// One API.
#[derive(Debug)]
pub struct Api {
    pub name: &'static str,
    /// In §5 order: 40 names the first missing one, 41 the first non-number.
    pub params: &'static [ParamSpec],
    /// The param naming the order the call is recorded on (`order_id`, or `tid`).
    pub order_param: Option<&'static str>,
    /// C4: the notifications whose acknowledgement must come before this callback.
    pub causes: &'static [NotifyMethod],
    /// §4.9 step 9: needs the e-voucher API package.
    pub needs_permission: bool,
    /// §4.9 step 12: rules that need no order data.
    pub check: fn(&Params) -> Result<(), TopError>,
    /// §4.9 step 13.
    pub run: fn(&mut Ctx<'_, '_>, &Params) -> Result<Fields, TopError>,
}

const ALL: [&Api; 13] = [
    &send::API,
    &resend::API,
    &consume::API,
    &beforeconsume::API,
    &reverse::API,
    &failsend::API,
    &qrcode_upload::API,
    &oplogs_get::API,
    &codes_get::API,
    &manage_notify::API,
    &time_expand::API,
    &tasks_get::API,
    &trade_fullinfo_get::API,
];

/// What a call of `api` may read besides the order it names (a shared store reads it before locking that order).
pub fn scope(api: &Api, params: &Params, order_id: Option<i64>) -> crate::store::CallScope {
    let reads_merchant_orders = api.name == oplogs_get::API.name || api.name == tasks_get::API.name;
    let qr_names = params.non_empty("qr_images").map(|v| v.split(',').map(str::to_owned).collect()).unwrap_or_default();
    // consume and reverse each stamp one operation (`GatewayTx::op_time`).
    let op_seqs = usize::from(api.name == consume::API.name || api.name == reverse::API.name);
    crate::store::CallScope { order_id, reads_merchant_orders, qr_names, op_seqs }
}

/// PROTOCOL §4.2: the 13 APIs; any other `method` is 22.
pub fn find(method: &str) -> Option<&'static Api> {
    ALL.into_iter().find(|api| api.name == method)
}

pub fn no_check(_: &Params) -> Result<(), TopError> {
    Ok(())
}

/// A Number param already checked at step 12.
pub fn number(params: &Params, name: &str) -> Option<i64> {
    params.non_empty(name).and_then(|v| v.parse().ok())
}

/// B4 for an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRule {
    Required,
    /// failsend: checked only when sent.
    IfSent,
    Unchecked,
}

/// §5.0 B1–B4 for the order named by `order_id`; returns its id.
pub fn checked_order(ctx: &Ctx<'_, '_>, params: &Params, token: TokenRule) -> Result<i64, TopError> {
    // B1 (`joined`) is checked before any API runs; the session's merchant exists (step 8).
    let merchant = ctx.tx.merchant(&ctx.app_key).ok_or_else(|| SubCode::InvalidEticketSeller.error())?;
    let id = number(params, "order_id").ok_or_else(|| SubCode::OrderNotFound.error())?;
    // B2: an e-voucher order.
    let order = ctx.tx.order(id).filter(|o| o.eticket).ok_or_else(|| SubCode::OrderNotFound.error())?;
    // B3: the session merchant's order; a 码商 must name itself.
    if order.app_key != ctx.app_key {
        return Err(SubCode::OrderNotBelongToSeller.error());
    }
    if let Some(own) = merchant.codemerchant_id
        && number(params, "codemerchant_id") != Some(own)
    {
        return Err(SubCode::OrderNotBelongToSeller.error());
    }
    // B4.
    let given = params.non_empty("token");
    let check = match token {
        TokenRule::Required => true,
        TokenRule::IfSent => given.is_some(),
        TokenRule::Unchecked => false,
    };
    if check && given != Some(order.token.as_str()) {
        return Err(SubCode::InvalidToken.error());
    }
    Ok(id)
}

/// How a refused transition is answered (§5.0 B7 and the APIs' own sub_codes, or 41).
pub fn transition_error(e: TransitionError) -> TopError {
    match e {
        TransitionError::State { .. } => SubCode::InvalidOrderStatus.error(),
        TransitionError::AlreadySent => SubCode::CodeAlreadySent.error(),
        TransitionError::NothingToResend => SubCode::NoCanResendCode.error(),
        TransitionError::Invalid(name) => TopError::invalid_argument(name),
        TransitionError::Sub(sub) => sub.error(),
    }
}

/// `ret_code: 1`, the answer of most order APIs.
pub fn ret_code() -> Fields {
    vec![("ret_code", protocol::Value::Num(1))]
}
