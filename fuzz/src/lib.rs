//! What every fuzz target shares: small limits, and a sink that reads every part and checks the walk's
//! invariants, so that the six targets differ only in how they enter the decomposer.
//!
//! The limits are small so that one input costs milliseconds however it decompresses (a zip bomb is cut at
//! 1 MiB per child and 4 MiB in all), and so that the limit paths themselves are reached often. There is no
//! time limit: with 4 MiB of output at most, no input should take long, so a slow input is reported by
//! libFuzzer's `-timeout` as a finding instead of being hidden behind `DEC_RESULT_MAXIMUM_EXTRACT_TIME_EXCEEDED`.
//! The spill threshold is lowered to [`SPILL_THRESHOLD`] so that children also go through the temporary-file
//! path, which the default threshold (8 MiB, above the 1 MiB child limit) would never reach.
//!
//! Every check is an `assert!`: a broken invariant is a panic, which libFuzzer reports as a crash with the
//! input saved under `fuzz/artifacts/<target>/`.
//!
//! The scripts build the targets with ASan, whose malloc hooks let libFuzzer fail any allocation over
//! `-malloc_limit_mb`, C's included. A build without a sanitizer (`FUZZ_SANITIZER=none`) has no such hooks, and
//! Linux overcommits, so an allocation sized from a declared length would not show in the RSS until it is
//! written to; for Rust allocations [`LimitedAllocator`] closes that gap: any single allocation over
//! [`MAX_ALLOCATION`] fails, and the process aborts with "memory allocation of N bytes failed", which
//! libFuzzer reports as a crash.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::OnceLock;

use decomposer::{DecResult, Decomposer, FileType, Limits, Part, PartSink, Report};

/// `max_extract_depth`: the input is depth 0, a container at depth 4 is matched but not opened.
pub const MAX_EXTRACT_DEPTH: u32 = 4;
/// `max_extract_size`: 1 MiB per child.
pub const MAX_EXTRACT_SIZE: u64 = 1024 * 1024;
/// `max_cumulative_extract_size`: 4 MiB per input, all levels together.
pub const MAX_CUMULATIVE_EXTRACT_SIZE: u64 = 4 * 1024 * 1024;
/// `max_file_count`: 64 children per input.
pub const MAX_FILE_COUNT: u64 = 64;
/// Children larger than this go to an unnamed temporary file (see the module doc).
pub const SPILL_THRESHOLD: u64 = 256 * 1024;

/// The largest single allocation allowed, the same as the `-rss_limit_mb=512` the scripts run with; with the
/// limits above nothing legitimate comes near it (a child is at most 1 MiB). C code (liblzma, libdeflate)
/// allocates outside this allocator: only an ASan build's `-malloc_limit_mb` sees its allocations.
pub const MAX_ALLOCATION: usize = 512 * 1024 * 1024;

/// The system allocator, refusing any single allocation over [`MAX_ALLOCATION`] (see the module doc).
pub struct LimitedAllocator;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc` contract; the only
// change is returning null (a failed allocation, which the contract allows) for sizes over the cap.
unsafe impl GlobalAlloc for LimitedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation went through it).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `dealloc`, and the caller's contract for `new_size` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// The decomposer of every target, built once per process.
pub fn decomposer() -> &'static Decomposer {
    static DECOMPOSER: OnceLock<Decomposer> = OnceLock::new();
    DECOMPOSER.get_or_init(|| {
        let limits = Limits::builder()
            .max_extract_depth(u64::from(MAX_EXTRACT_DEPTH))
            .max_extract_size(MAX_EXTRACT_SIZE)
            .max_cumulative_extract_size(MAX_CUMULATIVE_EXTRACT_SIZE)
            .max_file_count(MAX_FILE_COUNT)
            .max_extract_time(0)
            .build()
            .expect("the fuzz limits are in range");
        Decomposer::builder().limits(limits).spill_threshold(SPILL_THRESHOLD).build()
    })
}

/// Walks `data` as `decompose_bytes` does (type detected from the bytes) and checks every invariant.
pub fn walk(data: &[u8]) {
    let mut sink = CheckingSink::default();
    let report = decomposer().decompose_bytes("fuzz", data, &mut sink);
    sink.check_report(&report);
}

/// Opens `data` as a container of type `file_type` whatever its bytes say, walks its children as usual, and
/// checks every invariant. The per-format targets use this so that every input reaches their parser.
pub fn open_as(file_type: FileType, data: &[u8]) {
    let mut sink = CheckingSink::default();
    let report = decomposer().fuzz_open_as(file_type, data, &mut sink);
    sink.check_report(&report);
}

/// A sink that reads every part to its end and checks it against the limits; keeps what it needs to check
/// the report afterwards.
#[derive(Default)]
pub struct CheckingSink {
    parts: u64,
    deepest: u32,
    previous_depth: u32,
    child_bytes: u64,
    scratch: Vec<u8>,
}

impl PartSink for CheckingSink {
    fn part(&mut self, part: &Part<'_>) -> bool {
        let depth = part.depth();
        let size = part.size();
        let path = part.path();
        assert!(depth <= MAX_EXTRACT_DEPTH, "part {path} at depth {depth} > max_extract_depth {MAX_EXTRACT_DEPTH}");
        assert_eq!(
            path.names().len() as u64,
            u64::from(depth) + 1,
            "part {path} at depth {depth}: path chain of the wrong length"
        );
        if depth > 0 {
            assert!(size <= MAX_EXTRACT_SIZE, "child {path} of {size} bytes > max_extract_size {MAX_EXTRACT_SIZE}");
            self.child_bytes += size;
        }
        // Depth-first, a container before its children: each part is at most one level below the last.
        if self.parts == 0 {
            assert_eq!(depth, 0, "the first part {path} is not the input");
        } else {
            assert!(
                depth > 0 && depth <= self.previous_depth + 1,
                "part {path} at depth {depth} right after a part at depth {}",
                self.previous_depth
            );
        }

        // Read every byte, the way a scanner would, both through the slice and through the reader.
        match part.bytes() {
            Some(bytes) => assert_eq!(bytes.len() as u64, size, "part {path}: slice length"),
            None => assert!(
                depth > 0 && size > SPILL_THRESHOLD,
                "part {path} of {size} bytes at depth {depth} is not in RAM but was not spilled"
            ),
        }
        let mut reader = part.reader().unwrap_or_else(|e| panic!("part {path}: cannot reopen its bytes: {e}"));
        self.scratch.resize(64 * 1024, 0);
        let mut read = 0u64;
        loop {
            match reader.read(&mut self.scratch) {
                Ok(0) => break,
                Ok(n) => read += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("part {path}: reading its bytes failed: {e}"),
            }
        }
        assert_eq!(read, size, "part {path}: the reader gave another length");

        self.parts += 1;
        self.deepest = self.deepest.max(depth);
        self.previous_depth = depth;
        true
    }
}

impl CheckingSink {
    /// Checks the report of the walk this sink saw.
    pub fn check_report(&self, report: &Report) {
        assert!(
            report.bytes_extracted <= MAX_CUMULATIVE_EXTRACT_SIZE,
            "bytes_extracted {} > max_cumulative_extract_size {MAX_CUMULATIVE_EXTRACT_SIZE}",
            report.bytes_extracted
        );
        assert!(
            report.files_extracted <= MAX_FILE_COUNT,
            "files_extracted {} > max_file_count {MAX_FILE_COUNT}",
            report.files_extracted
        );
        assert!(
            report.max_depth <= MAX_EXTRACT_DEPTH,
            "report.max_depth {} > max_extract_depth {MAX_EXTRACT_DEPTH}",
            report.max_depth
        );
        assert_eq!(report.parts, self.parts, "report.parts != parts handed to the sink");
        assert_eq!(report.files_extracted + 1, report.parts, "files_extracted must count every part but the input");
        assert_eq!(report.max_depth, self.deepest, "report.max_depth != deepest part");
        if !report.has(DecResult::TempfileAccessFailed) {
            assert_eq!(
                report.bytes_extracted, self.child_bytes,
                "bytes_extracted != the sizes of the children handed to the sink"
            );
        }
        assert!(!report.stopped_by_sink, "the sink never asks to stop");
        let mut distinct = report.codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), report.codes.len(), "report.codes has duplicates");
        for problem in &report.problems {
            assert!(report.codes.contains(&problem.code), "problem {problem:?} whose code is not in report.codes");
        }
    }
}

/// The `signature` target: every line of `data` through each ClamAV line parser (none may panic), then the
/// body patterns that loaded compiled into one matcher, which must find the same matches in `data` searched
/// whole and searched in small windows read a few bytes at a time.
pub fn signature(data: &[u8]) {
    use scanner::matcher::{BodyMatcher, CompiledPattern, MatchScratch, Pass, PatternOwner, TargetFilter};
    use scanner::signature::{self, HashKind, Line};

    let mut patterns = Vec::new();
    for line in data.split(|&b| b == b'\n').take(64) {
        let _ = signature::parse_hash_line(HashKind::File, line);
        let _ = signature::parse_hash_line(HashKind::PeSection, line);
        let _ = signature::hash::parse_ignore_line(line);
        if let Ok(Line::Signature(logical)) = signature::parse_logical_line(line) {
            let counts = vec![1; logical.subsignatures.len()];
            let _ = logical.expression.evaluate(&counts);
        }
        if let Ok(Line::Signature(body)) = signature::parse_body_line(line) {
            let owner = PatternOwner::Body(u32::try_from(patterns.len()).unwrap_or(0));
            patterns.push(CompiledPattern {
                pattern: body.pattern,
                offset: body.offset,
                target: TargetFilter::Any,
                owner,
            });
        }
    }
    if patterns.is_empty() {
        return;
    }
    let Ok(mut matcher) = BodyMatcher::new(patterns) else { return };
    let mut whole = Vec::new();
    let mut scratch = MatchScratch::default();
    let _ = matcher.scan_slice(data, Pass::Raw(FileType::Binary), &mut scratch, &mut |m| {
        whole.push((m.pattern, m.start, m.end));
        std::ops::ControlFlow::Continue(())
    });
    matcher.set_window(64);
    let mut windowed = Vec::new();
    let mut reader = Trickle { bytes: data, step: 7 };
    let result = matcher.scan_reader(
        &mut reader,
        data.len() as u64,
        Pass::Raw(FileType::Binary),
        &mut scratch,
        &mut |_| {},
        &mut |m| {
            windowed.push((m.pattern, m.start, m.end));
            std::ops::ControlFlow::Continue(())
        },
    );
    assert!(result.is_ok(), "reading from a slice cannot fail");
    whole.sort_unstable();
    whole.dedup();
    windowed.sort_unstable();
    windowed.dedup();
    assert_eq!(whole, windowed, "windowed search disagrees with the whole-slice search");
}

/// A reader over a slice that returns at most `step` bytes per call.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        let (now, rest) = self.bytes.split_at(n);
        buf[..n].copy_from_slice(now);
        self.bytes = rest;
        Ok(n)
    }
}

/// The `scan` target: the embedded database over `data` under the fuzz limits, stopping at the first detection
/// and with all matches. Both must agree on whether the input is infected, and the first detection of the
/// stopping scan must be among those of the full one.
pub fn scan(data: &[u8]) {
    use std::sync::Arc;

    use scanner::{Database, Engine, Status};

    static ENGINES: OnceLock<(Engine, Engine)> = OnceLock::new();
    let (first, all) = ENGINES.get_or_init(|| {
        let database = Arc::new(Database::embedded().expect("the embedded database loads"));
        let limits = *decomposer().limits();
        let build = |all_matches| {
            Engine::builder()
                .limits(limits)
                .max_concurrency(1)
                .all_matches(all_matches)
                .build(Arc::clone(&database))
                .expect("the fuzz engine builds")
        };
        (build(false), build(true))
    });
    let first = first.scan_bytes("fuzz", data);
    let all = all.scan_bytes("fuzz", data);
    assert_eq!(first.status == Status::Infected, all.status == Status::Infected, "{first:?} vs {all:?}");
    if let Some(detection) = first.detections.first() {
        assert!(all.detections.contains(detection), "{detection:?} missing with all matches");
    }
    assert!(all.stats.parts <= MAX_FILE_COUNT + 1);
}

/// The `clamd` target: the daemon's request parser (`scanner::daemon::protocol`) over bytes as a client
/// connection delivers them. Requests are parsed one after another, as the daemon does, each INSTREAM's
/// chunks walked against a StreamMaxLength quota; then the same bytes are fed a few at a time, which must give
/// the same NUL- and newline-framed requests (legacy requests are one read each, so they may differ).
pub fn clamd(data: &[u8]) {
    use scanner::daemon::protocol::{Command, Framing, MAX_REQUEST_LEN, Parse, StreamQuota, parse_request, reply};

    /// Parses requests from `data` fed `step` bytes at a time (0: whole); the framed ones, in order.
    fn requests(data: &[u8], step: usize) -> Vec<(Framing, Command)> {
        let mut framed = Vec::new();
        let mut buffer: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            match parse_request(&buffer) {
                Parse::Request { request, consumed } => {
                    assert!(consumed > 0 && consumed <= buffer.len() && consumed <= MAX_REQUEST_LEN);
                    let terminator = reply(request.framing, Some(7), b"x");
                    assert_eq!(terminator.last().copied(), Some(request.framing.terminator()));
                    buffer.drain(..consumed);
                    if request.framing == Framing::Legacy {
                        // One read is one legacy request: the rest of the read is not parsed.
                        break;
                    }
                    if matches!(request.command, Command::Instream | Command::JsonInstream) {
                        // Feed the whole rest so the chunks can be walked, as the daemon reads them.
                        buffer.extend_from_slice(&data[fed..]);
                        fed = data.len();
                        let mut quota = StreamQuota::new(1 << 20);
                        let mut at = 0;
                        let complete = loop {
                            let Some(header) = buffer.get(at..at + 4) else { break false };
                            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                            at += 4;
                            if len == 0 {
                                break true;
                            }
                            if !quota.take(len) || at + len as usize > buffer.len() {
                                break false;
                            }
                            at += len as usize;
                        };
                        framed.push((request.framing, request.command));
                        if !complete {
                            // Refused or cut short: the daemon closes the connection here.
                            break;
                        }
                        buffer.drain(..at);
                        continue;
                    }
                    framed.push((request.framing, request.command));
                }
                Parse::TooLong => {
                    assert!(buffer.len() >= MAX_REQUEST_LEN);
                    break;
                }
                Parse::Incomplete => {
                    if fed == data.len() {
                        break;
                    }
                    let take = if step == 0 { data.len() - fed } else { step.min(data.len() - fed) };
                    buffer.extend_from_slice(&data[fed..fed + take]);
                    fed += take;
                }
            }
        }
        framed
    }

    // Legacy requests depend on how reads split the bytes; only inputs that start framed are compared.
    let whole = requests(data, 0);
    if !matches!(data.first(), Some(b'z' | b'n')) {
        return;
    }
    assert_eq!(whole, requests(data, 3), "feeding the bytes 3 at a time changed the requests");
}
