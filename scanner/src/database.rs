//! Signature databases: loading ClamAV-format files into one compiled, immutable [`Database`].
//!
//! Sources are files or directories (every file of a directory whose extension names a signature kind; other
//! files are listed in [`DatabaseInfo::ignored_files`]), ClamAV `.cvd`/`.cld` containers (opened with this
//! project's own decomposer), or the embedded default set. Loading is all or nothing: a malformed line refuses
//! the whole set with its file, line number and reason ([`LoadError::Lines`], all of them, as
//! `avscan db check` prints), so that a daemon keeps serving its old definitions. Lines for another
//! functionality level are skipped as ClamAV skips them; signatures that load but cannot be matched here (an
//! entry-point offset, an undetectable target type, a PCRE subsignature, ...) are counted in
//! [`DatabaseInfo::not_matched`] and listed by `avscan db check` ([`CheckReport::unsupported`]), never silently
//! dropped.
//!
//! Layout for size (millions of signatures): hash signatures in [`HashStore`]'s sorted fixed-width tables,
//! names interned in a [`NameTable`], body and logical subsignatures compiled once and searched through one
//! prefilter ([`BodyMatcher`]).
//!
//! A database is made of parts, one per source file, each in an `Arc`; the files are parsed in parallel, one
//! per task. [`Database::reload`] shares every part whose file did not change (same name, same SHA-256 of its
//! text, same ignore lists) with the database it replaces, so a reload parses and holds twice only what
//! changed; the prefilter over all parts is built again each time. A plain file is read in blocks of
//! `READ_BLOCK` bytes, each hashed and its lines parsed in one pass, so a load never holds a file's whole text
//! (a `.cvd`'s members are held while it loads: its ignore lists apply to every file). The threads of a load are
//! scoped to it (`parallel.rs`).
//!
//! The compiled form (`database/compiled.rs`: `avscan db compile`, [`Database::load_with_compiled`], the daemon's
//! `compiled_definitions`) stores every part and the prefilter; a load decodes what it holds for the files that
//! did not change and parses the rest. The order of preference for each part: the set being replaced, then
//! the compiled form, then the source.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use decomposer::FileType;
use sha2::Digest as _;

use self::compiled::{CompiledFile, FileStamp};
use crate::hashes::{AlgorithmSet, HashStore, HashStoreBuilder, PartDigests};
use crate::matcher::{
    BodyMatcher, CompiledPattern, Pass, PatternOwner, PatternSet, TargetFilter, patterns_heap_bytes_by_owner,
};
use crate::names::{NameId, NameTable, NameTableBuilder};
use crate::signature::{
    self, Expression, FileKind, HashKind, HashSize, Line, Offset, SubSignature, Syntax, Target, TargetDescription,
};

mod compiled;
pub(crate) use compiled::file_type_by_name;

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
    /// Signatures loaded but not matched (`avscan db check` lists them with the reason: a loaded database
    /// keeps the count only, which is all a set of millions of signatures should hold on to).
    #[serde(rename = "unsupported")]
    pub not_matched: u64,
    /// Time to load and compile.
    #[serde(skip)]
    pub load_time: Duration,
    /// How the parts (one per source file) were obtained.
    pub parts: PartsLoaded,
    /// What was wrong with the compiled form, when one was used: why the file, or each part of it that was
    /// rebuilt from source, could not be used, or why it could not be written.
    pub compiled: Vec<String>,
    /// Whether this load wrote the compiled form (it was missing, stale or corrupt, or `avscan db compile`).
    pub compiled_written: bool,
}

/// How the parts of a database were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PartsLoaded {
    /// Parsed from source.
    pub parsed: u64,
    /// Shared with the database this one replaced ([`Database::reload`]).
    pub shared: u64,
    /// Decoded from the compiled form.
    pub compiled: u64,
    /// Whether the prefilter over every part's patterns was decoded from the compiled form too.
    pub prefilter_compiled: bool,
    /// Whether the prefilter is the one of the database this one replaced: no file with body or logical
    /// signatures changed (a hash list did, say), so every part with patterns is shared and in its place.
    pub prefilter_shared: bool,
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
        let parts = self.parts;
        writeln!(
            f,
            "parts: {} ({} parsed, {} shared with the set replaced, {} from the compiled form); prefilter {}{}",
            parts.parsed + parts.shared + parts.compiled,
            parts.parsed,
            parts.shared,
            parts.compiled,
            match (parts.prefilter_shared, parts.prefilter_compiled) {
                (true, _) => "shared with the set replaced",
                (false, true) => "from the compiled form",
                (false, false) => "built",
            },
            if self.compiled_written { "; compiled form written" } else { "" }
        )?;
        for problem in &self.compiled {
            writeln!(f, "compiled form: {problem}")?;
        }
        writeln!(f, "not matched (see avscan db check): {}", self.not_matched)?;
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
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LogicalEntry {
    name: NameId,
    expression: Expression,
    subsignatures: usize,
    target: TargetFilter,
    file_size: Option<RangeInclusive<u64>>,
    container: Option<ContainerRequirement>,
}

/// A signature of a [`Database`]: its part and its name there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignatureRef {
    part: u16,
    name: NameId,
}

/// What makes two parts the same: the file (by name, not by directory, so that a file moved in from an
/// incoming directory is the file it replaces), the SHA-256 of its text, whether it is official, and the
/// SHA-256 of the ignore lists that were applied to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
struct PartKey {
    file: String,
    digest: [u8; 32],
    official: bool,
    ignore_digest: [u8; 32],
}

/// One source file's signatures, compiled. Shared in an `Arc` between the definitions sets that hold the same
/// file ([`Database::reload`]).
#[derive(Debug)]
struct DatabasePart {
    key: PartKey,
    names: NameTable,
    hashes: HashStore,
    allowed: HashStore,
    /// The body and logical patterns; owners index `body_names` and `logical`.
    patterns: PatternSet,
    body_names: Vec<NameId>,
    logical: Vec<LogicalEntry>,
    /// What the file says the definitions version is (`.info` header, `VERSION` file).
    version: Option<String>,
    /// The part's counts, memory and load times (its prefilter share is the database's).
    info: DatabaseInfo,
}

impl DatabasePart {
    /// Compiles what was parsed from one source; returns the part and the malformed lines.
    fn build(key: PartKey, version: Option<String>, parsed: Parsed) -> (DatabasePart, Vec<LineError>) {
        let Parsed {
            names,
            hashes,
            allowed,
            mut patterns,
            mut body_names,
            mut logical,
            errors,
            unsupported,
            mut counts,
        } = parsed;
        patterns.shrink_to_fit();
        body_names.shrink_to_fit();
        logical.shrink_to_fit();
        counts.not_matched = unsupported.len() as u64;
        let names = names.finish();
        let hashes_started = Instant::now();
        let hashes = hashes.finish();
        counts.hash.load_time += hashes_started.elapsed();
        let allowed_started = Instant::now();
        let allowed = allowed.finish();
        counts.allow.load_time += allowed_started.elapsed();
        let patterns = PatternSet::from(patterns);
        let mut part =
            DatabasePart { key, names, hashes, allowed, patterns, body_names, logical, version, info: counts };
        part.measure();
        (part, errors)
    }

    /// Sets the memory figures of [`DatabasePart::info`] from what the part holds.
    fn measure(&mut self) {
        let (body_patterns, logical_patterns) = patterns_heap_bytes_by_owner(&self.patterns);
        let info = &mut self.info;
        info.hash.memory = self.hashes.heap_bytes() as u64;
        info.allow.memory = self.allowed.heap_bytes() as u64;
        info.body.memory = (body_patterns + self.body_names.capacity() * size_of::<NameId>()) as u64;
        info.logical.memory = (logical_patterns
            + self.logical.capacity() * size_of::<LogicalEntry>()
            + self.logical.iter().map(|entry| entry.expression.heap_bytes()).sum::<usize>())
            as u64;
        info.names_memory = self.names.heap_bytes() as u64;
    }
}

/// A compiled signature database: one `DatabasePart` per source file and one prefilter over all of their
/// patterns. Immutable; share it in an `Arc`.
#[derive(Debug)]
pub struct Database {
    parts: Vec<Arc<DatabasePart>>,
    /// Each part's source file's length and modification time when this database was loaded (`None` for a
    /// text held in memory): a later load takes a file with the same stamp to be unchanged.
    stamps: Vec<Option<FileStamp>>,
    /// Shared with the database this one replaced when their patterns are the same ([`PartsLoaded::prefilter_shared`]).
    body: Arc<BodyMatcher>,
    /// Indexes of the parts that hold hash or allow-list signatures.
    hash_parts: Vec<u16>,
    info: DatabaseInfo,
}

/// One file's text and where it came from.
struct Source {
    /// As shown in messages: the path, `archive.cvd/member`, or `embedded:name`.
    name: String,
    /// The file's name without its directory (`archive.cvd/member` for a member): what [`PartKey`] compares.
    file: String,
    /// The ClamAV kind, by extension; `None` for a `VERSION` file.
    kind: Option<FileKind>,
    text: SourceText,
    /// From a signed set: a `.cvd`/`.cld` container or the embedded database. ClamAV names every other
    /// signature `NAME.UNOFFICIAL` in what it reports, and so does the daemon ([`Database::is_unofficial`]).
    official: bool,
}

/// A source's text: in memory (container members, the embedded set) or a file, read in blocks while its part is
/// built ([`for_each_line`]).
enum SourceText {
    Memory(Vec<u8>),
    File(PathBuf),
}

impl Source {
    /// The SHA-256 of the text, a file streamed through the hash rather than read whole: a reload that finds
    /// the file unchanged never holds its text.
    fn digest(&self) -> Result<[u8; 32], LoadError> {
        match &self.text {
            SourceText::Memory(text) => Ok(digest(text)),
            SourceText::File(path) => {
                let io_error = |source| LoadError::Io { path: path.clone(), source };
                let mut file = std::fs::File::open(path).map_err(io_error)?;
                let mut hasher = sha2::Sha256::new();
                let mut block = self.read_buffer();
                loop {
                    match std::io::Read::read(&mut file, &mut block) {
                        Ok(0) => break,
                        Ok(n) => hasher.update(&block[..n]),
                        Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(error) => return Err(io_error(error)),
                    }
                }
                Ok(hasher.finalize().into())
            }
        }
    }

    /// A buffer to read the file in blocks through: [`READ_BLOCK`] bytes, or the file's size when it is smaller.
    /// A small file gets a small buffer: freeing a block of a megabyte would raise glibc's mmap threshold to it,
    /// and a daemon serving a small set would then keep what its connections free.
    fn read_buffer(&self) -> Vec<u8> {
        let size_hint = usize::try_from(self.size()).unwrap_or(READ_BLOCK).saturating_add(1);
        vec![0u8; size_hint.clamp(4096, READ_BLOCK)]
    }

    /// The text's length in bytes (a file's from its metadata, 0 when unreadable).
    fn size(&self) -> u64 {
        match &self.text {
            SourceText::Memory(text) => text.len() as u64,
            SourceText::File(path) => std::fs::metadata(path).map_or(0, |metadata| metadata.len()),
        }
    }

    /// The file's length and modification time now (`None` for a text in memory or an unreadable file).
    fn stamp(&self) -> Option<FileStamp> {
        match &self.text {
            SourceText::Memory(_) => None,
            SourceText::File(path) => FileStamp::of(path),
        }
    }

    fn text(&self) -> Result<std::borrow::Cow<'_, [u8]>, LoadError> {
        match &self.text {
            SourceText::Memory(text) => Ok(std::borrow::Cow::Borrowed(text)),
            SourceText::File(path) => std::fs::read(path)
                .map(std::borrow::Cow::Owned)
                .map_err(|source| LoadError::Io { path: path.clone(), source }),
        }
    }
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
                Some(Source {
                    name: format!("embedded:{name}"),
                    file: format!("embedded:{name}"),
                    kind,
                    text: SourceText::Memory(text.as_bytes().to_vec()),
                    official: true,
                })
            })
            .collect();
        Database::build(sources, Vec::new(), None, None)
    }

    /// Loads signature files and directories, or one compiled file (told by its first bytes, whatever its
    /// name): the sources it was compiled from, with every part it holds for them unchanged, and the rest
    /// parsed (then the file is rewritten, see [`Database::load_with_compiled`]).
    ///
    /// # Errors
    /// An unreadable path, malformed lines (all listed), or no signature file at all; a compiled file whose
    /// header or table of contents cannot be used (its sources are not known then).
    pub fn load(paths: &[PathBuf]) -> Result<Database, LoadError> {
        if let [path] = paths
            && compiled::is_compiled_file(path)
        {
            let file = CompiledFile::open(path).map_err(LoadError::Compile)?;
            let sources = file.sources().to_vec();
            let (mut database, stale) = Database::load_from(&sources, Some(file), None)?;
            if stale {
                database.rewrite_compiled(&sources, path);
            }
            return Ok(database);
        }
        let (sources, ignored) = read_sources(paths)?;
        Database::build(sources, ignored, None, None)
    }

    /// Loads `paths` with the compiled form kept at `compiled`: each part it holds for a source that did not
    /// change is decoded instead of parsed (after `previous`'s parts, which are shared first). When anything
    /// had to be parsed, or the file is missing, stale, corrupt or holds other parts, it is written again from
    /// the database just loaded. What was wrong with it, and a failure to write it, are in
    /// [`DatabaseInfo::compiled`]: the load itself never fails because of the compiled form.
    ///
    /// # Errors
    /// As [`Database::load`] of `paths`.
    pub fn load_with_compiled(
        paths: &[PathBuf],
        compiled: &Path,
        previous: Option<&Database>,
    ) -> Result<Database, LoadError> {
        let (mut database, stale) = Database::load_using_compiled(paths, compiled, previous)?;
        if stale {
            database.rewrite_compiled(paths, compiled);
        }
        Ok(database)
    }

    /// [`Database::load_with_compiled`] without the write: also returns whether `compiled` is stale (missing,
    /// damaged, or not exactly this database), for a caller that writes it later with
    /// [`Database::save_compiled`] (the daemon swaps the new set in first).
    ///
    /// # Errors
    /// As [`Database::load`] of `paths`.
    pub fn load_using_compiled(
        paths: &[PathBuf],
        compiled: &Path,
        previous: Option<&Database>,
    ) -> Result<(Database, bool), LoadError> {
        let (file, problem) = match compiled.exists().then(|| CompiledFile::open(compiled)) {
            Some(Ok(file)) => (Some(file), None),
            Some(Err(reason)) => (None, Some(reason)),
            None => (None, None),
        };
        let (mut database, stale) = Database::load_from(paths, file, previous)?;
        database.info.compiled.splice(0..0, problem);
        Ok((database, stale))
    }

    /// Loads `paths` with what `file` holds; returns whether `file` must be written again.
    fn load_from(
        paths: &[PathBuf],
        file: Option<CompiledFile>,
        previous: Option<&Database>,
    ) -> Result<(Database, bool), LoadError> {
        let paths = canonical_paths(paths)?;
        let (sources, ignored) = read_sources(&paths)?;
        let database = Database::build(sources, ignored, previous, file.as_ref())?;
        let parts: Vec<(&PartKey, Option<FileStamp>)> =
            database.parts.iter().map(|part| &part.key).zip(database.stamps.iter().copied()).collect();
        let fresh = file.as_ref().is_some_and(|file| file.holds_exactly(&parts, &paths));
        let stale = !fresh || !database.info.compiled.is_empty();
        Ok((database, stale))
    }

    /// Writes the compiled form, noting the outcome in [`DatabaseInfo`] (a failure is logged, not returned).
    fn rewrite_compiled(&mut self, paths: &[PathBuf], compiled: &Path) {
        match self.save_compiled(paths, compiled) {
            Ok(()) => self.info.compiled_written = true,
            Err(error) => {
                tracing::warn!(%error, "cannot write the compiled definitions; loading goes on from source");
                self.info.compiled.push(error.to_string());
            }
        }
    }

    /// Writes the compiled form of this database, loaded from `paths`, to `path`.
    ///
    /// # Errors
    /// [`LoadError::Io`] for a path that does not exist, [`LoadError::Compile`] when `path` cannot be written.
    pub fn save_compiled(&self, paths: &[PathBuf], path: &Path) -> Result<(), LoadError> {
        self.write_compiled(path, &canonical_paths(paths)?).map_err(LoadError::Compile)
    }

    /// Loads `paths` from source and writes their compiled form to `out` (`avscan db compile`).
    ///
    /// # Errors
    /// As [`Database::load`], and [`LoadError::Compile`] when `out` cannot be written.
    pub fn compile(paths: &[PathBuf], out: &Path) -> Result<Database, LoadError> {
        let paths = canonical_paths(paths)?;
        let (sources, ignored) = read_sources(&paths)?;
        let mut database = Database::build(sources, ignored, None, None)?;
        database.write_compiled(out, &paths).map_err(LoadError::Compile)?;
        database.info.compiled_written = true;
        Ok(database)
    }

    /// [`Database::load`] of `paths`, or the embedded database when `paths` is empty (the configuration's
    /// `definitions` unset).
    ///
    /// # Errors
    /// As [`Database::load`].
    pub fn load_or_embedded(paths: &[PathBuf]) -> Result<Database, LoadError> {
        if paths.is_empty() { Database::embedded() } else { Database::load(paths) }
    }

    /// Loads `paths` (the embedded database when empty) as a new version of `previous`: every file whose part
    /// `previous` already holds (same file name, same text, same ignore lists) shares that part instead of
    /// being parsed again, so a reload costs the memory and time of the files that changed, plus the prefilter
    /// over every pattern, which is built again.
    ///
    /// # Errors
    /// As [`Database::load`]; `previous` is untouched and can go on serving.
    pub fn reload(paths: &[PathBuf], previous: &Database) -> Result<Database, LoadError> {
        if paths.is_empty() {
            return Database::embedded();
        }
        let (sources, ignored) = read_sources(paths)?;
        Database::build(sources, ignored, Some(previous), None)
    }

    /// How many parts (one per source file) the database is made of.
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// How many parts (source files) this database shares with `other`: the same part, not an equal copy.
    pub fn shared_parts(&self, other: &Database) -> usize {
        self.parts.iter().filter(|part| other.parts.iter().any(|theirs| Arc::ptr_eq(part, theirs))).count()
    }

    /// Whether this database and `other` hold the very same prefilter (one was reloaded from the other and no
    /// file with body or logical signatures changed).
    pub fn shares_prefilter(&self, other: &Database) -> bool {
        Arc::ptr_eq(&self.body, &other.body)
    }

    /// Parses signature files and directories and reports every problem, without compiling.
    ///
    /// # Errors
    /// Only an unreadable path.
    pub fn check(paths: &[PathBuf]) -> Result<CheckReport, LoadError> {
        let (sources, ignored) = read_sources(paths)?;
        let (ignore, _, mut errors) = ignore_lists(&sources)?;
        let mut parsed_parts = Vec::with_capacity(sources.len());
        let mut unsupported = Vec::new();
        for source in &sources {
            let ParsedSource { mut parsed, digest, version } = parse_source(source, &ignore)?;
            errors.append(&mut parsed.errors);
            parsed.counts.not_matched = parsed.unsupported.len() as u64;
            unsupported.append(&mut parsed.unsupported);
            parsed_parts.push((version, digest, parsed.counts));
        }
        let mut info = DatabaseInfo::default();
        for (_, _, counts) in &parsed_parts {
            info.add(counts);
        }
        info.version = definitions_version(
            sources.iter().zip(&parsed_parts).map(|(source, (version, digest, _))| (&source.file, version, digest)),
        );
        info.ignored_names = ignore.len() as u64;
        info.ignored_files = ignored;
        Ok(CheckReport { errors, unsupported, info })
    }

    /// Builds the parts (in parallel, one source per task), then the prefilter over every part's patterns. A
    /// part is shared with `previous` when it has the source's key, else decoded from `compiled` when that has
    /// it, else parsed. What `compiled` could not give is noted in [`DatabaseInfo::compiled`].
    fn build(
        sources: Vec<Source>,
        ignored_files: Vec<String>,
        previous: Option<&Database>,
        compiled: Option<&CompiledFile>,
    ) -> Result<Database, LoadError> {
        let started = Instant::now();
        if sources.is_empty() {
            return Err(LoadError::Empty("the paths given".into()));
        }
        let (ignore, ignore_digest, mut errors) = ignore_lists(&sources)?;
        let previous_parts: HashMap<&PartKey, &Arc<DatabasePart>> =
            previous.map(|previous| previous.parts.iter().map(|part| (&part.key, part)).collect()).unwrap_or_default();
        let nothing_to_reuse = previous_parts.is_empty() && compiled.is_none();
        // The SHA-256 recorded for a file whose length and modification time are those recorded.
        let known_digest = |source: &Source, stamp: Option<FileStamp>| {
            let stamp = stamp?;
            let from_previous = previous.and_then(|previous| {
                previous
                    .parts
                    .iter()
                    .zip(&previous.stamps)
                    .find(|(part, known)| part.key.file == source.file && **known == Some(stamp))
                    .map(|(part, _)| part.key.digest)
            });
            from_previous.or_else(|| compiled.and_then(|compiled| compiled.digest_for(&source.file, stamp)))
        };
        let build_one = |source: &Source, scratch: &mut crate::parallel::Scratch| -> Result<Built, LoadError> {
            let stamp = source.stamp();
            let key = |digest| PartKey { file: source.file.clone(), digest, official: source.official, ignore_digest };
            // With nothing to reuse, the text is read once, hashed as it is parsed. Otherwise a file is hashed
            // first only when its stamp is not one recorded (streamed through the hash), to look its part up, and
            // parsed only when no part has its key. A file that changes between that hash and the parse is
            // keyed by the hash of what was parsed.
            let mut rejected = None;
            if !nothing_to_reuse {
                let key = match known_digest(source, stamp) {
                    Some(digest) => key(digest),
                    None => key(source.digest()?),
                };
                if let Some(&part) = previous_parts.get(&key) {
                    return Ok(Built { part: Arc::clone(part), stamp, errors: Vec::new(), how: Obtained::Shared });
                }
                if let Some(found) = compiled.and_then(|compiled| compiled.part(&key, &mut scratch.bytes)) {
                    match found {
                        Ok(part) => {
                            let how = Obtained::Compiled;
                            return Ok(Built { part: Arc::new(part), stamp, errors: Vec::new(), how });
                        }
                        Err(reason) => rejected = Some(reason),
                    }
                }
            }
            // Read and hashed in the same pass as it is parsed, and keyed by that hash.
            let ParsedSource { parsed, digest, version } = parse_source(source, &ignore)?;
            let (part, errors) = DatabasePart::build(key(digest), version, parsed);
            Ok(Built { part: Arc::new(part), stamp, errors, how: Obtained::Parsed { rejected } })
        };
        // On a cold load from a compiled file, its prefilter is decoded while the parts are: it does not depend
        // on them (whether it is theirs is checked after), and it is a tenth of the load. Not on a reload, where
        // a changed part would make it a wasted copy held beside the set serving.
        let speculative = compiled.filter(|_| previous.is_none());
        let (built, decoded_prefilter) = std::thread::scope(|scope| {
            let prefilter = speculative.map(|file| scope.spawn(|| file.decode_prefilter()));
            let built = on_every_core(&sources, build_one);
            let decoded = prefilter
                .map(|handle| handle.join().unwrap_or_else(|_| Some(Err("the thread decoding it failed".into()))));
            (built, decoded)
        });
        let built = built.ok_or_else(|| LoadError::Compile("a thread loading the definitions failed".into()))?;
        let mut parts = Vec::with_capacity(built.len());
        let mut stamps = Vec::with_capacity(built.len());
        let mut loaded = PartsLoaded::default();
        let mut compiled_problems = Vec::new();
        for result in built {
            let Built { part, stamp, errors: mut part_errors, how } = result?;
            stamps.push(stamp);
            errors.append(&mut part_errors);
            match how {
                Obtained::Shared => loaded.shared += 1,
                Obtained::Compiled => loaded.compiled += 1,
                Obtained::Parsed { rejected } => {
                    loaded.parsed += 1;
                    compiled_problems.extend(rejected);
                }
            }
            parts.push(part);
        }
        if !errors.is_empty() {
            return Err(LoadError::Lines(errors));
        }
        let mut info = DatabaseInfo::default();
        for part in &parts {
            info.add(&part.info);
        }
        info.version = definitions_version(parts.iter().map(|part| (&part.key.file, &part.version, &part.key.digest)));
        info.ignored_names = ignore.len() as u64;
        info.ignored_files = ignored_files;
        info.parts = loaded;
        info.compiled = compiled_problems;
        let body_started = Instant::now();
        let sets: Vec<PatternSet> = parts.iter().map(|part| PatternSet::clone(&part.patterns)).collect();
        // A reload that changed no file with body or logical signatures keeps the prefilter it replaces: nothing
        // is built, and nothing is held twice.
        let kept = previous.filter(|previous| previous.body.is_over(&sets)).map(|previous| Arc::clone(&previous.body));
        // The prefilter is stored for the whole set: usable when every part came from the same compiled file.
        let keys: Vec<&PartKey> = parts.iter().map(|part| &part.key).collect();
        let stored = compiled
            .filter(|file| kept.is_none() && loaded.compiled as usize == parts.len() && file.prefilter_is_for(&keys))
            .and_then(|file| decoded_prefilter.unwrap_or_else(|| file.decode_prefilter()));
        let stored = match stored.map(|decoded| {
            decoded.and_then(|literals| {
                BodyMatcher::with_prefilter(sets.clone(), literals).map_err(|error| error.to_string())
            })
        }) {
            Some(Ok(matcher)) => {
                info.parts.prefilter_compiled = true;
                Some(matcher)
            }
            Some(Err(reason)) => {
                info.compiled.push(reason);
                None
            }
            None => None,
        };
        let body = match (kept, stored) {
            (Some(kept), _) => {
                info.parts.prefilter_shared = true;
                kept
            }
            (None, Some(matcher)) => Arc::new(matcher),
            (None, None) => {
                Arc::new(BodyMatcher::from_sets(sets).map_err(|error| LoadError::Compile(error.to_string()))?)
            }
        };
        info.body.load_time += body_started.elapsed();
        info.body.memory += body.index_heap_bytes() as u64;
        let hash_parts = (0u16..)
            .zip(&parts)
            .filter(|(_, part)| !part.hashes.is_empty() || !part.allowed.is_empty())
            .map(|(index, _)| index)
            .collect();
        info.load_time = started.elapsed();
        Ok(Database { parts, stamps, body, hash_parts, info })
    }

    /// Writes the compiled form of this database, compiled from `sources`, to `path` (see `database/compiled.rs`).
    fn write_compiled(&self, path: &Path, sources: &[PathBuf]) -> Result<(), String> {
        let parts: Vec<(&DatabasePart, Option<FileStamp>)> =
            self.parts.iter().map(|part| &**part).zip(self.stamps.iter().copied()).collect();
        compiled::write(path, sources, &parts, self.body.prefilter())
    }

    /// What the database holds.
    pub fn info(&self) -> &DatabaseInfo {
        &self.info
    }

    /// Whether it holds no signature that can match.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|part| part.hashes.is_empty()) && self.body.is_empty()
    }

    /// The definitions version.
    pub fn version(&self) -> &str {
        &self.info.version
    }

    pub(crate) fn name(&self, signature: SignatureRef) -> &str {
        self.parts.get(signature.part as usize).map_or("", |part| part.names.get(signature.name))
    }

    /// Whether the signature came from an unsigned file (not a `.cvd`/`.cld`, not the embedded set): ClamAV,
    /// and so the clamd protocol, reports such a name as `NAME.UNOFFICIAL`.
    pub(crate) fn is_unofficial(&self, signature: SignatureRef) -> bool {
        self.parts.get(signature.part as usize).is_some_and(|part| !part.key.official)
    }

    pub(crate) fn body_matcher(&self) -> &BodyMatcher {
        &self.body
    }

    /// The body signature `index` of the part whose patterns are set `set` of the matcher.
    pub(crate) fn body_name(&self, set: u16, index: u32) -> Option<SignatureRef> {
        let part = self.parts.get(set as usize)?;
        part.body_names.get(index as usize).map(|&name| SignatureRef { part: set, name })
    }

    pub(crate) fn logical_subsignature_count(&self, set: u16, signature: u32) -> usize {
        self.parts
            .get(set as usize)
            .and_then(|part| part.logical.get(signature as usize))
            .map_or(0, |entry| entry.subsignatures)
    }

    fn hash_part_list(&self) -> impl Iterator<Item = (u16, &DatabasePart)> {
        self.hash_parts.iter().filter_map(|&index| Some((index, &**self.parts.get(index as usize)?)))
    }

    pub(crate) fn hash_algorithms_for(&self, size: u64) -> AlgorithmSet {
        self.hash_part_list().fold(AlgorithmSet::default(), |set, (_, part)| {
            set.union(part.hashes.algorithms_for(size)).union(part.allowed.algorithms_for(size))
        })
    }

    pub(crate) fn lookup_hashes(&self, size: u64, digests: &PartDigests, found: &mut Vec<SignatureRef>) {
        let mut names = Vec::new();
        for (index, part) in self.hash_part_list() {
            part.hashes.lookup(size, digests, &mut names);
            found.extend(names.drain(..).map(|name| SignatureRef { part: index, name }));
        }
    }

    pub(crate) fn is_allowed(&self, size: u64, digests: &PartDigests) -> bool {
        let mut found = Vec::new();
        self.hash_part_list().any(|(_, part)| {
            part.allowed.lookup(size, digests, &mut found);
            !found.is_empty()
        })
    }

    /// Appends the logical signatures whose expression holds for these subsignature counts (keyed by the set
    /// and the signature's index in it).
    pub(crate) fn evaluate_logical(
        &self,
        counts: &HashMap<(u16, u32), Vec<u32>>,
        pass: Pass,
        size: u64,
        container: Option<FileType>,
        found: &mut Vec<SignatureRef>,
    ) {
        let entry = |&(set, index): &(u16, u32)| self.parts.get(set as usize)?.logical.get(index as usize);
        let mut matched: Vec<(u16, u32)> = counts
            .iter()
            .filter(|&(key, counts)| {
                entry(key).is_some_and(|entry| {
                    entry.target.accepts(pass)
                        && entry.file_size.as_ref().is_none_or(|range| range.contains(&size))
                        && entry.container.is_none_or(|wanted| match wanted {
                            ContainerRequirement::None => container.is_none(),
                            ContainerRequirement::Type(wanted) => container == Some(wanted),
                        })
                        && entry.expression.evaluate(counts)
                })
            })
            .map(|(&key, _)| key)
            .collect();
        // HashMap order is not deterministic; the order of the database is.
        matched.sort_unstable();
        found.extend(
            matched
                .into_iter()
                .filter_map(|key| entry(&key).map(|entry| SignatureRef { part: key.0, name: entry.name })),
        );
    }
}

/// The paths made absolute, so that a compiled file names its sources wherever it is read from.
fn canonical_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    paths
        .iter()
        .map(|path| std::fs::canonicalize(path).map_err(|source| LoadError::Io { path: path.clone(), source }))
        .collect()
}

/// A part, and how it was obtained.
struct Built {
    part: Arc<DatabasePart>,
    stamp: Option<FileStamp>,
    errors: Vec<LineError>,
    how: Obtained,
}

enum Obtained {
    Shared,
    Compiled,
    /// Parsed; `rejected` says why the compiled form's part for this source could not be used, if it had one.
    Parsed {
        rejected: Option<String>,
    },
}

/// Below this many bytes of sources a set is parsed on the calling thread: threads would cost more than they
/// save, and each leaves an allocator arena behind in a daemon.
const PARALLEL_LOAD_MIN_BYTES: u64 = 1 << 20;

/// `build` of every source, on every core (each thread takes the next source in order), the results in the
/// sources' order; `None` if a thread died. A small set is built on the calling thread: a daemon serving a
/// small set then leaves no allocator arenas behind.
fn on_every_core<T: Send>(
    sources: &[Source],
    build: impl Fn(&Source, &mut crate::parallel::Scratch) -> T + Sync,
) -> Option<Vec<T>> {
    let total: u64 = sources.iter().map(Source::size).sum();
    if total < PARALLEL_LOAD_MIN_BYTES {
        let mut scratch = crate::parallel::Scratch::default();
        return Some(sources.iter().map(|source| build(source, &mut scratch)).collect());
    }
    crate::parallel::map_dynamic(sources, build)
}

/// SHA-256 of a source's text.
fn digest(text: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(text).into()
}

/// Reads the ignore lists (`.ign`, `.ign2`) of the sources: the names they drop, the SHA-256 over them all (in
/// source order), and their malformed lines.
fn ignore_lists(sources: &[Source]) -> Result<(IgnoreList, [u8; 32], Vec<LineError>), LoadError> {
    let mut ignored = IgnoreList::new();
    let mut errors = Vec::new();
    let mut hasher = sha2::Sha256::new();
    for source in sources {
        if source.kind.and_then(FileKind::syntax) != Some(Syntax::Ignore) {
            continue;
        }
        let text = source.text()?;
        hasher.update(source.file.as_bytes());
        hasher.update([0]);
        hasher.update(digest(&text));
        for (index, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            match signature::hash::parse_ignore_line(line) {
                Ok(Line::Signature(entry)) => {
                    ignored.insert(entry.name, entry.line_md5);
                }
                Ok(_) => {}
                Err(error) => {
                    errors.push(LineError { file: source.name.clone(), line: index + 1, reason: error.reason })
                }
            }
        }
    }
    Ok((ignored, hasher.finalize().into(), errors))
}

impl DatabaseInfo {
    /// Adds a part's counts, memory, load times and files (not its version).
    fn add(&mut self, part: &DatabaseInfo) {
        for (total, part) in [
            (&mut self.hash, &part.hash),
            (&mut self.section_hash, &part.section_hash),
            (&mut self.body, &part.body),
            (&mut self.logical, &part.logical),
            (&mut self.allow, &part.allow),
        ] {
            total.count += part.count;
            total.memory += part.memory;
            total.load_time += part.load_time;
        }
        self.files.extend(part.files.iter().cloned());
        self.skipped_for_level += part.skipped_for_level;
        self.names_memory += part.names_memory;
        self.not_matched += part.not_matched;
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
            if metadata.is_dir() && compiled::is_compiled_file_name(&file_name) {
                continue;
            }
            if is_container_file(&file_name) {
                let bytes = std::fs::read(&file).map_err(io_error(&file))?;
                sources.extend(container_sources(&name, &file_name, &bytes));
                continue;
            }
            match source_kind(&file_name) {
                Some(kind) => {
                    let text = SourceText::File(file.clone());
                    sources.push(Source { name, file: file_name, kind, text, official: false });
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
        sources.push(Source {
            name: format!("{shown}:header"),
            file: format!("{file_name}:header"),
            kind,
            text: SourceText::Memory(text),
            official: true,
        });
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
                sources.push(Source {
                    name: format!("{shown}/{member}"),
                    file: format!("{file_name}/{member}"),
                    kind,
                    text: SourceText::Memory(text),
                    official: true,
                });
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

/// The definitions version a source states: `daily:27371` from a `.info` header, the first line of a
/// `VERSION` file.
fn source_version(source: &Source, text: &[u8]) -> Option<String> {
    match source.kind {
        Some(FileKind::Info) => {
            // `ClamAV-VDB:build time:version:...` on the first line.
            let file_name = source.file.rsplit(['/', ':']).find(|s| !s.is_empty() && *s != "header").unwrap_or("");
            let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
            let first = String::from_utf8_lossy(first);
            let mut fields = first.split(':');
            if fields.next() == Some("ClamAV-VDB")
                && let Some(version) = fields.nth(1)
            {
                let stem = file_name.split('.').next().unwrap_or(file_name);
                return Some(format!("{stem}:{}", version.trim()));
            }
            None
        }
        None => {
            let text = String::from_utf8_lossy(text);
            text.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_owned)
        }
        _ => None,
    }
}

/// The definitions version of a set (see [`DatabaseInfo::version`]) from each source's file name, stated
/// version and text digest.
fn definitions_version<'a>(sources: impl Iterator<Item = (&'a String, &'a Option<String>, &'a [u8; 32])>) -> String {
    let sources: Vec<_> = sources.collect();
    let mut versions: Vec<&String> = sources.iter().filter_map(|(_, version, _)| version.as_ref()).collect();
    if !versions.is_empty() {
        versions.sort();
        versions.dedup();
        return versions.into_iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    }
    let mut hasher = sha2::Sha256::new();
    let mut ordered = sources;
    ordered.sort_by(|a, b| a.0.cmp(b.0));
    for (file, _, digest) in ordered {
        hasher.update(file.rsplit('/').next().unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update(digest);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("content:{hex}")
}

/// Everything parsed from one source, before compiling.
#[derive(Default)]
struct Parsed {
    names: NameTableBuilder,
    hashes: HashStoreBuilder,
    allowed: HashStoreBuilder,
    patterns: Vec<CompiledPattern>,
    body_names: Vec<NameId>,
    logical: Vec<LogicalEntry>,
    errors: Vec<LineError>,
    unsupported: Vec<Unsupported>,
    counts: DatabaseInfo,
}

impl Parsed {
    /// The id of a body or logical signature's name (looked up: see [`NameTableBuilder`]).
    fn intern(&mut self, name: &str, file: &str, line: usize) -> Option<NameId> {
        let id = self.names.intern(name);
        self.name_added(id, file, line)
    }

    /// The id of a hash signature's name (appended: see [`NameTableBuilder`]).
    fn append_name(&mut self, name: &str, file: &str, line: usize) -> Option<NameId> {
        let id = self.names.append(name);
        self.name_added(id, file, line)
    }

    fn name_added(&mut self, id: Option<NameId>, file: &str, line: usize) -> Option<NameId> {
        if id.is_none() {
            self.errors.push(LineError { file: file.into(), line, reason: "too many signature names".into() });
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum ContainerRequirement {
    /// `CL_TYPE_ANY`: the part is not inside any container.
    None,
    /// The container directly holding the part has this type.
    Type(#[serde(with = "file_type_by_name")] FileType),
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

/// One source, parsed.
struct ParsedSource {
    parsed: Parsed,
    /// The SHA-256 of the text that was parsed (so a file that changed since it was first hashed is keyed as
    /// what was parsed).
    digest: [u8; 32],
    /// The version the source states (`.info` and `VERSION` files).
    version: Option<String>,
}

/// The size of the blocks a source file is read in. Each block's lines are parsed while it is in cache, and a
/// load never holds a whole file's text: the largest files of a real set are hundreds of megabytes.
const READ_BLOCK: usize = 1 << 20;

/// Hands each block of the source's text to `on_block` (all of them, in order) and each of its lines, with
/// its `\n`, to `on_line` (the last one without, when the text does not end with one).
fn for_each_line(
    source: &Source,
    mut on_block: impl FnMut(&[u8]),
    mut on_line: impl FnMut(&[u8]),
) -> Result<(), LoadError> {
    let path = match &source.text {
        SourceText::Memory(text) => {
            on_block(text);
            text.split_inclusive(|&b| b == b'\n').for_each(on_line);
            return Ok(());
        }
        SourceText::File(path) => path,
    };
    let io_error = |source| LoadError::Io { path: path.clone(), source };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    // Sized for the file (it grows past a line that does not fit; a file that grew since its size was read is
    // read in more blocks).
    let mut buffer = source.read_buffer();
    // `buffer[..filled]` holds the start of a line not yet ended.
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            // One line longer than the buffer: it grows to hold the line.
            buffer.resize(buffer.len().saturating_mul(2), 0);
        }
        let read = match std::io::Read::read(&mut file, buffer.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_error(error)),
        };
        let end = filled.saturating_add(read);
        on_block(buffer.get(filled..end).unwrap_or_default());
        let Some(last_line_end) =
            memchr::memrchr(b'\n', buffer.get(filled..end).unwrap_or_default()).map(|at| filled + at + 1)
        else {
            filled = end;
            continue;
        };
        buffer.get(..last_line_end).unwrap_or_default().split_inclusive(|&b| b == b'\n').for_each(&mut on_line);
        buffer.copy_within(last_line_end..end, 0);
        filled = end - last_line_end;
    }
    if filled > 0 {
        on_line(buffer.get(..filled).unwrap_or_default());
    }
    Ok(())
}

/// Reads and parses one source in one pass, dropping the signatures `ignored` names, and times it.
fn parse_source(source: &Source, ignored: &IgnoreList) -> Result<ParsedSource, LoadError> {
    let started = Instant::now();
    let mut parsed = Parsed::default();
    let before = parsed.counts.total() + parsed.counts.allow.count;
    let file = source.name.as_str();
    let mut hasher = sha2::Sha256::new();
    let mut version = None;
    // Whether the file gets a line in the per-file counts (ignore lists and PUA files do not).
    let mut listed = true;
    match source.kind.map(|kind| (kind, kind.syntax())) {
        Some((_, Some(Syntax::Ignore))) => {
            hasher.update(source.text()?);
            listed = false;
        }
        Some((kind, Some(_))) if kind.is_potentially_unwanted() => {
            // ClamAV loads PUA files only when PUA detection is asked for; so does this engine (never, yet).
            hasher.update(source.text()?);
            listed = false;
            parsed.unsupported.push(Unsupported {
                file: file.into(),
                line: 0,
                name: "(whole file)".into(),
                reason: "potentially-unwanted-application signatures are not loaded (ClamAV's DetectPUA no)".into(),
            });
        }
        Some((kind, Some(syntax))) => {
            let mut lines = LineParser {
                file,
                syntax,
                allow_list: kind.is_allow_list(),
                ignored,
                parsed: &mut parsed,
                number: 0,
                section_hashes: 0,
            };
            for_each_line(source, |block| hasher.update(block), |line| lines.line(line))?;
            lines.finish();
        }
        Some((kind, None)) => {
            let text = source.text()?;
            hasher.update(&text);
            version = source_version(source, &text);
            if !matches!(kind, FileKind::Info | FileKind::Cfg) {
                parsed.unsupported.push(Unsupported {
                    file: file.into(),
                    line: 0,
                    name: "(whole file)".into(),
                    reason: format!("{kind:?} files are not read by this engine"),
                });
            }
        }
        None => {
            let text = source.text()?;
            hasher.update(&text);
            version = source_version(source, &text);
            listed = false;
        }
    }
    if listed {
        let after = parsed.counts.total() + parsed.counts.allow.count;
        parsed.counts.files.push((file.to_owned(), after - before));
    }
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
    Ok(ParsedSource { parsed, digest: hasher.finalize().into(), version })
}

/// Parses the lines of one signature file, one at a time, into a [`Parsed`].
struct LineParser<'a> {
    /// The source's name, for messages.
    file: &'a str,
    syntax: Syntax,
    allow_list: bool,
    ignored: &'a IgnoreList,
    parsed: &'a mut Parsed,
    /// The 1-based number of the last line parsed.
    number: usize,
    /// PE section hashes read (they load, but nothing matches them yet).
    section_hashes: u64,
}

impl LineParser<'_> {
    fn line(&mut self, line: &[u8]) {
        self.number += 1;
        let parsed = &mut *self.parsed;
        let at = LineAt { ignored: self.ignored, raw: line, file: self.file, number: self.number };
        let result = match self.syntax {
            Syntax::Hash(HashKind::PeSection) => signature::parse_hash_line(HashKind::PeSection, line)
                .map(|l| self.section_hashes += u64::from(admit(l, |s| &s.name, &at, parsed).is_some())),
            Syntax::Hash(HashKind::File) => {
                signature::parse_hash_line(HashKind::File, line).map(|l| add_hash(l, self.allow_list, &at, parsed))
            }
            Syntax::Body => signature::parse_body_line(line).map(|l| add_body(l, &at, parsed)),
            Syntax::Logical => signature::parse_logical_line(line).map(|l| add_logical(l, &at, parsed)),
            Syntax::Ignore => Ok(()),
        };
        if let Err(error) = result {
            parsed.errors.push(LineError { file: self.file.into(), line: self.number, reason: error.reason });
        }
    }

    fn finish(self) {
        if self.section_hashes > 0 {
            self.parsed.counts.section_hash.count += self.section_hashes;
            self.parsed.unsupported.push(Unsupported {
                file: self.file.into(),
                line: 0,
                name: format!("({} PE section hashes)", self.section_hashes),
                reason: "PE section hashes need a PE section parser, which the decomposer does not have yet".into(),
            });
        }
    }
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
    let Some(name) = parsed.append_name(&signature.name, at.file, at.number) else { return };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocks and lines `for_each_line` hands out for `text` written to a file.
    fn streamed(text: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("daily.hdb");
        std::fs::write(&path, text).unwrap();
        let source = Source {
            name: "daily.hdb".into(),
            file: "daily.hdb".into(),
            kind: Some(FileKind::Hdb),
            text: SourceText::File(path),
            official: false,
        };
        let mut blocks = Vec::new();
        let mut lines = Vec::new();
        for_each_line(&source, |block| blocks.extend_from_slice(block), |line| lines.push(line.to_vec())).unwrap();
        (blocks, lines)
    }

    #[test]
    fn a_file_streams_as_the_lines_of_its_whole_text() {
        // Lines that straddle the read blocks, one longer than two blocks, with and without a final line end.
        let mut text = Vec::new();
        for i in 0..60_000 {
            text.extend_from_slice(format!("{i:032x}:{}:Name-{i}\n", i + 1).as_bytes());
        }
        text.extend(std::iter::repeat_n(b'x', 2 * READ_BLOCK + 17));
        text.extend_from_slice(b"\n\nlast line without an end");
        assert!(text.len() > 4 * READ_BLOCK);
        for text in [&text[..], &text[..text.len() - 25], &text[..READ_BLOCK], b"", b"\n", b"one"] {
            let (blocks, lines) = streamed(text);
            assert_eq!(blocks, text, "the blocks are the whole text, in order");
            let expected: Vec<Vec<u8>> = text.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            assert_eq!(lines.len(), expected.len());
            assert!(lines == expected, "the lines of a {} byte text", text.len());
        }
    }
}
