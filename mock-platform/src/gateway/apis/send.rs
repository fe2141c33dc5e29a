//! `taobao.vmarket.eticket.send` (§5.1): 发码成功回调, T3.

use protocol::{Fields, NotifyMethod, Params, TopError};

use super::{Api, Ctx, code_callback};
use crate::model::Order;

const CAUSES: &[NotifyMethod] = &[NotifyMethod::Send];

pub const API: Api = code_callback::api("taobao.vmarket.eticket.send", CAUSES, run);

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    code_callback::run(ctx, params, CAUSES, Order::issue)
}
