//! SMTP wire form: undoing the dot-stuffing of a DATA payload (RFC 5321 section 4.5.2).
//!
//! A sender doubles the leading `.` of every line that starts with one and ends the data with a line holding a
//! single `.`. Scanning the stuffed form would hide content (a line of an attachment that starts with a dot
//! decodes differently), which is why CSAPI recommends `use_wire_rep = false`: the scanner un-stuffs first.

/// The message a wire-form DATA payload carries: the first `.` of each line that starts with one removed, and
/// the end-of-data line (`.` alone) and anything after it dropped. CRLF and bare LF line ends are both
/// accepted and kept as they are.
pub fn unstuff(wire: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(wire.len());
    for line in wire.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
        if content == b"." {
            break;
        }
        message.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::unstuff;

    #[test]
    fn leading_dots_are_unstuffed_and_the_end_line_dropped() {
        let wire = b"Subject: x\r\n\r\n..hidden line\r\n.\r\nafter the end\r\n";
        assert_eq!(unstuff(wire), b"Subject: x\r\n\r\n.hidden line\r\n");
    }

    #[test]
    fn bare_lf_and_a_missing_end_line_are_accepted() {
        assert_eq!(unstuff(b"a\n..b\n...c"), b"a\n.b\n..c");
        assert_eq!(unstuff(b""), b"");
        assert_eq!(unstuff(b".\n"), b"");
    }

    #[test]
    fn a_dot_inside_a_line_is_data() {
        assert_eq!(unstuff(b"a.b\r\n .\r\n"), b"a.b\r\n .\r\n");
    }
}
