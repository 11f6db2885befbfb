//! The engine: one compiled [`Database`] and one [`Decomposer`], scanning inputs into [`Verdict`]s.
//!
//! Modeled on Momentum's msys.av.scan / msys.av.scan_part: [`Engine::scan_bytes`], [`Engine::scan_file`] and
//! [`Engine::scan_reader`] decompose the input and match every part (the input, every container, every leaf);
//! [`Engine::scan_part`] matches one part that the caller's own walk handed it. The database is held in an
//! `Arc`, so engines are cheap to clone and a daemon can build a new one beside the old on reload.
//!
//! Parallelism: inputs are scanned across a rayon pool of `max_concurrency` threads ([`Engine::scan_paths`]);
//! within one input the walk and the matcher run on one thread, so a verdict never depends on the pool size.
//! `max_concurrency` defaults to the number of cores (CSAPI's default is 1, meant for one scan per call).
//!
//! Stop at the first detection (the default): the walk stops as soon as a part matched; if parts were left
//! unscanned the verdict carries `DEC_RESULT_ABORTED_AFTER_FIRST_THREAT`. With `all_matches` every part is
//! matched and every match reported.

use std::collections::HashMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use decomposer::{AvsResult, DecResult, Decomposer, FileType, Limits, Part, PartSink, Report, ResultCode, Spool};
use rayon::prelude::*;

use crate::database::{Database, SignatureRef};
use crate::hashes::PartHasher;
use crate::matcher::{MatchScratch, Pass, PatternMatch, PatternOwner};
use crate::textnorm::{NormalizingReader, TextNormalizer};
use crate::verdict::{Detection, ScanStats, Status, Verdict};

/// Text parts up to this size also get the normalized pass ([`crate::textnorm`]), as ClamAV's default
/// `MaxScriptNormalize` (5 MiB): bigger ones are matched as they are only.
pub const MAX_NORMALIZED_TEXT: u64 = 5 * 1024 * 1024;

/// The longest engine name accepted (CSAPI's NAME_TOO_LONG rule).
pub const MAX_ENGINE_NAME_LEN: usize = 40;

/// The default engine name, and the default context variable's prefix (`avscan_status`).
pub const DEFAULT_ENGINE_NAME: &str = "avscan";

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine name is over [`MAX_ENGINE_NAME_LEN`] characters.
    #[error("invalid engine name {name:?}: {len} characters, at most {MAX_ENGINE_NAME_LEN} allowed")]
    NameTooLong {
        /// The name given.
        name: String,
        /// Its length in characters.
        len: usize,
    },
    /// max_concurrency out of range.
    #[error("invalid max_concurrency {value}: must be 1..=1024")]
    Concurrency {
        /// The value given.
        value: usize,
    },
    /// The thread pool could not be started.
    #[error("cannot start the scanning pool: {0}")]
    Pool(String),
}

/// Options of an [`Engine`]; see each setter.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    name: String,
    limits: Limits,
    max_concurrency: usize,
    all_matches: bool,
    prefer_mem: bool,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            name: DEFAULT_ENGINE_NAME.to_owned(),
            limits: Limits::default(),
            max_concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            all_matches: false,
            prefer_mem: false,
        }
    }
}

impl EngineBuilder {
    /// The engine name reported in verdicts (at most [`MAX_ENGINE_NAME_LEN`] characters).
    pub fn name(&mut self, name: &str) -> &mut Self {
        name.clone_into(&mut self.name);
        self
    }

    /// The decomposition limits of every scan.
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// CSAPI max_concurrency: threads of the pool that scans several inputs at once (1..=1024; default: the
    /// number of cores).
    pub fn max_concurrency(&mut self, threads: usize) -> &mut Self {
        self.max_concurrency = threads;
        self
    }

    /// Report every match instead of stopping at the first.
    pub fn all_matches(&mut self, yes: bool) -> &mut Self {
        self.all_matches = yes;
        self
    }

    /// CSAPI prefer_mem: keep extracted children in RAM instead of spilling big ones to temporary files.
    pub fn prefer_mem(&mut self, yes: bool) -> &mut Self {
        self.prefer_mem = yes;
        self
    }

    /// An engine over `database`.
    ///
    /// # Errors
    /// A name over [`MAX_ENGINE_NAME_LEN`] characters, a max_concurrency out of range, or a pool that cannot start.
    pub fn build(&self, database: Arc<Database>) -> Result<Engine, EngineError> {
        let len = self.name.chars().count();
        if len > MAX_ENGINE_NAME_LEN {
            return Err(EngineError::NameTooLong { name: self.name.clone(), len });
        }
        if !(1..=1024).contains(&self.max_concurrency) {
            return Err(EngineError::Concurrency { value: self.max_concurrency });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.max_concurrency)
            .thread_name(|index| format!("avscan-scan-{index}"))
            // A job that panics (none should: parsers are fuzzed for it) must not abort a daemon; its caller
            // sees its reply channel close instead.
            .panic_handler(|_| tracing::error!("a scan job panicked; its request is answered with an error"))
            .build()
            .map_err(|error| EngineError::Pool(error.to_string()))?;
        Ok(Engine {
            name: self.name.clone(),
            database,
            decomposer: Decomposer::builder().limits(self.limits).prefer_mem(self.prefer_mem).build(),
            all_matches: self.all_matches,
            pool: Arc::new(pool),
        })
    }
}

/// A scanner: a database, a decomposer and a pool. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    name: String,
    database: Arc<Database>,
    decomposer: Decomposer,
    all_matches: bool,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("all_matches", &self.all_matches)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder with the defaults.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The engine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database it matches against.
    pub fn database(&self) -> &Arc<Database> {
        &self.database
    }

    /// The limits of every scan.
    pub fn limits(&self) -> &Limits {
        self.decomposer.limits()
    }

    /// Scans bytes held in RAM, named `name` in the part path chain.
    pub fn scan_bytes(&self, name: &str, bytes: &[u8]) -> Verdict {
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, self.all_matches);
        let report = self.decomposer.decompose_bytes(name, bytes, &mut sink);
        self.finish(sink, Ok(report), started)
    }

    /// Scans the file at `path` (read in place; never copied whole into RAM).
    pub fn scan_file(&self, path: &Path) -> Verdict {
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, self.all_matches);
        let report = self.decomposer.decompose_file(path, &mut sink);
        self.finish(sink, report, started)
    }

    /// Scans a file already open (clamd's FILDES: a descriptor the client passed), named `name`.
    pub fn scan_open_file(&self, name: &str, file: std::fs::File) -> Verdict {
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, self.all_matches);
        let report = self.decomposer.decompose_open_file(name, file, &mut sink);
        self.finish(sink, report, started)
    }

    /// An empty [`Spool`] for an input that arrives in pieces (RAM up to the spill threshold, then an unnamed
    /// temporary file); scan it with [`Engine::scan_spool`].
    pub fn spool(&self) -> Spool {
        self.decomposer.spool()
    }

    /// Scans what was written to `spool`, named `name` in the part path chain.
    pub fn scan_spool(&self, name: &str, spool: Spool) -> Verdict {
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, self.all_matches);
        let report = self.decomposer.decompose_spool(name, spool, &mut sink);
        self.finish(sink, Ok(report), started)
    }

    /// This engine over another database: same name, limits, options and pool. A daemon builds the engine
    /// of a new definitions set this way, so a reload never starts a second pool.
    pub fn with_database(&self, database: Arc<Database>) -> Engine {
        Engine { database, ..self.clone() }
    }

    /// The same engine reporting every match (`true`) or stopping at the first (`false`), for a request
    /// that asks for it (clamd's ALLMATCHSCAN).
    pub fn with_all_matches(&self, all_matches: bool) -> Engine {
        Engine { all_matches, ..self.clone() }
    }

    /// Runs `job` on the engine's scanning pool and returns at once. The daemon hands every scan to the pool
    /// this way, so that the threads reading sockets never scan and the threads scanning never wait on a
    /// client.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        self.pool.spawn(job);
    }

    /// Threads of the scanning pool (max_concurrency).
    pub fn max_concurrency(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Scans what `reader` yields to its end (spooled to RAM, or a temporary file past 8 MiB).
    pub fn scan_reader(&self, name: &str, reader: impl Read) -> Verdict {
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, self.all_matches);
        let report = self.decomposer.decompose_reader(name, reader, &mut sink);
        self.finish(sink, report, started)
    }

    /// Matches one part that the caller's own walk handed it (msys.av.scan_part). A container gets
    /// [`Status::PartIsContainer`]: its children are parts of their own, and the caller's walk reaches them.
    pub fn scan_part(&self, part: &Part<'_>) -> Verdict {
        if part.file_type().is_container() {
            return Verdict::of_status(&self.name, Status::PartIsContainer);
        }
        let started = Instant::now();
        let mut sink = MatchSink::new(&self.database, true);
        sink.part(part);
        let stats = ScanStats { elapsed: started.elapsed(), ..sink.stats };
        Verdict::new(&self.name, sink.codes, sink.detections, stats)
    }

    /// Scans every file of `paths` across the pool, calling `each` with every path and its verdict as it
    /// finishes, in no fixed order. A path given is followed if it is a symbolic link; directories are walked
    /// recursively without following the links inside them, and only their regular files are scanned (a FIFO
    /// or a device inside a directory is skipped, as clamscan does). A path given that is neither a file nor a
    /// directory gets an ERROR verdict without being opened.
    pub fn scan_paths(&self, paths: &[PathBuf], each: &(dyn Fn(&Path, Verdict) + Sync)) {
        self.pool.install(|| {
            paths.par_iter().for_each(|path| match std::fs::metadata(path) {
                Ok(metadata) if metadata.is_dir() => self.scan_directory(path, each),
                Ok(metadata) if metadata.is_file() => each(path, self.scan_file(path)),
                Ok(_) => each(path, self.input_error(&std::io::Error::other("not a regular file"))),
                Err(error) => each(path, self.input_error(&error)),
            });
        });
    }

    fn scan_directory(&self, path: &Path, each: &(dyn Fn(&Path, Verdict) + Sync)) {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(error) => return each(path, self.input_error(&error)),
        };
        let mut children: Vec<(PathBuf, std::fs::FileType)> =
            entries.filter_map(|entry| entry.ok().and_then(|e| Some((e.path(), e.file_type().ok()?)))).collect();
        children.sort_by(|a, b| a.0.cmp(&b.0));
        children.par_iter().for_each(|(child, file_type)| {
            if file_type.is_dir() {
                self.scan_directory(child, each);
            } else if file_type.is_file() {
                each(child, self.scan_file(child));
            }
        });
    }

    /// The verdict for an input that could not be read: ERROR with `AVS_RESULT_SCANFILE_FAILURE`.
    pub fn input_error(&self, error: &std::io::Error) -> Verdict {
        tracing::warn!(%error, "cannot read an input");
        Verdict::new(&self.name, vec![ResultCode::Avs(AvsResult::ScanfileFailure)], Vec::new(), ScanStats::default())
    }

    fn finish(&self, sink: MatchSink<'_>, report: Result<Report, decomposer::Error>, started: Instant) -> Verdict {
        let report = match report {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, "cannot read an input");
                return Verdict::new(
                    &self.name,
                    vec![ResultCode::Avs(AvsResult::ScanfileFailure)],
                    Vec::new(),
                    ScanStats { elapsed: started.elapsed(), ..ScanStats::default() },
                );
            }
        };
        let mut codes = sink.codes;
        for &code in &report.codes {
            push_code(&mut codes, ResultCode::Dec(code));
        }
        if report.left_unvisited && !self.all_matches && !sink.detections.is_empty() {
            push_code(&mut codes, ResultCode::Dec(DecResult::AbortedAfterFirstThreat));
        }
        if self.database.is_empty() {
            push_code(&mut codes, ResultCode::Avs(AvsResult::DefinitionsMissing));
        }
        let stats = ScanStats {
            parts: report.parts,
            bytes_extracted: report.bytes_extracted,
            elapsed: started.elapsed(),
            ..sink.stats
        };
        Verdict::new(&self.name, codes, sink.detections, stats)
    }
}

fn push_code(codes: &mut Vec<ResultCode>, code: ResultCode) {
    if !codes.contains(&code) {
        codes.push(code);
    }
}

/// The walk's sink: matches every part against the database and collects detections.
struct MatchSink<'d> {
    database: &'d Database,
    all_matches: bool,
    scratch: MatchScratch,
    /// (Pattern set, logical signature) -> match count per subsignature, for the current part (sparse).
    logical_counts: HashMap<(u16, u32), Vec<u32>>,
    /// The containers above the current part, by depth: their types (for `Container:` in logical signatures)
    /// and whether an allow-list hash (`.fp`) cleared them, which clears everything inside them too.
    ancestors: Vec<(FileType, bool)>,
    detections: Vec<Detection>,
    codes: Vec<ResultCode>,
    stats: ScanStats,
    names_found: Vec<SignatureRef>,
    /// The normalized form of the current text part, reused from part to part.
    normalized: Vec<u8>,
}

impl<'d> MatchSink<'d> {
    fn new(database: &'d Database, all_matches: bool) -> Self {
        MatchSink {
            database,
            all_matches,
            scratch: MatchScratch::default(),
            logical_counts: HashMap::new(),
            ancestors: Vec::new(),
            detections: Vec::new(),
            codes: Vec::new(),
            stats: ScanStats::default(),
            names_found: Vec::new(),
            normalized: Vec::new(),
        }
    }

    /// Matches one part, leaving in `names_found` the name ids of the signatures that matched (body, logical
    /// and hash). Returns whether the part's hash is on the allow list (then nothing matched).
    fn match_part(&mut self, part: &Part<'_>) -> Result<bool, std::io::Error> {
        let database = self.database;
        let size = part.size();
        let file_type = part.file_type();
        let algorithms = database.hash_algorithms_for(size);
        let mut hasher = (!algorithms.is_empty()).then(|| PartHasher::new(algorithms));
        let matcher = database.body_matcher();
        let pass = Pass::Raw(file_type);
        self.logical_counts.clear();
        let mut collector = Collector {
            database,
            all_matches: self.all_matches,
            names_found: &mut self.names_found,
            logical_counts: &mut self.logical_counts,
        };
        let mut on_match = |found: PatternMatch| collector.found(found);
        match part.bytes() {
            Some(bytes) => {
                if let Some(hasher) = &mut hasher {
                    hasher.update(bytes);
                }
                let _ = matcher.scan_slice(bytes, pass, &mut self.scratch, &mut on_match);
            }
            None => {
                let mut reader = part.reader()?;
                let mut feed = |block: &[u8]| {
                    if let Some(hasher) = &mut hasher {
                        hasher.update(block);
                    }
                };
                let flow = matcher.scan_reader(&mut reader, size, pass, &mut self.scratch, &mut feed, &mut on_match)?;
                if flow.is_break()
                    && let Some(hasher) = &mut hasher
                {
                    // The hash needs the whole part even when the body search stopped early.
                    let mut block = vec![0; 64 * 1024];
                    loop {
                        match reader.read(&mut block) {
                            Ok(0) => break,
                            Ok(n) => hasher.update(&block[..n]),
                            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
            }
        }
        self.stats.bytes_scanned += size;
        let container = self.ancestors.last().map(|&(file_type, _)| file_type);
        database.evaluate_logical(&self.logical_counts, pass, size, container, &mut self.names_found);
        if file_type == FileType::Text
            && size <= MAX_NORMALIZED_TEXT
            && (self.all_matches || self.names_found.is_empty())
        {
            self.match_normalized_text(part, container)?;
        }
        if let Some(hasher) = hasher {
            self.stats.parts_hashed += 1;
            let digests = hasher.finish();
            if database.is_allowed(size, &digests) {
                self.names_found.clear();
                return Ok(true);
            }
            database.lookup_hashes(size, &digests, &mut self.names_found);
        }
        Ok(false)
    }

    /// The second pass over a text part, as ClamAV makes it: its normalized form ([`crate::textnorm`]) against
    /// the signatures of target types 0 and 7. A part in RAM is normalized into a reused buffer; a spilled one
    /// is read twice, once to learn the normalized length (for `EOF-n` offsets) and once normalized as it
    /// streams.
    fn match_normalized_text(&mut self, part: &Part<'_>, container: Option<FileType>) -> Result<(), std::io::Error> {
        let database = self.database;
        let matcher = database.body_matcher();
        let before = self.names_found.len();
        self.logical_counts.clear();
        let mut collector = Collector {
            database,
            all_matches: self.all_matches,
            names_found: &mut self.names_found,
            logical_counts: &mut self.logical_counts,
        };
        let mut on_match = |found: PatternMatch| collector.found(found);
        match part.bytes() {
            Some(bytes) => {
                let mut normalized = std::mem::take(&mut self.normalized);
                normalized.clear();
                TextNormalizer::default().normalize(bytes, &mut normalized);
                let _ = matcher.scan_slice(&normalized, Pass::NormalizedText, &mut self.scratch, &mut on_match);
                self.normalized = normalized;
            }
            None => {
                let mut length = TextNormalizer::default();
                let mut normalized_len = 0;
                let mut reader = part.reader()?;
                let mut block = vec![0; 64 * 1024];
                loop {
                    match reader.read(&mut block) {
                        Ok(0) => break,
                        Ok(n) => normalized_len += length.normalized_len(&block[..n]),
                        Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(error) => return Err(error),
                    }
                }
                let mut normalized = NormalizingReader::new(part.reader()?);
                let _stopped = matcher.scan_reader(
                    &mut normalized,
                    normalized_len,
                    Pass::NormalizedText,
                    &mut self.scratch,
                    &mut |_| {},
                    &mut on_match,
                )?;
            }
        }
        let container_size = part.size();
        database.evaluate_logical(
            &self.logical_counts,
            Pass::NormalizedText,
            container_size,
            container,
            &mut self.names_found,
        );
        // A signature found in both passes is one detection.
        let mut seen: Vec<SignatureRef> = self.names_found[..before].to_vec();
        let mut index = before;
        while index < self.names_found.len() {
            let name = self.names_found[index];
            if seen.contains(&name) {
                self.names_found.remove(index);
            } else {
                seen.push(name);
                index += 1;
            }
        }
        Ok(())
    }
}

/// Turns pattern matches into detections (body signatures) and subsignature counts (logical ones).
struct Collector<'a> {
    database: &'a Database,
    all_matches: bool,
    names_found: &'a mut Vec<SignatureRef>,
    logical_counts: &'a mut HashMap<(u16, u32), Vec<u32>>,
}

impl Collector<'_> {
    fn found(&mut self, found: PatternMatch) -> ControlFlow<()> {
        match found.owner {
            PatternOwner::Body(index) => {
                if let Some(name) = self.database.body_name(found.set, index) {
                    self.names_found.push(name);
                    if !self.all_matches {
                        return ControlFlow::Break(());
                    }
                }
            }
            PatternOwner::Logical { signature, subsignature } => {
                let database = self.database;
                let counts = self
                    .logical_counts
                    .entry((found.set, signature))
                    .or_insert_with(|| vec![0; database.logical_subsignature_count(found.set, signature)]);
                if let Some(count) = counts.get_mut(subsignature as usize) {
                    *count = count.saturating_add(1);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

impl PartSink for MatchSink<'_> {
    fn part(&mut self, part: &Part<'_>) -> bool {
        self.stats.parts += 1;
        self.ancestors.truncate(part.depth() as usize);
        if self.ancestors.last().is_some_and(|&(_, allowed)| allowed) {
            // Inside an allow-listed container (as ClamAV: every layer up to the input is checked).
            self.ancestors.push((part.file_type(), true));
            return true;
        }
        self.names_found.clear();
        let allowed = match self.match_part(part) {
            Ok(allowed) => allowed,
            Err(error) => {
                tracing::warn!(%error, part = %part.path(), "cannot read a spilled part");
                push_code(&mut self.codes, ResultCode::Dec(DecResult::TempfileAccessFailed));
                false
            }
        };
        self.ancestors.push((part.file_type(), allowed));
        if self.names_found.is_empty() {
            return true;
        }
        push_code(&mut self.codes, ResultCode::Avs(AvsResult::VirusFound));
        let path = part.path().to_string();
        let take = if self.all_matches { self.names_found.len() } else { 1 };
        for &name in self.names_found.iter().take(take) {
            let detection = Detection {
                name: self.database.name(name).to_owned(),
                part: path.clone(),
                unofficial: self.database.is_unofficial(name),
            };
            if !self.detections.contains(&detection) {
                self.detections.push(detection);
            }
        }
        self.all_matches
    }
}
