//! Random notifications (PROTOCOL §3.2) for the vectors: each method's params with realistic values, optional params
//! absent, present or empty, real-world extras and names outside §3.2, sometimes in shuffled order.

use super::draw::Draw;
use super::text;

/// The five methods the platform sends (§3.2).
const METHODS: &[&str] = &["send", "resend", "modified", "cancel", "order_modify"];

/// Names outside §3.2, chosen to test byte-order sorting: upper case sorts before lower case and `_` between them,
/// `-` and digits before letters, and a name can be a prefix of another (`order_id` / `order_id_2`).
const UNKNOWN_NAMES: &[&str] =
    &["x_extra", "X_Trace", "_ts", "zz_last", "a", "order_id_2", "Item_title", "ext-data", "num_iid0", "callback"];

/// A notification's params in the order they would be sent, without `sign`.
pub fn notification(draw: &mut Draw) -> Vec<(String, String)> {
    let mut params = Params::default();
    let method = *draw.pick(METHODS);
    params.push("method", method);
    params.push("timestamp", text::datetime(draw));
    params.push("order_id", draw.number(16));
    let sid_len = draw.between(6, 10) as usize;
    params.push("taobao_sid", draw.number(sid_len));
    let nick = (*draw.pick(text::SELLER_NICKS)).to_owned();
    let nick = text::maybe_edges(draw, nick);
    params.push("seller_nick", nick.clone());
    if method == "order_modify" {
        order_modify(draw, &mut params);
    } else {
        order_params(draw, method, &nick, &mut params);
    }
    extras(draw, method, &mut params);
    let mut params = params.0;
    if draw.one_in(2) {
        draw.shuffle(&mut params);
    }
    params
}

/// The params of `send`, `resend`, `modified` and `cancel`.
fn order_params(draw: &mut Draw, method: &str, nick: &str, params: &mut Params) {
    params.push("token", draw.hex(32));
    params.push("mobile", format!("1{}{}", draw.string_of(b"3456789", 1), draw.string_of(b"0123456789", 9)));
    let num = draw.between(1, 10);
    params.push("num", num.to_string());
    match method {
        "resend" | "modified" => params.push("left_num", draw.between(0, num).to_string()),
        "cancel" => params.push("cancel_num", draw.between(0, num).to_string()),
        _ => {}
    }
    let title = text::item_title(draw);
    params.push("item_title", title.clone());
    params.push("num_iid", draw.number(12));
    let (start, end) = validity(draw);
    let outer_iid = if draw.one_in(2) { format!("MP-{}", draw.number(6)) } else { text::edge_text(draw) };
    params.optional(draw, "outer_iid", outer_iid);
    let sub_outer_iid = draw.number(4);
    params.optional(draw, "sub_outer_iid", sub_outer_iid);
    let sku = text::sku_properties(draw, &start);
    params.optional(draw, "sku_properties", sku);
    params.push("send_type", draw.pick(&["0", "1", "2"]).to_string());
    params.push("consume_type", draw.pick(&["0", "1", "2"]).to_string());
    if method != "cancel" {
        params.push("sms_template", text::sms_template(draw, nick, &title, &start, &end));
    }
    params.push("valid_start", start);
    params.push("valid_ends", end);
    params.push("type", "0");
    if method == "send" {
        let fee = format!("{}.{:02}", draw.between(1, 2000), draw.below(100));
        params.optional(draw, "total_fee", fee);
        let weeks = draw.pick(&["[1,2,3,4,5,6,7]", "[1,2,3,4,5]", "[6,7]"]).to_string();
        params.optional(draw, "weeks", weeks);
    }
}

/// `order_modify`: sub_method 1 (validity changed, JSON `data`) or 2 (rights claim upheld, `{}`).
fn order_modify(draw: &mut Draw, params: &mut Params) {
    if draw.one_in(2) {
        let (start, end) = validity(draw);
        params.push("sub_method", "1");
        params.push("data", format!(r#"{{"valid_start":"{start}","valid_ends":"{end}"}}"#));
    } else {
        params.push("sub_method", "2");
        params.push("data", "{}");
    }
}

/// A validity window: from the start of one day to the end of a day up to a year later.
fn validity(draw: &mut Draw) -> (String, String) {
    let start = text::datetime(draw);
    let year: u64 = start[..4].parse().unwrap_or(2016) + draw.below(2);
    let end = format!("{year}-{:02}-{:02} 23:59:59", draw.between(1, 12), draw.between(1, 28));
    (format!("{} 00:00:00", &start[..10]), end)
}

/// What real notifications also carried (§3.2: `sub_method=1` on `send`, `encrypt_mobile` and `md5_mobile` with
/// `type=1`, `id_card`), and names outside §3.2 with text, edge or empty values.
fn extras(draw: &mut Draw, method: &str, params: &mut Params) {
    if method == "send" && draw.one_in(3) {
        params.push("sub_method", "1");
    }
    if method != "order_modify" && draw.one_in(4) {
        params.set("type", "1");
        params.push("encrypt_mobile", draw.hex(32));
        params.push("md5_mobile", draw.hex(32));
    }
    if method != "order_modify" && draw.one_in(4) {
        let last = draw.pick(&["X", "0", "7"]).to_string();
        params.push("id_card", format!("{}{last}", draw.number(17)));
    }
    if draw.one_in(3) {
        for _ in 0..draw.between(1, 3) {
            let name = *draw.pick(UNKNOWN_NAMES);
            let value = match draw.below(3) {
                0 => String::new(),
                1 => text::edge_text(draw),
                _ => draw.hex(8),
            };
            if !params.has(name) {
                params.push(name, value);
            }
        }
    }
}

/// Params in sending order, names unique.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    fn set(&mut self, name: &str, value: &str) {
        if let Some(pair) = self.0.iter_mut().find(|(n, _)| n == name) {
            pair.1 = value.to_owned();
        }
    }

    /// A ○ param (§3.2): absent one time in three, empty one in six (a value the sign must skip), else `value`.
    fn optional(&mut self, draw: &mut Draw, name: &str, value: String) {
        match draw.below(6) {
            0 | 1 => {}
            2 => self.push(name, ""),
            _ => self.push(name, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_have_unique_names_and_every_always_sent_param_of_their_method() {
        for index in 0..500 {
            let params = notification(&mut Draw::for_vector(1, index));
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{names:?}");
            for always in ["method", "timestamp", "order_id", "taobao_sid", "seller_nick"] {
                assert!(names.contains(&always), "{always} missing from {names:?}");
            }
            assert!(!names.contains(&"sign"));
        }
    }

    #[test]
    fn a_batch_holds_every_method_empty_values_unknown_names_and_astral_characters() {
        let batch: Vec<_> = (0..300).map(|i| notification(&mut Draw::for_vector(1, i))).collect();
        let has = |f: &dyn Fn(&(String, String)) -> bool| batch.iter().flatten().any(f);
        for method in METHODS {
            assert!(has(&|(n, v)| n == "method" && v == method), "{method}");
        }
        assert!(has(&|(_, v)| v.is_empty()));
        assert!(has(&|(n, _)| UNKNOWN_NAMES.contains(&n.as_str())));
        assert!(has(&|(_, v)| v.chars().any(|c| c > '\u{FFFF}')));
        assert!(has(&|(_, v)| v.contains('银')));
    }
}
