//! gzip (RFC 1952), one or more members, inflated by flate2 with the zlib-rs backend.
//!
//! Streams: the members are decoded one after another into a single child, as `gzip -dc` does. The child
//! is named by the first member's FNAME field, or else by the parent's name without `.gz`/`.tgz`. A corrupt
//! or truncated member (bad deflate data, CRC or length mismatch) is `DEC_RESULT_FILE_EXTRACT_FAILED` (from
//! the walk) with everything decoded before the fault kept; bytes after the last member that do not start
//! another member are `DEC_RESULT_MALFORMED_CONTAINER_DETECTED` (they are still matched as part of the
//! container's raw bytes).

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use flate2::bufread::GzDecoder;

use super::{Children, stream_child_name};
use crate::codes::DecResult;
use crate::content::ReadSeek;

/// The longest FNAME kept as the child's name.
const MAX_NAME: usize = 1024;

pub(crate) fn decompose(source: &mut dyn ReadSeek, parent_name: &str, children: &mut dyn Children) {
    let mut input = BufReader::with_capacity(64 * 1024, source);
    let name = match input.fill_buf() {
        Ok(head) => member_file_name(head),
        Err(_) => None,
    }
    .unwrap_or_else(|| {
        stream_child_name(parent_name, &[(".tgz", ".tar"), (".gz", ""), (".z", "")])
    });
    let trailing_garbage = Rc::new(Cell::new(false));
    let mut members = Members {
        decoder: Some(GzDecoder::new(input)),
        trailing_garbage: Rc::clone(&trailing_garbage),
    };
    let extracted = children.child(&name, &mut members);
    if extracted.complete && trailing_garbage.get() {
        children.problem(DecResult::MalformedContainerDetected);
    }
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

/// Decodes gzip members back to back; stops quietly (flagging it) at bytes that do not start a member.
struct Members<R: BufRead> {
    decoder: Option<GzDecoder<R>>,
    trailing_garbage: Rc<Cell<bool>>,
}

impl<R: BufRead> Read for Members<R> {
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
                let zeros_only = is_zero_padding(&mut input)?;
                self.trailing_garbage.set(!zeros_only);
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
    fn file_name_from_header() {
        let mut encoder = flate2::GzBuilder::new()
            .filename("inner.tar")
            .write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, b"x").unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(member_file_name(&gz).as_deref(), Some("inner.tar"));
        assert_eq!(member_file_name(&[0x1f, 0x8b, 8, 0]), None);
        assert_eq!(
            member_file_name(&[0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 0, b'a']),
            None
        );
    }
}
