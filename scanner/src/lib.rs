//! The signature scanner over the [`decomposer`]: signature databases, the matcher and CSAPI verdicts.
//!
//! Not built yet (see the scanner issue): today this crate only carries the `avscan` binary, whose
//! `decompose` subcommand prints the decomposition tree of a file.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use decomposer;
