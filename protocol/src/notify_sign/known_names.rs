//! The names a notification carries (§3.2, [`KNOWN_PARAMS`]) and their place in signing order, found by one
//! hashed lookup per received name.
//!
//! Why: the notification sign sorts the received names and writes each one out. Names come from a fixed
//! vocabulary, so both can be known ahead: a name found here brings its rank (its place among the known names
//! in byte order) and its bytes padded to 16, which are written with one fixed-size copy. Before this, sorting
//! and writing the names was a third of the sign's cost beyond MD5 (`benches/sign.rs`). Any other name, or a
//! name received twice, is ordered by comparison and merged in at its place ([`KnownNames::place_of`]), so the
//! order never depends on what this table holds.

use std::sync::OnceLock;

use crate::gbk::word;
use crate::notification::KNOWN_PARAMS;

/// Longest name the table holds; longer names are never found.
pub(super) const MAX_LEN: usize = 16;

/// What a lookup says about a received name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// `sign`: never part of the sign.
    Sign,
    /// A known name, with its rank among the known names in byte order.
    Known(u8),
    /// Any other name.
    Other,
}

/// A known name as the sign writes it.
#[derive(Debug)]
pub(super) struct KnownName {
    /// The name's bytes, zero-padded: copied whole, then the length is what counts.
    pub(super) padded: [u8; MAX_LEN],
    pub(super) len: u8,
}

/// One slot of the hash table; an empty slot has a length no name can have.
#[derive(Debug, Clone, Copy)]
struct Slot {
    fingerprint: Fingerprint,
    found: Found,
}

/// Every byte of a name of up to [`MAX_LEN`] bytes, with its length: equal fingerprints, equal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    head: u64,
    tail: u64,
    len: usize,
}

const SLOTS: usize = 64;

#[derive(Debug)]
pub(super) struct KnownNames {
    multiplier: u64,
    slots: [Slot; SLOTS],
    by_rank: Vec<KnownName>,
}

impl KnownNames {
    /// The table for [`KNOWN_PARAMS`], built once per process.
    pub(super) fn get() -> &'static KnownNames {
        static TABLE: OnceLock<KnownNames> = OnceLock::new();
        TABLE.get_or_init(|| KnownNames::build(&KNOWN_PARAMS))
    }

    /// Ranks `names` (but `sign`) by byte order and finds a multiplier under which no two of them share a slot.
    fn build(names: &[&str]) -> KnownNames {
        let mut ranked: Vec<&str> = names.iter().copied().filter(|name| *name != "sign").collect();
        ranked.sort_unstable();
        ranked.dedup();
        assert!(ranked.len() <= 32 && ranked.iter().all(|name| name.len() <= MAX_LEN), "names fit the table");
        let mut entries: Vec<(Fingerprint, Found)> = ranked
            .iter()
            .enumerate()
            .map(|(rank, name)| (fingerprint(name.as_bytes()), Found::Known(rank as u8)))
            .collect();
        if names.contains(&"sign") {
            entries.push((fingerprint(b"sign"), Found::Sign));
        }
        let mut mixed: Vec<u64> = entries.iter().map(|&(fingerprint, _)| mix(fingerprint)).collect();
        mixed.sort_unstable();
        mixed.dedup();
        assert_eq!(mixed.len(), entries.len(), "no multiplier can separate names whose mix is equal");
        let empty = Slot { fingerprint: Fingerprint { head: 0, tail: 0, len: usize::MAX }, found: Found::Other };
        // Odd multipliers from a fixed sequence (splitmix64), so every build finds the same one.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        loop {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let multiplier = splitmix(state) | 1;
            let mut slots = [empty; SLOTS];
            let fits = entries.iter().all(|&(fingerprint, found)| {
                let slot = &mut slots[slot_of(fingerprint, multiplier)];
                let free = slot.fingerprint.len == usize::MAX;
                *slot = Slot { fingerprint, found };
                free
            });
            if fits {
                let by_rank = ranked.iter().map(|name| known_name(name)).collect();
                return KnownNames { multiplier, slots, by_rank };
            }
        }
    }

    /// What `name` is: one hash, one slot, one comparison.
    #[inline(always)]
    pub(super) fn find(&self, name: &[u8]) -> Found {
        let fingerprint = fingerprint(name);
        let slot = &self.slots[slot_of(fingerprint, self.multiplier)];
        if slot.fingerprint == fingerprint { slot.found } else { Found::Other }
    }

    /// The known name of `rank`.
    #[inline(always)]
    pub(super) fn name(&self, rank: u8) -> &KnownName {
        &self.by_rank[usize::from(rank)]
    }

    /// How many known names sort before `name` or equal it: its place among them in signing order.
    pub(super) fn place_of(&self, name: &[u8]) -> u8 {
        self.by_rank.partition_point(|known| known.bytes() <= name) as u8
    }
}

impl KnownName {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.padded[..usize::from(self.len)]
    }
}

fn known_name(name: &str) -> KnownName {
    let mut padded = [0u8; MAX_LEN];
    padded[..name.len()].copy_from_slice(name.as_bytes());
    KnownName { padded, len: name.len() as u8 }
}

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline(always)]
fn slot_of(fingerprint: Fingerprint, multiplier: u64) -> usize {
    (mix(fingerprint).wrapping_mul(multiplier) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// The fingerprint in one word, for the multiplicative hash.
#[inline(always)]
fn mix(fingerprint: Fingerprint) -> u64 {
    fingerprint.head ^ fingerprint.tail.rotate_left(23) ^ fingerprint.len as u64
}

/// The bytes of `name` in four four-byte windows, at 0, 4, 8 and `len - 4`, each clamped to end inside the
/// name: for up to 16 bytes they cover every byte, and which bytes each holds depends on the length alone.
///
/// Why windows and not one zero-padded copy: a copy of a variable length is a loop or a call, and a branch on
/// the length is mispredicted about every other name; these loads only need `len >= 4`, and `min` is a
/// conditional move.
#[inline(always)]
fn fingerprint(name: &[u8]) -> Fingerprint {
    let len = name.len();
    let (head, tail) = if len >= 4 {
        let last = len - 4;
        let window = |at: usize| u64::from(u32::from_le_bytes(word(name, at)));
        (window(0) | (window(4.min(last)) << 32), window(8.min(last)) | (window(last) << 32))
    } else if len >= 2 {
        let pair = |at: usize| u64::from(u16::from_le_bytes(word(name, at)));
        (pair(0) | (pair(len - 2) << 16), 0)
    } else {
        (name.first().map_or(0, |&byte| u64::from(byte)), 0)
    };
    Fingerprint { head, tail, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_is_found_with_its_rank_in_byte_order() {
        let table = KnownNames::get();
        let mut names: Vec<&str> = KNOWN_PARAMS.iter().copied().filter(|n| *n != "sign").collect();
        names.sort_unstable();
        for (rank, name) in names.iter().enumerate() {
            assert_eq!(table.find(name.as_bytes()), Found::Known(rank as u8), "{name}");
            let known = table.name(rank as u8);
            assert_eq!(known.bytes(), name.as_bytes());
            assert_eq!(table.place_of(name.as_bytes()), rank as u8 + 1, "a name goes after its equal");
            assert!(known.padded[usize::from(known.len)..].iter().all(|&b| b == 0));
        }
        assert_eq!(table.find(b"sign"), Found::Sign);
    }

    #[test]
    fn names_that_only_look_like_known_ones_are_other() {
        let table = KnownNames::get();
        for name in ["", "n", "nu", "num_", "numm", "Num", "order_i", "order_idd", "sms_templatf", "sign ", "signs"] {
            assert_eq!(table.find(name.as_bytes()), Found::Other, "{name:?}");
        }
        assert_eq!(table.find(b"consume_type_and_more_than_16"), Found::Other);
        assert_eq!(table.place_of(b""), 0);
        assert_eq!(table.place_of(b"zzz"), (KNOWN_PARAMS.len() - 1) as u8);
    }

    proptest::proptest! {
        #[test]
        fn a_name_is_found_exactly_when_it_is_known(name in "(sign|num|order_id|valid_ends|[a-z_]{0,18})") {
            let mut ranked: Vec<&str> = KNOWN_PARAMS.iter().copied().filter(|n| *n != "sign").collect();
            ranked.sort_unstable();
            let expected = match ranked.iter().position(|known| *known == name) {
                _ if name == "sign" => Found::Sign,
                Some(rank) => Found::Known(rank as u8),
                None => Found::Other,
            };
            proptest::prop_assert_eq!(KnownNames::get().find(name.as_bytes()), expected);
        }

        #[test]
        fn fingerprints_of_different_names_differ(a in "[a-z_\\x00]{0,16}", b in "[a-z_\\x00]{0,16}") {
            proptest::prop_assert_eq!(fingerprint(a.as_bytes()) == fingerprint(b.as_bytes()), a == b);
        }
    }
}
