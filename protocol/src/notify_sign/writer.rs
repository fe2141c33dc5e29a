//! `GBK(key + name1 + value1 + …)` written into a stack buffer and handed on in pieces: the one walk behind both
//! the bytes shown ([`super::notify_sign_bytes`]) and the bytes hashed ([`super::notify_sign`]).
//!
//! Why a stack buffer: MD5 fed directly costs a call and a copy per name and value, and a heap buffer costs an
//! allocation per sign. A typical notification (about 600 bytes) reaches the sink in one piece.

use super::known_names::{KnownName, MAX_LEN};
use super::order::{VisitPair, for_each_signed_pair};
use crate::Secret;
use crate::gbk::{SLACK, encode_gbk_to_slice};

/// Feeds `GBK(key + canonical)` to `sink` in pieces.
pub(super) fn write_sign_bytes<'a>(
    key: &Secret,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    sink: impl FnMut(&[u8]),
) {
    let mut writer = SignWriter { buffer: SignBuffer { bytes: [0u8; CAPACITY + SLACK], len: 0 }, sink };
    writer.buffer.push(key.expose(), &mut writer.sink);
    for_each_signed_pair(params, &mut writer);
    let SignWriter { buffer, mut sink } = writer;
    sink(&buffer.bytes[..buffer.len]);
}

/// Each name and value into the buffer.
struct SignWriter<S> {
    buffer: SignBuffer,
    sink: S,
}

impl<'a, S: FnMut(&[u8])> VisitPair<'a> for SignWriter<S> {
    #[inline(always)]
    fn visit(&mut self, name: &'a str, value: &'a str) {
        self.buffer.push(name, &mut self.sink);
        self.buffer.push(value, &mut self.sink);
    }

    #[inline(always)]
    fn visit_known(&mut self, known: &KnownName, name: &'a str, value: &'a str) {
        self.buffer.push_known(known, name, &mut self.sink);
        self.buffer.push(value, &mut self.sink);
    }
}

/// How many GBK bytes [`SignBuffer`] holds before handing them on: room for a typical notification in one piece.
const CAPACITY: usize = 640;

/// GBK bytes waiting to be handed to the sink, with [`SLACK`] spare bytes for the encoder's word stores.
struct SignBuffer {
    bytes: [u8; CAPACITY + SLACK],
    len: usize,
}

impl SignBuffer {
    /// Appends the GBK bytes of `text`, handing the buffer to `sink` first if they might not fit.
    ///
    /// Inlined: it runs for the key and every name and value, and the call would cost more than most of them.
    #[inline(always)]
    fn push(&mut self, text: &str, sink: &mut impl FnMut(&[u8])) {
        if self.len + text.len() <= CAPACITY {
            self.len += encode_gbk_to_slice(text, &mut self.bytes[self.len..]);
        } else {
            self.push_overflowing(text, sink);
        }
    }

    /// Appends a known name (ASCII, at most [`MAX_LEN`] bytes): one fixed-size copy of its padded bytes, then the
    /// length counts only its own. No branch on the length and no loop, which `push` needs for any text.
    #[inline(always)]
    fn push_known(&mut self, known: &KnownName, name: &str, sink: &mut impl FnMut(&[u8])) {
        if self.len + MAX_LEN <= CAPACITY {
            self.bytes[self.len..self.len + MAX_LEN].copy_from_slice(&known.padded);
            self.len += usize::from(known.len);
        } else {
            self.push_overflowing(name, sink);
        }
    }

    /// [`SignBuffer::push`] when the buffer is too full for `text`, or `text` longer than the whole buffer.
    #[cold]
    #[inline(never)]
    fn push_overflowing(&mut self, text: &str, sink: &mut impl FnMut(&[u8])) {
        sink(&self.bytes[..self.len]);
        self.len = 0;
        let mut text = text;
        while text.len() > CAPACITY {
            // Encode it a buffer-full at a time, cut at a character boundary.
            let mut cut = CAPACITY;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let written = encode_gbk_to_slice(&text[..cut], &mut self.bytes);
            sink(&self.bytes[..written]);
            text = &text[cut..];
        }
        self.len = encode_gbk_to_slice(text, &mut self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbk::encode_gbk;

    fn written(key: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pieces = 0;
        write_sign_bytes(&Secret::new(key), pairs.iter().copied(), |piece| {
            out.extend_from_slice(piece);
            pieces += 1;
        });
        assert!(pieces >= 1);
        out
    }

    #[test]
    fn text_longer_than_the_buffer_is_handed_on_in_pieces_that_join_up() {
        // Values around and past the capacity, cut inside multi-byte characters.
        for len in [CAPACITY - 20, CAPACITY, CAPACITY + 1, 3 * CAPACITY + 7] {
            let long: String = "银a".chars().cycle().take(len).collect();
            let pairs = [("sms_template", long.as_str()), ("method", "send"), ("zz_extra", long.as_str())];
            let mut expected = b"k".to_vec();
            for (name, value) in [("method", "send"), ("sms_template", long.as_str()), ("zz_extra", long.as_str())] {
                expected.extend_from_slice(name.as_bytes());
                expected.extend_from_slice(&encode_gbk(value));
            }
            assert_eq!(written("k", &pairs), expected, "value of {len} characters");
        }
    }

    #[test]
    fn known_names_near_the_end_of_the_buffer_are_written_whole() {
        // A value that leaves fewer than 16 bytes free, then a known name.
        for fill in CAPACITY - 24..CAPACITY {
            let value = "x".repeat(fill);
            let pairs = [("consume_type", value.as_str()), ("valid_start", "1")];
            let mut expected = b"consume_type".to_vec();
            expected.extend_from_slice(value.as_bytes());
            expected.extend_from_slice(b"valid_start1");
            assert_eq!(written("", &pairs), expected, "after {fill} bytes");
        }
    }
}
