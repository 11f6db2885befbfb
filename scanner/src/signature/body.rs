//! Body signatures: the hex-signature syntax shared by `.ndb` and `.ldb`, offsets, and the compiler from a
//! signature to a [`Pattern`] of anchored [`Segment`]s.
//!
//! Parsing follows ClamAV's own pipeline step by step, because ClamAV's acceptance rules are properties of that
//! pipeline rather than of a grammar (`cli_sigopts_handler`, `cli_add_content_match_pattern` and
//! `cli_ac_addsig`):
//!
//! 1. Modifiers rewrite the text: `::f` wraps it in `(W)...(W)` and turns `[x-y]` into `{x-y}`; `::w` follows
//!    every byte with `00` but leaves `{n}`, `*` and `(B)` alone; `::a` with `::w` keeps both variants.
//! 2. Leading `{n}` with `1 <= n <= 127` are inlined as `n` any-bytes (ClamAV rewrites them as `??`), in order,
//!    until the first brace that is not such; every other brace and every `*` cuts the text into ClamAV
//!    "parts". A part may not be empty, so a pattern cannot start or end with a range or `*`.
//! 3. In each part, at most two `[x-y]` ranges tie a single byte to one end (`aa[x-y]REST`, `REST[x-y]bb`,
//!    `x <= y <= 32`); `(B)`, `(L)`, `(W)` at the very start or end of the rest become zero-width boundary tests,
//!    anywhere else they consume one byte; `(..|..)` are alternatives: single bytes or equal-length strings
//!    (which may be negated with `!`), or, when lengths differ, nibbles appear, alternatives nest or any modifier
//!    is given, "generic" alternatives (which may not be negated).
//! 4. Each part needs two byte positions and a run of two fixed bytes; for the targets ClamAV prefilters
//!    (0, 1, 4, 7) the part must also start (after leading alternatives or boundaries) with two positions the
//!    prefilter can index; a plain fixed `.ndb` pattern for target 0 or 1 goes to Boyer-Moore and needs 3 bytes.
//!
//! Compilation then joins the parts: a gap between parts whose maximum is at most [`MAX_INLINE_GAP`] becomes a
//! bounded skip inside a segment; `*`, `{n-}` and longer gaps separate segments. Gap semantics are ClamAV's: the
//! distance counts from the end of one part to the start of the next, and a maximum of 0 means "no maximum"
//! (so `{0}`, `{-0}` and `{n-0}` are unbounded, as `clamscan` confirms).
//!
//! Where ClamAV's matcher is buggy the compiler follows the documented meaning instead: ClamAV misses some
//! matches when a generic alternative or a middle `(L)` lies before its internal anchor (it matches those parts
//! backwards and does not handle variable lengths there); the compiled patterns match them.

use std::borrow::Cow;
use std::fmt;
use std::ops::RangeInclusive;

use super::hash::hex_value;
use super::segment::{Assertion, ByteSet, Segment, Token, boundary_class};
use super::{
    Flevel, Line, SkipReason, SyntaxError, Target, chomp, decimal_field, is_comment, is_number, refuse, scan_unsigned,
    show, split_fields,
};

/// Gaps whose maximum is at most this many bytes stay inside a segment as a bounded skip; longer ones, and
/// unbounded ones, separate segments.
pub const MAX_INLINE_GAP: u64 = 256;

/// ClamAV's limit on `y` in `[x-y]` (`AC_CH_MAXDIST`).
const MAX_BYTE_DISTANCE: u32 = 32;
/// ClamAV's limit on the number of `(` inside one alternative group (`ACPATT_ALTN_MAXNEST`).
const MAX_ALTERNATIVE_NESTING: usize = 15;
/// `{n}` with `1 <= n <= 127` is inlined by ClamAV.
const MAX_INLINED_EXACT_GAP: u32 = 127;
/// The prefilter looks at no more than this many leading positions (`MAXPATLEN`).
const PREFILTER_POSITIONS: usize = 255;
/// ClamAV's limit on the offset text (`cli_caloff`).
const MAX_OFFSET_LENGTH: usize = 64;
/// ClamAV supports 32 macro groups.
const MACRO_GROUPS: u32 = 32;

/// The distance between two consecutive segments of a [`Pattern`], from the end of one match to the start of
/// the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    /// Fewest bytes between the segments.
    pub min: u64,
    /// Most bytes between the segments; `None` for no limit. A maximum below the minimum never matches (ClamAV
    /// accepts `{5-2}` and never matches it).
    pub max: Option<u64>,
}

/// A compiled body pattern: segments separated by gaps (`gaps.len() + 1 == segments.len()`).
///
/// A match is a match of every segment, in order, each starting within its gap of the previous one's end. The
/// pattern's start (what an offset constrains) is the first segment's start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pattern {
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// The gaps between consecutive segments.
    pub gaps: Vec<Gap>,
}

impl Pattern {
    /// Bytes of heap the pattern holds: its segments and gaps (not counting the pattern itself).
    pub fn heap_bytes(&self) -> usize {
        self.segments.capacity() * size_of::<Segment>()
            + self.segments.iter().map(Segment::heap_bytes).sum::<usize>()
            + self.gaps.capacity() * size_of::<Gap>()
    }

    /// The shortest text a match can span.
    pub fn min_len(&self) -> u64 {
        let segments = self.segments.iter().map(|segment| segment.min_len() as u64);
        let gaps = self.gaps.iter().map(|gap| gap.min);
        segments.chain(gaps).fold(0u64, u64::saturating_add)
    }
}

/// The subsignature modifiers of logical signatures (`::i`, `::w`, `::f`, `::a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Modifiers {
    /// `i`: ASCII letters match in either case.
    pub nocase: bool,
    /// `w`: each byte is followed by 00 (UTF-16LE of ASCII). Skips (`{n}`, `*`, `[x-y]`) are not doubled.
    pub wide: bool,
    /// `f`: the match must be delimited by non-alphanumeric bytes or the part's edges.
    pub fullword: bool,
    /// `a`: with `w`, match the plain form too (two patterns); alone it changes nothing but, like any
    /// modifier, makes alternatives "generic" (so they cannot be negated).
    pub ascii: bool,
}

impl Modifiers {
    /// Whether any modifier letter was given. ClamAV then treats every alternative as generic.
    pub fn any(&self) -> bool {
        self.nocase || self.wide || self.fullword || self.ascii
    }
}

/// Where a body pattern must start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Offset {
    /// `*`: anywhere.
    Any,
    /// `n` or `n,shift`: the pattern starts at a position in `start..=start + shift`.
    Absolute {
        /// First allowed start.
        start: u32,
        /// How far after `start` the pattern may start instead.
        shift: u32,
    },
    /// `EOF-n` or `EOF-n,shift`: the pattern starts in `len - n ..= len - n + shift`.
    FromEnd {
        /// `n`: the distance back from the end of the part.
        distance: u32,
        /// How far after `len - n` the pattern may start instead.
        shift: u32,
    },
    /// An offset relative to executable structure or to other signatures, which the scanner cannot compute yet;
    /// it is kept so the scanner can report the signature instead of dropping it.
    Unsupported(RelativeOffset),
}

/// The offsets the scanner cannot compute yet (they need PE/ELF/Mach-O parsing, version information or macro
/// groups). ClamAV allows the first six only in PE, ELF and Mach-O signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RelativeOffset {
    /// `EP+n[,shift]`: the entry point plus `distance`.
    EntryPointPlus {
        /// Bytes after the entry point.
        distance: u32,
        /// Floating range.
        shift: u32,
    },
    /// `EP-n[,shift]`: the entry point minus `distance`.
    EntryPointMinus {
        /// Bytes before the entry point.
        distance: u32,
        /// Floating range.
        shift: u32,
    },
    /// `Sx+n[,shift]`: the start of section `section` (counted from 0) plus `distance`.
    SectionStart {
        /// Section number.
        section: u32,
        /// Bytes after the section start.
        distance: u32,
        /// Floating range.
        shift: u32,
    },
    /// `SEx[,shift]`: anywhere inside section `section`.
    WholeSection {
        /// Section number.
        section: u32,
        /// Extra bytes past the section end.
        shift: u32,
    },
    /// `SL+n[,shift]`: the start of the last section plus `distance`.
    LastSectionStart {
        /// Bytes after the last section's start.
        distance: u32,
        /// Floating range.
        shift: u32,
    },
    /// `VI`: against each PE version-information key/value pair.
    VersionInfo,
    /// `$n$`: a member of macro group `group` (0..=31) for logical-signature macros.
    Macro {
        /// The macro group.
        group: u32,
    },
}

/// What an [`Offset`] allows for a part of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRange {
    /// Any start.
    Unconstrained,
    /// Starts in this range (it may extend past the part's end; no match starts there).
    Range(RangeInclusive<u64>),
    /// No start at all (`EOF-n` with `n` greater than the length).
    Never,
    /// The offset needs information the scanner does not have ([`Offset::Unsupported`]).
    Unknown,
}

impl Offset {
    /// The allowed starts in a part of `part_len` bytes.
    pub fn start_range(&self, part_len: u64) -> StartRange {
        match self {
            Offset::Any => StartRange::Unconstrained,
            Offset::Absolute { start, shift } => {
                let start = u64::from(*start);
                StartRange::Range(start..=start.saturating_add(u64::from(*shift)))
            }
            Offset::FromEnd { distance, shift } => match part_len.checked_sub(u64::from(*distance)) {
                Some(start) => StartRange::Range(start..=start.saturating_add(u64::from(*shift))),
                None => StartRange::Never,
            },
            Offset::Unsupported(_) => StartRange::Unknown,
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shift = |formatter: &mut fmt::Formatter<'_>, shift: u32| {
            if shift == 0 { Ok(()) } else { write!(formatter, ",{shift}") }
        };
        match self {
            Offset::Any => write!(formatter, "*"),
            Offset::Absolute { start, shift: extra } => {
                write!(formatter, "{start}")?;
                shift(formatter, *extra)
            }
            Offset::FromEnd { distance, shift: extra } => {
                write!(formatter, "EOF-{distance}")?;
                shift(formatter, *extra)
            }
            Offset::Unsupported(relative) => match relative {
                RelativeOffset::EntryPointPlus { distance, shift: extra } => {
                    write!(formatter, "EP+{distance}")?;
                    shift(formatter, *extra)
                }
                RelativeOffset::EntryPointMinus { distance, shift: extra } => {
                    write!(formatter, "EP-{distance}")?;
                    shift(formatter, *extra)
                }
                RelativeOffset::SectionStart { section, distance, shift: extra } => {
                    write!(formatter, "S{section}+{distance}")?;
                    shift(formatter, *extra)
                }
                RelativeOffset::WholeSection { section, shift: extra } => {
                    write!(formatter, "SE{section}")?;
                    shift(formatter, *extra)
                }
                RelativeOffset::LastSectionStart { distance, shift: extra } => {
                    write!(formatter, "SL+{distance}")?;
                    shift(formatter, *extra)
                }
                RelativeOffset::VersionInfo => write!(formatter, "VI"),
                RelativeOffset::Macro { group } => write!(formatter, "${group}$"),
            },
        }
    }
}

/// Parses an offset as ClamAV's `cli_caloff` does, for a signature of `target` (executable-relative offsets
/// are refused outside PE, ELF and Mach-O).
pub fn parse_offset(text: &[u8], target: Target) -> Result<Offset, SyntaxError> {
    if text == b"*" {
        return Ok(Offset::Any);
    }
    if text.len() > MAX_OFFSET_LENGTH {
        return refuse(format!("offset is longer than {MAX_OFFSET_LENGTH} characters"));
    }
    let (base, shift) = match memchr::memchr(b',', text) {
        Some(comma) => {
            let shift_text = text.get(comma.saturating_add(1)..).unwrap_or_default();
            (text.get(..comma).unwrap_or_default(), decimal_field(shift_text, "offset shift")?)
        }
        None => (text, 0),
    };
    let after = |prefix: usize| base.get(prefix..).unwrap_or_default();
    let offset = if base.starts_with(b"EP+") {
        Offset::Unsupported(RelativeOffset::EntryPointPlus { distance: decimal_field(after(3), "offset")?, shift })
    } else if base.starts_with(b"EP-") {
        Offset::Unsupported(RelativeOffset::EntryPointMinus { distance: decimal_field(after(3), "offset")?, shift })
    } else if base.first() == Some(&b'S') {
        if base.get(1) == Some(&b'E') {
            Offset::Unsupported(RelativeOffset::WholeSection { section: decimal_field(after(2), "section")?, shift })
        } else if base.starts_with(b"SL+") {
            Offset::Unsupported(RelativeOffset::LastSectionStart {
                distance: decimal_field(after(3), "offset")?,
                shift,
            })
        } else {
            // sscanf("S%u+%u"): both numbers required, anything after them ignored.
            let invalid = || SyntaxError::new(format!("invalid offset {:?}", show(text)));
            let (section, rest) = scan_unsigned(after(1)).ok_or_else(invalid)??;
            let rest = rest.strip_prefix(b"+").ok_or_else(invalid)?;
            let (distance, _) = scan_unsigned(rest).ok_or_else(invalid)??;
            Offset::Unsupported(RelativeOffset::SectionStart { section, distance, shift })
        }
    } else if base.starts_with(b"EOF-") {
        Offset::FromEnd { distance: decimal_field(after(4), "offset")?, shift }
    } else if base.starts_with(b"VI") {
        Offset::Unsupported(RelativeOffset::VersionInfo)
    } else if memchr::memchr(b'$', base).is_some() {
        // sscanf("$%u$"): a dollar, a number; what follows is not checked.
        let invalid = || SyntaxError::new(format!("invalid macro offset {:?}", show(text)));
        let rest = base.strip_prefix(b"$").ok_or_else(invalid)?;
        let (group, _) = scan_unsigned(rest).ok_or_else(invalid)??;
        if group >= MACRO_GROUPS {
            return refuse(format!("macro group {group} is out of range (ClamAV supports {MACRO_GROUPS} groups)"));
        }
        Offset::Unsupported(RelativeOffset::Macro { group })
    } else {
        Offset::Absolute { start: decimal_field(base, "offset")?, shift }
    };
    let needs_executable =
        matches!(offset, Offset::Unsupported(relative) if !matches!(relative, RelativeOffset::Macro { .. }));
    if needs_executable && !target.is_executable() {
        return refuse(format!("offset {} is only allowed for PE, ELF and Mach-O targets, not {target}", show(text)));
    }
    Ok(offset)
}

/// One `.ndb` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySignature {
    /// The signature name.
    pub name: String,
    /// The file type it applies to.
    pub target: Target,
    /// Where the pattern must start.
    pub offset: Offset,
    /// The compiled pattern.
    pub pattern: Pattern,
    /// The functionality-level range written on the line.
    pub flevel: Flevel,
}

const BODY_FIELDS: usize = 6;

pub(crate) fn parse_body_line(raw: &[u8]) -> Result<Line<BodySignature>, SyntaxError> {
    if is_comment(raw) {
        return Ok(Line::Comment);
    }
    let line = chomp(raw);
    let (fields, _) = split_fields::<{ BODY_FIELDS + 1 }>(line, b':');
    if fields.len() < 4 || fields.len() > BODY_FIELDS {
        return refuse(format!(
            "body line has {} field(s); it needs Name:Target:Offset:HexSignature[:MinFL[:MaxFL]]",
            fields.len()
        ));
    }
    let field = |index: usize| fields.get(index).copied().unwrap_or_default();
    let mut flevel = Flevel::default();
    if let Some(minimum) = fields.get(4) {
        if !is_number(minimum) {
            return refuse(format!("minimum functionality level {:?} is not a number", show(minimum)));
        }
        flevel.min = Some(decimal_field(minimum, "minimum functionality level")?);
        if !flevel.applies() {
            return Ok(Line::Skipped { name: show(field(0)), reason: SkipReason::FunctionalityLevel(flevel) });
        }
        if let Some(maximum) = fields.get(5) {
            if !is_number(maximum) {
                return refuse(format!("maximum functionality level {:?} is not a number", show(maximum)));
            }
            flevel.max = Some(decimal_field(maximum, "maximum functionality level")?);
            if !flevel.applies() {
                return Ok(Line::Skipped { name: show(field(0)), reason: SkipReason::FunctionalityLevel(flevel) });
            }
        }
    }
    let target_text = field(1);
    if target_text != b"*" && !is_number(target_text) {
        return refuse(format!("target type {:?} is not a number", show(target_text)));
    }
    let target_number = saturating_decimal(target_text);
    let Some(target) = Target::from_number(target_number) else {
        return Ok(Line::Skipped { name: show(field(0)), reason: SkipReason::UnknownTarget(target_number) });
    };
    let name = super::signature_name(field(0))?.into_owned();
    let context = Context { target, offset: field(2), logical: false };
    let mut patterns = compile_in(field(3), Modifiers::default(), &context)?;
    let offset = parse_offset(field(2), target)?;
    let pattern = patterns.pop().ok_or_else(|| SyntaxError::new("empty pattern"))?;
    Ok(Line::Signature(BodySignature { name, target, offset, pattern, flevel }))
}

/// Digits to a saturating `u64` (`*` and the empty string are 0).
fn saturating_decimal(text: &[u8]) -> u64 {
    text.iter()
        .filter(|byte| byte.is_ascii_digit())
        .fold(0u64, |value, digit| value.saturating_mul(10).saturating_add(u64::from(digit.wrapping_sub(b'0'))))
}

/// Compiles the hex signature of a logical subsignature for `target`, applying `modifiers`. Returns one
/// pattern, or two for `::wa` (the wide one first).
pub fn compile(hex: &[u8], modifiers: Modifiers, target: Target) -> Result<Vec<Pattern>, SyntaxError> {
    compile_in(hex, modifiers, &Context { target, offset: b"*", logical: true })
}

/// Where a pattern comes from; ClamAV's rules differ by target and by file kind.
pub(crate) struct Context<'a> {
    pub(crate) target: Target,
    /// The offset text (decides Boyer-Moore versus Aho-Corasick for PE `.ndb` patterns).
    pub(crate) offset: &'a [u8],
    /// A logical subsignature (always Aho-Corasick) rather than an `.ndb` line.
    pub(crate) logical: bool,
}

pub(crate) fn compile_in(hex: &[u8], modifiers: Modifiers, context: &Context<'_>) -> Result<Vec<Pattern>, SyntaxError> {
    // Borrowed unless a modifier rewrites it: most subsignatures are compiled straight from the line.
    let mut text = Cow::Borrowed(hex);
    if modifiers.fullword {
        text = Cow::Owned(fullword_text(&text)?);
    }
    let mut variants = Vec::with_capacity(1);
    if modifiers.wide {
        variants.push((Cow::Owned(widen(&text)?), true));
        if modifiers.ascii {
            variants.push((text, false));
        }
    } else {
        variants.push((text, false));
    }
    variants
        .iter()
        .map(|(text, wide)| {
            let options = Options {
                nocase: modifiers.nocase,
                wide: *wide,
                generic_alternatives: modifiers.any(),
                target: context.target,
            };
            compile_text(text, &options, context)
        })
        .collect()
}

/// `::f`: `(W)` on both sides, and `[`/`]` turned into `{`/`}` (a single byte next to the range would no longer
/// be a single byte).
fn fullword_text(text: &[u8]) -> Result<Vec<u8>, SyntaxError> {
    let mut output = Vec::with_capacity(text.len().saturating_add(6));
    output.extend_from_slice(b"(W)");
    let mut open = false;
    for byte in text {
        output.push(match byte {
            b'[' => {
                open = true;
                b'{'
            }
            b']' if open => {
                open = false;
                b'}'
            }
            other => *other,
        });
    }
    if open {
        return refuse("unmatched `[` in a fullword subsignature");
    }
    output.extend_from_slice(b"(W)");
    Ok(output)
}

/// `::w`: every two-character byte token gets `00` after it; skips, `*`, alternation syntax and `(B)`, `(L)`,
/// `(W)` are copied; `[x-y]` becomes `{x-y}`.
fn widen(text: &[u8]) -> Result<Vec<u8>, SyntaxError> {
    let mut output = Vec::with_capacity(text.len().saturating_mul(2));
    let mut index = 0;
    while let Some(&byte) = text.get(index) {
        match byte {
            b'*' | b'|' | b')' => output.push(byte),
            b'[' | b'{' => {
                let close = if byte == b'[' { b']' } else { b'}' };
                let Some(length) = text.get(index..).and_then(|rest| memchr::memchr(close, rest)) else {
                    return refuse(format!("unterminated `{}` in a wide subsignature", char::from(byte)));
                };
                output.push(b'{');
                output.extend_from_slice(
                    text.get(index.saturating_add(1)..index.saturating_add(length)).unwrap_or_default(),
                );
                output.push(b'}');
                index = index.saturating_add(length);
            }
            b'!' | b'(' => {
                if byte == b'!' {
                    output.push(b'!');
                    index = index.saturating_add(1);
                    if text.get(index) != Some(&b'(') {
                        return refuse("`!` must be followed by `(`");
                    }
                }
                output.push(b'(');
                if index.saturating_add(2) >= text.len() {
                    return refuse("truncated `(` in a wide subsignature");
                }
                if let Some(&letter @ (b'B' | b'L' | b'W')) = text.get(index.saturating_add(1)) {
                    if text.get(index.saturating_add(2)) != Some(&b')') {
                        return refuse(format!("`({}` must be closed by `)`", char::from(letter)));
                    }
                    output.push(letter);
                    output.push(b')');
                    index = index.saturating_add(2);
                }
            }
            _ => {
                let Some(&second) = text.get(index.saturating_add(1)) else {
                    return refuse("odd number of hex digits");
                };
                output.extend_from_slice(&[byte, second, b'0', b'0']);
                index = index.saturating_add(1);
            }
        }
        index = index.saturating_add(1);
    }
    Ok(output)
}

/// Per-variant compilation options.
struct Options {
    nocase: bool,
    /// The wide variant (changes `(W)` tests).
    wide: bool,
    /// Any modifier was given: alternatives are all generic.
    generic_alternatives: bool,
    target: Target,
}

/// The syntax elements of the hex-signature text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lexeme<'a> {
    /// Two characters standing for one byte: hex digits and `?`.
    Pair(u8, u8),
    Open,
    Close,
    Pipe,
    Bang,
    Star,
    /// `(B)`, `(L)` or `(W)`: the letter.
    Class(u8),
    /// The inside of `[...]`.
    Bracket(&'a [u8]),
    /// The inside of `{...}`.
    Brace(&'a [u8]),
    /// `{n}` inlined as `n` any-bytes.
    Inline(u32),
}

impl Lexeme<'_> {
    /// Length in characters of the text ClamAV would see (inlined braces as `??` each).
    fn characters(&self) -> usize {
        match self {
            Lexeme::Pair(..) => 2,
            Lexeme::Open | Lexeme::Close | Lexeme::Pipe | Lexeme::Bang | Lexeme::Star => 1,
            Lexeme::Class(_) => 3,
            Lexeme::Bracket(inner) | Lexeme::Brace(inner) => inner.len().saturating_add(2),
            Lexeme::Inline(count) => usize::try_from(*count).unwrap_or(usize::MAX).saturating_mul(2),
        }
    }
}

fn characters(lexemes: &[Lexeme<'_>]) -> usize {
    lexemes.iter().fold(0usize, |total, lexeme| total.saturating_add(lexeme.characters()))
}

fn lex(text: &[u8]) -> Result<Vec<Lexeme<'_>>, SyntaxError> {
    // Most lexemes are two-character pairs: room for all of them, so the vector never grows.
    let mut lexemes = Vec::with_capacity(text.len().div_ceil(2));
    let mut index = 0;
    while let Some(&byte) = text.get(index) {
        let (lexeme, length) = match byte {
            b'(' => match (text.get(index.saturating_add(1)), text.get(index.saturating_add(2))) {
                (Some(&letter @ (b'B' | b'L' | b'W')), Some(b')')) => (Lexeme::Class(letter), 3),
                _ => (Lexeme::Open, 1),
            },
            b')' => (Lexeme::Close, 1),
            b'|' => (Lexeme::Pipe, 1),
            b'!' => (Lexeme::Bang, 1),
            b'*' => (Lexeme::Star, 1),
            b'[' | b'{' => {
                let close = if byte == b'[' { b']' } else { b'}' };
                let rest = text.get(index.saturating_add(1)..).unwrap_or_default();
                let Some(inner_length) = memchr::memchr(close, rest) else {
                    return refuse(format!("unterminated `{}`", char::from(byte)));
                };
                let inner = rest.get(..inner_length).unwrap_or_default();
                let lexeme = if byte == b'[' { Lexeme::Bracket(inner) } else { Lexeme::Brace(inner) };
                (lexeme, inner_length.saturating_add(2))
            }
            _ => {
                let second = text.get(index.saturating_add(1)).copied();
                match second {
                    Some(second) if is_byte_character(byte) && is_byte_character(second) => {
                        (Lexeme::Pair(byte, second), 2)
                    }
                    Some(second) if is_byte_character(byte) && !is_byte_character(second) => {
                        return refuse(format!(
                            "hex digits must come in pairs; {:?} follows a single digit",
                            char::from(second)
                        ));
                    }
                    None if is_byte_character(byte) => return refuse("odd number of hex digits"),
                    _ => return refuse(format!("unexpected character {:?} in the hex signature", char::from(byte))),
                }
            }
        };
        lexemes.push(lexeme);
        index = index.saturating_add(length);
    }
    // ClamAV inlines the first `{n}` with 1 <= n <= 127, then looks at the (new) first brace again, and so on:
    // only a leading sequence of such braces is inlined; every brace after the first other one cuts the text.
    for lexeme in lexemes.iter_mut() {
        if let Lexeme::Brace(inner) = *lexeme {
            match inline_count(inner) {
                Some(count) => *lexeme = Lexeme::Inline(count),
                None => break,
            }
        }
    }
    Ok(lexemes)
}

fn is_byte_character(byte: u8) -> bool {
    byte == b'?' || hex_value(byte).is_some()
}

/// `{n}` as ClamAV's `sscanf("%c%zu%c")` reads it: white space, an optional `+`, digits, then the brace must
/// close; `n` in `1..=127`.
fn inline_count(inner: &[u8]) -> Option<u32> {
    let start = inner.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(inner.len());
    let digits = inner.get(start..)?;
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() || !is_number(digits) {
        return None;
    }
    let count = super::decimal_digits(digits)?;
    (1..=MAX_INLINED_EXACT_GAP).contains(&count).then_some(count)
}

/// A gap between ClamAV parts: `max == 0` means no maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartGap {
    min: u32,
    max: u32,
}

impl PartGap {
    const ANY: PartGap = PartGap { min: 0, max: 0 };

    fn public(self) -> Gap {
        Gap { min: u64::from(self.min), max: (self.max != 0).then_some(u64::from(self.max)) }
    }

    /// Whether the gap stays inside a segment.
    fn is_inline(self) -> bool {
        self.max != 0 && u64::from(self.max) <= MAX_INLINE_GAP
    }
}

/// The inside of a cutting brace, read as ClamAV does: `n`, `n-m`, `n-`, `-m` (fields split at runs of `-`;
/// each present field digits only, the empty string reading as 0; a third field is refused).
fn parse_gap(inner: &[u8]) -> Result<PartGap, SyntaxError> {
    let invalid = || SyntaxError::new(format!("invalid range {{{}}}", show(inner)));
    let number = |digits: &[u8]| -> Result<u32, SyntaxError> {
        if !is_number(digits) {
            return Err(invalid());
        }
        match super::decimal_digits(digits) {
            Some(value) if value <= i32::MAX as u32 => Ok(value),
            _ => Err(invalid()),
        }
    };
    if memchr::memchr(b'-', inner).is_none() {
        let value = number(inner)?;
        return Ok(PartGap { min: value, max: value });
    }
    // Field 0 is the text before the first '-' (absent if empty); later fields follow runs of '-'.
    let first_dash = memchr::memchr(b'-', inner).unwrap_or(inner.len());
    let first = inner.get(..first_dash).unwrap_or_default();
    let rest = inner.get(first_dash..).unwrap_or_default();
    let later: Vec<&[u8]> = rest.split(|byte| *byte == b'-').filter(|field| !field.is_empty()).collect();
    if later.len() > 1 {
        return Err(invalid());
    }
    let min = if first.is_empty() { 0 } else { number(first)? };
    let max = match later.first() {
        Some(field) => number(field)?,
        None => 0,
    };
    Ok(PartGap { min, max })
}

/// One element of a ClamAV part, as `cli_ac_addsig` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    /// A fixed byte (case-insensitive when the pattern is).
    Byte(u8),
    /// `count` bytes of anything (`??` or inlined `{n}`); counts as `count` positions.
    Any(u32),
    /// `x?`: the high nibble (value already shifted).
    HighNibble(u8),
    /// `?x`: the low nibble.
    LowNibble(u8),
    /// `(aa|bb)` or `!(aa|bb)`.
    Bytes { bytes: Vec<u8>, negated: bool },
    /// `(aabb|ccdd)` or `!(aabb|ccdd)`: equal-length strings.
    Strings { length: usize, strings: Vec<Vec<u8>>, negated: bool },
    /// Generic alternatives: branches of items, possibly nested.
    Generic(Vec<Vec<Item>>),
    /// `(B)` in the middle: one boundary byte.
    Boundary { negated: bool },
    /// `(L)` in the middle: LF or CR LF.
    Line { negated: bool },
    /// `(W)` in the middle: one non-alphanumeric byte.
    Word { negated: bool },
}

impl Element {
    /// Positions the element counts for in ClamAV's length checks.
    fn positions(&self) -> usize {
        match self {
            Element::Any(count) => usize::try_from(*count).unwrap_or(usize::MAX),
            _ => 1,
        }
    }

    /// Whether ClamAV's prefilter can represent it (anything but multi-byte or generic alternatives and the
    /// middle boundary classes).
    fn prefilter_representable(&self) -> bool {
        matches!(
            self,
            Element::Byte(_) | Element::Any(_) | Element::HighNibble(_) | Element::LowNibble(_) | Element::Bytes { .. }
        )
    }

    /// How many 2-byte combinations the prefilter enumerates for one position of it.
    fn prefilter_width(&self, nocase: bool) -> u32 {
        match self {
            Element::Byte(byte) if nocase && byte.is_ascii_alphabetic() => 2,
            Element::Byte(_) => 1,
            Element::Any(_) => 256,
            Element::HighNibble(_) | Element::LowNibble(_) => 16,
            Element::Bytes { bytes, .. } => u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            _ => 0,
        }
    }
}

/// One item of a generic alternative branch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Byte(u8),
    Any(u32),
    HighNibble(u8),
    LowNibble(u8),
    Group(Vec<Vec<Item>>),
}

/// The boundary kinds of `(B)`, `(L)`, `(W)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edge {
    letter: u8,
    negated: bool,
}

/// A ClamAV part, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    /// `aa[min-max]` before the rest: (byte, min, max).
    lead: Option<(Element, u32, u32)>,
    /// `[min-max]bb` after the rest.
    trail: Option<(Element, u32, u32)>,
    left_edge: Option<Edge>,
    right_edge: Option<Edge>,
    elements: Vec<Element>,
}

fn compile_text(text: &[u8], options: &Options, context: &Context<'_>) -> Result<Pattern, SyntaxError> {
    let lexemes = lex(text)?;
    let cuts = lexemes.iter().any(|lexeme| matches!(lexeme, Lexeme::Star | Lexeme::Brace(_)));
    let mut parts_lexemes: Vec<&[Lexeme<'_>]> = Vec::new();
    let mut gaps: Vec<PartGap> = Vec::new();
    if cuts {
        let mut depth: i64 = 0;
        for lexeme in &lexemes {
            match lexeme {
                Lexeme::Open => depth = depth.saturating_add(1),
                Lexeme::Close => depth = depth.saturating_sub(1),
                Lexeme::Star | Lexeme::Brace(_) if depth != 0 => {
                    return refuse("an alternative cannot contain `*` or a range wildcard (only {n} with n < 128)");
                }
                _ => {}
            }
        }
        let mut start = 0;
        for (index, lexeme) in lexemes.iter().enumerate() {
            let gap = match lexeme {
                Lexeme::Star => PartGap::ANY,
                Lexeme::Brace(inner) => parse_gap(inner)?,
                _ => continue,
            };
            parts_lexemes.push(lexemes.get(start..index).unwrap_or_default());
            gaps.push(gap);
            start = index.saturating_add(1);
        }
        parts_lexemes.push(lexemes.get(start..).unwrap_or_default());
    } else {
        parts_lexemes.push(&lexemes);
    }

    let boyer_moore = !cuts && !context.logical && is_boyer_moore_candidate(&lexemes, options, context);
    let mut parts = Vec::with_capacity(parts_lexemes.len());
    for part_lexemes in &parts_lexemes {
        if part_lexemes.is_empty() {
            return refuse("a `*` or range wildcard cannot start or end the signature or follow another one");
        }
        let part = if boyer_moore { boyer_moore_part(part_lexemes)? } else { parse_part(part_lexemes, options)? };
        parts.push(part);
    }
    build_pattern(&parts, &gaps, options)
}

/// Whether ClamAV would hand this single-part `.ndb` pattern to Boyer-Moore: a plain hex string for target 0,
/// or for target 1 with an absolute or end-relative offset without a shift.
fn is_boyer_moore_candidate(lexemes: &[Lexeme<'_>], options: &Options, context: &Context<'_>) -> bool {
    let plain =
        lexemes.iter().all(|lexeme| matches!(lexeme, Lexeme::Pair(first, second) if *first != b'?' && *second != b'?'));
    let offset = context.offset;
    let offset_needs_ac = (context.target == Target::PortableExecutable
        && (offset == b"*" || memchr::memchr(b',', offset).is_some()))
        || memchr::memmem::find(offset, b"VI").is_some()
        || memchr::memchr(b'$', offset).is_some();
    plain && options.target.has_boyer_moore() && !options.generic_alternatives && !offset_needs_ac
}

fn boyer_moore_part(lexemes: &[Lexeme<'_>]) -> Result<Part, SyntaxError> {
    let mut elements = Vec::with_capacity(lexemes.len());
    for lexeme in lexemes {
        if let Lexeme::Pair(first, second) = lexeme {
            elements.push(pair_element(*first, *second)?);
        }
    }
    if elements.len() < 3 {
        return refuse(format!(
            "a plain hex signature needs at least 3 bytes ({} given; ClamAV's Boyer-Moore matcher)",
            elements.len()
        ));
    }
    Ok(Part { lead: None, trail: None, left_edge: None, right_edge: None, elements })
}

/// One byte token: hex, `??`, `x?` or `?x`.
fn pair_element(first: u8, second: u8) -> Result<Element, SyntaxError> {
    match (first, second, hex_value(first), hex_value(second)) {
        (b'?', b'?', _, _) => Ok(Element::Any(1)),
        (_, b'?', Some(high), _) => Ok(Element::HighNibble(high << 4)),
        (b'?', _, _, Some(low)) => Ok(Element::LowNibble(low)),
        (_, _, Some(high), Some(low)) => Ok(Element::Byte((high << 4) | low)),
        _ => refuse(format!("invalid byte {}{}", char::from(first), char::from(second))),
    }
}

/// A single byte standing next to `[x-y]`: one pair (or an inlined `{1}`, which ClamAV has turned into `??`).
fn single_byte(lexemes: &[Lexeme<'_>]) -> Result<Option<Element>, SyntaxError> {
    match lexemes {
        [Lexeme::Pair(first, second)] => pair_element(*first, *second).map(Some),
        [Lexeme::Inline(1)] => Ok(Some(Element::Any(1))),
        _ if characters(lexemes) == 2 => refuse("the single byte next to `[x-y]` is not a byte"),
        _ => Ok(None),
    }
}

/// `[x-y]` as `sscanf("%u-%u")` reads it; `[x]` is `[x-x]`. `x <= y <= 32`.
fn parse_byte_range(inner: &[u8]) -> Result<(u32, u32), SyntaxError> {
    let invalid = || SyntaxError::new(format!("invalid range [{}]", show(inner)));
    let (low, rest) = scan_unsigned(inner).ok_or_else(invalid)??;
    let high = match rest.strip_prefix(b"-").and_then(scan_unsigned) {
        Some(result) => result?.0,
        None => low,
    };
    if low > high || high > MAX_BYTE_DISTANCE {
        return refuse(format!("range [{}] must have x <= y <= {MAX_BYTE_DISTANCE}", show(inner)));
    }
    Ok((low, high))
}

fn parse_part(lexemes: &[Lexeme<'_>], options: &Options) -> Result<Part, SyntaxError> {
    if characters(lexemes) < 4 {
        return refuse("a subpattern is shorter than 2 bytes");
    }
    // `aa[x-y]REST`, `REST[x-y]bb`, `aa[x-y]REST[x-y]bb`.
    let mut rest = lexemes;
    let mut lead = None;
    let mut trail = None;
    for round in 0..2 {
        let Some(position) = rest.iter().position(|lexeme| matches!(lexeme, Lexeme::Bracket(_))) else { break };
        let inner = match rest.get(position) {
            Some(Lexeme::Bracket(inner)) => *inner,
            _ => break,
        };
        let before = rest.get(..position).unwrap_or_default();
        let after = rest.get(position.saturating_add(1)..).unwrap_or_default();
        let (low, high) = parse_byte_range(inner)?;
        if let Some(byte) = single_byte(before)? {
            if round == 1 {
                return refuse("a single byte may stand before only the first `[x-y]`");
            }
            lead = Some((byte, low, high));
            rest = after;
        } else if let Some(byte) = single_byte(after)? {
            trail = Some((byte, low, high));
            rest = before;
            break;
        } else {
            return refuse("`[x-y]` needs a single byte on one side (use `{x-y}` between longer strings)");
        }
    }

    let mut elements = Vec::with_capacity(rest.len());
    let mut left_edge = None;
    let mut right_edge = None;
    let mut index = 0;
    let last = rest.len().saturating_sub(1);
    while let Some(lexeme) = rest.get(index) {
        let negated = *lexeme == Lexeme::Bang;
        let (lexeme, at) = if negated {
            match rest.get(index.saturating_add(1)) {
                Some(next @ (Lexeme::Open | Lexeme::Class(_))) => (*next, index.saturating_add(1)),
                _ => return refuse("`!` must be followed by `(`"),
            }
        } else {
            (*lexeme, index)
        };
        match lexeme {
            // A hex byte, by far the commonest element, is written straight into the vector: through
            // `pair_element`'s `Result`, each element was copied from the stack by a load that stalled on the
            // stores before it.
            Lexeme::Pair(first, second) => match (hex_value(first), hex_value(second)) {
                (Some(high), Some(low)) => elements.push(Element::Byte((high << 4) | low)),
                _ => elements.push(pair_element(first, second)?),
            },
            Lexeme::Inline(count) => elements.push(Element::Any(count)),
            Lexeme::Class(letter) => {
                let edge = Edge { letter, negated };
                if at == last {
                    right_edge = Some(edge);
                } else if at == 0 {
                    left_edge = Some(edge);
                } else {
                    elements.push(match letter {
                        b'B' => Element::Boundary { negated },
                        b'L' => Element::Line { negated },
                        _ => Element::Word { negated },
                    });
                }
            }
            Lexeme::Open => {
                let close = matching_close(rest, at).ok_or_else(|| SyntaxError::new("missing closing parenthesis"))?;
                let content = rest.get(at.saturating_add(1)..close).unwrap_or_default();
                if content.is_empty() {
                    return refuse("empty alternative group `()`");
                }
                let nesting = content.iter().filter(|lexeme| matches!(lexeme, Lexeme::Open | Lexeme::Class(_))).count();
                if nesting > MAX_ALTERNATIVE_NESTING {
                    return refuse(format!("alternatives nest more than {MAX_ALTERNATIVE_NESTING} groups deep"));
                }
                elements.push(parse_alternatives(content, negated, options)?);
                index = close.saturating_add(1);
                continue;
            }
            Lexeme::Close => return refuse("`)` without `(`"),
            Lexeme::Pipe => return refuse("`|` outside an alternative group"),
            Lexeme::Bracket(_) => return refuse("more than two `[x-y]` ranges, or one not next to a single byte"),
            Lexeme::Bang | Lexeme::Star | Lexeme::Brace(_) => return refuse("misplaced `!`, `*` or `{`"),
        }
        index = at.saturating_add(1);
    }

    let positions = elements.iter().fold(0usize, |total, element| total.saturating_add(element.positions()));
    if positions < 2 {
        return refuse("a subpattern needs at least 2 byte positions besides (B)/(L)/(W) edges and [x-y] bytes");
    }
    if options.target.has_prefilter() {
        check_prefilter(&elements, options)?;
    }
    let static_run = elements.windows(2).any(|pair| matches!(pair, [Element::Byte(_), Element::Byte(_)]));
    if !static_run {
        return refuse("a subpattern needs two consecutive fixed bytes");
    }
    Ok(Part { lead, trail, left_edge, right_edge, elements })
}

/// The index of the `)` closing the `(` at `open`.
fn matching_close(lexemes: &[Lexeme<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (index, lexeme) in lexemes.iter().enumerate().skip(open) {
        match lexeme {
            Lexeme::Open => depth = depth.saturating_add(1),
            Lexeme::Close => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// ClamAV's prefilter (`filter_add_acpatt`) must be able to index the part: after any leading alternatives or
/// boundaries, at least two positions it can represent, and among them a pair that is not `????`.
fn check_prefilter(elements: &[Element], options: &Options) -> Result<(), SyntaxError> {
    if !options.nocase && elements.iter().all(|element| matches!(element, Element::Byte(_))) {
        return Ok(());
    }
    let mut widths: Vec<u32> = Vec::new();
    let mut position = 0usize;
    let mut leading = true;
    for element in elements {
        if position >= PREFILTER_POSITIONS {
            break;
        }
        if !element.prefilter_representable() {
            if leading {
                position = position.saturating_add(1);
                continue;
            }
            break;
        }
        leading = false;
        let width = element.prefilter_width(options.nocase);
        for _ in 0..element.positions() {
            if position >= PREFILTER_POSITIONS {
                break;
            }
            widths.push(width);
            position = position.saturating_add(1);
        }
    }
    if widths.len() < 2 {
        return refuse(
            "ClamAV's prefilter cannot index this subpattern: it needs two byte positions before the first \
             multi-byte alternative or (B)/(L)/(W)",
        );
    }
    let viable = widths.windows(2).any(|pair| pair.iter().product::<u32>() != 256 * 256);
    if !viable {
        return refuse("ClamAV's prefilter cannot index this subpattern: it starts with wildcards only");
    }
    Ok(())
}

/// An alternative group's content, classified as ClamAV's `ac_analyze_expr` does.
fn parse_alternatives(content: &[Lexeme<'_>], negated: bool, options: &Options) -> Result<Element, SyntaxError> {
    let mut level = 0usize;
    let mut length = 0usize;
    let mut fixed = true;
    let mut longest = 0usize;
    let settle = |length: usize, fixed: &mut bool, longest: &mut usize| {
        if *longest == 0 {
            *longest = length;
        } else if length != *longest {
            *fixed = false;
            *longest = (*longest).max(length);
        }
    };
    for lexeme in content {
        match lexeme {
            Lexeme::Pipe if level == 0 => {
                settle(length, &mut fixed, &mut longest);
                length = 0;
                continue;
            }
            Lexeme::Open => {
                fixed = false;
                level = level.saturating_add(1);
            }
            Lexeme::Close => level = level.saturating_sub(1),
            Lexeme::Pair(first, second) if *first == b'?' || *second == b'?' => fixed = false,
            Lexeme::Inline(_) | Lexeme::Class(_) => fixed = false,
            _ => {}
        }
        length = length.saturating_add(lexeme.characters());
    }
    settle(length, &mut fixed, &mut longest);

    if fixed && !options.generic_alternatives {
        let branches: Vec<&[Lexeme<'_>]> = content.split(|lexeme| *lexeme == Lexeme::Pipe).collect();
        let mut strings = Vec::with_capacity(branches.len());
        for branch in branches {
            if branch.is_empty() {
                return refuse("empty alternative in a fixed-length alternative group");
            }
            let mut bytes = Vec::with_capacity(branch.len());
            for lexeme in branch {
                match lexeme {
                    Lexeme::Pair(first, second) => match pair_element(*first, *second)? {
                        Element::Byte(byte) => bytes.push(byte),
                        _ => return refuse("invalid alternative"),
                    },
                    _ => return refuse("invalid alternative"),
                }
            }
            strings.push(bytes);
        }
        let string_length = longest / 2;
        if string_length == 1 {
            let bytes = strings.into_iter().flatten().collect();
            return Ok(Element::Bytes { bytes, negated });
        }
        return Ok(Element::Strings { length: string_length, strings, negated });
    }
    if negated {
        return refuse(
            "`!` cannot negate generic alternatives (of different lengths, with nibbles or nesting, or with a modifier)",
        );
    }
    Ok(Element::Generic(parse_generic(content, 0)?))
}

fn parse_generic(content: &[Lexeme<'_>], depth: usize) -> Result<Vec<Vec<Item>>, SyntaxError> {
    if depth > MAX_ALTERNATIVE_NESTING {
        return refuse(format!("alternatives nest more than {MAX_ALTERNATIVE_NESTING} groups deep"));
    }
    let mut branches = Vec::new();
    let mut branch = Vec::new();
    let mut index = 0;
    while let Some(lexeme) = content.get(index) {
        match lexeme {
            Lexeme::Pipe => branches.push(std::mem::take(&mut branch)),
            Lexeme::Pair(first, second) => branch.push(match pair_element(*first, *second)? {
                Element::Byte(byte) => Item::Byte(byte),
                Element::Any(count) => Item::Any(count),
                Element::HighNibble(value) => Item::HighNibble(value),
                Element::LowNibble(value) => Item::LowNibble(value),
                _ => return refuse("invalid alternative"),
            }),
            Lexeme::Inline(count) => branch.push(Item::Any(*count)),
            Lexeme::Open => {
                let close =
                    matching_close(content, index).ok_or_else(|| SyntaxError::new("missing closing parenthesis"))?;
                let inner = content.get(index.saturating_add(1)..close).unwrap_or_default();
                if inner.is_empty() {
                    return refuse("empty alternative group `()`");
                }
                branch.push(Item::Group(parse_generic(inner, depth.saturating_add(1))?));
                index = close;
            }
            Lexeme::Bang => return refuse("generic alternatives cannot contain negations"),
            Lexeme::Class(_) => return refuse("(B), (L) and (W) cannot stand inside an alternative"),
            Lexeme::Close => return refuse("`)` without `(`"),
            Lexeme::Star | Lexeme::Brace(_) | Lexeme::Bracket(_) => {
                return refuse("an alternative cannot contain `*`, `[x-y]` or a range wildcard");
            }
        }
        index = index.saturating_add(1);
    }
    branches.push(branch);
    Ok(branches)
}

fn literal_token(byte: u8, nocase: bool) -> Token {
    if nocase && byte.is_ascii_alphabetic() {
        Token::LiteralNoCase(byte.to_ascii_lowercase())
    } else {
        Token::Literal(byte)
    }
}

fn high_nibble(value: u8) -> ByteSet {
    ByteSet::from_predicate(|byte| byte & 0xf0 == value)
}

fn low_nibble(value: u8) -> ByteSet {
    ByteSet::from_predicate(|byte| byte & 0x0f == value)
}

/// The bytes a single-byte element accepts (for `[x-y]` neighbours).
fn element_class(element: &Element, nocase: bool) -> ByteSet {
    match element {
        Element::Byte(byte) => {
            let mut set = ByteSet::EMPTY;
            set.insert(*byte);
            if nocase && byte.is_ascii_alphabetic() {
                set.insert(byte.to_ascii_lowercase());
                set.insert(byte.to_ascii_uppercase());
            }
            set
        }
        Element::HighNibble(value) => high_nibble(*value),
        Element::LowNibble(value) => low_nibble(*value),
        _ => ByteSet::ALL,
    }
}

fn push_token(tokens: &mut Vec<Token>, token: Token) {
    if let Token::Gap { min, max } = token
        && min <= max
        && let Some(Token::Gap { min: previous_min, max: previous_max }) = tokens.last_mut()
        && *previous_min <= *previous_max
    {
        *previous_min = previous_min.saturating_add(min);
        *previous_max = previous_max.saturating_add(max);
        return;
    }
    tokens.push(token);
}

fn item_tokens(items: &[Item], nocase: bool) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(items.len());
    for item in items {
        let token = match item {
            Item::Byte(byte) => literal_token(*byte, nocase),
            Item::Any(count) => {
                let count = usize::try_from(*count).unwrap_or(usize::MAX);
                Token::Gap { min: count, max: count }
            }
            Item::HighNibble(value) => Token::Class(high_nibble(*value)),
            Item::LowNibble(value) => Token::Class(low_nibble(*value)),
            Item::Group(branches) => {
                Token::Alternation(branches.iter().map(|branch| item_tokens(branch, nocase)).collect())
            }
        };
        push_token(&mut tokens, token);
    }
    tokens
}

fn element_tokens(element: &Element, nocase: bool, tokens: &mut Vec<Token>) {
    let token = match element {
        Element::Byte(byte) => literal_token(*byte, nocase),
        Element::Any(count) => {
            let count = usize::try_from(*count).unwrap_or(usize::MAX);
            Token::Gap { min: count, max: count }
        }
        Element::HighNibble(value) => Token::Class(high_nibble(*value)),
        Element::LowNibble(value) => Token::Class(low_nibble(*value)),
        Element::Bytes { bytes, negated } => {
            let mut set = ByteSet::EMPTY;
            for byte in bytes {
                set.insert(*byte);
            }
            Token::Class(if *negated { set.complement() } else { set })
        }
        Element::Strings { length, strings, negated } => {
            if *negated {
                Token::NegatedStrings { length: *length, strings: strings.clone() }
            } else {
                Token::Alternation(
                    strings.iter().map(|string| string.iter().map(|byte| Token::Literal(*byte)).collect()).collect(),
                )
            }
        }
        Element::Generic(branches) => {
            Token::Alternation(branches.iter().map(|branch| item_tokens(branch, nocase)).collect())
        }
        Element::Boundary { negated } => {
            Token::Class(ByteSet::from_predicate(|byte| (boundary_class(byte) != 0) != *negated))
        }
        Element::Word { negated } => {
            Token::Class(ByteSet::from_predicate(|byte| byte.is_ascii_alphanumeric() == *negated))
        }
        Element::Line { negated: false } => {
            Token::Alternation(vec![vec![Token::Literal(b'\n')], vec![Token::Literal(b'\r'), Token::Literal(b'\n')]])
        }
        Element::Line { negated: true } => Token::Alternation(vec![
            vec![Token::Class(ByteSet::from_predicate(|byte| byte != b'\n' && byte != b'\r'))],
            vec![Token::Literal(b'\r'), Token::Assert(Assertion::NotFollowedByLineFeed)],
        ]),
    };
    push_token(tokens, token);
}

fn edge_assertion(edge: Edge, before: bool, wide: bool) -> Assertion {
    let negated = edge.negated;
    match (edge.letter, before) {
        (b'B', true) => Assertion::BoundaryBefore { negated },
        (b'B', false) => Assertion::BoundaryAfter { negated },
        (b'L', true) => Assertion::LineBefore { negated },
        (b'L', false) => Assertion::LineAfter { negated },
        (_, true) => Assertion::WordBefore { negated, wide },
        (_, false) => Assertion::WordAfter { negated, wide },
    }
}

fn part_tokens(part: &Part, options: &Options, tokens: &mut Vec<Token>) {
    let distance = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
    if let Some((element, min, max)) = &part.lead {
        let class = element_class(element, options.nocase);
        tokens.push(Token::Assert(Assertion::ByteBefore { class, min: distance(*min), max: distance(*max) }));
    }
    if let Some(edge) = part.left_edge {
        tokens.push(Token::Assert(edge_assertion(edge, true, options.wide)));
    }
    for element in &part.elements {
        match element {
            // The commonest element, written straight into the vector (see `parse_part`).
            Element::Byte(byte) if !options.nocase => tokens.push(Token::Literal(*byte)),
            _ => element_tokens(element, options.nocase, tokens),
        }
    }
    if let Some(edge) = part.right_edge {
        tokens.push(Token::Assert(edge_assertion(edge, false, options.wide)));
    }
    if let Some((element, min, max)) = &part.trail {
        let class = element_class(element, options.nocase);
        tokens.push(Token::Assert(Assertion::ByteAfter { class, min: distance(*min), max: distance(*max) }));
    }
}

fn build_pattern(parts: &[Part], gaps: &[PartGap], options: &Options) -> Result<Pattern, SyntaxError> {
    let mut segments = Vec::with_capacity(gaps.len() + 1);
    let mut pattern_gaps = Vec::with_capacity(gaps.len());
    // Room for every part's tokens (one per element, plus its edges and ranges), so the vector never grows.
    let mut tokens = Vec::with_capacity(parts.iter().map(|part| part.elements.len() + 4).sum::<usize>() + gaps.len());
    for (index, part) in parts.iter().enumerate() {
        part_tokens(part, options, &mut tokens);
        if let Some(gap) = gaps.get(index) {
            if gap.is_inline() {
                let min = usize::try_from(gap.min).unwrap_or(usize::MAX);
                let max = usize::try_from(gap.max).unwrap_or(usize::MAX);
                push_token(&mut tokens, Token::Gap { min, max });
            } else {
                segments.push(Segment::new(std::mem::take(&mut tokens))?);
                pattern_gaps.push(gap.public());
            }
        }
    }
    segments.push(Segment::new(tokens)?);
    // Held for the life of the database: no spare capacity (a pushed Vec keeps room for four segments).
    segments.shrink_to_fit();
    pattern_gaps.shrink_to_fit();
    Ok(Pattern { segments, gaps: pattern_gaps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::segment::VerifyScratch;

    fn pattern(hex: &str) -> Pattern {
        let mut patterns = compile(hex.as_bytes(), Modifiers::default(), Target::Html).expect(hex);
        assert_eq!(patterns.len(), 1);
        patterns.remove(0)
    }

    fn refusal(hex: &str) -> String {
        compile(hex.as_bytes(), Modifiers::default(), Target::Any).expect_err(hex).reason
    }

    #[test]
    fn unbounded_and_long_gaps_split_segments() {
        let split = pattern("41424344*45464748{300-400}4950{2-}5152{-10}5354");
        assert_eq!(split.segments.len(), 4);
        assert_eq!(
            split.gaps,
            vec![Gap { min: 0, max: None }, Gap { min: 300, max: Some(400) }, Gap { min: 2, max: None }]
        );
        assert_eq!(split.segments[0].anchor(), b"ABCD");
        assert_eq!(split.segments[3].anchor(), b"QR");
        assert_eq!((split.segments[3].min_len(), split.segments[3].max_len()), (4, 14));
        // {n-m} up to MAX_INLINE_GAP stays inside the segment; {256} too, {257-257} does not.
        assert_eq!(pattern("4142{0-256}4344").segments.len(), 1);
        assert_eq!(pattern("4142{256}4344").segments.len(), 1);
        assert_eq!(pattern("4142{257}4344").gaps, vec![Gap { min: 257, max: Some(257) }]);
        // ClamAV reads a maximum of 0 as "none".
        assert_eq!(pattern("4142{0}4344").gaps, vec![Gap { min: 0, max: None }]);
        assert_eq!(pattern("4142{7-0}4344").gaps, vec![Gap { min: 7, max: None }]);
        assert_eq!(split.min_len(), 4 + 4 + 2 + 4 + 300 + 2);
    }

    #[test]
    fn wildcards_at_segment_edges() {
        // `??` and inlined `{n}` at the edges of a segment are part of it (they do not cut).
        let edges = pattern("????4142{2}");
        assert_eq!(edges.segments.len(), 1);
        let segment = &edges.segments[0];
        assert_eq!((segment.max_before_anchor(), segment.max_after_anchor()), (2, 2));
        let hay = b"xyABzw";
        assert_eq!(segment.verify(hay, 0, 6, 2, 0..=6), Some(0..6));
        assert_eq!(segment.verify(b"xABzw", 0, 5, 1, 0..=5), None);
        // A range at the very start or end of a pattern leaves an empty part: refused (clamscan agrees).
        assert!(refusal("{1-3}41424344").contains("cannot start or end"));
        assert!(refusal("41424344{-3}").contains("cannot start or end"));
        assert!(refusal("41424344*").contains("cannot start or end"));
    }

    #[test]
    fn nibbles_and_alternatives() {
        let nibbles = pattern("4?4243?4");
        let segment = &nibbles.segments[0];
        assert_eq!(segment.anchor(), b"BC");
        assert_eq!(segment.verify(b"ZBCt", 0, 4, 1, 0..=4), None);
        assert_eq!(segment.verify(b"ABCd", 0, 4, 1, 0..=4), Some(0..4));
        assert_eq!(segment.verify(b"ABC$", 0, 4, 1, 0..=4), Some(0..4));
        // Alternatives of different lengths: both ends are possible; the earliest is reported.
        let different = pattern("4142(43|4344)");
        let mut ends = Vec::new();
        let start =
            different.segments[0].verify_ends(&mut VerifyScratch::default(), b"ABCD", 0, 4, 0, 0..=4, &mut ends);
        assert_eq!(start, Some(0));
        assert_eq!(ends, vec![3..=4]);
        // Negated alternatives: one byte, or one string of the common length, outside the set.
        let negated = pattern("4142!(4344|4546)");
        assert_eq!(negated.segments[0].verify(b"ABCD", 0, 4, 0, 0..=4), None);
        assert_eq!(negated.segments[0].verify(b"ABCE", 0, 4, 0, 0..=4), Some(0..4));
        assert_eq!(negated.segments[0].verify(b"ABC", 0, 3, 0, 0..=3), None);
    }

    #[test]
    fn refusal_reasons() {
        for (hex, reason) in [
            ("4142!(43|4445)4647", "cannot negate generic"),
            ("4142()4344", "empty alternative group"),
            ("4142(|43)4344", "empty alternative in a fixed-length"),
            ("41424(3)44", "pairs"),
            ("414", "odd number"),
            ("4142 4344", "unexpected character"),
            ("4142{x}4344", "invalid range"),
            ("4142{1-2-3}4344", "invalid range"),
            ("4142{4294967296}4344", "invalid range"),
            ("4142{2", "unterminated"),
            ("4142[1-2", "unterminated"),
            ("41[0-33]424344", "x <= y <= 32"),
            ("41[2-1]424344", "x <= y <= 32"),
            ("41[x]424344", "invalid range"),
            ("4142[1-2]4344", "single byte"),
            ("41[1-2]4243[1-2]44[3]45", "single byte"),
            ("41[1-2]4243[1]44(45|[2]46)", "single byte"),
            ("4142)43", "without `(`"),
            ("4142(43", "missing closing"),
            ("4142|4344", "outside an alternative"),
            ("4142!4344", "followed by `(`"),
            ("4142(43*|44)4546", "cannot contain `*`"),
            ("41", "shorter than 2 bytes"),
            ("41??", "consecutive fixed bytes"),
            ("(B)41(L)", "at least 2 byte positions"),
            ("(B)4", "odd number"),
            ("(B)", "shorter than 2 bytes"),
            ("(B)41??42(L)*4344", "consecutive fixed bytes"),
            ("41(B)4243", "prefilter"),
            ("????(B)4142", "prefilter"),
            // clamscan: 15 nested groups load, 16 are refused.
            ("4142(43|(44|(45|(46|(47|(48|(49|(4a|(4b|(4c|(4d|(4e|(4f|(50|(51|(52|(54|53)))))))))))))))))", "nest"),
            ("4142(43|(B))4445", "(B), (L) and (W) cannot"),
            ("4142(43|!(44))4546", "negations"),
        ] {
            let found = refusal(hex);
            assert!(found.contains(reason), "{hex}: {found}");
        }
    }

    #[test]
    fn fifteen_nested_groups_load() {
        let fifteen = "4142(43|(44|(45|(46|(47|(48|(49|(4a|(4b|(4c|(4d|(4e|(4f|(50|(51|(52|53))))))))))))))))4546";
        let compiled = pattern(fifteen);
        assert_eq!(compiled.segments[0].verify(b"ABSEF", 0, 5, 0, 0..=5), Some(0..5));
    }

    #[test]
    fn modifiers_transform_text_like_clamav() {
        assert_eq!(
            widen(b"4142{2}(B)*43??(44|45)!(46|47)[1-2]").expect("wide"),
            b"41004200{2}(B)*4300??00(4400|4500)!(4600|4700){1-2}".to_vec()
        );
        assert_eq!(fullword_text(b"41[1-2]4243").expect("fullword"), b"(W)41{1-2}4243(W)".to_vec());
        assert!(fullword_text(b"41[1-2").is_err());
        let nocase =
            compile(b"6162{2}4344", Modifiers { nocase: true, ..Modifiers::default() }, Target::Any).expect("nocase");
        assert_eq!(nocase[0].segments[0].anchor(), b"ab");
        assert!(nocase[0].segments[0].anchor_nocase());
        assert_eq!(nocase[0].segments[0].verify(b"AB--cD", 0, 6, 0, 0..=6), Some(0..6));
        let both = compile(b"414243", Modifiers { wide: true, ascii: true, fullword: true, nocase: true }, Target::Any)
            .expect("wide and ascii");
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].segments[0].anchor(), b"a\0b\0c\0");
        assert_eq!(both[1].segments[0].anchor(), b"abc");
        assert!(Modifiers { ascii: true, ..Modifiers::default() }.any());
        assert!(!Modifiers::default().any());
    }

    #[test]
    fn offsets_parse() {
        let parse = |text: &str, target: Target| parse_offset(text.as_bytes(), target);
        assert_eq!(parse("*", Target::Any), Ok(Offset::Any));
        assert_eq!(parse("10", Target::Any), Ok(Offset::Absolute { start: 10, shift: 0 }));
        assert_eq!(parse("10,5", Target::Any), Ok(Offset::Absolute { start: 10, shift: 5 }));
        assert_eq!(parse("EOF-20", Target::Any), Ok(Offset::FromEnd { distance: 20, shift: 0 }));
        assert_eq!(parse("EOF-20,4", Target::Any), Ok(Offset::FromEnd { distance: 20, shift: 4 }));
        assert_eq!(
            parse("EP+3,9", Target::PortableExecutable),
            Ok(Offset::Unsupported(RelativeOffset::EntryPointPlus { distance: 3, shift: 9 }))
        );
        assert_eq!(
            parse("EP-3", Target::Elf),
            Ok(Offset::Unsupported(RelativeOffset::EntryPointMinus { distance: 3, shift: 0 }))
        );
        assert_eq!(
            parse("S2+16", Target::MachO),
            Ok(Offset::Unsupported(RelativeOffset::SectionStart { section: 2, distance: 16, shift: 0 }))
        );
        assert_eq!(
            parse("SE1", Target::PortableExecutable),
            Ok(Offset::Unsupported(RelativeOffset::WholeSection { section: 1, shift: 0 }))
        );
        assert_eq!(
            parse("SL+8", Target::PortableExecutable),
            Ok(Offset::Unsupported(RelativeOffset::LastSectionStart { distance: 8, shift: 0 }))
        );
        assert_eq!(parse("VI", Target::PortableExecutable), Ok(Offset::Unsupported(RelativeOffset::VersionInfo)));
        assert_eq!(parse("$7$", Target::Any), Ok(Offset::Unsupported(RelativeOffset::Macro { group: 7 })));
        for (text, target) in [
            ("EP+1", Target::Any),
            ("S1", Target::PortableExecutable),
            ("SX+1", Target::PortableExecutable),
            ("EOF+1", Target::Any),
            ("EOF-x", Target::Any),
            ("1,x", Target::Any),
            ("$32$", Target::Any),
            ("$x$", Target::Any),
            ("-1", Target::Any),
            ("4294967296", Target::Any),
        ] {
            assert!(parse(text, target).is_err(), "{text}");
        }
        assert!(parse(&"1".repeat(65), Target::Any).is_err());
        for text in ["*", "10,5", "EOF-20,4", "EP+3,9", "EP-3", "S2+16", "SE1", "SL+8", "VI", "$7$"] {
            let parsed = parse(text, Target::PortableExecutable).expect(text);
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(Offset::FromEnd { distance: 4, shift: 2 }.start_range(10), StartRange::Range(6..=8));
        assert_eq!(Offset::FromEnd { distance: 11, shift: 2 }.start_range(10), StartRange::Never);
        assert_eq!(Offset::Absolute { start: 3, shift: 0 }.start_range(1), StartRange::Range(3..=3));
        assert_eq!(Offset::Any.start_range(0), StartRange::Unconstrained);
        assert_eq!(Offset::Unsupported(RelativeOffset::VersionInfo).start_range(9), StartRange::Unknown);
    }

    #[test]
    fn single_byte_neighbours_are_tests_around_the_match() {
        let lead = pattern("41[1-2]424344");
        let segment = &lead.segments[0];
        assert_eq!(segment.anchor(), b"BCD");
        assert_eq!(segment.max_before_anchor(), 3);
        // The match starts at "BCD", not at the lone byte, as ClamAV reports it.
        assert_eq!(segment.verify(b"A-BCD", 0, 5, 2, 0..=5), Some(2..5));
        assert_eq!(segment.verify(b"A--BCD", 0, 6, 3, 0..=6), Some(3..6));
        assert_eq!(segment.verify(b"A---BCD", 0, 7, 4, 0..=7), None);
        let trail = pattern("424344[0-1]45");
        assert_eq!(trail.segments[0].verify(b"BCDE", 0, 4, 0, 0..=4), Some(0..3));
        assert_eq!(trail.segments[0].verify(b"BCD-E", 0, 5, 0, 0..=5), Some(0..3));
        assert_eq!(trail.segments[0].verify(b"BCD--E", 0, 6, 0, 0..=6), None);
    }

    #[test]
    fn body_lines() {
        let Ok(Line::Signature(signature)) = parse_body_line(b"Eicar.Test:0:EOF-10,2:41424344:51:255\r\n") else {
            panic!("not loaded")
        };
        assert_eq!(signature.name, "Eicar.Test");
        assert_eq!(signature.target, Target::Any);
        assert_eq!(signature.offset, Offset::FromEnd { distance: 10, shift: 2 });
        assert_eq!(signature.flevel, Flevel { min: Some(51), max: Some(255) });
        assert_eq!(signature.pattern.segments[0].anchor(), b"ABCD");
        assert!(matches!(
            parse_body_line(b"T:99999999999999999999999:*:414243"),
            Ok(Line::Skipped { reason: SkipReason::UnknownTarget(u64::MAX), .. })
        ));
        assert!(parse_body_line(b"T:0:*").is_err());
        assert!(parse_body_line(b"T:0:*:4142").unwrap_err().reason.contains("3 bytes"));
        assert!(parse_body_line(b"T:1:0:4142").unwrap_err().reason.contains("3 bytes"));
        assert!(matches!(parse_body_line(b"T:1:*:4142"), Ok(Line::Signature(_))));
        assert!(matches!(parse_body_line(b"T:0:*:4142??"), Ok(Line::Signature(_))));
        assert!(parse_body_line(b"T:0:*:414243:x").unwrap_err().reason.contains("minimum"));
    }
}
