//! A notification (platform → merchant) as a typed value (PROTOCOL §3.2).
//!
//! The mock builds one and serialises it with [`Notification::to_params`] in the §3.2 order; a
//! merchant parses the received params with [`Notification::from_params`] after verifying the sign.
//! Unknown params are kept in `extra`: they are part of the sign even when nobody reads them (FAQ 2.14).

use crate::{Gmt8Timestamp, NotifyMethod, OrderId, Params, Token, TypeError};

/// One notification's params. `timestamp` and `sign` are per attempt and not held here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    pub method: NotifyMethod,
    pub order_id: OrderId,
    pub taobao_sid: String,
    pub seller_nick: String,
    /// Absent on `order_modify`.
    pub token: Option<Token>,
    pub mobile: Option<String>,
    pub num: Option<u32>,
    /// `resend` and `modified` only.
    pub left_num: Option<u32>,
    /// `cancel` only.
    pub cancel_num: Option<u32>,
    pub item_title: Option<String>,
    pub num_iid: Option<String>,
    pub outer_iid: Option<String>,
    pub sub_outer_iid: Option<String>,
    pub sku_properties: Option<String>,
    pub send_type: Option<String>,
    pub consume_type: Option<String>,
    pub sms_template: Option<String>,
    pub valid_start: Option<String>,
    pub valid_ends: Option<String>,
    pub r#type: Option<String>,
    pub total_fee: Option<String>,
    pub weeks: Option<String>,
    /// `order_modify`: 1 validity changed, 2 rights claim upheld.
    pub sub_method: Option<String>,
    /// `order_modify`: JSON text.
    pub data: Option<String>,
    /// Params outside §3.2, kept in arrival order.
    pub extra: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("notification has no {0}")]
    Missing(&'static str),
    #[error("notification param {name}: {source}")]
    Invalid { name: &'static str, source: TypeError },
    #[error("notification param {0} is not a number")]
    NotANumber(&'static str),
}

/// The §3.2 names in the order the mock sends them (`timestamp` follows `method`), plus `sign` and
/// `codemerchant_id`: every name this crate reads; anything else lands in [`Notification::extra`].
pub const KNOWN_PARAMS: [&str; 27] = [
    "method",
    "timestamp",
    "order_id",
    "taobao_sid",
    "seller_nick",
    "token",
    "mobile",
    "num",
    "left_num",
    "cancel_num",
    "item_title",
    "num_iid",
    "outer_iid",
    "sub_outer_iid",
    "sku_properties",
    "send_type",
    "consume_type",
    "sms_template",
    "valid_start",
    "valid_ends",
    "type",
    "total_fee",
    "weeks",
    "sub_method",
    "data",
    "sign",
    "codemerchant_id",
];

impl Notification {
    /// The params to send, in §3.2 order, with `timestamp` (no `sign`: the sender adds it last).
    /// Absent and empty values are left out: the mock never sends an empty value.
    pub fn to_params(&self, timestamp: Gmt8Timestamp) -> Params {
        let mut p = Params::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                p.set(name, v);
            }
        };
        put("method", Some(self.method.as_str().into()));
        put("timestamp", Some(timestamp.format()));
        put("order_id", Some(self.order_id.to_string()));
        put("taobao_sid", Some(self.taobao_sid.clone()));
        put("seller_nick", Some(self.seller_nick.clone()));
        put("token", self.token.as_ref().map(|t| t.to_string()));
        put("mobile", self.mobile.clone());
        put("num", self.num.map(|n| n.to_string()));
        put("left_num", self.left_num.map(|n| n.to_string()));
        put("cancel_num", self.cancel_num.map(|n| n.to_string()));
        put("item_title", self.item_title.clone());
        put("num_iid", self.num_iid.clone());
        put("outer_iid", self.outer_iid.clone());
        put("sub_outer_iid", self.sub_outer_iid.clone());
        put("sku_properties", self.sku_properties.clone());
        put("send_type", self.send_type.clone());
        put("consume_type", self.consume_type.clone());
        put("sms_template", self.sms_template.clone());
        put("valid_start", self.valid_start.clone());
        put("valid_ends", self.valid_ends.clone());
        put("type", self.r#type.clone());
        put("total_fee", self.total_fee.clone());
        put("weeks", self.weeks.clone());
        put("sub_method", self.sub_method.clone());
        put("data", self.data.clone());
        for (name, value) in &self.extra {
            put(name, Some(value.clone()));
        }
        p
    }

    /// Reads received params (after the sign was verified). Required: `method`, `order_id`;
    /// `token` for every method but `order_modify`.
    pub fn from_params(params: &Params) -> Result<Self, NotificationError> {
        let text = |name: &str| params.non_empty(name).map(str::to_owned);
        let number = |name: &'static str| -> Result<Option<u32>, NotificationError> {
            params
                .non_empty(name)
                .map(|v| v.parse::<u32>().map_err(|_| NotificationError::NotANumber(name)))
                .transpose()
        };
        let method: NotifyMethod = params
            .non_empty("method")
            .ok_or(NotificationError::Missing("method"))?
            .parse()
            .map_err(|source| NotificationError::Invalid { name: "method", source })?;
        let order_id: OrderId = params
            .non_empty("order_id")
            .ok_or(NotificationError::Missing("order_id"))?
            .parse()
            .map_err(|source| NotificationError::Invalid { name: "order_id", source })?;
        let token = match params.non_empty("token") {
            Some(t) => Some(Token::parse(t).map_err(|source| NotificationError::Invalid { name: "token", source })?),
            None if method == NotifyMethod::OrderModify => None,
            None => return Err(NotificationError::Missing("token")),
        };
        Ok(Self {
            method,
            order_id,
            taobao_sid: text("taobao_sid").unwrap_or_default(),
            seller_nick: text("seller_nick").unwrap_or_default(),
            token,
            mobile: text("mobile"),
            num: number("num")?,
            left_num: number("left_num")?,
            cancel_num: number("cancel_num")?,
            item_title: text("item_title"),
            num_iid: text("num_iid"),
            outer_iid: text("outer_iid"),
            sub_outer_iid: text("sub_outer_iid"),
            sku_properties: text("sku_properties"),
            send_type: text("send_type"),
            consume_type: text("consume_type"),
            sms_template: text("sms_template"),
            valid_start: text("valid_start"),
            valid_ends: text("valid_ends"),
            r#type: text("type"),
            total_fee: text("total_fee"),
            weeks: text("weeks"),
            sub_method: text("sub_method"),
            data: text("data"),
            // Empty values are absent here as for the known names (and skipped by the sign, §3.3), so a
            // notification reads the same whether a sender wrote `extra=` or left it out (found by fuzzing).
            extra: params
                .iter()
                .filter(|(n, v)| !v.is_empty() && !KNOWN_PARAMS.contains(n))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        })
    }

    /// A notification with only the always-present fields set; the rest default to absent.
    pub fn new(
        method: NotifyMethod,
        order_id: OrderId,
        taobao_sid: impl Into<String>,
        seller_nick: impl Into<String>,
    ) -> Self {
        Self {
            method,
            order_id,
            taobao_sid: taobao_sid.into(),
            seller_nick: seller_nick.into(),
            token: None,
            mobile: None,
            num: None,
            left_num: None,
            cancel_num: None,
            item_title: None,
            num_iid: None,
            outer_iid: None,
            sub_outer_iid: None,
            sku_properties: None,
            send_type: None,
            consume_type: None,
            sms_template: None,
            valid_start: None,
            valid_ends: None,
            r#type: None,
            total_fee: None,
            weeks: None,
            sub_method: None,
            data: None,
            extra: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_and_unknown_params_are_kept() {
        let mut n = Notification::new(NotifyMethod::Send, OrderId::new(7).unwrap(), "1", "卖家");
        n.token = Some(Token::parse("d3077e5d86c75a2142f87161a4b4c3ea").unwrap());
        n.num = Some(2);
        n.item_title = Some("银子岩门票".into());
        n.extra.push(("id_card".into(), "x".into()));
        let ts = Gmt8Timestamp::parse_datetime("2016-04-12 04:04:37").unwrap();
        let params = n.to_params(ts);
        assert_eq!(params.iter().next(), Some(("method", "send")));
        assert_eq!(params.get("timestamp"), Some("2016-04-12 04:04:37"));
        assert_eq!(Notification::from_params(&params).unwrap(), n);
    }

    #[test]
    fn an_unknown_param_with_an_empty_value_is_absent_like_a_known_one() {
        let params = Params::from_pairs([("method", "order_modify"), ("order_id", "7"), ("id_card", ""), ("x", "1")]);
        let n = Notification::from_params(&params).unwrap();
        assert_eq!(n.extra, vec![("x".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn token_is_required_except_on_order_modify() {
        let params = Params::from_pairs([("method", "send"), ("order_id", "7")]);
        assert_eq!(Notification::from_params(&params), Err(NotificationError::Missing("token")));
        let params = Params::from_pairs([("method", "order_modify"), ("order_id", "7")]);
        assert!(Notification::from_params(&params).is_ok());
    }
}
