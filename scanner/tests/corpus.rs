//! Every corpus case scanned with the embedded database: the status, the detections and the codes its
//! manifest row gives, from a slice and from a file, stopping at the first detection; and with all matches,
//! the same status.

use std::sync::Arc;

use corpus::Case;
use scanner::{Database, Engine, Verdict};

fn engine(case: &Case, all_matches: bool, prefer_mem: bool) -> Engine {
    let mut limits = decomposer::Limits::builder();
    if let Some(v) = case.limits.max_extract_depth {
        limits.max_extract_depth(v);
    }
    if let Some(v) = case.limits.max_extract_size {
        limits.max_extract_size(v);
    }
    if let Some(v) = case.limits.max_cumulative_extract_size {
        limits.max_cumulative_extract_size(v);
    }
    if let Some(v) = case.limits.max_extract_time {
        limits.max_extract_time(v);
    }
    if let Some(v) = case.limits.max_file_count {
        limits.max_file_count(v);
    }
    Engine::builder()
        .limits(limits.build().unwrap())
        .all_matches(all_matches)
        .prefer_mem(prefer_mem)
        .max_concurrency(1)
        .build(Arc::new(Database::embedded().unwrap()))
        .unwrap()
}

fn summary(verdict: &Verdict) -> (String, Vec<String>, Vec<String>) {
    let detections = verdict.detections.iter().map(|d| format!("{}@{}", d.name, d.part)).collect();
    let mut codes: Vec<String> = verdict.codes.iter().map(ToString::to_string).collect();
    codes.sort();
    (verdict.status.to_string(), detections, codes)
}

fn expected(case: &Case) -> (String, Vec<String>, Vec<String>) {
    let mut codes = case.verdict_codes.clone().unwrap_or_else(|| case.codes.clone());
    codes.sort();
    (case.status.clone(), case.detections.clone(), codes)
}

#[test]
fn every_corpus_case_gives_its_verdict() {
    let print = std::env::var_os("CORPUS_PRINT").is_some();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in corpus::cases() {
        let input = case.input();
        let want = expected(&case);
        let first = engine(&case, false, false);
        let from_slice = summary(&first.scan_bytes(&case.input_name(), &input));
        let path = dir.path().join(case.input_name());
        std::fs::write(&path, &input).unwrap();
        let from_file = summary(&first.scan_file(&path));
        let all = engine(&case, true, !case.heavy).scan_bytes(&case.input_name(), &input);
        let mut problems = Vec::new();
        if from_slice != want {
            problems.push(format!("from a slice: {from_slice:?}"));
        }
        if from_file != from_slice {
            problems.push(format!("from a file: {from_file:?}"));
        }
        if all.status.to_string() != case.status {
            problems.push(format!("with all matches: {}", all.status));
        }
        for detection in &want.1 {
            let (name, part) = detection.split_once('@').unwrap();
            if !all.detections.iter().any(|d| d.name == name && d.part == part) {
                problems.push(format!("with all matches, {detection} is missing"));
            }
        }
        if !problems.is_empty() {
            let message = format!("case {}: want {want:?}; {}", case.name, problems.join("; "));
            if print {
                println!("{message}");
            }
            failures.push(message);
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}
