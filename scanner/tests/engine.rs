//! The engine's public API end to end: each status rule of DESIGN.md 4 with a real input, the library
//! statuses, hash, allow-list, ignore-list and logical signatures, and the same verdicts at any pool size.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use corpus::generators::EICAR;
use corpus::zip_writer::{Entry, ZipBuilder};
use decomposer::{AvsResult, DecResult, Part, ResultCode};
use proptest::prelude::*;
use scanner::{Database, Engine, EngineError, Status, Verdict};

fn embedded_engine() -> Engine {
    Engine::builder().max_concurrency(1).build(Arc::new(Database::embedded().unwrap())).unwrap()
}

/// A database of the given files (name, text) in a fresh directory.
fn database(files: &[(&str, &str)]) -> Database {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    Database::load(&[dir.path().to_path_buf()]).unwrap()
}

fn engine_over(db: Database, all_matches: bool) -> Engine {
    Engine::builder().all_matches(all_matches).max_concurrency(1).build(Arc::new(db)).unwrap()
}

fn names(verdict: &Verdict) -> Vec<String> {
    verdict.detections.iter().map(|d| format!("{}@{}", d.name, d.part)).collect()
}

#[test]
fn infected_reports_the_first_signature_name_and_the_virus_code() {
    let verdict = embedded_engine().scan_bytes("eicar.com", EICAR);
    assert_eq!(verdict.status, Status::Infected);
    assert_eq!(verdict.info.as_deref(), Some("Eicar-Test-Signature"));
    assert_eq!(verdict.engine, "avscan");
    assert_eq!(verdict.scan_code, Some(ResultCode::Avs(AvsResult::VirusFound)));
    assert_eq!(names(&verdict), ["Eicar-Test-Signature@eicar.com"]);
    assert_eq!(
        verdict.context_variables("avscan_status"),
        [("avscan_status".into(), String::new()), ("avscan_status_info".into(), "Eicar-Test-Signature".into())]
    );
}

#[test]
fn all_matches_reports_body_and_hash_detections() {
    let verdict = engine_over(Database::embedded().unwrap(), true).scan_bytes("eicar.com", EICAR);
    assert_eq!(names(&verdict), ["Eicar-Test-Signature@eicar.com", "Win.Test.EICAR_HDB-1@eicar.com"]);
    assert_eq!(verdict.stats.parts_hashed, 1);
}

#[test]
fn only_parts_of_a_listed_size_are_hashed() {
    let zip = ZipBuilder::new(vec![
        Entry::stored("a.txt", b"hello there"),
        Entry::stored("eicar.com", EICAR),
        Entry::stored("b.txt", &[b'x'; 500]),
    ])
    .build();
    let verdict = engine_over(Database::embedded().unwrap(), true).scan_bytes("in.zip", &zip);
    assert_eq!(verdict.stats.parts, 4);
    assert_eq!(verdict.stats.parts_hashed, 1, "only the 68-byte part has a size in the hash signatures");
    assert_eq!(verdict.stats.bytes_scanned, zip.len() as u64 + 11 + 68 + 500);
}

#[test]
fn a_limit_makes_the_scan_unscannable() {
    let verdict = embedded_engine().scan_bytes("x", &corpus::generators::generate("eicar-beyond-depth").unwrap());
    assert_eq!(verdict.status, Status::Unscannable);
    assert_eq!(verdict.scan_code, Some(ResultCode::Dec(DecResult::MaximumDepthReached)));
    assert_eq!(verdict.info, None);
    assert_eq!(verdict.context_variables("v"), [("v".to_owned(), "error".to_owned())]);
}

#[test]
fn a_malformed_container_whose_entries_were_read_stays_clean() {
    let verdict = embedded_engine().scan_bytes("x", &corpus::generators::generate("zip-hidden-entry").unwrap());
    assert_eq!(verdict.status, Status::Clean);
    assert_eq!(verdict.scan_code, Some(ResultCode::Dec(DecResult::MalformedContainerDetected)));
    assert!(verdict.context_variables("v").is_empty());
}

#[test]
fn no_definitions_is_an_error() {
    let verdict = engine_over(database(&[("empty.ndb", "")]), false).scan_bytes("a.txt", b"some text");
    assert_eq!(verdict.status, Status::Error);
    assert_eq!(verdict.scan_code, Some(ResultCode::Avs(AvsResult::DefinitionsMissing)));
}

#[test]
fn an_unreadable_input_is_an_error() {
    let verdict = embedded_engine().scan_file(Path::new("/nonexistent/input"));
    assert_eq!(verdict.status, Status::Error);
    assert_eq!(verdict.scan_code, Some(ResultCode::Avs(AvsResult::ScanfileFailure)));
}

#[test]
fn stopping_at_the_first_detection_says_when_parts_were_left() {
    let zip = corpus::generators::generate("eicar-zip-first-of-three").unwrap();
    let first = embedded_engine().scan_bytes("x.zip", &zip);
    assert!(first.codes.contains(&ResultCode::Dec(DecResult::AbortedAfterFirstThreat)));
    assert_eq!(first.stats.parts, 2);
    let all = engine_over(Database::embedded().unwrap(), true).scan_bytes("x.zip", &zip);
    assert!(!all.codes.contains(&ResultCode::Dec(DecResult::AbortedAfterFirstThreat)));
    assert_eq!(all.stats.parts, 4);
    assert_eq!(all.status, Status::Infected);
}

#[test]
fn library_statuses_and_builder_errors() {
    let error = Engine::builder().name(&"x".repeat(41)).build(Arc::new(Database::embedded().unwrap())).unwrap_err();
    assert!(matches!(error, EngineError::NameTooLong { len: 41, .. }));
    assert_eq!(
        error.to_string(),
        format!("invalid engine name {:?}: 41 characters, at most 40 allowed", "x".repeat(41))
    );
    let error = Engine::builder().max_concurrency(0).build(Arc::new(Database::embedded().unwrap())).unwrap_err();
    assert_eq!(error.to_string(), "invalid max_concurrency 0: must be 1..=1024");
    let named = Engine::builder().name("corp-av").build(Arc::new(Database::embedded().unwrap())).unwrap();
    assert_eq!(named.scan_bytes("a", b"clean bytes").engine, "corp-av");
}

#[test]
fn scan_part_matches_leaves_and_refuses_containers() {
    let engine = embedded_engine();
    let zip = ZipBuilder::new(vec![Entry::stored("eicar.com", EICAR)]).build();
    let mut statuses = Vec::new();
    let decomposer = decomposer::Decomposer::default();
    decomposer.decompose_bytes("in.zip", &zip, &mut |part: &Part<'_>| {
        let verdict = engine.scan_part(part);
        statuses.push((part.path().to_string(), verdict.status, verdict.info));
        true
    });
    assert_eq!(
        statuses,
        [
            ("in.zip".to_owned(), Status::PartIsContainer, None),
            ("in.zip/eicar.com".to_owned(), Status::Infected, Some("Eicar-Test-Signature".to_owned()))
        ]
    );
}

#[test]
fn the_allow_list_clears_a_part_and_the_ignore_list_drops_a_signature() {
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let ndb = "Eicar-Test-Signature:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n";
    let hdb = format!("{md5}:68:Win.Test.EICAR_HDB-1\n");
    let all = engine_over(database(&[("a.ndb", ndb), ("a.hdb", &hdb)]), true).scan_bytes("e", EICAR);
    assert_eq!(all.detections.len(), 2);
    let allowed =
        engine_over(database(&[("a.ndb", ndb), ("a.hdb", &hdb), ("a.fp", &format!("{md5}:68:eicar.com\n"))]), true);
    assert_eq!(allowed.scan_bytes("e", EICAR).status, Status::Clean);
    let ignored = engine_over(database(&[("a.ndb", ndb), ("a.hdb", &hdb), ("a.ign2", "Eicar-Test-Signature\n")]), true);
    let verdict = ignored.scan_bytes("e", EICAR);
    assert_eq!(names(&verdict), ["Win.Test.EICAR_HDB-1@e"]);
    assert_eq!(ignored.database().info().body.count, 0);
}

#[test]
fn logical_signatures_count_distinct_matches() {
    // "virus" at least twice and "clean" anywhere, or "payload" exactly once.
    let ldb = "Test.Logical;Target:0;(0>1&1)|2=1;7669727573;636c65616e;7061796c6f6164\n";
    let engine = engine_over(database(&[("a.ldb", ldb)]), false);
    assert_eq!(engine.scan_bytes("a", b"virus virus clean").info.as_deref(), Some("Test.Logical"));
    assert_eq!(engine.scan_bytes("b", b"virus clean").status, Status::Clean);
    assert_eq!(engine.scan_bytes("c", b"a payload here").status, Status::Infected);
    assert_eq!(engine.scan_bytes("d", b"payload payload").status, Status::Clean);
}

#[test]
fn target_types_restrict_parts() {
    // Target 7 (ASCII text) matches a text part, not the same bytes in a binary part.
    let ndb = "Test.Text:7:*:6576696c20737472696e67\n";
    let engine = engine_over(database(&[("a.ndb", ndb)]), false);
    assert_eq!(engine.scan_bytes("a.txt", b"some evil string in text").status, Status::Infected);
    let binary = [&b"\x00\x01\x02\x03evil string"[..], &[0u8; 64]].concat();
    assert_eq!(engine.scan_bytes("a.bin", &binary).status, Status::Clean);
}

fn scan_dir(dir: &Path, threads: usize) -> Vec<(PathBuf, Status, Vec<ResultCode>, Vec<String>)> {
    let engine = Engine::builder().max_concurrency(threads).build(Arc::new(Database::embedded().unwrap())).unwrap();
    let results = Mutex::new(Vec::new());
    engine.scan_paths(&[dir.to_path_buf()], &|path: &Path, verdict: Verdict| {
        results.lock().unwrap().push((path.to_path_buf(), verdict.status, verdict.codes.clone(), names(&verdict)));
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

fn tree_strategy() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(EICAR.to_vec()),
        prop::collection::vec(any::<u8>(), 0..200),
        Just(b"plain text, nothing to see".to_vec()),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|children| {
            let entries = children.iter().enumerate().map(|(i, c)| Entry::deflated(&format!("e{i}"), c)).collect();
            ZipBuilder::new(entries).build()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Status, codes and detections of every input are the same with a pool of 1 and of 4 threads.
    #[test]
    fn the_verdict_does_not_depend_on_the_pool_size(trees in prop::collection::vec(tree_strategy(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        for (index, tree) in trees.iter().enumerate() {
            std::fs::write(dir.path().join(format!("input{index}")), tree).unwrap();
        }
        let one = scan_dir(dir.path(), 1);
        prop_assert_eq!(one.len(), trees.len());
        prop_assert_eq!(scan_dir(dir.path(), 4), one);
    }
}
