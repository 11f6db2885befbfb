//! The signature-database parsers and the matcher: every line of the input is parsed as each ClamAV kind, the
//! body patterns that load are compiled, and the input itself is searched whole and in small windows, which
//! must find the same matches. Checks: `fuzz/src/lib.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::signature(data));
