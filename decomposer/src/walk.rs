//! The recursive walk: detect each node's type, hand it to the sink, open containers, extract their
//! children through the [`Budget`], recurse.
//!
//! The walk is depth-first and sequential; a container is handed to the sink before its children. Formats
//! call back into the walk for each child ([`Children::child`]), so a streaming format (tar, gzip) never
//! holds more than the child being extracted. A child's bytes go into a [`Spool`] (RAM, or an unnamed
//! temporary file past the spill threshold), and the spool is dropped as soon as the child's subtree is done.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use crate::Error;
use crate::budget::{Budget, CHUNK};
use crate::codes::DecResult;
use crate::content::{Content, Spool};
use crate::detect::{FileType, HEAD_LEN, detect};
use crate::formats::{self, Children, Extracted};
use crate::limits::Limits;
use crate::part::{Part, PartSink};

/// Children larger than this are spilled to an unnamed temporary file unless `prefer_mem` is set (8 MiB).
pub const DEFAULT_SPILL_THRESHOLD: u64 = 8 * 1024 * 1024;

/// The most problems a report lists one by one (the distinct codes are always complete).
const MAX_PROBLEMS: usize = 1000;

/// The most bytes of a name kept for the path chain.
const MAX_NAME_LEN: usize = 4096;

/// Opens inputs recursively under [`Limits`]. Cheap to clone and `Send + Sync`: one per process is enough.
#[derive(Debug, Clone)]
pub struct Decomposer {
    limits: Limits,
    spill_threshold: u64,
}

/// Builds a [`Decomposer`].
#[derive(Debug, Clone)]
pub struct DecomposerBuilder {
    limits: Limits,
    prefer_mem: bool,
    spill_threshold: u64,
}

impl Default for Decomposer {
    fn default() -> Self {
        Decomposer::new(Limits::default())
    }
}

impl DecomposerBuilder {
    /// The limits of every walk (default: the CSAPI defaults).
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// CSAPI `prefer_mem`: hold every child in RAM, up to `max_extract_size` each (default `false`: children
    /// over the spill threshold go to an unnamed temporary file, which keeps RAM bounded by
    /// `threshold x max_extract_depth`).
    pub fn prefer_mem(&mut self, prefer_mem: bool) -> &mut Self {
        self.prefer_mem = prefer_mem;
        self
    }

    /// The size past which a child is spilled when `prefer_mem` is off (default [`DEFAULT_SPILL_THRESHOLD`]).
    pub fn spill_threshold(&mut self, bytes: u64) -> &mut Self {
        self.spill_threshold = bytes;
        self
    }

    /// The decomposer.
    pub fn build(&self) -> Decomposer {
        Decomposer {
            limits: self.limits,
            spill_threshold: if self.prefer_mem { u64::MAX } else { self.spill_threshold },
        }
    }
}

/// What one walk did: the codes that occurred, where, and how much it extracted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Every distinct code that occurred, in the order of first occurrence.
    pub codes: Vec<DecResult>,
    /// Each occurrence with the path of the part it concerns (the first 1000).
    pub problems: Vec<Problem>,
    /// Parts handed to the sink, the input included.
    pub parts: u64,
    /// Children extracted (every part but the input).
    pub files_extracted: u64,
    /// Bytes extracted over all levels.
    pub bytes_extracted: u64,
    /// The deepest depth of a part.
    pub max_depth: u32,
    /// Wall-clock time of the walk.
    pub elapsed: Duration,
    /// Whether the sink asked to stop before the walk was done.
    pub stopped_by_sink: bool,
    /// Whether the sink's stop left parts unvisited: it stopped on a container (not opened), or a container
    /// had more entries when it stopped. A stop on the very last part leaves this `false`.
    pub left_unvisited: bool,
}

impl Report {
    /// Whether `code` occurred.
    pub fn has(&self, code: DecResult) -> bool {
        self.codes.contains(&code)
    }
}

/// One code occurrence and the part it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The path chain of the part, joined with `/`.
    pub path: String,
    /// What happened.
    pub code: DecResult,
}

impl Decomposer {
    /// A decomposer with these limits and the default memory policy.
    pub fn new(limits: Limits) -> Self {
        Decomposer::builder().limits(limits).build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> DecomposerBuilder {
        DecomposerBuilder { limits: Limits::default(), prefer_mem: false, spill_threshold: DEFAULT_SPILL_THRESHOLD }
    }

    /// The limits of every walk.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Walks `bytes`, named `name` in the path chain. Never fails and never panics: problems in the bytes
    /// are codes in the report.
    pub fn decompose_bytes(&self, name: &str, bytes: &[u8], sink: &mut dyn PartSink) -> Report {
        self.walk(name, &Content::Borrowed(bytes), sink)
    }

    /// Walks the file at `path`, named by its file name. The file is read in place, not copied.
    ///
    /// # Errors
    /// When the file cannot be opened or its size read, or it is not a regular file.
    pub fn decompose_file(&self, path: &Path, sink: &mut dyn PartSink) -> Result<Report, Error> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| Error::Read { what: shown.clone(), source })?;
        let name = path.file_name().map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
        self.walk_open_file(&name, &shown, file, sink)
    }

    /// Walks a file already open (a descriptor another process passed, say), named `name`. Read in place.
    ///
    /// # Errors
    /// When its size cannot be read, or it is not a regular file.
    pub fn decompose_open_file(&self, name: &str, file: File, sink: &mut dyn PartSink) -> Result<Report, Error> {
        self.walk_open_file(name, name, file, sink)
    }

    /// Walks an open file named `name` in the path chain and `shown` in errors.
    fn walk_open_file(&self, name: &str, shown: &str, file: File, sink: &mut dyn PartSink) -> Result<Report, Error> {
        let io_error = |source| Error::Read { what: shown.to_owned(), source };
        let metadata = file.metadata().map_err(io_error)?;
        if !metadata.is_file() {
            return Err(io_error(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
        }
        let len = metadata.len();
        Ok(self.walk(name, &Content::File { file, len }, sink))
    }

    /// Reads `reader` to its end (into RAM, or a temporary file past the spill threshold), then walks it.
    ///
    /// # Errors
    /// When reading `reader` or writing the temporary file fails.
    pub fn decompose_reader(
        &self,
        name: &str,
        mut reader: impl Read,
        sink: &mut dyn PartSink,
    ) -> Result<Report, Error> {
        let io_error = |source| Error::Read { what: name.to_owned(), source };
        let mut spool = self.spool();
        let mut buffer = vec![0; CHUNK];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => spool.write(&buffer[..n]).map_err(io_error)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(self.decompose_spool(name, spool, sink))
    }

    /// An empty [`Spool`] with this decomposer's spill threshold, for an input that arrives in pieces.
    pub fn spool(&self) -> Spool {
        Spool::new(self.spill_threshold)
    }

    /// Walks what was written to `spool`, named `name` in the path chain. Never fails: problems in the bytes
    /// are codes in the report.
    pub fn decompose_spool(&self, name: &str, spool: Spool, sink: &mut dyn PartSink) -> Report {
        self.walk(name, &spool.finish(), sink)
    }

    /// Opens `bytes` as a container of type `file_type` whatever its bytes say, then walks its children as
    /// usual. For the per-format fuzz targets, which must reach one parser with any bytes; not part of the
    /// supported API.
    #[doc(hidden)]
    pub fn fuzz_open_as(&self, file_type: FileType, bytes: &[u8], sink: &mut dyn PartSink) -> Report {
        self.walk_inner("fuzz", &Content::Borrowed(bytes), sink, Some(file_type))
    }

    fn walk(&self, name: &str, content: &Content<'_>, sink: &mut dyn PartSink) -> Report {
        self.walk_inner(name, content, sink, None)
    }

    fn walk_inner(
        &self,
        name: &str,
        content: &Content<'_>,
        sink: &mut dyn PartSink,
        forced: Option<FileType>,
    ) -> Report {
        self.walk_with_budget(name, content, sink, forced, &Budget::new(self.limits))
    }

    fn walk_with_budget(
        &self,
        name: &str,
        content: &Content<'_>,
        sink: &mut dyn PartSink,
        forced: Option<FileType>,
        budget: &Budget,
    ) -> Report {
        let mut walk = Walk {
            budget,
            sink,
            spill_threshold: self.spill_threshold.min(self.limits.max_extract_size()),
            path: vec![truncate_name(name)],
            buffer: vec![0; CHUNK],
            report: Report::default(),
            stop: false,
        };
        walk.node(content, 0, false, forced);
        let mut report = walk.report;
        report.files_extracted = budget.files_extracted();
        report.bytes_extracted = budget.bytes_extracted();
        report.elapsed = budget.started().elapsed();
        report
    }
}

fn truncate_name(name: &str) -> String {
    if name.len() <= MAX_NAME_LEN {
        return name.to_owned();
    }
    let mut end = MAX_NAME_LEN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

struct Walk<'w> {
    budget: &'w Budget,
    sink: &'w mut dyn PartSink,
    spill_threshold: u64,
    path: Vec<String>,
    buffer: Vec<u8>,
    report: Report,
    /// Set when the sink asked to stop or a walk-wide limit fired.
    stop: bool,
}

impl Walk<'_> {
    fn record(&mut self, code: DecResult) {
        if !self.report.codes.contains(&code) {
            self.report.codes.push(code);
        }
        if self.report.problems.len() < MAX_PROBLEMS {
            let path = self.path.join("/");
            if !self.report.problems.iter().any(|p| p.code == code && p.path == path) {
                self.report.problems.push(Problem { path, code });
            }
        }
    }

    fn node(&mut self, content: &Content<'_>, depth: u32, truncated: bool, forced: Option<FileType>) {
        let detected = match forced {
            Some(file_type) => Ok(file_type),
            None => detect_content(content),
        };
        let file_type = match detected {
            Ok(file_type) => file_type,
            Err(_) => {
                self.record(DecResult::ContainerAccessFailed);
                FileType::Binary
            }
        };
        self.report.parts += 1;
        self.report.max_depth = self.report.max_depth.max(depth);
        let part = Part { path: &self.path, depth, file_type, content, truncated };
        if !self.sink.part(&part) {
            self.report.stopped_by_sink = true;
            self.report.left_unvisited |= file_type.is_container();
            self.stop = true;
            return;
        }
        // After a walk-wide limit (or the sink) stopped the walk, a part is still matched but not opened:
        // opening it would extract more.
        if !file_type.is_container() || self.stop {
            return;
        }
        if depth >= self.budget.limits().max_extract_depth() {
            self.record(DecResult::MaximumDepthReached);
            return;
        }
        let mut source = match content.reader() {
            Ok(source) => source,
            Err(_) => {
                self.record(DecResult::ContainerAccessFailed);
                return;
            }
        };
        let parent_name = self.path.last().cloned().unwrap_or_default();
        let mut children = ChildWalk { walk: self, depth: depth + 1 };
        formats::open(file_type, &mut source, content.as_slice(), content.len(), &parent_name, &mut children);
    }

    /// Admits one more child named `name` (file count, deadline) and enters its place in the path; `false`
    /// when the walk has stopped or a limit refuses it.
    fn enter_child(&mut self, name: &str) -> bool {
        if self.stop {
            return false;
        }
        if let Err(code) = self.budget.admit_file().and_then(|()| self.budget.check_deadline()) {
            self.record(code);
            self.stop = true;
            return false;
        }
        self.path.push(truncate_name(name));
        true
    }

    /// Records the limit that cut a child; every limit but the per-child size stops the whole walk.
    fn cut_by(&mut self, code: DecResult) {
        self.record(code);
        self.stop |= code != DecResult::MaximumExtractSizeExceeded;
    }

    /// Extracts one child through the budget into a spool, walks it and leaves its place in the path.
    fn child(&mut self, name: &str, data: &mut dyn Read, depth: u32) -> Extracted {
        if !self.enter_child(name) {
            return Extracted { complete: false };
        }
        let mut spool = Spool::new(self.spill_threshold);
        let mut len = 0u64;
        let mut complete = false;
        loop {
            if let Err(code) = self.budget.check_deadline() {
                self.cut_by(code);
                break;
            }
            let n = match data.read(&mut self.buffer) {
                Ok(0) => {
                    complete = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(path = %self.path.join("/"), error = %e, "child extraction failed");
                    self.record(DecResult::FileExtractFailed);
                    break;
                }
            };
            let grant = self.budget.grant(len, n);
            if let Err(e) = spool.write(&self.buffer[..grant.bytes]) {
                tracing::warn!(error = %e, "temporary file for a large child failed");
                self.record(DecResult::TempfileAccessFailed);
                break;
            }
            len += grant.bytes as u64;
            if let Some(code) = grant.cut_by {
                self.cut_by(code);
                break;
            }
        }
        self.node(&spool.finish(), depth, !complete, None);
        self.path.pop();
        Extracted { complete }
    }

    /// Hands on a child a format already holds in memory (decoded into a buffer, or a range of the
    /// container's own bytes), through the same Budget checks as a streamed one.
    fn child_in_memory(&mut self, name: &str, content: Content<'_>, depth: u32) -> Extracted {
        if !self.enter_child(name) {
            return Extracted { complete: false };
        }
        let grant = self.budget.grant(0, usize::try_from(content.len()).unwrap_or(usize::MAX));
        let content = content.truncated(grant.bytes);
        if let Some(code) = grant.cut_by {
            self.cut_by(code);
        }
        let complete = grant.cut_by.is_none();
        self.node(&content, depth, !complete, None);
        self.path.pop();
        Extracted { complete }
    }

    /// See [`Children::whole_buffer_limit`].
    fn whole_buffer_limit(&self) -> u64 {
        if self.stop {
            return 0;
        }
        let limits = self.budget.limits();
        let cumulative_left = limits.max_cumulative_extract_size().saturating_sub(self.budget.bytes_extracted());
        self.spill_threshold.min(limits.max_extract_size()).min(cumulative_left)
    }
}

fn detect_content(content: &Content<'_>) -> io::Result<FileType> {
    let head = content.read_at(0, HEAD_LEN)?;
    Ok(detect(&head, || {
        content.reader().is_ok_and(|mut reader| formats::zip::locate(&mut reader, content.len()).is_some())
    }))
}

struct ChildWalk<'a, 'w> {
    walk: &'a mut Walk<'w>,
    depth: u32,
}

impl Children for ChildWalk<'_, '_> {
    fn child(&mut self, name: &str, data: &mut dyn Read) -> Extracted {
        self.walk.child(name, data, self.depth)
    }

    fn child_in_memory(&mut self, name: &str, content: Content<'_>) -> Extracted {
        self.walk.child_in_memory(name, content, self.depth)
    }

    fn whole_buffer_limit(&self) -> u64 {
        self.walk.whole_buffer_limit()
    }

    fn problem(&mut self, code: DecResult) {
        self.walk.record(code);
    }

    fn depth(&self) -> u32 {
        self.depth
    }

    fn stopped(&self) -> bool {
        self.walk.stop
    }

    fn left_unvisited(&mut self) {
        if self.walk.report.stopped_by_sink {
            self.walk.report.left_unvisited = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of_two_files() -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for name in ["a.txt", "b.txt"] {
            writer.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut writer, &vec![b'x'; 200_000]).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_passed_deadline_stops_extraction_and_keeps_what_was_extracted() {
        let input = zip_of_two_files();
        let decomposer = Decomposer::default();
        // A deadline that has already passed when the first child is extracted.
        let budget = Budget::with_deadline(*decomposer.limits(), std::time::Instant::now());
        let mut names = Vec::new();
        let report = decomposer.walk_with_budget(
            "in.zip",
            &Content::Borrowed(&input),
            &mut |part: &Part<'_>| {
                names.push(part.path().to_string());
                true
            },
            None,
            &budget,
        );
        assert_eq!(report.codes, [DecResult::MaximumExtractTimeExceeded]);
        // The container itself was handed on; no child was extracted after the deadline.
        assert_eq!(names, ["in.zip"]);
        assert_eq!(report.bytes_extracted, 0);
    }

    #[test]
    fn a_directory_is_refused_with_its_path() {
        let dir = std::env::temp_dir();
        let error = Decomposer::default().decompose_file(&dir, &mut |_: &Part<'_>| true).unwrap_err();
        assert_eq!(error.to_string(), format!("cannot read {}: not a regular file", dir.display()));
        let missing = dir.join("no-such-file-here");
        let error = Decomposer::default().decompose_file(&missing, &mut |_: &Part<'_>| true).unwrap_err();
        assert!(error.to_string().starts_with(&format!("cannot read {}: ", missing.display())), "{error}");
    }

    #[test]
    fn a_sink_that_stops_ends_the_walk() {
        let input = zip_of_two_files();
        let mut seen = 0;
        let report = Decomposer::default().decompose_bytes("in.zip", &input, &mut |_: &Part<'_>| {
            seen += 1;
            seen < 2
        });
        assert!(report.stopped_by_sink);
        assert!(report.left_unvisited, "b.txt was not visited");
        assert_eq!(seen, 2);
        assert_eq!(report.parts, 2);
        assert_eq!(report.files_extracted, 1);
    }

    #[test]
    fn a_stop_on_the_last_part_leaves_nothing_unvisited() {
        let zip = zip_of_two_files();
        let mut tar = tar::Builder::new(Vec::new());
        for name in ["a.txt", "b.txt"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(5);
            header.set_cksum();
            tar.append_data(&mut header, name, &b"hello"[..]).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        for (name, input) in [("in.zip", zip), ("in.tar", tar)] {
            let stop_at = |last: &'static str| move |part: &Part<'_>| part.name() != last;
            let report = Decomposer::default().decompose_bytes(name, &input, &mut stop_at("b.txt"));
            assert!(report.stopped_by_sink && !report.left_unvisited, "{name}");
            let report = Decomposer::default().decompose_bytes(name, &input, &mut stop_at("a.txt"));
            assert!(report.stopped_by_sink && report.left_unvisited, "{name}");
            let report = Decomposer::default().decompose_bytes(name, &input, &mut stop_at(name));
            assert!(report.stopped_by_sink && report.left_unvisited, "{name}: a container not opened");
            assert_eq!(report.parts, 1);
        }
    }
}
