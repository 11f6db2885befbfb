//! ClamAV signature syntax: one database line in, one typed signature (or a typed refusal) out.
//!
//! The scanner loads ClamAV's text databases (`.hdb`, `.hsb`, `.mdb`, `.ndb`, `.ldb`, `.fp`, `.ign2`, ...).
//! This module turns each line into a value the matcher can use, and decides, line by line, what ClamAV 1.4
//! itself decides: a line ClamAV loads is accepted, a line ClamAV refuses ("Malformed database") is refused with a
//! [`SyntaxError`] saying why, and a line ClamAV skips without a word (a functionality level it does not have, a
//! target type it does not know, an attribute it does not know) comes back as [`Line::Skipped`] with the reason.
//! The rules were read in ClamAV's `readdb.c`, `matcher-ac.c`, `matcher.c` and `filtering.c` and checked against
//! `clamscan` 1.4.6; the tests name each oracle result.
//!
//! The module is shaped by what consumes it:
//!
//! - [`hash`]: file and PE-section hash lines, allow lists (`.fp`, `.sfp`) and ignore lists (`.ign`, `.ign2`).
//! - [`body`]: the hex-signature syntax shared by `.ndb` and `.ldb`, its offsets, and the compiler that turns a
//!   signature into a [`Pattern`]: segments cut at unbounded (or long) gaps, each with one fixed-byte anchor for a
//!   multi-pattern prefilter and a verifier for the rest.
//! - [`segment`]: the segment verifier. It simulates a set of possible positions token by token, so alternatives,
//!   bounded skips and boundary assertions are checked without backtracking: the work is bounded by the window
//!   length times the number of tokens, whatever the input.
//! - [`logical`]: `.ldb` lines: the target description block, the logical expression (parsed with ClamAV's own
//!   operator grouping) and the subsignatures.
//!
//! Nothing here panics on any input, allocates from a size written in the input, or recurses deeper than a fixed
//! bound: database files are input too.

pub mod body;
pub mod hash;
pub mod logical;
pub mod segment;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod property_tests;

use std::borrow::Cow;
use std::fmt;

pub use body::{BodySignature, Gap, MAX_INLINE_GAP, Modifiers, Offset, Pattern, RelativeOffset, StartRange};
pub use hash::{Digest, HashKind, HashSignature, HashSize, IgnoreEntry};
pub use logical::{
    Attribute, Comparison, CountCondition, Expression, LogicalSignature, SubSignature, SubSignatureKind,
    TargetDescription,
};
pub use segment::{Segment, VerifyScratch};

/// The functionality level (FLEVEL) of the ClamAV release whose behaviour this module reproduces: 216 is
/// ClamAV 1.4.6 (`clamscan` loads a `:216` line and skips a `:217` one). Lines whose minimum level is above it, or
/// whose maximum level is below it, are skipped the way ClamAV skips them: silently, as [`Line::Skipped`].
pub const FUNCTIONALITY_LEVEL: u32 = 216;

/// Why a database line was refused. The caller adds the file name and the line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SyntaxError {
    /// What is wrong, with the offending text, in the words a signature writer would use.
    pub reason: String,
}

impl SyntaxError {
    /// A refusal with this reason.
    pub(crate) fn new(reason: impl Into<String>) -> SyntaxError {
        SyntaxError { reason: reason.into() }
    }
}

/// Shorthand for `Err(SyntaxError::new(reason))`.
pub(crate) fn refuse<T>(reason: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError::new(reason))
}

/// What one database line amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<T> {
    /// A signature to load.
    Signature(T),
    /// A comment: ClamAV ignores every line whose first byte is `#`.
    Comment,
    /// A well-enough-formed line that ClamAV 1.4 skips without an error; it loads nothing.
    Skipped {
        /// The signature name, as far as it was read.
        name: String,
        /// Why ClamAV skips it.
        reason: SkipReason,
    },
}

impl<T> Line<T> {
    /// The signature, if the line holds one to load.
    pub fn signature(self) -> Option<T> {
        match self {
            Line::Signature(signature) => Some(signature),
            Line::Comment | Line::Skipped { .. } => None,
        }
    }
}

/// Why ClamAV skips a line without reporting an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The line's functionality-level range does not contain [`FUNCTIONALITY_LEVEL`]. ClamAV checks this before
    /// anything else on the line, so the rest of such a line is not validated.
    FunctionalityLevel(Flevel),
    /// A target type number above 14 (ClamAV knows 0..=14).
    UnknownTarget(u64),
    /// A logical signature attribute ClamAV does not know (for example `SectOff`, which is commented out in
    /// ClamAV's attribute table).
    UnknownAttribute(String),
    /// A `CL_TYPE_*` name ClamAV does not know, in `Container`, `HandlerType` or `Intermediates`.
    UnknownFileType(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::FunctionalityLevel(flevel) => {
                write!(formatter, "functionality level {flevel} does not include {FUNCTIONALITY_LEVEL}")
            }
            SkipReason::UnknownTarget(number) => write!(formatter, "unknown target type {number}"),
            SkipReason::UnknownAttribute(name) => write!(formatter, "unknown attribute {name}"),
            SkipReason::UnknownFileType(name) => write!(formatter, "unknown file type {name}"),
        }
    }
}

/// A functionality-level range: the line applies to engines whose level lies in `min..=max`. An absent bound is
/// unbounded (`.ndb` and hash lines may give only a minimum, or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flevel {
    /// Lowest engine level the line is meant for.
    pub min: Option<u32>,
    /// Highest engine level the line is meant for.
    pub max: Option<u32>,
}

impl Flevel {
    /// Whether an engine of `level` loads the line.
    pub fn applies_to(&self, level: u32) -> bool {
        self.min.is_none_or(|min| min <= level) && self.max.is_none_or(|max| level <= max)
    }

    /// Whether this module's engine level, [`FUNCTIONALITY_LEVEL`], loads the line.
    pub fn applies(&self) -> bool {
        self.applies_to(FUNCTIONALITY_LEVEL)
    }
}

impl fmt::Display for Flevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(min), Some(max)) => write!(formatter, "{min}-{max}"),
            (Some(min), None) => write!(formatter, "{min}-"),
            (None, Some(max)) => write!(formatter, "-{max}"),
            (None, None) => write!(formatter, "any"),
        }
    }
}

/// The file types a body or logical signature may be restricted to: ClamAV's "target types" 0..=14, with the
/// names ClamAV's matcher table gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// 0, `GENERIC`: any file.
    Any,
    /// 1, `PE`: Portable Executable, 32 and 64 bit.
    PortableExecutable,
    /// 2, `OLE2`: OLE2 containers (MS Office, MSI), including macros.
    Ole2,
    /// 3, `HTML`: normalized HTML.
    Html,
    /// 4, `MAIL`: mail files.
    Mail,
    /// 5, `GRAPHICS`: images.
    Graphics,
    /// 6, `ELF`.
    Elf,
    /// 7, `ASCII`: normalized ASCII text.
    Ascii,
    /// 8, `NOT USED`.
    Unused,
    /// 9, `MACH-O`.
    MachO,
    /// 10, `PDF`.
    Pdf,
    /// 11, `FLASH`.
    Flash,
    /// 12, `JAVA`: Java class files.
    Java,
    /// 13, `INTERNAL`: ClamAV-internal use.
    Internal,
    /// 14, `OTHER`.
    Other,
}

impl Target {
    /// All targets, by number.
    pub const ALL: [Target; 15] = [
        Target::Any,
        Target::PortableExecutable,
        Target::Ole2,
        Target::Html,
        Target::Mail,
        Target::Graphics,
        Target::Elf,
        Target::Ascii,
        Target::Unused,
        Target::MachO,
        Target::Pdf,
        Target::Flash,
        Target::Java,
        Target::Internal,
        Target::Other,
    ];

    /// The target with ClamAV's number `number`, if there is one.
    pub fn from_number(number: u64) -> Option<Target> {
        usize::try_from(number).ok().and_then(|index| Target::ALL.get(index).copied())
    }

    /// ClamAV's number for the target.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// ClamAV's name for the target (`cli_mtargets`).
    pub fn clamav_name(self) -> &'static str {
        match self {
            Target::Any => "GENERIC",
            Target::PortableExecutable => "PE",
            Target::Ole2 => "OLE2",
            Target::Html => "HTML",
            Target::Mail => "MAIL",
            Target::Graphics => "GRAPHICS",
            Target::Elf => "ELF",
            Target::Ascii => "ASCII",
            Target::Unused => "NOT USED",
            Target::MachO => "MACH-O",
            Target::Pdf => "PDF",
            Target::Flash => "FLASH",
            Target::Java => "JAVA",
            Target::Internal => "INTERNAL",
            Target::Other => "OTHER",
        }
    }

    /// Whether offsets relative to executable structure (`EP+n`, `Sx+n`, `SEx`, `SL+n`, `VI`) are allowed:
    /// ClamAV refuses them outside PE, ELF and Mach-O signatures.
    pub fn is_executable(self) -> bool {
        matches!(self, Target::PortableExecutable | Target::Elf | Target::MachO)
    }

    /// Whether ClamAV runs its q-gram prefilter for this target (`cli_mtargets`: GENERIC, PE, MAIL, ASCII). The
    /// prefilter refuses some patterns at load time, so validity depends on the target.
    pub(crate) fn has_prefilter(self) -> bool {
        matches!(self, Target::Any | Target::PortableExecutable | Target::Mail | Target::Ascii)
    }

    /// Whether ClamAV matches this target's plain static `.ndb` patterns with Boyer-Moore (which needs 3 bytes)
    /// rather than Aho-Corasick (which needs 2): only GENERIC and PE have a Boyer-Moore matcher.
    pub(crate) fn has_boyer_moore(self) -> bool {
        matches!(self, Target::Any | Target::PortableExecutable)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.number(), self.clamav_name())
    }
}

/// How a database file is read, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Hash lines ([`parse_hash_line`]) of this kind.
    Hash(HashKind),
    /// `.ndb` lines ([`parse_body_line`]).
    Body,
    /// `.ldb` lines ([`parse_logical_line`]).
    Logical,
    /// Ignore-list lines ([`hash::parse_ignore_line`]).
    Ignore,
}

/// ClamAV database file kinds, named by their extension. ClamAV picks the loader from the file name's ending,
/// case-insensitively; [`FileKind::from_file_name`] does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `.hdb`: file hashes (MD5, SHA-1 or SHA-256 by length; ClamAV reads `.hdb` and `.hsb` alike).
    Hdb,
    /// `.hsb`: file hashes, SHA-1/SHA-256 by convention.
    Hsb,
    /// `.hdu`: `.hdb` for potentially unwanted applications (loaded only when PUA detection is on).
    Hdu,
    /// `.hsu`: `.hsb` for potentially unwanted applications.
    Hsu,
    /// `.mdb`: PE section hashes.
    Mdb,
    /// `.msb`: PE section hashes, SHA by convention.
    Msb,
    /// `.mdu`: `.mdb` for potentially unwanted applications.
    Mdu,
    /// `.msu`: `.msb` for potentially unwanted applications.
    Msu,
    /// `.ndb`: extended body signatures.
    Ndb,
    /// `.ndu`: `.ndb` for potentially unwanted applications.
    Ndu,
    /// `.ldb`: logical signatures.
    Ldb,
    /// `.ldu`: `.ldb` for potentially unwanted applications.
    Ldu,
    /// `.fp`: allow list of file hashes (MD5 by convention).
    Fp,
    /// `.sfp`: allow list of file hashes (SHA by convention).
    Sfp,
    /// `.ign`: ignored signature names (old format).
    Ign,
    /// `.ign2`: ignored signature names, optionally with the MD5 of the ignored line.
    Ign2,
    /// `.imp`: PE import-table hashes (not parsed here).
    Imp,
    /// `.db`: the original, deprecated body format (not parsed here).
    Db,
    /// `.sdb`: self-protection `.ndb` (not parsed here).
    Sdb,
    /// `.zmd`, `.rmd`: archive metadata (not parsed here).
    ArchiveMetadata,
    /// `.cvd`, `.cld`, `.cud`: signed database containers (unpack them first).
    Container,
    /// `.crb`, `.cat`: Authenticode trust rules and catalogs (not parsed here).
    Authenticode,
    /// `.cfg`: dynamic configuration (not parsed here).
    Cfg,
    /// `.info`: database information (not parsed here).
    Info,
    /// `.ftm`: file type magic (not parsed here).
    Ftm,
    /// `.cdb`: container metadata signatures (not parsed here).
    Cdb,
    /// `.idb`: icon signatures (not parsed here).
    Idb,
    /// `.pdb`, `.gdb`, `.wdb`: phishing URL signatures (not parsed here).
    Phishing,
    /// `.cbc`: bytecode signatures (not parsed here).
    Cbc,
    /// `.yar`, `.yara`: YARA rules (not parsed here).
    Yara,
    /// `.pwdb`: archive passwords (not parsed here).
    Pwdb,
    /// `.ioc`: OpenIOC (not parsed here).
    Ioc,
}

impl FileKind {
    /// Every extension ClamAV 1.4 loads, with its kind. No extension here ends another one, so the order does
    /// not matter.
    const EXTENSIONS: [(&'static str, FileKind); 39] = [
        (".db", FileKind::Db),
        (".cvd", FileKind::Container),
        (".cld", FileKind::Container),
        (".cud", FileKind::Container),
        (".crb", FileKind::Authenticode),
        (".hdb", FileKind::Hdb),
        (".hsb", FileKind::Hsb),
        (".hdu", FileKind::Hdu),
        (".hsu", FileKind::Hsu),
        (".fp", FileKind::Fp),
        (".sfp", FileKind::Sfp),
        (".mdb", FileKind::Mdb),
        (".msb", FileKind::Msb),
        (".imp", FileKind::Imp),
        (".mdu", FileKind::Mdu),
        (".msu", FileKind::Msu),
        (".ndb", FileKind::Ndb),
        (".ndu", FileKind::Ndu),
        (".ldb", FileKind::Ldb),
        (".ldu", FileKind::Ldu),
        (".cbc", FileKind::Cbc),
        (".sdb", FileKind::Sdb),
        (".zmd", FileKind::ArchiveMetadata),
        (".rmd", FileKind::ArchiveMetadata),
        (".cfg", FileKind::Cfg),
        (".info", FileKind::Info),
        (".wdb", FileKind::Phishing),
        (".pdb", FileKind::Phishing),
        (".gdb", FileKind::Phishing),
        (".ftm", FileKind::Ftm),
        (".ign", FileKind::Ign),
        (".ign2", FileKind::Ign2),
        (".idb", FileKind::Idb),
        (".cdb", FileKind::Cdb),
        (".cat", FileKind::Authenticode),
        (".ioc", FileKind::Ioc),
        (".yar", FileKind::Yara),
        (".yara", FileKind::Yara),
        (".pwdb", FileKind::Pwdb),
    ];

    /// The kind of a database file, from how its name ends (case-insensitive), or `None` for a name ClamAV would
    /// skip as an unknown extension.
    pub fn from_file_name(name: &str) -> Option<FileKind> {
        let lower = name.to_ascii_lowercase();
        FileKind::EXTENSIONS.iter().find(|(extension, _)| lower.ends_with(extension)).map(|(_, kind)| *kind)
    }

    /// How lines of this kind are parsed here, or `None` for a kind this module does not parse (the scanner
    /// reports such files as unsupported).
    pub fn syntax(self) -> Option<Syntax> {
        match self {
            FileKind::Hdb | FileKind::Hsb | FileKind::Hdu | FileKind::Hsu | FileKind::Fp | FileKind::Sfp => {
                Some(Syntax::Hash(HashKind::File))
            }
            FileKind::Mdb | FileKind::Msb | FileKind::Mdu | FileKind::Msu => Some(Syntax::Hash(HashKind::PeSection)),
            FileKind::Ndb | FileKind::Ndu => Some(Syntax::Body),
            FileKind::Ldb | FileKind::Ldu => Some(Syntax::Logical),
            FileKind::Ign | FileKind::Ign2 => Some(Syntax::Ignore),
            FileKind::Imp
            | FileKind::Db
            | FileKind::Sdb
            | FileKind::ArchiveMetadata
            | FileKind::Container
            | FileKind::Authenticode
            | FileKind::Cfg
            | FileKind::Info
            | FileKind::Ftm
            | FileKind::Cdb
            | FileKind::Idb
            | FileKind::Phishing
            | FileKind::Cbc
            | FileKind::Yara
            | FileKind::Pwdb
            | FileKind::Ioc => None,
        }
    }

    /// Whether the file holds potentially-unwanted-application signatures (extensions ending in `u`), which
    /// ClamAV loads only when PUA detection is enabled.
    pub fn is_potentially_unwanted(self) -> bool {
        matches!(self, FileKind::Hdu | FileKind::Hsu | FileKind::Mdu | FileKind::Msu | FileKind::Ndu | FileKind::Ldu)
    }

    /// Whether the file is an allow list: a file whose hash matches is clean, whatever else matched.
    pub fn is_allow_list(self) -> bool {
        matches!(self, FileKind::Fp | FileKind::Sfp)
    }
}

/// Parses one line of a hash database (`.hdb`, `.hsb`, `.fp`, `.sfp` and their PUA twins for
/// [`HashKind::File`]; `.mdb`, `.msb`, ... for [`HashKind::PeSection`]). Trailing CR/LF are ignored.
pub fn parse_hash_line(kind: HashKind, line: &[u8]) -> Result<Line<HashSignature<'_>>, SyntaxError> {
    hash::parse_hash_line(kind, line)
}

/// Parses one `.ndb` line: `MalwareName:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]`. Trailing CR/LF are
/// ignored.
pub fn parse_body_line(line: impl AsRef<[u8]>) -> Result<Line<BodySignature>, SyntaxError> {
    body::parse_body_line(line.as_ref())
}

/// Parses one `.ldb` line: `Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...`. Trailing CR/LF
/// are ignored.
pub fn parse_logical_line(line: impl AsRef<[u8]>) -> Result<Line<LogicalSignature>, SyntaxError> {
    logical::parse_logical_line(line.as_ref())
}

/// The line without the trailing CR and LF bytes ClamAV's `cli_chomp` removes.
pub(crate) fn chomp(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while let Some(index) = end.checked_sub(1) {
        match line.get(index) {
            Some(b'\r' | b'\n') => end = index,
            _ => break,
        }
    }
    line.get(..end).unwrap_or(line)
}

/// Whether ClamAV treats the raw line as a comment: its first byte is `#` (tested before anything is stripped).
pub(crate) fn is_comment(line: &[u8]) -> bool {
    line.first() == Some(&b'#')
}

/// Splits like ClamAV's `cli_strtokenize`: at most `N` fields; the last field ends at the next delimiter and
/// anything after it is dropped, as ClamAV drops it. Returns the fields and whether text was dropped. The fields
/// live on the stack: this runs once per line of files of millions of lines.
pub(crate) fn split_fields<const N: usize>(text: &[u8], delimiter: u8) -> (Fields<'_, N>, bool) {
    let mut fields = Fields { items: [&[][..]; N], len: 0 };
    let mut rest = Some(text);
    while let Some(current) = rest {
        let Some(slot) = fields.items.get_mut(fields.len) else {
            return (fields, true);
        };
        match memchr::memchr(delimiter, current) {
            Some(position) => {
                *slot = current.get(..position).unwrap_or_default();
                rest = current.get(position.saturating_add(1)..);
            }
            None => {
                *slot = current;
                rest = None;
            }
        }
        fields.len += 1;
    }
    (fields, false)
}

/// The fields [`split_fields`] found: a slice of at most `N`.
pub(crate) struct Fields<'a, const N: usize> {
    items: [&'a [u8]; N],
    len: usize,
}

impl<'a, const N: usize> std::ops::Deref for Fields<'a, N> {
    type Target = [&'a [u8]];

    fn deref(&self) -> &[&'a [u8]] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

/// A signature name as ClamAV stores it (`cli_virname`): cut at the first `" (Clam)"`, and refused when empty.
pub(crate) fn signature_name(raw: &[u8]) -> Result<Cow<'_, str>, SyntaxError> {
    let cut = memchr::memmem::find(raw, b" (Clam)").map_or(raw, |position| raw.get(..position).unwrap_or(raw));
    if cut.is_empty() {
        return refuse("empty signature name");
    }
    Ok(String::from_utf8_lossy(cut))
}

/// Whether every byte is an ASCII digit (ClamAV's `cli_isnumber`, which also accepts the empty string).
pub(crate) fn is_number(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_digit)
}

/// The value of a field ClamAV reads with `cli_isnumber` + `atoi`: digits only, the empty string being 0.
/// Values above `u32::MAX` are refused (ClamAV would wrap them). `what` names the field in the refusal.
pub(crate) fn decimal_field(text: &[u8], what: &str) -> Result<u32, SyntaxError> {
    if !is_number(text) {
        return refuse(format!("{what} {:?} is not a decimal number", String::from_utf8_lossy(text)));
    }
    decimal_digits(text).ok_or_else(|| {
        SyntaxError::new(format!("{what} {} is too large (at most {})", String::from_utf8_lossy(text), u32::MAX))
    })
}

/// The value of a string of ASCII digits (empty = 0), or `None` when it exceeds `u32::MAX`.
pub(crate) fn decimal_digits(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, digit| {
        value.checked_mul(10).and_then(|value| value.checked_add(u32::from(digit.wrapping_sub(b'0'))))
    })
}

/// Reads a number the way C's `sscanf("%u")` starts one: skips ASCII white space and an optional `+`, then takes
/// one or more digits. Returns the value and the rest of the text, or `None` when no digit follows. Values above
/// `u32::MAX` give `Some(Err(..))`: ClamAV would wrap them, this module refuses them.
pub(crate) fn scan_unsigned(text: &[u8]) -> Option<Result<(u32, &[u8]), SyntaxError>> {
    let start = text.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(text.len());
    let mut rest = text.get(start..).unwrap_or_default();
    if rest.first() == Some(&b'+') {
        rest = rest.get(1..).unwrap_or_default();
    }
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (number, after) = rest.split_at(digits);
    Some(match decimal_digits(number) {
        Some(value) => Ok((value, after)),
        None => refuse(format!("number {} is too large (at most {})", String::from_utf8_lossy(number), u32::MAX)),
    })
}

/// Text of a byte string for refusal messages.
pub(crate) fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functionality_level_applies() {
        // Oracle: `T:0:*:41424344:216` is found by clamscan 1.4.6, `:217` is not; `:1:216` is found, `:1:215`
        // is not. So ClamAV 1.4.6 runs at FLEVEL 216.
        assert!(Flevel { min: Some(216), max: None }.applies());
        assert!(!Flevel { min: Some(217), max: None }.applies());
        assert!(Flevel { min: Some(1), max: Some(216) }.applies());
        assert!(!Flevel { min: Some(1), max: Some(215) }.applies());
        assert!(Flevel::default().applies());
        assert!(Flevel { min: None, max: Some(10) }.applies_to(10));
    }

    #[test]
    fn targets_have_clamav_numbers_and_names() {
        for (number, target) in Target::ALL.iter().enumerate() {
            assert_eq!(usize::from(target.number()), number);
            assert_eq!(Target::from_number(number as u64), Some(*target));
        }
        assert_eq!(Target::from_number(15), None);
        assert_eq!(Target::from_number(u64::MAX), None);
        assert_eq!(Target::PortableExecutable.clamav_name(), "PE");
        assert_eq!(Target::MachO.clamav_name(), "MACH-O");
        assert_eq!(Target::Other.to_string(), "14 (OTHER)");
    }

    #[test]
    fn file_kinds_from_names() {
        assert_eq!(FileKind::from_file_name("main.hdb"), Some(FileKind::Hdb));
        assert_eq!(FileKind::from_file_name("MAIN.HSB"), Some(FileKind::Hsb));
        assert_eq!(FileKind::from_file_name("x.ign2"), Some(FileKind::Ign2));
        assert_eq!(FileKind::from_file_name("x.ign"), Some(FileKind::Ign));
        assert_eq!(FileKind::from_file_name("daily.ldu"), Some(FileKind::Ldu));
        assert_eq!(FileKind::from_file_name("a.yara"), Some(FileKind::Yara));
        assert_eq!(FileKind::from_file_name("a.txt"), None);
        assert_eq!(FileKind::from_file_name("db"), None);
        assert_eq!(FileKind::Hdb.syntax(), Some(Syntax::Hash(HashKind::File)));
        assert_eq!(FileKind::Sfp.syntax(), Some(Syntax::Hash(HashKind::File)));
        assert_eq!(FileKind::Msu.syntax(), Some(Syntax::Hash(HashKind::PeSection)));
        assert_eq!(FileKind::Ndu.syntax(), Some(Syntax::Body));
        assert_eq!(FileKind::Ldb.syntax(), Some(Syntax::Logical));
        assert_eq!(FileKind::Ign2.syntax(), Some(Syntax::Ignore));
        for unsupported in ["a.cdb", "a.crb", "a.idb", "a.pdb", "a.wdb", "a.gdb", "a.cbc", "a.ftm", "a.info", "a.cfg"] {
            let kind = FileKind::from_file_name(unsupported);
            assert!(kind.is_some(), "{unsupported}");
            assert_eq!(kind.and_then(FileKind::syntax), None, "{unsupported}");
        }
        assert!(FileKind::Hdu.is_potentially_unwanted());
        assert!(!FileKind::Hdb.is_potentially_unwanted());
        assert!(FileKind::Sfp.is_allow_list());
    }

    #[test]
    fn helpers() {
        assert_eq!(chomp(b"abc\r\n"), b"abc");
        assert_eq!(chomp(b"\n\r\n"), b"");
        assert_eq!(chomp(b""), b"");
        assert!(is_comment(b"# x"));
        assert!(!is_comment(b" # x"));
        let (fields, dropped) = split_fields::<2>(b"a:b:c", b':');
        assert_eq!(&fields[..], [&b"a"[..], &b"b"[..]]);
        assert!(dropped);
        let (fields, dropped) = split_fields::<6>(b"a::", b':');
        assert_eq!(&fields[..], [&b"a"[..], &b""[..], &b""[..]]);
        assert!(!dropped);
        assert_eq!(signature_name(b"Eicar (Clam)"), Ok(Cow::Borrowed("Eicar")));
        assert!(signature_name(b" (Clam)").is_err());
        assert_eq!(decimal_field(b"", "x"), Ok(0));
        assert_eq!(decimal_field(b"4294967295", "x"), Ok(u32::MAX));
        assert!(decimal_field(b"4294967296", "x").is_err());
        assert!(decimal_field(b"1a", "x").is_err());
        assert!(matches!(scan_unsigned(b" +12x"), Some(Ok((12, b"x")))));
        assert!(scan_unsigned(b"x").is_none());
        assert!(matches!(scan_unsigned(b"99999999999"), Some(Err(_))));
    }
}
