//! Random TOP calls (PROTOCOL §4.2, §5) for the vectors: the system params with each `sign_method` (or none, which
//! means md5), an e-voucher API's params with Chinese and edge values, and empty values.

use protocol::SignMethod;

use super::draw::Draw;
use super::text;

const APIS: &[&str] = &[
    "taobao.vmarket.eticket.send",
    "taobao.vmarket.eticket.resend",
    "taobao.vmarket.eticket.failsend",
    "taobao.vmarket.eticket.consume",
    "taobao.vmarket.eticket.beforeconsume",
    "taobao.vmarket.eticket.reverse",
];

/// Names an API does not define: signed, otherwise ignored by the gateway (§4.3).
const UNKNOWN_NAMES: &[&str] = &["memo", "ext_info", "X_note"];

/// A TOP call's params in sending order, without `sign`, and the scheme it is signed with.
pub fn call(draw: &mut Draw) -> (SignMethod, Vec<(String, String)>) {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, value: String| params.push((name.to_owned(), value));
    let api = *draw.pick(APIS);
    push("method", api.to_owned());
    push("app_key", draw.number(8));
    push("session", format!("6100{}", draw.hex(36)));
    let timestamp =
        if draw.one_in(4) { format!("1{}", draw.string_of(b"0123456789", 12)) } else { text::datetime(draw) };
    push("timestamp", timestamp);
    push("v", "2.0".to_owned());
    // One call in four leaves `sign_method` out: the gateway then takes md5 (§4.2).
    let method = match draw.below(4) {
        0 => SignMethod::Md5,
        1 => SignMethod::HmacMd5,
        2 => SignMethod::HmacSha256,
        _ => SignMethod::Md5,
    };
    if !(method == SignMethod::Md5 && draw.one_in(2)) {
        push("sign_method", method.as_str().to_owned());
    }
    match draw.below(3) {
        0 => {}
        1 => push("format", "xml".to_owned()),
        _ => {
            push("format", "json".to_owned());
            if draw.one_in(2) {
                push("simplify", "true".to_owned());
            }
        }
    }
    // The SDKs' partner_id, sometimes sent empty: Java/.NET skip it when signing, Python/Node sign `partner_id`.
    if draw.one_in(3) {
        let value = if draw.one_in(2) { String::new() } else { "top-sdk-java-20160412".to_owned() };
        push("partner_id", value);
    }
    api_params(draw, api, &mut params);
    if draw.one_in(3) {
        let value = match draw.below(3) {
            0 => String::new(),
            1 => text::edge_text(draw),
            _ => text::item_title(draw),
        };
        params.push(((*draw.pick(UNKNOWN_NAMES)).to_owned(), value));
    }
    if draw.one_in(2) {
        draw.shuffle(&mut params);
    }
    (method, params)
}

fn api_params(draw: &mut Draw, api: &str, params: &mut Vec<(String, String)>) {
    let mut push = |name: &str, value: String| params.push((name.to_owned(), value));
    push("order_id", draw.number(16));
    push("token", draw.hex(32));
    let codemerchant_id = draw.number(6);
    let optional = |draw: &mut Draw, value: String| match draw.below(6) {
        0 | 1 => None,
        2 => Some(String::new()),
        _ => Some(value),
    };
    if let Some(value) = optional(draw, codemerchant_id) {
        push("codemerchant_id", value);
    }
    match api {
        "taobao.vmarket.eticket.send" | "taobao.vmarket.eticket.resend" => {
            let codes: Vec<String> =
                (0..draw.between(1, 3)).map(|_| format!("{}:{}", draw.number(12), draw.between(1, 5))).collect();
            push("verify_codes", codes.join(","));
        }
        "taobao.vmarket.eticket.failsend" => {
            let message = (*draw.pick(text::FAIL_MESSAGES)).to_owned();
            push("error_msg", text::maybe_edges(draw, message));
        }
        "taobao.vmarket.eticket.reverse" => {
            push("reverse_code", draw.number(12));
            push("reverse_num", draw.between(1, 5).to_string());
            push("consume_secial_num", format!("pos_{}", draw.hex(12)));
            let posid = posid(draw);
            if let Some(value) = optional(draw, posid) {
                push("posid", value);
            }
        }
        _ => {
            push("verify_code", draw.number(12));
            push("consume_num", draw.between(1, 5).to_string());
            let posid = posid(draw);
            if let Some(value) = optional(draw, posid) {
                push("posid", value);
            }
            let mobile = draw.string_of(b"0123456789", 4);
            if let Some(value) = optional(draw, mobile) {
                push("mobile", value);
            }
            let serial = format!("pos_{}", draw.hex(12));
            if let Some(value) = optional(draw, serial) {
                push("serial_num", value);
            }
        }
    }
}

/// A terminal id: plain, or named in Chinese as some 码商 name their gates.
fn posid(draw: &mut Draw) -> String {
    if draw.one_in(2) {
        format!("POS{}", draw.number(5))
    } else {
        format!("{}{}号闸机", draw.pick(text::PLACES), draw.between(1, 9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_each_sign_method_absent_sign_methods_empty_and_chinese_values() {
        let batch: Vec<_> = (0..300).map(|i| call(&mut Draw::for_vector(1, i))).collect();
        for method in SignMethod::ALL {
            assert!(batch.iter().any(|(m, _)| *m == method), "{method}");
        }
        assert!(batch.iter().any(|(_, p)| !p.iter().any(|(n, _)| n == "sign_method")));
        assert!(batch.iter().flat_map(|(_, p)| p).any(|(_, v)| v.is_empty()));
        assert!(batch.iter().flat_map(|(_, p)| p).any(|(_, v)| !v.is_ascii()));
    }

    #[test]
    fn a_declared_sign_method_is_the_one_signed_with() {
        for index in 0..300 {
            let (method, params) = call(&mut Draw::for_vector(2, index));
            let declared = SignMethod::of_params(params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            assert_eq!(declared, Ok(method));
        }
    }
}
