//! The hasher of the maps built while definitions load (names, prefilter anchors): FxHash's
//! rotate-xor-multiply over 8-byte words, as rustc's own maps use.
//!
//! SipHash, the standard map's default, took 6 % of loading a set of 3.65 M signatures. Its resistance to
//! chosen collisions buys nothing here: the keys come from the definitions, never from scanned input.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash over 8-byte little-endian words (the tail zero-padded).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

/// The `BuildHasher` of maps keyed by definition text.
pub(crate) type FastBuildHasher = BuildHasherDefault<FastHasher>;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    /// The hash of one byte string (what `write` then `finish` give).
    #[inline]
    pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
        let mut hasher = FastHasher::default();
        hasher.write(bytes);
        hasher.finish()
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buffer = [0u8; 8];
            buffer.copy_from_slice(word);
            self.add(u64::from_le_bytes(buffer));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buffer = [0u8; 8];
            buffer[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buffer));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    /// The state rotated so that its best-mixed bits, the top ones, come out low: hash tables index by the low
    /// bits, and a product's low bits depend only on its inputs' low bits (names differing in their last digits
    /// would share buckets). rustc-hash 2 finishes the same way.
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_hash_equal_and_the_tail_counts() {
        assert_eq!(FastHasher::hash_bytes(b"Win.Trojan.Agent-1"), FastHasher::hash_bytes(b"Win.Trojan.Agent-1"));
        assert_ne!(FastHasher::hash_bytes(b"Win.Trojan.Agent-1"), FastHasher::hash_bytes(b"Win.Trojan.Agent-2"));
        assert_ne!(FastHasher::hash_bytes(b"abcdefgh1"), FastHasher::hash_bytes(b"abcdefgh2"));
    }
}
