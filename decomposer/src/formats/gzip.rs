//! gzip (RFC 1952), one or more members, inflated by flate2 with the zlib-rs backend.
//!
//! Streams: the members are decoded one after another into a single child, as `gzip -dc` does. The child
//! is named by the first member's FNAME field, or else by the parent's name without `.gz`/`.tgz`. A corrupt
//! or truncated member (bad deflate data, CRC or length mismatch) is `DEC_RESULT_FILE_EXTRACT_FAILED` (from
//! the walk) with everything decoded before the fault kept; bytes after the last member that do not start
//! another member (other than zero padding) are `DEC_RESULT_MALFORMED_CONTAINER_DETECTED` and are handed on
//! as a child `#offset-N`, so that something appended to a gzip (a zip, say) is still detected and opened.
//!
//! A single-member gzip whose ISIZE fits the walk's whole-buffer limit is inflated in one call by libdeflate
//! (see `crate::inflate`); the member must then end exactly at the end of the input with a matching CRC and
//! size, or the streaming path runs instead.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;

use flate2::bufread::GzDecoder;

use super::{Children, stream_child_name, whole_input};
use crate::codes::DecResult;
use crate::content::{Content, ReadSeek};

/// The suffixes dropped from the parent's name to name a child that has no FNAME.
const NAME_SUFFIXES: &[(&str, &str)] = &[(".tgz", ".tar"), (".gz", ""), (".z", "")];

/// The longest FNAME kept as the child's name.
const MAX_NAME: usize = 1024;

pub(crate) fn decompose(
    source: &mut dyn ReadSeek,
    slice: Option<&[u8]>,
    len: u64,
    parent_name: &str,
    children: &mut dyn Children,
) {
    let limit = children.whole_buffer_limit();
    if let Some(input) = whole_input(source, slice, (0, len), limit)
        && let Some(output) = single_member(&input, limit)
    {
        let name = member_file_name(&input).unwrap_or_else(|| stream_child_name(parent_name, NAME_SUFFIXES));
        children.child_in_memory(&name, Content::Memory(output));
        return;
    }
    if source.seek(std::io::SeekFrom::Start(0)).is_err() {
        children.problem(DecResult::ContainerAccessFailed);
        return;
    }
    let mut input = BufReader::with_capacity(64 * 1024, &mut *source);
    let name = match input.fill_buf() {
        Ok(head) => member_file_name(head),
        Err(_) => None,
    }
    .unwrap_or_else(|| stream_child_name(parent_name, NAME_SUFFIXES));
    let trailing_garbage = Rc::new(Cell::new(None));
    let mut members = Members { decoder: Some(GzDecoder::new(input)), trailing_garbage: Rc::clone(&trailing_garbage) };
    let extracted = children.child(&name, &mut members);
    drop(members);
    if let Some(at) = trailing_garbage.get().filter(|_| extracted.complete) {
        // What follows the members may be anything (an appended zip, say): it is handed on to be detected.
        children.problem(DecResult::MalformedContainerDetected);
        let name = format!("#offset-{at}");
        match slice.and_then(|bytes| super::in_memory(bytes, at, len)) {
            Some(rest) => {
                children.child_in_memory(&name, Content::Borrowed(rest));
            }
            None if source.seek(SeekFrom::Start(at)).is_ok() => {
                children.child(&name, &mut Read::take(&mut *source, len.saturating_sub(at)));
            }
            None => children.problem(DecResult::ContainerAccessFailed),
        }
    }
}

/// The output of `input` when it is exactly one gzip member whose declared size is at most `limit`.
fn single_member(input: &[u8], limit: u64) -> Option<Vec<u8>> {
    let declared = u32::from_le_bytes(input.get(input.len().checked_sub(4)?..)?.try_into().ok()?);
    if u64::from(declared) > limit {
        return None;
    }
    let body = header_len(input)?;
    let mut output = vec![0; usize::try_from(declared).ok()?];
    let inflated = crate::inflate::inflate(input.get(body..)?, &mut output)?;
    let trailer = input.get(body + inflated.input..)?;
    let whole = trailer.len() == 8
        && inflated.output == output.len()
        && trailer[..4] == crc32fast::hash(&output).to_le_bytes()
        && trailer[4..] == declared.to_le_bytes();
    whole.then_some(output)
}

/// The length of a gzip member header (RFC 1952 2.3), if it is whole within `input`.
fn header_len(input: &[u8]) -> Option<usize> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if !input.starts_with(&[0x1f, 0x8b, 0x08]) {
        return None;
    }
    let flags = *input.get(3)?;
    let mut at = 10;
    if flags & FEXTRA != 0 {
        at += 2 + usize::from(u16::from_le_bytes([*input.get(10)?, *input.get(11)?]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += memchr::memchr(0, input.get(at..)?)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    (at <= input.len()).then_some(at)
}

/// The FNAME field of a gzip member header, if the header is whole within `head` and has one.
fn member_file_name(head: &[u8]) -> Option<String> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    let flags = *head.get(3)?;
    if flags & FNAME == 0 {
        return None;
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let extra_len = u16::from_le_bytes([*head.get(10)?, *head.get(11)?]);
        at = 12 + usize::from(extra_len);
    }
    let rest = head.get(at..)?;
    let end = memchr::memchr(0, rest)?;
    let name = &rest[..end.min(MAX_NAME)];
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

/// Decodes gzip members back to back; stops quietly at bytes that do not start a member, noting their offset
/// unless they are zero padding.
struct Members<R: BufRead + Seek> {
    decoder: Option<GzDecoder<R>>,
    trailing_garbage: Rc<Cell<Option<u64>>>,
}

impl<R: BufRead + Seek> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member is done: another one follows only if the next bytes are a gzip magic.
            let Some(mut input) = self.decoder.take().map(GzDecoder::into_inner) else {
                return Ok(0);
            };
            let next = input.fill_buf()?;
            if next.is_empty() {
                return Ok(0);
            }
            if next.starts_with(&[0x1f, 0x8b]) {
                self.decoder = Some(GzDecoder::new(input));
            } else {
                // Zero padding after the last member is common (tape blocks); anything else is not.
                let at = input.stream_position()?;
                if !is_zero_padding(&mut input)? {
                    self.trailing_garbage.set(Some(at));
                }
                return Ok(0);
            }
        }
    }
}

fn is_zero_padding(input: &mut dyn BufRead) -> io::Result<bool> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(true);
        }
        if chunk.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        let n = chunk.len();
        input.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_member_whole_buffer_needs_an_exact_member() {
        let gz = |data: &[u8]| {
            let mut encoder =
                flate2::GzBuilder::new().filename("x").comment("c").write(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut encoder, data).unwrap();
            encoder.finish().unwrap()
        };
        let one = gz(b"first member");
        assert_eq!(single_member(&one, 1000).as_deref(), Some(&b"first member"[..]));
        // Over the limit, two members (even with equal size and CRC), trailing bytes: not taken.
        assert_eq!(single_member(&one, 5), None);
        assert_eq!(single_member(&[one.clone(), one.clone()].concat(), 1000), None);
        assert_eq!(single_member(&[one.clone(), vec![0]].concat(), 1000), None);
    }

    #[test]
    fn file_name_from_header() {
        let mut encoder = flate2::GzBuilder::new().filename("inner.tar").write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, b"x").unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(member_file_name(&gz).as_deref(), Some("inner.tar"));
        assert_eq!(member_file_name(&[0x1f, 0x8b, 8, 0]), None);
        assert_eq!(member_file_name(&[0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 0, b'a']), None);
    }
}
