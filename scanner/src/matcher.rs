//! The body matcher: every segment of every body pattern contributes its anchor (a fixed byte run) to one
//! multi-pattern prefilter ([`LiteralSet`]); each anchor hit is verified against its segment, with the
//! segment's wildcards and the pattern's offset constraint, and segments chain into whole-pattern matches.
//!
//! Shape, after ClamAV's own split of a signature into subpatterns, but with one prefilter for all:
//! - A pattern is cut into segments at `*` and long gaps ([`crate::signature`] does the cutting). Segment `k`
//!   matches only after a match of segment `k - 1` that it may follow (the gap's min and max); the ends of
//!   segment matches are kept per pattern in sparse per-scan state ([`MatchScratch`]) that grows only with
//!   the patterns that hit, never with the database.
//! - Hits arrive in increasing start order, and a segment's anchor starts before the segment ends, so a
//!   segment's earlier matches are always recorded before a later segment's anchor is verified.
//! - A part is searched whole when it is in RAM; a part spilled to a file is searched in windows that overlap
//!   by the widest segment, so a match straddling a window edge is found exactly once
//!   ([`BodyMatcher::scan_reader`]).
//!
//! - Patterns come in sets, one per database part ([`crate::database`] makes a part of each source file), shared
//!   in an `Arc` between the matchers of successive definitions sets: a reload that keeps a file keeps its
//!   patterns, and only the prefilter over every set's anchors is built again ([`BodyMatcher::from_sets`]).
//!
//! What it will not do: a bounded gap that was cut out of a segment (more than
//! [`crate::signature::body::MAX_INLINE_GAP`] bytes) is checked against the last [`MAX_ENDS_KEPT`] matches of
//! the previous segment only (each with all its possible ends); a pattern that needs an older one is missed.
//! Real signatures with such gaps are rare and their segments rarely repeat within a part.

use std::collections::HashMap;
use std::io::Read;
use std::ops::{ControlFlow, RangeInclusive};
use std::sync::Arc;

use decomposer::FileType;

use crate::literals::{Literal, LiteralList, LiteralSet, UniqueAnchors};
use crate::signature::body::{Gap, Offset, Pattern, StartRange};
use crate::signature::segment::{Segment, VerifyScratch};

/// How many ends of a segment are kept to test a following bounded gap.
pub const MAX_ENDS_KEPT: usize = 16;

/// Bytes read from a spilled part per window (plus the overlap).
const WINDOW: usize = 1 << 20;

/// What is being searched: a part's own bytes, or the normalized form of a text part
/// ([`crate::textnorm`]), which ClamAV searches for its target-7 signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The bytes of a part of this type.
    Raw(FileType),
    /// The normalized form of a text part.
    NormalizedText,
}

/// Which passes a pattern applies to (from ClamAV's target type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetFilter {
    /// Every part, and the normalized form of text parts (target type 0).
    Any,
    /// Only the bytes of parts detected as this type.
    Only(#[serde(with = "crate::database::file_type_by_name")] FileType),
    /// Only the normalized form of text parts (target type 7).
    NormalizedText,
}

impl TargetFilter {
    /// Whether `pass` is a target.
    pub fn accepts(self, pass: Pass) -> bool {
        match self {
            TargetFilter::Any => true,
            TargetFilter::Only(only) => pass == Pass::Raw(only),
            TargetFilter::NormalizedText => pass == Pass::NormalizedText,
        }
    }
}

/// Who a pattern reports to when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PatternOwner {
    /// A body (`.ndb`) signature: a match is a detection; the value is an index into the caller's table.
    Body(u32),
    /// Subsignature `subsignature` of logical signature `signature`: a match adds to its count.
    Logical {
        /// Index of the logical signature.
        signature: u32,
        /// Index of the subsignature within it.
        subsignature: u16,
    },
}

/// One pattern as the matcher holds it.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompiledPattern {
    /// The segments and gaps.
    pub pattern: Pattern,
    /// Where it may start (an [`Offset::Unsupported`] pattern never matches: leave it out).
    pub offset: Offset,
    /// Which parts it applies to.
    pub target: TargetFilter,
    /// Who it reports to.
    pub owner: PatternOwner,
}

/// The patterns of one database part, shared by every matcher built over them. An `Arc<Vec>` rather than an
/// `Arc<[_]>`: a part's vector of a million patterns (100 MB) is wrapped where it was built, not copied.
pub type PatternSet = Arc<Vec<CompiledPattern>>;

/// A whole-pattern match in one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternMatch {
    /// Index of the pattern in the matcher: its index in its set, plus the patterns of the sets before it.
    pub pattern: u32,
    /// The set (index in the list given to [`BodyMatcher::from_sets`]) the pattern belongs to: its owner's
    /// indexes are the set's.
    pub set: u16,
    /// Who it reports to.
    pub owner: PatternOwner,
    /// Part offset of the first segment's start (ClamAV counts a subsignature once per distinct start).
    pub start: u64,
    /// Part offset of the end of the last segment's match.
    pub end: u64,
}

/// Per-scan scratch state, reused from part to part (cleared, not reallocated).
#[derive(Debug, Default)]
pub struct MatchScratch {
    /// Pattern index -> per-segment matches so far (sparse: only patterns that hit).
    progress: HashMap<u32, Vec<SegmentMatches>>,
    verify: VerifyScratch,
    ends: Vec<RangeInclusive<usize>>,
    buffer: Vec<u8>,
}

/// Matches of one segment that a following segment may chain to: the possible ends (part offsets, inclusive
/// ranges) of each, with the part offset where its chain started.
#[derive(Debug, Clone, Default)]
struct SegmentMatches {
    matches: Vec<(RangeInclusive<u64>, u64)>,
}

/// Where an anchor comes from: pattern `pattern` (its global index) of set `set`, segment `segment`.
#[derive(Debug, Clone, Copy)]
struct AnchorSource {
    pattern: u32,
    set: u16,
    segment: u16,
}

/// The compiled body patterns of a database.
#[derive(Debug)]
pub struct BodyMatcher {
    literals: LiteralSet,
    /// Literal id -> where its anchor comes from.
    anchors: Vec<AnchorSource>,
    sets: Vec<PatternSet>,
    /// Global index of each set's first pattern.
    bases: Vec<u32>,
    /// Most bytes any segment spans left of its anchor, plus one for a boundary check.
    left_context: usize,
    /// Most bytes any segment spans from its anchor's start to its end, plus one for a boundary check.
    right_context: usize,
    /// Bytes read per window by [`BodyMatcher::scan_reader`] (at least twice the contexts).
    window: usize,
}

/// Why a set of patterns could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("cannot compile the body patterns: {0}")]
pub struct CompileError(String);

impl BodyMatcher {
    /// Compiles `patterns` as one set (the order is kept: [`PatternMatch::pattern`] indexes it).
    ///
    /// # Errors
    /// When the prefilter refuses the anchors (more than it can index).
    pub fn new(patterns: Vec<CompiledPattern>) -> Result<Self, CompileError> {
        BodyMatcher::from_sets(vec![PatternSet::from(patterns)])
    }

    /// Compiles the prefilter over the anchors of every set; the sets themselves are shared, not copied.
    ///
    /// # Errors
    /// When the prefilter refuses the anchors (more than it can index), or there are more than 65,536 sets or
    /// 2^32 patterns.
    pub fn from_sets(sets: Vec<PatternSet>) -> Result<Self, CompileError> {
        let index = SetIndex::of(&sets)?;
        // In two steps, so that the list of every segment is freed before the searchers are built.
        let unique = {
            let segments = SegmentAnchors(
                sets.iter()
                    .flat_map(|patterns| patterns.iter())
                    .flat_map(|compiled| compiled.pattern.segments.iter())
                    .collect(),
            );
            UniqueAnchors::new(&segments).map_err(|error| CompileError(error.to_string()))?
        };
        let literals = LiteralSet::from_unique(unique);
        Ok(index.into_matcher(sets, literals))
    }

    /// Like [`BodyMatcher::from_sets`], with a prefilter built before (and stored, see
    /// [`crate::database`]'s compiled form) instead of compiling one: it must hold exactly the sets' anchors, in
    /// order, which is checked byte for byte.
    ///
    /// # Errors
    /// As [`BodyMatcher::from_sets`], and when `literals` is not the prefilter of these sets.
    pub fn with_prefilter(sets: Vec<PatternSet>, literals: LiteralSet) -> Result<Self, CompileError> {
        let index = SetIndex::of(&sets)?;
        // As the prefilter holds them: a case-insensitive anchor ASCII-lowercased whole.
        let anchors: Vec<std::borrow::Cow<'_, [u8]>> = sets
            .iter()
            .flat_map(|patterns| patterns.iter())
            .flat_map(|compiled| compiled.pattern.segments.iter())
            .map(|segment| match segment.anchor_nocase() {
                true => segment.anchor().to_ascii_lowercase().into(),
                false => segment.anchor().into(),
            })
            .collect();
        let mut matching = literals.len() == anchors.len();
        literals.for_each_literal(|id, bytes| {
            matching &= anchors.get(id as usize).is_some_and(|anchor| **anchor == *bytes)
        });
        if !matching {
            return Err(CompileError("the stored prefilter is not the one of these patterns".into()));
        }
        Ok(index.into_matcher(sets, literals))
    }

    /// The prefilter, for storing it beside the sets.
    pub fn prefilter(&self) -> &LiteralSet {
        &self.literals
    }

    /// Whether this matcher is the one of exactly `sets`: the same pattern sets (the same allocations), at the
    /// same places, an empty set standing for any empty set.
    pub fn is_over(&self, sets: &[PatternSet]) -> bool {
        self.sets.len() == sets.len()
            && self
                .sets
                .iter()
                .zip(sets)
                .all(|(held, given)| Arc::ptr_eq(held, given) || (held.is_empty() && given.is_empty()))
    }

    /// Reads spilled parts `bytes` at a time (never less than twice the widest segment) instead of 1 MiB: for
    /// tests that put matches across many window edges.
    #[doc(hidden)]
    pub fn set_window(&mut self, bytes: usize) {
        self.window = bytes.max(self.left_context.saturating_add(self.right_context).saturating_mul(2));
    }

    /// The number of patterns, over every set.
    pub fn len(&self) -> usize {
        self.sets.iter().map(|set| set.len()).sum()
    }

    /// Whether there is no pattern at all.
    pub fn is_empty(&self) -> bool {
        self.sets.iter().all(|set| set.is_empty())
    }

    /// Bytes of heap held by the prefilter and the anchor table (the sets are counted by their owners, see
    /// [`patterns_heap_bytes_by_owner`]).
    pub fn index_heap_bytes(&self) -> usize {
        self.literals.heap_bytes()
            + self.anchors.capacity() * size_of::<AnchorSource>()
            + self.bases.capacity() * size_of::<u32>()
            + self.sets.capacity() * size_of::<PatternSet>()
    }

    /// Searches a part held whole in RAM. `found` gets every whole-pattern match; returning `Break` stops.
    pub fn scan_slice(
        &self,
        part: &[u8],
        pass: Pass,
        scratch: &mut MatchScratch,
        found: &mut dyn FnMut(PatternMatch) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        scratch.progress.clear();
        let len = part.len();
        let mut state =
            WindowState { progress: &mut scratch.progress, verify: &mut scratch.verify, ends: &mut scratch.ends };
        self.scan_window(part, 0, len as u64, 0..len, pass, &mut state, found)
    }

    /// Searches a part read from `reader` (`part_len` bytes) in overlapping windows, calling `also` with every
    /// block of bytes read (for hashing in the same pass). I/O errors end the search and are returned.
    pub fn scan_reader(
        &self,
        reader: &mut dyn Read,
        part_len: u64,
        pass: Pass,
        scratch: &mut MatchScratch,
        also: &mut dyn FnMut(&[u8]),
        found: &mut dyn FnMut(PatternMatch) -> ControlFlow<()>,
    ) -> std::io::Result<ControlFlow<()>> {
        scratch.progress.clear();
        let mut buffer = std::mem::take(&mut scratch.buffer);
        buffer.clear();
        let window = self.window;
        // Part offset of buffer[0], and the first part offset whose anchors are not yet searched.
        let mut buffer_offset: u64 = 0;
        let mut searched_to: u64 = 0;
        let mut at_end = false;
        let mut flow = ControlFlow::Continue(());
        while !at_end && flow.is_continue() {
            let filled = buffer.len();
            buffer.resize(filled + window, 0);
            let mut got = filled;
            while got < buffer.len() {
                match reader.read(&mut buffer[got..]) {
                    Ok(0) => {
                        at_end = true;
                        break;
                    }
                    Ok(n) => got += n,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        scratch.buffer = buffer;
                        return Err(error);
                    }
                }
            }
            buffer.truncate(got);
            also(&buffer[filled..]);
            // Anchors starting before `limit` have their whole right context in the buffer (or the part ends).
            let limit = if at_end { buffer.len() } else { buffer.len().saturating_sub(self.right_context) };
            let from = usize::try_from(searched_to.saturating_sub(buffer_offset)).unwrap_or(usize::MAX);
            if from < limit {
                let mut state = WindowState {
                    progress: &mut scratch.progress,
                    verify: &mut scratch.verify,
                    ends: &mut scratch.ends,
                };
                flow = self.scan_window(&buffer, buffer_offset, part_len, from..limit, pass, &mut state, found);
                searched_to = buffer_offset + limit as u64;
            }
            // Keep the left context of the next anchors and the bytes not yet searched.
            let keep_from = limit.saturating_sub(self.left_context);
            buffer.drain(..keep_from);
            buffer_offset += keep_from as u64;
        }
        scratch.buffer = buffer;
        Ok(flow)
    }

    /// Searches anchors starting at `starts` in `hay`, a window of the part starting at part offset
    /// `window_offset`.
    #[allow(clippy::too_many_arguments)]
    fn scan_window(
        &self,
        hay: &[u8],
        window_offset: u64,
        part_len: u64,
        starts: std::ops::Range<usize>,
        pass: Pass,
        state: &mut WindowState<'_>,
        found: &mut dyn FnMut(PatternMatch) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let window = Window { hay, offset: window_offset, part_len };
        self.literals.for_each_match(hay, starts, |literal, anchor_start| {
            let Some(&AnchorSource { pattern: pattern_index, set, segment: segment_index }) =
                self.anchors.get(literal as usize)
            else {
                return ControlFlow::Continue(());
            };
            let Some(compiled) = self.pattern(set, pattern_index) else {
                return ControlFlow::Continue(());
            };
            if !compiled.target.accepts(pass) {
                return ControlFlow::Continue(());
            }
            let segments = &compiled.pattern.segments;
            let index = segment_index as usize;
            let Some(segment) = segments.get(index) else {
                return ControlFlow::Continue(());
            };
            let next_gap_bounded = compiled.pattern.gaps.get(index).is_some_and(|gap| gap.max.is_some());
            let mut matched: Vec<(RangeInclusive<u64>, u64)> = Vec::new();
            if index == 0 {
                let allowed = match compiled.offset.start_range(part_len) {
                    StartRange::Unconstrained => 0..=u64::MAX,
                    StartRange::Range(range) => range,
                    StartRange::Never | StartRange::Unknown => return ControlFlow::Continue(()),
                };
                // The pattern starts at most `max_before_anchor` bytes before its anchor: an anchor too far from
                // every allowed start (`0:4d5a` and an `MZ` anywhere but at 0) needs no verification.
                let anchor_at = window_offset.saturating_add(anchor_start as u64);
                let earliest = anchor_at.saturating_sub(segment.max_before_anchor() as u64);
                if anchor_at < *allowed.start() || earliest > *allowed.end() {
                    return ControlFlow::Continue(());
                }
                if let Some(found) = window.verify(segment, state, anchor_start, &allowed, next_gap_bounded) {
                    matched.push(found);
                }
            } else {
                let Some(gap) = compiled.pattern.gaps.get(index - 1) else {
                    return ControlFlow::Continue(());
                };
                let previous: Vec<(RangeInclusive<u64>, u64)> =
                    match state.progress.get(&pattern_index).and_then(|p| p.get(index - 1)) {
                        Some(previous) => previous.matches.clone(),
                        None => return ControlFlow::Continue(()),
                    };
                for (ends, chain_start) in previous {
                    let allowed = gap_starts(gap, &ends);
                    if let Some((range, _)) = window.verify(segment, state, anchor_start, &allowed, next_gap_bounded) {
                        matched.push((range, chain_start));
                    }
                }
            }
            if matched.is_empty() {
                return ControlFlow::Continue(());
            }
            if index + 1 == segments.len() {
                let Some(&(ref ends, start)) = matched.iter().min_by_key(|(ends, start)| (*ends.start(), *start))
                else {
                    return ControlFlow::Continue(());
                };
                return found(PatternMatch {
                    pattern: pattern_index,
                    set,
                    owner: compiled.owner,
                    start,
                    end: *ends.start(),
                });
            }
            let chain = state.progress.entry(pattern_index).or_default();
            if chain.len() < segments.len() {
                chain.resize(segments.len(), SegmentMatches::default());
            }
            if let Some(slot) = chain.get_mut(index) {
                for found in matched {
                    record(&mut slot.matches, found, next_gap_bounded);
                }
            }
            ControlFlow::Continue(())
        })
    }
}

impl BodyMatcher {
    /// The pattern of global index `pattern` in set `set`.
    fn pattern(&self, set: u16, pattern: u32) -> Option<&CompiledPattern> {
        let base = *self.bases.get(set as usize)?;
        self.sets.get(set as usize)?.get(pattern.checked_sub(base)? as usize)
    }
}

/// The anchors of a list of sets, in literal id order, as the prefilter's [`LiteralList`]: one reference to a
/// segment each (8 bytes where a [`Literal`] takes 24).
struct SegmentAnchors<'a>(Vec<&'a Segment>);

impl LiteralList for SegmentAnchors<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn literal(&self, id: usize) -> Option<Literal<'_>> {
        self.0.get(id).map(|segment| Literal { bytes: segment.anchor(), nocase: segment.anchor_nocase() })
    }
}

/// Where each anchor of a list of sets comes from, and the widest contexts around anchors.
struct SetIndex {
    anchors: Vec<AnchorSource>,
    bases: Vec<u32>,
    left_context: usize,
    right_context: usize,
}

impl SetIndex {
    fn of(sets: &[PatternSet]) -> Result<SetIndex, CompileError> {
        let mut anchors = Vec::new();
        let mut bases = Vec::with_capacity(sets.len());
        let mut left_context = 1;
        let mut right_context = 1;
        let mut base = 0u32;
        for (set_index, patterns) in sets.iter().enumerate() {
            let set = u16::try_from(set_index).map_err(|_| CompileError("too many pattern sets".into()))?;
            bases.push(base);
            for (pattern_index, compiled) in patterns.iter().enumerate() {
                let pattern = u32::try_from(pattern_index)
                    .ok()
                    .and_then(|index| base.checked_add(index))
                    .ok_or_else(|| CompileError("too many patterns".into()))?;
                for (segment_index, segment) in compiled.pattern.segments.iter().enumerate() {
                    let segment_index = u16::try_from(segment_index)
                        .map_err(|_| CompileError("too many segments in a pattern".into()))?;
                    anchors.push(AnchorSource { pattern, set, segment: segment_index });
                    left_context = left_context.max(segment.max_before_anchor().saturating_add(1));
                    right_context = right_context
                        .max(segment.anchor().len().saturating_add(segment.max_after_anchor()).saturating_add(1));
                }
            }
            let count = u32::try_from(patterns.len()).map_err(|_| CompileError("too many patterns".into()))?;
            base = base.checked_add(count).ok_or_else(|| CompileError("too many patterns".into()))?;
        }
        Ok(SetIndex { anchors, bases, left_context, right_context })
    }

    fn into_matcher(self, sets: Vec<PatternSet>, literals: LiteralSet) -> BodyMatcher {
        let SetIndex { anchors, bases, left_context, right_context } = self;
        let window = WINDOW.max(left_context.saturating_add(right_context).saturating_mul(2));
        BodyMatcher { literals, anchors, sets, bases, left_context, right_context, window }
    }
}

/// Bytes of heap a set of patterns holds, split by whom the patterns report to: `(body, logical)`.
pub fn patterns_heap_bytes_by_owner(patterns: &[CompiledPattern]) -> (usize, usize) {
    patterns.iter().fold((0, 0), |(body, logical), compiled| {
        let bytes = size_of::<CompiledPattern>() + compiled.pattern.heap_bytes();
        match compiled.owner {
            PatternOwner::Body(_) => (body + bytes, logical),
            PatternOwner::Logical { .. } => (body, logical + bytes),
        }
    })
}

/// The per-scan state a window search works on.
struct WindowState<'s> {
    progress: &'s mut HashMap<u32, Vec<SegmentMatches>>,
    verify: &'s mut VerifyScratch,
    ends: &'s mut Vec<RangeInclusive<usize>>,
}

/// A window of a part: `hay[0]` is at part offset `offset`.
struct Window<'h> {
    hay: &'h [u8],
    offset: u64,
    part_len: u64,
}

impl Window<'_> {
    /// Verifies `segment` at an anchor hit with its start (a part offset) in `allowed`; returns the possible ends
    /// (all of them when a bounded gap follows, else the earliest) and the start, as part offsets.
    fn verify(
        &self,
        segment: &Segment,
        state: &mut WindowState<'_>,
        anchor_start: usize,
        allowed: &RangeInclusive<u64>,
        all_ends: bool,
    ) -> Option<(RangeInclusive<u64>, u64)> {
        let last = self.hay.len().checked_sub(1)?;
        if *allowed.end() < self.offset || *allowed.start() > self.offset + last as u64 {
            return None;
        }
        let to_hay = |offset: u64| usize::try_from(offset.saturating_sub(self.offset)).unwrap_or(usize::MAX).min(last);
        let allowed = to_hay(*allowed.start())..=to_hay(*allowed.end());
        let at = |position: usize| self.offset + position as u64;
        if all_ends {
            let start = segment.verify_ends(
                state.verify,
                self.hay,
                self.offset,
                self.part_len,
                anchor_start,
                allowed,
                state.ends,
            )?;
            let first = state.ends.first()?;
            let last = state.ends.last()?;
            return Some((at(*first.start())..=at(*last.end()), at(start)));
        }
        let range = segment.verify_with(state.verify, self.hay, self.offset, self.part_len, anchor_start, allowed)?;
        Some((at(range.end)..=at(range.end), at(range.start)))
    }
}

/// The starts a segment may have after a previous segment that ended anywhere in `ends`.
fn gap_starts(gap: &Gap, ends: &RangeInclusive<u64>) -> RangeInclusive<u64> {
    let low = ends.start().saturating_add(gap.min);
    let high = match gap.max {
        Some(max) => ends.end().saturating_add(max),
        None => u64::MAX,
    };
    low..=high
}

/// Records a segment match: before an unbounded gap only the earliest end matters (it allows the most); before a
/// bounded one, the latest [`MAX_ENDS_KEPT`] matches with all their ends.
fn record(matches: &mut Vec<(RangeInclusive<u64>, u64)>, found: (RangeInclusive<u64>, u64), next_gap_bounded: bool) {
    if !next_gap_bounded {
        if matches.first().is_none_or(|(ends, _)| found.0.start() < ends.start()) {
            matches.clear();
            matches.push(found);
        }
        return;
    }
    if matches.contains(&found) {
        return;
    }
    if matches.len() >= MAX_ENDS_KEPT {
        matches.remove(0);
    }
    matches.push(found);
}
