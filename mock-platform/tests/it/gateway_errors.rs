//! The gateway's refusals in PROTOCOL §4.9 order with the exact §4.8 codes, and SDK-shaped requests.

use chrono::{Duration, Utc};
use protocol::params::Charset;
use protocol::top_sign::{EmptyValues, sign_canonical, top_canonical};
use protocol::{Gmt8Timestamp, Params, Secret, SignMethod, top_sign};
use serde_json::{Value, json};

use crate::support::{APP_KEY, APP_SECRET, Harness, SESSION, backends, id_of, token_of};

/// One refusal: edit the params before signing (`before`) or after (`after`), expect code, msg, sub_code.
struct Case {
    name: &'static str,
    before: Box<dyn Fn(&mut Params)>,
    after: Box<dyn Fn(&mut Params)>,
    code: i64,
    msg: String,
    sub_code: Option<&'static str>,
    xml: bool,
}

fn case(name: &'static str, before: impl Fn(&mut Params) + 'static, code: i64, msg: &str) -> Case {
    Case { name, before: Box::new(before), after: Box::new(|_| {}), code, msg: msg.into(), sub_code: None, xml: false }
}

impl Case {
    fn sub(mut self, sub_code: &'static str) -> Self {
        self.sub_code = Some(sub_code);
        self
    }
    fn xml(mut self) -> Self {
        self.xml = true;
        self
    }
    fn after_sign(mut self, after: impl Fn(&mut Params) + 'static) -> Self {
        self.after = Box::new(after);
        self
    }
}

fn base(order_id: i64, token: &str) -> Params {
    Params::from_pairs([
        ("method", "taobao.vmarket.eticket.send".to_owned()),
        ("app_key", APP_KEY.to_owned()),
        ("session", SESSION.to_owned()),
        ("timestamp", Gmt8Timestamp::from_utc(Utc::now()).format()),
        ("v", "2.0".to_owned()),
        ("format", "json".to_owned()),
        ("sign_method", "md5".to_owned()),
        ("order_id", order_id.to_string()),
        ("verify_codes", "A1:1,B1:1".to_owned()),
        ("token", token.to_owned()),
    ])
}

fn sign(params: &mut Params) {
    params.remove("sign");
    let method = SignMethod::of_params(&*params).unwrap_or_default();
    let sign = top_sign(&Secret::new(APP_SECRET), method, &*params);
    params.set("sign", sign);
}

/// Reads code, msg and sub_code of an XML or JSON error answer.
fn read_error(body: &str) -> (bool, i64, String, Option<String>) {
    if body.starts_with("<?xml") {
        let tag = |t: &str| {
            let open = format!("<{t}>");
            let start = body.find(&open)? + open.len();
            let end = body[start..].find(&format!("</{t}>"))? + start;
            Some(body[start..end].to_owned())
        };
        let code = tag("code").and_then(|c| c.parse().ok()).unwrap_or(-1);
        (true, code, tag("msg").unwrap_or_default(), tag("sub_code"))
    } else {
        let v: Value = serde_json::from_str(body).unwrap();
        let e = &v["error_response"];
        (
            false,
            e["code"].as_i64().unwrap_or(-1),
            e["msg"].as_str().unwrap_or_default().into(),
            e["sub_code"].as_str().map(Into::into),
        )
    }
}

async fn check(h: &Harness, order_id: i64, token: &str, case: &Case) {
    let mut params = base(order_id, token);
    (case.before)(&mut params);
    sign(&mut params);
    (case.after)(&mut params);
    let body = h.send_form(&params).await;
    let (xml, code, msg, sub_code) = read_error(&body);
    assert_eq!((code, msg.as_str()), (case.code, case.msg.as_str()), "case {}: {body}", case.name);
    assert_eq!(sub_code.as_deref(), case.sub_code, "case {}: {body}", case.name);
    assert_eq!(xml, case.xml, "case {}: format of {body}", case.name);
    assert!(body.contains("request_id"), "case {}", case.name);
}

fn set(name: &'static str, value: impl Into<String>) -> impl Fn(&mut Params) {
    let value = value.into();
    move |p: &mut Params| p.set(name, value.clone())
}

fn drop_param(name: &'static str) -> impl Fn(&mut Params) {
    move |p: &mut Params| {
        p.remove(name);
    }
}

#[tokio::test]
async fn every_refusal_comes_in_check_order_with_the_exact_code() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.buy(json!({})).await;
        let (id, token) = (id_of(&order), token_of(&order));
        h.next_notification().await;
        for (key, extra) in [
            ("noperm", json!({"eticket_permission": false})),
            ("expired", json!({"session_expires_at": "2000-01-01 00:00:00"})),
            ("quota", json!({"daily_quota": 1})),
            ("other", json!({})),
        ] {
            let mut body = json!({"app_key": key, "session": format!("s-{key}")});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            assert_eq!(h.register(body).await.0, 201);
        }
        let other = id_of(
            &h.post("/admin/orders", json!({"app_key": "other", "num": 1, "mobile": "1", "item_title": "t"})).await.1,
        );
        // Use up the quota app's one call.
        let mut first = base(id, &token);
        first.set("app_key", "quota");
        first.set("session", "s-quota");
        sign(&mut first);
        h.send_form(&first).await;
        let stale = Gmt8Timestamp::from_utc(Utc::now() - Duration::minutes(11)).format();
        let as_app = |key: &'static str| {
            move |p: &mut Params| {
                p.set("app_key", key);
                p.set("session", format!("s-{key}"));
            }
        };
        let cases = vec![
            case("no method", drop_param("method"), 21, "Missing Method").xml(),
            case("unknown method", set("method", "taobao.vmarket.eticket.nothing"), 22, "Invalid method").xml(),
            case("bad format", set("format", "json2"), 23, "Invalid Format").xml(),
            case("no app_key", drop_param("app_key"), 28, "Missing app key"),
            case("unknown app_key", set("app_key", "nobody"), 29, "Invalid app Key").sub("isv.appkey-not-exists"),
            case("no sign", |_| {}, 24, "Missing Signature").after_sign(drop_param("sign")),
            case("wrong sign", |_| {}, 25, "Invalid signature")
                .after_sign(set("sign", "0123456789ABCDEF0123456789ABCDEF")),
            case("unknown sign_method", set("sign_method", "sha1"), 25, "Invalid signature"),
            case("no timestamp", drop_param("timestamp"), 30, "Missing Timestamp"),
            case("stale timestamp", set("timestamp", stale), 31, "Invalid timestamp"),
            case("loose timestamp", set("timestamp", "2016-1-1 00:00:00"), 31, "Invalid timestamp"),
            case("no v", drop_param("v"), 32, "Missing Version"),
            case("v 1.0", set("v", "1.0"), 33, "Invalid Version"),
            case("no session", drop_param("session"), 26, "Missing session"),
            case("unknown session", set("session", "bogus"), 27, "Invalid session").sub("invalid-sessionkey"),
            case("another app's session", set("session", "s-other"), 27, "Invalid session").sub("invalid-sessionkey"),
            case("expired session", as_app("expired"), 27, "Invalid session:session-expired").sub("session-expired"),
            case("no permission", as_app("noperm"), 11, "Insufficient isv permissions")
                .sub("isv.permission-api-package-limit"),
            case("over quota", as_app("quota"), 7, "App Call Limited").sub("accesscontrol.limited-by-api-access-count"),
            case("no order_id", drop_param("order_id"), 40, "Missing required arguments:order_id"),
            case("empty verify_codes", set("verify_codes", ""), 40, "Missing required arguments:verify_codes"),
            case("order_id not a number", set("order_id", "12a"), 41, "Invalid arguments:order_id"),
            case("full-width colon", set("verify_codes", "A1：2"), 41, "Invalid arguments:verify_codes"),
            case("unknown order", set("order_id", "1"), 15, "Remote service error")
                .sub("isv.eticket-order-not-found:invalid-orderid"),
            case("another seller's order", set("order_id", other.to_string()), 15, "Remote service error")
                .sub("isv.eticket-privilege-error:order-not-belongto-seller"),
            case("wrong token", set("token", "0".repeat(32)), 15, "Remote service error")
                .sub("isv.eticket-token-error:invalid-token"),
            case("counts not summing to num", set("verify_codes", "A1:1"), 41, "Invalid arguments:verify_codes"),
        ];
        for case in &cases {
            check(&h, id, &token, case).await;
        }
        // The quota error's sub_msg counts seconds to midnight GMT+8.
        let body = h
            .send_form(&{
                let mut p = base(id, &token);
                as_app("quota")(&mut p);
                sign(&mut p);
                p
            })
            .await;
        assert!(body.contains("This ban will last for "), "{body}");
    }
}

#[tokio::test]
async fn other_http_methods_are_refused_with_9() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let r = h.http.put(format!("{}/router/rest", h.base)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/xml;charset=UTF-8");
        let (xml, code, msg, _) = read_error(&r.text().await.unwrap());
        assert_eq!((xml, code, msg.as_str()), (true, 9, "Http Action Not Allowed"));
    }
}

#[tokio::test]
async fn sdk_shaped_requests_are_accepted() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let secret = Secret::new(APP_SECRET);
        for method in [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256] {
            for empty in [EmptyValues::Skip, EmptyValues::Include] {
                // System params in the query (epoch-ms timestamp, as the Python SDK), API params in the body.
                let system = Params::from_pairs([
                    ("method", "taobao.vmarket.eticket.codes.get".to_owned()),
                    ("app_key", APP_KEY.to_owned()),
                    ("session", SESSION.to_owned()),
                    ("timestamp", Utc::now().timestamp_millis().to_string()),
                    ("v", "2.0".to_owned()),
                    ("format", "json".to_owned()),
                    ("sign_method", method.as_str().to_owned()),
                ]);
                let api = Params::from_pairs([("order_id", id.to_string()), ("partner_id", String::new())]);
                let all: Vec<(&str, &str)> = system.iter().chain(api.iter()).collect();
                let sign = sign_canonical(&secret, method, &top_canonical(all.iter().copied(), empty));
                let mut query = system.clone();
                query.set("sign", sign);
                let r = h
                    .http
                    .post(format!("{}/router/rest?{}", h.base, query.to_urlencoded(Charset::Utf8)))
                    .header("content-type", "application/x-www-form-urlencoded;charset=utf-8")
                    .body(api.to_urlencoded(Charset::Utf8))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.headers()["content-type"], "application/json;charset=UTF-8");
                let body: Value = r.json().await.unwrap();
                assert_eq!(
                    body["vmarket_eticket_codes_get_response"]["total_results"], 0,
                    "{method:?} {empty:?}: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn get_requests_and_simplify_and_xml_answers_work() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let mut p = Params::from_pairs([
            ("method", "taobao.vmarket.eticket.codes.get".to_owned()),
            ("app_key", APP_KEY.to_owned()),
            ("session", SESSION.to_owned()),
            ("timestamp", Gmt8Timestamp::from_utc(Utc::now()).format()),
            ("v", "2.0".to_owned()),
            ("format", "json".to_owned()),
            ("simplify", "true".to_owned()),
            ("order_id", id.to_string()),
        ]);
        sign(&mut p);
        let body: Value = h
            .http
            .get(format!("{}/router/rest?{}", h.base, p.to_urlencoded(Charset::Utf8)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["total_results"], 0, "{body}");
        assert_eq!(body["request_id"].as_str().unwrap().len(), 12);
        p.remove("format");
        p.remove("simplify");
        sign(&mut p);
        let text = h.send_form(&p).await;
        assert!(text.starts_with(r#"<?xml version="1.0" encoding="utf-8" ?><vmarket_eticket_codes_get_response><eticket_codes></eticket_codes><total_results>0</total_results>"#), "{text}");
    }
}

#[tokio::test]
async fn a_call_signed_with_the_notify_key_is_25_and_diagnosed() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let order = h.buy(json!({})).await;
        let (id, token) = (id_of(&order), token_of(&order));
        let mut params = base(id, &token);
        let sign = top_sign(&Secret::new(crate::support::NOTIFY_KEY), SignMethod::Md5, &params);
        params.set("sign", sign);
        let (_, code, _, _) = read_error(&h.send_form(&params).await);
        assert_eq!(code, 25);
        let e = h.wait_exchanges(id, "the refused call", |e| e.iter().any(|x| x["kind"] == "gateway")).await;
        let call = e.iter().find(|x| x["kind"] == "gateway").unwrap();
        assert_eq!((call["error_code"].as_i64(), call["sign_diagnosis"].as_str()), (Some(25), Some("notify_key")));
    }
}

#[tokio::test]
async fn undecodable_and_oversized_bodies_get_41_naming_the_param_or_43() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let post = |body: Vec<u8>| {
            let http = h.http.clone();
            let url = format!("{}/router/rest", h.base);
            async move {
                let r = http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                read_error(&r.text().await.unwrap())
            }
        };
        // GBK bytes in a UTF-8 body.
        let (xml, code, msg, _) = post(b"method=taobao.vmarket.eticket.send&item_title=%D2%F8".to_vec()).await;
        assert_eq!((xml, code, msg.as_str()), (true, 41, "Invalid arguments:item_title"));
        let (_, code, msg, _) = post(b"%FF=1".to_vec()).await;
        assert_eq!((code, msg.as_str()), (43, "Invalid parameter"));
        let (_, code, _, _) = post(vec![b'a'; (1 << 20) + 1]).await;
        assert_eq!(code, 43);
    }
}

#[tokio::test]
async fn a_merchant_that_has_not_joined_gets_b1_on_every_e_voucher_api_but_not_on_trade_fullinfo() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (status, m) = h.register(json!({"app_key": "outsider", "session": "s-out", "joined": false})).await;
        assert_eq!((status, &m["joined"]), (201, &json!(false)), "{m}");
        for (api, params) in [
            ("taobao.vmarket.eticket.codes.get", vec![("order_id", "1")]),
            ("taobao.vmarket.eticket.tasks.get", vec![("type", "1")]),
        ] {
            let a = h.call_as("outsider", "s-out", api, &params).await;
            assert_eq!(
                a["error_response"]["sub_code"], "isv.eticket-seller-error:invalid-eticket-seller",
                "{api}: {a}"
            );
        }
        let a = h.call_as("outsider", "s-out", "taobao.trade.fullinfo.get", &[("tid", "1"), ("fields", "tid")]).await;
        assert_ne!(a["error_response"]["sub_code"], "isv.eticket-seller-error:invalid-eticket-seller", "{a}");
    }
}
