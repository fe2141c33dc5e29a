//! The admin API's answers and error shapes, auth, the container login, garbage input.

use std::time::Duration;

use mock_platform::PlatformConfig;
use protocol::Secret;
use serde_json::json;

use crate::support::{APP_KEY, Harness, backends, id_of};

#[tokio::test]
async fn a_registered_merchant_is_answered_with_secrets_masked() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (status, m) = h.get(&format!("/admin/merchants/{APP_KEY}")).await;
        assert_eq!(status, 200);
        assert_eq!(m["app_key"], APP_KEY);
        let text = m.to_string();
        assert!(!text.contains(crate::support::APP_SECRET) && !text.contains(crate::support::NOTIFY_KEY), "{text}");
        assert_eq!(m["daily_quota"], 5000);
        let (status, body) = h.register(json!({})).await;
        assert_eq!(status, 409, "{body}");
    }
}

#[tokio::test]
async fn bad_admin_bodies_answer_4xx_naming_the_field() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let cases = [
            (json!({"app_key": APP_KEY, "mobile": "1", "item_title": "t"}), 400, "num"),
            (json!({"app_key": APP_KEY, "num": "two", "mobile": "1", "item_title": "t"}), 400, "num"),
            (json!({"app_key": APP_KEY, "num": 0, "mobile": "1", "item_title": "t"}), 400, "num"),
            (json!({"app_key": APP_KEY, "num": 1, "mobile": "1", "item_title": " "}), 400, "item_title"),
            (json!({"app_key": APP_KEY, "num": 1, "mobile": "1", "item_title": "t", "weeks": "[9]"}), 400, "weeks"),
            (
                json!({"app_key": APP_KEY, "num": 1, "mobile": "1", "item_title": "t", "valid_ends": "2020-01-01"}),
                400,
                "valid_ends",
            ),
            (
                json!({"app_key": APP_KEY, "num": 1, "mobile": "1", "item_title": "t", "valid_start": "2020-01-01 00:00:00", "valid_ends": "2020-01-01 00:00:00"}),
                422,
                "FAQ 2.28",
            ),
            (json!({"app_key": "nobody", "num": 1, "mobile": "1", "item_title": "t"}), 404, "app_key"),
        ];
        for (body, status, needle) in cases {
            let (got, answer) = h.post("/admin/orders", body.clone()).await;
            assert_eq!(got, status, "{body} → {answer}");
            assert!(answer["error"].as_str().unwrap().contains(needle), "{body} → {answer}");
        }
        let response = h
            .http
            .post(format!("{}/admin/orders", h.base))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string());
        let (status, body) = h.get("/admin/nothing-here").await;
        assert_eq!((status, body["error"].is_string()), (404, true));
        let (status, _) = h.get("/admin/orders/123").await;
        assert_eq!(status, 404);
        let (status, body) = h.get("/admin/orders?state=DONE").await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn a_test_phase_merchant_only_gets_orders_for_its_test_mobiles() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let (status, _) = h
            .register(json!({"app_key": "t1", "session": "s-t1", "phase": "test", "test_mobiles": ["13000000001"]}))
            .await;
        assert_eq!(status, 201);
        let (status, body) = h
            .post("/admin/orders", json!({"app_key": "t1", "num": 1, "mobile": "13000000002", "item_title": "t"}))
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].as_str().unwrap().contains("test_mobiles"));
        let (status, _) = h
            .post("/admin/orders", json!({"app_key": "t1", "num": 1, "mobile": "13000000001", "item_title": "t"}))
            .await;
        assert_eq!(status, 201);
    }
}

#[tokio::test]
async fn orders_are_listed_by_app_and_state() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let id = id_of(&h.buy(json!({})).await);
        let (status, body) = h.get(&format!("/admin/orders?app_key={APP_KEY}&state=PAID")).await;
        assert_eq!(status, 200);
        assert!(
            body["orders"].as_array().unwrap().iter().any(|o| o["order_id"] == id) || {
                // The send may already be acknowledged.
                h.order(id).await["state"] == "NOTIFIED"
            }
        );
        let (_, body) = h.get("/admin/orders?app_key=other").await;
        assert_eq!(body["orders"].as_array().unwrap().len(), 0);
    }
}

#[tokio::test]
async fn an_admin_token_guards_admin_and_console_but_not_the_gateway() {
    let config = PlatformConfig { admin_token: Some(Secret::new("tok")), ..Default::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let platform = mock_platform::Platform::new(config);
    tokio::spawn(mock_platform::run(listener, platform, std::future::pending()));
    let http = reqwest::Client::new();
    let r = http.post(format!("{base}/admin/clock")).json(&json!({"advance_seconds": 1})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    assert_eq!(http.get(format!("{base}/console")).send().await.unwrap().status(), 401);
    let r = http.get(format!("{base}/admin/clock")).bearer_auth("tok").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/router/rest")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<code>21</code>"));
    // Probes and scrapers carry no token.
    for path in ["/healthz", "/metrics"] {
        assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_container_redirects_to_the_callback_url_with_the_session() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        h.register(json!({"app_key": "c1", "session": "s c1", "callback_url": "http://127.0.0.1:9/cb"})).await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = http.get(format!("{}/container?appkey=c1", h.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16() / 100, 3);
        assert_eq!(r.headers()["location"], "http://127.0.0.1:9/cb?top_session=s+c1");
    }
}

#[tokio::test]
async fn garbage_requests_never_break_the_server() {
    for backend in backends() {
        let h = Harness::start_on(backend).await;
        let bodies: [&[u8]; 5] = [b"\xff\xfe\x00", b"=&&==&%", b"method=%ZZ", b"a=%E9%93", &[b'x'; 4096]];
        for body in bodies {
            for ct in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "application/json"] {
                let r = h
                    .http
                    .post(format!("{}/router/rest", h.base))
                    .header("content-type", ct)
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert!(r.text().await.unwrap().contains("<code>"));
                let r = h
                    .http
                    .post(format!("{}/admin/orders", h.base))
                    .header("content-type", ct)
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_client_error());
            }
        }
        let big = vec![b'a'; 2 << 20];
        let r = h
            .http
            .post(format!("{}/router/rest", h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("<code>43</code>"));
        let r = tokio::time::timeout(Duration::from_secs(5), h.http.get(format!("{}/admin/clock", h.base)).send())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn run_returns_on_shutdown_without_waiting_for_pending_retries() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let platform = mock_platform::Platform::new(PlatformConfig::default());
    let mut merchant = mock_platform::NewMerchant::new("k", "s", "n", "http://127.0.0.1:9/notify");
    merchant.phase = Some(mock_platform::model::Phase::Live);
    platform.add_merchant(merchant).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mock_platform::run(listener, platform.clone(), async move {
        let _ = stopped.await;
    }));
    let order = platform.create_order(mock_platform::NewOrderBody::new("k", 1, "13800000000", "t")).unwrap();
    let id = id_of(&order);
    // Port 9 refuses: the first attempt fails fast and a retry is scheduled 15 s later.
    for _ in 0..500 {
        if platform.exchanges_json(id).unwrap()["exchanges"].as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(platform.exchanges_json(id).unwrap()["exchanges"][0]["acknowledged"], false);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server).await.expect("run returns within 5 s");
    assert!(result.unwrap().is_ok());
    assert_eq!(platform.order_json(id).unwrap()["notifications"]["queued"][0]["attempts"], 1);
}
