//! `taobao.trade.fullinfo.get` (§5.13): the trade behind an order; `eticket_ext` marks e-voucher orders (FAQ 2.32).

use protocol::{Fields, Params, SubCode, TopError, Value};

use super::{Api, Ctx, no_check, num, number, text};
use crate::clock::format_ms;
use crate::model::{Order, OrderState};

pub const API: Api = Api {
    name: "taobao.trade.fullinfo.get",
    params: &[text("fields", true), num("tid", true), text("include_oaid", false)],
    order_param: Some("tid"),
    causes: &[],
    needs_permission: false,
    check: no_check,
    run,
};

fn status(order: &Order) -> &'static str {
    match order.state {
        OrderState::Paid | OrderState::Notified => "WAIT_SELLER_SEND_GOODS",
        OrderState::Issued | OrderState::PartlyConsumed => "WAIT_BUYER_CONFIRM_GOODS",
        OrderState::Consumed => "TRADE_FINISHED",
        OrderState::Cancelled | OrderState::Closed => "TRADE_CLOSED",
    }
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let tid = number(params, "tid").ok_or_else(|| SubCode::TradeNotExist.error())?;
    // §3.6, §5.13: a 码商 did not sell the orders it serves, so it never sees their trades.
    if ctx.tx.merchant(&ctx.app_key).is_none_or(|m| m.is_code_merchant()) {
        return Err(SubCode::TradeNotExist.error());
    }
    let order = ctx.tx.order(tid).filter(|o| o.app_key == ctx.app_key).ok_or_else(|| SubCode::TradeNotExist.error())?;
    let merchant = ctx.tx.merchant(&ctx.app_key).ok_or_else(|| SubCode::TradeNotExist.error())?;
    let wanted: Vec<&str> = params.get("fields").unwrap_or_default().split(',').map(str::trim).collect();
    let want = |name: &str| wanted.contains(&name);
    let status = status(order);
    let finished = matches!(order.state, OrderState::Consumed | OrderState::Cancelled | OrderState::Closed);
    let mut trade: Fields = Vec::new();
    let mut put = |name: &'static str, value: Value| {
        if want(name) {
            trade.push((name, value));
        }
    };
    put("tid", Value::Num(tid));
    put("type", Value::Str(if order.eticket { "eticket" } else { "fixed" }.into()));
    put("status", Value::Str(status.into()));
    put("title", Value::Str(order.item_title.to_string()));
    put("created", Value::Str(format_ms(order.created_ms)));
    put("pay_time", Value::Str(format_ms(order.paid_ms)));
    put("modified", Value::Str(format_ms(order.modified_ms)));
    if finished {
        put("end_time", Value::Str(format_ms(order.modified_ms)));
    }
    put("num_iid", Value::Num(order.num_iid));
    put("num", Value::Num(i64::from(order.num)));
    put("price", Value::Str(order.price.to_string()));
    put("total_fee", Value::Str(order.total_fee.to_string()));
    put("payment", Value::Str(order.total_fee.to_string()));
    put("seller_nick", Value::Str(order.seller_of(merchant).1));
    put("buyer_nick", Value::Str(order.buyer_nick.to_string()));
    put("receiver_mobile", Value::Str(order.mobile.to_string()));
    if order.eticket {
        put("eticket_ext", Value::Str(r#"{"source":"mock"}"#.into()));
    }
    if want("orders") {
        let refund_status = if order.state == OrderState::Cancelled { "SUCCESS" } else { "NO_REFUND" };
        let mut sub: Fields = vec![
            ("oid", Value::Num(tid)),
            ("num_iid", Value::Num(order.num_iid)),
            ("title", Value::Str(order.item_title.to_string())),
            ("price", Value::Str(order.price.to_string())),
            ("num", Value::Num(i64::from(order.num))),
        ];
        if let Some(outer) = &order.outer_iid {
            sub.push(("outer_iid", Value::Str(outer.to_string())));
        }
        if let Some(sku) = &order.sub_outer_iid {
            sub.push(("outer_sku_id", Value::Str(sku.to_string())));
        }
        if let Some(props) = &order.sku_properties {
            sub.push(("sku_properties_name", Value::Str(props.to_string())));
        }
        sub.extend([
            ("status", Value::Str(status.into())),
            ("refund_status", Value::Str(refund_status.into())),
            ("total_fee", Value::Str(order.total_fee.to_string())),
            ("payment", Value::Str(order.total_fee.to_string())),
        ]);
        trade.push(("orders", Value::List { item: "order", items: vec![sub] }));
    }
    Ok(vec![("trade", Value::Obj(trade))])
}
