//! Signature databases: loading ClamAV-format files into one compiled, immutable [`Database`].
//!
//! Sources are files or directories (every file of a directory whose extension names a signature kind; other
//! files are listed in [`DatabaseInfo::ignored_files`]), ClamAV `.cvd`/`.cld` containers (opened with this
//! project's own decomposer), or the embedded default set. Loading is all or nothing: a malformed line refuses
//! the whole set with its file, line number and reason ([`LoadError::Lines`], all of them, as
//! `avscan db check` prints), so that a daemon keeps serving its old definitions. Lines for another
//! functionality level are skipped as ClamAV skips them; signatures that load but cannot be matched here (an
//! entry-point offset, an undetectable target type, a PCRE subsignature, ...) are kept in
//! [`DatabaseInfo::unsupported`], never silently dropped.
//!
//! Layout for size (millions of signatures): hash signatures in [`HashStore`]'s sorted fixed-width tables,
//! names interned in one [`NameTable`], body and logical subsignatures compiled into one [`BodyMatcher`].

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use decomposer::FileType;
use sha2::Digest as _;

use crate::hashes::{AlgorithmSet, HashStore, HashStoreBuilder, PartDigests};
use crate::matcher::{BodyMatcher, CompiledPattern, Pass, PatternOwner, TargetFilter};
use crate::names::{NameId, NameTable, NameTableBuilder};
use crate::signature::{
    self, Expression, FileKind, HashKind, HashSize, Line, Offset, SubSignature, Syntax, Target, TargetDescription,
};

/// The embedded default database: EICAR and the ClamAV test file, so that `avscan scan` works with no set-up.
const EMBEDDED: &[(&str, &str)] = &[
    ("default.ndb", include_str!("../defaults/default.ndb")),
    ("default.hdb", include_str!("../defaults/default.hdb")),
    ("VERSION", include_str!("../defaults/VERSION")),
];

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The file (as given, or `archive.cvd/member` for a member of a container).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// A signature that loaded but cannot be matched by this engine, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The signature's name.
    pub name: String,
    /// Why it cannot be matched.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.name, self.reason)
    }
}

/// Why a database could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read the signature database {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Malformed lines (all of them).
    #[error("{} malformed signature line(s); the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Lines(Vec<LineError>),
    /// The paths hold no signature file at all.
    #[error("no signature file in {0}")]
    Empty(String),
    /// The compiled form could not be built.
    #[error("{0}")]
    Compile(String),
}

/// Counts and memory of one kind of signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindStats {
    /// Signatures loaded (matched or listed as unsupported).
    pub count: u64,
    /// Bytes of memory the kind's compiled form holds.
    pub memory: u64,
    /// Time spent reading the kind's lines and building its part of the database (for body signatures, the
    /// one matcher compiled for body and logical patterns together), in milliseconds in JSON.
    #[serde(rename = "load_ms", serialize_with = "serialize_millis")]
    pub load_time: Duration,
}

fn serialize_millis<S: serde::Serializer>(time: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(time.as_millis()).unwrap_or(u64::MAX))
}

/// What a loaded database holds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DatabaseInfo {
    /// The definitions version: from `.info`/`.cvd` headers (`daily:27371 main:62`), a `VERSION` file, or
    /// `content:` and the start of a SHA-256 over every file when neither is present.
    pub version: String,
    /// Files read, with their signature count.
    pub files: Vec<(String, u64)>,
    /// Files of a directory that are not signature files.
    pub ignored_files: Vec<String>,
    /// Hash signatures of whole parts (`.hdb`, `.hsb`).
    pub hash: KindStats,
    /// PE section hash signatures (`.mdb`, `.msb`): loaded, not matched (no PE section parser yet).
    pub section_hash: KindStats,
    /// Body signatures (`.ndb`). Their memory includes the prefilter over every anchor, which the logical
    /// signatures' subsignatures use too.
    pub body: KindStats,
    /// Logical signatures (`.ldb`): their entries, expressions and compiled subsignatures.
    pub logical: KindStats,
    /// Allow-list hashes (`.fp`, `.sfp`).
    pub allow: KindStats,
    /// Names ignored by `.ign`/`.ign2` files, and signatures dropped for them.
    pub ignored_names: u64,
    /// Lines ClamAV 1.4 skips without an error (a functionality level, target type, attribute or container
    /// type it does not have).
    pub skipped_for_level: u64,
    /// Memory of the interned names.
    pub names_memory: u64,
    /// Signatures loaded but not matched, and why.
    #[serde(skip)]
    pub unsupported: Vec<Unsupported>,
    /// Time to load and compile.
    #[serde(skip)]
    pub load_time: Duration,
}

impl DatabaseInfo {
    /// Bytes of memory the compiled database holds: every kind and the names.
    pub fn memory(&self) -> u64 {
        self.hash.memory
            + self.section_hash.memory
            + self.body.memory
            + self.logical.memory
            + self.allow.memory
            + self.names_memory
    }

    /// Every signature loaded, of every kind.
    pub fn total(&self) -> u64 {
        self.hash.count + self.section_hash.count + self.body.count + self.logical.count
    }

    /// The whole description as one JSON object.
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("unsupported".into(), self.unsupported.len().into());
            object.insert("load_ms".into(), u64::try_from(self.load_time.as_millis()).unwrap_or(u64::MAX).into());
            object.insert("total".into(), self.total().into());
        }
        value.to_string()
    }
}

impl fmt::Display for DatabaseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        writeln!(f, "version: {}", self.version)?;
        for (file, count) in &self.files {
            writeln!(f, "file: {file} ({count} signatures)")?;
        }
        for (kind, stats) in [
            ("hash", &self.hash),
            ("section hash", &self.section_hash),
            ("body", &self.body),
            ("logical", &self.logical),
            ("allow-list", &self.allow),
        ] {
            writeln!(
                f,
                "{kind}: {} signatures, {:.2} MiB, {} ms",
                stats.count,
                mib(stats.memory),
                stats.load_time.as_millis()
            )?;
        }
        writeln!(f, "names: {:.2} MiB", mib(self.names_memory))?;
        writeln!(f, "not matched (see avscan db check): {}", self.unsupported.len())?;
        writeln!(f, "lines skipped as ClamAV 1.4 skips them: {}", self.skipped_for_level)?;
        writeln!(f, "total: {} signatures, loaded in {} ms", self.total(), self.load_time.as_millis())
    }
}

/// What `avscan db check` reports.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Every malformed line.
    pub errors: Vec<LineError>,
    /// Every signature that loads but cannot be matched.
    pub unsupported: Vec<Unsupported>,
    /// Counts, as they would load.
    pub info: DatabaseInfo,
}

impl CheckReport {
    /// One summary line.
    pub fn summary(&self) -> String {
        format!(
            "{} signatures ({} hash, {} section hash, {} body, {} logical, {} allow-list); {} malformed lines; {} not matched here; {} lines skipped as ClamAV 1.4 skips them",
            self.info.total(),
            self.info.hash.count,
            self.info.section_hash.count,
            self.info.body.count,
            self.info.logical.count,
            self.info.allow.count,
            self.errors.len(),
            self.unsupported.len(),
            self.info.skipped_for_level,
        )
    }
}

/// A logical signature as the database keeps it.
#[derive(Debug)]
struct LogicalEntry {
    name: NameId,
    expression: Expression,
    subsignatures: usize,
    target: TargetFilter,
    file_size: Option<RangeInclusive<u64>>,
    container: Option<ContainerRequirement>,
}

/// A compiled signature database. Immutable; share it in an `Arc`.
#[derive(Debug)]
pub struct Database {
    names: NameTable,
    hashes: HashStore,
    allowed: HashStore,
    body: BodyMatcher,
    body_names: Vec<NameId>,
    logical: Vec<LogicalEntry>,
    /// Bit per [`NameId`]: set when the name came from an unofficial source (see `Source::official`).
    unofficial: Vec<u64>,
    info: DatabaseInfo,
}

/// One file's text and where it came from.
struct Source {
    name: String,
    /// The ClamAV kind, by extension; `None` for a `VERSION` file.
    kind: Option<FileKind>,
    text: Vec<u8>,
    /// From a signed set: a `.cvd`/`.cld` container or the embedded database. ClamAV names every other
    /// signature `NAME.UNOFFICIAL` in what it reports, and so does the daemon ([`Database::is_unofficial`]).
    official: bool,
}

/// The name of the file that states a definitions version when no `.info` file does.
const VERSION_FILE: &str = "VERSION";

/// The kind of a file, by name: `Some(None)` for a `VERSION` file, `None` for a file that is not a database.
fn source_kind(file_name: &str) -> Option<Option<FileKind>> {
    if file_name == VERSION_FILE {
        return Some(None);
    }
    FileKind::from_file_name(file_name).map(Some)
}

impl Database {
    /// The embedded default database.
    ///
    /// # Errors
    /// Never in a released build (a test loads it); the signature is that of every loader.
    pub fn embedded() -> Result<Database, LoadError> {
        let sources = EMBEDDED
            .iter()
            .filter_map(|(name, text)| {
                let kind = source_kind(name)?;
                Some(Source { name: format!("embedded:{name}"), kind, text: text.as_bytes().to_vec(), official: true })
            })
            .collect();
        Database::from_sources(sources, Vec::new())
    }

    /// Loads signature files and directories.
    ///
    /// # Errors
    /// An unreadable path, malformed lines (all listed), or no signature file at all.
    pub fn load(paths: &[PathBuf]) -> Result<Database, LoadError> {
        let (sources, ignored) = read_sources(paths)?;
        Database::from_sources(sources, ignored)
    }

    /// [`Database::load`] of `paths`, or the embedded database when `paths` is empty (the configuration's
    /// `definitions` unset).
    ///
    /// # Errors
    /// As [`Database::load`].
    pub fn load_or_embedded(paths: &[PathBuf]) -> Result<Database, LoadError> {
        if paths.is_empty() { Database::embedded() } else { Database::load(paths) }
    }

    /// Parses signature files and directories and reports every problem, without compiling.
    ///
    /// # Errors
    /// Only an unreadable path.
    pub fn check(paths: &[PathBuf]) -> Result<CheckReport, LoadError> {
        let (sources, ignored) = read_sources(paths)?;
        let parsed = parse_sources(&sources);
        let mut info = parsed.info();
        info.ignored_files = ignored;
        Ok(CheckReport { errors: parsed.errors, unsupported: parsed.unsupported.clone(), info })
    }

    fn from_sources(sources: Vec<Source>, ignored_files: Vec<String>) -> Result<Database, LoadError> {
        let started = Instant::now();
        if sources.is_empty() {
            return Err(LoadError::Empty("the paths given".into()));
        }
        let parsed = parse_sources(&sources);
        if !parsed.errors.is_empty() {
            return Err(LoadError::Lines(parsed.errors));
        }
        let mut info = parsed.info();
        info.ignored_files = ignored_files;
        let Parsed { names, hashes, allowed, patterns, body_names, logical, mut unofficial, .. } = parsed;
        unofficial.shrink_to_fit();
        let names = names.finish();
        let hashes_started = Instant::now();
        let hashes = hashes.finish();
        info.hash.load_time += hashes_started.elapsed();
        let allowed_started = Instant::now();
        let allowed = allowed.finish();
        info.allow.load_time += allowed_started.elapsed();
        let body_started = Instant::now();
        let body = BodyMatcher::new(patterns).map_err(|error| LoadError::Compile(error.to_string()))?;
        info.body.load_time += body_started.elapsed();
        info.hash.memory = hashes.heap_bytes() as u64;
        info.allow.memory = allowed.heap_bytes() as u64;
        let (body_memory, logical_patterns_memory) = body.heap_bytes_by_owner();
        info.body.memory = (body_memory + body_names.capacity() * size_of::<NameId>()) as u64;
        info.logical.memory = (logical_patterns_memory
            + logical.capacity() * size_of::<LogicalEntry>()
            + logical.iter().map(|entry| entry.expression.heap_bytes()).sum::<usize>())
            as u64;
        info.names_memory = (names.heap_bytes() + unofficial.capacity() * size_of::<u64>()) as u64;
        info.load_time = started.elapsed();
        Ok(Database { names, hashes, allowed, body, body_names, logical, unofficial, info })
    }

    /// What the database holds.
    pub fn info(&self) -> &DatabaseInfo {
        &self.info
    }

    /// Whether it holds no signature that can match.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty() && self.body.patterns().is_empty()
    }

    /// The definitions version.
    pub fn version(&self) -> &str {
        &self.info.version
    }

    pub(crate) fn name(&self, id: NameId) -> &str {
        self.names.get(id)
    }

    /// Whether the signature name `id` came from an unsigned file (not a `.cvd`/`.cld`, not the embedded set):
    /// ClamAV, and so the clamd protocol, reports such a name as `NAME.UNOFFICIAL`.
    pub(crate) fn is_unofficial(&self, id: NameId) -> bool {
        self.unofficial.get(id as usize / 64).is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    pub(crate) fn body_matcher(&self) -> &BodyMatcher {
        &self.body
    }

    pub(crate) fn body_name(&self, index: u32) -> Option<NameId> {
        self.body_names.get(index as usize).copied()
    }

    pub(crate) fn logical_subsignature_count(&self, signature: u32) -> usize {
        self.logical.get(signature as usize).map_or(0, |entry| entry.subsignatures)
    }

    pub(crate) fn hash_algorithms_for(&self, size: u64) -> AlgorithmSet {
        self.hashes.algorithms_for(size).union(self.allowed.algorithms_for(size))
    }

    pub(crate) fn lookup_hashes(&self, size: u64, digests: &PartDigests, found: &mut Vec<NameId>) {
        self.hashes.lookup(size, digests, found);
    }

    pub(crate) fn is_allowed(&self, size: u64, digests: &PartDigests) -> bool {
        let mut found = Vec::new();
        self.allowed.lookup(size, digests, &mut found);
        !found.is_empty()
    }

    /// Appends the names of the logical signatures whose expression holds for these subsignature counts.
    pub(crate) fn evaluate_logical(
        &self,
        counts: &HashMap<u32, Vec<u32>>,
        pass: Pass,
        size: u64,
        container: Option<FileType>,
        found: &mut Vec<NameId>,
    ) {
        let mut matched: Vec<u32> = counts
            .iter()
            .filter(|&(&index, counts)| {
                self.logical.get(index as usize).is_some_and(|entry| {
                    entry.target.accepts(pass)
                        && entry.file_size.as_ref().is_none_or(|range| range.contains(&size))
                        && entry.container.is_none_or(|wanted| match wanted {
                            ContainerRequirement::None => container.is_none(),
                            ContainerRequirement::Type(wanted) => container == Some(wanted),
                        })
                        && entry.expression.evaluate(counts)
                })
            })
            .map(|(&index, _)| index)
            .collect();
        // HashMap order is not deterministic; the order of the database is.
        matched.sort_unstable();
        found.extend(matched.into_iter().filter_map(|index| self.logical.get(index as usize)).map(|e| e.name));
    }
}

/// Reads the files of `paths` (directories: their signature files, sorted by name; `.cvd`/`.cld` containers:
/// their members). Returns the sources and the directory entries that are not signature files.
fn read_sources(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<String>), LoadError> {
    fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
        move |source| LoadError::Io { path: path.to_owned(), source }
    }
    let mut sources = Vec::new();
    let mut ignored = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(io_error(path))?;
        let files: Vec<PathBuf> = if metadata.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io_error(path))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.is_file())
                .collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let name = file.display().to_string();
            let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if is_container_file(&file_name) {
                let bytes = std::fs::read(&file).map_err(io_error(&file))?;
                sources.extend(container_sources(&name, &file_name, &bytes));
                continue;
            }
            match source_kind(&file_name) {
                Some(kind) => {
                    let text = std::fs::read(&file).map_err(io_error(&file))?;
                    sources.push(Source { name, kind, text, official: false });
                }
                None if metadata.is_dir() => ignored.push(name),
                None => {
                    return Err(LoadError::Io {
                        path: file.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "not a signature file (its extension names no signature kind)",
                        ),
                    });
                }
            }
        }
    }
    if sources.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(LoadError::Empty(shown.join(", ")));
    }
    Ok((sources, ignored))
}

/// Whether a file of this name is part of a definitions set: a signature file, a `.cvd`/`.cld` container or a
/// `VERSION` file. Other files of a directory are ignored by [`Database::load`].
pub fn is_definitions_file(file_name: &str) -> bool {
    is_container_file(file_name) || source_kind(file_name).is_some()
}

fn is_container_file(file_name: &str) -> bool {
    file_name.ends_with(".cvd") || file_name.ends_with(".cld")
}

/// The size of a `.cvd`/`.cld` header (`ClamAV-VDB:date:version:signatures:level:md5:signature:builder:time`,
/// padded with spaces); a tar (gzipped in a `.cvd`) follows.
const CVD_HEADER_LEN: usize = 512;

/// The signature files inside a ClamAV `.cvd`/`.cld` container, plus a `.info`-style source for its header so
/// that its version counts. Opened with the decomposer, like any archive.
fn container_sources(shown: &str, file_name: &str, bytes: &[u8]) -> Vec<Source> {
    let mut sources = Vec::new();
    let header = bytes.get(..CVD_HEADER_LEN.min(bytes.len())).unwrap_or_default();
    let stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    if let Some(kind) = source_kind(&format!("{stem}.info")) {
        let mut text = String::from_utf8_lossy(header).trim_end().to_owned().into_bytes();
        text.push(b'\n');
        sources.push(Source { name: format!("{shown}:header"), kind, text, official: true });
    }
    let body = bytes.get(CVD_HEADER_LEN..).unwrap_or_default();
    let mut sink = |part: &decomposer::Part<'_>| {
        if part.depth() == 0 || part.file_type().is_container() {
            return true;
        }
        let member = part.name().rsplit('/').next().unwrap_or_default().to_owned();
        if let Some(kind) = source_kind(&member) {
            let mut text = Vec::new();
            if let Ok(mut reader) = part.reader()
                && std::io::Read::read_to_end(&mut reader, &mut text).is_ok()
            {
                sources.push(Source { name: format!("{shown}/{member}"), kind, text, official: true });
            }
        }
        true
    };
    let limits = decomposer::Limits::builder()
        .max_extract_size(decomposer::MAX_EXTRACT_SIZE_OVERRIDE)
        .allow_large_cumulative_extract_size(true)
        .max_cumulative_extract_size(decomposer::MAX_EXTRACT_SIZE_OVERRIDE)
        .max_extract_time(0)
        .max_file_count(0)
        .build();
    if let Ok(limits) = limits {
        let _ = decomposer::Decomposer::builder().limits(limits).build().decompose_bytes(file_name, body, &mut sink);
    }
    sources
}

/// The definitions version of a set of sources (see [`DatabaseInfo::version`]).
fn definitions_version(sources: &[Source]) -> String {
    let mut versions = Vec::new();
    for source in sources {
        let file_name = source.name.rsplit(['/', ':']).find(|s| !s.is_empty() && *s != "header").unwrap_or("");
        match source.kind {
            Some(FileKind::Info) => {
                // `ClamAV-VDB:build time:version:...` on the first line.
                let first = source.text.split(|&b| b == b'\n').next().unwrap_or_default();
                let first = String::from_utf8_lossy(first);
                let mut fields = first.split(':');
                if fields.next() == Some("ClamAV-VDB")
                    && let Some(version) = fields.nth(1)
                {
                    let stem = file_name.split('.').next().unwrap_or(file_name);
                    versions.push(format!("{stem}:{}", version.trim()));
                }
            }
            None => {
                let text = String::from_utf8_lossy(&source.text);
                if let Some(line) = text.lines().map(str::trim).find(|line| !line.is_empty()) {
                    versions.push(line.to_owned());
                }
            }
            _ => {}
        }
    }
    if !versions.is_empty() {
        versions.sort();
        versions.dedup();
        return versions.join(" ");
    }
    let mut hasher = sha2::Sha256::new();
    let mut ordered: Vec<&Source> = sources.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    for source in ordered {
        hasher.update(source.name.rsplit('/').next().unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update(&source.text);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("content:{hex}")
}

/// Everything parsed from a set of sources, before compiling.
#[derive(Default)]
struct Parsed {
    names: NameTableBuilder,
    hashes: HashStoreBuilder,
    allowed: HashStoreBuilder,
    patterns: Vec<CompiledPattern>,
    body_names: Vec<NameId>,
    logical: Vec<LogicalEntry>,
    /// Bit per name: first defined in an unofficial source.
    unofficial: Vec<u64>,
    /// Whether the source being parsed is official.
    official_source: bool,
    errors: Vec<LineError>,
    unsupported: Vec<Unsupported>,
    counts: DatabaseInfo,
}

impl Parsed {
    fn info(&self) -> DatabaseInfo {
        let mut info = self.counts.clone();
        info.unsupported = self.unsupported.clone();
        info
    }

    fn intern(&mut self, name: &str, file: &str, line: usize) -> Option<NameId> {
        let before = self.names.len();
        let id = self.names.intern(name);
        match id {
            None => self.errors.push(LineError { file: file.into(), line, reason: "too many signature names".into() }),
            Some(id) if self.names.len() > before && !self.official_source => {
                let word = id as usize / 64;
                if self.unofficial.len() <= word {
                    self.unofficial.resize(word + 1, 0);
                }
                self.unofficial[word] |= 1 << (id % 64);
            }
            Some(_) => {}
        }
        id
    }
}

/// Signature names that `.ign`/`.ign2` files ask to drop, with the MD5 of the line they apply to, if given.
type IgnoreList = HashMap<String, Option<[u8; 16]>>;

/// Whether a signature named `name`, written on `line`, is dropped by `ignored`.
fn is_ignored(ignored: &IgnoreList, name: &str, line: &[u8]) -> bool {
    let base = name.strip_suffix(".UNOFFICIAL").unwrap_or(name);
    match ignored.get(base) {
        None => false,
        Some(None) => true,
        Some(Some(md5)) => {
            use md5::Digest as _;
            let line = signature_line(line);
            md5::Md5::digest(line).as_slice() == md5
        }
    }
}

/// A line without its line end.
fn signature_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The file types a ClamAV target type maps to here, or why it cannot be honoured.
fn target_filter(target: Target) -> Result<TargetFilter, String> {
    match target {
        Target::Any => Ok(TargetFilter::Any),
        Target::PortableExecutable => Ok(TargetFilter::Only(FileType::Pe)),
        Target::Elf => Ok(TargetFilter::Only(FileType::Elf)),
        Target::Pdf => Ok(TargetFilter::Only(FileType::Pdf)),
        Target::Ascii => Ok(TargetFilter::NormalizedText),
        Target::Mail => Ok(TargetFilter::Only(FileType::Mail)),
        other => Err(format!("target type {other} is not detected by the decomposer")),
    }
}

/// What a logical signature's `Container:` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerRequirement {
    /// `CL_TYPE_ANY`: the part is not inside any container.
    None,
    /// The container directly holding the part has this type.
    Type(FileType),
}

fn container_requirement(name: &str) -> Result<ContainerRequirement, String> {
    Ok(ContainerRequirement::Type(match name {
        "CL_TYPE_ANY" => return Ok(ContainerRequirement::None),
        "CL_TYPE_ZIP" | "CL_TYPE_ZIPSFX" => FileType::Zip,
        // ClamAV calls every tar with the `ustar` magic (GNU included) POSIX; the decomposer does not tell
        // v7 tars apart, so CL_TYPE_OLD_TAR is reported below rather than matched as any tar.
        "CL_TYPE_POSIX_TAR" => FileType::Tar,
        "CL_TYPE_GZ" => FileType::Gzip,
        "CL_TYPE_BZ" => FileType::Bzip2,
        "CL_TYPE_XZ" => FileType::Xz,
        other => return Err(format!("container type {other} is not opened by the decomposer")),
    }))
}

/// Parses every source: ignore lists first (they drop signatures of other files), then every signature line.
fn parse_sources(sources: &[Source]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut ignored = IgnoreList::new();
    for source in sources {
        if source.kind.and_then(FileKind::syntax) != Some(Syntax::Ignore) {
            continue;
        }
        for (index, line) in source.text.split_inclusive(|&b| b == b'\n').enumerate() {
            match signature::hash::parse_ignore_line(line) {
                Ok(Line::Signature(entry)) => {
                    ignored.insert(entry.name, entry.line_md5);
                }
                Ok(_) => {}
                Err(error) => {
                    parsed.errors.push(LineError { file: source.name.clone(), line: index + 1, reason: error.reason })
                }
            }
        }
    }
    parsed.counts.ignored_names = ignored.len() as u64;
    for source in sources {
        parsed.official_source = source.official;
        let started = Instant::now();
        parse_source(source, &ignored, &mut parsed);
        let elapsed = started.elapsed();
        let stats = match source.kind.and_then(FileKind::syntax) {
            Some(Syntax::Hash(HashKind::PeSection)) => Some(&mut parsed.counts.section_hash),
            Some(Syntax::Hash(HashKind::File)) if source.kind.is_some_and(FileKind::is_allow_list) => {
                Some(&mut parsed.counts.allow)
            }
            Some(Syntax::Hash(HashKind::File)) => Some(&mut parsed.counts.hash),
            Some(Syntax::Body) => Some(&mut parsed.counts.body),
            Some(Syntax::Logical) => Some(&mut parsed.counts.logical),
            Some(Syntax::Ignore) | None => None,
        };
        if let Some(stats) = stats {
            stats.load_time += elapsed;
        }
    }
    parsed.counts.version = definitions_version(sources);
    parsed
}

fn parse_source(source: &Source, ignored: &IgnoreList, parsed: &mut Parsed) {
    let Some(kind) = source.kind else { return };
    let before = parsed.counts.total() + parsed.counts.allow.count;
    let file = source.name.as_str();
    match kind.syntax() {
        Some(Syntax::Ignore) => return,
        Some(_) if kind.is_potentially_unwanted() => {
            // ClamAV loads PUA files only when PUA detection is asked for; so does this engine (never, yet).
            parsed.unsupported.push(Unsupported {
                file: file.into(),
                line: 0,
                name: "(whole file)".into(),
                reason: "potentially-unwanted-application signatures are not loaded (ClamAV's DetectPUA no)".into(),
            });
            return;
        }
        Some(syntax) => {
            let mut section_hashes = 0u64;
            for (index, line) in source.text.split_inclusive(|&b| b == b'\n').enumerate() {
                let at = LineAt { ignored, raw: line, file, number: index + 1 };
                let result = match syntax {
                    Syntax::Hash(HashKind::PeSection) => signature::parse_hash_line(HashKind::PeSection, line)
                        .map(|l| section_hashes += u64::from(admit(l, |s| &s.name, &at, parsed).is_some())),
                    Syntax::Hash(HashKind::File) => signature::parse_hash_line(HashKind::File, line)
                        .map(|l| add_hash(l, kind.is_allow_list(), &at, parsed)),
                    Syntax::Body => signature::parse_body_line(line).map(|l| add_body(l, &at, parsed)),
                    Syntax::Logical => signature::parse_logical_line(line).map(|l| add_logical(l, &at, parsed)),
                    Syntax::Ignore => Ok(()),
                };
                if let Err(error) = result {
                    parsed.errors.push(LineError { file: file.into(), line: at.number, reason: error.reason });
                }
            }
            if section_hashes > 0 {
                parsed.counts.section_hash.count += section_hashes;
                parsed.unsupported.push(Unsupported {
                    file: file.into(),
                    line: 0,
                    name: format!("({section_hashes} PE section hashes)"),
                    reason: "PE section hashes need a PE section parser, which the decomposer does not have yet".into(),
                });
            }
        }
        None => {
            if !matches!(kind, FileKind::Info | FileKind::Cfg) {
                parsed.unsupported.push(Unsupported {
                    file: file.into(),
                    line: 0,
                    name: "(whole file)".into(),
                    reason: format!("{kind:?} files are not read by this engine"),
                });
            }
        }
    }
    let after = parsed.counts.total() + parsed.counts.allow.count;
    parsed.counts.files.push((file.to_owned(), after - before));
}

/// Where a line is, and the ignore list that applies to it.
struct LineAt<'a> {
    ignored: &'a IgnoreList,
    /// The line as written (the MD5 of an `.ign2` entry is of this).
    raw: &'a [u8],
    file: &'a str,
    /// 1-based.
    number: usize,
}

/// The signature of a parsed line, unless ClamAV skips the line (counted) or an ignore list drops it.
fn admit<T>(line: Line<T>, name: impl Fn(&T) -> &str, at: &LineAt<'_>, parsed: &mut Parsed) -> Option<T> {
    match line {
        Line::Signature(signature) => (!is_ignored(at.ignored, name(&signature), at.raw)).then_some(signature),
        Line::Skipped { .. } => {
            parsed.counts.skipped_for_level += 1;
            None
        }
        Line::Comment => None,
    }
}

fn add_hash(line: Line<signature::HashSignature>, allow_list: bool, at: &LineAt<'_>, parsed: &mut Parsed) {
    let Some(signature) = admit(line, |s| &s.name, at, parsed) else { return };
    let Some(name) = parsed.intern(&signature.name, at.file, at.number) else { return };
    let size = match signature.size {
        HashSize::Any => None,
        HashSize::Exact(size) => Some(u64::from(size)),
    };
    let (builder, stats) = if allow_list {
        (&mut parsed.allowed, &mut parsed.counts.allow)
    } else {
        (&mut parsed.hashes, &mut parsed.counts.hash)
    };
    if builder.add(signature.digest.bytes(), size, name) {
        stats.count += 1;
    }
}

fn add_body(line: Line<signature::BodySignature>, at: &LineAt<'_>, parsed: &mut Parsed) {
    let Some(signature) = admit(line, |s| &s.name, at, parsed) else { return };
    let (file, line_number) = (at.file, at.number);
    parsed.counts.body.count += 1;
    let reason = match (&signature.offset, target_filter(signature.target)) {
        (offset @ Offset::Unsupported(_), _) => Err(format!("offset {offset} needs a PE/ELF parser")),
        (_, Err(reason)) => Err(reason),
        (_, Ok(target)) => Ok(target),
    };
    let target = match reason {
        Ok(target) => target,
        Err(reason) => {
            parsed.unsupported.push(Unsupported { file: file.into(), line: line_number, name: signature.name, reason });
            return;
        }
    };
    let Some(name) = parsed.intern(&signature.name, file, line_number) else { return };
    let Ok(index) = u32::try_from(parsed.body_names.len()) else { return };
    parsed.body_names.push(name);
    parsed.patterns.push(CompiledPattern {
        pattern: signature.pattern,
        offset: signature.offset,
        target,
        owner: PatternOwner::Body(index),
    });
}

/// Why a logical signature cannot be evaluated here, if it cannot.
fn logical_unsupported(description: &TargetDescription, subsignatures: &[SubSignature]) -> Option<String> {
    if let Some(attribute) = description.unsupported.first() {
        return Some(format!("attribute {}:{} is not evaluated", attribute.key, attribute.value));
    }
    if let Err(reason) = target_filter(description.target) {
        return Some(reason);
    }
    if let Some(Err(reason)) = description.container.as_deref().map(container_requirement) {
        return Some(reason);
    }
    subsignatures.iter().enumerate().find_map(|(index, subsignature)| match subsignature {
        SubSignature::Unsupported { kind, .. } => Some(format!("subsignature {index} is a {kind:?} subsignature")),
        SubSignature::Content { offset: offset @ Offset::Unsupported(_), .. } => {
            Some(format!("subsignature {index}: offset {offset} needs a PE/ELF parser"))
        }
        SubSignature::Content { .. } => None,
    })
}

fn add_logical(line: Line<signature::LogicalSignature>, at: &LineAt<'_>, parsed: &mut Parsed) {
    let Some(signature) = admit(line, |s| &s.name, at, parsed) else { return };
    let (file, line_number) = (at.file, at.number);
    parsed.counts.logical.count += 1;
    if let Some(reason) = logical_unsupported(&signature.target_description, &signature.subsignatures) {
        parsed.unsupported.push(Unsupported { file: file.into(), line: line_number, name: signature.name, reason });
        return;
    }
    let description = signature.target_description;
    let Ok(target) = target_filter(description.target) else { return };
    let container = description.container.as_deref().and_then(|name| container_requirement(name).ok());
    let Some(name) = parsed.intern(&signature.name, file, line_number) else { return };
    let Ok(logical_index) = u32::try_from(parsed.logical.len()) else { return };
    let subsignature_count = signature.subsignatures.len();
    for (index, subsignature) in signature.subsignatures.into_iter().enumerate() {
        let SubSignature::Content { offset, patterns, .. } = subsignature else { continue };
        let Ok(subsignature) = u16::try_from(index) else { continue };
        for pattern in patterns {
            parsed.patterns.push(CompiledPattern {
                pattern,
                offset,
                target,
                owner: PatternOwner::Logical { signature: logical_index, subsignature },
            });
        }
    }
    parsed.logical.push(LogicalEntry {
        name,
        expression: signature.expression,
        subsignatures: subsignature_count,
        target,
        file_size: description.file_size.map(|range| u64::from(*range.start())..=u64::from(*range.end())),
        container,
    });
}
