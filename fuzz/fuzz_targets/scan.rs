//! The whole scan: the embedded database over any input, under the fuzz limits, stopping at the first
//! detection and with all matches. Checks: `fuzz/src/lib.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::scan(data));
