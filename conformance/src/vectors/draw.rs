//! The random draws behind `conformance vectors`: one ChaCha8 stream per vector, reduced to numbers by code that
//! lives here, so the output depends on nothing but the ChaCha8 algorithm and this file.
//!
//! Why not `rand`'s distributions or `StdRng`: their algorithms may change between versions (and `StdRng`'s has),
//! which would change every vector a merchant pinned in its tests. ChaCha8 is a fixed function of its key, stream
//! and position, the same on every platform.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The draws for one vector.
#[derive(Debug)]
pub struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    /// The stream of vector `index` of a run seeded with `seed`: the key is the seed's 8 little-endian bytes followed
    /// by zeros, the ChaCha stream number is the index. Each vector depends only on (seed, index), so a shorter run
    /// is a prefix of a longer one, and one line can be regenerated alone.
    pub fn for_vector(seed: u64, index: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(index);
        Self { rng }
    }

    /// A number in `0..n` (`n` ≥ 1), by multiply-and-shift: the bias is below 2⁻³², immaterial for test data, and
    /// every draw takes exactly one word of the stream.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "a draw needs at least one choice");
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True once in `n` draws on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index into a collection of `len` (≥ 1) elements.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// `len` characters drawn from `alphabet` (ASCII).
    pub fn string_of(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    /// `len` decimal digits, the first not zero (an id, a phone number).
    pub fn number(&mut self, len: usize) -> String {
        let mut out = self.string_of(b"123456789", 1);
        out.push_str(&self.string_of(b"0123456789", len - 1));
        out
    }

    /// `len` lower-case hex digits (a notify key, a token).
    pub fn hex(&mut self, len: usize) -> String {
        self.string_of(b"0123456789abcdef", len)
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_draws_and_others_do_not() {
        let draws = |seed, index| {
            let mut draw = Draw::for_vector(seed, index);
            (0..16).map(|_| draw.below(1_000_000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(1, 7), draws(1, 7));
        assert_ne!(draws(1, 7), draws(1, 8));
        assert_ne!(draws(1, 7), draws(2, 7));
    }

    #[test]
    fn the_stream_is_chacha8_with_the_documented_key_and_stream() {
        // Pinned: if this changes, every published vector changes (a new schema version, not a silent change). The
        // value is the first block of ChaCha with 8 rounds (RFC 7539's function, 64-bit counter 0, 64-bit nonce =
        // the stream 0, key = 1u64 little-endian and zeros), words 0 and 1, as an independent Python version gives.
        let mut draw = Draw::for_vector(1, 0);
        assert_eq!(draw.rng.next_u64(), PINNED_FIRST_WORD);
    }

    const PINNED_FIRST_WORD: u64 = 7_037_237_572_835_827_407;

    #[test]
    fn draws_stay_in_range() {
        let mut draw = Draw::for_vector(3, 3);
        for _ in 0..1000 {
            assert!(draw.below(7) < 7);
            assert!((5..=9).contains(&draw.between(5, 9)));
        }
        let number = draw.number(11);
        assert!(number.len() == 11 && !number.starts_with('0'));
    }
}
