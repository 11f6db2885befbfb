//! An exact multi-literal prefilter: every occurrence of every anchor, overlapping ones included.
//!
//! Every body signature of the scanner contributes one fixed byte run, its *anchor* (1 to 255 bytes), and the
//! matcher verifies the whole signature around each place an anchor occurs. This module finds those places. It is
//! compiled once from the anchors of a database ([`LiteralSet::new`]) and searched many times
//! ([`LiteralSet::for_each_match`]); the compiled set is immutable, `Send + Sync`, and needs no scratch memory
//! beyond a small sort buffer per search.
//!
//! # Example
//!
//! ```
//! use std::ops::ControlFlow;
//! use scanner::literals::{Literal, LiteralSet};
//!
//! let set = LiteralSet::new(&[Literal::new(b"aaaa"), Literal::nocase(b"<SCRIPT")])?;
//! let hay = b"aaaaaa <script>";
//! let mut found = Vec::new();
//! let _ = set.for_each_match(hay, 0..hay.len(), |id, start| {
//!     found.push((id, start));
//!     ControlFlow::Continue(())
//! });
//! assert_eq!(found, [(0, 0), (0, 1), (0, 2), (1, 7)]);
//! # Ok::<(), scanner::literals::LiteralError>(())
//! ```
//!
//! # How it works
//!
//! Identical anchors share one *unique anchor* that reports every id it stands for (anchors marked `nocase` are
//! stored ASCII-lowercased and share with each other, never with case-sensitive ones). The unique anchors are then
//! split between *engines*, each of which produces `(start, unique anchor)` candidates that are already verified:
//!
//! * **One case-sensitive anchor**: [`memchr::memmem`], restarted one byte after each hit so overlapping
//!   occurrences are found.
//! * **A few case-sensitive anchors** (2 to [`FEW_LIMIT`], one of them shorter than [`TEDDY_BELOW`]):
//!   aho-corasick's packed Teddy searcher, asked for the leftmost match only; at each start it reports, every
//!   anchor of the group is compared, and the search resumes one byte later. Teddy is a SIMD filter and beats the
//!   sampled scan below for small groups of short anchors (longer ones allow a long stride, which wins).
//! * **Everything else** (many anchors, or any `nocase` anchor): the *sampled q-gram filter*, one pass per length
//!   class, described next. `nocase` anchors get passes of their own that fold the text to lowercase, so a set
//!   without them pays nothing for the feature.
//!
//! ## The sampled q-gram filter (after Wu-Manber and Hyperscan's FDR)
//!
//! Each anchor is assigned a *class* `(W, q)`: a window length `W` in {1, 2, 3, 4, 8, 16, 32} no longer than the
//! anchor, and a gram length `q` (1 for `W` <= 2, 2 for `W` in {3, 4}, else 4). It picks a window of `W` bytes at
//! offset `w` inside itself, the one whose grams are rarest by a fixed table of byte frequencies in typical
//! scanned data (zeros, `0xff`, x86 opcodes, lowercase English). A byte repeating the previous one counts as
//! common, so a window with `\0\0\0\0` or four spaces loses to one without such a run. Anchors whose best window
//! is still common move to a smaller class where they have a rarer one, but a smaller class is only opened when
//! the gram hits it saves (by that table) pay for its extra pass over the text. The class has a *stride*
//! `s = W - q + 1`.
//!
//! For each class the filter holds every gram of every member's window at offsets `0..s` (exact bit tables for
//! `q` <= 2, a two-bit blocked Bloom filter over a multiplicative hash for `q` = 4). The pass tests the gram at
//! every `s`-th text position only. **Invariant that makes the sampling exact:** an occurrence whose window
//! starts at `c` has its grams at `c, c+1, .., c+s-1` in the filter, and exactly one of those `s` consecutive
//! positions is on the sampling grid, so the occurrence is always seen at one sampled position and never at two.
//! On a filter hit at sampled position `j`, the `s` possible window starts `j-s+1 ..= j` are looked up by the
//! window's first `min(W, 8)` bytes (a second Bloom filter, then an open-addressing table of those keys giving
//! `(unique anchor, w)` pairs), and each candidate is confirmed with one slice compare of the whole anchor.
//!
//! Passes run over blocks of 32 KiB of start positions so the text stays in the L1/L2 cache between passes.
//! Because a window may sit up to `w` bytes inside its anchor, a pass finds starts up to `s - 1 + w` bytes
//! behind the position it has reached; candidates are therefore sorted per block and only those below that lag
//! are handed to the caller, which keeps the calls in non-decreasing start order.
//!
//! # Costs
//!
//! One thread of a 2 vCPU Xeon (AVX-512, 2.6 GHz) streaming 256 MiB of mixed text, x86-like and random bytes
//! from memory, random anchors of 16-32 bytes (aho-corasick 1.1 in the same run in brackets):
//!
//! | anchors | MB/s | heap | aho-corasick MB/s, heap |
//! |---|---|---|---|
//! | 1 | 10,000 (memmem) | 1.4 KB | 10,000, 8.5 KB (DFA) |
//! | 10 / 100 / 1,000 | 3,200-4,000 | 2 KB-103 KB | 630-257, 0.3-24 MB (DFA) |
//! | 10,000 | 4,060 (5,800 on text in cache) | 1.1 MB | 70, 235 MB (DFA) |
//! | 100,000 | 1,600 (2,100 in cache) | 9.5 MB | 29, 80 MB (contiguous NFA) |
//! | 10,000 of 4-64 bytes, shared prefixes | 640 | 1.2 MB | 80, 311 MB (DFA) |
//!
//! Short anchors are what costs: a class tests every `s`-th byte, and `s` is 29, 13, 5 and 3 for windows of 32,
//! 16, 8 and 4 bytes; the 610 anchors of 4-7 bytes of the last row take two thirds of its time. `nocase` passes
//! cost about 30 % more than case-sensitive ones. Memory is the filters (2 Bloom bits per gram at 16 bits per
//! gram, capped at 2 MiB; 32 bits per window head), the head table (about 30 bytes per anchor), the anchors' bytes
//! and the id lists. Building hashes and sorts: 8 ms per 10,000 anchors, under 0.1 s per 100,000. A search
//! allocates only when it finds candidates (a sort buffer of about one block's worth); with a single memmem or
//! Teddy engine it allocates nothing.
//!
//! # What it will not do
//!
//! * Wildcards, alternatives or regular expressions: it matches fixed byte strings. The scanner verifies the rest
//!   of each signature around the reported start.
//! * Case folding beyond ASCII: `nocase` folds `A-Z` to `a-z` only.
//! * Anchors longer than [`MAX_LITERAL_LEN`] bytes, empty anchors, or more than [`MAX_LITERALS`] of them.
//! * Keep streaming state: the caller passes `carry + chunk` and a `starts` range to get each occurrence once.
//!   With a carry of [`LiteralSet::max_literal_len`]` - 1` bytes, give each search the starts that the next
//!   search will not see whole: all but the last `max_literal_len() - 1` positions, except at the end of the data.
//! * Use SIMD intrinsics: the crate forbids `unsafe`. Speed comes from testing one position in `s`; memmem and
//!   Teddy, inside memchr and aho-corasick, are the only vectorized parts.
//! * It never panics and never fails on any haystack; `Err` comes only from the anchors given to `new`.

use std::fmt;
use std::hash::BuildHasher;
use std::ops::{ControlFlow, Range};

use aho_corasick::packed;
use memchr::memmem;

use crate::fasthash::FastBuildHasher;

/// The longest anchor accepted, in bytes: window offsets are stored in one byte.
pub const MAX_LITERAL_LEN: usize = 255;

/// The most anchors one set accepts: unique anchors are numbered in 24 bits of a table entry.
pub const MAX_LITERALS: usize = 1 << 24;

/// Sets of 2 to this many unique case-sensitive anchors, one of them shorter than [`TEDDY_BELOW`] bytes, use
/// aho-corasick's packed (Teddy) searcher. Measured on the target machine over mixed data, Teddy runs at a flat
/// 2.2 GB/s for 2 to 32 anchors of any length; the sampled filter does 3.0 GB/s when all anchors have 16 bytes or
/// more (stride 13 and up), but 1.5-2.2 GB/s when some are shorter (stride 3 or 5).
pub const FEW_LIMIT: usize = 32;

/// See [`FEW_LIMIT`].
pub const TEDDY_BELOW: usize = 16;

/// Start positions per block: the text of one block stays in cache while every pass runs over it.
const BLOCK: usize = 32 * 1024;

/// Multipliers of the hash that feeds the gram filter and the window-head table (64-bit odd constants with
/// well-spread bits; any such constant works, these two are the golden ratio and a splitmix64 constant).
const MIX_GRAM: u64 = 0x9E37_79B9_7F4A_7C15;
const MIX_HEAD: u64 = 0xBF58_476D_1CE4_E5B9;

/// Bloom bits per distinct gram, rounded to a power of two; two bits are set per gram, so at 16 bits per gram a
/// random text position passes with probability about (1 - e^(-1/8))^2 = 1.4 %.
const GRAM_BITS_PER_ITEM: usize = 16;
/// Upper bound of the gram filter: 2^24 bits = 2 MiB, the size of one core's L2 on the target machine.
const GRAM_MAX_BITS: usize = 1 << 24;
/// Bloom bits per distinct window head; each gram hit tests up to `s` heads, so this one is kept sparser.
const HEAD_BITS_PER_ITEM: usize = 32;
/// Upper bound of the head filter (1 MiB).
const HEAD_MAX_BITS: usize = 1 << 23;

/// The cost model that decides when an anchor leaves its natural class, in CPU cycles per haystack byte: a pass
/// costs `SAMPLE_CYCLES / s`; an anchor whose window grams have total probability `p` (by the byte frequency
/// table) costs about `p * CONFIRM_CYCLES` (each gram hit looks up `s` window heads). Measured roughly on the
/// target machine; only the ratio matters much.
const SAMPLE_CYCLES: f64 = 3.0;
const CONFIRM_CYCLES: f64 = 5.0;
/// Below this window cost the filter's own false positives dominate (about 1.4 % per tested position spread
/// over all grams), so an anchor that rare never moves.
const COMMON_WINDOW: f64 = 1e-6;
/// A smaller class must make an anchor's window this many times rarer before the anchor moves there: the
/// frequency model is a guess, and a smaller class means more text positions tested per byte.
const DOWNGRADE_GAIN: f64 = 8.0;

/// The classes `(W, q)` an anchor can be assigned to, by increasing window length.
const CLASSES: [(usize, usize); 7] = [(1, 1), (2, 1), (3, 2), (4, 2), (8, 4), (16, 4), (32, 4)];
// `Class::scan` has one loop per class with the stride as a constant; these keep it in step with `CLASSES`.
const _: () = {
    let strides = [1, 2, 2, 3, 5, 13, 29];
    let mut i = 0;
    while i < CLASSES.len() {
        assert!(CLASSES[i].0 - CLASSES[i].1 + 1 == strides[i]);
        assert!(CLASSES[i].1 <= strides[i]);
        i += 1;
    }
};
/// The first class of `CLASSES` with `q` = 4 that may move down to a smaller one; `(4, 2)` is the last stop.
const FIRST_DOWNGRADABLE: usize = 4;
const SMALLEST_DOWNGRADE: usize = 3;

/// One anchor to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Literal<'a> {
    /// The bytes to find, 1 to [`MAX_LITERAL_LEN`] of them.
    pub bytes: &'a [u8],
    /// Whether ASCII letters match either case (the signature's `::i` modifier). Other bytes match exactly.
    pub nocase: bool,
}

impl<'a> Literal<'a> {
    /// A case-sensitive anchor.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Literal { bytes, nocase: false }
    }

    /// An ASCII-case-insensitive anchor.
    pub const fn nocase(bytes: &'a [u8]) -> Self {
        Literal { bytes, nocase: true }
    }
}

/// Why a set of anchors cannot be compiled. Only the anchors given can cause one: no haystack ever does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiteralError {
    /// The anchor at `index` has no bytes.
    Empty {
        /// Position of the anchor in the slice given to [`LiteralSet::new`].
        index: usize,
    },
    /// The anchor at `index` is longer than [`MAX_LITERAL_LEN`].
    TooLong {
        /// Position of the anchor in the slice given to [`LiteralSet::new`].
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// More than [`MAX_LITERALS`] anchors were given.
    TooMany {
        /// How many were given.
        count: usize,
    },
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiteralError::Empty { index } => write!(f, "literal {index} is empty: a literal needs 1 to 255 bytes"),
            LiteralError::TooLong { index, len } => {
                write!(f, "literal {index} has {len} bytes: a literal needs 1 to {MAX_LITERAL_LEN} bytes")
            }
            LiteralError::TooMany { count } => {
                write!(f, "{count} literals given: a set holds at most {MAX_LITERALS}")
            }
        }
    }
}

impl std::error::Error for LiteralError {}

/// An immutable, `Send + Sync` set of literals compiled once and searched many times.
///
/// Ids are the positions of the literals in the slice given to [`LiteralSet::new`].
pub struct LiteralSet {
    len: usize,
    max_len: usize,
    anchors: Anchors,
    engines: Vec<Engine>,
    /// True when the only engine reports candidates in start order, so they go to the caller without sorting.
    ordered: bool,
    /// How far behind the sampled position a pass may still report a start: `max(s - 1 + w)` over the classes.
    lag: usize,
}

impl fmt::Debug for LiteralSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteralSet")
            .field("len", &self.len)
            .field("unique", &self.anchors.unique_count())
            .field("engines", &self.engines)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

/// The first step of building a [`LiteralSet`]: the literals checked and deduplicated into unique anchors.
/// It holds nothing of the literals it was made from, so a caller whose literal list is large (24 bytes a
/// literal) can free that list before the costlier second step, [`LiteralSet::from_unique`]: a set of a million
/// anchors is built beside the one serving when definitions reload.
pub struct UniqueAnchors {
    len: usize,
    max_len: usize,
    anchors: Anchors,
    /// Per unique anchor, whether it ignores ASCII case.
    nocase: Vec<bool>,
}

impl UniqueAnchors {
    /// Checks and deduplicates `literals`, as [`LiteralSet::new`] does.
    ///
    /// # Errors
    ///
    /// As [`LiteralSet::new`].
    pub fn new<L: LiteralList + ?Sized>(literals: &L) -> Result<UniqueAnchors, LiteralError> {
        let count = literals.count();
        if count > MAX_LITERALS {
            return Err(LiteralError::TooMany { count });
        }
        let mut max_len = 0;
        for index in 0..count {
            let len = literals.literal(index).map_or(0, |literal| literal.bytes.len());
            if len == 0 {
                return Err(LiteralError::Empty { index });
            }
            if len > MAX_LITERAL_LEN {
                return Err(LiteralError::TooLong { index, len });
            }
            max_len = max_len.max(len);
        }
        let (anchors, nocase) = Anchors::build(literals);
        Ok(UniqueAnchors { len: count, max_len, anchors, nocase })
    }
}

/// Literals by id, however the caller holds them: a slice of [`Literal`]s, or references to where the bytes
/// already are (the matcher lists its segments, 8 bytes each where a `Literal` takes 24: a million of them are
/// listed while a set is built beside the one serving).
pub trait LiteralList: Sync {
    /// How many literals there are; ids run from 0 to this, exclusive.
    fn count(&self) -> usize;
    /// Literal `id`; `None` only past the end.
    fn literal(&self, id: usize) -> Option<Literal<'_>>;
}

impl LiteralList for [Literal<'_>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn literal(&self, id: usize) -> Option<Literal<'_>> {
        self.get(id).copied()
    }
}

impl LiteralSet {
    /// Compiles `literals`; ids are their positions in the slice.
    ///
    /// Costs a few hundred nanoseconds per literal (hashing, sorting, one pass over each literal's bytes to pick
    /// its window). An empty slice gives an empty set that never matches.
    ///
    /// # Errors
    ///
    /// [`LiteralError::Empty`] or [`LiteralError::TooLong`] for the first literal not 1 to [`MAX_LITERAL_LEN`]
    /// bytes long, [`LiteralError::TooMany`] for more than [`MAX_LITERALS`] literals.
    pub fn new(literals: &[Literal<'_>]) -> Result<LiteralSet, LiteralError> {
        UniqueAnchors::new(literals).map(LiteralSet::from_unique)
    }

    /// The second step of [`LiteralSet::new`]: the searchers over anchors already deduplicated.
    pub fn from_unique(unique: UniqueAnchors) -> LiteralSet {
        let UniqueAnchors { len, max_len, anchors, nocase } = unique;
        let mut sensitive = Vec::new();
        let mut insensitive = Vec::new();
        for (unique, &folded) in (0u32..).zip(&nocase) {
            if folded { insensitive.push(unique) } else { sensitive.push(unique) }
        }

        let mut engines = Vec::new();
        match sensitive.as_slice() {
            [] => {}
            &[unique] => {
                let finder = memmem::Finder::new(anchors.bytes(unique)).into_owned();
                engines.push(Engine::Single { finder, unique });
            }
            few if few.len() <= FEW_LIMIT && few.iter().any(|&u| anchors.bytes(u).len() < TEDDY_BELOW) => {
                match Packed::build(&anchors, few) {
                    Some(packed) => engines.push(Engine::Packed(packed)),
                    None => engines.extend(build_classes(&anchors, few, false).into_iter().map(Engine::Sampled)),
                }
            }
            many => engines.extend(build_classes(&anchors, many, false).into_iter().map(Engine::Sampled)),
        }
        if !insensitive.is_empty() {
            engines.extend(build_classes(&anchors, &insensitive, true).into_iter().map(Engine::Sampled));
        }
        engines.shrink_to_fit();
        let ordered = matches!(engines.as_slice(), [Engine::Single { .. } | Engine::Packed(_)]);
        let lag = engines
            .iter()
            .map(|engine| match engine {
                Engine::Sampled(class) => class.stride - 1 + class.max_offset,
                Engine::Single { .. } | Engine::Packed(_) => 0,
            })
            .max()
            .unwrap_or(0);
        LiteralSet { len, max_len, anchors, engines, ordered, lag }
    }

    /// The number of literals given to [`LiteralSet::new`]; ids run from 0 to this, exclusive.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set was built from no literals (and so never matches).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The heap memory held by the set, in bytes (tables, the anchors' bytes and id lists, the searchers).
    pub fn heap_bytes(&self) -> usize {
        self.anchors.heap_bytes()
            + self.engines.capacity() * size_of::<Engine>()
            + self.engines.iter().map(Engine::heap_bytes).sum::<usize>()
    }

    /// Calls `each(id, bytes)` for every literal, with its bytes as the set holds them (ASCII-lowercased for a
    /// case-insensitive one), so that a set read back from storage can be checked against the literals it is
    /// meant for.
    pub fn for_each_literal(&self, mut each: impl FnMut(u32, &[u8])) {
        for unique in 0..u32::try_from(self.anchors.unique_count()).unwrap_or(u32::MAX) {
            let bytes = self.anchors.bytes(unique);
            for &id in self.anchors.ids(unique) {
                each(id, bytes);
            }
        }
    }

    /// The length of the longest literal, 0 for an empty set. A caller streaming in chunks keeps this many bytes
    /// minus one as the carry in front of the next chunk.
    pub fn max_literal_len(&self) -> usize {
        self.max_len
    }

    /// Calls `found(id, start)` for every occurrence of every literal (overlapping ones included) whose first byte
    /// is at a position in `starts` (a range of indices into `hay`); the occurrence must lie wholly inside `hay` and
    /// may end beyond `starts.end`. Each `(id, start)` is reported exactly once, in non-decreasing `start` order
    /// (ids of one start in no particular order). Returning [`ControlFlow::Break`] stops the search, and the
    /// break is returned. `starts` beyond `hay` is clamped to it; an empty or reversed range finds nothing.
    ///
    /// Never panics. Costs are described in the module documentation; a search that finds candidates allocates
    /// one buffer for sorting them.
    pub fn for_each_match<F>(&self, hay: &[u8], starts: Range<usize>, mut found: F) -> ControlFlow<()>
    where
        F: FnMut(u32, usize) -> ControlFlow<()>,
    {
        let end = starts.end.min(hay.len());
        if starts.start >= end {
            return ControlFlow::Continue(());
        }
        let search = Search { hay, start: starts.start, end };
        let anchors = &self.anchors;
        if self.ordered {
            // One engine that reports in start order (memmem or Teddy): straight to the caller, no buffer.
            let mut emit = |start: usize, unique: u32| emit(anchors, start, unique, &mut found);
            return match self.engines.first() {
                Some(engine) => engine.scan(anchors, &search, search.start, search.end, true, &mut emit),
                None => ControlFlow::Continue(()),
            };
        }
        let mut pending: Vec<(usize, u32)> = Vec::new();
        let mut block_start = search.start;
        loop {
            let block_end = if end - block_start > BLOCK { block_start + BLOCK } else { end };
            let last = block_end == end;
            let mut push = |start: usize, unique: u32| {
                pending.push((start, unique));
                ControlFlow::Continue(())
            };
            for engine in &self.engines {
                // The sink never breaks, so neither does the scan.
                let _ = engine.scan(anchors, &search, block_start, block_end, last, &mut push);
            }
            if !pending.is_empty() {
                pending.sort_unstable();
                // Every pass has tested its grid up to `block_end`, so later hits start at or after
                // `block_end - lag`: everything before that is final and in order.
                let limit = if last { usize::MAX } else { block_end.saturating_sub(self.lag) };
                let ready = pending.partition_point(|&(start, _)| start < limit);
                for &(start, unique) in pending.get(..ready).unwrap_or(&[]) {
                    emit(anchors, start, unique, &mut found)?;
                }
                pending.drain(..ready);
            }
            if last {
                return ControlFlow::Continue(());
            }
            block_start = block_end;
        }
    }
}

/// Hands every id of `unique` at `start` to the caller.
#[inline]
fn emit<F>(anchors: &Anchors, start: usize, unique: u32, found: &mut F) -> ControlFlow<()>
where
    F: FnMut(u32, usize) -> ControlFlow<()>,
{
    for &id in anchors.ids(unique) {
        found(id, start)?;
    }
    ControlFlow::Continue(())
}

/// A [`LiteralSet`] as the compiled definitions form stores it: the tables as they are, and what the searchers
/// of aho-corasick and memchr (which have no serialized form) are rebuilt from.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLiteralSet {
    len: u64,
    max_len: u64,
    anchors: Anchors,
    engines: Vec<StoredEngine>,
    ordered: bool,
    lag: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
enum StoredEngine {
    Single { unique: u32 },
    Packed { members: Box<[u32]> },
    Sampled(Class),
}

impl serde::Serialize for LiteralSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The tables are written through references, not cloned: a mirror of the stored shape.
        #[derive(serde::Serialize)]
        struct Ref<'a> {
            len: u64,
            max_len: u64,
            anchors: &'a Anchors,
            engines: Vec<EngineRef<'a>>,
            ordered: bool,
            lag: u64,
        }
        #[derive(serde::Serialize)]
        enum EngineRef<'a> {
            Single { unique: u32 },
            Packed { members: &'a [u32] },
            Sampled(&'a Class),
        }
        let engines = self
            .engines
            .iter()
            .map(|engine| match engine {
                Engine::Single { unique, .. } => EngineRef::Single { unique: *unique },
                Engine::Packed(packed) => EngineRef::Packed { members: &packed.members },
                Engine::Sampled(class) => EngineRef::Sampled(class),
            })
            .collect();
        Ref {
            len: self.len as u64,
            max_len: self.max_len as u64,
            anchors: &self.anchors,
            engines,
            ordered: self.ordered,
            lag: self.lag as u64,
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for LiteralSet {
    /// Reads a stored set back, checking every table against the others first (so a damaged set is refused
    /// here, never met by a search).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let stored = StoredLiteralSet::deserialize(deserializer)?;
        stored.into_set().map_err(D::Error::custom)
    }
}

impl StoredLiteralSet {
    fn into_set(self) -> Result<LiteralSet, String> {
        let to_usize = |value: u64, what: &str| usize::try_from(value).map_err(|_| format!("{what} out of range"));
        let len = to_usize(self.len, "literal count")?;
        let anchors = self.anchors;
        anchors.validate(len)?;
        let unique_count = anchors.unique_count();
        let unique_ok = |unique: u32| (unique as usize) < unique_count;
        let mut engines = Vec::with_capacity(self.engines.len());
        for engine in self.engines {
            engines.push(match engine {
                StoredEngine::Single { unique } if unique_ok(unique) => {
                    Engine::Single { finder: memmem::Finder::new(anchors.bytes(unique)).into_owned(), unique }
                }
                StoredEngine::Packed { members } if members.iter().all(|&unique| unique_ok(unique)) => {
                    Engine::Packed(Packed::build(&anchors, &members).ok_or("this machine has no Teddy searcher")?)
                }
                StoredEngine::Sampled(class) => {
                    class.validate(unique_count)?;
                    Engine::Sampled(class)
                }
                _ => return Err("an engine names an anchor that does not exist".into()),
            });
        }
        Ok(LiteralSet {
            len,
            max_len: to_usize(self.max_len, "longest literal")?,
            anchors,
            engines,
            ordered: self.ordered,
            lag: to_usize(self.lag, "lag")?,
        })
    }
}

impl Anchors {
    /// Checks that the bounds are ascending and inside the tables, and that the ids are `0..len`, each once.
    fn validate(&self, len: usize) -> Result<(), String> {
        let ascending_to = |bounds: &[u32], end: usize| {
            bounds.first() == Some(&0)
                && bounds.windows(2).all(|pair| pair[0] <= pair[1])
                && bounds.last().is_some_and(|&last| last as usize == end)
        };
        if !ascending_to(&self.bounds, self.bytes.len())
            || self.id_bounds.len() != self.bounds.len()
            || !ascending_to(&self.id_bounds, self.ids.len())
            || self.ids.len() != len
        {
            return Err("the anchor tables do not agree".into());
        }
        let mut seen = vec![false; len];
        for &id in self.ids.iter() {
            match seen.get_mut(id as usize) {
                Some(slot @ false) => *slot = true,
                _ => return Err("an anchor id is repeated or out of range".into()),
            }
        }
        Ok(())
    }
}

impl Class {
    /// Checks the class against the classes this build searches, and its head table.
    fn validate(&self, unique_count: usize) -> Result<(), String> {
        let known = CLASSES.contains(&(self.window, self.gram));
        let head_len = self.window.min(8);
        let head_mask = if head_len >= 8 { u64::MAX } else { (1u64 << (8 * head_len)) - 1 };
        if !known
            || self.stride != self.window - self.gram + 1
            || self.head_mask != head_mask
            || self.max_offset > 255
            || self.filter.is_empty()
        {
            return Err(format!("a class ({}, {}) this build does not search", self.window, self.gram));
        }
        let heads = &self.heads;
        let occupied = heads.slots.iter().filter(|&&slot| slot != 0).count();
        if !heads.slots.len().is_power_of_two()
            || occupied * 2 > heads.slots.len()
            || heads.slots.iter().any(|&slot| slot as usize > heads.keys.len())
            || heads.bounds.len() != heads.keys.len() + 1
            || heads.bounds.windows(2).any(|pair| pair[0] > pair[1])
            || heads.bounds.last().is_some_and(|&last| last as usize > heads.entries.len())
            || heads.entries.iter().any(|&entry| (entry >> 8) as usize >= unique_count)
        {
            return Err("a head table does not hold together".into());
        }
        Ok(())
    }
}

/// The haystack and the clamped, non-empty range of wanted starts of one search.
struct Search<'h> {
    hay: &'h [u8],
    start: usize,
    end: usize,
}

/// A literal as a key of the deduplication: `nocase` ones equal and hash as their ASCII-lowercased bytes.
#[derive(Clone, Copy)]
struct AnchorKey<'a> {
    bytes: &'a [u8],
    nocase: bool,
}

impl PartialEq for AnchorKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.nocase == other.nocase
            && if self.nocase { self.bytes.eq_ignore_ascii_case(other.bytes) } else { self.bytes == other.bytes }
    }
}

impl Eq for AnchorKey<'_> {}

impl std::hash::Hash for AnchorKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nocase.hash(state);
        state.write_usize(self.bytes.len());
        if self.nocase {
            for byte in self.bytes {
                state.write_u8(byte.to_ascii_lowercase());
            }
        } else {
            state.write(self.bytes);
        }
    }
}

/// For each literal, the id of the first literal equal to it (its own id when it is the first), equal as
/// [`AnchorKey`]s.
///
/// Keyed by the literals' own bytes: no copy of a million anchors while a set is built beside the one serving.
/// A big set is split by hash into one shard per core, each deduplicated on its own thread (equal literals hash
/// alike, so they meet in one shard); each shard sees its ids in increasing order, so the result is the same
/// as one pass.
fn first_equal_literals<L: LiteralList + ?Sized>(literals: &L) -> Vec<u32> {
    use std::sync::atomic::{AtomicU32, Ordering};
    let count = literals.count();
    let key = |id: u32| {
        literals.literal(id as usize).map(|literal| AnchorKey { bytes: literal.bytes, nocase: literal.nocase })
    };
    let hash_of = |id: usize, _: &mut crate::parallel::Scratch| FastBuildHasher::default().hash_one(key(id as u32));
    let hashes = crate::parallel::map_runs(count, PARALLEL_BUILD_MIN_ANCHORS, hash_of).unwrap_or_else(|| {
        let mut scratch = crate::parallel::Scratch::default();
        (0..count).map(|id| hash_of(id, &mut scratch)).collect()
    });
    let shard_count: u64 = if count >= 2 * PARALLEL_BUILD_MIN_ANCHORS {
        std::thread::available_parallelism().map_or(1, |cores| cores.get() as u64)
    } else {
        1
    };
    // The shard is taken from the hash's top bits, the table slot from its low ones.
    let shard_of = |hash: u64| (hash >> 40) % shard_count;
    // Each shard writes the first equal literal of its own ids, in place (4 bytes a literal, no list of pairs).
    let representatives: Vec<AtomicU32> = (0u32..).take(count).map(AtomicU32::new).collect();
    let dedup_shard = |&shard: &u64, _: &mut crate::parallel::Scratch| {
        let mut firsts: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
        for (id, &hash) in (0u32..).zip(&hashes) {
            if shard_of(hash) != shard {
                continue;
            }
            let this = key(id);
            match firsts.find(hash, |&first| key(first) == this) {
                Some(&first) => {
                    if let Some(slot) = representatives.get(id as usize) {
                        slot.store(first, Ordering::Relaxed);
                    }
                }
                None => {
                    firsts.insert_unique(hash, id, |&first| hashes.get(first as usize).copied().unwrap_or(0));
                }
            }
        }
    };
    let shards: Vec<u64> = (0..shard_count).collect();
    if crate::parallel::map_dynamic(&shards, dedup_shard).is_none() {
        // A thread that died may have written some of its ids: every shard is done again here.
        let mut scratch = crate::parallel::Scratch::default();
        shards.iter().for_each(|shard| dedup_shard(shard, &mut scratch));
    }
    // The scoped threads have been joined: every store is visible. (`into_inner` reuses the allocation.)
    representatives.into_iter().map(AtomicU32::into_inner).collect()
}

/// The unique anchors: their bytes (ASCII-lowercased for `nocase` ones) and the ids each stands for.
#[derive(serde::Serialize, serde::Deserialize)]
struct Anchors {
    bytes: Box<[u8]>,
    /// Unique anchor `u` is `bytes[bounds[u]..bounds[u + 1]]`.
    bounds: Box<[u32]>,
    ids: Box<[u32]>,
    /// Unique anchor `u` stands for `ids[id_bounds[u]..id_bounds[u + 1]]`, in increasing order.
    id_bounds: Box<[u32]>,
}

impl Anchors {
    /// Deduplicates `literals` (already validated); also returns each unique anchor's `nocase` flag.
    fn build<L: LiteralList + ?Sized>(literals: &L) -> (Anchors, Vec<bool>) {
        let representatives = first_equal_literals(literals);
        let mut first_of_unique: Vec<u32> = Vec::new();
        let mut unique_of_id: Vec<u32> = Vec::with_capacity(literals.count());
        for (id, &representative) in representatives.iter().enumerate() {
            let unique = if representative as usize == id {
                first_of_unique.push(representative);
                u32::try_from(first_of_unique.len() - 1).unwrap_or(u32::MAX)
            } else {
                // The first equal literal comes before this one: its unique anchor is known.
                unique_of_id.get(representative as usize).copied().unwrap_or(u32::MAX)
            };
            unique_of_id.push(unique);
        }
        drop(representatives);
        let mut bytes = Vec::new();
        let mut bounds = Vec::with_capacity(first_of_unique.len() + 1);
        let mut nocase = Vec::with_capacity(first_of_unique.len());
        bounds.push(0u32);
        for &id in &first_of_unique {
            if let Some(literal) = literals.literal(id as usize) {
                if literal.nocase {
                    bytes.extend(literal.bytes.iter().map(u8::to_ascii_lowercase));
                } else {
                    bytes.extend_from_slice(literal.bytes);
                }
                nocase.push(literal.nocase);
            }
            bounds.push(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        }
        // Ids grouped by unique anchor (a counting sort keeps each group in increasing id order).
        let mut id_bounds = vec![0u32; first_of_unique.len() + 1];
        for &unique in &unique_of_id {
            if let Some(count) = id_bounds.get_mut(unique as usize + 1) {
                *count += 1;
            }
        }
        for i in 1..id_bounds.len() {
            let previous = id_bounds.get(i - 1).copied().unwrap_or(0);
            if let Some(bound) = id_bounds.get_mut(i) {
                *bound += previous;
            }
        }
        let mut fill = id_bounds.clone();
        let mut ids = vec![0u32; literals.count()];
        for (id, &unique) in (0u32..).zip(&unique_of_id) {
            if let Some(slot) = fill.get_mut(unique as usize) {
                if let Some(entry) = ids.get_mut(*slot as usize) {
                    *entry = id;
                }
                *slot += 1;
            }
        }
        let anchors = Anchors {
            bytes: bytes.into_boxed_slice(),
            bounds: bounds.into_boxed_slice(),
            ids: ids.into_boxed_slice(),
            id_bounds: id_bounds.into_boxed_slice(),
        };
        (anchors, nocase)
    }

    fn unique_count(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    #[inline]
    fn bytes(&self, unique: u32) -> &[u8] {
        let u = unique as usize;
        match (self.bounds.get(u), self.bounds.get(u + 1)) {
            (Some(&from), Some(&to)) => self.bytes.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    #[inline]
    fn ids(&self, unique: u32) -> &[u32] {
        let u = unique as usize;
        match (self.id_bounds.get(u), self.id_bounds.get(u + 1)) {
            (Some(&from), Some(&to)) => self.ids.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.len() + 4 * (self.bounds.len() + self.ids.len() + self.id_bounds.len())
    }
}

/// One searcher over a subset of the unique anchors.
enum Engine {
    /// Exactly one case-sensitive anchor.
    Single { finder: memmem::Finder<'static>, unique: u32 },
    /// 2 to [`FEW_LIMIT`] case-sensitive anchors.
    Packed(Packed),
    /// The anchors of one class of the sampled q-gram filter.
    Sampled(Class),
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Single { finder, .. } => write!(f, "Memmem({} bytes)", finder.needle().len()),
            Engine::Packed(packed) => write!(f, "Teddy({} anchors)", packed.members.len()),
            Engine::Sampled(class) => write!(
                f,
                "Sampled(window {}, gram {}, stride {}, nocase {}, {} heads)",
                class.window,
                class.gram,
                class.stride,
                class.nocase,
                class.heads.keys.len()
            ),
        }
    }
}

impl Engine {
    fn heap_bytes(&self) -> usize {
        match self {
            Engine::Single { finder, .. } => finder.needle().len(),
            Engine::Packed(packed) => packed.searcher.memory_usage() + 4 * packed.members.len(),
            Engine::Sampled(class) => class.heap_bytes(),
        }
    }

    /// Reports to `sink` every verified `(start, unique)` of this engine's anchors with `start` in
    /// `block_start..block_end` (for sampled classes: found by grid positions up to `block_end`, or all remaining
    /// ones when `last`). Each occurrence is reported by exactly one block.
    fn scan<S>(
        &self,
        anchors: &Anchors,
        search: &Search<'_>,
        block_start: usize,
        block_end: usize,
        last: bool,
        sink: &mut S,
    ) -> ControlFlow<()>
    where
        S: FnMut(usize, u32) -> ControlFlow<()>,
    {
        match self {
            Engine::Single { finder, unique } => scan_single(finder, *unique, search.hay, block_start, block_end, sink),
            Engine::Packed(packed) => packed.scan(anchors, search.hay, block_start, block_end, sink),
            Engine::Sampled(class) => class.scan(anchors, search, block_start, block_end, last, sink),
        }
    }
}

/// memmem, restarted one byte after each occurrence so overlapping ones are found too.
fn scan_single<S>(
    finder: &memmem::Finder<'_>,
    unique: u32,
    hay: &[u8],
    block_start: usize,
    block_end: usize,
    sink: &mut S,
) -> ControlFlow<()>
where
    S: FnMut(usize, u32) -> ControlFlow<()>,
{
    let len = finder.needle().len();
    // An occurrence starting before `block_end` ends at or before `block_end - 1 + len`.
    let region_end = (block_end - 1 + len).min(hay.len());
    let mut at = block_start;
    while let Some(region) = hay.get(at..region_end) {
        let Some(offset) = finder.find(region) else { break };
        let start = at + offset;
        sink(start, unique)?;
        at = start + 1;
    }
    ControlFlow::Continue(())
}

/// aho-corasick's packed searcher (Teddy) over a few case-sensitive anchors.
struct Packed {
    searcher: packed::Searcher,
    members: Box<[u32]>,
    max_len: usize,
}

impl Packed {
    /// `None` where Teddy is not available (no SSSE3/AVX2 or NEON) or refuses the patterns.
    fn build(anchors: &Anchors, members: &[u32]) -> Option<Packed> {
        let mut builder = packed::Config::new().match_kind(packed::MatchKind::LeftmostFirst).builder();
        for &unique in members {
            builder.add(anchors.bytes(unique));
        }
        let searcher = builder.build()?;
        let max_len = members.iter().map(|&u| anchors.bytes(u).len()).max().unwrap_or(1);
        Some(Packed { searcher, members: members.into(), max_len })
    }

    /// Teddy finds the leftmost start where any member matches; every member is then compared there (the group is
    /// small), and the search resumes one byte later.
    fn scan<S>(
        &self,
        anchors: &Anchors,
        hay: &[u8],
        block_start: usize,
        block_end: usize,
        sink: &mut S,
    ) -> ControlFlow<()>
    where
        S: FnMut(usize, u32) -> ControlFlow<()>,
    {
        let span_end = (block_end - 1 + self.max_len).min(hay.len());
        let mut at = block_start;
        while at < block_end && at < span_end {
            let Some(found) = self.searcher.find_in(hay, aho_corasick::Span { start: at, end: span_end }) else {
                break;
            };
            let start = found.start();
            if start >= block_end {
                break;
            }
            for &unique in self.members.iter() {
                let anchor = anchors.bytes(unique);
                if hay.get(start..start + anchor.len()) == Some(anchor) {
                    sink(start, unique)?;
                }
            }
            at = start + 1;
        }
        ControlFlow::Continue(())
    }
}

/// One class `(W, q)` of the sampled q-gram filter: its gram filter and its table of window heads.
#[derive(serde::Serialize, serde::Deserialize)]
struct Class {
    /// `W`: the window length.
    window: usize,
    /// `q`: the gram length (1, 2 or 4).
    gram: usize,
    /// `s = W - q + 1`: the distance between tested text positions.
    stride: usize,
    /// Whether the text is ASCII-lowercased before hashing and comparing.
    nocase: bool,
    /// The largest window offset `w` of a member: how far before its window an anchor may start.
    max_offset: usize,
    /// Bit tables indexed by the gram itself for `q` <= 2; a two-bit blocked Bloom filter for `q` = 4.
    filter: Box<[u64]>,
    /// Window heads are the first `min(W, 8)` bytes of the window, little-endian in a `u64` masked by this.
    head_mask: u64,
    heads: Heads,
}

/// Range of window starts `c` a class looks at in one search: those whose anchor can start in `starts`.
#[derive(Clone, Copy)]
struct Candidates {
    from: usize,
    to: usize,
}

impl Class {
    fn heap_bytes(&self) -> usize {
        8 * self.filter.len() + self.heads.heap_bytes()
    }

    fn scan<S>(
        &self,
        anchors: &Anchors,
        search: &Search<'_>,
        block_start: usize,
        block_end: usize,
        last: bool,
        sink: &mut S,
    ) -> ControlFlow<()>
    where
        S: FnMut(usize, u32) -> ControlFlow<()>,
    {
        let hay = search.hay;
        // A window start `c` needs `c + W <= hay.len()`, and its anchor (at `c - w`) must start in `starts`.
        let Some(room) = (hay.len() + 1).checked_sub(self.window) else { return ControlFlow::Continue(()) };
        let candidates = Candidates { from: search.start, to: (search.end + self.max_offset).min(room) };
        if candidates.from >= candidates.to {
            return ControlFlow::Continue(());
        }
        // The grid is `candidates.from + k * s`. Every `c` in the candidates has exactly one grid position in
        // `c..c + s`, below `candidates.to + s - 1`; its gram ends at `c + s - 1 + q = c + W <= hay.len()`.
        let grid_end = (candidates.to + self.stride - 1).min(hay.len() + 1 - self.gram);
        let to = if last { grid_end } else { block_end.min(grid_end) };
        let from = candidates.from + (block_start - candidates.from).div_ceil(self.stride) * self.stride;
        if from >= to {
            return ControlFlow::Continue(());
        }
        // One copy of the loop per class, so gram length and stride are constants (see `CLASSES`).
        let (a, h, c) = (anchors, search, candidates);
        match (self.window, self.nocase) {
            (32, false) => self.scan_grid::<4, 29, false, S>(a, h, c, from, to, sink),
            (32, true) => self.scan_grid::<4, 29, true, S>(a, h, c, from, to, sink),
            (16, false) => self.scan_grid::<4, 13, false, S>(a, h, c, from, to, sink),
            (16, true) => self.scan_grid::<4, 13, true, S>(a, h, c, from, to, sink),
            (8, false) => self.scan_grid::<4, 5, false, S>(a, h, c, from, to, sink),
            (8, true) => self.scan_grid::<4, 5, true, S>(a, h, c, from, to, sink),
            (4, false) => self.scan_grid::<2, 3, false, S>(a, h, c, from, to, sink),
            (4, true) => self.scan_grid::<2, 3, true, S>(a, h, c, from, to, sink),
            (3, false) => self.scan_grid::<2, 2, false, S>(a, h, c, from, to, sink),
            (3, true) => self.scan_grid::<2, 2, true, S>(a, h, c, from, to, sink),
            (2, false) => self.scan_grid::<1, 2, false, S>(a, h, c, from, to, sink),
            (2, true) => self.scan_grid::<1, 2, true, S>(a, h, c, from, to, sink),
            (_, false) => self.scan_grid::<1, 1, false, S>(a, h, c, from, to, sink),
            (_, true) => self.scan_grid::<1, 1, true, S>(a, h, c, from, to, sink),
        }
    }

    /// Whether `gram` (already folded for `nocase`) may belong to a member's window.
    #[inline(always)]
    fn gram_hit<const Q: usize>(filter: &[u64], gram: u32) -> bool {
        if Q == 4 { bloom_test(filter, mix(u64::from(gram), MIX_GRAM)) } else { bit_test(filter, gram as usize) }
    }

    /// Tests the grid positions `from, from + S, ..` below `to`. The bulk goes four at a time through chunks of
    /// `4 * S` bytes: every gram of a chunk lies inside it (`Q <= S`), so the loads need no bounds checks, and the
    /// four filter loads are independent, so they overlap.
    #[inline(never)]
    fn scan_grid<const Q: usize, const S: usize, const NOCASE: bool, F>(
        &self,
        anchors: &Anchors,
        search: &Search<'_>,
        candidates: Candidates,
        from: usize,
        to: usize,
        sink: &mut F,
    ) -> ControlFlow<()>
    where
        F: FnMut(usize, u32) -> ControlFlow<()>,
    {
        let hay = search.hay;
        let filter: &[u64] = &self.filter;
        let hit = |bytes: &[u8], at: usize| Self::gram_hit::<Q>(filter, load_gram::<Q, NOCASE>(bytes, at));
        let points = (to - from).div_ceil(S);
        let quads = (points / 4).min(hay.len().saturating_sub(from) / (4 * S));
        let body = hay.get(from..from + quads * 4 * S).unwrap_or(&[]);
        for (k, chunk) in body.chunks_exact(4 * S).enumerate() {
            let hits = [hit(chunk, 0), hit(chunk, S), hit(chunk, 2 * S), hit(chunk, 3 * S)];
            if hits[0] | hits[1] | hits[2] | hits[3] {
                let base = from + k * 4 * S;
                for (i, found) in hits.into_iter().enumerate() {
                    if found {
                        self.confirm::<NOCASE, F>(anchors, search, candidates, base + i * S, sink)?;
                    }
                }
            }
        }
        let mut at = from + quads * 4 * S;
        while at < to {
            if hit(hay, at) {
                self.confirm::<NOCASE, F>(anchors, search, candidates, at, sink)?;
            }
            at += S;
        }
        ControlFlow::Continue(())
    }

    /// A gram hit at grid position `at`: the window may start at any of `at - s + 1 ..= at`. Each is looked up by
    /// its head, and each member listed under that head is compared whole.
    #[inline(never)]
    fn confirm<const NOCASE: bool, S>(
        &self,
        anchors: &Anchors,
        search: &Search<'_>,
        candidates: Candidates,
        at: usize,
        sink: &mut S,
    ) -> ControlFlow<()>
    where
        S: FnMut(usize, u32) -> ControlFlow<()>,
    {
        let hay = search.hay;
        let from = (at + 1).saturating_sub(self.stride).max(candidates.from);
        let to = (at + 1).min(candidates.to);
        for window_start in from..to {
            let key = load_head(hay, window_start, self.head_mask);
            let key = if NOCASE { lower64(key) } else { key };
            let hash = mix(key, MIX_HEAD);
            if !bloom_test(&self.heads.bloom, hash) {
                continue;
            }
            for &entry in self.heads.find(key, hash) {
                let (unique, offset) = (entry >> 8, (entry & 0xff) as usize);
                let Some(start) = window_start.checked_sub(offset) else { continue };
                if start < search.start || start >= search.end {
                    continue;
                }
                let anchor = anchors.bytes(unique);
                let Some(text) = hay.get(start..start + anchor.len()) else { continue };
                let equal = if NOCASE { text.eq_ignore_ascii_case(anchor) } else { text == anchor };
                if equal {
                    sink(start, unique)?;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Window heads of one class: a Bloom filter in front of an open-addressing table from head to the
/// `(unique anchor << 8 | window offset)` entries that have it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Heads {
    bloom: Box<[u64]>,
    /// `index + 1` into `keys`, 0 for an empty slot; at most half full, so every probe sequence ends.
    slots: Box<[u32]>,
    keys: Box<[u64]>,
    /// Head `k` has `entries[bounds[k]..bounds[k + 1]]`.
    bounds: Box<[u32]>,
    entries: Box<[u32]>,
}

impl Heads {
    /// `items` are `(head, entry)` pairs, in any order.
    fn build(mut items: Vec<(u64, u32)>) -> Heads {
        items.sort_unstable();
        items.dedup();
        let mut keys: Vec<u64> = Vec::new();
        let mut bounds: Vec<u32> = Vec::new();
        let mut entries: Vec<u32> = Vec::with_capacity(items.len());
        for &(key, entry) in &items {
            if keys.last() != Some(&key) {
                keys.push(key);
                bounds.push(u32::try_from(entries.len()).unwrap_or(u32::MAX));
            }
            entries.push(entry);
        }
        bounds.push(u32::try_from(entries.len()).unwrap_or(u32::MAX));

        let mut bloom = bloom_new(keys.len(), HEAD_BITS_PER_ITEM, HEAD_MAX_BITS);
        let slot_count = (2 * keys.len()).next_power_of_two().max(2);
        let mut slots = vec![0u32; slot_count];
        for (index, &key) in (1u32..).zip(&keys) {
            let hash = mix(key, MIX_HEAD);
            bloom_insert(&mut bloom, hash);
            let mut slot = slot_of(hash, slot_count);
            // The table is at most half full, so an empty slot comes before the probe wraps around.
            for _ in 0..slot_count {
                match slots.get_mut(slot) {
                    Some(free @ 0) => {
                        *free = index;
                        break;
                    }
                    _ => slot = (slot + 1) & (slot_count - 1),
                }
            }
        }
        Heads {
            bloom: bloom.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
            keys: keys.into_boxed_slice(),
            bounds: bounds.into_boxed_slice(),
            entries: entries.into_boxed_slice(),
        }
    }

    /// The entries of `key` (whose mixed hash is `hash`), empty if no member window starts with it.
    #[inline]
    fn find(&self, key: u64, hash: u64) -> &[u32] {
        let count = self.slots.len();
        let mut slot = slot_of(hash, count);
        for _ in 0..count {
            match self.slots.get(slot) {
                Some(&0) | None => return &[],
                Some(&index) => {
                    let k = (index - 1) as usize;
                    if self.keys.get(k) == Some(&key) {
                        return match (self.bounds.get(k), self.bounds.get(k + 1)) {
                            (Some(&from), Some(&to)) => self.entries.get(from as usize..to as usize).unwrap_or(&[]),
                            _ => &[],
                        };
                    }
                }
            }
            slot = (slot + 1) & count.wrapping_sub(1);
        }
        &[]
    }

    fn heap_bytes(&self) -> usize {
        8 * (self.bloom.len() + self.keys.len()) + 4 * (self.slots.len() + self.bounds.len() + self.entries.len())
    }
}

/// The slot a head hash starts probing at: bits 24 to 51, which the Bloom filter uses only for its largest sizes.
#[inline(always)]
fn slot_of(hash: u64, count: usize) -> usize {
    (hash >> 24) as usize & count.wrapping_sub(1)
}

/// Below this many anchors per core a prefilter is built on the calling thread (the embedded set's is, so a
/// daemon serving it starts no threads).
const PARALLEL_BUILD_MIN_ANCHORS: usize = 20_000;

/// A class to build: its window, its gram length, and its members with their window offsets.
type ClassToBuild<'m> = (usize, usize, &'m [ClassMember]);

/// A unique anchor assigned to a class, and the offset of its window (below 256: anchors are at most 255 bytes
/// long). Eight bytes: every anchor has one while a set is built.
type ClassMember = (u32, u8);

/// Builds the classes of the sampled filter for `members` (all case-sensitive, or all `nocase`), on every core
/// for a big set.
fn build_classes(anchors: &Anchors, members: &[u32], nocase: bool) -> Vec<Class> {
    let by_class = assign_classes(anchors, members, &gram_weights(nocase));
    let classes: Vec<ClassToBuild<'_>> = CLASSES
        .iter()
        .zip(&by_class)
        .filter(|(_, list)| !list.is_empty())
        .map(|(&(window, gram), list)| (window, gram, list.as_slice()))
        .collect();
    let build = |&(window, gram, list): &ClassToBuild<'_>| build_class(anchors, list, window, gram, nocase);
    let build_on_thread = |class: &ClassToBuild<'_>, _: &mut crate::parallel::Scratch| build(class);
    let built = if members.len() >= 2 * PARALLEL_BUILD_MIN_ANCHORS {
        crate::parallel::map_dynamic(&classes, build_on_thread)
    } else {
        None
    };
    // A thread that died is not an excuse to fail: the classes are built again here.
    built.unwrap_or_else(|| classes.iter().map(build).collect())
}

fn build_class(anchors: &Anchors, members: &[ClassMember], window: usize, gram: usize, nocase: bool) -> Class {
    let stride = window - gram + 1;
    let head_len = window.min(8);
    let head_mask = if head_len >= 8 { u64::MAX } else { (1u64 << (8 * head_len)) - 1 };
    let mut max_offset = 0;
    let mut grams: Vec<u32> = Vec::with_capacity(members.len() * stride);
    let mut heads: Vec<(u64, u32)> = Vec::with_capacity(members.len());
    for &(unique, offset) in members {
        let offset = usize::from(offset);
        let bytes = anchors.bytes(unique);
        let Some(window_bytes) = bytes.get(offset..offset + window) else { continue };
        max_offset = max_offset.max(offset);
        for gram_bytes in window_bytes.windows(gram).take(stride) {
            grams.push(gram_bytes.iter().rev().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)));
        }
        let head = window_bytes.iter().take(head_len).rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        // Offsets are below 256 because anchors are at most 255 bytes long.
        heads.push((head, (unique << 8) | (offset as u32 & 0xff)));
    }
    grams.sort_unstable();
    grams.dedup();
    let filter = match gram {
        4 => {
            let mut bloom = bloom_new(grams.len(), GRAM_BITS_PER_ITEM, GRAM_MAX_BITS);
            for &g in &grams {
                bloom_insert(&mut bloom, mix(u64::from(g), MIX_GRAM));
            }
            bloom
        }
        _ => {
            let mut bits = vec![0u64; if gram == 2 { 1 << 10 } else { 4 }];
            for &g in &grams {
                if let Some(word) = bits.get_mut(g as usize >> 6) {
                    *word |= 1 << (g & 63);
                }
            }
            bits
        }
    };
    Class {
        window,
        gram,
        stride,
        nocase,
        max_offset,
        filter: filter.into_boxed_slice(),
        head_mask,
        heads: Heads::build(heads),
    }
}

/// The rarest window of each class an anchor may use, as `(offset, cost)`: its natural class (the longest that
/// fits) and, for anchors of 8 bytes or more, the smaller classes down to `(4, 2)`.
type Options = [WindowOption; CLASSES.len()];

/// One class's option for an anchor: the offset of its rarest window and that window's cost, or none. Five
/// bytes, unaligned (`Option<(usize, f64)>` takes 24, an `f32` field would pad it to 8): the options of every
/// anchor are held at once while a set is built, and a set of a million anchors is built beside the one serving
/// when definitions reload.
#[derive(Debug, Clone, Copy)]
struct WindowOption {
    offset: u8,
    /// The cost as an `f32`'s little-endian bytes; NaN when the class is no option.
    cost: [u8; 4],
}

impl WindowOption {
    const NONE: WindowOption = WindowOption { offset: 0, cost: f32::NAN.to_le_bytes() };

    fn new((offset, cost): (usize, f64)) -> WindowOption {
        // Offsets are below 256 because anchors are at most 255 bytes long.
        WindowOption { offset: u8::try_from(offset).unwrap_or(u8::MAX), cost: (cost as f32).to_le_bytes() }
    }

    fn get(self) -> Option<(usize, f64)> {
        let cost = f32::from_le_bytes(self.cost);
        (!cost.is_nan()).then_some((usize::from(self.offset), f64::from(cost)))
    }
}

fn class_options(bytes: &[u8], weights: &GramWeights, probabilities: &mut Vec<f64>) -> Options {
    let mut options: Options = [WindowOption::NONE; CLASSES.len()];
    let natural = CLASSES.iter().rposition(|&(window, _)| window <= bytes.len()).unwrap_or(0);
    let smallest = if natural >= FIRST_DOWNGRADABLE { SMALLEST_DOWNGRADE } else { natural };
    // The gram probabilities are those of the last class's gram length when it is the same (classes of one
    // gram length are neighbours in CLASSES).
    let mut probabilities_gram = 0;
    for (class, option) in options.iter_mut().enumerate().take(natural + 1).skip(smallest) {
        if let Some(&(window, gram)) = CLASSES.get(class) {
            if probabilities_gram != gram {
                probabilities.clear();
                probabilities.extend(bytes.windows(gram).map(|g| weights.gram(g)));
                probabilities_gram = gram;
            }
            *option = WindowOption::new(rarest_window(bytes.len(), window, gram, probabilities));
        }
    }
    options
}

/// Where an anchor goes among the `open` classes: its natural class, or a smaller open one where its window is
/// much rarer (an anchor of 28 zero bytes then `"evil"` is better found by a window on `"evil"` at stride 3
/// than by `\0\0\0\0` at stride 29). Returns `(class, offset, cost)`.
fn choose_class(options: &Options, open: &[bool; CLASSES.len()]) -> (usize, usize, f64) {
    let mut best: Option<(usize, usize, f64)> = None;
    for (class, option) in options.iter().enumerate().rev() {
        let Some((offset, cost)) = option.get() else { continue };
        match best {
            // The natural class: always allowed (it is open because this anchor is in it).
            None => best = Some((class, offset, cost)),
            Some((_, _, current))
                if open.get(class) == Some(&true) && current > COMMON_WINDOW && cost * DOWNGRADE_GAIN < current =>
            {
                best = Some((class, offset, cost));
            }
            Some(_) => {}
        }
    }
    best.unwrap_or((0, 0, 0.0))
}

/// Assigns every member a class and a window offset. Each anchor starts in its natural class; a smaller class
/// that no anchor needs is opened only when the gram hits it would save (by the byte frequency model) outweigh
/// the cost of one more pass over every byte: a single anchor with a common window is cheaper to keep than to
/// give a pass of its own.
fn assign_classes(anchors: &Anchors, members: &[u32], weights: &GramWeights) -> Vec<Vec<ClassMember>> {
    let options_of = |index: usize, scratch: &mut crate::parallel::Scratch| {
        let unique = members.get(index).copied().unwrap_or_default();
        class_options(anchors.bytes(unique), weights, &mut scratch.floats)
    };
    let options: Vec<Options> = crate::parallel::map_runs(members.len(), PARALLEL_BUILD_MIN_ANCHORS, options_of)
        .unwrap_or_else(|| {
            let mut scratch = crate::parallel::Scratch::default();
            (0..members.len()).map(|index| options_of(index, &mut scratch)).collect()
        });
    let mut open = [false; CLASSES.len()];
    for option in &options {
        if let Some(natural) = option.iter().rposition(|choice| choice.get().is_some())
            && let Some(slot) = open.get_mut(natural)
        {
            *slot = true;
        }
    }
    for class in (SMALLEST_DOWNGRADE..CLASSES.len()).rev() {
        if open.get(class) != Some(&false) {
            continue;
        }
        let mut trial = open;
        if let Some(slot) = trial.get_mut(class) {
            *slot = true;
        }
        let savings: f64 = options
            .iter()
            .map(|option| (choose_class(option, &open).2 - choose_class(option, &trial).2).max(0.0))
            .sum::<f64>()
            * CONFIRM_CYCLES;
        let stride = CLASSES.get(class).map_or(1, |&(window, gram)| window - gram + 1);
        if savings > SAMPLE_CYCLES / stride as f64 {
            open = trial;
        }
    }
    let mut by_class: Vec<Vec<ClassMember>> = vec![Vec::new(); CLASSES.len()];
    for (&unique, option) in members.iter().zip(&options) {
        let (class, offset, _) = choose_class(option, &open);
        if let Some(list) = by_class.get_mut(class) {
            list.push((unique, u8::try_from(offset).unwrap_or(u8::MAX)));
        }
    }
    by_class
}

/// The offset of the window of length `window` whose `s` grams have the smallest summed probability, and that sum
/// (the expected number of gram hits per tested text position). Ties go to the smallest offset, which keeps the
/// lag small. Linear in the anchor's length (`len` bytes): the probabilities of its grams are given, and windows
/// slide over them.
fn rarest_window(len: usize, window: usize, gram: usize, probabilities: &[f64]) -> (usize, f64) {
    let stride = window - gram + 1;
    let mut best = (0, f64::INFINITY);
    let mut sum: f64 = probabilities.iter().take(stride).sum();
    for offset in 0..=len.saturating_sub(window) {
        if offset > 0 {
            sum += probabilities.get(offset + stride - 1).copied().unwrap_or(0.0)
                - probabilities.get(offset - 1).copied().unwrap_or(0.0);
        }
        // Compare with a little slack so float drift does not move the window for nothing.
        if sum < best.1 * 0.999 {
            best = (offset, sum.max(0.0));
        }
    }
    best
}

/// Estimated byte probabilities in the data a scanner sees, for ranking grams.
struct GramWeights {
    byte: [f64; 256],
    /// The cube root of each byte's probability (see [`GramWeights::gram`]), computed once.
    byte_cbrt: [f64; 256],
}

/// Builds the byte frequency table: a guess, not a measurement of any corpus, and only used to rank windows (a
/// bad guess costs speed, never correctness). Real data mixes compressed or random bytes (all values equally),
/// binaries (zero padding, `0xff`, small integers, common x86 opcodes) and text (spaces and lowercase English).
fn gram_weights(nocase: bool) -> GramWeights {
    // Weights per about 16,000 bytes.
    let mut weight = [16.0f64; 256];
    let mut add = |bytes: &[u8], w: f64| {
        for &b in bytes {
            if let Some(slot) = weight.get_mut(usize::from(b)) {
                *slot += w;
            }
        }
    };
    add(&[0x00], 2000.0);
    add(&[0xff], 250.0);
    add(&[0x01, 0x02, 0x03, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80], 40.0);
    add(&[0x8b, 0x89, 0x48, 0x24, 0x45, 0xe8, 0x0f, 0x83, 0x4c, 0x85, 0x74, 0x75, 0xc3, 0xcc, 0x90, 0x8d], 60.0);
    add(&[0x41, 0x44, 0x50, 0x55, 0x5d, 0xc0, 0xc7, 0xeb, 0xe9, 0x33, 0x31, 0xfe, 0x05, 0x06, 0x0c], 30.0);
    add(b" ", 700.0);
    add(b"e", 360.0);
    add(b"ta", 260.0);
    add(b"oinsrh", 200.0);
    add(b"dlcu", 120.0);
    add(b"mwfgypb", 60.0);
    add(b"vkjxqz", 15.0);
    add(b"\n\r\t.,=\"'<>/:;-_()0123456789", 25.0);
    add(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 12.0);
    if nocase {
        // The filter sees folded text: an uppercase byte never reaches it, a lowercase one stands for both.
        for upper in b'A'..=b'Z' {
            let u = usize::from(upper);
            let moved = weight.get(u).copied().unwrap_or(0.0);
            if let Some(lower) = weight.get_mut(u + 32) {
                *lower += moved;
            }
            if let Some(slot) = weight.get_mut(u) {
                *slot = 0.0;
            }
        }
    }
    let total: f64 = weight.iter().sum();
    let byte = weight.map(|w| w / total);
    GramWeights { byte, byte_cbrt: byte.map(f64::cbrt) }
}

impl GramWeights {
    /// The probability of a gram, assuming independent bytes except that a byte repeating the previous one is far
    /// likelier than its frequency says (runs of zeros, spaces, `0xff`): its cube root is used instead.
    fn gram(&self, gram: &[u8]) -> f64 {
        let mut probability = 1.0;
        let mut previous = None;
        for &b in gram {
            let table = if previous == Some(b) { &self.byte_cbrt } else { &self.byte };
            probability *= table.get(usize::from(b)).copied().unwrap_or(1.0);
            previous = Some(b);
        }
        probability
    }
}

/// A Bloom filter of `bits_per_item` bits per item rounded to a power of two, between 128 and `max_bits` bits.
fn bloom_new(items: usize, bits_per_item: usize, max_bits: usize) -> Vec<u64> {
    let bits = (items.max(1).next_power_of_two().saturating_mul(bits_per_item)).clamp(128, max_bits);
    vec![0u64; bits / 64]
}

/// The two bits a hash sets, both in one word: one cache line read per test. The word is chosen by the low bits
/// of the hash and the bits by its top twelve, so no shift by a run-time amount is needed (x86 without BMI2 has
/// to route those through `cl`, which serializes the unrolled loop).
#[inline(always)]
fn bloom_mask(hash: u64) -> u64 {
    (1u64 << (hash >> 58)) | (1u64 << ((hash >> 52) & 63))
}

/// The word of a power-of-two sized filter that `hash` selects.
#[inline(always)]
fn bloom_word(words: &[u64], hash: u64) -> usize {
    hash as usize & words.len().wrapping_sub(1)
}

fn bloom_insert(words: &mut [u64], hash: u64) {
    let index = bloom_word(words, hash);
    if let Some(word) = words.get_mut(index) {
        *word |= bloom_mask(hash);
    }
}

#[inline(always)]
fn bloom_test(words: &[u64], hash: u64) -> bool {
    let mask = bloom_mask(hash);
    match words.get(bloom_word(words, hash)) {
        Some(&word) => word & mask == mask,
        None => false,
    }
}

#[inline(always)]
fn bit_test(words: &[u64], index: usize) -> bool {
    match words.get(index >> 6) {
        Some(&word) => (word >> (index & 63)) & 1 != 0,
        None => false,
    }
}

/// A multiply that folds the high half of the 128-bit product back in, so every output bit depends on every input
/// bit (a plain multiply leaves the low bits depending on low input bits only).
#[inline(always)]
fn mix(value: u64, multiplier: u64) -> u64 {
    let product = u128::from(value) * u128::from(multiplier);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The gram of `Q` bytes at `at`, little-endian, ASCII-lowercased for `nocase` classes.
#[inline(always)]
fn load_gram<const Q: usize, const NOCASE: bool>(bytes: &[u8], at: usize) -> u32 {
    let gram = match Q {
        4 => load4(bytes, at),
        2 => u32::from(load2(bytes, at)),
        _ => bytes.get(at).map_or(0, |&b| u32::from(b)),
    };
    if NOCASE { lower32(gram) } else { gram }
}

/// Little-endian `u32` at `at`; 0 past the end (callers stay inside by construction).
#[inline(always)]
fn load4(hay: &[u8], at: usize) -> u32 {
    hay.get(at..).and_then(<[u8]>::first_chunk::<4>).map_or(0, |b| u32::from_le_bytes(*b))
}

#[inline(always)]
fn load2(hay: &[u8], at: usize) -> u16 {
    hay.get(at..).and_then(<[u8]>::first_chunk::<2>).map_or(0, |b| u16::from_le_bytes(*b))
}

/// The head key at `at`: up to 8 bytes little-endian, masked to the class's head length. Near the end of the
/// haystack (fewer than 8 bytes left) it is assembled byte by byte.
#[inline(always)]
fn load_head(hay: &[u8], at: usize, mask: u64) -> u64 {
    match hay.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(b) => u64::from_le_bytes(*b) & mask,
        None => {
            let tail = hay.get(at..).unwrap_or(&[]);
            tail.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) & mask
        }
    }
}

/// ASCII-lowercases the four bytes of `x` at once: a byte gets 0x20 added when it is in `A..=Z`.
#[inline(always)]
fn lower32(x: u32) -> u32 {
    let low7 = x & 0x7f7f_7f7f;
    // Bit 7 of each byte: set when the byte is >= b'A', and when it is > b'Z' (no carries: low7 <= 0x7f).
    let at_least_a = low7.wrapping_add(0x3f3f_3f3f);
    let above_z = low7.wrapping_add(0x2525_2525);
    let upper = at_least_a & !above_z & !x & 0x8080_8080;
    x | (upper >> 2)
}

/// [`lower32`] on eight bytes.
#[inline(always)]
fn lower64(x: u64) -> u64 {
    let low7 = x & 0x7f7f_7f7f_7f7f_7f7f;
    let at_least_a = low7.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let above_z = low7.wrapping_add(0x2525_2525_2525_2525);
    let upper = at_least_a & !above_z & !x & 0x8080_8080_8080_8080;
    x | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(id, start)` found, and a check that starts came in non-decreasing order.
    fn run(set: &LiteralSet, hay: &[u8], starts: Range<usize>) -> Vec<(u32, usize)> {
        let mut found = Vec::new();
        let mut last = 0;
        let flow = set.for_each_match(hay, starts, |id, start| {
            assert!(start >= last, "start {start} after {last}");
            last = start;
            found.push((id, start));
            ControlFlow::Continue(())
        });
        assert_eq!(flow, ControlFlow::Continue(()));
        found.sort_unstable();
        found
    }

    /// The definition: every id at every start in range where the literal fits and equals the text.
    fn naive(literals: &[Literal<'_>], hay: &[u8], starts: Range<usize>) -> Vec<(u32, usize)> {
        let mut found = Vec::new();
        for (id, literal) in (0u32..).zip(literals) {
            for start in starts.start..starts.end.min(hay.len()) {
                if let Some(text) = hay.get(start..start + literal.bytes.len()) {
                    let equal =
                        if literal.nocase { text.eq_ignore_ascii_case(literal.bytes) } else { text == literal.bytes };
                    if equal {
                        found.push((id, start));
                    }
                }
            }
        }
        found.sort_unstable();
        found
    }

    fn check(literals: &[Literal<'_>], hay: &[u8], starts: Range<usize>) -> Vec<(u32, usize)> {
        let set = LiteralSet::new(literals).unwrap();
        let got = run(&set, hay, starts.clone());
        assert_eq!(got, naive(literals, hay, starts));
        got
    }

    fn check_all(literals: &[Literal<'_>], hay: &[u8]) -> Vec<(u32, usize)> {
        check(literals, hay, 0..hay.len())
    }

    /// A deterministic byte soup for tests.
    fn noise(len: usize, seed: u64, alphabet: &[u8]) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    fn engines(set: &LiteralSet) -> String {
        format!("{:?}", set.engines)
    }

    /// Literals enough for the threaded build (`PARALLEL_BUILD_MIN_ANCHORS` per core), a third of them repeats
    /// of earlier ones (some in the other case), every fifth case-insensitive, cut from `text`.
    fn many_literals(text: &[u8]) -> Vec<Literal<'_>> {
        let count = 4 * PARALLEL_BUILD_MIN_ANCHORS;
        let lengths = noise(count, 7, &[3, 4, 5, 7, 9, 12, 17, 26, 33, 40]);
        let starts = noise(count, 11, &(0..=255).collect::<Vec<u8>>());
        (0..count)
            .map(|i| {
                let source = if i % 3 == 2 { i / 2 } else { i };
                let start = (source * 37 + usize::from(starts[source])) % (text.len() - 64);
                let bytes = &text[start..start + usize::from(lengths[source])];
                Literal { bytes, nocase: source % 5 == 0 || (i % 3 == 2 && i % 7 == 0) }
            })
            .collect()
    }

    #[test]
    fn threaded_deduplication_is_the_one_pass_one() {
        let text = noise(1 << 20, 3, b"abcdefghABCDEFGH\x00\xff");
        let literals = many_literals(&text);
        let mut first: std::collections::HashMap<(Vec<u8>, bool), u32> = std::collections::HashMap::new();
        let expected: Vec<u32> = (0u32..)
            .zip(&literals)
            .map(|(id, literal)| {
                let bytes = if literal.nocase { literal.bytes.to_ascii_lowercase() } else { literal.bytes.to_vec() };
                *first.entry((bytes, literal.nocase)).or_insert(id)
            })
            .collect();
        assert!(first.len() < literals.len() * 9 / 10, "the set repeats literals");
        assert_eq!(first_equal_literals(literals.as_slice()), expected);
    }

    #[test]
    fn a_set_built_on_threads_finds_what_is_there() {
        // The reference: Aho-Corasick's overlapping search, one automaton per case mode.
        let text = noise(1 << 20, 5, b"abcdefghABCDEFGH\x00\xff");
        let literals = many_literals(&text);
        let set = LiteralSet::new(&literals).unwrap();
        let hay = noise(1 << 16, 9, b"abcdefghABCDEFGH\x00\xff");
        let mut expected = Vec::new();
        for nocase in [false, true] {
            let ids: Vec<u32> = (0u32..).zip(&literals).filter(|(_, l)| l.nocase == nocase).map(|(id, _)| id).collect();
            let automaton = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(nocase)
                .build(ids.iter().map(|&id| literals[id as usize].bytes))
                .unwrap();
            for found in automaton.find_overlapping_iter(&hay) {
                expected.push((ids[found.pattern().as_usize()], found.start()));
            }
        }
        expected.sort_unstable();
        assert!(expected.len() > 1000, "the haystack holds matches ({})", expected.len());
        assert_eq!(run(&set, &hay, 0..hay.len()), expected);
    }

    #[test]
    fn errors_name_the_literal() {
        assert_eq!(
            LiteralSet::new(&[Literal::new(b"ok"), Literal::new(b"")]).unwrap_err(),
            LiteralError::Empty { index: 1 }
        );
        let long = [b'x'; 256];
        let error = LiteralSet::new(&[Literal::new(&long)]).unwrap_err();
        assert_eq!(error, LiteralError::TooLong { index: 0, len: 256 });
        assert_eq!(error.to_string(), "literal 0 has 256 bytes: a literal needs 1 to 255 bytes");
    }

    #[test]
    fn empty_set_and_empty_hay() {
        let set = LiteralSet::new(&[]).unwrap();
        assert!(set.is_empty());
        assert_eq!(set.max_literal_len(), 0);
        assert!(run(&set, b"anything", 0..8).is_empty());
        check_all(&[Literal::new(b"a")], b"");
        check_all(&[Literal::new(b"a"), Literal::new(b"bc"), Literal::nocase(b"DEF")], b"");
    }

    #[test]
    fn single_literal_uses_memmem_and_finds_overlaps() {
        let literals = [Literal::new(b"aaaa")];
        let set = LiteralSet::new(&literals).unwrap();
        assert!(engines(&set).contains("Memmem"));
        let found = check_all(&literals, b"aaaaaaa");
        assert_eq!(found, [(0, 0), (0, 1), (0, 2), (0, 3)]);
    }

    #[test]
    fn few_literals_use_teddy_or_fall_back() {
        let literals = [Literal::new(b"abcd"), Literal::new(b"bcd"), Literal::new(b"cdab"), Literal::new(b"d")];
        let set = LiteralSet::new(&literals).unwrap();
        if cfg!(target_arch = "x86_64") {
            assert!(engines(&set).contains("Teddy"), "{}", engines(&set));
        }
        check_all(&literals, b"abcdabcdabcd");
        check_all(&literals, &noise(5000, 3, b"abcd"));
        // A few long ones go to the sampled filter, whose stride of 13 beats Teddy there.
        let hay = noise(5000, 5, b"ab");
        let literals: Vec<Literal<'_>> = (0..5).map(|i| Literal::new(&hay[i * 100..i * 100 + 16 + i])).collect();
        let set = LiteralSet::new(&literals).unwrap();
        assert!(!engines(&set).contains("Teddy"), "{}", engines(&set));
        check_all(&literals, &hay);
    }

    #[test]
    fn every_length_class() {
        for len in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 254, 255] {
            // Short literals need a wide alphabet to be more than the few that go to Teddy.
            let all_bytes: Vec<u8> = (0..=255).collect();
            let hay = noise(4000, len as u64, if len <= 3 { &all_bytes } else { b"abcd" });
            // Many literals, so the sampled filter is used; all cut from the haystack so they occur.
            let literals: Vec<Literal<'_>> = (0..60).map(|i| Literal::new(&hay[i * 37..i * 37 + len])).collect();
            let set = LiteralSet::new(&literals).unwrap();
            assert!(engines(&set).contains("Sampled"), "{}", engines(&set));
            let found = check_all(&literals, &hay);
            assert!(found.len() >= 60, "length {len}");
            // And alone: memmem.
            check_all(&literals[..1], &hay);
        }
    }

    #[test]
    fn mixed_lengths_in_one_set() {
        let hay = noise(20_000, 9, b"abc\0");
        let literals: Vec<Literal<'_>> =
            (0..200).map(|i| Literal { bytes: &hay[i * 97..i * 97 + 1 + i % 40], nocase: i % 5 == 0 }).collect();
        check_all(&literals, &hay);
        check(&literals, &hay, 1000..1500);
    }

    #[test]
    fn duplicates_report_every_id() {
        let literals = [
            Literal::new(b"evil"),
            Literal::new(b"evil"),
            Literal::nocase(b"EVIL"),
            Literal::nocase(b"eViL"),
            Literal::new(b"EVIL"),
        ];
        let found = check_all(&literals, b"xx evil EVIL");
        assert_eq!(found, [(0, 3), (1, 3), (2, 3), (2, 8), (3, 3), (3, 8), (4, 8)]);
        let set = LiteralSet::new(&literals).unwrap();
        assert_eq!(set.len(), 5);
        assert_eq!(set.anchors.unique_count(), 3);
    }

    #[test]
    fn nocase_folds_ascii_only() {
        let literals = [Literal::nocase(b"<ScRiPt"), Literal::nocase(b"\xc4x")];
        let found = check_all(&literals, b"<script <SCRIPT <sCrIpT \xc4X \xe4x");
        assert_eq!(found, [(0, 0), (0, 8), (0, 16), (1, 24)]);
        let many: Vec<Vec<u8>> = (0..100).map(|i| format!("Needle{i:03}Haystack").into_bytes()).collect();
        let literals: Vec<Literal<'_>> = many.iter().map(|b| Literal::nocase(b)).collect();
        let hay = b"xx NEEDLE042HAYSTACK needle099haystack Needle100Haystack".to_vec();
        assert_eq!(check_all(&literals, &hay), [(42, 3), (99, 21)]);
    }

    #[test]
    fn starts_range_is_respected_and_clamped() {
        let literals = [Literal::new(b"abc"), Literal::new(b"bcabcab")];
        let hay = b"abcabcabcabc";
        // Straddling `starts.end`: the occurrence at 9 ends beyond 10 and is reported.
        assert_eq!(check(&literals, hay, 3..10), [(0, 3), (0, 6), (0, 9), (1, 4)]);
        assert!(check(&literals, hay, 12..20).is_empty());
        assert!(check(&literals, hay, 100..200).is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 8..2;
        assert!(check(&literals, hay, reversed).is_empty());
        assert_eq!(check(&literals, hay, 0..usize::MAX).len(), 6);
    }

    #[test]
    fn matches_at_both_ends() {
        let many: Vec<Vec<u8>> = (0..50).map(|i| format!("{i:02}-start-and-end-marker").into_bytes()).collect();
        let mut literals: Vec<Literal<'_>> = many.iter().map(|b| Literal::new(b)).collect();
        literals.push(Literal::new(b"\x00\x01"));
        let mut hay = many[7].clone();
        hay.extend_from_slice(&noise(100_000, 5, b"xyz\x00"));
        hay.extend_from_slice(&many[49]);
        hay.extend_from_slice(b"\x00\x01");
        let found = check_all(&literals, &hay);
        assert_eq!(found.first(), Some(&(7, 0)));
        assert!(found.contains(&(50, hay.len() - 2)));
        assert!(found.contains(&(49, hay.len() - 2 - many[49].len())));
    }

    #[test]
    fn chunks_with_overlap_report_each_occurrence_once() {
        let hay = noise(300_000, 11, b"ab");
        let literals: Vec<Literal<'_>> = (0..120).map(|i| Literal::new(&hay[i * 13..i * 13 + 8 + i % 30])).collect();
        let set = LiteralSet::new(&literals).unwrap();
        let whole = run(&set, &hay, 0..hay.len());
        assert!(whole.len() > 1000);
        // The streaming scheme the API is shaped for: each search sees `carry + chunk` and takes the starts that
        // the next search cannot see whole (all but the last `max_literal_len - 1` positions, which it defers).
        let carry = set.max_literal_len() - 1;
        for chunk in [1, 100, 70_001] {
            let mut pieces = Vec::new();
            let mut from = 0;
            loop {
                let to = (from + chunk + carry).min(hay.len());
                let next = if to == hay.len() { to } else { to - carry };
                for (id, start) in run(&set, &hay[from..to], 0..next - from) {
                    pieces.push((id, start + from));
                }
                if to == hay.len() {
                    break;
                }
                from = next;
            }
            pieces.sort_unstable();
            assert_eq!(pieces, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn deep_windows_across_blocks_stay_in_order() {
        // Anchors whose rare window is at their very end (offset 223) are seen by the grid 223 bytes after they
        // start, possibly one block later; the 1-byte anchor matches everywhere in between. Calls must still come
        // in start order, which only the lag of the sort buffer guarantees.
        let tails: Vec<Vec<u8>> = (0..40).map(|i| noise(32, 1001 + 2 * i, &(0..=255).collect::<Vec<u8>>())).collect();
        let anchors: Vec<Vec<u8>> = tails.iter().map(|t| [vec![b'a'; 223], t.clone()].concat()).collect();
        let mut literals: Vec<Literal<'_>> = anchors.iter().map(|a| Literal::new(a)).collect();
        literals.push(Literal::new(b"a"));
        let set = LiteralSet::new(&literals).unwrap();
        assert!(set.lag >= 223, "{set:?} lag {}", set.lag);
        let mut hay = noise(4 * BLOCK, 7, b"ab");
        for (k, block) in [1, 2, 3].into_iter().enumerate() {
            let at = block * BLOCK - 60 - 50 * k;
            hay[at..at + 255].copy_from_slice(&anchors[k]);
        }
        let found = check_all(&literals, &hay);
        assert_eq!(found.iter().filter(|&&(id, _)| id < 40).count(), 3);
    }

    #[test]
    fn break_stops_the_search() {
        for count in [1, 3, 100] {
            let words: Vec<Vec<u8>> = (0..count).map(|i| format!("word{i}x").into_bytes()).collect();
            let literals: Vec<Literal<'_>> = words.iter().map(|w| Literal::new(w)).collect();
            let set = LiteralSet::new(&literals).unwrap();
            let hay = b"word0x word0x word0x".repeat(10_000);
            let mut calls = 0;
            let flow = set.for_each_match(&hay, 0..hay.len(), |_, _| {
                calls += 1;
                if calls == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            assert_eq!(flow, ControlFlow::Break(()));
            assert_eq!(calls, 2);
        }
    }

    #[test]
    fn common_grams_move_to_a_rarer_window() {
        let weights = gram_weights(false);
        let classes_of = |anchors: &[Vec<u8>]| {
            let literals: Vec<Literal<'_>> = anchors.iter().map(|a| Literal::new(a)).collect();
            let (set, _) = Anchors::build(literals.as_slice());
            let members: Vec<u32> = (0..anchors.len() as u32).collect();
            assign_classes(&set, &members, &weights)
        };
        // 28 zero bytes then a rare tail: the natural 32-byte class would test zero grams at every zero run.
        let zeros_then_rare: Vec<Vec<u8>> = (0..50)
            .map(|i| {
                let mut anchor = vec![0u8; 28];
                anchor.extend_from_slice(&noise(4, 77 + 2 * i, &(0x80..=0xfe).collect::<Vec<u8>>()));
                anchor
            })
            .collect();
        let classes = classes_of(&zeros_then_rare);
        assert!(classes[6].is_empty(), "{classes:?}");
        for (class, members) in classes.iter().enumerate() {
            for &(_, offset) in members {
                assert!(usize::from(offset) + CLASSES[class].0 > 28, "class {class} at {offset} holds no rare byte");
            }
        }
        // Even one of them is worth a pass of its own: its window would hit at every run of zeros.
        let mut mostly_random: Vec<Vec<u8>> =
            (0..50).map(|i| noise(32, 500 + 2 * i, &(0..=255).collect::<Vec<u8>>())).collect();
        mostly_random.push(zeros_then_rare[0].clone());
        let classes = classes_of(&mostly_random);
        assert_eq!((classes[4].len(), classes[6].len()), (1, 50), "{classes:?}");
        // A mildly common window (English text) is not: random anchors stay where they are.
        mostly_random.pop();
        mostly_random.push(b"the value of the file system is ".to_vec());
        let classes = classes_of(&mostly_random);
        assert_eq!(classes[6].len(), 51, "{classes:?}");
        // Within a class, the window skips a shared prefix.
        let options = class_options(
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x9a\x37\xd1\x5e\x11\xb2",
            &weights,
            &mut Vec::new(),
        );
        assert!(options[5].get().is_some_and(|(offset, _)| offset > 0), "{options:?}");
    }

    #[test]
    fn swar_lowercase_matches_std() {
        for b in 0..=255u8 {
            let x = u32::from_le_bytes([b, b'A', b, 0xc1]);
            assert_eq!(lower32(x).to_le_bytes(), [b.to_ascii_lowercase(), b'a', b.to_ascii_lowercase(), 0xc1]);
            let y = u64::from(x) << 24 | u64::from(b);
            let expected: Vec<u8> = y.to_le_bytes().iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(lower64(y).to_le_bytes().to_vec(), expected);
        }
    }

    #[test]
    fn set_is_send_and_sync_and_reports_memory() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LiteralSet>();
        let words: Vec<Vec<u8>> = (0..1000).map(|i| format!("literal number {i:05}").into_bytes()).collect();
        let literals: Vec<Literal<'_>> = words.iter().map(|w| Literal::new(w)).collect();
        let set = LiteralSet::new(&literals).unwrap();
        assert!(set.heap_bytes() > words.iter().map(Vec::len).sum::<usize>());
        assert_eq!(set.max_literal_len(), 20);
        assert!(format!("{set:?}").contains("Sampled"));
    }
}
