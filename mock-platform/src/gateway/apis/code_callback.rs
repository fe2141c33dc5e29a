//! What the code callbacks `eticket.send` (§5.1) and `eticket.resend` (§5.2) share: one param table, the
//! step-12 check of `verify_codes` and `qr_images`, and a step-13 run that differs only in the order transition.

use protocol::{Fields, NotifyMethod, Params, TopError, VerifyCodes};

use super::{Api, Ctx, ParamSpec, TokenRule, checked_order, num, ret_code, text, transition_error};
use crate::model::{Order, TransitionError};

/// Both APIs' params, in §5.1 / §5.2 order (the same for both).
pub const PARAMS: &[ParamSpec] = &[
    num("order_id", true),
    text("verify_codes", true),
    text("token", true),
    num("codemerchant_id", false),
    text("qr_images", false),
];

/// A code callback API: the shared table and check; `causes` are its C4 causes, `run` calls [`run`] with them.
pub const fn api(
    name: &'static str,
    causes: &'static [NotifyMethod],
    run: fn(&mut Ctx<'_, '_>, &Params) -> Result<Fields, TopError>,
) -> Api {
    Api { name, params: PARAMS, order_param: Some("order_id"), causes, needs_permission: true, check, run }
}

/// What a code callback does to the order: issue the codes (send) or replace them (resend).
pub type Transition = fn(&mut Order, &VerifyCodes, &[&str], i64) -> Result<(), TransitionError>;

/// `verify_codes` (and `qr_images`, one per code), checked at step 12.
pub fn check(params: &Params) -> Result<(), TopError> {
    let codes = VerifyCodes::parse(params.get("verify_codes").unwrap_or_default())
        .map_err(|_| TopError::invalid_argument("verify_codes"))?;
    if let Some(images) = params.non_empty("qr_images")
        && images.split(',').count() != codes.entries().len()
    {
        return Err(TopError::invalid_argument("qr_images"));
    }
    Ok(())
}

/// §5.0 B1–B4, the codes and the uploaded images, then `transition`; the callback the order awaited is done
/// when it answers one of `causes` (the API's C4 causes).
pub fn run(
    ctx: &mut Ctx<'_, '_>,
    params: &Params,
    causes: &[NotifyMethod],
    transition: Transition,
) -> Result<Fields, TopError> {
    let id = checked_order(ctx, params, TokenRule::Required)?;
    let codes = VerifyCodes::parse(params.get("verify_codes").unwrap_or_default())
        .map_err(|_| TopError::invalid_argument("verify_codes"))?;
    let images = qr_images(ctx, params)?;
    let order = ctx.tx.order_mut(id).ok_or_else(|| protocol::SubCode::OrderNotFound.error())?;
    transition(order, &codes, &images, ctx.now_ms).map_err(transition_error)?;
    if order.delivery.awaiting_callback.is_some_and(|awaited| causes.contains(&awaited)) {
        order.delivery.awaiting_callback = None;
    }
    Ok(ret_code())
}

/// The `qr_images` list, empty when absent; every name must be an uploaded image (§5.1, else 41).
fn qr_images<'p>(ctx: &Ctx<'_, '_>, params: &'p Params) -> Result<Vec<&'p str>, TopError> {
    let names: Vec<&str> = params.non_empty("qr_images").map(|v| v.split(',').collect()).unwrap_or_default();
    if names.iter().any(|n| !ctx.tx.has_qr_image(n)) {
        return Err(TopError::invalid_argument("qr_images"));
    }
    Ok(names)
}
