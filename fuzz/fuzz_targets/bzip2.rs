//! The bzip2 reader: any bytes opened as a bzip2 stream (multi-stream, corrupt blocks).
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Bzip2, data));
