//! The platform's error table (PROTOCOL §4.8, §5.0–§5.13): codes, exact `msg` strings and sub_codes.

use std::borrow::Cow;
use std::fmt;

/// One `error_response`: `code`, `msg`, and the optional `sub_code` / `sub_msg`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopError {
    pub code: i64,
    pub msg: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_code: Option<Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_msg: Option<Cow<'static, str>>,
}

impl TopError {
    const fn plain(code: i64, msg: &'static str) -> Self {
        Self { code, msg: Cow::Borrowed(msg), sub_code: None, sub_msg: None }
    }

    const fn with_sub(code: i64, msg: &'static str, sub_code: &'static str, sub_msg: &'static str) -> Self {
        Self {
            code,
            msg: Cow::Borrowed(msg),
            sub_code: Some(Cow::Borrowed(sub_code)),
            sub_msg: Some(Cow::Borrowed(sub_msg)),
        }
    }

    /// 7: more calls than the app's daily quota (FAQ 2.24). `seconds_left` is the time to midnight GMT+8.
    pub fn app_call_limited(seconds_left: i64) -> Self {
        Self {
            code: 7,
            msg: Cow::Borrowed("App Call Limited"),
            sub_code: Some(Cow::Borrowed("accesscontrol.limited-by-api-access-count")),
            sub_msg: Some(Cow::Owned(format!("This ban will last for {seconds_left} more seconds"))),
        }
    }
    pub const HTTP_ACTION_NOT_ALLOWED: Self = Self::plain(9, "Http Action Not Allowed");
    pub const INSUFFICIENT_ISV_PERMISSIONS: Self = Self {
        code: 11,
        msg: Cow::Borrowed("Insufficient isv permissions"),
        sub_code: Some(Cow::Borrowed("isv.permission-api-package-limit")),
        sub_msg: None,
    };
    pub const MISSING_METHOD: Self = Self::plain(21, "Missing Method");
    pub const INVALID_METHOD: Self = Self::plain(22, "Invalid method");
    pub const INVALID_FORMAT: Self = Self::plain(23, "Invalid Format");
    pub const MISSING_SIGNATURE: Self = Self::plain(24, "Missing Signature");
    pub const INVALID_SIGNATURE: Self = Self::plain(25, "Invalid signature");
    pub const MISSING_SESSION: Self = Self::plain(26, "Missing session");
    pub const INVALID_SESSION: Self = Self {
        code: 27,
        msg: Cow::Borrowed("Invalid session"),
        sub_code: Some(Cow::Borrowed("invalid-sessionkey")),
        sub_msg: None,
    };
    pub const SESSION_EXPIRED: Self = Self {
        code: 27,
        msg: Cow::Borrowed("Invalid session:session-expired"),
        sub_code: Some(Cow::Borrowed("session-expired")),
        sub_msg: None,
    };
    pub const MISSING_APP_KEY: Self = Self::plain(28, "Missing app key");
    pub const INVALID_APP_KEY: Self = Self {
        code: 29,
        msg: Cow::Borrowed("Invalid app Key"),
        sub_code: Some(Cow::Borrowed("isv.appkey-not-exists")),
        sub_msg: None,
    };
    pub const MISSING_TIMESTAMP: Self = Self::plain(30, "Missing Timestamp");
    pub const INVALID_TIMESTAMP: Self = Self::plain(31, "Invalid timestamp");
    pub const MISSING_VERSION: Self = Self::plain(32, "Missing Version");
    pub const INVALID_VERSION: Self = Self::plain(33, "Invalid Version");
    /// 43: the request could not be read at all and no param can be named.
    pub const INVALID_PARAMETER: Self = Self::plain(43, "Invalid parameter");

    /// 40: the first missing required API param.
    pub fn missing_argument(name: &str) -> Self {
        Self { code: 40, msg: Cow::Owned(format!("Missing required arguments:{name}")), sub_code: None, sub_msg: None }
    }

    /// 41: the first API param breaking its rule.
    pub fn invalid_argument(name: &str) -> Self {
        Self { code: 41, msg: Cow::Owned(format!("Invalid arguments:{name}")), sub_code: None, sub_msg: None }
    }

    /// Whether a merchant should retry a call that got this error (PROTOCOL §6 C8, harness G8): any
    /// `isp.*`, the service-unavailable sub_codes, and flow control (7).
    pub fn is_transient(&self) -> bool {
        if self.code == 7 {
            return true;
        }
        match self.sub_code.as_deref() {
            Some(sub) => sub.starts_with("isp.") || sub.starts_with("isv.eticket-service-unavailable"),
            None => false,
        }
    }

    /// Whether this error means "already done": `code-alreay-send` (sic) is success for a merchant (G7).
    pub fn is_already_sent(&self) -> bool {
        self.sub_code.as_deref() == Some(SubCode::CodeAlreadySent.sub_code())
    }
}

impl fmt::Display for TopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.msg)?;
        if let Some(sub) = &self.sub_code {
            write!(f, " ({sub}")?;
            if let Some(sub_msg) = &self.sub_msg {
                write!(f, ": {sub_msg}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for TopError {}

/// The business sub_codes answered under code 15 `Remote service error` (§5.0–§5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubCode {
    /// B0, transient: the order is being processed concurrently.
    OrderIsProcessing,
    /// B0, transient: the service failed.
    OpFailed,
    /// B0, transient: remote connection timeout.
    RemoteConnectionTimeout,
    /// B1: the session user has not joined the e-voucher platform.
    InvalidEticketSeller,
    /// B2: no e-voucher order with this id.
    OrderNotFound,
    /// B3: the order is not the session merchant's.
    OrderNotBelongToSeller,
    /// B4: the token does not match.
    InvalidToken,
    /// B5: a 码商 call without `posid`.
    InvalidPosid,
    /// B6: a `posid` not bound to the 码商.
    PosNotForCodeMerchant,
    /// B7, terminal: the order's state forbids the call.
    InvalidOrderStatus,
    /// §5.1, terminal: codes already issued (sic "alreay"); merchants treat it as success.
    CodeAlreadySent,
    /// §5.2, terminal: nothing left to resend.
    NoCanResendCode,
    ConsumeNumInvalid,
    InvalidConsumeSerialNum,
    DuplicateConsumeSerialNum,
    CodeNotAvailable,
    CodeNotInValidTime,
    ConsumeNumOverflow,
    /// §5.13: unknown or foreign `tid`.
    TradeNotExist,
}

impl SubCode {
    pub const ALL: [SubCode; 19] = [
        SubCode::OrderIsProcessing,
        SubCode::OpFailed,
        SubCode::RemoteConnectionTimeout,
        SubCode::InvalidEticketSeller,
        SubCode::OrderNotFound,
        SubCode::OrderNotBelongToSeller,
        SubCode::InvalidToken,
        SubCode::InvalidPosid,
        SubCode::PosNotForCodeMerchant,
        SubCode::InvalidOrderStatus,
        SubCode::CodeAlreadySent,
        SubCode::NoCanResendCode,
        SubCode::ConsumeNumInvalid,
        SubCode::InvalidConsumeSerialNum,
        SubCode::DuplicateConsumeSerialNum,
        SubCode::CodeNotAvailable,
        SubCode::CodeNotInValidTime,
        SubCode::ConsumeNumOverflow,
        SubCode::TradeNotExist,
    ];

    /// The exact `sub_code` string.
    pub fn sub_code(self) -> &'static str {
        match self {
            SubCode::OrderIsProcessing => "isv.eticket-service-unavailable:order-is-processing",
            SubCode::OpFailed => "isv.eticket-service-unavailable:op-failed",
            SubCode::RemoteConnectionTimeout => "isp.top-remote-connection-timeout",
            SubCode::InvalidEticketSeller => "isv.eticket-seller-error:invalid-eticket-seller",
            SubCode::OrderNotFound => "isv.eticket-order-not-found:invalid-orderid",
            SubCode::OrderNotBelongToSeller => "isv.eticket-privilege-error:order-not-belongto-seller",
            SubCode::InvalidToken => "isv.eticket-token-error:invalid-token",
            SubCode::InvalidPosid => "isv.eticket-invalid-parameter:invalid-posid",
            SubCode::PosNotForCodeMerchant => "isv.eticket-invalid-posid:invalid-pos-for-codemerchant",
            SubCode::InvalidOrderStatus => "isv.eticket-order-status-error:invalid-order-status",
            SubCode::CodeAlreadySent => "isv.eticket-send-error:code-alreay-send",
            SubCode::NoCanResendCode => "isv.eticket-resend-error:no-can-resend-code",
            SubCode::ConsumeNumInvalid => "isv.eticket-order-consume-num:consume-num-invalid",
            SubCode::InvalidConsumeSerialNum => "isv.eticket-invalid-parameter:invalid-consume-serial-num",
            SubCode::DuplicateConsumeSerialNum => "isv.eticket-invalid-parameter:duplicate-consume-serial-num",
            SubCode::CodeNotAvailable => "isv.eticket-consume-error:code-not-available",
            SubCode::CodeNotInValidTime => "isv.eticket-code-error:code-not-in-valid-time",
            SubCode::ConsumeNumOverflow => "isv.eticket-order-consume-num:consume-num-overflow",
            SubCode::TradeNotExist => "isv.trade-not-exist",
        }
    }

    /// The exact `sub_msg` string.
    pub fn sub_msg(self) -> &'static str {
        match self {
            SubCode::OrderIsProcessing => "订单并发操作并发限制",
            SubCode::OpFailed => "服务异常",
            SubCode::RemoteConnectionTimeout => "isp.top-remote-connection-timeout",
            SubCode::InvalidEticketSeller => "sessionkey对应的用户没有入驻电子凭证平台",
            SubCode::OrderNotFound => "传递的订单ID参数找不到对应的电子凭证订单信息",
            SubCode::OrderNotBelongToSeller => "订单不属于用户授权登录的卖家，卖家没有权限操作这个订单",
            SubCode::InvalidToken => "Token参数校验失败",
            SubCode::InvalidPosid => "posid参数错误",
            SubCode::PosNotForCodeMerchant => "Posid校验失败",
            SubCode::InvalidOrderStatus => "此状态的订单不允许进行核销码操作",
            SubCode::CodeAlreadySent => "该订单已经发过码",
            SubCode::NoCanResendCode => "没有可重发的码",
            SubCode::ConsumeNumInvalid => "核销次数错误",
            SubCode::InvalidConsumeSerialNum => "自定义核销流水号格式错误",
            SubCode::DuplicateConsumeSerialNum => "重复的自定义核销流水号",
            SubCode::CodeNotAvailable => "该码不能进行核销",
            SubCode::CodeNotInValidTime => "要验证的码不在有效期范围内",
            SubCode::ConsumeNumOverflow => "请求核销次数大于该码的实际剩余可核销次数",
            SubCode::TradeNotExist => "交易不存在",
        }
    }

    /// Looks a sub_code string up.
    pub fn from_sub_code(sub_code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.sub_code() == sub_code)
    }

    /// The `error_response` for this sub_code: always code 15 `Remote service error` (harness G5).
    pub fn error(self) -> TopError {
        TopError::with_sub(15, "Remote service error", self.sub_code(), self.sub_msg())
    }
}

impl From<SubCode> for TopError {
    fn from(sub: SubCode) -> Self {
        sub.error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_terminal_sub_codes_follow_g8() {
        assert!(SubCode::OrderIsProcessing.error().is_transient());
        assert!(SubCode::RemoteConnectionTimeout.error().is_transient());
        assert!(TopError::app_call_limited(3).is_transient());
        assert!(!SubCode::InvalidOrderStatus.error().is_transient());
        assert!(!SubCode::CodeAlreadySent.error().is_transient());
        assert!(SubCode::CodeAlreadySent.error().is_already_sent());
    }

    #[test]
    fn sub_codes_round_trip_through_their_strings() {
        for sub in SubCode::ALL {
            assert_eq!(SubCode::from_sub_code(sub.sub_code()), Some(sub));
        }
    }
}
