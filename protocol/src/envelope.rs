//! TOP response envelopes (PROTOCOL §4.6, §4.7): success and `error_response`, in JSON, XML and
//! `simplify=true` JSON; and the client-side reading of a JSON answer.

use quick_xml::escape::escape;
use serde_json::{Map, Value as Json};

use crate::TopError;

/// `format` of a TOP call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// The default when `format` is absent.
    #[default]
    Xml,
    Json,
}

impl ResponseFormat {
    /// Parses `format`: absent → XML; `xml` / `json`; anything else is error 23.
    pub fn parse(value: Option<&str>) -> Result<Self, TopError> {
        match value {
            None | Some("xml") => Ok(ResponseFormat::Xml),
            Some("json") => Ok(ResponseFormat::Json),
            Some(_) => Err(TopError::INVALID_FORMAT),
        }
    }

    /// The `Content-Type` of answers in this format (harness+).
    pub fn content_type(self) -> &'static str {
        match self {
            ResponseFormat::Xml => "text/xml;charset=UTF-8",
            ResponseFormat::Json => "application/json;charset=UTF-8",
        }
    }
}

/// A response field's value, typed the way TOP metadata types them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `Number` → JSON number.
    Num(i64),
    /// `String` and `Date` → JSON string.
    Str(String),
    Bool(bool),
    /// A nested object (`trade`).
    Obj(Fields),
    /// A list: `"eticket_codes":{"eticket_code":[…]}` (or a bare array with `simplify=true`).
    List {
        item: &'static str,
        items: Vec<Fields>,
    },
}

/// Response fields in emission order (§5 order; `request_id` is appended last by the envelope).
pub type Fields = Vec<(&'static str, Value)>;

/// A success answer: the API name and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessBody {
    pub api: String,
    pub fields: Fields,
}

/// `taobao.vmarket.eticket.send` → `vmarket_eticket_send_response`.
pub fn response_root(api: &str) -> String {
    let short = api.strip_prefix("taobao.").unwrap_or(api);
    format!("{}_response", short.replace('.', "_"))
}

impl SuccessBody {
    pub fn new(api: impl Into<String>, fields: Fields) -> Self {
        Self { api: api.into(), fields }
    }

    /// Renders the whole HTTP body.
    pub fn render(&self, format: ResponseFormat, simplify: bool, request_id: &str) -> String {
        let root = response_root(&self.api);
        match format {
            // Written directly into one buffer: the text of the `serde_json` map below, without building it. A
            // map replaces a repeated name in place, so fields repeating one (or naming `request_id`) go through it.
            ResponseFormat::Json if names_are_unique(&self.fields, Some("request_id")) => {
                let mut out = String::with_capacity(root.len() + request_id.len() + 32 + 24 * self.fields.len());
                if !simplify {
                    out.push('{');
                    push_json_string(&mut out, &root);
                    out.push(':');
                }
                push_json_object(&mut out, &self.fields, simplify, Some(request_id));
                if !simplify {
                    out.push('}');
                }
                out
            }
            ResponseFormat::Json => {
                let mut inner = fields_to_json(&self.fields, simplify);
                inner.insert("request_id".into(), Json::String(request_id.into()));
                let body = if simplify {
                    Json::Object(inner)
                } else {
                    let mut outer = Map::new();
                    outer.insert(root, Json::Object(inner));
                    Json::Object(outer)
                };
                body.to_string()
            }
            ResponseFormat::Xml => {
                let mut out = String::with_capacity(XML_DECL.len() + 2 * root.len() + 64 + 32 * self.fields.len());
                out.push_str(XML_DECL);
                push_tag(&mut out, "", &root);
                fields_to_xml(&self.fields, &mut out);
                push_xml_element(&mut out, "request_id", request_id);
                push_tag(&mut out, "/", &root);
                out
            }
        }
    }
}

/// Whether no name repeats at any level (nor, at the top, is `reserved`).
fn names_are_unique(fields: &Fields, reserved: Option<&str>) -> bool {
    fields.iter().enumerate().all(|(i, (name, value))| {
        Some(*name) != reserved
            && !fields[..i].iter().any(|(earlier, _)| earlier == name)
            && match value {
                Value::Obj(inner) => names_are_unique(inner, None),
                Value::List { items, .. } => items.iter().all(|item| names_are_unique(item, None)),
                Value::Num(_) | Value::Str(_) | Value::Bool(_) => true,
            }
    })
}

/// `{"name":value,…}` as `serde_json` writes a map of `fields` (names unique), `request_id` last when given.
fn push_json_object(out: &mut String, fields: &Fields, simplify: bool, request_id: Option<&str>) {
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, name);
        out.push(':');
        push_json_value(out, value, simplify);
    }
    if let Some(request_id) = request_id {
        if !fields.is_empty() {
            out.push(',');
        }
        out.push_str("\"request_id\":");
        push_json_string(out, request_id);
    }
    out.push('}');
}

/// One value as [`value_to_json`] makes it and `serde_json` writes it.
fn push_json_value(out: &mut String, value: &Value, simplify: bool) {
    match value {
        Value::Num(n) => push_display(out, *n),
        Value::Str(s) => push_json_string(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Obj(fields) => push_json_object(out, fields, simplify, None),
        Value::List { item, items } => {
            if !simplify {
                out.push('{');
                push_json_string(out, item);
                out.push(':');
            }
            out.push('[');
            for (i, entry) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_object(out, entry, simplify, None);
            }
            out.push(']');
            if !simplify {
                out.push('}');
            }
        }
    }
}

/// `<name>` (`close` empty) or `</name>` (`close` = "/").
fn push_tag(out: &mut String, close: &str, name: &str) {
    out.push('<');
    out.push_str(close);
    out.push_str(name);
    out.push('>');
}

const XML_DECL: &str = r#"<?xml version="1.0" encoding="utf-8" ?>"#;

fn fields_to_json(fields: &Fields, simplify: bool) -> Map<String, Json> {
    let mut map = Map::new();
    for (name, value) in fields {
        map.insert((*name).into(), value_to_json(value, simplify));
    }
    map
}

fn value_to_json(value: &Value, simplify: bool) -> Json {
    match value {
        Value::Num(n) => Json::from(*n),
        Value::Str(s) => Json::String(s.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Obj(fields) => Json::Object(fields_to_json(fields, simplify)),
        Value::List { item, items } => {
            let array = Json::Array(items.iter().map(|f| Json::Object(fields_to_json(f, simplify))).collect());
            if simplify {
                array
            } else {
                let mut wrapper = Map::new();
                wrapper.insert((*item).into(), array);
                Json::Object(wrapper)
            }
        }
    }
}

fn push_xml_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn fields_to_xml(fields: &Fields, out: &mut String) {
    for (name, value) in fields {
        match value {
            Value::Num(n) => {
                push_tag(out, "", name);
                push_display(out, *n);
                push_tag(out, "/", name);
            }
            Value::Str(s) => push_xml_element(out, name, s),
            Value::Bool(b) => push_xml_element(out, name, if *b { "true" } else { "false" }),
            Value::Obj(inner) => {
                push_tag(out, "", name);
                fields_to_xml(inner, out);
                push_tag(out, "/", name);
            }
            Value::List { item, items } => {
                push_tag(out, "", name);
                for entry in items {
                    push_tag(out, "", item);
                    fields_to_xml(entry, out);
                    push_tag(out, "/", item);
                }
                push_tag(out, "/", name);
            }
        }
    }
}

impl TopError {
    /// Renders an `error_response` body (the same shape with or without `simplify`, §4.7).
    pub fn render(&self, format: ResponseFormat, request_id: &str) -> String {
        // Written directly into one buffer sized for the whole body (the gateway answers one per refused call):
        // the same text as building a `serde_json` map in this key order, without the map.
        let texts = self.msg.len()
            + self.sub_code.as_deref().map_or(0, str::len)
            + self.sub_msg.as_deref().map_or(0, str::len)
            + request_id.len();
        match format {
            ResponseFormat::Json => {
                let mut out = String::with_capacity(texts + 96);
                out.push_str(r#"{"error_response":{"code":"#);
                push_display(&mut out, self.code);
                push_json_member(&mut out, "msg", &self.msg);
                if let Some(sub) = &self.sub_code {
                    push_json_member(&mut out, "sub_code", sub);
                }
                if let Some(sub_msg) = &self.sub_msg {
                    push_json_member(&mut out, "sub_msg", sub_msg);
                }
                push_json_member(&mut out, "request_id", request_id);
                out.push_str("}}");
                out
            }
            ResponseFormat::Xml => {
                let mut out = String::with_capacity(texts + XML_DECL.len() + 160);
                out.push_str(XML_DECL);
                out.push_str("<error_response><code>");
                push_display(&mut out, self.code);
                out.push_str("</code>");
                push_xml_element(&mut out, "msg", &self.msg);
                if let Some(sub) = &self.sub_code {
                    push_xml_element(&mut out, "sub_code", sub);
                }
                if let Some(sub_msg) = &self.sub_msg {
                    push_xml_element(&mut out, "sub_msg", sub_msg);
                }
                push_xml_element(&mut out, "request_id", request_id);
                out.push_str("</error_response>");
                out
            }
        }
    }
}

/// Appends a number's decimal text without a temporary `String`.
fn push_display(out: &mut String, n: i64) {
    use std::fmt::Write;
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{n}");
}

/// Appends `,"name":"value"` with the value escaped as serde_json escapes it.
fn push_json_member(out: &mut String, name: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    push_json_string(out, value);
}

/// Appends a JSON string literal, escaped exactly as `serde_json` does: `"` and `\` backslashed, the control
/// characters below U+0020 as `\b \t \n \f \r` or `\u00xx` (lower-case hex); everything else as it is.
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Bytes below 0x80 are whole chars, so these slice bounds are char boundaries.
        out.push_str(&value[plain..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&value[plain..]);
    out.push('"');
}

/// A JSON TOP answer as a client reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum TopReply {
    /// The object inside `<api>_response` (or the whole body with `simplify=true`).
    Success(Map<String, Json>),
    Error(TopError),
}

/// Why a TOP answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable TOP answer: {0}")]
pub struct ReplyError(pub String);

impl TopReply {
    /// Reads a `format=json` answer of `api` (with or without `simplify`).
    pub fn parse_json(api: &str, body: &[u8]) -> Result<Self, ReplyError> {
        let json: Json = serde_json::from_slice(body).map_err(|e| ReplyError(e.to_string()))?;
        let Json::Object(mut map) = json else { return Err(ReplyError("not a JSON object".into())) };
        if let Some(error) = map.remove("error_response") {
            let error: TopError = serde_json::from_value(error).map_err(|e| ReplyError(e.to_string()))?;
            return Ok(TopReply::Error(error));
        }
        match map.remove(&response_root(api)) {
            Some(Json::Object(inner)) => Ok(TopReply::Success(inner)),
            Some(_) => Err(ReplyError("the response root is not an object".into())),
            None => Ok(TopReply::Success(map)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text rich in what JSON and XML escape: quotes, backslashes, every control character, `<&>`, hanzi.
    fn tricky_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            3 => prop::char::range('\0', '\u{7f}'),
            1 => prop::sample::select(vec!['"', '\\', '<', '>', '&', '\'', '\u{2028}', '银', '😀']),
        ];
        prop::collection::vec(c, 0..24).prop_map(String::from_iter)
    }

    /// An `error_response` as it rendered before: a `serde_json` map in this key order.
    fn render_through_a_map(error: &TopError, request_id: &str) -> String {
        let mut inner = Map::new();
        inner.insert("code".into(), Json::from(error.code));
        inner.insert("msg".into(), Json::String(error.msg.to_string()));
        if let Some(sub) = &error.sub_code {
            inner.insert("sub_code".into(), Json::String(sub.to_string()));
        }
        if let Some(sub_msg) = &error.sub_msg {
            inner.insert("sub_msg".into(), Json::String(sub_msg.to_string()));
        }
        inner.insert("request_id".into(), Json::String(request_id.into()));
        let mut outer = Map::new();
        outer.insert("error_response".into(), Json::Object(inner));
        Json::Object(outer).to_string()
    }

    /// A success body as it rendered before: JSON through a `serde_json` map, XML with `format!`ed tags.
    fn render_success_before(body: &SuccessBody, format: ResponseFormat, simplify: bool, request_id: &str) -> String {
        fn xml(fields: &Fields, out: &mut String) {
            for (name, value) in fields {
                match value {
                    Value::Num(n) => push_xml_element(out, name, &n.to_string()),
                    Value::Str(s) => push_xml_element(out, name, s),
                    Value::Bool(b) => push_xml_element(out, name, if *b { "true" } else { "false" }),
                    Value::Obj(inner) => {
                        out.push_str(&format!("<{name}>"));
                        xml(inner, out);
                        out.push_str(&format!("</{name}>"));
                    }
                    Value::List { item, items } => {
                        out.push_str(&format!("<{name}>"));
                        for entry in items {
                            out.push_str(&format!("<{item}>"));
                            xml(entry, out);
                            out.push_str(&format!("</{item}>"));
                        }
                        out.push_str(&format!("</{name}>"));
                    }
                }
            }
        }
        let root = response_root(&body.api);
        match format {
            ResponseFormat::Json => {
                let mut inner = fields_to_json(&body.fields, simplify);
                inner.insert("request_id".into(), Json::String(request_id.into()));
                let mut outer = Map::new();
                outer.insert(root, Json::Object(inner.clone()));
                if simplify { Json::Object(inner) } else { Json::Object(outer) }.to_string()
            }
            ResponseFormat::Xml => {
                let mut out = format!("{XML_DECL}<{root}>");
                xml(&body.fields, &mut out);
                push_xml_element(&mut out, "request_id", request_id);
                out.push_str(&format!("</{root}>"));
                out
            }
        }
    }

    /// Fields with names from a small set (so some repeat, and `request_id` among them), nested objects and lists.
    fn fields() -> impl Strategy<Value = Fields> {
        let name = || prop::sample::select(vec!["ret_code", "code", "a\"b", "request_id", "eticket_code", "trade"]);
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Num),
            tricky_text().prop_map(Value::Str),
            any::<bool>().prop_map(Value::Bool),
        ];
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            let fields = prop::collection::vec((name(), inner), 0..4);
            prop_oneof![
                fields.clone().prop_map(Value::Obj),
                (name(), prop::collection::vec(fields, 0..3)).prop_map(|(item, items)| Value::List { item, items }),
            ]
        });
        prop::collection::vec((name(), value), 0..5)
    }

    proptest! {
        #[test]
        fn success_bodies_render_as_they_did_through_a_map_and_format(
            api in prop::sample::select(vec!["taobao.vmarket.eticket.send", "taobao.x\"y", "plain"]),
            fields in fields(),
            simplify in any::<bool>(),
            request_id in tricky_text(),
        ) {
            let body = SuccessBody::new(api, fields);
            for format in [ResponseFormat::Json, ResponseFormat::Xml] {
                prop_assert_eq!(
                    body.render(format, simplify, &request_id),
                    render_success_before(&body, format, simplify, &request_id)
                );
            }
        }

        #[test]
        fn json_strings_are_escaped_as_serde_json_escapes_them(text in tricky_text()) {
            let mut out = String::new();
            push_json_string(&mut out, &text);
            prop_assert_eq!(out, Json::String(text).to_string());
        }

        #[test]
        fn json_errors_render_as_their_serde_json_map(
            code in any::<i64>(),
            msg in tricky_text(),
            sub_code in proptest::option::of(tricky_text()),
            sub_msg in proptest::option::of(tricky_text()),
            request_id in tricky_text(),
        ) {
            let error = TopError { code, msg: msg.into(), sub_code: sub_code.map(Into::into), sub_msg: sub_msg.map(Into::into) };
            prop_assert_eq!(error.render(ResponseFormat::Json, &request_id), render_through_a_map(&error, &request_id));
        }

        #[test]
        fn xml_errors_render_each_element_escaped_in_order(
            code in any::<i64>(),
            msg in tricky_text(),
            sub_code in proptest::option::of(tricky_text()),
            request_id in tricky_text(),
        ) {
            let error = TopError { code, msg: msg.clone().into(), sub_code: sub_code.clone().map(Into::into), sub_msg: None };
            let mut expected = format!("{XML_DECL}<error_response><code>{code}</code><msg>{}</msg>", escape(&msg));
            if let Some(sub) = &sub_code {
                expected.push_str(&format!("<sub_code>{}</sub_code>", escape(sub)));
            }
            expected.push_str(&format!("<request_id>{}</request_id></error_response>", escape(&request_id)));
            prop_assert_eq!(error.render(ResponseFormat::Xml, &request_id), expected);
        }
    }

    #[test]
    fn a_json_error_is_the_text_serde_json_gives_for_the_same_map() {
        let error = TopError {
            code: 15,
            msg: "Remote \"service\" error".into(),
            sub_code: Some("isv.x:y".into()),
            sub_msg: Some("订单\n已经发码".into()),
        };
        let mut inner = Map::new();
        inner.insert("code".into(), Json::from(15));
        inner.insert("msg".into(), Json::String("Remote \"service\" error".into()));
        inner.insert("sub_code".into(), Json::String("isv.x:y".into()));
        inner.insert("sub_msg".into(), Json::String("订单\n已经发码".into()));
        inner.insert("request_id".into(), Json::String("abc".into()));
        let mut outer = Map::new();
        outer.insert("error_response".into(), Json::Object(inner));
        assert_eq!(error.render(ResponseFormat::Json, "abc"), Json::Object(outer).to_string());
        let bare = TopError { code: 7, msg: "App Call Limited".into(), sub_code: None, sub_msg: None };
        assert_eq!(
            bare.render(ResponseFormat::Json, "r"),
            r#"{"error_response":{"code":7,"msg":"App Call Limited","request_id":"r"}}"#
        );
    }

    #[test]
    fn root_name_drops_taobao_and_underscores_dots() {
        assert_eq!(response_root("taobao.vmarket.eticket.send"), "vmarket_eticket_send_response");
    }

    #[test]
    fn json_and_xml_success_shapes() {
        let body = SuccessBody::new("taobao.vmarket.eticket.send", vec![("ret_code", Value::Num(1))]);
        assert_eq!(
            body.render(ResponseFormat::Json, false, "abc"),
            r#"{"vmarket_eticket_send_response":{"ret_code":1,"request_id":"abc"}}"#
        );
        assert_eq!(body.render(ResponseFormat::Json, true, "abc"), r#"{"ret_code":1,"request_id":"abc"}"#);
        assert_eq!(
            body.render(ResponseFormat::Xml, false, "abc"),
            r#"<?xml version="1.0" encoding="utf-8" ?><vmarket_eticket_send_response><ret_code>1</ret_code><request_id>abc</request_id></vmarket_eticket_send_response>"#
        );
    }

    #[test]
    fn json_replies_parse_back() {
        let err = crate::SubCode::InvalidToken.error();
        let body = err.render(ResponseFormat::Json, "r");
        assert_eq!(TopReply::parse_json("taobao.vmarket.eticket.send", body.as_bytes()).unwrap(), TopReply::Error(err));
        let ok = SuccessBody::new("taobao.vmarket.eticket.send", vec![("ret_code", Value::Num(1))]).render(
            ResponseFormat::Json,
            false,
            "r",
        );
        let TopReply::Success(map) = TopReply::parse_json("taobao.vmarket.eticket.send", ok.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(map["ret_code"], 1);
    }
}
