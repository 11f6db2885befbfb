//! ClamAV's text normalization: the second view of a text part that target-7 ("ASCII") signatures are
//! matched against, and target-0 signatures too.
//!
//! ClamAV scans a text file twice: as it is, with the signatures of any target, and normalized, with those of
//! any target and those written for normalized text (target type 7, which are written in lower case with single
//! spaces). Normalization, byte by byte: ASCII letters are lower-cased; every run of white space (tab, line
//! feed, vertical tab, form feed, carriage return, space) becomes one space; every other control byte and every
//! byte above 0x7f is dropped; the rest is kept. The only state is whether the last byte written was a space
//! of a run, so the transform streams: [`NormalizingReader`] normalizes a spilled part as it is read.

use std::io::{self, Read};

/// What happens to one input byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Keep,
    Drop,
    Space,
    Lower,
}

const fn action(byte: u8) -> Action {
    match byte {
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => Action::Space,
        b'A'..=b'Z' => Action::Lower,
        0x21..=0x7f => Action::Keep,
        _ => Action::Drop,
    }
}

const ACTIONS: [Action; 256] = {
    let mut table = [Action::Drop; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = action(byte as u8);
        byte += 1;
    }
    table
};

/// The streaming normalizer: feed it the part's bytes in order.
#[derive(Debug, Default, Clone)]
pub struct TextNormalizer {
    in_space_run: bool,
}

impl TextNormalizer {
    /// Appends the normalized form of `input` to `out`.
    pub fn normalize(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &byte in input {
            match ACTIONS[usize::from(byte)] {
                Action::Drop => {}
                Action::Space => {
                    if !self.in_space_run {
                        out.push(b' ');
                    }
                    self.in_space_run = true;
                }
                Action::Lower => {
                    self.in_space_run = false;
                    out.push(byte + 32);
                }
                Action::Keep => {
                    self.in_space_run = false;
                    out.push(byte);
                }
            }
        }
    }

    /// How many bytes the normalized form of `input` has (continuing from the state so far).
    pub fn normalized_len(&mut self, input: &[u8]) -> u64 {
        let mut len = 0u64;
        for &byte in input {
            match ACTIONS[usize::from(byte)] {
                Action::Drop => {}
                Action::Space => {
                    len += u64::from(!self.in_space_run);
                    self.in_space_run = true;
                }
                Action::Lower | Action::Keep => {
                    self.in_space_run = false;
                    len += 1;
                }
            }
        }
        len
    }
}

/// A reader of the normalized form of what `inner` yields.
pub struct NormalizingReader<R> {
    inner: R,
    normalizer: TextNormalizer,
    raw: Vec<u8>,
    pending: Vec<u8>,
    pending_from: usize,
}

impl<R: Read> NormalizingReader<R> {
    /// Normalizes `inner`, reading it 64 KiB at a time.
    pub fn new(inner: R) -> Self {
        NormalizingReader {
            inner,
            normalizer: TextNormalizer::default(),
            raw: vec![0; 64 * 1024],
            pending: Vec::new(),
            pending_from: 0,
        }
    }
}

impl<R: Read> Read for NormalizingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending_from >= self.pending.len() {
            let n = match self.inner.read(&mut self.raw) {
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if n == 0 {
                return Ok(0);
            }
            self.pending.clear();
            self.pending_from = 0;
            let Some(raw) = self.raw.get(..n) else { return Ok(0) };
            self.normalizer.normalize(raw, &mut self.pending);
        }
        let available = self.pending.get(self.pending_from..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pending_from += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        TextNormalizer::default().normalize(input, &mut out);
        out
    }

    #[test]
    fn lowercases_collapses_white_space_and_drops_the_rest() {
        assert_eq!(normalized(b"Hello,\r\n\t  WORLD!\x01\x7f\xe9x"), b"hello, world!\x7fx");
        assert_eq!(normalized(b"  a  "), b" a ");
        assert_eq!(normalized(b"a\x00 \x00 b"), b"a b", "a dropped byte does not end a space run");
        assert_eq!(normalized(b""), b"");
    }

    #[test]
    fn the_length_pass_and_the_reader_agree_with_the_buffer_form() {
        let input: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let whole = normalized(&input);
        assert_eq!(TextNormalizer::default().normalized_len(&input), whole.len() as u64);
        let mut streamed = Vec::new();
        NormalizingReader::new(&input[..]).read_to_end(&mut streamed).unwrap();
        assert_eq!(streamed, whole);
        // The state carries across calls.
        let mut normalizer = TextNormalizer::default();
        let mut split = Vec::new();
        normalizer.normalize(b"a  ", &mut split);
        normalizer.normalize(b"  B", &mut split);
        assert_eq!(split, b"a b");
    }
}
