//! `taobao.vmarket.eticket.consume` (§5.3): 电子票券消费, T6/T7.

use protocol::{Code, Fields, Params, TopError, Value};
use rand::Rng;

use super::{Api, Ctx, num, redemption, text, transition_error};
use crate::clock::format_ms;
use crate::model::consume::ConsumeRequest;

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.consume",
    params: &[
        num("order_id", true),
        text("verify_code", true),
        num("consume_num", true),
        text("token", true),
        num("codemerchant_id", false),
        text("posid", false),
        text("mobile", false),
        text("new_code", false),
        text("serial_num", false),
        text("qr_images", false),
    ],
    order_param: Some("order_id"),
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn check(params: &Params) -> Result<(), TopError> {
    if params.non_empty("new_code").is_some_and(|c| Code::parse(c).is_err()) {
        return Err(TopError::invalid_argument("new_code"));
    }
    Ok(())
}

/// A mock serial: `m` + 31 `[a-z0-9]` (§5.3).
fn mock_serial() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    std::iter::once('m').chain((0..31).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)).collect()
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let id = redemption::checked_order_and_posid(ctx, params)?;
    let nick = match (ctx.tx.merchant(&ctx.app_key), ctx.tx.order(id)) {
        (Some(m), Some(o)) => o.seller_of(m).1,
        _ => String::new(),
    };
    let num = super::number(params, "consume_num").unwrap_or(0);
    let request = ConsumeRequest {
        code: params.get("verify_code").unwrap_or_default(),
        num,
        serial: params.non_empty("serial_num"),
        mobile: params.non_empty("mobile"),
        new_code: params.non_empty("new_code"),
        posid: params.non_empty("posid"),
    };
    let now = ctx.now_ms;
    let at = ctx.tx.op_time(now);
    let order = ctx.tx.order_mut(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    let done = order.consume(&request, mock_serial(), at).map_err(transition_error)?;
    let minute = format_ms(now).get(..16).unwrap_or_default().to_owned();
    let mut fields = redemption::answer_head(order);
    fields.extend([
        (
            "sms_tpl",
            Value::Str(format!(
                "您在{nick}购买的{},验证码$code于{minute}已验证成功.如有疑问,请联系卖家.",
                order.item_title
            )),
        ),
        (
            "print_tpl",
            Value::Str(format!(
                "商品名称：{}  数量：{}  合计：{}元  本次提取的数量：{num}.",
                order.item_title, order.num, order.total_fee
            )),
        ),
        ("consume_secial_num", Value::Str(done.serial)),
        ("code_left_num", Value::Num(i64::from(done.code_left_num))),
    ]);
    Ok(fields)
}
