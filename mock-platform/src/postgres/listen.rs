//! One dedicated connection per replica, outside the pool, on `LISTEN wake` and `LISTEN settled`: a dispatcher
//! awaits [`Wakeups::wake`], a C4 hold subscribes to [`Wakeups::settled`]. It reconnects (and re-`LISTEN`s) when the
//! connection drops; a notification sent meanwhile is lost, so callers also poll.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast, watch};
use tokio_postgres::{AsyncMessage, NoTls};

/// How long the listener waits before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

/// A replica's wake-ups. Dropping it stops the listener.
#[derive(Debug)]
pub struct Wakeups {
    wake: Arc<Notify>,
    settled: broadcast::Sender<i64>,
    listening: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Wakeups {
    /// Starts the listener on a connection of its own to `config`.
    pub(super) fn start(config: tokio_postgres::Config) -> Self {
        let wake = Arc::new(Notify::new());
        let (settled, _) = broadcast::channel(256);
        let (listening_tx, listening) = watch::channel(0);
        let task = tokio::spawn(listen(config, wake.clone(), settled.clone(), listening_tx));
        Self { wake, settled, listening, task }
    }

    /// Resolves at the next `wake` notification (or at once if one came since the last call): something may be due.
    /// Also fired after each (re)connect, since notifications sent while disconnected are lost.
    pub async fn wake(&self) {
        self.wake.notified().await;
    }

    /// The ids of orders whose attempt was settled on any replica, from now on.
    pub fn settled(&self) -> broadcast::Receiver<i64> {
        self.settled.subscribe()
    }

    /// Resolves once the listener has `LISTEN`ed (at least `generation` times counting reconnects; 1 = the first).
    pub async fn listening(&self, generation: u64) {
        let mut listening = self.listening.clone();
        let _ = listening.wait_for(|g| *g >= generation).await;
    }
}

async fn listen(
    config: tokio_postgres::Config,
    wake: Arc<Notify>,
    settled: broadcast::Sender<i64>,
    listening: watch::Sender<u64>,
) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let (sender, mut messages) = tokio::sync::mpsc::unbounded_channel();
            let pump = tokio::spawn(async move {
                let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = stream.next().await {
                    if sender.send(message).is_err() {
                        break;
                    }
                }
            });
            if client.batch_execute("LISTEN wake; LISTEN settled").await.is_ok() {
                // The wake first: whoever saw `listening` move finds its permit stored.
                wake.notify_one();
                listening.send_modify(|g| *g += 1);
                while let Some(message) = messages.recv().await {
                    if let AsyncMessage::Notification(n) = message {
                        match n.channel() {
                            "settled" => {
                                if let Ok(id) = n.payload().parse() {
                                    let _ = settled.send(id);
                                }
                            }
                            _ => wake.notify_one(),
                        }
                    }
                }
            }
            pump.abort();
            tracing::warn!("the LISTEN connection dropped; reconnecting");
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}
