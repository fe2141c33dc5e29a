//! Plays one scenario's steps against the platform through a `Probe`, stopping at the first step that fails;
//! the verdict names that step.

use std::time::{Duration, Instant};

use chrono::Utc;
use protocol::{AckReply, Gmt8Timestamp, Params, SignMethod, TopRequest};
use serde_json::{Value, json};

use crate::event::{EntryKind, TimelineEntry};
use crate::outcome::Verdict;
use crate::plan::judge::{code_set, describe_calls, show_set};
use crate::plan::probe::now_text;
use crate::plan::redeem::{HookAnswer, NO_HOOK};
use crate::plan::{CheckResult, Probe};
use crate::platform_client::{
    Bought, Exchange, FaultAnswer, GatewayFault, NotificationAttempt, OrderSpec, PlatformError,
};
use crate::quote::{quoted, quoted_bytes};
use crate::scenario::schema::{GatewayFaultSpec, Refusal, Scenario, Step};

/// Default `within` of expectations that wait for something (seconds): the callback window covers the
/// merchant's ack and its retries.
const DEFAULT_ACK_WITHIN: f64 = 6.0;
const DEFAULT_CALLBACK_WITHIN: f64 = 20.0;
const DEFAULT_QUIET_WITHIN: f64 = 3.0;
const DEFAULT_STATE_WITHIN: f64 = 5.0;
const POLL: Duration = Duration::from_millis(100);

/// `send` → `taobao.vmarket.eticket.send`; a full API name is kept.
pub fn full_api(api: &str) -> String {
    if api.contains('.') { api.to_owned() } else { format!("taobao.vmarket.eticket.{api}") }
}

fn secs(value: Option<f64>, default: f64) -> Duration {
    Duration::try_from_secs_f64(value.unwrap_or(default)).unwrap_or(Duration::from_secs(0))
}

/// The state a scenario carries from step to step.
struct Play<'a> {
    p: &'a Probe,
    /// The app_key orders are bought for: the merchant's, or the registration made for `[merchant]`.
    app_key: String,
    order: Option<Bought>,
    /// Expectations look at the current order's exchanges from this index on (set by every action).
    mark: usize,
    /// The order's usable codes when the last action was taken (for `same_codes`).
    codes_before: Vec<(String, u32)>,
    /// The serial of the last redemption the POS hook answered (for `reverse_at_pos`).
    last_serial: Option<String>,
}

/// Runs every step; the first failing one decides the verdict.
pub async fn play(p: &Probe, scenario: &Scenario, app_key: String) -> CheckResult {
    let mut play = Play { p, app_key, order: None, mark: 0, codes_before: Vec::new(), last_serial: None };
    let total = scenario.steps.len();
    for (i, step) in scenario.steps.iter().enumerate() {
        let label = format!("step {}/{total} `{}`", i + 1, step.name());
        p.note(play.order.as_ref().map(|o| o.order_id), format!("scenario: {label}"));
        match play.step(step).await {
            Ok(Ok(())) => {}
            Ok(Err(verdict)) => {
                let message = format!("{label}: {}", verdict.message);
                return Ok(Verdict { message, ..verdict });
            }
            Err(e) => return Ok(Verdict::error(format!("{label}: the platform failed: {e}"))),
        }
    }
    Ok(Verdict::pass(format!("all {total} steps as expected")))
}

type StepResult = Result<Result<(), Verdict>, PlatformError>;

fn refused_as(result: Result<Value, PlatformError>, refused: &Option<Refusal>) -> StepResult {
    match (result, refused) {
        (Ok(_), None) => Ok(Ok(())),
        (Ok(_), Some(r)) => Ok(Err(Verdict::fail("the platform accepted the action")
            .expected(format!("refused with {}{}", r.status, reason_text(r)))
            .actual("accepted"))),
        (Err(PlatformError::Status { status, body, .. }), Some(r)) => {
            let reason_ok = r.reason.as_deref().is_none_or(|reason| body.contains(reason));
            if status == r.status && reason_ok {
                Ok(Ok(()))
            } else {
                Ok(Err(Verdict::fail("the platform refused the action otherwise")
                    .expected(format!("refused with {}{}", r.status, reason_text(r)))
                    .actual(format!("{status} {body}"))))
            }
        }
        (Err(PlatformError::Status { status, body, .. }), None) => {
            Ok(Err(Verdict::fail(format!("the platform refused the action: {status} {body}"))
                .hint("the order's state forbids the action (409) or FAQ 2.28 applies (422)")))
        }
        (Err(e), _) => Err(e),
    }
}

fn reason_text(r: &Refusal) -> String {
    r.reason.as_deref().map(|s| format!(" mentioning {s:?}")).unwrap_or_default()
}

fn fault_of(spec: &GatewayFaultSpec) -> GatewayFault {
    GatewayFault {
        method: full_api(&spec.api),
        times: spec.times.unwrap_or(2),
        answer: FaultAnswer {
            code: spec.code.unwrap_or(15),
            msg: spec.msg.clone().unwrap_or_else(|| "Remote service error".into()),
            sub_code: spec.sub_code.clone(),
            sub_msg: None,
        },
    }
}

fn ack_text(reply: &AckReply) -> &'static str {
    match reply {
        AckReply::Code200 => "ack_200",
        AckReply::Code300 => "ack_300",
        AckReply::NotAck(_) => "not_ack",
    }
}

fn describe_attempt(a: &NotificationAttempt) -> String {
    match (&a.status, &a.error) {
        (Some(status), _) => format!(
            "{} attempt {}: HTTP {status} {} ({})",
            a.method,
            a.attempt,
            quoted(a.reply.as_deref().unwrap_or("")),
            a.verdict.as_deref().unwrap_or("?")
        ),
        (None, Some(e)) => format!("{} attempt {}: no reply ({e})", a.method, a.attempt),
        (None, None) => format!("{} attempt {}: no reply", a.method, a.attempt),
    }
}

impl Play<'_> {
    fn order(&self) -> Result<&Bought, Verdict> {
        self.order.as_ref().ok_or_else(|| Verdict::error("no current order: the scenario must buy one first"))
    }

    /// Before an action: expectations after it look only at what follows.
    async fn set_mark(&mut self) -> Result<(), PlatformError> {
        if let Some(order) = &self.order {
            self.mark = self.p.exchanges(order.order_id).await?.len();
            self.codes_before = self.p.order(order.order_id).await?.usable_set();
        }
        Ok(())
    }

    async fn step(&mut self, step: &Step) -> StepResult {
        let platform = self.p.platform();
        match step {
            Step::Buy {
                num,
                consume_type,
                item_title,
                mobile,
                valid_start,
                valid_ends,
                eticket_enabled,
                alteration,
                gateway_fault,
                refused,
            } => {
                let base = self.p.order_spec();
                let mut extra = Vec::new();
                for (name, value) in
                    [("valid_start", valid_start), ("valid_ends", valid_ends), ("alteration", alteration)]
                {
                    if let Some(v) = value {
                        extra.push((name.to_owned(), json!(v)));
                    }
                }
                if let Some(enabled) = eticket_enabled {
                    extra.push(("eticket_enabled".to_owned(), json!(enabled)));
                }
                let spec = OrderSpec {
                    num: num.unwrap_or(2),
                    consume_type: consume_type.unwrap_or(0),
                    item_title: item_title.clone().unwrap_or(base.item_title.clone()),
                    mobile: mobile.clone().unwrap_or(base.mobile.clone()),
                    gateway_fault: gateway_fault.as_ref().map(fault_of),
                    extra,
                    ..base
                };
                let result = if self.app_key == self.p.ctx.merchant.app_key {
                    self.p.buy(spec).await
                } else {
                    platform.buy(&self.app_key, &spec).await
                };
                let result = match result {
                    Ok(bought) => {
                        self.p.remember_order(bought.order_id);
                        self.order = Some(bought);
                        self.mark = 0;
                        self.codes_before = Vec::new();
                        Ok(Value::Null)
                    }
                    Err(e) => Err(e),
                };
                refused_as(result, refused)
            }
            Step::Fault { kind } => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                self.set_mark().await?;
                let body = json!({ "target": "notification", "order_id": order_id, "fault": kind });
                refused_as(platform.admin(reqwest::Method::POST, "/admin/faults", Some(body)).await, &None)
            }
            Step::GatewayFault(spec) => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                match &spec.lost_answer {
                    Some(form) => {
                        platform.lost_answer(order_id, &full_api(&spec.api), form, spec.times.unwrap_or(1)).await?;
                    }
                    None => {
                        platform.gateway_fault(order_id, &fault_of(spec)).await?;
                    }
                }
                Ok(Ok(()))
            }
            Step::Redeem { code, num, expect } => self.redeem(*code, *num, expect).await,
            Step::ReverseAtPos { serial, expect } => {
                self.reverse_at_pos(serial.as_deref(), expect.as_deref().unwrap_or("reversed")).await
            }
            Step::ClearFaults => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                let faults = platform.admin(reqwest::Method::GET, "/admin/faults", None).await?;
                for fault in faults["gateway"].as_array().into_iter().flatten() {
                    if fault["order_id"].as_i64() == Some(order_id)
                        && let Some(id) = fault["id"].as_u64()
                    {
                        platform.delete_fault(&id.to_string()).await?;
                    }
                }
                Ok(Ok(()))
            }
            Step::Resend { alteration, refused } => self.action("resend", json!({}), alteration, refused).await,
            Step::ModifyMobile { mobile, alteration, refused } => {
                self.action("modify-mobile", json!({ "mobile": mobile }), alteration, refused).await
            }
            Step::Refund { alteration, refused } => self.action("refund", json!({}), alteration, refused).await,
            Step::Extend { valid_ends, valid_start, alteration, refused } => {
                let mut body = json!({ "valid_ends": valid_ends });
                if let Some(start) = valid_start {
                    body["valid_start"] = json!(start);
                }
                self.action("extend", body, alteration, refused).await
            }
            Step::RightsProtection { alteration, refused } => {
                self.action("rights-protection", json!({}), alteration, refused).await
            }
            Step::AdvanceClock { seconds } => {
                self.set_mark().await?;
                // Only the clock of the merchant the scenario bought for (INTERFACES §1): on a shared platform,
                // other merchants' checks and scenarios keep their time.
                let body = json!({ "advance_seconds": seconds, "app_key": self.app_key });
                platform.admin(reqwest::Method::POST, "/admin/clock", Some(body)).await?;
                Ok(Ok(()))
            }
            Step::Wait { seconds } => {
                tokio::time::sleep(Duration::from_secs_f64(*seconds)).await;
                Ok(Ok(()))
            }
            Step::Post { method, params, expect } => self.post(method, params, expect.as_deref()).await,
            Step::Call { api, params, code, sub_code } => self.call(api, params, *code, sub_code.as_deref()).await,
            Step::ExpectAck { method, verdict, within, attempt } => {
                self.expect_ack(method, verdict, secs(*within, DEFAULT_ACK_WITHIN), attempt.unwrap_or(1)).await
            }
            Step::ExpectNoNotification { within } => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                let mark = self.mark;
                let found = self
                    .p
                    .wait_for(order_id, secs(*within, DEFAULT_QUIET_WITHIN), |ex| {
                        ex.iter().skip(mark).find_map(|e| match e {
                            Exchange::Notification(n) => Some(describe_attempt(n)),
                            Exchange::Gateway(_) => None,
                        })
                    })
                    .await?;
                Ok(match found {
                    None => Ok(()),
                    Some(seen) => {
                        Err(Verdict::fail("a notification was sent").expected("no notification").actual(seen))
                    }
                })
            }
            Step::ExpectCallback { api, within, sub_code, codes, sum, same_codes, different_codes } => {
                let want = CallbackWant {
                    api: full_api(api),
                    sub_code: sub_code.as_deref(),
                    codes: *codes,
                    sum: *sum,
                    same_codes: *same_codes,
                    different_codes: *different_codes,
                };
                self.expect_callback(want, secs(*within, DEFAULT_CALLBACK_WITHIN)).await
            }
            Step::ExpectNoCallback { api, within } => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                let (mark, api) = (self.mark, api.as_deref().map(full_api));
                let found = self
                    .p
                    .wait_for(order_id, secs(*within, DEFAULT_QUIET_WITHIN), |ex| {
                        ex.iter().skip(mark).find_map(|e| match e {
                            Exchange::Gateway(g) if api.as_deref().is_none_or(|a| a == g.method) => {
                                Some(describe_calls(&[g]))
                            }
                            _ => None,
                        })
                    })
                    .await?;
                Ok(match found {
                    None => Ok(()),
                    Some(seen) => Err(Verdict::fail("the merchant made a call that must not come")
                        .expected(format!("no {} call", api.as_deref().unwrap_or("gateway")))
                        .actual(seen)),
                })
            }
            Step::ExpectState { state, within, left_num, cancel_num, mobile, codes_status } => {
                let order_id = match self.order() {
                    Ok(o) => o.order_id,
                    Err(v) => return Ok(Err(v)),
                };
                let path = format!("/admin/orders/{order_id}");
                let until = Instant::now() + secs(*within, DEFAULT_STATE_WITHIN);
                loop {
                    let order = platform.admin(reqwest::Method::GET, &path, None).await?;
                    let mut misses = Vec::new();
                    if order["state"].as_str() != Some(state.as_str()) {
                        misses.push(format!("state {}", order["state"]));
                    }
                    for (name, want) in [("left_num", left_num), ("cancel_num", cancel_num)] {
                        if let Some(want) = want
                            && order[name].as_u64() != Some(u64::from(*want))
                        {
                            misses.push(format!("{name} {}", order[name]));
                        }
                    }
                    if let Some(want) = mobile
                        && order["mobile"].as_str() != Some(want.as_str())
                    {
                        misses.push(format!("mobile {}", order["mobile"]));
                    }
                    if let Some(want) = codes_status {
                        let codes = order["codes"].as_array().cloned().unwrap_or_default();
                        if codes.is_empty() || codes.iter().any(|c| c["status"].as_str() != Some(want.as_str())) {
                            misses.push(format!("codes {}", order["codes"]));
                        }
                    }
                    if misses.is_empty() {
                        return Ok(Ok(()));
                    }
                    if Instant::now() >= until {
                        let mut expected = format!("state {state}");
                        for (name, want) in [("left_num", left_num), ("cancel_num", cancel_num)] {
                            if let Some(want) = want {
                                expected.push_str(&format!(", {name} {want}"));
                            }
                        }
                        if let Some(want) = mobile {
                            expected.push_str(&format!(", mobile {want}"));
                        }
                        if let Some(want) = codes_status {
                            expected.push_str(&format!(", every code {want}"));
                        }
                        return Ok(Err(Verdict::fail("the order is not in the expected state")
                            .expected(expected)
                            .actual(misses.join(", "))));
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// `redeem`: the POS hook's answer read as `redeemed`, `refused` or `unknown`.
    async fn redeem(&mut self, index: usize, num: u32, expect: &str) -> StepResult {
        let Some(hook) = self.p.ctx.pos.clone() else { return Ok(Err(Verdict::skip(NO_HOOK))) };
        let order_id = match self.order() {
            Ok(o) => o.order_id,
            Err(v) => return Ok(Err(v)),
        };
        self.set_mark().await?;
        let order = self.p.order(order_id).await?;
        let Some(code) = order.codes.get(index).map(|c| c.code.clone()) else {
            return Ok(Err(Verdict::fail(format!(
                "the order has no code number {index} ({} issued)",
                order.codes.len()
            ))));
        };
        let answer = hook.consume(self.p, order_id, &code, num).await;
        let got = match &answer {
            HookAnswer::Redeemed { serial } => {
                self.last_serial = Some(serial.clone());
                "redeemed"
            }
            HookAnswer::OutcomeUnknown { serial } => {
                self.last_serial = serial.clone();
                "unknown"
            }
            HookAnswer::Refused { .. } => "refused",
            HookAnswer::Broken(_) => "no usable answer",
        };
        Ok(hook_answered_as_expected(got, expect, &answer))
    }

    /// `reverse_at_pos`: the POS hook's answer to a reverse read as `reversed` or `refused`.
    async fn reverse_at_pos(&mut self, serial: Option<&str>, expect: &str) -> StepResult {
        let Some(hook) = self.p.ctx.pos.clone() else { return Ok(Err(Verdict::skip(NO_HOOK))) };
        let order_id = match self.order() {
            Ok(o) => o.order_id,
            Err(v) => return Ok(Err(v)),
        };
        let Some(serial) = serial.map(str::to_owned).or_else(|| self.last_serial.clone()) else {
            return Ok(Err(Verdict::error("no serial to reverse: give `serial` or redeem first")));
        };
        self.set_mark().await?;
        let answer = hook.reverse(self.p, order_id, &serial).await;
        let got = if answer.is_2xx() { "reversed" } else { "refused" };
        Ok(hook_answered_as_expected(got, expect, &answer))
    }

    async fn action(
        &mut self,
        action: &str,
        mut body: Value,
        alteration: &Option<String>,
        refused: &Option<Refusal>,
    ) -> StepResult {
        let order_id = match self.order() {
            Ok(o) => o.order_id,
            Err(v) => return Ok(Err(v)),
        };
        self.set_mark().await?;
        if let Some(kind) = alteration {
            body["alteration"] = json!(kind);
        }
        let path = format!("/admin/orders/{order_id}/{action}");
        refused_as(self.p.platform().admin(reqwest::Method::POST, &path, Some(body)).await, refused)
    }

    async fn expect_ack(&self, method: &str, verdict: &str, within: Duration, attempt: u32) -> StepResult {
        let order_id = match self.order() {
            Ok(o) => o.order_id,
            Err(v) => return Ok(Err(v)),
        };
        let mark = self.mark;
        let found = self
            .p
            .wait_for(order_id, within, |ex| {
                ex.iter().skip(mark).find_map(|e| match e {
                    Exchange::Notification(n) if n.method == method && n.attempt == attempt && n.finished() => {
                        Some(n.clone())
                    }
                    _ => None,
                })
            })
            .await?;
        let Some(seen) = found else {
            return Ok(Err(Verdict::fail(format!("no {method} attempt {attempt} within {} s", within.as_secs_f64()))
                .expected(format!("{method} answered {verdict}"))
                .actual("no attempt recorded")));
        };
        let read = seen.verdict.as_deref().unwrap_or("not_ack");
        Ok(if read == verdict {
            Ok(())
        } else {
            Err(Verdict::fail(format!("{method} was answered {read}"))
                .expected(format!("{method} answered {verdict}"))
                .actual(describe_attempt(&seen))
                .hint("the acknowledgement is exactly the bytes {\"code\":200} (or {\"code\":300}), nothing around them (FAQ 2.26)"))
        })
    }

    async fn expect_callback(&mut self, want: CallbackWant<'_>, within: Duration) -> StepResult {
        let (order_id, token) = match self.order() {
            Ok(o) => (o.order_id, o.token.clone()),
            Err(v) => return Ok(Err(v)),
        };
        let mark = self.mark;
        let found = self
            .p
            .wait_for(order_id, within, |ex| {
                ex.iter().skip(mark).find_map(|e| match e {
                    Exchange::Gateway(g) if g.method == want.api => match want.sub_code {
                        Some(sub) => g.sub_code().is_some_and(|s| s.contains(sub)).then(|| g.clone()),
                        None => g.succeeded().then(|| g.clone()),
                    },
                    _ => None,
                })
            })
            .await?;
        let Some(call) = found else {
            let ex = self.p.exchanges(order_id).await?;
            let made: Vec<_> = ex
                .iter()
                .skip(mark)
                .filter_map(|e| match e {
                    Exchange::Gateway(g) if g.method == want.api => Some(g),
                    _ => None,
                })
                .collect();
            let answer = want.sub_code.map(|s| format!("answered {s}")).unwrap_or_else(|| "successful".into());
            return Ok(Err(Verdict::fail(format!("no {answer} {} within {} s", want.api, within.as_secs_f64()))
                .expected(format!("{} {answer}", want.api))
                .actual(describe_calls(&made))));
        };
        if want.sub_code.is_some() {
            return Ok(Ok(()));
        }
        if call.param("token") != Some(token.as_str()) {
            return Ok(Err(Verdict::fail(format!("{} did not echo the order's token", want.api))
                .expected(format!("token={token}"))
                .actual(format!("token={}", call.param("token").unwrap_or("(none)")))
                .hint("echo the token of the notification (FAQ 2.9)")));
        }
        let set = code_set(&call);
        if want.codes.is_some() || want.sum.is_some() || want.same_codes || want.different_codes {
            let Some(set) = set else {
                return Ok(Err(Verdict::fail(format!("{} carried no readable verify_codes", want.api))
                    .actual(call.param("verify_codes").unwrap_or("(none)").to_owned())));
            };
            let sum: u64 = set.iter().map(|(_, n)| u64::from(*n)).sum();
            let mut misses = Vec::new();
            if want.codes.is_some_and(|n| n != set.len()) {
                misses.push(format!("{} codes, expected {}", set.len(), want.codes.unwrap_or_default()));
            }
            if want.sum.is_some_and(|n| n != sum) {
                misses.push(format!("counts sum to {sum}, expected {}", want.sum.unwrap_or_default()));
            }
            if want.same_codes && set != self.codes_before {
                misses.push(format!("not the codes issued before ({})", show_set(&self.codes_before)));
            }
            if want.different_codes && set == self.codes_before {
                misses.push("the same codes as before".into());
            }
            if !misses.is_empty() {
                return Ok(Err(Verdict::fail(format!("{} carried unexpected verify_codes", want.api))
                    .expected(misses.join("; "))
                    .actual(format!("verify_codes={}", show_set(&set)))
                    .hint("{\"code\":200} on resend means the same codes; {\"code\":300} new ones (FAQ 2.26, 2.27)")));
            }
        }
        Ok(Ok(()))
    }

    async fn post(
        &mut self,
        method: &str,
        extra: &std::collections::BTreeMap<String, String>,
        expect: Option<&str>,
    ) -> StepResult {
        let (order_id, token) = match self.order() {
            Ok(o) => (o.order_id, o.token.clone()),
            Err(v) => return Ok(Err(v)),
        };
        let ex = self.p.exchanges(order_id).await?;
        let send = ex.iter().find_map(|e| match e {
            Exchange::Notification(n) if n.method == "send" => Some(n.params.clone()),
            _ => None,
        });
        let mut params = Params::from_pairs(send.unwrap_or_default());
        if params.is_empty() {
            params.set("order_id", order_id.to_string());
            params.set("token", token);
            params.set("num", "1");
        }
        params.set("method", method);
        for (name, value) in extra {
            params.set(name, value.clone());
        }
        self.set_mark().await?;
        let reply =
            self.p.post_notification(order_id, params, &format!("suite: {method} signed with the notify key")).await;
        // The merchant may call back after this post; expectations look from here on.
        let Some(want) = expect else { return Ok(Ok(())) };
        let read = reply.status.map(|status| AckReply::classify(status, &reply.body));
        let got = read.as_ref().map(ack_text).unwrap_or("not_ack");
        Ok(if got == want {
            Ok(())
        } else {
            Err(Verdict::fail(format!("the {method} the suite posted was answered {got}"))
                .expected(want.to_owned())
                .actual(match (reply.status, reply.error) {
                    (Some(status), _) => format!("HTTP {status} {}", quoted_bytes(&reply.body)),
                    (None, e) => format!("no reply: {}", e.unwrap_or_default()),
                }))
        })
    }

    async fn call(
        &mut self,
        api: &str,
        extra: &std::collections::BTreeMap<String, String>,
        code: Option<i64>,
        sub_code: Option<&str>,
    ) -> StepResult {
        let (order_id, token) = match self.order() {
            Ok(o) => (o.order_id, o.token.clone()),
            Err(v) => return Ok(Err(v)),
        };
        let m = &self.p.ctx.merchant;
        let api = full_api(api);
        let timestamp = Gmt8Timestamp::from_utc(Utc::now());
        let mut request = TopRequest::new(&api, &m.app_key, &m.session, timestamp, SignMethod::Md5)
            .param("order_id", order_id.to_string())
            .param("token", token);
        for (name, value) in extra {
            request = request.param(name, value.clone());
        }
        let params = request.signed(&m.app_secret);
        let url = format!("{}/router/rest", self.p.platform().base());
        let started = now_text();
        let response = reqwest::Client::new()
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(params.to_urlencoded(protocol::params::Charset::Utf8))
            .send()
            .await
            .map_err(|source| PlatformError::Http { path: "/router/rest".into(), source })?;
        let body =
            response.text().await.map_err(|source| PlatformError::Http { path: "/router/rest".into(), source })?;
        let mut entry = TimelineEntry::new(EntryKind::Suite, format!("suite: {api} in the merchant's name"));
        entry.order_id = Some(order_id);
        entry.at = Some(started);
        entry.params =
            params.iter().filter(|(n, _)| *n != "session").map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        entry.reply = Some(body.clone());
        self.p.record(entry);
        // The platform records this call among the order's exchanges: expectations look past it.
        self.mark = self.p.exchanges(order_id).await?.len();
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let error = &parsed["error_response"];
        let got_code = error["code"].as_i64();
        let got_sub = error["sub_code"].as_str();
        let ok = match (code, sub_code) {
            (None, None) => got_code.is_none(),
            _ => {
                code.is_none_or(|c| got_code == Some(c))
                    && sub_code.is_none_or(|s| got_sub.is_some_and(|g| g.contains(s)))
            }
        };
        Ok(if ok {
            Ok(())
        } else {
            let expected = match (code, sub_code) {
                (None, None) => "success".to_owned(),
                (c, s) => format!("error {} {}", c.map(|c| c.to_string()).unwrap_or_default(), s.unwrap_or_default()),
            };
            Err(Verdict::fail(format!("{api} was not answered as expected")).expected(expected).actual(body))
        })
    }
}

/// What `expect_callback` looks for.
struct CallbackWant<'a> {
    api: String,
    sub_code: Option<&'a str>,
    codes: Option<usize>,
    sum: Option<u64>,
    same_codes: bool,
    different_codes: bool,
}

/// A `redeem` / `reverse_at_pos` step's verdict: the hook's answer, read as `got`, against the step's `expect`.
fn hook_answered_as_expected(got: &str, expect: &str, answer: &HookAnswer) -> Result<(), Verdict> {
    if got == expect {
        Ok(())
    } else {
        Err(Verdict::fail(format!("the POS hook answered {got}, not {expect}"))
            .expected(expect.to_owned())
            .actual(answer.describe()))
    }
}
