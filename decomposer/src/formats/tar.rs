//! tar archives: v7, ustar, GNU (long names, sparse members) and pax (POSIX.1-2001) headers.
//!
//! Streams, with a seek back only to re-read a damaged stretch. The header fields are read with the `tar`
//! crate's [`tar::Header`], but the iteration is our own, because `tar::Archive` trusts what an adversary
//! controls: it advances by each header's size whatever the entry type and stops at the first bad checksum.
//! Here:
//! - a block whose checksum is wrong is `DEC_RESULT_MALFORMED_CONTAINER_DETECTED`; the walk goes on block by
//!   block until the next valid header, and the stretch in between (zero blocks included) is handed on as a
//!   child named `#offset-N`, so a member whose header was damaged is still extracted and opened;
//! - a member whose type should carry no data (link, device, fifo, directory) but declares a size has that
//!   data handed on as a child too (a header hidden there is found, since the child is itself detected as
//!   tar), and the mismatch is reported as malformed;
//! - a member that runs past the end of the archive is handed on truncated, reported as malformed;
//! - pax `path` and `size` records override the header, as GNU tar does; GNU long names (`L`) name the next
//!   member. Both are read through a small fixed cap ([`MAX_METADATA`]), never by their declared size;
//! - GNU multi-volume continuations (`M`) are `DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS`; their data is still
//!   handed on. GNU sparse members are handed on as stored (holes are not expanded: they hold no content).

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use tar::{EntryType, Header};

use super::{Children, read_full};
use crate::codes::DecResult;
use crate::content::{Content, ReadSeek};
use crate::detect::is_tar_header;

/// The most bytes of a pax header or GNU long name that are read; the rest is skipped and reported.
const MAX_METADATA: u64 = 1024 * 1024;
const BLOCK: u64 = 512;

/// Metadata that applies to the next member.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    size: Option<u64>,
}

pub(crate) fn decompose(source: &mut dyn ReadSeek, slice: Option<&[u8]>, len: u64, children: &mut dyn Children) {
    let mut reader = BufReader::with_capacity(64 * 1024, source);
    let mut tar = TarWalk { offset: 0, len, slice, damaged_from: None, pending: Pending::default() };
    if tar.run(&mut reader, children).is_err() {
        children.problem(DecResult::ContainerAccessFailed);
    }
}

struct TarWalk<'a> {
    /// Offset of the next block to read; `reader` is always positioned there between members.
    offset: u64,
    len: u64,
    /// The archive's bytes when they are in RAM: members are then handed on as ranges of it, not copied.
    slice: Option<&'a [u8]>,
    /// Start of a stretch of blocks that are neither headers nor zero blocks.
    damaged_from: Option<u64>,
    pending: Pending,
}

impl TarWalk<'_> {
    fn run(&mut self, reader: &mut BufReader<&mut dyn ReadSeek>, children: &mut dyn Children) -> io::Result<()> {
        let mut block = [0u8; BLOCK as usize];
        loop {
            // The stop is checked once the next block is read: a member after it is left unvisited, while
            // the end-of-archive zero blocks are not.
            let n = read_full(reader, &mut block)?;
            if n == 0 {
                break;
            }
            if n < block.len() {
                // A partial block at the end: never a whole header.
                children.problem(DecResult::MalformedContainerDetected);
                self.damaged_from.get_or_insert(self.offset);
                self.offset += n as u64;
                break;
            }
            let header_at = self.offset;
            self.offset += BLOCK;
            if block.iter().all(|&b| b == 0) {
                // Zero blocks end the archive, or sit inside a damaged member's data: a damaged stretch
                // goes on through them, so that a member is not cut in pieces at its runs of zeros.
                if children.stopped() {
                    return Ok(());
                }
                continue;
            }
            if !is_tar_header(&block) {
                if children.stopped() {
                    return Ok(());
                }
                if self.damaged_from.is_none() {
                    children.problem(DecResult::MalformedContainerDetected);
                    // A damaged header is skipped; anything else starts the stretch.
                    let looks_like_header = &block[257..262] == b"ustar";
                    self.damaged_from = Some(if looks_like_header { self.offset } else { header_at });
                }
                continue;
            }
            if children.stopped() {
                // Another member follows: the stop leaves it unvisited.
                children.left_unvisited();
                return Ok(());
            }
            self.flush_damaged(reader, header_at, children)?;
            if children.stopped() {
                // The damaged stretch held the detection; this member is left unvisited.
                children.left_unvisited();
                return Ok(());
            }
            self.member(reader, Header::from_byte_slice(&block), children)?;
        }
        let end = self.offset;
        self.flush_damaged(reader, end, children)
    }

    /// Hands on the damaged stretch that ends at `end`, if there is one, then puts the reader back.
    fn flush_damaged(
        &mut self,
        reader: &mut BufReader<&mut dyn ReadSeek>,
        end: u64,
        children: &mut dyn Children,
    ) -> io::Result<()> {
        let Some(start) = self.damaged_from.take() else {
            return Ok(());
        };
        if start >= end {
            return Ok(());
        }
        let name = format!("#offset-{start}");
        match self.member_bytes(start, end) {
            Some(stretch) => {
                children.child_in_memory(&name, Content::Borrowed(stretch));
            }
            None => {
                reader.seek(SeekFrom::Start(start))?;
                children.child(&name, &mut reader.by_ref().take(end - start));
                reader.seek(SeekFrom::Start(self.offset))?;
            }
        }
        Ok(())
    }

    /// Bytes `start..end` of the archive, when it is in RAM.
    fn member_bytes(&self, start: u64, end: u64) -> Option<&'_ [u8]> {
        super::in_memory(self.slice?, start, end)
    }

    fn member(
        &mut self,
        reader: &mut BufReader<&mut dyn ReadSeek>,
        header: &Header,
        children: &mut dyn Children,
    ) -> io::Result<()> {
        let data_start = self.offset;
        let declared = match self.pending.size.take() {
            Some(size) => Some(size),
            None => header.entry_size().ok(),
        };
        let declared = declared.unwrap_or_else(|| {
            children.problem(DecResult::MalformedContainerDetected);
            0
        });
        let available = self.len.saturating_sub(data_start);
        let size = if declared > available {
            children.problem(DecResult::MalformedContainerDetected);
            available
        } else {
            declared
        };
        let padded = size.div_ceil(BLOCK).saturating_mul(BLOCK).min(available);
        let entry_type = header.entry_type();
        let mut consumed = 0u64;
        match entry_type {
            EntryType::GNULongName => {
                let mut name = Vec::new();
                consumed = reader.by_ref().take(size.min(MAX_METADATA)).read_to_end(&mut name)? as u64;
                if size > MAX_METADATA {
                    children.problem(DecResult::MalformedContainerDetected);
                }
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                name.truncate(end);
                self.pending.path = Some(name);
            }
            EntryType::XHeader => {
                let mut records = Vec::new();
                consumed = reader.by_ref().take(size.min(MAX_METADATA)).read_to_end(&mut records)? as u64;
                if size > MAX_METADATA {
                    children.problem(DecResult::MalformedContainerDetected);
                }
                self.apply_pax(&records, children);
            }
            EntryType::GNULongLink | EntryType::XGlobalHeader => {}
            _ => {
                let name = self.pending.path.take().unwrap_or_else(|| header.path_bytes().into_owned());
                self.pending = Pending::default();
                let carries_data = !matches!(
                    entry_type,
                    EntryType::Link
                        | EntryType::Symlink
                        | EntryType::Char
                        | EntryType::Block
                        | EntryType::Directory
                        | EntryType::Fifo
                );
                if size > 0 && !carries_data {
                    children.problem(DecResult::MalformedContainerDetected);
                }
                if entry_type == EntryType::new(b'M') {
                    children.problem(DecResult::FileSplitAcrossContainers);
                }
                if size > 0 || carries_data {
                    let name = String::from_utf8_lossy(&name);
                    match self.member_bytes(data_start, data_start + size) {
                        Some(member) => {
                            children.child_in_memory(&name, Content::Borrowed(member));
                        }
                        None => {
                            let mut counted = Counted { inner: reader.by_ref().take(size), count: 0 };
                            children.child(&name, &mut counted);
                            consumed = counted.count;
                        }
                    }
                }
            }
        }
        // Skip what the child did not read, and the padding, without losing the reader's buffer.
        self.offset = data_start + padded;
        reader.seek_relative(i64::try_from(padded - consumed.min(padded)).unwrap_or(i64::MAX))?;
        Ok(())
    }

    fn apply_pax(&mut self, records: &[u8], children: &mut dyn Children) {
        for record in tar::PaxExtensions::new(records) {
            let Ok(record) = record else {
                children.problem(DecResult::MalformedContainerDetected);
                return;
            };
            match record.key_bytes() {
                b"path" => self.pending.path = Some(record.value_bytes().to_vec()),
                b"size" => match std::str::from_utf8(record.value_bytes()).ok().and_then(|v| v.parse().ok()) {
                    Some(size) => self.pending.size = Some(size),
                    None => children.problem(DecResult::MalformedContainerDetected),
                },
                _ => {}
            }
        }
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
