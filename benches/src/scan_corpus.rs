//! Deterministic inputs for the scanner's benchmarks: mixed data, random body signatures, and a mixed corpus of
//! archives and mail for whole scans against clamscan.
//!
//! Everything is generated from fixed seeds by the code below (the [`XorShift`] of the crate root), never
//! downloaded, so `benches/benches/matcher.rs`, `benches/benches/scan.rs` and `benches/scan-peers.sh` measure
//! the same bytes on every machine.
//!
//! - [`Mixer`] writes *mixed data*: runs of 2 to 32 KiB of text (64 % of the runs: prose and log lines from a
//!   made-up vocabulary), x86-like code (31 %: common instructions with small displacements, about 19 % zero
//!   bytes as in real executables) and random bytes (5 %: already compressed content). The mix deflates about
//!   2.8:1 at level 6 (text 3.6:1, code 2.6:1), like real attachments, so decompression and matching cost what
//!   they cost on real mail. Archive members and attachments are typed by their names: `.txt` and `.log` are
//!   text only (which scanners match twice, the second time normalized), `.exe` and `.dll` mixed data behind an
//!   `MZ` header, the rest mixed data behind a binary header.
//! - [`signatures`] are random 16 to 32 byte strings; the sets of 1, 1,000 and 10,000 are prefixes of one
//!   sequence, so a signature planted in the corpus is in every set large enough to hold its index. They are
//!   written as ClamAV body signatures (`Bench.Sig-<i>:0:*:<hex>`, one `.ndb` per set), which both avscan and
//!   clamscan load.
//! - [`ensure_corpus`] writes the corpus for whole scans into `<dir>/corpus/`, scaled by `mb` (its size on disk
//!   is about `mb` MB). At the size, [`DEFAULT_SCAN_MB`] = 300: 364 files, 288 MB on disk (69.5 MB of
//!   it in 295 mail messages), 678 MB of generated content, and 2,621 parts holding 1,189 MB once decomposed by
//!   avscan (inputs, containers and leaves; 1,132 parts and 1,068 MB without the mail); generated in about 40 s.
//!   - `corpus/archives/`: zips (deflate members, some holding a stored nested zip, which may hold another, and
//!     a stored nested `.tar.gz`), `.tar.gz` (gzip -6), `.tar.bz2` (-9) and `.tar.xz` (preset 6) archives, and
//!     one gzip of a single file of 0.875 `mb` MB (about `mb`/3 MB compressed: the "100 MB gzip" of the 300 MB
//!     corpus);
//!   - `corpus/mail/`: RFC 5322 messages, `multipart/mixed` with a text part and 1 to 3 base64 attachments.
//!     ClamAV decodes every attachment; avscan's decomposer did not decode MIME when this was written (a
//!     message was one text leaf to it), so the script reports figures with and without this directory, and
//!     says from avscan's part count which was the case.
//!
//!   Three signatures are planted in six archive members (never in mail, which avscan may not decode);
//!   [`ScanCorpus::planted`] lists them, and every engine must report exactly those (file, signature) pairs
//!   that are in its set. Random signatures occur nowhere else (2^-128 per position).
//!
//! Like the decomposition inputs of the crate root, the corpus is cached: `<dir>/manifest.txt` is written last
//! and records the generator version, the size, and the number and total size of the corpus files, and a
//! directory whose manifest matches is reused as it is. Bump [`SCAN_GENERATOR`] whenever the bytes change.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};

use crate::{Member, XorShift};

/// Bumped whenever the generated corpus or signatures change, so that a stale cache is never reused.
pub const SCAN_GENERATOR: u32 = 2;
/// The corpus size on disk when `BENCH_MB` is not set, in MB: the size issue 3 asks for.
pub const DEFAULT_SCAN_MB: u64 = 300;
/// The seed of the corpus.
pub const SCAN_SEED: u64 = 0x5ca0_c0de_0b0d_1e55;
/// The seed of the signature sequence.
pub const SIGNATURE_SEED: u64 = 0x0051_9a7e_5eed_0001;
/// The signature sets written beside the corpus (`sigs-<N>/bench.ndb`).
pub const SIGNATURE_SETS: [usize; 4] = [1, 1_000, 10_000, 100_000];
/// Signature lengths, in bytes (inclusive).
pub const SIGNATURE_LEN: (usize, usize) = (16, 32);

/// Percent of mixed-data runs that are text; [`X86_PERCENT`] more are x86-like, the rest random.
pub const TEXT_PERCENT: u64 = 64;
/// See [`TEXT_PERCENT`].
pub const X86_PERCENT: u64 = 31;

/// The value of the environment variable `name` as a positive integer, or `default` when it is not set.
///
/// # Panics
/// When the variable is set but is not a positive integer.
pub fn env_positive(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(number) if number > 0 => number,
            _ => panic!("{name} must be a positive integer, not {value:?}"),
        },
        Err(_) => default,
    }
}

/// The corpus directory for `mb`: `<target>/bench-inputs/scan-v<SCAN_GENERATOR>-<mb>mb`, where `<target>` is
/// `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
pub fn default_scan_dir(mb: u64) -> PathBuf {
    crate::default_dir(mb)
        .parent()
        .map_or_else(|| PathBuf::from("bench-inputs"), Path::to_path_buf)
        .join(format!("scan-v{SCAN_GENERATOR}-{mb}mb"))
}

/// Limits that cut nothing in the benches' scans: sizes at their maximum (4294967294, the cumulative one with
/// its override), depth 10 (the corpus nests 4 deep), no time or file-count limit. `scan-peers.sh` gives avscan
/// the same through its flags (the cumulative size at the CLI's 2 GiB, which no input of the corpus reaches).
///
/// # Panics
/// Never: the values are in range.
pub fn limits_that_cut_nothing() -> decomposer::Limits {
    decomposer::Limits::builder()
        .max_extract_depth(10)
        .max_extract_size(decomposer::MAX_EXTRACT_SIZE_OVERRIDE)
        .allow_large_cumulative_extract_size(true)
        .max_cumulative_extract_size(decomposer::MAX_EXTRACT_SIZE_OVERRIDE)
        .max_extract_time(0)
        .max_file_count(0)
        .build()
        .expect("the benchmark limits are in range")
}

/// Where the benches keep signature sets that belong to no corpus: `<target>/bench-inputs/signatures`.
pub fn signatures_dir() -> PathBuf {
    default_scan_dir(0).parent().map_or_else(|| PathBuf::from("bench-inputs"), Path::to_path_buf).join("signatures")
}

/// The name of signature `index` in every set: `Bench.Sig-<index>`.
pub fn signature_name(index: usize) -> String {
    format!("Bench.Sig-{index}")
}

/// The first `count` signatures of the fixed sequence: random bytes, [`SIGNATURE_LEN`] long. The first `n` of
/// any call are the same, so smaller sets are prefixes of larger ones.
pub fn signatures(count: usize) -> Vec<Vec<u8>> {
    let mut rng = XorShift::new(SIGNATURE_SEED);
    let (shortest, longest) = SIGNATURE_LEN;
    (0..count)
        .map(|_| {
            let len = shortest + rng.below((longest - shortest + 1) as u64) as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        })
        .collect()
}

/// The signatures as a ClamAV `.ndb`: one `Bench.Sig-<i>:0:*:<hex>` line each (any target type, any offset).
pub fn ndb(signatures: &[Vec<u8>]) -> String {
    let mut out = String::with_capacity(signatures.len() * 80);
    for (index, signature) in signatures.iter().enumerate() {
        let _ = write!(out, "{}:0:*:", signature_name(index));
        for byte in signature {
            let _ = write!(out, "{byte:02x}");
        }
        out.push('\n');
    }
    out
}

/// Writes the first `count` signatures to `<dir>/sigs-<count>/bench.ndb` (only when its content differs) and
/// returns that directory, which both `Database::load` and `avscan --db` take.
///
/// # Errors
/// When the file cannot be written.
pub fn write_signature_set(dir: &Path, count: usize) -> io::Result<PathBuf> {
    let set_dir = dir.join(format!("sigs-{count}"));
    fs::create_dir_all(&set_dir)?;
    let path = set_dir.join("bench.ndb");
    let text = ndb(&signatures(count));
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        fs::write(set_dir.join("bench.ndb.tmp"), &text)?;
        fs::rename(set_dir.join("bench.ndb.tmp"), &path)?;
    }
    Ok(set_dir)
}

/// Writes mixed data (text, x86-like code, random bytes) from a seed; see the module documentation.
#[derive(Debug, Clone)]
pub struct Mixer {
    rng: XorShift,
    words: Vec<Vec<u8>>,
    /// Log message templates: a few words each.
    templates: Vec<Vec<u8>>,
    /// Milliseconds of the log lines' clock.
    clock: u64,
    /// Runs of a few x86 instructions that recur.
    idioms: Vec<Vec<u8>>,
}

/// Prose draws from the first this many words of the vocabulary (Zipf-like, so the first few dominate).
const PROSE_WORDS: usize = 1000;

impl Mixer {
    /// A mixer whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Mixer {
        let mut fixed = XorShift::new(0x0076_6f63_6162_756c);
        let words = vocabulary(&mut fixed);
        let templates = (0..64)
            .map(|_| {
                let mut template = Vec::new();
                for _ in 0..3 + fixed.below(7) {
                    template.extend_from_slice(&words[fixed.skewed(words.len() as u64) as usize]);
                    template.push(b' ');
                }
                template
            })
            .collect();
        let idioms = (0..48)
            .map(|_| {
                let mut idiom = Vec::new();
                for _ in 0..3 + fixed.below(8) {
                    x86_instruction(&mut fixed, &mut idiom);
                }
                idiom
            })
            .collect();
        Mixer { rng: XorShift::new(seed), words, templates, clock: 1_773_000_000_000, idioms }
    }

    /// Appends exactly `len` bytes of mixed data to `out`, in runs of 2 to 32 KiB.
    pub fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        let end = out.len() + len;
        out.reserve(len);
        while out.len() < end {
            let run_end = (out.len() + 2048 + self.rng.below(30 * 1024) as usize).min(end);
            let kind = self.rng.below(100);
            if kind < TEXT_PERCENT {
                self.text(out, run_end);
            } else if kind < TEXT_PERCENT + X86_PERCENT {
                self.x86(out, run_end);
            } else {
                while out.len() < run_end {
                    out.extend_from_slice(&self.rng.next_u64().to_le_bytes());
                }
            }
            out.truncate(run_end);
        }
    }

    /// Exactly `len` bytes of mixed data behind a 16-byte binary header with NUL bytes, so type detection calls
    /// them binary: never a container, and never text (which a scanner matches a second time, normalized).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        self.with_header(b"BDAT\x00\x02\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00", len)
    }

    /// Exactly `len` bytes shaped like a Windows program: an `MZ` header (whose PE offset is 0, so no parser
    /// takes it for a valid PE), then mixed data.
    pub fn executable(&mut self, len: usize) -> Vec<u8> {
        let mut header = [0u8; 64];
        header[..16].copy_from_slice(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00");
        self.with_header(&header, len)
    }

    /// Exactly `len` bytes of text only (prose and log lines).
    pub fn text_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 256);
        self.text(&mut out, len);
        out.truncate(len);
        out
    }

    fn with_header(&mut self, header: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&header[..header.len().min(len)]);
        let rest = len - out.len();
        self.fill(&mut out, rest);
        out
    }

    /// Text lines up to at least `end`: prose sentences and log lines.
    fn text(&mut self, out: &mut Vec<u8>, end: usize) {
        let rng = &mut self.rng;
        let words = &self.words[..PROSE_WORDS];
        while out.len() < end {
            if rng.chance(40) {
                // Log lines repeat a few dozen templates, with increasing timestamps, as real logs do.
                self.clock += rng.skewed(2000);
                let (secs, millis) = (self.clock / 1000, self.clock % 1000);
                let _ = write!(
                    out,
                    "2026-03-{:02}T{:02}:{:02}:{:02}.{millis:03}Z {} [worker-{}] {}: ",
                    secs / 86_400 % 28 + 1,
                    secs / 3600 % 24,
                    secs / 60 % 60,
                    secs % 60,
                    ["INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"][rng.skewed(6) as usize],
                    rng.below(4),
                    ["smtp.inbound", "scan.worker", "mail.queue", "http.server", "auth.session"]
                        [rng.skewed(5) as usize],
                );
                out.extend_from_slice(&self.templates[rng.skewed(self.templates.len() as u64) as usize]);
                if rng.chance(20) {
                    let _ = write!(out, "id={:08x} ", rng.next_u64() as u32);
                }
                let _ = write!(out, "took={}ms", rng.skewed(800));
            } else {
                let mut first = true;
                let start = out.len();
                while out.len() - start < 60 + rng.below(20) as usize {
                    let word = &words[rng.skewed(words.len() as u64) as usize];
                    if out.len() > start {
                        out.push(b' ');
                    }
                    out.extend_from_slice(word);
                    if first {
                        let at = out.len() - word.len();
                        out[at] = word[0].to_ascii_uppercase();
                        first = false;
                    }
                    if rng.chance(9) {
                        out.push(if rng.chance(75) { b'.' } else { b',' });
                        first = rng.chance(75);
                    }
                }
            }
            out.push(b'\n');
        }
    }

    /// x86-64-like code up to at least `end`: common instructions with small displacements and immediates
    /// (whose high bytes are zero), and padding between functions.
    fn x86(&mut self, out: &mut Vec<u8>, end: usize) {
        let rng = &mut self.rng;
        while out.len() < end {
            // One function: prologue, body, epilogue, padding to 16 bytes.
            out.extend_from_slice(&[0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, (rng.skewed(16) * 8) as u8]);
            for _ in 0..8 + rng.below(120) {
                // Compilers repeat themselves: much of real code is a few dozen idioms.
                if rng.chance(8) {
                    out.extend_from_slice(&self.idioms[rng.below(self.idioms.len() as u64) as usize]);
                } else {
                    x86_instruction(rng, out);
                }
            }
            out.extend_from_slice(&[0xc9, 0xc3]);
            let pad = (16 - out.len() % 16) % 16;
            let filler = if rng.chance(90) { 0xcc } else { 0x00 };
            out.resize(out.len() + pad, filler);
        }
    }
}

/// One x86-64-like instruction with small displacements and immediates (whose high bytes are zero).
fn x86_instruction(rng: &mut XorShift, out: &mut Vec<u8>) {
    let small = rng.skewed(1 << 10) as u32;
    let slot = (0x100 - (1 + rng.skewed(12)) * 8) as u8;
    match rng.below(16) {
        0 | 1 => {
            out.push(0xe8);
            let rel = if rng.chance(50) { small as i32 * 16 } else { -(small as i32 * 16) };
            out.extend_from_slice(&rel.to_le_bytes());
        }
        2 => out.extend_from_slice(&[0x8b, 0x45, slot]),
        3 => out.extend_from_slice(&[0x89, 0x45, slot]),
        4 => out.extend_from_slice(&[0x48, 0x8b, 0x7d, slot]),
        5 => {
            out.extend_from_slice(&[0x0f, 0x84]);
            out.extend_from_slice(&(small * 4).to_le_bytes());
        }
        6 => out.extend_from_slice(&[0x75, rng.below(0x80) as u8]),
        7 => out.extend_from_slice(&[0x31, 0xc0]),
        8 => {
            out.extend_from_slice(&[0x48, 0x8d, 0x05]);
            out.extend_from_slice(&(small << 8 | rng.below(256) as u32).to_le_bytes());
        }
        9 => {
            out.extend_from_slice(&[0xff, 0x15]);
            out.extend_from_slice(&(0x2000 + small * 8).to_le_bytes());
        }
        10 => {
            out.push(0xb8 + rng.below(8) as u8);
            out.extend_from_slice(&(rng.skewed(1 << 14) as u32).to_le_bytes());
        }
        11 => {
            out.extend_from_slice(&[0xc7, 0x45, slot]);
            out.extend_from_slice(&(rng.skewed(1 << 12) as u32).to_le_bytes());
        }
        12 => out.extend_from_slice(&[0x48, 0x89, 0xc7 + (rng.below(4) as u8) * 8]),
        13 => out.extend_from_slice(&[0x48, 0x83, 0xc0 + rng.below(8) as u8, rng.below(64) as u8]),
        14 => out.extend_from_slice(&[0x0f, 0xb6, 0x45, slot]),
        _ => out.extend_from_slice(&[0x85, 0xc0, 0x74, rng.below(0x60) as u8]),
    }
}

/// 2,000 made-up words of one to four syllables, a few frequent English ones first.
fn vocabulary(rng: &mut XorShift) -> Vec<Vec<u8>> {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "en", "al", "or", "ti", "de", "ser", "con", "pro", "ver",
        "ing", "tion", "ment", "ba", "co", "di", "fa", "ge", "ha", "ju", "le", "mo", "nu", "pe", "qui", "re", "sa",
        "te", "un", "va", "we", "xe", "yo", "za", "th", "st", "er", "an", "ch", "sh", "ble",
    ];
    let mut words: Vec<Vec<u8>> = [
        "the", "of", "and", "to", "in", "is", "for", "on", "with", "that", "as", "it", "be", "by", "this", "from",
        "request", "user", "error", "file", "message", "server", "account", "invoice", "report", "attached",
    ]
    .iter()
    .map(|word| word.as_bytes().to_vec())
    .collect();
    while words.len() < 2000 {
        let mut word = Vec::new();
        for _ in 0..=rng.skewed(4) {
            word.extend_from_slice(rng.pick(SYLLABLES).as_bytes());
        }
        words.push(word);
    }
    words
}

/// `bytes` in base64 (RFC 4648 alphabet, padded), in lines of 76 characters ending in CRLF (RFC 2045).
pub fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(bytes.len() / 57 * 78 + 80);
    for line in bytes.chunks(57) {
        for group in line.chunks(3) {
            let b = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
                out.push(if i <= group.len() { ALPHABET[(n >> shift & 63) as usize] } else { b'=' });
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One planted signature: the corpus file (relative to `corpus/`, `/`-separated) that holds signature `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// The file, relative to the `corpus/` directory.
    pub file: String,
    /// The signature's index ([`signature_name`]); it is in every set of more than `index` signatures.
    pub index: usize,
}

/// One signature set written beside the corpus.
#[derive(Debug, Clone)]
pub struct SignatureSet {
    /// How many signatures.
    pub count: usize,
    /// `<dir>/sigs-<count>`: what `--db` and `Database::load` take.
    pub dir: PathBuf,
    /// `<dir>/sigs-<count>/bench.ndb`: what `clamscan -d` takes.
    pub ndb: PathBuf,
}

/// A generated corpus, as recorded in its manifest.
#[derive(Debug, Clone)]
pub struct ScanCorpus {
    /// The root: `corpus/`, `empty/`, `sigs-<N>/` and `manifest.txt` are in it.
    pub dir: PathBuf,
    /// `<dir>/corpus`: the files to scan (`archives/` and `mail/`).
    pub corpus: PathBuf,
    /// `<dir>/corpus/archives`.
    pub archives: PathBuf,
    /// `<dir>/corpus/mail`.
    pub mail: PathBuf,
    /// `<dir>/empty`: an empty directory, for timing a scanner's start-up and database load alone.
    pub empty: PathBuf,
    /// Files in the corpus.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Files in `mail/`.
    pub mail_files: u64,
    /// Their total size.
    pub mail_bytes: u64,
    /// Bytes of leaf content generated (archive members, decoded attachments and text parts, the big gzip's file).
    pub content_bytes: u64,
    /// Where signatures were planted.
    pub planted: Vec<Planted>,
    /// The signature sets, one per [`SIGNATURE_SETS`] entry.
    pub signature_sets: Vec<SignatureSet>,
}

impl ScanCorpus {
    /// The (file, signature name) pairs an engine loaded with the first `count` signatures must report, sorted.
    pub fn expected(&self, count: usize) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .planted
            .iter()
            .filter(|planted| planted.index < count)
            .map(|planted| (planted.file.clone(), signature_name(planted.index)))
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }

    /// The set of `count` signatures.
    pub fn signature_set(&self, count: usize) -> Option<&SignatureSet> {
        self.signature_sets.iter().find(|set| set.count == count)
    }
}

/// The corpus of about `mb` MB in `dir`, reused when `dir/manifest.txt` matches this generator and size and the
/// corpus holds the recorded number and size of files, else generated (about 2 s per 10 MB, most of it in the
/// xz and bzip2 encoders and deflate).
///
/// # Errors
/// When a file cannot be written or read.
pub fn ensure_corpus(dir: &Path, mb: u64) -> io::Result<ScanCorpus> {
    if let Some(corpus) = read_manifest(dir, mb) {
        return Ok(corpus);
    }
    generate(dir, mb)
}

/// Bytes of leaf content per kind for a corpus of about `mb` MB on disk, from the ratios measured on the 300 MB
/// corpus (the big gzip 2.65:1, the zips 2.8:1, the tar archives 2.6 to 3.5:1, base64 mail 1.37:1): the big
/// gzip holds 0.875 `mb` (a third of the corpus on disk), the zips 0.6 `mb` (22 % on disk), the `.tar.gz` 0.26
/// `mb` (10 %), the `.tar.bz2` and `.tar.xz` 0.15 and 0.14 `mb` (4 to 5 % each), the mail 0.17 `mb` of decoded
/// content (24 %).
struct Budget {
    big: u64,
    zip: u64,
    tar_gz: u64,
    tar_bz2: u64,
    tar_xz: u64,
    mail: u64,
}

impl Budget {
    fn new(mb: u64) -> Budget {
        let part = |thousandths: u64| mb * 1_000 * thousandths;
        Budget {
            big: part(875),
            zip: part(600),
            tar_gz: part(260),
            tar_bz2: part(150),
            tar_xz: part(140),
            mail: part(170),
        }
    }
}

/// Member kinds: directory, extension.
const KINDS: &[(&str, &str)] = &[
    ("docs", "txt"),
    ("logs", "log"),
    ("bin", "dll"),
    ("bin", "exe"),
    ("data", "dat"),
    ("media", "bin"),
    ("reports", "doc"),
];

/// A size from `min` to about `min x 2^levels`, log-uniform (no floating point, so every platform agrees).
fn size(rng: &mut XorShift, min: u64, levels: u64) -> usize {
    let base = min << rng.below(levels + 1);
    (base + rng.below(base)) as usize
}

/// The content of a member named `*.ext`: text for `txt` and `log`, a program for `exe` and `dll`, else binary
/// mixed data.
fn member(mixer: &mut Mixer, ext: &str, len: usize) -> Vec<u8> {
    match ext {
        "txt" | "log" => mixer.text_bytes(len),
        "exe" | "dll" => mixer.executable(len),
        _ => mixer.bytes(len),
    }
}

/// Leaf members of `total` bytes or a little more (at least one), named under `prefix`.
fn leaf_members(rng: &mut XorShift, mixer: &mut Mixer, prefix: &str, total: u64, min: u64, levels: u64) -> Vec<Member> {
    let mut members = Vec::new();
    let mut sum = 0u64;
    while sum < total || members.is_empty() {
        let len = size(rng, min, levels);
        let (dir, ext) = rng.pick(KINDS);
        members.push(Member {
            name: format!("{prefix}{dir}/{dir}-{:03}.{ext}", members.len()),
            data: member(mixer, ext, len),
        });
        sum += len as u64;
    }
    members
}

/// Overwrites bytes of `data` at a seeded offset with `signature`.
fn plant(rng: &mut XorShift, data: &mut [u8], signature: &[u8]) {
    let room = data.len().saturating_sub(signature.len() + 16);
    let at = 8 + rng.below(room.max(1) as u64) as usize;
    if let Some(slot) = data.get_mut(at..at + signature.len()) {
        slot.copy_from_slice(signature);
    }
}

fn zip_bytes(members: &[Member]) -> io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let time = zip::DateTime::from_date_and_time(2026, 3, 9, 12, 0, 0).map_err(io::Error::other)?;
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(time)
        .unix_permissions(0o644);
    let stored = deflated.compression_method(zip::CompressionMethod::Stored).compression_level(None);
    for member in members {
        // Archives inside a zip are stored, as zip tools do with data that does not compress.
        let archive = member.name.ends_with(".zip") || member.name.ends_with(".gz");
        zip.start_file(&member.name, if archive { stored } else { deflated }).map_err(io::Error::other)?;
        zip.write_all(&member.data)?;
    }
    Ok(zip.finish().map_err(io::Error::other)?.into_inner())
}

fn gzip_bytes(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::new(6));
    gz.write_all(data)?;
    gz.finish()
}

/// What [`zip_archive`] must plant.
struct ZipPlan<'a> {
    /// Plant `signatures[0]` in a member of the nested zip and `signatures[1]` in a member of the nested tar.gz.
    plant: Option<(&'a [u8], &'a [u8])>,
}

/// A zip of about `content` bytes of members; with `nest` > 0 it may hold a nested zip (`nest - 1` deep) and a
/// nested `.tar.gz`, and a plan to plant makes it hold both. Returns the zip and its leaf content bytes.
fn zip_archive(
    rng: &mut XorShift,
    mixer: &mut Mixer,
    content: u64,
    nest: u32,
    plan: &ZipPlan<'_>,
) -> io::Result<(Vec<u8>, u64)> {
    let mut members = leaf_members(rng, mixer, "", content, 2_000, 9);
    let mut leaves: u64 = members.iter().map(|m| m.data.len() as u64).sum();
    let forced = plan.plant.is_some();
    if nest > 0 && (forced || rng.chance(35)) {
        let inner_content = (content / 4).max(10_000);
        let (mut inner, inner_leaves) = if let Some((signature, _)) = plan.plant {
            // One level only, so the planted member is at a known depth.
            let mut inner_members = leaf_members(rng, mixer, "", inner_content, 2_000, 8);
            let index = rng.below(inner_members.len() as u64) as usize;
            plant(rng, &mut inner_members[index].data, signature);
            let leaves = inner_members.iter().map(|m| m.data.len() as u64).sum();
            (zip_bytes(&inner_members)?, leaves)
        } else {
            zip_archive(rng, mixer, inner_content, nest - 1, &ZipPlan { plant: None })?
        };
        leaves += inner_leaves;
        inner.shrink_to_fit();
        members.push(Member { name: format!("attachments/bundle-{}.zip", rng.below(1000)), data: inner });
    }
    if nest > 0 && (forced || rng.chance(25)) {
        let mut tar_members = leaf_members(rng, mixer, "src/", (content / 4).max(10_000), 2_000, 8);
        if let Some((_, signature)) = plan.plant {
            let index = rng.below(tar_members.len() as u64) as usize;
            plant(rng, &mut tar_members[index].data, signature);
        }
        leaves += tar_members.iter().map(|m| m.data.len() as u64).sum::<u64>();
        members.push(Member {
            name: format!("attachments/sources-{}.tar.gz", rng.below(1000)),
            data: gzip_bytes(&crate::tar(&tar_members)?)?,
        });
    }
    Ok((zip_bytes(&members)?, leaves))
}

/// One RFC 5322 message: headers, `multipart/mixed` with a text part and 1 to 3 base64 attachments. Returns the
/// message and its decoded content bytes.
fn mail_message(rng: &mut XorShift, mixer: &mut Mixer, index: usize) -> (Vec<u8>, u64) {
    const PEOPLE: &[&str] = &["Ana Lima", "Bo Chen", "Carla Diaz", "Dev Patel", "Eli Stone", "Fay Moreau", "Gus Ito"];
    let boundary = format!("----=_Part_{index}_{:08x}", rng.next_u64() as u32);
    let (from, to) = (rng.pick(PEOPLE), rng.pick(PEOPLE));
    let address = |name: &str| name.to_ascii_lowercase().replace(' ', ".");
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "Return-Path: <{fa}@example.org>\r\nReceived: from mx{relay}.example.org (mx{relay}.example.org [192.0.2.{relay}])\r\n\
         \tby mail.example.net with ESMTPS id {id:016x}\r\n\tfor <{ta}@example.net>; Mon, 9 Mar 2026 {h:02}:{m:02}:{s:02} +0000\r\n\
         From: {from} <{fa}@example.org>\r\nTo: {to} <{ta}@example.net>\r\nSubject: Report {index} for review\r\n\
         Date: Mon, 9 Mar 2026 {h:02}:{m:02}:{s:02} +0000\r\nMessage-ID: <{id:016x}.{index}@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        fa = address(from),
        ta = address(to),
        relay = 1 + rng.below(200),
        id = rng.next_u64(),
        h = rng.below(24),
        m = rng.below(60),
        s = rng.below(60),
    );
    let mut message = out.into_bytes();
    let text_len = size(rng, 500, 5);
    let mut text = Vec::with_capacity(text_len + 128);
    mixer.text(&mut text, text_len);
    text.truncate(text_len);
    for line in text.split(|&b| b == b'\n') {
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    let mut content = text.len() as u64;
    for _ in 0..1 + rng.below(3) {
        let len = size(rng, 3_000, 6);
        let (kind, ext) = rng.pick(&[
            ("application/octet-stream", "bin"),
            ("application/msword", "doc"),
            ("application/x-msdownload", "exe"),
            ("text/plain", "txt"),
        ]);
        let data = member(mixer, ext, len);
        content += len as u64;
        let name = format!("attachment-{index}-{}.{ext}", rng.below(100));
        message.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {kind}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        message.extend_from_slice(&base64_lines(&data));
    }
    message.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (message, content)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp-write");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn generate(dir: &Path, mb: u64) -> io::Result<ScanCorpus> {
    fs::create_dir_all(dir)?;
    let _ = fs::remove_file(dir.join("manifest.txt"));
    let corpus_dir = dir.join("corpus");
    if corpus_dir.exists() {
        fs::remove_dir_all(&corpus_dir)?;
    }
    let archives = corpus_dir.join("archives");
    let mail = corpus_dir.join("mail");
    fs::create_dir_all(&archives)?;
    fs::create_dir_all(&mail)?;
    fs::create_dir_all(dir.join("empty"))?;
    for count in SIGNATURE_SETS {
        write_signature_set(dir, count)?;
    }

    let budget = Budget::new(mb);
    let planted_signatures = signatures(3);
    let mut planted = Vec::new();
    let mut content: u64 = 0;
    let mut rng = XorShift::new(SCAN_SEED);
    let mut mixer = Mixer::new(SCAN_SEED ^ 0x006d_6978);

    // Zips: 0.5 to 8 MB of content each. The first holds a nested zip with signature 0 and a nested tar.gz with
    // signature 1.
    let mut done = 0u64;
    let mut index = 0;
    while done < budget.zip || index == 0 {
        let zip_content = size(&mut rng, 250_000, 4) as u64;
        let plan = ZipPlan {
            plant: (index == 0).then(|| (planted_signatures[0].as_slice(), planted_signatures[1].as_slice())),
        };
        let (bytes, leaves) = zip_archive(&mut rng, &mut mixer, zip_content, 2, &plan)?;
        let name = format!("bundle-{index:03}.zip");
        write_atomic(&archives.join(&name), &bytes)?;
        if index == 0 {
            planted.push(Planted { file: format!("archives/{name}"), index: 0 });
            planted.push(Planted { file: format!("archives/{name}"), index: 1 });
        }
        done += leaves;
        index += 1;
    }
    content += done;

    // Tar archives: (budget, name stem, extension, planted signature in the first, compressor).
    type Compress = fn(&[u8]) -> io::Result<Vec<u8>>;
    let tars: [(u64, &str, &str, usize, Compress); 3] = [
        (budget.tar_gz, "project", "tar.gz", 2, gzip_bytes),
        (budget.tar_bz2, "backup", "tar.bz2", 1, |tar| {
            let mut bz = bzip2::write::BzEncoder::new(Vec::with_capacity(tar.len() / 3), bzip2::Compression::new(9));
            bz.write_all(tar)?;
            bz.finish()
        }),
        (budget.tar_xz, "release", "tar.xz", 0, |tar| {
            let mut xz = liblzma::write::XzEncoder::new(Vec::with_capacity(tar.len() / 3), 6);
            xz.write_all(tar)?;
            xz.finish()
        }),
    ];
    for (kind_budget, stem, extension, signature, compress) in tars {
        let mut done = 0u64;
        let mut index = 0;
        while done < kind_budget || index == 0 {
            let tar_content = size(&mut rng, 1_000_000, 3).min(kind_budget.max(200_000) as usize) as u64;
            let mut members = leaf_members(&mut rng, &mut mixer, &format!("{stem}-{index}/"), tar_content, 2_000, 10);
            let name = format!("{stem}-{index:03}.{extension}");
            if index == 0 {
                let member = rng.below(members.len() as u64) as usize;
                plant(&mut rng, &mut members[member].data, &planted_signatures[signature]);
                planted.push(Planted { file: format!("archives/{name}"), index: signature });
            }
            done += members.iter().map(|m| m.data.len() as u64).sum::<u64>();
            write_atomic(&archives.join(&name), &compress(&crate::tar(&members)?)?)?;
            index += 1;
        }
        content += done;
    }

    // The big gzip: one file of `budget.big` bytes, streamed, with signature 2 in the middle.
    {
        let name = "disk-image.img.gz";
        let tmp = archives.join(format!("{name}.tmp-write"));
        let out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut gz = flate2::GzBuilder::new().filename("disk-image.img").write(out, flate2::Compression::new(6));
        let total = budget.big as usize;
        let plant_chunk = total / 2 / (1 << 20);
        let mut chunk = Vec::with_capacity(1 << 20);
        let mut written = 0;
        let mut big = Mixer::new(SCAN_SEED ^ 0x0062_6967);
        let mut chunk_index = 0;
        while written < total {
            chunk.clear();
            let len = (total - written).min(1 << 20);
            if written == 0 {
                chunk = big.bytes(len);
            } else {
                big.fill(&mut chunk, len);
            }
            if chunk_index == plant_chunk {
                plant(&mut rng, &mut chunk, &planted_signatures[2]);
            }
            gz.write_all(&chunk)?;
            written += len;
            chunk_index += 1;
        }
        gz.finish()?.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        fs::rename(&tmp, archives.join(name))?;
        planted.push(Planted { file: format!("archives/{name}"), index: 2 });
        content += total as u64;
    }

    // Mail.
    let mut done = 0u64;
    let mut index = 0;
    while done < budget.mail || index == 0 {
        let (message, decoded) = mail_message(&mut rng, &mut mixer, index);
        write_atomic(&mail.join(format!("msg-{index:04}.eml")), &message)?;
        done += decoded;
        index += 1;
    }
    content += done;

    let (files, bytes) = tree_size(&corpus_dir)?;
    let (mail_files, mail_bytes) = tree_size(&mail)?;
    let mut manifest = format!(
        "generator {SCAN_GENERATOR}\nseed {SCAN_SEED:#x}\nmb {mb}\nfiles {files}\nbytes {bytes}\n\
         mail_files {mail_files}\nmail_bytes {mail_bytes}\ncontent_bytes {content}\n"
    );
    for item in &planted {
        let _ = writeln!(manifest, "planted {} {}", item.index, item.file);
    }
    fs::write(dir.join("manifest.txt.tmp"), manifest)?;
    fs::rename(dir.join("manifest.txt.tmp"), dir.join("manifest.txt"))?;
    read_manifest(dir, mb).ok_or_else(|| io::Error::other("the manifest just written does not read back"))
}

/// Regular files under `dir` (recursively) and their total size.
fn tree_size(dir: &Path) -> io::Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let (f, b) = tree_size(&entry.path())?;
            files += f;
            bytes += b;
        } else if kind.is_file() {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}

fn read_manifest(dir: &Path, mb: u64) -> Option<ScanCorpus> {
    let text = fs::read_to_string(dir.join("manifest.txt")).ok()?;
    let field = |key: &str| text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')).map(str::trim);
    let number = |key: &str| field(key)?.parse::<u64>().ok();
    if number("generator")? != u64::from(SCAN_GENERATOR) || number("mb")? != mb {
        return None;
    }
    let corpus = dir.join("corpus");
    let (files, bytes) = (number("files")?, number("bytes")?);
    if tree_size(&corpus).ok()? != (files, bytes) || tree_size(&corpus.join("mail")).ok()?.1 != number("mail_bytes")? {
        return None;
    }
    let planted = text
        .lines()
        .filter_map(|line| {
            let (index, file) = line.strip_prefix("planted ")?.split_once(' ')?;
            Some(Planted { file: file.to_owned(), index: index.parse().ok()? })
        })
        .collect();
    let mut signature_sets = Vec::new();
    for count in SIGNATURE_SETS {
        let set_dir = write_signature_set(dir, count).ok()?;
        signature_sets.push(SignatureSet { count, ndb: set_dir.join("bench.ndb"), dir: set_dir });
    }
    fs::create_dir_all(dir.join("empty")).ok()?;
    Some(ScanCorpus {
        dir: dir.to_path_buf(),
        archives: corpus.join("archives"),
        mail: corpus.join("mail"),
        corpus,
        empty: dir.join("empty"),
        files,
        bytes,
        mail_files: number("mail_files")?,
        mail_bytes: number("mail_bytes")?,
        content_bytes: number("content_bytes")?,
        planted,
        signature_sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_sets_are_prefixes_of_one_sequence() {
        let small = signatures(3);
        let large = signatures(100);
        assert_eq!(small[..], large[..3]);
        assert!(large.iter().all(|s| (SIGNATURE_LEN.0..=SIGNATURE_LEN.1).contains(&s.len())));
        assert!(ndb(&small).starts_with("Bench.Sig-0:0:*:"));
        assert_eq!(ndb(&large).lines().count(), 100);
    }

    #[test]
    fn mixed_data_is_deterministic_and_exact() {
        let a = Mixer::new(7).bytes(300_000);
        let b = Mixer::new(7).bytes(300_000);
        assert_eq!(a.len(), 300_000);
        assert_eq!(a, b);
        assert!(a.starts_with(b"BDAT\0"));
        assert!(Mixer::new(7).text_bytes(10_000).iter().all(|b| b.is_ascii()));
        assert!(Mixer::new(7).executable(10_000).starts_with(b"MZ"));
    }

    #[test]
    fn x86_runs_have_about_a_fifth_zeros() {
        let mut mixer = Mixer::new(1);
        let mut out = Vec::new();
        mixer.x86(&mut out, 1 << 20);
        let zeros = out.iter().filter(|&&b| b == 0).count() as f64 / out.len() as f64;
        assert!((0.14..0.22).contains(&zeros), "{zeros}");
    }

    #[test]
    fn a_small_corpus_is_deterministic_and_reused() {
        let base = std::env::temp_dir().join(format!("scan-corpus-test-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        let first = ensure_corpus(&a, 1).unwrap();
        let second = ensure_corpus(&b, 1).unwrap();
        assert_eq!((first.files, first.bytes, &first.planted), (second.files, second.bytes, &second.planted));
        assert_eq!(first.planted.len(), 6);
        assert_eq!(first.expected(1).len(), 2);
        assert_eq!(first.expected(10_000).len(), 6);
        for planted in &first.planted {
            assert_eq!(
                fs::read(a.join("corpus").join(&planted.file)).unwrap(),
                fs::read(b.join("corpus").join(&planted.file)).unwrap()
            );
        }
        let manifest = fs::metadata(a.join("manifest.txt")).unwrap().modified().unwrap();
        ensure_corpus(&a, 1).unwrap();
        assert_eq!(fs::metadata(a.join("manifest.txt")).unwrap().modified().unwrap(), manifest, "reused");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64_lines(b""), b"");
        assert_eq!(base64_lines(b"f"), b"Zg==\r\n");
        assert_eq!(base64_lines(b"fo"), b"Zm8=\r\n");
        assert_eq!(base64_lines(b"foobar"), b"Zm9vYmFy\r\n");
        assert_eq!(base64_lines(&[0u8; 58]).len(), 76 + 2 + 4 + 2);
    }
}
