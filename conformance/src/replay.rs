//! `conformance replay CASE.json`: re-creates an exported order (`eticket-case/1`, mock-platform README "Case
//! files") on the platform, re-sends its notifications to the merchant under test in the recorded order, and
//! compares what the merchant does with what was recorded: acknowledgement bytes per notification attempt, the
//! shape of every callback (API, answer, number of codes and their counts, token echo) and its ordering (the C4
//! causality). Runs as one check (`replay.<file stem>`) through the ordinary runner and reporters.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::Params;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::RunArgs;
use crate::exit;
use crate::outcome::Verdict;
use crate::plan::judge::code_set;
use crate::plan::{Check, CheckResult, Probe};
use crate::platform_client::{Exchange, GatewayCall, NotificationAttempt, OrderSpec, PlatformError};
use crate::quote::{quoted, quoted_bytes};
use crate::report::terminal::TerminalReporter;
use crate::runner::Reporters;
use crate::session::{SessionLimits, exit_code, file_reporters, run_session_with};

/// How long replay waits for the merchant to catch up with the recording before the next notification.
const CATCH_UP: Duration = Duration::from_secs(20);
/// After the last notification: how long extra calls are watched for (real gaps) or with `--fast`.
const SETTLE: Duration = Duration::from_secs(3);
const SETTLE_FAST: Duration = Duration::from_millis(1000);
const POLL: Duration = Duration::from_millis(100);

/// `conformance replay` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A case file exported by mock-platform (`GET /admin/orders/{id}/case`).
    #[arg(value_name = "CASE.json")]
    pub case: PathBuf,
    /// Do not wait the recorded gaps between notifications; advance the platform clock for recorded retries.
    #[arg(long)]
    pub fast: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The parts of a case file replay uses.
#[derive(Debug, Clone)]
pub struct Case {
    pub order: CaseOrder,
    /// Every recorded exchange with its `at_ms`.
    pub exchanges: Vec<(u64, Exchange)>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CaseOrder {
    pub token: String,
    pub num: u32,
    pub mobile: String,
    pub item_title: String,
    #[serde(default)]
    pub consume_type: u8,
    #[serde(default)]
    pub valid_start: Option<String>,
    #[serde(default)]
    pub valid_ends: Option<String>,
    #[serde(default = "yes")]
    pub eticket_enabled: bool,
}

fn yes() -> bool {
    true
}

/// Reads an `eticket-case/1` file.
pub fn load_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_case(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_case(text: &str) -> Result<Case, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if doc["schema"] != "eticket-case/1" {
        return Err(format!("schema {} is not \"eticket-case/1\"", doc["schema"]));
    }
    let order: CaseOrder = serde_json::from_value(doc["order"].clone()).map_err(|e| format!("order: {e}"))?;
    let mut exchanges = Vec::new();
    for (i, e) in doc["exchanges"].as_array().ok_or("no exchanges")?.iter().enumerate() {
        let at = e["at_ms"].as_u64().unwrap_or(0);
        let parsed: Exchange = serde_json::from_value(e.clone()).map_err(|err| format!("exchange {}: {err}", i + 1))?;
        exchanges.push((at, parsed));
    }
    Ok(Case { order, exchanges })
}

/// One notification of the recording (all its attempts).
#[derive(Debug, Clone)]
struct RecordedNotification {
    number: u32,
    method: String,
    first: NotificationAttempt,
    at_ms: u64,
    /// Index in the case's exchanges of the first attempt.
    seq: usize,
}

fn notifications(case: &Case) -> Vec<RecordedNotification> {
    let mut out: Vec<RecordedNotification> = Vec::new();
    for (seq, (at, e)) in case.exchanges.iter().enumerate() {
        if let Exchange::Notification(n) = e
            && !out.iter().any(|r| r.number == n.notification)
        {
            out.push(RecordedNotification {
                number: n.notification,
                method: n.method.clone(),
                first: n.clone(),
                at_ms: *at,
                seq,
            });
        }
    }
    out
}

fn attempts_of(ex: &[Exchange]) -> Vec<&NotificationAttempt> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Notification(n) => Some(n),
            Exchange::Gateway(_) => None,
        })
        .collect()
}

fn calls_of(ex: &[Exchange]) -> Vec<&GatewayCall> {
    ex.iter()
        .filter_map(|e| match e {
            Exchange::Gateway(g) => Some(g),
            Exchange::Notification(_) => None,
        })
        .collect()
}

/// How a notification attempt was answered, as compared.
fn reply_text(n: &NotificationAttempt) -> String {
    match (&n.status, &n.error) {
        (Some(status), _) => {
            format!("{status} {} {}", quoted(n.reply.as_deref().unwrap_or("")), n.verdict.as_deref().unwrap_or("?"))
        }
        (None, Some(e)) => format!("no reply ({e})"),
        (None, None) => "no reply".into(),
    }
}

/// The shape of a callback: codes differ between runs, so their number and counts are compared.
fn call_shape(g: &GatewayCall, token: &str) -> String {
    let short = g.method.trim_start_matches("taobao.vmarket.eticket.");
    let answer = match (&g.error_code, &g.sub_code) {
        (None, _) => "ok".to_owned(),
        (Some(code), Some(sub)) => format!("{code} {sub}"),
        (Some(code), None) => format!("{code}"),
    };
    let codes = match code_set(g) {
        Some(set) => {
            let mut counts: Vec<u32> = set.iter().map(|(_, n)| *n).collect();
            counts.sort_unstable();
            format!(" codes {}×{counts:?}", set.len())
        }
        None => String::new(),
    };
    let token = match g.param("token") {
        Some(t) if t == token => " token echoed",
        Some(_) => " token wrong",
        None => " no token",
    };
    let causality = g.causality.as_deref().map(|c| format!(" causality {c}")).unwrap_or_default();
    format!("{short} {answer}{codes}{token}{causality}")
}

/// One line of the side-by-side comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub what: String,
    pub recorded: String,
    pub observed: String,
}

impl Row {
    pub fn differs(&self) -> bool {
        self.recorded != self.observed
    }
}

/// Renders the comparison, `≠` marking the differing lines.
pub fn render(rows: &[Row]) -> String {
    let mut out = format!("{:<38} {:<58} {}\n", "", "recorded", "observed");
    for r in rows {
        let mark = if r.differs() { "≠" } else { " " };
        out.push_str(&format!("{mark} {:<36} {:<58} {}\n", r.what, r.recorded, r.observed));
    }
    out
}

/// Replays `case` through the probe; answers the rows of the comparison.
async fn replay(p: &Probe, case: &Case, fast: bool) -> Result<Result<Vec<Row>, Verdict>, PlatformError> {
    let recorded = notifications(case);
    let Some(first) = recorded.first() else {
        return Ok(Err(Verdict::error("the case records no notification to replay")));
    };
    let o = &case.order;
    let mut extra = Vec::new();
    if let Some(kind) = &first.first.alteration {
        extra.push(("alteration".to_owned(), json!(kind)));
    }
    if !o.eticket_enabled {
        extra.push(("eticket_enabled".to_owned(), json!(false)));
    }
    // The same item data as the recorded `send` carried.
    let recorded_param = |name: &str| first.first.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    for name in ["outer_iid", "sub_outer_iid", "sku_properties", "sms_template", "weeks"] {
        if let Some(v) = recorded_param(name).filter(|v| !v.is_empty()) {
            extra.push((name.to_owned(), json!(v)));
        }
    }
    for name in ["num_iid", "send_type"] {
        if let Some(n) = recorded_param(name).and_then(|v| v.parse::<i64>().ok()) {
            extra.push((name.to_owned(), json!(n)));
        }
    }
    let base = OrderSpec {
        num: o.num,
        mobile: o.mobile.clone(),
        item_title: o.item_title.clone(),
        consume_type: o.consume_type,
        sku_properties: None,
        outer_iid: None,
        extra,
        ..p.order_spec()
    };
    // The recorded validity, unless it has ended since (the platform would refuse the order, FAQ 2.28).
    let mut with_validity = base.clone();
    for (name, value) in [("valid_start", &o.valid_start), ("valid_ends", &o.valid_ends)] {
        if let Some(v) = value {
            with_validity.extra.push((name.to_owned(), json!(v)));
        }
    }
    let bought = match p.buy(with_validity).await {
        Ok(b) => b,
        Err(PlatformError::Status { status: 422, .. }) => p.buy(base).await?,
        Err(e) => return Err(e),
    };
    let order_id = bought.order_id;
    let started = Instant::now();
    let mut rows = Vec::new();
    // Notifications the suite posted itself (the platform cannot produce them): position → reply text.
    let mut posted: Vec<(u32, String)> = Vec::new();

    for next in recorded.iter().skip(1) {
        let prefix: Vec<&Exchange> = case.exchanges[..next.seq].iter().map(|(_, e)| e).collect();
        catch_up(p, order_id, &prefix, fast).await?;
        if !fast {
            let due = Duration::from_millis(next.at_ms);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let alteration = next.first.alteration.clone();
        let mut body = json!({});
        if let Some(kind) = &alteration {
            body["alteration"] = json!(kind);
        }
        let param = |name: &str| next.first.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let action = match (next.method.as_str(), next.first.duplicate) {
            (_, true) => {
                Some(("fault", json!({ "target": "notification", "order_id": order_id, "fault": "duplicate" })))
            }
            ("resend", _) => Some(("resend", body.clone())),
            ("modified", _) => {
                body["mobile"] = json!(param("mobile").unwrap_or_else(|| o.mobile.clone()));
                Some(("modify-mobile", body.clone()))
            }
            ("cancel", _) => Some(("refund", body.clone())),
            ("order_modify", _) if param("sub_method").as_deref() == Some("2") => {
                Some(("rights-protection", body.clone()))
            }
            ("order_modify", _) => {
                let ends = param("valid_ends").or_else(|| o.valid_ends.clone()).unwrap_or_default();
                body["valid_ends"] = json!(ends);
                Some(("extend", body.clone()))
            }
            _ => None,
        };
        match action {
            Some((name, body)) => {
                let path = if name == "fault" {
                    "/admin/faults".to_owned()
                } else {
                    format!("/admin/orders/{order_id}/{name}")
                };
                p.note(Some(order_id), format!("replay: notification {} ({}) via {name}", next.number, next.method));
                if let Err(e) = p.platform().admin(reqwest::Method::POST, &path, Some(body)).await {
                    match e {
                        PlatformError::Status { status, body, .. } => rows.push(Row {
                            what: format!("notification {} {}", next.number, next.method),
                            recorded: "delivered".into(),
                            observed: format!("platform refused {name}: {status} {body}"),
                        }),
                        other => return Err(other),
                    }
                }
            }
            None => {
                // Re-sent by the suite itself: the recorded params, fresh timestamp, the target's notify key.
                let mut params = Params::from_pairs(next.first.params.clone());
                params.set("order_id", order_id.to_string());
                params.set("token", bought.token.clone());
                let title = format!("replay: notification {} ({}) posted by the suite", next.number, next.method);
                let reply = p.post_notification(order_id, params, &title).await;
                let text = match reply.status {
                    Some(status) => {
                        let read = protocol::AckReply::classify(status, &reply.body);
                        let verdict = match read {
                            protocol::AckReply::Code200 => "ack_200",
                            protocol::AckReply::Code300 => "ack_300",
                            protocol::AckReply::NotAck(_) => "not_ack",
                        };
                        format!("{status} {} {verdict}", quoted_bytes(&reply.body))
                    }
                    None => format!("no reply ({})", reply.error.unwrap_or_default()),
                };
                posted.push((next.number, text));
            }
        }
    }
    let all: Vec<&Exchange> = case.exchanges.iter().map(|(_, e)| e).collect();
    catch_up(p, order_id, &all, fast).await?;
    tokio::time::sleep(if fast { SETTLE_FAST } else { SETTLE }).await;

    let observed = p.exchanges(order_id).await?;
    let recorded_ex: Vec<Exchange> = case.exchanges.iter().map(|(_, e)| e.clone()).collect();
    // Observed platform notifications are numbered without the posted ones: map recorded numbers onto them.
    let mut platform_numbers = Vec::new();
    for n in attempts_of(&observed) {
        if !platform_numbers.contains(&n.notification) {
            platform_numbers.push(n.notification);
        }
    }
    let mut platform_iter = platform_numbers.into_iter();
    for r in &recorded {
        if let Some((_, text)) = posted.iter().find(|(n, _)| *n == r.number) {
            let recorded_attempt = attempts_of(&recorded_ex).into_iter().find(|a| a.notification == r.number);
            rows.push(Row {
                what: format!("notification {} {} · posted", r.number, r.method),
                recorded: recorded_attempt.map(reply_text).unwrap_or_default(),
                observed: text.clone(),
            });
            continue;
        }
        let observed_number = platform_iter.next();
        let rec: Vec<&NotificationAttempt> =
            attempts_of(&recorded_ex).into_iter().filter(|a| a.notification == r.number).collect();
        let obs: Vec<&NotificationAttempt> = attempts_of(&observed)
            .into_iter()
            .filter(|a| Some(a.notification) == observed_number && a.finished())
            .collect();
        for i in 0..rec.len().max(obs.len()) {
            let attempt = i + 1;
            rows.push(Row {
                what: format!("notification {} {} · attempt {attempt}", r.number, r.method),
                recorded: rec.get(i).map(|a| reply_text(a)).unwrap_or_else(|| "(none)".into()),
                observed: obs.get(i).map(|a| reply_text(a)).unwrap_or_else(|| "(none)".into()),
            });
        }
    }
    let rec_calls = calls_of(&recorded_ex);
    let obs_calls = calls_of(&observed);
    for i in 0..rec_calls.len().max(obs_calls.len()) {
        rows.push(Row {
            what: format!("callback {}", i + 1),
            recorded: rec_calls.get(i).map(|g| call_shape(g, &case.order.token)).unwrap_or_else(|| "(none)".into()),
            observed: obs_calls.get(i).map(|g| call_shape(g, &bought.token)).unwrap_or_else(|| "(none)".into()),
        });
    }
    Ok(Ok(rows))
}

/// Waits until the order has at least as many finished notification attempts and gateway calls as `prefix`
/// (bounded); with `fast`, advances the platform clock so that recorded retries come now.
async fn catch_up(p: &Probe, order_id: i64, prefix: &[&Exchange], fast: bool) -> Result<(), PlatformError> {
    let want_attempts = prefix.iter().filter(|e| matches!(e, Exchange::Notification(_))).count();
    let want_calls = prefix.iter().filter(|e| matches!(e, Exchange::Gateway(_))).count();
    let until = Instant::now() + CATCH_UP;
    let mut last_advance = Instant::now();
    loop {
        let ex = p.exchanges(order_id).await?;
        let attempts = attempts_of(&ex).iter().filter(|a| a.finished()).count();
        let calls = calls_of(&ex).len();
        if (attempts >= want_attempts && calls >= want_calls) || Instant::now() >= until {
            return Ok(());
        }
        let in_flight = attempts_of(&ex).iter().any(|a| !a.finished());
        if fast && attempts < want_attempts && !in_flight && last_advance.elapsed() >= Duration::from_millis(500) {
            // A recorded retry: retries are due on the merchant's clock (15 s after the first attempt, …); only
            // that merchant's clock moves, so a shared platform's other merchants keep their time.
            let body = json!({ "advance_seconds": 16, "app_key": p.ctx.merchant.app_key });
            p.platform().admin(reqwest::Method::POST, "/admin/clock", Some(body)).await?;
            last_advance = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The replay as one check; the comparison is also left in `table` for the command to print.
pub fn check(id: String, case: Case, fast: bool, table: Arc<Mutex<String>>) -> Check {
    let id: &'static str = Box::leak(id.into_boxed_str());
    let case = Arc::new(case);
    Check::new(id, "the merchant behaves as recorded in the case file", "replay · FAQ 2.31", move |p: Arc<Probe>| {
        let (case, table) = (case.clone(), table.clone());
        async move {
            let rows = match replay(&p, &case, fast).await? {
                Ok(rows) => rows,
                Err(verdict) => return CheckResult::Ok(verdict),
            };
            let text = render(&rows);
            *table.lock().expect("not poisoned") = text.clone();
            let differing: Vec<&Row> = rows.iter().filter(|r| r.differs()).collect();
            Ok(match differing.first() {
                None => Verdict::pass(format!("{} lines compared, no difference", rows.len())),
                Some(first) => Verdict::fail(format!(
                    "{} difference(s); first: {}: recorded {} / observed {}",
                    differing.len(),
                    first.what,
                    first.recorded,
                    first.observed
                ))
                .expected(
                    differing.iter().map(|r| format!("{}: {}", r.what, r.recorded)).collect::<Vec<_>>().join("\n"),
                )
                .actual(differing.iter().map(|r| format!("{}: {}", r.what, r.observed)).collect::<Vec<_>>().join("\n")),
            })
        }
    })
}

/// `conformance replay CASE.json <run options> [--fast]`.
pub fn replay_command(args: ReplayArgs) -> u8 {
    let case = match load_case(&args.case) {
        Ok(case) => case,
        Err(e) => {
            eprintln!("conformance replay: {e}");
            return exit::USAGE;
        }
    };
    let config = match args.run.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("conformance replay: {e}");
            return exit::USAGE;
        }
    };
    let stem = args.case.file_stem().and_then(|s| s.to_str()).unwrap_or("case");
    let table = Arc::new(Mutex::new(String::new()));
    let mut reporters = Reporters::default();
    reporters.push(Box::new(TerminalReporter::stdout()));
    file_reporters(&config, &mut reporters);
    let bound = Duration::from_secs(120) + recorded_span(&case, args.fast);
    let checks = vec![check(format!("replay.{stem}"), case, args.fast, table.clone())];
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts");
    let result = runtime.block_on(run_session_with(
        &config,
        checks,
        None,
        &mut reporters,
        SessionLimits { concurrency: 1, bound },
    ));
    let table = table.lock().expect("not poisoned").clone();
    if !table.is_empty() {
        println!("\n{table}");
    }
    match result {
        Ok(summary) => exit_code(&summary),
        Err(e) => {
            eprintln!("conformance replay: {e}");
            e.exit_code()
        }
    }
}

fn recorded_span(case: &Case, fast: bool) -> Duration {
    if fast {
        return Duration::ZERO;
    }
    Duration::from_millis(case.exchanges.iter().map(|(at, _)| *at).max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_example_case_parses_with_its_notifications_in_order() {
        let text = include_str!("../../fixtures/cases/send-resend-refund.json");
        let case = parse_case(text).unwrap();
        let methods: Vec<String> = notifications(&case).into_iter().map(|n| n.method).collect();
        assert_eq!(methods, ["send", "resend", "cancel"]);
        assert_eq!(case.order.num, 2);
        assert!(parse_case("{\"schema\":\"other\"}").is_err());
    }

    #[test]
    fn a_row_differs_only_when_the_texts_differ() {
        let same = Row { what: "x".into(), recorded: "a".into(), observed: "a".into() };
        let other = Row { observed: "b".into(), ..same.clone() };
        assert!(!same.differs() && other.differs());
        assert!(render(&[other]).contains('≠'));
    }
}
