//! `taobao.vmarket.eticket.manage.notify` (§5.11): a fresh `send` or `resend` delivery (T15).

use protocol::{Fields, NotifyMethod, Params, TopError};

use super::{Api, Ctx, TokenRule, checked_order, num, ret_code, text, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.manage.notify",
    params: &[num("order_id", true), text("notify_method", true), num("codemerchant_id", false)],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn method(params: &Params) -> Option<NotifyMethod> {
    match params.get("notify_method") {
        Some("send") => Some(NotifyMethod::Send),
        Some("resend") => Some(NotifyMethod::Resend),
        _ => None,
    }
}

fn check(params: &Params) -> Result<(), TopError> {
    method(params).map(|_| ()).ok_or_else(|| TopError::invalid_argument("notify_method"))
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::Unchecked)?;
    let method = method(params).ok_or_else(|| TopError::invalid_argument("notify_method"))?;
    let order = ctx.tx.order(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    order.check_manage_notify(method).map_err(transition_error)?;
    ctx.tx.enqueue(id, (method, 0), None, ctx.now_ms);
    ctx.queued = true;
    Ok(ret_code())
}
