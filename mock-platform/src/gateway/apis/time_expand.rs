//! `taobao.vmarket.eticket.time.expand` (§5.12): `valid_ends += expand_days` (T13), no notification.

use protocol::{Fields, Params, TopError};

use super::{Api, Ctx, TokenRule, checked_order, num, number, ret_code, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.time.expand",
    params: &[num("order_id", true), num("expand_days", true)],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn check(params: &Params) -> Result<(), TopError> {
    match number(params, "expand_days") {
        Some(days) if (1..=3650).contains(&days) => Ok(()),
        _ => Err(TopError::invalid_argument("expand_days")),
    }
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::Unchecked)?;
    let days = number(params, "expand_days").ok_or_else(|| TopError::invalid_argument("expand_days"))?;
    let order = ctx.tx.order_mut(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    order.expand(days, ctx.now_ms).map_err(transition_error)?;
    Ok(ret_code())
}
