//! Whole-buffer inflate with libdeflate: the fast path for deflate streams whose output size is declared
//! (a zip entry's uncompressed size, a gzip member's ISIZE) and small enough to hold at once.
//!
//! libdeflate inflates a buffer into a buffer about 1.6 times as fast as zlib-rs streams (measured here on
//! a 100 MB tar.gz: 806 MB/s against 493 MB/s), but it cannot resume, so it is used only when the whole
//! compressed input is in memory and the declared output fits the walk's whole-buffer limit; anything
//! unexpected (more output than declared, bad data) falls back to the streaming decoder, which then reports
//! the fault with the prefix it could decode. A declared size is only an upper bound for the buffer: the
//! buffer is zero-filled with `vec![0; n]` (pages untouched until written), and the limit bounds it.
//!
//! This is the crate's one module with `unsafe`: the `libdeflater` crate does not expose
//! `libdeflate_deflate_decompress_ex`, whose `actual_in_nbytes` is needed to find where a gzip member ends
//! (without it, a second member would go unseen).

#![allow(unsafe_code)]

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_deflate_decompress_ex,
    libdeflate_free_decompressor, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// What a successful whole-buffer inflate consumed and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inflated {
    /// Bytes of the input that made up the deflate stream (to the byte after its final block).
    pub(crate) input: usize,
    /// Bytes written to the output buffer.
    pub(crate) output: usize,
}

/// Owns one libdeflate decompressor (about 10 KB, no other state).
struct Decompressor(NonNull<libdeflate_decompressor>);

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `libdeflate_alloc_decompressor`, is non-null, and is freed once,
        // here, when its only owner goes away.
        unsafe { libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// Inflates the raw deflate stream at the start of `input` into `output`. `None` when the data is bad, the
/// output does not fit, or the decompressor cannot be allocated: the caller then streams instead.
pub(crate) fn inflate(input: &[u8], output: &mut [u8]) -> Option<Inflated> {
    // SAFETY: allocation has no preconditions; a null result is handled.
    let decompressor = Decompressor(NonNull::new(unsafe { libdeflate_alloc_decompressor() })?);
    let mut input_used = 0usize;
    let mut output_used = 0usize;
    // SAFETY: `input` is valid for reads of `input.len()` bytes and `output` for writes of `output.len()`
    // bytes for the whole call (both borrowed, not aliased); libdeflate reads and writes only within those
    // lengths and writes the two counts through the valid `&mut usize` pointers.
    let result = unsafe {
        libdeflate_deflate_decompress_ex(
            decompressor.0.as_ptr(),
            input.as_ptr().cast(),
            input.len(),
            output.as_mut_ptr().cast(),
            output.len(),
            &mut input_used,
            &mut output_used,
        )
    };
    (result == libdeflate_result_LIBDEFLATE_SUCCESS && input_used <= input.len() && output_used <= output.len())
        .then_some(Inflated { input: input_used, output: output_used })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflates_and_says_where_the_stream_ends() {
        let data = b"hello hello hello hello, whole-buffer inflate".repeat(100);
        let mut compressed = corpus_deflate(&data);
        let stream_len = compressed.len();
        compressed.extend_from_slice(b"trailing bytes after the stream");
        let mut out = vec![0; data.len()];
        let inflated = inflate(&compressed, &mut out).unwrap();
        assert_eq!(inflated, Inflated { input: stream_len, output: data.len() });
        assert_eq!(out, data);
        // Too small an output buffer, and bad data, are refused rather than cut.
        assert_eq!(inflate(&compressed, &mut vec![0; data.len() - 1]), None);
        assert_eq!(inflate(&[0xff; 64], &mut [0; 100]), None);
    }

    fn corpus_deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, data).unwrap();
        encoder.finish().unwrap()
    }
}
