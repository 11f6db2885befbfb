//! Test inputs for the decomposer and the scanner: small fixtures in `corpus/fixtures/`, generators for
//! large or malicious inputs (bombs are never committed), and `corpus/manifest.toml`, which gives each
//! input's expected outcome. Every generator is deterministic (fixed seeds, no randomness from the OS).
//!
//! Adding a case: a fixture file or a generator here, and a `[[case]]` row in the manifest.

#![deny(missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub mod generators;
pub mod mail;
pub mod zip_writer;

/// The `corpus/` directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// One row of `corpus/manifest.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A unique name.
    pub name: String,
    /// A file under `corpus/fixtures/`, or
    #[serde(default)]
    pub fixture: Option<String>,
    /// the name of a generator in [`generators::generate`].
    #[serde(default)]
    pub generator: Option<String>,
    /// The limits to scan with; unset ones keep their CSAPI defaults.
    #[serde(default)]
    pub limits: CaseLimits,
    /// The DEC_RESULT codes that must occur, and no others.
    pub codes: Vec<String>,
    /// The number of parts handed to the sink (the input included).
    pub parts: u64,
    /// The exact bytes extracted over all levels, where the case pins it.
    #[serde(default)]
    pub bytes_extracted: Option<u64>,
    /// The path chains of all parts in walk order, where the case pins them.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// Big inputs: run through fewer configurations.
    #[serde(default)]
    pub heavy: bool,
    /// The verdict status a scan with the embedded default database gives (CLEAN, INFECTED, UNSCANNABLE,
    /// ERROR).
    pub status: String,
    /// The detections of that scan (stopping at the first), as `name@part path chain`.
    #[serde(default)]
    pub detections: Vec<String>,
    /// All codes of that scan, where they differ from `codes` (a scan that stops at the first detection
    /// does not walk the rest).
    #[serde(default)]
    pub verdict_codes: Option<Vec<String>>,
    /// Why ClamAV's verdict differs on this input, for the differential test (`None`: it must agree).
    #[serde(default)]
    pub clamav_differs: Option<String>,
}

/// Limits of one case, as CSAPI option values.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseLimits {
    /// `max_extract_depth`.
    pub max_extract_depth: Option<u64>,
    /// `max_extract_size`.
    pub max_extract_size: Option<u64>,
    /// `max_cumulative_extract_size`.
    pub max_cumulative_extract_size: Option<u64>,
    /// `max_extract_time` in seconds.
    pub max_extract_time: Option<u64>,
    /// `max_file_count`.
    pub max_file_count: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

/// Every case of `corpus/manifest.toml`.
///
/// # Panics
/// When the manifest is missing or malformed: this is test support, and a broken manifest must fail loudly.
pub fn cases() -> Vec<Case> {
    let path = root().join("manifest.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: Manifest = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    manifest.case
}

impl Case {
    /// The input's bytes: the fixture read from disk or the generator's output.
    ///
    /// # Panics
    /// When the fixture is missing or the generator unknown.
    pub fn input(&self) -> Vec<u8> {
        match (&self.fixture, &self.generator) {
            (Some(file), None) => {
                let path = root().join("fixtures").join(file);
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            }
            (None, Some(name)) => {
                generators::generate(name).unwrap_or_else(|| panic!("case {}: unknown generator {name}", self.name))
            }
            _ => panic!("case {}: give exactly one of fixture and generator", self.name),
        }
    }

    /// The name the input is scanned under: the fixture's file name or the generator's name.
    pub fn input_name(&self) -> String {
        self.fixture.clone().or_else(|| self.generator.clone()).unwrap_or_default()
    }
}

/// Deterministic text-like bytes: lines of words from a fixed vocabulary (xorshift, seeded).
pub fn text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "scan",
        "virus",
        "archive",
        "limit",
        "depth",
        "mail",
        "zip",
        "tar",
        "signature",
        "engine",
        "clean",
        "message",
        "attachment",
        "header",
        "boundary",
        "payload",
    ];
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    let mut column = 0;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let word = WORDS[(state % 16) as usize];
        out.extend_from_slice(word.as_bytes());
        column += word.len() + 1;
        if column > 72 {
            out.push(b'\n');
            column = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(len);
    out
}

/// Raw deflate (as in zip) of `bytes`.
pub fn deflate_raw(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap_or_default();
    encoder.finish().unwrap_or_default()
}

/// gzip of `bytes`, with `name` in the header if given.
pub fn gzip(bytes: &[u8], name: Option<&str>) -> Vec<u8> {
    let mut builder = flate2::GzBuilder::new();
    if let Some(name) = name {
        builder = builder.filename(name);
    }
    let mut encoder = builder.write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap_or_default();
    encoder.finish().unwrap_or_default()
}

/// bzip2 of `bytes`.
pub fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    encoder.write_all(bytes).unwrap_or_default();
    encoder.finish().unwrap_or_default()
}

/// xz of `bytes`.
pub fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(bytes).unwrap_or_default();
    encoder.finish().unwrap_or_default()
}

/// zstd frame of `bytes`.
pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// The zip LZMA layout of `bytes`: version, property length, the 5 properties, raw LZMA1 with an end marker.
pub fn zip_lzma(bytes: &[u8]) -> Vec<u8> {
    let mut options = liblzma::stream::LzmaOptions::new_preset(6).unwrap_or_else(|e| panic!("lzma preset: {e}"));
    options.dict_size(1 << 20);
    let mut filters = liblzma::stream::Filters::new();
    filters.lzma1(&options);
    let stream = liblzma::stream::Stream::new_raw_encoder(&filters).unwrap_or_else(|e| panic!("lzma encoder: {e}"));
    let mut raw = Vec::new();
    liblzma::read::XzEncoder::new_stream(bytes, stream).read_to_end(&mut raw).unwrap_or_default();
    // Preset 6: lc=3, lp=0, pb=2 -> (2 * 5 + 0) * 9 + 3 = 93.
    let mut out = vec![9, 20, 5, 0, 93];
    out.extend_from_slice(&(1u32 << 20).to_le_bytes());
    out.extend_from_slice(&raw);
    out
}

/// A tar of `(name, bytes)` files, GNU format (long names use `L` records).
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *bytes).unwrap_or_else(|e| panic!("tar {name}: {e}"));
    }
    builder.into_inner().unwrap_or_default()
}
