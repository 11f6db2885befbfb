//! The whole scan in process: `Engine::scan_paths` of a small version of the mixed corpus
//! (`benches::scan_corpus`, `BENCH_MB` MB on disk, default 30) at 1 and 10,000 random body signatures, one thread
//! (`max_concurrency(1)`), every match reported (`all_matches(true)`), limits that cut nothing, the default
//! memory policy (children over 8 MiB spill to a temporary file, as with `avscan scan`).
//!
//! This is what `benches/scan-peers.sh` times as a whole process (there against clamscan, on the 300 MB corpus),
//! minus process start-up and database loading, which happen once outside the timed loop. Throughput is MB/s
//! (10^6 bytes) of input files, mail included. Before measuring, each set is checked to report exactly the
//! planted (file, signature) pairs, and no verdict may be other than CLEAN or INFECTED.
//!
//! `BENCH_MB=10 cargo bench -p benches --bench scan` for a quick run; the corpus is generated once and cached
//! under `target/bench-inputs/scan-v<N>-<MB>mb/`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use benches::scan_corpus;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use scanner::{Database, Engine, Status, Verdict};

/// Scans the corpus; returns the sorted (file under `corpus/`, signature) pairs and the statuses seen.
fn scan(engine: &Engine, corpus: &scan_corpus::ScanCorpus) -> (Vec<(String, String)>, Vec<Status>) {
    let found = Mutex::new((Vec::new(), Vec::new()));
    let each = |path: &Path, verdict: Verdict| {
        let file = path.strip_prefix(&corpus.corpus).unwrap_or(path).to_string_lossy().replace('\\', "/");
        let mut found = found.lock().expect("no scan panicked");
        found.0.extend(verdict.detections.iter().map(|detection| (file.clone(), detection.name.clone())));
        found.1.push(verdict.status);
    };
    engine.scan_paths(std::slice::from_ref(&corpus.corpus), &each);
    let (mut pairs, mut statuses) = found.into_inner().expect("no scan panicked");
    pairs.sort();
    pairs.dedup();
    statuses.sort_by_key(|status| status.as_str());
    statuses.dedup();
    (pairs, statuses)
}

fn whole_scan(c: &mut Criterion) {
    let mb = scan_corpus::env_positive("BENCH_MB", 30);
    let corpus = scan_corpus::ensure_corpus(&scan_corpus::default_scan_dir(mb), mb)
        .expect("the corpus can be generated under target/bench-inputs");
    let mut group = c.benchmark_group(format!("scan/{mb}MB"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::BytesDecimal(corpus.bytes));
    for n in [1, 10_000] {
        let set = corpus.signature_set(n).expect("the generator writes sigs-1 and sigs-10000");
        let database = Database::load(std::slice::from_ref(&set.dir)).expect("the generated .ndb loads");
        let engine = Engine::builder()
            .all_matches(true)
            .max_concurrency(1)
            .limits(scan_corpus::limits_that_cut_nothing())
            .build(Arc::new(database))
            .expect("the engine builds");
        let (pairs, statuses) = scan(&engine, &corpus);
        assert_eq!(pairs, corpus.expected(n), "sigs-{n}: the planted detections, and only they");
        assert_eq!(statuses, [Status::Clean, Status::Infected], "sigs-{n}: no limit, no error");
        group.bench_function(format!("sigs-{n}"), |b| b.iter(|| scan(&engine, &corpus)));
    }
    group.finish();
}

criterion_group!(benches, whole_scan);
criterion_main!(benches);
