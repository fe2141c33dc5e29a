//! `taobao.vmarket.eticket.reverse` (§5.5): 冲正, T8.

use protocol::{Fields, Params, TopError, VerifyCodes};

use super::{Api, Ctx, num, number, redemption, text, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.reverse",
    params: &[
        num("order_id", true),
        text("reverse_code", true),
        num("reverse_num", true),
        text("consume_secial_num", true),
        text("token", true),
        text("verify_codes", false),
        num("codemerchant_id", false),
        text("posid", false),
        text("qr_images", false),
    ],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn check(params: &Params) -> Result<(), TopError> {
    match params.non_empty("verify_codes") {
        Some(codes) if VerifyCodes::parse(codes).is_err() => Err(TopError::invalid_argument("verify_codes")),
        _ => Ok(()),
    }
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = redemption::checked_order_and_posid(ctx, params)?;
    let codes = params.non_empty("verify_codes").and_then(|c| VerifyCodes::parse(c).ok());
    let at = ctx.tx.op_time(ctx.now_ms);
    let order = ctx.tx.order_mut(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    order
        .reverse(
            params.get("reverse_code").unwrap_or_default(),
            number(params, "reverse_num").unwrap_or(0),
            params.get("consume_secial_num").unwrap_or_default(),
            codes.as_ref(),
            params.non_empty("posid"),
            at,
        )
        .map_err(transition_error)?;
    Ok(redemption::answer_head(order))
}
