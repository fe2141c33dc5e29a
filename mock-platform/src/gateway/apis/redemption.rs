//! What the redemption APIs `eticket.consume` (§5.3), `eticket.beforeconsume` (§5.4) and `eticket.reverse`
//! (§5.5) share: the §5.0 B1–B6 prologue (token required, a 码商's posid) and the head of their answer.

use protocol::{Fields, Params, SubCode, TopError, Value};

use super::{Ctx, TokenRule, checked_order, ret_code};
use crate::model::Order;

/// §5.0 B1–B4 with the token required, then B5–B6; returns the order id.
pub fn checked_order_and_posid(ctx: &Ctx<'_, '_>, params: &Params) -> Result<i64, TopError> {
    let id = checked_order(ctx, params, TokenRule::Required)?;
    check_posid(ctx, params)?;
    Ok(id)
}

/// `ret_code`, `item_title`, `left_num`: how every redemption answer starts.
pub fn answer_head(order: &Order) -> Fields {
    let mut fields = ret_code();
    fields.extend([
        ("item_title", Value::Str(order.item_title.to_string())),
        ("left_num", Value::Num(i64::from(order.left_num()))),
    ]);
    fields
}

/// §5.0 B5–B6 for a 码商; a 信任卖家's posid is ignored.
fn check_posid(ctx: &Ctx<'_, '_>, params: &Params) -> Result<(), TopError> {
    let Some(merchant) = ctx.tx.merchant(&ctx.app_key) else { return Ok(()) };
    if !merchant.is_code_merchant() {
        return Ok(());
    }
    let posid = params.non_empty("posid").ok_or_else(|| SubCode::InvalidPosid.error())?;
    if merchant.posids.iter().any(|p| p == posid) { Ok(()) } else { Err(SubCode::PosNotForCodeMerchant.error()) }
}
