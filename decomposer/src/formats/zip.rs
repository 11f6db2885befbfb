//! ZIP archives (PKWARE APPNOTE 6.3): stored, deflate, deflate64, bzip2, LZMA, zstd and xz entries, zip64,
//! data in front of the archive (self-extractors), and archives whose two directories disagree.
//!
//! Needs random access, so the node is read through `Read + Seek` (RAM or the spilled temporary file). The
//! structure is parsed here rather than by the `zip` crate, because that crate trusts the central directory
//! and an adversary controls both views. Both are read:
//! 1. the central directory, found from the end record (zip64 too); offsets are shifted by the size of any
//!    data in front, as Info-ZIP does;
//! 2. each central entry's local header, compared with it: a missing local header, another method, name or
//!    sizes are `DEC_RESULT_MALFORMED_CONTAINER_DETECTED`; the larger of two disagreeing sizes is used, so that
//!    no byte one view claims is left out;
//! 3. the bytes no central entry claims (by the size both views agree on) are searched for local headers;
//!    each one found is an entry hidden from the central directory: reported as malformed and extracted too,
//!    even when a central record's larger size covers it;
//! 4. entries whose data overlaps the data of an entry starting earlier (the construction of Fifield's
//!    "better zip bomb", or a central directory listing one local header many times) are reported as
//!    malformed and not extracted again: an input byte goes through a decompressor at most once (twice when
//!    it lies in the stretch that two disagreeing views dispute), so overlapping entries cannot multiply
//!    work.
//!
//! Then each remaining entry is handed on, decompressed as it is read (a deflate entry whose declared size
//! fits the walk's whole-buffer limit is inflated in one call; a stored entry of an archive in RAM is handed
//! on as a range of it). Encrypted entries are
//! `DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED`, other methods (implode, shrink, PPMd, ...)
//! `DEC_RESULT_CONTAINER_UNKNOWN_ALGORITHM`, entries on another disk of a spanned or split archive
//! `DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS`; none of these is extracted. A CRC or size that does not match
//! what was extracted is malformed; corrupt compressed data is `DEC_RESULT_FILE_EXTRACT_FAILED` (from the
//! walk), with the prefix decoded before the fault kept. Memory held here is the list of entries, which is
//! proportional to the central directory's real size (never to the counts it declares).

use std::io::{self, BufRead, BufReader, Read, SeekFrom};

use liblzma::stream::{Filters, Stream};

use super::{Children, Extracted, read_full};
use crate::codes::DecResult;
use crate::content::{Content, ReadSeek};

const LOCAL_HEADER: [u8; 4] = *b"PK\x03\x04";
const CENTRAL_HEADER: [u8; 4] = *b"PK\x01\x02";
const END_RECORD: [u8; 4] = *b"PK\x05\x06";
const ZIP64_END_RECORD: [u8; 4] = *b"PK\x06\x06";
const ZIP64_LOCATOR: [u8; 4] = *b"PK\x06\x07";
const SPANNED_MARKER: [u8; 4] = *b"PK\x07\x08";

/// The end record is 22 bytes plus a comment of at most 65535 bytes.
const END_RECORD_SEARCH: u64 = 22 + 65_535;
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const METHOD_AES: u16 = 99;

/// Where the central directory is, as found from the end of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Directory {
    /// Absolute offset of the first central header.
    start: u64,
    /// Absolute offset of the (zip64) end record, where the central directory ends.
    end: u64,
    /// Number of entries the end record declares (compared, never used to allocate).
    declared_entries: u64,
    /// Added to every offset the archive stores (the size of data in front of the archive).
    shift: u64,
    /// The end record names a disk other than the first.
    multi_disk: bool,
}

/// Finds the central directory of a zip archive from its end record, or `None` if there is no end record
/// whose central directory is really where it says (after allowing for data in front).
pub(crate) fn locate(source: &mut dyn ReadSeek, len: u64) -> Option<Directory> {
    let tail_start = len.saturating_sub(END_RECORD_SEARCH);
    let mut tail = Vec::new();
    source.seek(SeekFrom::Start(tail_start)).ok()?;
    Read::take(&mut *source, len - tail_start).read_to_end(&mut tail).ok()?;
    // The last end record whose comment fits in what follows it.
    let position = memchr::memmem::rfind_iter(&tail, &END_RECORD)
        .find(|&i| u16_at(&tail, i + 20).is_some_and(|comment| i + 22 + usize::from(comment) <= tail.len()))?;
    let record = &tail[position..];
    let end_at = tail_start + position as u64;
    let disk = u16_at(record, 4)?;
    let cd_disk = u16_at(record, 6)?;
    let mut declared_entries = u64::from(u16_at(record, 10)?);
    let mut cd_size = u64::from(u32_at(record, 12)?);
    let mut cd_offset = u64::from(u32_at(record, 16)?);
    let mut multi_disk = disk != 0 || cd_disk != 0;
    let mut end = end_at;
    // zip64: the locator sits right before the end record and points at the zip64 end record.
    if let Some(locator_at) = end_at.checked_sub(20) {
        let locator = read_exact_at(source, locator_at, 20)?;
        if locator.starts_with(&ZIP64_LOCATOR) {
            let stated = u64_at(&locator, 8)?;
            let candidates = [Some(stated), locator_at.checked_sub(56)];
            for z64_at in candidates.into_iter().flatten() {
                let Some(z64) = read_exact_at(source, z64_at, 56) else {
                    continue;
                };
                if z64.starts_with(&ZIP64_END_RECORD) {
                    multi_disk |= u32_at(&z64, 16)? != 0 || u32_at(&z64, 20)? != 0;
                    declared_entries = u64_at(&z64, 32)?;
                    cd_size = u64_at(&z64, 40)?;
                    cd_offset = u64_at(&z64, 48)?;
                    end = z64_at;
                    break;
                }
            }
        }
    }
    let expected_start = end.checked_sub(cd_size)?;
    let empty = declared_entries == 0 && cd_size == 0;
    let is_central =
        |source: &mut dyn ReadSeek, at: u64| read_exact_at(source, at, 4).is_some_and(|sig| sig == CENTRAL_HEADER);
    let (start, shift) = if empty {
        (expected_start, expected_start.saturating_sub(cd_offset))
    } else if cd_offset < end && is_central(source, cd_offset) {
        (cd_offset, 0)
    } else if expected_start >= cd_offset && is_central(source, expected_start) {
        (expected_start, expected_start - cd_offset)
    } else {
        return None;
    };
    Some(Directory { start, end, declared_entries, shift, multi_disk })
}

/// One entry, from the central directory or from a local header found by scanning.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    /// Absolute offset of the local header.
    local_header_at: u64,
    /// Where the entry's data is, once its local header has been read.
    data: Option<DataRange>,
    disk: u32,
    /// Found only by scanning for local headers.
    hidden: bool,
}

/// Absolute offsets of an entry's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DataRange {
    start: u64,
    /// The end by the larger of the sizes the two views give: what is extracted, so that no byte either view
    /// claims is left out.
    end: u64,
    /// The end by the smaller size: what both views agree is this entry's. Bytes past it are still searched
    /// for hidden local headers, and an entry found there is not counted as overlapping this one.
    agreed_end: u64,
}

impl Entry {
    fn is_directory(&self) -> bool {
        self.name.ends_with('/') && self.uncompressed_size == 0 && self.compressed_size == 0
    }
}

pub(crate) fn decompose(source: &mut dyn ReadSeek, slice: Option<&[u8]>, len: u64, children: &mut dyn Children) {
    if let Err(error) = decompose_inner(source, slice, len, children) {
        tracing::debug!(%error, "zip container read failed");
        children.problem(DecResult::ContainerAccessFailed);
    }
}

fn decompose_inner(
    source: &mut dyn ReadSeek,
    slice: Option<&[u8]>,
    len: u64,
    children: &mut dyn Children,
) -> io::Result<()> {
    if read_exact_at(source, 0, 4).is_some_and(|sig| sig == SPANNED_MARKER) {
        children.problem(DecResult::FileSplitAcrossContainers);
    }
    let directory = locate(source, len);
    let mut entries = match directory {
        Some(directory) => {
            if directory.multi_disk {
                children.problem(DecResult::FileSplitAcrossContainers);
            }
            read_central_directory(source, &directory, children)?
        }
        None => {
            children.problem(DecResult::MalformedContainerDetected);
            Vec::new()
        }
    };
    for entry in &mut entries {
        read_local_header(source, len, entry, children)?;
    }
    let hidden = find_hidden_entries(source, len, &entries, directory.as_ref())?;
    if !hidden.is_empty() {
        children.problem(DecResult::MalformedContainerDetected);
    }
    entries.extend(hidden);
    if entries.is_empty() && directory.is_none() {
        children.problem(DecResult::OpenContainerFailed);
        return Ok(());
    }
    let overlapping = overlapping_entries(&entries);
    if overlapping.iter().any(|&o| o) {
        children.problem(DecResult::MalformedContainerDetected);
    }
    for (index, entry) in entries.iter().enumerate() {
        if children.stopped() {
            children.left_unvisited();
            break;
        }
        if overlapping[index] || entry.is_directory() {
            continue;
        }
        extract(source, slice, entry, index, children)?;
    }
    Ok(())
}

fn read_central_directory(
    source: &mut dyn ReadSeek,
    directory: &Directory,
    children: &mut dyn Children,
) -> io::Result<Vec<Entry>> {
    source.seek(SeekFrom::Start(directory.start))?;
    let mut reader = BufReader::new(Read::take(&mut *source, directory.end.saturating_sub(directory.start)));
    let mut entries = Vec::new();
    let mut fixed = [0u8; 46];
    loop {
        let n = read_full(&mut reader, &mut fixed)?;
        if n < 46 || fixed[..4] != CENTRAL_HEADER {
            // The directory must end exactly where the end record begins.
            if n != 0 {
                children.problem(DecResult::MalformedContainerDetected);
            }
            break;
        }
        let field16 = |at| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
        let field32 = |at| u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
        let name_len = usize::from(field16(28));
        let extra_len = usize::from(field16(30));
        let comment_len = usize::from(field16(32));
        let mut variable = vec![0; name_len + extra_len + comment_len];
        if read_full(&mut reader, &mut variable)? < variable.len() {
            children.problem(DecResult::MalformedContainerDetected);
            break;
        }
        let (name, extra) = variable.split_at(name_len);
        let extra = &extra[..extra_len];
        let mut entry = Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: field16(8),
            method: field16(10),
            crc: field32(16),
            compressed_size: u64::from(field32(20)),
            uncompressed_size: u64::from(field32(24)),
            local_header_at: u64::from(field32(42)),
            data: None,
            disk: u32::from(field16(34)),
            hidden: false,
        };
        apply_zip64_extra(extra, &mut entry, true);
        entry.local_header_at = entry.local_header_at.saturating_add(directory.shift);
        entries.push(entry);
    }
    if entries.len() as u64 != directory.declared_entries {
        children.problem(DecResult::MalformedContainerDetected);
    }
    Ok(entries)
}

/// Replaces the 32-bit fields saturated at `0xffffffff` with their zip64 values, in APPNOTE order.
fn apply_zip64_extra(mut extra: &[u8], entry: &mut Entry, central: bool) {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let size = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let body = extra.get(4..4 + size).unwrap_or(&extra[4..]);
        if id == 0x0001 {
            let mut values = body.chunks_exact(8).map(|c| u64_at(c, 0).unwrap_or(0));
            if entry.uncompressed_size == 0xffff_ffff {
                entry.uncompressed_size = values.next().unwrap_or(entry.uncompressed_size);
            }
            if entry.compressed_size == 0xffff_ffff {
                entry.compressed_size = values.next().unwrap_or(entry.compressed_size);
            }
            if central && entry.local_header_at == 0xffff_ffff {
                entry.local_header_at = values.next().unwrap_or(entry.local_header_at);
            }
            return;
        }
        extra = extra.get(4 + size..).unwrap_or_default();
    }
}

/// A local header's fields.
struct LocalHeader {
    flags: u16,
    method: u16,
    crc: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    name: Vec<u8>,
    data_start: u64,
}

fn parse_local_header(source: &mut dyn ReadSeek, at: u64, len: u64) -> io::Result<Option<LocalHeader>> {
    let Some(fixed) = read_exact_at(source, at, 30) else {
        return Ok(None);
    };
    if fixed[..4] != LOCAL_HEADER {
        return Ok(None);
    }
    let name_len = u64::from(u16_at(&fixed, 26).unwrap_or(0));
    let extra_len = u64::from(u16_at(&fixed, 28).unwrap_or(0));
    let data_start = at + 30 + name_len + extra_len;
    if data_start > len {
        return Ok(None);
    }
    let variable = read_exact_at(source, at + 30, (name_len + extra_len) as usize).unwrap_or_default();
    let (name, extra) = variable.split_at((name_len as usize).min(variable.len()));
    let mut sizes = Entry {
        name: String::new(),
        flags: 0,
        method: 0,
        crc: 0,
        compressed_size: u64::from(u32_at(&fixed, 18).unwrap_or(0)),
        uncompressed_size: u64::from(u32_at(&fixed, 22).unwrap_or(0)),
        local_header_at: at,
        data: None,
        disk: 0,
        hidden: true,
    };
    apply_zip64_extra(extra, &mut sizes, false);
    Ok(Some(LocalHeader {
        flags: u16_at(&fixed, 6).unwrap_or(0),
        method: u16_at(&fixed, 8).unwrap_or(0),
        crc: u32_at(&fixed, 14).unwrap_or(0),
        compressed_size: sizes.compressed_size,
        uncompressed_size: sizes.uncompressed_size,
        name: name.to_vec(),
        data_start,
    }))
}

/// Reads a central entry's local header, compares the two views and sets the entry's data range.
fn read_local_header(
    source: &mut dyn ReadSeek,
    len: u64,
    entry: &mut Entry,
    children: &mut dyn Children,
) -> io::Result<()> {
    if entry.disk != 0 {
        return Ok(());
    }
    let Some(local) = parse_local_header(source, entry.local_header_at, len)? else {
        children.problem(DecResult::MalformedContainerDetected);
        return Ok(());
    };
    let mut disagree = local.method != entry.method
        || local.name != entry.name.as_bytes() && String::from_utf8_lossy(&local.name) != entry.name
        || (local.flags & FLAG_ENCRYPTED) != (entry.flags & FLAG_ENCRYPTED);
    let (mut compressed, mut agreed) = (entry.compressed_size, entry.compressed_size);
    if local.flags & FLAG_DATA_DESCRIPTOR == 0 {
        disagree |= local.compressed_size != entry.compressed_size
            || local.uncompressed_size != entry.uncompressed_size
            || local.crc != entry.crc;
        compressed = compressed.max(local.compressed_size);
        agreed = agreed.min(local.compressed_size);
    }
    // Either view may be the honest one: an encryption flag in either keeps the entry closed.
    entry.flags |= local.flags & FLAG_ENCRYPTED;
    let available = len - local.data_start;
    if compressed > available {
        disagree = true;
        compressed = available;
    }
    if disagree {
        children.problem(DecResult::MalformedContainerDetected);
    }
    entry.data = Some(DataRange {
        start: local.data_start,
        end: local.data_start + compressed,
        agreed_end: local.data_start + agreed.min(compressed),
    });
    Ok(())
}

/// Local headers in the bytes that no central entry, nor the central directory, claims.
fn find_hidden_entries(
    source: &mut dyn ReadSeek,
    len: u64,
    entries: &[Entry],
    directory: Option<&Directory>,
) -> io::Result<Vec<Entry>> {
    let mut claimed: Vec<(u64, u64)> = entries
        .iter()
        .filter_map(|e| e.data.map(|data| (e.local_header_at, data.agreed_end.max(e.local_header_at + 30))))
        .collect();
    if let Some(directory) = directory {
        claimed.push((directory.start, len));
    }
    claimed.sort_unstable();
    let mut gaps = Vec::new();
    let mut at = 0;
    for &(start, end) in &claimed {
        if start > at {
            gaps.push((at, start));
        }
        at = at.max(end);
    }
    if at < len {
        gaps.push((at, len));
    }
    let mut hidden = Vec::new();
    for (gap_start, gap_end) in gaps {
        // One forward pass over the gap: each signature is looked at once, whatever the gap holds.
        let mut scan = SignatureScan::new(gap_start, gap_end);
        // An entry written with a data descriptor and no size ends where the next signature begins.
        let mut open_ended: Option<Entry> = None;
        while let Some(at) = scan.next(source)? {
            if let Some(mut entry) = open_ended.take() {
                match entry.data.as_mut() {
                    Some(data) if at >= data.start => {
                        (data.end, data.agreed_end) = (at, at);
                        hidden.push(entry);
                    }
                    _ => {
                        // Still inside its own header.
                        open_ended = Some(entry);
                        continue;
                    }
                }
            }
            let Some(local) = parse_local_header(source, at, len)? else {
                continue;
            };
            let open = local.flags & FLAG_DATA_DESCRIPTOR != 0 && local.compressed_size == 0;
            let end =
                if open { local.data_start } else { local.data_start.saturating_add(local.compressed_size).min(len) };
            let entry = Entry {
                name: String::from_utf8_lossy(&local.name).into_owned(),
                flags: local.flags,
                method: local.method,
                crc: local.crc,
                compressed_size: local.compressed_size,
                uncompressed_size: local.uncompressed_size,
                local_header_at: at,
                data: Some(DataRange { start: local.data_start, end, agreed_end: end }),
                disk: 0,
                hidden: true,
            };
            if open {
                open_ended = Some(entry);
            } else {
                hidden.push(entry);
                scan.skip_to(end);
            }
        }
        if let Some(mut entry) = open_ended {
            if let Some(data) = entry.data.as_mut() {
                // The header's name and extra field may run past the gap: the range is then empty.
                let end = gap_end.max(data.start);
                (data.end, data.agreed_end) = (end, end);
            }
            hidden.push(entry);
        }
    }
    Ok(hidden)
}

/// Finds the local header signature in `[from, to)` of a source, reading it forward once in windows of at
/// most 1 MiB, whatever else is read from the source between two calls.
struct SignatureScan {
    finder: memchr::memmem::Finder<'static>,
    buffer: Vec<u8>,
    /// Offset of `buffer[0]` in the source.
    window_at: u64,
    /// Where the search goes on: an index into `buffer`.
    next: usize,
    to: u64,
}

impl SignatureScan {
    const WINDOW: u64 = 1024 * 1024;

    fn new(from: u64, to: u64) -> Self {
        SignatureScan {
            finder: memchr::memmem::Finder::new(&LOCAL_HEADER),
            buffer: Vec::new(),
            window_at: from,
            next: 0,
            to,
        }
    }

    /// The next signature's offset.
    fn next(&mut self, source: &mut dyn ReadSeek) -> io::Result<Option<u64>> {
        loop {
            if let Some(found) = self.finder.find(self.buffer.get(self.next..).unwrap_or_default()) {
                let at = self.next + found;
                self.next = at + 1;
                return Ok(Some(self.window_at + at as u64));
            }
            // The next window overlaps this one by 3 bytes, so that a signature across the two is found.
            let consumed = self.buffer.len().saturating_sub(3).max(self.next.min(self.buffer.len()));
            self.window_at += consumed as u64;
            if self.window_at + 4 > self.to {
                return Ok(None);
            }
            let want = (self.to - self.window_at).min(Self::WINDOW) as usize;
            self.buffer.resize(want, 0);
            source.seek(SeekFrom::Start(self.window_at))?;
            let n = read_full(source, &mut self.buffer)?;
            self.buffer.truncate(n);
            self.next = 0;
            if n < 4 {
                return Ok(None);
            }
        }
    }

    /// Goes on from `offset`, when it is ahead.
    fn skip_to(&mut self, offset: u64) {
        if offset <= self.window_at + self.next as u64 {
            return;
        }
        if offset < self.window_at + self.buffer.len() as u64 {
            self.next = (offset - self.window_at) as usize;
        } else {
            self.window_at = offset;
            self.buffer.clear();
            self.next = 0;
        }
    }
}

/// Marks the entries whose data begins inside the (agreed) data of an entry that begins earlier (or at the
/// same place, listed earlier), and entries that repeat a local header already used.
fn overlapping_entries(entries: &[Entry]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].data.is_some()).collect();
    order.sort_by_key(|&i| (entries[i].data.map_or(0, |data| data.start), i));
    let mut overlapping = vec![false; entries.len()];
    let mut covered_until = 0u64;
    let mut previous_header = None;
    for i in order {
        let Some(data) = entries[i].data else {
            continue;
        };
        if data.start < covered_until || previous_header == Some(entries[i].local_header_at) {
            overlapping[i] = true;
            continue;
        }
        covered_until = data.agreed_end;
        previous_header = Some(entries[i].local_header_at);
    }
    overlapping
}

fn extract(
    source: &mut dyn ReadSeek,
    slice: Option<&[u8]>,
    entry: &Entry,
    index: usize,
    children: &mut dyn Children,
) -> io::Result<()> {
    extract_entry(source, slice, entry, index, children)?;
    // A stored entry whose two views disagree on its size was extracted by the larger one; the smaller is the
    // file one view says it is, handed on on its own too (`name#agreed`), so that its hash and end-of-file
    // signatures see it. (A compressed stream ends where it ends, whichever size is right.)
    let Some(DataRange { start, end, agreed_end }) = entry.data else { return Ok(()) };
    let unopened = entry.disk != 0 || entry.flags & FLAG_ENCRYPTED != 0 || entry.method == METHOD_AES;
    if entry.method != 0 || unopened || agreed_end <= start || agreed_end >= end || children.stopped() {
        return Ok(());
    }
    let name = format!("{}#agreed", if entry.name.is_empty() { format!("#{}", index + 1) } else { entry.name.clone() });
    match slice.and_then(|bytes| super::in_memory(bytes, start, agreed_end)) {
        Some(bytes) => {
            children.child_in_memory(&name, Content::Borrowed(bytes));
        }
        None => {
            source.seek(SeekFrom::Start(start))?;
            let mut agreed = Read::take(&mut *source, agreed_end - start);
            children.child(&name, &mut agreed);
        }
    }
    Ok(())
}

/// Extracts one entry by the larger of the sizes its two views give.
fn extract_entry(
    source: &mut dyn ReadSeek,
    slice: Option<&[u8]>,
    entry: &Entry,
    index: usize,
    children: &mut dyn Children,
) -> io::Result<()> {
    if entry.disk != 0 {
        children.problem(DecResult::FileSplitAcrossContainers);
        return Ok(());
    }
    let Some(DataRange { start, end, .. }) = entry.data else {
        // The central directory names an entry whose local header is not there.
        children.problem(DecResult::FileExtractFailed);
        return Ok(());
    };
    if entry.flags & FLAG_ENCRYPTED != 0 || entry.method == METHOD_AES {
        children.problem(DecResult::EncryptedContainerDetected);
        return Ok(());
    }
    let name = if entry.name.is_empty() { format!("#{}", index + 1) } else { entry.name.clone() };
    // In RAM, a deflate entry of declared size is inflated whole and a stored entry is not copied at all.
    let in_memory = match entry.method {
        8 => inflate_whole(source, slice, entry, children.whole_buffer_limit()).map(Content::Memory),
        0 => slice.and_then(|bytes| super::in_memory(bytes, start, end)).map(Content::Borrowed),
        _ => None,
    };
    if let Some(content) = in_memory {
        let (crc, len) = (crc32fast::hash(content.as_slice().unwrap_or_default()), content.len());
        let extracted = children.child_in_memory(&name, content);
        check_crc_and_size(entry, extracted, crc, len, children);
        return Ok(());
    }
    source.seek(SeekFrom::Start(start))?;
    let raw = BufReader::with_capacity(64 * 1024, Read::take(&mut *source, end.saturating_sub(start)));
    let mut decoder: Box<dyn Read + '_> = match entry.method {
        0 => Box::new(raw),
        8 => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
        9 => Box::new(deflate64::Deflate64Decoder::with_buffer(raw)),
        // Concatenated streams are all decoded, as `bzip2 -d` does: a second stream is not hidden.
        12 => Box::new(bzip2::bufread::MultiBzDecoder::new(raw)),
        14 => match lzma_decoder(raw, entry) {
            Some(decoder) => decoder,
            None => {
                children.problem(DecResult::FileExtractFailed);
                return Ok(());
            }
        },
        20 | 93 => match ruzstd::decoding::StreamingDecoder::new(raw) {
            Ok(decoder) => Box::new(decoder),
            Err(_) => {
                children.problem(DecResult::FileExtractFailed);
                return Ok(());
            }
        },
        95 => match Stream::new_stream_decoder(super::xz::MEMORY_LIMIT, liblzma::stream::CONCATENATED) {
            Ok(stream) => Box::new(liblzma::bufread::XzDecoder::new_stream(raw, stream)),
            Err(_) => {
                children.problem(DecResult::FileExtractFailed);
                return Ok(());
            }
        },
        _ => {
            children.problem(DecResult::ContainerUnknownAlgorithm);
            return Ok(());
        }
    };
    let mut checked = Checked { inner: &mut decoder, hasher: crc32fast::Hasher::new(), bytes: 0 };
    let extracted = children.child(&name, &mut checked);
    check_crc_and_size(entry, extracted, checked.hasher.finalize(), checked.bytes, children);
    Ok(())
}

/// Reports an entry extracted whole whose CRC or size is not the declared one.
fn check_crc_and_size(entry: &Entry, extracted: Extracted, crc: u32, len: u64, children: &mut dyn Children) {
    // Hidden entries written with a data descriptor carry no CRC or size in their local header.
    let declared = !(entry.hidden && entry.flags & FLAG_DATA_DESCRIPTOR != 0);
    if extracted.complete && declared && (crc != entry.crc || len != entry.uncompressed_size) {
        children.problem(DecResult::MalformedContainerDetected);
    }
}

/// A deflate entry inflated in one call, when its declared size fits `limit` and it produces exactly that
/// many bytes; `None` sends the entry down the streaming path, which handles every other case.
fn inflate_whole(source: &mut dyn ReadSeek, slice: Option<&[u8]>, entry: &Entry, limit: u64) -> Option<Vec<u8>> {
    if entry.uncompressed_size > limit {
        return None;
    }
    let data = entry.data?;
    let input = super::whole_input(source, slice, (data.start, data.end), limit.saturating_add(64 * 1024))?;
    let mut output = vec![0; usize::try_from(entry.uncompressed_size).ok()?];
    let inflated = crate::inflate::inflate(&input, &mut output)?;
    (inflated.output == output.len()).then_some(output)
}

/// The zip LZMA layout: 2 bytes of version, 2 bytes of property length (5), the properties, then raw LZMA1
/// data ending with an end marker or at the uncompressed size.
fn lzma_decoder<'a>(mut raw: impl BufRead + 'a, entry: &Entry) -> Option<Box<dyn Read + 'a>> {
    let mut header = [0u8; 9];
    raw.read_exact(&mut header).ok()?;
    if u16::from_le_bytes([header[2], header[3]]) != 5 {
        return None;
    }
    let properties = bounded_lzma_properties([header[4], header[5], header[6], header[7], header[8]], entry)?;
    let mut filters = Filters::new();
    filters.lzma1_properties(&properties).ok()?;
    let stream = Stream::new_raw_decoder(&filters).ok()?;
    let decoder = liblzma::bufread::XzDecoder::new_stream(raw, stream);
    Some(Box::new(LzmaEnd {
        inner: decoder.take(entry.uncompressed_size),
        produced: 0,
        expected: entry.uncompressed_size,
    }))
}

/// liblzma's raw decoder allocates the dictionary the properties declare, up to 4 GiB, with no memory limit.
/// Output is cut at the entry's declared uncompressed size, so a larger dictionary could never be used: it
/// is shrunk to that size (at least 4 KiB, the format's minimum); what would still exceed the xz memory limit
/// is refused.
fn bounded_lzma_properties(mut properties: [u8; 5], entry: &Entry) -> Option<[u8; 5]> {
    let declared = u32::from_le_bytes([properties[1], properties[2], properties[3], properties[4]]);
    let needed = u32::try_from(entry.uncompressed_size.max(4096)).unwrap_or(u32::MAX);
    let dictionary = declared.min(needed).max(4096);
    if u64::from(dictionary) > super::xz::MEMORY_LIMIT {
        return None;
    }
    properties[1..].copy_from_slice(&dictionary.to_le_bytes());
    Some(properties)
}

/// Without an end marker a raw LZMA1 stream ends at the declared size; the decoder's complaint that the
/// input ended is then the normal end, not a fault.
struct LzmaEnd<R> {
    inner: R,
    produced: u64,
    expected: u64,
}

impl<R: Read> Read for LzmaEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.produced += n as u64;
                Ok(n)
            }
            Err(_) if self.produced >= self.expected => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Computes the CRC-32 and the length of what is read through it.
struct Checked<'a> {
    inner: &'a mut dyn Read,
    hasher: crc32fast::Hasher,
    bytes: u64,
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn read_exact_at(source: &mut dyn ReadSeek, at: u64, len: usize) -> Option<Vec<u8>> {
    source.seek(SeekFrom::Start(at)).ok()?;
    let mut buffer = vec![0; len];
    source.read_exact(&mut buffer).ok()?;
    Some(buffer)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_of_size(uncompressed_size: u64) -> Entry {
        Entry {
            name: String::new(),
            flags: 0,
            method: 14,
            crc: 0,
            compressed_size: 0,
            uncompressed_size,
            local_header_at: 0,
            data: None,
            disk: 0,
            hidden: false,
        }
    }

    #[test]
    fn an_lzma_dictionary_is_never_larger_than_the_output_it_serves() {
        let three_gib = 3_312_995_904u32.to_le_bytes();
        let declared = [93, three_gib[0], three_gib[1], three_gib[2], three_gib[3]];
        let shrunk = bounded_lzma_properties(declared, &entry_of_size(270)).unwrap();
        assert_eq!(shrunk, [93, 0, 16, 0, 0]); // 4096 bytes, the minimum
        let one_mib = bounded_lzma_properties(declared, &entry_of_size(1 << 20)).unwrap();
        assert_eq!(u32::from_le_bytes(one_mib[1..].try_into().unwrap()), 1 << 20);
        // A large output with a large dictionary would need more than the memory limit: refused.
        assert_eq!(bounded_lzma_properties(declared, &entry_of_size(1 << 40)), None);
        // A small declared dictionary is kept as it is.
        let small = [93, 0, 0, 1, 0];
        assert_eq!(bounded_lzma_properties(small, &entry_of_size(1 << 30)), Some(small));
    }
}
