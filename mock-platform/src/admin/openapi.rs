//! `GET /admin/openapi.json`: the OpenAPI 3.1 description of the admin API, derived from the handlers' own
//! attributes and body types (INTERFACES §1.1), so it cannot drift from what the routes take.

use axum::Json;
use utoipa::OpenApi;

use super::{clock, faults, merchants, orders};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "mock-platform admin API",
        description = "Merchants, orders, suite actions, faults and the clock of the mock e-voucher platform \
                       (INTERFACES.md §1.1). Every error is 4xx `{\"error\": …}` naming what is wrong. With \
                       `--admin-token`, every call needs `Authorization: Bearer TOKEN` (401 otherwise)."
    ),
    paths(
        merchants::create,
        crate::console::list_merchants,
        merchants::get_one,
        orders::create,
        orders::list,
        orders::get_one,
        orders::resend,
        orders::modify_mobile,
        orders::refund,
        orders::extend,
        orders::rights_protection,
        orders::exchanges,
        crate::case::get_case,
        faults::create,
        faults::list,
        faults::remove,
        clock::advance,
        clock::get,
        document,
    ),
    components(schemas(super::ErrorBody))
)]
pub struct AdminApi;

#[utoipa::path(get, path = "/admin/openapi.json", tag = "meta",
    responses(
        (status = 200, description = "This document", body = Value),
        (status = "4XX", description = "A bad request (401 without the admin token)", body = super::ErrorBody),
    ))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(AdminApi::openapi())
}
