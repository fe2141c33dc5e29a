//! `taobao.vmarket.eticket.oplogs.get` (§5.9): consumes and reverses of the session's orders, by op_time.

use protocol::{Fields, Gmt8Timestamp, Params, TopError, Value};

use super::{Api, Ctx, num, number, text};
use crate::clock::format_ms;
use crate::model::OpTime;

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
    at: OpTime,
    fields: Fields,
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let kind = number(params, "type").unwrap_or(0);
    let start = time(params, "start_time")?;
    let end = time(params, "end_time")?;
    let code = params.non_empty("code");
    let mobile = params.non_empty("mobile");
    let posid = params.non_empty("posid");
    let page_no = number(params, "page_no").unwrap_or(1).max(1) as usize;
    let page_size = number(params, "page_size").unwrap_or(40).clamp(1, 40) as usize;
    let mut ops: Vec<Op> = Vec::new();
    for order in ctx.tx.orders_of(&ctx.app_key) {
        // By characters: a mobile is free text at the admin edge and may hold non-ASCII.
        let skip = order.mobile.chars().count().saturating_sub(4);
        let last4: String = order.mobile.chars().skip(skip).collect();
        let last4 = last4.as_str();
        if mobile.is_some_and(|m| m != last4) {
            continue;
        }
        let unit = crate::model::order::cents_of(&order.price);
        for c in order.consumes.iter().filter(|c| code.is_none_or(|k| k == &*c.code)) {
            let mut events = vec![(1, OpTime { ms: c.op_ms, seq: c.op_seq }, c.posid.as_deref())];
            if let Some(ms) = c.reversed_ms {
                events.push((2, OpTime { ms, seq: c.reverse_seq.unwrap_or(0) }, c.reverse_posid.as_deref()));
            }
            for (op_type, at, pos) in events {
                let ms = at.ms;
                let wanted = (kind == 0 || kind == op_type)
                    && start.is_none_or(|s| ms >= s)
                    && end.is_none_or(|e| ms <= e)
                    && posid.is_none_or(|p| Some(p) == pos);
                if !wanted {
                    continue;
                }
                let amount = unit.saturating_mul(i64::from(c.num));
                ops.push(Op {
                    at,
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
    // By when they happened: the millisecond, then the sequence number (a reverse and a later consume often share
    // a millisecond; gathered consume by consume, a stable sort on the millisecond alone put the reverse first).
    ops.sort_by_key(|op| op.at);
    let total = ops.len() as i64;
    let items =
        ops.into_iter().skip((page_no - 1).saturating_mul(page_size)).take(page_size).map(|op| op.fields).collect();
    Ok(vec![("eticket_op_logs", Value::List { item: "eticket_op_log", items }), ("total_results", Value::Num(total))])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::consume::ConsumeRequest;
    use crate::model::consume::tests::issued;
    use crate::store::Data;

    fn op_types(data: &mut Data) -> Vec<i64> {
        let fields = data.gateway_tx("k", 0, |tx| {
            let mut ctx = Ctx { tx, app_key: Arc::from("k"), now_ms: 0, gateway_base_url: None, queued: false };
            run(&mut ctx, &Params::from_pairs([("type", "0")])).unwrap()
        });
        let Value::List { items, .. } = &fields[0].1 else { panic!("{fields:?}") };
        items
            .iter()
            .map(|item| match item.iter().find(|(name, _)| *name == "op_type") {
                Some((_, Value::Num(n))) => *n,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn events_in_one_millisecond_come_out_in_the_order_they_happened() {
        let mut data = Data::new(1);
        let mut order = issued("A:2,B:1");
        let consume = |code| ConsumeRequest { code, num: 1, serial: None, mobile: None, new_code: None, posid: None };
        // Stamps as a gateway call's `op_time` makes them: the sequence goes on within a millisecond.
        let mut last = 0;
        let mut at = |ms| {
            last += 1;
            crate::model::OpTime { ms, seq: last }
        };
        let first = order.consume(&ConsumeRequest { num: 2, ..consume("A") }, "s1".into(), at(5)).unwrap();
        // A consume of B, then the reverse of the first consume, in the same millisecond: the reverse is the later.
        order.consume(&consume("B"), "s2".into(), at(7)).unwrap();
        order.reverse("A", 2, &first.serial, None, None, at(7)).unwrap();
        data.orders.insert(1, order);
        assert_eq!(op_types(&mut data), [1, 1, 2]);
    }
}
