//! `taobao.vmarket.eticket.failsend` (§5.6): 无法发码回调, T5.

use protocol::{Fields, NotifyMethod, Params, TopError};

use super::{Api, Ctx, TokenRule, checked_order, no_check, num, ret_code, text, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.failsend",
    params: &[num("order_id", true), num("error_code", true), text("token", false), text("error_msg", false)],
    order_param: Some("order_id"),
    causes: &[NotifyMethod::Send],
    needs_permission: true,
    check: no_check,
    run,
};

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::IfSent)?;
    let order = ctx.tx.order_mut(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    order.fail_send(ctx.now_ms).map_err(transition_error)?;
    order.delivery.awaiting_callback = None;
    Ok(ret_code())
}
