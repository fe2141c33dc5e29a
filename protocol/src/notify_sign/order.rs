//! Which received params enter the notification sign, and in which order (PROTOCOL §3.3 steps 1–3): every
//! param but `sign` whose value is non-empty, names in byte order, equal names in the order received.
//!
//! Names come from a fixed vocabulary (§3.2), so [`KnownNames`] gives each known name its rank and the pairs
//! are visited by rank: no sort. Any other name (an extra param a merchant must still sign, FAQ 2.14; a known
//! name received a second time) is sorted among the few like it and merged in at its place among the known
//! names. More than [`MAX_ON_STACK`] params take a plain sort on the heap.

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
    // Where each known name's pair is and which ranks came; the indexes of the other pairs.
    let mut index_of_rank = [0u8; MAX_ON_STACK];
    let mut ranks = 0u32;
    let mut others: ArrayVec<u8, MAX_ON_STACK> = ArrayVec::new();
    let mut params = params.into_iter();
    for (name, value) in params.by_ref() {
        let found = known.find(name.as_bytes());
        if found == Found::Sign || value.is_empty() {
            continue;
        }
        let index = pairs.len() as u8;
        if let Err(full) = pairs.try_push((name, value)) {
            // More than fit: a plain sort, on the heap.
            let mut all: Vec<(&str, &str)> = pairs.into_iter().chain([full.element()]).collect();
            all.extend(params.filter(|&(name, value)| name != "sign" && !value.is_empty()));
            all.sort_by(|a, b| a.0.cmp(b.0));
            all.iter().for_each(|&(name, value)| visit.visit(name, value));
            return;
        }
        match found {
            Found::Known(rank) if ranks & (1 << rank) == 0 => {
                ranks |= 1 << rank;
                index_of_rank[usize::from(rank)] = index;
            }
            // A known name again comes after the first one, as an other: `place_of` puts it after its equal.
            _ => others.push(index),
        }
    }
    if others.is_empty() {
        // Every name a known one, once: the usual notification.
        while ranks != 0 {
            let rank = ranks.trailing_zeros() as u8;
            ranks &= ranks - 1;
            let (name, value) = pairs[usize::from(index_of_rank[usize::from(rank)])];
            visit.visit_known(known.name(rank), name, value);
        }
        return;
    }
    merge_others(known, &pairs, &index_of_rank, ranks, &mut others, visit);
}

/// [`for_each_signed_pair`] when some names are not known ones (or came twice): those are sorted among
/// themselves and each is visited at its place among the known names. Out of line, so the usual loop stays small.
#[inline(never)]
fn merge_others<'a>(
    known: &KnownNames,
    pairs: &[(&'a str, &'a str)],
    index_of_rank: &[u8; MAX_ON_STACK],
    mut ranks: u32,
    others: &mut [u8],
    visit: &mut impl VisitPair<'a>,
) {
    // The others by name, stable (received order among equals), each with its place among the known names.
    others.sort_by(|&a, &b| pairs[usize::from(a)].0.cmp(pairs[usize::from(b)].0));
    let mut others = others.iter().map(|&index| {
        let (name, value) = pairs[usize::from(index)];
        (known.place_of(name.as_bytes()), name, value)
    });
    let mut next_other = others.next();
    while ranks != 0 {
        let rank = ranks.trailing_zeros() as u8;
        ranks &= ranks - 1;
        while let Some((place, name, value)) = next_other
            && place <= rank
        {
            visit.visit(name, value);
            next_other = others.next();
        }
        let (name, value) = pairs[usize::from(index_of_rank[usize::from(rank)])];
        visit.visit_known(known.name(rank), name, value);
    }
    while let Some((_, name, value)) = next_other {
        visit.visit(name, value);
        next_other = others.next();
    }
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

        /// Known names in any order, some missing, some twice, some with empty values, with up to four other
        /// names (some sharing a known name's first bytes) anywhere among them.
        #[test]
        fn known_and_other_names_are_visited_in_byte_order(
            picks in proptest::collection::vec((0..KNOWN_PARAMS.len(), "[0-9]{0,2}"), 0..40),
            others in proptest::collection::vec(("(valid_|num|sub_|x|[a-z_]{1,20})", 0..40usize), 0..4),
        ) {
            let mut pairs: Vec<(&str, &str)> = picks.iter().map(|(i, v)| (KNOWN_PARAMS[*i], v.as_str())).collect();
            for (name, at) in &others {
                pairs.insert((*at).min(pairs.len()), (name.as_str(), "x"));
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
