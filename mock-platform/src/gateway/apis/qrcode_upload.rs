//! `taobao.vmarket.eticket.qrcode.upload` (§5.7): a 码商's QR image, named for `qr_images`.

use protocol::{Fields, Params, SubCode, TopError, Value};
use rand::Rng;

use super::{Api, Ctx, file, num, number, ret_code};

/// §5.7: under 300 KB.
const MAX_IMAGE: usize = 307_199;

pub const API: Api = Api {
    name: "taobao.vmarket.eticket.qrcode.upload",
    params: &[file("img_bytes", true), num("code_merchant_id", true)],
    order_param: None,
    causes: &[],
    needs_permission: true,
    check,
    run,
};

fn check(params: &Params) -> Result<(), TopError> {
    match params.file("img_bytes") {
        Some(f) if !f.bytes.is_empty() && f.bytes.len() <= MAX_IMAGE => Ok(()),
        _ => Err(TopError::invalid_argument("img_bytes")),
    }
}

fn run(ctx: &mut Ctx<'_, '_>, params: &Params) -> Result<Fields, TopError> {
    // B1: only the session's own 码商 id.
    let own = ctx.tx.merchant(&ctx.app_key).and_then(|m| m.codemerchant_id);
    if own.is_none() || own != number(params, "code_merchant_id") {
        return Err(SubCode::InvalidEticketSeller.error());
    }
    let bytes = params.file("img_bytes").map(|f| f.bytes.clone()).unwrap_or_default();
    let name = format!("qr_{}.png", hex::encode(rand::rng().random::<[u8; 16]>()));
    ctx.tx.put_qr_image(name.clone(), bytes);
    let mut fields = ret_code();
    fields.push(("img_filename", Value::Str(name)));
    Ok(fields)
}
