//! Mail: RFC 5322 messages and MIME entities (RFC 2045-2049), and mbox files of messages.
//!
//! # One level at a time
//! A mail node is opened one MIME level at a time, so that the walk owns nesting as it does for archives:
//! every multipart level and every encapsulated message is one level of `max_extract_depth`.
//! - A single-part entity hands on its body, decoded, as one child (named by its `filename`/`name`, else
//!   `#1`). A `message/rfc822` or `message/global` body is such a child too, and the walk detects it as mail.
//! - A multipart entity hands on each subpart: a leaf subpart as its decoded body; a subpart that is itself
//!   multipart as its raw bytes (header block and body), which the walk detects as mail and opens in turn; a
//!   `message/*` subpart as its decoded body, the encapsulated message. The preamble and the epilogue are
//!   children `#preamble` and `#epilogue` when they hold more than whitespace. Children without a name are
//!   `#N`, N counting the subparts of this level from 1.
//! - An mbox (a file that starts with a `From ` line and has a further `From ` line followed by a header
//!   field) hands on each message, its `From ` line removed and `>From ` lines unquoted (mboxrd), as `#N`.
//!   A single message with a leading `From ` line is a message, not an mbox.
//!
//! # Why our own parser, with mail-parser for header fields
//! mail-parser (stalwartlabs, 0.11: 1.x needs rustc 1.98) never fails on bytes, but it parses a whole
//! message tree in one call, with a fixed nesting limit for encapsulated messages, decodes every part into
//! RAM, needs the whole message as one slice and records offsets as `u32`. None of that fits a walk that
//! must own depth, stream big attachments from a temporary file and hand on every byte. So the structure
//! (header block boundaries, multipart delimiters, preamble and epilogue, mbox separators) and the transfer
//! decoders are here; mail-parser parses only the fields of one header block at a time (at most
//! [`MAX_HEADER_BLOCK`] bytes): `Content-Type` and `Content-Disposition` parameters with RFC 2231
//! continuations and charsets, RFC 2047 encoded words, and `Content-Transfer-Encoding`.
//!
//! # Streaming
//! Each level is read twice through a 64 KiB buffer, never held whole: a first pass finds the next
//! delimiter line, then the part's range is handed on through a decoder that reads it from the container
//! (base64 and quoted-printable decode in chunks; a part of a container held in RAM with an identity
//! encoding is handed on as a range of it, not copied). The walk's Budget counts the decoded bytes.
//!
//! # Leniency, and the codes
//! Everything a mail client could show or save is handed on, and nothing is dropped:
//! - Delimiter lines are matched as Thunderbird and Python do: `--boundary`, optionally `--`, then only
//!   blanks. A line that merely starts with the delimiter is data.
//! - base64 skips characters outside its alphabet and tolerates missing padding (a `=` ends a group and
//!   decoding goes on after it, so concatenated encodings decode too). When more than a tenth of a part's
//!   characters are outside the alphabet (a part declared base64 that is not), its raw bytes are also handed
//!   on as `<name>#raw`. quoted-printable keeps a `=` that does not start an escape or a soft line break.
//! - An unknown transfer encoding is taken as identity. Several `Content-Transfer-Encoding` fields that
//!   disagree: the part is handed on decoded by the first and, as `<name>#<encoding>`, by each other one,
//!   since clients differ on which one wins.
//!
//! # Blocks inside text parts
//! A leaf part is searched a second time, decoded, for what mail clients also decode out of text:
//! - In a `text/plain` part (or one without a type) and in a part whose transfer encoding is `x-uuencode`
//!   (`uuencode`, `x-uue`), each uuencoded block, from a `begin <octal mode> <name>` line to its `end` line, is
//!   handed on decoded as a child named by that name (`<part>#uu-N` when it names nothing). Lines are decoded
//!   by the count their first character gives: a line cut short (trailing blanks lost in transport) decodes
//!   as if padded, and anything beyond the count is ignored. A block without `end` is decoded to the end of
//!   the part and reported. The text part itself is handed on as before; an `x-uuencode` body is handed on
//!   as it is under `<part>#raw`, and reported when it holds no block.
//! - In a `text/plain` part (or one without a type), an `x-uuencode` part and an `application/mac-binhex40`
//!   part (RFC 1741), each BinHex 4.0 block, from a `(This file must be converted with BinHex` line (the
//!   body of an `application/mac-binhex40` part may also start with the stream itself) to the `:`-delimited
//!   stream after it, is decoded: six bits a character of BinHex's own alphabet (blanks and line ends
//!   skipped), the 0x90 run-length encoding undone (`90 00` a literal 0x90), then the header (name, type,
//!   creator, flags, the forks' lengths, CRC). The data fork is handed on as a child named by the file name
//!   (`<part>#binhex-N` when it is empty), a non-empty resource fork as `<name>#rsrc`. The forks stream from
//!   the text through the decoder: their declared lengths bound what is read, never what is allocated, and a
//!   fork is as long as the stream really holds. A stream cut short (no closing `:`, a fork shorter than
//!   declared), a character outside the alphabet (decoding stops there) and a header or fork CRC that does
//!   not match are reported, and what was decoded is handed on all the same; so is an
//!   `application/mac-binhex40` part that holds no block. The part itself is handed on as before.
//! - In a `text/html` part, each `data:` URI (matched in any case, anywhere in the text) whose media type
//!   ends in `;base64` has its payload, up to a quote, parenthesis, angle bracket, `&`, blank or backslash
//!   (line ends are skipped), handed on base64-decoded as `<part>#data-N`.
//!
//! The searches stream the decoded part through a 64 KiB buffer, examining at most [`MAX_UU_LINE`] bytes of
//! a line; a block or payload streams to the walk like any other child.
//!
//! `DEC_RESULT_MIME_PARSING_FAILED` reports every structural defect of a message: a header line that is not a
//! field (the header block ends there and the rest is body), a header block over [`MAX_HEADER_BLOCK`], a
//! `Content-Type` that does not parse or that a second one contradicts, a multipart without a boundary
//! parameter or without any delimiter line (its body is handed on whole as `#1`), a multipart without its
//! close delimiter (the last part runs to the end), base64 with characters outside its alphabet, an unknown
//! or contradicting transfer encoding, a uuencoded block without its `end` line, a BinHex block that is cut
//! short, corrupt or fails its CRC. It is used rather than `DEC_RESULT_MALFORMED_CONTAINER_DETECTED` because
//! CSAPI has it for exactly this, and integrations treat a MIME defect apart from a damaged archive; like
//! that one, it keeps a scan CLEAN. `DEC_RESULT_PARTIAL_MESSAGE_DETECTED` reports a `message/partial` part
//! (its fragment is still handed on), and `DEC_RESULT_OUTER_CONTAINER_IS_MIME` an input (depth 0) that is a
//! message.

use std::cell::Cell;
use std::io::{self, BufRead, Read, SeekFrom};
use std::rc::Rc;

use mail_parser::{HeaderName, HeaderValue, MessageParser};

use super::{Children, in_memory, read_full};
use crate::codes::DecResult;
use crate::content::{Content, ReadSeek};
use crate::detect::header_name;

/// The most bytes of one header block that are parsed as fields; the rest of a longer block is body.
pub(crate) const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// How much of a line is examined for a delimiter (beyond the boundary) or an mbox separator: a longer line
/// is data.
const MAX_LINE_EXAMINED: usize = 4096;

/// The longest part name kept, in bytes.
const MAX_NAME: usize = 1024;

const BUFFER: usize = 64 * 1024;

/// Opens a mail node: an mbox, or a message or MIME entity. Never fails: problems are codes.
pub(crate) fn decompose(source: &mut dyn ReadSeek, slice: Option<&[u8]>, len: u64, children: &mut dyn Children) {
    let mut mail = Mail { input: Input::new(source, len), line: Vec::new(), slice, len, children };
    if let Err(error) = mail.run() {
        tracing::debug!(%error, "reading a mail container failed");
        mail.children.problem(DecResult::ContainerAccessFailed);
    }
}

struct Mail<'a, 's> {
    input: Input<'s>,
    /// Scratch for the line being examined.
    line: Vec<u8>,
    slice: Option<&'a [u8]>,
    len: u64,
    children: &'a mut dyn Children,
}

impl Mail<'_, '_> {
    fn run(&mut self) -> io::Result<()> {
        if self.is_mbox()? {
            return self.mbox();
        }
        if self.children.depth() == 1 {
            self.children.problem(DecResult::OuterContainerIsMime);
        }
        let headers = self.read_headers(0, self.len, true)?;
        self.entity(&headers, self.len, "#1", false)
    }

    fn defect(&mut self) {
        self.children.problem(DecResult::MimeParsingFailed);
    }

    /// Whether the walk has stopped; if so, the children still to come are left unvisited.
    fn halted(&mut self) -> bool {
        let stopped = self.children.stopped();
        if stopped {
            self.children.left_unvisited();
        }
        stopped
    }

    /// Reads the header block of the entity at `start..end`: its field lines, and where its body starts.
    fn read_headers(&mut self, start: u64, end: u64, envelope: bool) -> io::Result<Headers> {
        self.input.seek(start, end);
        let mut fields = Vec::new();
        let mut broken = false;
        let mut first = true;
        let body_start = loop {
            let Some(line) = self.input.next_line(MAX_HEADER_BLOCK + 1, &mut self.line)? else {
                break end;
            };
            let content = &self.line;
            if std::mem::take(&mut first) && envelope && content.starts_with(b"From ") {
                continue;
            }
            if line.whole && content.is_empty() {
                break line.start + line.len;
            }
            let continuation = !fields.is_empty() && matches!(content.first(), Some(b' ' | b'\t'));
            let is_field = line.whole && (continuation || header_name(content).is_some());
            if !is_field || fields.len() + content.len() + 2 > MAX_HEADER_BLOCK {
                broken = true;
                break line.start;
            }
            fields.extend_from_slice(content);
            fields.extend_from_slice(b"\r\n");
        };
        Ok(Headers { fields, body_start, broken })
    }

    /// Hands on the body of an entity whose header block is `headers` and which ends at `end`.
    fn entity(&mut self, headers: &Headers, end: u64, fallback: &str, in_digest: bool) -> io::Result<()> {
        let fields = Fields::parse(&headers.fields);
        if headers.broken || fields.broken {
            self.defect();
        }
        let (encodings, bad_encoding) = fields.encodings();
        if bad_encoding {
            self.defect();
        }
        let name = fields.name().unwrap_or_else(|| fallback.to_owned());
        let body = (headers.body_start, end);
        let text = fields.text();
        match fields.kind(in_digest) {
            Kind::Multipart { boundary: Some(boundary), digest } => self.multipart(&boundary, body, digest),
            Kind::Multipart { boundary: None, .. } => {
                self.defect();
                self.leaf(body, &name, &encodings, Text::Other)
            }
            Kind::Partial => {
                self.children.problem(DecResult::PartialMessageDetected);
                self.leaf(body, &name, &encodings, Text::Other)
            }
            Kind::Message => self.leaf(body, &name, &encodings, Text::Other),
            Kind::Leaf => self.leaf(body, &name, &encodings, text),
        }
    }

    /// Splits one multipart level: preamble, each subpart, epilogue.
    fn multipart(&mut self, boundary: &[u8], (start, end): (u64, u64), digest: bool) -> io::Result<()> {
        self.input.seek(start, end);
        let Some(mut delimiter) = self.find_delimiter(boundary)? else {
            // No delimiter at all: the body is handed on whole.
            self.defect();
            return self.hand_on((start, end), "#1", Encoding::Identity).map(drop);
        };
        if !self.is_blank(start, delimiter.content_end)? {
            self.hand_on((start, delimiter.content_end), "#preamble", Encoding::Identity)?;
        }
        let mut index = 0u64;
        loop {
            if delimiter.close {
                if !self.is_blank(delimiter.after, end)? && !self.halted() {
                    self.hand_on((delimiter.after, end), "#epilogue", Encoding::Identity)?;
                }
                return Ok(());
            }
            if self.halted() {
                return Ok(());
            }
            index += 1;
            self.input.seek(delimiter.after, end);
            let next = self.find_delimiter(boundary)?;
            let part_end = next.as_ref().map_or(end, |next| next.content_end);
            self.subpart((delimiter.after, part_end), index, digest)?;
            match next {
                Some(next) => delimiter = next,
                None => {
                    // No close delimiter: the last part ran to the end.
                    self.defect();
                    return Ok(());
                }
            }
        }
    }

    fn subpart(&mut self, (start, end): (u64, u64), index: u64, digest: bool) -> io::Result<()> {
        let headers = self.read_headers(start, end, false)?;
        let fields = Fields::parse(&headers.fields);
        if let Kind::Multipart { .. } = fields.kind(digest) {
            // A nested multipart goes on whole, header block included: the walk opens it as one more level.
            if headers.broken || fields.broken {
                self.defect();
            }
            let name = fields.name().unwrap_or_else(|| format!("#{index}"));
            return self.hand_on((start, end), &name, Encoding::Identity).map(drop);
        }
        self.entity(&headers, end, &format!("#{index}"), digest)
    }

    /// Hands on a leaf body decoded by its transfer encodings (see the module doc).
    fn leaf(&mut self, range: (u64, u64), name: &str, encodings: &[Encoding], text: Text) -> io::Result<()> {
        let primary = encodings.first().copied().unwrap_or(Encoding::Identity);
        // A uuencoded body goes on as it is under `#raw`: its blocks take the names of their `begin` lines.
        let stats = match primary {
            Encoding::Uuencode => self.hand_on(range, &format!("{name}#raw"), primary)?,
            _ => self.hand_on(range, name, primary)?,
        };
        for &other in encodings.iter().skip(1) {
            if self.halted() {
                return Ok(());
            }
            self.hand_on(range, &format!("{name}#{}", other.as_str()), other)?;
        }
        if primary == Encoding::Base64 {
            if stats.garbage > 0 {
                self.defect();
            }
            if stats.garbage.saturating_mul(10) > stats.alphabet.saturating_add(stats.garbage) && !self.halted() {
                self.hand_on(range, &format!("{name}#raw"), Encoding::Identity)?;
            }
        }
        let whole = if encodings.contains(&Encoding::Uuencode) {
            Whole::Uuencode
        } else if text == Text::BinHex {
            Whole::BinHex
        } else {
            Whole::No
        };
        let embedded = if text == Text::Plain || whole != Whole::No {
            Embedded::Blocks
        } else if text == Text::Html {
            Embedded::DataUri
        } else {
            return Ok(());
        };
        if self.halted() {
            return Ok(());
        }
        let stats = Rc::new(Cell::new(Base64Stats::default()));
        let reader = open(self.slice, &mut *self.input.source, range, primary, &stats)?;
        let mut text = io::BufReader::with_capacity(BUFFER, reader);
        match embedded {
            Embedded::Blocks => text_blocks(&mut text, self.children, whole, name),
            Embedded::DataUri => data_uris(&mut text, self.children, name),
        }
    }

    /// Hands on bytes `start..end` of the container decoded by `encoding`; the statistics of a base64 decode.
    fn hand_on(&mut self, (start, end): (u64, u64), name: &str, encoding: Encoding) -> io::Result<Base64Stats> {
        let stats = Rc::new(Cell::new(Base64Stats::default()));
        let end = end.max(start);
        let in_ram = self.slice.and_then(|bytes| in_memory(bytes, start, end));
        if let (Encoding::Identity, Some(bytes)) = (encoding, in_ram) {
            self.children.child_in_memory(name, Content::Borrowed(bytes));
            return Ok(stats.get());
        }
        if let (Encoding::Uuencode, Some(bytes)) = (encoding, in_ram) {
            self.children.child_in_memory(name, Content::Borrowed(bytes));
            return Ok(stats.get());
        }
        let mut reader = open(self.slice, &mut *self.input.source, (start, end), encoding, &stats)?;
        self.children.child(name, &mut reader);
        Ok(stats.get())
    }

    /// Whether bytes `start..end` are all whitespace.
    fn is_blank(&mut self, start: u64, end: u64) -> io::Result<bool> {
        if let Some(bytes) = self.slice.and_then(|bytes| in_memory(bytes, start, end)) {
            return Ok(bytes.iter().all(u8::is_ascii_whitespace));
        }
        self.input.seek(start, end);
        loop {
            let chunk = self.input.fill()?;
            if chunk.is_empty() {
                return Ok(true);
            }
            if !chunk.iter().all(u8::is_ascii_whitespace) {
                return Ok(false);
            }
            let n = chunk.len();
            self.input.consume(n);
        }
    }

    /// Finds the next delimiter line of `boundary` from the input's position.
    fn find_delimiter(&mut self, boundary: &[u8]) -> io::Result<Option<Delimiter>> {
        let part_start = self.input.position();
        let mut previous_eol = None;
        let max = boundary.len().saturating_add(MAX_LINE_EXAMINED);
        loop {
            let Some(line) = self.input.next_line(max, &mut self.line)? else {
                return Ok(None);
            };
            if line.whole
                && let Some(close) = delimiter(&self.line, boundary)
            {
                // The line end before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
                let content_end = previous_eol.map_or(part_start, |eol| line.start - eol);
                return Ok(Some(Delimiter { content_end, after: line.start + line.len, close }));
            }
            previous_eol = Some(u64::from(line.eol));
        }
    }

    /// Whether the node is an mbox of more than one message.
    fn is_mbox(&mut self) -> io::Result<bool> {
        self.input.seek(0, self.len);
        match self.input.next_line(MAX_LINE_EXAMINED, &mut self.line)? {
            Some(_) if self.line.starts_with(b"From ") => Ok(self.next_separator()?.is_some()),
            _ => Ok(false),
        }
    }

    /// The offset of the next mbox separator from the input's position: a `From ` line followed by a header
    /// field line. No empty line is required before it, so that a message a client would split off is never
    /// left inside the one before it.
    fn next_separator(&mut self) -> io::Result<Option<u64>> {
        loop {
            let Some(line) = self.input.next_line(MAX_LINE_EXAMINED, &mut self.line)? else {
                return Ok(None);
            };
            if self.line.starts_with(b"From ") {
                let after = line.start + line.len;
                let next = self.input.next_line(MAX_LINE_EXAMINED, &mut self.line)?;
                let field_follows = next.is_some_and(|next| next.whole) && header_name(&self.line).is_some();
                self.input.seek(after, self.len);
                if field_follows {
                    return Ok(Some(line.start));
                }
            }
        }
    }

    fn mbox(&mut self) -> io::Result<()> {
        let mut start = 0;
        let mut index = 0u64;
        loop {
            self.input.seek(start, self.len);
            let content_start = match self.input.next_line(MAX_LINE_EXAMINED, &mut self.line)? {
                Some(line) => line.start + line.len,
                None => return Ok(()),
            };
            let next = self.next_separator()?;
            let end = next.unwrap_or(self.len);
            if self.halted() {
                return Ok(());
            }
            index += 1;
            let raw: Box<dyn Read + '_> = match self.slice.and_then(|bytes| in_memory(bytes, content_start, end)) {
                Some(bytes) => Box::new(bytes),
                None => {
                    self.input.source.seek(SeekFrom::Start(content_start))?;
                    Box::new(Read::take(&mut *self.input.source, end.saturating_sub(content_start)))
                }
            };
            self.children.child(&format!("#{index}"), &mut Decoder::new(raw, Unquote::default()));
            match next {
                Some(next) => start = next,
                None => return Ok(()),
            }
        }
    }
}

/// A reader of bytes `start..end` of the container (from `slice` when it holds them, else from `source`),
/// decoded by `encoding`; a base64 decode records its statistics in `stats`. A uuencoded body is read as it
/// is: its blocks are decoded by [`text_blocks`].
fn open<'r>(
    slice: Option<&'r [u8]>,
    source: &'r mut dyn ReadSeek,
    (start, end): (u64, u64),
    encoding: Encoding,
    stats: &Rc<Cell<Base64Stats>>,
) -> io::Result<Box<dyn Read + 'r>> {
    let end = end.max(start);
    let raw: Box<dyn Read + 'r> = match slice.and_then(|bytes| in_memory(bytes, start, end)) {
        Some(bytes) => Box::new(bytes),
        None => {
            source.seek(SeekFrom::Start(start))?;
            Box::new(Read::take(source, end - start))
        }
    };
    Ok(match encoding {
        Encoding::Identity | Encoding::Uuencode => raw,
        Encoding::Base64 => {
            let decoder = Base64 { quantum: 0, count: 0, stats: Base64Stats::default(), shared: Rc::clone(stats) };
            Box::new(Decoder::new(raw, decoder))
        }
        Encoding::QuotedPrintable => Box::new(Decoder::new(raw, QuotedPrintable::default())),
    })
}

/// What a decoded text part is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedded {
    /// uuencoded and BinHex blocks.
    Blocks,
    DataUri,
}

/// Whether a part is wholly an encoded file (its transfer encoding is uuencode, or its type
/// `application/mac-binhex40`): such a part without any block is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    No,
    Uuencode,
    BinHex,
}

/// The longest line of a text part examined for a `begin` line, or decoded as a uuencoded line (one holds
/// at most 61 characters; longer ones are cut).
const MAX_UU_LINE: usize = 1024;

/// Reads the next line of `input` into `line` without its line end, copying at most `max` bytes of it (the
/// rest is skipped); false at the end of the input.
fn read_line(input: &mut dyn BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        any = true;
        let (take, found) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&available[..take.min(room)]);
        input.consume(take);
        if found {
            break;
        }
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(any)
}

/// The file name of a uuencode `begin <mode> <name>` line (the mode is octal digits; the name may be empty).
fn uu_begin(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"begin ")?;
    let rest = rest.trim_ascii_start();
    let digits = rest.iter().take_while(|b| (b'0'..=b'7').contains(b)).count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let after = &rest[digits..];
    if !after.is_empty() && !matches!(after[0], b' ' | b'\t') {
        return None;
    }
    let name = String::from_utf8_lossy(after.trim_ascii());
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Some(name[..end].to_owned())
}

/// Decodes one uuencoded line: its first character gives the count of bytes (0 to 63), each further four
/// characters three bytes. Leniently, a line shorter than its count says (trailing blanks lost in transport)
/// decodes as if padded with blanks, and characters beyond the count are ignored.
fn uu_line(line: &[u8], output: &mut Vec<u8>) {
    let Some((&count, chars)) = line.split_first() else {
        return;
    };
    let count = usize::from(count.wrapping_sub(b' ') & 0x3f);
    let value = |i: usize| u32::from(chars.get(i).map_or(0, |c| c.wrapping_sub(b' ') & 0x3f));
    let mut written = 0;
    let mut i = 0;
    while written < count {
        let n = value(i) << 18 | value(i + 1) << 12 | value(i + 2) << 6 | value(i + 3);
        for byte in [(n >> 16) as u8, (n >> 8) as u8, n as u8] {
            if written < count {
                output.push(byte);
                written += 1;
            }
        }
        i += 4;
    }
}

/// The decoded bytes of one uuencoded block, read line by line from the text after its `begin` line up to
/// its `end` line or the end of the text.
struct UuBlock<'t> {
    text: &'t mut dyn BufRead,
    line: Vec<u8>,
    output: Vec<u8>,
    position: usize,
    done: bool,
    /// Whether the `end` line was met.
    ended: bool,
}

/// Copies decoded bytes not yet read (`output[*position..]`) into `buf`; `None` when there are none. The one
/// buffering step of the streaming decoders here.
fn copy_pending(output: &[u8], position: &mut usize, buf: &mut [u8]) -> Option<usize> {
    let pending = output.get(*position..).filter(|pending| !pending.is_empty())?;
    let n = buf.len().min(pending.len());
    buf[..n].copy_from_slice(&pending[..n]);
    *position += n;
    Some(n)
}

impl Read for UuBlock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = copy_pending(&self.output, &mut self.position, buf) {
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.output.clear();
            self.position = 0;
            if !read_line(self.text, &mut self.line, MAX_UU_LINE)? {
                self.done = true;
            } else if self.line.trim_ascii_end() == b"end" {
                self.done = true;
                self.ended = true;
            } else {
                uu_line(&self.line, &mut self.output);
            }
        }
    }
}

/// Hands on each uuencoded block of the text part `part` as a child named by its `begin` line (`<part>#uu-N`
/// when that names nothing), and each BinHex 4.0 block as [`binhex_block`] does. A block without its `end`
/// line is decoded to the end of the text and reported; so is a part that is `whole`ly an encoded file but
/// holds no block of its kind.
fn text_blocks(text: &mut dyn BufRead, children: &mut dyn Children, whole: Whole, part: &str) -> io::Result<()> {
    let mut line = Vec::new();
    let mut index = 0u64;
    let mut binhex = 0u64;
    // A `application/mac-binhex40` body may start with the stream itself, without the announcing line.
    if whole == Whole::BinHex && binhex_start(text)? {
        if children.stopped() {
            children.left_unvisited();
            return Ok(());
        }
        binhex += 1;
        binhex_block(text, children, part, binhex)?;
    }
    while read_line(text, &mut line, MAX_UU_LINE)? {
        if line.trim_ascii_start().starts_with(BINHEX_MARKER) {
            if !binhex_start(text)? {
                // Announced, but no stream follows.
                children.problem(DecResult::MimeParsingFailed);
                continue;
            }
            if children.stopped() {
                children.left_unvisited();
                return Ok(());
            }
            binhex += 1;
            binhex_block(text, children, part, binhex)?;
            continue;
        }
        let Some(file) = uu_begin(&line) else {
            continue;
        };
        if children.stopped() {
            children.left_unvisited();
            return Ok(());
        }
        index += 1;
        let name = if file.is_empty() { format!("{part}#uu-{index}") } else { file };
        let mut block =
            UuBlock { text: &mut *text, line: Vec::new(), output: Vec::new(), position: 0, done: false, ended: false };
        children.child(&name, &mut block);
        // The rest of a block the walk did not read (a limit cut it) is skipped, not searched.
        io::copy(&mut block, &mut io::sink())?;
        if !block.ended {
            children.problem(DecResult::MimeParsingFailed);
        }
    }
    if (whole == Whole::Uuencode && index == 0) || (whole == Whole::BinHex && binhex == 0) {
        children.problem(DecResult::MimeParsingFailed);
    }
    Ok(())
}

/// The line that announces a BinHex 4.0 block: `(This file must be converted with BinHex 4.0)`.
const BINHEX_MARKER: &[u8] = b"(This file must be converted with BinHex";

/// BinHex 4.0's 64 characters, in the order of their values.
const BINHEX_ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/// The value of each character of [`BINHEX_ALPHABET`], 0xff for the others.
const BINHEX_VALUES: [u8; 256] = {
    let mut values = [0xff; 256];
    let mut i = 0;
    while i < 64 {
        values[BINHEX_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    values
};

/// Skips blanks and line ends; whether a `:` (the start of a BinHex stream, which is consumed) follows.
fn binhex_start(text: &mut dyn BufRead) -> io::Result<bool> {
    loop {
        let available = text.fill_buf()?;
        match available.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => text.consume(1),
            Some(b':') => {
                text.consume(1);
                return Ok(true);
            }
            _ => return Ok(false),
        }
    }
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), as BinHex computes it.
fn crc16(mut crc: u16, byte: u8) -> u16 {
    crc ^= u16::from(byte) << 8;
    for _ in 0..8 {
        crc = if crc & 0x8000 != 0 { crc << 1 ^ 0x1021 } else { crc << 1 };
    }
    crc
}

/// How a BinHex stream ended: not yet, at its closing `:`, at the end of the text, or at a character
/// outside the alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HqxEnd {
    Open,
    Closed,
    Truncated,
    Corrupt,
}

/// The bytes of a BinHex stream after its opening `:`: six bits a character (blanks and line ends skipped),
/// with the run-length encoding undone (`c 90 n`: `c` n times in all; `90 00`: a literal 0x90).
struct HqxStream<'t> {
    text: &'t mut dyn BufRead,
    bits: u32,
    count: u32,
    /// The last byte written, which a run repeats.
    last: u8,
    /// A 0x90 was read: the next byte is a run's count.
    marker: bool,
    /// Copies of `last` still to write.
    repeat: u32,
    end: HqxEnd,
}

impl HqxStream<'_> {
    /// The next byte of the 6-bit decoding, before the run-length decoding.
    fn raw(&mut self) -> io::Result<Option<u8>> {
        while self.end == HqxEnd::Open {
            let Some(&c) = self.text.fill_buf()?.first() else {
                self.end = HqxEnd::Truncated;
                break;
            };
            self.text.consume(1);
            match c {
                b':' => self.end = HqxEnd::Closed,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => match BINHEX_VALUES[usize::from(c)] {
                    0xff => self.end = HqxEnd::Corrupt,
                    value => {
                        self.bits = (self.bits << 6 | u32::from(value)) & 0x3fff;
                        self.count += 6;
                        if self.count >= 8 {
                            self.count -= 8;
                            return Ok(Some((self.bits >> self.count) as u8));
                        }
                    }
                },
            }
        }
        Ok(None)
    }

    /// The next decoded byte.
    fn byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            if self.repeat > 0 {
                self.repeat -= 1;
                return Ok(Some(self.last));
            }
            let Some(raw) = self.raw()? else {
                return Ok(None);
            };
            if std::mem::take(&mut self.marker) {
                if raw == 0 {
                    self.last = 0x90;
                    return Ok(Some(0x90));
                }
                // The byte before the marker was the first of the run.
                self.repeat = u32::from(raw) - 1;
                continue;
            }
            if raw == 0x90 {
                self.marker = true;
                continue;
            }
            self.last = raw;
            return Ok(Some(raw));
        }
    }

    /// Appends up to `n` bytes to `out`; whether all `n` were there.
    fn take(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<bool> {
        for _ in 0..n {
            match self.byte()? {
                Some(byte) => out.push(byte),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The two-byte CRC that follows a fork, if it is there.
    fn crc(&mut self) -> io::Result<Option<u16>> {
        let mut bytes = Vec::with_capacity(2);
        Ok(self.take(2, &mut bytes)?.then(|| u16::from_be_bytes([bytes[0], bytes[1]])))
    }
}

/// A fork of a BinHex file: at most its declared length, and no more than the stream holds.
struct HqxFork<'s, 't> {
    stream: &'s mut HqxStream<'t>,
    remaining: u64,
    crc: u16,
}

impl Read for HqxFork<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
        for (i, slot) in buf[..want].iter_mut().enumerate() {
            let Some(byte) = self.stream.byte()? else {
                return Ok(i);
            };
            *slot = byte;
            self.crc = crc16(self.crc, byte);
            self.remaining -= 1;
        }
        Ok(want)
    }
}

/// Decodes the BinHex 4.0 stream that follows its opening `:` in `text`: the header (name, type, creator,
/// flags, the forks' lengths, CRC), then the data fork, handed on as a child named by the file name
/// (`<part>#binhex-N` when it is empty), and a non-empty resource fork as `<name>#rsrc`. The forks stream
/// from the text, bounded by what is there, never by their declared lengths. A stream that is cut short or
/// holds a character outside the alphabet, and a CRC that does not match, are reported; what was decoded is
/// handed on all the same.
fn binhex_block(text: &mut dyn BufRead, children: &mut dyn Children, part: &str, index: u64) -> io::Result<()> {
    let mut stream = HqxStream { text, bits: 0, count: 0, last: 0, marker: false, repeat: 0, end: HqxEnd::Open };
    let mut sound = true;
    let mut header = Vec::with_capacity(300);
    // Name length, name, version, type, creator, flags, data length, resource length.
    let complete = stream.take(1, &mut header)? && stream.take(usize::from(header[0]) + 19, &mut header)?;
    let stored = if complete { stream.crc()? } else { None };
    let Some(stored) = stored else {
        children.problem(DecResult::MimeParsingFailed);
        return Ok(());
    };
    sound &= header.iter().fold(0, |crc, &b| crc16(crc, b)) == stored;
    let name_end = 1 + usize::from(header[0]);
    let length =
        |at: usize| u64::from(u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]));
    let (data_len, rsrc_len) = (length(name_end + 11), length(name_end + 15));
    let name = String::from_utf8_lossy(&header[1..name_end]).trim().to_owned();
    let name = if name.is_empty() { format!("{part}#binhex-{index}") } else { name };
    // The data fork always (an empty file is a file), the resource fork when it holds anything.
    for (fork_name, len) in [(name.clone(), data_len), (format!("{name}#rsrc"), rsrc_len)] {
        if len == 0 && fork_name.ends_with("#rsrc") {
            continue;
        }
        if children.stopped() {
            children.left_unvisited();
            break;
        }
        let mut fork = HqxFork { stream: &mut stream, remaining: len, crc: 0 };
        children.child(&fork_name, &mut fork);
        // The rest of a fork the walk did not read (a limit cut it) is decoded for its CRC, not handed on.
        io::copy(&mut fork, &mut io::sink())?;
        let (remaining, crc) = (fork.remaining, fork.crc);
        match stream.crc()? {
            Some(stored) if remaining == 0 => sound &= stored == crc,
            _ => {
                sound = false;
                break;
            }
        }
    }
    // Whatever is left up to the closing `:`.
    while stream.raw()?.is_some() {}
    if !sound || stream.end != HqxEnd::Closed {
        children.problem(DecResult::MimeParsingFailed);
    }
    Ok(())
}

/// The longest media type of a `data:` URI examined for `;base64`.
const MAX_DATA_HEADER: usize = 256;

/// Bytes that end a `data:` URI's payload: quotes, parentheses, angle brackets, an entity, blanks. Line ends
/// do not (a long URI may be wrapped), and the base64 decoder skips them.
fn ends_data(byte: u8) -> bool {
    matches!(byte, b'"' | b'\'' | b'(' | b')' | b'<' | b'>' | b'&' | b'\\' | b' ' | b'\t')
}

/// The payload of a `data:` URI: the text up to a byte for which [`ends_data`] holds, which is left unread.
struct DataPayload<'t> {
    text: &'t mut dyn BufRead,
    done: bool,
}

impl Read for DataPayload<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let available = self.text.fill_buf()?;
        let n = available.iter().take(buf.len()).position(|&b| ends_data(b)).unwrap_or(available.len().min(buf.len()));
        if n < available.len().min(buf.len()) || available.is_empty() {
            self.done = true;
        }
        buf[..n].copy_from_slice(&available[..n]);
        self.text.consume(n);
        Ok(n)
    }
}

/// Hands on the decoded payload of each `data:` URI with `;base64` in the HTML part `part`, as
/// `<part>#data-N`. `data:` is matched in any case, anywhere (attributes, CSS, text alike).
fn data_uris(text: &mut dyn BufRead, children: &mut dyn Children, part: &str) -> io::Result<()> {
    const PREFIX: &[u8] = b"data:";
    let mut matched = 0;
    let mut index = 0u64;
    let mut header = Vec::new();
    loop {
        let available = text.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        let mut found = None;
        for (i, &byte) in available.iter().enumerate() {
            let byte = byte.to_ascii_lowercase();
            if byte == PREFIX[matched] {
                matched += 1;
                if matched == PREFIX.len() {
                    found = Some(i + 1);
                    break;
                }
            } else {
                matched = usize::from(byte == PREFIX[0]);
            }
        }
        let Some(after) = found else {
            let n = available.len();
            text.consume(n);
            continue;
        };
        text.consume(after);
        matched = 0;
        // The media type and parameters, up to the comma.
        header.clear();
        let is_base64 = loop {
            let available = text.fill_buf()?;
            let Some(&byte) = available.first() else {
                break false;
            };
            if byte == b',' {
                text.consume(1);
                break header.to_ascii_lowercase().trim_ascii_end().ends_with(b";base64");
            }
            if header.len() >= MAX_DATA_HEADER || ends_data(byte) || byte == b'\n' {
                break false;
            }
            header.push(byte);
            text.consume(1);
        };
        if !is_base64 {
            continue;
        }
        if children.stopped() {
            children.left_unvisited();
            return Ok(());
        }
        index += 1;
        let stats = Rc::new(Cell::new(Base64Stats::default()));
        let decoder = Base64 { quantum: 0, count: 0, stats: Base64Stats::default(), shared: stats };
        let mut payload = DataPayload { text: &mut *text, done: false };
        children.child(&format!("{part}#data-{index}"), &mut Decoder::new(&mut payload, decoder));
        io::copy(&mut payload, &mut io::sink())?;
    }
}

/// A header block: its field lines (each ended by CRLF), where the body starts, and whether a line that is
/// not a field (or the size limit) ended it.
struct Headers {
    fields: Vec<u8>,
    body_start: u64,
    broken: bool,
}

/// A delimiter line: where the content before it ends, where the line ends, and whether it closes.
struct Delimiter {
    content_end: u64,
    after: u64,
    close: bool,
}

/// Whether `line` (without its line end) is a delimiter line of `boundary`, and if so whether it is the
/// close delimiter.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    rest.iter().all(|&b| b == b' ' || b == b'\t').then_some(close)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Base64,
    QuotedPrintable,
    /// `x-uuencode` and its spellings: the body is handed on as it is, and its uuencoded blocks decoded.
    Uuencode,
}

/// What kind of text a leaf part is: `text/plain` (or no type), `text/html`, or something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    Plain,
    Html,
    /// `application/mac-binhex40`.
    BinHex,
    Other,
}

impl Encoding {
    fn as_str(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Base64 => "base64",
            Encoding::QuotedPrintable => "quoted-printable",
            Encoding::Uuencode => "x-uuencode",
        }
    }
}

enum Kind {
    Multipart { boundary: Option<Vec<u8>>, digest: bool },
    Message,
    Partial,
    Leaf,
}

/// What the MIME fields of one header block say.
#[derive(Debug, Default)]
struct Fields {
    /// Type and subtype, lower case.
    content_type: Option<(String, String)>,
    boundary: Option<String>,
    type_name: Option<String>,
    file_name: Option<String>,
    /// Each `Content-Transfer-Encoding`, trimmed and in lower case.
    transfer_encodings: Vec<String>,
    /// A `Content-Type` that does not parse, or a second one that says otherwise.
    broken: bool,
}

impl Fields {
    fn parse(block: &[u8]) -> Fields {
        let mut fields = Fields::default();
        if block.is_empty() {
            return fields;
        }
        let mut text = block.to_vec();
        text.extend_from_slice(b"\r\n");
        let parser = MessageParser::new().with_mime_headers().default_header_ignore();
        let Some(message) = parser.parse_headers(&text) else {
            return fields;
        };
        let Some(part) = message.parts.first() else {
            return fields;
        };
        let mut seen_type = false;
        for header in &part.headers {
            match (&header.name, &header.value) {
                (HeaderName::ContentType, HeaderValue::ContentType(value)) => {
                    let kind = (
                        value.c_type.trim().to_ascii_lowercase(),
                        value.c_subtype.as_deref().unwrap_or_default().trim().to_ascii_lowercase(),
                    );
                    let boundary = attribute(value.attributes(), "boundary");
                    if seen_type {
                        fields.broken |= fields.content_type.as_ref() != Some(&kind) || fields.boundary != boundary;
                        continue;
                    }
                    seen_type = true;
                    fields.content_type = Some(kind);
                    fields.boundary = boundary;
                    fields.type_name = attribute(value.attributes(), "name");
                }
                (HeaderName::ContentType, _) => {
                    fields.broken = true;
                    seen_type = true;
                }
                (HeaderName::ContentDisposition, HeaderValue::ContentType(value)) if fields.file_name.is_none() => {
                    fields.file_name = attribute(value.attributes(), "filename");
                }
                (HeaderName::ContentTransferEncoding, HeaderValue::Text(value)) => {
                    fields.transfer_encodings.push(value.trim().to_ascii_lowercase());
                }
                (HeaderName::ContentTransferEncoding, _) => fields.transfer_encodings.push(String::new()),
                _ => {}
            }
        }
        fields
    }

    fn kind(&self, in_digest: bool) -> Kind {
        match &self.content_type {
            Some((kind, subtype)) => match (kind.as_str(), subtype.as_str()) {
                ("multipart", subtype) => Kind::Multipart {
                    boundary: self.boundary.as_ref().filter(|b| !b.is_empty()).map(|b| b.as_bytes().to_vec()),
                    digest: subtype == "digest",
                },
                ("message", "rfc822" | "global") => Kind::Message,
                ("message", "partial") => Kind::Partial,
                _ => Kind::Leaf,
            },
            None if in_digest => Kind::Message,
            None => Kind::Leaf,
        }
    }

    /// The distinct transfer encodings in the order declared (identity when none), and whether a declared one
    /// is unknown or two disagree.
    fn encodings(&self) -> (Vec<Encoding>, bool) {
        let mut encodings = Vec::new();
        let mut bad = false;
        for declared in &self.transfer_encodings {
            let encoding = match declared.as_str() {
                "7bit" | "8bit" | "binary" => Encoding::Identity,
                "base64" => Encoding::Base64,
                "quoted-printable" => Encoding::QuotedPrintable,
                "x-uuencode" | "uuencode" | "x-uue" => Encoding::Uuencode,
                _ => {
                    bad = true;
                    Encoding::Identity
                }
            };
            if !encodings.contains(&encoding) {
                encodings.push(encoding);
            }
        }
        bad |= encodings.len() > 1;
        (encodings, bad)
    }

    /// Whether the part is plain text (`text/plain`, or no type) or HTML, for the blocks embedded in it.
    fn text(&self) -> Text {
        match &self.content_type {
            None => Text::Plain,
            Some((kind, subtype)) => match (kind.as_str(), subtype.as_str()) {
                ("text", "plain") => Text::Plain,
                ("text", "html") => Text::Html,
                ("application", "mac-binhex40") => Text::BinHex,
                _ => Text::Other,
            },
        }
    }

    /// The part's name for the path chain: the disposition's file name, else the type's name.
    fn name(&self) -> Option<String> {
        let name =
            [&self.file_name, &self.type_name].into_iter().flatten().map(|n| n.trim()).find(|n| !n.is_empty())?;
        let mut end = name.len().min(MAX_NAME);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        Some(name[..end].to_owned())
    }
}

fn attribute(attributes: Option<&[mail_parser::Attribute<'_>]>, name: &str) -> Option<String> {
    attributes?.iter().find(|a| a.name.eq_ignore_ascii_case(name)).map(|a| a.value.to_string())
}

/// A line: where it starts, its length with its line end, the length of that line end (0 at the end of the
/// input, 1 for LF, 2 for CRLF), and whether the copy holds all of it.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: u64,
    len: u64,
    eol: u8,
    whole: bool,
}

/// Buffered reading of a range of the container, line by line, with the offset of every byte.
struct Input<'s> {
    source: &'s mut dyn ReadSeek,
    buffer: Vec<u8>,
    /// The offset of `buffer[0]` in the container.
    base: u64,
    filled: usize,
    consumed: usize,
    /// Reading stops here.
    end: u64,
}

impl<'s> Input<'s> {
    fn new(source: &'s mut dyn ReadSeek, end: u64) -> Self {
        Input { source, buffer: vec![0; BUFFER], base: 0, filled: 0, consumed: 0, end }
    }

    fn position(&self) -> u64 {
        self.base + self.consumed as u64
    }

    /// Moves to `offset`, reading up to `end`; bytes already buffered are kept.
    fn seek(&mut self, offset: u64, end: u64) {
        self.end = end;
        if offset >= self.base && offset - self.base <= self.filled as u64 {
            self.consumed = (offset - self.base) as usize;
        } else {
            self.base = offset;
            self.filled = 0;
            self.consumed = 0;
        }
    }

    /// The buffered bytes from the position up to the end; empty at the end. The source is sought before each
    /// read, since children are read from it between two calls.
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.consumed >= self.filled {
            let at = self.position();
            self.base = at;
            self.consumed = 0;
            self.filled = 0;
            if at < self.end {
                self.source.seek(SeekFrom::Start(at))?;
                let want = usize::try_from(self.end - at).unwrap_or(usize::MAX).min(self.buffer.len());
                self.filled = read_full(self.source, &mut self.buffer[..want])?;
            }
        }
        let limit = usize::try_from(self.end.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.filled);
        Ok(self.buffer.get(self.consumed.min(limit)..limit).unwrap_or_default())
    }

    fn consume(&mut self, n: usize) {
        self.consumed += n;
    }

    /// Reads the next line, copying at most `max` of its bytes (without the line end, when it fits) to `copy`.
    fn next_line(&mut self, max: usize, copy: &mut Vec<u8>) -> io::Result<Option<Line>> {
        copy.clear();
        let start = self.position();
        let mut len = 0u64;
        let mut last_two = [0u8; 2];
        let mut ended = false;
        loop {
            let available = self.fill()?;
            if available.is_empty() {
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let room = max.saturating_sub(copy.len());
            copy.extend_from_slice(&available[..take.min(room)]);
            last_two = if take >= 2 { [available[take - 2], available[take - 1]] } else { [last_two[1], available[0]] };
            self.consume(take);
            len += take as u64;
            if found {
                ended = true;
                break;
            }
        }
        if len == 0 {
            return Ok(None);
        }
        let eol = match (ended, last_two[0]) {
            (false, _) => 0,
            (true, b'\r') if len >= 2 => 2,
            (true, _) => 1,
        };
        let whole = copy.len() as u64 == len;
        if whole {
            copy.truncate(copy.len() - usize::from(eol));
        }
        Ok(Some(Line { start, len, eol, whole }))
    }
}

/// A transformation of a byte stream that is fed in chunks.
trait Transform {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>);
    fn finish(&mut self, output: &mut Vec<u8>);
}

/// A reader that applies a [`Transform`] to what it reads, in chunks of 16 KiB.
struct Decoder<R, T> {
    inner: R,
    transform: T,
    input: Vec<u8>,
    output: Vec<u8>,
    position: usize,
    done: bool,
}

impl<R: Read, T: Transform> Decoder<R, T> {
    fn new(inner: R, transform: T) -> Self {
        Decoder { inner, transform, input: vec![0; 16 * 1024], output: Vec::new(), position: 0, done: false }
    }
}

impl<R: Read, T: Transform> Read for Decoder<R, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = copy_pending(&self.output, &mut self.position, buf) {
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.output.clear();
            self.position = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                self.transform.finish(&mut self.output);
                self.done = true;
            } else {
                self.transform.feed(&self.input[..n], &mut self.output);
            }
        }
    }
}

/// What a base64 decode met: characters of the alphabet, and others (not whitespace, not `=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Base64Stats {
    alphabet: u64,
    garbage: u64,
}

/// Lenient base64: whitespace and characters outside the alphabet are skipped (the latter counted), `=`
/// ends the current group, whatever it holds, and decoding goes on after it; a group cut short at the end
/// (missing padding) gives the bytes it holds.
struct Base64 {
    quantum: u32,
    count: u8,
    stats: Base64Stats,
    shared: Rc<Cell<Base64Stats>>,
}

const WHITESPACE: u8 = 0xfe;
const OTHER: u8 = 0xff;
const PAD: u8 = 0xfd;

const BASE64: [u8; 256] = {
    let mut table = [OTHER; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table[b' ' as usize] = WHITESPACE;
    table[b'\t' as usize] = WHITESPACE;
    table[b'\r' as usize] = WHITESPACE;
    table[b'\n' as usize] = WHITESPACE;
    table[0x0b] = WHITESPACE;
    table[0x0c] = WHITESPACE;
    table[b'=' as usize] = PAD;
    table
};

impl Base64 {
    fn end_group(&mut self, output: &mut Vec<u8>) {
        let q = self.quantum;
        match self.count {
            2 => output.push((q >> 4) as u8),
            3 => output.extend_from_slice(&[(q >> 10) as u8, (q >> 2) as u8]),
            _ => {}
        }
        self.quantum = 0;
        self.count = 0;
    }
}

impl Transform for Base64 {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        output.reserve(input.len() / 4 * 3 + 3);
        for &byte in input {
            match BASE64[usize::from(byte)] {
                WHITESPACE => {}
                PAD => self.end_group(output),
                OTHER => self.stats.garbage += 1,
                value => {
                    self.stats.alphabet += 1;
                    self.quantum = (self.quantum << 6) | u32::from(value);
                    self.count += 1;
                    if self.count == 4 {
                        let q = self.quantum;
                        output.extend_from_slice(&[(q >> 16) as u8, (q >> 8) as u8, q as u8]);
                        self.quantum = 0;
                        self.count = 0;
                    }
                }
            }
        }
        self.shared.set(self.stats);
    }

    fn finish(&mut self, output: &mut Vec<u8>) {
        self.end_group(output);
        self.shared.set(self.stats);
    }
}

/// Lenient quoted-printable (RFC 2045 6.7): `=XX` (either case) is a byte, `=` before a line end (blanks
/// allowed between) is a soft line break, blanks before a line end are transport padding and dropped; any
/// other `=` is kept as it is.
#[derive(Default)]
struct QuotedPrintable {
    state: QpState,
    /// Blanks not yet known to be data (followed by more on their line) or padding (followed by a line end).
    blanks: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum QpState {
    #[default]
    Text,
    Equals,
    EqualsHex(u8),
    EqualsBlank,
    EqualsCr,
}

/// Blanks held back at most; a longer run is data.
const MAX_BLANKS: usize = 1024;

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

impl QuotedPrintable {
    fn byte(&mut self, byte: u8, output: &mut Vec<u8>) {
        let mut next = Some(byte);
        while let Some(byte) = next.take() {
            match self.state {
                QpState::Text => match byte {
                    b' ' | b'\t' => {
                        if self.blanks.len() >= MAX_BLANKS {
                            output.append(&mut self.blanks);
                        }
                        self.blanks.push(byte);
                    }
                    b'\r' | b'\n' => {
                        self.blanks.clear();
                        output.push(byte);
                    }
                    b'=' => {
                        output.append(&mut self.blanks);
                        self.state = QpState::Equals;
                    }
                    _ => {
                        output.append(&mut self.blanks);
                        output.push(byte);
                    }
                },
                QpState::Equals => match byte {
                    b'\n' => self.state = QpState::Text,
                    b'\r' => self.state = QpState::EqualsCr,
                    b' ' | b'\t' => {
                        self.blanks.push(byte);
                        self.state = QpState::EqualsBlank;
                    }
                    _ if hex(byte).is_some() => self.state = QpState::EqualsHex(byte),
                    _ => {
                        output.push(b'=');
                        self.state = QpState::Text;
                        next = Some(byte);
                    }
                },
                QpState::EqualsHex(first) => match (hex(first), hex(byte)) {
                    (Some(high), Some(low)) => {
                        output.push(high << 4 | low);
                        self.state = QpState::Text;
                    }
                    _ => {
                        output.extend_from_slice(&[b'=', first]);
                        self.state = QpState::Text;
                        next = Some(byte);
                    }
                },
                QpState::EqualsBlank => match byte {
                    b' ' | b'\t' if self.blanks.len() < MAX_BLANKS => self.blanks.push(byte),
                    b'\n' => {
                        self.blanks.clear();
                        self.state = QpState::Text;
                    }
                    b'\r' => {
                        self.blanks.clear();
                        self.state = QpState::EqualsCr;
                    }
                    _ => {
                        output.push(b'=');
                        output.append(&mut self.blanks);
                        self.state = QpState::Text;
                        next = Some(byte);
                    }
                },
                QpState::EqualsCr => {
                    // A soft line break, with or without its LF.
                    self.state = QpState::Text;
                    if byte != b'\n' {
                        next = Some(byte);
                    }
                }
            }
        }
    }
}

impl Transform for QuotedPrintable {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        output.reserve(input.len());
        for &byte in input {
            self.byte(byte, output);
        }
    }

    fn finish(&mut self, output: &mut Vec<u8>) {
        match self.state {
            QpState::Equals => output.push(b'='),
            QpState::EqualsHex(first) => output.extend_from_slice(&[b'=', first]),
            QpState::Text | QpState::EqualsBlank | QpState::EqualsCr => {}
        }
        // Blanks at the very end are padding of the last line.
        self.blanks.clear();
        self.state = QpState::Text;
    }
}

/// mboxrd unquoting: a line of one or more `>` followed by `From ` loses one `>`.
#[derive(Default)]
struct Unquote {
    /// In the middle of a line (not at its start, nor in its leading `>`s).
    middle: bool,
    /// Leading `>`s of the current line, not yet written.
    quotes: u64,
    /// How much of `From ` follows them.
    matched: usize,
}

impl Unquote {
    fn flush(&mut self, output: &mut Vec<u8>) {
        for _ in 0..self.quotes {
            output.push(b'>');
        }
        output.extend_from_slice(&b"From "[..self.matched]);
        self.quotes = 0;
        self.matched = 0;
    }
}

impl Transform for Unquote {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        output.reserve(input.len());
        for &byte in input {
            if self.middle {
                output.push(byte);
                self.middle = byte != b'\n';
                continue;
            }
            if byte == b'>' && self.matched == 0 {
                self.quotes += 1;
                continue;
            }
            if self.quotes > 0 && b"From ".get(self.matched) == Some(&byte) {
                self.matched += 1;
                if self.matched == 5 {
                    self.quotes -= 1;
                    self.flush(output);
                    self.middle = true;
                }
                continue;
            }
            self.flush(output);
            output.push(byte);
            self.middle = byte != b'\n';
        }
    }

    fn finish(&mut self, output: &mut Vec<u8>) {
        self.flush(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(mut t: impl Transform, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut output = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            t.feed(piece, &mut output);
        }
        t.finish(&mut output);
        output
    }

    fn base64(input: &[u8]) -> (Vec<u8>, Base64Stats) {
        let shared = Rc::new(Cell::new(Base64Stats::default()));
        let decoder = Base64 { quantum: 0, count: 0, stats: Base64Stats::default(), shared: Rc::clone(&shared) };
        let out = transform(decoder, input, 3);
        (out, shared.get())
    }

    #[test]
    fn base64_is_lenient() {
        assert_eq!(base64(b"aGVsbG8gd29ybGQ=\r\n").0, b"hello world");
        // Missing padding, line breaks anywhere, garbage skipped and counted.
        let (out, stats) = base64(b"aGVs\nbG8g!d29y*bGQ");
        assert_eq!(out, b"hello world");
        assert_eq!(stats, Base64Stats { alphabet: 15, garbage: 2 });
        // Concatenated encodings: decoding goes on after padding.
        assert_eq!(base64(b"YQ==Yg==YwA=").0, b"abc\0");
        assert_eq!(base64(b"").0, b"");
        assert_eq!(base64(b"Q").0, b"");
    }

    #[test]
    fn quoted_printable_is_lenient() {
        let qp = |input: &[u8]| transform(QuotedPrintable::default(), input, 2);
        assert_eq!(qp(b"caf=C3=A9 =3d x=\r\ny"), "café = xy".as_bytes());
        assert_eq!(qp(b"a=  \r\nb =\nc"), b"ab c");
        // Trailing blanks are padding; a lone or bad `=` stays.
        assert_eq!(qp(b"line   \r\nnext \t"), b"line\r\nnext");
        assert_eq!(qp(b"50% =zz =4 ="), b"50% =zz =4 =");
        assert_eq!(qp(b"=e9=E9"), [0xe9, 0xe9]);
    }

    #[test]
    fn mboxrd_unquoting() {
        let unquote = |input: &[u8]| transform(Unquote::default(), input, 1);
        assert_eq!(
            unquote(b">From a\n>>From b\n> From c\nx >From d\n>Fro"),
            b"From a\n>From b\n> From c\nx >From d\n>Fro"
        );
    }

    /// Children that keep what they are handed.
    #[derive(Default)]
    struct Collect {
        children: Vec<(String, Vec<u8>)>,
        problems: Vec<DecResult>,
    }

    impl Children for Collect {
        fn child(&mut self, name: &str, data: &mut dyn Read) -> super::super::Extracted {
            let mut bytes = Vec::new();
            let complete = data.read_to_end(&mut bytes).is_ok();
            self.children.push((name.to_owned(), bytes));
            super::super::Extracted { complete }
        }
        fn child_in_memory(&mut self, name: &str, content: Content<'_>) -> super::super::Extracted {
            let mut bytes = Vec::new();
            let complete = content.reader().and_then(|mut r| r.read_to_end(&mut bytes)).is_ok();
            self.children.push((name.to_owned(), bytes));
            super::super::Extracted { complete }
        }
        fn whole_buffer_limit(&self) -> u64 {
            1 << 20
        }
        fn problem(&mut self, code: DecResult) {
            self.problems.push(code);
        }
        fn depth(&self) -> u32 {
            1
        }
        fn stopped(&self) -> bool {
            false
        }
        fn left_unvisited(&mut self) {}
    }

    /// corpus's uuencoder (as `uuencode` writes), with LF line ends.
    fn uuencode(name: &str, bytes: &[u8]) -> Vec<u8> {
        corpus::mail::uuencode(name, bytes).into_iter().filter(|&b| b != b'\r').collect()
    }

    fn uu(text: &[u8], whole: bool) -> Collect {
        let mut collect = Collect::default();
        let mut reader = io::BufReader::with_capacity(7, text);
        text_blocks(&mut reader, &mut collect, if whole { Whole::Uuencode } else { Whole::No }, "part").unwrap();
        collect
    }

    #[test]
    fn uuencode_round_trip() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 2, 3, 44, 45, 46, 1000] {
            let text = [&b"Hello,\r\nsee the file.\r\n"[..], &uuencode("f.bin", &data[..len]), b"bye\r\n"].concat();
            let got = uu(&text, false);
            assert_eq!(got.children, [("f.bin".to_owned(), data[..len].to_vec())], "{len}");
            assert!(got.problems.is_empty());
        }
        // CRLF line ends, two blocks, one without a name.
        let text = [uuencode("a.txt", b"first"), uuencode("", b"second")].concat();
        let text: Vec<u8> = text.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
        let got = uu(&text, false);
        assert_eq!(
            got.children,
            [("a.txt".to_owned(), b"first".to_vec()), ("part#uu-2".to_owned(), b"second".to_vec())]
        );
    }

    #[test]
    fn uuencode_is_lenient() {
        // Trailing blanks stripped in transport: a short line decodes as if padded.
        let data = [0u8; 10];
        let text = uuencode("zeros", &data);
        let stripped: Vec<u8> = String::from_utf8(text).unwrap().replace('`', " ").replace(" \n", "\n").into_bytes();
        let stripped: Vec<u8> = String::from_utf8(stripped).unwrap().replace(" \n", "\n").into_bytes();
        assert_eq!(uu(&stripped, false).children[0].1, data);
        // A block without `end`: decoded to the end, reported.
        let data = b"truncated block contents, more than forty-five bytes long in total";
        let text = uuencode("t.txt", data);
        let cut = &text[..text.len() - 6];
        let got = uu(cut, false);
        assert_eq!(got.children, [("t.txt".to_owned(), data.to_vec())]);
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
        // Not begin lines; an x-uuencode part without any block is reported.
        assert_eq!(uu_begin(b"begin 644 a b.txt").as_deref(), Some("a b.txt"));
        assert_eq!(uu_begin(b"begin 0755"), Some(String::new()));
        for line in [&b"begin-base64 644 x"[..], b"begin the story", b"begin 8 x", b"begin 644x"] {
            assert_eq!(uu_begin(line), None);
        }
        let got = uu(b"begin here\nno block\n", true);
        assert!(got.children.is_empty());
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
    }

    fn hqx(text: &[u8], whole: Whole) -> Collect {
        let mut collect = Collect::default();
        let mut reader = io::BufReader::with_capacity(7, text);
        text_blocks(&mut reader, &mut collect, whole, "part").unwrap();
        collect
    }

    #[test]
    fn binhex_round_trip() {
        use corpus::mail::binhex;
        // Runs (3 to 255 and longer), a literal 0x90, runs of 0x90, short repeats.
        let mut data = b"ab\x90c\x90\x90\x90\x90dd".to_vec();
        data.extend([0u8; 300]);
        data.extend([0x90; 7]);
        data.extend((0..=255u8).cycle().take(700));
        for len in [0, 1, 2, 3, 4, 5, 11, 12, 300, data.len()] {
            let text = [&b"Hello,\r\n\r\n"[..], &binhex("f.bin", &data[..len], b""), b"bye\r\n"].concat();
            let got = hqx(&text, Whole::No);
            assert_eq!(got.children, [("f.bin".to_owned(), data[..len].to_vec())], "{len}");
            assert!(got.problems.is_empty(), "{len}");
        }
        let encoded = binhex("x", &[0x90, 0, 0x90, 0x90, 0x90], b"");
        assert!(encoded.windows(2).any(|w| w == b"!!"), "the encoder escapes 0x90 as 90 00");
        // A resource fork; two blocks, one without a name, the second after a uuencoded one; LF line ends.
        let text = [
            binhex("Read Me", b"data fork", b"resource fork\x90\x90\x90\x90"),
            uuencode("u.txt", b"uu"),
            binhex("", &[7; 1000], b""),
        ]
        .concat();
        let text: Vec<u8> = text.into_iter().filter(|&b| b != b'\r').collect();
        let got = hqx(&text, Whole::No);
        assert_eq!(
            got.children,
            [
                ("Read Me".to_owned(), b"data fork".to_vec()),
                ("Read Me#rsrc".to_owned(), b"resource fork\x90\x90\x90\x90".to_vec()),
                ("u.txt".to_owned(), b"uu".to_vec()),
                ("part#binhex-2".to_owned(), vec![7; 1000]),
            ]
        );
        assert!(got.problems.is_empty());
        // An application/mac-binhex40 body may start with the stream; one without any is reported.
        let block = binhex("m", b"mac", b"");
        let stream = &block[block.iter().position(|&b| b == b':').unwrap()..];
        assert_eq!(hqx(stream, Whole::BinHex).children, [("m".to_owned(), b"mac".to_vec())]);
        assert_eq!(hqx(b"no stream\r\n", Whole::BinHex).problems, [DecResult::MimeParsingFailed]);
    }

    #[test]
    fn binhex_damage_is_reported() {
        use corpus::mail::binhex;
        let data: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
        let block = binhex("cut.bin", &data, b"rsrc");
        // Truncated in the data fork: what was decoded is handed on.
        let got = hqx(&block[..block.len() / 2], Whole::No);
        assert_eq!(got.children.len(), 1);
        assert_eq!(got.children[0].0, "cut.bin");
        assert!(!got.children[0].1.is_empty() && data.starts_with(&got.children[0].1));
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
        // Truncated in the header: nothing to hand on.
        let got = hqx(&block[..60], Whole::No);
        assert!(got.children.is_empty());
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
        // A character outside the alphabet ends the stream.
        let mut bad = block.clone();
        let at = bad.len() / 2;
        bad[at] = b'~';
        let got = hqx(&bad, Whole::No);
        assert_eq!(got.children.len(), 1);
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
        // A CRC that does not match: the forks are still handed on whole.
        let mut wrong = binhex("crc.txt", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA?", b"r");
        let at = wrong.len() - 20;
        wrong[at] = if wrong[at] == b'!' { b'"' } else { b'!' };
        let got = hqx(&wrong, Whole::No);
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
        assert_eq!(got.children.len(), 2);
        // Declared lengths are not trusted: a header claiming 4 GiB hands on what is there.
        let mut header = vec![1, b'h', 0];
        header.extend_from_slice(b"TEXTttxt\0\0");
        header.extend_from_slice(&u32::MAX.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
        let crc = header.iter().fold(0, |crc, &b| crc16(crc, b));
        let plain = [&header[..], &crc.to_be_bytes(), b"xyz"].concat();
        let mut text = b"(This file must be converted with BinHex 4.0)\n:".to_vec();
        for chunk in plain.chunks(3) {
            let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for k in 0..=chunk.len() {
                text.push(BINHEX_ALPHABET[(n >> (18 - 6 * k) & 63) as usize]);
            }
        }
        text.push(b':');
        let got = hqx(&text, Whole::No);
        assert_eq!(got.children, [("h".to_owned(), b"xyz".to_vec())]);
        assert_eq!(got.problems, [DecResult::MimeParsingFailed]);
    }

    #[test]
    fn data_uris_in_html() {
        let html = b"<p>x</p><IMG src=\"DATA:image/png;base64,aGVs\r\nbG8=\"><a href='data:text/plain,notbase64'>\
            <div style=\"background:url(data:;base64,d29ybGQ)\"></div>data:;base64,Zm9v";
        let mut collect = Collect::default();
        data_uris(&mut io::BufReader::with_capacity(5, &html[..]), &mut collect, "h.html").unwrap();
        assert_eq!(
            collect.children,
            [
                ("h.html#data-1".to_owned(), b"hello".to_vec()),
                ("h.html#data-2".to_owned(), b"world".to_vec()),
                ("h.html#data-3".to_owned(), b"foo".to_vec()),
            ]
        );
    }

    #[test]
    fn delimiter_lines() {
        assert_eq!(delimiter(b"--abc", b"abc"), Some(false));
        assert_eq!(delimiter(b"--abc-- \t", b"abc"), Some(true));
        assert_eq!(delimiter(b"--abcdef", b"abc"), None);
        assert_eq!(delimiter(b"--abc--x", b"abc"), None);
        assert_eq!(delimiter(b"-abc", b"abc"), None);
    }

    #[test]
    fn fields_with_encoded_names() {
        let fields = Fields::parse(
            b"Content-Type: Multipart/Mixed; BOUNDARY=\"=_b\"\r\nContent-Transfer-Encoding: 7bit\r\n\
              Content-Transfer-Encoding: BASE64\r\n",
        );
        assert_eq!(fields.content_type, Some(("multipart".into(), "mixed".into())));
        assert_eq!(fields.boundary.as_deref(), Some("=_b"));
        assert_eq!(fields.encodings(), (vec![Encoding::Identity, Encoding::Base64], true));
        // RFC 2231 with continuations and a charset, RFC 2047 in a quoted parameter.
        let fields = Fields::parse(
            b"Content-Disposition: attachment;\r\n filename*0*=utf-8''caf%C3%A9;\r\n filename*1=\".zip\"\r\n",
        );
        assert_eq!(fields.name().as_deref(), Some("café.zip"));
        let fields = Fields::parse(b"Content-Type: application/pdf; name=\"=?iso-8859-1?Q?r=E9sum=E9.pdf?=\"\r\n");
        assert_eq!(fields.name().as_deref(), Some("résumé.pdf"));
        let fields = Fields::parse(b"Content-Type: ;;;\r\n");
        assert!(matches!(fields.kind(false), Kind::Leaf));
        assert_eq!(Fields::parse(b"X-Other: 1\r\n").encodings(), (vec![], false));
    }

    #[test]
    fn lines_and_offsets() {
        let data = b"ab\r\ncd\n\nlast";
        let mut cursor = std::io::Cursor::new(&data[..]);
        let mut input = Input::new(&mut cursor, data.len() as u64);
        let mut copy = Vec::new();
        let mut lines = Vec::new();
        while let Some(line) = input.next_line(100, &mut copy).unwrap() {
            lines.push((line.start, line.len, line.eol, copy.clone()));
        }
        assert_eq!(
            lines,
            [(0, 4, 2, b"ab".to_vec()), (4, 3, 1, b"cd".to_vec()), (7, 1, 1, vec![]), (8, 4, 0, b"last".to_vec())]
        );
        // A long line is copied only in part.
        input.seek(0, data.len() as u64);
        let line = input.next_line(1, &mut copy).unwrap().unwrap();
        assert!(!line.whole);
        assert_eq!(copy, b"a");
        assert_eq!(input.position(), 4);
    }
}
