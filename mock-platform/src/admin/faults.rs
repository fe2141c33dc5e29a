//! `POST /admin/faults`, `GET /admin/faults`, `DELETE /admin/faults/{id}`: gateway answers, delays and lost answers,
//! notification alterations and `duplicate` (PROTOCOL §2.4, INTERFACES §1.1); the `gateway_faults` of
//! `POST /admin/orders` are checked here too.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::{SubCode, TopError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AdminJson, AdminPath, ApiError, ErrorBody};
use crate::Platform;
use crate::faults::{FaultAction, FaultSpec, LostAnswer};
use crate::model::Alteration;
use crate::store::OrderTx;

/// The longest injected gateway delay (INTERFACES §1.1): longer would only hang the caller.
pub const MAX_DELAY_MS: u64 = 60_000;

/// The body of `POST /admin/faults`: a gateway fault (`method`, `app_key`?, `order_id`?, `times`?, `answer` or
/// `delay_ms`) or a notification fault (`order_id`, `fault`, `params`?).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultBody {
    /// `gateway` or `notification`.
    pub target: String,
    /// Gateway: the API whose calls are faulted (one the gateway serves).
    pub method: Option<String>,
    /// Gateway: only this app's calls.
    pub app_key: Option<String>,
    /// Gateway: only calls naming this order; notification: the order (required). Must exist.
    pub order_id: Option<i64>,
    /// Gateway: how many calls (default 2).
    #[schema(minimum = 1)]
    pub times: Option<u32>,
    pub answer: Option<AnswerBody>,
    /// Gateway: delay each call this long instead of answering an error.
    #[schema(maximum = 60_000)]
    pub delay_ms: Option<u64>,
    /// Gateway: apply the call, then lose its answer: `close` or `transient` (INTERFACES §1.1).
    pub lost_answer: Option<String>,
    /// Notification: `duplicate` or an alteration kind (mock-platform README "Faults").
    pub fault: Option<String>,
    /// Notification `extra_params`: the params to add, name → non-empty string.
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Map<String, Value>>,
}

/// The answer of `POST /admin/faults`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaultCreated {
    pub id: u64,
}

/// An injected answer; `code`/`msg` default from a known `sub_code` (code 15 `Remote service error`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub code: Option<i64>,
    pub msg: Option<String>,
    pub sub_code: Option<String>,
    pub sub_msg: Option<String>,
}

impl AnswerBody {
    fn to_error(&self) -> Result<TopError, ApiError> {
        for (field, value) in [("msg", &self.msg), ("sub_code", &self.sub_code), ("sub_msg", &self.sub_msg)] {
            if let Some(value) = value {
                super::checks::length(&format!("answer.{field}"), value, 1024)?;
            }
        }
        let known = self.sub_code.as_deref().and_then(SubCode::from_sub_code).map(SubCode::error);
        let code = self
            .code
            .or(known.as_ref().map(|e| e.code))
            .ok_or_else(|| ApiError::field("answer.code", "is required unless answer.sub_code is a known sub_code"))?;
        let msg = self
            .msg
            .clone()
            .or(known.as_ref().map(|e| e.msg.to_string()))
            .unwrap_or_else(|| "Remote service error".into());
        let sub_msg = self.sub_msg.clone().or(known.and_then(|e| e.sub_msg.map(|m| m.to_string())));
        Ok(TopError {
            code,
            msg: msg.into(),
            sub_code: self.sub_code.clone().map(Into::into),
            sub_msg: sub_msg.map(Into::into),
        })
    }
}

/// One entry of `gateway_faults` in `POST /admin/orders`: the gateway fault body of `POST /admin/faults`
/// without `order_id`, which is the created order's. Armed with the order, before its `send` goes out.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderGatewayFault {
    /// Optional; `gateway` when given (so a `POST /admin/faults` body can be reused as is).
    pub target: Option<String>,
    pub method: Option<String>,
    pub app_key: Option<String>,
    /// Refused when given: the fault is for the order being created.
    pub order_id: Option<Value>,
    pub times: Option<u32>,
    pub answer: Option<AnswerBody>,
    pub delay_ms: Option<u64>,
    pub lost_answer: Option<String>,
}

/// Checks the `gateway_faults` of a new order; errors name the entry (`gateway_faults[1].times: …`).
pub fn check_order_faults(faults: &[OrderGatewayFault]) -> Result<Vec<FaultSpec>, ApiError> {
    faults
        .iter()
        .enumerate()
        .map(|(i, fault)| {
            let checked = match fault.target.as_deref() {
                None | Some("gateway") => match &fault.order_id {
                    None | Some(Value::Null) => {
                        let action = FaultActionBody {
                            answer: &fault.answer,
                            delay_ms: fault.delay_ms,
                            lost_answer: fault.lost_answer.as_deref(),
                        };
                        gateway_spec(&fault.method, &fault.app_key, fault.times, action)
                    }
                    Some(_) => Err(ApiError::field("order_id", "must be left out: the fault is for the created order")),
                },
                Some(other) => Err(ApiError::field("target", format!("must be gateway when given, got {other:?}"))),
            };
            checked.map_err(|e| match e {
                ApiError::BadRequest(why) => ApiError::BadRequest(format!("gateway_faults[{i}].{why}")),
                other => other,
            })
        })
        .collect()
}

/// What a gateway fault does, as given: exactly one of the three must be present.
struct FaultActionBody<'a> {
    answer: &'a Option<AnswerBody>,
    delay_ms: Option<u64>,
    lost_answer: Option<&'a str>,
}

/// Checks the fields of a gateway fault wherever it is given (`POST /admin/faults`, `gateway_faults`).
fn gateway_spec(
    method: &Option<String>,
    app_key: &Option<String>,
    times: Option<u32>,
    action: FaultActionBody<'_>,
) -> Result<FaultSpec, ApiError> {
    let method = method.clone().filter(|m| !m.is_empty()).ok_or_else(|| ApiError::field("method", "is required"))?;
    if let Some(app_key) = app_key {
        super::checks::app_key("app_key", app_key)?;
    }
    // A fault for an API the gateway does not serve could never fire.
    if crate::gateway::apis::find(&method).is_none() {
        return Err(ApiError::field("method", format!("{method:?} is not an API the gateway serves")));
    }
    let action = match (action.answer, action.delay_ms, action.lost_answer) {
        (Some(answer), None, None) => FaultAction::Answer(answer.to_error()?),
        (None, Some(ms), None) if ms > MAX_DELAY_MS => {
            return Err(ApiError::field("delay_ms", format!("must be at most {MAX_DELAY_MS}")));
        }
        (None, Some(ms), None) => FaultAction::DelayMs(ms),
        (None, None, Some(form)) => FaultAction::LostAnswer(LostAnswer::parse(form).ok_or_else(|| {
            ApiError::field("lost_answer", format!("must be \"close\" or \"transient\", got {form:?}"))
        })?),
        _ => return Err(ApiError::field("answer", "give exactly one of answer, delay_ms or lost_answer")),
    };
    let times = times.unwrap_or(2);
    if times == 0 {
        return Err(ApiError::field("times", "must be at least 1"));
    }
    Ok(FaultSpec { method, app_key: app_key.clone(), times, action })
}

/// Parses an alteration: a fault name, or `{"kind": name, "params": {…}}`.
pub fn parse_alteration(value: &Value) -> Result<Alteration, ApiError> {
    let (name, params) = match value {
        Value::String(name) => (name.as_str(), None),
        Value::Object(map) => {
            if let Some(unknown) = map.keys().find(|k| !matches!(k.as_str(), "kind" | "params")) {
                return Err(ApiError::field(
                    &format!("alteration.{unknown}"),
                    "unknown field; expected kind or params",
                ));
            }
            let params = match map.get("params") {
                None | Some(Value::Null) => None,
                Some(Value::Object(params)) => Some(params),
                Some(_) => return Err(ApiError::field("alteration.params", "must be an object of strings")),
            };
            let kind = map.get("kind").and_then(Value::as_str);
            (kind.ok_or_else(|| ApiError::field("alteration.kind", "is required"))?, params)
        }
        _ => return Err(ApiError::field("alteration", "must be a fault name or {\"kind\": …}")),
    };
    alteration_named(name, params)
}

fn alteration_named(name: &str, params: Option<&serde_json::Map<String, Value>>) -> Result<Alteration, ApiError> {
    let alteration = Alteration::from_name(name, Vec::new()).ok_or_else(|| {
        ApiError::field("fault", format!("unknown fault {name:?}; one of duplicate, {}", Alteration::NAMES.join(", ")))
    })?;
    match (alteration, params) {
        (Alteration::ExtraParams { .. }, Some(params)) => Ok(Alteration::ExtraParams { params: extra_params(params)? }),
        (_, Some(_)) => Err(ApiError::field("params", format!("are only taken by extra_params, not by {name}"))),
        (alteration, None) => Ok(alteration),
    }
}

/// The params `extra_params` adds: each would otherwise be sent as given, so what could not be sent is refused
/// rather than silently dropped.
fn extra_params(params: &serde_json::Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    if params.len() > 100 {
        return Err(ApiError::field("params", "must have at most 100 entries"));
    }
    params
        .iter()
        .map(|(name, value)| {
            let field = format!("params.{name}");
            if name.is_empty() {
                return Err(ApiError::field("params", "a param name must not be empty"));
            }
            if matches!(name.as_str(), "sign" | "method" | "order_id" | "timestamp") {
                return Err(ApiError::field(&field, "is set by the platform itself; extra_params cannot replace it"));
            }
            if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::field(&field, "a param name is 1 to 64 printable ASCII characters"));
            }
            match value {
                Value::String(v) if v.is_empty() => {
                    Err(ApiError::field(&field, "must not be empty (an empty param is never sent, PROTOCOL §3.2)"))
                }
                Value::String(v) => {
                    super::checks::text(&field, v, 4096)?;
                    Ok((name.clone(), v.clone()))
                }
                _ => Err(ApiError::field(&field, "must be a string")),
            }
        })
        .collect()
}

#[utoipa::path(post, path = "/admin/faults", tag = "faults", request_body = FaultBody,
    responses(
        (status = 201, description = "The fault is armed", body = FaultCreated),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The order cannot take this notification fault now", body = ErrorBody),
        (status = "4XX", description = "A bad field, named", body = ErrorBody),
    ))]
pub async fn create(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<FaultBody>,
) -> Result<(StatusCode, Json<FaultCreated>), ApiError> {
    let id = match body.target.as_str() {
        "gateway" => platform.add_gateway_fault(&body).await?,
        "notification" => platform.add_notification_fault(&body).await?,
        other => return Err(ApiError::field("target", format!("must be gateway or notification, got {other:?}"))),
    };
    Ok((StatusCode::CREATED, Json(FaultCreated { id })))
}

#[utoipa::path(get, path = "/admin/faults", tag = "faults",
    responses(
        (status = 200, description = "`{\"gateway\": [fault…], \"notification\": [{\"id\", \"order_id\"}…]}`: the pending faults", body = Value),
        (status = "4XX", description = "A bad request", body = ErrorBody),
    ))]
pub async fn list(State(platform): State<Platform>) -> Result<Json<Value>, ApiError> {
    let listed = platform
        .store()
        .faults(|gateway, notification| {
            let notification: Vec<Value> =
                notification.map(|(id, order)| json!({"id": id, "order_id": order})).collect();
            Json(json!({ "gateway": gateway, "notification": notification }))
        })
        .await?;
    Ok(listed)
}

#[utoipa::path(delete, path = "/admin/faults/{id}", tag = "faults",
    params(("id" = u64, Path, description = "The fault id")),
    responses(
        (status = 204, description = "The fault is removed"),
        (status = 404, description = "No such pending fault", body = ErrorBody),
        (status = "4XX", description = "id is not a fault id", body = ErrorBody),
    ))]
pub async fn remove(
    State(platform): State<Platform>,
    AdminPath(id): AdminPath<String>,
) -> Result<StatusCode, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::field("id", format!("{id:?} is not a fault id (an integer)")))?;
    if platform.store().remove_fault(id).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(ApiError::NotFound(format!("fault {id}: no such pending fault")))
}

/// Refuses the fields of the other target, which would otherwise be silently ignored.
fn refuse_foreign_fields(body: &FaultBody) -> Result<(), ApiError> {
    let foreign: &[(&str, bool)] = match body.target.as_str() {
        "gateway" => &[("fault", body.fault.is_some()), ("params", body.params.is_some())],
        _ => &[
            ("method", body.method.is_some()),
            ("app_key", body.app_key.is_some()),
            ("times", body.times.is_some()),
            ("answer", body.answer.is_some()),
            ("delay_ms", body.delay_ms.is_some()),
            ("lost_answer", body.lost_answer.is_some()),
        ],
    };
    match foreign.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ApiError::field(field, format!("is not a field of a {} fault", body.target))),
        None => Ok(()),
    }
}

fn no_order(order_id: i64) -> ApiError {
    ApiError::NotFound(format!("order_id {order_id}: no such order"))
}

impl Platform {
    async fn add_gateway_fault(&self, body: &FaultBody) -> Result<u64, ApiError> {
        refuse_foreign_fields(body)?;
        let action =
            FaultActionBody { answer: &body.answer, delay_ms: body.delay_ms, lost_answer: body.lost_answer.as_deref() };
        let spec = gateway_spec(&body.method, &body.app_key, body.times, action)?;
        // A fault for an order that does not exist could never fire (ids are never reused).
        self.store()
            .add_gateway_fault(spec, body.order_id)
            .await?
            .ok_or_else(|| no_order(body.order_id.unwrap_or_default()))
    }

    async fn add_notification_fault(&self, body: &FaultBody) -> Result<u64, ApiError> {
        refuse_foreign_fields(body)?;
        let order_id = body.order_id.ok_or_else(|| ApiError::field("order_id", "is required"))?;
        let name = body.fault.as_deref().ok_or_else(|| ApiError::field("fault", "is required"))?;
        let change = |tx: &mut OrderTx<'_>| -> Result<(u64, bool), ApiError> {
            let now = tx.now_ms();
            let id = tx.next_fault_id();
            let order = tx.order();
            if name == "duplicate" {
                // §2.4: only on a quiescent order with an acknowledged notification.
                if !order.delivery.queue.is_empty() {
                    return Err(ApiError::Conflict(format!(
                        "order {order_id} has a notification pending; duplicate needs a quiescent order"
                    )));
                }
                let (method, sub_method) = order.delivery.last_acked.ok_or_else(|| {
                    ApiError::Conflict(format!("order {order_id} has no acknowledged notification to duplicate"))
                })?;
                tx.enqueue((method, sub_method), None, true, now);
                return Ok((id, true));
            }
            let alteration = alteration_named(name, body.params.as_ref())?;
            if !tx.attach_alteration(id, alteration) {
                return Err(ApiError::Conflict(format!("order {order_id} already has a notification fault waiting")));
            }
            Ok((id, false))
        };
        let (id, queued) = self.store().with_order(order_id, 1, change).await?.ok_or_else(|| no_order(order_id))??;
        if queued {
            self.wake();
        }
        Ok(id)
    }
}
