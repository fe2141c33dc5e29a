//! `taobao.vmarket.eticket.resend` (§5.2): 重发电子凭证回调, after `resend` or `modified` (T9, T10).

use protocol::{Fields, NotifyMethod, Params, TopError};

use super::{Api, Ctx, code_callback};
use crate::model::Order;

const CAUSES: &[NotifyMethod] = &[NotifyMethod::Resend, NotifyMethod::Modified];

pub const API: Api = code_callback::api("taobao.vmarket.eticket.resend", CAUSES, run);

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    code_callback::run(ctx, params, CAUSES, Order::replace_codes)
}
