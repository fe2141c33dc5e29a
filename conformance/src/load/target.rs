//! The platform a load run drives: the in-process mock (`--gateway-listen`), reached through its library
//! methods so buying costs no HTTP round trip, or a running one (`--platform-url`) through its admin API.
//!
//! Both answer the same JSON (the admin API's order and exchanges shapes), so everything measured is read the
//! same way. Reads are made once per order at the end of a run (bounded concurrency on a remote platform) and
//! for a bounded sample while it runs, never by polling every order.

use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt, stream};
use serde_json::Value;

use super::measure::OrderMeasure;
use crate::platform_client::PlatformClient;

/// Admin reads in flight at once against a remote platform.
const READ_CONCURRENCY: usize = 16;

/// Where the orders are bought.
#[derive(Debug, Clone)]
pub enum Target {
    InProcess(mock_platform::Platform),
    Remote(PlatformClient),
}

impl Target {
    /// Registers the merchant (`POST /admin/merchants` body). `Ok(false)`: the app_key was already registered.
    pub async fn register(&self, body: Value) -> Result<bool, String> {
        match self {
            Target::InProcess(platform) => {
                let merchant: mock_platform::NewMerchant = serde_json::from_value(body).map_err(|e| e.to_string())?;
                match platform.add_merchant(merchant).await {
                    Ok(_) => Ok(true),
                    Err(mock_platform::ApiError::Conflict(_)) => Ok(false),
                    Err(e) => Err(format!("{e:?}")),
                }
            }
            Target::Remote(client) => match client.admin(reqwest::Method::POST, "/admin/merchants", Some(body)).await {
                Ok(_) => Ok(true),
                Err(crate::platform_client::PlatformError::Status { status: 409, .. }) => Ok(false),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// `POST /admin/orders`: the order id, or why the platform refused. In-process the body goes to the
    /// platform as it is, with no JSON in between: buying is the one thing done per order while the run goes.
    pub async fn buy(&self, body: mock_platform::NewOrderBody) -> Result<i64, String> {
        let answer = match self {
            // Only the id: the order's view is read once at the end of the run.
            Target::InProcess(platform) => return platform.buy_order(body).await.map_err(|e| format!("{e:?}")),
            Target::Remote(client) => {
                let body = serde_json::json!({
                    "app_key": body.app_key,
                    "num": body.num,
                    "mobile": body.mobile,
                    "item_title": body.item_title,
                });
                client.admin(reqwest::Method::POST, "/admin/orders", Some(body)).await.map_err(|e| e.to_string())?
            }
        };
        answer.get("order_id").and_then(Value::as_i64).ok_or_else(|| format!("no order_id in {answer}"))
    }

    /// How many of `ids` are `ISSUED` now: one store read per order in-process, one list call on a remote platform.
    pub async fn issued(&self, app_key: &str, ids: &HashSet<i64>) -> Result<usize, String> {
        match self {
            Target::InProcess(platform) => {
                let mut issued = 0;
                for id in ids {
                    let state = platform.store().order(*id, |o| o.state).await.map_err(|e| e.to_string())?;
                    issued += usize::from(state == Some(mock_platform::model::OrderState::Issued));
                }
                Ok(issued)
            }
            Target::Remote(client) => {
                // Ask for the orders still waiting (PAID, NOTIFIED), not the issued ones: the answer stays small
                // while the merchant keeps up, however many orders the run bought.
                let mut waiting = 0;
                for state in ["PAID", "NOTIFIED"] {
                    let list = client
                        .admin(reqwest::Method::GET, &format!("/admin/orders?app_key={app_key}&state={state}"), None)
                        .await
                        .map_err(|e| e.to_string())?;
                    waiting += orders_of(&list).filter(|o| o_id(o).is_some_and(|id| ids.contains(&id))).count();
                }
                Ok(ids.len() - waiting.min(ids.len()))
            }
        }
    }

    /// The order view of one order.
    async fn order(&self, order_id: i64) -> Option<Value> {
        match self {
            Target::InProcess(platform) => platform.order_json(order_id).await,
            Target::Remote(client) => {
                client.admin(reqwest::Method::GET, &format!("/admin/orders/{order_id}"), None).await.ok()
            }
        }
    }

    /// The exchanges of one order (the live sample).
    pub async fn exchanges(&self, order_id: i64) -> Vec<Value> {
        let body = match self {
            Target::InProcess(platform) => platform.exchanges_json(order_id).await,
            Target::Remote(client) => {
                client.admin(reqwest::Method::GET, &format!("/admin/orders/{order_id}/exchanges"), None).await.ok()
            }
        };
        body.map(exchanges_of).unwrap_or_default()
    }

    /// Measures every order of `ids`: one pass at the end of a run, each order read and turned into its
    /// [`OrderMeasure`] at once, so the JSON of thousands of orders is never held together.
    pub async fn measure_all(&self, ids: &[i64], scheduled: &HashMap<i64, i64>) -> Vec<OrderMeasure> {
        let at = |id: i64| scheduled.get(&id).copied().unwrap_or_default();
        match self {
            Target::InProcess(platform) => {
                let mut measures = Vec::with_capacity(ids.len());
                for &id in ids {
                    let order = platform.order_json(id).await;
                    let exchanges = platform.exchanges_json(id).await.map(exchanges_of).unwrap_or_default();
                    measures.push(OrderMeasure::read(id, at(id), order.as_ref(), &exchanges));
                }
                measures
            }
            Target::Remote(_) => {
                // Order by order (its view and its exchanges), a bounded number at once: one list of every order
                // would hold the JSON of the whole run in memory together.
                stream::iter(ids.iter().copied())
                    .map(|id| async move { (id, self.order(id).await, self.exchanges(id).await) })
                    .buffer_unordered(READ_CONCURRENCY)
                    .map(|(id, order, exchanges)| OrderMeasure::read(id, at(id), order.as_ref(), &exchanges))
                    .collect()
                    .await
            }
        }
    }
}

fn exchanges_of(mut body: Value) -> Vec<Value> {
    match body.get_mut("exchanges").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn orders_of(list: &Value) -> impl Iterator<Item = &Value> {
    list.get("orders").and_then(Value::as_array).into_iter().flatten()
}

fn o_id(order: &Value) -> Option<i64> {
    order.get("order_id").and_then(Value::as_i64)
}
