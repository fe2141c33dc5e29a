//! `taobao.vmarket.eticket.codes.get` (§5.8): every code ever issued, in issue order.

use protocol::{Fields, Params, TopError, Value};

use super::{Api, Ctx, TokenRule, checked_order, no_check, num};

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.codes.get",
    params: &[num("order_id", true), num("codemerchant_id", false)],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check: no_check,
    run,
};

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::Unchecked)?;
    let order = ctx.tx.order(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    let items: Vec<Fields> = order
        .codes
        .iter()
        .map(|c| {
            let usable = c.status == crate::model::CodeStatus::Usable;
            let mut item: Fields = vec![
                ("order_id", Value::Num(id)),
                ("code", Value::Str(c.code.to_string())),
                ("num", Value::Num(if usable { i64::from(c.left) } else { 0 })),
                ("status", Value::Num(c.status.number())),
            ];
            if let (Some(image), Some(base)) = (&c.qr_image, ctx.gateway_base_url) {
                item.push(("qrcode_url", Value::Str(format!("{}/qr/{image}", base.trim_end_matches('/')))));
            }
            item
        })
        .collect();
    let total = items.len() as i64;
    Ok(vec![("eticket_codes", Value::List { item: "eticket_code", items }), ("total_results", Value::Num(total))])
}
