//! Invariants, stated as property tests:
//! - for arbitrary bytes (raw, or archives damaged at random) and arbitrary valid limits, the walk never
//!   panics, never extracts more than `max_cumulative_extract_size` in all or `max_extract_size` for one
//!   child, never more than `max_file_count` files, never deeper than `max_extract_depth`;
//! - archives built from random file trees (zip, tar, tar.gz, tar.bz2, tar.xz) decompose back to exactly
//!   those files, in order, with their bytes.

use std::io::{Read, Write};

use decomposer::{Decomposer, FileType, Limits, Part, Report};
use proptest::prelude::*;

/// Everything the invariants need to know about one walk.
struct Observed {
    report: Report,
    max_child_size: u64,
    max_depth: u32,
    parts: u64,
}

fn observe(decomposer: &Decomposer, input: &[u8]) -> Observed {
    let mut max_child_size = 0;
    let mut max_depth = 0;
    let mut parts = 0;
    let report = decomposer.decompose_bytes("input", input, &mut |part: &Part<'_>| {
        parts += 1;
        max_depth = max_depth.max(part.depth());
        if part.depth() > 0 {
            max_child_size = max_child_size.max(part.size());
        }
        let mut all = Vec::new();
        part.reader().and_then(|mut r| r.read_to_end(&mut all)).expect("part bytes");
        assert_eq!(all.len() as u64, part.size());
        true
    });
    Observed { report, max_child_size, max_depth, parts }
}

fn assert_within(limits: &Limits, observed: &Observed) {
    assert!(observed.report.bytes_extracted <= limits.max_cumulative_extract_size());
    assert!(observed.max_child_size <= limits.max_extract_size());
    assert!(observed.max_depth <= limits.max_extract_depth());
    if let Some(files) = limits.max_file_count() {
        assert!(observed.report.files_extracted <= files);
    }
    assert_eq!(observed.parts, observed.report.parts);
    assert_eq!(observed.report.files_extracted + 1, observed.report.parts);
}

fn limits_strategy() -> impl Strategy<Value = Limits> {
    (1u64..=6, 1u64..=200_000, 0u64..=400_000, 0u64..=50).prop_map(|(depth, size, cumulative, files)| {
        Limits::builder()
            .max_extract_depth(depth)
            .max_extract_size(size)
            .max_cumulative_extract_size(cumulative)
            .max_file_count(files)
            .max_extract_time(0)
            .build()
            .expect("in range")
    })
}

/// A file tree: names and contents. Contents mix text and a few binary bytes.
fn tree_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec(
        ("[a-z]{1,8}(/[a-z0-9_]{1,12}(\\.[a-z]{1,3})?){0,2}", prop::collection::vec(any::<u8>(), 0..3000)),
        1..12,
    )
    .prop_map(|files| {
        // Unique names, and no name that is a directory of another.
        let mut seen = std::collections::BTreeSet::new();
        files
            .into_iter()
            .enumerate()
            .map(|(i, (name, bytes))| (format!("{i}-{name}"), bytes))
            .filter(|(name, _)| seen.insert(name.clone()))
            .collect()
    })
}

fn build_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    corpus::tar(&files)
}

fn build_zip(files: &[(String, Vec<u8>)], methods: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (i, (name, bytes)) in files.iter().enumerate() {
        let method = match methods.get(i).copied().unwrap_or(0) % 3 {
            0 => zip::CompressionMethod::Stored,
            1 => zip::CompressionMethod::Deflated,
            _ => zip::CompressionMethod::Bzip2,
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        writer.start_file(name, options).expect("zip");
        writer.write_all(bytes).expect("zip");
    }
    writer.finish().expect("zip").into_inner()
}

fn compress(format: &str, bytes: &[u8]) -> Vec<u8> {
    match format {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).expect("gz");
            e.finish().expect("gz")
        }
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(bytes).expect("bz2");
            e.finish().expect("bz2")
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(bytes).expect("xz");
            e.finish().expect("xz")
        }
        _ => bytes.to_vec(),
    }
}

/// The leaves (depth > `below`) and their bytes, in walk order.
fn leaves(input: &[u8], below: u32) -> (Report, Vec<(String, Vec<u8>)>) {
    let decomposer = Decomposer::new(Limits::default());
    let mut found = Vec::new();
    let report = decomposer.decompose_bytes("archive", input, &mut |part: &Part<'_>| {
        if part.depth() > below && !part.file_type().is_container() {
            let name = part.path().names()[1 + below as usize..].join("/");
            found.push((name, part.bytes().expect("small parts stay in memory").to_vec()));
        }
        true
    });
    (report, found)
}

proptest! {

    #[test]
    fn arbitrary_bytes_never_break_the_limits(bytes in prop::collection::vec(any::<u8>(), 0..4096), limits in limits_strategy()) {
        let observed = observe(&Decomposer::new(limits), &bytes);
        assert_within(&limits, &observed);
    }

    #[test]
    fn damaged_archives_never_break_the_limits(
        files in tree_strategy(),
        methods in prop::collection::vec(any::<u8>(), 12),
        wrapper in prop::sample::select(vec!["zip", "tar", "gz", "bz2", "xz"]),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        limits in limits_strategy(),
    ) {
        let mut input = match wrapper {
            "zip" => build_zip(&files, &methods),
            "tar" => build_tar(&files),
            other => compress(other, &build_tar(&files)),
        };
        for (at, byte) in damage {
            let i = at.index(input.len());
            input[i] = byte;
        }
        if truncate {
            input.truncate(cut.index(input.len() + 1));
        }
        let observed = observe(&Decomposer::new(limits), &input);
        assert_within(&limits, &observed);
    }

    #[test]
    fn zip_round_trip(files in tree_strategy(), methods in prop::collection::vec(any::<u8>(), 12)) {
        let (report, found) = leaves(&build_zip(&files, &methods), 0);
        prop_assert!(report.codes.is_empty(), "{:?}", report.codes);
        prop_assert_eq!(found, files);
    }

    #[test]
    fn tar_round_trip(files in tree_strategy(), wrapper in prop::sample::select(vec!["tar", "gz", "bz2", "xz"])) {
        let input = compress(wrapper, &build_tar(&files));
        // A compressed tar has the tar at depth 1 and the files at depth 2.
        let below = u32::from(wrapper != "tar");
        let (report, found) = leaves(&input, below);
        prop_assert!(report.codes.is_empty(), "{:?}", report.codes);
        prop_assert_eq!(found, files);
    }
}

#[test]
fn a_tar_is_detected_by_its_checksum_whatever_its_name() {
    let tar = build_tar(&[("x".to_string(), b"payload".to_vec())]);
    let decomposer = Decomposer::default();
    let mut types = Vec::new();
    decomposer.decompose_bytes("looks-like.txt", &tar, &mut |part: &Part<'_>| {
        types.push(part.file_type());
        true
    });
    assert_eq!(types, [FileType::Tar, FileType::Text]);
}
