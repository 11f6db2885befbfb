//! Hash signatures: the store's lookup alone, and whole scans of small parts that must be hashed, at 1,000,
//! 100,000 and 1,000,000 MD5 signatures (`BENCH_HASHES_MAX` caps the largest set; real sets hold 8.3 M).
//!
//! - `hash-lookup/<N>`: `HashStore::lookup` of 1,000,000 digests of 4,096-byte parts, one in 1,000 of them in the
//!   store. Throughput is lookups per second (criterion's elements). No hashing: this is the sorted-table probe.
//! - `hash-scan/<N>`: `Engine::scan_bytes` of 1,000 distinct 4,096-byte parts, one thread, with a
//!   `Database::load`ed `.hdb` of N signatures, every one of size 4,096, so that every part is hashed (MD5) and
//!   looked up; ten of the parts are listed. Throughput is MB/s (10^6 bytes) of parts.
//!
//! Signatures are `Bench.Hash-<i>` lines, `<md5>:4096:<name>`, of random digests (a fixed seed), plus the
//! listed parts' own digests. Both benches check once before measuring that exactly the listed parts are
//! found.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use benches::XorShift;
use benches::scan_corpus::{self, Mixer};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use scanner::hashes::{AlgorithmSet, HashAlgorithm, HashStoreBuilder, PartDigests, PartHasher};
use scanner::{Database, Engine, Status};

/// The size of every part and of every signature.
const PART_SIZE: usize = 4096;
/// Parts scanned per iteration of `hash-scan`.
const PARTS: usize = 1_000;
/// Every `LISTED_EVERY`-th part is in the database.
const LISTED_EVERY: usize = 100;
/// Digests looked up per iteration of `hash-lookup`.
const LOOKUPS: usize = 1_000_000;

fn sets() -> Vec<usize> {
    let max = usize::try_from(scan_corpus::env_positive("BENCH_HASHES_MAX", 1_000_000)).unwrap_or(usize::MAX);
    [1_000, 100_000, 1_000_000].into_iter().filter(|&n| n <= max).collect()
}

fn random_digests(count: usize, seed: u64) -> Vec<[u8; 16]> {
    let mut rng = XorShift::new(seed);
    (0..count)
        .map(|_| {
            let mut digest = [0u8; 16];
            digest[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
            digest[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
            digest
        })
        .collect()
}

fn md5(bytes: &[u8]) -> [u8; 16] {
    let mut hasher = PartHasher::new(AlgorithmSet::only(HashAlgorithm::Md5));
    hasher.update(bytes);
    hasher.finish().md5.expect("MD5 was asked for")
}

fn hex(digest: &[u8; 16]) -> String {
    digest.iter().fold(String::with_capacity(32), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn group<'c>(c: &'c mut Criterion, name: &str) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group
}

fn lookup(c: &mut Criterion) {
    let queries = random_digests(LOOKUPS, 0x0068_6173_6871);
    let mut group = group(c, "hash-lookup");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    for n in sets() {
        let mut builder = HashStoreBuilder::default();
        for (index, digest) in random_digests(n, 0x0068_6173_6873).iter().enumerate() {
            builder.add(digest, Some(PART_SIZE as u64), u32::try_from(index).expect("fewer than 2^32"));
        }
        // One query in 1,000 is in the store.
        let listed: Vec<[u8; 16]> = queries.iter().step_by(1_000).copied().collect();
        for (index, digest) in listed.iter().enumerate() {
            builder.add(digest, Some(PART_SIZE as u64), u32::try_from(n + index).expect("fewer than 2^32"));
        }
        let store = builder.finish();
        let probe = |queries: &[[u8; 16]]| {
            let mut found = Vec::new();
            for digest in queries {
                store.lookup(
                    PART_SIZE as u64,
                    &PartDigests { md5: Some(*digest), ..PartDigests::default() },
                    &mut found,
                );
            }
            found.len()
        };
        assert_eq!(probe(&queries), listed.len(), "hash-lookup/{n}: the listed digests, and only they");
        benches::summary::record("hash-lookup", &n.to_string(), (LOOKUPS * 16) as u64, (LOOKUPS * 16) as u64);
        group.bench_function(n.to_string(), |b| b.iter(|| probe(black_box(&queries))));
    }
    group.finish();
}

fn scan(c: &mut Criterion) {
    let mut mixer = Mixer::new(0x0068_6173_6870);
    let parts: Vec<Vec<u8>> = (0..PARTS).map(|_| mixer.bytes(PART_SIZE)).collect();
    let listed: Vec<usize> = (0..PARTS).step_by(LISTED_EVERY).collect();
    let mut group = group(c, "hash-scan");
    group.throughput(Throughput::BytesDecimal((PARTS * PART_SIZE) as u64));
    for n in sets() {
        let mut hdb = String::with_capacity((n + listed.len()) * 60);
        for (index, digest) in random_digests(n, 0x0068_6173_6873).iter().enumerate() {
            let _ = writeln!(hdb, "{}:{PART_SIZE}:Bench.Hash-{index}", hex(digest));
        }
        for &part in &listed {
            let _ = writeln!(hdb, "{}:{PART_SIZE}:Bench.Listed-{part}", hex(&md5(&parts[part])));
        }
        let dir = scan_corpus::signatures_dir().join(format!("hashes-{n}"));
        std::fs::create_dir_all(&dir).expect("the signature directory can be made");
        std::fs::write(dir.join("bench.hdb"), hdb).expect("the .hdb can be written");
        let database = Database::load(&[dir]).expect("the generated .hdb loads");
        let engine = Engine::builder()
            .max_concurrency(1)
            .limits(scan_corpus::limits_that_cut_nothing())
            .build(Arc::new(database))
            .expect("the engine builds");
        let scan_all = |parts: &[Vec<u8>]| {
            parts.iter().filter(|part| engine.scan_bytes("part.bin", part).status == Status::Infected).count()
        };
        let hashed = engine.scan_bytes("part.bin", &parts[1]).stats.parts_hashed;
        assert_eq!(hashed, 1, "hash-scan/{n}: every part is hashed");
        assert_eq!(scan_all(&parts), listed.len(), "hash-scan/{n}: the listed parts, and only they");
        benches::summary::record("hash-scan", &n.to_string(), (PARTS * PART_SIZE) as u64, (PARTS * PART_SIZE) as u64);
        group.bench_function(n.to_string(), |b| b.iter(|| scan_all(black_box(&parts))));
    }
    group.finish();
}

criterion_group!(benches, lookup, scan);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    benches::summary::print("hash signatures, MB/s of digests looked up (hash-lookup) or of parts scanned:", started);
}
