//! The tar parser: any bytes opened as a tar archive (damaged headers, pax and GNU metadata, sizes past the end).
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Tar, data));
