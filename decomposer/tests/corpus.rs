//! Every case of `corpus/manifest.toml` through every configuration: from a slice, from a file, from a
//! reader that returns short reads, held in RAM and spilled to temporary files. Each run must give the
//! manifest's outcome (codes, part count, and where the case pins them, bytes extracted and part paths), and
//! all runs the same report.
//!
//! `CORPUS_PRINT=1 cargo test -p decomposer --test corpus` prints each case's actual outcome as a manifest
//! row instead of failing at the first mismatch.

use std::io::{self, Read, Write};

use corpus::Case;
use decomposer::{Decomposer, Limits, Part, Report};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    codes: Vec<String>,
    parts: u64,
    bytes_extracted: u64,
    paths: Vec<String>,
    max_part_size: u64,
    max_depth: u32,
}

fn outcome(report: &Report, paths: Vec<String>, max_part_size: u64) -> Outcome {
    let mut codes: Vec<String> = report.codes.iter().map(ToString::to_string).collect();
    codes.sort();
    Outcome {
        codes,
        parts: report.parts,
        bytes_extracted: report.bytes_extracted,
        paths,
        max_part_size,
        max_depth: report.max_depth,
    }
}

fn limits(case: &Case) -> Limits {
    let mut builder = Limits::builder();
    let l = &case.limits;
    if let Some(v) = l.max_extract_depth {
        builder.max_extract_depth(v);
    }
    if let Some(v) = l.max_extract_size {
        builder.max_extract_size(v);
    }
    if let Some(v) = l.max_cumulative_extract_size {
        builder.max_cumulative_extract_size(v);
    }
    if let Some(v) = l.max_extract_time {
        builder.max_extract_time(v);
    }
    if let Some(v) = l.max_file_count {
        builder.max_file_count(v);
    }
    builder.build().unwrap_or_else(|e| panic!("case {}: {e}", case.name))
}

/// A reader that returns 1 to 7919 bytes per call, in a fixed pattern.
struct ShortReads<R> {
    inner: R,
    call: usize,
}

impl<R: Read> Read for ShortReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.call += 1;
        let n = (self.call * 7919 % 8191).max(1).min(buf.len());
        self.inner.read(&mut buf[..n])
    }
}

#[derive(Debug, Clone, Copy)]
enum Config {
    SliceInMemory,
    SliceSpilled,
    File,
    ShortReadsSpilled,
}

fn run(case: &Case, input: &[u8], config: Config) -> Outcome {
    let limits = limits(case);
    let decomposer = match config {
        Config::SliceInMemory => Decomposer::builder().limits(limits).prefer_mem(true).build(),
        Config::SliceSpilled | Config::ShortReadsSpilled => {
            Decomposer::builder().limits(limits).spill_threshold(1024).build()
        }
        Config::File => Decomposer::new(limits),
    };
    let mut paths = Vec::new();
    let mut max_part_size = 0;
    let mut sink = |part: &Part<'_>| {
        paths.push(part.path().to_string());
        // Every part's bytes must be readable, wherever they are held.
        let mut len = 0u64;
        let mut reader = part.reader().expect("part reader");
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = reader.read(&mut buffer).expect("part read");
            if n == 0 {
                break;
            }
            len += n as u64;
        }
        assert_eq!(len, part.size(), "{}: reader length", part.path());
        if let Some(bytes) = part.bytes() {
            assert_eq!(bytes.len() as u64, part.size());
        }
        if part.depth() > 0 {
            max_part_size = max_part_size.max(part.size());
        }
        true
    };
    let report = match config {
        Config::SliceInMemory | Config::SliceSpilled => {
            decomposer.decompose_bytes(&case.input_name(), input, &mut sink)
        }
        Config::File => {
            let dir = tempdir();
            let path = dir.join(case.input_name());
            std::fs::File::create(&path).and_then(|mut f| f.write_all(input)).expect("write input");
            let report = decomposer.decompose_file(&path, &mut sink).expect("decompose_file");
            let _ = std::fs::remove_dir_all(&dir);
            report
        }
        Config::ShortReadsSpilled => decomposer
            .decompose_reader(&case.input_name(), ShortReads { inner: input, call: 0 }, &mut sink)
            .expect("decompose_reader"),
    };
    outcome(&report, paths, max_part_size)
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corpus-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn manifest_row(case: &Case, actual: &Outcome) -> String {
    format!(
        "name = {:?}\ncodes = {:?}\nparts = {}\nbytes_extracted = {}\npaths = {:?}\n",
        case.name, actual.codes, actual.parts, actual.bytes_extracted, actual.paths
    )
}

fn check_case(case: &Case) -> Result<(), String> {
    let input = case.input();
    let configs: &[Config] = if case.heavy {
        &[Config::SliceSpilled, Config::File]
    } else {
        &[Config::SliceInMemory, Config::SliceSpilled, Config::File, Config::ShortReadsSpilled]
    };
    let first = run(case, &input, configs[0]);
    for &config in &configs[1..] {
        let other = run(case, &input, config);
        if other != first {
            return Err(format!(
                "case {}: {config:?} differs from {:?}:\n{other:#?}\nvs\n{first:#?}",
                case.name, configs[0]
            ));
        }
    }
    // The limits hold whatever the input.
    let limits = limits(case);
    assert!(first.bytes_extracted <= limits.max_cumulative_extract_size(), "case {}: cumulative", case.name);
    assert!(first.max_part_size <= limits.max_extract_size(), "case {}: part size", case.name);
    assert!(first.max_depth <= limits.max_extract_depth(), "case {}: depth", case.name);
    let mut expected_codes = case.codes.clone();
    expected_codes.sort();
    let mismatch = expected_codes != first.codes
        || case.parts != first.parts
        || case.bytes_extracted.is_some_and(|b| b != first.bytes_extracted)
        || case.paths.as_ref().is_some_and(|p| *p != first.paths);
    if mismatch {
        return Err(format!("case {} does not match the manifest; actual:\n{}", case.name, manifest_row(case, &first)));
    }
    Ok(())
}

#[test]
fn every_corpus_case_has_its_expected_outcome_in_every_configuration() {
    let print = std::env::var_os("CORPUS_PRINT").is_some();
    let mut failures = Vec::new();
    let cases = corpus::cases();
    assert!(cases.len() >= 40, "the manifest lost cases: {}", cases.len());
    for case in &cases {
        if let Err(message) = check_case(case) {
            if print {
                println!("{message}\n");
            }
            failures.push(message);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_generator_and_fixture_is_in_the_manifest() {
    let cases = corpus::cases();
    for name in corpus::generators::NAMES {
        assert!(cases.iter().any(|c| c.generator.as_deref() == Some(*name)), "generator {name} has no manifest row");
    }
    for entry in std::fs::read_dir(corpus::root().join("fixtures")).expect("fixtures dir") {
        let name = entry.expect("dir entry").file_name().to_string_lossy().into_owned();
        assert!(
            cases.iter().any(|c| c.fixture.as_deref() == Some(name.as_str())),
            "fixture {name} has no manifest row"
        );
    }
}
