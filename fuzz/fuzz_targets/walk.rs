//! The whole walk: `decompose_bytes` with the type detected from the bytes, recursing through every format.
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::walk(data));
