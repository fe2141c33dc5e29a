//! Hostile admin input (issue 10): bounds, unknown fields, error shapes, secrets in answers.

use serde_json::{Value, json};

use crate::support::{APP_KEY, Harness, backends, error_of, id_of};

/// Asserts that `answer` is `{"error": …}` naming `needle`.
fn names(answer: &Value, needle: &str, context: &impl std::fmt::Display) {
    let error = answer["error"].as_str().unwrap_or_else(|| panic!("{context} → no error string: {answer}"));
    assert!(error.contains(needle), "{context} → {error:?} does not name {needle:?}");
}

#[tokio::test]
async fn clock_advances_outside_0_to_ten_years_are_refused_naming_the_field() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let body = |value: &str| format!(r#"{{"advance_seconds": {value}}}"#);
        for value in [
            "9223372036854775807",
            "18446744073709551615",
            "10000000000000",
            "1e13",
            "-1",
            "1.5",
            "\"10\"",
            "315360001",
            "null",
        ] {
            let response = h
                .http
                .post(format!("{}/admin/clock", h.base))
                .header("content-type", "application/json")
                .body(body(value))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{value}");
            names(&response.json().await.unwrap(), "advance_seconds", &value);
        }
        let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 1, "app_key": "nobody"})).await;
        assert_eq!(status, 404, "{answer}");
        names(&answer, "app_key", &"an unknown app advanced");
        let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": -1, "app_key": APP_KEY})).await;
        assert_eq!(status, 400, "{answer}");
        names(&answer, "advance_seconds", &"a negative per-merchant advance");
        let (status, answer) = h.get("/admin/clock").await;
        assert_eq!((status, answer["offset_seconds"].as_i64()), (200, Some(0)), "{answer}");
        let (status, answer) = h.get(&format!("/admin/clock?app_key={APP_KEY}")).await;
        assert_eq!((status, answer["offset_seconds"].as_i64()), (200, Some(0)), "{answer}");
        let (status, answer) = h.get("/admin/clock?app_key=nobody").await;
        assert_eq!(status, 404, "{answer}");
        names(&answer, "app_key", &"an unknown app");
        let (status, answer) = h.get("/admin/clock?app=x").await;
        assert_eq!(status, 400, "{answer}");
        names(&answer, "app", &"an unknown query field");
    }
}

#[tokio::test]
async fn repeated_maximal_clock_advances_leave_every_route_working() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let mut refused = None;
        for round in 0..120 {
            let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 315_360_000})).await;
            match status {
                200 => assert!(answer["now"].as_str().unwrap().len() == 19, "{answer}"),
                400 => {
                    names(&answer, "advance_seconds", &round);
                    refused = Some(round);
                    break;
                }
                other => panic!("round {round}: {other} {answer}"),
            }
        }
        assert!(refused.is_some_and(|round| round >= 90), "the clock stopped at round {refused:?}");
        let (status, clock) = h.get("/admin/clock").await;
        assert_eq!(status, 200);
        let now = clock["now"].as_str().unwrap();
        assert!(now.len() == 19 && now.starts_with(|c: char| c.is_ascii_digit()), "{clock}");
        let (status, answer) = h.post("/admin/clock", json!({"advance_seconds": 0})).await;
        assert_eq!(status, 200, "{answer}");
        let (status, merchant) = h.register(json!({"app_key": "later", "session": "s-later"})).await;
        assert_eq!(status, 201, "{merchant}");
        let order = h.buy(json!({"app_key": "later"})).await;
        let codes = h
            .call_as(
                "later",
                "s-later",
                "taobao.vmarket.eticket.codes.get",
                &[("order_id", &id_of(&order).to_string())],
            )
            .await;
        assert!(error_of(&codes).is_null(), "{codes}");
        // The standard merchant's session expired centuries ago on the order clock: an envelope, not a panic.
        let old = h.call("taobao.vmarket.eticket.codes.get", &[("order_id", &id_of(&order).to_string())]).await;
        assert_eq!(error_of(&old)["code"], 27, "{old}");
    }
}

#[tokio::test]
async fn faults_that_could_never_fire_or_would_hang_a_call_are_refused() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let consume = "taobao.vmarket.eticket.consume";
        let cases = [
            (json!({"target": "gateway", "method": consume, "delay_ms": 60_001}), 400, "delay_ms"),
            (json!({"target": "gateway", "method": consume, "delay_ms": u64::MAX}), 400, "delay_ms"),
            (json!({"target": "gateway", "method": "taobao.nope", "delay_ms": 1}), 400, "method"),
            (json!({"target": "gateway", "method": consume, "order_id": 999_999, "delay_ms": 1}), 404, "order_id"),
            (json!({"target": "gateway", "method": consume, "delay_ms": 1, "fault": "tamper"}), 400, "fault"),
            (json!({"target": "notification", "order_id": 999_999, "fault": "tamper"}), 404, "order_id"),
            (json!({"target": "notification", "order_id": 1, "fault": "tamper", "times": 3}), 400, "times"),
        ];
        for (body, status, needle) in cases {
            let (got, answer) = h.post("/admin/faults", body.clone()).await;
            assert_eq!(got, status, "{body} → {answer}");
            names(&answer, needle, &body);
        }
        let order = |fault: Value| json!({"app_key": APP_KEY, "num": 1, "mobile": "13800000000", "item_title": "t", "gateway_faults": [fault]});
        let cases = [
            (json!({"method": consume, "delay_ms": u64::MAX}), "gateway_faults[0].delay_ms"),
            (json!({"method": "taobao.nope", "times": 1, "delay_ms": 5}), "gateway_faults[0].method"),
        ];
        for (fault, needle) in cases {
            let (got, answer) = h.post("/admin/orders", order(fault.clone())).await;
            assert_eq!(got, 400, "{fault} → {answer}");
            names(&answer, needle, &fault);
        }
        let (_, pending) = h.get("/admin/faults").await;
        assert_eq!(pending["gateway"].as_array().map(Vec::len), Some(0), "{pending}");
        let (status, answer) =
            h.post("/admin/faults", json!({"target": "gateway", "method": consume, "delay_ms": 60_000})).await;
        assert_eq!(status, 201, "{answer}");
    }
}

#[tokio::test]
async fn unknown_fields_in_any_admin_body_are_refused_naming_the_field() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let order = json!({"app_key": APP_KEY, "num": 1, "mobile": "13800000000", "item_title": "t"});
        let with = |base: &Value, extra: Value| {
            let mut body = base.clone();
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        let merchant =
            json!({"app_key": "typo", "app_secret": "a-secret", "notify_key": "n-key", "notify_url": h.merchant_url});
        let cases = [
            ("/admin/merchants".to_owned(), with(&merchant, json!({"daily_qouta": 10})), "daily_qouta"),
            ("/admin/orders".to_owned(), with(&order, json!({"valid_end": "2030-01-01 00:00:00"})), "valid_end"),
            (
                "/admin/orders".to_owned(),
                with(&order, json!({"gateway_faults": [{"method": "taobao.vmarket.eticket.send", "delay": 5}]})),
                "delay",
            ),
            ("/admin/orders".to_owned(), with(&order, json!({"alteration": {"kind": "tamper", "param": {}}})), "param"),
            (format!("/admin/orders/{id}/extend"), json!({"valid_end": "2030-01-01 00:00:00"}), "valid_end"),
            (format!("/admin/orders/{id}/modify-mobile"), json!({"mobil": "13900000000"}), "mobil"),
            (format!("/admin/orders/{id}/resend"), json!({"force": true}), "force"),
            (format!("/admin/orders/{id}/refund"), json!({"mobile": "13900000000"}), "mobile"),
            (
                "/admin/faults".to_owned(),
                json!({"target": "gateway", "method": "taobao.vmarket.eticket.send", "tiems": 1, "delay_ms": 1}),
                "tiems",
            ),
            (
                "/admin/faults".to_owned(),
                json!({"target": "gateway", "method": "taobao.vmarket.eticket.send", "answer": {"code": 7, "sub_cod": "x"}}),
                "sub_cod",
            ),
            ("/admin/clock".to_owned(), json!({"advance_seconds": 1, "seconds": 1}), "seconds"),
        ];
        for (path, body, field) in cases {
            let (status, answer) = h.post(&path, body.clone()).await;
            assert_eq!(status, 400, "{path} {body} → {answer}");
            names(&answer, field, &format!("{path} {body}"));
        }
        let (status, answer) = h.get("/admin/orders?stat=PAID").await;
        assert_eq!(status, 400, "{answer}");
        names(&answer, "stat", &"?stat=PAID");
        let (_, merchants) = h.get("/admin/merchants").await;
        assert_eq!(merchants["merchants"].as_array().map(Vec::len), Some(1), "{merchants}");
        let order = h.order(id).await;
        assert_eq!(order["mobile"], "13800000000", "{order}");
        assert!(matches!(order["state"].as_str(), Some("PAID" | "NOTIFIED")), "{order}");
    }
}

#[tokio::test]
async fn every_admin_error_is_json_naming_what_is_wrong() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let url = |path: &str| format!("{}{path}", h.base);
        let json_body = r#"{"app_key": "12345678", "num": 1, "mobile": "1", "item_title": "t"}"#;
        let requests = [
            (h.http.get(url("/admin/orders/%FF")), 400, "order_id"),
            (h.http.get(url("/admin/orders/abc")), 400, "order_id"),
            (h.http.get(url("/admin/orders/%FF/case")), 400, "order_id"),
            (h.http.get(url("/admin/orders/abc/exchanges")), 400, "order_id"),
            (h.http.delete(url("/admin/faults/abc")), 400, "id"),
            (h.http.delete(url("/admin/faults/%FF")), 400, "id"),
            (h.http.get(url("/admin/orders?state=PAID&state=ISSUED")), 400, "state"),
            (h.http.get(url("/admin/orders?state=DONE")), 400, "state"),
            (h.http.post(url("/admin/orders")).body(json_body), 415, "Content-Type"),
            (
                h.http.post(url("/admin/orders")).header("content-type", "text/plain").body(json_body),
                415,
                "Content-Type",
            ),
            (
                h.http.post(url("/admin/orders")).header("content-type", "application/json").body("{not json"),
                400,
                "JSON",
            ),
            (
                h.http.post(url("/admin/orders")).header("content-type", "application/json").body("[1, 2]"),
                400,
                "body: must be a JSON object",
            ),
            (h.http.post(url("/admin/orders")).json(&json!({"app_key": 5})), 400, "app_key"),
            (h.http.post(url("/admin/orders/1/extend")).body(r#"{"valid_ends": 5}"#), 400, "valid_ends"),
            (h.http.post(url("/admin/orders/1/extend")).body("{"), 400, "JSON"),
            (h.http.put(url("/admin/orders")), 405, "PUT"),
            (h.http.delete(url("/admin/clock")), 405, "DELETE"),
            (h.http.get(url("/admin/nothing-here")), 404, "/admin/nothing-here"),
            (h.http.post(url("/admin")), 404, "/admin"),
        ];
        for (request, status, needle) in requests {
            let request = request.build().unwrap();
            let what = format!("{} {}", request.method(), request.url());
            let response = h.http.execute(request).await.unwrap();
            assert_eq!(response.status(), status, "{what}");
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            assert_eq!(content_type, "application/json", "{what}");
            names(&response.json().await.unwrap(), needle, &what);
        }
    }
}

#[tokio::test]
async fn a_client_always_reads_the_413_of_a_body_over_2_mib() {
    let h = Harness::start().await;
    let big = vec![b' '; 3 << 20];
    for (round, path) in ["/admin/orders", "/admin/merchants", "/admin/orders/1/resend", "/admin/clock"]
        .iter()
        .cycle()
        .take(12)
        .enumerate()
    {
        let response = h
            .http
            .post(format!("{}{path}", h.base))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}, {path}: no answer read: {e}"));
        assert_eq!(response.status(), 413, "{path}");
        names(&response.json().await.unwrap(), "body", &path);
    }
    let (status, _) = h.get("/admin/clock").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_oversized_body_is_read_to_its_end_so_the_connection_survives_its_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start().await;
    let big = vec![b' '; 3 << 20];
    for (path, status) in [("/admin/orders", "413"), ("/admin/no-such-route", "404"), ("/admin/clock/x", "404")] {
        let mut stream = tokio::net::TcpStream::connect(h.base.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            big.len()
        );
        let exchange = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&big).await?;
            // A second request on the same connection: answered only if the server read the first body to its end.
            stream.write_all(b"GET /admin/clock HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
            let mut answers = Vec::new();
            stream.read_to_end(&mut answers).await?;
            std::io::Result::Ok(String::from_utf8_lossy(&answers).into_owned())
        };
        let answers =
            tokio::time::timeout(std::time::Duration::from_secs(20), exchange).await.expect("a deadline").unwrap();
        assert!(answers.starts_with(&format!("HTTP/1.1 {status}")), "{path}: {answers}");
        assert!(answers.contains("HTTP/1.1 200") && answers.contains("offset_seconds"), "{path}: {answers}");
    }
}

#[tokio::test]
async fn values_no_real_merchant_or_order_has_are_refused_naming_the_field() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let huge = "k".repeat(1 << 20);
        let merchant = |extra: Value| {
            let mut body = json!({"app_key": "v1", "session": "s-v1"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        let merchants = [
            (json!({"taobao_sid": -5}), "taobao_sid"),
            (json!({"codemerchant_id": -1}), "codemerchant_id"),
            (json!({"app_key": huge}), "app_key"),
            (json!({"app_key": "a b"}), "app_key"),
            (json!({"app_key": ""}), "app_key"),
            (json!({"app_secret": "same-secret", "notify_key": "same-secret"}), "notify_key"),
            (json!({"session": huge}), "session"),
            (json!({"seller_nick": huge}), "seller_nick"),
            (json!({"notify_url": format!("http://127.0.0.1:9/{huge}")}), "notify_url"),
            (json!({"test_mobiles": ["13800000000", huge]}), "test_mobiles[1]"),
            (json!({"posids": [""]}), "posids[0]"),
        ];
        for (extra, field) in merchants {
            let (status, answer) = h.register(merchant(extra.clone())).await;
            assert_eq!(status, 400, "{field} → {answer}");
            names(&answer, field, &field);
        }
        let order = |extra: Value| {
            let mut body = json!({"app_key": APP_KEY, "num": 1, "mobile": "13800000000", "item_title": "t"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        let extra = |params: Value| json!({"alteration": {"kind": "extra_params", "params": params}});
        let orders = [
            (json!({"num_iid": -1}), "num_iid"),
            (json!({"taobao_sid": -1}), "taobao_sid"),
            (json!({"item_title": huge}), "item_title"),
            (json!({"mobile": huge}), "mobile"),
            (json!({"sms_template": huge}), "sms_template"),
            (json!({"weeks": format!("[{}]", "1,".repeat(1000))}), "weeks"),
            (extra(json!({"sign": "x"})), "params.sign"),
            (extra(json!({"method": "taobao.nope"})), "params.method"),
            (extra(json!({"order_id": "1"})), "params.order_id"),
            (extra(json!({"timestamp": "1"})), "params.timestamp"),
            (extra(json!({"": "x"})), "params"),
            (extra(json!({"md5_mobile": ""})), "params.md5_mobile"),
            (json!({"alteration": {"kind": "tamper", "params": {"a": "b"}}}), "params"),
        ];
        for (extra, field) in orders {
            let (status, answer) = h.post("/admin/orders", order(extra.clone())).await;
            assert_eq!(status, 400, "{extra} → {answer}");
            names(&answer, field, &extra);
        }
        let (_, merchants) = h.get("/admin/merchants").await;
        assert_eq!(merchants["merchants"].as_array().map(Vec::len), Some(1), "{merchants}");
        let (_, orders) = h.get("/admin/orders").await;
        assert_eq!(orders["orders"].as_array().map(Vec::len), Some(0), "{orders}");
        // The extra params a C1 check sends are still taken.
        let id_card = extra(json!({"sub_method": "1", "md5_mobile": "8f14e45f", "id_card": "身份证未提供"}));
        let (status, answer) = h.post("/admin/orders", order(id_card)).await;
        assert_eq!(status, 201, "{answer}");
    }
}

#[tokio::test]
async fn the_session_is_shown_in_full_only_in_the_answer_that_created_it() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (status, given) = h.register(json!({"app_key": "given", "session": "6102given-session-key"})).await;
        assert_eq!((status, given["session"].as_str()), (201, Some("6102given-session-key")), "{given}");
        let (status, generated) = h
        .post(
            "/admin/merchants",
            json!({"app_key": "generated", "app_secret": "a-secret", "notify_key": "n-key", "notify_url": h.merchant_url}),
        )
        .await;
        assert_eq!(status, 201, "{generated}");
        let session = generated["session"].as_str().unwrap().to_owned();
        assert!(session.starts_with("6102") && session.len() == 36, "{generated}");
        for (key, secret) in [("given", "6102given-session-key"), ("generated", session.as_str())] {
            let (status, one) = h.get(&format!("/admin/merchants/{key}")).await;
            assert_eq!(status, 200);
            assert!(!one.to_string().contains(secret), "{one}");
            assert_eq!(one["session"], protocol::Secret::new(secret).masked(), "{one}");
        }
        let (_, all) = h.get("/admin/merchants").await;
        let text = all.to_string();
        for secret in ["6102given-session-key", session.as_str(), crate::support::SESSION] {
            assert!(!text.contains(secret), "{text}");
        }
        // Still the session the gateway takes.
        let order = h.buy(json!({"app_key": "given"})).await;
        let codes = h
            .call_as(
                "given",
                "6102given-session-key",
                "taobao.vmarket.eticket.codes.get",
                &[("order_id", &id_of(&order).to_string())],
            )
            .await;
        assert!(error_of(&codes).is_null(), "{codes}");
    }
}

#[tokio::test]
async fn the_openapi_document_names_every_admin_route_and_the_error_shape() {
    let h = Harness::start().await;
    let (status, doc) = h.get("/admin/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let expected = [
        ("post", "/admin/merchants"),
        ("get", "/admin/merchants"),
        ("get", "/admin/merchants/{app_key}"),
        ("post", "/admin/orders"),
        ("get", "/admin/orders"),
        ("get", "/admin/orders/{order_id}"),
        ("post", "/admin/orders/{order_id}/resend"),
        ("post", "/admin/orders/{order_id}/modify-mobile"),
        ("post", "/admin/orders/{order_id}/refund"),
        ("post", "/admin/orders/{order_id}/extend"),
        ("post", "/admin/orders/{order_id}/rights-protection"),
        ("get", "/admin/orders/{order_id}/exchanges"),
        ("get", "/admin/orders/{order_id}/case"),
        ("post", "/admin/faults"),
        ("get", "/admin/faults"),
        ("delete", "/admin/faults/{id}"),
        ("post", "/admin/clock"),
        ("get", "/admin/clock"),
        ("get", "/admin/openapi.json"),
    ];
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((method.clone(), path.clone()));
            let responses = operation["responses"].as_object().unwrap();
            let error = responses.get("4XX").unwrap_or_else(|| panic!("{method} {path}: no 4XX response"));
            assert_eq!(
                error["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
        }
    }
    documented.sort();
    let mut wanted: Vec<(String, String)> = expected.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    wanted.sort();
    assert_eq!(documented, wanted);
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["properties"]["error"]["type"], "string", "{error}");
    assert_eq!(error["required"], json!(["error"]), "{error}");
    for body in ["NewMerchant", "NewOrderBody", "ActionBody", "FaultBody", "AdvanceClock"] {
        assert_eq!(doc["components"]["schemas"][body]["additionalProperties"], false, "{body} takes unknown fields");
    }
    let clock = &doc["components"]["schemas"]["AdvanceClock"];
    assert_eq!(clock["properties"]["advance_seconds"]["maximum"], 315_360_000, "{clock}");
    assert!(clock["properties"]["app_key"].is_object(), "{clock}");
    assert!(doc["paths"]["/admin/clock"]["post"]["responses"]["404"].is_object(), "an unknown app_key is 404");
    // Every documented route is one the server routes: never the "no route" 404 nor a 405.
    for (method, path) in expected {
        let path = path.replace("{app_key}", APP_KEY).replace("{order_id}", "1").replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = h.http.request(method.clone(), format!("{}{path}", h.base)).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let routed = status != 405 && !body["error"].as_str().is_some_and(|e| e.starts_with("no route"));
        assert!(routed, "{method} {path} → {status} {body}");
    }
}
