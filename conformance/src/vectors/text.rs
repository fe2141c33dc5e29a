//! The text the vectors are made of: realistic Chinese titles, SMS templates and messages, and characters at the
//! edges of GBK — never one on which GBK encoders disagree (PROTOCOL §3.3), so every language's `gbk` gives the
//! vector's bytes.

use std::sync::OnceLock;

use protocol::gbk::{encode_gbk, encoders_disagree};

use super::draw::Draw;

pub const PLACES: &[&str] = &[
    "银子岩",
    "桂林两江四湖",
    "漓江竹筏",
    "故宫博物院",
    "上海迪士尼乐园",
    "长隆野生动物世界",
    "黄山风景区",
    "九寨沟",
    "杭州西湖游船",
    "北京欢乐谷",
    "乌镇东栅",
    "张家界国家森林公园",
    "鼓浪屿",
    "峨眉山",
];
pub const KINDS: &[&str] = &["门票", "夜游船票", "一日票", "索道票", "观光车票", "演出票", "电子票"];
pub const TICKET_TYPES: &[&str] = &["成人票", "儿童票", "学生票", "老人票", "亲子套票", "家庭票（2大1小）"];
pub const SELLER_NICKS: &[&str] =
    &["haaron_john", "桂林旅游旗舰店", "携程门票专营店", "飞猪景区直营", "tb_8812345", "小明的票务店", "abc 123"];
pub const FAIL_MESSAGES: &[&str] =
    &["手机号码无效", "库存不足，无法发码", "该手机号已被列入黑名单", "系统繁忙,请稍后再试"];

/// Characters at the edges of GBK's regions and classes, as Java, Python and `encoding_rs` all encode them: the
/// first double-byte code (A1A1, the ideographic space), symbols, pinyin, kana, Greek and Cyrillic, box drawing,
/// full-width forms, the first and last GB2312 hanzi (B0A1 啊, F7FE 齄), the first and last codes of the GBK/3 and
/// GBK/4 extensions (8140 丂, A0FE 狛, AA40 狜, FD9B 龥), and the compatibility ideographs at FE40.
pub const GBK_EDGES: &[char] = &[
    '\u{3000}', '〓', '·', '×', '÷', '¤', '§', '°', '±', '‰', '№', '→', '√', '∞', 'ⅰ', 'Ⅻ', '①', '⑩', 'ā', 'ǎ', 'ü',
    'ê', 'ɑ', 'ɡ', 'ˊ', '〞', '〇', 'ぁ', 'ん', 'ァ', 'ヶ', 'Α', 'ω', 'А', 'я', '─', '╳', '、', '。', '「', '」', '【',
    '】', '！', '～', '￥', '￣', '０', 'Ａ', 'ｚ', '啊', '座', '亍', '齄', '丂', '狛', '狜', '獱', '龥', '兀', '﨩',
];

/// ASCII that trips up hand-written form parsers and sign code: separators of the form encoding, `%`, a literal `?`
/// (the same GBK byte as an astral character), quotes, a backslash, spaces.
pub const ASCII_EDGES: &[char] = &[' ', '~', '&', '=', '+', '%', '?', '#', '/', '\'', '"', '\\', ':', ';', ',', '$'];

/// Characters beyond the BMP: each is one `?` in GBK (PROTOCOL §3.3 step 5). An emoji, a ticket, and two CJK
/// Extension B hanzi (real Chinese characters GBK cannot encode).
pub const ASTRAL: &[char] = &['😀', '🎫', '𠀀', '𪚥'];

/// Every BMP character that GBK encodes in two bytes, on which the encoders agree, and that is not a control
/// character: what a random "any GBK character" is drawn from. Built once, in code point order, so a draw's index
/// names the same character on every machine.
pub fn gbk_safe_chars() -> &'static [char] {
    static CHARS: OnceLock<Vec<char>> = OnceLock::new();
    CHARS.get_or_init(|| {
        (0x80..=0xFFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_control() && !encoders_disagree(*c) && encode_gbk(&c.to_string()).len() == 2)
            .collect()
    })
}

/// One character at an edge: of GBK, of ASCII, beyond the BMP, or any two-byte GBK character.
pub fn edge_char(draw: &mut Draw) -> char {
    match draw.below(4) {
        0 => *draw.pick(GBK_EDGES),
        1 => *draw.pick(ASCII_EDGES),
        2 => *draw.pick(ASTRAL),
        _ => *draw.pick(gbk_safe_chars()),
    }
}

/// `text` with one to three edge characters inserted at random character positions.
pub fn with_edges(draw: &mut Draw, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..draw.between(1, 3) {
        let at = draw.index(chars.len() + 1);
        chars.insert(at, edge_char(draw));
    }
    chars.into_iter().collect()
}

/// Sometimes (one in three) `text` with edge characters, otherwise `text`.
pub fn maybe_edges(draw: &mut Draw, text: String) -> String {
    if draw.one_in(3) { with_edges(draw, &text) } else { text }
}

/// One to twelve characters drawn only from the edges: a value made of nothing else.
pub fn edge_text(draw: &mut Draw) -> String {
    (0..draw.between(1, 12)).map(|_| edge_char(draw)).collect()
}

/// An item title such as `桂林两江四湖夜游船票 成人票`.
pub fn item_title(draw: &mut Draw) -> String {
    let mut title = format!("{}{}", draw.pick(PLACES), draw.pick(KINDS));
    if draw.one_in(2) {
        title.push(' ');
        let ticket_type = draw.pick::<&str>(TICKET_TYPES);
        title.push_str(ticket_type);
    }
    maybe_edges(draw, title)
}

/// An SMS template holding `$code`, in the shapes sellers write (FAQ 2.7, vector B).
pub fn sms_template(draw: &mut Draw, nick: &str, title: &str, start: &str, end: &str) -> String {
    let (start, end) = (&start[..10], &end[..10]);
    let text = match draw.below(3) {
        0 => format!(
            "验证码$code.您已成功订购{nick}提供的{title},有效期{start}至{end},消费时请出示本短信以验证.如有疑问,请联系卖家."
        ),
        1 => format!("【{nick}】您的验证码为$code，凭此码入园。有效期至{end}。"),
        _ => format!("$code 是您的{title}电子凭证，请于{start}至{end}使用，勿泄露。"),
    };
    maybe_edges(draw, text)
}

/// `门票种类:成人票;门票类型:电子票` and the like (PROTOCOL §3.2 `sku_properties`).
pub fn sku_properties(draw: &mut Draw, date: &str) -> String {
    let text = match draw.below(2) {
        0 => format!("门票种类:{};门票类型:电子票", *draw.pick(TICKET_TYPES)),
        _ => format!("出行日期:{};门票种类:{}", &date[..10], draw.pick(TICKET_TYPES)),
    };
    maybe_edges(draw, text)
}

/// A `yyyy-MM-dd HH:mm:ss` datetime between 2015 and 2027.
pub fn datetime(draw: &mut Draw) -> String {
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        draw.between(2015, 2027),
        draw.between(1, 12),
        draw.between(1, 28),
        draw.below(24),
        draw.below(60),
        draw.below(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character the vectors are built from, fixed lists and literals of this file alike.
    fn fixed_text() -> String {
        let lists = [PLACES, KINDS, TICKET_TYPES, SELLER_NICKS, FAIL_MESSAGES].concat().concat();
        let templates = "验证码.您已成功订购提供的,有效期至,消费时请出示本短信以验证.如有疑问,请联系卖家.【】您的验证码为，凭此码入园。\
                         是您的电子凭证，请于使用，勿泄露。门票种类:;门票类型:电子票出行日期";
        format!("{lists}{templates}{}{}", GBK_EDGES.iter().collect::<String>(), ASCII_EDGES.iter().collect::<String>())
    }

    #[test]
    fn no_character_of_the_vectors_is_one_gbk_encoders_disagree_on() {
        let text = fixed_text();
        assert!(text.chars().all(|c| !encoders_disagree(c) && !c.is_control()), "{text}");
        assert!(gbk_safe_chars().iter().all(|c| !encoders_disagree(*c)));
    }

    #[test]
    fn every_fixed_non_ascii_bmp_character_is_two_gbk_bytes() {
        let unmappable: Vec<char> =
            fixed_text().chars().filter(|c| !c.is_ascii() && encode_gbk(&c.to_string()).len() != 2).collect();
        assert!(unmappable.is_empty(), "{unmappable:?}");
        assert!(ASTRAL.iter().all(|c| encode_gbk(&c.to_string()) == b"?"));
    }

    #[test]
    fn the_safe_set_covers_gbk_but_not_the_private_use_area() {
        let chars = gbk_safe_chars();
        // PROTOCOL §3.3: the three encoders give identical bytes for ASCII and 21,790 other BMP code points.
        assert_eq!(chars.len(), 21_790);
        assert!(chars.contains(&'\u{3000}') && chars.contains(&'齄') && chars.contains(&'丂'));
        assert!(!chars.contains(&'\u{E000}') && !chars.contains(&'€'));
    }
}
