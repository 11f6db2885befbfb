//! The xz reader: any bytes opened as an xz stream (multi-stream, padding, the decoder memory limit).
//! Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Xz, data));
