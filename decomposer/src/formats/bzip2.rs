//! bzip2 streams (one or more concatenated), decoded by the `bzip2` crate's pure-Rust backend.
//!
//! Streams: the single child is decoded as it is read, nothing is buffered here. Its name is the parent's
//! without `.bz2`/`.tbz2`/`.tbz`. A corrupt or truncated stream is `DEC_RESULT_FILE_EXTRACT_FAILED` (from
//! the walk), with everything decoded before the fault kept.

use std::io::BufReader;

use super::{Children, stream_child_name};
use crate::content::ReadSeek;

pub(crate) fn decompose(source: &mut dyn ReadSeek, parent_name: &str, children: &mut dyn Children) {
    let name = stream_child_name(parent_name, &[(".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", ""), (".bz", "")]);
    let mut decoder = bzip2::bufread::MultiBzDecoder::new(BufReader::new(source));
    children.child(&name, &mut decoder);
}
