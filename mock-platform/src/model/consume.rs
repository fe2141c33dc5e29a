//! Redemption on an order: consume (T6/T7), beforeconsume and reverse (T8), PROTOCOL §5.3–§5.5, §2.3.

use protocol::{Code, SubCode, VerifyCodes};

use super::order::{CodeRecord, CodeStatus, ConsumeRecord, LIVE, OpTime, Order, OrderState, TransitionError, refuse};
use crate::clock::gmt8_weekday;

/// A consume request after the param checks.
#[derive(Debug, Clone)]
pub struct ConsumeRequest<'a> {
    pub code: &'a str,
    pub num: i64,
    pub serial: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub new_code: Option<&'a str>,
    pub posid: Option<&'a str>,
}

/// What a successful consume reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub serial: String,
    pub code_left_num: u32,
}

/// `serial_num` rule: ≤ 100 characters of `[a-zA-Z0-9_]`.
pub fn valid_serial(serial: &str) -> bool {
    !serial.is_empty() && serial.len() <= 100 && serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Order {
    fn sub(sub: SubCode) -> TransitionError {
        TransitionError::Sub(sub)
    }

    /// §2.3: inside the validity window and, with `weeks`, on a listed weekday (order clock, GMT+8).
    pub fn in_valid_time(&self, now_ms: i64) -> bool {
        if now_ms < self.valid_start || now_ms > self.valid_ends {
            return false;
        }
        match &self.weeks {
            Some(weeks) => {
                let day = gmt8_weekday(now_ms).to_string();
                weeks.trim_matches(|c| c == '[' || c == ']').split(',').any(|d| d.trim() == day)
            }
            None => true,
        }
    }

    /// The usable record of a code with units left, else `code-not-available`.
    fn available_code(&self, code: &str) -> Result<usize, TransitionError> {
        self.codes
            .iter()
            .position(|c| &*c.code == code && c.status == CodeStatus::Usable && c.left > 0)
            .ok_or(Self::sub(SubCode::CodeNotAvailable))
    }

    fn check_mobile(&self, mobile: Option<&str>) -> Result<(), TransitionError> {
        match mobile {
            Some(m) if !self.mobile.ends_with(m) || m.len() != 4 => Err(TransitionError::Invalid("mobile")),
            _ => Ok(()),
        }
    }

    /// §5.4: the checks of a consume without the count and serial ones; returns the code's remaining count.
    pub fn before_consume(&self, code: &str, mobile: Option<&str>, now_ms: i64) -> Result<u32, TransitionError> {
        if !self.state.is_one_of(LIVE) {
            return Err(refuse(self.state, "eticket.beforeconsume", "ISSUED or PARTLY_CONSUMED"));
        }
        let index = self.available_code(code)?;
        if !self.in_valid_time(now_ms) {
            return Err(Self::sub(SubCode::CodeNotInValidTime));
        }
        self.check_mobile(mobile)?;
        Ok(self.codes[index].left)
    }

    /// §5.3 in its order: state (B7), count, serial format, serial reuse, code, validity, overflow, then the
    /// data rules (mobile, new_code) as 41. T6/T7.
    pub fn consume(
        &mut self,
        req: &ConsumeRequest<'_>,
        mock_serial: String,
        at: OpTime,
    ) -> Result<Consumed, TransitionError> {
        let now_ms = at.ms;
        if !self.state.is_one_of(LIVE) {
            return Err(refuse(self.state, "eticket.consume", "ISSUED or PARTLY_CONSUMED"));
        }
        if req.num <= 0 {
            return Err(Self::sub(SubCode::ConsumeNumInvalid));
        }
        if let Some(serial) = req.serial {
            if !valid_serial(serial) {
                return Err(Self::sub(SubCode::InvalidConsumeSerialNum));
            }
            if self.consumes.iter().any(|c| &*c.serial == serial) {
                return Err(Self::sub(SubCode::DuplicateConsumeSerialNum));
            }
        }
        let index = self.available_code(req.code)?;
        if !self.in_valid_time(now_ms) {
            return Err(Self::sub(SubCode::CodeNotInValidTime));
        }
        let num = u32::try_from(req.num).unwrap_or(u32::MAX);
        if num > self.codes[index].left {
            return Err(Self::sub(SubCode::ConsumeNumOverflow));
        }
        self.check_mobile(req.mobile)?;
        if let Some(new_code) = req.new_code
            && (Code::parse(new_code).is_err() || self.codes.iter().any(|c| &*c.code == new_code))
        {
            return Err(TransitionError::Invalid("new_code"));
        }
        let serial = req.serial.map_or(mock_serial, str::to_owned);
        let record = &mut self.codes[index];
        record.left -= num;
        let mut code_left_num = record.left;
        if record.left == 0 {
            record.status = CodeStatus::UsedUp;
        }
        if let Some(new_code) = req.new_code {
            // "这些可核销份数会累积到新的码上": the rest moves to the new code; the consumed code is voided.
            let rest = record.left;
            record.left = 0;
            if record.status == CodeStatus::Usable {
                record.status = CodeStatus::Voided;
            }
            self.codes.push(CodeRecord {
                code: new_code.into(),
                num: rest,
                left: rest,
                status: if rest > 0 { CodeStatus::Usable } else { CodeStatus::UsedUp },
                qr_image: None,
            });
            code_left_num = rest;
        }
        self.consumes.push(ConsumeRecord {
            serial: serial.as_str().into(),
            code: req.code.into(),
            num,
            op_ms: now_ms,
            op_seq: at.seq,
            posid: req.posid.map(Into::into),
            reversed_ms: None,
            reverse_seq: None,
            reverse_posid: None,
        });
        self.settle_consumed_state();
        self.modified_ms = now_ms;
        Ok(Consumed { serial, code_left_num })
    }

    /// §5.5 in its order: state (B7), serial, count, then `verify_codes` (41). T8.
    pub fn reverse(
        &mut self,
        code: &str,
        num: i64,
        serial: &str,
        codes: Option<&VerifyCodes>,
        posid: Option<&str>,
        at: OpTime,
    ) -> Result<(), TransitionError> {
        let now_ms = at.ms;
        if !self.state.is_one_of(&[OrderState::PartlyConsumed, OrderState::Consumed]) {
            return Err(refuse(self.state, "eticket.reverse", "PARTLY_CONSUMED or CONSUMED"));
        }
        let index = self
            .consumes
            .iter()
            .position(|c| &*c.serial == serial && &*c.code == code && c.reversed_ms.is_none())
            .ok_or(Self::sub(SubCode::InvalidConsumeSerialNum))?;
        let consumed = self.consumes[index].num;
        if i64::from(consumed) != num {
            return Err(Self::sub(SubCode::ConsumeNumInvalid));
        }
        if let Some(codes) = codes {
            let fresh = codes.entries().iter().all(|(c, _)| !self.codes.iter().any(|r| &*r.code == c.as_str()));
            if codes.total() != u64::from(consumed) || !fresh {
                return Err(TransitionError::Invalid("verify_codes"));
            }
            for (c, n) in codes.entries() {
                self.codes.push(CodeRecord {
                    code: c.as_str().into(),
                    num: *n,
                    left: *n,
                    status: CodeStatus::Usable,
                    qr_image: None,
                });
            }
        } else if let Some(record) = self.codes.iter_mut().find(|r| &*r.code == code) {
            // Units return to the code, usable again even if it was since voided (T8).
            record.left += consumed;
            record.status = CodeStatus::Usable;
        }
        let op = &mut self.consumes[index];
        op.reversed_ms = Some(now_ms);
        op.reverse_seq = Some(at.seq);
        op.reverse_posid = posid.map(Into::into);
        self.settle_consumed_state();
        self.modified_ms = now_ms;
        Ok(())
    }

    /// ISSUED / PARTLY_CONSUMED / CONSUMED from the counts (T6–T8).
    fn settle_consumed_state(&mut self) {
        let outstanding = self.consumes.iter().any(|c| c.reversed_ms.is_none());
        self.state = if self.left_num() == 0 {
            OrderState::Consumed
        } else if outstanding {
            OrderState::PartlyConsumed
        } else {
            OrderState::Issued
        };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use protocol::{OrderId, Token};

    use super::*;
    use crate::model::order::NewOrder;

    fn at(ms: i64) -> OpTime {
        OpTime { ms, seq: ms as u64 }
    }

    /// An order (id 1, app key `k`) issued with `codes`.
    pub(crate) fn issued(codes: &str) -> Order {
        let total = VerifyCodes::parse(codes).unwrap().total() as u32;
        let mut o = Order::pay(
            OrderId::new(1).unwrap(),
            Token::from_bytes([1; 16]),
            Arc::from("k"),
            NewOrder {
                seller: None,
                num: total,
                mobile: "13800001234".into(),
                buyer_nick: "b".into(),
                item_title: "t".into(),
                num_iid: 1,
                outer_iid: None,
                sub_outer_iid: None,
                sku_properties: None,
                weeks: None,
                sms_template: None,
                send_type: 2,
                consume_type: 0,
                price: "1.00".into(),
                total_fee: "1.00".into(),
                valid_start: 0,
                valid_ends: i64::MAX / 2,
                eticket: true,
            },
            0,
        );
        o.issue(&VerifyCodes::parse(codes).unwrap(), &[], 0).unwrap();
        o
    }

    fn req(code: &'static str, num: i64, serial: Option<&'static str>) -> ConsumeRequest<'static> {
        ConsumeRequest { code, num, serial, mobile: None, new_code: None, posid: None }
    }

    #[test]
    fn consumes_move_through_partly_consumed_to_consumed_and_reverse_goes_back() {
        let mut o = issued("A:2,B:1");
        let c = o.consume(&req("A", 2, Some("s1")), "m".into(), at(10)).unwrap();
        assert_eq!((c.serial.as_str(), c.code_left_num, o.state), ("s1", 0, OrderState::PartlyConsumed));
        o.consume(&req("B", 1, None), "m2".into(), at(11)).unwrap();
        assert_eq!(o.state, OrderState::Consumed);
        assert_eq!(o.reverse("A", 1, "s1", None, None, at(12)), Err(TransitionError::Sub(SubCode::ConsumeNumInvalid)));
        o.reverse("A", 2, "s1", None, None, at(12)).unwrap();
        assert_eq!((o.state, o.left_num()), (OrderState::PartlyConsumed, 2));
        assert_eq!(
            o.reverse("A", 2, "s1", None, None, at(13)),
            Err(TransitionError::Sub(SubCode::InvalidConsumeSerialNum))
        );
    }

    #[test]
    fn consume_checks_come_in_the_documented_order() {
        let mut o = issued("A:2");
        let check = |o: &mut Order, r: ConsumeRequest<'static>, sub: SubCode| {
            assert_eq!(o.consume(&r, "m".into(), at(5)), Err(TransitionError::Sub(sub)));
        };
        check(&mut o, req("Z", 0, Some("bad serial")), SubCode::ConsumeNumInvalid);
        check(&mut o, req("Z", 1, Some("bad serial")), SubCode::InvalidConsumeSerialNum);
        check(&mut o, req("Z", 1, None), SubCode::CodeNotAvailable);
        check(&mut o, req("A", 3, None), SubCode::ConsumeNumOverflow);
        o.consume(&req("A", 1, Some("s")), "m".into(), at(5)).unwrap();
        check(&mut o, req("A", 1, Some("s")), SubCode::DuplicateConsumeSerialNum);
    }

    #[test]
    fn new_code_takes_over_the_rest_and_weeks_limit_the_days() {
        let mut o = issued("A:3");
        let mut r = req("A", 1, None);
        r.new_code = Some("N1");
        assert_eq!(o.consume(&r, "m".into(), at(5)).unwrap().code_left_num, 2);
        assert_eq!(o.codes[0].status, CodeStatus::Voided);
        assert_eq!(o.left_num(), 2);
        o.weeks = Some("[1]".into());
        // 1970-01-01 was a Thursday.
        assert!(!o.in_valid_time(5));
    }
}
