//! `taobao.vmarket.eticket.oplogs.get` (§5.9): consumes and reverses of the session's orders, by op_time.

use protocol::{Fields, Gmt8Timestamp, Params, TopError, Value};

use super::{Api, Ctx, num, number, text};
use crate::clock::format_ms;

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.oplogs.get",
    params: &[
        num("type", true),
        text("start_time", false),
        text("end_time", false),
        text("code", false),
        text("mobile", false),
        text("posid", false),
        num("codemerchant_id", false),
        num("page_no", false),
        num("page_size", false),
        text("sort", false),
    ],
    order_param: None,
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn time(params: &Params, name: &str) -> Result<Option<i64>, TopError> {
    params
        .non_empty(name)
        .map(|v| {
            Gmt8Timestamp::parse_datetime(v)
                .map(Gmt8Timestamp::epoch_millis)
                .map_err(|_| TopError::invalid_argument(name))
        })
        .transpose()
}

fn check(params: &Params) -> Result<(), TopError> {
    if !matches!(number(params, "type"), Some(0..=2)) {
        return Err(TopError::invalid_argument("type"));
    }
    time(params, "start_time")?;
    time(params, "end_time")?;
    if number(params, "page_no").is_some_and(|n| n < 1) {
        return Err(TopError::invalid_argument("page_no"));
    }
    if number(params, "page_size").is_some_and(|n| !(1..=40).contains(&n)) {
        return Err(TopError::invalid_argument("page_size"));
    }
    Ok(())
}

/// One log line before rendering.
struct Op {
    ms: i64,
    fields: Fields,
}

fn run(ctx: &mut Ctx<'_>, params: &Params) -> Result<Fields, TopError> {
    let kind = number(params, "type").unwrap_or(0);
    let start = time(params, "start_time")?;
    let end = time(params, "end_time")?;
    let code = params.non_empty("code");
    let mobile = params.non_empty("mobile");
    let posid = params.non_empty("posid");
    let page_no = number(params, "page_no").unwrap_or(1).max(1) as usize;
    let page_size = number(params, "page_size").unwrap_or(40).clamp(1, 40) as usize;
    let mut ops: Vec<Op> = Vec::new();
    for order in ctx.data.orders.values().filter(|o| o.app_key == ctx.app_key) {
        // By characters: a mobile is free text at the admin edge and may hold non-ASCII.
        let skip = order.mobile.chars().count().saturating_sub(4);
        let last4: String = order.mobile.chars().skip(skip).collect();
        let last4 = last4.as_str();
        if mobile.is_some_and(|m| m != last4) {
            continue;
        }
        let unit = crate::model::order::cents_of(&order.price);
        for c in order.consumes.iter().filter(|c| code.is_none_or(|k| k == &*c.code)) {
            let mut events = vec![(1, c.op_ms, c.posid.as_deref())];
            if let Some(ms) = c.reversed_ms {
                events.push((2, ms, c.reverse_posid.as_deref()));
            }
            for (op_type, ms, pos) in events {
                let wanted = (kind == 0 || kind == op_type)
                    && start.is_none_or(|s| ms >= s)
                    && end.is_none_or(|e| ms <= e)
                    && posid.is_none_or(|p| Some(p) == pos);
                if !wanted {
                    continue;
                }
                let amount = unit.saturating_mul(i64::from(c.num));
                ops.push(Op {
                    ms,
                    fields: vec![
                        ("consume_serial_num", Value::Str(c.serial.to_string())),
                        ("amount", Value::Str(format!("{}.{:02}", amount / 100, amount % 100))),
                        ("num", Value::Num(i64::from(c.num))),
                        ("op_type", Value::Num(op_type)),
                        ("op_time", Value::Str(format_ms(ms))),
                        ("pos_id", Value::Str(pos.unwrap_or_default().to_owned())),
                        ("order_id", Value::Num(order.id.get())),
                        ("mobile", Value::Str(last4.to_owned())),
                    ],
                });
            }
        }
    }
    ops.sort_by_key(|op| op.ms);
    let total = ops.len() as i64;
    let items =
        ops.into_iter().skip((page_no - 1).saturating_mul(page_size)).take(page_size).map(|op| op.fields).collect();
    Ok(vec![("eticket_op_logs", Value::List { item: "eticket_op_log", items }), ("total_results", Value::Num(total))])
}
