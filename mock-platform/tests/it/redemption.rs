//! consume, beforeconsume, reverse, oplogs.get, qrcode.upload over the gateway.

use chrono::Utc;
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use serde_json::{Value, json};

use crate::support::{APP_SECRET, Harness, SESSION, backends, error_of, id_of, token_of};

async fn issued(h: &Harness, codes: &str, num: i64) -> (String, String) {
    let order = h.notified(json!({"num": num, "mobile": "13800001234"})).await;
    let id = id_of(&order);
    let token = token_of(&order);
    let a = h.codes("taobao.vmarket.eticket.send", id, codes, &token).await;
    assert!(error_of(&a).is_null(), "{a}");
    (id.to_string(), token)
}

#[tokio::test]
async fn consume_and_reverse_move_the_order_and_are_logged() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, "A1:2,B1:1", 3).await;
        let before = h
            .call(
                "taobao.vmarket.eticket.beforeconsume",
                &[("order_id", &id), ("verify_code", "A1"), ("token", &token)],
            )
            .await;
        assert_eq!(before["vmarket_eticket_beforeconsume_response"]["code_left_num"], 2, "{before}");
        let c = h
            .call(
                "taobao.vmarket.eticket.consume",
                &[
                    ("order_id", &id),
                    ("verify_code", "A1"),
                    ("consume_num", "2"),
                    ("token", &token),
                    ("serial_num", "s_1"),
                    ("mobile", "1234"),
                ],
            )
            .await;
        let r = &c["vmarket_eticket_consume_response"];
        assert_eq!(
            (r["consume_secial_num"].as_str(), r["left_num"].as_i64(), r["code_left_num"].as_i64()),
            (Some("s_1"), Some(1), Some(0)),
            "{c}"
        );
        assert_eq!(h.order(id.parse().unwrap()).await["state"], "PARTLY_CONSUMED");
        let again = h
            .call(
                "taobao.vmarket.eticket.consume",
                &[("order_id", &id), ("verify_code", "A1"), ("consume_num", "1"), ("token", &token)],
            )
            .await;
        assert_eq!(error_of(&again)["sub_code"], "isv.eticket-consume-error:code-not-available");
        let c2 = h
            .call(
                "taobao.vmarket.eticket.consume",
                &[("order_id", &id), ("verify_code", "B1"), ("consume_num", "1"), ("token", &token)],
            )
            .await;
        let serial = c2["vmarket_eticket_consume_response"]["consume_secial_num"].as_str().unwrap().to_owned();
        assert_eq!((serial.len(), serial.starts_with('m')), (32, true));
        assert_eq!(h.order(id.parse().unwrap()).await["state"], "CONSUMED");
        let resend = h
            .call("taobao.vmarket.eticket.resend", &[("order_id", &id), ("verify_codes", "A1:1"), ("token", &token)])
            .await;
        assert_eq!(error_of(&resend)["sub_code"], "isv.eticket-resend-error:no-can-resend-code");
        let rev = h
            .call(
                "taobao.vmarket.eticket.reverse",
                &[
                    ("order_id", &id),
                    ("reverse_code", "A1"),
                    ("reverse_num", "2"),
                    ("consume_secial_num", "s_1"),
                    ("token", &token),
                ],
            )
            .await;
        assert_eq!(rev["vmarket_eticket_reverse_response"]["left_num"], 2, "{rev}");
        assert_eq!(h.order(id.parse().unwrap()).await["state"], "PARTLY_CONSUMED");
        let logs = h.call("taobao.vmarket.eticket.oplogs.get", &[("type", "0")]).await;
        let logs = &logs["vmarket_eticket_oplogs_get_response"];
        assert_eq!(logs["total_results"], 3, "{logs}");
        let ops: Vec<i64> = logs["eticket_op_logs"]["eticket_op_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["op_type"].as_i64().unwrap())
            .collect();
        assert_eq!(ops, [1, 1, 2]);
        assert_eq!(logs["eticket_op_logs"]["eticket_op_log"][0]["amount"], "2.00");
        assert_eq!(logs["eticket_op_logs"]["eticket_op_log"][0]["mobile"], "1234");
    }
}

#[tokio::test]
async fn consume_outside_the_validity_window_is_refused() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, "A1:1", 1).await;
        h.post("/admin/clock", json!({"advance_seconds": 40 * 86_400})).await;
        let c = h
            .call(
                "taobao.vmarket.eticket.consume",
                &[("order_id", &id), ("verify_code", "A1"), ("consume_num", "1"), ("token", &token)],
            )
            .await;
        assert_eq!(error_of(&c)["sub_code"], "isv.eticket-code-error:code-not-in-valid-time");
    }
}

#[tokio::test]
async fn a_code_merchant_needs_its_posid_and_can_upload_qr_images() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.register(json!({"app_key": "cm", "session": "s-cm", "codemerchant_id": 77, "posids": ["P1"]})).await;
        // A multipart qrcode.upload: system params in the query, the file part unsigned.
        let mut query = TopRequest::new(
            "taobao.vmarket.eticket.qrcode.upload",
            "cm",
            "s-cm",
            Gmt8Timestamp::from_utc(Utc::now()),
            SignMethod::HmacMd5,
        )
        .param("code_merchant_id", "77")
        .signed(&Secret::new(APP_SECRET));
        query.remove("code_merchant_id");
        let body = "--XX\r\nContent-Disposition: form-data; name=\"code_merchant_id\"\r\n\r\n77\r\n--XX\r\nContent-Disposition: form-data; name=\"img_bytes\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--XX--\r\n";
        let r = h
            .http
            .post(format!("{}/router/rest?{}", h.base, query.to_urlencoded(protocol::params::Charset::Utf8)))
            .header("content-type", "multipart/form-data; boundary=XX")
            .body(body)
            .send()
            .await
            .unwrap();
        let upload: Value = r.json().await.unwrap();
        let image = upload["vmarket_eticket_qrcode_upload_response"]["img_filename"]
            .as_str()
            .unwrap_or_else(|| panic!("{upload}"))
            .to_owned();
        // A 码商's order names the shop that sold it.
        let order = h.buy(json!({"app_key": "cm", "num": 1, "seller_nick": "景区旗舰店", "taobao_sid": 555})).await;
        let (id, token) = (id_of(&order).to_string(), token_of(&order));
        let n = h.next_notification().await;
        assert_eq!((n.get("seller_nick"), n.get("taobao_sid")), ("景区旗舰店", "555"));
        let send = [
            ("order_id", id.as_str()),
            ("verify_codes", "Q1:1"),
            ("token", token.as_str()),
            ("qr_images", image.as_str()),
        ];
        let no_cm = h.call_as("cm", "s-cm", "taobao.vmarket.eticket.send", &send).await;
        assert_eq!(error_of(&no_cm)["sub_code"], "isv.eticket-privilege-error:order-not-belongto-seller");
        let mut with_cm = send.to_vec();
        with_cm.push(("codemerchant_id", "77"));
        let ok = h.call_as("cm", "s-cm", "taobao.vmarket.eticket.send", &with_cm).await;
        assert!(error_of(&ok).is_null(), "{ok}");
        let consume = |posid: &'static str| {
            let mut p = vec![
                ("order_id", id.as_str()),
                ("verify_code", "Q1"),
                ("consume_num", "1"),
                ("token", token.as_str()),
                ("codemerchant_id", "77"),
            ];
            if !posid.is_empty() {
                p.push(("posid", posid));
            }
            p
        };
        let a = h.call_as("cm", "s-cm", "taobao.vmarket.eticket.consume", &consume("")).await;
        assert_eq!(error_of(&a)["sub_code"], "isv.eticket-invalid-parameter:invalid-posid");
        let b = h.call_as("cm", "s-cm", "taobao.vmarket.eticket.consume", &consume("P2")).await;
        assert_eq!(error_of(&b)["sub_code"], "isv.eticket-invalid-posid:invalid-pos-for-codemerchant");
        let codes = h
            .call_as("cm", "s-cm", "taobao.vmarket.eticket.codes.get", &[("order_id", &id), ("codemerchant_id", "77")])
            .await;
        let url = codes["vmarket_eticket_codes_get_response"]["eticket_codes"]["eticket_code"][0]["qrcode_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{codes}"))
            .to_owned();
        assert_eq!(h.http.get(url).send().await.unwrap().bytes().await.unwrap().as_ref(), b"PNGDATA");
        let c = h.call_as("cm", "s-cm", "taobao.vmarket.eticket.consume", &consume("P1")).await;
        assert!(error_of(&c).is_null(), "{c}");
        // A 码商 did not sell the order: no trade for it (§5.13).
        let t = h.call_as("cm", "s-cm", "taobao.trade.fullinfo.get", &[("fields", "tid"), ("tid", &id)]).await;
        assert_eq!(error_of(&t)["sub_code"], "isv.trade-not-exist");
    }
}

/// A NUL character in a call's text params (the one character PostgreSQL's text cannot hold) gets the same answer
/// on every backend, and whatever the call stores reads back unchanged.
#[tokio::test]
async fn nul_characters_in_params_are_answered_alike_on_every_backend() {
    let mut answers = Vec::new();
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (id, token) = issued(&h, "N1:3", 3).await;
        // One unit of N1 with this serial and mobile.
        let consume = async |serial: &str, mobile: &str| {
            let params = [
                ("order_id", id.as_str()),
                ("verify_code", "N1"),
                ("consume_num", "1"),
                ("token", token.as_str()),
                ("serial_num", serial),
                ("mobile", mobile),
            ];
            h.call("taobao.vmarket.eticket.consume", &params).await
        };
        let consumed = consume("s\u{0}1", "138\u{0}").await;
        // Accepted or not, alike; if accepted, the NUL comes back in the oplog as it went in.
        let nul_mobile = consume("s2", "1380013\u{0}").await;
        let unknown_code = h
            .call(
                "taobao.vmarket.eticket.consume",
                &[("order_id", &id), ("verify_code", "N\u{0}1"), ("consume_num", "1"), ("token", &token)],
            )
            .await;
        let nul_app = h.call_as("k\u{0}", SESSION, "taobao.vmarket.eticket.codes.get", &[("order_id", &id)]).await;
        let oplog = h.call("taobao.vmarket.eticket.oplogs.get", &[("type", "0")]).await;
        let order = h.get(&format!("/admin/orders/{id}")).await.1;
        let strip = |mut v: Value| {
            // What differs by run, not by backend.
            if let Some(e) = v.get_mut("error_response") {
                e["request_id"] = Value::Null;
            }
            v
        };
        answers.push((
            strip(nul_mobile)["error_response"].clone(),
            strip(consumed)["error_response"].clone(),
            strip(unknown_code)["error_response"].clone(),
            strip(nul_app)["error_response"].clone(),
            oplog.to_string().contains("\\u0000"),
            order["left_num"].clone(),
        ));
    }
    assert_eq!(answers[1], answers[0], "SQLite answers as memory");
    assert_eq!(answers[2], answers[0], "PostgreSQL answers as memory");
}
