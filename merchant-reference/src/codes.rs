//! Making codes: how many an order gets, with which counts, and the random strings themselves.
//!
//! A code is money: whoever shows it at the gate gets in. So codes come from a cryptographically
//! secure generator (`rand::rng()` in rand 0.9 is ChaCha12 seeded from the OS, a CSPRNG), never from a
//! counter, a timestamp or the order id, which a buyer could use to guess the codes of other buyers.
//! Twelve decimal digits (~40 bits) keep the SMS short and the code easy to type at a POS; guessing one
//! of a million live codes still takes ~10^6 tries, each one a gateway call we would notice.
//! Uniqueness is not left to chance either: the `codes.code` column is UNIQUE and a collision simply
//! draws again (see `orders::insert_codes`).

use rand::Rng;

/// Digits in a generated code.
pub const CODE_DIGITS: usize = 12;

/// How `consume_type` (PROTOCOL §3.2) is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeType {
    /// `0`: no limit; `2`: many uses per code (一码多刷). One code carries all units, so a family of
    /// four shows one SMS at the gate and redeems 4 at once.
    Shared,
    /// `1`: one use per code (一码一刷). One code per unit, each with count 1 (the platform rejects
    /// anything else with 41, PROTOCOL §2.3).
    PerUnit,
}

impl ConsumeType {
    /// Reads the notification's `consume_type`; absent or unknown values mean no limit (`0`, the default).
    pub fn from_param(value: Option<&str>) -> Self {
        if value == Some("1") { ConsumeType::PerUnit } else { ConsumeType::Shared }
    }

    pub fn as_number(self) -> i64 {
        match self {
            ConsumeType::Shared => 0,
            ConsumeType::PerUnit => 1,
        }
    }
}

/// The counts of the codes to issue for `num` units; they always add up to `num`.
pub fn plan(num: u32, consume_type: ConsumeType) -> Vec<u32> {
    match consume_type {
        ConsumeType::Shared => vec![num],
        ConsumeType::PerUnit => vec![1; num as usize],
    }
}

/// A fresh random code: [`CODE_DIGITS`] decimal digits.
pub fn new_code(rng: &mut impl Rng) -> String {
    (0..CODE_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A fresh consume serial for `serial_num` (PROTOCOL §5.3: at most 100 of `[a-zA-Z0-9_]`, unique per
/// order). Random rather than sequential so two POS terminals, or a restarted merchant, never reuse one.
pub fn new_serial(rng: &mut impl Rng) -> String {
    let tail: String = (0..28).map(|_| char::from(rng.sample(rand::distr::Alphanumeric))).collect();
    format!("pos_{tail}")
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn plans_add_up_to_num_and_follow_consume_type() {
        assert_eq!(plan(3, ConsumeType::PerUnit), vec![1, 1, 1]);
        assert_eq!(plan(3, ConsumeType::Shared), vec![3]);
        assert_eq!(ConsumeType::from_param(Some("1")), ConsumeType::PerUnit);
        assert_eq!(ConsumeType::from_param(Some("2")), ConsumeType::Shared);
        assert_eq!(ConsumeType::from_param(None), ConsumeType::Shared);
    }

    #[test]
    fn codes_and_serials_are_valid_on_the_wire() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let code = new_code(&mut rng);
            assert_eq!(code.len(), CODE_DIGITS);
            assert!(protocol::Code::parse(&code).is_ok(), "{code}");
            let serial = new_serial(&mut rng);
            assert!(serial.len() <= 100 && serial.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{serial}");
        }
    }
}
