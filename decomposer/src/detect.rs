//! Type detection from bytes, never from names.
//!
//! The walk reads the first [`HEAD_LEN`] bytes of a node (and, for zip archives with data in front such as
//! self-extractors, its last 64 KiB) and asks [`detect`]. Magic numbers decide: gzip `1f 8b 08`, bzip2
//! `BZh1`-`BZh9` followed by a block or end-of-stream magic, xz `fd 37 7a 58 5a 00`, zip `PK\3\4`/`PK\5\6`/
//! `PK\7\8` at offset 0 or an end-of-central-directory record whose central directory is really there, and
//! tar by the checksum of its first 512-byte header. Mail (an RFC 5322 message, a MIME entity or an mbox) by
//! its header block, see [`is_mail`]. A few leaf types are named for the scanner's target
//! types; anything else is [`FileType::Binary`] or [`FileType::Text`].

use std::fmt;

/// How many leading bytes [`detect`] looks at.
pub const HEAD_LEN: usize = 4096;

/// The type of a part, as detected from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileType {
    /// A ZIP archive (possibly with data in front, such as a self-extractor stub).
    Zip,
    /// A tar archive (v7, ustar, GNU or pax).
    Tar,
    /// A gzip stream (one or more members).
    Gzip,
    /// A bzip2 stream (one or more streams).
    Bzip2,
    /// An xz stream (one or more streams).
    Xz,
    /// Mail: an RFC 5322 message or MIME entity (a header block, then a body), or an mbox of messages.
    Mail,
    /// A Windows PE/DOS executable (`MZ`).
    Pe,
    /// An ELF executable or library.
    Elf,
    /// A PDF document.
    Pdf,
    /// Text: no NUL byte and mostly printable in the first 4 KiB.
    Text,
    /// Anything else.
    Binary,
}

impl FileType {
    /// Whether the decomposer opens parts of this type.
    pub fn is_container(self) -> bool {
        matches!(self, FileType::Zip | FileType::Tar | FileType::Gzip | FileType::Bzip2 | FileType::Xz | FileType::Mail)
    }

    /// A short lower-case name (`zip`, `tar`, `gzip`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Zip => "zip",
            FileType::Tar => "tar",
            FileType::Gzip => "gzip",
            FileType::Bzip2 => "bzip2",
            FileType::Xz => "xz",
            FileType::Mail => "mail",
            FileType::Pe => "pe",
            FileType::Elf => "elf",
            FileType::Pdf => "pdf",
            FileType::Text => "text",
            FileType::Binary => "binary",
        }
    }
}

impl FileType {
    /// The type named `name` by [`FileType::as_str`].
    pub fn from_name(name: &str) -> Option<FileType> {
        Some(match name {
            "zip" => FileType::Zip,
            "tar" => FileType::Tar,
            "gzip" => FileType::Gzip,
            "bzip2" => FileType::Bzip2,
            "xz" => FileType::Xz,
            "mail" => FileType::Mail,
            "pe" => FileType::Pe,
            "elf" => FileType::Elf,
            "pdf" => FileType::Pdf,
            "text" => FileType::Text,
            "binary" => FileType::Binary,
            _ => return None,
        })
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Detects the type of a node from its first bytes (`head`, up to [`HEAD_LEN`]) and, when the head names no
/// container, from `ends_a_zip`: whether the node ends with a zip end record whose central directory is
/// really there (a zip with data in front).
pub(crate) fn detect(head: &[u8], ends_a_zip: impl FnOnce() -> bool) -> FileType {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return FileType::Gzip;
    }
    if is_bzip2(head) {
        return FileType::Bzip2;
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return FileType::Xz;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") || head.starts_with(b"PK\x07\x08") {
        return FileType::Zip;
    }
    if is_tar_header(head) {
        return FileType::Tar;
    }
    // Before the zip end record: a mail whose last attachment is a binary zip is still a mail.
    if is_mail(head) {
        return FileType::Mail;
    }
    // A zip with something in front (a self-extractor stub, a script): its end record is at the end.
    if ends_a_zip() {
        return FileType::Zip;
    }
    if head.starts_with(b"MZ") {
        return FileType::Pe;
    }
    if head.starts_with(b"\x7fELF") {
        return FileType::Elf;
    }
    if head.starts_with(b"%PDF-") {
        return FileType::Pdf;
    }
    if is_text(head) { FileType::Text } else { FileType::Binary }
}

fn is_bzip2(head: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == BLOCK || head[4..10] == END)
}

/// A tar header: 512 bytes, not all zero, whose checksum field matches the sum of its bytes (with the
/// checksum field counted as spaces), unsigned or signed as old tars wrote it.
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    let Some(block) = block.get(..512) else {
        return false;
    };
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let Some(stored) = parse_octal(&block[148..156]) else {
        return false;
    };
    let (unsigned, signed) = block.iter().enumerate().fold((0u64, 0i64), |(u, s), (i, &b)| {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        (u + u64::from(b), s + i64::from(b as i8))
    });
    stored == unsigned || i64::try_from(stored).is_ok_and(|stored| stored == signed)
}

/// An octal number as tar writes it: optional leading spaces, digits, then NUL or space.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let trimmed: &[u8] = {
        let start = field.iter().position(|&b| b != b' ')?;
        let rest = &field[start..];
        let end = rest.iter().position(|&b| b == 0 || b == b' ').unwrap_or(rest.len());
        &rest[..end]
    };
    if trimmed.is_empty() || trimmed.len() > 11 {
        return None;
    }
    trimmed.iter().try_fold(0u64, |acc, &b| match b {
        b'0'..=b'7' => Some(acc * 8 + u64::from(b - b'0')),
        _ => None,
    })
}

/// Header names that mark a header block as mail (compared without case).
const MAIL_HEADERS: &[&[u8]] = &[
    b"from",
    b"to",
    b"cc",
    b"bcc",
    b"subject",
    b"date",
    b"received",
    b"return-path",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"content-disposition",
    b"reply-to",
    b"sender",
    b"delivered-to",
    b"in-reply-to",
    b"references",
    b"x-mailer",
    b"user-agent",
    b"dkim-signature",
    b"authentication-results",
    b"x-original-to",
];

/// Mail: the head starts with an RFC 5322 header block (after an optional mbox `From ` line) that ends with
/// an empty line, or runs to the end of the head (a header block longer than the head, or a message without
/// a body). The block must have two of the usual mail header names, or one after a `From ` line, or a
/// `Content-Type` or `Content-Transfer-Encoding` field (a MIME entity: a nested multipart, or an
/// encapsulated message whose only header says how its body is encoded, must be opened so that the body is
/// decoded). Every line of the block must be a header field (`name:` with a printable ASCII name) or a
/// folded continuation, so that prose, source code and binary never pass; only once the fields before it
/// are enough for mail may a line that is not a field end the block (a damaged message, which the parser
/// reports).
pub(crate) fn is_mail(head: &[u8]) -> bool {
    let mut rest = head;
    let mut envelope = false;
    if rest.starts_with(b"From ") {
        let Some(end) = memchr::memchr(b'\n', rest) else {
            return false;
        };
        rest = &rest[end + 1..];
        envelope = true;
    }
    let mut known = 0;
    let mut mime = false;
    let mut fields = 0;
    loop {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(end) => (&rest[..end], Some(&rest[end + 1..])),
            None => (rest, None),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // The empty line that ends the block, or the end of the head.
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if fields == 0 {
                return false;
            }
        } else {
            let Some(name) = header_name(line) else {
                // A line cut by the end of the head may be a field cut short; a broken line after enough mail
                // fields is a damaged message (the parser reports it), not prose.
                if (next.is_none() && fields > 0) || known >= 2 || mime || (envelope && known >= 1) {
                    break;
                }
                return false;
            };
            fields += 1;
            if MAIL_HEADERS.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                known += 1;
            }
            mime |=
                name.eq_ignore_ascii_case(b"content-type") || name.eq_ignore_ascii_case(b"content-transfer-encoding");
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    known >= 2 || mime || (envelope && known >= 1)
}

/// The name of a header field line (`Name: value`, optionally with blanks before the colon), if it is one.
pub(crate) fn header_name(line: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memchr(b':', line)?;
    let name = line[..colon].trim_ascii_end();
    let valid = !name.is_empty()
        && name.len() == name.trim_ascii_start().len()
        && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(name)
}

fn is_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let printable = head.iter().filter(|&&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)).count();
    printable * 100 >= head.len() * 95
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_head(head: &[u8]) -> FileType {
        detect(head, || false)
    }

    #[test]
    fn every_name_names_its_type() {
        let all = [
            FileType::Zip,
            FileType::Tar,
            FileType::Gzip,
            FileType::Bzip2,
            FileType::Xz,
            FileType::Mail,
            FileType::Pe,
            FileType::Elf,
            FileType::Pdf,
            FileType::Text,
            FileType::Binary,
        ];
        for file_type in all {
            assert_eq!(FileType::from_name(file_type.as_str()), Some(file_type));
        }
        assert_eq!(FileType::from_name("ZIP"), None);
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(detect_head(&[0x1f, 0x8b, 0x08, 0, 0]), FileType::Gzip);
        assert_eq!(detect_head(b"BZh91AY&SYxxxx"), FileType::Bzip2);
        assert_eq!(detect_head(b"BZh9nope-not-bzip2"), FileType::Text);
        assert_eq!(detect_head(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]), FileType::Xz);
        assert_eq!(detect_head(b"PK\x03\x04rest"), FileType::Zip);
        assert_eq!(detect_head(b"MZ\x90\x00"), FileType::Pe);
        assert_eq!(detect_head(b"\x7fELF\x02"), FileType::Elf);
        assert_eq!(detect_head(b"%PDF-1.7\n"), FileType::Pdf);
        assert_eq!(detect_head(b"hello world\n"), FileType::Text);
        assert_eq!(detect_head(&[0, 1, 2, 3]), FileType::Binary);
        assert_eq!(detect_head(b""), FileType::Binary);
    }

    #[test]
    fn mail_by_its_header_block() {
        let mail = |head: &[u8]| detect_head(head) == FileType::Mail;
        assert!(mail(b"From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nbody\r\n"));
        assert!(mail(b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nReturn-Path: <a@b>\n\nbody\n"));
        assert!(mail(b"Received: from x\n\tby y;\n Mon, 1 Jan 2024\nReturn-Path: <a@b>\nX-Other: 1\n\nbody"));
        assert!(mail(b"Content-Type: multipart/mixed;\n boundary=\"b\"\n\n--b\n"));
        assert!(mail(b"Content-Transfer-Encoding: base64\n\nQUJD\n"));
        // A header block longer than the head, cut in a field.
        let mut long = b"Received: from a\r\n".repeat(300);
        long.truncate(HEAD_LEN);
        assert!(mail(&long));
        // Headers only: a message without a body.
        assert!(mail(b"From: a@b\nSubject: x\n"));
        // Not mail: prose, one unknown field, a field name with a space, a body line before the blank line.
        assert!(!mail(b"hello world\n"));
        assert!(!mail(b"Name: value\nOther: value\n\n"));
        assert!(!mail(b"From: a\nnot a header\nTo: b\n\n"));
        assert!(mail(b"From: a\nTo: b\nnot a header\n\n"));
        assert!(mail(b"Content-Type: multipart/mixed; boundary=b\nnot a header\n\n"));
        assert!(!mail(b"Dear sir: hello\nTo: b\n\n"));
        assert!(!mail(b" From: a\nTo: b\n\n"));
        assert!(!mail(b"From someone\n\nTo: b\n"));
        assert!(!mail(b""));
    }

    #[test]
    fn tar_by_checksum_not_by_name() {
        let mut header = tar::Header::new_ustar();
        header.set_path("a.txt").unwrap();
        header.set_size(3);
        header.set_cksum();
        assert_eq!(detect_head(header.as_bytes()), FileType::Tar);
        let mut broken = *header.as_bytes();
        broken[0] ^= 1;
        assert_ne!(detect_head(&broken), FileType::Tar);
        assert!(!is_tar_header(&[0u8; 512]));
    }
}
