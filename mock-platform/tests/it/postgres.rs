//! The PostgreSQL storage layer (`mock_platform::postgres`) against a real server (`testkit::postgres`): migrations,
//! row-locked changes, leases across three replicas on one database, clocks, auto-closes, wake-ups.

use std::collections::BTreeSet;
use std::time::Duration;

use mock_platform::postgres::{ExchangeKind, PgError, PgOptions, PgStore, Settled, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A stand-in for the model's order document: the layer sees only serde.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Doc {
    n: u64,
    leased: u32,
    settled: u32,
    closed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Merchant {
    app_key: String,
    quota_used: u32,
}

const LONG_LEASE: Duration = Duration::from_secs(60);

async fn replica(url: &str, id: &str, lease: Duration) -> PgStore {
    PgStore::connect(url, PgOptions::new(id, lease)).await.unwrap_or_else(|e| panic!("connecting {id}: {e}"))
}

/// Replicas "a", "b" and "c" on one database, with long leases.
async fn three_replicas(url: &str) -> [PgStore; 3] {
    [replica(url, "a", LONG_LEASE).await, replica(url, "b", LONG_LEASE).await, replica(url, "c", LONG_LEASE).await]
}

async fn merchant(store: &PgStore, app_key: &str) {
    let doc = Merchant { app_key: app_key.to_owned(), quota_used: 0 };
    store.put_merchant(app_key, &format!("session-{app_key}"), &doc).await.unwrap();
}

/// Creates an order whose first delivery is due `due_in_ms` from now on its merchant's clock (none when `None`).
async fn order(store: &PgStore, app_key: &str, due_in_ms: Option<i64>, close_in_ms: Option<i64>) -> i64 {
    let (id, _) = store
        .new_order(app_key, |_, tx: &mut Tx| {
            if let Some(ms) = due_in_ms {
                tx.enqueue(tx.now_ms + ms);
            }
            if let Some(ms) = close_in_ms {
                tx.close_at(Some(tx.now_ms + ms));
            }
            tx.state("paid");
            Doc::default()
        })
        .await
        .unwrap();
    id
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

// Several worker threads: the replicas' transactions really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn migrations_run_once_when_two_replicas_start_at_once_and_again_find_nothing_to_do() {
    let database = testkit::postgres::database();
    let (a, b) = tokio::join!(
        PgStore::connect(database.url(), PgOptions::new("a", LONG_LEASE)),
        PgStore::connect(database.url(), PgOptions::new("b", LONG_LEASE)),
    );
    a.unwrap();
    b.unwrap();
    let c = replica(database.url(), "c", LONG_LEASE).await;
    c.ready().await.unwrap();
    let client = raw(database.url()).await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=mock_platform::postgres::SCHEMA_VERSION).collect::<Vec<i32>>());
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_binary_is_refused_naming_both_versions() {
    let database = testkit::postgres::database();
    replica(database.url(), "a", LONG_LEASE).await;
    raw(database.url()).await.execute("INSERT INTO schema_migrations (version) VALUES (999)", &[]).await.unwrap();
    let error = PgStore::connect(database.url(), PgOptions::new("b", LONG_LEASE)).await.unwrap_err();
    assert!(
        matches!(error, PgError::NewerDatabase { database: 999, binary: mock_platform::postgres::SCHEMA_VERSION }),
        "{error:?}"
    );
    let message = error.to_string();
    let binary = format!("binary's {}", mock_platform::postgres::SCHEMA_VERSION);
    assert!(message.contains("version 999") && message.contains(&binary), "{message}");
}

#[tokio::test]
async fn order_ids_start_at_the_configured_first_id_and_a_second_replica_does_not_reset_them() {
    let database = testkit::postgres::database();
    let options = PgOptions { first_order_id: 5000, ..PgOptions::new("a", LONG_LEASE) };
    let a = PgStore::connect(database.url(), options.clone()).await.unwrap();
    merchant(&a, "m").await;
    assert_eq!(order(&a, "m", None, None).await, 5000);
    let b = PgStore::connect(database.url(), options).await.unwrap();
    assert_eq!(order(&b, "m", None, None).await, 5001);
}

// Several worker threads: the replicas' transactions really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn two_replicas_changing_one_order_at_once_lose_no_update() {
    let database = testkit::postgres::database();
    let a = replica(database.url(), "a", LONG_LEASE).await;
    let b = replica(database.url(), "b", LONG_LEASE).await;
    merchant(&a, "m").await;
    let id = order(&a, "m", None, None).await;
    let bump = |store: PgStore| async move {
        for _ in 0..50 {
            store.with_order(id, |doc: &mut Doc, _| doc.n += 1).await.unwrap().unwrap();
        }
    };
    tokio::join!(bump(a.clone()), bump(b.clone()), bump(a.clone()));
    let doc: Doc = b.order(id).await.unwrap().unwrap();
    assert_eq!(doc.n, 150);
    assert_eq!(a.with_order(id + 1, |_: &mut Doc, _| ()).await.unwrap(), None, "no such order");
}

// Several worker threads: the replicas' transactions really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_replicas_lease_300_due_deliveries_each_exactly_once() {
    let database = testkit::postgres::database();
    let replicas = three_replicas(database.url()).await;
    merchant(&replicas[0], "m").await;
    let mut ids = BTreeSet::new();
    for _ in 0..300 {
        ids.insert(order(&replicas[0], "m", Some(0), None).await);
    }
    let lease_all = |store: PgStore| async move {
        let mut mine = Vec::new();
        loop {
            let batch = store
                .lease_due(32, |doc: &mut Doc, _tx, abandoned| {
                    assert!(!abandoned);
                    doc.leased += 1;
                    Some(())
                })
                .await
                .unwrap();
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch.into_iter().map(|(lease, ())| lease));
        }
    };
    let (x, y, z) =
        tokio::join!(lease_all(replicas[0].clone()), lease_all(replicas[1].clone()), lease_all(replicas[2].clone()));
    let leases: Vec<_> = x.into_iter().chain(y).chain(z).collect();
    let leased: BTreeSet<i64> = leases.iter().map(|l| l.order_id).collect();
    assert_eq!(leases.len(), 300, "a delivery was leased twice");
    assert_eq!(leased, ids);
    for lease in &leases {
        let settled = replicas[1]
            .settle(lease, |doc: &mut Doc, tx| {
                doc.settled += 1;
                tx.record(ExchangeKind::Attempt, json!({"attempt": 1}));
                tx.next_due(None);
            })
            .await
            .unwrap();
        assert_eq!(settled, Settled::Done(()));
    }
    for id in ids {
        let doc: Doc = replicas[2].order(id).await.unwrap().unwrap();
        assert_eq!((doc.leased, doc.settled), (1, 1), "order {id}");
    }
    assert_eq!(replicas[0].next_wake().await.unwrap(), None, "the queue is empty");
}

#[tokio::test]
async fn an_expired_lease_is_leased_again_by_another_replica_and_the_late_settle_writes_nothing() {
    let database = testkit::postgres::database();
    let a = replica(database.url(), "a", Duration::from_millis(300)).await;
    let b = replica(database.url(), "b", LONG_LEASE).await;
    merchant(&a, "m").await;
    let id = order(&a, "m", Some(0), None).await;
    let first = a.lease_due(32, |doc: &mut Doc, _, _| {
        doc.leased += 1;
        Some(())
    });
    let [(lease_a, ())] = <[_; 1]>::try_from(first.await.unwrap()).unwrap();
    assert!(b.attempt_open(id).await.unwrap(), "A's attempt is out");
    // B leases it again once A's lease has expired on the database's clock (polled, with a deadline).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let lease_b = loop {
        let got = b.lease_due(32, |doc: &mut Doc, _, abandoned| abandoned.then(|| doc.leased += 1)).await.unwrap();
        if let Some((lease, ())) = got.into_iter().next() {
            break lease;
        }
        assert!(tokio::time::Instant::now() < deadline, "B never leased the expired delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(lease_a.token, lease_b.token);
    let before: Doc = a.order(id).await.unwrap().unwrap();
    assert_eq!(before.leased, 2);
    let late = a
        .settle(&lease_a, |doc: &mut Doc, tx| {
            doc.settled += 1;
            tx.record(ExchangeKind::Attempt, json!({"from": "a"}));
            tx.next_due(None);
        })
        .await
        .unwrap();
    assert_eq!(late, Settled::Lost);
    assert_eq!(a.order::<Doc>(id).await.unwrap().unwrap(), before, "the lost settle changed the order");
    assert!(a.exchanges::<serde_json::Value>(id).await.unwrap().0.is_empty(), "the lost settle recorded");
    assert!(a.attempt_open(id).await.unwrap(), "B's attempt is still out");
    let done = b
        .settle(&lease_b, |doc: &mut Doc, tx| {
            doc.settled += 1;
            tx.record(ExchangeKind::Attempt, json!({"from": "b"}));
            tx.next_due(None);
        })
        .await
        .unwrap();
    assert_eq!(done, Settled::Done(()));
    let (exchanges, dropped) = a.exchanges::<serde_json::Value>(id).await.unwrap();
    assert_eq!(exchanges, vec![(ExchangeKind::Attempt, json!({"from": "b"}))]);
    assert_eq!(dropped, 0);
    assert!(!a.attempt_open(id).await.unwrap());
}

#[tokio::test]
async fn advancing_one_merchants_clock_moves_only_its_due_and_close_times() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m1").await;
    merchant(&store, "m2").await;
    let hour = 3_600_000;
    let one = order(&store, "m1", Some(hour), Some(hour)).await;
    let two = order(&store, "m2", Some(hour), Some(hour)).await;
    let before = store.clock(Some("m2")).await.unwrap();
    let moved = store.advance_clock(Some("m1"), hour + 1000).await.unwrap();
    assert_eq!(moved.offset_ms, hour + 1000);
    assert_eq!(store.clock(Some("m2")).await.unwrap().offset_ms, 0);
    assert!(store.clock(Some("m2")).await.unwrap().now_ms >= before.now_ms);
    assert_eq!(store.clock(None).await.unwrap().offset_ms, 0);

    let leased = store.lease_due(32, |_: &mut Doc, _, _| Some(())).await.unwrap();
    assert_eq!(leased.iter().map(|(l, ())| l.order_id).collect::<Vec<_>>(), vec![one]);
    let mut closed = Vec::new();
    store
        .run_closes(|id, doc: &mut Doc, tx| {
            assert!(tx.close_due);
            doc.closed += 1;
            closed.push(id);
        })
        .await
        .unwrap();
    assert_eq!(closed, vec![one]);

    // The platform's clock moves every merchant's: now m2's timers fire too, and m1's offset adds up.
    store.advance_clock(None, hour + 1000).await.unwrap();
    assert_eq!(store.clock(Some("m1")).await.unwrap().offset_ms, 2 * (hour + 1000));
    let leased = store.lease_due(32, |_: &mut Doc, _, _| Some(())).await.unwrap();
    assert_eq!(leased.iter().map(|(l, ())| l.order_id).collect::<Vec<_>>(), vec![two]);
    let fired = store.run_closes(|_, doc: &mut Doc, _| doc.closed += 1).await.unwrap();
    assert_eq!(fired, 1);
    assert_eq!(store.order::<Doc>(one).await.unwrap().unwrap().closed, 1);
    assert_eq!(store.order::<Doc>(two).await.unwrap().unwrap().closed, 1);
}

// Several worker threads: the replicas' transactions really overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_replicas_running_closes_at_once_close_each_order_exactly_once() {
    let database = testkit::postgres::database();
    let replicas = three_replicas(database.url()).await;
    merchant(&replicas[0], "m").await;
    let mut ids = Vec::new();
    for _ in 0..250 {
        ids.push(order(&replicas[0], "m", None, Some(60_000)).await);
    }
    assert_eq!(replicas[1].run_closes(|_, _: &mut Doc, _| panic!("nothing is due yet")).await.unwrap(), 0);
    replicas[2].advance_clock(Some("m"), 60_000).await.unwrap();
    let close = |store: PgStore| async move {
        store
            .run_closes(|_, doc: &mut Doc, tx| {
                doc.closed += 1;
                tx.state("closed");
            })
            .await
            .unwrap()
    };
    let (x, y, z) = tokio::join!(close(replicas[0].clone()), close(replicas[1].clone()), close(replicas[2].clone()));
    assert_eq!(x + y + z, 250);
    for id in ids {
        assert_eq!(replicas[0].order::<Doc>(id).await.unwrap().unwrap().closed, 1, "order {id}");
    }
    assert_eq!(replicas[0].orders::<Doc>(Some("m"), Some("closed")).await.unwrap().len(), 250);
    assert_eq!(replicas[0].next_wake().await.unwrap(), None);
}

#[tokio::test]
async fn a_notify_from_one_replica_wakes_another_replicas_listener() {
    let database = testkit::postgres::database();
    let a = replica(database.url(), "a", LONG_LEASE).await;
    let b = replica(database.url(), "b", LONG_LEASE).await;
    merchant(&b, "m").await;
    a.wakeups().listening(1).await;
    // The permit of the connect itself.
    a.wakeups().wake().await;
    let mut settled = a.wakeups().settled();
    let id = order(&b, "m", Some(0), None).await;
    tokio::time::timeout(Duration::from_secs(20), a.wakeups().wake()).await.expect("no wake after an enqueue");
    let leases = b.lease_due(32, |_: &mut Doc, _, _| Some(())).await.unwrap();
    let (lease, ()) = leases.into_iter().next().unwrap();
    b.settle(&lease, |_: &mut Doc, tx| tx.next_due(None)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), settled.recv()).await.expect("no settled");
    assert_eq!(got.unwrap(), id);
}

#[tokio::test]
async fn a_due_time_in_the_future_is_not_leased_and_next_wake_says_when() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m").await;
    let id = order(&store, "m", Some(3_600_000), None).await;
    assert!(store.lease_due(32, |_: &mut Doc, _, _| Some(())).await.unwrap().is_empty());
    let wait = store.next_wake().await.unwrap().unwrap();
    assert!(wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600), "{wait:?}");
    // A lease that attempts nothing reschedules the head where the closure says.
    store.advance_clock(Some("m"), 3_600_000).await.unwrap();
    let leased = store
        .lease_due(32, |_: &mut Doc, tx: &mut Tx, _| -> Option<()> {
            tx.next_due(Some(tx.now_ms + 60_000));
            None
        })
        .await
        .unwrap();
    assert!(leased.is_empty());
    let wait = store.next_wake().await.unwrap().unwrap();
    assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
    assert!(!store.attempt_open(id).await.unwrap());
}

#[tokio::test]
async fn an_order_keeps_its_latest_1000_gateway_calls_and_counts_the_dropped() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m").await;
    let id = order(&store, "m", None, None).await;
    store.with_order(id, |_: &mut Doc, tx| tx.record(ExchangeKind::Attempt, json!({"attempt": 1}))).await.unwrap();
    for call in 0..1002 {
        store.record_exchange(id, ExchangeKind::Gateway, json!({"call": call})).await.unwrap();
    }
    let (list, dropped) = store.exchanges::<serde_json::Value>(id).await.unwrap();
    assert_eq!(dropped, 2);
    assert_eq!(list.len(), 1001);
    assert_eq!(list[0], (ExchangeKind::Attempt, json!({"attempt": 1})));
    assert_eq!(list[1], (ExchangeKind::Gateway, json!({"call": 2})));
    assert_eq!(list[1000], (ExchangeKind::Gateway, json!({"call": 1001})));
}

#[tokio::test]
async fn merchants_faults_consumes_and_qr_images_round_trip() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m").await;
    merchant(&store, "k").await;
    assert_eq!(store.merchant::<Merchant>("m").await.unwrap().unwrap().app_key, "m");
    assert_eq!(store.merchant_by_session::<Merchant>("session-k").await.unwrap().unwrap().app_key, "k");
    assert_eq!(store.merchant::<Merchant>("nobody").await.unwrap(), None);
    let used = store.with_merchant("m", |m: &mut Merchant, _now| {
        m.quota_used += 1;
        m.quota_used
    });
    assert_eq!(used.await.unwrap(), Some(1));
    let keys: Vec<String> = store.merchants::<Merchant>().await.unwrap().into_iter().map(|m| m.app_key).collect();
    assert_eq!(keys, ["k", "m"]);

    let id = order(&store, "m", None, None).await;
    let twice = store.add_gateway_fault("consume", None, Some(id), 2, &json!({"delay_ms": 5})).await.unwrap();
    let other = store.add_gateway_fault("consume", Some("k"), None, 1, &json!({"error": 7})).await.unwrap();
    assert!(other > twice);
    let take = |key: &'static str, order| {
        let store = store.clone();
        async move { store.take_gateway_fault::<serde_json::Value>("consume", key, order).await.unwrap() }
    };
    assert_eq!(take("m", Some(id + 1)).await, None);
    assert_eq!(take("m", Some(id)).await, Some(json!({"delay_ms": 5})));
    assert_eq!(take("k", Some(id)).await, Some(json!({"delay_ms": 5})));
    assert_eq!(take("k", Some(id)).await, Some(json!({"error": 7})));
    assert_eq!(take("k", Some(id)).await, None);
    assert!(store.gateway_faults::<serde_json::Value>().await.unwrap().is_empty());
    let nf = store.add_notification_fault(id).await.unwrap();
    assert_eq!(store.notification_faults().await.unwrap(), vec![(nf, id)]);
    assert_eq!(store.delete_notification_fault(nf).await.unwrap(), Some(id));
    assert_eq!(store.delete_notification_fault(nf).await.unwrap(), None);

    store
        .with_order(id, |_: &mut Doc, tx| {
            tx.consumes(vec![
                mock_platform::postgres::ConsumeRow { at_ms: 20, doc: json!({"code": "b"}) },
                mock_platform::postgres::ConsumeRow { at_ms: 10, doc: json!({"code": "a"}) },
            ])
        })
        .await
        .unwrap();
    let rows = store.consumes("m", 0, 15).await.unwrap();
    assert_eq!(rows.iter().map(|(o, r)| (*o, r.doc.clone())).collect::<Vec<_>>(), vec![(id, json!({"code": "a"}))]);
    assert!(store.consumes("k", 0, 100).await.unwrap().is_empty());

    store.put_qr_image("qr-1.png", b"\x89PNG bytes").await.unwrap();
    assert_eq!(store.qr_image("qr-1.png").await.unwrap().as_deref(), Some(&b"\x89PNG bytes"[..]));
    assert_eq!(store.qr_image("qr-2.png").await.unwrap(), None);
}

#[tokio::test]
async fn a_change_arms_faults_indexes_notification_faults_and_keeps_images_in_its_own_transaction() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m").await;
    let id = order(&store, "m", None, None).await;
    let ids = store.reserve_fault_ids(3).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let (gateway, waiting, used) = (ids[0], ids[1], ids[2]);
    store
        .with_order(id, |_: &mut Doc, tx| {
            tx.arm_gateway_fault(gateway, "consume", None, 1, json!({"delay_ms": 5}));
            tx.notification_fault_waiting(waiting);
            // Waiting, then used by a notification in the same change: applied in the order asked.
            tx.notification_fault_waiting(used);
            tx.notification_fault_used(used);
            tx.put_qr_image("qr-tx.png", b"bytes".to_vec());
        })
        .await
        .unwrap();
    let faults = store.gateway_faults::<serde_json::Value>().await.unwrap();
    assert_eq!(
        faults.iter().map(|f| (f.id, f.order_id, f.times_left)).collect::<Vec<_>>(),
        vec![(gateway, Some(id), 1)]
    );
    assert_eq!(store.notification_faults().await.unwrap(), vec![(waiting, id)]);
    assert_eq!(store.qr_image("qr-tx.png").await.unwrap().as_deref(), Some(&b"bytes"[..]));
    // The next reservation goes on after the ids taken: none is handed out twice.
    assert!(store.reserve_fault_ids(1).await.unwrap()[0] > used);

    // A change that fails to commit writes none of its rows.
    let gone = testkit::postgres::database();
    let doomed = replica(gone.url(), "b", LONG_LEASE).await;
    merchant(&doomed, "m").await;
    let doomed_order = order(&doomed, "m", None, None).await;
    let result = doomed
        .with_order(doomed_order, |_: &mut Doc, tx| {
            // Fault ids are bigint keys: a second row under one id violates the primary key at commit.
            tx.arm_gateway_fault(1, "consume", None, 1, json!({}));
            tx.arm_gateway_fault(1, "consume", None, 1, json!({}));
            tx.put_qr_image("never.png", b"x".to_vec());
        })
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(doomed.gateway_faults::<serde_json::Value>().await.unwrap().is_empty());
    assert_eq!(doomed.qr_image("never.png").await.unwrap(), None);
}

#[tokio::test]
async fn an_order_keeping_10000_exchanges_drops_a_new_attempt_and_counts_it() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "m").await;
    let id = order(&store, "m", None, None).await;
    let record =
        |n: u32| store.with_order(id, move |_: &mut Doc, tx| tx.record(ExchangeKind::Attempt, json!({"n": n})));
    record(1).await.unwrap();
    // As if 9998 more attempts had been kept (counting 9999 rows one by one would only slow the test).
    raw(database.url())
        .await
        .execute("UPDATE exchange_counts SET attempts_kept = 9999 WHERE order_id = $1", &[&id])
        .await
        .unwrap();
    record(2).await.unwrap();
    record(3).await.unwrap();
    let (list, dropped) = store.exchanges::<serde_json::Value>(id).await.unwrap();
    let kept: Vec<_> = list.into_iter().map(|(_, doc)| doc).collect();
    assert_eq!(kept, vec![json!({"n": 1}), json!({"n": 2})], "the 10001st exchange was kept");
    assert_eq!(dropped, 1);
    // A gateway call is still kept: past the total, only attempts are refused (store.rs `Data::record`).
    store.record_exchange(id, ExchangeKind::Gateway, json!({"call": 1})).await.unwrap();
    assert_eq!(store.exchanges::<serde_json::Value>(id).await.unwrap().0.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_cancelled_mid_transaction_leaves_no_row_locked_behind() {
    let database = testkit::postgres::database();
    let options = PgOptions { pool_size: 1, ..PgOptions::new("a", LONG_LEASE) };
    let a = PgStore::connect(database.url(), options).await.unwrap();
    let b = replica(database.url(), "b", LONG_LEASE).await;
    merchant(&a, "m").await;
    let id = order(&a, "m", None, None).await;
    // Once through, so that its statements are prepared on A's one connection and nothing waits before BEGIN.
    a.with_order(id, |_: &mut Doc, _| ()).await.unwrap().unwrap();
    // Polled once: BEGIN and the locking SELECT are sent, then the future is dropped with the transaction open.
    let cancelled = futures_util::FutureExt::now_or_never(a.with_order(id, |doc: &mut Doc, _| doc.n += 100));
    assert!(cancelled.is_none(), "the change finished before it could be cancelled");
    let bumped = tokio::time::timeout(Duration::from_secs(20), b.with_order(id, |doc: &mut Doc, _| doc.n += 1));
    bumped.await.expect("the cancelled change still holds the row").unwrap();
    let again = tokio::time::timeout(Duration::from_secs(20), a.with_order(id, |doc: &mut Doc, _| doc.n += 1));
    again.await.expect("replica A's pool is stuck").unwrap();
    assert_eq!(a.order::<Doc>(id).await.unwrap().unwrap().n, 2);
}

#[tokio::test]
async fn the_listener_listens_again_after_its_connection_is_killed() {
    let database = testkit::postgres::database();
    let a = replica(database.url(), "a", LONG_LEASE).await;
    a.wakeups().listening(1).await;
    a.wakeups().wake().await;
    let admin = raw(database.url()).await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "the listener's connection was not found");
    tokio::time::timeout(Duration::from_secs(20), a.wakeups().listening(2)).await.expect("no second LISTEN");
    // The reconnect's own wake (notifications sent meanwhile were lost), then one sent on the new connection.
    a.wakeups().wake().await;
    admin.execute("SELECT pg_notify('wake', '')", &[]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), a.wakeups().wake()).await.expect("no wake after the reconnect");
}

#[tokio::test]
async fn ready_answers_while_the_database_does_and_fails_once_it_is_gone() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    store.ready().await.unwrap();
    // Dropping the test database closes every connection to it (`WITH (FORCE)`): the pool's and the listener's.
    drop(database);
    let error = store.ready().await.unwrap_err();
    assert!(matches!(error, PgError::Db(_) | PgError::Pool(_) | PgError::Timeout(_)), "{error:?}");
}

/// Clock advances take the clock lock exclusively while changes, leases, settles and closes hold it shared and lock
/// rows: a wrong lock order would show here as a deadlock error from one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn clock_advances_amid_changes_leases_settles_and_closes_fail_no_transaction() {
    let database = testkit::postgres::database();
    let replicas = [replica(database.url(), "a", LONG_LEASE).await, replica(database.url(), "b", LONG_LEASE).await];
    merchant(&replicas[0], "m").await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(order(&replicas[0], "m", Some(0), Some(1000)).await);
    }
    let work = |store: PgStore, ids: Vec<i64>| async move {
        for round in 0..15 {
            for id in &ids {
                store
                    .with_order(*id, |doc: &mut Doc, tx| {
                        doc.n += 1;
                        tx.enqueue(tx.now_ms);
                        tx.close_at(Some(tx.now_ms + 500 + round));
                    })
                    .await
                    .unwrap();
            }
            let leases = store
                .lease_due(8, |doc: &mut Doc, _, _| {
                    doc.leased += 1;
                    Some(())
                })
                .await
                .unwrap();
            for (lease, ()) in leases {
                store.settle(&lease, |_: &mut Doc, tx| tx.next_due(Some(tx.now_ms + 100))).await.unwrap();
            }
            store.run_closes(|_, doc: &mut Doc, _| doc.closed += 1).await.unwrap();
        }
    };
    let advance = |store: PgStore| async move {
        for i in 0..30 {
            store.advance_clock((i % 2 == 0).then_some("m"), 400).await.unwrap();
            store.run_closes(|_, doc: &mut Doc, _| doc.closed += 1).await.unwrap();
        }
    };
    let (left, right) = ids.split_at(10);
    tokio::join!(
        work(replicas[0].clone(), left.to_vec()),
        work(replicas[1].clone(), right.to_vec()),
        work(replicas[1].clone(), ids.clone()),
        advance(replicas[0].clone()),
    );
    let total: u64 = {
        let mut n = 0;
        for id in &ids {
            n += replicas[0].order::<Doc>(*id).await.unwrap().unwrap().n;
        }
        n
    };
    assert_eq!(total, 2 * 15 * 20, "a change was lost");
    assert_eq!(replicas[0].clock(Some("m")).await.unwrap().offset_ms, 30 * 400);
}

/// axum handlers and the dispatcher's tasks need `Send` futures: each operation runs here on a spawned task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_runs_on_a_spawned_task() {
    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    let s = store.clone();
    let id = tokio::spawn(async move {
        merchant(&s, "m").await;
        let id = order(&s, "m", Some(0), Some(0)).await;
        s.with_order(id, |doc: &mut Doc, _| doc.n += 1).await.unwrap();
        let leases = s.lease_due(8, |_: &mut Doc, _, _| Some(())).await.unwrap();
        for (lease, ()) in leases {
            s.settle(&lease, |_: &mut Doc, tx| tx.next_due(None)).await.unwrap();
        }
        s.run_closes(|_, doc: &mut Doc, _| doc.closed += 1).await.unwrap();
        s.advance_clock(None, 1).await.unwrap();
        s.take_gateway_fault::<serde_json::Value>("m", "m", Some(id)).await.unwrap();
        s.with_merchant("m", |_: &mut Merchant, _| ()).await.unwrap();
        s.next_wake().await.unwrap();
        id
    })
    .await
    .unwrap();
    let doc: Doc = store.order(id).await.unwrap().unwrap();
    assert_eq!((doc.n, doc.closed), (1, 1));
}

#[tokio::test]
async fn an_order_the_platform_made_comes_back_from_postgresql_exactly_as_it_went_in() {
    use mock_platform::model::Order;
    use mock_platform::{NewMerchant, NewOrderBody, Platform, PlatformConfig};

    // An order with a delivery history: paid, its send leased, attempted once without an ack, retry scheduled.
    let platform = Platform::new(PlatformConfig::default());
    let mut new = NewMerchant::new("k", "secret", "notify-key", "http://127.0.0.1:9/notify");
    new.phase = Some(mock_platform::model::Phase::Live);
    platform.add_merchant(new).await.unwrap();
    let view = platform.create_order(NewOrderBody::new("k", 3, "13800000000", "银子岩门票")).await.unwrap();
    let id = view["order_id"].as_i64().unwrap();
    let schedule = platform.config().schedule_ms();
    let now = platform.clock().wall_now().timestamp_millis();
    let (plans, _) = platform.store().lease_due(now, &schedule).await.unwrap();
    assert_eq!(plans.len(), 1);
    for plan in plans {
        platform.store().settle(&plan, None, false, now, &schedule).await.unwrap();
    }
    let order: Order = platform.store().order(id, Clone::clone).await.unwrap().unwrap();
    assert_eq!(order.delivery.queue.len(), 1, "the send waits for its retry");

    let database = testkit::postgres::database();
    let store = replica(database.url(), "a", LONG_LEASE).await;
    merchant(&store, "k").await;
    let (pg_id, _) = store.new_order("k", |_, _| order.clone()).await.unwrap();
    let back: Order = store.order(pg_id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&order).unwrap());
    // And through a change: the document written back is the one read.
    store.with_order(pg_id, |_: &mut Order, _| ()).await.unwrap().unwrap();
    let again: Order = store.order(pg_id).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&order).unwrap());
}
