//! `taobao.vmarket.eticket.send` (§5.1): 发码成功回调, T3.

use protocol::{Fields, NotifyMethod, Params, TopError, VerifyCodes};

use super::{Api, Ctx, TokenRule, check_verify_codes, checked_order, num, qr_images, ret_code, text, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.send",
    params: &[
        num("order_id", true),
        text("verify_codes", true),
        text("token", true),
        num("codemerchant_id", false),
        text("qr_images", false),
    ],
    order_param: Some("order_id"),
    causes: &[NotifyMethod::Send],
    needs_permission: true,
    check: check_verify_codes,
    run,
};

fn run(ctx: &mut Ctx<'_>, params: &Params) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::Required)?;
    let codes = VerifyCodes::parse(params.get("verify_codes").unwrap_or_default())
        .map_err(|_| TopError::invalid_argument("verify_codes"))?;
    let images = qr_images(ctx, params)?;
    let order = ctx.data.orders.get_mut(&id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    order.issue(&codes, &images, ctx.now_ms).map_err(transition_error)?;
    if order.delivery.awaiting_callback == Some(NotifyMethod::Send) {
        order.delivery.awaiting_callback = None;
    }
    Ok(ret_code())
}
