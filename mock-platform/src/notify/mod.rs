//! The notification dispatcher (PROTOCOL §3): signed form POSTs with retries on the order's merchant clock,
//! one notification per order in flight, orders independent and concurrent.

pub mod alteration;

use std::time::Duration;

use protocol::AckReply;
use tracing::Instrument;

pub use alteration::Alteration;

use crate::Platform;
use crate::exchange::{Exchange, NotificationExchange, ParamList, capture_body};
use crate::model::AttemptPlan;
use crate::store::Settlement;

/// How long a dispatcher on a shared store sleeps at most: a `NOTIFY` is lost while the listening connection
/// reconnects, and another replica's expired lease sends none.
const SHARED_POLL_MS: i64 = 1_000;

/// The dispatcher loop: fires due attempts, runs auto-closes, sleeps until the next due time or a wake (on a
/// shared store also another replica's `NOTIFY wake`, polling at least every second).
pub async fn dispatcher(platform: Platform) {
    let longest_sleep = if platform.store().is_shared() { SHARED_POLL_MS } else { 60_000 };
    loop {
        let next = match round(&platform).await {
            Ok(next) => next,
            Err(e) => {
                // The database went away: try again after the poll interval; nothing is lost, leases expire.
                tracing::warn!("dispatcher: {e}");
                Some(platform.clock().wall_now().timestamp_millis() + SHARED_POLL_MS)
            }
        };
        // Sleep until the due time (timers are kept in wall ms); an advance of a clock wakes us early.
        let now = platform.clock().wall_now().timestamp_millis();
        let wait = next.map_or(longest_sleep, |t| (t - now).clamp(0, longest_sleep));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            () = platform.inner.wake.notified() => {}
            () = platform.store().woken() => {}
        }
    }
}

/// One round: auto-closes, then every due attempt leased and started. Returns when to look again (wall ms).
async fn round(platform: &Platform) -> Result<Option<i64>, crate::store::Unavailable> {
    let wall_ms = platform.clock().wall_now().timestamp_millis();
    platform.store().run_closes(wall_ms, platform.config().auto_close_ms()).await?;
    let (plans, next) = platform.store().lease_due(wall_ms, &platform.config().schedule_ms()).await?;
    for plan in plans {
        // In the dispatcher's span (the replica's): a spawned task does not inherit it by itself.
        tokio::spawn(attempt(platform.clone(), plan).in_current_span());
    }
    Ok(next)
}

/// The reply of one attempt, or why there was none.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// One delivery attempt: build, POST on a fresh connection, classify byte-exactly, record.
async fn attempt(platform: Platform, plan: AttemptPlan) {
    // Held for the whole attempt; closed only if the platform is gone, and then nothing matters.
    let Ok(_permit) = platform.inner.attempts.clone().acquire_owned().await else { return };
    let mut wire = alteration::build(
        &plan.notification,
        &plan.key,
        plan.charset,
        platform.clock().wall_now(),
        plan.alteration.as_ref(),
    );
    let method = plan.notification.method;
    let done_tx = platform.store().attempt_started(plan.order_id, method).await;
    let (started, started_seq) = platform.exchange_started();
    let deadline = platform.config().notify_deadline;
    let on_the_wire = std::time::Instant::now();
    let result =
        tokio::time::timeout(deadline, post(&platform, &plan.url, wire.content_type, std::mem::take(&mut wire.body)))
            .await;
    let elapsed = on_the_wire.elapsed();
    let finished = platform.clock().wall_now().timestamp_millis();
    let (reply, error) = match result {
        Ok(Ok(reply)) => (Some(reply), None),
        Ok(Err(e)) => (None, Some(e)),
        Err(_) => (None, Some("timeout".to_owned())),
    };
    let verdict = reply.as_ref().map(|r| AckReply::classify(r.status, &r.body));
    let acknowledged = verdict.as_ref().is_some_and(|v| v.acknowledges(method));
    let (verdict_name, near_miss) = match &verdict {
        Some(AckReply::Code200) => ("ack_200", None),
        Some(AckReply::Code300) => ("ack_300", None),
        Some(AckReply::NotAck(miss)) => ("not_ack", Some(near_miss_name(miss))),
        None => ("not_ack", Some("no_reply".to_owned())),
    };
    tracing::info!(
        order_id = plan.order_id,
        method = method.as_str(),
        attempt = plan.attempt,
        verdict = verdict_name,
        acknowledged,
        "notification attempt"
    );
    platform.metrics().notification_attempt(method.as_str(), verdict_name, elapsed);
    let exchange = NotificationExchange {
        method: method.as_str(),
        notification: plan.seq,
        attempt: plan.attempt,
        params: ParamList::of(&wire.params),
        url: plan.url.clone(),
        content_type: wire.content_type.to_owned(),
        started_at_ms: started,
        started_seq,
        finished_at_ms: finished,
        latency_ms: finished - started,
        status: reply.as_ref().map(|r| r.status),
        body: reply.as_ref().map(|r| capture_body(&r.body)),
        error,
        verdict: verdict_name,
        near_miss,
        acknowledged,
        alteration: plan.alteration.as_ref().map(|a| a.name().to_owned()),
        duplicate: plan.duplicate,
    };
    {
        let wall_ms = platform.clock().wall_now().timestamp_millis();
        let schedule = platform.config().schedule_ms();
        match platform
            .store()
            .settle(&plan, Some(Exchange::Notification(exchange)), acknowledged, wall_ms, &schedule)
            .await
        {
            Ok(Settlement::Done { dropped: true }) => platform.metrics().dropped(),
            Ok(Settlement::Done { dropped: false }) => {}
            Ok(Settlement::Lost) => {
                // Another replica has (or will have) made this attempt: this outcome must change nothing.
                tracing::warn!(order_id = plan.order_id, attempt = plan.attempt, "lease lost: outcome not recorded");
                platform.metrics().lease_lost();
            }
            // The lease expires and another round (here or on another replica) makes the attempt again.
            Err(e) => tracing::warn!(order_id = plan.order_id, "outcome not recorded: {e}"),
        }
    }
    // The outcome is recorded before a held callback (C4) is released.
    platform.store().attempt_ended(plan.order_id).await;
    done_tx.send_replace(true);
    platform.wake();
}

fn near_miss_name(miss: &protocol::NearMiss) -> String {
    match serde_json::to_value(miss) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        _ => "other".to_owned(),
    }
}

/// Reads at most this much of a reply: anything longer is not an acknowledgement anyway.
const MAX_REPLY: usize = 64 * 1024;

async fn post(platform: &Platform, url: &str, content_type: &'static str, body: Vec<u8>) -> Result<Reply, String> {
    let mut response = platform
        .http()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONNECTION, "close")
        .body(body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_REPLY {
            break;
        }
    }
    Ok(Reply { status, body: bytes })
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "connect".to_owned()
    } else if error.is_timeout() {
        "timeout".to_owned()
    } else {
        format!("transport: {error}")
    }
}
