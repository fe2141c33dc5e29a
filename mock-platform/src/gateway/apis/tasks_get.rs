//! `taobao.vmarket.eticket.tasks.get` (§5.10): type 1 notifications exhausted, type 2 callbacks missing.

use protocol::{Fields, Params, TopError, Value};

use super::{Api, Ctx, num, number};
use crate::model::OrderState;

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.tasks.get",
    params: &[
        num("type", true),
        num("seller_id", false),
        num("page_no", false),
        num("page_size", false),
        num("codemerchant_id", false),
    ],
    order_param: None,
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn check(params: &Params) -> Result<(), TopError> {
    if !matches!(number(params, "type"), Some(1 | 2)) {
        return Err(TopError::invalid_argument("type"));
    }
    if number(params, "page_no").is_some_and(|n| n < 1) {
        return Err(TopError::invalid_argument("page_no"));
    }
    if number(params, "page_size").is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(TopError::invalid_argument("page_size"));
    }
    Ok(())
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    let kind = number(params, "type").unwrap_or(1);
    let page_no = number(params, "page_no").unwrap_or(1).max(1) as usize;
    let page_size = number(params, "page_size").unwrap_or(40).clamp(1, 100) as usize;
    let seller = number(params, "seller_id");
    let Some(merchant) = ctx.tx.merchant(&ctx.app_key) else { return Ok(page(Vec::new(), 0)) };
    let mut ids: Vec<i64> = ctx
        .tx
        .orders_of(&ctx.app_key)
        .filter(|o| o.eticket)
        .filter(|o| seller.is_none_or(|sid| o.seller_of(merchant).0 == sid))
        .filter(|o| match kind {
            1 => o.delivery.exhausted,
            _ => {
                o.delivery.awaiting_callback.is_some() && !matches!(o.state, OrderState::Closed | OrderState::Cancelled)
            }
        })
        .map(|o| o.id.get())
        .collect();
    ids.sort_unstable();
    let total = ids.len();
    let items = ids.into_iter().skip((page_no - 1).saturating_mul(page_size)).take(page_size).collect();
    Ok(page(items, total))
}

fn page(ids: Vec<i64>, total: usize) -> Fields {
    vec![
        (
            "eticket_tasks",
            Value::List {
                item: "eticket_task",
                items: ids.into_iter().map(|id| vec![("order_id", Value::Num(id))]).collect(),
            },
        ),
        ("total_results", Value::Num(total as i64)),
    ]
}
