//! The compiled definitions form: every part of a definitions set (one per source file, see
//! [`super::Database`]) as it is held in memory, in one file whose parts are read and decoded in parallel, so
//! that a set loads without parsing a line. `avscan db compile SRC... -o FILE` writes one; the daemon keeps one
//! beside its definitions and rewrites it after every load that had to parse.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! magic "AVSCNDB\n" | format version u32 | schema fingerprint [32] | contents offset u64 | contents length u64
//! | contents CRC-32 u32 | part blobs ... | prefilter blob | contents
//! ```
//!
//! The contents (postcard) name the avscan version that wrote the file, the source paths it was compiled from,
//! one entry per part (its key: file name, SHA-256 of the text, official or not, SHA-256 of the ignore lists;
//! the file's length and modification time when it was compiled; where its blob lies, with the blob's CRC-32),
//! and where the prefilter lies. A part's blob is the postcard encoding of the part; the prefilter's is the
//! multi-pattern prefilter over every part's anchors ([`LiteralSet`]), which is the costliest thing to build
//! (1.7 s of the 8.7 M-signature set) and is used only when every part came from the file, in the file's
//! order, and its anchors are, byte for byte, those of the parts.
//!
//! Nothing in the file is trusted before it is checked: the magic, the format version, the schema fingerprint
//! (the SHA-256 of a fixed set of signatures compiled and encoded by this build, so that any change to what is
//! encoded, or how, makes older files stale without anyone remembering to bump a number), the avscan version,
//! the contents' CRC and bounds, and each blob's CRC and bounds before it is decoded. A part is used only for a
//! source whose key it has: a source whose length and modification time are those recorded is taken to have
//! the recorded SHA-256; any other is hashed. Whatever fails a check is rebuilt from its source and reported
//! ([`super::DatabaseInfo::compiled`]); a file that cannot be used at all is rebuilt whole. Decoding errors are
//! errors, never panics.
//!
//! Each part's blob is read on its own (`pread`) and dropped once decoded, so a load holds the bytes of the parts
//! being decoded, not of the whole file; a memory map would save one copy from the page cache (a few
//! milliseconds per hundred megabytes) for `unsafe` code and a file-sized bump in resident memory. Nothing is
//! used in place: the matcher's patterns are nested (segments, tokens, alternations), so they are decoded into
//! the same structures a parse builds; the hash tables and the names are long byte runs, copied in one pass
//! each.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use sha2::Digest as _;

use crate::literals::LiteralSet;

use super::{
    CompiledPattern, DatabaseInfo, DatabasePart, HashStore, KindStats, LogicalEntry, NameId, NameTable, PartKey,
};

/// The first bytes of a compiled file.
const MAGIC: &[u8; 8] = b"AVSCNDB\n";

/// The layout version: bump it when the header or the contents change shape (what a part encodes is covered by
/// the schema fingerprint).
const FORMAT_VERSION: u32 = 1;

/// magic, version, schema fingerprint, contents offset, contents length, contents CRC-32.
const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 8 + 4;

/// A source file's length and modification time, to tell it unchanged without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct FileStamp {
    len: u64,
    modified_ns: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now, if it can be read.
    pub(super) fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        let modified = metadata.modified().ok()?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some(FileStamp { len: metadata.len(), modified_ns: u64::try_from(modified.as_nanos()).ok()? })
    }
}

/// `FileType` by its name (`zip`, `pe`, ...), for the serde derives of the types that hold one.
pub(crate) mod file_type_by_name {
    use decomposer::FileType;

    pub(crate) fn serialize<S: serde::Serializer>(file_type: &FileType, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(file_type.as_str())
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<FileType, D::Error> {
        let name: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(deserializer)?;
        FileType::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown file type {name}")))
    }
}

/// A part as it is written.
#[derive(serde::Serialize)]
struct StoredPartRef<'a> {
    names: &'a NameTable,
    hashes: &'a HashStore,
    allowed: &'a HashStore,
    patterns: &'a [CompiledPattern],
    body_names: &'a [NameId],
    logical: &'a [LogicalEntry],
    version: &'a Option<String>,
    info: StoredInfo,
}

/// A part as it is read back (the same fields, owned).
#[derive(serde::Deserialize)]
struct StoredPart {
    names: NameTable,
    hashes: HashStore,
    allowed: HashStore,
    patterns: Vec<CompiledPattern>,
    body_names: Vec<NameId>,
    logical: Vec<LogicalEntry>,
    version: Option<String>,
    info: StoredInfo,
}

/// What a part reports about itself, less what is measured again when it is read (memory, load time).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredInfo {
    /// Counts of hash, section hash, body, logical and allow-list signatures.
    counts: [u64; 5],
    files: Vec<(String, u64)>,
    skipped_for_level: u64,
    not_matched: u64,
}

impl StoredInfo {
    fn of(info: &DatabaseInfo) -> StoredInfo {
        StoredInfo {
            counts: kinds(info).map(|stats| stats.count),
            files: info.files.clone(),
            skipped_for_level: info.skipped_for_level,
            not_matched: info.not_matched,
        }
    }

    fn into_info(self) -> DatabaseInfo {
        let mut info = DatabaseInfo::default();
        for (stats, count) in kinds_mut(&mut info).into_iter().zip(self.counts) {
            stats.count = count;
        }
        info.files = self.files;
        info.skipped_for_level = self.skipped_for_level;
        info.not_matched = self.not_matched;
        info
    }
}

fn kinds(info: &DatabaseInfo) -> [&KindStats; 5] {
    [&info.hash, &info.section_hash, &info.body, &info.logical, &info.allow]
}

fn kinds_mut(info: &mut DatabaseInfo) -> [&mut KindStats; 5] {
    [&mut info.hash, &mut info.section_hash, &mut info.body, &mut info.logical, &mut info.allow]
}

impl<'a> StoredPartRef<'a> {
    fn of(part: &'a DatabasePart) -> StoredPartRef<'a> {
        StoredPartRef {
            names: &part.names,
            hashes: &part.hashes,
            allowed: &part.allowed,
            patterns: &part.patterns,
            body_names: &part.body_names,
            logical: &part.logical,
            version: &part.version,
            info: StoredInfo::of(&part.info),
        }
    }
}

/// The postcard encoding of a part (what [`write`] streams to the file).
fn encode_part(part: &DatabasePart) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(&StoredPartRef::of(part))
}

/// A writer that counts and checksums what goes through it.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: std::io::Write> std::io::Write for Checksummed<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        let written_bytes = bytes.get(..written).unwrap_or_default();
        self.crc.update(written_bytes);
        self.len += written_bytes.len() as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One entry of the contents.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    key: PartKey,
    stamp: Option<FileStamp>,
    offset: u64,
    len: u64,
    crc: u32,
}

/// Where a blob lies, and its CRC-32.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Blob {
    offset: u64,
    len: u64,
    crc: u32,
}

/// The contents: who wrote the file, from what, where each part is, and the prefilter over all of their
/// patterns (valid for exactly these parts in this order).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Contents {
    avscan: String,
    sources: Vec<PathBuf>,
    entries: Vec<Entry>,
    prefilter: Option<Blob>,
}

/// A compiled file, open and checked down to its contents (the blobs are checked when decoded).
pub(super) struct CompiledFile {
    file: std::fs::File,
    len: u64,
    contents: Contents,
    path: PathBuf,
}

impl std::fmt::Debug for CompiledFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFile").field("path", &self.path).field("parts", &self.contents.entries.len()).finish()
    }
}

/// The extension of compiled files: a directory's files with it are not sources (the daemon keeps its compiled
/// form in its definitions directory), nor are the temporary files they are written to.
const EXTENSION: &str = "avdb";

/// Whether a file of a definitions directory is a compiled form or one being written.
pub(super) fn is_compiled_file_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, extension)| extension == EXTENSION)
        || name.starts_with('.') && name.ends_with(".tmp") && name.contains(&format!(".{EXTENSION}."))
}

/// Whether the file at `path` starts like a compiled file.
pub(crate) fn is_compiled_file(path: &Path) -> bool {
    let mut magic = [0; MAGIC.len()];
    std::fs::File::open(path).and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic)).is_ok()
        && &magic == MAGIC
}

impl CompiledFile {
    /// Opens and checks the file. `Err` says what is wrong (for the log and [`DatabaseInfo::compiled`]).
    pub(super) fn open(path: &Path) -> Result<CompiledFile, String> {
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|error| format!("cannot open {shown}: {error}"))?;
        let len = file.metadata().map_err(|error| format!("cannot read {shown}: {error}"))?.len();
        let contents = read_contents(&file, len).map_err(|reason| format!("{shown}: {reason}"))?;
        Ok(CompiledFile { file, len, contents, path: path.to_owned() })
    }

    /// The source paths the file was compiled from.
    pub(super) fn sources(&self) -> &[PathBuf] {
        &self.contents.sources
    }

    /// The SHA-256 recorded for the file named `file` when it had this stamp, if any.
    pub(super) fn digest_for(&self, file: &str, stamp: FileStamp) -> Option<[u8; 32]> {
        self.contents
            .entries
            .iter()
            .find(|entry| entry.key.file == file && entry.stamp == Some(stamp))
            .map(|entry| entry.key.digest)
    }

    /// Whether the file holds exactly these parts (same keys and stamps, same order) compiled from `sources`.
    pub(super) fn holds_exactly(&self, parts: &[(&PartKey, Option<FileStamp>)], sources: &[PathBuf]) -> bool {
        self.contents.sources == sources
            && self.contents.entries.len() == parts.len()
            && self
                .contents
                .entries
                .iter()
                .zip(parts)
                .all(|(entry, (key, stamp))| &entry.key == *key && entry.stamp == *stamp)
    }

    /// The part with this key, decoded, or why it cannot be used; `None` when the file has no such part.
    pub(super) fn part(&self, key: &PartKey, buffer: &mut Vec<u8>) -> Option<Result<DatabasePart, String>> {
        let entry = self.contents.entries.iter().find(|entry| &entry.key == key)?;
        let decoded = self.decode(entry, buffer);
        Some(decoded.map_err(|reason| format!("{}: part {}: {reason}", self.path.display(), key.file)))
    }

    /// Whether the file's prefilter, if it holds one, is the one of exactly the parts `keys` (in this order).
    pub(super) fn prefilter_is_for(&self, keys: &[&PartKey]) -> bool {
        self.contents.entries.len() == keys.len()
            && self.contents.entries.iter().zip(keys).all(|(entry, key)| &entry.key == *key)
    }

    /// The stored prefilter, decoded (its checksum checked), or why it cannot be; `None` when the file holds
    /// none. Whether it is the prefilter of the parts in use is for [`CompiledFile::prefilter_is_for`] and
    /// `BodyMatcher::with_prefilter` to say.
    pub(super) fn decode_prefilter(&self) -> Option<Result<LiteralSet, String>> {
        let blob = self.contents.prefilter?;
        let decoded = read_at(&self.file, self.len, blob.offset, blob.len)
            .map_err(|reason| format!("its bytes {reason}"))
            .and_then(|bytes| {
                if crc32fast::hash(&bytes) != blob.crc {
                    return Err("its checksum does not match (corrupt)".to_owned());
                }
                postcard::from_bytes::<LiteralSet>(&bytes).map_err(|error| format!("cannot decode it: {error}"))
            });
        Some(decoded.map_err(|reason| self.prefilter_problem(&reason)))
    }

    /// A problem with the stored prefilter, as reported.
    fn prefilter_problem(&self, reason: &str) -> String {
        format!("{}: the prefilter: {reason}", self.path.display())
    }

    /// Reads the part's blob into `buffer`, then decodes it.
    fn decode(&self, entry: &Entry, buffer: &mut Vec<u8>) -> Result<DatabasePart, String> {
        let started = std::time::Instant::now();
        read_into(&self.file, self.len, entry.offset, entry.len, buffer)
            .map_err(|reason| format!("its bytes {reason}"))?;
        let blob = buffer.as_slice();
        if crc32fast::hash(blob) != entry.crc {
            return Err("its checksum does not match (corrupt)".into());
        }
        let mut stored: StoredPart =
            postcard::from_bytes(blob).map_err(|error| format!("cannot decode it: {error}"))?;
        // serde grows a decoded vector from at most 1 MiB of room (it does not trust the length it is told):
        // what is held for the set's life keeps no spare capacity.
        stored.patterns.shrink_to_fit();
        stored.body_names.shrink_to_fit();
        stored.logical.shrink_to_fit();
        stored.names.shrink_to_fit();
        let info = stored.info.into_info();
        let mut part = DatabasePart {
            key: entry.key.clone(),
            names: stored.names,
            hashes: stored.hashes,
            allowed: stored.allowed,
            patterns: stored.patterns.into(),
            body_names: stored.body_names,
            logical: stored.logical,
            version: stored.version,
            info,
        };
        // A file holds one kind of signature: its decoding time is that kind's load time.
        let elapsed = started.elapsed();
        {
            let mut loaded = kinds_mut(&mut part.info).into_iter().filter(|stats| stats.count > 0);
            if let (Some(stats), None) = (loaded.next(), loaded.next()) {
                stats.load_time = elapsed;
            }
        }
        part.measure();
        Ok(part)
    }
}

/// `len` bytes at `offset` of `file` (`file_len` bytes long), or why not.
fn read_at(file: &std::fs::File, file_len: u64, offset: u64, len: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    read_into(file, file_len, offset, len, &mut bytes)?;
    Ok(bytes)
}

/// [`read_at`] into `bytes` (its allocation reused).
fn read_into(file: &std::fs::File, file_len: u64, offset: u64, len: u64, bytes: &mut Vec<u8>) -> Result<(), String> {
    use std::os::unix::fs::FileExt as _;
    if offset.checked_add(len).is_none_or(|end| end > file_len) {
        return Err("lie outside the file (truncated?)".into());
    }
    bytes.clear();
    bytes.resize(usize::try_from(len).map_err(|_| "are too many for this machine")?, 0);
    file.read_exact_at(bytes, offset).map_err(|error| format!("cannot be read: {error}"))
}

fn read_contents(file: &std::fs::File, file_len: u64) -> Result<Contents, String> {
    let header = read_at(file, file_len, 0, HEADER_LEN as u64)
        .map_err(|_| "shorter than a compiled file's header (truncated?)".to_owned())?;
    let (magic, rest) = header.split_at(MAGIC.len());
    if magic != MAGIC {
        return Err("not a compiled definitions file".into());
    }
    let word = |bytes: &[u8]| bytes.try_into().map(u64::from_le_bytes).unwrap_or(u64::MAX);
    let (version, rest) = rest.split_at(4);
    let version = version.try_into().map(u32::from_le_bytes).unwrap_or(u32::MAX);
    if version != FORMAT_VERSION {
        return Err(format!("format version {version}, this avscan reads {FORMAT_VERSION}"));
    }
    let (schema, rest) = rest.split_at(32);
    if schema != schema_fingerprint() {
        return Err("compiled by a build of avscan that encodes signatures differently".into());
    }
    let (offset, rest) = rest.split_at(8);
    let (len, crc) = rest.split_at(8);
    let (offset, len) = (word(offset), word(len));
    let crc = crc.try_into().map(u32::from_le_bytes).unwrap_or(0);
    let contents = read_at(file, file_len, offset, len).map_err(|reason| format!("its table of contents {reason}"))?;
    if crc32fast::hash(&contents) != crc {
        return Err("the checksum of its table of contents does not match (corrupt)".into());
    }
    let contents: Contents =
        postcard::from_bytes(&contents).map_err(|error| format!("cannot decode its table of contents: {error}"))?;
    if contents.avscan != env!("CARGO_PKG_VERSION") {
        return Err(format!("written by avscan {}, this is {}", contents.avscan, env!("CARGO_PKG_VERSION")));
    }
    Ok(contents)
}

/// Writes the parts, compiled from `sources`, to `path`: into a temporary file beside it, then renamed over it,
/// so that a reader sees the old file or the new one, never half of one.
pub(super) fn write(
    path: &Path,
    sources: &[PathBuf],
    parts: &[(&DatabasePart, Option<FileStamp>)],
    prefilter: &LiteralSet,
) -> Result<(), String> {
    let shown = path.display();
    let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temporary =
        tempfile_in(directory, path).map_err(|error| format!("cannot create beside {shown}: {error}"))?;
    let result = (|| -> Result<(), String> {
        let io = |error: std::io::Error| format!("cannot write {shown}: {error}");
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut temporary.1);
        writer.write_all(&[0; HEADER_LEN]).map_err(io)?;
        let mut offset = HEADER_LEN as u64;
        let mut entries = Vec::with_capacity(parts.len());
        // Each part is encoded straight into the file: a reload that rewrites the file holds no encoded copy.
        for &(part, stamp) in parts {
            let counted = Checksummed { inner: &mut writer, crc: crc32fast::Hasher::new(), len: 0 };
            let counted = postcard::to_io(&StoredPartRef::of(part), counted)
                .map_err(|error| format!("cannot write part {} to {shown}: {error}", part.key.file))?;
            let (len, crc) = (counted.len, counted.crc.finalize());
            entries.push(Entry { key: part.key.clone(), stamp, offset, len, crc });
            offset += len;
        }
        let counted = Checksummed { inner: &mut writer, crc: crc32fast::Hasher::new(), len: 0 };
        let counted = postcard::to_io(prefilter, counted)
            .map_err(|error| format!("cannot write the prefilter to {shown}: {error}"))?;
        let prefilter = Blob { offset, len: counted.len, crc: counted.crc.finalize() };
        offset += prefilter.len;
        let contents = Contents {
            avscan: env!("CARGO_PKG_VERSION").into(),
            sources: sources.to_vec(),
            entries,
            prefilter: Some(prefilter),
        };
        let contents = postcard::to_allocvec(&contents).map_err(|error| format!("cannot encode {shown}: {error}"))?;
        writer.write_all(&contents).map_err(io)?;
        writer.flush().map_err(io)?;
        drop(writer);
        let file = &mut temporary.1;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(schema_fingerprint());
        header.extend_from_slice(&offset.to_le_bytes());
        header.extend_from_slice(&(contents.len() as u64).to_le_bytes());
        header.extend_from_slice(&crc32fast::hash(&contents).to_le_bytes());
        std::io::Seek::seek(file, std::io::SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&header).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary.0, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary.0);
    }
    result
}

/// A new file `.NAME.PID.tmp` beside `path`.
fn tempfile_in(directory: &Path, path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = directory.join(format!(".{name}.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&temporary)?;
    Ok((temporary, file))
}

/// Signatures of every kind, with every element a pattern can hold, compiled and encoded by this build for the
/// schema fingerprint.
const CANARY: &[(&str, &str)] = &[
    (
        "canary.ndb",
        "Canary.Body-1:0:*:41424344??45{2-5}4647*4748(4a|4b4c)!(4d|4e)4f5051(B)\n\
         Canary.Body-5:0:*:70[1-3]7172737475\n\
         Canary.Body-2:1:EOF-10,4:(L)6162636465a?66?7(W)\n\
         Canary.Body-3:7:100,20:68696a6b6c{-3}6d6e6f\n\
         Canary.Body-4:6:0:7f454c46\n",
    ),
    (
        "canary.ldb",
        "Canary.Logical-1;Engine:51-255,Target:0,FileSize:10-2000,Container:CL_TYPE_ZIP;(0&1)|2>1,1;41424344::i;45464748::w;4a4b4c4d4e::fa\n\
         Canary.Logical-2;Engine:51-255,Target:1;0=0|1<3;10:50515253;EOF-20:54555657\n",
    ),
    ("canary.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Canary.Hash-1\n"),
    (
        "canary.hsb",
        "3395856ce81f2b7382dee72602f798b642f14140:*:Canary.Hash-2:73\n\
         275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:68:Canary.Hash-3\n",
    ),
    ("canary.fp", "44d88612fea8a8f36de82e1278abb02f:69:Canary.Allowed\n"),
];

/// The SHA-256 of [`CANARY`] compiled and encoded, computed once.
pub(super) fn schema_fingerprint() -> &'static [u8; 32] {
    static FINGERPRINT: OnceLock<[u8; 32]> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let mut hasher = sha2::Sha256::new();
        let parts = canary_parts();
        for (part, errors) in &parts {
            hasher.update(encode_part(part).unwrap_or_default());
            hasher.update(format!("{errors:?}"));
        }
        let sets = parts.iter().map(|(part, _)| part.patterns.clone()).collect();
        match crate::matcher::BodyMatcher::from_sets(sets) {
            Ok(matcher) => hasher.update(postcard::to_allocvec(matcher.prefilter()).unwrap_or_default()),
            Err(error) => hasher.update(error.to_string()),
        }
        hasher.finalize().into()
    })
}

/// [`CANARY`] compiled, one part per file, with each file's malformed lines (none, a test checks).
fn canary_parts() -> Vec<(DatabasePart, Vec<super::LineError>)> {
    CANARY
        .iter()
        .filter_map(|(name, text)| {
            let kind = super::source_kind(name)?;
            let source = super::Source {
                name: (*name).into(),
                file: (*name).into(),
                kind,
                text: super::SourceText::Memory(text.as_bytes().to_vec()),
                official: false,
            };
            // A text in memory: no read to fail.
            let parsed = super::parse_source(&source, &super::IgnoreList::new()).ok()?.parsed;
            let key = PartKey { file: source.file.clone(), digest: [0; 32], official: false, ignore_digest: [0; 32] };
            Some(DatabasePart::build(key, None, parsed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_parses_cleanly_and_holds_every_kind() {
        let parts = canary_parts();
        assert_eq!(parts.len(), CANARY.len());
        let mut total = DatabaseInfo::default();
        for (part, errors) in &parts {
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(part.info.not_matched, 0, "{:?}", part.info);
            total.add(&part.info);
        }
        assert_eq!(kinds(&total).map(|stats| stats.count), [3, 0, 5, 2, 1]);
    }

    #[test]
    fn a_part_round_trips_through_its_encoding() {
        for (part, _) in canary_parts() {
            let blob = encode_part(&part).unwrap();
            let stored: StoredPart = postcard::from_bytes(&blob).unwrap();
            assert_eq!(stored.patterns, *part.patterns);
            assert_eq!(stored.body_names, part.body_names);
            assert_eq!(stored.logical.len(), part.logical.len());
            assert_eq!(stored.names.len(), part.names.len());
            assert_eq!(stored.hashes.len(), part.hashes.len());
            assert_eq!(stored.allowed.len(), part.allowed.len());
            // The same bytes again: the encoding is deterministic, which the fingerprint relies on.
            let again = encode_part(&part).unwrap();
            assert_eq!(blob, again);
        }
    }
}
