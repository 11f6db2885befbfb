//! Where the bytes of one node live while it is matched and opened: the caller's slice, a buffer in RAM, or
//! an unnamed temporary file.
//!
//! Children are extracted into a [`Spool`], which keeps them in RAM up to a threshold and moves them to an
//! unnamed temporary file (`tempfile::tempfile`, deleted by the OS when closed) past it. With `prefer_mem`
//! the threshold is `max_extract_size`, so children stay in RAM; without it (the default) the threshold is
//! [`crate::DEFAULT_SPILL_THRESHOLD`], so the RAM held by one walk is at most about
//! `threshold x max_extract_depth` plus fixed buffers, whatever sizes an archive declares.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// Something formats can read and seek in. Implemented for every `Read + Seek`.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// The bytes of one node.
#[derive(Debug)]
pub(crate) enum Content<'a> {
    /// The caller's own bytes (the input of `decompose_bytes`), never copied.
    Borrowed(&'a [u8]),
    /// A child held in RAM.
    Memory(Vec<u8>),
    /// A child spilled to an unnamed temporary file of `len` bytes.
    File { file: File, len: u64 },
}

impl Content<'_> {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Content::Borrowed(bytes) => bytes.len() as u64,
            Content::Memory(bytes) => bytes.len() as u64,
            Content::File { len, .. } => *len,
        }
    }

    /// The first `len` bytes (all of them if there are fewer). Only for contents in RAM; a file is kept whole.
    pub(crate) fn truncated(self, len: usize) -> Self {
        match self {
            Content::Borrowed(bytes) => Content::Borrowed(&bytes[..len.min(bytes.len())]),
            Content::Memory(mut bytes) => {
                bytes.truncate(len);
                Content::Memory(bytes)
            }
            file @ Content::File { .. } => file,
        }
    }

    /// The bytes, when they are in RAM.
    pub(crate) fn as_slice(&self) -> Option<&[u8]> {
        match self {
            Content::Borrowed(bytes) => Some(bytes),
            Content::Memory(bytes) => Some(bytes),
            Content::File { .. } => None,
        }
    }

    /// A reader positioned at the first byte. Each reader has its own position (files are read with
    /// positional reads), so several readers of one content never disturb each other.
    pub(crate) fn reader(&self) -> io::Result<ContentReader<'_>> {
        Ok(match self {
            Content::Borrowed(bytes) => ContentReader::Memory(Cursor::new(bytes)),
            Content::Memory(bytes) => ContentReader::Memory(Cursor::new(bytes)),
            Content::File { file, len } => ContentReader::File(FileReader { file, position: 0, len: *len }),
        })
    }

    /// Up to `max` bytes from `offset`, for type detection.
    pub(crate) fn read_at(&self, offset: u64, max: usize) -> io::Result<Vec<u8>> {
        let len = self.len();
        let start = offset.min(len);
        let end = start.saturating_add(max as u64).min(len);
        if let Some(bytes) = self.as_slice() {
            // start <= end <= len, all within the slice.
            return Ok(bytes.get(start as usize..end as usize).unwrap_or_default().to_vec());
        }
        let mut reader = self.reader()?;
        reader.seek(SeekFrom::Start(start))?;
        let mut out = Vec::with_capacity((end - start) as usize);
        reader.take(end - start).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// A reader over a part's bytes, wherever they are held. `Read + Seek`.
#[derive(Debug)]
pub enum ContentReader<'a> {
    /// Bytes in RAM.
    Memory(Cursor<&'a [u8]>),
    /// A file (the input file, or a temporary file holding a spilled child).
    File(FileReader<'a>),
}

/// Positional reads over the first `len` bytes of a file, with a position of its own.
#[derive(Debug)]
pub struct FileReader<'a> {
    file: &'a File,
    position: u64,
    len: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.position);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for FileReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.position = target;
        Ok(target)
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ContentReader::Memory(cursor) => cursor.read(buf),
            ContentReader::File(file) => file.read(buf),
        }
    }
}

impl Seek for ContentReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            ContentReader::Memory(cursor) => cursor.seek(pos),
            ContentReader::File(file) => file.seek(pos),
        }
    }
}

/// Collects the bytes of one input or child: RAM up to a threshold, then an unnamed temporary file. Get one
/// from [`crate::Decomposer::spool`] (its threshold is the decomposer's memory policy), fill it with
/// [`Spool::write`], and walk it with [`crate::Decomposer::decompose_spool`]: a daemon receiving a stream
/// collects it this way without holding a scanning thread while the client sends.
#[derive(Debug)]
pub struct Spool {
    threshold: u64,
    memory: Vec<u8>,
    file: Option<File>,
    len: u64,
}

impl Spool {
    /// An empty spool that keeps up to `threshold` bytes in RAM.
    pub fn new(threshold: u64) -> Self {
        Spool { threshold, memory: Vec::new(), file: None, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether writing `bytes` more goes to the temporary file (it exists, or the threshold would be passed).
    pub fn writes_to_file(&self, bytes: u64) -> bool {
        self.file.is_some() || self.len + bytes > self.threshold
    }

    /// Appends `chunk`; an error means the temporary file could not be created or written.
    ///
    /// # Errors
    /// When the temporary file cannot be created or written.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.len + chunk.len() as u64 > self.threshold {
            let mut file = tempfile::tempfile()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(chunk)?,
            None => self.memory.extend_from_slice(chunk),
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    pub(crate) fn finish(self) -> Content<'static> {
        match self.file {
            Some(file) => Content::File { file, len: self.len },
            None => Content::Memory(self.memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_moves_to_a_file_past_the_threshold_and_keeps_every_byte() {
        let mut spool = Spool::new(10);
        spool.write(b"0123456").unwrap();
        spool.write(b"789abcdef").unwrap();
        let content = spool.finish();
        assert!(matches!(content, Content::File { len: 16, .. }));
        let mut all = Vec::new();
        content.reader().unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(all, b"0123456789abcdef");
        assert_eq!(content.read_at(14, 10).unwrap(), b"ef");
    }

    #[test]
    fn readers_of_a_spilled_file_keep_their_own_positions() {
        let mut spool = Spool::new(0);
        spool.write(b"abcdefgh").unwrap();
        let content = spool.finish();
        let mut first = content.reader().unwrap();
        let mut second = content.reader().unwrap();
        let mut a = [0; 3];
        let mut b = [0; 5];
        first.read_exact(&mut a).unwrap();
        second.read_exact(&mut b).unwrap();
        first.read_exact(&mut a).unwrap();
        assert_eq!((&a, &b), (b"def", b"abcde"));
        assert_eq!(second.seek(SeekFrom::End(-1)).unwrap(), 7);
        let mut rest = Vec::new();
        second.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"h");
    }

    #[test]
    fn spool_stays_in_memory_under_the_threshold() {
        let mut spool = Spool::new(10);
        spool.write(b"0123456789").unwrap();
        let content = spool.finish();
        assert_eq!(content.as_slice(), Some(&b"0123456789"[..]));
    }
}
