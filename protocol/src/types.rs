//! Wire values that cannot hold invalid data: parse at the edge, then trust the type.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    #[error("order_id must be a positive decimal integer, got {0:?}")]
    OrderId(String),
    #[error("token must be 32 lower-case hex digits")]
    Token,
    #[error("code {0:?} must be 1-64 printable ASCII characters without ':', ',' or whitespace")]
    Code(String),
    #[error("verify_codes is empty")]
    EmptyVerifyCodes,
    #[error("verify_codes uses full-width punctuation {0:?}; only half-width ':' and ',' are allowed")]
    FullWidth(char),
    #[error("verify_codes entry {0:?} is not code:count")]
    Entry(String),
    #[error("count of code {code:?} must be a positive integer, got {count:?}")]
    Count { code: String, count: String },
    #[error("code {0:?} appears twice in verify_codes")]
    Duplicate(String),
    #[error("unknown notification method {0:?}")]
    Method(String),
}

/// A Taobao trade id (订单号 = `tid`, FAQ 2.10): a positive int64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OrderId(i64);

impl OrderId {
    pub fn new(value: i64) -> Result<Self, TypeError> {
        if value > 0 { Ok(Self(value)) } else { Err(TypeError::OrderId(value.to_string())) }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromStr for OrderId {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TypeError::OrderId(s.chars().take(32).collect()));
        }
        s.parse::<i64>().map_err(|_| TypeError::OrderId(s.chars().take(32).collect())).and_then(Self::new)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The per-order token: 32 lower-case hex digits, fixed for the order, echoed on every callback.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn parse(s: &str) -> Result<Self, TypeError> {
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(TypeError::Token)
        }
    }

    /// A token from 16 random bytes (the caller supplies the randomness).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.0)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One e-voucher code (码): 1-64 printable ASCII characters without `:`, `,` or whitespace (PROTOCOL §1.3).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    pub fn parse(s: &str) -> Result<Self, TypeError> {
        let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic() && b != b':' && b != b',');
        if ok { Ok(Self(s.to_owned())) } else { Err(TypeError::Code(s.chars().take(80).collect())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({})", self.0)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `verify_codes`: `code:count,code:count`, half-width punctuation, unique codes, counts ≥ 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyCodes(Vec<(Code, u32)>);

impl VerifyCodes {
    pub fn new(entries: Vec<(Code, u32)>) -> Result<Self, TypeError> {
        if entries.is_empty() {
            return Err(TypeError::EmptyVerifyCodes);
        }
        for (i, (code, count)) in entries.iter().enumerate() {
            if *count == 0 {
                return Err(TypeError::Count { code: code.0.clone(), count: "0".into() });
            }
            if entries[..i].iter().any(|(c, _)| c == code) {
                return Err(TypeError::Duplicate(code.0.clone()));
            }
        }
        Ok(Self(entries))
    }

    pub fn parse(s: &str) -> Result<Self, TypeError> {
        if let Some(c) = s.chars().find(|c| matches!(c, '：' | '，' | '；')) {
            return Err(TypeError::FullWidth(c));
        }
        if s.is_empty() {
            return Err(TypeError::EmptyVerifyCodes);
        }
        let mut entries = Vec::new();
        for entry in s.split(',') {
            let (code, count) =
                entry.split_once(':').ok_or_else(|| TypeError::Entry(entry.chars().take(80).collect()))?;
            let code = Code::parse(code)?;
            let bad_count = || TypeError::Count { code: code.0.clone(), count: count.chars().take(16).collect() };
            if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad_count());
            }
            let count: u32 = count.parse().map_err(|_| bad_count())?;
            entries.push((code, count));
        }
        Self::new(entries)
    }

    pub fn entries(&self) -> &[(Code, u32)] {
        &self.0
    }

    /// The sum of the counts (units these codes can redeem).
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| u64::from(*n)).sum()
    }

    /// The pairs as a sorted set, for comparing two sets regardless of order (C5, C6).
    pub fn as_sorted_set(&self) -> Vec<(Code, u32)> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

impl fmt::Display for VerifyCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (code, count)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{code}:{count}")?;
        }
        Ok(())
    }
}

impl FromStr for VerifyCodes {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The five notification methods the platform sends (PROTOCOL §3.2, harness N5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyMethod {
    /// 发码: the order is paid; issue codes.
    Send,
    /// 重新发码: the buyer asked for the SMS again.
    Resend,
    /// 修改手机号: the buyer changed phone; resend to the new mobile.
    Modified,
    /// 退款成功, 订单取消: the order is refunded; every remaining code is void.
    Cancel,
    /// 订单修改: validity changed (`sub_method=1`) or a rights claim upheld (`sub_method=2`).
    OrderModify,
}

impl NotifyMethod {
    pub const ALL: [NotifyMethod; 5] = [
        NotifyMethod::Send,
        NotifyMethod::Resend,
        NotifyMethod::Modified,
        NotifyMethod::Cancel,
        NotifyMethod::OrderModify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyMethod::Send => "send",
            NotifyMethod::Resend => "resend",
            NotifyMethod::Modified => "modified",
            NotifyMethod::Cancel => "cancel",
            NotifyMethod::OrderModify => "order_modify",
        }
    }

    /// Whether `{"code":300}` (codes regenerated) is an acknowledgement of this method (FAQ 2.26).
    pub fn allows_code_300(self) -> bool {
        matches!(self, NotifyMethod::Resend | NotifyMethod::Modified)
    }
}

impl FromStr for NotifyMethod {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotifyMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| TypeError::Method(s.chars().take(32).collect()))
    }
}

impl fmt::Display for NotifyMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_codes_round_trip() {
        let vc = VerifyCodes::parse("A1:2,B2:1").unwrap();
        assert_eq!(vc.total(), 3);
        assert_eq!(vc.to_string(), "A1:2,B2:1");
    }

    #[test]
    fn verify_codes_rejects_what_the_platform_rejects() {
        let cases = [
            ("", TypeError::EmptyVerifyCodes),
            ("A1：2", TypeError::FullWidth('：')),
            ("A1:2，B:1", TypeError::FullWidth('，')),
            ("A1:0", TypeError::Count { code: "A1".into(), count: "0".into() }),
            ("A1:-1", TypeError::Count { code: "A1".into(), count: "-1".into() }),
            ("A1:2,A1:1", TypeError::Duplicate("A1".into())),
            (":1", TypeError::Code("".into())),
            ("A1", TypeError::Entry("A1".into())),
            ("A 1:1", TypeError::Code("A 1".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(VerifyCodes::parse(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn order_ids_and_tokens_are_checked() {
        assert_eq!("1525658026040792".parse::<OrderId>().unwrap().get(), 1525658026040792);
        for bad in ["0", "-1", "1.5", "", "99999999999999999999"] {
            assert!(bad.parse::<OrderId>().is_err(), "{bad}");
        }
        assert!(Token::parse("d3077e5d86c75a2142f87161a4b4c3ea").is_ok());
        assert!(Token::parse("D3077E5D86C75A2142F87161A4B4C3EA").is_err());
    }

    #[test]
    fn methods_parse_and_only_resend_and_modified_allow_300() {
        for m in NotifyMethod::ALL {
            assert_eq!(m.as_str().parse::<NotifyMethod>().unwrap(), m);
        }
        assert!(NotifyMethod::Modified.allows_code_300());
        assert!(!NotifyMethod::Send.allows_code_300());
    }
}
