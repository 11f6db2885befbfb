//! What the walk hands to the caller: a [`Part`] for every node, through the caller's [`PartSink`].

use std::fmt;
use std::io;

use crate::content::{Content, ContentReader};
use crate::detect::FileType;

/// One node of the decomposition tree: the input itself, a container, or a leaf.
///
/// A part borrows the walk's buffers; it is valid only during [`PartSink::part`].
#[derive(Debug)]
pub struct Part<'a> {
    pub(crate) path: &'a [String],
    pub(crate) depth: u32,
    pub(crate) file_type: FileType,
    pub(crate) content: &'a Content<'a>,
    pub(crate) truncated: bool,
}

impl<'a> Part<'a> {
    /// The chain of names from the input down to this part (`outer.zip`, `inner.tar.gz`, `inner.tar`,
    /// `dir/evil.exe`). Names come from the containers (lossily decoded as UTF-8) or are generated (`#1`) where a
    /// container has none. They are data: never use them as file-system paths.
    pub fn path(&self) -> PartPath<'a> {
        PartPath(self.path)
    }

    /// The last name of the chain.
    pub fn name(&self) -> &'a str {
        self.path.last().map_or("", String::as_str)
    }

    /// 0 for the input, 1 for its children, and so on.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The type detected from the part's bytes.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// The number of bytes of this part (after any limit cut it).
    pub fn size(&self) -> u64 {
        self.content.len()
    }

    /// The bytes, when the part is held in RAM (always, unless it was spilled to a temporary file).
    pub fn bytes(&self) -> Option<&'a [u8]> {
        self.content.as_slice()
    }

    /// A reader over the part's bytes from the first one, wherever they are held.
    ///
    /// # Errors
    /// When the temporary file that holds a spilled part cannot be reopened.
    pub fn reader(&self) -> io::Result<ContentReader<'a>> {
        self.content.reader()
    }

    /// Whether a limit (size, cumulative size, time) or a decoding fault cut this part short.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// The path chain of a part; `Display` joins the names with `/`.
#[derive(Debug, Clone, Copy)]
pub struct PartPath<'a>(&'a [String]);

impl<'a> PartPath<'a> {
    /// The names, outermost first.
    pub fn names(&self) -> &'a [String] {
        self.0
    }
}

impl fmt::Display for PartPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// Receives every part of a walk, containers included, in depth-first order (a container before its
/// children). Return `false` to stop the walk (for example after the first detection).
pub trait PartSink {
    /// Called once per part.
    fn part(&mut self, part: &Part<'_>) -> bool;
}

impl<F: FnMut(&Part<'_>) -> bool> PartSink for F {
    fn part(&mut self, part: &Part<'_>) -> bool {
        self(part)
    }
}
