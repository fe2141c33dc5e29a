//! Crash safety against a real platform: the merchant binary, killed with SIGKILL and restarted on its database,
//! facing mock-platform as a shared sandbox (three replicas on one PostgreSQL database behind a round-robin load
//! balancer, INTERFACES §1.2), so its calls before and after the crash land on different replicas. The order ends
//! `ISSUED` with the codes the merchant issued before the crash, sent successfully once.

use mock_platform::{Platform, PlatformConfig};
use protocol::SubCode;
use serde_json::{Value, json};
use testkit::balancer::Balanced;
use testkit::postgres::TestDatabase;

use crate::support::*;

const SEND: &str = "taobao.vmarket.eticket.send";

/// Three replicas on a fresh database, each serving and dispatching, behind one balancer.
struct Sandbox {
    replicas: Balanced,
    /// A client that opens a connection per request, so the balancer spreads the test's admin calls too.
    http: reqwest::Client,
    /// Dropped after the replicas (fields drop in order): dropping it drops the database under any open connection.
    _database: TestDatabase,
}

impl Sandbox {
    async fn start() -> Self {
        let database = testkit::postgres::database();
        let url = database.url().to_owned();
        let replicas = Balanced::start(
            3,
            |public_url| {
                let url = url.clone();
                async move {
                    let config = PlatformConfig { gateway_base_url: Some(public_url), ..PlatformConfig::default() };
                    Platform::connect(config, &url).await.unwrap()
                }
            },
            |listener, platform| tokio::spawn(mock_platform::run(listener, platform, std::future::pending())),
        )
        .await;
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        Self { replicas, http, _database: database }
    }

    fn gateway(&self) -> String {
        format!("{}/router/rest", self.replicas.url())
    }

    /// Registers the test merchant (`support`'s credentials) with its notification URL.
    async fn register(&self, notify_url: &str) {
        let body = json!({"app_key": APP_KEY, "app_secret": APP_SECRET, "notify_key": NOTIFY_KEY,
            "notify_url": notify_url, "session": SESSION, "phase": "live"});
        let answer = self.http.post(format!("{}/admin/merchants", self.replicas.url())).json(&body).send().await;
        assert_eq!(answer.unwrap().status(), 201);
    }

    /// Buys an order of `num` with the extra fields of `extra`; its `send` is queued at once.
    async fn buy(&self, num: u32, extra: Value) -> Value {
        let mut body = json!({"app_key": APP_KEY, "num": num, "mobile": "13900000001", "item_title": "银子岩门票"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let answer = self.http.post(format!("{}/admin/orders", self.replicas.url())).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 201);
        answer.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let answer = self.http.get(format!("{}{path}", self.replicas.url())).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        answer.json().await.unwrap()
    }

    async fn order(&self, id: i64) -> Value {
        self.get(&format!("/admin/orders/{id}")).await
    }

    /// The order's `eticket.send` calls as the platform recorded them.
    async fn sends(&self, id: i64) -> Vec<Value> {
        let exchanges = self.get(&format!("/admin/orders/{id}/exchanges")).await;
        exchanges["exchanges"].as_array().unwrap().iter().filter(|e| e["api"] == SEND).cloned().collect()
    }

    /// Polls the order until `state`, failing after [`PATIENCE`].
    async fn await_state(&self, id: i64, state: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let order = self.order(id).await;
            if order["state"] == state {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "not {state} within {PATIENCE:?}: {order}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The platform's codes of an order as sorted `(code, issued count)` pairs, like [`TempDb::codes`] sorted.
fn platform_codes(order: &Value) -> Vec<(String, i64)> {
    let mut codes: Vec<(String, i64)> = order["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap().to_owned(), c["num"].as_i64().unwrap()))
        .collect();
    codes.sort();
    codes
}

fn sorted_codes(db: &TempDb, id: i64) -> Vec<(String, i64)> {
    let mut codes = db.codes(id);
    codes.sort();
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_after_acking_a_send_from_a_shared_platform_it_issues_the_same_codes_once_after_restart() {
    let sandbox = Sandbox::start().await;
    // A gateway that is not there: the callback cannot happen before the crash.
    // Held for the whole test: no other test's server can take the port and answer in its place.
    let refusing = testkit::RefusingPort::new();
    let closed = refusing.url("/router/rest");
    let db = TempDb::new("shared-crash-before");
    let merchant = Process::spawn(&closed, &db.0);
    sandbox.register(&merchant.notify_url()).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(sandbox.buy(3, json!({})).await["order_id"].as_i64().unwrap());
    }
    // Some replica delivered each send and recorded the ack; the merchant has its codes and owes the callback.
    let mut issued = Vec::new();
    for id in &ids {
        sandbox.await_state(*id, "NOTIFIED").await;
        issued.push(sorted_codes(&db, *id));
        assert_eq!(issued.last().unwrap().iter().map(|(_, n)| n).sum::<i64>(), 3);
        assert_eq!(db.outbox(*id), [("send".to_owned(), "pending".to_owned())]);
    }
    merchant.kill();

    let _restarted = Process::spawn(&sandbox.gateway(), &db.0);
    for (id, issued) in ids.iter().zip(&issued) {
        sandbox.await_state(*id, "ISSUED").await;
        assert_eq!(&platform_codes(&sandbox.order(*id).await), issued, "the codes issued before the crash");
        let sends = sandbox.sends(*id).await;
        assert_eq!(sends.len(), 1, "one send: {sends:#?}");
        assert!(sends[0]["error_code"].is_null(), "{sends:#?}");
        eventually(|| (db.outbox(*id) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
        assert_eq!(&sorted_codes(&db, *id), issued);
    }
    let connections = sandbox.replicas.connections();
    assert!(connections.iter().all(|n| *n > 0), "every replica served: {connections:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_while_a_shared_platform_loses_its_send_answers_it_calls_again_and_accepts_already_sent() {
    let sandbox = Sandbox::start().await;
    let db = TempDb::new("shared-crash-during");
    let merchant = Process::spawn(&sandbox.gateway(), &db.0);
    sandbox.register(&merchant.notify_url()).await;
    // Every send call is applied and its answer lost (the connection closed without a byte), until the fault goes.
    let fault = json!({"method": SEND, "times": 1000, "lost_answer": "close"});
    let order = sandbox.buy(2, json!({"gateway_faults": [fault]})).await;
    let (id, fault_id) = (order["order_id"].as_i64().unwrap(), order["gateway_fault_ids"][0].as_i64().unwrap());
    sandbox.await_state(id, "ISSUED").await;
    let issued = sorted_codes(&db, id);
    let first = sandbox.sends(id).await;
    assert!(first[0]["error_code"].is_null() && first[0]["answer_lost"] == "close", "{first:#?}");
    merchant.kill();
    assert_eq!(db.outbox(id), [("send".to_owned(), "pending".to_owned())], "still owed after the crash");

    let answer = sandbox.http.delete(format!("{}/admin/faults/{fault_id}", sandbox.replicas.url())).send().await;
    assert_eq!(answer.unwrap().status(), 204);
    let _restarted = Process::spawn(&sandbox.gateway(), &db.0);
    eventually(|| (db.outbox(id) == [("send".to_owned(), "done".to_owned())]).then_some(())).await;
    let sends = sandbox.sends(id).await;
    let applied: Vec<_> = sends.iter().filter(|s| s["error_code"].is_null()).collect();
    assert_eq!(applied.len(), 1, "the codes were sent once: {sends:#?}");
    let last = sends.last().unwrap();
    assert_eq!(
        (&last["sub_code"], &last["answer_lost"]),
        (&json!(SubCode::CodeAlreadySent.sub_code()), &Value::Null),
        "{sends:#?}"
    );
    assert!(sends.iter().all(|s| s["params"]["verify_codes"] == first[0]["params"]["verify_codes"]));
    let order = sandbox.order(id).await;
    assert_eq!(order["state"], "ISSUED");
    assert_eq!(platform_codes(&order), issued);
    assert_eq!(sorted_codes(&db, id), issued);
}
