//! `--db`: a restart loses nothing, and pending deliveries and auto-closes resume (in-process and via the
//! real binary killed with SIGKILL).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Harness, TempDb, answer, error_of, id_of, token_of};

/// Buys an order and waits until its `send` is acknowledged.
async fn notified(h: &Harness, num: u32) -> (i64, String) {
    let order = h.buy(json!({"num": num})).await;
    let id = id_of(&order);
    h.wait_order(id, "NOTIFIED", |o| o["state"] == "NOTIFIED").await;
    (id, token_of(&order))
}

async fn issue(h: &Harness, id: i64, token: &str, codes: &str) {
    let a = h.codes("taobao.vmarket.eticket.send", id, codes, token).await;
    assert!(error_of(&a).is_null(), "{a}");
}

async fn consume(h: &Harness, id: i64, token: &str, code: &str, num: &str, serial: &str) {
    let c = h
        .call(
            "taobao.vmarket.eticket.consume",
            &[
                ("order_id", &id.to_string()),
                ("verify_code", code),
                ("consume_num", num),
                ("token", token),
                ("serial_num", serial),
            ],
        )
        .await;
    assert!(error_of(&c).is_null(), "{c}");
}

/// Everything observable about the platform's data through the admin API.
async fn everything(h: &Harness, ids: &[i64]) -> Value {
    let (_, merchant) = h.get(&format!("/admin/merchants/{}", crate::support::APP_KEY)).await;
    let (_, orders) = h.get("/admin/orders").await;
    let (_, faults) = h.get("/admin/faults").await;
    let (_, clock) = h.get("/admin/clock").await;
    let mut exchanges = Vec::new();
    for id in ids {
        exchanges.push(h.get(&format!("/admin/orders/{id}/exchanges")).await.1);
    }
    json!({"merchant": merchant, "orders": orders, "faults": faults, "offset": clock["offset_seconds"],
           "exchanges": exchanges})
}

#[tokio::test]
async fn a_restart_with_a_database_loses_nothing_and_resumes_deliveries_and_auto_closes() {
    let db = TempDb::new("restart");
    let mut h = Harness::with_db(&db.0).await;
    let (issued, t1) = notified(&h, 2).await;
    issue(&h, issued, &t1, "I1:1,I2:1").await;
    let (partly, t2) = notified(&h, 2).await;
    issue(&h, partly, &t2, "P1:2").await;
    consume(&h, partly, &t2, "P1", "1", "s_1").await;
    let (consumed, t3) = notified(&h, 1).await;
    issue(&h, consumed, &t3, "C1:1").await;
    consume(&h, consumed, &t3, "C1", "1", "s_2").await;
    let (cancelled, _) = notified(&h, 1).await;
    assert_eq!(h.post(&format!("/admin/orders/{cancelled}/refund"), json!({})).await.0, 202);
    h.wait_order(cancelled, "cancel acknowledged", |o| o["notifications"]["queued"] == json!([])).await;
    let (closed, t4) = notified(&h, 1).await;
    let f = h
        .call(
            "taobao.vmarket.eticket.failsend",
            &[("order_id", &closed.to_string()), ("token", &t4), ("error_code", "1")],
        )
        .await;
    assert!(error_of(&f).is_null(), "{f}");
    let (waiting, _) = notified(&h, 1).await;
    // A gateway fault still pending and a platform clock moved forward survive too.
    let (status, _) = h
        .post("/admin/faults", json!({"target": "gateway", "method": "taobao.vmarket.eticket.consume", "delay_ms": 1}))
        .await;
    assert_eq!(status, 201);
    h.post("/admin/clock", json!({"advance_seconds": 60})).await;
    // The merchant fails the next send: it stays queued, its retry due 15 s later.
    h.respond_with(answer(500, b"busy"));
    let pending = id_of(&h.buy(json!({})).await);
    h.wait_order(pending, "first attempt failed", |o| {
        o["notifications"]["queued"][0]["attempts"] == 1 && o["notifications"]["queued"][0]["in_flight"] == false
    })
    .await;
    let ids = [issued, partly, consumed, cancelled, closed, waiting, pending];
    let before = everything(&h, &ids).await;
    let states: Vec<_> =
        before["orders"]["orders"].as_array().unwrap().iter().map(|o| o["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["ISSUED", "PARTLY_CONSUMED", "CONSUMED", "CANCELLED", "CLOSED", "NOTIFIED", "PAID"]);

    h.restart().await;
    assert_eq!(everything(&h, &ids).await, before);
    assert_eq!(h.order(partly).await["codes"][0]["left"], 1);

    // The queued send resumes when its retry is due, and the acknowledger now accepts it.
    h.respond_with(answer(200, br#"{"code":200}"#));
    h.post("/admin/clock", json!({"advance_seconds": 15})).await;
    let order = h.wait_order(pending, "NOTIFIED after restart", |o| o["state"] == "NOTIFIED").await;
    assert_eq!(order["notifications"]["acknowledged"], json!(["send"]));
    let exchanges = h.exchanges(pending).await;
    assert_eq!(exchanges.len(), 2);
    assert_eq!((exchanges[1]["attempt"].as_i64(), exchanges[1]["acknowledged"].as_bool()), (Some(2), Some(true)));
    // The auto-close timer of an unissued order fires after the restart (T4, 2 h after payment).
    h.post("/admin/clock", json!({"advance_seconds": 2 * 3600})).await;
    assert_eq!(h.order(waiting).await["state"], "CLOSED");
    assert_eq!(h.order(issued).await["state"], "ISSUED");
}

/// The real binary on a loopback port of its own choosing.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(db: &TempDb) -> Self {
        // `--listen 127.0.0.1:0` and the address read from its first log line: a port picked here and freed before
        // the child binds it could be taken by another test's server in between.
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-platform"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db.0)
            .env_remove("MOCK_PLATFORM_ADMIN_TOKEN")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let first = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            // The rest of its log is read and dropped, so a full pipe never stops the child.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            line
        })
        .await
        .unwrap();
        let addr = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        // The port is bound before that line is written: requests wait in its backlog until it serves.
        Self { base: format!("http://{addr}"), child }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_binary_killed_with_sigkill_restarts_from_its_database_and_delivers_the_pending_send() {
    let db = TempDb::new("sigkill");
    // The in-test merchant (its notify URL is stored in the database) answers 500 at first.
    let h = Harness::start().await;
    h.respond_with(answer(500, b"busy"));
    let server = Server::start(&db).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = http.post(format!("{}{path}", server.base)).json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, m) = post(
        "/admin/merchants",
        json!({"app_key": "bin", "app_secret": "s", "notify_key": "k", "notify_url": h.merchant_url,
               "session": "bin-session", "phase": "live"}),
    )
    .await;
    assert_eq!(status, 201, "{m}");
    post("/admin/clock", json!({"advance_seconds": 30})).await;
    let (status, order) =
        post("/admin/orders", json!({"app_key": "bin", "num": 1, "mobile": "13800000000", "item_title": "票"})).await;
    assert_eq!(status, 201, "{order}");
    let id = id_of(&order);
    let get = |base: String, path: String| async move {
        reqwest::get(format!("{base}{path}")).await.unwrap().json::<Value>().await.unwrap()
    };
    // Wait for the first attempt to have been refused; its retry is due 15 s later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let before = loop {
        let o = get(server.base.clone(), format!("/admin/orders/{id}")).await;
        let head = &o["notifications"]["queued"][0];
        if head["attempts"] == 1 && head["in_flight"] == false {
            break o;
        }
        assert!(tokio::time::Instant::now() < deadline, "no refused attempt: {o}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let exchanges_before = get(server.base.clone(), format!("/admin/orders/{id}/exchanges")).await;
    server.kill();

    let server = Server::start(&db).await;
    assert_eq!(get(server.base.clone(), format!("/admin/orders/{id}")).await, before);
    assert_eq!(get(server.base.clone(), format!("/admin/orders/{id}/exchanges")).await, exchanges_before);
    assert_eq!(get(server.base.clone(), "/admin/clock".into()).await["offset_seconds"].as_i64(), Some(30));
    h.respond_with(answer(200, br#"{"code":200}"#));
    http.post(format!("{}/admin/clock", server.base)).json(&json!({"advance_seconds": 3600})).send().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let o = get(server.base.clone(), format!("/admin/orders/{id}")).await;
        if o["state"] == "NOTIFIED" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the pending send was not delivered: {o}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
