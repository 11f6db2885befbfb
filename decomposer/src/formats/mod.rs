//! Container formats. Each module lists its container's children and hands each one to the walk as a
//! reader; it never recurses, never detects types and never checks a limit (the walk and its Budget do).
//!
//! # Adding a format
//! 1. A module here with one entry point, `pub(crate) fn decompose(source, ..., children)`,
//!    whose doc says which specification it follows, whether it streams or needs random access, and which
//!    [`DecResult`] codes it reports through [`Children::problem`]. Problems in the input are codes, never
//!    `Err` and never a panic; keep going after a damaged piece whenever a later piece can still be read.
//! 2. A [`crate::FileType`] variant and its magic number in [`crate::detect`], and one arm in [`open`].
//! 3. A fuzz target `fuzz/fuzz_targets/<format>.rs` and rows in `corpus/manifest.toml`.

use std::io::Read;

use crate::codes::DecResult;
use crate::content::{Content, ReadSeek};
use crate::detect::FileType;

pub(crate) mod bzip2;
pub(crate) mod gzip;
pub(crate) mod mime;
pub(crate) mod tar;
pub(crate) mod xz;
pub(crate) mod zip;

/// How a format hands its children to the walk.
pub(crate) trait Children {
    /// Extracts one child from `data` through the Budget and walks it before returning.
    fn child(&mut self, name: &str, data: &mut dyn Read) -> Extracted;
    /// Hands on a child the format already holds in memory: `Content::Memory` for a buffer it decoded (a
    /// whole-buffer inflate), `Content::Borrowed` for a range of the container's own bytes when they are in
    /// RAM (a tar member, a stored zip entry), which is then not copied. The Budget counts it like any other.
    fn child_in_memory(&mut self, name: &str, content: Content<'_>) -> Extracted;
    /// The largest output a format may decode into one buffer for [`Children::child_in_memory`]: what the
    /// limits still allow for one child, and no more than the walk would hold in RAM.
    fn whole_buffer_limit(&self) -> u64;
    /// Reports a problem of the container being opened.
    fn problem(&mut self, code: DecResult);
    /// The depth of the children being listed: 1 when the container is the input itself.
    fn depth(&self) -> u32;
    /// Whether the walk has stopped (a walk-wide limit, or the sink): formats return as soon as it has.
    fn stopped(&self) -> bool;
    /// Called by a format that returns because the walk stopped while it had more entries to list; the
    /// report then says that the sink's stop left parts unvisited.
    fn left_unvisited(&mut self);
}

/// What happened to one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extracted {
    /// The child's reader was read to its end without error and no limit cut it.
    pub(crate) complete: bool,
}

/// Opens a container of type `file_type`. `slice` is the container's bytes when they are in RAM.
pub(crate) fn open(
    file_type: FileType,
    source: &mut dyn ReadSeek,
    slice: Option<&[u8]>,
    len: u64,
    parent_name: &str,
    children: &mut dyn Children,
) {
    match file_type {
        FileType::Zip => zip::decompose(source, slice, len, children),
        FileType::Tar => tar::decompose(source, slice, len, children),
        FileType::Gzip => gzip::decompose(source, slice, len, parent_name, children),
        FileType::Bzip2 => bzip2::decompose(source, parent_name, children),
        FileType::Xz => xz::decompose(source, parent_name, children),
        FileType::Mail => mime::decompose(source, slice, len, children),
        _ => {}
    }
}

/// The name of the single child of a compressed stream that carries no name: the parent's name without the
/// compression suffix (`a.tar.gz` -> `a.tar`, `a.tgz` -> `a.tar`), or `#1`.
pub(crate) fn stream_child_name(parent_name: &str, suffixes: &[(&str, &str)]) -> String {
    let lower = parent_name.to_ascii_lowercase();
    for (suffix, replacement) in suffixes {
        if lower.len() > suffix.len() && lower.ends_with(suffix) {
            // `suffix` is ASCII, so the cut is on a character boundary.
            let stem = &parent_name[..parent_name.len() - suffix.len()];
            return format!("{stem}{replacement}");
        }
    }
    "#1".to_owned()
}

/// Bytes `start..end` of a container held in RAM, if they are all there.
pub(crate) fn in_memory(bytes: &[u8], start: u64, end: u64) -> Option<&[u8]> {
    bytes.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}

/// The whole of a container's bytes for a whole-buffer decoder: `slice` when they are in RAM, else read from
/// `source` when there are at most `limit` of them.
pub(crate) fn whole_input<'a>(
    source: &mut dyn ReadSeek,
    slice: Option<&'a [u8]>,
    range: (u64, u64),
    limit: u64,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let (start, end) = range;
    if let Some(bytes) = slice {
        return in_memory(bytes, start, end).map(std::borrow::Cow::Borrowed);
    }
    let len = end.checked_sub(start)?;
    if len > limit {
        return None;
    }
    source.seek(std::io::SeekFrom::Start(start)).ok()?;
    let mut buffer = vec![0; usize::try_from(len).ok()?];
    source.read_exact(&mut buffer).ok()?;
    Some(std::borrow::Cow::Owned(buffer))
}

/// Reads as many bytes as `buf` holds, fewer only at the end of `reader`.
pub(crate) fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_child_names() {
        let gz = [(".tgz", ".tar"), (".gz", "")];
        assert_eq!(stream_child_name("a.tar.gz", &gz), "a.tar");
        assert_eq!(stream_child_name("A.TGZ", &gz), "A.tar");
        assert_eq!(stream_child_name(".gz", &gz), "#1");
        assert_eq!(stream_child_name("blob", &gz), "#1");
    }
}
