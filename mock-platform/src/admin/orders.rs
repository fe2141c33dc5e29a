//! `/admin/orders…`: buy orders (T1) and the suite actions of PROTOCOL §2.4 that queue notifications.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use std::sync::Arc;

use protocol::{NotifyMethod, OrderId, Token};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::{OrderGatewayFault, check_order_faults, parse_alteration};
use super::{AdminJson, AdminPath, AdminQuery, ApiError, ErrorBody, checks, optional_body};
use crate::Platform;
use crate::clock::{end_of_day_after, format_ms, gmt8_midnight_ms, parse_ms};
use crate::exchange;
use crate::model::order::NewOrder;
use crate::model::{Alteration, Merchant, Order, OrderState};
use crate::store::OrderTx;

/// The body of `POST /admin/orders` (INTERFACES §1.1).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    pub app_key: String,
    pub num: i64,
    pub mobile: String,
    pub item_title: String,
    pub consume_type: Option<u8>,
    pub send_type: Option<u8>,
    pub valid_start: Option<String>,
    pub valid_ends: Option<String>,
    pub weeks: Option<String>,
    pub num_iid: Option<i64>,
    pub outer_iid: Option<String>,
    pub sub_outer_iid: Option<String>,
    pub sku_properties: Option<String>,
    pub sms_template: Option<String>,
    pub total_fee: Option<String>,
    /// Unit price (default `1.00`); `total_fee` defaults to price × num.
    pub price: Option<String>,
    pub buyer_nick: Option<String>,
    /// The selling shop when not the merchant's own account (PROTOCOL §2.4: a 码商's orders).
    pub seller_nick: Option<String>,
    pub taobao_sid: Option<i64>,
    pub eticket_enabled: Option<bool>,
    /// An alteration of the `send` notification's first attempt (PROTOCOL §2.4): a fault name or
    /// `{"kind": name, "params": {…}}`.
    pub alteration: Option<Value>,
    /// Gateway faults armed for this order atomically with its creation, before its `send` notification goes
    /// out, so the merchant's first callback meets them (C8). Each is a `POST /admin/faults` gateway body
    /// without `order_id`.
    pub gateway_faults: Option<Vec<OrderGatewayFault>>,
}

impl NewOrderBody {
    /// An order with the required fields and every default.
    pub fn new(app_key: &str, num: i64, mobile: &str, item_title: &str) -> Self {
        Self {
            app_key: app_key.to_owned(),
            num,
            mobile: mobile.to_owned(),
            item_title: item_title.to_owned(),
            consume_type: None,
            send_type: None,
            valid_start: None,
            valid_ends: None,
            weeks: None,
            num_iid: None,
            outer_iid: None,
            sub_outer_iid: None,
            sku_properties: None,
            sms_template: None,
            total_fee: None,
            price: None,
            buyer_nick: None,
            seller_nick: None,
            taobao_sid: None,
            eticket_enabled: None,
            alteration: None,
            gateway_faults: None,
        }
    }
}

/// The optional body of the action routes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    pub mobile: Option<String>,
    pub valid_start: Option<String>,
    pub valid_ends: Option<String>,
    pub alteration: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this merchant's orders.
    pub app_key: Option<String>,
    /// Only orders in this state (PROTOCOL §2.1 name: `PAID`, `NOTIFIED`, `ISSUED`, …).
    pub state: Option<String>,
}

/// The longest `mobile` taken (real ones are 11 digits).
const MOBILE_CHARS: usize = 32;

/// The JSON of one order (`GET /admin/orders/{id}` and everywhere an order is answered).
pub fn order_view(order: &Order) -> Value {
    let d = &order.delivery;
    json!({
        "order_id": order.id.get(),
        "state": order.state.as_str(),
        "token": order.token.as_str(),
        "app_key": &*order.app_key,
        "taobao_sid": order.seller.as_ref().map(|s| s.0),
        "seller_nick": order.seller.as_ref().map(|s| s.1.to_string()),
        "eticket_enabled": order.eticket,
        "num": order.num,
        "left_num": order.left_num(),
        "cancel_num": order.cancel_num,
        "codes": order.codes.iter().map(|c| json!({
            "code": &*c.code, "num": c.num, "left": c.left, "status": c.status,
        })).collect::<Vec<_>>(),
        "mobile": &*order.mobile,
        "item_title": &*order.item_title,
        "num_iid": order.num_iid,
        "consume_type": order.consume_type,
        "send_type": order.send_type,
        "total_fee": &*order.total_fee,
        "weeks": order.weeks.as_deref(),
        "valid_start": order.valid_start_text(),
        "valid_ends": order.valid_ends_text(),
        "created": format_ms(order.created_ms),
        "pay_time": format_ms(order.paid_ms),
        "modified": format_ms(order.modified_ms),
        "notifications": {
            "queued": d.queue.iter().map(|p| json!({
                "notification": p.seq, "method": p.method.as_str(), "attempts": p.attempts,
                "in_flight": p.in_flight, "due": format_ms(p.due_ms), "duplicate": p.duplicate,
            })).collect::<Vec<_>>(),
            "acknowledged": d.acked_methods(),
            "awaiting_callback": d.awaiting_callback.map(NotifyMethod::as_str),
            "exhausted": d.exhausted,
        },
    })
}

/// The `{order_id}` of a path; anything but a positive integer is 400 naming it.
pub(crate) fn parse_order_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<protocol::OrderId>()
        .map(|id| id.get())
        .map_err(|_| ApiError::field("order_id", format!("{text:?} is not an order id (a positive integer)")))
}

fn no_order(id: i64) -> ApiError {
    ApiError::NotFound(format!("order_id {id}: no such order"))
}

/// Refuses text the mock never sends in a notification: code points GBK encoders disagree on
/// (PROTOCOL §3.3), control characters, whitespace-only values.
pub(crate) fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::field(field, "must not be empty or blank"));
    }
    if let Some(c) = value.chars().find(|c| c.is_control() || protocol::gbk::encoders_disagree(*c)) {
        return Err(ApiError::field(field, format!("contains U+{:04X}, which the platform never sends", c as u32)));
    }
    Ok(())
}

/// A decimal amount as cents (`1`, `1.5`, `1.00`).
fn cents(field: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::field(field, "must be a decimal amount like 1.00");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)
}

fn amount(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn check_weeks(weeks: &str) -> Result<(), ApiError> {
    let inner = weeks.strip_prefix('[').and_then(|w| w.strip_suffix(']'));
    let ok = inner.is_some_and(|inner| {
        !inner.is_empty() && inner.split(',').all(|d| matches!(d, "1" | "2" | "3" | "4" | "5" | "6" | "7"))
    });
    if ok { Ok(()) } else { Err(ApiError::field("weeks", "must look like [1,2,3,4,5,6,7] (1 = Monday)")) }
}

fn datetime(field: &str, value: &str) -> Result<i64, ApiError> {
    parse_ms(value).ok_or_else(|| ApiError::field(field, "must be yyyy-MM-dd HH:mm:ss (GMT+8)"))
}

fn alteration_of(value: &Option<Value>) -> Result<Option<Alteration>, ApiError> {
    value.as_ref().map(parse_alteration).transpose()
}

#[utoipa::path(post, path = "/admin/orders", tag = "orders", request_body = NewOrderBody,
    responses(
        (status = 201, description = "The order (mock-platform README \"Order\"), with gateway_fault_ids when faults were armed", body = Value),
        (status = 404, description = "No such merchant", body = ErrorBody),
        (status = 422, description = "The platform would not have notified this order (FAQ 2.28)", body = ErrorBody),
        (status = "4XX", description = "A bad field, named", body = ErrorBody),
    ))]
pub async fn create(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<NewOrderBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let view = platform.create_order(body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/admin/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order (mock-platform README \"Order\")", body = Value),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = "4XX", description = "order_id is not an order id", body = ErrorBody),
    ))]
pub async fn get_one(
    State(platform): State<Platform>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_order_id(&id)?;
    platform.store().order(id, |o| Json(order_view(o))).await?.ok_or_else(|| no_order(id))
}

#[utoipa::path(get, path = "/admin/orders", tag = "orders", params(ListQuery),
    responses(
        (status = 200, description = "`{\"orders\": [order…]}` by ascending id", body = Value),
        (status = "4XX", description = "An unknown state or query field", body = ErrorBody),
    ))]
pub async fn list(
    State(platform): State<Platform>,
    AdminQuery(q): AdminQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = match q.state.as_deref() {
        Some(s) => Some(OrderState::parse(s).ok_or_else(|| ApiError::field("state", format!("unknown state {s:?}")))?),
        None => None,
    };
    let orders = platform.store().orders(q.app_key.as_deref(), state, order_view).await?;
    Ok(Json(json!({ "orders": orders })))
}

#[utoipa::path(get, path = "/admin/orders/{order_id}/exchanges", tag = "orders", params(("order_id" = i64, Path, description = "The order id")),
    responses(
        (status = 200, description = "Every notification attempt and gateway call of the order (mock-platform README \"Exchanges JSON\")", body = Value),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = "4XX", description = "order_id is not an order id", body = ErrorBody),
    ))]
pub async fn exchanges(
    State(platform): State<Platform>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_order_id(&id)?;
    platform.exchanges_json(id).await.map(Json).ok_or_else(|| no_order(id))
}

/// One suite action on an order: checks the state, changes the order, queues the notification.
async fn act(
    platform: &Platform,
    id: &str,
    body: &[u8],
    action: Action,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = parse_order_id(id)?;
    let body: ActionBody = optional_body(body)?;
    body.refuse_fields_not_taken_by(action)?;
    let alteration = alteration_of(&body.alteration)?;
    let change = |tx: &mut OrderTx<'_>| -> Result<(NotifyMethod, Value), ApiError> {
        // The order's merchant clock.
        let now = tx.now_ms();
        if !tx.order().eticket {
            return Err(ApiError::Conflict(format!("order {id} is a plain trade (eticket_enabled false)")));
        }
        let order = tx.order_mut();
        let notification = match action {
            Action::Resend => {
                order.check_resendable("resend")?;
                (NotifyMethod::Resend, 0)
            }
            Action::ModifyMobile => {
                let mobile = body.mobile.as_deref().ok_or_else(|| ApiError::field("mobile", "is required"))?;
                checks::text("mobile", mobile, MOBILE_CHARS)?;
                order.change_mobile(mobile, now)?;
                (NotifyMethod::Modified, 0)
            }
            Action::Refund => {
                order.refund(now)?;
                order.delivery.awaiting_callback = None;
                (NotifyMethod::Cancel, 0)
            }
            Action::Extend => {
                let ends = body.valid_ends.as_deref().ok_or_else(|| ApiError::field("valid_ends", "is required"))?;
                let ends = datetime("valid_ends", ends)?;
                let start = match body.valid_start.as_deref() {
                    Some(s) => datetime("valid_start", s)?,
                    None => order.valid_start,
                };
                if start > ends {
                    return Err(ApiError::field("valid_ends", "must not be before valid_start"));
                }
                order.change_validity(start, ends, now)?;
                (NotifyMethod::OrderModify, 1)
            }
            Action::RightsProtection => {
                order.check_rights_protection()?;
                (NotifyMethod::OrderModify, 2)
            }
        };
        tx.enqueue(notification, alteration, false, now);
        Ok((notification.0, order_view(tx.order())))
    };
    let (method, view) = platform.store().with_order(id, 0, change).await?.ok_or_else(|| no_order(id))??;
    platform.wake();
    tracing::info!(order_id = id, method = method.as_str(), "suite action queued a notification");
    Ok((StatusCode::ACCEPTED, Json(view)))
}

impl ActionBody {
    /// A field the action does not take would be silently ignored: refused instead, naming it.
    fn refuse_fields_not_taken_by(&self, action: Action) -> Result<(), ApiError> {
        let (mobile, validity) = match action {
            Action::ModifyMobile => (true, false),
            Action::Extend => (false, true),
            Action::Resend | Action::Refund | Action::RightsProtection => (false, false),
        };
        let given = [
            ("mobile", self.mobile.is_some(), mobile),
            ("valid_start", self.valid_start.is_some(), validity),
            ("valid_ends", self.valid_ends.is_some(), validity),
        ];
        match given.into_iter().find(|(_, given, taken)| *given && !*taken) {
            Some((field, ..)) => Err(ApiError::field(field, format!("is not taken by {}", action.route()))),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Resend,
    ModifyMobile,
    Refund,
    Extend,
    RightsProtection,
}

impl Action {
    fn route(self) -> &'static str {
        match self {
            Action::Resend => "resend",
            Action::ModifyMobile => "modify-mobile",
            Action::Refund => "refund",
            Action::Extend => "extend",
            Action::RightsProtection => "rights-protection",
        }
    }
}

/// The five action routes: one shape, each its own function because utoipa documents a route per annotated
/// function. `$accepted` says what the 202 means for that action.
macro_rules! action_route {
    ($name:ident, $path:literal, $action:expr, $accepted:literal) => {
        #[utoipa::path(post, path = $path, tag = "orders", params(("order_id" = i64, Path, description = "The order id")),
            request_body(content = Option<ActionBody>, description = "Optional; only the fields this action takes"),
            responses(
                (status = 202, description = $accepted, body = Value),
                (status = 404, description = "No such order", body = ErrorBody),
                (status = 409, description = "The order's state forbids the action", body = ErrorBody),
                (status = "4XX", description = "A bad field, named", body = ErrorBody),
            ))]
        pub async fn $name(
            State(p): State<Platform>,
            AdminPath(id): AdminPath<String>,
            body: Bytes,
        ) -> Result<(StatusCode, Json<Value>), ApiError> {
            act(&p, &id, &body, $action).await
        }
    };
}

action_route!(resend, "/admin/orders/{order_id}/resend", Action::Resend, "A resend notification is queued; the order");
action_route!(
    modify_mobile,
    "/admin/orders/{order_id}/modify-mobile",
    Action::ModifyMobile,
    "The mobile is changed and a modified notification queued; the order"
);
action_route!(
    refund,
    "/admin/orders/{order_id}/refund",
    Action::Refund,
    "The order is cancelled and a cancel notification queued; the order"
);
action_route!(
    extend,
    "/admin/orders/{order_id}/extend",
    Action::Extend,
    "The validity is changed and an order_modify (sub_method 1) queued; the order"
);
action_route!(
    rights_protection,
    "/admin/orders/{order_id}/rights-protection",
    Action::RightsProtection,
    "An order_modify (sub_method 2) is queued; the order"
);

impl Platform {
    /// `GET /admin/orders/{id}` in-process.
    pub async fn order_json(&self, order_id: i64) -> Option<Value> {
        self.store().order(order_id, order_view).await.ok().flatten()
    }

    /// `GET /admin/orders/{id}/exchanges` in-process.
    pub async fn exchanges_json(&self, order_id: i64) -> Option<Value> {
        self.store().order_record(order_id, |r| exchange::render(order_id, r.exchanges, r.dropped)).await.ok().flatten()
    }

    /// T1 (`pay`): validates, refuses what FAQ 2.28 says the platform would not notify, arms the order's
    /// `gateway_faults`, queues `send`. The answer of `POST /admin/orders`: the new order's view.
    pub async fn create_order(&self, body: NewOrderBody) -> Result<Value, ApiError> {
        self.pay(body, true).await.map(|(_, view)| view.unwrap_or_default())
    }

    /// [`Platform::create_order`] answering only the new order's id: an in-process load driver buys thousands a
    /// second and reads each order once at the end, so the view built under the store's lock would be waste.
    pub async fn buy_order(&self, body: NewOrderBody) -> Result<i64, ApiError> {
        self.pay(body, false).await.map(|(id, _)| id)
    }

    /// T1 for both: the order's id, and its view (with the ids of its `gateway_faults`) when `with_view`.
    async fn pay(&self, body: NewOrderBody, with_view: bool) -> Result<(i64, Option<Value>), ApiError> {
        if body.num < 1 || body.num > 100_000 {
            return Err(ApiError::field("num", "must be an integer from 1 to 100000"));
        }
        checks::app_key("app_key", &body.app_key)?;
        checks::text("mobile", &body.mobile, MOBILE_CHARS)?;
        checks::text("item_title", &body.item_title, 256)?;
        for (field, value, max) in [
            ("outer_iid", &body.outer_iid, 64),
            ("sub_outer_iid", &body.sub_outer_iid, 64),
            ("sku_properties", &body.sku_properties, 1024),
            ("sms_template", &body.sms_template, 1024),
            ("buyer_nick", &body.buyer_nick, 128),
            ("seller_nick", &body.seller_nick, 128),
            ("weeks", &body.weeks, 15),
            ("total_fee", &body.total_fee, 20),
            ("price", &body.price, 20),
        ] {
            checks::optional_text(field, value.as_deref(), max)?;
        }
        checks::id("num_iid", body.num_iid)?;
        checks::id("taobao_sid", body.taobao_sid)?;
        if body.gateway_faults.as_ref().is_some_and(|f| f.len() > 100) {
            return Err(ApiError::field("gateway_faults", "must have at most 100 entries"));
        }
        let consume_type = body.consume_type.unwrap_or(0);
        if consume_type > 2 {
            return Err(ApiError::field("consume_type", "must be 0, 1 or 2"));
        }
        let send_type = body.send_type.unwrap_or(2);
        if send_type > 2 {
            return Err(ApiError::field("send_type", "must be 0, 1 or 2"));
        }
        if let Some(weeks) = &body.weeks {
            check_weeks(weeks)?;
        }
        let num = body.num as u32;
        let price = cents("price", body.price.as_deref().unwrap_or("1.00"))?;
        let total_fee = match &body.total_fee {
            Some(fee) => amount(cents("total_fee", fee)?),
            None => amount(price.saturating_mul(i64::from(num))),
        };
        let alteration = alteration_of(&body.alteration)?;
        let gateway_faults = body.gateway_faults.as_deref().map(check_order_faults).transpose()?;
        let fault_count = gateway_faults.as_ref().map_or(0, Vec::len);
        let now = self.store().now_ms(Some(&body.app_key)).await?;
        let valid_start = match &body.valid_start {
            Some(s) => datetime("valid_start", s)?,
            None => gmt8_midnight_ms(now),
        };
        let valid_ends = match &body.valid_ends {
            Some(s) => datetime("valid_ends", s)?,
            None => end_of_day_after(valid_start, 30),
        };
        if valid_start > valid_ends {
            return Err(ApiError::field("valid_ends", "must not be before valid_start"));
        }
        let eticket = body.eticket_enabled.unwrap_or(true);
        let mobile = body.mobile;
        type Checked = (Arc<str>, Option<(i64, String)>, String);
        let check = |app_key: &Arc<str>, merchant: &Merchant| -> Result<Checked, ApiError> {
            if eticket && valid_ends < now {
                return Err(ApiError::Refused(format!(
                    "valid_ends {}: the validity has already ended, so the platform sends no notification (FAQ 2.28)",
                    format_ms(valid_ends)
                )));
            }
            if eticket && !merchant.accepts_mobile(&mobile) {
                return Err(ApiError::Refused(format!(
                    "mobile {mobile:?}: merchant {} is in phase test and this is not one of its test_mobiles (FAQ 1.4, 2.28)",
                    merchant.app_key
                )));
            }
            let seller = (body.seller_nick.is_some() || body.taobao_sid.is_some()).then(|| {
                (
                    body.taobao_sid.unwrap_or(merchant.taobao_sid),
                    body.seller_nick.clone().unwrap_or_else(|| merchant.seller_nick.clone()),
                )
            });
            Ok((app_key.clone(), seller, mobile))
        };
        let app_key = body.app_key.clone();
        let create = |id: OrderId, (app_key, seller, mobile): Checked| {
            let token = Token::from_bytes(rand::rng().random());
            let new = NewOrder {
                seller,
                num,
                mobile,
                buyer_nick: body.buyer_nick.unwrap_or_else(|| "mock_buyer".into()),
                item_title: body.item_title,
                num_iid: body.num_iid.unwrap_or_else(|| rand::rng().random_range(500_000_000_000..600_000_000_000)),
                outer_iid: body.outer_iid,
                sub_outer_iid: body.sub_outer_iid,
                sku_properties: body.sku_properties,
                weeks: body.weeks,
                sms_template: body.sms_template,
                send_type,
                consume_type,
                price: amount(price),
                total_fee,
                valid_start,
                valid_ends,
                eticket,
            };
            Order::pay(id, token, app_key, new, now)
        };
        // In the same change as the order's creation: no call naming the order can come before its faults.
        let then = |tx: &mut OrderTx<'_>| {
            let fault_ids = gateway_faults
                .map(|specs| specs.into_iter().map(|spec| tx.arm_gateway_fault(spec)).collect::<Vec<_>>());
            if eticket {
                tx.enqueue((NotifyMethod::Send, 0), alteration, false, now);
            }
            let view = with_view.then(|| {
                let mut view = order_view(tx.order());
                if let Some(ids) = fault_ids {
                    view["gateway_fault_ids"] = json!(ids);
                }
                view
            });
            (tx.id(), view)
        };
        let (id, view) = self
            .store()
            .new_order(&app_key, self.config().auto_close_ms(), fault_count, check, create, then)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("app_key {app_key:?}: no such merchant")))??;
        self.wake();
        tracing::info!(order_id = id, eticket, "order paid (T1)");
        Ok((id, view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_as_cents_and_print_with_two_decimals() {
        assert_eq!(cents("f", "1").unwrap(), 100);
        assert_eq!(cents("f", "1.5").unwrap(), 150);
        assert_eq!(amount(cents("f", "12.05").unwrap() * 3), "36.15");
        for bad in ["", "1.234", "-1", "a", ".5", "1e3"] {
            assert!(cents("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_with_code_points_gbk_tables_disagree_on_is_refused() {
        for bad in ["价格€", "\u{E000}", "⿰", "a\nb", "  "] {
            assert!(check_text("f", bad).is_err(), "{bad}");
        }
        assert!(check_text("f", "银子岩门票 😀?").is_ok());
    }

    #[test]
    fn weeks_must_be_a_list_of_weekdays() {
        assert!(check_weeks("[1,2,3,4,5,6,7]").is_ok());
        for bad in ["[]", "[0]", "1,2", "[1,8]", "[1, 2]"] {
            assert!(check_weeks(bad).is_err(), "{bad}");
        }
    }
}
