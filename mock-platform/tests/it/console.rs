//! The staff console end to end in headless Chromium: a token-protected platform, an acknowledging merchant,
//! orders bought and refunded through the page's own buttons, and merchant text that must stay text.

use chrono::Utc;
use mock_platform::{NewMerchant, Platform, PlatformConfig};
use protocol::{Gmt8Timestamp, Secret, SignMethod, TopRequest};
use serde_json::{Value, json};

use crate::cdp::Browser;
use crate::support::{APP_KEY, APP_SECRET, NOTIFY_KEY, SESSION};

const TOKEN: &str = "console-token-7";
const XSS: &str = "<img src=x onerror=alert(1)>";

/// A platform that needs [`TOKEN`], with one merchant whose endpoint acknowledges everything.
struct Setup {
    platform: Platform,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn setup() -> Setup {
    let merchant = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", merchant.local_addr().unwrap());
    let router = axum::Router::new().route("/notify", axum::routing::post(|| async { r#"{"code":200}"# }));
    tokio::spawn(async move { axum::serve(merchant, router).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let platform = Platform::new(PlatformConfig {
        gateway_base_url: Some(base.clone()),
        admin_token: Some(Secret::new(TOKEN)),
        ..Default::default()
    });
    let merchant: NewMerchant = serde_json::from_value(json!({
        "app_key": APP_KEY, "app_secret": APP_SECRET, "notify_key": NOTIFY_KEY, "notify_url": notify_url,
        "session": SESSION, "phase": "live", "seller_nick": "漓江景区",
    }))
    .unwrap();
    platform.add_merchant(merchant).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mock_platform::run(listener, platform.clone(), async move {
        let _ = stopped.await;
    }));
    Setup { platform, base, _stop: stop }
}

/// A signed gateway call in the merchant's name.
async fn gateway(base: &str, api: &str, params: &[(&str, &str)]) -> Value {
    let mut request = TopRequest::new(api, APP_KEY, SESSION, Gmt8Timestamp::from_utc(Utc::now()), SignMethod::Md5);
    for (name, value) in params {
        request = request.param(name, *value);
    }
    let body = request.signed(&Secret::new(APP_SECRET)).to_urlencoded(protocol::params::Charset::Utf8);
    let response = reqwest::Client::new()
        .post(format!("{base}/router/rest"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// Fills the page's buy form and submits it.
async fn buy(browser: &mut Browser, num: u32, mobile: &str, title: &str) {
    let script = format!(
        "document.getElementById('buy-app-key').value = {app};
         document.getElementById('buy-num').value = '{num}';
         document.getElementById('buy-mobile').value = {mobile};
         document.getElementById('buy-title').value = {title};
         document.getElementById('buy-submit').click(); true",
        app = json!(APP_KEY),
        mobile = json!(mobile),
        title = json!(title),
    );
    browser.eval(&script).await;
}

/// The JS expression "the orders table has a row for an order titled `title` in state `state`".
fn row_in_state(title: &str, state: &str) -> String {
    format!(
        "[...document.querySelectorAll('#orders tbody tr[data-order-id]')].some(r => r.dataset.state === {state} && \
         [...r.cells].some(c => c.textContent === {title}))",
        state = json!(state),
        title = json!(title),
    )
}

async fn order_id_titled(platform: &Platform, title: &str) -> i64 {
    let ids: Vec<Option<i64>> =
        platform.store().orders(None, None, |o| (&*o.item_title == title).then_some(o.id.get())).await.unwrap();
    ids.into_iter().flatten().last().unwrap_or_else(|| panic!("no order titled {title}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_buys_refunds_and_exports_orders_through_its_buttons() {
    let s = setup().await;
    let mut browser = Browser::launch().await;
    browser.navigate(&format!("{}/console?token={TOKEN}", s.base)).await;
    // The merchant list arrives only if the page's fetches carry the token.
    browser
        .wait_until(
            &format!("document.querySelector('#merchants tr[data-app-key=\"{APP_KEY}\"]')"),
            "the merchant list",
        )
        .await;
    browser.eval("window.__alerts = []; window.alert = m => window.__alerts.push(String(m)); true").await;

    // An order bought through the form, then issued by the merchant through the gateway.
    buy(&mut browser, 2, "13800000000", "银子岩门票").await;
    browser.wait_until(&row_in_state("银子岩门票", "NOTIFIED"), "the first order acknowledged").await;
    let first = order_id_titled(&s.platform, "银子岩门票").await;
    let token = s.platform.store().order(first, |o| o.token.as_str().to_owned()).await.unwrap().expect("order");
    let sent = gateway(
        &s.base,
        "taobao.vmarket.eticket.send",
        &[("order_id", &first.to_string()), ("verify_codes", "LJ01:1,LJ02:1"), ("token", &token)],
    )
    .await;
    assert!(sent["error_response"].is_null(), "{sent}");
    browser.wait_until(&row_in_state("银子岩门票", "ISSUED"), "the first order issued").await;

    // A second order, refunded through the button: the cancel notification shows up in its timeline.
    buy(&mut browser, 1, "13900000000", "漓江竹筏漂流").await;
    browser.wait_until(&row_in_state("漓江竹筏漂流", "NOTIFIED"), "the second order acknowledged").await;
    let second = order_id_titled(&s.platform, "漓江竹筏漂流").await;
    browser
        .wait_until(&format!("document.getElementById('detail-id').textContent === '{second}'"), "it selected")
        .await;
    browser.eval("window.confirm = () => true; document.querySelector('[data-action=refund]').click(); true").await;
    browser
        .wait_until(
            "document.querySelector('#timeline tr[data-kind=notification][data-method=cancel][data-verdict=ack_200]')",
            "the cancel notification in the timeline",
        )
        .await;
    browser.wait_until(&row_in_state("漓江竹筏漂流", "CANCELLED"), "the second order cancelled").await;
    assert_eq!(s.platform.store().order(second, |o| o.state.as_str()).await.unwrap().expect("order"), "CANCELLED");
    let timeline = browser
        .eval("[...document.querySelectorAll('#timeline tbody tr[data-kind]')].map(r => r.dataset.method)")
        .await;
    assert_eq!(timeline, json!(["send", "cancel"]));

    // A third order left as the merchant acknowledged it, so the list shows a few states.
    buy(&mut browser, 3, "13600000000", "象山景区门票").await;
    browser.wait_until(&row_in_state("象山景区门票", "NOTIFIED"), "the third order acknowledged").await;

    // The state filter narrows the list; clearing it brings every order back.
    let filter = |state: &str| {
        format!(
            "(() => {{ const f = document.getElementById('filter-state'); f.value = '{state}'; \
             f.dispatchEvent(new Event('input')); return true; }})()"
        )
    };
    browser.eval(&filter("CANCELLED")).await;
    browser
        .wait_until(
            &format!(
                "[...document.querySelectorAll('#orders tr[data-order-id]')].map(r => r.dataset.orderId).join() === '{second}'"
            ),
            "only the cancelled order listed",
        )
        .await;
    browser.eval(&filter("")).await;
    browser
        .wait_until("document.querySelectorAll('#orders tr[data-order-id]').length === 3", "every order listed")
        .await;

    // The first order's timeline: the send notification, then the merchant's call with its causality.
    browser.eval(&format!("document.querySelector('#orders tr[data-order-id=\"{first}\"]').click(); true")).await;
    browser
        .wait_until(
            "document.querySelector('#timeline tr[data-kind=gateway][data-method=\"taobao.vmarket.eticket.send\"][data-causality=ok]')",
            "the eticket.send call in the first order's timeline",
        )
        .await;
    let png = browser.screenshot().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    if let Some(path) = std::env::var_os("MOCK_PLATFORM_CONSOLE_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }

    // The other buttons on the issued order: each queues its notification, which shows up acknowledged.
    browser.eval("window.prompt = m => m.includes('mobile') ? '13911112222' : '2099-12-31 23:59:59'; true").await;
    for (action, method, rows) in [
        ("resend", "resend", 1),
        ("modify-mobile", "modified", 1),
        ("extend", "order_modify", 1),
        ("rights-protection", "order_modify", 2),
    ] {
        browser.eval(&format!("document.querySelector('[data-action=\"{action}\"]').click(); true")).await;
        browser
            .wait_until(
                &format!(
                    "document.querySelectorAll('#timeline tr[data-kind=notification][data-method={method}]\
                     [data-verdict=ack_200]').length === {rows}"
                ),
                &format!("the {method} notification after {action}"),
            )
            .await;
    }
    assert_eq!(s.platform.store().order(first, |o| o.mobile.to_string()).await.unwrap().expect("order"), "13911112222");
    browser
        .wait_until(
            "document.querySelector('#order-fields dd[data-field=valid_ends]').textContent === \
        '2099-12-31 23:59:59'",
            "the extended validity",
        )
        .await;
    // "export case" downloads the case file the admin API serves.
    let downloads = browser.profile().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    browser.allow_downloads(&downloads).await;
    browser.eval("document.querySelector('[data-action=export]').click(); true").await;
    let file = downloads.join(format!("case-{first}.json"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let case: Value = loop {
        if let Some(case) = std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str(&t).ok()) {
            break case;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {} downloaded", file.display());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!((case["schema"].as_str(), case["order"]["order_id"].as_i64()), (Some("eticket-case/1"), Some(first)));
    assert!(!case.to_string().contains(NOTIFY_KEY) && !case.to_string().contains(APP_SECRET));

    // Merchant-supplied text stays text: no element is created from it, no script runs.
    buy(&mut browser, 1, "13700000000", XSS).await;
    browser.wait_until(&row_in_state(XSS, "NOTIFIED"), "the order with markup in its title").await;
    let xss = order_id_titled(&s.platform, XSS).await;
    browser.wait_until(&format!("document.getElementById('detail-id').textContent === '{xss}'"), "it selected").await;
    browser.wait_until("document.querySelector('#timeline tr[data-method=send]')", "its send notification").await;
    browser.eval("document.querySelector('#timeline details').open = true; true").await;
    let shown = browser
        .eval(&format!(
            "({{ imgs: document.querySelectorAll('img').length, alerts: window.__alerts.length, \
               field: document.querySelector('#order-fields dd[data-field=item_title]').textContent, \
               params: document.querySelector('#timeline pre').textContent.includes({xss}) }})",
            xss = json!(format!("item_title={XSS}")),
        ))
        .await;
    assert_eq!(shown, json!({"imgs": 0, "alerts": 0, "field": XSS, "params": true}));
    // Last (it moves order time): the clock control.
    browser
        .eval(
            "document.getElementById('advance-seconds').value = '90'; \
               document.getElementById('advance-submit').click(); true",
        )
        .await;
    browser
        .wait_until("document.getElementById('status').textContent.startsWith('clock advanced 90 s')", "the clock")
        .await;
    assert_eq!(s.platform.clock().offset_ms(), 90_000);
    assert_eq!(browser.exceptions(), [] as [String; 0], "the console threw");
    browser.close().await;
}

#[tokio::test]
async fn the_console_page_needs_the_admin_token_as_a_header_or_a_query_param() {
    let s = setup().await;
    let http = reqwest::Client::new();
    let url = format!("{}/console", s.base);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(http.get(format!("{url}?token=wrong")).send().await.unwrap().status(), 401);
    let by_header = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(by_header.status(), 200);
    let by_query = http.get(format!("{url}?token={TOKEN}")).send().await.unwrap();
    assert_eq!(by_query.status(), 200);
    let csp = by_query.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = by_query.text().await.unwrap();
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a script nonce");
    assert!(page.contains(&format!("<script nonce=\"{nonce}\">")), "the page's script carries the CSP nonce");
    assert!(!csp.contains("script-src 'unsafe-inline'"), "inline handlers must not run: {csp}");
    // The merchant list the console reads: masked like the single-merchant answer.
    let merchants: Value =
        http.get(format!("{}/admin/merchants", s.base)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(merchants["merchants"][0]["app_key"], APP_KEY);
    let text = merchants.to_string();
    assert!(!text.contains(APP_SECRET) && !text.contains(NOTIFY_KEY), "{text}");
}
