//! The mail parser: any bytes opened as a message or MIME entity (header blocks, multipart levels,
//! base64 and quoted-printable decoding, names, mbox splitting). Limits and invariants: `fuzz/src/lib.rs`.

#![no_main]

use decomposer::FileType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decomposer_fuzz::open_as(FileType::Mail, data));
