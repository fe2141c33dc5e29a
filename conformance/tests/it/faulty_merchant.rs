//! A small merchant written for these tests only (it shares nothing with merchant-reference): correct by
//! default, with one realistic defect switched on, so the suite can be shown to catch it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::Utc;
use md5::{Digest, Md5};
use protocol::{Gmt8Timestamp, Notification, NotifyMethod, Params, Secret, SignMethod, TopReply, TopRequest};

/// One defect a real merchant could ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// Correct behaviour.
    None,
    /// Acks every notification without checking the sign.
    NoSignCheck,
    /// Answers a bad sign with `{"code":501}` but processes the notification anyway (logs, then carries on).
    RejectsButProcesses,
    /// Verifies the sign over UTF-8 bytes instead of GBK.
    Utf8Signing,
    /// Signs only the params it knows, so extras break verification (FAQ 2.14).
    SignsKnownParamsOnly,
    /// Does not check the timestamp.
    NoTimestampCheck,
    /// `{"code":200}` followed by a newline.
    TrailingNewline,
    /// `{"code":"200"}`.
    StringCode,
    /// Calls `eticket.send` without the token.
    TokenNotEchoed,
    /// Calls back inside the notification handler, before replying.
    CallbackBeforeAck,
    /// Issues new codes for every `send`, duplicates included.
    NewCodesOnDuplicate,
    /// Regenerates codes on resend but answers `{"code":200}`.
    Code200WithNewCodes,
    /// Not a defect: regenerates codes on resend and says so with `{"code":300}` (FAQ 2.26).
    Code300WithNewCodes,
    /// Answers `{"code":300}` (codes regenerated) but re-sends the same codes.
    Code300WithSameCodes,
    /// Forgets cancels: a later resend is honoured.
    CallbacksAfterCancel,
    /// Gives up on the first gateway error.
    NoRetry,
    /// Retries every error, terminal ones included, without end.
    HammersAfterTerminal,
    /// Signs TOP calls with the notify key instead of the app secret.
    NotifyKeyForTop,
    /// Signs TOP calls the way notifications are signed (key in front only, GBK), with the app secret.
    NotificationSchemeForTop,
    /// Acknowledges and never calls back.
    NeverCallsBack,
    /// Answers `order_modify` with `{"code":300}`.
    Code300OnOrderModify,
    /// Does its slow work before replying: the ack comes after the 5 s deadline.
    SlowAck,
    /// POS: a retry after a lost answer draws a new serial (C13).
    PosNewSerialOnRetry,
    /// POS: consumes without a serial_num and retries blindly (C11).
    PosNoSerialBlindRetry,
    /// POS: tells the clerk "refused" when the platform's answer was lost (C13).
    PosRefusedAfterLostAnswer,
    /// POS: redeems from its own records without calling the platform (C12 d).
    PosFromLocalRecords,
    /// POS: answers 2xx although the platform refused (C12 d).
    Pos2xxOnRefusal,
    /// POS: retries a terminal refusal again and again (C12 d).
    PosHammersTerminal,
    /// POS: reverses with reverse_num 1 whatever the consume redeemed (C14).
    PosReverseWrongCount,
    /// POS: sends consume_num 1 whatever the clerk asked (C11).
    PosWrongConsumeNum,
    /// Stalls once for 2 s (a lock held by a slow job): every notification arriving meanwhile waits (load).
    StallsOnce,
    /// Under load, every tenth order gets the code of the order before it (a racy code counter, load).
    DuplicateCodeUnderLoad,
    /// Handles one `send` at a time, 50 ms each: about 20 orders a second, then a queue (load, find-max).
    Serial50Ms,
}

/// `StallsOnce`: the `send` notification that starts the stall, and how long it lasts.
const STALL_AT: u64 = 10;
const STALL: Duration = Duration::from_secs(2);

/// What the merchant was configured with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub gateway: String,
    pub app_key: String,
    pub app_secret: Secret,
    pub session: String,
    pub notify_key: Secret,
}

#[derive(Debug, Clone)]
pub struct OrderState {
    pub token: String,
    pub codes: Vec<(String, u32)>,
    pub cancelled: bool,
}

#[derive(Debug)]
pub struct Merchant {
    pub defect: Defect,
    pub creds: Credentials,
    pub http: reqwest::Client,
    pub orders: Mutex<HashMap<i64, OrderState>>,
    next_code: AtomicU64,
    /// The POS hook's records (`faulty_pos.rs`).
    pub pos: crate::faulty_pos::PosState,
    /// Every notification passes through it; `StallsOnce` holds it for [`STALL`].
    stall: tokio::sync::Mutex<()>,
    sends: AtomicU64,
}

/// Starts the merchant on `127.0.0.1:0`; answers its notify URL (its POS hook is the same base + `/pos`).
pub async fn start(defect: Defect, creds: Credentials) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let merchant = Arc::new(Merchant {
        defect,
        creds,
        http: reqwest::Client::new(),
        orders: Mutex::new(HashMap::new()),
        next_code: AtomicU64::new(100_000_000_000),
        pos: Default::default(),
        stall: tokio::sync::Mutex::new(()),
        sends: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/notify", post(notify))
        .route("/pos/consume", post(crate::faulty_pos::consume))
        .route("/pos/reverse", post(crate::faulty_pos::reverse))
        .with_state(merchant);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

const REJECT: &[u8] = br#"{"code":501}"#;

impl Merchant {
    fn sign_ok(&self, params: &Params) -> bool {
        let key = &self.creds.notify_key;
        let received = params.get("sign").unwrap_or("");
        match self.defect {
            Defect::NoSignCheck => true,
            Defect::Utf8Signing => {
                let text = format!("{}{}", key.expose(), protocol::notify_canonical(params));
                protocol::signs_equal(&hex::encode_upper(Md5::digest(text.as_bytes())), received)
            }
            Defect::SignsKnownParamsOnly => {
                let known = params.iter().filter(|(n, _)| protocol::notification::KNOWN_PARAMS.contains(n));
                !received.is_empty() && protocol::signs_equal(&protocol::notify_sign(key, known), received)
            }
            _ => protocol::verify_notify(key, params).is_ok(),
        }
    }

    fn fresh_codes(&self, num: u32, consume_type: Option<&str>) -> Vec<(String, u32)> {
        if self.defect == Defect::DuplicateCodeUnderLoad && self.next_code.load(Ordering::Relaxed).is_multiple_of(10) {
            let previous = self.next_code.fetch_add(1, Ordering::Relaxed) - 1;
            return vec![(previous.to_string(), num)];
        }
        let next = || self.next_code.fetch_add(1, Ordering::Relaxed).to_string();
        if consume_type == Some("1") { (0..num).map(|_| (next(), 1)).collect() } else { vec![(next(), num)] }
    }

    async fn top(&self, api: &str, order_id: i64, order: &OrderState) -> Result<(), protocol::TopError> {
        let now = Gmt8Timestamp::from_utc(Utc::now());
        let codes: Vec<String> = order.codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        let mut request = TopRequest::new(api, &self.creds.app_key, &self.creds.session, now, SignMethod::Md5)
            .param("order_id", order_id.to_string())
            .param("verify_codes", codes.join(","));
        if self.defect != Defect::TokenNotEchoed {
            request = request.param("token", order.token.clone());
        }
        let secret =
            if self.defect == Defect::NotifyKeyForTop { &self.creds.notify_key } else { &self.creds.app_secret };
        let form = if self.defect == Defect::NotificationSchemeForTop {
            let mut params = request.params().clone();
            let sign = protocol::notify_sign(secret, &params);
            params.set("sign", sign);
            params
        } else {
            request.signed(secret)
        };
        let body = form.to_urlencoded(protocol::params::Charset::Utf8);
        let reply = self
            .http
            .post(&self.creds.gateway)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|_| protocol::TopError::invalid_argument("transport"))?;
        let bytes = reply.bytes().await.map_err(|_| protocol::TopError::invalid_argument("transport"))?;
        match TopReply::parse_json(api, &bytes) {
            Ok(TopReply::Success(_)) => Ok(()),
            Ok(TopReply::Error(e)) => Err(e),
            Err(_) => Err(protocol::TopError::invalid_argument("reply")),
        }
    }

    /// Calls back, retrying per the defect's policy.
    async fn callback(self: Arc<Self>, api: &'static str, order_id: i64, order: OrderState) {
        if self.defect == Defect::NeverCallsBack {
            return;
        }
        for _ in 0..40 {
            match self.top(api, order_id, &order).await {
                Ok(()) => return,
                Err(e) if e.is_already_sent() => return,
                Err(_) if self.defect == Defect::HammersAfterTerminal => {}
                Err(e) if e.is_transient() && self.defect != Defect::NoRetry => {}
                Err(_) => return,
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

async fn notify(State(m): State<Arc<Merchant>>, headers: HeaderMap, RawQuery(query): RawQuery, body: Bytes) -> Vec<u8> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let Ok(params) = Params::from_request(query.as_deref(), content_type, body) else { return REJECT.to_vec() };
    let sign_ok = m.sign_ok(&params);
    if !sign_ok && m.defect != Defect::RejectsButProcesses {
        return REJECT.to_vec();
    }
    if m.defect != Defect::NoTimestampCheck
        && protocol::time::check_timestamp_param(params.get("timestamp"), Utc::now()).is_err()
    {
        return REJECT.to_vec();
    }
    let Ok(n) = Notification::from_params(&params) else { return REJECT.to_vec() };
    if n.method == NotifyMethod::Send && m.defect == Defect::StallsOnce {
        let nth = m.sends.fetch_add(1, Ordering::Relaxed);
        let guard = m.stall.lock().await;
        if nth == STALL_AT {
            tokio::time::sleep(STALL).await;
        }
        drop(guard);
    }
    if n.method == NotifyMethod::Send && m.defect == Defect::Serial50Ms {
        let _one_at_a_time = m.stall.lock().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order_id = n.order_id.get();
    let mut ack: &[u8] = match m.defect {
        Defect::TrailingNewline => b"{\"code\":200}\n",
        Defect::StringCode => br#"{"code":"200"}"#,
        _ => br#"{"code":200}"#,
    };
    let callback = {
        let mut orders = m.orders.lock().unwrap();
        match n.method {
            NotifyMethod::Send => {
                let known = orders.get(&order_id).is_some_and(|o| !o.codes.is_empty());
                if known && m.defect != Defect::NewCodesOnDuplicate {
                    None
                } else {
                    let codes = m.fresh_codes(n.num.unwrap_or(1), n.consume_type.as_deref());
                    let token = n.token.as_ref().map(|t| t.to_string()).unwrap_or_default();
                    let order = OrderState { token, codes, cancelled: false };
                    orders.insert(order_id, order.clone());
                    Some(("taobao.vmarket.eticket.send", order))
                }
            }
            NotifyMethod::Resend | NotifyMethod::Modified => match orders.get_mut(&order_id) {
                Some(order) if !order.cancelled || m.defect == Defect::CallbacksAfterCancel => {
                    if matches!(m.defect, Defect::Code200WithNewCodes | Defect::Code300WithNewCodes) {
                        let total = order.codes.iter().map(|(_, n)| n).sum();
                        order.codes = m.fresh_codes(total, None);
                    }
                    if matches!(m.defect, Defect::Code300WithNewCodes | Defect::Code300WithSameCodes) {
                        ack = br#"{"code":300}"#;
                    }
                    Some(("taobao.vmarket.eticket.resend", order.clone()))
                }
                _ => None,
            },
            NotifyMethod::Cancel => {
                if let Some(order) = orders.get_mut(&order_id) {
                    order.cancelled = true;
                }
                None
            }
            NotifyMethod::OrderModify => {
                if m.defect == Defect::Code300OnOrderModify {
                    ack = br#"{"code":300}"#;
                }
                None
            }
        }
    };
    if m.defect == Defect::SlowAck {
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    if let Some((api, order)) = callback {
        if m.defect == Defect::CallbackBeforeAck {
            m.clone().callback(api, order_id, order).await;
        } else {
            tokio::spawn(m.clone().callback(api, order_id, order));
        }
    }
    if sign_ok { ack.to_vec() } else { REJECT.to_vec() }
}
