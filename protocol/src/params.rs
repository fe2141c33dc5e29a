//! A request's parameters, merged the way the platform merges them (PROTOCOL §4.3).
//!
//! Query string first, then the body (urlencoded or multipart); a name seen again is ignored (first
//! occurrence wins); multipart parts with a filename are files, kept apart and never signed.
//! Decoding is strict: bytes that are not valid in the charset are an error naming the param, never a
//! silent replacement character that would change the sign.

use bytes::Bytes;
use percent_encoding::percent_decode;

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
        let lower = ct.to_ascii_lowercase();
        match lower.split(';').skip(1).find_map(|p| p.trim().strip_prefix("charset=")) {
            Some(cs) if matches!(cs.trim_matches('"'), "gbk" | "gb2312" | "gb18030") => Charset::Gbk,
            _ => Charset::Utf8,
        }
    }

    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Charset::Gbk => decode_gbk(bytes),
        }
    }
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
        for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &piece[piece.len()..]),
            };
            let name = decode_component(raw_name, charset).ok_or(ParamsError::Undecodable { name: None, charset })?;
            let value = decode_component(raw_value, charset)
                .ok_or_else(|| ParamsError::Undecodable { name: Some(name.clone()), charset })?;
            self.insert(name, value);
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
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => {
                params.extend_urlencoded(&body, Charset::from_content_type(Some(content_type)))?;
            }
            "multipart/form-data" => {
                let boundary =
                    multer::parse_boundary(content_type).map_err(|e| ParamsError::Multipart(e.to_string()))?;
                params.extend_multipart(body, &boundary)?;
            }
            _ => {}
        }
        Ok(params)
    }

    /// Serialises the pairs as an urlencoded body (WHATWG serializer: space as `+`), UTF-8 or GBK.
    pub fn to_urlencoded(&self, charset: Charset) -> String {
        match charset {
            Charset::Utf8 => {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                for (name, value) in &self.pairs {
                    ser.append_pair(name, value);
                }
                ser.finish()
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

/// Percent-encodes GBK bytes instead of UTF-8 ones in `to_urlencoded`.
fn gbk_override(text: &str) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(crate::gbk::encode_gbk(text))
}

/// Percent-decodes one name or value (`+` is a space) and decodes the bytes strictly in `charset`.
fn decode_component(raw: &[u8], charset: Charset) -> Option<String> {
    // Most components are plain ASCII, the same text in UTF-8 and GBK: one copy, no decoding pass.
    if raw.is_ascii() && !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let plus_as_space: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    charset.decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
