//! `POST /admin/faults`, `GET /admin/faults`, `DELETE /admin/faults/{id}`: gateway answers, delays and lost answers,
//! notification alterations and `duplicate` (PROTOCOL §2.4, INTERFACES §1.1); the `gateway_faults` of
//! `POST /admin/orders` are checked here too.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::{SubCode, TopError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminJson, ApiError};
use crate::Platform;
use crate::faults::{self, FaultAction, FaultSpec, LostAnswer};
use crate::notify::Alteration;

#[derive(Debug, Clone, Deserialize)]
pub struct FaultBody {
    /// `gateway` or `notification`.
    pub target: String,
    pub method: Option<String>,
    pub app_key: Option<String>,
    pub order_id: Option<i64>,
    pub times: Option<u32>,
    pub answer: Option<AnswerBody>,
    pub delay_ms: Option<u64>,
    /// `close` or `transient` (INTERFACES §1.1).
    pub lost_answer: Option<String>,
    pub fault: Option<String>,
    /// Params of `extra_params`.
    pub params: Option<serde_json::Map<String, Value>>,
}

/// An injected answer; `code`/`msg` default from a known `sub_code` (code 15 `Remote service error`).
#[derive(Debug, Clone, Deserialize)]
pub struct AnswerBody {
    pub code: Option<i64>,
    pub msg: Option<String>,
    pub sub_code: Option<String>,
    pub sub_msg: Option<String>,
}

impl AnswerBody {
    fn to_error(&self) -> Result<TopError, ApiError> {
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
#[derive(Debug, Clone, Deserialize)]
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
    let action = match (action.answer, action.delay_ms, action.lost_answer) {
        (Some(answer), None, None) => FaultAction::Answer(answer.to_error()?),
        (None, Some(ms), None) => FaultAction::DelayMs(ms.min(120_000)),
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
        Value::Object(map) => (
            map.get("kind").and_then(Value::as_str).ok_or_else(|| ApiError::field("alteration.kind", "is required"))?,
            map.get("params").and_then(Value::as_object),
        ),
        _ => return Err(ApiError::field("alteration", "must be a fault name or {\"kind\": …}")),
    };
    alteration_named(name, params)
}

fn alteration_named(name: &str, params: Option<&serde_json::Map<String, Value>>) -> Result<Alteration, ApiError> {
    let extra = params
        .map(|m| {
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(ApiError::field(&format!("params.{k}"), "must be a string")),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Alteration::from_name(name, extra).ok_or_else(|| {
        ApiError::field("fault", format!("unknown fault {name:?}; one of duplicate, {}", Alteration::NAMES.join(", ")))
    })
}

pub async fn create(
    State(platform): State<Platform>,
    AdminJson(body): AdminJson<FaultBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = match body.target.as_str() {
        "gateway" => platform.add_gateway_fault(&body)?,
        "notification" => platform.add_notification_fault(&body)?,
        other => return Err(ApiError::field("target", format!("must be gateway or notification, got {other:?}"))),
    };
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

pub async fn list(State(platform): State<Platform>) -> Json<Value> {
    let data = platform.data();
    let notification: Vec<Value> =
        data.notification_faults.iter().map(|(id, order)| json!({"id": id, "order_id": order})).collect();
    Json(json!({ "gateway": data.gateway_faults, "notification": notification }))
}

pub async fn remove(State(platform): State<Platform>, Path(id): Path<u64>) -> Result<StatusCode, ApiError> {
    let mut data = platform.data();
    let before = data.gateway_faults.len();
    data.gateway_faults.retain(|f| f.id != id);
    if data.gateway_faults.len() != before {
        return Ok(StatusCode::NO_CONTENT);
    }
    if let Some(order_id) = data.notification_faults.remove(&id) {
        if let Some(order) = data.orders.get_mut(&order_id)
            && order.delivery.pending_alteration.as_ref().is_some_and(|(fid, _)| *fid == id)
        {
            order.delivery.pending_alteration = None;
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(ApiError::NotFound(format!("fault {id}: no such pending fault")))
}

impl Platform {
    fn add_gateway_fault(&self, body: &FaultBody) -> Result<u64, ApiError> {
        let action =
            FaultActionBody { answer: &body.answer, delay_ms: body.delay_ms, lost_answer: body.lost_answer.as_deref() };
        let spec = gateway_spec(&body.method, &body.app_key, body.times, action)?;
        let mut data = self.data();
        let data = &mut *data;
        Ok(faults::arm(&mut data.gateway_faults, &mut data.next_fault_id, spec, body.order_id))
    }

    fn add_notification_fault(&self, body: &FaultBody) -> Result<u64, ApiError> {
        let order_id = body.order_id.ok_or_else(|| ApiError::field("order_id", "is required"))?;
        let name = body.fault.as_deref().ok_or_else(|| ApiError::field("fault", "is required"))?;
        let now = self.clock().now_ms();
        let mut data = self.data();
        let id = data.next_fault_id;
        data.next_fault_id += 1;
        let order = data
            .orders
            .get(&order_id)
            .ok_or_else(|| ApiError::NotFound(format!("order_id {order_id}: no such order")))?;
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
            data.enqueue(order_id, (method, sub_method), None, true, now);
            drop(data);
            self.wake();
            return Ok(id);
        }
        let alteration = alteration_named(name, body.params.as_ref())?;
        if !data.attach_alteration(order_id, id, alteration) {
            return Err(ApiError::Conflict(format!("order {order_id} already has a notification fault waiting")));
        }
        Ok(id)
    }
}
