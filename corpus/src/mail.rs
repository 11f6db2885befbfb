//! A small MIME writer for the mail generators and the decomposer's mail tests: header blocks, the base64 and
//! quoted-printable transfer encodings, uuencoded and BinHex blocks, multipart bodies and SMTP dot-stuffing.
//! It writes what mail clients write (CRLF line ends, 76-character base64 lines); the generators damage its
//! output where a case needs it.

/// The header block every generated message starts with (CRLF line ends, no empty line).
pub fn message_headers(subject: &str) -> String {
    format!(
        "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: {subject}\r\n\
         Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{}@example.com>\r\nMIME-Version: 1.0\r\n",
        subject.replace(' ', ".")
    )
}

/// An entity: header fields (each without its line end), an empty line, the body.
pub fn entity(fields: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in fields {
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A message: [`message_headers`], then `fields`, an empty line and the body.
pub fn message(subject: &str, fields: &[&str], body: &[u8]) -> Vec<u8> {
    [message_headers(subject).into_bytes(), entity(fields, body)].concat()
}

/// A multipart body: each part (an entity) after a delimiter line, then the close delimiter.
pub fn multipart_body(boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// base64 (RFC 2045 6.8) in lines of 76 characters ended by CRLF.
pub fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = Vec::with_capacity(bytes.len() / 3 * 4 + 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                encoded.push(b'=');
            }
        }
    }
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for line in encoded.chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// quoted-printable (RFC 2045 6.7) of any bytes: printable ASCII as is, everything else (line ends included)
/// as `=XX`, a space as is unless a soft line break or the end follows it, soft line breaks keeping lines
/// under 76 characters.
pub fn quoted_printable(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut column = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let literal = (byte.is_ascii_graphic() && byte != b'=') || (byte == b' ' && !last && column < 70);
        let width = if literal { 1 } else { 3 };
        if column + width > 72 {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if literal {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("={byte:02X}").as_bytes());
        }
        column += width;
        // A space before a soft line break would be taken for padding: break after a literal space only
        // when more follows on the line.
        if byte == b' ' && literal && column >= 70 {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
    }
    out
}

/// A uuencoded block as `uuencode` writes it: a `begin 644 <name>` line, lines of 45 bytes each (a count
/// character, then four characters for every three bytes, `` ` `` for zero), a `` ` `` line and `end`, CRLF.
pub fn uuencode(name: &str, bytes: &[u8]) -> Vec<u8> {
    let char = |v: u32| if v == 0 { b'`' } else { b' ' + v as u8 };
    let mut out = format!("begin 644 {name}\r\n").into_bytes();
    for line in bytes.chunks(45) {
        out.push(char(line.len() as u32));
        for group in line.chunks(3) {
            let g = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
            let n = u32::from(g[0]) << 16 | u32::from(g[1]) << 8 | u32::from(g[2]);
            out.extend([18, 12, 6, 0].map(|shift| char(n >> shift & 63)));
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"`\r\nend\r\n");
    out
}

/// A BinHex 4.0 file as BinHex writes it: the `(This file must be converted with BinHex 4.0)` line, then
/// between two `:` the header (name, type `TEXT`, creator `ttxt`, no flags, the forks' lengths) and both forks,
/// each followed by its CRC-16/XMODEM, run-length encoded (a run of 3 to 255 equal bytes as `c 90 n`, a
/// literal 0x90 as `90 00`) and written six bits a character in lines of 64, CRLF.
pub fn binhex(name: &str, data: &[u8], rsrc: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
    fn crc(bytes: &[u8]) -> [u8; 2] {
        let mut crc = 0u16;
        for &byte in bytes {
            crc ^= u16::from(byte) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 { crc << 1 ^ 0x1021 } else { crc << 1 };
            }
        }
        crc.to_be_bytes()
    }
    let mut header = vec![name.len() as u8];
    header.extend_from_slice(name.as_bytes());
    header.push(0);
    header.extend_from_slice(b"TEXTttxt\0\0");
    header.extend_from_slice(&(data.len() as u32).to_be_bytes());
    header.extend_from_slice(&(rsrc.len() as u32).to_be_bytes());
    let plain = [&header[..], &crc(&header), data, &crc(data), rsrc, &crc(rsrc)].concat();
    let mut rle = Vec::with_capacity(plain.len() + 16);
    let mut i = 0;
    while i < plain.len() {
        let byte = plain[i];
        let run = plain[i..].iter().take(255).take_while(|&&b| b == byte).count();
        if byte == 0x90 {
            rle.extend_from_slice(&[0x90, 0]);
        } else {
            rle.push(byte);
        }
        if run >= 3 {
            rle.extend_from_slice(&[0x90, run as u8]);
            i += run;
        } else {
            i += 1;
        }
    }
    let mut encoded = vec![b':'];
    for chunk in rle.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..=chunk.len() {
            encoded.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]);
        }
    }
    encoded.push(b':');
    let mut out = b"(This file must be converted with BinHex 4.0)\r\n".to_vec();
    for line in encoded.chunks(64) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// SMTP DATA in wire form (RFC 5321 4.5.2): every line that starts with `.` gets one more, and the data ends
/// with a line holding a single `.`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoders() {
        assert_eq!(base64(b"hello world"), b"aGVsbG8gd29ybGQ=\r\n");
        assert_eq!(base64(b""), b"");
        assert_eq!(base64(&[0; 60]).len(), 80 + 2 + 2);
        assert_eq!(quoted_printable("café = x ".as_bytes()), b"caf=C3=A9 =3D x=20");
        assert_eq!(uuencode("a", b"Cat"), b"begin 644 a\r\n#0V%T\r\n`\r\nend\r\n");
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        let long = quoted_printable(&[b'a'; 200]);
        assert!(long.split(|&b| b == b'\n').all(|line| line.len() <= 76));
    }
}
