//! Segment verification: does a compiled piece of a body signature match around an anchor hit, and where?
//!
//! A [`Segment`] is a sequence of tokens (fixed bytes, byte classes, bounded skips, alternatives, zero-width
//! assertions) with one run of fixed bytes chosen as its anchor. The scanner's prefilter finds anchors; for each
//! hit the verifier answers "which starts are possible to the left" and "which ends are possible to the right".
//! Given the anchor position the two sides are independent, because every token only constrains the bytes it
//! covers (assertions only read bytes at fixed places around one position).
//!
//! Each side is a simulation over sets of positions, not a backtracking search: starting from the anchor edge,
//! each token maps the set of positions where the text so far can end to the set where it can end after the
//! token. Sets are sorted lists of disjoint intervals, so a bounded skip `{n-m}` costs one interval shift, an
//! alternative is the union of its branches, and a byte test visits each candidate position once. The work is
//! therefore bounded by (window length) x (number of tokens, counting every branch), whatever the input bytes,
//! and nothing recurses deeper than the nesting of alternatives, which the parser bounds.

use std::ops::{Range, RangeInclusive};

use super::SyntaxError;
use crate::literals::MAX_LITERAL_LEN;

/// A set of byte values, one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    /// No byte.
    pub(crate) const EMPTY: ByteSet = ByteSet([0; 4]);
    /// Every byte.
    pub(crate) const ALL: ByteSet = ByteSet([u64::MAX; 4]);

    /// The bytes for which `predicate` holds.
    pub(crate) fn from_predicate(predicate: impl Fn(u8) -> bool) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        for byte in 0..=u8::MAX {
            if predicate(byte) {
                set.insert(byte);
            }
        }
        set
    }

    /// Adds `byte`.
    pub(crate) fn insert(&mut self, byte: u8) {
        if let Some(word) = self.0.get_mut(usize::from(byte >> 6)) {
            *word |= 1u64 << (byte & 63);
        }
    }

    /// Whether `byte` is in the set.
    pub(crate) fn contains(&self, byte: u8) -> bool {
        self.0.get(usize::from(byte >> 6)).is_some_and(|word| word & (1u64 << (byte & 63)) != 0)
    }

    /// The bytes not in the set.
    pub(crate) fn complement(&self) -> ByteSet {
        let [a, b, c, d] = self.0;
        ByteSet([!a, !b, !c, !d])
    }

    /// How many bytes the set holds.
    pub(crate) fn len(&self) -> u32 {
        self.0.iter().map(|word| word.count_ones()).sum()
    }
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "ByteSet({} bytes)", self.len())
    }
}

/// ClamAV's word-boundary table (`matcher-ac.c`): 1 = may precede a word, 2 = may follow a word, 3 = both.
/// ` ` `-` `/` `_` are both; `.` `<` `@` only precede; LF, CR, `"`, `'`, `=`, `>` only follow. Nothing else is a
/// boundary (not TAB, not `,`, not `;`).
pub(crate) fn boundary_class(byte: u8) -> u8 {
    match byte {
        b' ' | b'-' | b'/' | b'_' => 3,
        b'.' | b'<' | b'@' => 1,
        b'\n' | b'\r' | b'"' | b'\'' | b'=' | b'>' => 2,
        _ => 0,
    }
}

/// A zero-width test at one position. `Before` tests read the bytes before the position, `After` tests the
/// bytes from it on; the part's first and last positions count as boundaries where ClamAV says so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Assertion {
    /// `(B)` at the start of a subpattern: the part starts here or the byte before is one of ClamAV's
    /// left-boundary bytes (` ` `-` `.` `/` `<` `@` `_`).
    BoundaryBefore { negated: bool },
    /// `(B)` at the end of a subpattern: the part ends here or the next byte is one of ClamAV's right-boundary
    /// bytes (` ` `-` `/` `_` LF CR `"` `'` `=` `>`).
    BoundaryAfter { negated: bool },
    /// `(L)` at the start: the part starts here or the byte before is LF.
    LineBefore { negated: bool },
    /// `(L)` at the end: the part ends here, or LF, or CR LF follows. A lone CR is no line boundary.
    LineAfter { negated: bool },
    /// `(W)` at the start (and the left side of `::f`): the part starts here or the byte before is not ASCII
    /// alphanumeric. In a wide (`::w`) pattern: position 0 or 1 of the part, or the two bytes before are not an
    /// alphanumeric byte followed by 00.
    WordBefore { negated: bool, wide: bool },
    /// `(W)` at the end (and the right side of `::f`): the part ends here or the next byte is not ASCII
    /// alphanumeric. Wide: the next two bytes are not an alphanumeric byte followed by 00 (with one byte left,
    /// that byte is not alphanumeric).
    WordAfter { negated: bool, wide: bool },
    /// `aa[min-max]HEX`: a byte of `class` lies `min..=max` bytes before the position, counting the bytes between
    /// (so at position - 1 - distance).
    ByteBefore { class: ByteSet, min: usize, max: usize },
    /// `HEX[min-max]aa`: a byte of `class` lies at position + distance, distance in `min..=max`.
    ByteAfter { class: ByteSet, min: usize, max: usize },
    /// After the CR of a negated middle `!(L)`: the part ends here or the next byte is not LF.
    NotFollowedByLineFeed,
}

impl Assertion {
    /// How many bytes before the position the test may read.
    fn look_before(&self) -> usize {
        match self {
            Assertion::BoundaryBefore { .. } | Assertion::LineBefore { .. } => 1,
            Assertion::WordBefore { wide, .. } => {
                if *wide {
                    2
                } else {
                    1
                }
            }
            Assertion::ByteBefore { max, .. } => max.saturating_add(1),
            Assertion::BoundaryAfter { .. }
            | Assertion::LineAfter { .. }
            | Assertion::WordAfter { .. }
            | Assertion::ByteAfter { .. }
            | Assertion::NotFollowedByLineFeed => 0,
        }
    }

    /// How many bytes from the position on the test may read.
    fn look_after(&self) -> usize {
        match self {
            Assertion::BoundaryAfter { .. } | Assertion::NotFollowedByLineFeed => 1,
            Assertion::LineAfter { .. } => 2,
            Assertion::WordAfter { wide, .. } => {
                if *wide {
                    2
                } else {
                    1
                }
            }
            Assertion::ByteAfter { max, .. } => max.saturating_add(1),
            Assertion::BoundaryBefore { .. }
            | Assertion::LineBefore { .. }
            | Assertion::WordBefore { .. }
            | Assertion::ByteBefore { .. } => 0,
        }
    }
}

/// One element of a segment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Token {
    /// Exactly this byte.
    Literal(u8),
    /// Exactly these bytes (two or more), in order: what [`compact`] makes of consecutive [`Token::Literal`]s
    /// once a segment is built, so that a fixed run costs its bytes rather than one token per byte.
    Bytes(Box<[u8]>),
    /// This ASCII letter in either case (stored lower-case).
    LiteralNoCase(u8),
    /// One byte of the set.
    Class(ByteSet),
    /// `min..=max` bytes of anything. `min > max` matches nothing (ClamAV accepts `{5-2}` and never matches it).
    Gap { min: usize, max: usize },
    /// Any one of the branches.
    Alternation(Vec<Vec<Token>>),
    /// `length` bytes that are none of `strings` (`!(aabb|ccdd)`).
    NegatedStrings { length: usize, strings: Vec<Vec<u8>> },
    /// A zero-width test.
    Assert(Assertion),
}

impl Token {
    /// Bytes of heap the token holds (not counting the token itself).
    fn heap_bytes(&self) -> usize {
        match self {
            Token::Alternation(branches) => {
                branches.capacity() * size_of::<Vec<Token>>()
                    + branches
                        .iter()
                        .map(|branch| {
                            tokens_heap_bytes(branch) + (branch.capacity() - branch.len()) * size_of::<Token>()
                        })
                        .sum::<usize>()
            }
            Token::NegatedStrings { strings, .. } => {
                strings.capacity() * size_of::<Vec<u8>>() + strings.iter().map(Vec::capacity).sum::<usize>()
            }
            Token::Bytes(bytes) => bytes.len(),
            Token::Literal(_) | Token::LiteralNoCase(_) | Token::Class(_) | Token::Gap { .. } | Token::Assert(_) => 0,
        }
    }

    fn min_len(&self) -> usize {
        match self {
            Token::Literal(_) | Token::LiteralNoCase(_) | Token::Class(_) => 1,
            Token::Bytes(bytes) => bytes.len(),
            Token::Gap { min, .. } => *min,
            Token::Alternation(branches) => branches.iter().map(|branch| sequence_min_len(branch)).min().unwrap_or(0),
            Token::NegatedStrings { length, .. } => *length,
            Token::Assert(_) => 0,
        }
    }

    fn max_len(&self) -> usize {
        match self {
            Token::Literal(_) | Token::LiteralNoCase(_) | Token::Class(_) => 1,
            Token::Bytes(bytes) => bytes.len(),
            Token::Gap { min, max } => (*max).max(*min),
            Token::Alternation(branches) => branches.iter().map(|branch| sequence_max_len(branch)).max().unwrap_or(0),
            Token::NegatedStrings { length, .. } => *length,
            Token::Assert(_) => 0,
        }
    }

    /// The furthest any test inside the token reads outside the bytes the token covers, before and after.
    fn look_around(&self) -> (usize, usize) {
        match self {
            Token::Assert(assertion) => (assertion.look_before(), assertion.look_after()),
            // A test inside a branch reads no further outside the branch than outside its own position.
            Token::Alternation(branches) => branches
                .iter()
                .map(|branch| max_look_around(branch))
                .fold((0, 0), |(before, after), (branch_before, branch_after)| {
                    (before.max(branch_before), after.max(branch_after))
                }),
            _ => (0, 0),
        }
    }

    /// The anchor byte and its case-insensitivity, for tokens that can be part of an anchor.
    fn anchor_byte(&self) -> Option<(u8, bool)> {
        match self {
            Token::Literal(byte) => Some((*byte, false)),
            Token::LiteralNoCase(byte) => Some((*byte, true)),
            _ => None,
        }
    }
}

fn sequence_min_len(tokens: &[Token]) -> usize {
    tokens.iter().fold(0usize, |total, token| total.saturating_add(token.min_len()))
}

fn sequence_max_len(tokens: &[Token]) -> usize {
    tokens.iter().fold(0usize, |total, token| total.saturating_add(token.max_len()))
}

/// Bytes that make poor anchors because they fill padding, code alignment and text.
fn is_common_byte(byte: u8) -> bool {
    matches!(byte, 0x00 | 0xff | 0x20 | 0x90)
}

/// A piece of a compiled pattern with no unbounded gap inside, verified around its anchor.
///
/// Built by the body compiler; see [`super::body::compile`]. Immutable and cheap to share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// The tokens left of the anchor, matched backwards from it.
    left: Box<[Token]>,
    /// The tokens right of the anchor, matched forwards from its end.
    right: Box<[Token]>,
    /// The anchor bytes (lower-case for case-insensitive letters). Its tokens are not kept: a signature made
    /// of fixed bytes only (most are) costs its bytes and nothing more.
    anchor: Box<[u8]>,
    /// Per anchor byte, whether it ignores ASCII case; empty when every byte is as `anchor_nocase` says.
    anchor_byte_nocase: Box<[bool]>,
    anchor_nocase: bool,
    max_before: usize,
    max_after: usize,
    min_len: usize,
    max_len: usize,
}

/// Bytes of heap a sequence of tokens holds: the tokens and what each holds.
fn tokens_heap_bytes(tokens: &[Token]) -> usize {
    size_of_val(tokens) + tokens.iter().map(Token::heap_bytes).sum::<usize>()
}

impl Segment {
    /// Bytes of heap the segment holds (not counting the segment itself).
    pub fn heap_bytes(&self) -> usize {
        tokens_heap_bytes(&self.left)
            + tokens_heap_bytes(&self.right)
            + self.anchor.len()
            + self.anchor_byte_nocase.len()
    }

    /// Builds a segment from its tokens, choosing the anchor: the longest run of fixed bytes at the top level
    /// (at most the prefilter's [`MAX_LITERAL_LEN`] bytes: a longer run is cut, its rest verified like any
    /// token right of the anchor); on a tie, the run with more bytes other than 00, FF, 20 and 90; then the
    /// first. Fails when no token is a
    /// fixed byte (the body parser never builds such a segment, because ClamAV requires two fixed bytes in every
    /// subpattern).
    pub(crate) fn new(tokens: Vec<Token>) -> Result<Segment, SyntaxError> {
        let mut best: Option<(usize, usize, usize)> = None; // (first, length, rare bytes)
        let mut index = 0;
        while index < tokens.len() {
            let run = tokens
                .get(index..)
                .unwrap_or_default()
                .iter()
                .take_while(|token| token.anchor_byte().is_some())
                .take(MAX_LITERAL_LEN);
            let length = run.clone().count();
            if length == 0 {
                index = index.saturating_add(1);
                continue;
            }
            let rare = run.filter(|token| token.anchor_byte().is_some_and(|(byte, _)| !is_common_byte(byte))).count();
            if best.is_none_or(|(_, best_length, best_rare)| (length, rare) > (best_length, best_rare)) {
                best = Some((index, length, rare));
            }
            index = index.saturating_add(length);
        }
        let Some((anchor_first, anchor_length, _)) = best else {
            return Err(SyntaxError::new("a subpattern has no fixed byte to anchor it"));
        };
        let anchor_end = anchor_first.saturating_add(anchor_length);
        let anchor_tokens = tokens.get(anchor_first..anchor_end).unwrap_or_default();
        let anchor: Box<[u8]> =
            anchor_tokens.iter().filter_map(|token| token.anchor_byte().map(|(byte, _)| byte)).collect();
        let is_nocase = |token: &Token| matches!(token, Token::LiteralNoCase(_));
        let anchor_nocase = anchor_tokens.iter().any(is_nocase);
        let anchor_byte_nocase: Box<[bool]> = if anchor_tokens.iter().all(|token| is_nocase(token) == anchor_nocase) {
            Box::default()
        } else {
            anchor_tokens.iter().map(is_nocase).collect()
        };
        let left = tokens.get(..anchor_first).unwrap_or_default();
        let right = tokens.get(anchor_end..).unwrap_or_default();
        let (left_before, left_after) = max_look_around(left);
        let (right_before, right_after) = max_look_around(right);
        let max_before = sequence_max_len(left).saturating_add(left_before).max(right_before);
        let max_after = sequence_max_len(right).saturating_add(right_after).max(left_after);
        let min_len = sequence_min_len(&tokens);
        let max_len = sequence_max_len(&tokens);
        let left = compact(left);
        let right = compact(right);
        Ok(Segment { left, right, anchor, anchor_byte_nocase, anchor_nocase, max_before, max_after, min_len, max_len })
    }

    /// The anchor: the run of fixed bytes the prefilter should look for. For a case-insensitive segment the
    /// letters are lower-case ASCII.
    pub fn anchor(&self) -> &[u8] {
        &self.anchor
    }

    /// Whether the anchor must be matched ignoring ASCII case.
    pub fn anchor_nocase(&self) -> bool {
        self.anchor_nocase
    }

    /// The most bytes the verifier reads left of the anchor: the longest the segment can extend to the left,
    /// plus what its boundary and `[x-y]` tests look at before that.
    pub fn max_before_anchor(&self) -> usize {
        self.max_before
    }

    /// The most bytes the verifier reads right of the anchor's end, counted like [`Segment::max_before_anchor`].
    pub fn max_after_anchor(&self) -> usize {
        self.max_after
    }

    /// The shortest match.
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// The longest match.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The anchor's bytes are known to occur at `hay[anchor_start..]`. `hay` is a window of the part: `hay[0]` is
    /// at `window_offset` in the part and the part is `part_len` bytes long (so boundary tests can tell the part's
    /// start and end from the window's edges; the scanner guarantees the window holds
    /// `max_before_anchor() + 1` bytes before and `max_after_anchor() + 1` after the anchor whenever the part has
    /// them). Returns the match whose start (a position in `hay`) lies in `allowed_starts` and whose end is
    /// earliest; of several allowed starts, the smallest. `None` if there is none, or if the anchor is not at
    /// `anchor_start` after all.
    ///
    /// A byte a test needs that lies inside the part but outside the window counts as failing the test.
    ///
    /// Allocates its working sets; [`Segment::verify_with`] reuses a [`VerifyScratch`] instead.
    pub fn verify(
        &self,
        hay: &[u8],
        window_offset: u64,
        part_len: u64,
        anchor_start: usize,
        allowed_starts: RangeInclusive<usize>,
    ) -> Option<Range<usize>> {
        self.verify_with(&mut VerifyScratch::default(), hay, window_offset, part_len, anchor_start, allowed_starts)
    }

    /// [`Segment::verify`] with reusable working memory.
    pub fn verify_with(
        &self,
        scratch: &mut VerifyScratch,
        hay: &[u8],
        window_offset: u64,
        part_len: u64,
        anchor_start: usize,
        allowed_starts: RangeInclusive<usize>,
    ) -> Option<Range<usize>> {
        let haystack = Haystack::new(hay, window_offset, part_len);
        let start = self.start(scratch, &haystack, anchor_start, &allowed_starts)?;
        let ends = self.ends(scratch, &haystack, anchor_start)?;
        let end = ends.first().map(|(first, _)| *first);
        scratch.recycle(ends);
        end.map(|end| start..end)
    }

    /// Like [`Segment::verify_with`], but reports every possible end of the match (as sorted, disjoint, inclusive
    /// ranges of positions in `hay`) in `ends`, and returns the chosen start. The scanner needs all ends when the
    /// gap to the next segment is bounded: the earliest end is not always the one that lets the next segment
    /// match.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_ends(
        &self,
        scratch: &mut VerifyScratch,
        hay: &[u8],
        window_offset: u64,
        part_len: u64,
        anchor_start: usize,
        allowed_starts: RangeInclusive<usize>,
        ends: &mut Vec<RangeInclusive<usize>>,
    ) -> Option<usize> {
        ends.clear();
        let haystack = Haystack::new(hay, window_offset, part_len);
        let start = self.start(scratch, &haystack, anchor_start, &allowed_starts)?;
        let found = self.ends(scratch, &haystack, anchor_start)?;
        ends.extend(found.iter().map(|(first, last)| *first..=*last));
        scratch.recycle(found);
        Some(start)
    }

    /// The smallest allowed start, after checking the anchor and running the left side backwards.
    fn start(
        &self,
        scratch: &mut VerifyScratch,
        haystack: &Haystack<'_>,
        anchor_start: usize,
        allowed: &RangeInclusive<usize>,
    ) -> Option<usize> {
        let anchor_end = anchor_start.checked_add(self.anchor.len())?;
        if anchor_end > haystack.limit {
            return None;
        }
        let found = haystack.hay.get(anchor_start..anchor_end)?;
        let anchor_matches = found.iter().zip(self.anchor.iter()).enumerate().all(|(index, (byte, expected))| {
            let nocase = self.anchor_byte_nocase.get(index).copied().unwrap_or(self.anchor_nocase);
            if nocase { byte.eq_ignore_ascii_case(expected) } else { byte == expected }
        });
        if !anchor_matches {
            return None;
        }
        let left = &self.left[..];
        let mut positions = scratch.take();
        positions.push((anchor_start, anchor_start));
        let starts = haystack.run(scratch, left, Direction::Backward, positions);
        let start = starts.iter().find_map(|(first, last)| {
            let low = (*first).max(*allowed.start());
            (low <= *last && low <= *allowed.end()).then_some(low)
        });
        scratch.recycle(starts);
        start
    }

    /// The possible ends, running the right side forwards; `None` when there is none.
    fn ends(&self, scratch: &mut VerifyScratch, haystack: &Haystack<'_>, anchor_start: usize) -> Option<Intervals> {
        let anchor_end = anchor_start.checked_add(self.anchor.len())?;
        let right = &self.right[..];
        let mut positions = scratch.take();
        positions.push((anchor_end, anchor_end));
        let ends = haystack.run(scratch, right, Direction::Forward, positions);
        if ends.is_empty() {
            scratch.recycle(ends);
            return None;
        }
        Some(ends)
    }
}

/// The tokens with every run of two or more [`Token::Literal`]s (in alternation branches too) as one
/// [`Token::Bytes`]: the same matches, a fraction of the memory (a token is tens of bytes).
fn compact(tokens: &[Token]) -> Box<[Token]> {
    // Exactly as many tokens as the result holds (a token that is a literal after a literal joins its run), so
    // that boxing the vector does not reallocate it.
    let joined = tokens.windows(2).filter(|pair| matches!(pair, [Token::Literal(_), Token::Literal(_)])).count();
    let mut compacted = Vec::with_capacity(tokens.len() - joined);
    let mut run = Vec::new();
    let flush = |run: &mut Vec<u8>, compacted: &mut Vec<Token>| match run.as_slice() {
        [] => {}
        &[byte] => compacted.push(Token::Literal(byte)),
        _ => compacted.push(Token::Bytes(std::mem::take(run).into_boxed_slice())),
    };
    for token in tokens {
        match token {
            Token::Literal(byte) => run.push(*byte),
            Token::Alternation(branches) => {
                flush(&mut run, &mut compacted);
                run.clear();
                compacted.push(Token::Alternation(branches.iter().map(|branch| compact(branch).into_vec()).collect()));
            }
            other => {
                flush(&mut run, &mut compacted);
                run.clear();
                compacted.push(other.clone());
            }
        }
    }
    flush(&mut run, &mut compacted);
    compacted.into_boxed_slice()
}

/// The largest look-before and look-after of any token in the sequence (an upper bound on how far outside its
/// own span a test reads).
fn max_look_around(tokens: &[Token]) -> (usize, usize) {
    tokens.iter().map(Token::look_around).fold((0, 0), |(before, after), (b, a)| (before.max(b), after.max(a)))
}

/// Working memory for [`Segment::verify_with`]: a pool of interval lists, reused across calls.
#[derive(Debug, Default)]
pub struct VerifyScratch {
    pool: Vec<Intervals>,
}

impl VerifyScratch {
    fn take(&mut self) -> Intervals {
        let mut intervals = self.pool.pop().unwrap_or_default();
        intervals.clear();
        intervals
    }

    fn recycle(&mut self, intervals: Intervals) {
        // Keep the pool small: nesting is bounded, so a handful of lists is all a verification uses at once.
        if self.pool.len() < 64 {
            self.pool.push(intervals);
        }
    }
}

/// Intervals of more positions than this are searched with `memmem` by [`Token::Bytes`], not position by
/// position.
const WIDE_INTERVAL: usize = 32;

/// Sorted, disjoint, inclusive intervals of positions in the window.
type Intervals = Vec<(usize, usize)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Positions are ends; tokens consume the bytes after them.
    Forward,
    /// Positions are starts; tokens consume the bytes before them (tokens are taken in reverse order).
    Backward,
}

/// The window and where it lies in the part.
struct Haystack<'a> {
    hay: &'a [u8],
    /// Positions `0..=limit` exist: the window's end, or the part's end if it comes first.
    limit: usize,
    window_offset: u64,
    part_len: u64,
}

impl<'a> Haystack<'a> {
    fn new(hay: &'a [u8], window_offset: u64, part_len: u64) -> Haystack<'a> {
        let in_part = usize::try_from(part_len.saturating_sub(window_offset)).unwrap_or(usize::MAX);
        Haystack { hay, limit: hay.len().min(in_part), window_offset, part_len }
    }

    fn byte(&self, index: usize) -> Option<u8> {
        if index < self.limit { self.hay.get(index).copied() } else { None }
    }

    /// The byte before position `position`, if it is in the window.
    fn byte_before(&self, position: usize, distance: usize) -> Option<u8> {
        position.checked_sub(distance).and_then(|index| self.byte(index))
    }

    fn part_position(&self, position: usize) -> u64 {
        self.window_offset.saturating_add(u64::try_from(position).unwrap_or(u64::MAX))
    }

    fn is_part_start(&self, position: usize) -> bool {
        self.part_position(position) == 0
    }

    fn is_part_end(&self, position: usize) -> bool {
        self.part_position(position) == self.part_len
    }

    /// Applies `tokens` to `positions` in `direction`; the input list is consumed (recycled).
    fn run(
        &self,
        scratch: &mut VerifyScratch,
        tokens: &[Token],
        direction: Direction,
        positions: Intervals,
    ) -> Intervals {
        let mut current = positions;
        let apply = |token: &Token, current: &mut Intervals, scratch: &mut VerifyScratch| {
            let next = self.step(scratch, token, direction, current);
            let previous = std::mem::replace(current, next);
            scratch.recycle(previous);
        };
        match direction {
            Direction::Forward => {
                for token in tokens {
                    if current.is_empty() {
                        break;
                    }
                    apply(token, &mut current, scratch);
                }
            }
            Direction::Backward => {
                for token in tokens.iter().rev() {
                    if current.is_empty() {
                        break;
                    }
                    apply(token, &mut current, scratch);
                }
            }
        }
        current
    }

    /// The positions reachable from `input` through one token.
    fn step(&self, scratch: &mut VerifyScratch, token: &Token, direction: Direction, input: &Intervals) -> Intervals {
        let mut output = scratch.take();
        match token {
            Token::Literal(byte) => self.step_literal(*byte, direction, input, &mut output),
            Token::Bytes(bytes) => self.step_bytes(bytes, direction, input, &mut output),
            Token::LiteralNoCase(byte) => {
                let lower = byte.to_ascii_lowercase();
                let upper = byte.to_ascii_uppercase();
                self.step_byte(|found| found == lower || found == upper, direction, input, &mut output);
            }
            Token::Class(class) => self.step_byte(|found| class.contains(found), direction, input, &mut output),
            Token::Gap { min, max } => self.step_gap(*min, *max, direction, input, &mut output),
            Token::Alternation(branches) => {
                let mut pieces: Intervals = scratch.take();
                for branch in branches {
                    let mut start = scratch.take();
                    start.extend_from_slice(input);
                    let reached = self.run(scratch, branch, direction, start);
                    pieces.extend_from_slice(&reached);
                    scratch.recycle(reached);
                }
                pieces.sort_unstable();
                for (first, last) in pieces.iter() {
                    push_interval(&mut output, *first, *last);
                }
                scratch.recycle(pieces);
            }
            Token::NegatedStrings { length, strings } => {
                self.step_negated_strings(*length, strings, direction, input, &mut output)
            }
            Token::Assert(assertion) => {
                for (first, last) in input {
                    for position in *first..=*last {
                        if self.holds(assertion, position) {
                            push_point(&mut output, position);
                        }
                    }
                }
            }
        }
        output
    }

    fn step_byte(&self, matches: impl Fn(u8) -> bool, direction: Direction, input: &Intervals, output: &mut Intervals) {
        for (first, last) in input {
            match direction {
                Direction::Forward => {
                    let end = (*last).min(self.limit.saturating_sub(1));
                    for position in *first..=end {
                        if position < self.limit && self.byte(position).is_some_and(&matches) {
                            push_point(output, position.saturating_add(1));
                        }
                    }
                }
                Direction::Backward => {
                    for position in (*first).max(1)..=*last {
                        if self.byte_before(position, 1).is_some_and(&matches) {
                            push_point(output, position.saturating_sub(1));
                        }
                    }
                }
            }
        }
    }

    /// A literal byte: like [`Haystack::step_byte`], with `memchr` to skip through long intervals.
    fn step_literal(&self, byte: u8, direction: Direction, input: &Intervals, output: &mut Intervals) {
        for (first, last) in input {
            let (low, high) = match direction {
                // Byte indexes that, if equal to `byte`, extend a position of this interval.
                Direction::Forward => (*first, (*last).min(self.limit.saturating_sub(1))),
                Direction::Backward => ((*first).max(1).saturating_sub(1), (*last).saturating_sub(1)),
            };
            if *last == 0 && direction == Direction::Backward || low > high || low >= self.limit {
                continue;
            }
            let high = high.min(self.limit.saturating_sub(1));
            let Some(slice) = self.hay.get(low..=high) else { continue };
            for offset in memchr::memchr_iter(byte, slice) {
                let index = low.saturating_add(offset);
                let position = match direction {
                    Direction::Forward => index.saturating_add(1),
                    Direction::Backward => index,
                };
                push_point(output, position);
            }
        }
    }

    /// A run of fixed bytes: each position is tested with one comparison; an interval wider than
    /// [`WIDE_INTERVAL`] positions is searched with `memmem` instead.
    fn step_bytes(&self, bytes: &[u8], direction: Direction, input: &Intervals, output: &mut Intervals) {
        let len = bytes.len();
        for &(first, last) in input {
            // The positions p of the interval whose run lies inside the window (hay[p..p + len] going forward,
            // hay[p - len..p] going backward), as the range of indexes of the run's first byte.
            let (low, high) = match direction {
                Direction::Forward => (first, last.min(self.limit.saturating_sub(len))),
                Direction::Backward => (first.max(len) - len, last.min(self.limit).saturating_sub(len)),
            };
            if len > self.limit || low > high || direction == Direction::Backward && last.min(self.limit) < len {
                continue;
            }
            let reached = |index: usize| match direction {
                Direction::Forward => index + len,
                Direction::Backward => index,
            };
            if high - low < WIDE_INTERVAL {
                for index in low..=high {
                    if self.hay.get(index..index + len) == Some(bytes) {
                        push_point(output, reached(index));
                    }
                }
            } else if let Some(slice) = self.hay.get(low..high + len) {
                for offset in memchr::memmem::find_iter(slice, bytes) {
                    push_point(output, reached(low + offset));
                }
            }
        }
    }

    fn step_gap(&self, min: usize, max: usize, direction: Direction, input: &Intervals, output: &mut Intervals) {
        if min > max {
            return;
        }
        for (first, last) in input {
            match direction {
                Direction::Forward => {
                    let Some(low) = first.checked_add(min) else { continue };
                    if low > self.limit {
                        continue;
                    }
                    let high = last.saturating_add(max).min(self.limit);
                    push_interval(output, low, high);
                }
                Direction::Backward => {
                    let Some(high) = last.checked_sub(min) else { continue };
                    let low = first.saturating_sub(max);
                    push_interval(output, low, high);
                }
            }
        }
    }

    fn step_negated_strings(
        &self,
        length: usize,
        strings: &[Vec<u8>],
        direction: Direction,
        input: &Intervals,
        output: &mut Intervals,
    ) {
        for (first, last) in input {
            for position in *first..=*last {
                let (low, reached) = match direction {
                    Direction::Forward => (position, position.checked_add(length)),
                    Direction::Backward => match position.checked_sub(length) {
                        Some(low) => (low, Some(low)),
                        None => continue,
                    },
                };
                let Some(high) = low.checked_add(length) else { continue };
                if high > self.limit {
                    continue;
                }
                let Some(bytes) = self.hay.get(low..high) else { continue };
                if strings.iter().all(|string| string.as_slice() != bytes)
                    && let Some(reached) = reached
                {
                    push_point(output, reached);
                }
            }
        }
    }

    /// Whether `assertion` holds at `position`. A byte the test needs that is not in the window fails the test.
    fn holds(&self, assertion: &Assertion, position: usize) -> bool {
        let before = |distance: usize| self.byte_before(position, distance);
        let at = |distance: usize| position.checked_add(distance).and_then(|index| self.byte(index));
        let outcome = match assertion {
            Assertion::BoundaryBefore { negated } => {
                let condition = if self.is_part_start(position) {
                    Some(true)
                } else {
                    before(1).map(|byte| matches!(boundary_class(byte), 1 | 3))
                };
                condition.map(|condition| condition != *negated)
            }
            Assertion::BoundaryAfter { negated } => {
                let condition =
                    if self.is_part_end(position) { Some(true) } else { at(0).map(|byte| boundary_class(byte) >= 2) };
                condition.map(|condition| condition != *negated)
            }
            Assertion::LineBefore { negated } => {
                let condition =
                    if self.is_part_start(position) { Some(true) } else { before(1).map(|byte| byte == b'\n') };
                condition.map(|condition| condition != *negated)
            }
            Assertion::LineAfter { negated } => {
                let condition = if self.is_part_end(position) {
                    Some(true)
                } else {
                    match at(0) {
                        Some(b'\n') => Some(true),
                        Some(b'\r') => {
                            if self.is_part_end(position.saturating_add(1)) {
                                Some(false)
                            } else {
                                at(1).map(|next| next == b'\n')
                            }
                        }
                        Some(_) => Some(false),
                        None => None,
                    }
                };
                condition.map(|condition| condition != *negated)
            }
            Assertion::WordBefore { negated, wide } => {
                let part_position = self.part_position(position);
                let condition = if part_position == 0 || (*wide && part_position == 1) {
                    Some(true)
                } else if *wide {
                    match (before(2), before(1)) {
                        (Some(first), Some(second)) => Some(!(first.is_ascii_alphanumeric() && second == 0)),
                        _ => None,
                    }
                } else {
                    before(1).map(|byte| !byte.is_ascii_alphanumeric())
                };
                condition.map(|condition| condition != *negated)
            }
            Assertion::WordAfter { negated, wide } => {
                let condition = if self.is_part_end(position) {
                    Some(true)
                } else if *wide && !self.is_part_end(position.saturating_add(1)) {
                    match (at(0), at(1)) {
                        (Some(first), Some(second)) => Some(!(first.is_ascii_alphanumeric() && second == 0)),
                        _ => None,
                    }
                } else {
                    at(0).map(|byte| !byte.is_ascii_alphanumeric())
                };
                condition.map(|condition| condition != *negated)
            }
            Assertion::ByteBefore { class, min, max } => Some(
                (*min..=*max)
                    .any(|distance| distance.checked_add(1).and_then(before).is_some_and(|byte| class.contains(byte))),
            ),
            Assertion::ByteAfter { class, min, max } => {
                Some((*min..=*max).any(|distance| at(distance).is_some_and(|byte| class.contains(byte))))
            }
            Assertion::NotFollowedByLineFeed => {
                if self.is_part_end(position) {
                    Some(true)
                } else {
                    at(0).map(|byte| byte != b'\n')
                }
            }
        };
        outcome.unwrap_or(false)
    }
}

/// Appends a point to an ascending list, merging with the last interval when adjacent or inside.
fn push_point(intervals: &mut Intervals, position: usize) {
    push_interval(intervals, position, position);
}

/// Appends an interval whose start is not below the last start, merging overlapping or adjacent ones.
fn push_interval(intervals: &mut Intervals, first: usize, last: usize) {
    if let Some((_, previous_last)) = intervals.last_mut()
        && first <= previous_last.saturating_add(1)
    {
        *previous_last = (*previous_last).max(last);
        return;
    }
    intervals.push((first, last));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(text: &[u8]) -> Vec<Token> {
        text.iter().map(|byte| Token::Literal(*byte)).collect()
    }

    fn segment(tokens: Vec<Token>) -> Segment {
        Segment::new(tokens).expect("segment")
    }

    fn whole(segment: &Segment, hay: &[u8], anchor_start: usize) -> Option<Range<usize>> {
        segment.verify(hay, 0, hay.len() as u64, anchor_start, 0..=hay.len())
    }

    #[test]
    fn runs_of_fixed_bytes_are_one_token_and_match_across_wide_gaps() {
        // Left and right of the anchor: a fixed run behind a gap of up to 64 bytes, wide enough for the
        // memmem path, and a narrow one for the position-by-position path.
        let mut tokens = literal(b"xy");
        tokens.push(Token::Gap { min: 0, max: 64 });
        tokens.extend(literal(b"ANCHORRUN"));
        tokens.push(Token::Gap { min: 0, max: 64 });
        tokens.extend(literal(b"zw"));
        tokens.push(Token::Gap { min: 1, max: 2 });
        tokens.extend(literal(b"uv"));
        let built = segment(tokens);
        assert_eq!(built.anchor(), b"ANCHORRUN");
        assert!(matches!(&built.left[..], [Token::Bytes(run), Token::Gap { .. }] if &run[..] == b"xy"));
        assert!(matches!(&built.right[..], [Token::Gap { .. }, Token::Bytes(_), Token::Gap { .. }, Token::Bytes(_)]));

        let mut hay = b"..xy".to_vec();
        hay.extend([b'-'; 40]);
        let anchor_start = hay.len();
        hay.extend(b"ANCHORRUN");
        hay.extend([b'-'; 50]);
        hay.extend(b"zw.uv..");
        assert_eq!(whole(&built, &hay, anchor_start), Some(2..hay.len() - 2));
        // Too far on the left (65 bytes), or a broken run on the right: no match.
        let mut far = b"xy".to_vec();
        far.extend([b'-'; 65]);
        let far_anchor = far.len();
        far.extend(b"ANCHORRUNzw.uv");
        assert_eq!(whole(&built, &far, far_anchor), None);
        let mut broken = hay.clone();
        let z = broken.len() - 7;
        broken[z] = b'Z';
        assert_eq!(whole(&built, &broken, anchor_start), None);
    }

    #[test]
    fn anchor_is_longest_then_rarest_run() {
        let mut tokens = literal(b"ab");
        tokens.push(Token::Gap { min: 1, max: 1 });
        tokens.extend(literal(b"cde"));
        let built = segment(tokens);
        assert_eq!(built.anchor(), b"cde");
        assert_eq!(built.max_before_anchor(), 3);
        assert_eq!(built.max_after_anchor(), 0);
        assert_eq!((built.min_len(), built.max_len()), (6, 6));

        let mut tokens = vec![Token::Literal(0), Token::Literal(0)];
        tokens.push(Token::Gap { min: 0, max: 4 });
        tokens.extend(literal(b"xy"));
        let built = segment(tokens);
        assert_eq!(built.anchor(), b"xy");
        assert_eq!((built.min_len(), built.max_len()), (4, 8));

        assert!(Segment::new(vec![Token::Gap { min: 1, max: 2 }, Token::Class(ByteSet::ALL)]).is_err());
    }

    #[test]
    fn backtracking_over_alternatives_and_gaps() {
        // (aa|a) then a gap of 0-2 then "b", anchored at "xb": several paths, one works.
        let tokens = vec![
            Token::Alternation(vec![literal(b"aa"), literal(b"a")]),
            Token::Gap { min: 0, max: 2 },
            Token::Literal(b'x'),
            Token::Literal(b'b'),
        ];
        let built = segment(tokens);
        assert_eq!(built.anchor(), b"xb");
        let hay = b"--aa-xb--";
        assert_eq!(whole(&built, hay, 5), Some(2..7));
        // allowed_starts filtering: only start 3 ("a" then one byte gap).
        assert_eq!(built.verify(hay, 0, 9, 5, 3..=3), Some(3..7));
        assert_eq!(built.verify(hay, 0, 9, 5, 4..=4), None);
    }

    #[test]
    fn earliest_end_is_chosen() {
        let tokens =
            vec![Token::Literal(b'a'), Token::Literal(b'b'), Token::Gap { min: 0, max: 5 }, Token::Literal(b'c')];
        let built = segment(tokens);
        let hay = b"ab-c-c";
        assert_eq!(whole(&built, hay, 0), Some(0..4));
        let mut ends = Vec::new();
        let start = built.verify_ends(&mut VerifyScratch::default(), hay, 0, 6, 0, 0..=6, &mut ends);
        assert_eq!(start, Some(0));
        assert_eq!(ends, vec![4..=4, 6..=6]);
    }

    #[test]
    fn wrong_or_out_of_window_anchor_is_no_match() {
        let built = segment(literal(b"abc"));
        assert_eq!(whole(&built, b"xxabc", 2), Some(2..5));
        assert_eq!(whole(&built, b"xxabd", 2), None);
        assert_eq!(whole(&built, b"xxab", 2), None);
        assert_eq!(whole(&built, b"abc", usize::MAX), None);
        // The part ends before the window does: the anchor runs past the part's end.
        assert_eq!(built.verify(b"xxabc", 0, 4, 2, 0..=5), None);
    }

    #[test]
    fn boundary_assertions_use_part_edges_not_window_edges() {
        let mut tokens = vec![Token::Assert(Assertion::BoundaryBefore { negated: false })];
        tokens.extend(literal(b"ab"));
        tokens.push(Token::Assert(Assertion::BoundaryAfter { negated: false }));
        let built = segment(tokens);
        assert_eq!(built.max_before_anchor(), 1);
        assert_eq!(built.max_after_anchor(), 1);
        // Window at the part's start and end: both edges are boundaries.
        assert_eq!(built.verify(b"ab", 0, 2, 0, 0..=2), Some(0..2));
        // Window inside the part: the edges are not the part's, and the bytes beyond are unknown.
        assert_eq!(built.verify(b"ab", 5, 20, 0, 0..=2), None);
        assert_eq!(built.verify(b" ab ", 5, 20, 1, 0..=4), Some(1..3));
        assert_eq!(built.verify(b"xab ", 5, 20, 1, 0..=4), None);
        // Window ending exactly at the part's end.
        assert_eq!(built.verify(b" ab", 7, 10, 1, 0..=3), Some(1..3));
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    fn literal(text: &[u8]) -> Vec<Token> {
        text.iter().map(|byte| Token::Literal(*byte)).collect()
    }

    #[test]
    fn line_boundaries_at_part_and_window_edges() {
        let mut tokens = vec![Token::Assert(Assertion::LineBefore { negated: false })];
        tokens.extend(literal(b"ab"));
        tokens.push(Token::Assert(Assertion::LineAfter { negated: false }));
        let segment = Segment::new(tokens).expect("segment");
        assert_eq!(segment.max_after_anchor(), 2);
        // Part start and end.
        assert_eq!(segment.verify(b"ab", 0, 2, 0, 0..=2), Some(0..2));
        // A window starting at part offset 10: position 0 is not the part's start, the byte before is in the
        // window only if the scanner gave it.
        assert_eq!(segment.verify(b"\nab\r\n", 10, 30, 1, 0..=5), Some(1..3));
        assert_eq!(segment.verify(b"\nab\r", 10, 30, 1, 0..=4), None); // CR and then an unknown byte
        assert_eq!(segment.verify(b"\nab\r", 10, 14, 1, 0..=4), None); // CR at the part's very end
        assert_eq!(segment.verify(b"\nab", 10, 13, 1, 0..=3), Some(1..3)); // the part ends after "ab"
        assert_eq!(segment.verify(b"xab\n", 10, 30, 1, 0..=4), None);
    }

    #[test]
    fn overlapping_matches_each_verify() {
        // "aXa" with anchor "a": in "aXaXa" the matches at 0 and 2 overlap; both verify from their anchors.
        let tokens = vec![Token::Literal(b'a'), Token::Literal(b'X'), Token::Literal(b'a')];
        let segment = Segment::new(tokens).expect("segment");
        assert_eq!(segment.anchor(), b"aXa");
        assert_eq!(segment.verify(b"aXaXa", 0, 5, 0, 0..=5), Some(0..3));
        assert_eq!(segment.verify(b"aXaXa", 0, 5, 2, 0..=5), Some(2..5));
        // A gap before the anchor: several starts; allowed_starts picks among them.
        let tokens =
            vec![Token::Literal(b'x'), Token::Gap { min: 0, max: 3 }, Token::Literal(b'y'), Token::Literal(b'z')];
        let segment = Segment::new(tokens).expect("segment");
        let hay = b"xxxyz";
        assert_eq!(segment.verify(hay, 0, 5, 3, 0..=5), Some(0..5));
        assert_eq!(segment.verify(hay, 0, 5, 3, 1..=1), Some(1..5));
        assert_eq!(segment.verify(hay, 0, 5, 3, 2..=5), Some(2..5));
        assert_eq!(segment.verify(hay, 0, 5, 3, 3..=5), None);
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 4..=1;
        assert_eq!(segment.verify(hay, 0, 5, 3, empty), None);
    }

    #[test]
    fn inconsistent_arguments_do_not_panic() {
        let segment = Segment::new(literal(b"ab")).expect("segment");
        assert_eq!(segment.verify(b"ab", u64::MAX, u64::MAX, 0, 0..=usize::MAX), None);
        assert_eq!(segment.verify(b"ab", u64::MAX - 2, u64::MAX, 0, 0..=usize::MAX), Some(0..2));
        assert_eq!(segment.verify(b"ab", 5, 3, 0, 0..=2), None);
        assert_eq!(segment.verify(b"", 0, 0, 0, 0..=0), None);
        assert_eq!(segment.verify(b"ab", 0, 2, 1, 0..=2), None);
    }

    #[test]
    fn byte_sets() {
        let mut set = ByteSet::EMPTY;
        set.insert(0);
        set.insert(255);
        assert!(set.contains(0) && set.contains(255) && !set.contains(1));
        assert_eq!(set.len(), 2);
        assert_eq!(set.complement().len(), 254);
        assert_eq!(ByteSet::ALL.len(), 256);
        assert_eq!(format!("{set:?}"), "ByteSet(2 bytes)");
        assert_eq!(boundary_class(b' '), 3);
        assert_eq!(boundary_class(b'.'), 1);
        assert_eq!(boundary_class(b'='), 2);
        assert_eq!(boundary_class(b'\t'), 0);
    }
}
