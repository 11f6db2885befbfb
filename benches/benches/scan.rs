//! The whole scan in process: `Engine::scan_paths` of a small version of the mixed corpus
//! (`benches::scan_corpus`, `BENCH_MB` MB on disk, default 30) at 1 and 10,000 random body signatures, one thread
//! (`max_concurrency(1)`), then at 10,000 with every pool size up to the machine's cores
//! (`sigs-10000_threads-N`), every match reported (`all_matches(true)`), limits that cut nothing, the default
//! memory policy (children over 8 MiB spill to a temporary file, as with `avscan scan`).
//!
//! This is what `benches/scan-peers.sh` times as a whole process (there against clamscan, on the 300 MB corpus),
//! minus process start-up and database loading, which happen once outside the timed loop. Throughput is MB/s
//! (10^6 bytes) of input files, mail included. Before measuring, each set is checked to report exactly the
//! planted (file, signature) pairs, and no verdict may be other than CLEAN or INFECTED. The closing summary
//! adds MB/s of every part the matcher read (`ScanStats::bytes_scanned`: the files, the containers and
//! everything extracted from them).
//!
//! `BENCH_MB=10 cargo bench -p benches --bench scan` for a quick run; the corpus is generated once and cached
//! under `target/bench-inputs/scan-v<N>-<MB>mb/`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use benches::scan_corpus;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use scanner::{Database, Engine, Status, Verdict};

/// What one scan of the corpus found.
struct Scanned {
    /// The sorted (file under `corpus/`, signature) pairs.
    pairs: Vec<(String, String)>,
    /// The statuses seen, sorted, each once.
    statuses: Vec<Status>,
    /// Bytes the matcher read over every part.
    bytes_scanned: u64,
}

/// Scans the corpus.
fn scan(engine: &Engine, corpus: &scan_corpus::ScanCorpus) -> Scanned {
    let found = Mutex::new((Vec::new(), Vec::new(), 0u64));
    let each = |path: &Path, verdict: Verdict| {
        let file = path.strip_prefix(&corpus.corpus).unwrap_or(path).to_string_lossy().replace('\\', "/");
        let mut found = found.lock().expect("no scan panicked");
        found.0.extend(verdict.detections.iter().map(|detection| (file.clone(), detection.name.clone())));
        found.1.push(verdict.status);
        found.2 += verdict.stats.bytes_scanned;
    };
    engine.scan_paths(std::slice::from_ref(&corpus.corpus), &each);
    let (mut pairs, mut statuses, bytes_scanned) = found.into_inner().expect("no scan panicked");
    pairs.sort();
    pairs.dedup();
    statuses.sort_by_key(|status| status.as_str());
    statuses.dedup();
    Scanned { pairs, statuses, bytes_scanned }
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
    let group_name = format!("scan/{mb}MB");
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // One thread at 1 and 10,000 signatures; then 10,000 at every pool size up to the machine's cores.
    let runs = [(1, 1), (10_000, 1)].into_iter().chain((2..=threads).map(|jobs| (10_000, jobs)));
    for (n, jobs) in runs {
        let set = corpus.signature_set(n).expect("the generator writes sigs-1 and sigs-10000");
        let database = Database::load(std::slice::from_ref(&set.dir)).expect("the generated .ndb loads");
        let engine = Engine::builder()
            .all_matches(true)
            .max_concurrency(jobs)
            .limits(scan_corpus::limits_that_cut_nothing())
            .build(Arc::new(database))
            .expect("the engine builds");
        let scanned = scan(&engine, &corpus);
        assert_eq!(scanned.pairs, corpus.expected(n), "sigs-{n}: the planted detections, and only they");
        assert_eq!(scanned.statuses, [Status::Clean, Status::Infected], "sigs-{n}: no limit, no error");
        let function = if jobs == 1 { format!("sigs-{n}") } else { format!("sigs-{n}_threads-{jobs}") };
        benches::summary::record(&group_name, &function, corpus.bytes, scanned.bytes_scanned);
        group.bench_function(function, |b| b.iter(|| scan(&engine, &corpus)));
    }
    group.finish();
}

criterion_group!(benches, whole_scan);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    benches::summary::print("whole scans, MB/s of the input files and of every part the matcher read:", started);
}
