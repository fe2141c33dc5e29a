//! A request's parameters, merged the way the platform merges them (PROTOCOL §4.3).
//!
//! Query string first, then the body (urlencoded or multipart); a name seen again is ignored (first
//! occurrence wins); multipart parts with a filename are files, kept apart and never signed.
//! Decoding is strict: bytes that are not valid in the charset are an error naming the param, never a
//! silent replacement character that would change the sign.

use bytes::Bytes;

use crate::gbk::decode_gbk;

/// How percent-decoded bytes are turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    #[default]
    Utf8,
    /// The legacy notification body option (PROTOCOL §3.1, harness N1).
    Gbk,
}

impl Charset {
    /// The charset a `Content-Type` header names (`charset=gbk` / `gb2312` / `gb18030`), UTF-8 otherwise.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let Some(ct) = content_type else { return Charset::Utf8 };
        // ASCII case-insensitive throughout, without a lowercased copy of the header (one per gateway call).
        let charset = ct.split(';').skip(1).find_map(|p| strip_prefix_ignore_ascii_case(p.trim(), "charset="));
        match charset.map(|cs| cs.trim_matches('"')) {
            Some(cs) if ["gbk", "gb2312", "gb18030"].iter().any(|gbk| cs.eq_ignore_ascii_case(gbk)) => Charset::Gbk,
            _ => Charset::Utf8,
        }
    }

    /// Decodes bytes already owned, reusing the buffer when they are UTF-8.
    fn decode_owned(self, bytes: Vec<u8>) -> Option<String> {
        match self {
            Charset::Utf8 => String::from_utf8(bytes).ok(),
            Charset::Gbk => decode_gbk(&bytes),
        }
    }
}

/// `text` without `prefix`, the prefix matched ASCII case-insensitively.
fn strip_prefix_ignore_ascii_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.as_bytes().get(..prefix.len())?;
    // An ASCII prefix matched byte for byte ends on a char boundary, so the slice below cannot panic.
    head.eq_ignore_ascii_case(prefix.as_bytes()).then(|| &text[prefix.len()..])
}

/// A multipart part with a filename (`img_bytes` of `qrcode.upload`).
#[derive(Clone, PartialEq, Eq)]
pub struct FilePart {
    pub name: String,
    pub filename: String,
    pub bytes: Bytes,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("name", &self.name)
            .field("filename", &self.filename)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Why a request's params could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The bytes of a param (name or value) are not valid in the charset; `name` is the param name
    /// when it could be decoded.
    #[error("param {name:?} is not valid {charset:?} text")]
    Undecodable { name: Option<String>, charset: Charset },
    #[error("malformed multipart body: {0}")]
    Multipart(String),
}

impl ParamsError {
    /// The param to name in a `41 Invalid arguments:<name>` answer, when there is one.
    pub fn param_name(&self) -> Option<&str> {
        match self {
            ParamsError::Undecodable { name, .. } => name.as_deref(),
            ParamsError::Multipart(_) => None,
        }
    }
}

/// The merged params of one request, in arrival order, names unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
    files: Vec<FilePart>,
    /// How many later occurrences of a name were dropped; kept so a recorded exchange can say so.
    duplicates_dropped: usize,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a param set from pairs; later duplicates are dropped as on the wire.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut params = Self::new();
        for (name, value) in pairs {
            params.insert(name.into(), value.into());
        }
        params
    }

    /// Adds a param unless the name is already present (first occurrence wins). Returns whether it was added.
    pub fn insert(&mut self, name: String, value: String) -> bool {
        if self.get(&name).is_some() {
            self.duplicates_dropped += 1;
            return false;
        }
        self.pairs.push((name, value));
        true
    }

    /// Sets a param, replacing any value it had (for builders, never for parsing).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.pairs.iter_mut().find(|(n, _)| *n == name) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index).1)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of a param that is present and non-empty: an empty value counts as missing (§4.8 code 40).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The signed params as `(name, value)` borrows, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn files(&self) -> &[FilePart] {
        &self.files
    }

    pub fn file(&self, name: &str) -> Option<&FilePart> {
        self.files.iter().find(|f| f.name == name)
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates_dropped
    }

    /// Appends the pairs of an `application/x-www-form-urlencoded` string or body.
    pub fn extend_urlencoded(&mut self, input: &[u8], charset: Charset) -> Result<(), ParamsError> {
        // One allocation for the pairs instead of growing 4 → 8 → 16 (a duplicate only over-reserves).
        self.pairs.reserve(input.iter().filter(|b| **b == b'&').count() + 1);
        match std::str::from_utf8(input) {
            // The usual body, validated once as a whole: text that needs no charset decoding (UTF-8, or ASCII in
            // either charset). `&` and `=` are ASCII, so its pieces are text too and only escaped ones are decoded.
            Ok(text) if charset == Charset::Utf8 || text.is_ascii() => {
                for piece in text.split('&').filter(|p| !p.is_empty()) {
                    let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
                    let name =
                        decode_text(raw_name, charset).ok_or(ParamsError::Undecodable { name: None, charset })?;
                    let value = decode_text(raw_value, charset)
                        .ok_or_else(|| ParamsError::Undecodable { name: Some(name.clone()), charset })?;
                    self.insert(name, value);
                }
            }
            _ => {
                for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
                    let (raw_name, raw_value) = match piece.iter().position(|b| *b == b'=') {
                        Some(i) => (&piece[..i], &piece[i + 1..]),
                        None => (piece, &piece[piece.len()..]),
                    };
                    let name =
                        decode_component(raw_name, charset).ok_or(ParamsError::Undecodable { name: None, charset })?;
                    let value = decode_component(raw_value, charset)
                        .ok_or_else(|| ParamsError::Undecodable { name: Some(name.clone()), charset })?;
                    self.insert(name, value);
                }
            }
        }
        Ok(())
    }

    /// Appends the parts of a `multipart/form-data` body: text parts as params (UTF-8), parts with a
    /// filename as files.
    pub fn extend_multipart(&mut self, body: Bytes, boundary: &str) -> Result<(), ParamsError> {
        // multer is async over a stream; the whole body is already in memory, so a one-item stream
        // polled by a local executor parses it without any runtime or I/O.
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        futures_executor::block_on(async {
            while let Some(field) = multipart.next_field().await.map_err(|e| ParamsError::Multipart(e.to_string()))? {
                let name = field.name().unwrap_or_default().to_owned();
                let filename = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(|e| ParamsError::Multipart(e.to_string()))?;
                match filename {
                    Some(filename) => {
                        if !self.files.iter().any(|f| f.name == name) {
                            self.files.push(FilePart { name, filename, bytes });
                        }
                    }
                    None => {
                        let value = String::from_utf8(bytes.to_vec()).map_err(|_| ParamsError::Undecodable {
                            name: Some(name.clone()),
                            charset: Charset::Utf8,
                        })?;
                        self.insert(name, value);
                    }
                }
            }
            Ok(())
        })
    }

    /// Parses a whole request the way the gateway does: the query string, then the body when its
    /// `Content-Type` is urlencoded or multipart (any other body is ignored, PROTOCOL §4.1).
    pub fn from_request(query: Option<&str>, content_type: Option<&str>, body: Bytes) -> Result<Self, ParamsError> {
        let mut params = Self::new();
        if let Some(query) = query {
            params.extend_urlencoded(query.as_bytes(), Charset::Utf8)?;
        }
        let Some(content_type) = content_type else { return Ok(params) };
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            params.extend_urlencoded(&body, Charset::from_content_type(Some(content_type)))?;
        } else if essence.eq_ignore_ascii_case("multipart/form-data") {
            let boundary = multer::parse_boundary(content_type).map_err(|e| ParamsError::Multipart(e.to_string()))?;
            params.extend_multipart(body, &boundary)?;
        }
        Ok(params)
    }

    /// Serialises the pairs as an urlencoded body (WHATWG serializer: space as `+`), UTF-8 or GBK.
    pub fn to_urlencoded(&self, charset: Charset) -> String {
        match charset {
            Charset::Utf8 => {
                // The same bytes as `form_urlencoded::Serializer` (a test compares them), in one buffer sized once
                // and copied by runs: every notification and callback body is built here.
                let plain: usize = self.pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
                let mut out = String::with_capacity(plain + plain / 2);
                for (i, (name, value)) in self.pairs.iter().enumerate() {
                    if i > 0 {
                        out.push('&');
                    }
                    append_form_encoded(&mut out, name);
                    out.push('=');
                    append_form_encoded(&mut out, value);
                }
                out
            }
            Charset::Gbk => {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                ser.encoding_override(Some(&gbk_override));
                for (name, value) in &self.pairs {
                    ser.append_pair(name, value);
                }
                ser.finish()
            }
        }
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a str, &'a str);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> (&'a str, &'a str)>;

    fn into_iter(self) -> Self::IntoIter {
        fn borrow(pair: &(String, String)) -> (&str, &str) {
            (pair.0.as_str(), pair.1.as_str())
        }
        self.pairs.iter().map(borrow as fn(&'a (String, String)) -> (&'a str, &'a str))
    }
}

/// Appends `text` form-encoded as UTF-8 (WHATWG `application/x-www-form-urlencoded` byte serializer): `*-._` and
/// ASCII alphanumerics as they are, space as `+`, every other byte as `%XX` (upper-case hex).
fn append_form_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
            continue;
        }
        // A run is ASCII only, so both its ends are character boundaries.
        if run < i {
            out.push_str(&text[run..i]);
        }
        if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
        run = i + 1;
    }
    if run < bytes.len() {
        out.push_str(&text[run..]);
    }
}

/// Percent-encodes GBK bytes instead of UTF-8 ones in `to_urlencoded`.
fn gbk_override(text: &str) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(crate::gbk::encode_gbk(text))
}

/// [`decode_component`] of a piece of text that is already the text of its bytes in `charset`.
fn decode_text(raw: &str, charset: Charset) -> Option<String> {
    if !has_escapes(raw.as_bytes()) {
        return Some(raw.to_owned());
    }
    charset.decode_owned(unescape(raw.as_bytes()))
}

fn has_escapes(raw: &[u8]) -> bool {
    raw.iter().any(|b| matches!(b, b'%' | b'+'))
}

/// Percent-decodes one name or value (`+` is a space) and decodes the bytes strictly in `charset`.
fn decode_component(raw: &[u8], charset: Charset) -> Option<String> {
    if !has_escapes(raw) {
        // Nothing to unescape (most names and values): the bytes are the text, copied once.
        return match charset {
            Charset::Utf8 => std::str::from_utf8(raw).ok().map(str::to_owned),
            // Plain ASCII is the same text in GBK.
            Charset::Gbk if raw.is_ascii() => std::str::from_utf8(raw).ok().map(str::to_owned),
            Charset::Gbk => decode_gbk(raw),
        };
    }
    charset.decode_owned(unescape(raw))
}

/// `+` as a space and `%XX` as its byte, in one pass into one buffer; a `%` not followed by two hex digits is
/// kept as it is. The same bytes as mapping `+` first and then `percent_encoding::percent_decode`.
fn unescape(raw: &[u8]) -> Vec<u8> {
    fn hex(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            b'A'..=b'F' => Some(digit - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(high), Some(low)) =
                    (raw.get(i + 1).and_then(|d| hex(*d)), raw.get(i + 2).and_then(|d| hex(*d)))
                {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(byte),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The decoding before it was done in one pass: `+` mapped first, then `percent_decode`, then the charset.
    fn decode_component_in_two_passes(raw: &[u8], charset: Charset) -> Option<String> {
        if raw.is_ascii() && !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
            return String::from_utf8(raw.to_vec()).ok();
        }
        let plus_as_space: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
        match charset {
            Charset::Utf8 => std::str::from_utf8(&bytes).ok().map(str::to_owned),
            Charset::Gbk => decode_gbk(&bytes),
        }
    }

    /// The charset detection before it stopped lowercasing the header.
    fn charset_of_lowercased(ct: &str) -> Charset {
        let lower = ct.to_ascii_lowercase();
        match lower.split(';').skip(1).find_map(|p| p.trim().strip_prefix("charset=")) {
            Some(cs) if matches!(cs.trim_matches('"'), "gbk" | "gb2312" | "gb18030") => Charset::Gbk,
            _ => Charset::Utf8,
        }
    }

    /// Bytes rich in what decoding treats specially: `%`, `+`, hex digits, UTF-8 and GBK lead bytes.
    fn escaped_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => prop::sample::select(b"%+%+0123456789abcdefABCDEFgxyz =&".to_vec()),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..24)
    }

    fn content_type() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "text/plain",
            ";",
            "; ",
            " ",
            "charset=",
            "CHARSET=",
            "Charset =",
            "\"",
            "gbk",
            "GBK",
            "gb2312",
            "GB18030",
            "utf-8",
            "x",
            "é",
            "İ",
        ]);
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    /// The urlencoded parsing before whole bodies were validated at once: every component decoded in two passes.
    fn extend_in_two_passes(params: &mut Params, input: &[u8], charset: Charset) -> Result<(), ParamsError> {
        for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &piece[piece.len()..]),
            };
            let name = decode_component_in_two_passes(raw_name, charset)
                .ok_or(ParamsError::Undecodable { name: None, charset })?;
            let value = decode_component_in_two_passes(raw_value, charset)
                .ok_or_else(|| ParamsError::Undecodable { name: Some(name.clone()), charset })?;
            params.insert(name, value);
        }
        Ok(())
    }

    /// Bodies of a few pieces: names from a small set (so duplicates happen), values with escapes, raw UTF-8
    /// (`银` is E9 93 B6) and raw GBK (`银` is D2 F8) bytes, stray `&` and `=`.
    fn bodies() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => prop::sample::select(b"abn=%+%2B%41%e9%93%b6%D2%F8%zz&".to_vec()),
            1 => prop::sample::select(vec![0xE9u8, 0x93, 0xB6, 0xD2, 0xF8, 0x80, 0xFF]),
        ];
        prop::collection::vec(byte, 0..48)
    }

    proptest! {
        #[test]
        fn urlencoded_parsing_gives_what_two_pass_decoding_gave(
            first in bodies(),
            second in bodies(),
            gbk in any::<bool>(),
        ) {
            let charset = if gbk { Charset::Gbk } else { Charset::Utf8 };
            let (mut fast, mut reference) = (Params::new(), Params::new());
            for input in [&first, &second] {
                let got = fast.extend_urlencoded(input, charset);
                prop_assert_eq!(&got, &extend_in_two_passes(&mut reference, input, charset));
                prop_assert_eq!(&fast, &reference);
                if got.is_err() {
                    break;
                }
            }
        }

        #[test]
        fn one_pass_decoding_gives_what_two_passes_gave(raw in escaped_bytes()) {
            for charset in [Charset::Utf8, Charset::Gbk] {
                prop_assert_eq!(decode_component(&raw, charset), decode_component_in_two_passes(&raw, charset));
            }
        }

        #[test]
        fn charset_detection_gives_what_lowercasing_the_header_gave(ct in content_type()) {
            prop_assert_eq!(Charset::from_content_type(Some(&ct)), charset_of_lowercased(&ct));
        }
    }

    #[test]
    fn a_percent_without_two_hex_digits_stays_a_percent() {
        assert_eq!(unescape(b"%"), b"%");
        assert_eq!(unescape(b"%4"), b"%4");
        assert_eq!(unescape(b"%%41+%g1%+1"), b"%A %g1% 1");
        assert_eq!(unescape(b"%2B%2b+"), b"++ ");
    }

    #[test]
    fn charset_names_and_content_types_match_in_any_case() {
        assert_eq!(
            Charset::from_content_type(Some("Application/X-WWW-Form-Urlencoded; Charset=\"GB2312\"")),
            Charset::Gbk
        );
        assert_eq!(Charset::from_content_type(Some("application/x-www-form-urlencoded; charset=utf-8")), Charset::Utf8);
        assert_eq!(Charset::from_content_type(Some("charset=gbk")), Charset::Utf8);
        assert_eq!(Charset::from_content_type(None), Charset::Utf8);
        let params = Params::from_request(
            None,
            Some("APPLICATION/x-www-form-URLENCODED;CHARSET=gbk"),
            Bytes::from_static(b"x=%D2%F8"),
        )
        .unwrap();
        assert_eq!(params.get("x"), Some("银"));
    }

    #[test]
    fn query_comes_before_body_and_first_occurrence_wins() {
        let params = Params::from_request(
            Some("method=a&app_key=q"),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            Bytes::from_static(b"app_key=b&v=2.0&method=c"),
        )
        .unwrap();
        assert_eq!(params.get("app_key"), Some("q"));
        assert_eq!(params.get("method"), Some("a"));
        assert_eq!(params.get("v"), Some("2.0"));
        assert_eq!(params.duplicates_dropped(), 2);
    }

    #[test]
    fn plain_ascii_components_decode_to_themselves_in_either_charset() {
        for charset in [Charset::Utf8, Charset::Gbk] {
            let mut params = Params::new();
            params.extend_urlencoded(b"order_id=123&verify_codes=A1:1,B2:1&x=a%2Bb+c", charset).unwrap();
            assert_eq!(params.get("verify_codes"), Some("A1:1,B2:1"));
            assert_eq!(params.get("x"), Some("a+b c"));
        }
    }

    #[test]
    fn plus_is_space_and_percent_escapes_decode_as_utf8() {
        let mut params = Params::new();
        params.extend_urlencoded(b"t=2016-04-20+09%3A00%3A00&x=%E9%93%B6", Charset::Utf8).unwrap();
        assert_eq!(params.get("t"), Some("2016-04-20 09:00:00"));
        assert_eq!(params.get("x"), Some("银"));
    }

    #[test]
    fn invalid_utf8_names_the_param() {
        let err = Params::new().extend_urlencoded(b"item_title=%D2%F8", Charset::Utf8).unwrap_err();
        assert_eq!(err.param_name(), Some("item_title"));
    }

    #[test]
    fn gbk_bodies_decode_with_the_gbk_charset() {
        let params = Params::from_request(
            None,
            Some("application/x-www-form-urlencoded; charset=GBK"),
            Bytes::from_static(b"x=%D2%F8"),
        )
        .unwrap();
        assert_eq!(params.get("x"), Some("银"));
    }

    proptest::proptest! {
        #[test]
        fn utf8_bodies_are_the_bytes_of_the_whatwg_serializer(
            pairs in proptest::collection::vec((".{0,12}", "(.|[ *._~+%&=-]){0,24}"), 0..6)
        ) {
            let params = Params::from_pairs(pairs);
            let mut whatwg = form_urlencoded::Serializer::new(String::new());
            for (name, value) in params.iter() {
                whatwg.append_pair(name, value);
            }
            proptest::prop_assert_eq!(params.to_urlencoded(Charset::Utf8), whatwg.finish());
        }
    }

    #[test]
    fn urlencoded_round_trips_in_both_charsets() {
        let params = Params::from_pairs([("a", "银 子&=?"), ("b", "x+y")]);
        for charset in [Charset::Utf8, Charset::Gbk] {
            let mut back = Params::new();
            back.extend_urlencoded(params.to_urlencoded(charset).as_bytes(), charset).unwrap();
            assert_eq!(back, params);
        }
    }

    #[test]
    fn multipart_file_parts_are_kept_apart() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"code_merchant_id\"\r\n\r\n42\r\n--XX\r\nContent-Disposition: form-data; name=\"img_bytes\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--XX--\r\n";
        let params =
            Params::from_request(Some("method=m"), Some("multipart/form-data; boundary=XX"), Bytes::from(body))
                .unwrap();
        assert_eq!(params.get("code_merchant_id"), Some("42"));
        assert_eq!(params.get("img_bytes"), None);
        assert_eq!(&params.file("img_bytes").unwrap().bytes[..], b"PNGDATA");
    }

    #[test]
    fn other_content_types_are_ignored() {
        let params =
            Params::from_request(Some("a=1"), Some("application/json"), Bytes::from_static(b"{\"b\":2}")).unwrap();
        assert_eq!(params.len(), 1);
    }
}
