//! Opens containers recursively — zip, tar, gzip, bzip2, xz, and mail (MIME messages, mbox) — detecting each part's type by its bytes, under
//! the five CSAPI extraction limits, and hands every part to a caller's sink.
//!
//! This is the decomposer half of a content-scanning engine: the scanner crate implements [`PartSink`] with
//! its signature matcher, a daemon or an MTA calls the scanner. The decomposer knows nothing of signatures.
//!
//! # Overview
//! - [`Limits`]: `max_extract_depth`, `max_extract_size`, `max_cumulative_extract_size`, `max_extract_time`,
//!   `max_file_count`, validated when built.
//! - [`Decomposer`]: built once (limits, memory policy), then [`Decomposer::decompose_bytes`],
//!   [`Decomposer::decompose_file`] or [`Decomposer::decompose_reader`] per input.
//! - [`Part`]: what the sink receives for the input and for every extracted child: its path chain, depth,
//!   detected [`FileType`] and bytes. Containers are parts too, handed on before their children.
//! - [`Report`]: every [`DecResult`] code that occurred (with the part it concerns), files and bytes
//!   extracted, elapsed time.
//!
//! # Example
//! ```
//! use std::io::Write;
//! use decomposer::{Decomposer, DecResult, FileType, Limits};
//!
//! // A gzip-compressed tar holding one file.
//! let mut tar = tar::Builder::new(Vec::new());
//! let mut header = tar::Header::new_gnu();
//! header.set_size(5);
//! header.set_cksum();
//! tar.append_data(&mut header, "hello.txt", &b"hello"[..]).unwrap();
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(&tar.into_inner().unwrap()).unwrap();
//! let input = gz.finish().unwrap();
//!
//! let decomposer = Decomposer::new(Limits::default());
//! let mut seen = Vec::new();
//! let report = decomposer.decompose_bytes("a.tar.gz", &input, &mut |part: &decomposer::Part<'_>| {
//!     seen.push((part.path().to_string(), part.file_type(), part.bytes().map(<[u8]>::to_vec)));
//!     true // keep going
//! });
//! assert_eq!(seen[0].0, "a.tar.gz");
//! assert_eq!(seen[1].0, "a.tar.gz/a.tar");
//! assert_eq!(seen[1].1, FileType::Tar);
//! assert_eq!(seen[2], ("a.tar.gz/a.tar/hello.txt".to_string(), FileType::Text, Some(b"hello".to_vec())));
//! assert!(report.codes.is_empty());
//!
//! // The same input with a depth limit of 1: the tar at depth 1 is matched but not opened.
//! let shallow = Decomposer::new(Limits::builder().max_extract_depth(1).build().unwrap());
//! let report = shallow.decompose_bytes("a.tar.gz", &input, &mut |_: &decomposer::Part<'_>| true);
//! assert_eq!(report.codes, [DecResult::MaximumDepthReached]);
//! assert_eq!(report.parts, 2);
//! ```
//!
//! # Limits and memory
//! All limits are enforced in one place, the walk's Budget: every extracted byte and file passes through
//! it, and the deadline is checked at every child and at least every 64 KiB of streamed output (a
//! whole-buffer inflate, below, runs to its end between two checks). When a limit fires, what was already
//! extracted is still handed to the sink (a child cut at `max_extract_size` is handed on as its prefix).
//!
//! Children larger than the spill threshold (8 MiB by default) go to an unnamed temporary file unless
//! `prefer_mem` is set, so one walk holds at most about `threshold x max_extract_depth` bytes of children in
//! RAM; with `prefer_mem`, at most `max_cumulative_extract_size`. A size an archive declares is only ever
//! used as the size of a buffer when it is within that same bound: a deflate stream whose output size is
//! declared (a zip entry, a single gzip member) and fits is inflated in one call by libdeflate, about 1.6
//! times as fast as streaming. Members of a tar and stored zip entries of a container held in RAM are
//! handed on as ranges of it, not copied. Zip needs random access, so a zip child is read through a
//! seekable reader (RAM or the temporary file); tar, gzip, bzip2 and xz stream; mail is read twice per level
//! (delimiters, then each part through its decoder) and never held whole.
//!
//! # What this does not do
//! - Trust names or extensions: types come from bytes; names are data in the path chain, never file paths.
//! - Write anything but unnamed temporary files, or modify its input.
//! - Fail on bad input: damaged containers become codes in the [`Report`] and the walk goes on with what can
//!   still be read. `Err` is only for the caller's environment (an input file that cannot be read).
//! - Panic, on any input (the fuzz targets hold it to that). `unsafe` is denied in this crate but for one
//!   module, `inflate`, the libdeflate call that measured 1.6 times faster than streaming.
//! - Decrypt: encrypted entries are reported, not opened.

#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod budget;
pub mod codes;
mod content;
mod detect;
mod formats;
mod inflate;
mod limits;
mod part;
mod walk;

pub use codes::{AvsResult, DecResult, GenResult, LicResult, ResultCode, UnknownCode};
pub use content::{ContentReader, FileReader, Spool};
pub use detect::FileType;
pub use limits::{
    DEFAULT_CUMULATIVE_EXTRACT_SIZE, Limits, LimitsBuilder, LimitsError, MAX_CUMULATIVE_EXTRACT_SIZE,
    MAX_EXTRACT_SIZE_OVERRIDE, MAX_EXTRACT_TIME_SECONDS,
};
pub use part::{Part, PartPath, PartSink};
pub use walk::{DEFAULT_SPILL_THRESHOLD, Decomposer, DecomposerBuilder, Problem, Report};

/// The decomposer's version (this crate's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error of the caller's environment. Problems in the input bytes are never errors: they are
/// [`DecResult`] codes in the [`Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The input's path or name.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
