//! Which received params enter the notification sign, and in which order (PROTOCOL §3.3 steps 1–3): every
//! param but `sign` whose value is non-empty, names in byte order, equal names in the order received.
//!
//! Two paths give the same order. The fast one: every name is a known §3.2 name, each at most once, so its
//! rank comes from [`KnownNames`] and the pairs are visited by rank. The general one, for anything else (extra
//! params a merchant must still sign, FAQ 2.14; a name received twice): a sort on the names.

use arrayvec::ArrayVec;

use super::known_names::{Found, KnownName, KnownNames};

/// Most params a notification is expected to carry: up to this many are kept and sorted on the stack.
pub(super) const MAX_ON_STACK: usize = 32;

/// What [`for_each_signed_pair`] hands each pair to.
///
/// A trait rather than a closure so that the sign writer's methods can be forced inline into the loop: as a
/// closure call it kept the buffer's length in memory (`benches/sign.rs`).
pub(super) trait VisitPair<'a> {
    fn visit(&mut self, name: &'a str, value: &'a str);

    /// A pair whose name is a known one: `known` holds the same bytes as `name`, padded for a fixed-size copy.
    #[inline(always)]
    fn visit_known(&mut self, known: &KnownName, name: &'a str, value: &'a str) {
        let _ = known;
        self.visit(name, value);
    }
}

impl<'a, F: FnMut(&'a str, &'a str)> VisitPair<'a> for F {
    fn visit(&mut self, name: &'a str, value: &'a str) {
        self(name, value)
    }
}

/// Hands `visit` each param that enters the sign, in signing order, allocating nothing for up to
/// [`MAX_ON_STACK`] of them: the notification sign runs on every notification the mock sends and checks.
///
/// Why an `ArrayVec`: a plain array of pairs would be initialised (32 × 4 words) on every call, which cost as much
/// as sorting them; a `SmallVec`'s length lived in memory across the loop, its growth path being a call.
#[inline(always)]
pub(super) fn for_each_signed_pair<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    visit: &mut impl VisitPair<'a>,
) {
    let known = KnownNames::get();
    let mut pairs: ArrayVec<(&'a str, &'a str), MAX_ON_STACK> = ArrayVec::new();
    // For the fast path: where each known name's pair is, which ranks came, and whether every name was a known
    // one, once.
    let mut index_of_rank = [0u8; MAX_ON_STACK];
    let mut ranks = 0u32;
    let mut all_known_once = true;
    let mut params = params.into_iter();
    for (name, value) in params.by_ref() {
        let found = known.find(name.as_bytes());
        if found == Found::Sign || value.is_empty() {
            continue;
        }
        if let Found::Known(rank) = found {
            let bit = 1u32 << rank;
            all_known_once &= ranks & bit == 0;
            ranks |= bit;
            index_of_rank[usize::from(rank)] = pairs.len() as u8;
        } else {
            all_known_once = false;
        }
        if let Err(full) = pairs.try_push((name, value)) {
            // More than fit: the general path, on the heap.
            let mut all: Vec<(&str, &str)> = pairs.into_iter().chain([full.element()]).collect();
            all.extend(params.filter(|&(name, value)| name != "sign" && !value.is_empty()));
            all.sort_by(|a, b| a.0.cmp(b.0));
            all.iter().for_each(|&(name, value)| visit.visit(name, value));
            return;
        }
    }
    if all_known_once {
        while ranks != 0 {
            let rank = ranks.trailing_zeros() as u8;
            ranks &= ranks - 1;
            let (name, value) = pairs[usize::from(index_of_rank[usize::from(rank)])];
            visit.visit_known(known.name(rank), name, value);
        }
        return;
    }
    let order = order_by_name(&pairs);
    for &index in &order[..pairs.len()] {
        let (name, value) = pairs[usize::from(index)];
        visit.visit(name, value);
    }
}

/// The indexes of `pairs` (at most [`MAX_ON_STACK`]) by name in byte order, which is the ordinal order the
/// platform uses (StringComparer.Ordinal, TreeMap); equal names keep their order.
///
/// Why not `sort_by(|a, b| a.0.cmp(b.0))` on the pairs: that costs a `memcmp` call per comparison. Instead each
/// name becomes one `u64`, its first 59 bits followed by its index, and the integers are sorted (a branch-free
/// network for this many). They are in name order except among names sharing their first 59 bits (seven bytes
/// and a bit), which one branch-free pass finds and the full comparison then orders, run by run.
fn order_by_name(pairs: &[(&str, &str)]) -> [u8; MAX_ON_STACK] {
    let mut keys = [u64::MAX; MAX_ON_STACK];
    for (index, (key, (name, _))) in keys.iter_mut().zip(pairs).enumerate() {
        *key = (name_prefix(name.as_bytes()) & !INDEX_MASK) | index as u64;
    }
    keys[..pairs.len()].sort_unstable();
    let mut order: [u8; MAX_ON_STACK] = std::array::from_fn(|place| (keys[place] & INDEX_MASK) as u8);
    // Bit i: places i - 1 and i hold names with the same prefix. Unused places hold equal keys; the mask drops them.
    let mut shared = 0u64;
    for i in 1..MAX_ON_STACK {
        shared |= u64::from((keys[i - 1] ^ keys[i]) <= INDEX_MASK) << i;
    }
    shared &= (1u64 << pairs.len()) - 1;
    while shared != 0 {
        // One run of places whose names share a prefix: order it by the whole name. Stable, so equal names keep
        // the order of their indexes.
        let first = shared.trailing_zeros() as usize - 1;
        let len = (!(shared >> (first + 1))).trailing_zeros() as usize + 1;
        order[first..first + len].sort_by(|&a, &b| pairs[usize::from(a)].0.cmp(pairs[usize::from(b)].0));
        shared &= !(((1u64 << (len - 1)) - 1) << (first + 1));
    }
    order
}

/// The low bits of a sort key that hold the pair's index (below [`MAX_ON_STACK`]); the rest are the name's first
/// 59 bits.
const INDEX_MASK: u64 = MAX_ON_STACK as u64 - 1;

/// The first eight bytes of `name`, zero-padded, big-endian: comparing prefixes compares names.
///
/// Two overlapping four-byte loads combined in registers, without a branch on the length for names of four
/// bytes or more: a byte loop's exit, or a branch between eight-byte and shorter names, is mispredicted for about
/// every other name.
fn name_prefix(name: &[u8]) -> u64 {
    let n = name.len();
    if n >= 4 {
        // Bytes 4..8, or for a shorter name its last four bytes (overlapping the first four), put in their place.
        let second = n.min(8) - 4;
        (u64::from(u32::from_be_bytes(word(name, 0))) << 32)
            | (u64::from(u32::from_be_bytes(word(name, second))) << (8 * (4 - second)))
    } else if n >= 2 {
        (u64::from(u16::from_be_bytes(word(name, 0))) << 48)
            | (u64::from(u16::from_be_bytes(word(name, n - 2))) << (64 - 8 * n))
    } else if n == 1 {
        u64::from(name[0]) << 56
    } else {
        0
    }
}

/// The `N` bytes of `bytes` at `at`, as an array (to read as an integer).
fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut word = [0u8; N];
    word.copy_from_slice(&bytes[at..at + N]);
    word
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::KNOWN_PARAMS;

    /// The order the rule gives, by the plainest code: a stable sort by bytes.
    fn expected_order<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut expected: Vec<(&str, &str)> =
            pairs.iter().copied().filter(|(n, v)| *n != "sign" && !v.is_empty()).collect();
        expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        expected
    }

    fn visited<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut out = Vec::new();
        for_each_signed_pair(pairs.iter().copied(), &mut |name, value| out.push((name, value)));
        out
    }

    proptest::proptest! {
        #[test]
        fn any_names_are_visited_in_byte_order(
            names in proptest::collection::vec("(sign|[ab\\x00]{0,10}|[a-z_\\x7F-\\u{A0}]{0,12})", 0..80),
        ) {
            let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            proptest::prop_assert_eq!(visited(&pairs), expected_order(&pairs));
        }

        /// The fast path's ground: known names in any order, some missing, some twice, some with empty values,
        /// with or without an extra name.
        #[test]
        fn known_names_are_visited_in_byte_order(
            picks in proptest::collection::vec((0..KNOWN_PARAMS.len(), "[0-9]{0,2}"), 0..40),
            extra in proptest::option::of("[a-z_]{1,20}"),
        ) {
            let mut pairs: Vec<(&str, &str)> = picks.iter().map(|(i, v)| (KNOWN_PARAMS[*i], v.as_str())).collect();
            if let Some(extra) = &extra {
                pairs.insert(pairs.len() / 2, (extra.as_str(), "x"));
            }
            proptest::prop_assert_eq!(visited(&pairs), expected_order(&pairs));
        }
    }

    #[test]
    fn names_sharing_their_first_bytes_sort_by_the_whole_name() {
        let names =
            ["sub_outer_iid", "sub_out", "sub_outer_aa", "sub_ou", "sub_oute", "a", "sub_out\0", "sub\x1F", "s"];
        let pairs = names.map(|n| (n, "v"));
        let expected =
            ["a", "s", "sub\x1F", "sub_ou", "sub_out", "sub_out\0", "sub_oute", "sub_outer_aa", "sub_outer_iid"];
        assert_eq!(visited(&pairs).into_iter().map(|(n, _)| n).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_known_name_received_twice_keeps_both_in_received_order() {
        let pairs = [("num", "2"), ("method", "send"), ("num", "1")];
        assert_eq!(visited(&pairs), [("method", "send"), ("num", "2"), ("num", "1")]);
    }
}
