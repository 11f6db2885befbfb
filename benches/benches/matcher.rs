//! The signature matcher alone, at 1, 1,000, 10,000 and 100,000 random 16-32 byte body signatures over 256 MiB of mixed
//! data (text, x86-like code, random bytes: `benches::scan_corpus::Mixer`) held in RAM, one thread:
//!
//! - `literals/<size>/<N>`: the raw prefilter, `scanner::literals::LiteralSet::for_each_match` over the whole buffer
//!   (every occurrence of every literal; the callback counts them);
//! - `engine/<size>/<N>`: the whole body matcher through the public API, `Engine::scan_bytes` of the buffer as one leaf
//!   part (it starts with text, so no container is detected) with a `Database::load`ed `.ndb` of N signatures,
//!   `all_matches(true)`, one thread. This adds what a scan does per part on top of the prefilter: type
//!   detection, verification of every candidate, the verdict.
//!
//! Three of the signatures are planted in the buffer, and both are checked once before measuring to find
//! exactly the planted ones in the set (1 at N = 1, 3 above). Issue 3's target: 1 GB/s or more at 10,000.
//! Throughput is MB/s (10^6 bytes) of buffer, in and out alike (the closing summary prints both for the
//! same columns as the other benches). Database compilation is outside the timed loop.
//!
//! `BENCH_MATCHER_MIB=32 cargo bench -p benches --bench matcher` for a quick run (default 256);
//! `cargo bench -p benches --bench matcher -- literals` for one group.

use std::hint::black_box;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use benches::scan_corpus::{self, Mixer};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group};
use scanner::literals::{Literal, LiteralSet};
use scanner::{Database, Engine, Status};

const SETS: [usize; 4] = [1, 1_000, 10_000, 100_000];
/// Signatures 0, 1 and 2 are planted at these tenths of the buffer.
const PLANTED_AT: [(usize, usize); 3] = [(0, 1), (1, 5), (2, 9)];

/// The buffer: `BENCH_MATCHER_MIB` MiB of mixed data with signatures 0, 1 and 2 planted.
fn data() -> Vec<u8> {
    let len = usize::try_from(scan_corpus::env_positive("BENCH_MATCHER_MIB", 256) << 20).expect("fits in memory");
    let mut data = Mixer::new(0x006d_6174_6368).bytes(len);
    let signatures = scan_corpus::signatures(3);
    for ((index, tenths), signature) in PLANTED_AT.iter().zip(&signatures) {
        let at = (len / 10 * tenths).max(1024) + index * 64;
        data[at..at + signature.len()].copy_from_slice(signature);
    }
    data
}

fn group<'c>(c: &'c mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::BytesDecimal(bytes as u64));
    group
}

fn count_matches(set: &LiteralSet, data: &[u8]) -> usize {
    let mut found = 0;
    let _ = set.for_each_match(data, 0..data.len(), |_, _| {
        found += 1;
        ControlFlow::Continue(())
    });
    found
}

fn matcher(c: &mut Criterion) {
    let data = data();
    let signatures = scan_corpus::signatures(SETS[SETS.len() - 1]);

    let mib = data.len() >> 20;
    let mut literals = group(c, &format!("literals/{mib}MiB"), data.len());
    for n in SETS {
        let set = LiteralSet::new(&signatures[..n].iter().map(|s| Literal::new(s)).collect::<Vec<_>>())
            .expect("16-32 byte literals compile");
        assert_eq!(count_matches(&set, &data), n.min(3), "literals/{n}: the planted signatures, and only they");
        benches::summary::record(&format!("literals/{mib}MiB"), &n.to_string(), data.len() as u64, data.len() as u64);
        literals.bench_function(n.to_string(), |b| b.iter(|| count_matches(&set, black_box(&data))));
    }
    literals.finish();

    let mut engine_group = group(c, &format!("engine/{mib}MiB"), data.len());
    for n in SETS {
        let dir = scan_corpus::write_signature_set(&scan_corpus::signatures_dir(), n)
            .expect("the signature set can be written under target/bench-inputs");
        let database = Database::load(&[dir]).expect("the generated .ndb loads");
        let engine = Engine::builder()
            .all_matches(true)
            .max_concurrency(1)
            .limits(scan_corpus::limits_that_cut_nothing())
            .build(Arc::new(database))
            .expect("the engine builds");
        let verdict = engine.scan_bytes("data.bin", &data);
        let mut found: Vec<String> = verdict.detections.iter().map(|d| d.name.clone()).collect();
        found.sort();
        let want: Vec<String> = (0..n.min(3)).map(scan_corpus::signature_name).collect();
        assert_eq!(found, want, "engine/{n}: the planted signatures, and only they");
        assert_eq!(verdict.stats.parts, 1, "engine/{n}: the buffer is one leaf");
        assert_eq!(verdict.status, Status::Infected);
        benches::summary::record(&format!("engine/{mib}MiB"), &n.to_string(), data.len() as u64, data.len() as u64);
        engine_group.bench_function(n.to_string(), |b| b.iter(|| engine.scan_bytes("data.bin", black_box(&data))));
    }
    engine_group.finish();
}

criterion_group!(benches, matcher);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    benches::summary::print("matcher, MB/s of the buffer searched:", started);
}
