//! Hash signatures: whole-file hashes (`.hdb`, `.hsb`, allow lists `.fp`, `.sfp`), PE section hashes (`.mdb`,
//! `.msb`) and ignore lists (`.ign`, `.ign2`).
//!
//! These formats are plain colon-separated fields, so the work here is to apply ClamAV's exact acceptance rules
//! (`cli_loadhash`, `hm_addhash_str`, `cli_loadign` in `readdb.c`), which differ from the documentation in places:
//!
//! - the digest algorithm is chosen by the length of the hash string alone (32, 40 or 64 hex digits) in every
//!   hash file; ClamAV loads a SHA-256 line from a `.hdb` file as readily as from a `.hsb` one;
//! - the size is a decimal in `1..=4294967294`; `*` (any size) is accepted only when the line gives a minimum
//!   functionality level of at least 73, and `0` is refused;
//! - the functionality levels are read with C's `atoi`, so a non-numeric level counts as 0, and the level test
//!   comes before the size is validated (a line for a future engine is skipped, not refused).

use std::borrow::Cow;

use super::{Flevel, Line, SkipReason, SyntaxError, chomp, is_comment, refuse, show, split_fields};

/// The two field layouts of hash files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// `HashString:FileSize:MalwareName[:MinFL[:MaxFL]]` (`.hdb`, `.hsb`, `.fp`, `.sfp` and PUA twins): the hash
    /// of a whole file.
    File,
    /// `PESectionSize:PESectionHash:MalwareName[:MinFL[:MaxFL]]` (`.mdb`, `.msb` and PUA twins): the hash of one
    /// section of a PE file.
    PeSection,
}

/// A digest, its algorithm given by the length of the hex string it was written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digest {
    /// 32 hex digits.
    Md5([u8; 16]),
    /// 40 hex digits.
    Sha1([u8; 20]),
    /// 64 hex digits.
    Sha256([u8; 32]),
}

impl Digest {
    /// The digest bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Digest::Md5(bytes) => bytes,
            Digest::Sha1(bytes) => bytes,
            Digest::Sha256(bytes) => bytes,
        }
    }

    /// The algorithm's usual name: `md5`, `sha1` or `sha256`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Digest::Md5(_) => "md5",
            Digest::Sha1(_) => "sha1",
            Digest::Sha256(_) => "sha256",
        }
    }

    /// Reads a hex digest of 32, 40 or 64 digits (either case).
    pub(crate) fn from_hex(text: &[u8]) -> Result<Digest, SyntaxError> {
        match text.len() {
            32 => Ok(Digest::Md5(hex_array(text)?)),
            40 => Ok(Digest::Sha1(hex_array(text)?)),
            64 => Ok(Digest::Sha256(hex_array(text)?)),
            length => refuse(format!(
                "hash {:?} has {length} characters; MD5, SHA-1 and SHA-256 have 32, 40 and 64 hex digits",
                show(text)
            )),
        }
    }
}

/// The size a hash signature applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashSize {
    /// `*`: any size (ClamAV requires a minimum functionality level of 73 for it).
    Any,
    /// Exactly this many bytes (the file, or the PE section).
    Exact(u32),
}

impl HashSize {
    /// Whether an object of `size` bytes is covered.
    pub fn matches(&self, size: u64) -> bool {
        match self {
            HashSize::Any => true,
            HashSize::Exact(exact) => u64::from(*exact) == size,
        }
    }
}

/// One hash line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSignature<'a> {
    /// The signature name (`MalwareName`); for `.fp`/`.sfp` lines, the name of the allowed file. Borrowed from
    /// the line unless it had to be repaired (invalid UTF-8): no allocation per line of a multi-million-line file.
    pub name: Cow<'a, str>,
    /// The expected digest.
    pub digest: Digest,
    /// The size of the hashed object.
    pub size: HashSize,
    /// The functionality-level range written on the line (it includes [`FUNCTIONALITY_LEVEL`](super::FUNCTIONALITY_LEVEL), or the line would
    /// have been skipped).
    pub flevel: Flevel,
}

/// One ignore-list line: signatures of this name are not reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    /// The ignored signature name. ClamAV compares it with the whole name of each signature it loads, after
    /// removing a trailing `.UNOFFICIAL` or `.{...}` from that name.
    pub name: String,
    /// When given (`name:md5`), the name is ignored only while the MD5 of the ignored signature's whole database
    /// line (without its line end) equals this digest, so an updated signature is no longer ignored.
    pub line_md5: Option<[u8; 16]>,
}

const HASH_FIELDS: usize = 5;
/// The earliest functionality level that understands `*` as a size.
const WILDCARD_SIZE_FLEVEL: u32 = 73;

pub(crate) fn parse_hash_line(kind: HashKind, raw: &[u8]) -> Result<Line<HashSignature<'_>>, SyntaxError> {
    if is_comment(raw) {
        return Ok(Line::Comment);
    }
    let line = chomp(raw);
    let (fields, _) = split_fields::<{ HASH_FIELDS + 1 }>(line, b':');
    if fields.len() < 3 {
        return refuse(format!("hash line has {} field(s); it needs hash, size and name", fields.len()));
    }
    if fields.len() > HASH_FIELDS {
        return refuse("hash line has more than 5 fields");
    }
    let (size_field, hash_field) = match kind {
        HashKind::File => (fields.get(1), fields.first()),
        HashKind::PeSection => (fields.first(), fields.get(1)),
    };
    let name_field = fields.get(2).copied().unwrap_or_default();

    // ClamAV reads both levels with atoi and tests them before validating anything else.
    let minimum = fields.get(3).map(|text| c_atoi(text) as u32);
    let maximum = fields.get(4).map(|text| c_atoi(text) as u32);
    let flevel = Flevel { min: minimum, max: maximum };
    if !flevel.applies() {
        return Ok(Line::Skipped { name: show(name_field), reason: SkipReason::FunctionalityLevel(flevel) });
    }

    let size_text = size_field.copied().unwrap_or_default();
    let size = if size_text == b"*" {
        if minimum.is_none_or(|minimum| minimum < WILDCARD_SIZE_FLEVEL) {
            return refuse(format!(
                "size `*` needs a minimum functionality level of at least {WILDCARD_SIZE_FLEVEL} on the line"
            ));
        }
        HashSize::Any
    } else {
        HashSize::Exact(parse_size(size_text)?)
    };
    let name = super::signature_name(name_field)?;
    let digest = Digest::from_hex(hash_field.copied().unwrap_or_default())?;
    Ok(Line::Signature(HashSignature { name, digest, size, flevel }))
}

/// Parses one line of an ignore list (`.ign`, `.ign2`): `Name`, `Name:md5` or the old `db:line:Name`.
pub fn parse_ignore_line(line: impl AsRef<[u8]>) -> Result<Line<IgnoreEntry>, SyntaxError> {
    let raw = line.as_ref();
    if is_comment(raw) {
        return Ok(Line::Comment);
    }
    let line = chomp(raw);
    let (fields, _) = split_fields::<4>(line, b':');
    let (name, md5) = match &fields[..] {
        [name] => (*name, None),
        [name, md5] => (*name, Some(*md5)),
        [_, _, name] => (*name, None),
        _ => return refuse("ignore line has more than 3 fields"),
    };
    if name.is_empty() {
        return refuse("ignore line gives no signature name");
    }
    let line_md5 = match md5 {
        None => None,
        Some(text) if text.len() == 32 => Some(hex_array(text)?),
        Some(text) => return refuse(format!("ignore line MD5 {:?} is not 32 hex digits", show(text))),
    };
    Ok(Line::Signature(IgnoreEntry { name: show(name), line_md5 }))
}

/// A size field as ClamAV reads it with `strtoul`: optional white space and sign, decimal digits, nothing after,
/// and a value in `1..=4294967294`.
fn parse_size(text: &[u8]) -> Result<u32, SyntaxError> {
    let invalid = || SyntaxError::new(format!("size {:?} is not a number in 1..=4294967294 or `*`", show(text)));
    let start = text.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(text.len());
    let mut rest = text.get(start..).unwrap_or_default();
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'+' | b'-')) {
        rest = rest.get(1..).unwrap_or_default();
    }
    if negative || rest.is_empty() || !super::is_number(rest) {
        return Err(invalid());
    }
    match super::decimal_digits(rest) {
        Some(size) if size != 0 && size != u32::MAX => Ok(size),
        _ => Err(invalid()),
    }
}

/// C's `atoi` as glibc computes it: white space, a sign, digits, stop at anything else (0 when nothing is read);
/// the `long` result truncated to `int`.
pub(crate) fn c_atoi(text: &[u8]) -> i32 {
    let start = text.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(text.len());
    let mut rest = text.get(start..).unwrap_or_default();
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'+' | b'-')) {
        rest = rest.get(1..).unwrap_or_default();
    }
    let magnitude = rest
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .fold(0i64, |value, digit| value.saturating_mul(10).saturating_add(i64::from(digit.wrapping_sub(b'0'))));
    let value = if negative { magnitude.saturating_neg() } else { magnitude };
    // C converts the `long` to `int` by keeping the low 32 bits.
    #[allow(clippy::cast_possible_truncation)]
    let truncated = value as i32;
    truncated
}

/// Decodes exactly `N` bytes from `2 * N` hex digits.
fn hex_array<const N: usize>(text: &[u8]) -> Result<[u8; N], SyntaxError> {
    let mut bytes = [0u8; N];
    if text.len() != N.saturating_mul(2) {
        return refuse(format!("{:?} is not {} hex digits", show(text), N.saturating_mul(2)));
    }
    // A table lookup per digit, and one test for the whole digest: millions of lines go through here.
    let mut invalid = 0u8;
    for (byte, pair) in bytes.iter_mut().zip(text.as_chunks::<2>().0) {
        let high = HEX_VALUES[usize::from(pair[0])];
        let low = HEX_VALUES[usize::from(pair[1])];
        invalid |= (high | low) & 0xf0;
        *byte = (high << 4) | (low & 0x0f);
    }
    if invalid != 0 {
        return refuse(format!("{:?} is not hexadecimal", show(text)));
    }
    Ok(bytes)
}

/// Each byte's value as a hex digit, `0xff` for a byte that is none.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut index = 0;
    while index < 256 {
        if let Some(value) = hex_value(index as u8) {
            table[index] = value;
        }
        index += 1;
    }
    table
};

/// The value of one hex digit (either case).
pub(crate) const fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(digit.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(digit.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::FUNCTIONALITY_LEVEL;

    const MD5: &str = "18188e0c1424b9966187bedad4dff968";
    const SHA1: &str = "fada4e4c98f655b6fad48cf594e5b96df29caf3f";
    const SHA256: &str = "e528e33a97850504b5753bc6a56fe52c9ef2c20097c13d2640fb6b8c3d8072c8";

    fn file(line: &str) -> Result<Line<HashSignature<'_>>, SyntaxError> {
        parse_hash_line(HashKind::File, line.as_bytes())
    }

    fn signature(line: &str) -> HashSignature<'static> {
        match file(line) {
            Ok(Line::Signature(signature)) => {
                HashSignature { name: Cow::Owned(signature.name.into_owned()), ..signature }
            }
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn digest_by_length_in_any_hash_file() {
        // Oracle: clamscan finds the MD5, SHA-1 and SHA-256 forms of the same file in a `.hdb` file alike.
        assert!(matches!(signature(&format!("{MD5}:21:H")).digest, Digest::Md5(_)));
        assert!(matches!(signature(&format!("{SHA1}:21:H")).digest, Digest::Sha1(_)));
        let sha256 = signature(&format!("{SHA256}:21:H"));
        assert_eq!(sha256.digest.algorithm(), "sha256");
        assert_eq!(sha256.digest.bytes().first(), Some(&0xe5));
        assert_eq!(sha256.size, HashSize::Exact(21));
        assert_eq!(sha256.name, "H");
        // Oracle: upper-case hex is found too.
        assert!(matches!(signature(&format!("{}:21:H", MD5.to_uppercase())).digest, Digest::Md5(_)));
    }

    #[test]
    fn refusals() {
        // Oracle: each of these is "Malformed database" for clamscan.
        for (line, reason) in [
            (format!("{MD5}:21"), "field"),
            (format!("{MD5}:21:H:1:300:4"), "more than 5"),
            (format!("{MD5}:0:H"), "size"),
            (format!("{MD5}:4294967295:H"), "size"),
            (format!("{MD5}:-5:H"), "size"),
            (format!("{MD5}:5x:H"), "size"),
            (format!("{MD5}::H"), "size"),
            (format!("{MD5}:21:"), "empty signature name"),
            (format!("{MD5}:21: (Clam)"), "empty signature name"),
            (format!("{}g:21:H", &MD5[..31]), "hexadecimal"),
            (format!("{}:21:H", &MD5[..30]), "characters"),
            (String::new(), "field"),
        ] {
            let error = file(&line).expect_err(&line);
            assert!(error.reason.contains(reason), "{line}: {error}");
        }
    }

    #[test]
    fn wildcard_size_needs_flevel_73() {
        // Oracle: `*` without a MinFL, with 72, or with a non-numeric one is refused; with 73 it is found.
        for line in [format!("{MD5}:*:H"), format!("{MD5}:*:H:72"), format!("{MD5}:*:H:x")] {
            assert!(file(&line).is_err(), "{line}");
        }
        assert_eq!(signature(&format!("{MD5}:*:H:73")).size, HashSize::Any);
        // Oracle: `*:H:217` is skipped silently (not refused): the level test comes first.
        assert!(matches!(file(&format!("{MD5}:*:H:217")), Ok(Line::Skipped { .. })));
        let line = format!("*:{MD5}:H");
        let section = parse_hash_line(HashKind::PeSection, line.as_bytes());
        assert!(section.is_err());
        let line = format!("*:{MD5}:H:73");
        let section = parse_hash_line(HashKind::PeSection, line.as_bytes());
        assert!(matches!(section, Ok(Line::Signature(HashSignature { size: HashSize::Any, .. }))));
    }

    #[test]
    fn lenient_fields_clamav_accepts() {
        // Oracle: all found by clamscan. A non-numeric MinFL reads as 0; the size may have a leading space or
        // plus sign; " (Clam)" is cut from names.
        assert_eq!(signature(&format!("{MD5}:21:H:x")).flevel, Flevel { min: Some(0), max: None });
        assert_eq!(signature(&format!("{MD5}: 21:H")).size, HashSize::Exact(21));
        assert_eq!(signature(&format!("{MD5}:+21:H")).size, HashSize::Exact(21));
        assert_eq!(signature(&format!("{MD5}:21:H (Clam)")).name, "H");
        assert_eq!(signature(&format!("{MD5}:4294967294:H\r\n")).size, HashSize::Exact(u32::MAX - 1));
        assert!(HashSize::Any.matches(7));
        assert!(HashSize::Exact(7).matches(7) && !HashSize::Exact(7).matches(8));
    }

    #[test]
    fn flevel_skips() {
        // Oracle: `:1:2` is skipped, `:1:300` is found.
        assert!(matches!(
            file(&format!("{MD5}:21:H:1:2")),
            Ok(Line::Skipped { reason: SkipReason::FunctionalityLevel(Flevel { min: Some(1), max: Some(2) }), .. })
        ));
        assert_eq!(signature(&format!("{MD5}:21:H:1:300")).flevel, Flevel { min: Some(1), max: Some(300) });
        assert!(matches!(file(&format!("{MD5}:21:H:{}", FUNCTIONALITY_LEVEL + 1)), Ok(Line::Skipped { .. })));
        // A negative minimum wraps to a huge unsigned level in ClamAV, so the line is skipped.
        assert!(matches!(file(&format!("{MD5}:21:H:-1")), Ok(Line::Skipped { .. })));
    }

    #[test]
    fn section_hashes_reverse_the_first_fields() {
        let text = format!("512:{SHA256}:S");
        let line = parse_hash_line(HashKind::PeSection, text.as_bytes());
        let Ok(Line::Signature(signature)) = line else { panic!("{line:?}") };
        assert_eq!(signature.size, HashSize::Exact(512));
        assert!(matches!(signature.digest, Digest::Sha256(_)));
        // Oracle: section size 0 is refused.
        assert!(parse_hash_line(HashKind::PeSection, format!("0:{MD5}:S").as_bytes()).is_err());
    }

    #[test]
    fn comments() {
        // Oracle: a `#` line loads nothing and is no error; a blank line is an error.
        assert_eq!(file("#x"), Ok(Line::Comment));
        assert!(file("").is_err());
        assert!(file(" #x").is_err());
    }

    #[test]
    fn ignore_lines() {
        let entry = parse_ignore_line("Eicar-Test-Signature").map(Line::signature);
        assert_eq!(entry, Ok(Some(IgnoreEntry { name: "Eicar-Test-Signature".into(), line_md5: None })));
        let entry = parse_ignore_line(format!("Eicar-Test-Signature:{MD5}\n")).map(Line::signature);
        assert!(matches!(entry, Ok(Some(IgnoreEntry { line_md5: Some([0x18, ..]), .. }))));
        let entry = parse_ignore_line("daily.db:42:Old.Name").map(Line::signature);
        assert_eq!(entry, Ok(Some(IgnoreEntry { name: "Old.Name".into(), line_md5: None })));
        assert_eq!(parse_ignore_line("# note"), Ok(Line::Comment));
        assert!(parse_ignore_line("").is_err());
        assert!(parse_ignore_line(":abc").is_err());
        assert!(parse_ignore_line("a:b:c:d").is_err());
        assert!(parse_ignore_line("name:1234").is_err());
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(c_atoi(b" 73x"), 73);
        assert_eq!(c_atoi(b"x"), 0);
        assert_eq!(c_atoi(b"-1"), -1);
        assert_eq!(c_atoi(b"+5"), 5);
        assert_eq!(c_atoi(b"4294967296"), 0);
    }
}
