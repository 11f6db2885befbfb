//! The signature scanner over the [`decomposer`]: ClamAV-compatible signature databases, a multi-pattern
//! matcher, and CSAPI verdicts.
//!
//! An [`Engine`] holds a compiled [`Database`] (in an `Arc`: compile once, scan many) and a
//! [`decomposer::Decomposer`]. A scan walks the input (every container is opened, within the CSAPI limits) and
//! matches every part, the input and the containers included, against
//! - hash signatures (`.hdb`, `.hsb`): a part is hashed only when its size occurs in the database;
//! - body signatures (`.ndb`): one prefilter over the anchors of all signatures, each hit verified;
//! - logical signatures (`.ldb`): evaluated only for the signatures one of whose subsignatures matched.
//!
//! The result is a [`Verdict`]: status (CLEAN, INFECTED, UNSCANNABLE, ERROR), info string, engine name and
//! engine scan code, as Momentum's msys.av.scan returns them, plus every code, every detection with its part
//! path chain, and counters.
//!
//! ```
//! use std::sync::Arc;
//! use scanner::{Database, Engine, Status};
//!
//! let engine = Engine::builder().build(Arc::new(Database::embedded()?))?;
//! let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
//! let verdict = engine.scan_bytes("eicar.com", eicar);
//! assert_eq!(verdict.status, Status::Infected);
//! assert_eq!(verdict.info.as_deref(), Some("Eicar-Test-Signature"));
//! assert_eq!(engine.scan_bytes("hello.txt", b"hello").status, Status::Clean);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it will not do (yet): match PE section hashes (`.mdb`), entry-point or section offsets, bytecode,
//! PCRE subsignatures, or the target types whose file types the decomposer does not detect. Such signatures
//! load and are listed by `avscan db check`, never dropped silently.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod daemon;
pub mod database;
mod engine;
mod fasthash;
pub mod hashes;
pub mod literals;
pub mod live_update;
pub mod matcher;
pub mod names;
mod parallel;
pub mod signature;
pub mod textnorm;
pub mod verdict;
pub mod wire;

pub use database::{Database, DatabaseInfo, LoadError};
pub use decomposer;
pub use engine::{DEFAULT_ENGINE_NAME, Engine, EngineBuilder, EngineError, MAX_ENGINE_NAME_LEN};
pub use verdict::{Detection, ScanStats, Status, Verdict};

/// The engine's version (this crate's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
