//! Group commit: notifications that arrive together are written in one SQLite transaction, and each is
//! acknowledged only after that transaction is durable.
//!
//! Why: during a flash sale (FAQ 2.24) hundreds of `send` notifications arrive at once. One transaction each
//! costs a commit each (the WAL append, the lock round trip, a blocking-pool hop), and sixteen handlers
//! queueing on one connection made concurrency *slower* than one at a time. Here one thread owns the writing:
//! it takes every notification waiting (up to [`MAX_BATCH`]), applies each inside its own savepoint — so one
//! bad notification rolls back only its own rows — commits once, and only then answers each handler. A
//! handler writes `{"code":200}` after that answer, so the rule of `notify.rs` still holds: no
//! acknowledgement before its rows are durable (C4, C6 and the crash tests rely on it). If the commit fails,
//! every notification of the batch gets the store error and is not acknowledged; the platform retries.
//!
//! Nothing waits to fill a batch: a notification alone is committed at once, so a quiet merchant answers as
//! fast as before, and a busy one commits what piled up while the previous batch was being written.

use chrono::{DateTime, Utc};
use protocol::{Notification, Params};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::orders::{self, Applied, ApplyError};
use crate::store::{Store, StoreError};

/// The most notifications in one transaction: enough to amortise the commit, small enough that one batch
/// never holds the connection long (the outbox worker and the POS share it).
pub const MAX_BATCH: usize = 64;

/// A notification waiting to be written, and where its outcome goes.
#[derive(Debug)]
struct Job {
    notification: Notification,
    params: Params,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Applied, ApplyError>>,
}

/// The handle handlers submit notifications through; cheap to clone. The writing thread stops when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Starts the writing thread on `store`.
    pub fn start(store: Store) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("notify-commit".into())
            .spawn(move || {
                let mut rng = rand::rng();
                while let Some(first) = queue.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let outcomes = store.with_connection(|conn| commit(conn, &batch, &mut rng));
                    for (job, outcome) in batch.into_iter().zip(outcomes) {
                        // A handler that went away (client disconnected) needs no answer.
                        let _ = job.reply.send(outcome);
                    }
                }
            })
            .expect("the OS starts a thread");
        Self { jobs }
    }

    /// Applies one verified notification; returns once its rows are committed (or were not written).
    pub async fn apply(
        &self,
        notification: Notification,
        params: Params,
        now: DateTime<Utc>,
    ) -> Result<Applied, ApplyError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || ApplyError::Store(StoreError::Task("the commit thread stopped".into()));
        self.jobs.send(Job { notification, params, now, reply }).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// One transaction for the batch, one savepoint per notification; the outcomes in the batch's order.
fn commit(conn: &mut Connection, batch: &[Job], rng: &mut impl rand::Rng) -> Vec<Result<Applied, ApplyError>> {
    let failed_all = |e: rusqlite::Error| {
        let text = e.to_string();
        batch.iter().map(|_| Err(ApplyError::Store(StoreError::Task(format!("commit failed: {text}"))))).collect()
    };
    let mut tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => return failed_all(e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let outcome = tx.savepoint().map_err(ApplyError::from).and_then(|sp| {
            let applied = orders::apply_in(&sp, &job.notification, &job.params, job.now, rng)?;
            sp.commit()?;
            Ok(applied)
        });
        outcomes.push(outcome);
    }
    match tx.commit() {
        Ok(()) => outcomes,
        Err(e) => failed_all(e),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use protocol::{Gmt8Timestamp, NotifyMethod, OrderId, Token};

    use super::*;

    fn send(order_id: i64, token: &str) -> (Notification, Params) {
        let mut n = Notification::new(NotifyMethod::Send, OrderId::new(order_id).unwrap(), "92333234", "nick");
        n.token = Some(Token::parse(token).unwrap());
        n.mobile = Some("18077113872".into());
        n.num = Some(2);
        n.item_title = Some("银子岩门票".into());
        n.num_iid = Some("1".into());
        n.send_type = Some("2".into());
        n.consume_type = Some("0".into());
        n.valid_start = Some("2016-04-12 00:00:00".into());
        n.valid_ends = Some("2099-04-12 23:59:59".into());
        let params = n.to_params(Gmt8Timestamp::from_utc(Utc::now()));
        (n, params)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_notifications_are_all_written_and_a_bad_one_rolls_back_only_its_own_rows() {
        let store = Store::open(Path::new(":memory:")).unwrap();
        let committer = Committer::start(store.clone());
        let good = "0123456789abcdef0123456789abcdef";
        let mut tasks = tokio::task::JoinSet::new();
        for order_id in 1..=40 {
            let committer = committer.clone();
            tasks.spawn(async move {
                let (n, p) = send(order_id, good);
                (order_id, committer.apply(n, p, Utc::now()).await)
            });
        }
        let outcomes = tasks.join_all().await;
        assert!(outcomes.iter().all(|(_, o)| o.is_ok()), "{outcomes:?}");
        // The same order with another token is refused, and nothing of it is written.
        let (n, p) = send(7, "ffffffffffffffffffffffffffffffff");
        let (again, p2) = send(41, good);
        let (bad, ok) = tokio::join!(committer.apply(n, p, Utc::now()), committer.apply(again, p2, Utc::now()));
        assert!(matches!(bad, Err(ApplyError::Invalid(_))) && ok.is_ok());
        let count = |sql: &str| store.with_connection(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap());
        assert_eq!(count("SELECT count(*) FROM orders"), 41);
        assert_eq!(count("SELECT count(*) FROM notifications"), 41);
        assert_eq!(count("SELECT count(*) FROM outbox"), 41);
        assert_eq!(count("SELECT count(DISTINCT code) FROM codes"), count("SELECT count(*) FROM codes"));
    }
}
