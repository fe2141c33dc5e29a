//! An order's notification queue (PROTOCOL §3.5): queueing, taking the head for an attempt, settling its
//! outcome, the T4 timer. Pure: the caller passes the merchant's clock (`now_ms`) and the retry schedule, and
//! indexes the due times these methods return.

use protocol::{Notification, NotifyMethod, Secret};

use super::alteration::Alteration;
use super::order::{ISSUABLE, PendingNotification, method_bit};
use super::{Merchant, Order, OrderState};

/// The retry schedule in ms after the first attempt (index 0 is 0).
pub type Schedule<'a> = &'a [i64];

/// One attempt to make now, taken from the queue head of an order.
#[derive(Debug, Clone)]
pub struct AttemptPlan {
    pub order_id: i64,
    pub seq: u32,
    pub attempt: u8,
    pub notification: Notification,
    pub alteration: Option<Alteration>,
    pub duplicate: bool,
    pub url: String,
    pub key: Secret,
    pub charset: protocol::params::Charset,
}

/// What [`Order::enqueue`] asks of the store's indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enqueued {
    /// The new head's due ms when the queue was empty: a due time to index.
    pub due_ms: Option<i64>,
    /// The notification fault whose waiting alteration this notification took: no longer waiting.
    pub fault_used: Option<u64>,
}

impl Order {
    /// Queues a notification (PROTOCOL §3.5: behind any earlier one). A waiting alteration goes to the first
    /// notification that is not a duplicate.
    pub fn enqueue(
        &mut self,
        (method, sub_method): (NotifyMethod, u8),
        alteration: Option<Alteration>,
        duplicate: bool,
        now_ms: i64,
    ) -> Enqueued {
        let snapshot = self.snapshot();
        let delivery = &mut self.delivery;
        delivery.notifications += 1;
        let mut fault_used = None;
        let alteration = match alteration {
            Some(a) => Some(a),
            None if !duplicate => delivery.pending_alteration.take().map(|(id, a)| {
                fault_used = Some(id);
                a
            }),
            None => None,
        }
        .map(Box::new);
        if delivery.queue.capacity() == 0 {
            // A queue usually holds one notification: don't let the first push allocate room for four.
            delivery.queue.reserve_exact(1);
        }
        delivery.queue.push_back(PendingNotification {
            seq: delivery.notifications,
            method,
            sub_method,
            snapshot,
            attempts: 0,
            next_index: 0,
            first_at_ms: None,
            due_ms: now_ms,
            in_flight: false,
            alteration,
            duplicate,
        });
        Enqueued { due_ms: (delivery.queue.len() == 1).then_some(now_ms), fault_used }
    }

    /// Attaches an alteration to the first attempt of the next notification: the queued one whose first attempt
    /// has not started, else the next one queued. Returns false when one is already waiting.
    pub fn attach_alteration(&mut self, fault_id: u64, alteration: Alteration) -> bool {
        if let Some(p) = self.delivery.queue.iter_mut().find(|p| p.attempts == 0 && !p.in_flight && !p.duplicate)
            && p.alteration.is_none()
        {
            p.alteration = Some(Box::new(alteration));
            return true;
        }
        if self.delivery.pending_alteration.is_some() {
            return false;
        }
        self.delivery.pending_alteration = Some((fault_id, alteration));
        true
    }

    /// Takes the queue head for an attempt now, marking it in flight; `None` when there is no head or it is
    /// already in flight. Missed attempts of one notification collapse into this one (PROTOCOL §2.4
    /// `advance_clock`).
    pub fn take_head(&mut self, now_ms: i64, schedule: Schedule, merchant: &Merchant) -> Option<AttemptPlan> {
        let (sid, nick) = self.seller_of(merchant);
        let head = self.delivery.queue.front_mut()?;
        if head.in_flight {
            return None;
        }
        head.in_flight = true;
        head.attempts = head.attempts.saturating_add(1);
        let first = *head.first_at_ms.get_or_insert(now_ms);
        let mut index = usize::from(head.next_index);
        while index + 1 < schedule.len() && first.saturating_add(schedule[index + 1]) <= now_ms {
            index += 1;
        }
        head.next_index = index as u8;
        let head = head.clone();
        Some(AttemptPlan {
            order_id: self.id.get(),
            seq: head.seq,
            attempt: head.attempts,
            notification: self.notification_from(head.method, head.sub_method, &head.snapshot, sid, &nick),
            alteration: if head.attempts == 1 { head.alteration.map(|a| *a) } else { None },
            duplicate: head.duplicate,
            url: merchant.notify_url.clone(),
            key: merchant.notify_key.clone(),
            charset: merchant.notify_charset.charset(),
        })
    }

    /// Records the outcome of the attempt on notification `seq`: effects of an ack (T2, tasks.get), the next
    /// retry or exhaustion. Returns the due ms to index: the head's retry, or the next notification's (due now).
    pub fn settle_head(&mut self, seq: u32, acknowledged: bool, now_ms: i64, schedule: Schedule) -> Option<i64> {
        let state = self.state;
        let order_id = self.id.get();
        let delivery = &mut self.delivery;
        let head = delivery.queue.front_mut().filter(|h| h.seq == seq)?;
        head.in_flight = false;
        let method = head.method;
        if acknowledged {
            delivery.acked |= method_bit(method);
            if !head.duplicate {
                delivery.exhausted = false;
                if matches!(method, NotifyMethod::Send | NotifyMethod::Resend | NotifyMethod::Modified)
                    && !matches!(state, OrderState::Closed | OrderState::Cancelled)
                {
                    delivery.awaiting_callback = Some(method);
                }
                delivery.last_acked = Some((method, head.sub_method));
            }
        } else if !head.duplicate {
            let first = head.first_at_ms.unwrap_or(now_ms);
            let next = usize::from(head.next_index) + 1;
            if next < schedule.len() {
                head.next_index = next as u8;
                head.due_ms = first.saturating_add(schedule[next]);
                return Some(head.due_ms);
            }
            delivery.exhausted = true;
            tracing::info!(order_id, method = method.as_str(), "notification exhausted its retries");
        }
        // Done with this notification: acknowledged, a duplicate's one attempt, or exhausted.
        self.delivery.queue.pop_front();
        if acknowledged && method == NotifyMethod::Send {
            self.ack_send();
        }
        let next = self.delivery.queue.front_mut()?;
        next.due_ms = now_ms;
        Some(now_ms)
    }

    /// An attempt that was open when its maker died left no record: it is made again with the same number.
    /// Returns the head's due ms to index, if there is a head.
    pub fn reopen_abandoned_head(&mut self) -> Option<i64> {
        let head = self.delivery.queue.front_mut()?;
        if head.in_flight {
            head.in_flight = false;
            head.attempts = head.attempts.saturating_sub(1);
            if head.attempts == 0 {
                head.first_at_ms = None;
            }
        }
        Some(head.due_ms)
    }

    /// When the T4 timer fires (`auto_close_ms` after payment), `None` once the codes are issued or the order
    /// is closed.
    pub fn close_due_ms(&self, auto_close_ms: i64) -> Option<i64> {
        (self.eticket && self.state.is_one_of(ISSUABLE)).then(|| self.paid_ms.saturating_add(auto_close_ms))
    }

    /// T4 if its time has come; the callback awaited is dropped with it. Returns whether the order closed.
    pub fn run_close(&mut self, now_ms: i64, auto_close_ms: i64) -> bool {
        if self.auto_close(now_ms, auto_close_ms) {
            self.delivery.awaiting_callback = None;
            tracing::info!(order_id = self.id.get(), "order auto-closed (T4)");
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use protocol::NotifyMethod::{Resend, Send};

    use crate::model::consume::tests::issued;
    use crate::model::merchant::tests::merchant;

    const SCHEDULE: &[i64] = &[0, 60_000, 600_000];

    #[test]
    fn a_failed_attempt_is_due_again_at_the_next_step_counted_from_the_first_attempt() {
        let (mut order, m) = (issued("A:1"), merchant(100, None));
        assert_eq!(order.enqueue((Send, 0), None, false, 1_000).due_ms, Some(1_000));
        let plan = order.take_head(1_000, SCHEDULE, &m).unwrap();
        assert_eq!((plan.attempt, plan.notification.method), (1, Send));
        assert!(order.take_head(1_000, SCHEDULE, &m).is_none(), "the head is in flight");
        assert_eq!(order.settle_head(plan.seq, false, 5_000, SCHEDULE), Some(61_000));
        assert_eq!(order.take_head(61_000, SCHEDULE, &m).unwrap().attempt, 2);
    }

    #[test]
    fn an_acknowledged_head_makes_the_next_notification_due_at_once() {
        let (mut order, m) = (issued("A:1"), merchant(100, None));
        order.enqueue((Send, 0), None, false, 0);
        assert_eq!(order.enqueue((Resend, 0), None, false, 0).due_ms, None, "queued behind the first");
        let plan = order.take_head(0, SCHEDULE, &m).unwrap();
        assert_eq!(order.settle_head(plan.seq, true, 2_000, SCHEDULE), Some(2_000));
        assert!(order.delivery.has_acked(Send));
        assert_eq!(order.take_head(2_000, SCHEDULE, &m).unwrap().notification.method, Resend);
    }

    #[test]
    fn an_outcome_for_another_notification_changes_nothing() {
        let (mut order, m) = (issued("A:1"), merchant(100, None));
        order.enqueue((Send, 0), None, false, 0);
        let plan = order.take_head(0, SCHEDULE, &m).unwrap();
        assert_eq!(order.settle_head(plan.seq + 1, true, 0, SCHEDULE), None);
        assert!(order.delivery.queue[0].in_flight);
        assert!(!order.delivery.has_acked(Send));
    }

    #[test]
    fn an_abandoned_attempt_is_made_again_with_the_same_number() {
        let (mut order, m) = (issued("A:1"), merchant(100, None));
        order.enqueue((Send, 0), None, false, 7);
        order.take_head(7, SCHEDULE, &m).unwrap();
        assert_eq!(order.reopen_abandoned_head(), Some(7));
        assert_eq!(order.take_head(9, SCHEDULE, &m).unwrap().attempt, 1);
    }

    #[test]
    fn the_close_timer_runs_only_until_the_codes_are_issued() {
        let mut order = issued("A:1");
        assert_eq!(order.close_due_ms(7_200_000), None);
        order.state = crate::model::OrderState::Paid;
        assert_eq!(order.close_due_ms(7_200_000), Some(order.paid_ms + 7_200_000));
    }

    #[test]
    fn the_model_imports_no_store_notifier_or_persistence() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for module in ["store", "notify", "persist"] {
                let forbidden = format!("crate::{module}");
                assert!(!text.contains(&forbidden), "{} names {forbidden}", path.display());
            }
        }
    }
}
