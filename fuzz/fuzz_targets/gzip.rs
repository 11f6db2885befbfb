//! The gzip reader: any bytes opened as a gzip stream (member headers, multi-member, trailing bytes).
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Gzip, data));
