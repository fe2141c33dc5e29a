//! `taobao.vmarket.eticket.beforeconsume` (§5.4): 验码前置确认, no state change.

use protocol::{Fields, Params, TopError, Value};

use super::{Api, Ctx, no_check, num, redemption, text, transition_error};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.beforeconsume",
    params: &[
        num("order_id", true),
        text("verify_code", true),
        text("token", true),
        num("codemerchant_id", false),
        text("posid", false),
        text("mobile", false),
    ],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check: no_check,
    run,
};

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = redemption::checked_order_and_posid(ctx, params)?;
    let order = ctx.tx.order(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    let code = params.get("verify_code").unwrap_or_default();
    let left = order.before_consume(code, params.non_empty("mobile"), ctx.now_ms).map_err(transition_error)?;
    let mut fields = redemption::answer_head(order);
    fields.extend([
        ("left_amount", Value::Str("0".into())),
        ("order_id", Value::Num(id)),
        ("valid_start", Value::Str(order.valid_start_text())),
        ("valid_ends", Value::Str(order.valid_ends_text())),
        ("item_type", Value::Num(0)),
        ("code_left_num", Value::Num(i64::from(left))),
    ]);
    Ok(fields)
}
