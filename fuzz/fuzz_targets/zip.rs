//! The zip parser: any bytes opened as a zip archive (both directories, hidden and overlapping entries, every method).
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Zip, data));
