//! The clamd protocol parser of the daemon (`scanner::daemon::protocol`): requests parsed from a client's
//! bytes, whole and trickled, with INSTREAM chunks walked against a quota. Checks: `fuzz/src/lib.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::clamd(data));
